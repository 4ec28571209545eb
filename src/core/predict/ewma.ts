/**
 * `ewma`: an exponentially weighted moving average of the level. O(1) time and memory per
 * reading. The weight of each reading follows from the time since the previous one and the
 * half-life, so a reading after a long pause counts for more. No trend: the forecast is the
 * level, whatever the horizon.
 *
 * A reading after a long pause weighs a lot (time-aware), and so does its noise: the variance
 * of the level's error is tracked (in units of the noise variance, P' = (1-a)^2 P + a^2), and
 * the spread of the next readings is widened by it until it has decayed back to normal.
 */
import { Json } from "../json";
import { Forecaster, lineTime } from "./forecaster";
import { alpha, numbers } from "./smoothing";

export class Ewma implements Forecaster {
  readonly method = "ewma";
  count = 0;
  private L = 0;
  /** Variance of the level's error, in units of the reading noise's variance. */
  private P = 1;

  constructor(private readonly halfLife: number) {}

  update(dt: number, value: number): void {
    this.count++;
    // The first readings average plainly (weight at least 1/n): no lean on the first value.
    const a = this.count === 1 ? 1 : Math.max(alpha(dt, this.halfLife), 1 / this.count);
    this.L += a * (value - this.L);
    this.P = (1 - a) * (1 - a) * this.P + a * a;
  }

  expect(): number {
    return this.L;
  }

  /**
   * A local-level model k typical steps ahead: 1 + (k - 1) a^2 one-step variances, times how
   * much less sure of the level we are than usual ((1 + P) / (1 + P steady), P steady = a / (2 - a)).
   */
  variance(dt: number, typical: number, sigma2: number): number {
    return sigma2 * levelSpread(dt, typical, this.halfLife, this.P);
  }

  level(): number {
    return this.L;
  }

  levelExcess(typical: number): number {
    return excess(this.P, this.halfLife, typical);
  }

  trend(): null {
    return null;
  }

  trendSignificant(): boolean {
    return false;
  }

  timeTo(limit: number, above: boolean): number | null {
    return lineTime(this.L, 0, limit, above);
  }

  restart(_dt: number, value: number): void {
    this.count++;
    this.L = value;
    this.P = 1;
  }

  relevel(level: number, since: number): void {
    this.L = level;
    this.P = Math.max(1 / Math.max(1, since), this.P);
  }

  toJSON(): Json {
    return [this.count, this.L, this.P];
  }

  static from(halfLife: number, json: unknown): Ewma {
    const [count, L, P] = numbers(json, 3, "ewma");
    const f = new Ewma(halfLife);
    f.count = count;
    f.L = L;
    f.P = P;
    return f;
  }
}

/** P over its steady state a / (2 - a) for the typical interval. */
export function excess(P: number, halfLife: number, typical: number): number {
  const a = alpha(typical, halfLife);
  return Math.max(0, P - a / (2 - a));
}

/** The local-level variance factor k typical steps ahead with level error P (see Ewma.variance). */
export function levelSpread(dt: number, typical: number, halfLife: number, P: number): number {
  const a = alpha(typical, halfLife);
  const k = typical > 0 ? dt / typical : 1;
  const steady = a / (2 - a);
  return (1 + Math.max(0, k - 1) * a * a) * ((1 + Math.max(P, steady)) / (1 + steady));
}
