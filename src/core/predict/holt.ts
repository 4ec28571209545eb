/**
 * `holt`: Holt's linear trend method made time-aware, optionally damped. O(1) time and memory
 * per reading.
 *
 * - Level and trend are smoothed with weights from their half-lives and the time since the
 *   previous reading: a = 1 - exp(-dt ln2 / halfLife).
 * - The trend is in units per second; a forecast h seconds ahead is level + trend * h, or with
 *   damping (a half-life D for the trend's influence ahead) level + trend * D/ln2 * (1 - 2^(-h/D)).
 * - Start: a rate needs a long look. The first `warmup` readings are fitted by least squares;
 *   after that the level is smoothed, but the trend stays the least-squares slope of every
 *   reading so far (running sums, O(1)) until they span one trend half-life. Starting Holt's
 *   trend from a few minutes of noisy readings instead leaves it wrong for hours.
 * - The trend's own noise (the slope's standard error while fitted, then the EW variance of the
 *   estimate over the trend half-life) widens the interval with the horizon and decides whether
 *   the trend stands out from noise.
 * - As in `ewma`, the level's error variance is tracked so a heavily weighted reading after a
 *   pause widens the spread of the next readings.
 */
import { Json } from "../json";
import { excess, levelSpread } from "./ewma";
import { Forecaster, TREND_T, lineTime } from "./forecaster";
import { alpha, keep, numbers } from "./smoothing";

export interface HoltSettings {
  halfLife: number;
  trendHalfLife: number;
  /** Half-life of the trend's influence ahead, in seconds; 0 for none. */
  damping: number;
  warmup: number;
}

export class Holt implements Forecaster {
  readonly method = "holt";
  count = 0;
  private L = 0;
  private b = 0;
  /** Variance of the level's error, in units of the reading noise's variance. */
  private P = 1;
  /** Variance of the trend estimate; its EW mean and the readings they have seen (after the fit). */
  private bVar = 0;
  private bMean = 0;
  private bCount = 0;
  /**
   * While the trend is fitted: least-squares sums with times in seconds relative to the newest
   * reading (n, St, Stt, Sy, Sty, Syy) and the seconds they span; null once Holt has taken over.
   */
  private sums: number[] | null = [0, 0, 0, 0, 0, 0, 0];

  constructor(private readonly s: HoltSettings) {}

  /** How far the trend carries in `dt` seconds (dt itself without damping). */
  private reach(dt: number): number {
    const D = this.s.damping;
    return D > 0 ? (D / Math.LN2) * (1 - keep(dt, D)) : dt;
  }

  update(dt: number, value: number): void {
    this.count++;
    if (this.sums) this.addToFit(dt, value);
    if (this.count <= this.s.warmup && this.sums) {
      this.useFit(true);
      if (this.count === this.s.warmup) this.P = 4 / this.count; // the fitted end point's variance
      return;
    }
    const before = this.L;
    const predicted = this.L + this.b * this.reach(dt);
    const a = alpha(dt, this.s.halfLife);
    this.L = predicted + a * (value - predicted);
    this.P = (1 - a) * (1 - a) * this.P + a * a;
    if (this.sums) {
      this.useFit(false);
      if ((this.sums as number[])[6] >= this.s.trendHalfLife) this.sums = null;
      return;
    }
    const carried = this.s.damping > 0 ? this.b * keep(dt, this.s.damping) : this.b;
    const observed = dt > 0 ? (this.L - before) / dt : carried;
    this.b = carried + alpha(dt, this.s.trendHalfLife) * (observed - carried);
    this.bCount++;
    const w = Math.max(alpha(dt, this.s.trendHalfLife), 1 / this.bCount);
    const d = this.b - this.bMean;
    this.bMean += w * d;
    this.bVar = (1 - w) * (this.bVar + w * d * d);
  }

  /** Moves the time origin `dt` seconds later, then adds the reading at t = 0. */
  private addToFit(dt: number, y: number): void {
    const S = this.sums as number[];
    S[2] = S[2] - 2 * dt * S[1] + dt * dt * S[0];
    S[4] = S[4] - dt * S[3];
    S[1] = S[1] - dt * S[0];
    S[0] += 1;
    S[3] += y;
    S[5] += y * y;
    if (S[0] > 1) S[6] += dt;
  }

  /** Slope (and, while warming up, level) from the least-squares fit; bVar its squared standard error. */
  private useFit(level: boolean): void {
    const [n, St, Stt, Sy, Sty, Syy] = this.sums as number[];
    const sxx = Stt - (St * St) / n;
    if (n < 2 || !(sxx > 0)) {
      if (level) this.L = Sy / n;
      this.b = 0;
      this.bVar = 0;
      return;
    }
    this.b = (Sty - (St * Sy) / n) / sxx;
    if (level) this.L = (Sy - this.b * St) / n;
    const sse = Math.max(0, Syy - (Sy * Sy) / n - this.b * this.b * sxx);
    this.bVar = n > 2 ? sse / (n - 2) / sxx : 0;
  }

  expect(dt: number): number {
    return this.L + this.b * this.reach(dt);
  }

  /**
   * Local level: 1 + (k - 1) a^2 one-step variances k typical steps ahead (widened while the
   * level is less sure than usual); plus the trend's uncertainty carried over the extra distance.
   */
  variance(dt: number, typical: number, sigma2: number): number {
    const far = this.reach(dt);
    const near = this.reach(typical);
    return sigma2 * levelSpread(dt, typical, this.s.halfLife, this.P) + this.bVar * Math.max(0, far * far - near * near);
  }

  level(): number {
    return this.L;
  }

  levelExcess(typical: number): number {
    return excess(this.P, this.s.halfLife, typical);
  }

  trend(): number {
    return this.b;
  }

  trendSignificant(): boolean {
    if (this.count < this.s.warmup || this.b === 0) return false;
    if (!this.sums && this.bCount < 2) return false;
    return Math.abs(this.b) >= TREND_T * Math.sqrt(this.bVar);
  }

  timeTo(limit: number, above: boolean): number | null {
    const D = this.s.damping;
    const straight = lineTime(this.L, this.b, limit, above);
    if (!(D > 0) || straight === null || straight === 0) return straight;
    // Damped: the forecast approaches level + trend * D/ln2 and may never get there.
    const share = (limit - this.L) / (this.b * (D / Math.LN2));
    if (!(share < 1)) return null;
    return -D * Math.log2(1 - share);
  }

  restart(dt: number, value: number): void {
    // While warming up, the least-squares fit already weighs the gap by time.
    if (this.count < this.s.warmup) return this.update(dt, value);
    this.count++;
    // A fit straddling the gap would take a jump across it for a slope: keep the slope from before.
    this.sums = null;
    this.L = value;
    this.P = 1;
  }

  /** A level shift: the fit's slope would straddle it, so Holt takes over with the slope as it is. */
  relevel(level: number, since: number): void {
    this.L = level;
    this.P = Math.max(1 / Math.max(1, since), this.P);
    this.sums = null;
  }

  toJSON(): Json {
    return { n: this.count, L: this.L, b: this.b, P: this.P, bv: this.bVar, bm: this.bMean, bn: this.bCount, S: this.sums };
  }

  static from(settings: HoltSettings, json: unknown): Holt {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("bad holt state");
    const o = json as Record<string, unknown>;
    const [n, L, b, P, bv, bm, bn] = numbers([o.n, o.L, o.b, o.P, o.bv, o.bm, o.bn], 7, "holt");
    const f = new Holt(settings);
    f.count = n;
    f.L = L;
    f.b = b;
    f.P = P;
    f.bVar = bv;
    f.bMean = bm;
    f.bCount = bn;
    f.sums = o.S === null ? null : numbers(o.S, 7, "holt").slice();
    return f;
  }
}
