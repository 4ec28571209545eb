/**
 * A bounded ring of numbers, oldest first: the window that `linear` fits and the robust
 * statistics read. Memory and every operation are bounded by its capacity.
 */
export class Ring {
  private items: number[] = [];
  private start = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length;
  }

  push(x: number): void {
    if (this.items.length < this.capacity) {
      this.items.push(x);
      return;
    }
    this.items[this.start] = x;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The k-th oldest item. */
  at(k: number): number {
    return this.items[(this.start + k) % this.items.length];
  }

  /** Oldest first. */
  toArray(): number[] {
    return this.items.length < this.capacity || this.start === 0
      ? this.items.slice()
      : this.items.slice(this.start).concat(this.items.slice(0, this.start));
  }

  /** Drops the newest `k` items. */
  dropNewest(k: number): void {
    const all = this.toArray();
    this.items = all.slice(0, Math.max(0, all.length - k));
    this.start = 0;
  }

  /** Adds `delta` to every item. */
  addAll(delta: number): void {
    for (let i = 0; i < this.items.length; i++) this.items[i] += delta;
  }

  /** Adds `delta` to the oldest `count` items. */
  addOldest(count: number, delta: number): void {
    const n = Math.min(count, this.items.length);
    for (let k = 0; k < n; k++) this.items[(this.start + k) % this.items.length] += delta;
  }

  /** A ring of this capacity holding `values` (oldest first; the oldest are dropped when too many). */
  static of(capacity: number, values: unknown): Ring {
    const ring = new Ring(capacity);
    if (!Array.isArray(values) || !values.every((v) => typeof v === "number" && Number.isFinite(v))) throw new Error("bad window state");
    for (const v of values.slice(Math.max(0, values.length - capacity))) ring.push(v as number);
    return ring;
  }
}
