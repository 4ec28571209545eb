/**
 * Online scoring of forecasts on their own outcomes, and intervals calibrated from them.
 *
 * Each candidate's forecast for t + horizon is kept (pending) and settled by the first reading
 * at or after that time, so every candidate is judged on what it actually forecast at the
 * horizon the user asked for, not on a one-step fit. Memory is bounded: one pending forecast per
 * bucket of horizon / SLOTS seconds (or one typical interval, whichever is longer), at most
 * SLOTS + 2 of them; a forecast whose reading never came (a gap) is dropped unscored.
 *
 * Per candidate, settled errors e = reading - forecast give:
 * - an exponentially weighted mean absolute error over about MAE_SPAN settled forecasts (the
 *   choice of `auto`, and skill = MAE / persistence's MAE);
 * - a lower and an upper offset, each an online quantile of e (2.5 % and 97.5 %) tracked the
 *   way adaptive conformal prediction does: each settled error moves the offset by
 *   GAMMA x MAE x (miss - 2.5 %), so whatever the error distribution, the long-run share of
 *   misses on each side converges to 2.5 %. No parametric formula: skewed, biased or heavy-tailed
 *   errors get the interval they need.
 * Until CONFORMAL_MIN forecasts have settled, the interval is a wide fallback from the spread of
 * the changes between readings (as if the series were a random walk), and coverage is null.
 */
import { JsonObject } from "../json";
import { numbers } from "./smoothing";

/** Pending forecasts kept at most (plus two for jitter): the resolution of the scoring in time. */
export const SLOTS = 12;
/** The EW mean absolute error spans about this many settled forecasts: recent skill, not all history. */
export const MAE_SPAN = Number(process.env.PQ_SPAN || 30);
/** Settled forecasts before `auto` leaves persistence and skill is reported. */
export const MIN_SETTLED = 10;
/** Settled forecasts before the interval comes from them (and coverage is reported). */
export const CONFORMAL_MIN = 20;
/** A candidate replaces the one in use only when its MAE is this much lower: no flapping between equals. */
export const SWITCH_MARGIN = 0.03;
/**
 * Another candidate replaces persistence only when its MAE is this much lower, and persistence
 * comes back when that lead shrinks below about LEAVE_MARGIN - SWITCH_MARGIN: a candidate that
 * merely ties costs accuracy whenever its lead is noise, so persistence keeps near-ties.
 */
export const LEAVE_MARGIN = Number(process.env.PQ_LEAVE || 0.1);
/** The running coverage spans about this many settled outcomes. */
export const COVER_SPAN = 200;
/**
 * Step of the interval's quantile tracking, in MAEs per settled forecast. Larger adapts faster
 * to a change in the errors and holds the share of misses closer to 5 % over a short series;
 * smaller gives a steadier width.
 */
export const GAMMA = Number(process.env.PQ_GAMMA || 0.3);
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
  /** Index of the candidate in use. */
  used: number;
  forecast: number;
  lower: number;
  upper: number;
  /** MAE in use / persistence's MAE, or null before MIN_SETTLED settled forecasts. */
  skill: number | null;
  /** Running share of settled outcomes inside the published interval, or null while the interval is the fallback. */
  coverage: number | null;
}

export class Scorer {
  /** Settled forecasts. */
  settled = 0;
  used: number;
  private mae: number[];
  private lo: number[];
  private hi: number[];
  private cover = 0;
  private covered = 0;
  /** EW mean square change between consecutive readings, and its count. */
  private diff2 = 0;
  private diffs = 0;
  private prev: number | null = null;
  private lastIssue: number | null = null;
  /** Pending forecasts, oldest first: [target ts, published lower, upper, each candidate's forecast..., each one's MAE then...]. */
  private pending: number[][] = [];

  /**
   * `k` candidates, candidate 0 being persistence; `forced` is the index always used (an explicit
   * method), or null to use the best scorer (auto).
   */
  constructor(readonly k: number, readonly forced: number | null) {
    this.used = forced ?? 0;
    this.mae = new Array(k).fill(0);
    this.lo = new Array(k).fill(0);
    this.hi = new Array(k).fill(0);
  }

  /** Settles the pending forecasts that the reading `y` at `ts` (epoch ms) resolves. */
  settle(ts: number, y: number, typical: number, horizon: number, eligible: (k: number) => boolean): void {
    if (this.prev !== null) {
      this.diffs++;
      const d = y - this.prev;
      this.diff2 += Math.max(1 / this.diffs, 1 / MAE_SPAN) * (d * d - this.diff2);
    }
    this.prev = y;
    const early = (typical * 1000) / 2;
    const late = (2 * typical + horizon) * 1000;
    while (this.pending.length > 0 && this.pending[0][0] <= ts + early) {
      const slot = this.pending.shift() as number[];
      if (ts - slot[0] > late) continue;
      this.score(slot, y);
    }
    this.choose(eligible);
  }

  private score(slot: number[], y: number): void {
    this.settled++;
    const w = Math.max(1 / this.settled, 1 / MAE_SPAN);
    for (let k = 0; k < this.k; k++) {
      const e = y - slot[3 + k];
      const scale = slot[3 + this.k + k];
      const abs = Math.abs(e);
      if (this.settled === 1) {
        this.lo[k] = this.hi[k] = START;
        this.mae[k] = abs;
      }
      // The error in units of the MAE the interval was issued with: a miss of the interval as
      // published moves the offset, while the width follows a scale that grows or shrinks at once.
      const z = this.settled === 1 ? 0 : scale > 0 ? e / scale : e === 0 ? 0 : Math.sign(e) * Infinity;
      this.lo[k] += GAMMA * ((z < -this.lo[k] ? 1 : 0) - TAIL);
      this.hi[k] += GAMMA * ((z > this.hi[k] ? 1 : 0) - TAIL);
      this.mae[k] += w * (abs - this.mae[k]);
    }
    const inside = y >= slot[1] && y <= slot[2] ? 1 : 0;
    this.covered++;
    this.cover += Math.max(1 / this.covered, 1 / COVER_SPAN) * (inside - this.cover);
  }

  private choose(eligible: (k: number) => boolean): void {
    if (this.forced !== null) return;
    if (this.settled < MIN_SETTLED) {
      this.used = 0;
      return;
    }
    let best = this.eligibleOr0(this.used, eligible);
    for (let k = 0; k < this.k; k++) {
      if (k !== best && eligible(k) && this.merit(k) < this.merit(best) * (1 - SWITCH_MARGIN)) best = k;
    }
    this.used = best;
  }

  /** The MAE that decides, persistence's as it is, another's as if LEAVE_MARGIN worse: persistence wins ties and near-ties. */
  private merit(k: number): number {
    return k === 0 ? this.mae[0] : this.mae[k] / (1 - LEAVE_MARGIN);
  }

  private eligibleOr0(k: number, eligible: (k: number) => boolean): number {
    return eligible(k) ? k : 0;
  }

  /**
   * The published forecast and interval for `ts` + `horizon` from the candidates' forecasts
   * (already within the bounds, which `clamp` applies to the interval); keeps them pending when
   * this reading opens a new bucket.
   */
  issue(ts: number, forecasts: number[], typical: number, horizon: number, clamp: (x: number) => number): Issued {
    const u = this.used;
    const forecast = forecasts[u];
    const conformal = this.settled >= CONFORMAL_MIN;
    let lower: number;
    let upper: number;
    if (conformal) {
      lower = forecast - this.lo[u] * this.mae[u];
      upper = forecast + this.hi[u] * this.mae[u];
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
      this.pending.push([ts + horizon * 1000, lower, upper, ...forecasts.slice(0, this.k), ...this.mae]);
      this.lastIssue = ts;
    }
    const skill = this.settled >= MIN_SETTLED && this.mae[0] > 0 ? this.mae[u] / this.mae[0] : null;
    return { used: u, forecast, lower, upper, skill, coverage: conformal ? this.cover : null };
  }

  /** Memory held, in numbers: bounded whatever the number of readings. */
  get size(): number {
    return 3 * this.k + this.pending.length * (3 + 2 * this.k);
  }

  toJSON(): JsonObject {
    return {
      n: this.settled,
      u: this.used,
      m: this.mae.slice(),
      lo: this.lo.slice(),
      hi: this.hi.slice(),
      c: [this.cover, this.covered, this.diff2, this.diffs],
      y: this.prev,
      t: this.lastIssue,
      p: this.pending.map((s) => s.slice()),
    };
  }

  static from(k: number, forced: number | null, json: unknown): Scorer {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("bad scorer state");
    const o = json as Record<string, unknown>;
    const s = new Scorer(k, forced);
    const [n, u] = numbers([o.n, o.u], 2, "scorer");
    if (!Number.isInteger(u) || u < 0 || u >= k) throw new Error("bad scorer state");
    s.settled = n;
    s.used = u;
    s.mae = numbers(o.m, k, "scorer").slice();
    s.lo = numbers(o.lo, k, "scorer").slice();
    s.hi = numbers(o.hi, k, "scorer").slice();
    [s.cover, s.covered, s.diff2, s.diffs] = numbers(o.c, 4, "scorer");
    s.prev = o.y === null ? null : numbers([o.y], 1, "scorer")[0];
    s.lastIssue = o.t === null ? null : numbers([o.t], 1, "scorer")[0];
    if (!Array.isArray(o.p) || o.p.length > SLOTS + 2) throw new Error("bad scorer state");
    s.pending = o.p.map((slot) => numbers(slot, 3 + 2 * k, "scorer").slice());
    return s;
  }
}
