/**
 * Online scoring of forecasts on their own outcomes, and intervals calibrated from them.
 *
 * Each candidate's forecast for t + horizon is kept (pending) and settled by the first reading
 * at or after that time, so every candidate is judged on what it actually forecast at the
 * horizon the user asked for, not on a one-step fit. Memory is bounded: one pending forecast per
 * bucket of horizon / SLOTS seconds (or one typical interval, whichever is longer), at most
 * SLOTS + 2 of them; a forecast whose reading never came (a gap) is dropped unscored.
 *
 What `auto` publishes is persistence p moved toward one candidate c: p + w (c - p). Per
 * candidate, the settled forecasts give EW means (over about MAE_SPAN of them) of
 * (y - p)(c - p) and (c - p)^2; their ratio is the weight w that would have minimised the squared
 * error of p + w (c - p), and A^2/B the reduction of that error from persistence's. The candidate
 * with the largest reduction is used, with w clipped to 0..1: a candidate that does not help gets
 * w = 0 (persistence), one that only partly helps is blended. Choosing a weight costs, when it is
 * off, in proportion to the square of the error of the weight; switching outright costs in
 * proportion to the error itself, which on a hundred noisy readings made auto worse than
 * persistence on a third of the real series. An explicit method is published as it is (w = 1).
 *
 * The published forecast's settled errors e = y - forecast give:
 * - its EW mean absolute error (skill = that / persistence's);
 * - a lower and an upper offset in units of the MAE at issue, each an online quantile of e
 *   (2.5 % and 97.5 %) tracked as adaptive conformal prediction does: each settled forecast moves
 *   an offset by GAMMA x (miss - 2.5 %), a miss being a reading outside the interval as it was
 *   published, so whatever the error distribution the long-run share of misses on each side
 *   converges to 2.5 %. No parametric formula: skewed, biased or heavy-tailed errors get the
 *   interval they need, and a growing or shrinking error scale is followed at once.
 * Until CONFORMAL_MIN forecasts have settled, the interval is a wide fallback from the spread of
 * the changes between readings (as if the series were a random walk), and coverage is null.
 */
import { JsonObject } from "../json";
import { numbers } from "./smoothing";

/** Pending forecasts kept at most (plus two for jitter): the resolution of the scoring in time. */
export const SLOTS = 12;
/** The EW mean absolute error spans about this many settled forecasts: recent skill, not all history. */
export const MAE_SPAN = 30;
/** Settled forecasts before `auto` blends in a candidate and skill is reported. */
export const MIN_SETTLED = 10;
/** Settled forecasts before the interval comes from them (and coverage is reported). */
export const CONFORMAL_MIN = 20;
/** A candidate replaces the one in use only when it reduces the squared error this much more: no flapping between equals. */
export const SWITCH_MARGIN = 0.05;
export const SHRINK = 10;
/** The running coverage spans about this many settled outcomes. */
export const COVER_SPAN = 200;
/**
 * Step of the interval's quantile tracking, in MAEs per settled forecast. Larger adapts faster
 * to a change in the errors and holds the share of misses closer to 5 % over a short series;
 * smaller gives a steadier width.
 */
export const GAMMA = 0.5;
/**
 * Where each side's offset starts, in MAEs: the 97.5 % point of normal errors is 2.46 MAEs. A
 * start too wide shrinks slowly (2.5 % of GAMMA per settled forecast), one too narrow grows fast.
 */
const START = 2;
/** Each side's share of misses: a 95 % interval. */
const TAIL = 0.025;
/** The fallback interval is this many times the random-walk 95 % interval. */
const FALLBACK = 1.5;
const Z95 = 1.959964;

export interface Issued {
  /** Index of the candidate blended in (0: persistence alone). */
  used: number;
  /** Its weight, 0..1. */
  weight: number;
  forecast: number;
  lower: number;
  upper: number;
  /** Published MAE / persistence's MAE, or null before MIN_SETTLED settled forecasts. */
  skill: number | null;
  /** Running share of settled outcomes inside the published interval, or null while the interval is the fallback. */
  coverage: number | null;
}

export class Scorer {
  /** Settled forecasts. */
  settled = 0;
  used: number;
  weight: number;
  /** MAE of persistence [0], of what was published [1], and of the blend p + w (c - p) [2]. */
  private mae = [0, 0, 0];
  /** Per candidate: EW mean of (y - p)(c - p) and of (c - p)^2. */
  private A: number[];
  private B: number[];
  private lo = START;
  private hi = START;
  private cover = 0;
  /** EW mean square change between consecutive readings, and its count. */
  private diff2 = 0;
  private diffs = 0;
  private prev: number | null = null;
  private lastIssue: number | null = null;
  /** Pending forecasts, oldest first: [target ts, lower, upper, published, its MAE then, the blend, each candidate's forecast...]. */
  private pending: number[][] = [];

  /**
   * `k` candidates, candidate 0 being persistence; `forced` is the index always published as it
   * is (an explicit method), or null to blend (auto).
   */
  constructor(readonly k: number, readonly forced: number | null) {
    this.used = forced ?? 0;
    this.weight = forced === null ? 0 : 1;
    this.A = new Array(k).fill(0);
    this.B = new Array(k).fill(0);
  }

  /** Settles the pending forecasts that the reading `y` at `ts` (epoch ms) resolves, then chooses. */
  settle(ts: number, y: number, typical: number, horizon: number, eligible: (k: number) => boolean): void {
    if (this.prev !== null) {
      this.diffs++;
      const d = y - this.prev;
      this.diff2 += Math.max(1 / this.diffs, 1 / MAE_SPAN) * (d * d - this.diff2);
    }
    this.prev = y;
    const early = (typical * 1000) / 2;
    const late = (2 * typical + horizon) * 1000;
    let settled = false;
    while (this.pending.length > 0 && this.pending[0][0] <= ts + early) {
      const slot = this.pending.shift() as number[];
      if (ts - slot[0] > late) continue;
      this.score(slot, y);
      settled = true;
    }
    if (settled) this.choose(eligible);
  }

  private score(slot: number[], y: number): void {
    this.settled++;
    const w = Math.max(1 / this.settled, 1 / MAE_SPAN);
    const p = slot[6];
    const dy = y - p;
    for (let k = 1; k < this.k; k++) {
      const dc = slot[6 + k] - p;
      this.A[k] += w * (dy * dc - this.A[k]);
      this.B[k] += w * (dc * dc - this.B[k]);
    }
    const e = y - slot[3];
    const scale = slot[4];
    if (this.settled === 1) {
      this.mae[0] = Math.abs(dy);
      this.mae[1] = Math.abs(e);
      this.mae[2] = Math.abs(y - slot[5]);
    } else {
      // The error in units of the MAE the interval was issued with: a miss of the interval as
      // published moves the offset, while the width follows a scale that grows or shrinks at once.
      const z = scale > 0 ? e / scale : e === 0 ? 0 : Math.sign(e) * Infinity;
      // The forecasts still pending were issued before this miss was known: a run of misses up
      // to a horizon long says one thing, so each moves the offset by less.
      const g = GAMMA / Math.sqrt(Math.max(1, this.pending.length + 1));
      this.lo += g * ((z < -this.lo ? 1 : 0) - TAIL);
      this.hi += g * ((z > this.hi ? 1 : 0) - TAIL);
    }
    this.mae[0] += w * (Math.abs(dy) - this.mae[0]);
    this.mae[1] += w * (Math.abs(e) - this.mae[1]);
    this.mae[2] += w * (Math.abs(y - slot[5]) - this.mae[2]);
    const inside = y >= slot[1] && y <= slot[2] ? 1 : 0;
    this.cover += Math.max(1 / this.settled, 1 / COVER_SPAN) * (inside - this.cover);
  }

  private choose(eligible: (k: number) => boolean): void {
    if (this.forced !== null) return;
    if (this.settled < MIN_SETTLED) return;
    const gain = (k: number) => (k > 0 && eligible(k) && this.A[k] > 0 && this.B[k] > 0 ? (this.A[k] * this.A[k]) / this.B[k] : 0);
    let best = this.used;
    let top = gain(best);
    for (let k = 1; k < this.k; k++) {
      const g = gain(k);
      if (k !== best && g > top * (1 + SWITCH_MARGIN)) {
        best = k;
        top = g;
      }
    }
    this.used = top > 0 ? best : 0;
    const seen = Math.min(this.settled, MAE_SPAN);
    this.weight = top > 0 ? Math.min(1, (seen / (seen + SHRINK)) * (this.A[best] / this.B[best])) : 0;
  }

  /**
   * The published forecast and interval for `ts` + `horizon` from the candidates' forecasts
   * (already within the bounds, which `clamp` applies to the interval); keeps them pending when
   * this reading opens a new bucket.
   */
  issue(ts: number, forecasts: number[], typical: number, horizon: number, clamp: (x: number) => number): Issued {
    const u = this.used;
    const blend = clamp(forecasts[0] + this.weight * (forecasts[u] - forecasts[0]));
    // The blend is published only while its own recent MAE is below persistence's.
    const forecast = this.weight > 0 && this.mae[2] < this.mae[0] ? blend : forecasts[0];
    const conformal = this.settled >= CONFORMAL_MIN;
    let lower: number;
    let upper: number;
    if (conformal) {
      lower = forecast - this.lo * this.mae[1];
      upper = forecast + this.hi * this.mae[1];
      if (lower > upper) lower = upper = (lower + upper) / 2;
    } else {
      const steps = typical > 0 ? Math.max(1, horizon / typical) : 1;
      const half = FALLBACK * Z95 * Math.sqrt(this.diff2 * steps);
      lower = forecast - half;
      upper = forecast + half;
    }
    lower = clamp(lower);
    upper = clamp(upper);
    const bucket = Math.max(typical, horizon / SLOTS) * 1000;
    if (this.lastIssue === null || ts - this.lastIssue >= bucket - (typical * 1000) / 2) {
      if (this.pending.length >= SLOTS + 2) this.pending.shift();
      const slot = [ts + horizon * 1000, lower, upper, forecast, this.mae[1], blend];
      for (let k = 0; k < this.k; k++) slot.push(forecasts[k]);
      this.pending.push(slot);
      this.lastIssue = ts;
    }
    const skill = this.settled >= MIN_SETTLED && this.mae[0] > 0 ? this.mae[1] / this.mae[0] : null;
    const blended = forecast !== forecasts[0] || this.weight > 0 && this.mae[2] < this.mae[0];
    return { used: blended ? u : 0, weight: blended ? this.weight : 0, forecast, lower, upper, skill, coverage: conformal ? this.cover : null };
  }

  /** Memory held, in numbers: bounded whatever the number of readings. */
  get size(): number {
    return 2 * this.k + 12 + this.pending.reduce((n, s) => n + s.length, 0);
  }

  toJSON(): JsonObject {
    return {
      n: this.settled,
      u: [this.used, this.weight],
      m: this.mae.slice(),
      a: this.A.slice(),
      b: this.B.slice(),
      c: [this.lo, this.hi, this.cover, this.diff2, this.diffs],
      y: this.prev,
      t: this.lastIssue,
      p: this.pending.map((s) => s.slice()),
    };
  }

  static from(k: number, forced: number | null, json: unknown): Scorer {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("bad scorer state");
    const o = json as Record<string, unknown>;
    const s = new Scorer(k, forced);
    s.settled = numbers([o.n], 1, "scorer")[0];
    const [u, weight] = numbers(o.u, 2, "scorer");
    if (!Number.isInteger(u) || u < 0 || u >= k || weight < 0 || weight > 1) throw new Error("bad scorer state");
    if (forced === null) {
      s.used = u;
      s.weight = weight;
    }
    s.mae = numbers(o.m, 3, "scorer").slice();
    s.A = numbers(o.a, k, "scorer").slice();
    s.B = numbers(o.b, k, "scorer").slice();
    [s.lo, s.hi, s.cover, s.diff2, s.diffs] = numbers(o.c, 5, "scorer");
    s.prev = o.y === null ? null : numbers([o.y], 1, "scorer")[0];
    s.lastIssue = o.t === null ? null : numbers([o.t], 1, "scorer")[0];
    if (!Array.isArray(o.p) || o.p.length > SLOTS + 2) throw new Error("bad scorer state");
    s.pending = o.p.map((slot) => numbers(slot, 6 + k, "scorer").slice());
    return s;
  }
}
