/**
 * Per-key rate limit with a trailing edge: `touch(key)` emits at once when the key was not
 * emitted in the last `intervalMs`, else once when the interval is over, however many touches
 * came in between (what is emitted is read at that moment, so the last state always goes out).
 * `twin-link` uses it to publish each twin's retained state at most once per interval, and the
 * Home Assistant bridge each twin's state topic.
 *
 * Cost does not grow with the number of keys per touch: keys sit in a Map in the order they were
 * last emitted, so the oldest emission is at the front; one timer serves the pending keys, and
 * keys whose interval is over are dropped from the front as time goes on.
 */

export interface ThrottleTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: ThrottleTimers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Keys emitted per timer turn at most; the rest follow on the next turns (a timer of 0 ms).
 * Keys due together drift into one batch over time (a late timer emits every key due by then at
 * the same time, and they come due again together), and a batch of a thousand twins' documents
 * emitted in one turn stalls the event loop for tens of milliseconds.
 */
const PER_TICK = 64;

export class Throttle {
  /** Key -> when it was last emitted, oldest first. */
  private readonly sent = new Map<string, number>();
  /** Keys touched since their last emission, waiting for their interval to end. */
  private readonly pending = new Set<string>();
  private timer: unknown = null;
  private closed = false;

  constructor(
    readonly intervalMs: number,
    private readonly emit: (key: string) => void,
    private readonly clock: () => number = Date.now,
    private readonly timers: ThrottleTimers = realTimers,
  ) {}

  /** Keys waiting for their interval to end. */
  get waiting(): number {
    return this.pending.size;
  }

  touch(key: string): void {
    if (this.closed) return;
    if (!(this.intervalMs > 0)) return this.emit(key);
    const now = this.clock();
    const last = this.sent.get(key);
    if (last !== undefined && now - last < this.intervalMs) {
      this.pending.add(key);
      this.schedule(now);
      return;
    }
    this.prune(now, 2);
    this.pending.delete(key);
    this.sent.delete(key);
    this.sent.set(key, now);
    this.emit(key);
  }

  /** Forgets a key: a touch that waits is dropped, and the next touch emits at once. */
  forget(key: string): void {
    this.pending.delete(key);
    this.sent.delete(key);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    this.pending.clear();
    this.sent.clear();
  }

  /** Drops up to `max` keys from the front whose interval is over and that nothing waits on. */
  private prune(now: number, max: number): void {
    for (const [key, last] of this.sent) {
      if (max-- <= 0 || now - last < this.intervalMs || this.pending.has(key)) return;
      this.sent.delete(key);
    }
  }

  private schedule(now: number): void {
    if (this.timer !== null || this.pending.size === 0) return;
    let due = now + this.intervalMs;
    for (const last of this.sent.values()) {
      due = last + this.intervalMs;
      break;
    }
    this.timer = this.timers.set(() => this.tick(), Math.max(0, due - now));
  }

  private tick(): void {
    this.timer = null;
    if (this.closed) return;
    const now = this.clock();
    const due: string[] = [];
    for (const [key, last] of this.sent) {
      if (now - last < this.intervalMs || due.length >= PER_TICK) break;
      this.sent.delete(key);
      if (this.pending.delete(key)) due.push(key);
    }
    for (const key of due) this.sent.set(key, now);
    for (const key of due) {
      if (this.closed) return;
      this.emit(key);
    }
    this.schedule(now);
  }
}
