/**
 * The on-disk store: an append-only journal plus a snapshot, in one directory.
 *
 *   snapshot.jsonl          header line {format, version, lsn}, then one twin per line
 *   journal-<first lsn>.log one journal entry per line, appended, fsynced
 *
 * A snapshot is written beside the live journal without stopping it: the journal is rotated
 * first, twins are serialised in short slices (each twin carries the sequence number of its
 * last change, so entries the snapshot already holds are skipped on replay), the file is
 * fsynced and renamed into place, and only then are the older journals deleted. A crash at
 * any point leaves either the old snapshot with every journal, or the new one.
 */
import * as fs from "fs";
import * as path from "path";
import { TwinError } from "../errors";
import { JournalEntry, TwinRecord } from "../journal";
import { StringDecoder } from "string_decoder";
import { Store, Recovered, RecoveryVisitor, StoreHealth, SnapshotSource } from "./store";

/** The asynchronous calls the write path makes; tests pass a wrapper that fails on demand. */
export interface FileIO {
  write(fd: number, buffer: Buffer, offset: number, length: number, position: null, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  ftruncate(fd: number, len: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
}

export interface FileStoreOptions {
  dir: string;
  mode: "strict" | "batched";
  /** Longest time a change waits for its fsync in `batched` mode. */
  intervalMs?: number;
  /** Journal size that makes a snapshot worth writing (grows with the snapshot itself). */
  compactBytes?: number;
  /** Longest synchronous step while writing a snapshot. */
  sliceMs?: number;
  retryMs?: number;
  io?: FileIO;
}

const SNAPSHOT = "snapshot.jsonl";
const SNAPSHOT_TMP = "snapshot.jsonl.tmp";
const JOURNAL = /^journal-(\d+)\.log$/;
const FORMAT = "twinwire-snapshot";

type Waiter = (err?: Error) => void;

export class FileStore implements Store {
  readonly mode: "strict" | "batched";
  readonly stats = { compactions: 0, longestSliceMs: 0, journalBytes: 0 };
  private readonly dir: string;
  private readonly io: FileIO;
  private readonly intervalMs: number;
  private readonly compactBytes: number;
  private readonly sliceMs: number;
  private readonly retryMs: number;
  private fd: number | null = null;
  private journalFile = "";
  /** Bytes of the current journal known to be on disk; a failed write is cut back to here. */
  private offset = 0;
  private pending: string[] = [];
  private pendingWaiters: Waiter[] = [];
  private inflight = false;
  private inflightWaiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  /** A failed write may have left part of a line: cut back to `offset` before writing again. */
  private needsCutBack = false;
  /** When the oldest change still waiting in `pending` arrived. */
  private pendingSince = 0;
  private closed = false;
  private compacting: Promise<void> | null = null;
  private snapshotBytes = 0;
  private healthListeners: Array<(h: StoreHealth) => void> = [];

  constructor(options: FileStoreOptions) {
    this.dir = options.dir;
    this.mode = options.mode;
    this.io = options.io ?? fs;
    this.intervalMs = options.intervalMs ?? 100;
    this.compactBytes = options.compactBytes ?? 16 * 1024 * 1024;
    this.sliceMs = options.sliceMs ?? 10;
    this.retryMs = options.retryMs ?? 1000;
  }

  recover(visit?: RecoveryVisitor): Recovered {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.rmSync(path.join(this.dir, SNAPSHOT_TMP), { force: true });
    const warnings: string[] = [];
    const records: TwinRecord[] = [];
    const entries: JournalEntry[] = [];
    const onRecord = visit ? (r: TwinRecord) => visit.record(r) : (r: TwinRecord) => records.push(r);
    const onEntry = visit ? (e: JournalEntry) => visit.entry(e) : (e: JournalEntry) => entries.push(e);
    let lsn = 0;

    const snapshotPath = path.join(this.dir, SNAPSHOT);
    if (fs.existsSync(snapshotPath)) {
      const read = readLines(snapshotPath, (line, n) => {
        if (n === 0) {
          const header = parseLine(line) as { format?: string; lsn?: number } | undefined;
          if (!header || header.format !== FORMAT) warnings.push(`snapshot ${snapshotPath} has no valid header; reading its twins anyway`);
          else if (typeof header.lsn === "number") lsn = header.lsn;
          return;
        }
        if (line === "") return;
        const rec = parseLine(line) as TwinRecord | undefined;
        if (!rec) return void warnings.push(`snapshot line ${n + 1} is damaged and was skipped`);
        if (typeof rec.l === "number" && rec.l > lsn) lsn = rec.l;
        onRecord(rec);
      });
      this.snapshotBytes = read.bytes;
    }

    const journals = this.journalFiles();
    journals.forEach((file, k) => {
      const full = path.join(this.dir, file.name);
      const read = readLines(full, (line, n) => {
        if (line === "") return;
        const entry = parseLine(line) as JournalEntry | undefined;
        if (!entry || typeof entry.l !== "number") return void warnings.push(`journal ${file.name} line ${n + 1} is damaged and was skipped`);
        if (entry.l > lsn) lsn = entry.l;
        onEntry(entry);
      });
      this.stats.journalBytes += read.bytes;
      if (read.tail !== "") {
        // A write cut short by a crash: the change was never acknowledged, so dropping it is safe.
        const last = k === journals.length - 1;
        warnings.push(`journal ${file.name} ends in a torn line${last ? "" : " (not the last journal)"}; it was skipped`);
        fs.truncateSync(full, read.complete);
      }
    });

    this.openJournal(lsn + 1);
    return { records, entries, lsn, warnings };
  }

  private journalFiles(): Array<{ name: string; first: number }> {
    return fs
      .readdirSync(this.dir)
      .map((name) => ({ name, match: JOURNAL.exec(name) }))
      .filter((f) => f.match)
      .map((f) => ({ name: f.name, first: Number((f.match as RegExpExecArray)[1]) }))
      .sort((a, b) => a.first - b.first);
  }

  private openJournal(first: number): void {
    const name = `journal-${String(first).padStart(16, "0")}.log`;
    const fd = fs.openSync(path.join(this.dir, name), "a");
    const previous = this.fd;
    this.fd = fd;
    this.journalFile = name;
    this.offset = fs.fstatSync(fd).size;
    if (previous !== null && previous !== fd) fs.closeSync(previous);
  }

  health(): StoreHealth {
    return this.failure ? { ok: false, error: describe(this.failure) } : { ok: true };
  }

  onHealth(listener: (health: StoreHealth) => void): void {
    this.healthListeners.push(listener);
  }

  append(entry: JournalEntry): void {
    if (this.closed) throw new TwinError("store-closed");
    if (this.failure) throw new TwinError("store-unavailable", { reason: describe(this.failure) });
    if (this.pending.length === 0) this.pendingSince = Date.now();
    this.pending.push(JSON.stringify(entry) + "\n");
    this.schedule();
  }

  whenDurable(callback: Waiter): void {
    if (this.mode === "batched") return callback();
    if (this.pending.length) this.pendingWaiters.push(callback);
    else if (this.inflight) this.inflightWaiters.push(callback);
    else callback();
  }

  private schedule(): void {
    if (this.inflight || this.failure) return;
    if (this.mode === "strict") {
      // Group commit: every change made in this turn of the event loop shares one fsync.
      if (!this.immediate) this.immediate = setImmediate(() => this.writeBatch());
    } else if (!this.timer) {
      // Counted from the oldest waiting change, so a change that arrived during the previous
      // write still reaches the disk within the interval (plus that fsync).
      const wait = Math.max(0, this.pendingSince + this.intervalMs - Date.now());
      this.timer = setTimeout(() => this.writeBatch(), wait);
    }
  }

  private writeBatch(): void {
    this.immediate = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight) {
      if (this.failure) this.scheduleRetry();
      return;
    }
    if (this.fd === null || this.pending.length === 0) return;
    const fd = this.fd;
    if (this.needsCutBack) return this.cutBack(fd, () => this.writeBatch());
    const text = this.pending.join("");
    const buffer = Buffer.from(text, "utf8");
    this.pending = [];
    this.inflight = true;
    this.inflightWaiters = this.pendingWaiters;
    this.pendingWaiters = [];
    this.io.write(fd, buffer, 0, buffer.length, null, (err, written) => {
      if (err || written !== buffer.length) return this.failed(text, err ?? shortWrite(written, buffer.length));
      this.io.fdatasync(fd, (syncErr) => {
        if (syncErr) return this.failed(text, syncErr);
        this.offset += buffer.length;
        this.stats.journalBytes += buffer.length;
        this.inflight = false;
        const waiters = this.inflightWaiters;
        this.inflightWaiters = [];
        if (this.failure) {
          this.failure = null;
          this.emitHealth();
        }
        for (const w of waiters) w();
        if (this.pending.length) this.schedule();
      });
    });
  }

  private failed(text: string, err: Error): void {
    // Keep the batch and try again later, first cutting the journal back to its last whole
    // line: what was stored before stays intact and the batch is written once the disk recovers.
    this.needsCutBack = true;
    if (text) this.pending.unshift(text);
    this.inflight = false;
    if (this.fd !== null) this.cutBack(this.fd, () => undefined);
    const wasOk = !this.failure;
    this.failure = err;
    const waiters = this.inflightWaiters.concat(this.pendingWaiters);
    this.inflightWaiters = [];
    this.pendingWaiters = [];
    if (wasOk) this.emitHealth();
    const error = new TwinError("store-unavailable", { reason: describe(err) });
    for (const w of waiters) w(error);
    this.scheduleRetry();
  }

  /** Truncates the journal to its last whole line; nothing is written until that succeeded. */
  private cutBack(fd: number, then: () => void): void {
    if (this.inflight) return;
    this.inflight = true;
    this.io.ftruncate(fd, this.offset, (err) => {
      this.inflight = false;
      if (err) {
        this.failure = err;
        this.scheduleRetry();
        return;
      }
      this.needsCutBack = false;
      then();
    });
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.writeBatch();
    }, this.retryMs);
  }

  private emitHealth(): void {
    const h = this.health();
    for (const l of this.healthListeners) l(h);
  }

  flush(): Promise<void> {
    if (this.failure) return Promise.reject(new TwinError("store-unavailable", { reason: describe(this.failure) }));
    if (!this.pending.length && !this.inflight) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = (err) => (err ? reject(err) : resolve());
      if (this.pending.length) this.pendingWaiters.push(waiter);
      else this.inflightWaiters.push(waiter);
      if (!this.inflight && !this.failure) this.writeBatch();
    });
  }

  wantsCompaction(): boolean {
    return !this.compacting && !this.failure && this.stats.journalBytes > Math.max(this.compactBytes, this.snapshotBytes);
  }

  compact(source: () => SnapshotSource): Promise<void> {
    if (!this.compacting) {
      this.compacting = this.writeSnapshot(source).finally(() => {
        this.compacting = null;
      });
    }
    return this.compacting;
  }

  private async writeSnapshot(source: () => SnapshotSource): Promise<void> {
    if (this.closed) return;
    await this.flush();
    // Rotate: from here on, changes go to a journal the snapshot does not replace.
    const { snap, obsolete } = this.timed(() => {
      const snap = source();
      const older = this.journalFiles().map((f) => f.name);
      this.openJournal(snap.lsn + 1);
      return { snap, obsolete: older.filter((name) => name !== this.journalFile) };
    });
    const journalBytes = this.stats.journalBytes;
    this.stats.journalBytes = 0;

    const tmp = path.join(this.dir, SNAPSHOT_TMP);
    const fd = await call<number>((cb) => fs.open(tmp, "w", cb));
    let bytes = 0;
    try {
      const header = JSON.stringify({ format: FORMAT, version: 1, lsn: snap.lsn, created: Date.now() }) + "\n";
      bytes += await writeAll(fd, header);
      const lines = snap.lines();
      let done = false;
      while (!done) {
        if (this.closed) throw new Error("store closed during snapshot");
        const text = this.timed(() => {
          const started = performance.now();
          const chunk: string[] = [];
          let size = 0;
          do {
            const next = lines.next();
            if (next.done) {
              done = true;
              break;
            }
            chunk.push(next.value, "\n");
            size += next.value.length + 1;
          } while (performance.now() - started < this.sliceMs && size < 1024 * 1024);
          return chunk.join("");
        });
        bytes += await writeAll(fd, text);
        await new Promise((r) => setImmediate(r));
      }
      await call((cb) => fs.fdatasync(fd, cb));
      await call((cb) => fs.close(fd, cb));
    } catch (err) {
      fs.close(fd, () => fs.rm(tmp, { force: true }, () => undefined));
      this.stats.journalBytes += journalBytes;
      throw err;
    }
    await call((cb) => fs.rename(tmp, path.join(this.dir, SNAPSHOT), cb));
    await syncDir(this.dir);
    for (const name of obsolete) await call((cb) => fs.rm(path.join(this.dir, name), { force: true }, cb));
    this.snapshotBytes = bytes;
    this.stats.compactions++;
  }

  /** Runs one synchronous step of a snapshot and keeps the longest (the event-loop stall). */
  private timed<T>(step: () => T): T {
    const started = performance.now();
    try {
      return step();
    } finally {
      this.stats.longestSliceMs = Math.max(this.stats.longestSliceMs, performance.now() - started);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    let error: unknown;
    try {
      await this.flush();
    } catch (err) {
      error = err;
    }
    this.closed = true;
    if (this.compacting) await this.compacting.catch(() => undefined);
    for (const t of [this.timer, this.retryTimer]) if (t) clearTimeout(t);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    if (error) throw error;
  }
}

/**
 * Reads a file line by line in 1 MB chunks (a snapshot of 100,000 twins is over 100 MB: never
 * held whole). Returns the unterminated last line, and the bytes up to the last newline.
 */
function readLines(file: string, onLine: (line: string, n: number) => void): { tail: string; bytes: number; complete: number } {
  const fd = fs.openSync(file, "r");
  const decoder = new StringDecoder("utf8");
  const buffer = Buffer.allocUnsafe(1 << 20);
  let rest = "";
  let n = 0;
  let bytes = 0;
  let complete = 0;
  try {
    for (;;) {
      const read = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) break;
      bytes += read;
      const text = rest + decoder.write(buffer.subarray(0, read));
      let start = 0;
      for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", start)) {
        const line = text.slice(start, i);
        complete += Buffer.byteLength(line) + 1;
        onLine(line, n++);
        start = i + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
  } finally {
    fs.closeSync(fd);
  }
  return { tail: rest, bytes, complete };
}

function parseLine(line: string | undefined): unknown {
  if (!line) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function writeAll(fd: number, text: string): Promise<number> {
  const buffer = Buffer.from(text, "utf8");
  return new Promise((resolve, reject) =>
    fs.write(fd, buffer, 0, buffer.length, null, (err, written) => {
      if (err) reject(err);
      else if (written !== buffer.length) reject(shortWrite(written, buffer.length));
      else resolve(written);
    }),
  );
}

/** Makes a rename durable; some file systems refuse fsync on a directory, which is fine. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fd = await call<number>((cb) => fs.open(dir, "r", cb));
    await call((cb) => fs.fsync(fd, cb)).finally(() => call((cb) => fs.close(fd, cb)));
  } catch {
    /* best effort */
  }
}

function call<T = void>(start: (cb: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value as T))));
}

function shortWrite(written: number, expected: number): Error {
  return Object.assign(new Error(`short write (${written} of ${expected} bytes)`), { code: "ESHORTWRITE" });
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}: ${err.message}` : err.message;
}
