/**
 * Bounded history of one numeric property: a ring buffer over one typed array holding
 * [ts, value] pairs (16 bytes a point, no object per reading). The array starts with room for a
 * few points and doubles up to the capacity, so a fleet of rarely-updated twins does not pay for
 * the full length up front.
 */
export interface Point { ts: number; value: number }

const INITIAL = 4;

export class Series {
  /** Interleaved pairs: slot i holds ts at 2i and value at 2i + 1. */
  private data: Float64Array;
  private slots: number;
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.slots = Math.min(INITIAL, capacity);
    this.data = new Float64Array(this.slots * 2);
  }

  get length(): number {
    return this.size;
  }

  /** Appends a point. Points arrive in time order (older readings are refused upstream). */
  push(ts: number, value: number): void {
    if (this.size === this.slots && this.slots < this.capacity) this.grow();
    if (this.size < this.slots) {
      const i = ((this.start + this.size) % this.slots) * 2;
      this.data[i] = ts;
      this.data[i + 1] = value;
      this.size++;
      return;
    }
    const i = this.start * 2;
    this.data[i] = ts;
    this.data[i + 1] = value;
    this.start = (this.start + 1) % this.slots;
  }

  private grow(): void {
    const slots = Math.min(this.capacity, this.slots * 2);
    const data = new Float64Array(slots * 2);
    for (let k = 0; k < this.size; k++) {
      const i = this.at(k) * 2;
      data[2 * k] = this.data[i];
      data[2 * k + 1] = this.data[i + 1];
    }
    this.data = data;
    this.slots = slots;
    this.start = 0;
  }

  private at(k: number): number {
    return (this.start + k) % this.slots;
  }

  private tsAt(k: number): number {
    return this.data[this.at(k) * 2];
  }

  private point(k: number): Point {
    const i = this.at(k) * 2;
    return { ts: this.data[i], value: this.data[i + 1] };
  }

  /** Index of the first point with ts >= t (binary search; the ring is in time order). */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tsAt(mid) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Points with from <= ts <= to, oldest first; with a limit, the newest `limit` of them. */
  range(from = -Infinity, to = Infinity, limit = Infinity): Point[] {
    const first = this.lowerBound(from);
    let end = this.lowerBound(to);
    while (end < this.size && this.tsAt(end) === to) end++;
    const begin = Math.max(first, end - limit);
    const out: Point[] = [];
    for (let k = begin; k < end; k++) out.push(this.point(k));
    return out;
  }

  /** The latest point at or before t, or undefined. */
  valueAt(t: number): Point | undefined {
    let k = this.lowerBound(t);
    if (k < this.size && this.tsAt(k) === t) {
      while (k + 1 < this.size && this.tsAt(k + 1) === t) k++;
    } else {
      k -= 1;
    }
    if (k < 0) return undefined;
    return this.point(k);
  }

  /** Compact form for the snapshot: [ts0, v0, ts1, v1, ...], oldest first. */
  toJSON(): number[] {
    const out = new Array<number>(this.size * 2);
    for (let k = 0; k < this.size; k++) {
      const i = this.at(k) * 2;
      out[2 * k] = this.data[i];
      out[2 * k + 1] = this.data[i + 1];
    }
    return out;
  }

  static fromJSON(capacity: number, flat: unknown): Series {
    const series = new Series(capacity);
    if (Array.isArray(flat)) {
      // Room for every stored point at once, instead of doubling up to it.
      const slots = Math.min(capacity, Math.max(series.slots, flat.length >> 1));
      if (slots > series.slots) {
        series.slots = slots;
        series.data = new Float64Array(slots * 2);
      }
      for (let k = 0; k + 1 < flat.length; k += 2) {
        const ts = flat[k];
        const value = flat[k + 1];
        if (typeof ts === "number" && typeof value === "number") series.push(ts, value);
      }
    }
    return series;
  }
}
