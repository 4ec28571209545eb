"use strict";
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

module.exports = { JournalStore };
