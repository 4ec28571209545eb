/**
 * Journal lines waiting to be written, held as UTF-8 bytes from the moment they are appended
 * (and a snapshot's slice of twin lines, built the same way).
 *
 * Held as strings for a batched store's window (up to 100 ms), every waiting line outlived the
 * young generation's collections and was copied into the old one: at high rates that copying
 * made a batched store slower than a strict one (BENCHMARKS.md, section 1). Bytes in a Buffer
 * live outside the JavaScript heap, so the collector never copies them.
 *
 * Lines go into one buffer, grown (copied) when a batch does not fit; what is taken for a write
 * is a view of that buffer, which is the writer's from then on: the queue never writes into it
 * again unless the writer hands it back, written (`written`, then it serves a later batch) or
 * not (`putBack`). Fresh memory costs the kernel a page fault for every 4 KB the first time it
 * is written; reusing two buffers of a batch's size, the journal's bytes go into memory that is
 * there already, and a batch is never copied into one buffer from several.
 */
/**
 * The first buffer's size (memory the kernel maps only as it is written); buffers are then made
 * at the largest batch's size, up to KEEP. A snapshot's slice (about 1 MB) fits without growing.
 */
const FIRST = 2 * 1024 * 1024;
/** The largest buffer kept for reuse: a burst's (or a long outage's) batch is not held on to for ever. */
const KEEP = 4 * 1024 * 1024;
/** Buffers kept for reuse: one being written, one filling, and one more for a batch that waits for a slow write. */
const SPARE = 2;
const NOTHING = Buffer.alloc(0);
/** Room pushWritten makes before a line is written into the buffer. */
const DIRECT_ROOM = 4096;

export class LineQueue {
  /** Batches handed back after a failed write, to be written first, in order. */
  private back: Buffer[] = [];
  /** The buffer lines go into now; `used` bytes of it are lines. */
  private current: Buffer | null = null;
  private used = 0;
  /** The size buffers are made at: the largest a batch needed so far. */
  private size = FIRST;
  /** Memory made here (only that is ever reused), and the part of it a writer holds (taken, not handed back yet). */
  private ours = new WeakSet<ArrayBuffer>();
  private lent = new Set<ArrayBuffer>();
  private spare: Buffer[] = [];

  get empty(): boolean {
    return this.back.length === 0 && this.used === 0;
  }

  /** Appends `line` (no newline in it: JSON.stringify makes none) and a newline. */
  push(line: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
    const most = line.length * 3 + 1;
    if (this.current === null || this.used + most > this.current.length) this.grow(this.used + most);
    const buffer = this.current as Buffer;
    this.used += buffer.write(line, this.used, "utf8");
    buffer[this.used++] = 10;
  }

  /**
   * Appends the line `write` puts straight into the queue's buffer (newline included), which
   * returns the offset past it, or -1 when it did not write it (no room, a form it leaves to
   * JSON.stringify): then `line(item)` is appended as push() does. What a -1 left behind lies
   * past the queued lines and is written over.
   */
  pushWritten<T>(item: T, write: (item: T, buffer: Buffer, offset: number) => number, line: (item: T) => string): void {
    // Room for a typical line without asking `write`: it checks its own bounds besides.
    if (this.current === null || this.used + DIRECT_ROOM > this.current.length) this.grow(this.used + DIRECT_ROOM);
    const end = write(item, this.current as Buffer, this.used);
    if (end >= 0) this.used = end;
    else this.push(line(item));
  }

  /** A current buffer with room for `need` bytes, holding the lines the current one held. */
  private grow(need: number): void {
    if (need > this.size) this.size = Math.min(KEEP, Math.max(need, this.size * 2));
    let next = this.spare.pop();
    while (next !== undefined && next.length < need) next = this.spare.pop();
    if (next === undefined) {
      // Doubling past KEEP too: a line is never copied more than a few times, however big the batch.
      next = Buffer.allocUnsafe(Math.max(this.size, need, this.current === null ? 0 : this.current.length * 2));
      this.ours.add(next.buffer as ArrayBuffer);
    }
    if (this.current !== null && this.used > 0) this.current.copy(next, 0, 0, this.used);
    this.current = next;
  }

  /** Every line queued, in order, as one buffer; the queue is empty after. */
  take(): Buffer {
    let taken: Buffer | null = null;
    if (this.current !== null && this.used > 0) {
      taken = this.current.subarray(0, this.used);
      this.current = null;
      this.used = 0;
    }
    if (this.back.length === 0) {
      if (taken === null) return NOTHING;
      this.lent.add(taken.buffer as ArrayBuffer);
      return taken;
    }
    // After a failed write (rare): what came back goes first, copied into one buffer with what came since.
    const parts = taken === null ? this.back : [...this.back, taken];
    this.back = [];
    if (parts.length === 1) {
      this.lent.add(parts[0].buffer as ArrayBuffer);
      return parts[0];
    }
    const out = Buffer.concat(parts);
    for (const part of parts) this.reuse(part);
    return out;
  }

  /** The writer is done with a buffer it took: its bytes are on disk, and its memory serves a later batch. */
  written(batch: Buffer): void {
    if (this.lent.delete(batch.buffer as ArrayBuffer)) this.reuse(batch);
  }

  /** Puts back a batch whose write failed, to be written before everything queued since. */
  putBack(bytes: Buffer): void {
    this.lent.delete(bytes.buffer as ArrayBuffer);
    if (bytes.length) this.back.unshift(bytes);
  }

  /** Keeps a buffer of ours that nobody holds any more. */
  private reuse(part: Buffer): void {
    const memory = part.buffer as ArrayBuffer;
    if (this.spare.length >= SPARE || memory.byteLength < this.size || memory.byteLength > KEEP || !this.ours.has(memory)) return;
    this.spare.push(Buffer.from(memory));
  }
}
