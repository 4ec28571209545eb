"use strict";
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { T0, manualClock } = require("./core-support");

/** A store that keeps its journal in memory, so a second registry can "restart" from it (core tests). */
class JournalStore {
  constructor(entries = []) {
    this.mode = "memory";
    this.stats = { compactions: 0, longestSliceMs: 0, journalBytes: 0 };
    this.entries = entries;
  }
  recover() {
    const entries = this.entries.map((e) => JSON.parse(JSON.stringify(e)));
    return { records: [], entries, lsn: entries.length ? entries[entries.length - 1].l : 0, warnings: [] };
  }
  append(entry) {
    this.entries.push(JSON.parse(JSON.stringify(entry)));
  }
  whenDurable(cb) {
    cb();
  }
  wantsCompaction() {
    return false;
  }
  async compact() {}
  async flush() {}
  async close() {}
  health() {
    return { ok: true };
  }
  onHealth() {
    return () => undefined;
  }
}

/** Entries as a store hands them back once read from disk (the very objects given, not copies made here). */
class ReadBack extends JournalStore {
  recover() {
    return { records: [], entries: this.entries, lsn: this.entries.length ? this.entries[this.entries.length - 1].l : 0, warnings: [] };
  }
}

/** A registry opened on `entries` as if read from disk (history 5, its clock 10 s after T0): { reg, warnings }. */
function restoreEntries(entries) {
  const reg = new TwinRegistry({ historyLength: 5, clock: manualClock(T0 + 10000), store: new ReadBack(entries) });
  const warnings = reg.open();
  return { reg, warnings };
}

module.exports = { JournalStore, restoreEntries };
