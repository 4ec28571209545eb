/**
 * Time-aware exponential smoothing: weights come from a half-life in seconds and the time
 * elapsed since the last reading, never from a count of readings, so irregular sampling and
 * gaps weigh each reading by the time it stands for.
 */

/**
 * A gap: more than this many typical intervals without a reading. The detector gives the reading
 * after it no verdict, a method starts its level again (if the gap is also long in half-lives),
 * and the threshold tracker counts a gap as this many intervals of the time its readings cover.
 */
export const GAP_STEPS = 10;

/** Share of the old estimate left after `dt` seconds: 2^(-dt / halfLife). */
export function keep(dt: number, halfLife: number): number {
  if (!(halfLife > 0)) return 0;
  return Math.exp((-dt * Math.LN2) / halfLife);
}

/** Weight of a new reading after `dt` seconds: alpha = 1 - exp(-dt ln2 / halfLife). */
export function alpha(dt: number, halfLife: number): number {
  if (!(halfLife > 0)) return 1;
  return -Math.expm1((-dt * Math.LN2) / halfLife);
}

/**
 * An exponentially weighted mean and variance (West's update). The first readings are a plain
 * running mean (the weight is at least 1/n), so the estimate is unbiased from the start instead
 * of leaning on its initial value.
 */
export class EwStats {
  n = 0;
  mean = 0;
  variance = 0;

  /** Takes `x` with the weight `a` (0..1) its elapsed time earned. */
  add(x: number, a: number): void {
    this.n++;
    const w = Math.max(a, 1 / this.n);
    const d = x - this.mean;
    this.mean += w * d;
    this.variance = (1 - w) * (this.variance + w * d * d);
  }

  toJSON(): number[] {
    return [this.n, this.mean, this.variance];
  }

  static from(json: unknown): EwStats {
    const [n, mean, variance] = numbers(json, 3, "stats");
    const s = new EwStats();
    s.n = n;
    s.mean = mean;
    s.variance = variance;
    return s;
  }
}

const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * Rounds to `digits` significant digits (kills float noise such as 0.1000000000000014), as
 * Number(x.toPrecision(digits)) does, without the string: that was a third of a reading's cost.
 * Halves round away from zero, as toPrecision does; the scaling is by an exact power of ten.
 */
export function roundSig(x: number, digits: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const k = digits - 1 - Math.floor(Math.log10(Math.abs(x)));
  if (k > 22 || k < -22) return Number(x.toPrecision(digits));
  return atDecimals(x, k);
}

/**
 * Rounds to `k` decimals (a whole number or Infinity; k < 0: to a multiple of 10^-k), halves away
 * from zero, by an exact power of ten so that the result is the double nearest the decimal; never
 * to more than 15 significant digits (past them the scaling would add the noise it removes).
 */
export function roundAt(x: number, k: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const d = Math.min(k, 14 - Math.floor(Math.log10(Math.abs(x))));
  if (!Number.isInteger(d)) throw new RangeError(`roundAt: ${k} decimals`);
  if (d > 22 || d < -22) return Number(x.toPrecision(15));
  return atDecimals(x, d);
}

/** `x` rounded to `d` decimals (-22 to 22) by an exact power of ten, halves away from zero. */
function atDecimals(x: number, d: number): number {
  const a = Math.abs(x);
  const r = d >= 0 ? Math.round(a * POW10[d]) / POW10[d] : Math.round(a / POW10[-d]) * POW10[-d];
  return x < 0 ? -r : r;
}

/** Reads `count` finite numbers from a JSON array; throws on anything else (a restore then starts fresh). */
export function numbers(json: unknown, count: number, what: string): number[] {
  if (!Array.isArray(json) || json.length !== count || !json.every((v) => typeof v === "number" && Number.isFinite(v))) {
    throw new Error(`bad ${what} state`);
  }
  return json as number[];
}
