/**
 * The settings of a prediction, with their defaults, read from a node's config (text fields)
 * or given directly. A bad setting throws TwinError("invalid-option", { option, value }).
 */
import { TwinError, showValue } from "../errors";
import { isPropertyName } from "../names";
import { Method, METHODS } from "./forecaster";
import { DETECTOR_DEFAULTS } from "./detector";
import { Direction } from "./threshold";

export interface PredictOptions {
  method: Method;
  /** Seconds ahead of the forecast. */
  horizon: number;
  /** Half-life of the level, seconds. */
  halfLife: number;
  /** Half-life of the trend (holt), seconds. */
  trendHalfLife: number;
  /** Half-life of the trend's influence ahead (holt, damped), seconds; 0 for no damping. */
  damping: number;
  /** Readings in the window of `linear` and of the robust statistics. */
  window: number;
  /** The limit for time to threshold, or null for none. */
  threshold: number | null;
  direction: Direction;
  /** Seconds: warn when the threshold is nearer than this; 0 for no warning. */
  warning: number;
  /** |z| at which a reading is anomalous (the dialog's alarm sensitivity: low 6, normal 5, high 4). */
  zThreshold: number;
  /** Read from old configs and kept, no longer used: the detector's scale is robust always (see Superseded). */
  robust: boolean;
  /** Alerts on drift (detection itself always runs: it is also how a level shift is accepted). */
  drift: boolean;
  /** Read from old configs (the old drift test's sensitivity) and kept, no longer used: see levelShift and Superseded. */
  sensitivity: Sensitivity;
  /** Readings before any verdict... */
  warmup: number;
  /** ...and seconds since the first reading. */
  warmupTime: number;
  /** Seconds an anomalous level must hold to be accepted as the new normal (a drift alert ends the episode). */
  levelShift: number;
  /** The sensor's resolution (quantisation step) in the property's unit, or null to infer it from the readings. */
  resolution: number | null;
  /**
   * Physical limits of the quantity (the twin model's minimum/maximum): forecasts and intervals
   * stay within them. None by default: the engine passes the model's, a node config has none.
   */
  bounds?: Bounds;
}

export type Sensitivity = "low" | "medium" | "high";
const SENSITIVITIES: readonly string[] = ["low", "medium", "high"];

export interface Bounds {
  min?: number;
  max?: number;
}

/**
 * Why these defaults (measured on simulated field data: test/core/predict-quality.test.js, and on
 * the real series and the simulator: bench/prediction-quality.js, test/core/predict-auto.test.js):
 * - auto: on the real series and the simulator, holt's forecasts were 0.72 to 22
 *   times persistence's MAE (worse on 23 of 27 series and horizons); auto's are 0.43 to 1.012
 *   times, because it scores its candidates on their own settled forecasts, falls back to
 *   persistence when none helps, and risks no more than it has gained on persistence plus a
 *   small allowance (candidates.ts, scorer.ts). A config that names a method keeps
 *   it; only a config without one gets auto.
 * - horizon 1 h. For ewma and holt (auto's candidates set theirs from the typical interval and
 *   the horizon): level half-life 10 min, smooths minute-scale noise and still follows a change
 *   in minutes; trend half-life 2 h, a rate needs a longer look than a level. The level
 *   half-life also decides when a reading counts as after a gap (predictor.ts, GAP_HALF_LIVES).
 * - warning 24 h: a shift's notice for "will pass 90 degC in about 14 hours" (time to threshold
 *   itself: threshold.ts, THRESHOLD_DEFAULTS).
 * - anomalies, warm-up and level shifts (detector.ts, DETECTOR_DEFAULTS, measured by
 *   bench/anomaly-quality.js on simulator faults and the real series): zThreshold 5; no verdict
 *   before 20 readings and 30 min (the old 30 readings alone gave 196 of 277 false alarms in the
 *   first 12.5 min of a 10 s sensor); a level held 30 min (and 5 typical intervals) is the new
 *   normal; the resolution inferred from the readings unless given.
 */
export const DEFAULTS: PredictOptions = {
  method: "auto",
  horizon: 3600,
  halfLife: 600,
  trendHalfLife: 7200,
  damping: 0,
  window: 100,
  threshold: null,
  direction: "above",
  warning: 86400,
  zThreshold: DETECTOR_DEFAULTS.zThreshold,
  robust: false,
  drift: true,
  sensitivity: "medium",
  warmup: DETECTOR_DEFAULTS.warmup,
  warmupTime: DETECTOR_DEFAULTS.warmupTime,
  levelShift: DETECTOR_DEFAULTS.levelShift,
  resolution: DETECTOR_DEFAULTS.resolution,
};

const MAX_SECONDS = 10 * 365 * 86400;

/** Everything a twin-predict node is configured with. */
export interface PredictConfig {
  options: PredictOptions;
  /** Property names; empty: every numeric property. */
  properties: string[];
  /** Twin id globs; empty: every twin. */
  twinIds: string[];
  /** Publish only when the forecast moved at least this much (or the verdicts changed); 0: every reading. */
  step: number;
  /** Subscribe to the registry's reported changes. */
  watch: boolean;
  /** Settings of an old flow that no longer do anything, for the node to say so once at deploy. */
  superseded: Superseded[];
}

/**
 * A setting an old flow may carry that today's prediction no longer uses, with the value it was
 * given. Only a value other than the old default is reported (the old dialog saved the default
 * whether or not the user chose it):
 * - sensitivity low/high: the old drift test's alarm level. Drift is now a level that holds for
 *   `levelShift` seconds; there is no counterpart in units of the old test, so it is reported,
 *   not mapped (mapping it to the alarm's zThreshold would change what is flagged, which the user
 *   never asked for).
 * - robust true: robust statistics for the anomaly scale. The detector's scale is robust always:
 *   what the user asked for is what happens, and they are told the setting is no longer needed.
 */
export interface Superseded {
  option: "sensitivity" | "robust";
  value: string | boolean;
}

const ID_GLOB = /^[A-Za-z0-9_.:*?-]{1,128}$/;

/** Reads a node's config (strings from the editor, or numbers and booleans). */
export function readConfig(c: Record<string, unknown>): PredictConfig {
  const method = c.method === undefined || c.method === "" ? DEFAULTS.method : c.method;
  if (typeof method !== "string" || !(METHODS as readonly string[]).includes(method)) bad("method", method);
  const direction = c.direction === undefined || c.direction === "" ? DEFAULTS.direction : c.direction;
  if (direction !== "above" && direction !== "below") bad("direction", direction);
  const sensitivity = c.sensitivity === undefined || c.sensitivity === "" ? DEFAULTS.sensitivity : c.sensitivity;
  if (typeof sensitivity !== "string" || !SENSITIVITIES.includes(sensitivity)) bad("sensitivity", sensitivity);
  const threshold = c.threshold === undefined || c.threshold === null || c.threshold === "" ? null : num(c.threshold, "threshold", -Infinity, Infinity);
  const options: PredictOptions = {
    method: method as Method,
    horizon: seconds(c.horizon, "horizon", DEFAULTS.horizon, false),
    halfLife: seconds(c.halfLife, "halfLife", DEFAULTS.halfLife, false),
    trendHalfLife: seconds(c.trendHalfLife, "trendHalfLife", DEFAULTS.trendHalfLife, false),
    damping: seconds(c.damping, "damping", DEFAULTS.damping, true),
    window: whole(c.window, "window", DEFAULTS.window, 10, 10000),
    threshold,
    direction: direction as Direction,
    warning: seconds(c.warning, "warning", DEFAULTS.warning, true),
    zThreshold: blank(c.zThreshold) ? DEFAULTS.zThreshold : num(c.zThreshold, "zThreshold", 2, 100),
    robust: flag(c.robust, DEFAULTS.robust),
    drift: flag(c.drift, DEFAULTS.drift),
    sensitivity: sensitivity as Sensitivity,
    warmup: whole(c.warmup, "warmup", DEFAULTS.warmup, 5, 10000),
    warmupTime: seconds(c.warmupTime, "warmupTime", DEFAULTS.warmupTime, true),
    levelShift: seconds(c.levelShift, "levelShift", DEFAULTS.levelShift, false),
    resolution: blank(c.resolution) ? DEFAULTS.resolution : num(c.resolution, "resolution", 0, Infinity),
  };
  if (options.resolution === 0) options.resolution = null;
  const b = bounds(c.bounds);
  if (b) options.bounds = b;
  const properties = list(c.properties, "properties");
  for (const p of properties) if (!isPropertyName(p)) bad("properties", p);
  const twinIds = list(c.twinIds, "twinIds");
  for (const g of twinIds) if (!ID_GLOB.test(g)) bad("twinIds", g);
  const step = blank(c.step) ? 0 : num(c.step, "step", 0, Infinity);
  const superseded: Superseded[] = [];
  if (options.sensitivity !== DEFAULTS.sensitivity) superseded.push({ option: "sensitivity", value: options.sensitivity });
  if (options.robust) superseded.push({ option: "robust", value: true });
  return { options, properties, twinIds, step, watch: flag(c.watch, false), superseded };
}

/** Options for the core alone: DEFAULTS with some replaced, checked the same way. */
export function predictOptions(partial: Partial<PredictOptions> = {}): PredictOptions {
  return readConfig({ ...partial } as Record<string, unknown>).options;
}

/** `{ min?, max? }` (numbers or numeric strings); none when both are missing. */
function bounds(v: unknown): Bounds | null {
  if (blank(v)) return null;
  if (typeof v !== "object" || Array.isArray(v)) bad("bounds", v);
  const o = v as Record<string, unknown>;
  const out: Bounds = {};
  if (!blank(o.min)) out.min = num(o.min, "bounds", -Infinity, Infinity);
  if (!blank(o.max)) out.max = num(o.max, "bounds", -Infinity, Infinity);
  if (out.min !== undefined && out.max !== undefined && out.min > out.max) bad("bounds", v);
  return out.min === undefined && out.max === undefined ? null : out;
}

function blank(v: unknown): boolean {
  return v === undefined || v === null || v === "";
}

function bad(option: string, value: unknown): never {
  throw new TwinError("invalid-option", { option, value: typeof value === "string" ? value.slice(0, 60) : showValue(value) });
}

function num(v: unknown, option: string, min: number, max: number): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) bad(option, v);
  return n;
}

function seconds(v: unknown, option: string, fallback: number, zeroAllowed: boolean): number {
  if (blank(v)) return fallback;
  const n = num(v, option, 0, MAX_SECONDS);
  if (n === 0 && !zeroAllowed) bad(option, v);
  return n;
}

function whole(v: unknown, option: string, fallback: number, min: number, max: number): number {
  if (blank(v)) return fallback;
  const n = num(v, option, min, max);
  if (!Number.isInteger(n)) bad(option, v);
  return n;
}

function flag(v: unknown, fallback: boolean): boolean {
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  return fallback;
}

function list(v: unknown, option: string): string[] {
  if (blank(v)) return [];
  const parts = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : null;
  if (!parts) bad(option, v);
  const out: string[] = [];
  for (const part of parts as unknown[]) {
    if (typeof part !== "string") bad(option, part);
    const item = (part as string).trim();
    if (item && !out.includes(item)) out.push(item);
  }
  return out;
}
