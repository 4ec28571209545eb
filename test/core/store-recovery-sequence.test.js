"use strict";
/**
 * Recovery's reading of sequence numbers and journal files: where numbering continues after a
 * restart, which journals are replayed and in what order, what counts as damage (and what does
 * not), and how big recovery finds the journal (which decides when the next snapshot is due).
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { FileStore } = require("../../nodes/lib/core/store/file-store");
const { NOW, useStoreDirs, freshDir, openRegistry, journalFiles, lastJournal, durable } = require("./store-support");

/** A twin record as a snapshot holds it, last changed at sequence number `l`. */
const record = (id, l) => ({ i: id, m: null, c: NOW, u: NOW, v: 1, l, a: {}, r: {}, on: false, ls: null });
/** A snapshot source's lines (an iterator, as the registry gives them). */
const linesOf = (...records) => records.map((r) => JSON.stringify(r))[Symbol.iterator]();
const createEntry = (l, id) => ({ l, o: "c", i: id, v: 1, t: NOW, m: null });
const journalName = (first) => `journal-${String(first).padStart(16, "0")}.log`;

function whenDurable(store) {
  return new Promise((resolve) => store.whenDurable((err) => resolve(err)));
}

describe("core/store: recovery of sequence numbers and journals", function () {
  this.timeout(20000);
  useStoreDirs("store-recovery-seq");
  const stores = [];
  afterEach(async function () {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  });
  const open = (dir, options = {}) => {
    const store = new FileStore({ dir, mode: "strict", ...options });
    stores.push(store);
    return { store, recovered: store.recover() };
  };

  it("continues numbering after the newest change a snapshot holds, even one newer than the snapshot's header and than the journal", async function () {
    const dir = freshDir("numbering");
    const { store } = open(dir);
    // Written while changes went on: the header says 5, a twin in it was changed at 9, and the
    // journal since holds 6 and 7 only (8 and 9 never reached it before a crash).
    await store.compact(() => ({ lsn: 5, lines: () => linesOf(record("fast", 9), record("slow", 2)) }));
    store.append(createEntry(6, "j6"));
    store.append(createEntry(7, "j7"));
    assert.ifError(await whenDurable(store));
    await store.close();
    const { recovered } = open(dir);
    assert.deepStrictEqual(recovered.warnings, []);
    assert.deepStrictEqual(recovered.records.map((r) => r.i).sort(), ["fast", "slow"]);
    assert.deepStrictEqual(recovered.entries.map((e) => e.l), [6, 7]);
    assert.strictEqual(recovered.lsn, 9, "the next change is numbered 10, after every change on disk");
  });

  it("every snapshot damaged: numbering continues after the newest change either of them holds", async function () {
    const dir = freshDir("numbering-salvage");
    const { store } = open(dir);
    await store.compact(() => ({ lsn: 5, lines: () => linesOf(record("a", 3), record("b", 5)) }));
    await store.compact(() => ({ lsn: 8, lines: () => linesOf(record("a", 3), record("b", 5), record("c", 12)) }));
    await store.close();
    assert.ok(!journalFiles(dir).includes(journalName(1)), "the journals from the start are gone (the test's premise)");
    for (const name of fs.readdirSync(dir).filter((n) => n.startsWith("snapshot-"))) fs.appendFileSync(path.join(dir, name), '{"i":"torn');
    const { recovered } = open(dir);
    assert.match(recovered.warnings.join("\n"), /no snapshot is whole/);
    assert.deepStrictEqual([...new Set(recovered.records.map((r) => r.i))].sort(), ["a", "b", "c"]);
    assert.strictEqual(recovered.lsn, 12);
  });

  it("every snapshot damaged: a twin on a damaged line is named as lost unless the journals delete or re-create it", async function () {
    const dir = freshDir("salvage-lost");
    const { store } = open(dir);
    await store.compact(() => ({ lsn: 5, lines: () => linesOf(record("a", 1), record("b", 2), record("x", 3), record("y", 4), record("z", 5)) }));
    store.append({ l: 6, o: "u", i: "x", v: 2, t: NOW, r: { t: [1, NOW] } }); // a reading: no whole twin to apply it to
    store.append({ l: 7, o: "x", i: "z", t: NOW }); // deleted: not lost
    store.append(createEntry(8, "y")); // created again: not lost
    assert.ifError(await whenDurable(store));
    await store.compact(() => ({ lsn: 8, lines: () => linesOf(record("a", 1), record("b", 2), record("x", 6), record("y", 8)) }));
    await store.close();
    for (const name of fs.readdirSync(dir).filter((n) => n.startsWith("snapshot-"))) {
      const file = path.join(dir, name);
      const text = fs.readFileSync(file, "utf8").replace(/^(\{"i":"[xyz]",).*$/gm, "$1\u0000garbled");
      fs.writeFileSync(file, text);
    }
    const { recovered } = open(dir);
    const text = recovered.warnings.join("\n");
    assert.match(text, /no snapshot is whole/);
    assert.match(text, /1 twin\(s\) on damaged snapshot lines could not be restored: x$/m);
    assert.deepStrictEqual([...new Set(recovered.records.map((r) => r.i))].sort(), ["a", "b"]);
  });

  it("a damaged snapshot with no journal at all (a backup of the snapshot alone): its readable twins are restored, not dropped", async function () {
    const dir = freshDir("snapshot-alone");
    const { store } = open(dir);
    await store.compact(() => ({ lsn: 3, lines: () => linesOf(record("a", 1), record("b", 2), record("c", 3)) }));
    await store.close();
    for (const name of journalFiles(dir)) fs.rmSync(path.join(dir, name));
    const [snapshot] = fs.readdirSync(dir).filter((n) => n.startsWith("snapshot-"));
    fs.appendFileSync(path.join(dir, snapshot), '{"i":"d","m":nu');
    const { recovered } = open(dir);
    assert.deepStrictEqual(recovered.records.map((r) => r.i), ["a", "b", "c"]);
    const text = recovered.warnings.join("\n");
    assert.doesNotMatch(text, /restored from the journals alone/, "there are no journals to restore from");
    assert.match(text, /1 twin\(s\) on damaged snapshot lines could not be restored: d$/m);
  });

  it("replays journals in sequence order, not in the order of their names or of their creation", async function () {
    const dir = freshDir("order");
    // Names without the padding (journal-9.log sorts after journal-12.log by name), written out
    // of order: neither creation order nor name order is sequence order.
    const order = [9, 3, 10, 1, 12, 5, 2, 11, 7, 4, 8, 6];
    for (const first of order) {
      fs.writeFileSync(path.join(dir, `journal-${first}.log`), JSON.stringify(createEntry(first, `t-${first}`)) + "\n");
    }
    const { recovered } = open(dir);
    assert.deepStrictEqual(recovered.warnings, []);
    assert.deepStrictEqual(recovered.entries.map((e) => e.l), order.slice().sort((a, b) => a - b));
    assert.strictEqual(recovered.lsn, 12);
  });

  it("a file named like a journal but without a number is neither read nor warned about", function () {
    const dir = freshDir("not-a-journal");
    fs.writeFileSync(path.join(dir, journalName(1)), JSON.stringify(createEntry(1, "a")) + "\n");
    fs.writeFileSync(path.join(dir, "journal-notes.log"), "operator's notes, not entries\n");
    const { recovered } = open(dir);
    assert.deepStrictEqual(recovered.warnings, []);
    assert.deepStrictEqual(recovered.entries.map((e) => e.i), ["a"]);
  });

  it("a blank line in a journal is not damage", function () {
    const dir = freshDir("blank");
    const lines = [createEntry(1, "a"), createEntry(2, "b")].map((e) => JSON.stringify(e));
    fs.writeFileSync(path.join(dir, journalName(1)), `${lines[0]}\n\n${lines[1]}\n`);
    const { recovered } = open(dir);
    assert.deepStrictEqual(recovered.warnings, []);
    assert.deepStrictEqual(recovered.entries.map((e) => e.i), ["a", "b"]);
  });

  it("a journal line repeating the sequence number before it is damage: skipped with a warning, not applied", async function () {
    const dir = freshDir("repeat");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("a");
    first.reg.report("a", { t: 1 }, { ts: NOW });
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    const entries = fs.readFileSync(lastJournal(dir), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const repeat = { ...entries[1], v: 3, r: { t: [999, NOW] } };
    fs.appendFileSync(lastJournal(dir), JSON.stringify(repeat) + "\n");
    const second = openRegistry(dir);
    assert.match(second.warnings.join("\n"), /1 damaged line\(s\) skipped \(line 3\)/);
    assert.strictEqual(second.reg.get("a").reported.t, 1);
  });

  it("a torn line in a journal that is not the last says so in its warning", function () {
    const dir = freshDir("torn-middle");
    fs.writeFileSync(path.join(dir, journalName(1)), JSON.stringify(createEntry(1, "a")) + '\n{"l":2,"o":"c","i":"b');
    fs.writeFileSync(path.join(dir, journalName(2)), JSON.stringify(createEntry(2, "c")) + "\n");
    const { recovered } = open(dir);
    assert.deepStrictEqual(recovered.warnings, [`journal ${journalName(1)} ends in a torn line (not the last journal); it was skipped`]);
    assert.deepStrictEqual(recovered.entries.map((e) => e.i), ["a", "c"]);
  });

  it("a journal kept only as an older snapshot's fallback is not read at a start from the newer one (its damage does not warn)", async function () {
    const dir = freshDir("fallback");
    const { reg } = openRegistry(dir, { mode: "strict" });
    for (let i = 0; i < 5; i++) reg.create(`a${i}`);
    await reg.compact();
    for (let i = 0; i < 5; i++) reg.create(`b${i}`);
    await reg.compact();
    reg.create("c0");
    assert.ifError(await durable(reg));
    await reg.close();
    const journals = journalFiles(dir);
    assert.strictEqual(journals.length, 2, `the fallback journal and the live one: ${journals}`);
    const fallback = path.join(dir, journals[0]);
    const lines = fs.readFileSync(fallback, "utf8").split("\n");
    lines[2] = "{garbage";
    fs.writeFileSync(fallback, lines.join("\n"));
    const again = openRegistry(dir);
    assert.deepStrictEqual(again.warnings, []);
    assert.strictEqual(again.reg.size, 11);
  });

  describe("journal size and the next snapshot", function () {
    const fill = (store, from, n) => {
      for (let l = from; l < from + n; l++) store.append(createEntry(l, `twin-${l}`));
    };

    it("a journal grown past compactBytes makes the store ask for a snapshot", async function () {
      const { store } = open(freshDir("grow"), { compactBytes: 2000 });
      fill(store, 1, 5);
      assert.ifError(await whenDurable(store));
      assert.strictEqual(store.wantsCompaction(), false, "a few hundred bytes");
      fill(store, 6, 40);
      assert.ifError(await whenDurable(store));
      assert.strictEqual(store.wantsCompaction(), true, "some 3 KB");
    });

    it("a restart remembers how big the journal has grown", async function () {
      const dir = freshDir("grow-restart");
      const { store } = open(dir, { compactBytes: 2000 });
      fill(store, 1, 45);
      assert.ifError(await whenDurable(store));
      await store.close();
      const again = open(dir, { compactBytes: 2000 });
      assert.strictEqual(again.store.wantsCompaction(), true);
    });

    it("by default a journal of some kilobytes does not ask for a snapshot (the threshold is 16 MiB)", async function () {
      const { store } = open(freshDir("default-threshold"));
      fill(store, 1, 100);
      assert.ifError(await whenDurable(store));
      assert.strictEqual(store.wantsCompaction(), false);
    });
  });
});
