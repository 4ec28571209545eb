/**
 * What the predictor asks of a forecasting method. Times are seconds, except the reading
 * timestamps (epoch ms); variances are in the squared unit of the property.
 */
import { Json } from "../json";

/** `auto` chooses among cheap candidates by their own settled forecasts (candidates.ts, scorer.ts). */
export type Method = "auto" | "ewma" | "holt" | "linear";
export const METHODS: readonly Method[] = ["auto", "ewma", "holt", "linear"];

export interface Forecaster {
  readonly method: Exclude<Method, "auto">;
  /** Readings taken in. */
  readonly count: number;
  /**
   * Takes a reading `dt` seconds after the previous one (0 for the first) at time `ts`; `value`
   * is clipped for a flagged reading, `actual` is what was read.
   */
  update(dt: number, value: number, ts: number, actual?: number): void;
  /** The reading expected `dt` seconds after the last one. */
  expect(dt: number): number;
  /**
   * Variance of a reading `dt` seconds ahead, given `sigma2`, the variance of a reading one
   * typical interval ahead: equal to it at `dt = typical`, wider for gaps and long horizons.
   */
  variance(dt: number, typical: number, sigma2: number): number;
  /** The smoothed value now. */
  level(): number;
  /** Trend in units per second, or null when the method has none. */
  trend(): number | null;
  /**
   * How much more the level's error varies now than it usually does, in units of the reading
   * noise's variance (0 normally; more after a heavily weighted reading, such as after a pause).
   */
  levelExcess(typical: number): number;
  /** Whether the trend stands out from its own noise (TREND_T standard errors). */
  trendSignificant(): boolean;
  /** Seconds until the forecast reaches `limit` coming from below (`above`) or above, or null when it never does. */
  timeTo(limit: number, above: boolean): number | null;
  /** Takes a reading after a long gap: starts the level again from it, keeping what still holds (a trend). */
  restart(dt: number, value: number, ts: number): void;
  /** A level shift confirmed by the drift detector: the level is now `level`, reached `since` readings ago. */
  relevel(level: number, since: number): void;
  toJSON(): Json;
}

/**
 * A trend counts (for time to threshold) once it is this many standard errors from zero. Three,
 * not two: the test is repeated at every reading, and a limit a day away is a long extrapolation.
 */
export const TREND_T = 3;

/** Seconds for a straight line from `from` at slope `slope` to reach `limit` in the asked direction, or null. */
export function lineTime(from: number, slope: number, limit: number, above: boolean): number | null {
  if (above ? from >= limit : from <= limit) return 0;
  if (above ? !(slope > 0) : !(slope < 0)) return null;
  return (limit - from) / slope;
}
