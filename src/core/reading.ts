/**
 * One reading into reported state: the path every source of readings takes (`twin-sensor` for
 * messages in a flow, `twin-link` for devices on MQTT), so a value is judged the same way
 * whichever way it came. Values are coerced to the model's types, scaled, converted into the
 * model's unit and filtered by a deadband, then reported to the registry as one change; the
 * registry validates them (model, names, limits, timestamps) and either applies them all or
 * throws a TwinError and changes nothing.
 */
import { dict, isPlainObject } from "./json";
import { ChangeEvent, ReportResult, SubmitOp, TwinRegistry } from "./registry";
import { Deadband } from "./binding";
import { Shaping, shaperFor, shapingData } from "./shaping";

export interface ReadingOptions {
  /** Source time of the reading (epoch ms); the time of arrival when undefined. */
  ts?: number;
  /** Where the reading came from (a topic), kept in meta.reported. */
  source?: string;
  /** The version the sender expects the twin to be at (a conflict error otherwise). */
  ifVersion?: unknown;
  /** Create a twin that does not exist yet (with this model), in the same change. */
  create?: { model?: string | null };
  /** Decimal text and "true"/"false" become numbers and booleans when the twin has no model. */
  parseNumbers?: boolean;
  /** value * scale + offset for numbers (1 and 0 by default). */
  scale?: number;
  offset?: number;
  /** Canonical unit of the readings, converted into the unit the model gives the property. */
  unit?: string;
  /** A reading this close to the stored value changes nothing (but the twin stays online). */
  deadband?: Deadband | null;
}

export interface ReadingOutcome {
  /** The change event, or null when nothing changed (inside the deadband, older than stored, empty). */
  event: ChangeEvent | null;
  /** Properties whose reading was older than the stored one and was not applied. */
  stale: string[];
  /** The twin was created by this reading. */
  created: boolean;
}

/** What differs from one reading to the next on a path prepared with `readingPath`. */
export interface ReadingSource { ts?: number; source?: string; ifVersion?: unknown }

/** A reading path prepared once (a node's settings): `apply` is applyReading with those settings. */
export interface ReadingPath {
  apply(registry: TwinRegistry, twinId: string, values: Record<string, unknown>, reading?: ReadingSource): ReadingOutcome;
  /** `apply` for a caller that needs only the change event (twin-sensor): no outcome object per reading. */
  change(registry: TwinRegistry, twinId: string, values: Record<string, unknown>, reading: ReadingSource): ChangeEvent | null;
  /**
   * The same reading through `registry.submit`, for a twin this instance does not lead (a
   * registry shared on Redis): the settings travel as data and its leader shapes the values
   * against the state it holds. Resolves once durable; rejects with the leader's TwinError.
   */
  submit(registry: TwinRegistry, twinId: string, values: Record<string, unknown>, reading?: ReadingSource): Promise<ReadingOutcome>;
}

/** The registry takes plain objects only; any other object's own keys are its properties, as before. */
function plain(values: Record<string, unknown>): Record<string, unknown> {
  return isPlainObject(values) ? values : Object.assign(dict<unknown>(), values);
}

/**
 * Prepares the reading path for fixed settings (a twin-sensor node's), so a reading allocates no
 * shaper and no create option of its own: they are made here, once.
 */
export function readingPath(options: Omit<ReadingOptions, keyof ReadingSource> = {}): ReadingPath {
  const create = options.create ? { model: options.create.model || null } : undefined;
  // Shaping is synchronous and ends before the registry emits anything, so a reading made from a
  // change listener (while another is being written) can not mix up which twin an error names.
  const at = { twinId: "" };
  const shape = shaperFor(options, at);
  const shaping = shapingData(options);
  const report = (registry: TwinRegistry, twinId: string, values: Record<string, unknown>, reading: ReadingSource): ReportResult => {
    at.twinId = twinId;
    // Options of its own per call: registry.report may run again from a listener before this returns.
    return registry.report(twinId, plain(values), { ts: reading.ts, source: reading.source, ifVersion: reading.ifVersion, create, shape, alive: true });
  };
  return {
    apply(registry, twinId, values, reading = {}) {
      return outcomeOf(report(registry, twinId, values, reading));
    },
    change(registry, twinId, values, reading) {
      return report(registry, twinId, values, reading).event;
    },
    submit(registry, twinId, values, reading = {}) {
      return registry.submit(reportOp(twinId, values, reading, create, shaping)).then(outcomeOf);
    },
  };
}

function reportOp(twinId: string, values: Record<string, unknown>, reading: ReadingSource, create: { model: string | null } | undefined, shaping: Shaping): SubmitOp {
  return { op: "report", id: twinId, values: plain(values), options: { ts: reading.ts, source: reading.source, ifVersion: reading.ifVersion, create, alive: true }, shaping };
}

/** A report's result as a reading's outcome (a forwarded one arrives untyped). */
function outcomeOf(result: unknown): ReadingOutcome {
  const r = result as ReportResult;
  return { event: r.event, stale: r.stale, created: r.created === true };
}

/**
 * Applies one reading (`values`: property name -> value) to twin `twinId`. Throws a TwinError
 * (invalid id, unknown twin, a value the model refuses, a version conflict...) with the twin
 * unchanged. A reading that keeps nothing for an existing twin (every value inside the deadband,
 * or no value at all) is still a sign of life: the twin is touched (kept online).
 *
 * The registry resolves the twin and its model once and shapes each value in the same pass that
 * checks it (the shaper), so a reading crosses into the registry once. A caller with fixed
 * settings (twin-sensor) prepares them once with readingPath.
 */
export function applyReading(registry: TwinRegistry, twinId: string, values: Record<string, unknown>, options: ReadingOptions = {}): ReadingOutcome {
  const result = registry.report(twinId, plain(values), {
    ts: options.ts,
    source: options.source,
    ifVersion: options.ifVersion,
    create: options.create ? { model: options.create.model || null } : undefined,
    shape: shaperFor(options, { twinId }),
    alive: true,
  });
  return outcomeOf(result);
}

/**
 * applyReading through `registry.submit`: for a twin led by another instance (a registry shared
 * on Redis), where the leader shapes and applies the reading as applyReading would here. Resolves
 * once durable; rejects with the same TwinError applyReading throws.
 */
export function submitReading(registry: TwinRegistry, twinId: string, values: Record<string, unknown>, options: ReadingOptions = {}): Promise<ReadingOutcome> {
  const create = options.create ? { model: options.create.model || null } : undefined;
  return registry.submit(reportOp(twinId, values, options, create, shapingData(options))).then(outcomeOf);
}
