/**
 * The bounded outgoing queue of a link while its broker connection is down. Messages that only
 * matter as the latest of their kind (a twin's retained state, its current delta) carry a key: a
 * newer one replaces the queued one and moves to the back. When the queue is full the oldest
 * message is dropped, and counted, so a long outage costs bounded memory and the freshest
 * messages survive.
 */

export interface Outgoing {
  topic: string;
  payload: string | Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export class OutgoingQueue {
  private readonly items = new Map<string, Outgoing>();
  private seq = 0;
  /** Messages dropped because the queue was full, since the last `takeDropped()`. */
  private dropCount = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.size;
  }

  get dropped(): number {
    return this.dropCount;
  }

  /** Queues a message; returns how many older messages it pushed out. */
  push(message: Outgoing, key?: string): number {
    if (!(this.limit > 0)) {
      this.dropCount++;
      return 1;
    }
    const id = key === undefined ? `#${this.seq++}` : `k${key}`;
    this.items.delete(id);
    this.items.set(id, message);
    let dropped = 0;
    while (this.items.size > this.limit) {
      const oldest = this.items.keys().next().value as string;
      this.items.delete(oldest);
      dropped++;
    }
    this.dropCount += dropped;
    return dropped;
  }

  /** Everything queued, oldest first; the queue is then empty. */
  drain(): Outgoing[] {
    const out = [...this.items.values()];
    this.items.clear();
    return out;
  }

  /** The drop count, reset to 0. */
  takeDropped(): number {
    const n = this.dropCount;
    this.dropCount = 0;
    return n;
  }

  clear(): void {
    this.items.clear();
  }
}
