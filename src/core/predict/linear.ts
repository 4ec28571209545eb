/**
 * `linear`: least squares over a window of the latest readings (simple-statistics
 * `linearRegression` and `rSquared`). Each reading costs O(window) time and the window bounds
 * the memory. Times are taken as they are, so irregular sampling and gaps weigh correctly, and
 * the prediction interval widens with the distance from the window's centre.
 */
import { linearRegression, rSquared } from "simple-statistics";
import { Json } from "../json";
import { Forecaster, TREND_T, lineTime } from "./forecaster";
import { Ring } from "./ring";
import { numbers } from "./smoothing";

interface Fit {
  /** Slope per second and value at the newest reading's time. */
  m: number;
  b: number;
  n: number;
  /** Mean and spread of the times (seconds relative to the newest reading). */
  xMean: number;
  sxx: number;
  r2: number;
}

export class Linear implements Forecaster {
  readonly method = "linear";
  count = 0;
  /** Age of each reading in the window, in ms before the newest. */
  private ages: Ring;
  /** What the fit uses (clipped for a flagged reading), and how far the actual reading was from that. */
  private values: Ring;
  private lifts: Ring;
  private fit: Fit = { m: 0, b: 0, n: 0, xMean: 0, sxx: 0, r2: 0 };

  constructor(readonly window: number) {
    this.ages = new Ring(window);
    this.values = new Ring(window);
    this.lifts = new Ring(window);
  }

  update(dt: number, value: number, _ts?: number, actual = value): void {
    this.count++;
    this.ages.addAll(dt * 1000);
    this.ages.push(0);
    this.values.push(value);
    this.lifts.push(actual - value);
    this.refit();
  }

  private points(from = 0, to = this.values.length): Array<[number, number]> {
    const points: Array<[number, number]> = [];
    for (let k = from; k < to; k++) points.push([-this.ages.at(k) / 1000, this.values.at(k)]);
    return points;
  }

  private refit(): void {
    const n = this.values.length;
    const points = this.points();
    let sx = 0;
    for (const [x] of points) sx += x;
    if (n === 0) {
      this.fit = { m: 0, b: 0, n: 0, xMean: 0, sxx: 0, r2: 0 };
      return;
    }
    const xMean = sx / n;
    let sxx = 0;
    for (const [x] of points) sxx += (x - xMean) * (x - xMean);
    if (!(sxx > 0)) {
      let sy = 0;
      for (const [, y] of points) sy += y;
      this.fit = { m: 0, b: sy / n, n, xMean, sxx: 0, r2: 0 };
      return;
    }
    const { m, b } = linearRegression(points);
    const r2 = rSquared(points, (x: number) => b + m * x);
    this.fit = { m, b, n, xMean, sxx, r2: Number.isFinite(r2) ? r2 : 0 };
  }

  expect(dt: number): number {
    return this.fit.b + this.fit.m * dt;
  }

  /** The regression's prediction variance 1 + 1/n + (x - mean)^2 / Sxx, scaled to one typical step. */
  variance(dt: number, typical: number, sigma2: number): number {
    const { n, xMean, sxx } = this.fit;
    if (n < 3 || !(sxx > 0)) return sigma2 * Math.max(1, typical > 0 ? dt / typical : 1);
    const g = (x: number) => 1 + 1 / n + ((x - xMean) * (x - xMean)) / sxx;
    return (sigma2 * g(dt)) / g(typical);
  }

  level(): number {
    return this.fit.b;
  }

  /** The regression's interval already widens with the distance from the window: nothing extra. */
  levelExcess(): number {
    return 0;
  }

  trend(): number {
    return this.fit.m;
  }

  /** The slope's t statistic from r^2: t^2 = r^2 (n - 2) / (1 - r^2), significant from TREND_T. */
  trendSignificant(): boolean {
    const { n, r2, m } = this.fit;
    if (n < 3 || m === 0) return false;
    if (r2 >= 1) return true;
    return (r2 * (n - 2)) / (1 - r2) >= TREND_T * TREND_T;
  }

  /** The fit's goodness (r^2), for whoever wants to show it. */
  rSquared(): number {
    return this.fit.r2;
  }

  timeTo(limit: number, above: boolean): number | null {
    return lineTime(this.fit.b, this.fit.m, limit, above);
  }

  /** The fit already weighs a gap by time (and widens its interval with the distance). */
  restart(dt: number, value: number): void {
    this.update(dt, value);
  }

  /**
   * A level shift: the readings before it are moved by the shift, so the fit keeps the whole
   * window's slope at the new level (fitting only the few readings since the shift would give
   * a slope that is mostly noise); the readings since it count as they were, unclipped.
   */
  relevel(level: number, since: number): void {
    const n = this.values.length;
    const older = n - since;
    if (older <= 0) return;
    // The older readings' own line, at the newest reading's time (x = 0), moves to the new level.
    const before = this.points(0, older);
    const spread = before[0][0] !== before[older - 1][0];
    const was = spread ? linearRegression(before).b : before.reduce((a, p) => a + p[1], 0) / older;
    this.values.addOldest(older, level - was);
    const values = this.values.toArray();
    const lifts = this.lifts.toArray();
    for (let k = older; k < n; k++) {
      values[k] += lifts[k];
      lifts[k] = 0;
    }
    this.values = Ring.of(this.window, values);
    this.lifts = Ring.of(this.window, lifts);
    this.refit();
  }

  toJSON(): Json {
    return { n: this.count, a: this.ages.toArray(), y: this.values.toArray(), l: this.lifts.toArray() };
  }

  static from(window: number, json: unknown): Linear {
    if (!json || typeof json !== "object" || Array.isArray(json)) throw new Error("bad linear state");
    const o = json as Record<string, unknown>;
    const [count] = numbers([o.n], 1, "linear");
    if (!Array.isArray(o.a) || !Array.isArray(o.y) || !Array.isArray(o.l) || o.a.length !== o.y.length || o.l.length !== o.y.length) throw new Error("bad linear state");
    const f = new Linear(window);
    f.count = count;
    f.ages = Ring.of(window, o.a);
    f.values = Ring.of(window, o.y);
    f.lifts = Ring.of(window, o.l);
    f.refit();
    return f;
  }
}
