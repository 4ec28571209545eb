"use strict";
/**
 * How a reading is journalled: one source time (and source) for the whole reading, not one per
 * property, and journals written before that (a [value, ts, source] tuple per property) still
 * restore exactly the same twins, alone or mixed with entries in the newer form.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { T0, manualClock, plain } = require("./core-support");
const { JournalStore } = require("./journal-store");
const { useStoreDirs, freshDir, openRegistry, docs, histories, journalEntries } = require("./store-support");

const TEN = () => Object.fromEntries(Array.from({ length: 10 }, (_, p) => [`p${p}`, 20 + p + 0.25]));

/** The entry as an earlier version wrote it: each reported value as [value, ts(, source)]. */
function olderForm(entry) {
  if (!entry.rv) return entry;
  const { rv, rt, rs, ...rest } = entry;
  const r = {};
  for (const [name, value] of Object.entries(rv)) r[name] = rs === undefined ? [value, rt ?? entry.t] : [value, rt ?? entry.t, rs];
  return { ...rest, r };
}

/** A registry's life on a journal in memory: creations, readings with and without source time and source, attributes, desired state. */
function live() {
  const clock = manualClock();
  const store = new JournalStore();
  const reg = new TwinRegistry({ historyLength: 20, clock, store });
  reg.open();
  reg.create("pump-1", { attributes: { site: "a" }, reported: { temperature: 20 } });
  clock.advance(1000);
  reg.report("pump-1", TEN());
  clock.advance(1000);
  reg.report("pump-1", { temperature: 21.5, rpm: 1200 }, { ts: T0 + 1500, source: "plant/pump-1/state" });
  clock.advance(1000);
  reg.setDesired("pump-1", { rpm: 1500 });
  reg.report("pump-1", { rpm: 1490, mode: "auto", tags: ["a", "b"], limits: { hi: 90 } }, { ts: T0 + 2900 });
  reg.report("pump-2", { level: 3 }, { create: {}, source: "plant/pump-2/level" });
  clock.advance(1000);
  reg.updateAttributes("pump-2", { site: "b" });
  reg.report("pump-2", { level: 4, temperature: null });
  return { reg, store };
}

function restore(entries) {
  const reg = new TwinRegistry({ historyLength: 20, clock: manualClock(T0 + 10000), store: new JournalStore(entries) });
  const warnings = reg.open();
  return { reg, warnings };
}

/** Everything a user can read back of a twin: its document and every property's history. */
function state(reg) {
  const out = {};
  for (const id of [...reg.ids()].sort()) {
    const doc = plain(reg.get(id));
    out[id] = { doc, history: Object.keys(doc.reported).map((name) => [name, reg.history(id, name)]) };
  }
  return out;
}

describe("core/journal: the form of journalled readings", function () {
  it("a ten-property reading journals its time once, and its source once", function () {
    const clock = manualClock();
    const store = new JournalStore();
    const reg = new TwinRegistry({ clock, store });
    reg.open();
    reg.create("pump-1");
    reg.report("pump-1", TEN());
    reg.report("pump-1", TEN(), { ts: T0 + 5000, source: "plant/pump-1" });
    const [, now, sourced] = store.entries;
    assert.deepStrictEqual(now.rv, TEN());
    assert.strictEqual(JSON.stringify(now).split(String(T0)).length - 1, 1, "the entry's own time, and no other");
    assert.deepStrictEqual([sourced.rt, sourced.rs], [T0 + 5000, "plant/pump-1"]);
    assert.strictEqual(JSON.stringify(sourced).split(String(T0 + 5000)).length - 1, 1);
    assert.strictEqual(JSON.stringify(sourced).split("plant/pump-1").length - 1, 1);
    const meta = plain(reg.get("pump-1").meta.reported);
    assert.deepStrictEqual(meta.p9, { ts: T0 + 5000, source: "plant/pump-1" });
  });

  it("a journal written in the older form (a [value, ts, source] per property) restores the same twins and histories", function () {
    const { reg, store } = live();
    const expected = state(reg);
    assert.ok(store.entries.some((e) => e.rv), "the live registry writes the compact form");
    const older = store.entries.map(olderForm);
    assert.ok(older.every((e) => !e.rv) && older.some((e) => e.r && e.r.p0), "the older journal has tuples only");
    const { reg: back, warnings } = restore(older);
    assert.deepStrictEqual(warnings, []);
    assert.deepStrictEqual(state(back), expected);
  });

  it("a journal that changed form halfway (older entries first, then compact ones) restores the same twins", function () {
    const { reg, store } = live();
    const half = Math.floor(store.entries.length / 2);
    const mixed = store.entries.map((e, k) => (k < half ? olderForm(e) : e));
    const { reg: back, warnings } = restore(mixed);
    assert.deepStrictEqual(warnings, []);
    assert.deepStrictEqual(state(back), state(reg));
    // And both forms applied live, then restored from the compact journal, agree too.
    assert.deepStrictEqual(state(restore(store.entries).reg), state(reg));
  });

  it("a compact entry from disk whose source time or source is not one is skipped whole, with a warning", function () {
    for (const bad of [{ rt: "soon" }, { rt: null }, { rs: 7 }, { rv: [1, 2] }]) {
      const entries = [
        { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null, rv: { temperature: 20 } },
        { l: 2, o: "u", i: "pump-1", v: 2, t: T0 + 1, rv: { temperature: 99, rpm: 5 }, ...bad },
      ];
      const { reg, warnings } = restore(entries);
      const what = JSON.stringify(bad);
      assert.deepStrictEqual(warnings, ["1 journal entry that could not be applied were skipped"], what);
      assert.deepStrictEqual([plain(reg.get("pump-1").reported), reg.get("pump-1").version], [{ temperature: 20 }, 1], what);
    }
  });

  describe("on disk", function () {
    useStoreDirs("journal-readings-form");

    it("the file store restores a journal file with lines in both forms, and writes the compact one", async function () {
      const dir = freshDir("both");
      const lines = [
        { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null, r: { temperature: [20, T0] } },
        { l: 2, o: "u", i: "pump-1", v: 2, t: T0 + 10, r: { temperature: [21, T0 + 5, "plant/a"], rpm: [900, T0 + 5, "plant/a"] } },
        { l: 3, o: "u", i: "pump-1", v: 3, t: T0 + 20, rv: { temperature: 22 }, rt: T0 + 15, rs: "plant/b" },
        { l: 4, o: "u", i: "pump-1", v: 4, t: T0 + 30, rv: { rpm: 950 } },
      ];
      fs.writeFileSync(path.join(dir, "journal-0000000000000001.log"), lines.map((l) => JSON.stringify(l) + "\n").join(""));
      const { reg, store, warnings } = openRegistry(dir);
      assert.deepStrictEqual(warnings, []);
      const doc = docs(reg)["pump-1"];
      assert.deepStrictEqual(doc.reported, { temperature: 22, rpm: 950 });
      assert.deepStrictEqual(doc.meta.reported, { temperature: { ts: T0 + 15, source: "plant/b" }, rpm: { ts: T0 + 30 } });
      assert.deepStrictEqual(histories(reg, "temperature")["pump-1"].map((p) => [p.ts, p.value]), [[T0, 20], [T0 + 5, 21], [T0 + 15, 22]]);
      assert.strictEqual(doc.version, 4);

      reg.report("pump-1", { rpm: 960 }, { ts: T0 + 40, source: "plant/c" });
      await store.flush();
      const written = journalEntries(dir).at(-1);
      assert.deepStrictEqual([written.rv, written.rt, written.rs, written.r], [{ rpm: 960 }, T0 + 40, "plant/c", undefined]);
      const before = docs(reg);
      await reg.close();
      assert.deepStrictEqual(docs(openRegistry(dir).reg), before);
    });
  });
});
