/**
 * The rules a change must meet before the registry journals it (docs/architecture.md, "The registry"):
 * the version a writer expects, names, values (JSON, depth, the model's types and limits),
 * timestamps, readings older than what is stored, and the document's size. Every check runs
 * before anything is written, so a change either lands whole or not at all; each failure is a
 * TwinError that names the twin and the property.
 *
 * Kept apart from TwinRegistry, which owns the state, the journal and the events: the rules read
 * in one place, and a new rule does not touch the code that writes.
 */
import { TwinError, showValue } from "./errors";
import { Json, JsonObject, admit, dict, isPlainObject, jsonEqual, sizeOf } from "./json";
import { checkPropertyName, isStateKey } from "./names";
import { TwinModel, checkValue, modelPropertyName } from "./models";
import { mergePatch } from "./merge-patch";
import { Entry, Twin } from "./twin";
import { EntryTuple, Readings, entrySize } from "./journal";
import { SKIP } from "./shaping";
import type { ReportOptions, WriteOptions } from "./registry";

/**
 * Checked parts of one change: merged attributes, readings, desired values (null clears).
 * Readings are already in the journal entry's form, so the entry takes them as they are.
 */
export interface Parts { a?: Patched; r?: Checked; d?: Map<string, EntryTuple | null> }

/**
 * Checked readings, with the properties whose reading was stale and how many values the shaper
 * kept. `entries`: each accepted value's stored entry (undefined for a new property) in the order
 * `values` holds them, looked up once for the check, the change and applying the entry; null when
 * a model mapped a vendor's name, as two keys may then name one property.
 */
export interface Checked extends Readings { stale: string[]; kept: number; entries: Array<Entry | undefined> | null }

/**
 * Attributes after a merge patch, with the top-level keys the patch named (no other can change).
 * `size` is the merged attributes' measure, taken once for the size check and the twin's count.
 */
export interface Patched { merged: JsonObject; keys: string[]; patch: JsonObject; size: number }

/** What the checks read from the registry they serve. */
export interface CheckLimits {
  clock: () => number;
  maxDocumentBytes: number;
  maxDepth: number;
  maxFutureMs: number;
  modelOf(twin: Twin): TwinModel | null;
}

/** Private state (setState, a derived section's state): deeper and larger than a property may be. */
const STATE_LIMITS = { maxDepth: 16, budget: 1024 * 1024 };

export class ChangeChecks {
  constructor(private readonly limits: CheckLimits) {}

  /** `ifVersion` against the twin's version: a conflict error when they differ. */
  version(twin: Twin, ifVersion: unknown): void {
    if (ifVersion === undefined) return;
    const expected = expectedVersion(twin.id, ifVersion);
    if (expected !== twin.version) {
      throw new TwinError("conflict", { twinId: twin.id, expected, current: twin.version });
    }
  }

  /**
   * A source time in epoch ms: finite, not before 1970, not further ahead than maxFutureMs.
   * `now`: the clock as the change read it already (registry.report), else it is read here.
   */
  sourceTime(twinId: string, ts: unknown, now?: number): number {
    if (ts === undefined || ts === null) return now ?? this.limits.clock();
    if (typeof ts !== "number" || !Number.isFinite(ts)) throw new TwinError("invalid-time", { twinId, value: showValue(ts), rule: "epoch ms" });
    if (ts < 0) throw new TwinError("invalid-time", { twinId, value: showValue(ts), rule: "before 1970" });
    if (ts > (now ?? this.limits.clock()) + this.limits.maxFutureMs) throw new TwinError("invalid-time", { twinId, value: showValue(ts), rule: "in the future" });
    return ts === 0 ? 0 : ts; // -0 as 0, as values (json.ts, NEGATIVE_ZERO)
  }

  /** A JSON merge patch of the attributes, admitted key by key and merged. */
  attributes(twin: Twin, patch: unknown): Patched {
    if (!isPlainObject(patch)) throw new TwinError("invalid-patch", { twinId: twin.id, value: showValue(patch) });
    const admitted = dict();
    const keys = Object.keys(patch);
    for (const key of keys) {
      checkPropertyName(twin.id, key);
      admitted[key] = this.value(twin, key, patch[key]);
    }
    const before = twin.attributes;
    const merged = mergePatch(before, admitted) as JsonObject;
    // An object's size is the sum of its keys' shares (sizeOf in json.ts), and a merge patch
    // changes only the top-level keys it names: only they are measured again, not every attribute.
    let size = twin.attributeBytes;
    for (const key of keys) {
      if (key in before) size -= key.length + 4 + sizeOf(before[key]);
      if (key in merged) size += key.length + 4 + sizeOf(merged[key]);
    }
    return { merged, keys, patch: admitted, size };
  }

  /**
   * Readings checked in one pass, shaped first when the options carry a shaper. `kept` counts the
   * values the shaper did not skip. A shaped reading checks its source time only once it keeps a
   * value, so a reading wholly inside the deadband is a sign of life whatever its timestamp.
   * `now`: the clock as the change read it (see sourceTime).
   */
  reported(twin: Twin, values: unknown, options: ReportOptions, now?: number): Checked {
    if (!isPlainObject(values)) throw new TwinError("invalid-json", { twinId: twin.id, property: "reported", value: showValue(values) });
    const shape = options.shape;
    let ts = shape ? -1 : this.sourceTime(twin.id, options.ts, now);
    const model = this.limits.modelOf(twin);
    const accepted = dict<Json>();
    const entries: Array<Entry | undefined> = [];
    let aligned = true;
    const stale: string[] = [];
    let kept = 0;
    for (const key of Object.keys(values)) {
      // A device may use the vendor's spelling of a name the model maps ("7:Temperature").
      const name = model ? modelPropertyName(model, key) : key;
      if (name !== key) aligned = false;
      let raw = values[key];
      const old = twin.reported.get(name);
      if (shape) {
        raw = shape(name, raw, model?.properties.get(name), old);
        if (raw === SKIP) continue;
        if (ts < 0) ts = this.sourceTime(twin.id, options.ts, now);
      }
      kept++;
      // A name the twin holds already passed the naming rules when it was stored (from disk, as
      // it was read): only a new name is checked, not every name of every reading.
      if (!old) checkPropertyName(twin.id, name);
      if (raw === undefined) continue;
      const value = this.value(twin, name, raw);
      checkValue(model, twin.id, name, value, false);
      // Older than the stored reading, or that very reading again (its own time and value: an MQTT
      // message delivered twice, as QoS 1 does after a crash before its acknowledgement).
      if (old && (ts < old.ts || (ts === old.ts && options.ts !== undefined && (value === old.value || jsonEqual(value, old.value))))) {
        stale.push(name);
        continue;
      }
      accepted[name] = value;
      entries.push(old);
    }
    // One object for the readings and what the caller needs besides: one allocation per reading.
    return { values: accepted, ts, source: options.source, stale, kept, entries: aligned ? entries : null };
  }

  /** Desired values, admitted and checked against the model; null clears one the twin has. */
  desired(twin: Twin, values: unknown, options: WriteOptions): Map<string, EntryTuple | null> {
    if (!isPlainObject(values)) throw new TwinError("invalid-json", { twinId: twin.id, property: "desired", value: showValue(values) });
    const ts = this.sourceTime(twin.id, options.ts);
    const model = this.limits.modelOf(twin);
    const out = new Map<string, EntryTuple | null>();
    for (const name of Object.keys(values)) {
      checkPropertyName(twin.id, name);
      const raw = values[name];
      if (raw === undefined) continue;
      if (raw === null) {
        if (twin.desired?.has(name)) out.set(name, null);
        continue;
      }
      const { value } = admit(raw, this.admitContext(twin, name));
      checkValue(model, twin.id, name, value, true);
      out.set(name, options.by === undefined ? [value, ts] : [value, ts, options.by]);
    }
    return out;
  }

  /**
   * The whole change is measured at once: parts that fit one by one may not fit together.
   * `reportedBytes`: what the readings change the document by, when the caller measured them
   * already (write() does, as it builds their changes); else they are measured here.
   */
  size(twin: Twin, parts: Parts, reportedBytes?: number): void {
    let bytes = twin.bytes;
    if (parts.a) bytes += parts.a.size - twin.attributeBytes;
    if (reportedBytes !== undefined) bytes += reportedBytes;
    else if (parts.r) {
      const values = parts.r.values;
      for (const name in values) {
        const old = twin.reported.get(name);
        bytes += entrySize(name, values[name]) - (old ? entrySize(name, old.value) : 0);
      }
    }
    if (parts.d) {
      for (const [name, tuple] of parts.d) {
        const old = twin.desired?.get(name);
        bytes += (tuple ? entrySize(name, tuple[0]) : 0) - (old ? entrySize(name, old.value) : 0);
      }
    }
    const limit = this.limits.maxDocumentBytes;
    if (bytes > limit) throw new TwinError("too-large", { twinId: twin.id, property: "document", limit });
  }

  /** A value of a derived section (a prediction, the lifecycle): JSON within `budget` bytes. */
  derived(twin: Twin, property: string, value: unknown, budget: number): Json {
    return admit(value, { twinId: twin.id, property, maxDepth: this.limits.maxDepth, budget }).value;
  }

  /** Private state by key (null removes one): keys as state keys, values as JSON. */
  state(twin: Twin, values: Record<string, Json | null>): Record<string, Json | null> {
    const s = dict<Json | null>();
    for (const key of Object.keys(values)) {
      if (!isStateKey(key)) throw new TwinError("invalid-property", { twinId: twin.id, property: key });
      const value = values[key];
      s[key] = value === null ? null : admit(value, { twinId: twin.id, property: key, ...STATE_LIMITS }).value;
    }
    return s;
  }

  /** admit(), without its walk for the plain numbers and booleans most readings are. */
  private value(twin: Twin, name: string, raw: unknown): Json {
    if (this.limits.maxDocumentBytes >= 8 && (typeof raw === "boolean" || (typeof raw === "number" && Number.isFinite(raw)))) return raw === 0 ? 0 : raw; // -0 as 0 (json.ts, NEGATIVE_ZERO)
    return admit(raw, this.admitContext(twin, name)).value;
  }

  private admitContext(twin: Twin, property: string) {
    return { twinId: twin.id, property, maxDepth: this.limits.maxDepth, budget: this.limits.maxDocumentBytes };
  }
}

/** `ifVersion` as a version number: a non-negative safe integer, or its decimal text. */
export function expectedVersion(twinId: string, ifVersion: unknown): number {
  const n = typeof ifVersion === "string" && /^\d+$/.test(ifVersion) ? Number(ifVersion) : ifVersion;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new TwinError("invalid-version", { twinId, value: showValue(ifVersion) });
  }
  return n;
}
