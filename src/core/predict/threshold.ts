/**
 * Time to threshold: when the trend carries the property across a configured limit, and the
 * warning (with hysteresis) when that time falls under the warning horizon. `timeToThreshold` and
 * `Warning` work on a forecaster (the predictor before issue 12; delete them once nothing imports
 * them); `ThresholdTracker` keeps its own trend and serves every method.
 *
 * Interface against the plan (s20 common notes): as agreed, plus ThresholdOptions `period`
 * (cycle removed, s; null auto, 0 none), `trendHalfLife` (s; null auto) and `warmup` (readings),
 * THRESHOLD_DEFAULTS, the ThresholdAlert type, and on the tracker `warned` (a warning is on),
 * `cyclePeriod` (the period in use) and `trend()` (units per second, null while not significant).
 */
import { Json, JsonObject } from "../json";
import { Forecaster } from "./forecaster";
import { GAP_STEPS, numbers } from "./smoothing";

export type Direction = "above" | "below";

/**
 * Seconds until the forecast crosses `limit`: 0 when the level is already past it, null when
 * the trend points away, is not told apart from noise, or (damped) levels off before it.
 */
export function timeToThreshold(f: Forecaster, limit: number, direction: Direction): number | null {
  const above = direction === "above";
  const level = f.level();
  if (above ? level >= limit : level <= limit) return 0;
  if (!f.trendSignificant()) return null;
  const t = f.timeTo(limit, above);
  return t === null || !Number.isFinite(t) ? null : t;
}

/** A warning ends only when the time is this much over the horizon (or gone)... */
export const CLEAR_MARGIN = 1.25;
/** ...for this many readings in a row: a trend flickering in and out of significance warns once. */
export const CLEAR_READINGS = 10;

export class Warning {
  active = false;
  private calm = 0;

  step(time: number | null, horizon: number): "start" | "end" | null {
    if (!this.active) {
      if (time === null || time > horizon) return null;
      this.active = true;
      this.calm = 0;
      return "start";
    }
    const clear = time === null || time > horizon * CLEAR_MARGIN;
    this.calm = clear ? this.calm + 1 : 0;
    if (this.calm < CLEAR_READINGS) return null;
    this.active = false;
    return "end";
  }

  toJSON(): Json {
    return [this.active ? 1 : 0, this.calm];
  }

  static from(json: unknown): Warning {
    const [active, calm] = numbers(json, 2, "warning");
    const w = new Warning();
    w.active = active === 1;
    w.calm = calm;
    return w;
  }
}

// ---------------------------------------------------------------------------------------------
// ThresholdTracker: time to threshold for every forecast method, on its own slow trend.

/** Largest share of the data's span the trend's half-life may be: the fit follows what it has seen. */
const SPAN_SHARE = 1 / 3;
/** Most phase bins of a cycle. */
const MAX_BINS = 24;
/**
 * Periods of data before any estimate with a cycle (each bin then compares at least two visits).
 * Over one to two periods one line over all readings takes the cycle's flank for a trend; a guard
 * on its residuals' lag-1 autocorrelation (over 0.5: a cycle not yet removed) let it through on a
 * noisy sensor, where one reading's noise pulls that autocorrelation down: wear of 0.5 % a day,
 * a daily cycle of 2 and noise of 1 warned "within 24 h" on day 2 in 6 of 8 phases, the crossing
 * 50 days away (read every 10 s to 5 min). A signal with a cycle gets its first estimate a period
 * later, after two days.
 */
const CYCLE_PERIODS = 2;
/** A reading teaches the trend at most this many residual deviations from the line (robust). */
const CLIP_SD = 4;
/** A trend counts once it is this many (autocorrelation-corrected) standard errors from zero. */
const T_SIG = 3;
/** A bin takes part in the crossing once it holds this share of an even share of the weight. */
const BIN_SHARE = 0.25;
/** Weight of a new interval in the typical interval. */
const TYPICAL_W = 0.1;
/**
 * A warning ends once the time is over WARN_CLEAR x the warning (or gone) for WARN_CALM readings
 * and WARN_CALM_SHARE x the warning, and, with a cycle, while a crossing is still foreseen and the
 * trend's line still points at the limit, for a period (at most the warning and a day): the crossing is timed at a cycle's
 * peak, so the time jumps by a whole period when a peak passes just under the limit. Held for a
 * tenth of a 24 h warning only, wear with daily peaks varying by 0.5 warned 2 or 3 times for one
 * approach in 5 of 20 recordings (read every 60 or 600 s). Held for a period whatever the line
 * did, a warning outlived a repair by a day (60 s readings, 24 h warning) or 80 days (readings
 * every 12 h, a yearly cycle, a 60-day warning); held while the line still rose but no crossing
 * was foreseen, one ended 32-45 h after a signal turned back 3 units under its limit (25-38 h now,
 * 24 h with no hold at all).
 */
const WARN_CLEAR = 1.5;
const WARN_CALM = 10;
const WARN_CALM_SHARE = 0.1;
const DAY = 86400;
/**
 * Readings up to this far apart (3.5 a day, 6.9 h) have a daily cycle removed; further apart, a yearly one.
 * At 2 h, readings 3 to 12 h apart (a battery sensor, a daily round) got a yearly cycle, hence no
 * estimate for a year: wear of 1 % a day was first reported 1.2 days after it crossed, at 4 h.
 */
const DAY_READINGS_APART = DAY / 3.5;
const YEAR = 365.2425 * DAY;
/**
 * Readings in a row past the limit that say it is crossed during the warm-up: one was, and a
 * signal 2 sd under its limit (78 +- 1, limit 80) warned in the first 20 readings in 19 of 50
 * recordings (in none after), a single glitch on a new deployment or a changed limit too.
 */
const WARM_PAST = 3;
const TRACKER_VERSION = 1;
/** Sums per bin: weight, weight^2, t, y, t^2, t y, y^2, t^3, t^4, t^2 y. */
const SUMS = 10;

export interface ThresholdOptions {
  limit: number;
  direction: Direction;
  /** Seconds: warn when the crossing is nearer than this; 0 for no warning. */
  warning: number;
  /**
   * Seconds of the cycle removed before extrapolating (the crossing uses the cycle's own
   * levels, so its peak); null (default): 1 day for readings up to 6.9 h apart, 1 year for
   * readings up to 100 days apart (monthly, quarterly), none beyond; 0: none.
   */
  period?: number | null;
  /**
   * Half-life of the trend's fit, seconds; null (default): one period, or without a cycle a day
   * (at least 20 typical intervals); never more than a third of the data's span, so a young
   * series gets estimates from what it has.
   */
  trendHalfLife?: number | null;
  /** Readings before any estimate. */
  warmup?: number;
}

/**
 * Why these defaults (test/core/predict-threshold.test.js: synthetic wear with a daily cycle, a
 * clean ramp, and the real series): a daily cycle is the common one in plant data (ambient
 * temperature, load); a fit over one period's half-life compares each phase with itself over
 * days and still follows wear that changes over days; 20 readings before the first estimate,
 * like the detector's warm-up.
 */
export const THRESHOLD_DEFAULTS = Object.freeze({ period: null as number | null, trendHalfLife: null as number | null, warmup: 20 });

/** Seconds until level + b t + q t^2 reaches `limit` above it (q 0 or more), or null when it never does. */
function reach(level: number, b: number, q: number, limit: number): number | null {
  const gap = limit - level;
  if (gap <= 0) return 0;
  if (q > 0) return (2 * gap) / (b + Math.sqrt(b * b + 4 * q * gap));
  return b > 0 ? gap / b : null;
}

/** A fit at the latest reading: level a and slope b (per s) of the one line, its error, and each bin's level (NaN: too little weight) once binned. */
interface Fit {
  a: number;
  b: number;
  /** Curvature (per s^2) of the parabola in use, 0 for the straight line. */
  q: number;
  /**
   * The straight line's slope (b is the parabola's now, when one is in use). A bend counts only
   * while both point toward the limit: a signal settling away from it (70 + 25 e^(-t / 12 h),
   * limit 100) bends up as it flattens, and a part replaced (wear, then a step down and flat)
   * leaves a bend over the step in the fit's window; both were forecast to turn round and cross
   * (a 3-day warning on the settling signal at 24 h; a second 7-day warning 5 days after the
   * replacement, on a flat signal).
   */
  line: number;
  se: number;
  levels: Float64Array | null;
}

export type ThresholdAlert = { type: "threshold"; state: "start" | "end"; ts: number; value: number; limit: number; direction: Direction; timeToThreshold: number | null };

/**
 * Time until a limit is crossed, from a robust, exponentially weighted fit of a straight trend
 * with one level per phase bin of the cycle (up to 24 bins a period):
 *
 * - The slope is shared and comes from each bin compared with itself over time (the within-bin
 *   regression), so the cycle never leaks into it; each bin's own level now is the cycle's shape,
 *   and the crossing is the first time a bin's line reaches the limit while the clock is in that
 *   bin: the daily peak crosses first, as it does on the plant.
 * - No estimate before the data span two periods (each bin then compares two visits, see
 *   CYCLE_PERIODS): less can not tell a cycle's slope from a trend (`period: 0` for a signal known
 *   to have no cycle gives estimates from the warm-up on). Until then the fit is one line over
 *   all readings, which says only whether the level is past the limit.
 * - Weighted sums over time (the half-life above), so a reading costs O(bins) however long the
 *   series; each reading clipped to 4 residual deviations from the fit, so a spike or a fault
 *   step moves it little.
 * - Significance: the slope must be 3 standard errors from zero, the error widened by the
 *   residuals' lag-1 autocorrelation: a wandering level or an unremoved cycle makes residuals
 *   lean for long stretches, and the slope untrustworthy (null); white noise around slow wear
 *   does not, so slow wear (far below the noise per step) counts once enough readings show it.
 * - 0 once the fit's level now (this phase's level, with a cycle) is past the limit, and during
 *   the warm-up once 3 readings in a row are (see WARM_PAST): one noisy reading over it is not a
 *   crossing, and would restart the warning at every daily peak. Null when the trend is not
 *   significant or points away (a bend toward the limit counts only while the slope points there
 *   too, see Fit.line).
 * - The warning starts when the time falls to `warning` or less and ends only once the time has
 *   been over 1.5 x the warning (or null) for 10 readings, a tenth of the warning and, with a
 *   cycle, a period (at most the warning; see WARN_CLEAR): a trend that flickers in and out of
 *   significance, or a crossing that moves by a day as a daily peak passes just under the limit,
 *   warns once per approach.
 */
export class ThresholdTracker {
  private readonly o: Required<ThresholdOptions>;
  /** +1 for above, -1 for below: the fit runs on sign x value, always toward a limit above. */
  private readonly sign: number;
  private n = 0;
  private t0 = 0;
  private lastTs: number | null = null;
  private typical: number | null = null;
  /**
   * Seconds the readings cover, a gap counted as GAP_STEPS typical intervals: whether they span a
   * period (any estimate) or two (one level per bin) is told by these, not by the time since the
   * first reading. Counted from it, a week's downtime after 11 hours of readings made them span
   * two daily periods, each bin's two visits a week apart gave a slope, and a signal swinging +-2
   * around 60 warned it would reach 70 within 20 minutes. The fit's own time stays the clock's:
   * wear that went on through a downtime is a trend, not a jump (with the gap counted short, the
   * time to threshold after a 48 h downtime on steady wear was off by 71 % instead of 29 %).
   */
  private covered = 0;
  /** Origin of the values (the first reading), so the sums stay small. */
  private y0 = 0;
  /** The cycle period (s, 0 none; -1 until chosen) and the bins' weighted sums, time from now. */
  private period = -1;
  private sums: number[] = new Array(SUMS).fill(0);
  /** EW residual moments for the autocorrelation: mean r^2, mean r x previous r, previous r. */
  private r2 = 0;
  private rr = 0;
  private prevR = 0;
  private active = false;
  /** Readings in a row past the limit (at most WARM_PAST: more says nothing more); saved with the limit. */
  private past = 0;
  private calm = 0;
  private calmSince = 0;
  /** The fit after the latest reading (derived from the sums: not in the state). */
  private cur: Fit | null = null;

  constructor(options: ThresholdOptions) {
    const o = { ...THRESHOLD_DEFAULTS, ...options } as Required<ThresholdOptions>;
    if (options.period === undefined) o.period = null;
    if (options.trendHalfLife === undefined) o.trendHalfLife = null;
    if (options.warmup === undefined) o.warmup = THRESHOLD_DEFAULTS.warmup;
    if (!Number.isFinite(o.limit)) throw new RangeError("limit must be a finite number");
    if (o.direction !== "above" && o.direction !== "below") throw new RangeError("direction is above or below");
    if (!(o.warning >= 0)) throw new RangeError("warning must be 0 or more seconds");
    if (o.period !== null && !(o.period >= 0)) throw new RangeError("period must be null or 0 or more seconds");
    if (o.trendHalfLife !== null && !(o.trendHalfLife > 0)) throw new RangeError("trendHalfLife must be null or above 0");
    if (!(o.warmup >= 3)) throw new RangeError("warmup must be at least 3 readings");
    this.o = o;
    this.sign = o.direction === "above" ? 1 : -1;
  }

  get warned(): boolean {
    return this.active;
  }

  /** Ends a warning under way without an alert (the caller says it ended); true if one was on. */
  endWarning(): boolean {
    const was = this.active;
    this.active = false;
    this.calm = 0;
    return was;
  }

  /** The cycle period in use (s; 0 none), or null while not chosen yet. */
  get cyclePeriod(): number | null {
    return this.period < 0 ? null : this.period;
  }

  private get bins(): number {
    return this.sums.length / SUMS;
  }

  update(ts: number, value: number): { timeToThreshold: number | null; alerts: ThresholdAlert[] } {
    if (!Number.isFinite(ts) || !Number.isFinite(value)) throw new RangeError("a reading needs a finite time and value");
    const alerts: ThresholdAlert[] = [];
    if (this.lastTs !== null && ts <= this.lastTs) return { timeToThreshold: null, alerts };
    const x = this.sign * value;
    const first = this.lastTs === null;
    const dt = first ? 0 : (ts - (this.lastTs as number)) / 1000;
    if (first) {
      this.t0 = ts;
      this.y0 = x;
    } else {
      const typical = this.typical ?? dt;
      this.covered += Math.min(dt, GAP_STEPS * typical);
      const clamped = Math.min(10 * typical, Math.max(typical / 10, dt));
      this.typical = this.typical === null ? dt : Math.exp(Math.log(this.typical) + TYPICAL_W * (Math.log(clamped) - Math.log(this.typical)));
    }
    if (this.period < 0 && this.typical !== null && this.n >= 10) this.choosePeriod();
    const span = (ts - this.t0) / 1000;
    const h = this.halfLife(span);

    // Time is measured from now: move every bin's origin by dt, and let the old readings fade.
    if (!first) {
      const k = Math.exp((-dt * Math.LN2) / h);
      const S = this.sums;
      const d2 = dt * dt;
      const d3 = d2 * dt;
      for (let i = 0; i < S.length; i += SUMS) {
        const w = S[i];
        const t1 = S[i + 2];
        const t2 = S[i + 4];
        const t3 = S[i + 7];
        const y = S[i + 3];
        const ty = S[i + 5];
        S[i + 8] = (S[i + 8] - 4 * dt * t3 + 6 * d2 * t2 - 4 * d3 * t1 + d3 * dt * w) * k;
        S[i + 7] = (t3 - 3 * dt * t2 + 3 * d2 * t1 - d3 * w) * k;
        S[i + 9] = (S[i + 9] - 2 * dt * ty + d2 * y) * k;
        S[i + 4] = (t2 - 2 * dt * t1 + d2 * w) * k;
        S[i + 5] = (ty - dt * y) * k;
        S[i + 2] = (t1 - dt * w) * k;
        S[i] = w * k;
        S[i + 1] *= k * k;
        S[i + 3] = y * k;
        S[i + 6] *= k;
      }
    }
    const bin = this.bin(ts);
    let y = x - this.y0;
    // The fit before this reading: the last one moved to now (a uniform fade leaves a weighted fit as it is).
    const f = this.cur;
    if (f) {
      const level = f.levels === null ? f.a : f.levels[bin];
      const at = level + f.b * dt + f.q * dt * dt;
      if (Number.isFinite(at)) {
        const sd = Math.sqrt(this.r2);
        if (this.n >= this.o.warmup && sd > 0) y = at + Math.max(-CLIP_SD * sd, Math.min(CLIP_SD * sd, y - at));
        const r = y - at;
        const aw = Math.max(1 / this.n, 1 - Math.exp((-Math.max(dt, 1e-9) * Math.LN2) / h));
        this.r2 += aw * (r * r - this.r2);
        this.rr += aw * (r * this.prevR - this.rr);
        this.prevR = r;
      }
    }
    this.past = x >= this.sign * this.o.limit ? Math.min(WARM_PAST, this.past + 1) : 0;
    const S = this.sums;
    const i = bin * SUMS;
    S[i] += 1;
    S[i + 1] += 1;
    S[i + 3] += y;
    S[i + 6] += y * y;
    this.n++;
    this.lastTs = ts;
    this.cur = this.fit(this.covered);

    const ttt = this.estimate(ts, x, this.covered);
    if (this.o.warning > 0) {
      const change = this.warn(ttt, ts);
      if (change) alerts.push({ type: "threshold", state: change, ts, value, limit: this.o.limit, direction: this.o.direction, timeToThreshold: ttt });
    }
    return { timeToThreshold: ttt, alerts };
  }

  /** The trend in units per second, or null while there is no significant one. */
  trend(): number | null {
    if (this.n < this.o.warmup) return null;
    const f = this.cur;
    return f && Math.abs(f.b) >= T_SIG * f.se ? this.sign * f.b : null;
  }

  private choosePeriod(): void {
    const typical = this.typical as number;
    const p = this.o.period ?? (typical <= DAY_READINGS_APART ? DAY : typical <= 100 * DAY ? YEAR : 0);
    this.period = p > 0 && p >= 3.5 * typical ? p : 0;
    const B = this.period > 0 ? Math.max(2, Math.min(MAX_BINS, Math.round(this.period / typical))) : 1;
    // The readings so far were all summed in bin 0: spread them evenly (the one-line fit is the same).
    const old = this.sums;
    this.sums = new Array(B * SUMS).fill(0);
    for (let b = 0; b < B; b++) for (let k = 0; k < SUMS; k++) this.sums[b * SUMS + k] = old[k] / B;
  }

  private halfLife(span: number): number {
    const typical = this.typical ?? 0;
    const base = this.o.trendHalfLife ?? (this.period > 0 ? this.period : Math.max(DAY, 20 * typical));
    return Math.max(Math.min(base, span * SPAN_SHARE), typical, 1e-3);
  }

  private bin(ts: number): number {
    if (this.period <= 0) return 0;
    // Bins centred on b / B (not starting there): readings stamped at the start of each month
    // fall one to a bin although months differ in length.
    const phase = (((ts / 1000) % this.period) + this.period) % this.period / this.period;
    return Math.round(phase * this.bins) % this.bins;
  }

  /**
   * The fit now (t = 0): slope b per second and its standard error; one line (level a) until the
   * data span CYCLE_PERIODS periods, then one level per bin (null for a bin with too little weight).
   */
  private fit(span: number): Fit | null {
    const S = this.sums;
    const B = this.bins;
    const binned = B > 1 && span >= CYCLE_PERIODS * this.period;
    let W = 0, W2 = 0;
    // Centred moments (within each bin once binned): t t, t y, y y, t t^2, t^2 t^2, t^2 y.
    let cxx = 0, cxy = 0, cyy = 0, cx2 = 0, c22 = 0, c2y = 0;
    let St = 0, Sy = 0, Stt = 0, Sty = 0, Syy = 0, S3 = 0, S4 = 0, S2y = 0;
    for (let i = 0; i < S.length; i += SUMS) {
      const w = S[i];
      W += w;
      W2 += S[i + 1];
      if (binned) {
        if (!(w > 0)) continue;
        const t = S[i + 2], y = S[i + 3], tt = S[i + 4];
        cxx += tt - (t * t) / w;
        cxy += S[i + 5] - (t * y) / w;
        cyy += S[i + 6] - (y * y) / w;
        cx2 += S[i + 7] - (t * tt) / w;
        c22 += S[i + 8] - (tt * tt) / w;
        c2y += S[i + 9] - (tt * y) / w;
      } else {
        St += S[i + 2];
        Sy += S[i + 3];
        Stt += S[i + 4];
        Sty += S[i + 5];
        Syy += S[i + 6];
        S3 += S[i + 7];
        S4 += S[i + 8];
        S2y += S[i + 9];
      }
    }
    if (!(W > 0)) return null;
    if (!binned) {
      cxx = Stt - (St * St) / W;
      cxy = Sty - (St * Sy) / W;
      cyy = Syy - (Sy * Sy) / W;
      cx2 = S3 - (St * Stt) / W;
      c22 = S4 - (Stt * Stt) / W;
      c2y = S2y - (Stt * Sy) / W;
    }
    const groups = binned ? B : 1;
    const nEff = (W * W) / W2;
    const rho = this.r2 > 0 ? Math.max(0, Math.min(0.995, this.rr / this.r2)) : 0;
    const lean = (1 + rho) / (1 - rho);
    // The straight line.
    const b = cxx > 0 ? cxy / cxx : 0;
    const sse = Math.max(0, cyy - b * cxy);
    const dof = nEff - groups - 1;
    const se = cxx > 0 && dof > 0 ? Math.sqrt((sse / (dof * cxx)) * lean) : Infinity;
    // The parabola: used when its curvature bends toward the limit beyond T_SIG standard errors.
    const det = cxx * c22 - cx2 * cx2;
    let slope = b;
    let q = 0;
    if (det > 0 && dof > 1) {
      const bq = (cxy * c22 - c2y * cx2) / det;
      const qq = (c2y * cxx - cxy * cx2) / det;
      const sseQ = Math.max(0, cyy - bq * cxy - qq * c2y);
      const seQ = Math.sqrt((sseQ / ((dof - 1) * det)) * cxx * lean);
      if (qq > 0 && qq >= T_SIG * seQ) {
        slope = bq;
        q = qq;
      }
    }
    if (!binned) return { a: (Sy - slope * St - q * Stt) / W, b: slope, q, line: b, se, levels: null };
    const levels = new Float64Array(B);
    const least = (BIN_SHARE * W) / B;
    for (let i = 0, k = 0; i < S.length; i += SUMS, k++) {
      const w = S[i];
      levels[k] = w >= least ? (S[i + 3] - slope * S[i + 2] - q * S[i + 4]) / w : NaN;
    }
    return { a: NaN, b: slope, q, line: b, se, levels };
  }

  private estimate(ts: number, x: number, span: number): number | null {
    const limit = this.sign * this.o.limit - this.y0;
    // Before the fit is warm, a run of readings past the limit (see WARM_PAST), not one glitch.
    if (this.n < this.o.warmup) return this.past >= WARM_PAST ? 0 : null;
    const f = this.cur;
    // Past the limit is the fit's level now (this bin's, with a cycle), not one noisy reading.
    if (f) {
      const level = f.levels === null ? f.a : f.levels[this.bin(ts)];
      if (level >= limit) return 0;
    }
    // Less than CYCLE_PERIODS periods can not tell a cycle's slope from a trend (see CYCLE_PERIODS).
    if (this.period > 0 && span < CYCLE_PERIODS * this.period) return null;
    if (!f) return null;
    // A significant bend toward the limit (wear that accelerates) counts even before the slope does,
    // but not while the trend points away (see Fit.line).
    if (f.q === 0 && (!(f.b > 0) || !(f.b >= T_SIG * f.se))) return null;
    if (f.q > 0 && !(f.b > 0 && f.line > 0)) return null;
    if (f.levels === null) {
      const t = reach(f.a, f.b, f.q, limit);
      return t === null ? null : Math.round(t);
    }
    // Each bin's line reaches the limit at tau0; it crosses when the clock is next in that bin.
    const B = this.bins;
    const now = ts / 1000;
    const P = this.period;
    const start = now / P;
    let best = Infinity;
    for (let b = 0; b < B; b++) {
      const level = f.levels[b];
      if (!(level === level)) continue; // NaN: a bin with too little weight
      const reached = reach(level, f.b, f.q, limit);
      if (reached === null || reached >= best) continue;
      const tau0 = reached;
      let phase = start + tau0 / P;
      phase -= Math.floor(phase);
      const at = Math.round(phase * B);
      let wait = 0;
      if ((at === B ? 0 : at) !== b) {
        wait = (b - 0.5) / B - phase;
        wait = (wait - Math.floor(wait)) * P;
      }
      if (tau0 + wait < best) best = tau0 + wait;
    }
    return Number.isFinite(best) ? Math.round(best) : null;
  }

  private warn(ttt: number | null, ts: number): "start" | "end" | null {
    const warning = this.o.warning;
    if (!this.active) {
      if (ttt === null || ttt > warning) return null;
      this.active = true;
      this.calm = 0;
      return "start";
    }
    if (ttt === null || ttt > WARN_CLEAR * warning) {
      if (this.calm === 0) this.calmSince = ts;
      this.calm++;
    } else this.calm = 0;
    // The cycle's hold only while a crossing is still foreseen and the line still points at the
    // limit: after a repair or a turn the warning ends as before.
    const toward = ttt !== null && this.cur !== null && this.cur.line > 0;
    const hold = Math.max(WARN_CALM_SHARE * warning, toward ? Math.min(this.period > 0 ? this.period : 0, warning, DAY) : 0);
    if (this.calm < WARN_CALM || (ts - this.calmSince) / 1000 < hold) return null;
    this.active = false;
    this.calm = 0;
    return "end";
  }

  toJSON(): JsonObject {
    return {
      v: TRACKER_VERSION,
      n: this.n,
      t0: this.t0,
      t: this.lastTs,
      dt: this.typical,
      y0: this.y0,
      p: this.period,
      s: this.sums.slice(),
      r: [this.r2, this.rr, this.prevR],
      warn: [this.active ? 1 : 0, this.calm, this.calmSince],
      cv: this.covered,
      past: [this.past, this.o.limit],
    };
  }

  /** A tracker continuing from `json` (from toJSON); throws on anything else. */
  static from(options: ThresholdOptions, json: unknown): ThresholdTracker {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("bad threshold state");
    const s = json as Record<string, unknown>;
    if (s.v !== TRACKER_VERSION) throw new Error("bad threshold state version");
    const tr = new ThresholdTracker(options);
    [tr.n, tr.t0, tr.y0, tr.period] = numbers([s.n, s.t0, s.y0, s.p], 4, "threshold");
    if (!Number.isInteger(tr.n) || tr.n < 0) throw new Error("bad threshold state");
    tr.lastTs = s.t === null ? null : numbers([s.t], 1, "threshold")[0];
    tr.typical = s.dt === null ? null : numbers([s.dt], 1, "threshold")[0];
    if (tr.n > 0 && tr.lastTs === null) throw new Error("bad threshold state");
    const sums = s.s;
    if (!Array.isArray(sums) || sums.length === 0 || sums.length % SUMS !== 0 || sums.length > MAX_BINS * SUMS) throw new Error("bad threshold state");
    tr.sums = numbers(sums, sums.length, "threshold").slice();
    if (tr.period > 0 && tr.bins < 2) throw new Error("bad threshold state");
    [tr.r2, tr.rr, tr.prevR] = numbers(s.r, 3, "threshold");
    const [active, calm, calmSince] = numbers(s.warn, 3, "threshold");
    tr.active = active === 1;
    tr.calm = calm;
    tr.calmSince = calmSince;
    // A state saved before gaps were told apart: its readings cover all the time since the first.
    const covered = s.cv === undefined ? (tr.lastTs === null ? 0 : (tr.lastTs - tr.t0) / 1000) : numbers([s.cv], 1, "threshold")[0];
    // No more than the time since the first reading (a sum of intervals may pass it by a rounding).
    if (!(covered >= 0) || (tr.lastTs !== null && covered > ((tr.lastTs - tr.t0) / 1000) * (1 + 1e-9) + 1e-6)) throw new Error("bad threshold state");
    tr.covered = covered;
    // A state saved before the run was counted: none; nor one counted against another limit.
    const [past, limit] = s.past === undefined ? [0, options.limit] : numbers(s.past, 2, "threshold");
    if (!Number.isInteger(past) || past < 0 || past > WARM_PAST) throw new Error("bad threshold state");
    tr.past = limit === options.limit ? past : 0;
    tr.cur = tr.lastTs === null ? null : tr.fit(tr.covered);
    return tr;
  }
}
