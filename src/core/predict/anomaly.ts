/**
 * Anomaly scoring: how far a reading lies from what the forecaster expected, in units of the
 * usual spread of that error, and the episode (hysteresis) that turns scores into a verdict.
 *
 * Guards against the failures real sensor data provokes:
 * - The baseline never learns from a reading it flags: the spread and centre skip it, and the
 *   forecaster is fed a clipped value, so a fault can not teach the model that it is normal.
 * - Quantised readings: the spread never goes below half the quantisation step, so a flat
 *   signal that moves by one step is not an infinite z-score. The step is the smallest change
 *   seen between two readings, or the resolution the readings are written in when that is
 *   finer (whole numbers: 1; 20.5: 0.1; 20.25: 0.01), which also covers a reading that has
 *   not moved yet.
 * - Robust option: the centre is the median of the latest residuals, and the spread their
 *   standard deviation once each is clipped to 3 MADs (x 1.4826) from the median: outliers up
 *   to half the window move neither, and the clipped deviation is nearly as steady as a plain
 *   one (a bare MAD scatters so much over 100 readings that z = 5 fires on clean data).
 * - Slow wander the forecaster follows with a lag makes the errors lean one way for a while,
 *   then the other. How far the errors' local mean (over a level half-life) usually strays,
 *   beyond what independent errors would give, is tracked: drift detection allows for it.
 */
import { median, medianAbsoluteDeviation } from "simple-statistics";
import { Json } from "../json";
import { Ring } from "./ring";
import { EwStats, alpha, numbers, roundSig } from "./smoothing";

/** The spread's estimate always averages at least about this many readings, however sparse the sampling. */
const MIN_READINGS = 30;
const A_MAX = 2 / (MIN_READINGS + 1);
/** MAD of a normal distribution is 0.6745 sigma. */
const MAD_TO_SD = 1.4826;
/** Robust spread: residuals are clipped this many MADs from the median... */
const CLIP_MADS = 3;
/** ...which takes 0.5 % off a normal distribution's variance: put back. */
const WINSOR_3 = 1 / Math.sqrt(0.995);
/** Share of the quantisation step below which the spread never goes. */
const STEP_FLOOR = 0.5;
/** Relative floor for a signal that never moved at all. */
const REL_FLOOR = 1e-6;

export interface BaselineSettings {
  /** Half-life of the spread's estimate, seconds. */
  halfLife: number;
  robust: boolean;
  window: number;
}

export class Baseline {
  private stats = new EwStats();
  /** Smallest non-zero change seen between two readings, 0 while there was none. */
  private change = 0;
  /** Finest decimal resolution the readings were written in (1 for whole numbers, 0.1 for 20.1...). */
  private digits = 0;
  private residuals: Ring | null;
  /**
   * Local mean of the standardised errors (over the level half-life), the EW mean of its square,
   * and what that square would be if the errors were independent: E' = (1 - a)^2 E + a^2.
   */
  private local = 0;
  private localSq = 0;
  private white = 0;

  constructor(private readonly s: BaselineSettings, private readonly levelHalfLife: number) {
    this.residuals = s.robust ? new Ring(s.window) : null;
  }

  /** The quantisation step as far as the readings tell (0 when they tell nothing). */
  get step(): number {
    return this.change > 0 && this.digits > 0 ? Math.min(this.change, this.digits) : this.change || this.digits;
  }

  /** Notes a reading and its change from the previous one (0 for the first). */
  observe(value: number, change: number): void {
    const r = resolution(value);
    if (this.digits === 0 || r < this.digits) this.digits = r;
    if (change === 0 || !Number.isFinite(change)) return;
    const d = roundSig(Math.abs(change), 9);
    if (this.change === 0 || d < this.change) this.change = d;
  }

  private robustReady(): boolean {
    return this.residuals !== null && this.residuals.length >= Math.min(MIN_READINGS, this.s.window);
  }

  /** The usual error of a one-step forecast, never below the quantisation floor. */
  sigma(level: number): number {
    const floor = Math.max(STEP_FLOOR * this.step, REL_FLOOR * Math.max(1, Math.abs(level)));
    const sd = this.robustReady() ? this.robust(floor).sd : Math.sqrt(this.stats.variance);
    return Number.isFinite(sd) ? Math.max(sd, floor) : floor;
  }

  /** The usual error's centre (a forecaster that lags a ramp errs on one side). */
  center(): number {
    if (this.robustReady()) return median((this.residuals as Ring).toArray());
    return this.stats.mean;
  }

  /** Median, and the deviation of the residuals clipped to CLIP_MADS robust deviations from it. */
  private robust(floor: number): { center: number; sd: number } {
    const r = (this.residuals as Ring).toArray();
    const center = median(r);
    const limit = CLIP_MADS * Math.max(MAD_TO_SD * medianAbsoluteDeviation(r), floor);
    let sum = 0;
    for (const x of r) {
      const d = Math.max(-limit, Math.min(limit, x - center));
      sum += d * d;
    }
    return { center, sd: WINSOR_3 * Math.sqrt(sum / r.length) };
  }

  /**
   * Learns a residual `u` (at one typical step) seen `dt` seconds after the previous reading;
   * `z` is its standardised form.
   */
  learn(u: number, z: number, dt: number): void {
    const a = Math.min(alpha(dt, this.s.halfLife), A_MAX);
    this.stats.add(u, a);
    this.residuals?.push(u);
    const b = Math.max(alpha(dt, this.levelHalfLife), 1 / this.stats.n);
    this.local += b * (Math.max(-4, Math.min(4, z)) - this.local);
    this.white = (1 - b) * (1 - b) * this.white + b * b;
    this.localSq += Math.max(a, 1 / this.stats.n) * (this.local * this.local - this.localSq);
  }

  /** A flagged reading: the robust window keeps its clipped residual (the EW statistics skip it). */
  learnClipped(u: number): void {
    this.residuals?.push(u);
  }

  /**
   * How far the errors' local mean usually strays beyond independent errors, in standard
   * deviations: a lean up to about twice this is the model's usual lag, not drift.
   */
  wander(): number {
    return Math.sqrt(Math.max(0, this.localSq - this.white));
  }

  /** Forgets the last `k` residuals of the window (a level shift they belonged to is now absorbed). */
  forget(k: number): void {
    this.residuals?.dropNewest(k);
  }

  toJSON(): Json {
    return { s: this.stats.toJSON(), q: [this.change, this.digits], w: [this.local, this.localSq, this.white], r: this.residuals ? this.residuals.toArray() : null };
  }

  static from(settings: BaselineSettings, levelHalfLife: number, json: unknown): Baseline {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("bad baseline state");
    const o = json as Record<string, unknown>;
    const b = new Baseline(settings, levelHalfLife);
    b.stats = EwStats.from(o.s);
    [b.change, b.digits] = numbers(o.q, 2, "baseline");
    [b.local, b.localSq, b.white] = numbers(o.w, 3, "baseline");
    if (settings.robust && Array.isArray(o.r)) b.residuals = Ring.of(settings.window, o.r);
    return b;
  }
}

/**
 * 10^-d for the fewest decimals d that write `x` (1 for 20, 0.1 for 20.1, 0.01 for 20.25), or
 * 1e-12 when `x` needs more digits than a double holds reliably (20.111111111111: no step).
 */
export function resolution(x: number): number {
  let scale = 1;
  for (let d = 0; d <= 12; d++, scale *= 10) {
    const y = x * scale;
    if (Math.abs(y) > 1e13) break;
    if (Math.abs(y - Math.round(y)) <= 1e-14 * Math.abs(y)) return 1 / scale;
  }
  return 1e-12;
}

/** Readings in a row with a score under EXIT that end an anomaly. */
export const CALM_READINGS = 3;
/** An anomaly ends only once scores fall under this share of the threshold (hysteresis). */
export const EXIT = 0.5;

/**
 * An anomaly episode: starts on a score of 1 or more (|z| at the threshold), ends after
 * CALM_READINGS readings in a row under EXIT. One start and one end per episode, however the
 * score flickers in between.
 */
export class Episode {
  active = false;
  since = 0;
  peak = 0;
  private calm = 0;

  step(score: number, ts: number): "start" | "end" | null {
    if (!this.active) {
      if (score < 1) return null;
      this.active = true;
      this.since = ts;
      this.peak = score;
      this.calm = 0;
      return "start";
    }
    this.peak = Math.max(this.peak, score);
    this.calm = score < EXIT ? this.calm + 1 : 0;
    if (this.calm < CALM_READINGS) return null;
    this.active = false;
    return "end";
  }

  toJSON(): Json {
    return [this.active ? 1 : 0, this.since, this.peak, this.calm];
  }

  static from(json: unknown): Episode {
    const [active, since, peak, calm] = numbers(json, 4, "episode");
    const e = new Episode();
    e.active = active === 1;
    e.since = since;
    e.peak = peak;
    e.calm = calm;
    return e;
  }
}
