/**
 * Journal lines waiting to be written, held as UTF-8 bytes from the moment they are appended
 * (and a snapshot's slice of twin lines, built the same way).
 *
 * Held as strings for a batched store's window (up to 100 ms), every waiting line outlived the
 * young generation's collections and was copied into the old one: at high rates that copying
 * made a batched store slower than a strict one (BENCHMARKS.md, section 1). Bytes in a Buffer
 * live outside the JavaScript heap, so the collector never copies them.
 *
 * Lines go into fixed chunks; what is taken for a write is a view of the bytes written since the
 * last take, and later lines go after it in the same chunk, so a take never copies unless the
 * lines span chunks. A view taken is never written to again.
 */
const CHUNK = 256 * 1024;

export class LineQueue {
  /** Full chunks' untaken bytes, in order, and a failed write's bytes put back in front. */
  private chunks: Buffer[] = [];
  private current: Buffer | null = null;
  /** The current chunk's untaken bytes are [start, used). */
  private start = 0;
  private used = 0;

  get empty(): boolean {
    return this.chunks.length === 0 && this.used === this.start;
  }

  /** Appends `line` (no newline in it: JSON.stringify makes none) and a newline. */
  push(line: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8 (a surrogate pair, 2 units, is 4).
    const most = line.length * 3 + 1;
    if (this.current === null || this.used + most > this.current.length) {
      if (this.current !== null && this.used > this.start) this.chunks.push(this.current.subarray(this.start, this.used));
      this.current = Buffer.allocUnsafe(Math.max(CHUNK, most));
      this.start = this.used = 0;
    }
    const buffer = this.current;
    this.used += buffer.write(line, this.used, "utf8");
    buffer[this.used++] = 10;
  }

  /** Every line queued, in order, as one buffer; the queue is empty after. */
  take(): Buffer {
    if (this.current !== null && this.used > this.start) this.chunks.push(this.current.subarray(this.start, this.used));
    this.start = this.used;
    const out = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [];
    return out;
  }

  /** Puts back a batch whose write failed, to be written before everything queued since. */
  putBack(bytes: Buffer): void {
    if (bytes.length) this.chunks.unshift(bytes);
  }
}
