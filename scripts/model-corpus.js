#!/usr/bin/env node
"use strict";
/**
 * Runs a folder of real device models through the import a registry's models folder uses
 * (loadModels in src/core/models.ts: every .json/.jsonld file below the folder, references
 * resolving across all of them, a bad file left out with its reason) and says how it went:
 *
 *   node scripts/build.js && node scripts/model-corpus.js <folder> [--json] [--examples N]
 *
 * Prints, per kind of document (WoT Thing Description, Thing Model, DTDL Interface file, compact
 * map): files accepted and refused (a file refused only because another file declares the same
 * model name, as plugfest copies of one device do, is tried again alone and counted as "+alone");
 * accepted Thing Models that are incomplete (links to models the folder lacks); properties reached (twin properties the accepted models give,
 * against the properties the documents declare, with those of DTDL bases and Components and
 * Thing Model links counted where the folder holds them); declared units the unit table knows;
 * and the refusals grouped by reason (quoted names blanked so like reasons group), with an
 * example file each. Files that are not models (package.json, JSON Schemas) are counted and
 * skipped; a file whose bytes equal another's is read once.
 */
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const LIB = path.join(__dirname, "..", "nodes", "lib", "core");
const { loadModels } = require(path.join(LIB, "models"));
const { canonicalUnit } = require(path.join(LIB, "units"));

function main(argv) {
  const args = argv.filter((a) => !a.startsWith("--"));
  const json = argv.includes("--json");
  const examplesAt = argv.indexOf("--examples");
  const examples = examplesAt >= 0 ? Number(argv[examplesAt + 1]) : 1;
  if (examplesAt >= 0) args.splice(args.indexOf(argv[examplesAt + 1]), 1);
  if (args.length !== 1 || !fs.statSync(args[0], { throwIfNoEntry: false })?.isDirectory()) {
    console.error("usage: node scripts/model-corpus.js <folder> [--json] [--examples N]");
    process.exit(2);
  }
  const report = run(path.resolve(args[0]), examples);
  if (json) console.log(JSON.stringify(report, null, 2));
  else print(report);
}

function run(root, examples) {
  const started = Date.now();
  const seen = new Set();
  const sources = [];
  const kinds = new Map();
  const skipped = { notJson: 0, notModel: 0, duplicate: 0 };
  for (const file of walk(root)) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    const hash = crypto.createHash("sha1").update(text).digest("hex");
    if (seen.has(hash)) {
      skipped.duplicate++;
      continue;
    }
    seen.add(hash);
    let doc;
    try {
      doc = JSON.parse(text.replace(/^\uFEFF/, ""));
    } catch {
      // Still given to the import: a broken file in a models folder is a refusal to count.
      doc = undefined;
    }
    const kind = doc === undefined ? (/\.(tm|td)\.json(ld)?$|dtmi/i.test(file) ? "unreadable" : null) : kindOf(doc);
    if (doc === undefined && kind === null) {
      skipped.notJson++;
      continue;
    }
    if (kind === null) {
      skipped.notModel++;
      continue;
    }
    kinds.set(file, kind);
    sources.push({ file, input: text, doc });
  }

  const { models, problems, files } = loadModels(sources.map(({ file, input }) => ({ file, input })));
  const refused = new Map(problems.map((p) => [p.file, p.error]));
  const reached = new Map();
  for (const [file, names] of files) reached.set(file, names.reduce((n, name) => n + models.get(name).properties.size, 0));
  const docs = indexDocs(sources);

  // A corpus is not one registry's folder: plugfest copies of one device share a title. A file
  // refused only for its model name is tried again alone, with the folder there for its references.
  const alone = new Set();
  const incompleteAlone = new Set();
  for (const { file, doc } of sources) {
    const error = refused.get(file);
    if (!error || !/^duplicate model name/.test(String(error.params?.reason)) || doc === undefined) continue;
    const others = sources.filter((s) => s.file !== file && s.doc !== undefined).map((s) => ({ file: s.file, input: s.doc, reference: true }));
    const again = loadModels([{ file, input: doc }, ...others]);
    if (again.problems.length === 0) {
      alone.add(file);
      if ((again.files.get(file) ?? []).some((name) => again.models.get(name).unresolved)) incompleteAlone.add(file);
      reached.set(file, (again.files.get(file) ?? []).reduce((n, name) => n + again.models.get(name).properties.size, 0));
    }
  }

  const byKind = {};
  const reasons = new Map();
  const units = { declared: 0, known: 0, unknown: new Map() };
  for (const { file, doc } of sources) {
    const kind = kinds.get(file);
    const k = (byKind[kind] ??= { files: 0, accepted: 0, refused: 0, acceptedAlone: 0, incomplete: 0, propertiesDeclared: 0, propertiesReached: 0 });
    k.files++;
    const declared = doc === undefined ? [] : declaredProperties(doc, docs);
    k.propertiesDeclared += declared.length;
    for (const { unit } of declared) {
      if (typeof unit !== "string") continue;
      units.declared++;
      if (canonicalUnit(unit) !== undefined) units.known++;
      else units.unknown.set(unit, (units.unknown.get(unit) ?? 0) + 1);
    }
    const error = refused.get(file);
    k.propertiesReached += reached.get(file) ?? 0;
    if (alone.has(file)) {
      k.acceptedAlone++;
      if (incompleteAlone.has(file)) k.incomplete++;
    } else if (error) {
      k.refused++;
      const reason = `${kind}: ${String(error.params?.reason ?? error.message).replace(/"[^"]*"/g, '"…"').replace(/dtmi:[^\s,)]+/g, "dtmi:…")}`;
      const r = reasons.get(reason) ?? { count: 0, files: [] };
      r.count++;
      if (r.files.length < examples) r.files.push(file);
      reasons.set(reason, r);
    } else {
      k.accepted++;
      if ((files.get(file) ?? []).some((name) => models.get(name).unresolved)) k.incomplete++;
    }
  }
  for (const k of Object.values(byKind)) {
    k.acceptedPct = pct(k.accepted + k.acceptedAlone, k.files);
    k.reachedPct = pct(k.propertiesReached, k.propertiesDeclared);
  }
  return {
    folder: root,
    seconds: (Date.now() - started) / 1000,
    skipped,
    models: models.size,
    kinds: byKind,
    units: {
      declared: units.declared,
      known: units.known,
      knownPct: pct(units.known, units.declared),
      unknown: [...units.unknown].sort((a, b) => b[1] - a[1]).slice(0, 20),
    },
    refusals: [...reasons].sort((a, b) => b[1].count - a[1].count).map(([reason, r]) => ({ count: r.count, reason, files: r.files })),
  };
}

function print(r) {
  console.log(`${r.folder}: ${r.models} models in ${r.seconds.toFixed(1)} s`);
  console.log(`skipped: ${r.skipped.duplicate} duplicate files, ${r.skipped.notModel} JSON files that are not models, ${r.skipped.notJson} unreadable files that are not models`);
  console.log("");
  console.log("kind        files  accepted  +alone  refused   accepted%  incomplete   properties reached / declared");
  for (const [kind, k] of Object.entries(r.kinds)) {
    console.log(`${kind.padEnd(10)} ${String(k.files).padStart(6)} ${String(k.accepted).padStart(9)} ${String(k.acceptedAlone).padStart(7)} ${String(k.refused).padStart(8)} ${k.acceptedPct.padStart(10)} ${String(k.incomplete).padStart(11)}   ${k.propertiesReached} / ${k.propertiesDeclared} (${k.reachedPct})`);
  }
  console.log("(+alone: refused in the folder only because another file declares the same model name, accepted alone with the folder for references; counted in accepted%)");
  console.log("(incomplete: accepted with links to Thing Models the folder does not hold, listed in the model's unresolved; counted in accepted or +alone)");
  console.log("");
  console.log(`units the unit table knows: ${r.units.known} of ${r.units.declared} declared (${r.units.knownPct})`);
  if (r.units.unknown.length) console.log(`unknown units: ${r.units.unknown.map(([u, n]) => `${u} (${n})`).join(", ")}`);
  console.log("");
  console.log(r.refusals.length ? "refusals by reason:" : "no refusals");
  for (const { count, reason, files } of r.refusals) console.log(`${String(count).padStart(6)}  ${reason}\n        e.g. ${files.join(", ")}`);
}

function* walk(root, rel = "") {
  const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && !e.name.startsWith(".")) yield* walk(root, p);
    } else if (/\.json(ld)?$/i.test(e.name)) yield p;
  }
}

const list = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isThingModel = (d) => list(d["@type"]).includes("tm:ThingModel") || list(d["@type"]).includes("ThingModel");
const isWot = (d) => list(d["@context"]).some((c) => typeof c === "string" && /w3\.org\/(20(19|22)\/wot\/td|ns\/td|ns\/wot-next\/td)|w3c\.github\.io\/wot/.test(c)) || isThingModel(d);
const isInterface = (d) => isObject(d) && list(d["@type"]).includes("Interface");

function kindOf(doc) {
  if (Array.isArray(doc)) return doc.length > 0 && doc.every(isInterface) ? "dtdl" : doc.length > 0 && doc.every((d) => isObject(d) && isWot(d)) ? "td" : null;
  if (!isObject(doc)) return null;
  // The 2017 drafts' `interaction` list is not TD 1.0/1.1: counted apart, so the TD figure is of TDs.
  if (isWot(doc)) return isThingModel(doc) ? "tm" : Array.isArray(doc.interaction) && !isObject(doc.properties) ? "td-2017-draft" : "td";
  if (isInterface(doc)) return "dtdl";
  const values = Object.values(doc);
  if (values.length > 0 && values.every((m) => isObject(m) && isObject(m.properties)) && !("$schema" in doc)) return "compact";
  return null;
}

/** DTDL Interfaces by @id and WoT documents by file name, for counting what references bring in. */
function indexDocs(sources) {
  const interfaces = new Map();
  const things = new Map();
  for (const { file, doc } of sources) {
    for (const d of list(doc)) {
      if (isInterface(d) && typeof d["@id"] === "string") interfaces.set(d["@id"], d);
      if (isObject(d) && isWot(d)) things.set(docName(file), d);
    }
  }
  return { interfaces, things };
}

function docName(href) {
  const file = String(href).split("#")[0].split("/").pop();
  return file.replace(/(\.(tm|td))?\.(jsonld|json)$/i, "");
}

/**
 * Every property a file declares, with its unit: each model in it with its DTDL bases and
 * Components, or its Thing Model links, followed (a base reached twice by one model counts once).
 */
function declaredProperties(doc, docs) {
  return list(doc).flatMap((d) => declaredOf(d, docs, new Set(), 0));
}

/** `seen`: bases already counted for this model; `depth`: Components nest (a cycle stops here). */
function declaredOf(doc, docs, seen, depth) {
  const out = [];
  if (depth > 8) return out;
  for (const d of list(doc)) {
    if (!isObject(d) || seen.has(d)) continue;
    seen.add(d);
    if (isInterface(d)) {
      for (const base of list(d.extends)) out.push(...declaredOf(typeof base === "string" ? docs.interfaces.get(base) : base, docs, seen, depth));
      for (const c of list(d.contents)) {
        if (!isObject(c)) continue;
        const types = list(c["@type"]);
        if (types.includes("Property") || types.includes("Telemetry")) out.push({ unit: c.unit });
        else if (types.includes("Component")) {
          out.push(...declaredOf(typeof c.schema === "string" ? docs.interfaces.get(c.schema) : c.schema, docs, new Set(), depth + 1));
        }
      }
    } else if (isWot(d)) {
      for (const link of list(d.links)) {
        // Each submodel instance is a part of its own ("acceleration" three times is three parts).
        if (isObject(link) && link.rel === "tm:extends") out.push(...declaredOf(docs.things.get(docName(link.href)), docs, seen, depth + 1));
        if (isObject(link) && link.rel === "tm:submodel") out.push(...declaredOf(docs.things.get(docName(link.href)), docs, new Set(), depth + 1));
      }
      for (const p of isObject(d.properties) ? Object.values(d.properties) : []) out.push({ unit: isObject(p) ? p.unit : undefined });
    } else {
      for (const m of Object.values(d)) for (const p of isObject(m?.properties) ? Object.values(m.properties) : []) out.push({ unit: isObject(p) ? p.unit : undefined });
    }
  }
  return out;
}

function pct(n, of) {
  return of === 0 ? "-" : `${((100 * n) / of).toFixed(1)} %`;
}

if (require.main === module) main(process.argv.slice(2));
module.exports = { run };
