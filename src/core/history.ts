/**
 * Bounded history of one numeric property: a ring buffer over two typed arrays (16 bytes a
 * point, no object per reading). The arrays start small and double up to the capacity, so a
 * fleet of rarely-updated twins does not pay for the full length up front.
 */
export interface Point { ts: number; value: number }

const INITIAL = 16;

export class Series {
  private ts: Float64Array;
  private values: Float64Array;
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    const n = Math.min(INITIAL, capacity);
    this.ts = new Float64Array(n);
    this.values = new Float64Array(n);
  }

  get length(): number {
    return this.size;
  }

  /** Appends a point. Points arrive in time order (older readings are refused upstream). */
  push(ts: number, value: number): void {
    if (this.size < this.ts.length) {
      const i = (this.start + this.size) % this.ts.length;
      this.ts[i] = ts;
      this.values[i] = value;
      this.size++;
      return;
    }
    if (this.ts.length < this.capacity) {
      this.grow();
      this.push(ts, value);
      return;
    }
    this.ts[this.start] = ts;
    this.values[this.start] = value;
    this.start = (this.start + 1) % this.ts.length;
  }

  private grow(): void {
    const n = Math.min(this.capacity, this.ts.length * 2);
    const ts = new Float64Array(n);
    const values = new Float64Array(n);
    for (let k = 0; k < this.size; k++) {
      const i = (this.start + k) % this.ts.length;
      ts[k] = this.ts[i];
      values[k] = this.values[i];
    }
    this.ts = ts;
    this.values = values;
    this.start = 0;
  }

  private at(k: number): number {
    return (this.start + k) % this.ts.length;
  }

  /** Index of the first point with ts >= t (binary search; the ring is in time order). */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[this.at(mid)] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Points with from <= ts <= to, oldest first; with a limit, the newest `limit` of them. */
  range(from = -Infinity, to = Infinity, limit = Infinity): Point[] {
    const first = this.lowerBound(from);
    let end = this.lowerBound(to);
    while (end < this.size && this.ts[this.at(end)] === to) end++;
    const begin = Math.max(first, end - limit);
    const out: Point[] = [];
    for (let k = begin; k < end; k++) {
      const i = this.at(k);
      out.push({ ts: this.ts[i], value: this.values[i] });
    }
    return out;
  }

  /** The latest point at or before t, or undefined. */
  valueAt(t: number): Point | undefined {
    let k = this.lowerBound(t);
    if (k < this.size && this.ts[this.at(k)] === t) {
      while (k + 1 < this.size && this.ts[this.at(k + 1)] === t) k++;
    } else {
      k -= 1;
    }
    if (k < 0) return undefined;
    const i = this.at(k);
    return { ts: this.ts[i], value: this.values[i] };
  }

  /** Compact form for the snapshot: [ts0, v0, ts1, v1, ...], oldest first. */
  toJSON(): number[] {
    const out = new Array<number>(this.size * 2);
    for (let k = 0; k < this.size; k++) {
      const i = this.at(k);
      out[2 * k] = this.ts[i];
      out[2 * k + 1] = this.values[i];
    }
    return out;
  }

  static fromJSON(capacity: number, flat: unknown): Series {
    const series = new Series(capacity);
    if (Array.isArray(flat)) {
      for (let k = 0; k + 1 < flat.length; k += 2) {
        const ts = flat[k];
        const value = flat[k + 1];
        if (typeof ts === "number" && typeof value === "number") series.push(ts, value);
      }
    }
    return series;
  }
}
