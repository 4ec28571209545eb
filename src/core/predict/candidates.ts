/**
 * The cheap forecasters `auto` chooses from. Each is O(1) per reading (the seasonal profile
 * touches two of its bins) and sets its half-lives in units of the series' own typical interval,
 * so the same candidate fits a 10 s sensor and a monthly series:
 * - persistence: the last reading (what a forecast must beat);
 * - ewma: an exponentially weighted level, half-life LEVEL_STEPS typical intervals or an eighth
 *   of the horizon, whichever is longer;
 * - holt: level and trend (trend half-life TREND_STEPS intervals or the horizon if longer), the
 *   trend's influence ahead damped with a half-life of the horizon, so a trend carries at most
 *   1/ln2 horizons' worth;
 * - line, in holt's place where the horizon spans many readings (a sensor's, see LINE_SHARE): a
 *   straight line fitted to the readings by exponentially weighted least squares, its slope
 *   carried the whole horizon (see LINE_SHARE);
 * - seasonal: holt's level and damped trend on the readings less a periodic profile (a day for
 *   a series read at least hourly, a year for one read at most every ~3 months apart), the
 *   profile in at most PROFILE_BINS bins, interpolated between bin centres, learnt against a
 *   level over half a period (against the fast level, the profile would learn nothing: the level
 *   follows the cycle); eligible once the series covers two periods.
 *
 * Candidates other than persistence learn what `update` is given to learn (the predictor clips a
 * flagged reading, see predictor.ts); persistence is always the reading.
 */
import { Json } from "../json";
import { alpha, keep, numbers } from "./smoothing";

/** Level half-life of the smoothed candidates, in typical intervals: fast enough to follow, long enough to halve the noise. */
export const LEVEL_STEPS = 2;
/**
 * Trend half-life in typical intervals, and at least the horizon: a rate needs a longer look than
 * a level, and a rate carried an hour ahead needs an hour's look (on a 10 s sensor, a slope over
 * 100 s of noise carried 1 h ahead made holt three times worse than persistence).
 */
export const TREND_STEPS = 10;
/**
 * The line's weights halve every LINE_SHARE horizons, so its slope rests on about the last half
 * horizon of readings; it stands in for holt while that half-life holds TREND_STEPS readings or
 * more (a sensor read every 90 s or faster, forecast 1 h ahead).
 *
 * Holt's level follows the readings within LEVEL_STEPS intervals, so with many readings per
 * horizon it carries their noise into every forecast, and a trend fitted to that level over the
 * horizon is slow to bend. A line over the last part of the horizon averages the noise out of the
 * level and bends within it.
 *
 * Field-shaped recordings without faults (a daily cycle, a slow walk, reading noise, quantisation;
 * 8 seeds x 3 devices, temperature and humidity, read every 5, 20 or 30 s for 12 h; a throwaway
 * harness), 1 h MAE over persistence's of the candidate alone: holt 0.78-0.83, the line
 * 0.67-0.75. With faults, auto at defaults (flagged readings clipped, CLIP_THRESHOLDS in
 * predictor.ts), pooled, temperature / humidity: every 5, 10, 20, 30 s 0.950, 0.945, 0.960, 0.951
 * / 0.939, 0.925, 0.938, 0.966 with holt; 0.903, 0.900, 0.946, 0.936 / 0.873, 0.884, 0.889, 0.945
 * with the line; recordings above persistence 7 / 20 of 96 -> 5 / 11. A noisy ramp read every
 * 10 s (test/core/predict-sensor-auto.test.js): 0.71-0.97 -> 0.54-0.63. The simulator
 * (bench/prediction-quality.js): temperature 0.632 -> 0.572, vibration 0.718 -> 0.745 (the line
 * is taken after its step on day 5 and overshoots it for a while). Half-lives of 0.15 to 0.35
 * horizons gave the same figures within 0.02; shorter bends faster but lets more noise into the
 * slope (on a 6 h cycle forecast 1 h ahead without noise, the line alone is 0.76 of persistence
 * at 0.1 and 1.13 at 0.25; holt did no better there, and auto stays at persistence).
 *
 * With fewer readings per horizon (the real monthly, yearly and daily series, a 10-min series
 * forecast 1 h ahead) a line over a quarter of the horizon fits a slope to a handful of readings:
 * in holt's place there, monthly sunspots went 0.972 -> 1.002 of persistence and UK gas at a
 * year 1.0009 -> 1.0029, so there holt stays, and those series are as before.
 *
 * The line's slope is carried the whole horizon, not damped as holt's is (with a half-life of
 * the horizon, a trend carries 72 % of it). The line rests on the last half horizon of readings
 * and bends within it, and the blend's weight, fitted to the line's own settled forecasts,
 * already shrinks it where the trends turn. Damped as well, a
 * steady ramp was forecast short by a constant 28 %: an energy meter rising 500 Wh an hour, read
 * every 10 s, was forecast 360 Wh ahead, for good (MAE 0.29 of persistence's; now 0.08,
 * test/core/predict-sensor-auto.test.js). What it costs where the trends turn: field-shaped
 * temperature and humidity (a daily cycle, a 15-45 min heating cycle, a slow walk, noise,
 * quantisation, faults; 16 seeds x 3 devices, 12 h, a throwaway harness), pooled 1 h MAE over
 * persistence's at 10 and 30 s: temperature 0.911 -> 0.913 and 0.901 -> 0.900, humidity 0.956
 * -> 0.959 and 0.956 -> 0.958; the simulator (bench/prediction-quality.js) temperature 0.572 ->
 * 0.563, vibration 0.745 -> 0.753; random walks read every 10 s for 8 h (--null 100) 1.0026 ->
 * 1.0023. The real series keep holt and are as they were. Letting the blend's weight rise to
 * 1 / 0.72 instead, the line still damped, gave the same figures within 0.002 and moved the
 * slower series too.
 */
export const LINE_SHARE = 0.25;
/**
 * The ewma candidate's half-life is at least the horizon over this: a reading every 10 s
 * forecast 1 h ahead is better served by a level over 7.5 min than over 20 s (simulator: MAE
 * 0.72-0.74 of persistence's instead of 0.78-0.81); for slower series LEVEL_STEPS rules.
 */
const HORIZON_SHARE = 8;
/** The seasonal profile's bins at most: 30-minute bins for a day, 12 for a monthly year; its memory. */
export const PROFILE_BINS = 48;
/** A period needs at least this many readings per period to be a profile worth keeping. */
const MIN_BINS = 4;
/** A bin's value has a half-life of this many periods. */
const PROFILE_PERIODS = 2;
const COUNT_CAP = 1e5;
const DAY = 86400;
const YEAR = 365.25 * DAY;

export type CandidateName = "persistence" | "ewma" | "holt" | "line" | "seasonal";

/** The period a series read every `typical` seconds has: a day, a year, or none. */
export function periodFor(typical: number): number | null {
  if (!(typical > 0)) return null;
  if (typical <= 3600) return DAY;
  // Quarterly readings give four bins a year (a little under or over four by the months' lengths).
  if (YEAR / typical >= MIN_BINS - 0.5) return YEAR;
  return null;
}

/** Holt's level and damped trend, time-aware, with half-lives from the typical interval. */
class LevelTrend {
  L = 0;
  b = 0;
  n = 0;

  /** Takes `y` after `dt` s with the level's half-life `hl` and the trend's `trendHl` (0: no trend). */
  update(dt: number, y: number, hl: number, trendHl: number, damping: number): void {
    const trend = trendHl > 0;
    this.n++;
    if (this.n === 1) {
      this.L = y;
      return;
    }
    const before = this.L;
    const carried = trend ? this.b * keep(dt, damping) : 0;
    const predicted = this.L + (trend ? this.b * reach(dt, damping) : 0);
    const a = Math.max(alpha(dt, hl), 1 / this.n);
    this.L = predicted + a * (y - predicted);
    if (trend && dt > 0) {
      const w = Math.max(alpha(dt, trendHl), 1 / this.n);
      this.b = carried + w * ((this.L - before) / dt - carried);
    }
  }

  at(h: number, damping: number): number {
    return this.L + this.b * reach(h, damping);
  }
}

/**
 * A straight line through the readings by least squares, each reading weighted 2^(-age / half-life):
 * running sums, O(1) per reading. Times are in `unit` seconds (the horizon) so the sums stay of
 * the order of the readings whatever the series' pace.
 */
class Line {
  /** Sums of w, w t, w t^2, w y and w t y, t relative to the newest reading (t <= 0). */
  w = 0;
  wt = 0;
  wtt = 0;
  wy = 0;
  wty = 0;

  constructor(private readonly halfLife: number, private readonly unit: number) {}

  update(dt: number, y: number): void {
    const u = dt / this.unit;
    const k = keep(dt, this.halfLife);
    // Move the time origin to this reading, then age every weight and add the reading at t = 0.
    this.wtt = k * (this.wtt + u * (u * this.w - 2 * this.wt));
    this.wt = k * (this.wt - u * this.w);
    this.wty = k * (this.wty - u * this.wy);
    this.w = k * this.w + 1;
    this.wy = k * this.wy + y;
  }

  /** The line's slope, units per second: 0 before two readings at different times. */
  slope(): number {
    const spread = this.w * this.wtt - this.wt * this.wt;
    // No reading, one, or readings all at one time: no slope.
    if (!(spread > 1e-12 * this.w * this.w)) return 0;
    return (this.w * this.wty - this.wt * this.wy) / spread / this.unit;
  }

  /** The line's value now, plus its slope carried `reachSeconds`; NaN before a reading (the scorer counts that as persistence). */
  at(reachSeconds: number): number {
    const slope = this.slope();
    return (this.wy - slope * this.unit * this.wt) / this.w + slope * reachSeconds;
  }

  toJSON(): number[] {
    return [this.w, this.wt, this.wtt, this.wy, this.wty];
  }

  /** Sums saved with times counted in `savedUnit` seconds (the horizon then): counted in this line's unit from now on. */
  set(sums: number[], savedUnit = this.unit): void {
    const q = savedUnit / this.unit;
    const scaled = [sums[0], sums[1] * q, sums[2] * q * q, sums[3], sums[4] * q];
    if (!scaled.every(Number.isFinite)) throw new Error("bad candidates state");
    [this.w, this.wt, this.wtt, this.wy, this.wty] = scaled;
  }
}

/** The line counts time in horizons (seconds in one, at least a millisecond). */
function lineUnit(horizon: number): number {
  return Math.max(horizon, 1e-3);
}

/** How far a trend carries in `h` seconds with its influence halving every `damping` seconds. */
function reach(h: number, damping: number): number {
  return damping > 0 ? (damping / Math.LN2) * (1 - keep(h, damping)) : h;
}

/** The periodic profile: a value per bin, interpolated between bin centres. */
class Profile {
  readonly S: number[];
  readonly c: number[];

  constructor(readonly period: number, readonly bins: number) {
    this.S = new Array(bins).fill(0);
    this.c = new Array(bins).fill(0);
  }

  /** The two bins around time `ts` (epoch ms) and the weight of the second. */
  private place(ts: number): [number, number, number] {
    const phase = ((((ts / 1000) % this.period) + this.period) % this.period) / this.period;
    const x = phase * this.bins - 0.5;
    const i = Math.floor(x);
    const w = x - i;
    return [(i + this.bins) % this.bins, (i + 1) % this.bins, w];
  }

  at(ts: number): number {
    const [i, j, w] = this.place(ts);
    return (1 - w) * this.value(i) + w * this.value(j);
  }

  /** A bin never visited borrows its neighbours' values rather than 0. */
  private value(i: number): number {
    return this.c[i] > 0 ? this.S[i] : this.S[(i + 1) % this.bins] * (this.c[(i + 1) % this.bins] > 0 ? 1 : 0);
  }

  learn(ts: number, residual: number, dt: number, typical: number): void {
    const [i, j, w] = this.place(ts);
    // Time spent in a bin over PROFILE_PERIODS periods: the half-life of what it has learnt.
    const hl = (PROFILE_PERIODS * this.period) / this.bins;
    for (const [k, share] of [[i, 1 - w], [j, w]] as const) {
      if (share <= 0) continue;
      // Capped where 1/c no longer matters (below any reading's weight of a sensor read every
      // second): the count stays a short number in the saved state.
      this.c[k] = Math.min(COUNT_CAP, this.c[k] + share);
      const a = Math.min(1, share * Math.max(alpha(Math.max(dt, typical), hl), 1 / this.c[k]));
      this.S[k] += a * (residual - this.S[k]);
    }
  }
}

const WITH_HOLT: readonly CandidateName[] = ["persistence", "ewma", "holt", "seasonal"];
const WITH_LINE: readonly CandidateName[] = ["persistence", "ewma", "line", "seasonal"];

/**
 * All candidates of one series together (one typical interval and one update for them all).
 * `forecasts` is indexed like `names`.
 */
export class Candidates {
  private last = 0;
  private first: number | null = null;
  private level = new LevelTrend();
  private holt = new LevelTrend();
  private deseason = new LevelTrend();
  /** The level the profile is learnt against: over half a period, so the cycle stays in the profile. */
  private slow = new LevelTrend();
  private profile: Profile | null = null;
  private line: Line;
  /** The line stands in for holt (see LINE_SHARE), by the latest typical interval: set by every update, so not saved. */
  private lined = false;
  /** The profile is chosen once the typical interval has settled (this many readings). */
  static readonly SETTLE = 10;

  constructor(private readonly horizon: number) {
    this.line = new Line(LINE_SHARE * horizon, lineUnit(horizon));
  }

  /** Names of the candidates, indexed like `forecasts`. */
  get names(): readonly CandidateName[] {
    return this.lined ? WITH_LINE : WITH_HOLT;
  }

  /**
   * Takes a reading `dt` seconds after the previous one: persistence the reading as it is, the
   * other candidates `y` (the predictor's clipped value of a flagged reading, else the reading).
   */
  update(ts: number, dt: number, reading: number, typical: number, y = reading): void {
    if (this.first === null) this.first = ts;
    this.last = reading;
    const hl = LEVEL_STEPS * Math.max(typical, 1e-3);
    const smooth = Math.max(hl, this.horizon / HORIZON_SHARE);
    const trendHl = Math.max(TREND_STEPS * typical, this.horizon);
    this.level.update(dt, y, smooth, 0, 0);
    this.holt.update(dt, y, hl, trendHl, this.horizon);
    this.line.update(dt, y);
    this.lined = typical > 0 && LINE_SHARE * this.horizon >= TREND_STEPS * typical;
    if (!this.profile && this.level.n >= Candidates.SETTLE) {
      const period = periodFor(typical);
      if (period !== null) this.profile = new Profile(period, Math.min(PROFILE_BINS, Math.round(period / typical)));
    }
    if (this.profile) {
      const s = this.profile.at(ts);
      this.deseason.update(dt, y - s, hl, trendHl, this.horizon);
      this.slow.update(dt, y - s, Math.max(hl, this.profile.period / 2), 0, 0);
      this.profile.learn(ts, y - this.slow.L, dt, Math.max(typical, 1e-3));
    }
  }

  /** Whether candidate `k` may be used (the seasonal one once the series covers two periods). */
  eligible(k: number, ts: number): boolean {
    if (k !== 3) return true;
    return this.profile !== null && this.first !== null && (ts - this.first) / 1000 >= 2 * this.profile.period;
  }

  /** Each candidate's forecast for time `ts` + `h` seconds (epoch ms). */
  forecasts(ts: number, h: number, out: number[]): number[] {
    out[0] = this.last;
    out[1] = this.level.at(0, 0);
    // The line's slope goes the whole way (see LINE_SHARE), holt's is damped.
    out[2] = this.lined ? this.line.at(h) : this.holt.at(h, this.horizon);
    out[3] = this.profile ? this.deseason.at(h, this.horizon) + this.profile.at(ts + h * 1000) : this.last;
    return out;
  }

  /** The trend of the trend candidate (holt or the line), units per second. */
  trend(): number {
    return this.lined ? this.line.slope() : this.holt.b;
  }

  toJSON(): Json {
    const p = this.profile;
    return {
      y: this.last,
      f: this.first,
      l: [this.level.L, this.level.b, this.level.n],
      h: [this.holt.L, this.holt.b, this.holt.n],
      d: [this.deseason.L, this.deseason.b, this.deseason.n],
      s: [this.slow.L, this.slow.b, this.slow.n],
      r: this.line.toJSON(),
      p: p ? { P: p.period, S: p.S.slice(), c: p.c.slice() } : null,
    };
  }

  /** `savedHorizon`: the horizon the state was saved with; the line's times are in its units. */
  static from(horizon: number, json: unknown, savedHorizon = horizon): Candidates {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("bad candidates state");
    const o = json as Record<string, unknown>;
    const c = new Candidates(horizon);
    c.last = numbers([o.y], 1, "candidates")[0];
    c.first = o.f === null ? null : numbers([o.f], 1, "candidates")[0];
    for (const [key, lt] of [["l", c.level], ["h", c.holt], ["d", c.deseason], ["s", c.slow]] as const) {
      const [L, b, n] = numbers(o[key], 3, "candidates");
      lt.L = L;
      lt.b = b;
      lt.n = n;
    }
    // A state saved before the line starts it empty: it fits the readings from the restore on.
    if (o.r !== undefined) {
      const r = numbers(o.r, 5, "candidates");
      if (r[0] < 0 || !(savedHorizon > 0 && savedHorizon < Infinity)) throw new Error("bad candidates state");
      // Saved with another horizon, its times are counted in that one: kept so, the published
      // trend was 6 times too large at 600 s and 24 times too small at a day until they faded.
      c.line.set(r, lineUnit(savedHorizon));
    }
    if (o.p !== null) {
      const p = o.p as Record<string, unknown>;
      if (!p || typeof p !== "object" || !Array.isArray(p.S)) throw new Error("bad profile state");
      const period = numbers([p.P], 1, "profile")[0];
      const bins = p.S.length;
      if (!(period > 0) || bins < 1 || bins > PROFILE_BINS) throw new Error("bad profile state");
      const prof = new Profile(period, bins);
      numbers(p.S, bins, "profile").forEach((v, i) => (prof.S[i] = v));
      numbers(p.c, bins, "profile").forEach((v, i) => (prof.c[i] = v));
      c.profile = prof;
    }
    return c;
  }
}
