/**
 * The twin record: the registry's private, compact form of a twin, and the document view that
 * nodes emit and the admin API returns. Per-property state sits in Maps keyed by property name;
 * maps nobody used yet stay null, which keeps 100,000 twins small.
 */
import { Json, JsonObject, dict, cloneJson } from "./json";
import { Series, SeriesMap } from "./history";
import { TwinModel, valuesMatch } from "./models";
import { DERIVED, DERIVED_SECTIONS, DerivedSection } from "./sections";

/**
 * One property's value with where and when it came from (`source` for reported, `by` for
 * desired). `series`: a reported number's history (the one in Twin.history), once a reading
 * found it there.
 */
export interface Entry { value: Json; ts: number; source?: string; series: Series | undefined }

export class Twin {
  attributes: JsonObject = dict();
  reported = new Map<string, Entry>();
  desired: Map<string, Entry> | null = null;
  /** The derived sections written so far (src/core/sections.ts): a Map per keyed section, a value per whole one. */
  derived: Map<DerivedSection, Json | Map<string, Json>> | null = null;
  /** Private state of other parts (estimators, lifecycle logs), persisted with the twin. */
  state: Map<string, Json> | null = null;
  history: SeriesMap | null = null;
  online = false;
  lastSeen: number | null = null;
  /** The latest sign of life that is in the store (lastSeen can run ahead of it: readings that changed nothing). */
  storedSeen: number | null = null;
  version = 0;
  /** Log sequence number of the last journal entry applied to this twin (replay skips older ones). */
  lsn = 0;
  /** Approximate serialised size of attributes, reported and desired: the document limit's measure. */
  bytes = 0;
  /** The attributes' share of `bytes`, kept so an update measures only the new attributes. */
  attributeBytes = 2;

  constructor(readonly id: string, public model: string | null, public created: number, public updated: number) {}
}

/** Each derived section in the document: an object for a keyed section, a value (null when unset) for a whole one. */
export type DerivedDocument = { [K in DerivedSection]: (typeof DERIVED)[K]["shape"] extends "keyed" ? JsonObject : Json };

export type TwinDocument = CoreDocument & DerivedDocument;

interface CoreDocument {
  id: string;
  model: string | null;
  attributes: JsonObject;
  reported: JsonObject;
  desired: JsonObject;
  delta: JsonObject;
  connectivity: { online: boolean; lastSeen: number | null };
  meta: { reported: Record<string, { ts: number; source?: string }>; desired: Record<string, { ts: number; by?: string }> };
  version: number;
  created: number;
  updated: number;
}

export interface TwinSummary {
  id: string;
  model: string | null;
  stage: string | null;
  online: boolean;
  lastSeen: number | null;
  version: number;
  updated: number;
  delta: number;
  anomaly: boolean;
}

/** A keyed derived section's values (undefined until one is written); the registry's own: do not change it. */
export function keyedOf(twin: Twin, section: DerivedSection): Map<string, Json> | undefined {
  const v = twin.derived?.get(section);
  return v instanceof Map ? v : undefined;
}

/** A whole derived section's value, null when unset. */
export function wholeOf(twin: Twin, section: DerivedSection): Json {
  const v = twin.derived?.get(section);
  return v === undefined || v instanceof Map ? null : v;
}

/** Desired properties whose value differs from reported (numbers within the model's tolerance match). */
export function deltaOf(twin: Twin, model: TwinModel | null): JsonObject {
  const delta = dict();
  if (!twin.desired) return delta;
  for (const [name, want] of twin.desired) {
    const have = twin.reported.get(name);
    if (!have || !valuesMatch(model?.properties.get(name), want.value, have.value)) delta[name] = cloneJson(want.value);
  }
  return delta;
}

export function toDocument(twin: Twin, model: TwinModel | null): TwinDocument {
  // Built property by property in the document's key order (users see it in JSON): one object
  // per section and per meta entry, no temporary objects. Every twin node that answers with a
  // document pays for this once per message.
  const reported = dict();
  const metaReported = dict<{ ts: number; source?: string }>();
  for (const [name, entry] of twin.reported) {
    const value = entry.value;
    reported[name] = typeof value === "object" && value !== null ? cloneJson(value) : value;
    metaReported[name] = entry.source === undefined ? { ts: entry.ts } : { ts: entry.ts, source: entry.source };
  }
  const desired = dict();
  const metaDesired = dict<{ ts: number; by?: string }>();
  if (twin.desired) {
    for (const [name, entry] of twin.desired) {
      desired[name] = cloneJson(entry.value);
      metaDesired[name] = entry.source === undefined ? { ts: entry.ts } : { ts: entry.ts, by: entry.source };
    }
  }
  const doc = {
    id: twin.id,
    model: twin.model,
    attributes: cloneJson(twin.attributes),
    reported,
    desired,
    delta: deltaOf(twin, model),
  } as Record<string, unknown>;
  for (const section of DERIVED_SECTIONS) {
    if (DERIVED[section].shape === "keyed") {
      const out = dict();
      const map = keyedOf(twin, section);
      if (map) for (const [name, v] of map) out[name] = cloneJson(v);
      doc[section] = out;
    } else doc[section] = cloneJson(wholeOf(twin, section));
  }
  doc.connectivity = { online: twin.online, lastSeen: twin.lastSeen };
  doc.meta = { reported: metaReported, desired: metaDesired };
  doc.version = twin.version;
  doc.created = twin.created;
  doc.updated = twin.updated;
  return doc as unknown as TwinDocument;
}

export function stageOf(twin: Twin): string | null {
  const lc = wholeOf(twin, "lifecycle");
  if (lc && typeof lc === "object" && !Array.isArray(lc) && typeof lc.stage === "string") return lc.stage;
  return null;
}

export function toSummary(twin: Twin, model: TwinModel | null): TwinSummary {
  let anomaly = false;
  const predictions = keyedOf(twin, "predictions");
  if (predictions) {
    for (const p of predictions.values()) {
      if (p && typeof p === "object" && !Array.isArray(p) && p.anomaly === true) anomaly = true;
    }
  }
  return {
    id: twin.id,
    model: twin.model,
    stage: stageOf(twin),
    online: twin.online,
    lastSeen: twin.lastSeen,
    version: twin.version,
    updated: twin.updated,
    delta: Object.keys(deltaOf(twin, model)).length,
    anomaly,
  };
}
