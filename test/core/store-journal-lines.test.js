"use strict";
/**
 * The journal at a restart and on a disk that misbehaves: lines that parse but are no journal
 * entry, a torn tail longer than one read chunk, the journal size the store counts after a
 * restart, and a disk that takes no bytes and reports no error.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { NOW, useStoreDirs, freshDir, openRegistry, docs, durable, journalFiles, lastJournal, snapshotFiles, waitFor } = require("./store-support");

describe("core/store: journal lines", function () {
  this.timeout(20000);
  useStoreDirs("store-journal-lines");

  describe("a line that is JSON but no journal entry is skipped with a warning, and the lines after it apply", function () {
    const bad = {
      "an unknown operation": `{"l":6,"o":"zz","i":"t-1","v":2,"t":${NOW}}`,
      "no operation": `{"l":6,"i":"t-1","v":2,"t":${NOW}}`,
      "an operation that is no string": `{"l":6,"o":5,"i":"t-1","v":2,"t":${NOW}}`,
      "a twin id that is no string": `{"l":6,"o":"x","i":5,"v":2,"t":${NOW}}`,
      "no twin id": `{"l":6,"o":"x","v":2,"t":${NOW}}`,
      "null": "null",
      "a number": "6",
      "an array": `[6,"x","t-1"]`,
    };
    for (const [kind, line] of Object.entries(bad)) {
      it(kind, async function () {
        const dir = freshDir("not-entry");
        const first = openRegistry(dir, { mode: "strict" });
        for (let k = 0; k < 5; k++) first.reg.create(`t-${k}`);
        assert.ifError(await durable(first.reg));
        await first.reg.close();
        fs.appendFileSync(lastJournal(dir), `${line}\n{"l":6,"o":"c","i":"late","v":1,"t":${NOW},"m":null}\n`);
        const { reg, warnings } = openRegistry(dir);
        assert.deepStrictEqual(warnings, ["journal journal-0000000000000001.log: 1 damaged line(s) skipped (line 6)"]);
        assert.deepStrictEqual([...reg.ids()].sort(), ["late", "t-0", "t-1", "t-2", "t-3", "t-4"]);
      });
    }

    it("a first line numbered 0", function () {
      const dir = freshDir("lsn-zero");
      fs.writeFileSync(path.join(dir, "journal-0000000000000001.log"), [
        `{"l":0,"o":"c","i":"zero","v":1,"t":${NOW},"m":null}`,
        `{"l":1,"o":"c","i":"one","v":1,"t":${NOW},"m":null}`,
      ].join("\n") + "\n");
      const { reg, warnings } = openRegistry(dir);
      assert.deepStrictEqual(warnings, ["journal journal-0000000000000001.log: 1 damaged line(s) skipped (line 1)"]);
      assert.deepStrictEqual([...reg.ids()], ["one"]);
    });
  });

  it("a torn tail longer than one read (1 MB) is cut back to the last whole line, and the next write survives a restart", async function () {
    const dir = freshDir("long-tail");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("a");
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    const file = lastJournal(dir);
    const whole = fs.statSync(file).size;
    fs.appendFileSync(file, `{"l":2,"o":"u","i":"a","v":2,"t":${NOW},"r":{"blob":["${"x".repeat(1536 * 1024)}`);
    const second = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(second.warnings, [`journal ${path.basename(file)} ends in a torn line; it was skipped`]);
    assert.strictEqual(fs.statSync(file).size, whole);
    second.reg.report("a", { x: 1 }, { ts: NOW });
    assert.ifError(await durable(second.reg));
    const expected = docs(second.reg);
    await second.reg.close();
    const third = openRegistry(dir);
    assert.deepStrictEqual(third.warnings, []);
    assert.deepStrictEqual(docs(third.reg), expected);
  });

  it("after a restart the store counts the journals since the snapshot, and asks for a compaction only once they outgrow it", async function () {
    const dir = freshDir("bytes-after-restart");
    const first = openRegistry(dir, { mode: "strict" });
    for (let k = 0; k < 40; k++) first.reg.create(`t-${k}`, { attributes: { k, site: "plant-1" } });
    await first.reg.compact();
    for (let k = 0; k < 3; k++) first.reg.report(`t-${k}`, { x: k }, { ts: NOW });
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    const snapshotSize = fs.statSync(path.join(dir, snapshotFiles(dir)[0])).size;
    const since = journalFiles(dir).at(-1);
    const sinceSize = fs.statSync(path.join(dir, since)).size;

    const second = openRegistry(dir, { mode: "strict", compactBytes: 1 });
    assert.strictEqual(second.store.stats.journalBytes, sinceSize, `the bytes of ${since}, not of the journal the snapshot holds`);
    assert.strictEqual(second.store.wantsCompaction(), false, `${sinceSize} bytes of journal against a snapshot of ${snapshotSize}`);
    let k = 0;
    while (second.store.stats.journalBytes <= snapshotSize) {
      second.reg.report(`t-${k++ % 40}`, { x: k }, { ts: NOW });
      assert.ifError(await durable(second.reg));
    }
    assert.strictEqual(second.store.wantsCompaction(), true);
  });

  it("a disk that takes no bytes and reports no error fails the write (ESHORTWRITE) instead of trying forever, and heals", async function () {
    const dir = freshDir("zero-write");
    let stuck = false;
    const io = {
      write(fd, buffer, offset, length, position, cb) {
        if (stuck) return setImmediate(cb, null, 0);
        fs.write(fd, buffer, offset, length, position, cb);
      },
      fdatasync: (fd, cb) => fs.fdatasync(fd, cb),
      ftruncate: (fd, len, cb) => fs.ftruncate(fd, len, cb),
    };
    const { reg, store } = openRegistry(dir, { mode: "strict", io, retryMs: 10 });
    reg.create("a");
    assert.ifError(await durable(reg));
    stuck = true;
    reg.create("b");
    const err = await durable(reg);
    assert.strictEqual(err && err.code, "store-unavailable");
    assert.match(String(err.params.reason), /^ESHORTWRITE: the disk took 0 of \d+ bytes and reported no error$/);
    stuck = false;
    await waitFor(() => store.health().ok, "the store to heal");
    await reg.close();
    assert.deepStrictEqual([...openRegistry(dir).reg.ids()].sort(), ["a", "b"], "the change was kept and written once the disk took it");
  });
});
