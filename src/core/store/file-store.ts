/**
 * The on-disk store: an append-only journal plus snapshots, in one directory.
 *
 *   snapshot-<lsn>.jsonl    header {format, version, lsn}, one twin per line, then a trailer
 *                           {format: "twinwire-snapshot-end", count, sha256} over the twin lines
 *   journal-<first lsn>.log one journal entry per line, appended, fsynced
 *
 * A snapshot is written beside the live journal without stopping it: the journal is rotated
 * first, twins are serialised in short slices (each twin carries the sequence number of its
 * last change, so entries the snapshot already holds are skipped on replay), the file is
 * fsynced, renamed into place and read back to verify it. Only then is anything deleted, and
 * never the previous snapshot nor the journals written since it: a snapshot found damaged at
 * start-up falls back to the one before plus those journals, and loses nothing they hold.
 *
 * Durability per mode: `strict` calls whenDurable back after the fsync that covers the change
 * (one fsync per turn of the event loop, shared by every change in it). `batched` calls back at
 * once, but never while an acknowledged change older than the interval is still unwritten: a
 * crash loses at most the changes acknowledged within one interval before the last
 * acknowledgement, however late the flush timer runs.
 */
import * as fs from "fs";
import * as path from "path";
import { createHash, Hash } from "crypto";
import { TwinError, isTwinError, showNames } from "../errors";
import { JournalEntry, TwinRecord, writeReadingLine } from "../journal";
import { Store, Recovered, RecoveryVisitor, StoreHealth, SnapshotSource } from "./store";
import { LineQueue } from "./line-queue";
import { DERIVED, DERIVED_SECTIONS } from "../sections";
import { DirLock, lockDir } from "./dir-lock";

/** The asynchronous calls the write path makes; tests pass a wrapper that fails on demand. */
export interface FileIO {
  write(fd: number, buffer: Buffer, offset: number, length: number, position: null, cb: (err: NodeJS.ErrnoException | null, written: number) => void): void;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  ftruncate(fd: number, len: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
}

export interface FileStoreOptions {
  dir: string;
  mode: "strict" | "batched";
  /** `batched`: the longest time an acknowledged change may stay unwritten. */
  intervalMs?: number;
  /** Journal size that makes a snapshot worth writing (grows with the snapshot itself). */
  compactBytes?: number;
  /** Longest synchronous step while writing a snapshot. */
  sliceMs?: number;
  retryMs?: number;
  io?: FileIO;
}

const SNAPSHOT = /^snapshot-(\d{16})\.jsonl$/;
/** The single snapshot file of format version 1, read (never written) for stores made before. */
const LEGACY_SNAPSHOT = "snapshot.jsonl";
const SNAPSHOT_TMP = "snapshot.jsonl.tmp";
const JOURNAL = /^journal-(\d+)\.log$/;
/** A journal name no version writes (a sequence number that was not a whole number). */
const ODD_JOURNAL = /^journal-(.+)\.log$/;
const FORMAT = "twinwire-snapshot";
const END = "twinwire-snapshot-end";
const VERSION = 2;
/** Snapshots kept: the newest and the one before it, the fallback when the newest is damaged. */
const GENERATIONS = 2;
/** The journal ops: the registry's own, and one per derived section (src/core/sections.ts). */
export const ENTRY_OPS: ReadonlySet<string> = new Set<string>(["c", "x", "u", "st", "n", ...DERIVED_SECTIONS.map((s) => DERIVED[s].code)]);

type Waiter = (err?: Error) => void;

interface SnapshotFile { name: string; lsn: number }

/**
 * Whether `dir` holds a file store's twins (a snapshot or a journal): what a registry switched to
 * `memory` leaves unread, and a person should hear of it rather than find the twins gone.
 */
export function holdsStoreFiles(dir: string): boolean {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return false;
  }
  return names.some((name) => SNAPSHOT.test(name) || JOURNAL.test(name) || name === LEGACY_SNAPSHOT);
}

export class FileStore implements Store {
  readonly mode: "strict" | "batched";
  readonly where = "on disk";
  readonly stats = { compactions: 0, longestSliceMs: 0, journalBytes: 0 };
  private readonly dir: string;
  private readonly io: FileIO;
  private readonly intervalMs: number;
  private readonly compactBytes: number;
  private readonly sliceMs: number;
  private readonly retryMs: number;
  private fd: number | null = null;
  private journalFile = "";
  /** First sequence number of the journal to open when the disk lets us (after a failure). */
  private nextJournal = 1;
  /** Damaged snapshots to rename *.damaged (deferred while the disk is read-only). */
  private setAside: string[] = [];
  /** Snapshots this store read whole or wrote and read back: the only ones counted as generations. */
  private readonly trusted = new Set<string>();
  /** Twins named on damaged lines of salvaged snapshots, while recovery runs. */
  private salvagedLost: Set<string> | null = null;
  /** A truncate of a torn write is running: nothing is written until it is done. */
  private cutting = false;
  /** Resolves when the write (or truncate) in progress is over. */
  private idleWaiters: Array<() => void> = [];
  /** A torn journal tail that a read-only disk kept us from cutting off: cut before writing. */
  private tornTail: { file: string; size: number } | null = null;
  /** Bytes of the current journal known to be on disk; a failed write is cut back to here. */
  private offset = 0;
  /** The directory fsync that makes the current journal's name durable, while it runs. */
  private naming: Promise<void> | null = null;
  private pending = new LineQueue();
  private pendingWaiters: Waiter[] = [];
  private inflight = false;
  private inflightWaiters: Waiter[] = [];
  /** Changes in `pending` and in the batch being written (a failed batch goes back in front of `pending`). */
  private pendingEntries = 0;
  private inflightEntries = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failure: Error | null = null;
  /** A failed write may have left part of a line: cut back to `offset` before writing again. */
  private needsCutBack = false;
  /** When (performance.now) the oldest change in `pending` was acknowledged, and the one being written. */
  private pendingSince = 0;
  private inflightSince = 0;
  private closed = false;
  private compacting: Promise<void> | null = null;
  private snapshotBytes = 0;
  private healthListeners: Array<(h: StoreHealth) => void> = [];
  /** This store's hold on the directory's lock (dir-lock.ts): none yet while the disk refuses writes. */
  private dirLock: DirLock | null = null;
  /**
   * Another process took the directory's lock over (`takenOver`): `failure` says so for good, and
   * nothing is written any more.
   */
  private fenced = false;
  /**
   * The journal was deleted while in use (its directory with it, perhaps): what it held is only in
   * memory. Changes are taken but acknowledged only once a snapshot of memory is on disk
   * (`lostWaiters`), and those made meanwhile once the new journal holds them too.
   */
  private lost = false;
  private lostWaiters: Waiter[] = [];
  /**
   * Told when the journal is found lost. A flush waiting then (a compaction's, close's) would wait
   * in `lostWaiters` for the snapshot of memory, which only that compaction or close can write.
   */
  private lossWatchers: Array<() => void> = [];
  /** The registry's snapshot source, from its last compact(): close writes memory with it once more. */
  private source: (() => SnapshotSource) | null = null;

  constructor(options: FileStoreOptions) {
    this.dir = options.dir;
    this.mode = options.mode;
    this.io = options.io ?? fs;
    this.intervalMs = options.intervalMs ?? 100;
    this.compactBytes = options.compactBytes ?? 16 * 1024 * 1024;
    this.sliceMs = options.sliceMs ?? 10;
    this.retryMs = options.retryMs ?? 1000;
  }

  /**
   * Reads the newest snapshot that verifies, then every journal entry after it. Throws only when
   * the directory cannot be made or read; a disk that can be read but not written opens the
   * store read-only (reads work, writes are refused) until the disk takes writes again.
   */
  recover(visit?: RecoveryVisitor): Recovered {
    fs.mkdirSync(this.dir, { recursive: true });
    // Before anything is read or cut: a live process holding the directory refuses this store.
    // A disk that cannot take the lock file opens read-only, below, and takes it when it can.
    let lockError: Error | null = null;
    try {
      this.lock();
    } catch (err) {
      if (isTwinError(err)) throw err;
      lockError = err as Error;
    }
    try {
      return this.recoverLocked(visit, lockError);
    } catch (err) {
      this.unlock();
      throw err;
    }
  }

  private lock(): void {
    if (this.dirLock) return;
    this.dirLock = lockDir(this.dir, (reason) => this.takenOver(reason));
  }

  private unlock(): void {
    const held = this.dirLock;
    this.dirLock = null;
    held?.release();
  }

  /** The directory is still this store's to write: checked before a write, and before it is acknowledged. */
  private stillOurs(): boolean {
    return !this.fenced && (!this.dirLock || this.dirLock.holds());
  }

  /**
   * Another process took the directory over: this one looked gone to it (its event loop held up,
   * its machine paused, past the lock's expiry). It has read the journal and writes its own now,
   * so whatever this store wrote from here on would be lost at the next start, or make that
   * process's changes lost. The store fails as on a disk error (health, changes refused, waiters
   * told), but for good: no retry, no journal made again, no snapshot. What was acknowledged
   * before is in the journal that process read.
   */
  private takenOver(reason: string): void {
    if (this.fenced || this.closed) return;
    this.fenced = true;
    this.lost = false;
    for (const t of [this.timer, this.retryTimer]) if (t) clearTimeout(t);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = this.retryTimer = null;
    this.immediate = null;
    const waiters = this.inflightWaiters.concat(this.pendingWaiters, this.lostWaiters);
    this.inflightWaiters = [];
    this.pendingWaiters = [];
    this.lostWaiters = [];
    this.failure = new Error(reason);
    this.emitHealth();
    const error = new TwinError("store-unavailable", { reason });
    for (const w of waiters) w(error);
  }

  /** A batch written while the directory was taken over: never acknowledged (its waiters were told). */
  private dropped(batch: Buffer): void {
    this.pending.written(batch);
    this.inflight = false;
    this.inflightEntries = 0;
    this.settled();
  }

  private recoverLocked(visit: RecoveryVisitor | undefined, lockError: Error | null): Recovered {
    const warnings: string[] = [];
    const records: TwinRecord[] = [];
    const entries: JournalEntry[] = [];
    const onRecord = visit ? (r: TwinRecord) => visit.record(r) : (r: TwinRecord) => records.push(r);
    const onEntry = visit ? (e: JournalEntry) => visit.entry(e) : (e: JournalEntry) => entries.push(e);
    const reset = () => (visit?.reset ? visit.reset() : (records.length = 0));
    let writeError: Error | null = lockError;
    const tryWrite = (step: () => void) => {
      try {
        step();
      } catch (err) {
        writeError ??= err as Error;
      }
    };
    tryWrite(() => fs.rmSync(path.join(this.dir, SNAPSHOT_TMP), { force: true }));

    // The newest snapshot that verifies is the base; the journals since it hold the rest.
    const snapshots = this.snapshotFiles();
    const journals = this.journalFiles();
    const damaged: SnapshotFile[] = [];
    let base: SnapshotFile | null = null;
    let lsn = 0;
    for (const snap of snapshots) {
      const result = readSnapshot(path.join(this.dir, snap.name), onRecord);
      if (result.ok) {
        base = { name: snap.name, lsn: result.lsn };
        this.trusted.add(snap.name);
        this.snapshotBytes = result.bytes;
        lsn = Math.max(lsn, result.maxLsn);
        if (result.note) warnings.push(result.note);
        break;
      }
      reset();
      damaged.push(snap);
      warnings.push(`snapshot ${snap.name} is damaged (${result.reason})`);
    }
    let baseLsn = base ? base.lsn : 0;
    // No journal at all (a backup of the snapshot alone) holds nothing either: salvage then too.
    const journalsFromStart = journals.some((f) => f.first === 1 && JOURNAL.test(f.name));
    if (!base && damaged.length && !journalsFromStart) {
      // Nothing whole holds these twins: read what can be read of every damaged snapshot, oldest
      // first (a twin's newest record wins), and replay the journals from the oldest of them,
      // which are kept for it. Only twins on the lost part of every copy stay lost.
      const salvaged = damaged.slice().reverse();
      const restored = new Set<string>();
      const named: string[] = [];
      let restoredFrom = 0;
      for (const snap of salvaged) {
        const result = readSnapshot(path.join(this.dir, snap.name), (rec) => {
          restored.add(rec.i);
          onRecord(rec);
        }, true);
        if (!result.ok) continue;
        named.push(...result.damagedIds);
        lsn = Math.max(lsn, result.maxLsn);
        if (!restoredFrom) baseLsn = result.lsn;
        restoredFrom++;
        if (result.note) warnings.push(result.note);
      }
      this.salvagedLost = new Set(named.filter((id) => !restored.has(id)));
      warnings.push(`no snapshot is whole: twins were salvaged from ${restoredFrom} damaged snapshot(s) and the journals since the oldest of them`);
    } else if (damaged.length) {
      warnings.push(base ? `restored from ${base.name} and the journals since it instead` : "restored from the journals alone, which hold every change");
      // Set aside (renamed *.damaged) so that no later start or clean-up counts them as snapshots.
      this.setAside = damaged.map((d) => d.name);
    }
    lsn = Math.max(lsn, baseLsn);

    for (const odd of journals.filter((f) => !JOURNAL.test(f.name))) {
      warnings.push(`journal ${odd.name} has a name this version never writes; its entries were read in sequence order`);
    }
    // Entries are numbered one by one: a number that jumps further than the damaged lines before
    // it explain (or goes back) is damage too, not a new start the next writes would follow. The
    // snapshot may hold changes no journal got to (it was written while they happened), so numbers
    // up to the highest it holds may be missing.
    const snapshotMax = lsn;
    let last: number | null = null;
    let skippedSinceLast = 0;
    journals.forEach((file, k) => {
      const full = path.join(this.dir, file.name);
      // Kept only as the fallback of an older snapshot: everything in it is in the base already.
      const next = journals[k + 1];
      if (next && JOURNAL.test(file.name) && JOURNAL.test(next.name) && next.first <= baseLsn + 1) return;
      const bad: number[] = [];
      const read = readLines(full, (line, n) => {
        if (line === "") return;
        const entry = parseLine(line);
        const inSequence = isEntry(entry) && (last === null || (entry.l > last && entry.l <= Math.max(last, snapshotMax) + 1 + skippedSinceLast));
        if (!inSequence) {
          bad.push(n + 1);
          skippedSinceLast++;
          return;
        }
        last = entry.l;
        skippedSinceLast = 0;
        if (entry.l <= baseLsn) return; // the snapshot holds it
        if (entry.l > lsn) lsn = entry.l;
        if (entry.o === "x") this.salvagedLost?.delete(entry.i);
        if (entry.o === "c") this.salvagedLost?.delete(entry.i);
        onEntry(entry);
      });
      if (bad.length) {
        warnings.push(`journal ${file.name}: ${bad.length} damaged line(s) skipped (line ${showNames(bad.map(String))})`);
      }
      if (file.first > baseLsn || k === journals.length - 1) this.stats.journalBytes += read.bytes;
      if (read.tail !== "") {
        // A write cut short by a crash: the change was never acknowledged, so dropping it is safe.
        const lastJournal = k === journals.length - 1;
        warnings.push(`journal ${file.name} ends in a torn line${lastJournal ? "" : " (not the last journal)"}; it was skipped`);
        try {
          fs.truncateSync(full, read.complete);
        } catch (err) {
          writeError ??= err as Error;
          if (lastJournal) this.tornTail = { file: full, size: read.complete };
        }
      }
    });
    if (this.salvagedLost?.size) {
      const ids = [...this.salvagedLost];
      warnings.push(`${ids.length} twin(s) on damaged snapshot lines could not be restored: ${showNames(ids)}`);
    }
    this.salvagedLost = null;

    this.nextJournal = lsn + 1;
    if (!writeError) tryWrite(() => this.setAsideDamaged());
    if (!writeError) tryWrite(() => this.openJournal(this.nextJournal));
    if (writeError) {
      this.fail(writeError);
      warnings.push(`the store directory cannot be written (${describe(writeError)}); twins can be read, changes are refused until it can`);
    }
    return { records, entries, lsn, warnings };
  }

  /** Snapshots, newest first (the legacy single file by the sequence number in its header). */
  private snapshotFiles(): SnapshotFile[] {
    const out: SnapshotFile[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const match = SNAPSHOT.exec(name);
      if (match) out.push({ name, lsn: Number(match[1]) });
      else if (name === LEGACY_SNAPSHOT) out.push({ name, lsn: headerOf(path.join(this.dir, name))?.lsn ?? -1 });
    }
    return out.sort((a, b) => b.lsn - a.lsn);
  }

  private journalFiles(): Array<{ name: string; first: number }> {
    const out: Array<{ name: string; first: number }> = [];
    for (const name of fs.readdirSync(this.dir)) {
      const match = ODD_JOURNAL.exec(name);
      const first = match ? Number(match[1]) : NaN;
      if (match && Number.isFinite(first)) out.push({ name, first });
    }
    return out.sort((a, b) => a.first - b.first);
  }

  /**
   * `nameLater`: the directory is fsynced in the background (a rotation while changes go on; an
   * fsync on the event loop can take as long as the disk likes), and the first write to the new
   * journal waits for it before anything in it counts as durable.
   */
  private openJournal(first: number, nameLater = false): void {
    const name = `journal-${String(first).padStart(16, "0")}.log`;
    const file = path.join(this.dir, name);
    const created = !fs.existsSync(file);
    const fd = fs.openSync(file, "a");
    // A new file's name must be durable too, or a power cut can lose a fsynced journal whole.
    if (created && nameLater) {
      const naming: Promise<void> = syncDir(this.dir).then(() => {
        if (this.naming === naming) this.naming = null;
      });
      this.naming = naming;
    } else if (created) syncDirNow(this.dir);
    const previous = this.fd;
    this.fd = fd;
    this.journalFile = name;
    this.offset = fs.fstatSync(fd).size;
    if (previous !== null && previous !== fd) fs.closeSync(previous);
  }

  /** After the disk refused writes at start-up: cut the torn tail, then open the journal. */
  private reopen(): boolean {
    try {
      this.lock();
      if (this.tornTail) {
        fs.truncateSync(this.tornTail.file, this.tornTail.size);
        this.tornTail = null;
      }
      this.setAsideDamaged();
      this.openJournal(this.nextJournal);
      return true;
    } catch (err) {
      this.failure = err as Error;
      return false;
    }
  }

  private setAsideDamaged(): void {
    while (this.setAside.length) {
      const name = this.setAside[0];
      fs.renameSync(path.join(this.dir, name), path.join(this.dir, name + ".damaged"));
      this.setAside.shift();
    }
  }

  health(): StoreHealth {
    if (!this.failure) return { ok: true };
    return { ok: false, error: describe(this.failure), unwritten: this.pendingEntries + this.inflightEntries };
  }

  onHealth(listener: (health: StoreHealth) => void): () => void {
    this.healthListeners.push(listener);
    return () => {
      const i = this.healthListeners.indexOf(listener);
      if (i >= 0) this.healthListeners.splice(i, 1);
    };
  }

  append(entry: JournalEntry): void {
    if (this.closed) throw new TwinError("store-closed");
    if (this.failure && !this.lost) throw new TwinError("store-unavailable", { reason: describe(this.failure) });
    if (!Number.isSafeInteger(entry.l) || entry.l >= Number.MAX_SAFE_INTEGER) {
      throw new TwinError("store-unavailable", { reason: `sequence number ${String(entry.l)} is not a safe whole number` });
    }
    if (this.pending.empty) this.pendingSince = performance.now();
    // A reading's entry is written into the batch as bytes, without a string of it first.
    this.pending.pushWritten(entry, writeReadingLine, lineOf);
    this.pendingEntries++;
    this.schedule();
  }

  whenDurable(callback: Waiter): void {
    if (this.lost) return void this.lostWaiters.push(callback);
    if (this.mode === "batched") return this.acknowledge(callback);
    if (!this.pending.empty) this.pendingWaiters.push(callback);
    else if (this.inflight) this.inflightWaiters.push(callback);
    else callback();
  }

  /**
   * batched: the window is bound to acknowledgements, not to the timer. While a change
   * acknowledged longer ago than the interval is unwritten, nothing more is acknowledged: the
   * callback waits for the write that covers it, which starts at once.
   */
  private acknowledge(callback: Waiter): void {
    const now = performance.now();
    if (!this.pending.empty && now - this.pendingSince >= this.intervalMs) {
      this.pendingWaiters.push(callback);
      if (!this.inflight && !this.cutting && !this.failure) this.writeBatch();
      return;
    }
    if (this.inflight && now - this.inflightSince >= this.intervalMs) return void this.inflightWaiters.push(callback);
    // The flush timer is due half an interval after the oldest waiting change, but it runs only
    // between turns of the event loop: behind a long turn (a socket read of thousands of MQTT
    // readings) it ran late, the write and its fsync then outlasted the window, and every
    // acknowledgement waited for them. Started from here, the write keeps its time.
    if (!this.pending.empty && !this.inflight && now - this.pendingSince >= this.intervalMs / 2 && !this.cutting && !this.failure) this.writeBatch();
    callback();
  }

  private schedule(): void {
    if (this.inflight || this.cutting || this.failure) return;
    if (this.mode === "strict") {
      // Group commit: every change made in this turn of the event loop shares one fsync.
      if (!this.immediate) this.immediate = setImmediate(() => this.writeBatch());
    } else if (!this.timer) {
      // Half the interval after the oldest waiting change, so the write and its fsync usually
      // finish before acknowledgements would have to wait for them.
      const wait = Math.max(0, this.pendingSince + this.intervalMs / 2 - performance.now());
      this.timer = setTimeout(() => this.writeBatch(), wait);
    }
  }

  private writeBatch(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.fenced) return;
    if (this.inflight || this.cutting) {
      if (this.failure) this.scheduleRetry();
      return;
    }
    if (this.fd === null) {
      if (this.closed || !this.reopen()) return this.scheduleRetry();
      this.healed();
    }
    const fd = this.fd as number;
    if (this.pending.empty) return;
    // Nothing is written, nor cut back, into a directory another process has taken over.
    if (!this.stillOurs()) return;
    if (this.needsCutBack) return this.cutBack(fd, () => this.writeBatch());
    const buffer = this.pending.take();
    this.inflightEntries = this.pendingEntries;
    this.pendingEntries = 0;
    this.inflightSince = this.pendingSince;
    this.inflight = true;
    // Waiters may have been queued for a write that failed or was being cut back: keep them.
    this.inflightWaiters = this.inflightWaiters.concat(this.pendingWaiters);
    this.pendingWaiters = [];
    writeFully(this.io, fd, buffer, 0, (err) => {
      if (this.fenced) return this.dropped(buffer);
      if (err) return this.failed(buffer, err);
      this.io.fdatasync(fd, (syncErr) => {
        // Taken over while this batch was written (the lease ran out meanwhile): not acknowledged.
        if (!this.stillOurs()) return this.dropped(buffer);
        if (syncErr) return this.failed(buffer, syncErr);
        const changed = changedUnder(fd, this.offset + buffer.length);
        if (changed) return this.journalLost(buffer, changed);
        // On disk: its memory can take later batches.
        this.pending.written(buffer);
        if (this.naming) return void this.naming.then(() => this.written(buffer.length));
        this.written(buffer.length);
      });
    });
  }

  /** A batch is on disk (and the journal's name with it): its waiters are told. */
  private written(length: number): void {
    this.offset += length;
    this.stats.journalBytes += length;
    this.inflight = false;
    this.inflightEntries = 0;
    const waiters = this.inflightWaiters;
    this.inflightWaiters = [];
    this.healed();
    this.settled();
    if (this.mode === "batched" && !this.pending.empty && performance.now() - this.pendingSince >= this.intervalMs) {
      // Changes acknowledged while this slow write ran are now older than the window: the
      // held acknowledgements wait for them too, written at once.
      this.pendingWaiters.push(...waiters);
      this.writeBatch();
      return;
    }
    for (const w of waiters) w();
    if (!this.pending.empty) this.schedule();
  }

  /**
   * The journal's name is gone from the disk (deleted, or its directory; "to start over, delete
   * it" done while Node-RED runs): the batch just fsynced, and every change before it, would be
   * lost at the next start. Every change is in memory, so a snapshot of memory makes them durable
   * again: the registry writes it as soon as it hears of this (onHealth). Until it is on disk
   * nothing more is acknowledged (strict or batched): the waiters wait for it.
   */
  private journalLost(batch: Buffer, how: string): void {
    // In memory, so in the snapshot.
    this.pending.written(batch);
    this.inflightEntries = 0;
    this.inflight = false;
    this.lostWaiters.push(...this.inflightWaiters, ...this.pendingWaiters);
    this.inflightWaiters = [];
    this.pendingWaiters = [];
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) fs.close(fd, () => undefined);
    this.lost = true;
    const watchers = this.lossWatchers;
    this.lossWatchers = [];
    for (const w of watchers) w();
    const wasOk = !this.failure;
    this.failure = new Error(`journal ${this.journalFile} ${how}; every twin is being written again from memory`);
    this.settled();
    if (wasOk) this.emitHealth();
  }

  private healed(): void {
    if (!this.failure) return;
    this.failure = null;
    this.emitHealth();
  }

  /** Wakes what waits for the write or truncate in progress to be over (rotation, close). */
  private settled(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once no write or truncate is in progress. */
  private async idle(): Promise<void> {
    while (this.inflight || this.cutting) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private failed(batch: Buffer, err: Error): void {
    // Keep the batch and try again later, first cutting the journal back to its last whole
    // line: what was stored before stays intact and the batch is written once the disk recovers.
    this.needsCutBack = true;
    this.pendingSince = this.pending.empty ? this.inflightSince : Math.min(this.pendingSince, this.inflightSince);
    this.pending.putBack(batch);
    this.pendingEntries += this.inflightEntries;
    this.inflightEntries = 0;
    this.inflight = false;
    const waiters = this.inflightWaiters.concat(this.pendingWaiters);
    this.inflightWaiters = [];
    this.pendingWaiters = [];
    this.fail(err);
    if (this.fd !== null) this.cutBack(this.fd, () => undefined);
    else this.settled();
    const error = new TwinError("store-unavailable", { reason: describe(err) });
    for (const w of waiters) w(error);
    this.scheduleRetry();
  }

  private fail(err: Error): void {
    const wasOk = !this.failure;
    this.failure = err;
    if (wasOk) this.emitHealth();
    this.scheduleRetry();
  }

  /** Truncates the journal to its last whole line; nothing is written until that succeeded. */
  private cutBack(fd: number, then: () => void): void {
    if (this.inflight || this.cutting) return;
    this.cutting = true;
    this.io.ftruncate(fd, this.offset, (err) => {
      this.cutting = false;
      this.settled();
      if (this.fenced) return;
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
    if (this.closed || this.retryTimer || this.fenced) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.writeBatch();
    }, this.retryMs);
  }

  private emitHealth(): void {
    const h = this.health();
    for (const l of [...this.healthListeners]) l(h);
  }

  flush(): Promise<void> {
    if (this.failure) return Promise.reject(new TwinError("store-unavailable", { reason: describe(this.failure) }));
    if (this.pending.empty && !this.inflight) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = (err) => (err ? reject(err) : resolve());
      if (!this.pending.empty) this.pendingWaiters.push(waiter);
      else this.inflightWaiters.push(waiter);
      if (!this.inflight && !this.cutting && !this.failure) this.writeBatch();
    });
  }

  /** flush(), but over as soon as the journal is found lost: memory is then to be written instead. */
  private flushUnlessLost(): Promise<void> {
    if (this.lost) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onLoss = () => resolve();
      this.lossWatchers.push(onLoss);
      const off = () => {
        const i = this.lossWatchers.indexOf(onLoss);
        if (i >= 0) this.lossWatchers.splice(i, 1);
      };
      this.flush().then(
        () => (off(), resolve()),
        (err: unknown) => (off(), reject(err)),
      );
    });
  }

  wantsCompaction(): boolean {
    if (this.lost) return !this.compacting && !this.closed;
    return !this.compacting && !this.failure && this.stats.journalBytes > Math.max(this.compactBytes, this.snapshotBytes);
  }

  compact(source: () => SnapshotSource): Promise<void> {
    this.source = source;
    if (!this.compacting) {
      this.compacting = this.writeSnapshot(source).finally(() => {
        this.compacting = null;
      });
    }
    return this.compacting;
  }

  private async writeSnapshot(source: () => SnapshotSource): Promise<void> {
    if (this.closed) return;
    // After a lost journal nothing is flushed: what waited is in memory, so in this snapshot. A
    // journal found lost while this flush waits makes this the snapshot that writes memory again
    // (the flush would wait for that snapshot, which could not start while this one runs).
    if (!this.lost) await this.flushUnlessLost();
    // Rotate with no write in progress: the old journal's descriptor is closed by the rotation.
    // Checked again once this resumes, in the turn that rotates: between idle() settling and here,
    // an acknowledgement past half the window can start a write (acknowledge). Its descriptor was
    // then closed under it, and reused by the snapshot's file: its fsync and size check went to
    // that file, the journal looked cut short, and every twin was written again (found under
    // load: 50 readings in flight, a compaction every few seconds).
    await this.idle();
    while (this.inflight || this.cutting) await this.idle();
    const rewriting = this.lost;
    if (this.closed || (this.failure && !rewriting)) return;
    if (rewriting) {
      // The directory may have gone with the journal, and the lock file with it.
      fs.mkdirSync(this.dir, { recursive: true });
      this.unlock();
      this.lock();
    }
    // From here on, changes go to a journal the snapshot does not replace.
    const snap = this.timed(() => {
      if (rewriting) {
        // Changes taken since the journal was lost are in memory, so in this snapshot.
        this.pending.written(this.pending.take());
        this.pendingEntries = 0;
      }
      const snap = source();
      this.openJournal(snap.lsn + 1, true);
      this.nextJournal = snap.lsn + 1;
      return snap;
    });
    const journalBytes = this.stats.journalBytes;
    this.stats.journalBytes = 0;

    const name = `snapshot-${String(snap.lsn).padStart(16, "0")}.jsonl`;
    const tmp = path.join(this.dir, SNAPSHOT_TMP);
    let fd: number | null = await call<number>((cb) => fs.open(tmp, "w", cb));
    const hash = createHash("sha256");
    let bytes = 0;
    let count = 0;
    try {
      const header = JSON.stringify({ format: FORMAT, version: VERSION, lsn: snap.lsn, created: Date.now() }) + "\n";
      bytes += await writeAll(fd, header);
      const lines = snap.lines();
      // One queue for every slice: a slice written hands its memory to the next one.
      const slice = new LineQueue();
      let done = false;
      while (!done) {
        if (this.closed) throw new Error("store closed during snapshot");
        if (!this.stillOurs()) throw this.failure as Error;
        const chunk = this.timed(() => {
          const started = performance.now();
          let size = 0;
          do {
            const next = lines.next();
            if (next.done) {
              done = true;
              break;
            }
            slice.push(next.value);
            size += next.value.length + 1;
            count++;
          } while (performance.now() - started < this.sliceMs && size < 1024 * 1024);
          const buffer = slice.take();
          hash.update(buffer);
          return buffer;
        });
        bytes += await writeAll(fd, chunk);
        slice.written(chunk);
        await new Promise((r) => setImmediate(r));
      }
      const digest = hash.digest("hex");
      bytes += await writeAll(fd, JSON.stringify({ format: END, count, sha256: digest }) + "\n");
      await call((cb) => fs.fdatasync(fd as number, cb));
      const closing = fd;
      fd = null;
      await call((cb) => fs.close(closing, cb));
      // Not into a directory another process has taken over (it may be writing a snapshot of its own).
      if (!this.stillOurs()) throw this.failure as Error;
      await call((cb) => fs.rename(tmp, path.join(this.dir, name), cb));
      await syncDir(this.dir);
      // Read back what the disk holds before anything older is let go.
      const check = await verifySnapshot(path.join(this.dir, name));
      if (check.torn || check.count !== count || check.sha256 !== digest || check.trailer?.count !== count || check.trailer?.sha256 !== digest) {
        await call((cb) => fs.rename(path.join(this.dir, name), path.join(this.dir, name + ".damaged"), cb)).catch(() => undefined);
        throw new Error(`snapshot ${name} did not read back as written; it was set aside and every journal was kept`);
      }
    } catch (err) {
      if (fd !== null) {
        const open = fd;
        fs.close(open, () => undefined);
      }
      if (!this.fenced) fs.rm(tmp, { force: true }, () => undefined);
      this.stats.journalBytes += journalBytes;
      throw err;
    }
    // Taken over while it was read back: nothing is healed, and nothing deleted in the other's directory.
    if (!this.stillOurs()) throw this.failure as Error;
    this.trusted.add(name);
    if (rewriting) {
      this.lost = false;
      this.failure = null;
      this.emitHealth();
      const waiters = this.lostWaiters;
      this.lostWaiters = [];
      // Changes made while the snapshot was written are in the new journal's first batch only.
      if (this.pending.empty) for (const w of waiters) w();
      else {
        this.pendingWaiters.push(...waiters);
        this.writeBatch();
      }
    }
    await this.prune();
    this.snapshotBytes = bytes;
    this.stats.compactions++;
  }

  /**
   * Keeps the newest GENERATIONS snapshots this store trusts (read whole at start, or written and
   * read back), deletes every snapshot older than the oldest of them, and the journals none of
   * them needs. With fewer trusted snapshots than that, the journals from the start stay.
   */
  private async prune(): Promise<void> {
    const snapshots = this.snapshotFiles();
    const trusted = snapshots.filter((s) => this.trusted.has(s.name));
    if (trusted.length < GENERATIONS) return;
    const oldest = trusted[GENERATIONS - 1].lsn;
    for (const s of snapshots) {
      if (s.lsn < oldest) {
        await call((cb) => fs.rm(path.join(this.dir, s.name), { force: true }, cb));
        this.trusted.delete(s.name);
      }
    }
    // A journal holds the entries from its first number up to the next journal's first, minus one.
    const journals = this.journalFiles();
    for (let k = 0; k + 1 < journals.length; k++) {
      if (journals[k].name === this.journalFile) continue;
      if (journals[k + 1].first <= oldest + 1) await call((cb) => fs.rm(path.join(this.dir, journals[k].name), { force: true }, cb));
    }
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
      await this.flushUnlessLost();
    } catch (err) {
      error = err;
    }
    if (this.lost) {
      // What the lost journal held is only in memory: written as a snapshot before the store
      // closes. The registry asked for it when the loss was found (onHealth, on the next turn);
      // one that failed (its retry timer is stopped by now) is tried once more here.
      if (!this.compacting) await new Promise((resolve) => setImmediate(resolve));
      if (this.compacting) await this.compacting.catch(() => undefined);
      if (this.lost && this.source) await this.compact(this.source).catch(() => undefined);
      if (this.lost) error ??= new TwinError("store-unavailable", { reason: describe(this.failure as Error) });
    }
    this.closed = true;
    if (this.compacting) await this.compacting.catch(() => undefined);
    // A new journal's name may still be syncing in the background: its directory descriptor is ours to close.
    if (this.naming) await this.naming;
    for (const t of [this.timer, this.retryTimer]) if (t) clearTimeout(t);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = this.retryTimer = null;
    this.immediate = null;
    // A retry may be writing: the descriptor is closed only once it is done (checked again in the
    // turn that closes it, as for a rotation: see writeSnapshot).
    await this.idle();
    while (this.inflight || this.cutting) await this.idle();
    // Whatever still waits (the disk failed) hears so now rather than never.
    const left = this.inflightWaiters.concat(this.pendingWaiters, this.lostWaiters);
    this.inflightWaiters = [];
    this.pendingWaiters = [];
    this.lostWaiters = [];
    const closedError = new TwinError("store-unavailable", { reason: this.failure ? describe(this.failure) : "closed" });
    for (const w of left) w(closedError);
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    this.unlock();
    if (error) throw error;
  }
}

/**
 * What happened to the journal open at `fd` behind this store's back, or null: its name is gone
 * (deleted), or its size is not what this store wrote (cut short by someone, or written by another
 * process). A second Node-RED the lock did not keep out (dir-lock.ts: what it does not cover) is
 * caught only when it appends to this journal; one that opened its own journal is not seen here.
 */
function changedUnder(fd: number, size: number): string | null {
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
  } catch {
    return null;
  }
  if (stat.nlink === 0) return "was deleted while in use";
  if (stat.size !== size) return `was changed by something else while in use (${stat.size} bytes where this process wrote ${size}: cut short, or written by another process)`;
  return null;
}

/** A journal entry read from disk has a whole, safe sequence number, a known op and a twin id. */
function isEntry(value: unknown): value is JournalEntry {
  if (!value || typeof value !== "object") return false;
  const e = value as { l?: unknown; o?: unknown; i?: unknown };
  return Number.isSafeInteger(e.l) && (e.l as number) > 0 && typeof e.o === "string" && ENTRY_OPS.has(e.o) && typeof e.i === "string";
}

type SnapshotRead =
  | { ok: true; lsn: number; maxLsn: number; bytes: number; damagedIds: string[]; note?: string }
  | { ok: false; reason: string };

/**
 * Reads one snapshot into `onRecord`, checking it as it goes: a valid header, every twin line
 * whole, and a trailer whose count and checksum match. `salvage` (or a format 1 snapshot, which
 * has no trailer) reads what can be read instead: damaged lines are skipped and named. `maxLsn`
 * is the highest sequence number a twin carries: a snapshot is written while changes go on, so
 * it can be above the header's.
 */
function readSnapshot(file: string, onRecord: (rec: TwinRecord) => void, salvage = false): SnapshotRead {
  let header: { format?: unknown; version?: unknown; lsn?: unknown } | undefined;
  let trailer: { count?: unknown; sha256?: unknown } | undefined;
  let lenient = salvage;
  let reason: string | null = null;
  const damaged: string[] = [];
  const damagedIds: string[] = [];
  const hash = createHash("sha256");
  let count = 0;
  let maxLsn = 0;
  let wholeLines = 0;
  const skip = (line: string, n: number) => {
    const id = idIn(line);
    if (id) damagedIds.push(id);
    damaged.push(id ?? `line ${n + 1}`);
  };
  const read = readLines(file, (line, n) => {
    wholeLines = n + 1;
    if (reason) return;
    if (n === 0) {
      const first = parseLine(line) as typeof header;
      const valid = !!first && first.format === FORMAT && Number.isSafeInteger(first.lsn);
      if (valid && (first.version === 1 || first.version === undefined)) lenient = true;
      if (valid) return void (header = first);
      if (!lenient) return void (reason = "no valid header");
      // A salvage of a snapshot whose header line was lost: its first line is a twin (or a
      // damaged line) and is read as one, not dropped unnamed.
      if (first && typeof first === "object" && "format" in first) return;
    }
    if (trailer && !lenient) return void (reason = "lines after the trailer");
    const rec = parseLine(line) as (TwinRecord & { format?: unknown }) | undefined;
    if (!rec || typeof rec !== "object" || Array.isArray(rec)) {
      if (!lenient) reason = `line ${n + 1} is damaged`;
      else skip(line, n);
      return;
    }
    if (rec.format === END) return void (trailer = rec as typeof trailer);
    count++;
    if (Number.isSafeInteger(rec.l) && rec.l > maxLsn) maxLsn = rec.l;
    onRecord(rec);
    return true; // a twin line: in the checksum
  }, hash);
  if (read.tail !== "") {
    if (!lenient) return { ok: false, reason: "it ends in a torn line" }; // an empty file has no tail: it is refused below
    skip(read.tail, wholeLines); // named by its line number, as a damaged whole line is
  }
  if (reason) return { ok: false, reason };
  if (read.bytes === 0) return lenient ? { ok: true, lsn: 0, maxLsn: 0, bytes: 0, damagedIds, note: `snapshot ${path.basename(file)} is empty` } : { ok: false, reason: "empty file" };
  const lsn = header ? (header.lsn as number) : 0;
  const name = path.basename(file);
  if (lenient) {
    const lines = damaged.length ? `; ${damaged.length} damaged line(s) were skipped: ${showNames(damaged)}` : "";
    let note: string | undefined;
    if (!header) note = `snapshot ${name} has no valid header; its twins were read anyway${lines}`;
    else if (salvage) {
      const total = trailer && typeof trailer.count === "number" ? `${count} of the ${trailer.count} twins it holds` : `${count} twins (it was cut short: how many followed is unknown)`;
      const sum = trailer && trailer.sha256 !== hash.digest("hex") ? "; its checksum does not match, so a value read from it may be wrong" : "";
      note = `snapshot ${name} is damaged: ${total} were read from it${lines}${sum}`;
    } else if (lines) note = `snapshot ${name} is of format 1 (no checksum)${lines}`;
    return { ok: true, lsn, maxLsn: Math.max(lsn, maxLsn), bytes: read.bytes, damagedIds, note };
  }
  if (!trailer) return { ok: false, reason: "no trailer: it was cut short" };
  if (trailer.count !== count) return { ok: false, reason: `${count} twins where its trailer says ${String(trailer.count)}` };
  if (trailer.sha256 !== hash.digest("hex")) return { ok: false, reason: "checksum mismatch" };
  return { ok: true, lsn, maxLsn: Math.max(lsn, maxLsn), bytes: read.bytes, damagedIds };
}

/** The twin id at the start of a damaged snapshot line, when that much of it survived. */
function idIn(line: string): string | null {
  const match = /^\{"i":"([A-Za-z0-9][A-Za-z0-9_.:-]{0,127})"/.exec(line);
  return match ? match[1] : null;
}

/** The start of a snapshot's trailer line, as bytes: the read-back compares it without decoding a line. */
const TRAILER_START = Buffer.from(`{"format":"${END}"`, "utf8");

/**
 * Re-reads a written snapshot asynchronously, in chunks: its twin count and checksum, and what its
 * trailer says. The checksum is over the bytes the disk holds, hashed as read (a run of whole twin
 * lines at a time), not decoded into text and encoded back: the read-back was a third of a
 * compaction's time. Bytes that are not valid UTF-8 change the checksum as they must.
 */
async function verifySnapshot(file: string): Promise<{ count: number; sha256: string; trailer: { count?: unknown; sha256?: unknown } | null; torn: boolean }> {
  const fd = await call<number>((cb) => fs.open(file, "r", cb));
  const buffer = Buffer.allocUnsafe(1 << 20);
  const hash = createHash("sha256");
  /** A line the previous chunk ended inside of (a copy: the read buffer is used again). */
  let carry: Buffer | null = null;
  let n = 0;
  let count = 0;
  let trailer: { count?: unknown; sha256?: unknown } | null = null;
  try {
    for (;;) {
      const got = await call<number>((cb) => fs.read(fd, buffer, 0, buffer.length, null, cb));
      if (got === 0) break;
      const chunk: Buffer = carry ? Buffer.concat([carry, buffer.subarray(0, got)]) : buffer.subarray(0, got);
      let start = 0;
      /** Where the twin lines not hashed yet begin, or -1. */
      let run = -1;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
        if (n++ === 0) {
          // the header
        } else if (i + 1 - start >= TRAILER_START.length && chunk.compare(TRAILER_START, 0, TRAILER_START.length, start, start + TRAILER_START.length) === 0) {
          if (run !== -1) hash.update(chunk.subarray(run, start));
          run = -1;
          trailer = (parseLine(chunk.toString("utf8", start, i + 1)) as typeof trailer) ?? null;
        } else {
          if (run === -1) run = start;
          count++;
        }
        start = i + 1;
      }
      if (run !== -1) hash.update(chunk.subarray(run, start));
      carry = start < chunk.length ? Buffer.from(chunk.subarray(start)) : null;
    }
  } finally {
    await call((cb) => fs.close(fd, cb));
  }
  return { count, sha256: hash.digest("hex"), trailer, torn: carry !== null };
}

function headerOf(file: string): { lsn: number } | null {
  try {
    const fd = fs.openSync(file, "r");
    try {
      const buffer = Buffer.alloc(4096);
      const got = fs.readSync(fd, buffer, 0, buffer.length, 0);
      const first = buffer.subarray(0, got).toString("utf8").split("\n")[0];
      const header = parseLine(first) as { lsn?: unknown } | undefined;
      return header && Number.isSafeInteger(header.lsn) ? { lsn: header.lsn as number } : null;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** Writes the whole buffer, going on after a short write: the disk's own error (ENOSPC) is what the user sees. */
function writeFully(io: FileIO, fd: number, buffer: Buffer, offset: number, cb: (err: Error | null) => void): void {
  if (offset >= buffer.length) return cb(null); // nothing (left) to write: a snapshot's last slice can be empty
  io.write(fd, buffer, offset, buffer.length - offset, null, (err, written) => {
    if (err) return cb(err);
    if (written <= 0) return cb(shortWrite(offset, buffer.length));
    if (offset + written < buffer.length) return writeFully(io, fd, buffer, offset + written, cb);
    cb(null);
  });
}

/**
 * Reads a file line by line in 1 MB chunks (a snapshot of 100,000 twins is over 100 MB: never
 * held whole). Lines are cut at newline bytes in the chunk and each is decoded on its own: one
 * flat string per line, where decoding the chunk, joining the rest of the previous one to it and
 * slicing the text was a fifth of a restart. A line longer than a chunk grows the buffer.
 * `onLine` returning true adds the line's bytes, its newline included, to `hash`: a snapshot's
 * checksum is over the bytes the disk holds, as the write side's read-back takes it (a run of
 * such lines per update, not a string encoded back per line). Returns the unterminated last
 * line, the bytes read and the bytes up to the last newline.
 */
function readLines(file: string, onLine: (line: string, n: number) => boolean | void, hash?: Hash): { tail: string; bytes: number; complete: number } {
  const fd = fs.openSync(file, "r");
  let buffer = Buffer.allocUnsafe(1 << 20);
  /** Bytes at the start of `buffer` that are the beginning of a line not ended yet. */
  let kept = 0;
  let n = 0;
  let bytes = 0;
  try {
    for (;;) {
      if (kept === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, kept);
        buffer = bigger;
      }
      const read = fs.readSync(fd, buffer, kept, buffer.length - kept, null);
      if (read === 0) break;
      bytes += read;
      const chunk = buffer.subarray(0, kept + read);
      let start = 0;
      /** Where the lines to hash that are not hashed yet begin, or -1. */
      let run = -1;
      // The kept bytes hold no newline: the search starts after them.
      for (let i = chunk.indexOf(10, kept); i !== -1; i = chunk.indexOf(10, start)) {
        if (onLine(chunk.toString("utf8", start, i), n++) === true) {
          if (run === -1) run = start;
        } else if (run !== -1) {
          hash?.update(chunk.subarray(run, start));
          run = -1;
        }
        start = i + 1;
      }
      if (run !== -1) hash?.update(chunk.subarray(run, start));
      kept = chunk.length - start;
      if (start > 0 && kept > 0) buffer.copy(buffer, 0, start, chunk.length);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { tail: kept ? buffer.toString("utf8", 0, kept) : "", bytes, complete: bytes - kept };
}

function parseLine(line: string | undefined): unknown {
  if (!line) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function writeAll(fd: number, data: string | Buffer): Promise<number> {
  const buffer = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  return new Promise((resolve, reject) => writeFully(fs, fd, buffer, 0, (err) => (err ? reject(err) : resolve(buffer.length))));
}

/** syncDir for the rare synchronous moments (a new journal at start-up or rotation). */
function syncDirNow(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* best effort, as syncDir */
  }
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
  return Object.assign(new Error(`the disk took ${written} of ${expected} bytes and reported no error`), { code: "ESHORTWRITE" });
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  // Node's own errors say their code first ("ENOSPC: no space left on device, write").
  return code && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
}

/** An entry's journal line (no newline). */
function lineOf(entry: JournalEntry): string {
  return JSON.stringify(entry);
}
