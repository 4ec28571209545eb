"use strict";
/**
 * What the store tests share: registries on a FileStore in throw-away directories (closed after
 * each test), a faulty io that fails on demand, and readers of what is on disk.
 */
const assert = require("assert");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { createHash } = require("crypto");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { FileStore } = require("../../nodes/lib/core/store/file-store");

const JOURNAL = /^journal-\d+\.log$/;
const SNAPSHOT = /^snapshot-\d{16}\.jsonl$/;
const SNAPSHOT_TMP = "snapshot.jsonl.tmp";

/** Snapshot files in `dir`, oldest first. */
function snapshotFiles(dir) {
  return fs.readdirSync(dir).filter((n) => SNAPSHOT.test(n)).sort();
}

/** The newest snapshot's path (fails the test when there is none). */
function newestSnapshot(dir) {
  const files = snapshotFiles(dir);
  assert.ok(files.length, `a snapshot in ${fs.readdirSync(dir)}`);
  return path.join(dir, files[files.length - 1]);
}


let root;
let dirCount = 0;
/** Registries opened by a test; closed (errors ignored) after it. */
let opened = [];

function freshDir(label = "s") {
  const dir = path.join(root, `${label}-${++dirCount}`);
  fs.mkdirSync(dir);
  return dir;
}

/** A registry on a FileStore in `dir`, opened. Returns { reg, store, warnings }. */
function openRegistry(dir, storeOptions = {}, registryOptions = {}) {
  const store = new FileStore({ dir, mode: "batched", intervalMs: 10, retryMs: 20, ...storeOptions });
  const reg = new TwinRegistry({ historyLength: 20, ...registryOptions, store });
  opened.push(reg);
  const warnings = reg.open();
  return { reg, store, warnings };
}

/** Every twin's document as plain JSON (documents use null-prototype objects), by id. */
function docs(reg) {
  const out = {};
  for (const id of [...reg.ids()].sort()) out[id] = JSON.parse(JSON.stringify(reg.get(id)));
  return out;
}

/** Each twin's history of `property` by twin id; without one, every property's, by "twin/property". */
function histories(reg, property) {
  const out = {};
  for (const id of [...reg.ids()].sort()) {
    if (property !== undefined) out[id] = reg.history(id, property);
    else for (const name of Object.keys(reg.get(id).reported).sort()) out[`${id}/${name}`] = reg.history(id, name);
  }
  return out;
}

function journalFiles(dir) {
  return fs.readdirSync(dir).filter((n) => JOURNAL.test(n)).sort();
}

function journalText(dir) {
  return journalFiles(dir).map((n) => fs.readFileSync(path.join(dir, n), "utf8")).join("");
}

function journalEntries(dir) {
  return journalText(dir).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

function lastJournal(dir) {
  const files = journalFiles(dir);
  return path.join(dir, files[files.length - 1]);
}

/**
 * A snapshot as another tool (or an older version) would write one: header, the twin lines as
 * given (raw JSON text, so "__proto__" stays a key), a trailer whose count and checksum match.
 * Its file name in a store directory is `snapshotName(lsn)`.
 */
function snapshotText(lsn, lines) {
  const hash = createHash("sha256");
  for (const line of lines) hash.update(line + "\n");
  const head = { format: "twinwire-snapshot", version: 2, lsn, created: NOW };
  const trailer = { format: "twinwire-snapshot-end", count: lines.length, sha256: hash.digest("hex") };
  return [JSON.stringify(head), ...lines, JSON.stringify(trailer)].join("\n") + "\n";
}

const snapshotName = (lsn) => `snapshot-${String(lsn).padStart(16, "0")}.jsonl`;

const immediate = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition, what, timeoutMs = 3000) {
  const started = Date.now();
  for (;;) {
    if (condition()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** whenDurable as a promise that resolves with the error (or undefined), never rejects. */
function durable(reg) {
  return new Promise((resolve) => reg.whenDurable((err) => resolve(err)));
}

/** Fails the test unless fn throws TwinError `code`. */
function throwsTwin(fn, code) {
  assert.throws(fn, (err) => {
    assert.strictEqual(err.name, "TwinError", `expected a TwinError, got ${err && err.stack}`);
    assert.strictEqual(err.code, code, `expected ${code}, got ${err.message}`);
    return true;
  });
}

/**
 * An io for FileStore that passes through to fs, counts calls, and fails on demand.
 * `failWrite` / `failSync`: an errno code to fail with (null = pass through).
 * `partial`: on a failing write, first really write half the buffer (a torn append).
 */
function faultyIO() {
  const io = {
    writes: 0,
    syncs: 0,
    truncates: 0,
    truncatesDone: 0,
    failWrite: null,
    failSync: null,
    partial: false,
    syncDelayMs: 0,
    syncsDone: 0,
    /** How many coming writes take only half their buffer and report no error (a disk filling up). */
    shortWrites: 0,
    failTruncate: null,
    truncateDelayMs: 0,
    write(fd, buffer, offset, length, position, cb) {
      io.writes++;
      if (io.failWrite) {
        if (io.partial) fs.writeSync(fd, buffer, offset, Math.floor(length / 2));
        const err = Object.assign(new Error(`${io.failWrite}: simulated failure, write`), { code: io.failWrite });
        process.nextTick(cb, err, 0);
        return;
      }
      if (io.shortWrites > 0) {
        io.shortWrites--;
        const half = Math.max(1, Math.floor(length / 2));
        fs.write(fd, buffer, offset, half, position, cb);
        return;
      }
      fs.write(fd, buffer, offset, length, position, cb);
    },
    fdatasync(fd, cb) {
      io.syncs++;
      if (io.failSync) {
        const err = Object.assign(new Error(`${io.failSync}: simulated failure, fdatasync`), { code: io.failSync });
        process.nextTick(cb, err);
        return;
      }
      const done = (err) => {
        io.syncsDone++;
        cb(err);
      };
      if (io.syncDelayMs) setTimeout(() => fs.fdatasync(fd, done), io.syncDelayMs);
      else fs.fdatasync(fd, done);
    },
    ftruncate(fd, len, cb) {
      io.truncates++;
      const finish = (err) => {
        io.truncatesDone++;
        cb(err);
      };
      if (io.failTruncate) {
        const err = Object.assign(new Error(`${io.failTruncate}: simulated failure, ftruncate`), { code: io.failTruncate });
        process.nextTick(finish, err);
        return;
      }
      if (io.truncateDelayMs) setTimeout(() => fs.ftruncate(fd, len, finish), io.truncateDelayMs);
      else fs.ftruncate(fd, len, finish);
    },
  };
  return io;
}

const NOW = Date.now();

/** A few twins with every kind of state a restart must bring back. */
function populate(reg) {
  reg.create("pump-07", { attributes: { site: "plant-1", serial: "P7-2231", tags: ["a", "b"] }, desired: { rpm: 1500 } }, { by: "dashboard" });
  for (let i = 0; i < 5; i++) {
    reg.report("pump-07", { temperature: 60 + i / 10, rpm: 1480 + i }, { ts: NOW - 10000 + i * 1000, source: "plant-1/pump-07/temperature" });
  }
  reg.setDesired("pump-07", { mode: "auto" }, { by: "ui" });
  reg.updateAttributes("pump-07", { tags: null, room: { floor: 2, name: "B" } });
  reg.create("valve-1", { attributes: { site: "plant-2" } });
  reg.report("valve-1", { open: true, pressure: 3.2 }, { ts: NOW - 5000 });
  reg.create("gone", { attributes: { site: "x" } });
  reg.report("gone", { temperature: 1 });
  reg.remove("gone");
  reg.create("quiet");
}


/**
 * A real tmpfs of `sizeKb` mounted on a fresh directory (root only): a disk that really fills up
 * and really turns read-only. Returns null where mounting is not allowed.
 */
function mountTmpfs(label, sizeKb) {
  const { execFileSync } = require("child_process");
  const dir = freshDir(label);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKb}k`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    return null;
  }
  const remount = (mode) => execFileSync("mount", ["-o", `remount,${mode}`, dir], { stdio: "ignore" });
  mounts.push(dir);
  return { dir, readOnly: () => remount("ro"), writable: () => remount("rw") };
}

const mounts = [];

/** Closes `reg` after the test. */
function track(reg) {
  opened.push(reg);
  return reg;
}

/** Registers the hooks that make and remove the test directories in the calling describe(). */
function useStoreDirs(label) {
  before(function () {
    root = fs.mkdtempSync(path.join(os.tmpdir(), `twinwire-${label}-`));
  });
  afterEach(async function () {
    const regs = opened;
    opened = [];
    for (const reg of regs) await reg.close().catch(() => undefined);
  });
  after(function () {
    const { execFileSync } = require("child_process");
    for (const dir of mounts.splice(0)) {
      try {
        execFileSync("umount", ["-l", dir], { stdio: "ignore" });
      } catch {
        /* already gone */
      }
    }
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
}

module.exports = {
  JOURNAL, SNAPSHOT, SNAPSHOT_TMP, NOW, snapshotFiles, newestSnapshot, useStoreDirs, track, mountTmpfs, freshDir, openRegistry, docs, histories,
  journalFiles, journalText, journalEntries, lastJournal, snapshotText, snapshotName, immediate, sleep, waitFor, durable, throwsTwin, faultyIO, populate,
};
