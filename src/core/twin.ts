/**
 * The twin record: the registry's private, compact form of a twin, and the document view that
 * nodes emit and the admin API returns. Per-property state sits in Maps keyed by property name;
 * maps nobody used yet stay null, which keeps 100,000 twins small.
 */
import { Json, JsonObject, dict, cloneJson } from "./json";
import { SeriesMap } from "./history";
import { TwinModel, valuesMatch } from "./models";

/** One property's value with where and when it came from (`source` for reported, `by` for desired). */
export interface Entry { value: Json; ts: number; source?: string }

export class Twin {
  attributes: JsonObject = dict();
  reported = new Map<string, Entry>();
  desired: Map<string, Entry> | null = null;
  predictions: Map<string, Json> | null = null;
  lifecycle: Json = null;
  /** Private state of other parts (estimators, lifecycle logs), persisted with the twin. */
  state: Map<string, Json> | null = null;
  history: SeriesMap | null = null;
  online = false;
  lastSeen: number | null = null;
  version = 0;
  /** Log sequence number of the last journal entry applied to this twin (replay skips older ones). */
  lsn = 0;
  /** Approximate serialised size of attributes, reported and desired: the document limit's measure. */
  bytes = 0;
  /** The attributes' share of `bytes`, kept so an update measures only the new attributes. */
  attributeBytes = 2;

  constructor(readonly id: string, public model: string | null, public created: number, public updated: number) {}
}

export interface TwinDocument {
  id: string;
  model: string | null;
  attributes: JsonObject;
  reported: JsonObject;
  desired: JsonObject;
  delta: JsonObject;
  predictions: JsonObject;
  lifecycle: Json;
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
  const reported = dict();
  const metaReported = dict<{ ts: number; source?: string }>();
  for (const [name, entry] of twin.reported) {
    reported[name] = cloneJson(entry.value);
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
  const predictions = dict();
  if (twin.predictions) for (const [name, p] of twin.predictions) predictions[name] = cloneJson(p);
  return {
    id: twin.id,
    model: twin.model,
    attributes: cloneJson(twin.attributes),
    reported,
    desired,
    delta: deltaOf(twin, model),
    predictions,
    lifecycle: cloneJson(twin.lifecycle),
    connectivity: { online: twin.online, lastSeen: twin.lastSeen },
    meta: { reported: metaReported, desired: metaDesired },
    version: twin.version,
    created: twin.created,
    updated: twin.updated,
  };
}

export function stageOf(twin: Twin): string | null {
  const lc = twin.lifecycle;
  if (lc && typeof lc === "object" && !Array.isArray(lc) && typeof lc.stage === "string") return lc.stage;
  return null;
}

export function toSummary(twin: Twin, model: TwinModel | null): TwinSummary {
  let anomaly = false;
  if (twin.predictions) {
    for (const p of twin.predictions.values()) {
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
