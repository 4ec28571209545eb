/**
 * Twin models: what properties a twin has, their type, unit, range, enum, and whether desired
 * state may name them. Models arrive in the compact form (docs/architecture.md, "Models") or as
 * the standards users already have (W3C WoT Thing Models / Thing Descriptions, DTDL v2/v3
 * Interfaces); all of them become the same TwinModel, so nothing downstream knows where a model
 * came from.
 *
 * Everything read from the user's input is read through own-property lookups and kept in Maps,
 * so names like `__proto__` or `constructor` can neither reach Object.prototype nor pick up its
 * members.
 */
import { TwinError, isTwinError, showValue } from "./errors";
import { Json, JsonObject, admit, dict, jsonEqual } from "./json";
import { isForbiddenKey, isPropertyName, twinPropertyName } from "./names";
import { canonicalUnit } from "./units";

export type PropertyType = "number" | "integer" | "string" | "boolean" | "object" | "array" | "any";

/**
 * What a value must be: the rules of a property, and of each field, item or map value inside an
 * object or array property (WoT data schemas, DTDL Object/Array/Map). Nested field names are keys
 * inside a value, not twin properties, so they are kept as the model writes them.
 */
export interface ValueSchema {
  type: PropertyType;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  enum?: Json[];
  const?: Json;
  pattern?: string;
  /** Fields of an object value, by key. */
  fields?: Map<string, ValueSchema>;
  required?: string[];
  /** Every item of an array value. */
  items?: ValueSchema;
  /** Every value of a map (an object whose keys are free). */
  values?: ValueSchema;
}

export interface PropertySpec extends ValueSchema {
  name: string;
  unit?: string;
  writable: boolean;
  tolerance?: number;
  description?: string;
  kind?: "property" | "telemetry";
  /** The name the imported model gives the property, when the twin's name had to differ (see twinPropertyName). */
  sourceName?: string;
}

export interface TwinModel {
  name: string;
  source: "compact" | "wot" | "dtdl";
  properties: Map<string, PropertySpec>;
  /**
   * What the imported model declares that a twin does not hold ("action toggle", "event
   * overheating", "command reboot", "relationship feeds"): dropped on purpose, named so a
   * user can be told. Absent when nothing was dropped.
   */
  ignored?: string[];
  /**
   * Links of an incomplete Thing Model whose target the input does not hold: the model's own
   * definitions are imported and checked, what the missing targets would add is not. A property
   * left out for one of them (its definition is behind the link) is named in `property`. Absent
   * when every link resolved.
   */
  unresolved?: UnresolvedLink[];
}

/** A Thing Model link (`tm:extends`, `tm:submodel`, `tm:ref`) whose target is not in the input. */
export interface UnresolvedLink {
  link: "tm:extends" | "tm:submodel" | "tm:ref";
  href: string;
  /** The twin property left out because its definition is behind this link (tm:ref, or a type-less override). */
  property?: string;
  /** A tm:submodel's instance: its properties would have been `<instance>__<property>`. */
  instance?: string;
}

export type ModelSet = Map<string, TwinModel>;

type Raw = Record<string, unknown>;
type Source = TwinModel["source"];

/** Where a problem was found, so the error names the model and, inside it, the property. */
interface Where { model: string; at?: string }

/** One model found in the input, before its properties are read. */
interface Entry { name: unknown; label: string; source: Source; raw: Raw; standalone?: boolean; file?: string }

const MAX_MODEL_NAME = 200;
/** Deep enough for "an array of compact maps and arrays of Interfaces"; stops runaway input. */
const MAX_LIST_NESTING = 3;
/** Label used when a problem belongs to the input as a whole rather than to one model. */
const WHOLE = "models";

const UNNAMED: Record<Source, string> = {
  compact: "model name must not be empty",
  wot: "a WoT document needs a title or an @id to name the model (or give it a name: { \"<name>\": <document> })",
  dtdl: "a DTDL Interface needs an @id to name the model",
};
const PROPERTY_TYPES = new Set<string>(["number", "integer", "string", "boolean", "object", "array", "any"]);
const COMPACT_MODEL_KEYS = new Set(["properties", "description", "title"]);
const COMPACT_PROPERTY_KEYS = new Set([
  "type", "unit", "minimum", "maximum", "enum", "writable", "tolerance", "description", "kind",
]);

// ---------------------------------------------------------------------------------------------
// parseModels, loadModels

/**
 * One source of models: the registry's Models setting (no `file`), or one file of a models
 * folder. `file` (a path relative to the folder) names the source in problems, is a name
 * references can use (`tm:extends: "./lamp.tm.jsonld"`), and names a WoT document that has
 * neither a title nor an @id (as the SDF converter writes them).
 */
export interface ModelSource {
  input: unknown;
  file?: string;
  /** Only there for references to reach: gives no models, and its problems are not reported. */
  reference?: boolean;
}

/** A file of a models folder that was not loaded, and why. */
export interface ModelProblem { file: string; error: TwinError }

export interface LoadedModels {
  models: ModelSet;
  /** Files that were left out; every other file's models loaded. */
  problems: ModelProblem[];
  /** The models each file gave, by file (in the order read). */
  files: Map<string, string[]>;
}

/** Parses the registry's "models" setting: a JSON string or value. Throws TwinError("model-invalid"). */
export function parseModels(input: unknown): ModelSet {
  return loadModels([{ input }]).models;
}

/**
 * Models from several sources at once, references (`extends`, Components, `tm:extends`,
 * `tm:ref`, `tm:submodel`) resolving across all of them. A source without `file` must be valid
 * as a whole: its first problem is thrown, as parseModels does. A file's problem only leaves that
 * file out (all its models, so no half of a file is used), reported in `problems`, so one bad
 * file in a folder does not stop the others. Sources without `file` come first, so the Models
 * setting keeps a name that a file repeats.
 */
export function loadModels(sources: ModelSource[]): LoadedModels {
  const problems: ModelProblem[] = [];
  const failed = new Set<string>();
  /** Runs `step` for one source: a file's failure is recorded, any other is thrown. */
  const references = new Set(sources.filter((s) => s.reference && s.file !== undefined).map((s) => s.file as string));
  const guard = (file: string | undefined, step: () => void): void => {
    if (file !== undefined && failed.has(file)) return;
    try {
      step();
    } catch (caught) {
      // A file nested deeper than a walk over it can go (JSON.parse reads what JSON.stringify or
      // a copy cannot walk back) is that file's problem like any other: the rest still load.
      const err = file !== undefined && caught instanceof RangeError ? new TwinError("model-invalid", { model: file, reason: "the file nests too deeply to be read" }) : caught;
      if (file === undefined || !isTwinError(err)) throw err;
      failed.add(file);
      if (!references.has(file)) problems.push({ file, error: err });
    }
  };
  const ordered = [...sources.filter((s) => s.file === undefined), ...sources.filter((s) => s.file !== undefined)];
  const entries: Entry[] = [];
  for (const { input, file } of ordered) {
    guard(file, () => {
      const own: Entry[] = [];
      collect(decode(input, file ?? WHOLE), file ?? WHOLE, 0, own, file);
      entries.push(...own);
    });
  }
  const index: Indexes = { interfaces: indexInterfaces(entries, guard), things: indexThings(entries) };
  const models: ModelSet = new Map();
  const origin = new Map<string, string | undefined>();
  const files = new Map<string, string[]>();
  for (const entry of entries) {
    if (entry.file !== undefined && references.has(entry.file)) continue;
    guard(entry.file, () => {
      const name = modelName(entry);
      const { properties, unresolved } = readProperties(entry.raw, entry.source, name, index);
      const before = models.get(name);
      if (before) {
        // Thing Descriptions of several devices of one kind share a title (and a folder may
        // hold one model twice): one model serves them all.
        const shared = entry.source === before.source && (entry.file !== undefined || (entry.standalone && entry.source === "wot"));
        if (shared && sameProperties(before.properties, properties)) {
          if (entry.file !== undefined) files.set(entry.file, [...(files.get(entry.file) ?? []), name]);
          return;
        }
        if (entry.file !== undefined) {
          const first = origin.get(name);
          invalid({ model: name }, `duplicate model name: ${first === undefined ? "the Models setting" : `file ${quote(first)}`} already declares it`);
        }
        invalid({ model: name }, entry.standalone && entry.source === "wot" && before.source === "wot"
          ? "duplicate model name: two WoT documents with this title declare different properties (give each a name: { \"<name>\": <document> })"
          : "duplicate model name");
      }
      const model: TwinModel = { name, source: entry.source, properties };
      const ignored = [...misplacedRequired(entry.raw, entry.source), ...ignoredParts(entry.raw, entry.source, name, index)];
      if (ignored.length > 0) model.ignored = ignored;
      if (unresolved.length > 0) model.unresolved = unresolved;
      models.set(name, model);
      origin.set(name, entry.file);
      if (entry.file !== undefined) files.set(entry.file, [...(files.get(entry.file) ?? []), name]);
    });
  }
  for (const file of failed) {
    for (const name of files.get(file) ?? []) if (origin.get(name) === file) models.delete(name);
    files.delete(file);
  }
  return { models, problems, files };
}

function sameProperties(a: Map<string, PropertySpec>, b: Map<string, PropertySpec>): boolean {
  const plain = (_key: string, value: unknown) => (value instanceof Map ? [...value] : value);
  return JSON.stringify([...a], plain) === JSON.stringify([...b], plain);
}

/** Actions and events (WoT), Commands and Relationships (DTDL): not state, so not twin properties. */
function ignoredParts(raw: Raw, source: Source, model: string, index: Indexes): string[] {
  if (source === "wot") {
    const names = (key: string, kind: string) => {
      const map = field(raw, key);
      return isObject(map) ? Object.keys(map).map((n) => `${kind} ${clip(n)}`) : [];
    };
    return [...names("actions", "action"), ...names("events", "event")];
  }
  if (source !== "dtdl") return [];
  const out: string[] = [];
  dtdlIgnored(raw, "", model, index.interfaces, [], out);
  return out;
}

/** Commands and Relationships of an Interface, its bases and its Components (named as their properties are). */
function dtdlIgnored(iface: Raw, prefix: string, model: string, index: Map<string, Raw>, stack: Raw[], out: string[]): void {
  for (const { content, at } of dtdlContents(iface, { model }, index, [], new Set())) {
    if (!isObject(content)) continue;
    const name = `${prefix}${clip(String(field(content, "name")))}`;
    if (typeIncludes(content, "Command")) out.push(`command ${name}`);
    else if (typeIncludes(content, "Relationship")) out.push(`relationship ${name}`);
    else if (typeIncludes(content, "Component")) {
      const component = componentOf(content, index, { model, at });
      if (!stack.includes(component.iface)) {
        dtdlIgnored(component.iface, prefix + component.name + COMPONENT_SEPARATOR, model, index, [...stack, component.iface], out);
      }
    }
  }
}

function decode(input: unknown, label: string): unknown {
  if (typeof input !== "string") return input;
  if (input.trim() === "") return undefined;
  try {
    // Model files saved by Windows tools (the RealEstateCore ontology's among them) start with a BOM.
    return JSON.parse(input.replace(/^\uFEFF/, ""));
  } catch (err) {
    return invalid({ model: label }, `not valid JSON: ${(err as Error).message}`);
  }
}

function collect(value: unknown, label: string, nesting: number, out: Entry[], file?: string): void {
  if (value === undefined || value === null) {
    if (nesting > 0) invalid({ model: label }, "must be an object");
    return;
  }
  if (Array.isArray(value)) {
    if (nesting >= MAX_LIST_NESTING) invalid({ model: label }, "arrays nested too deeply");
    value.forEach((item, i) => collect(item, `${label}[${i}]`, nesting + 1, out, file));
    return;
  }
  if (!isObject(value)) return invalid({ model: label }, "must be an object or an array");
  const standalone = standaloneEntry(value, label, file);
  if (standalone) out.push({ ...standalone, file });
  else collectMap(value, label, out, file);
}

/**
 * A WoT document names itself by `title` (optional in a Thing Model, so then by its `@id`, or
 * by the file it came from: "sdfobject-door.tm.jsonld" is model "sdfobject-door"), a DTDL
 * Interface by `@id`.
 */
function standaloneEntry(raw: Raw, label: string, file?: string): Entry | undefined {
  if (isWot(raw)) {
    // `name` is what the 2018 drafts called the title.
    const name = nonEmpty(field(raw, "title")) ?? nonEmpty(text(field(raw, "titles"))) ?? nonEmpty(field(raw, "@id")) ?? nonEmpty(field(raw, "name")) ?? (file === undefined ? undefined : documentName(file));
    return { name, label, source: "wot", raw, standalone: true };
  }
  if (isDtdl(raw)) return { name: field(raw, "@id"), label, source: "dtdl", raw, standalone: true };
  if (field(raw, "@context") !== undefined || field(raw, "@type") !== undefined) {
    invalid({ model: label }, "has @context/@type but is neither a WoT Thing Model/Description nor a DTDL Interface");
  }
  // A compact map's values are all objects, so a text title beside properties can only be a TD.
  if (typeof field(raw, "title") === "string" && isObject(field(raw, "properties"))) {
    invalid({ model: label }, 'looks like a WoT Thing Description without "@context": add "@context": "https://www.w3.org/2022/wot/td/v1.1"');
  }
  return undefined;
}

/** The compact map: model name -> compact model, WoT document or DTDL Interface. */
function collectMap(map: Raw, label: string, out: Entry[], file?: string): void {
  for (const name of Object.keys(map)) {
    const raw = map[name];
    if (!isObject(raw)) {
      invalid({ model: name }, "must be an object (a compact model, a WoT Thing Model/Description or a DTDL Interface)");
    }
    // Inside the map the key names the model, so a DTDL Interface needs no @context to be recognised.
    const source: Source = isWot(raw) ? "wot" : typeIncludes(raw, "Interface") ? "dtdl" : "compact";
    out.push({ name, label, source, raw, file });
  }
}

function modelName(entry: Entry): string {
  const name = entry.name;
  if (typeof name !== "string" || name.length === 0) {
    return invalid({ model: entry.label }, entry.file !== undefined && entry.source === "wot" ? "a WoT document needs a title or an @id to name the model" : UNNAMED[entry.source]);
  }
  if (name.length > MAX_MODEL_NAME) invalid({ model: clip(name) }, `model name longer than ${MAX_MODEL_NAME} characters`);
  if (isForbiddenKey(name)) invalid({ model: name }, "model name is a forbidden key");
  return name;
}

/** What references inside the input resolve against: DTDL Interfaces by @id, WoT documents by name. */
interface Indexes { interfaces: Map<string, Raw>; things: Map<string, Raw> }

interface ReadModel { properties: Map<string, PropertySpec>; unresolved: UnresolvedLink[] }

function readProperties(raw: Raw, source: Source, model: string, index: Indexes): ReadModel {
  switch (source) {
    case "compact": return { properties: compactProperties(raw, model), unresolved: [] };
    case "wot": return wotProperties(raw, model, index.things);
    case "dtdl": return { properties: dtdlProperties(raw, model, index.interfaces), unresolved: [] };
  }
}

// ---------------------------------------------------------------------------------------------
// Compact form

function compactProperties(raw: Raw, model: string): Map<string, PropertySpec> {
  rejectUnknownKeys(raw, COMPACT_MODEL_KEYS, { model });
  const props = new Map<string, PropertySpec>();
  for (const [name, prop] of affordances(raw, model)) {
    const where = { model, at: `property "${name}"` };
    // Unknown keys are refused because a misspelt "maximum" would otherwise silently drop a rule.
    rejectUnknownKeys(prop, COMPACT_PROPERTY_KEYS, where);
    props.set(name, finish(where, {
      name,
      type: propertyType(field(prop, "type"), where),
      unit: optString(prop, "unit", where),
      minimum: optNumber(prop, "minimum", where),
      maximum: optNumber(prop, "maximum", where),
      enum: optEnum(prop, where),
      writable: optBoolean(prop, "writable", where) ?? false,
      tolerance: optNumber(prop, "tolerance", where),
      description: optString(prop, "description", where),
      kind: optKind(prop, where),
    }));
  }
  return props;
}

function propertyType(value: unknown, where: Where): PropertyType {
  if (value === undefined) return "any";
  if (typeof value !== "string" || !PROPERTY_TYPES.has(value)) invalid(where, `unknown type ${showValue(value)}`);
  return value as PropertyType;
}

function optKind(raw: Raw, where: Where): PropertySpec["kind"] {
  const kind = field(raw, "kind");
  if (kind === undefined || kind === "property" || kind === "telemetry") return kind;
  return invalid(where, `kind must be "property" or "telemetry", not ${showValue(kind)}`);
}

// ---------------------------------------------------------------------------------------------
// W3C WoT Thing Model / Thing Description

/**
 * TD 1.0 and 1.1 contexts; the TD namespace itself ("http://www.w3.org/ns/td"), which Thing
 * Descriptions of the 2019-2021 plugfests and several vendors give as their whole context; the
 * TD 2.0 draft's ("https://www.w3.org/ns/wot-next/td"); and the 2018-2019 drafts' (on
 * w3c.github.io), whose `properties` map TD 1.0 kept. The 2017 drafts' `interaction` list is
 * refused with its own message (wotProperties).
 */
const WOT_CONTEXTS = ["w3.org/2019/wot/td", "w3.org/2022/wot/td", "w3.org/ns/td", "w3.org/ns/wot-next/td", "w3c.github.io/wot"];
const WOT_TYPES = new Map<string, PropertyType>([
  ["number", "number"], ["integer", "integer"], ["string", "string"], ["boolean", "boolean"],
  ["object", "object"], ["array", "array"], ["null", "any"],
]);

function isWot(raw: Raw): boolean {
  return contexts(raw).some((c) => WOT_CONTEXTS.some((w) => c.includes(w))) || isThingModel(raw);
}

/**
 * `tm:ThingModel` as the specification writes it, or `ThingModel` without the prefix as some
 * published Thing Models do (Siemens' LwM2M ones for the 2021 plugfest): the intent is plain.
 */
function isThingModel(raw: Raw): boolean {
  return typeIncludes(raw, "tm:ThingModel") || typeIncludes(raw, "ThingModel");
}

function wotProperties(raw: Raw, model: string, things: Map<string, Raw>): ReadModel {
  if (Array.isArray(field(raw, "interaction")) && field(raw, "properties") === undefined) {
    invalid({ model }, 'uses the 2017 draft\'s "interaction" list, which Thing Description 1.0 replaced with "properties", "actions" and "events": convert it to TD 1.1 to import it');
  }
  const props = new Map<string, PropertySpec>();
  const { affordances: found, unresolved } = thingAffordances(raw, model, things, [], new Map());
  for (const [name, { aff, source }] of found) {
    const where = { model, at: `property "${name}"` };
    props.set(name, finish(where, {
      name,
      sourceName: source === name ? undefined : source,
      ...wotSchema(aff, where, 0),
      unit: modelUnit(optString(aff, "unit", where)),
      writable: optBoolean(aff, "readOnly", where) !== true && !onlyReadOps(aff),
      description: text(field(aff, "description")) ?? text(field(aff, "title")),
    }));
  }
  // A model whose every property would come from links the input lacks is no model to check
  // readings by: accepting it would refuse each reading one by one, so it is refused once, here.
  if (props.size === 0 && unresolved.length > 0) {
    const links = missingLinks({ unresolved }).map((m) => missingThing(m.link, m.href));
    invalid({ model }, `has no property of its own to import: ${links.slice(0, 5).join("; ")}${links.length > 5 ? "; …" : ""}`);
  }
  return { properties: props, unresolved };
}

/**
 * Properties one Thing Model may compose at most. tm:submodel instances multiply (four instances a
 * level, nine levels: 87,381 properties from a 2 KB file); far fewer fit in a twin document.
 */
const MAX_COMPOSED_PROPERTIES = 10000;

/** Thing Model composition is followed this deep at most (tm:extends chains, tm:ref chains). */
const MAX_TM_DEPTH = 16;

/** A property definition with its composition resolved, and the name the model wrote it under. */
interface Affordance { aff: Raw; source: string }

interface Composed { affordances: Map<string, Affordance>; unresolved: UnresolvedLink[] }

/**
 * Thing Models one model reaches, composed once each: a base reached along many paths (each level
 * extending the next several times over) would otherwise be composed once per path, in time and
 * memory exponential in the depth. `height` is how many links deep the composition went below it,
 * so one reached first by a short path is composed again (and refused) where the path is too long.
 */
type Composing = Map<Raw, { composed: Composed; height: number }>;

/**
 * A Thing Model's properties with its composition resolved inside the input: the properties of
 * every model it `tm:extends` first (its own definitions override theirs key by key), those of
 * each `tm:submodel` under `<instanceName>__<property>` as DTDL Components are, and every
 * `tm:ref` replaced by the definition it points at, overridden by the keys given beside it.
 *
 * A link whose target the input lacks (a vendor's published URL, an example.com base) makes the
 * model incomplete rather than refused: what it declares itself is kept, and the link is listed
 * in `unresolved`. A property whose definition is behind such a link is left out (listed with
 * it) rather than accepted with no type: a `tm:ref` to a missing model, or a property that names
 * no type of its own while a base it may be completing is missing (`"dim": { "maximum": 200 }`
 * over a missing base's integer `dim`).
 */
function thingAffordances(raw: Raw, model: string, things: Map<string, Raw>, stack: Raw[], done: Composing): Composed {
  if (stack.includes(raw)) invalid({ model }, "tm:extends or tm:submodel links form a cycle");
  if (stack.length > MAX_TM_DEPTH) invalid({ model }, "tm:extends or tm:submodel links nest too deeply");
  // Composed already without a cycle below it, so none can pass through this path either.
  const known = done.get(raw);
  if (known && stack.length + known.height <= MAX_TM_DEPTH) return known.composed;
  let height = 0;
  const out = new Map<string, Affordance>();
  const unresolved: UnresolvedLink[] = [];
  /** Bases (or their bases) that are missing: a type-less own property may be completing one. */
  const missingBases: string[] = [];
  const inner = [...stack, raw];
  for (const link of tmLinks(raw, "tm:extends")) {
    const href = linkHref(link, "tm:extends", model);
    const base = findThing(href, things);
    if (!base) {
      unresolved.push({ link: "tm:extends", href });
      missingBases.push(href);
      continue;
    }
    const composed = thingAffordances(base, model, things, inner, done);
    height = Math.max(height, 1 + (done.get(base)?.height ?? 0));
    for (const [name, aff] of composed.affordances) out.set(name, aff);
    for (const u of composed.unresolved) {
      unresolved.push(u);
      if (u.link === "tm:extends" && u.property === undefined && u.instance === undefined) missingBases.push(u.href);
    }
  }
  for (const link of tmLinks(raw, "tm:submodel")) {
    const href = linkHref(link, "tm:submodel", model);
    const given = field(link, "instanceName") ?? documentName(href);
    if (typeof given !== "string" || given === "") invalid({ model }, "a tm:submodel link needs an instanceName");
    const instance = importedName({ model, at: `submodel "${given}"` }, given);
    const sub = findThing(href, things);
    if (!sub) {
      unresolved.push({ link: "tm:submodel", href, instance });
      continue;
    }
    const composed = thingAffordances(sub, model, things, inner, done);
    height = Math.max(height, 1 + (done.get(sub)?.height ?? 0));
    for (const [name, { aff, source }] of composed.affordances) {
      const full = instance + COMPONENT_SEPARATOR + name;
      checkPropertyName({ model, at: `property "${full}"` }, full);
      if (out.has(full)) invalid({ model, at: `property "${full}"` }, "is defined twice");
      out.set(full, { aff, source: `${given}${COMPONENT_SEPARATOR}${source}` });
      if (out.size > MAX_COMPOSED_PROPERTIES) invalid({ model }, `tm:submodel instances compose more than ${MAX_COMPOSED_PROPERTIES} properties`);
    }
    for (const u of composed.unresolved) {
      const under: UnresolvedLink = { link: u.link, href: u.href };
      if (u.property !== undefined) under.property = instance + COMPONENT_SEPARATOR + u.property;
      under.instance = u.instance === undefined ? instance : instance + COMPONENT_SEPARATOR + u.instance;
      unresolved.push(under);
    }
  }
  for (const [name, aff, source] of affordances(raw, model, true)) {
    const own = resolveRef(aff, raw, { model, at: `property "${source}"` }, things, 0);
    const base = out.get(name);
    if (base && base.source !== source) {
      invalid({ model, at: `property "${source}"` }, `"${clip(base.source)}" and "${clip(source)}" would both be twin property "${name}"`);
    }
    if (typeof own === "string") {
      out.delete(name);
      unresolved.push({ link: "tm:ref", href: own, property: name });
      continue;
    }
    if (!base && missingBases.length > 0 && field(own, "type") === undefined) {
      for (const href of missingBases) unresolved.push({ link: "tm:extends", href, property: name });
      continue;
    }
    out.set(name, { aff: base ? { ...base.aff, ...own } : own, source });
  }
  const composed = { affordances: out, unresolved: distinctLinks(unresolved) };
  done.set(raw, { composed, height });
  return composed;
}

/** Each missing link once (many paths to one missing base name it many times), in the order first met. */
function distinctLinks(links: UnresolvedLink[]): UnresolvedLink[] {
  const seen = new Set<string>();
  return links.filter((u) => {
    const key = `${u.link}\u0000${u.href}\u0000${u.property ?? ""}\u0000${u.instance ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function tmLinks(raw: Raw, rel: string): Raw[] {
  const links = field(raw, "links");
  // Links other than composition are none of a twin's business, however they are written.
  if (!Array.isArray(links)) return [];
  return links.filter((link): link is Raw => isObject(link) && field(link, "rel") === rel);
}

function linkHref(link: Raw, rel: string, model: string): string {
  const href = field(link, "href");
  return typeof href === "string" ? href : invalid({ model }, `a ${rel} link needs an href`);
}

function missingThing(what: string, href: string): string {
  return `${what} ${quote(href)} is not in the input (add that Thing Model to the Models, named ${quote(documentName(href))})`;
}

/**
 * `tm:ref`: "<document>#<JSON Pointer>", or "#<JSON Pointer>" within the same document. Returns
 * the reference (text) when the document it names is not in the input: the definition is not there
 * to be had. A pointer into a document that is there but finds nothing is the model's own error.
 */
function resolveRef(aff: Raw, doc: Raw, where: Where, things: Map<string, Raw>, depth: number): Raw | string {
  const ref = field(aff, "tm:ref");
  if (ref === undefined) return aff;
  if (typeof ref !== "string") return invalid(where, `tm:ref must be text, not ${showValue(ref)}`);
  if (depth >= MAX_TM_DEPTH) return invalid(where, "tm:ref chain is too long (a cycle?)");
  const hash = ref.indexOf("#");
  const href = hash < 0 ? ref : ref.slice(0, hash);
  const target = href === "" ? doc : findThing(href, things);
  if (!target) return ref;
  const found = pointerGet(target, hash < 0 ? "" : ref.slice(hash + 1));
  if (!isObject(found)) return invalid(where, `tm:ref ${showValue(ref)} points at no definition`);
  const resolved = resolveRef(found, target, where, things, depth + 1);
  if (typeof resolved === "string") return resolved;
  const merged: Raw = { ...resolved, ...aff };
  delete merged["tm:ref"];
  return merged;
}

/** RFC 6901, read through own properties only. */
function pointerGet(doc: Raw, pointer: string): unknown {
  let pointerText = pointer;
  try {
    pointerText = decodeURIComponent(pointer);
  } catch {
    // Left as written: a stray "%" is then just part of a key.
  }
  if (pointerText === "") return doc;
  if (!pointerText.startsWith("/")) return undefined;
  let at: unknown = doc;
  for (const part of pointerText.slice(1).split("/")) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at)) at = /^\d+$/.test(key) ? at[Number(key)] : undefined;
    // Some generated models (the SDF converter's) keep the escape in the key itself.
    else if (isObject(at)) at = field(at, key) ?? field(at, part);
    else return undefined;
  }
  return at;
}

/**
 * WoT documents by every name a link may use for them: the model name the user gave, the @id,
 * the title, the file it came from, and each of those as a file name without its extension, so that
 * "https://example.com/tm/basic-on-off-tm.tm.jsonld" finds the model named "basic-on-off-tm".
 */
function indexThings(entries: Entry[]): Map<string, Raw> {
  const index = new Map<string, Raw>();
  for (const { raw, source, name, file } of entries) {
    if (source !== "wot") continue;
    for (const key of [name, field(raw, "@id"), field(raw, "title"), file]) {
      if (typeof key !== "string" || key === "") continue;
      for (const k of [key, documentName(key)]) if (!index.has(k)) index.set(k, raw);
    }
  }
  return index;
}

function findThing(href: string, things: Map<string, Raw>): Raw | undefined {
  return things.get(href) ?? things.get(documentName(href));
}

/** "https://host/models/lamp.tm.jsonld#x" -> "lamp". */
function documentName(href: string): string {
  const path = href.split("#")[0];
  const file = path.slice(path.lastIndexOf("/") + 1);
  return file.replace(/(\.(tm|td))?\.(jsonld|json)$/i, "");
}

/** Nested schemas are read this deep at most; deeper ones are checked for their type only. */
const MAX_SCHEMA_DEPTH = 8;

/** A WoT data schema (a property affordance is one): type, numeric and text rules, fields, items. */
function wotSchema(raw: Raw, where: Where, depth: number): ValueSchema {
  // Inside a value, a type this reader does not know ("date-time" for a string) leaves that one
  // field unchecked rather than refusing a model whose properties are fine.
  const given = field(raw, "type");
  const type = depth > 0 && (typeof given !== "string" || !WOT_TYPES.has(given)) ? "any" : wotType(given, where);
  const schema: ValueSchema = {
    type,
    minimum: optNumber(raw, "minimum", where),
    maximum: optNumber(raw, "maximum", where),
    exclusiveMinimum: optNumber(raw, "exclusiveMinimum", where),
    exclusiveMaximum: optNumber(raw, "exclusiveMaximum", where),
    multipleOf: optMultipleOf(raw, where),
    enum: optEnum(raw, where),
    const: field(raw, "const") === undefined ? undefined : copyJson(field(raw, "const"), "const", where),
    pattern: optPattern(raw, where),
  };
  if (depth >= MAX_SCHEMA_DEPTH) return schema;
  const fields = field(raw, "properties");
  if (type === "object" && isObject(fields)) {
    schema.fields = new Map();
    for (const key of Object.keys(fields)) {
      const sub = fields[key];
      // Not a schema (a misplaced "required": [...] among the fields): nothing to check it by.
      if (!isObject(sub)) continue;
      schema.fields.set(key, finishSchema(nested(where, key), wotSchema(sub, nested(where, key), depth + 1)));
    }
    const required = field(raw, "required");
    if (Array.isArray(required)) schema.required = required.filter((k): k is string => typeof k === "string");
  }
  const items = field(raw, "items");
  if (type === "array" && isObject(items)) schema.items = finishSchema(nested(where, "[]"), wotSchema(items, nested(where, "[]"), depth + 1));
  return schema;
}

function nested(where: Where, key: string): Where {
  return { model: where.model, at: `${where.at ?? "schema"} field "${clip(key)}"` };
}

function optMultipleOf(raw: Raw, where: Where): number | undefined {
  const value = optNumber(raw, "multipleOf", where);
  if (value !== undefined && value <= 0) invalid(where, `multipleOf must be greater than 0, not ${value}`);
  return value;
}

/**
 * Patterns are ECMAScript regular expressions (as in JSON Schema); a bad one is refused at import.
 * JavaScript's engine backtracks and cannot be interrupted, so a pattern that can take
 * exponential time ("(a+)+$" on "aaaa…b") would stall Node-RED on one reading: those are refused
 * here (see slowPattern). What remains is polynomial (patternCost): the text a pattern is tried
 * on is capped (patternInputCap: 1024 characters, or 256 when only that keeps it within about 4
 * million steps) and a pattern over that budget even at 256 is refused here, which keeps one
 * value's test to a few milliseconds.
 */
function optPattern(raw: Raw, where: Where): string | undefined {
  const pattern = optString(raw, "pattern", where);
  if (pattern === undefined) return undefined;
  if (pattern.length > 1000) invalid(where, "pattern is longer than 1000 characters");
  try {
    compiledPattern(pattern);
  } catch (err) {
    invalid(where, `pattern ${showValue(pattern)} is not a regular expression (${(err as Error).message})`);
  }
  const slow = slowPattern(pattern);
  if (slow) invalid(where, `pattern ${showValue(pattern)} could take exponential time (${slow}): write it without repeating a group that can itself repeat or choose`);
  const polynomial = polynomialPattern(pattern);
  if (polynomial) invalid(where, `pattern ${showValue(pattern)} could take polynomial time (${polynomial}): use fewer repeats in a row, bound them ("{1,8}"), anchor it with ^, or separate them by a character neither matches`);
  return pattern;
}

/** Longest text any pattern is tried on; a longer value breaks the pattern rule (see patternInputCap). */
export const MAX_PATTERN_INPUT = 1024;

/**
 * Why a pattern can backtrack exponentially, or undefined. Refused: a group that may repeat
 * ("*", "+", "{2,}", "{3}") holding something repeated a varying number of times ("(a+)+",
 * "(\\d{1,3}x)*") or alternatives that are not single literals with distinct first characters
 * ("(a|ab)*"; "(:|-){5}" is fine), and a repeated backreference. Conservative: a harmless
 * "(\\d+\\.)+" is refused too, with a message that says what to change.
 */
export function slowPattern(pattern: string): string | undefined {
  interface Group { variable: boolean; ambiguous: boolean; plain: boolean; start: number; cuts: number[] }
  const open = (start: number): Group => ({ variable: false, ambiguous: false, plain: true, start, cuts: [] });
  const stack: Group[] = [open(0)];
  let closed: Group | null = null;
  let backreference = false;
  for (let i = 0; i < pattern.length; i++) {
    const top = stack[stack.length - 1];
    const quantifier = quantifierAt(pattern, i);
    if (quantifier) {
      if (quantifier.many && closed?.variable) return "a repeated group repeats inside";
      if (quantifier.many && closed?.ambiguous) return "a repeated group holds alternatives that can match the same text";
      if (quantifier.many && backreference) return "a repeated backreference";
      if (quantifier.variable) top.variable = true;
      top.plain = false;
      i += quantifier.length - 1;
      closed = null;
      backreference = false;
      continue;
    }
    closed = null;
    backreference = false;
    const c = pattern[i];
    if (c === "\\") {
      backreference = /[1-9k]/.test(pattern[i + 1] ?? "");
      top.plain = false;
      i++;
    } else if (c === "[") {
      // A class is one character, whatever it holds.
      top.plain = false;
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
    } else if (c === "(") {
      top.plain = false;
      const prefix = /^\(\?(:|=|!|<=|<!|<[A-Za-z_$][\w$]*>)?/.exec(pattern.slice(i))?.[0] ?? "(";
      i += prefix.length - 1;
      stack.push(open(i + 1));
    } else if (c === ")" && stack.length > 1) {
      const group = stack.pop() as Group;
      if (group.cuts.length > 0 && !distinctAlternatives(pattern, group.start, [...group.cuts, i], group.plain)) group.ambiguous = true;
      const parent = stack[stack.length - 1];
      parent.variable ||= group.variable;
      parent.ambiguous ||= group.ambiguous;
      closed = group;
    } else if (c === "|") {
      top.cuts.push(i);
    } else if (c === "." || c === "^" || c === "$") {
      top.plain = false;
    }
  }
  return undefined;
}

/**
 * How many steps, as a power of 2, a pattern can take on a value of up to `cap` characters, and
 * the repeats that make it. Backtracking tries every way of sharing a text between repeats that
 * can match the same characters: k such repeats in a row ("\\d*\\d*\\d*", ".*a.*a.*" on
 * "aaaa…") cost about n^k steps on an n-character value that fails, a range repeat ("\\d{0,15}")
 * about its width + 1 in place of n, and a pattern not anchored with "^" is retried at every
 * start, one more factor n. A repeat is any quantifier whose count varies; two repeats share text
 * when some character matches both and everything between them can be skipped or matches one of
 * them. A repeat after which the rest of the pattern can match nothing (no "$") never gives back,
 * so it does not count. Conservative, like slowPattern: it may overstate the cost, and for the
 * shapes it reads it does not understate it (an optional group's own choice, "(?:ab)?", is not
 * counted where the group holds repeats of its own).
 */
export function patternCost(pattern: string, cap: number): { bits: number; repeats: string[]; anchored: boolean } {
  let flags = "u";
  try {
    new RegExp(pattern, "u");
  } catch {
    flags = "";
  }
  const reader = new PatternReader(pattern, flags);
  const top = reader.alternatives(0);
  const worst = { bits: 0, repeats: [] as string[], anchored: true };
  const startsAnchored = (items: PatternItem[]) => items.length > 0 && items[0].text === "^";
  // A group's sequence starts where the pattern around it put it: retried at every start only
  // when the pattern is.
  const allAnchored = top.alternatives.every(startsAnchored);
  const consider = (items: PatternItem[], anchored: boolean, topLevel: boolean) => {
    const chain = longestSharedChain(items, topLevel, cap);
    const bits = chainCost(chain, cap, anchored ? 0 : 1);
    if (chain.length > 0 && bits > worst.bits) Object.assign(worst, { bits, repeats: chain.map((item) => item.text), anchored });
  };
  for (const alternative of top.alternatives) consider(alternative, startsAnchored(alternative), true);
  for (const inner of reader.inner) consider(inner, allAnchored, false);
  return worst;
}

/**
 * Longest texts a pattern may be tried on, longest first, and the most steps it may take on one
 * (2^22, about 4 million: a few milliseconds). Measured on Node 22: "^\\d*\\d*$" (2^19 at 1024
 * characters) takes 1.5 ms, "^\\d*\\d*\\d*$" (2^21.4 at 256) 3 to 8 ms, 25 ms the first time
 * before the engine optimises it, and 280 ms at 1024 (2^27.4); six "\\d{0,15}" (2^24) 60 ms on
 * 90 characters. A pattern over the budget at 256 characters is refused.
 */
const PATTERN_INPUT_CAPS = [MAX_PATTERN_INPUT, 256];
const PATTERN_STEP_BITS = 22;

/** Why a pattern is refused for polynomial time, or undefined (see patternCost). */
export function polynomialPattern(pattern: string): string | undefined {
  if (patternInputCap(pattern) > 0) return undefined;
  const cap = PATTERN_INPUT_CAPS[PATTERN_INPUT_CAPS.length - 1];
  const { bits, repeats, anchored } = patternCost(pattern, cap);
  const names = repeats.map((text) => `"${clip(text)}"`).join(", ");
  return `repeats in a row that can match the same characters (${names})${anchored ? "" : ", not anchored with ^"}: about 2^${Math.floor(bits)} steps on a ${cap}-character value`;
}

/** Longest text `pattern` is tried on, 0 when it is too slow on any (see PATTERN_INPUT_CAPS). */
export function patternInputCap(pattern: string): number {
  let cap = patternCaps.get(pattern);
  if (cap === undefined) {
    cap = PATTERN_INPUT_CAPS.find((n) => patternCost(pattern, n).bits <= PATTERN_STEP_BITS) ?? 0;
    // Working a cap out takes up to a few milliseconds for a long pattern, so this cache is larger
    // than the compiled patterns' one: models in use rarely hold thousands of distinct patterns.
    if (patternCaps.size >= 4096) patternCaps.clear();
    patternCaps.set(pattern, cap);
  }
  return cap;
}

const patternCaps = new Map<string, number>();

interface PatternItem {
  text: string;
  /** Which sample characters it can match (see PATTERN_SAMPLES); null for an assertion. */
  set: boolean[] | null;
  /** How much its count varies (max - min), Infinity for "*", "+" and "{n,}". */
  width: number;
  /** A group's alternatives, whose own runs of repeats add to its cost. */
  alternatives?: PatternItem[][];
  optional: boolean;
  /** Optional groups it sits in (inlined into the sequence around it). */
  groups: number[];
}

/** Characters a pattern's atoms are tried on to tell whether two of them can match alike. */
const PATTERN_SAMPLES: string[] = [
  ...Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)),
  "\u00a0", "\u00e9", "\u00df", "\u0130", "\u2028", "\u4e2d", "\u{1F600}",
];

const ANY_SAMPLE = PATTERN_SAMPLES.map(() => true);

class PatternReader {
  i = 0;
  nextGroup = 0;
  /** Sequences checked on their own: alternatives inside groups, lookaround bodies, repeated groups. */
  inner: PatternItem[][] = [];
  constructor(private readonly pattern: string, private readonly flags: string) {}

  /** Alternatives from `i` to the closing ")" (consumed) or the end. */
  alternatives(depth: number): { alternatives: PatternItem[][] } {
    const alternatives: PatternItem[][] = [[]];
    const p = this.pattern;
    while (this.i < p.length) {
      const c = p[this.i];
      if (c === ")" && depth > 0) {
        this.i++;
        break;
      }
      if (c === "|") {
        this.i++;
        alternatives.push([]);
        continue;
      }
      this.atom(alternatives[alternatives.length - 1], depth);
    }
    return { alternatives };
  }

  private atom(out: PatternItem[], depth: number): void {
    const p = this.pattern;
    const start = this.i;
    const c = p[start];
    const assertion = (text: string): PatternItem => ({ text, set: null, width: 0, optional: true, groups: [] });
    let set: boolean[] | null;
    let group: PatternItem[][] | null = null;
    let innerRepeats = false;
    let nullable = false;
    if (c === "^" || c === "$") {
      this.i++;
      out.push(assertion(c));
      return;
    }
    if (c === "(") {
      const prefix = /^\(\?(:|=|!|<=|<!|<[A-Za-z_$][\w$]*>)?/.exec(p.slice(start))?.[0] ?? "(";
      this.i += prefix.length;
      const { alternatives } = this.alternatives(depth + 1);
      const items = alternatives.flat();
      set = items.reduce<boolean[]>((all, item) => (item.set ? all.map((v, k) => v || (item.set as boolean[])[k]) : all), PATTERN_SAMPLES.map(() => false));
      innerRepeats = items.some((item) => item.width > 0 || item.alternatives !== undefined);
      nullable = alternatives.some((alt) => alt.every((item) => item.optional));
      for (const alt of alternatives) this.inner.push(alt);
      if (/^\(\?(=|!|<=|<!)$/.test(prefix)) {
        const q = quantifierAt(p, this.i);
        if (q) this.i += q.length;
        out.push(assertion(p.slice(start, this.i)));
        return;
      }
      group = alternatives;
    } else {
      if (c === "\\") {
        const m = /^\\(?:u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|c[A-Za-z]|[pP]\{[^}]*\}|k<[^>]*>|[1-9]\d*|[\s\S])/.exec(p.slice(start));
        this.i += m ? m[0].length : 1;
        if (m && /^\\[bB]$/.test(m[0])) {
          out.push(assertion(m[0]));
          return;
        }
      } else if (c === "[") {
        for (this.i++; this.i < p.length && p[this.i] !== "]"; this.i++) if (p[this.i] === "\\") this.i++;
        this.i++;
      } else {
        this.i += (p.codePointAt(start) ?? 0) > 0xffff && this.flags ? 2 : 1;
      }
      set = this.charactersOf(p.slice(start, this.i));
    }
    const atomEnd = this.i;
    const q = quantifierAt(p, this.i);
    if (q) this.i += q.length;
    const range = q ? /^(?:\{(\d+)(?:,(\d*))?\}|([*+?]))/.exec(p.slice(atomEnd)) : null;
    let min = 1;
    let max = 1;
    if (range?.[3]) [min, max] = range[3] === "*" ? [0, Infinity] : range[3] === "+" ? [1, Infinity] : [0, 1];
    else if (range?.[1] !== undefined) [min, max] = [Number(range[1]), range[2] === undefined ? Number(range[1]) : range[2] === "" ? Infinity : Number(range[2])];
    const text = p.slice(start, this.i);
    if (group && group.length === 1 && max <= 1 && (min === 1 || innerRepeats)) {
      // An unrepeated group is its items in line; an optional one can be skipped as a whole.
      const id = min === 0 ? [this.nextGroup++] : [];
      for (const item of group[0]) out.push({ ...item, groups: [...id, ...item.groups] });
      return;
    }
    // A repeated group's own repeats are slowPattern's (exponential) concern; here it counts once.
    const alternatives = group && max <= 1 && innerRepeats ? group : undefined;
    out.push({ text, set, width: max - min, alternatives, optional: min === 0 || nullable, groups: [] });
  }

  private charactersOf(atom: string): boolean[] {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${atom})$`, this.flags);
    } catch {
      // A backreference or something this reader cannot isolate: it may match anything.
      return ANY_SAMPLE;
    }
    return PATTERN_SAMPLES.map((s) => re.test(s));
  }
}

/** Steps an item adds, as a power of 2, on a value of up to `cap` characters. */
function itemCost(item: PatternItem, cap: number): number {
  let bits = item.width > 0 ? Math.log2(Math.min(item.width + 1, cap)) : 0;
  if (item.alternatives) bits += Math.max(0, ...item.alternatives.map((alt) => chainCost(longestSharedChain(alt, false, cap), cap)));
  return bits;
}

/**
 * A run's steps, as a power of 2: the product of its items' choices, except that k repeats as
 * long as the text (and the retried start of an unanchored pattern, `starts`) can share it in
 * about n^k / k! ways, not n^k.
 */
function chainCost(chain: PatternItem[], cap: number, starts = 0): number {
  let unbounded = starts;
  let bits = starts * Math.log2(cap);
  for (const item of chain) {
    bits += itemCost(item, cap);
    if (item.width + 1 >= cap) unbounded++;
  }
  for (let k = 2; k <= unbounded; k++) bits -= Math.log2(k);
  return bits;
}

function sharesCharacters(a: boolean[] | null, b: boolean[] | null): boolean {
  if (!a || !b) return false;
  return a.some((v, k) => v && b[k]);
}

/** The costliest run of repeats in `items` that can take turns at the same text (see patternCost). */
function longestSharedChain(items: PatternItem[], topLevel: boolean, cap: number): PatternItem[] {
  const skippable = (k: PatternItem, a: PatternItem, b: PatternItem) =>
    k.optional || k.groups.some((g) => !a.groups.includes(g) && !b.groups.includes(g));
  // A repeat whose rest of the pattern can match nothing succeeds as soon as it is reached.
  const settles = (j: number) =>
    topLevel && items.slice(j + 1).every((k) => (k.optional && k.set !== null) || k.groups.some((g) => !items[j].groups.includes(g)));
  const cost = items.map((item) => itemCost(item, cap));
  const length: number[] = [];
  const before: number[] = [];
  let best = -1;
  for (let j = 0; j < items.length; j++) {
    length[j] = 0;
    before[j] = -1;
    if (cost[j] === 0 || settles(j)) continue;
    length[j] = cost[j];
    for (let i = 0; i < j; i++) {
      if (length[i] === 0 || length[i] + cost[j] <= length[j]) continue;
      const a = items[i];
      const b = items[j];
      if (!sharesCharacters(a.set, b.set)) continue;
      const between = items.slice(i + 1, j);
      if (between.every((k) => skippable(k, a, b) || sharesCharacters(k.set, a.set) || sharesCharacters(k.set, b.set))) {
        length[j] = length[i] + cost[j];
        before[j] = i;
      }
    }
    if (best < 0 || length[j] > length[best]) best = j;
  }
  const chain: PatternItem[] = [];
  for (let j = best; j >= 0; j = before[j]) chain.unshift(items[j]);
  return chain;
}

/** Alternatives of plain literals ("on|off|auto") that can never match the same text's start. */
function distinctAlternatives(pattern: string, start: number, ends: number[], plain: boolean): boolean {
  if (!plain) return false;
  const firsts = new Set<string>();
  let from = start;
  for (const end of ends) {
    const first = pattern.slice(from, end)[0];
    if (first === undefined || firsts.has(first)) return false;
    firsts.add(first);
    from = end + 1;
  }
  return true;
}

/**
 * A quantifier at `i`: its length, whether it lets what it follows match more than once, and
 * whether the count varies ("{2}" does not).
 */
function quantifierAt(pattern: string, i: number): { length: number; many: boolean; variable: boolean } | undefined {
  const c = pattern[i];
  const lazy = (n: number) => (pattern[i + n] === "?" ? n + 1 : n);
  if (c === "*" || c === "+") return { length: lazy(1), many: true, variable: true };
  if (c === "?") return { length: lazy(1), many: false, variable: true };
  if (c !== "{") return undefined;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
  return { length: lazy(m[0].length), many: max > 1, variable: max !== min };
}

const patternCache = new Map<string, RegExp>();

function compiledPattern(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    // JSON Schema means Unicode patterns, but models written for older engines use escapes ("\_")
    // that only the non-Unicode syntax allows.
    try {
      re = new RegExp(pattern, "u");
    } catch {
      re = new RegExp(pattern);
    }
    if (patternCache.size >= 256) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re;
}

function wotType(value: unknown, where: Where): PropertyType {
  if (value === undefined) return "any";
  rejectPlaceholder(value, "type", where);
  const type = typeof value === "string" ? WOT_TYPES.get(value) : undefined;
  return type ?? invalid(where, `unknown type ${showValue(value)}`);
}

/**
 * A property whose forms all spell out their operations, none of them "writeproperty", can only
 * be read or observed: desired state for it could never reach the device.
 */
function onlyReadOps(aff: Raw): boolean {
  const forms = field(aff, "forms");
  if (!Array.isArray(forms) || forms.length === 0) return false;
  return forms.every((form) => {
    const op = isObject(form) ? field(form, "op") : undefined;
    if (op === undefined) return false;
    return !(Array.isArray(op) ? op : [op]).includes("writeproperty");
  });
}

// ---------------------------------------------------------------------------------------------
// DTDL v2 / v3 Interface

const DTDL_CONTEXT = "dtmi:dtdl:context;";
const DTDL_PRIMITIVES = new Map<string, PropertyType>([
  ["boolean", "boolean"], ["string", "string"],
  ["date", "string"], ["dateTime", "string"], ["time", "string"], ["duration", "string"],
  ["double", "number"], ["float", "number"], ["decimal", "number"],
  ["integer", "integer"], ["long", "integer"], ["short", "integer"], ["byte", "integer"],
  ["unsignedByte", "integer"], ["unsignedShort", "integer"], ["unsignedInteger", "integer"], ["unsignedLong", "integer"],
  ["bytes", "string"], ["uuid", "string"],
  ["point", "object"], ["multiPoint", "object"], ["lineString", "object"],
  ["multiLineString", "object"], ["polygon", "object"], ["multiPolygon", "object"],
  // IoT Central's semantic schemas, common in Plug and Play models: {lat, lon, alt} and {x, y, z}
  ["geopoint", "object"], ["vector", "object"],
]);
const DTDL_COMPLEX = new Map<string, PropertyType>([["Object", "object"], ["Map", "object"], ["Array", "array"]]);

/** A dtmi @id is as clear a sign as the @context, so an Interface that omits the latter is still recognised. */
function isDtdl(raw: Raw): boolean {
  const id = field(raw, "@id");
  return typeIncludes(raw, "Interface")
    && (contexts(raw).some((c) => c.startsWith(DTDL_CONTEXT)) || (typeof id === "string" && id.startsWith("dtmi:")));
}

/** `extends` names other Interfaces by @id, wherever in the input they were given. */
function indexInterfaces(entries: Entry[], guard: (file: string | undefined, step: () => void) => void): Map<string, Raw> {
  const index = new Map<string, Raw>();
  for (const { raw, source, name, label, file } of entries) {
    const id = field(raw, "@id");
    if (source !== "dtdl" || typeof id !== "string") continue;
    guard(file, () => {
      const before = index.get(id);
      // The same file copied into two folders of a model tree is one Interface.
      if (before && !(file !== undefined && JSON.stringify(before) === JSON.stringify(raw))) {
        invalid({ model: typeof name === "string" ? name : label }, `Interface ${id} is given twice`);
      }
      index.set(id, raw);
    });
  }
  return index;
}

/**
 * A DTDL Component's properties join the twin as `<component>__<property>`
 * (`thermostat1__targetTemperature`). A "." would read as a path step in queries, lifecycle
 * conditions, bindings and MQTT topic patterns; "__" keeps the name inside the property-name rules
 * every one of those already accepts, so a component property is addressed like any other.
 */
export const COMPONENT_SEPARATOR = "__";

function dtdlProperties(iface: Raw, model: string, index: Map<string, Raw>): Map<string, PropertySpec> {
  const missing = missingInterfaces(iface, index, new Set(), new Set());
  if (missing.size > 0) {
    const names = [...missing].slice(0, 10).map(quote).join(", ");
    invalid({ model }, `extends or uses Interfaces not in the input: ${names}${missing.size > 10 ? ", …" : ""} (add their files to the Models)`);
  }
  const props = new Map<string, PropertySpec>();
  addInterface(props, iface, "", { model }, index, []);
  return props;
}

/** The properties of one Interface (and its bases), and of its Components under their names. */
function addInterface(props: Map<string, PropertySpec>, iface: Raw, prefix: string, where: Where, index: Map<string, Raw>, stack: Raw[]): void {
  for (const { content, owner, at } of dtdlContents(iface, where, index, [], new Set())) {
    if (isObject(content) && typeIncludes(content, "Component")) {
      const component = componentOf(content, index, { model: where.model, at });
      const name = prefix + component.name;
      if (stack.includes(component.iface)) invalid({ model: where.model, at: `component "${name}"` }, "Components nest in a cycle");
      addInterface(props, component.iface, name + COMPONENT_SEPARATOR, where, index, [...stack, component.iface]);
      continue;
    }
    const spec = dtdlSpec(content, owner, { model: where.model, at }, prefix);
    if (!spec) continue;
    if (props.has(spec.name)) invalid({ model: where.model, at }, `property "${spec.name}" is defined twice`);
    props.set(spec.name, spec);
  }
}

/**
 * Every Interface @id that an Interface reaches through `extends` and Component schemas but the
 * input does not hold, so one message can name all the files a user still has to add.
 */
function missingInterfaces(iface: Raw, index: Map<string, Raw>, seen: Set<Raw>, missing: Set<string>): Set<string> {
  if (seen.has(iface)) return missing;
  seen.add(iface);
  const refs = [...asList(field(iface, "extends"))];
  const contents = field(iface, "contents");
  if (Array.isArray(contents)) {
    for (const c of contents) if (isObject(c) && typeIncludes(c, "Component")) refs.push(field(c, "schema"));
  }
  for (const ref of refs) {
    if (typeof ref === "string") {
      const found = index.get(ref);
      if (found) missingInterfaces(found, index, seen, missing);
      else missing.add(ref);
    } else if (isObject(ref)) {
      missingInterfaces(ref, index, seen, missing);
    }
  }
  return missing;
}

/** A Component's name and the Interface its schema names (by @id anywhere in the input, or inline). */
function componentOf(content: Raw, index: Map<string, Raw>, where: Where): { name: string; iface: Raw } {
  const given = field(content, "name");
  if (typeof given !== "string") return invalid(where, "Component needs a name");
  const at = { model: where.model, at: `component "${given}"` };
  const name = importedName(at, given);
  const schema = field(content, "schema");
  const iface = typeof schema === "string" ? index.get(schema) : isObject(schema) && typeIncludes(schema, "Interface") ? schema : undefined;
  if (!iface) {
    return invalid(at, `uses Interface ${showValue(schema)}, which is not in the input (add its file to the Models)`);
  }
  return { name, iface };
}

interface Content { content: unknown; owner: Raw; at: string }

/**
 * The contents of an Interface and of everything it extends, bases first. `path` catches cycles;
 * `done` lets a base reached twice (a diamond) contribute its contents once.
 */
function dtdlContents(iface: Raw, where: Where, index: Map<string, Raw>, path: Raw[], done: Set<Raw>): Content[] {
  const id = String(field(iface, "@id") ?? "(inline Interface)");
  if (path.includes(iface)) invalid(where, `extends cycle through ${id}`);
  if (done.has(iface)) return [];
  done.add(iface);
  const out: Content[] = [];
  for (const base of asList(field(iface, "extends"))) {
    const resolved = typeof base === "string" ? index.get(base) : isObject(base) && typeIncludes(base, "Interface") ? base : undefined;
    if (!resolved) invalid(where, `extends unknown Interface ${showValue(base)}`);
    out.push(...dtdlContents(resolved, where, index, [...path, iface], done));
  }
  const contents = field(iface, "contents");
  if (contents !== undefined && !Array.isArray(contents)) invalid(where, `contents of ${id} must be an array`);
  asList(contents).forEach((content, i) => out.push({ content, owner: iface, at: `${id} contents[${i}]` }));
  return out;
}

/** Property and Telemetry become twin properties; Commands and Relationships are not state. */
function dtdlSpec(content: unknown, owner: Raw, where: Where, prefix: string): PropertySpec | undefined {
  if (!isObject(content)) return invalid(where, "must be an object");
  const telemetry = typeIncludes(content, "Telemetry");
  if (!telemetry && !typeIncludes(content, "Property")) return undefined;
  const given = field(content, "name");
  if (typeof given !== "string") return invalid(where, "needs a name");
  const name = prefix + importedName({ model: where.model, at: `property "${given}"` }, given);
  const at = { model: where.model, at: `property "${name}"` };
  if (prefix) checkPropertyName(at, name);
  const schema = dtdlSchema(field(content, "schema"), owner, at);
  const unit = optString(content, "unit", at);
  const writable = optBoolean(content, "writable", at) ?? false;
  return finish(at, {
    name,
    ...schema,
    unit: modelUnit(unit),
    writable: !telemetry && writable,
    description: text(field(content, "description")) ?? text(field(content, "displayName")),
    kind: telemetry ? "telemetry" : "property",
  });
}

/** The shapes of IoT Central's geopoint and vector schemas. */
const SHAPES = new Map<string, Array<[string, boolean]>>([
  ["geopoint", [["lat", true], ["lon", true], ["alt", false]]],
  ["vector", [["x", true], ["y", true], ["z", true]]],
]);

function dtdlSchema(schema: unknown, owner: Raw, where: Where, depth = 0): ValueSchema {
  if (depth > MAX_SCHEMA_DEPTH) return { type: "any" };
  if (typeof schema === "string") {
    const shape = SHAPES.get(schema);
    if (shape) {
      return {
        type: "object",
        fields: new Map(shape.map(([key]) => [key, { type: "number" } as ValueSchema])),
        required: shape.filter(([, required]) => required).map(([key]) => key),
      };
    }
    const primitive = DTDL_PRIMITIVES.get(schema);
    if (primitive) return schema.startsWith("unsigned") ? { type: primitive, minimum: 0 } : { type: primitive };
    const named = asList(field(owner, "schemas")).find((s) => isObject(s) && field(s, "@id") === schema);
    if (isObject(named)) return dtdlSchema(named, owner, where, depth + 1);
    return invalid(where, `unknown schema ${showValue(schema)}`);
  }
  if (!isObject(schema)) return invalid(where, "needs a schema");
  if (typeIncludes(schema, "Enum")) return dtdlEnum(schema, where);
  if (typeIncludes(schema, "Object")) {
    const fields = new Map<string, ValueSchema>();
    for (const f of asList(field(schema, "fields"))) {
      if (!isObject(f) || typeof field(f, "name") !== "string") invalid(where, "an Object field needs a name");
      const key = field(f as Raw, "name") as string;
      fields.set(key, finishSchema(nested(where, key), dtdlSchema(field(f as Raw, "schema"), owner, nested(where, key), depth + 1)));
    }
    return { type: "object", fields };
  }
  if (typeIncludes(schema, "Array")) {
    return { type: "array", items: finishSchema(nested(where, "[]"), dtdlSchema(field(schema, "elementSchema"), owner, nested(where, "[]"), depth + 1)) };
  }
  if (typeIncludes(schema, "Map")) {
    const value = field(schema, "mapValue");
    const valueSchema = isObject(value) ? field(value, "schema") : undefined;
    return { type: "object", values: finishSchema(nested(where, "{}"), dtdlSchema(valueSchema, owner, nested(where, "{}"), depth + 1)) };
  }
  for (const [type, mapped] of DTDL_COMPLEX) if (typeIncludes(schema, type)) return { type: mapped };
  return invalid(where, `unknown schema ${showValue(field(schema, "@type"))}`);
}

function dtdlEnum(schema: Raw, where: Where): ValueSchema {
  const valueSchema = field(schema, "valueSchema");
  if (valueSchema !== "integer" && valueSchema !== "string") {
    return invalid(where, `Enum valueSchema must be "integer" or "string", not ${showValue(valueSchema)}`);
  }
  const values = field(schema, "enumValues");
  if (!Array.isArray(values)) return invalid(where, "Enum needs enumValues");
  return { type: valueSchema, enum: values.map((v) => copyJson(isObject(v) ? field(v, "enumValue") : v, "enumValue", where)) };
}

// ---------------------------------------------------------------------------------------------
// Rules shared by every form

/**
 * The affordances map of a compact model or WoT document, with every name checked: [twin name,
 * definition, name as written]. A compact model is written for Twinwire, so its names must follow
 * the rules; an imported one keeps the vendor's names, mapped where they must be.
 */
function affordances(raw: Raw, model: string, imported = false): Array<[string, Raw, string]> {
  const props = field(raw, "properties");
  if (props === undefined) return [];
  if (!isObject(props)) return invalid({ model }, "properties must be an object");
  return Object.keys(props).filter((given) => !(imported && misplacedRequiredKey(props, given))).map((given) => {
    const where = { model, at: `property "${given}"` };
    const name = imported ? importedName(where, given) : given;
    if (!imported) checkPropertyName(where, name);
    const prop = props[given];
    return [name, isObject(prop) ? prop : invalid(where, "must be an object"), given];
  });
}

/**
 * JSON Schema's `"required": ["On_Off"]` written among a WoT document's property definitions (as
 * several published Thing Models do) is a list, not a property: passed over, and named in the
 * model's `ignored`, rather than refusing the model for a property that "must be an object".
 */
function misplacedRequiredKey(props: Raw, key: string): boolean {
  return key === "required" && Array.isArray(props[key]);
}

function misplacedRequired(raw: Raw, source: Source): string[] {
  const props = field(raw, "properties");
  return source === "wot" && isObject(props) && misplacedRequiredKey(props, "required") ? ['"required" list among the properties (not a property)'] : [];
}

/** A vendor's property or component name as a twin property name (see twinPropertyName). */
function importedName(where: Where, name: string): string {
  if (isForbiddenKey(name)) invalid({ model: where.model }, `property name "${name}" is a forbidden key`);
  return twinPropertyName(name) ?? invalid({ model: where.model }, `"${clip(name)}" cannot be a property name (empty, longer than 128 characters, or a forbidden key once mapped)`);
}

function checkPropertyName(where: Where, name: string): void {
  if (isForbiddenKey(name)) invalid({ model: where.model }, `property name "${name}" is a forbidden key`);
  if (!isPropertyName(name)) invalid({ model: where.model }, `"${clip(name)}" is not a valid property name`);
}

/** Checks the rules that relate fields to each other and drops fields that were not given. */
function finish(where: Where, spec: PropertySpec): PropertySpec {
  if (spec.tolerance !== undefined && spec.tolerance < 0) invalid(where, `tolerance ${spec.tolerance} is negative`);
  finishSchema(where, spec);
  for (const key of Object.keys(spec) as Array<keyof PropertySpec>) if (spec[key] === undefined) delete spec[key];
  return spec;
}

function finishSchema<T extends ValueSchema>(where: Where, schema: T): T {
  const { minimum, maximum } = schema;
  if (minimum !== undefined && maximum !== undefined && minimum > maximum) {
    invalid(where, `minimum ${minimum} is greater than maximum ${maximum}`);
  }
  if (schema.enum !== undefined) {
    if (schema.enum.length === 0) invalid(where, "enum must not be empty");
    const wrong = schema.enum.find((v) => !hasType(schema.type, v));
    if (wrong !== undefined) invalid(where, `enum value ${showValue(wrong)} is not of type ${schema.type}`);
  }
  for (const key of Object.keys(schema) as Array<keyof T>) if (schema[key] === undefined) delete schema[key];
  return schema;
}

/**
 * An enum member is any JSON value, compared by JSON equality. One shape is read for what it
 * means: the SDF converter writes each sdfChoice as `{ "sdf:choiceName": "UNCHECKED", "const": 0 }`,
 * a choice whose value is its `const`; a choice that is a range instead (`minimum`/`maximum`)
 * cannot be listed, so such an enum is left to the property's type and bounds.
 */
function optEnum(raw: Raw, where: Where): Json[] | undefined {
  const values = field(raw, "enum");
  if (values === undefined) return undefined;
  if (!Array.isArray(values)) return invalid(where, "enum must be an array");
  const choice = (v: unknown): v is Raw => isObject(v) && field(v, "sdf:choiceName") !== undefined;
  if (values.some(choice)) {
    if (values.some((v) => !choice(v) || field(v, "const") === undefined)) return undefined;
    return values.map((v) => copyJson(field(v as Raw, "const"), "enum", where));
  }
  return values.map((v) => copyJson(v, "enum", where));
}

/** Enum members are compared with twin values, so they must be admissible JSON themselves. */
function copyJson(value: unknown, key: string, where: Where): Json {
  try {
    return admit(value, { twinId: where.model, property: key, maxDepth: 6, budget: 64 * 1024 }).value;
  } catch (err) {
    if (!isTwinError(err)) throw err;
    return invalid(where, `${key} value ${showValue(value)} is not admissible JSON (${err.code})`);
  }
}

function optNumber(raw: Raw, key: string, where: Where): number | undefined {
  const value = field(raw, key);
  if (value === undefined || (typeof value === "number" && Number.isFinite(value))) return value;
  rejectPlaceholder(value, key, where);
  return invalid(where, `${key} must be a finite number, not ${showValue(value)}`);
}

function optString(raw: Raw, key: string, where: Where): string | undefined {
  const value = field(raw, key);
  if (value === undefined || typeof value === "string") return value;
  return invalid(where, `${key} must be a string, not ${showValue(value)}`);
}

function optBoolean(raw: Raw, key: string, where: Where): boolean | undefined {
  const value = field(raw, key);
  if (value === undefined || typeof value === "boolean") return value;
  rejectPlaceholder(value, key, where);
  return invalid(where, `${key} must be true or false, not ${showValue(value)}`);
}

/**
 * A unit from a standard model as its UCUM code when the unit table knows it ("om2:degreeCelsius"
 * and DTDL's "degreeCelsius" both become "Cel"), so readings in any spelling of it convert. An
 * unknown unit is kept as written: readings that name no unit of their own still flow, only
 * conversion into it is not offered.
 */
function modelUnit(unit: string | undefined): string | undefined {
  return unit === undefined ? undefined : canonicalUnit(unit) ?? unit;
}

/**
 * A Thing Model placeholder ("{{MAX_RPM}}") where a number, a boolean or a type belongs cannot be
 * checked against, so the message names it; in text (a title, a description, a unit) it is kept
 * as written, a template value like any other.
 */
function rejectPlaceholder(value: unknown, key: string, where: Where): void {
  if (typeof value === "string" && /^\{\{[ -~]+\}\}$/.test(value)) {
    invalid(where, `${key} is the Thing Model placeholder ${value}: fill it in (or remove ${key}) before importing`);
  }
}

function rejectUnknownKeys(raw: Raw, allowed: Set<string>, where: Where): void {
  const unknown = Object.keys(raw).find((key) => !allowed.has(key));
  if (unknown !== undefined) invalid(where, `unknown key "${clip(unknown)}"`);
}

// ---------------------------------------------------------------------------------------------
// checkValue / valuesMatch

/** Validates one value of a twin property against its model; returns it unchanged. */
export function checkValue(model: TwinModel | null, twinId: string, property: string, value: Json, forDesired: boolean): Json {
  if (model === null) return value;
  const spec = model.properties.get(property);
  if (!spec) {
    // An incomplete model may lack the property only because a link could not be followed: say so.
    const missing = model.unresolved ? missingFor(model.unresolved, property) : undefined;
    throw new TwinError("not-in-model", missing ? { twinId, property, model: model.name, missing } : { twinId, property, model: model.name });
  }
  if (forDesired && !spec.writable) throw new TwinError("not-writable", { twinId, property, model: model.name });
  const rule = brokenRule(spec, value);
  if (rule !== undefined) throw new TwinError("invalid-value", { twinId, property, value: showValue(value), rule });
  return value;
}

/**
 * The missing links that may hold `property`, as `tm:extends "https://…"`: the one it was left
 * out for, or the submodel its name is under, else every link of the model's own that is missing
 * (a base may declare it).
 */
function missingFor(unresolved: UnresolvedLink[], property: string): string | undefined {
  const own = unresolved.find((u) => u.property === property)
    ?? unresolved.find((u) => u.property === undefined && u.instance !== undefined && property.startsWith(u.instance + COMPONENT_SEPARATOR));
  const links = own ? [own] : unresolved.filter((u) => u.property === undefined && u.instance === undefined);
  if (links.length === 0) return undefined;
  const named = [...new Set(links.map((u) => `${u.link} ${quote(u.href)}`))];
  return named.slice(0, 3).join(", ") + (named.length > 3 ? ", …" : "");
}

/**
 * The links an incomplete model could not follow, one entry per link and target, with the
 * properties left out for it and the file name that supplies it (`lamp` for
 * `https://example.com/tm/lamp.tm.jsonld`): what the registry's one warning per model names.
 */
export function missingLinks(model: Pick<TwinModel, "unresolved">): Array<{ link: string; href: string; file: string; properties: string[] }> {
  const out = new Map<string, { link: string; href: string; file: string; properties: string[] }>();
  for (const u of model.unresolved ?? []) {
    const key = `${u.link} ${u.href}`;
    let entry = out.get(key);
    if (!entry) out.set(key, (entry = { link: u.link, href: u.href, file: documentName(u.href), properties: [] }));
    if (u.property !== undefined) entry.properties.push(u.property);
  }
  return [...out.values()];
}

/**
 * A parsed model as JSON, for the editor (the Twins sidebar, dialogs) to read the registry's own
 * understanding of a model rather than parse the Models text again: every property with its
 * type, unit, range, writability, nested rules (`fields` as an object) and vendor name, and
 * what the import dropped. Keys are kept in null-prototype objects, so a field named __proto__
 * stays a field.
 */
export function modelJson(model: TwinModel): JsonObject {
  const properties = dict<Json>();
  for (const [name, spec] of model.properties) properties[name] = schemaJson(spec);
  const out: JsonObject = { name: model.name, source: model.source, properties };
  if (model.ignored) out.ignored = [...model.ignored];
  if (model.unresolved) out.unresolved = model.unresolved.map((u) => ({ ...u }));
  return out;
}

function schemaJson(schema: ValueSchema): JsonObject {
  const out = dict<Json>();
  for (const key of Object.keys(schema) as Array<keyof PropertySpec>) {
    const value = (schema as PropertySpec)[key];
    if (value === undefined) continue;
    if (value instanceof Map) {
      const fields = dict<Json>();
      for (const [k, v] of value) fields[k] = schemaJson(v);
      out[key] = fields;
    } else if (key === "items" || key === "values") {
      out[key] = schemaJson(value as ValueSchema);
    } else {
      out[key] = value as Json;
    }
  }
  return out;
}

/**
 * Properties whose unit the unit table does not know ("planks", "/100"): their readings are kept
 * in the model's unit as they come, and no conversion into it is offered. The registry node says
 * so once per property when the model loads, rather than once per reading.
 */
export function unknownUnits(model: TwinModel): Array<{ property: string; unit: string }> {
  const out: Array<{ property: string; unit: string }> = [];
  for (const [property, spec] of model.properties) {
    if (spec.unit !== undefined && canonicalUnit(spec.unit) === undefined) out.push({ property, unit: spec.unit });
  }
  return out;
}

/**
 * The model's property a reading names: the name itself, or, for a name as the vendor's model
 * spells it ("voltage-v-l1-n" from a device that publishes its own names), the twin name it was
 * imported under. Returns `name` unchanged when neither is in the model (or there is no model),
 * so the usual not-in-model refusal still names what the sender wrote.
 */
export function modelPropertyName(model: TwinModel | null | undefined, name: string): string {
  if (!model || model.properties.has(name)) return name;
  const mapped = twinPropertyName(name);
  return mapped !== undefined && model.properties.get(mapped)?.sourceName === name ? mapped : name;
}

/** true when two values count as equal for the property (numbers within tolerance). */
export function valuesMatch(spec: PropertySpec | undefined, a: Json, b: Json): boolean {
  if (typeof a === "number" && typeof b === "number" && spec?.tolerance !== undefined) {
    return Math.abs(a - b) <= spec.tolerance;
  }
  return jsonEqual(a, b);
}

/** The first rule `value` breaks, named with the path to it inside the value ("brightness: maximum 100"). */
function brokenRule(spec: ValueSchema, value: Json): string | undefined {
  if (!hasType(spec.type, value)) return `type ${spec.type}`;
  if (typeof value === "number") {
    if (spec.minimum !== undefined && value < spec.minimum) return `minimum ${spec.minimum}`;
    if (spec.maximum !== undefined && value > spec.maximum) return `maximum ${spec.maximum}`;
    if (spec.exclusiveMinimum !== undefined && value <= spec.exclusiveMinimum) return `exclusiveMinimum ${spec.exclusiveMinimum}`;
    if (spec.exclusiveMaximum !== undefined && value >= spec.exclusiveMaximum) return `exclusiveMaximum ${spec.exclusiveMaximum}`;
    if (spec.multipleOf !== undefined && !isMultiple(value, spec.multipleOf)) return `multipleOf ${spec.multipleOf}`;
  }
  if (typeof value === "string" && spec.pattern !== undefined) {
    const cap = patternInputCap(spec.pattern);
    if (value.length > cap) return `pattern ${spec.pattern} (tested on at most ${cap} characters)`;
    if (!compiledPattern(spec.pattern).test(value)) return `pattern ${spec.pattern}`;
  }
  if (spec.const !== undefined && !jsonEqual(spec.const, value)) return `const ${showValue(spec.const)}`;
  if (spec.enum && !spec.enum.some((member) => jsonEqual(member, value))) {
    return `enum ${spec.enum.map((m) => (typeof m === "string" ? m : showValue(m))).join("|")}`;
  }
  return nestedRule(spec, value);
}

function nestedRule(spec: ValueSchema, value: Json): string | undefined {
  if (Array.isArray(value)) {
    if (!spec.items) return undefined;
    for (let i = 0; i < value.length; i++) {
      const rule = brokenRule(spec.items, value[i]);
      if (rule !== undefined) return `[${i}]: ${rule}`;
    }
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const obj = value as Record<string, Json>;
  for (const key of spec.required ?? []) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) return `${key}: required`;
  }
  for (const key of Object.keys(obj)) {
    const sub = spec.fields?.get(key) ?? spec.values;
    if (!sub) continue;
    const rule = brokenRule(sub, obj[key]);
    if (rule !== undefined) return `${clip(key)}: ${rule}`;
  }
  return undefined;
}

/** Within a part in 10^9 of a whole multiple, so that 0.3 counts as a multiple of 0.1. */
function isMultiple(value: number, step: number): boolean {
  const q = value / step;
  return Math.abs(q - Math.round(q)) <= 1e-9 * Math.max(1, Math.abs(q));
}

function hasType(type: PropertyType, value: Json): boolean {
  switch (type) {
    case "any": return true;
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "integer": return Number.isInteger(value);
    case "string": return typeof value === "string";
    case "boolean": return typeof value === "boolean";
    case "array": return Array.isArray(value);
    case "object": return typeof value === "object" && value !== null && !Array.isArray(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Small readers

function invalid(where: Where, reason: string): never {
  throw new TwinError("model-invalid", { model: where.model, reason: where.at ? `${where.at}: ${reason}` : reason });
}

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Own properties only: an inherited `constructor` or `toString` is never mistaken for input. */
function field(raw: Raw, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(raw, key) ? raw[key] : undefined;
}

function asList(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** JSON-LD lets @type and @context be one value or an array of them. */
function typeIncludes(raw: Raw, type: string): boolean {
  return asList(field(raw, "@type")).includes(type);
}

function contexts(raw: Raw): string[] {
  return asList(field(raw, "@context")).filter((c): c is string => typeof c === "string");
}

/** WoT and DTDL text may be a plain string or a map of language tags to strings. */
function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (!isObject(value)) return undefined;
  const en = field(value, "en");
  if (typeof en === "string") return en;
  return Object.keys(value).map((k) => value[k]).find((v): v is string => typeof v === "string");
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A reference quoted whole, so the user can find it: a URL or a dtmi is long but still its name. */
function quote(ref: string): string {
  return JSON.stringify(ref.length > 300 ? ref.slice(0, 299) + "…" : ref);
}

function clip(name: string): string {
  return name.length > 60 ? name.slice(0, 59) + "…" : name;
}
