"use strict";
/**
 * What a restart brings back when the store hands over snapshot lines and journal entries that
 * overlap, disagree or are damaged: the registry side of recovery (the file store's own reading
 * of files is in store*.test.js).
 */
const assert = require("assert");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { T0, manualClock, plain } = require("./core-support");
const { JournalStore } = require("./journal-store");
const { useStoreDirs, openRegistry, freshDir, snapshotFiles, waitFor } = require("./store-support");

/** A JournalStore that also hands back snapshot lines, as a file store does after a compaction. */
class SnapshotStore extends JournalStore {
  constructor({ records = [], entries = [], lsn, warnings = [] } = {}) {
    super(entries);
    this.records = records;
    this.lsn = lsn;
    this.warnings = warnings;
  }
  recover() {
    const recovered = super.recover();
    return {
      ...recovered,
      records: plain(this.records),
      lsn: this.lsn ?? recovered.lsn,
      warnings: this.warnings.slice(),
    };
  }
}

/** The snapshot lines a compaction would write for `reg` now. */
function snapshotOf(reg) {
  return [...reg.snapshotSource().lines()].map((line) => JSON.parse(line));
}

function restart(store, options = {}) {
  const reg = new TwinRegistry({ historyLength: 20, clock: manualClock(), ...options, store });
  const warnings = reg.open();
  return { reg, warnings };
}

describe("core/registry recovery", function () {
  describe("journal entries over a snapshot", function () {
    it("skips entries the snapshot already holds: history keeps each reading once", function () {
      const live = new JournalStore();
      const reg = new TwinRegistry({ historyLength: 20, clock: manualClock(), store: live });
      reg.open();
      reg.create("pump-1");
      reg.report("pump-1", { temperature: 1 }, { ts: T0 + 1 });
      reg.report("pump-1", { temperature: 2 }, { ts: T0 + 2 });
      const records = snapshotOf(reg);
      reg.report("pump-1", { temperature: 3 }, { ts: T0 + 3 });
      // The journal still holds the snapshot's last two entries: the compaction raced the writes.
      const { reg: back, warnings } = restart(new SnapshotStore({ records, entries: live.entries.slice(1) }));
      assert.deepStrictEqual(warnings, []);
      assert.deepStrictEqual(back.history("pump-1", "temperature").map((p) => p.value), [1, 2, 3]);
      assert.deepStrictEqual(plain(back.get("pump-1")), plain(reg.get("pump-1")));
    });

    it("keeps a twin's newest snapshot line when salvage hands over several", function () {
      const reg = new TwinRegistry({ clock: manualClock(), store: new JournalStore() });
      reg.open();
      reg.create("pump-1");
      const lines = [];
      for (let i = 1; i <= 3; i++) {
        reg.report("pump-1", { temperature: i });
        lines.push(snapshotOf(reg)[0]);
      }
      // Oldest, newest, middle: neither the first nor the last line seen may win.
      const { reg: back } = restart(new SnapshotStore({ records: [lines[0], lines[2], lines[1]] }));
      assert.strictEqual(back.get("pump-1").reported.temperature, 3);
      assert.strictEqual(back.get("pump-1").version, 4);
    });

    it("numbers new changes above every restored twin, so a change after restart survives the next one", function () {
      const reg = new TwinRegistry({ clock: manualClock(), store: new JournalStore() });
      reg.open();
      reg.create("pump-1");
      for (let i = 0; i < 9; i++) reg.report("pump-1", { temperature: i });
      const records = snapshotOf(reg);
      assert.strictEqual(records[0].l, 10);
      // The journals kept only up to entry 3 (the snapshot was written while changes went on).
      const first = new SnapshotStore({ records, lsn: 3 });
      const { reg: again } = restart(first);
      again.report("pump-1", { temperature: 99 });
      assert.strictEqual(first.entries[0].l, 11);
      const { reg: third } = restart(new SnapshotStore({ records, entries: first.entries }));
      assert.strictEqual(third.get("pump-1").reported.temperature, 99);
    });

    it("replays a prediction's removal: the restored twin has no prediction", function () {
      const store = new JournalStore();
      const reg = new TwinRegistry({ clock: manualClock(), store });
      reg.open();
      reg.create("pump-1");
      reg.setPrediction("pump-1", "temperature", 61.5);
      reg.setPrediction("pump-1", "temperature", null);
      const { reg: back } = restart(new JournalStore(store.entries));
      assert.deepStrictEqual(plain(back.get("pump-1").predictions), {});
    });

    it("restores a reading journalled with a null source as one without a source", function () {
      const entries = [
        { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null },
        { l: 2, o: "u", i: "pump-1", v: 2, t: T0, r: { temperature: [5, T0, null] } },
      ];
      const { reg } = restart(new JournalStore(entries));
      assert.deepStrictEqual(plain(reg.get("pump-1").meta.reported.temperature), { ts: T0 });
    });

    it("applies the rest of an entry whose one reading is not a [value, ts] pair", function () {
      const entries = [
        { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null },
        { l: 2, o: "u", i: "pump-1", v: 2, t: T0, r: { broken: 5, temperature: [7, T0] } },
      ];
      const { reg, warnings } = restart(new JournalStore(entries));
      assert.deepStrictEqual(warnings, []);
      assert.deepStrictEqual(plain(reg.get("pump-1").reported), { temperature: 7 });
    });

    it("drops property names and state keys from disk that the naming rules refuse, naming each with its twin", function () {
      const entries = [
        { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null },
        { l: 2, o: "u", i: "pump-1", v: 2, t: T0, r: { "bad name": [1, T0], temperature: [2, T0] } },
        { l: 3, o: "st", i: "pump-1", t: T0, s: { "bad key!": 1, "predict:temperature": 2 } },
      ];
      const { reg, warnings } = restart(new JournalStore(entries));
      assert.deepStrictEqual(warnings, ['2 name(s) or value(s) on disk that a write would have refused were skipped: pump-1 reported "bad name", pump-1 state "bad key!"']);
      assert.deepStrictEqual(plain(reg.get("pump-1").reported), { temperature: 2 });
      assert.strictEqual(reg.getState("pump-1", "bad key!"), undefined);
      assert.strictEqual(reg.getState("pump-1", "predict:temperature"), 2);
    });
  });

  describe("warnings a user reads after a restart", function () {
    it("counts one journal entry that could not be applied: a creation with an invalid twin id", function () {
      const { reg, warnings } = restart(new JournalStore([{ l: 1, o: "c", i: "bad id", v: 1, t: T0, m: null }]));
      assert.strictEqual(reg.size, 0);
      assert.deepStrictEqual(warnings, ["1 journal entry that could not be applied were skipped"]);
    });

    it("counts several entries that could not be applied, among them an unknown kind of entry", function () {
      const entries = [
        { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null },
        { l: 2, o: "zz", i: "pump-1", t: T0 },
        { l: 3, o: "c", i: "../etc", v: 1, t: T0, m: null },
        { l: 4, o: "u", i: "pump-1", v: 2, t: T0, r: { temperature: [3, T0] } },
      ];
      const { reg, warnings } = restart(new JournalStore(entries));
      assert.deepStrictEqual(warnings, ["2 journal entries that could not be applied were skipped"]);
      assert.deepStrictEqual([...reg.ids()], ["pump-1"]);
      assert.strictEqual(reg.get("pump-1").reported.temperature, 3);
    });

    it("counts snapshot lines that are not twins and restores the rest", function () {
      const good = { i: "pump-1", m: null, c: T0, u: T0, v: 1, l: 1, a: {}, r: {}, on: false, ls: null };
      const records = [null, 5, "text", { i: "bad id", v: 1, l: 1 }, good];
      const { reg, warnings } = restart(new SnapshotStore({ records }));
      assert.deepStrictEqual(warnings, ["4 snapshot line(s) that are not twins were skipped"]);
      assert.deepStrictEqual([...reg.ids()], ["pump-1"]);
    });

    it("does not report a twin as lost when its journalled changes end in its deletion", function () {
      // The creation was compacted away, but the twin was deleted anyway: nothing is missing.
      const entries = [
        { l: 5, o: "u", i: "pump-1", v: 3, t: T0, r: { temperature: [3, T0] } },
        { l: 6, o: "x", i: "pump-1", t: T0 },
      ];
      const { reg, warnings } = restart(new JournalStore(entries));
      assert.deepStrictEqual(warnings, []);
      assert.strictEqual(reg.size, 0);
    });

    it("does not report a twin as lost when a later entry creates it again", function () {
      const entries = [
        { l: 5, o: "u", i: "pump-1", v: 3, t: T0, r: { temperature: [3, T0] } },
        { l: 6, o: "c", i: "pump-1", v: 1, t: T0, m: null, r: { temperature: [4, T0] } },
      ];
      const { reg, warnings } = restart(new JournalStore(entries));
      assert.deepStrictEqual(warnings, []);
      assert.strictEqual(reg.get("pump-1").reported.temperature, 4);
    });

    it("names the twins it could not restore, counting the entries that named them", function () {
      const entries = [
        { l: 5, o: "u", i: "pump-1", v: 3, t: T0, r: { temperature: [3, T0] } },
        { l: 6, o: "u", i: "pump-1", v: 4, t: T0, r: { temperature: [4, T0] } },
      ];
      const { warnings } = restart(new JournalStore(entries));
      assert.deepStrictEqual(warnings, ["1 twin(s) could not be restored (2 journal entries name twins no snapshot or journal creates): pump-1"]);
    });

    it("names a model the registry no longer defines, and only that one", function () {
      const models = parseModels({ pump: { properties: { temperature: { type: "number" } } }, valve: { properties: {} } });
      const store = new JournalStore();
      const reg = new TwinRegistry({ models, clock: manualClock(), store });
      reg.open();
      reg.create("pump-1", { model: "pump" });
      reg.create("valve-1", { model: "valve" });
      reg.create("plain-1");
      const onlyValves = parseModels({ valve: { properties: {} } });
      const { warnings } = restart(new JournalStore(store.entries), { models: onlyValves });
      assert.deepStrictEqual(warnings, ['twins use model "pump", which this registry no longer defines; their values are not checked']);
      assert.deepStrictEqual(restart(new JournalStore(store.entries), { models }).warnings, []);
    });
  });

  describe("snapshot lines with missing or damaged sections", function () {
    it("restores a twin whose sections are null as a twin with empty sections", function () {
      const rec = { i: "pump-1", m: null, c: T0, u: T0, v: 2, l: 2, a: null, r: null, d: null, p: null, st: null, h: null, on: true, ls: T0 };
      const { reg, warnings } = restart(new SnapshotStore({ records: [rec] }));
      assert.deepStrictEqual(warnings, []);
      const doc = plain(reg.get("pump-1"));
      assert.deepStrictEqual([doc.attributes, doc.reported, doc.desired, doc.predictions], [{}, {}, {}, {}]);
      assert.deepStrictEqual(reg.history("pump-1", "temperature"), []);
      assert.strictEqual(doc.version, 2);
    });

    it("restores a twin whose attributes are not an object with empty attributes", function () {
      const rec = { i: "pump-1", m: null, c: T0, u: T0, v: 2, l: 2, a: "garbage", r: {}, on: false, ls: null };
      const { reg } = restart(new SnapshotStore({ records: [rec] }));
      assert.deepStrictEqual(plain(reg.get("pump-1").attributes), {});
    });

    it("drops property names the naming rules refuse from a snapshot line, and does not write them back", function () {
      const rec = {
        i: "pump-1", m: null, c: T0, u: T0, v: 2, l: 2, a: {}, on: false, ls: null,
        r: { "bad name": [1, T0], temperature: [2, T0] },
        h: { "bad name": [T0, 1], temperature: [T0, 2] },
      };
      const { reg } = restart(new SnapshotStore({ records: [rec] }));
      assert.deepStrictEqual(plain(reg.get("pump-1").reported), { temperature: 2 });
      assert.deepStrictEqual(reg.history("pump-1", "temperature"), [{ ts: T0, value: 2 }]);
      const [written] = snapshotOf(reg);
      assert.deepStrictEqual([Object.keys(written.r), Object.keys(written.h)], [["temperature"], ["temperature"]]);
    });

    it("writes a short history out and a long one as encoded blocks in one snapshot line, and restores both point for point", function () {
      const reg = new TwinRegistry({ historyLength: 20, clock: manualClock(), store: new SnapshotStore() });
      reg.open();
      reg.create("pump-1", { reported: { temperature: 20.5, pressure: 1.01 } }, { ts: T0 });
      for (let k = 1; k <= 15; k++) reg.report("pump-1", { temperature: 20.5 + k / 10 }, { ts: T0 + k * 1000 });
      const [written] = snapshotOf(reg);
      // One point of pressure: written out is smaller than a block; fifteen of temperature: blocks.
      assert.deepStrictEqual([Object.keys(written.h), Object.keys(written.hb)], [["pressure"], ["temperature"]]);
      const { reg: again } = restart(new SnapshotStore({ records: [written] }));
      for (const name of ["temperature", "pressure"]) assert.deepStrictEqual(again.history("pump-1", name), reg.history("pump-1", name), name);
      assert.strictEqual(again.history("pump-1", "temperature").length, 16);
    });

    /** A snapshot line of pump-1 with one point of pressure (written out) and fifteen of temperature (blocks). */
    function historyLine() {
      const reg = new TwinRegistry({ historyLength: 20, clock: manualClock(), store: new SnapshotStore() });
      reg.open();
      reg.create("pump-1", { reported: { temperature: 20.5, pressure: 1.01 } }, { ts: T0 });
      for (let k = 1; k <= 15; k++) reg.report("pump-1", { temperature: 20.5 + k / 10 }, { ts: T0 + k * 1000 });
      return { written: snapshotOf(reg)[0], history: (name) => reg.history("pump-1", name) };
    }

    it("adds a reading after the restart to the restored history in either form, and the next snapshot holds every point", function () {
      const { written, history } = historyLine();
      const { reg } = restart(new SnapshotStore({ records: [written] }));
      reg.report("pump-1", { temperature: 30.25, pressure: 1.5 }, { ts: T0 + 20000 });
      const expected = {
        temperature: [...history("temperature"), { ts: T0 + 20000, value: 30.25 }].slice(-20),
        pressure: [...history("pressure"), { ts: T0 + 20000, value: 1.5 }],
      };
      for (const name of ["temperature", "pressure"]) assert.deepStrictEqual(reg.history("pump-1", name), expected[name], name);
      const { reg: again } = restart(new SnapshotStore({ records: snapshotOf(reg) }));
      for (const name of ["temperature", "pressure"]) assert.deepStrictEqual(again.history("pump-1", name), expected[name], name);
    });

    it("writes every restored history into a snapshot taken before any of it was read", function () {
      const { written, history } = historyLine();
      const { reg } = restart(new SnapshotStore({ records: [written] }));
      const [rewritten] = snapshotOf(reg);
      assert.deepStrictEqual([Object.keys(rewritten.h), Object.keys(rewritten.hb)], [["pressure"], ["temperature"]]);
      const { reg: again } = restart(new SnapshotStore({ records: [rewritten] }));
      for (const name of ["temperature", "pressure"]) assert.deepStrictEqual(again.history("pump-1", name), history(name), name);
    });

    it("restores a series whose stored form is not one as an empty history, the blocks winning over a series written out under the same name", function () {
      const { written } = historyLine();
      const rec = {
        ...written,
        h: { ...written.h, temperature: [T0, 1], humidity: "not a list", level: [T0, 3] },
        hb: { ...written.hb, level: [T0, 4] },
      };
      const { reg } = restart(new SnapshotStore({ records: [rec] }));
      assert.strictEqual(reg.history("pump-1", "temperature").length, 16, "the blocks of temperature, not its one point written out");
      assert.deepStrictEqual(reg.history("pump-1", "humidity"), []);
      assert.deepStrictEqual(reg.history("pump-1", "level"), [], "blocks that are not text: none, though the form written out had a point");
      assert.deepStrictEqual(reg.history("pump-1", "pressure"), [{ ts: T0, value: 1.01 }]);
    });

    it("restores a long history written out point by point (a snapshot from before the encoded form), keeping the newest historyLength points", function () {
      const flat = [];
      for (let k = 0; k < 30; k++) flat.push(T0 + k * 1000, 20 + k / 4);
      const rec = { i: "pump-1", m: null, c: T0, u: T0, v: 2, l: 2, a: {}, r: { temperature: [20 + 29 / 4, T0 + 29000] }, h: { temperature: flat }, on: false, ls: null };
      const { reg } = restart(new SnapshotStore({ records: [rec] }));
      const expected = [];
      for (let k = 10; k < 30; k++) expected.push({ ts: T0 + k * 1000, value: 20 + k / 4 });
      assert.deepStrictEqual(reg.history("pump-1", "temperature"), expected);
    });

    it("keeps no history from a snapshot when history is turned off", function () {
      const rec = { i: "pump-1", m: null, c: T0, u: T0, v: 2, l: 2, a: {}, r: { temperature: [2, T0] }, h: { temperature: [T0, 2] }, on: false, ls: null };
      const { reg } = restart(new SnapshotStore({ records: [rec] }), { historyLength: 0 });
      assert.deepStrictEqual(reg.history("pump-1", "temperature"), []);
    });
  });

  describe("connectivity after a restart", function () {
    it("takes offline at once the twins silent past the staleness timeout, oldest reading first", function () {
      const clock = manualClock();
      const store = new JournalStore();
      const reg = new TwinRegistry({ clock, store });
      reg.open();
      // Created in the opposite order of their last readings, so order of creation is not enough.
      reg.create("recent");
      reg.create("silent");
      reg.report("silent", { temperature: 1 });
      clock.advance(5000);
      reg.report("recent", { temperature: 1 });
      clock.advance(1000);
      const { reg: back } = restart(new JournalStore(store.entries), { clock, stalenessMs: 3000 });
      assert.strictEqual(back.get("silent").connectivity.online, false);
      assert.strictEqual(back.get("recent").connectivity.online, true);
    });

    it("keeps online after a restart a twin whose device only repeated itself (deadband), with one store write per half timeout", function () {
      const clock = manualClock();
      const store = new JournalStore();
      const reg = new TwinRegistry({ clock, store, stalenessMs: 60000 });
      reg.open();
      reg.create("pump-1");
      reg.report("pump-1", { temperature: 1 });
      const written = store.entries.length;
      clock.advance(10000);
      reg.touch("pump-1");
      assert.strictEqual(store.entries.length, written, "a sign of life 10 s after the last stored one is not written");
      clock.advance(30000);
      reg.touch("pump-1");
      reg.touch("pump-1");
      assert.strictEqual(store.entries.length, written + 1, "one write, 40 s after the last stored one");
      clock.advance(30000);
      const { reg: back } = restart(new JournalStore(store.entries), { clock, stalenessMs: 60000 });
      assert.strictEqual(back.get("pump-1").connectivity.online, true);
      assert.strictEqual(back.get("pump-1").connectivity.lastSeen, T0 + 40000);
      return reg.close().then(() => back.close());
    });

    it("never moves a twin's last sign of life backwards when the clock steps back", function () {
      const clock = manualClock();
      const reg = new TwinRegistry({ clock, stalenessMs: 60000 });
      reg.open();
      reg.create("pump-1");
      reg.report("pump-1", { temperature: 1 });
      clock.advance(-5000);
      reg.touch("pump-1");
      assert.strictEqual(reg.get("pump-1").connectivity.lastSeen, T0);
      return reg.close();
    });

    it("takes a restored twin offline by itself once the staleness timeout passes", async function () {
      const clock = manualClock();
      const store = new JournalStore();
      const reg = new TwinRegistry({ clock, store });
      reg.open();
      reg.create("pump-1");
      reg.report("pump-1", { temperature: 1 });
      const { reg: back } = restart(new JournalStore(store.entries), { clock, stalenessMs: 200 });
      assert.strictEqual(back.get("pump-1").connectivity.online, true);
      clock.advance(1000);
      try {
        await waitFor(() => !back.get("pump-1").connectivity.online, "the staleness timer");
      } finally {
        await back.close();
      }
    });
  });

  describe("on a file store", function () {
    useStoreDirs("registry-recovery");

    it("compacts by itself once the journal outgrows its threshold", async function () {
      const dir = freshDir();
      const { reg, store } = openRegistry(dir, { compactBytes: 1 });
      reg.create("pump-1");
      reg.report("pump-1", { temperature: 1 });
      await store.flush();
      // The registry checks every 2 s.
      await waitFor(() => snapshotFiles(dir).length > 0, "a snapshot written without compact()", 6000);
    });
  });

  describe("when the disk is down", function () {
    /** A store whose appends fail like a disk that stopped answering. */
    class DownStore extends JournalStore {
      append(entry) {
        if (this.down) throw Object.assign(new Error("store-unavailable"), { code: "store-unavailable" });
        super.append(entry);
      }
    }

    it("still tells connectivity truthfully in memory when the connectivity entry cannot be written", function () {
      const clock = manualClock();
      const store = new DownStore();
      const reg = new TwinRegistry({ clock, store });
      reg.open();
      reg.create("pump-1");
      store.down = true;
      clock.advance(1000);
      reg.touch("pump-1");
      assert.deepStrictEqual(plain(reg.get("pump-1").connectivity), { online: true, lastSeen: T0 + 1000 });
      clock.advance(1000);
      reg.setOnline("pump-1", false);
      // Going offline is no reading: lastSeen stays at the last sign of life.
      assert.deepStrictEqual(plain(reg.get("pump-1").connectivity), { online: false, lastSeen: T0 + 1000 });
    });
  });

  describe("listeners and health", function () {
    it("stops passing listener errors to a handler that unsubscribed", function () {
      const reg = new TwinRegistry({ clock: manualClock() });
      reg.open();
      const seen = [];
      reg.subscribe(() => {
        throw new Error("listener failed");
      });
      const off = reg.onListenerError((err) => seen.push(err.message));
      reg.create("a");
      off();
      reg.create("b");
      assert.deepStrictEqual(seen, ["listener failed"]);
    });

    it("reports a closed registry as unhealthy, naming why", async function () {
      const reg = new TwinRegistry({ clock: manualClock() });
      reg.open();
      assert.strictEqual(reg.health().ok, true);
      await reg.close();
      assert.deepStrictEqual(reg.health(), { ok: false, error: "closed" });
    });
  });
});
