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

export type CandidateName = "persistence" | "ewma" | "holt" | "seasonal";

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

/**
 * All candidates of one series together (one typical interval and one update for them all).
 * `forecasts` is indexed like `names`.
 */
export class Candidates {
  readonly names: CandidateName[] = ["persistence", "ewma", "holt", "seasonal"];
  private last = 0;
  private first: number | null = null;
  private level = new LevelTrend();
  private holt = new LevelTrend();
  private deseason = new LevelTrend();
  /** The level the profile is learnt against: over half a period, so the cycle stays in the profile. */
  private slow = new LevelTrend();
  private profile: Profile | null = null;
  /** The profile is chosen once the typical interval has settled (this many readings). */
  static readonly SETTLE = 10;

  constructor(private readonly horizon: number) {}

  /**
   * Takes the reading `y`, `dt` seconds after the previous one; the candidates but persistence
   * learn `learnt` instead (the predictor's clipped value of a flagged reading).
   */
  update(ts: number, dt: number, y: number, typical: number, learnt = y): void {
    if (this.first === null) this.first = ts;
    this.last = y;
    y = learnt;
    const hl = LEVEL_STEPS * Math.max(typical, 1e-3);
    const smooth = Math.max(hl, this.horizon / HORIZON_SHARE);
    const trendHl = Math.max(TREND_STEPS * typical, this.horizon);
    this.level.update(dt, y, smooth, 0, 0);
    this.holt.update(dt, y, hl, trendHl, this.horizon);
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
    out[2] = this.holt.at(h, this.horizon);
    out[3] = this.profile ? this.deseason.at(h, this.horizon) + this.profile.at(ts + h * 1000) : this.last;
    return out;
  }

  /** The trend of the holt candidate, units per second. */
  trend(): number {
    return this.holt.b;
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
      p: p ? { P: p.period, S: p.S.slice(), c: p.c.slice() } : null,
    };
  }

  static from(horizon: number, json: unknown): Candidates {
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
