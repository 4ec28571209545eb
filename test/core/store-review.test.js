"use strict";
/**
 * The store's edges a review of the durability fixes found (issue 10): a snapshot written while
 * changes go on, an fsync slower than the batched window, callbacks queued while a torn write is
 * cut back or while the store closes failed, a failed compaction's descriptors, a damaged snapshot
 * on a read-only disk, stray journal names, the largest sequence number, and a damaged byte before
 * a torn tail. Each test failed before its fix.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const {
  NOW, snapshotFiles, newestSnapshot, useStoreDirs, mountTmpfs, freshDir, openRegistry, docs,
  journalFiles, lastJournal, waitFor, durable, faultyIO, sleep,
} = require("./store-support");

/** A copy of `dir` as a SIGKILL at this moment would leave it. */
function crashImage(dir, label) {
  const image = freshDir(label);
  for (const name of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, name), path.join(image, name));
  return image;
}

describe("core/store: edges found in review", function () {
  this.timeout(20000);
  useStoreDirs("store-review");

  it("a twin changed while its snapshot was written, then a crash before the journal got that change: later changes to it are kept", async function () {
    const dir = freshDir("fuzzy");
    const { reg, store } = openRegistry(dir, { intervalMs: 100 });
    reg.create("x", { reported: { v: 0 } });
    reg.create("y");
    await store.flush();
    // One change lands between the rotation and the serialisation of the twins, as any message can.
    await store.compact(() => {
      const source = reg.snapshotSource();
      return { lsn: source.lsn, lines: () => (reg.report("x", { v: 1 }), source.lines()) };
    });
    const image = crashImage(dir, "fuzzy-crash"); // the batch holding v=1 is not written yet
    const first = openRegistry(image, { mode: "strict" });
    assert.strictEqual(first.reg.get("x").reported.v, 1, "the snapshot holds it");
    first.reg.report("x", { v: 2 });
    assert.ifError(await durable(first.reg));
    assert.strictEqual(first.reg.get("x").reported.v, 2);
    await first.reg.close();
    const second = openRegistry(image);
    assert.strictEqual(second.reg.get("x").reported.v, 2, "the acknowledged change survived the restart");
    assert.deepStrictEqual(second.warnings, []);
  });

  it("batched: an fsync slower than the window holds acknowledgements until every change older than the window is written", async function () {
    const dir = freshDir("slow-fsync");
    const io = faultyIO();
    io.syncDelayMs = 300;
    const { reg, store } = openRegistry(dir, { mode: "batched", intervalMs: 100, io });
    const acks = [];
    const ack = (name) => reg.whenDurable(() => acks.push({ name, at: performance.now(), written: journalText() }));
    const journalText = () => fs.readFileSync(path.join(dir, journalFiles(dir).at(-1)), "utf8");
    reg.create("a");
    ack("a");
    await waitFor(() => io.syncs >= 1, "the first batch's fsync to start");
    reg.report("a", { x: 1 }); // B: acknowledged at once, its batch waits behind the slow fsync
    ack("B");
    const bAt = performance.now();
    await waitFor(() => performance.now() - bAt > 150, "B to be older than the window");
    reg.report("a", { x: 2 }); // C: may only be acknowledged once B is written
    ack("C");
    await waitFor(() => acks.length === 3, "every acknowledgement", 10000);
    const c = acks.find((x) => x.name === "C");
    assert.match(c.written, /"rv":\{"x":1\}/, "B was on disk when C was acknowledged");
    await store.flush();
  });

  it("batched: a change acknowledged while a torn write is cut back is neither lost nor left waiting", async function () {
    const dir = freshDir("cutting");
    const io = faultyIO();
    io.truncateDelayMs = 200;
    const { reg, store } = openRegistry(dir, { mode: "batched", intervalMs: 40, retryMs: 400, io });
    reg.create("a", { attributes: { site: "x" } });
    await store.flush();
    io.failWrite = "ENOSPC";
    reg.report("a", { t: 1 });
    await waitFor(() => io.truncates >= 1 && io.truncatesDone === 0, "the cut-back of the failed write");
    await sleep(60); // the cut-back takes 200 ms; by now the unwritten reading is older than the window
    assert.strictEqual(io.truncatesDone, 0, "still cutting back");
    reg.updateAttributes("a", { site: "x" }); // no change: no entry, but a message waits for durability
    let called = null;
    reg.whenDurable((err) => (called = err || "ok"));
    io.failWrite = null;
    await waitFor(() => called !== null, "the waiting message to complete", 10000);
    await waitFor(() => store.health().ok, "the store to heal", 10000);
    const again = openRegistry(crashImage(dir, "cutting-after"));
    assert.strictEqual(again.reg.get("a").reported.t, 1, "the acknowledged reading was written once the disk healed");
  });

  for (const mode of ["strict", "batched"]) {
    it(`${mode}: close() while the disk is failing tells every waiting message so, instead of leaving it waiting`, async function () {
      const dir = freshDir(`close-${mode}`);
      const io = faultyIO();
      const { reg, store } = openRegistry(dir, { mode, intervalMs: 20, retryMs: 10000, io });
      reg.create("a");
      await store.flush();
      io.failWrite = "ENOSPC";
      reg.report("a", { t: 1 });
      await durable(reg);
      await waitFor(() => !store.health().ok, "the failure");
      await sleep(60); // batched: the unwritten reading is now older than the window (20 ms), so nothing more is acknowledged
      reg.updateAttributes("a", {}); // a message that completes once durable
      let called = null;
      reg.whenDurable((err) => (called = err || "ok"));
      await reg.close().catch(() => undefined);
      assert.ok(called, "the waiting message heard back");
      assert.notStrictEqual(called, "ok", "with an error: its change may not be on disk");
    });
  }

  it("a failed compaction closes only its own file descriptor", async function () {
    const dir = freshDir("double-close");
    const { reg, store } = openRegistry(dir);
    for (let i = 0; i < 20; i++) reg.create(`t${i}`, { attributes: { n: i } });
    await store.flush();
    let victim = null;
    const rename = fs.rename;
    fs.rename = function (from, to, cb) {
      if (String(to).includes("snapshot-")) {
        victim = fs.openSync(path.join(dir, "victim.txt"), "w"); // takes the number the snapshot's descriptor had
        return process.nextTick(cb, Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" }));
      }
      return rename.apply(this, arguments);
    };
    try {
      await assert.rejects(reg.compact(), /EIO/);
    } finally {
      fs.rename = rename;
    }
    await sleep(20);
    assert.doesNotThrow(() => fs.writeSync(victim, "still mine\n"), "another file's descriptor was closed by the store");
    fs.closeSync(victim);
    assert.deepStrictEqual(snapshotFiles(dir), [], "no snapshot from the failed compaction");
    reg.create("after");
    assert.ifError(await durable(reg));
  });

  it("a damaged snapshot found on a read-only disk is set aside once the disk is writable, and never counted as a generation", async function () {
    const disk = mountTmpfs("ro-damaged", 2048);
    if (!disk) return requireRoot(this);
    const dir = path.join(disk.dir, "store");
    const first = openRegistry(dir, { mode: "strict" });
    for (let i = 0; i < 10; i++) first.reg.create(`a${i}`);
    await first.reg.compact();
    for (let i = 0; i < 10; i++) first.reg.create(`b${i}`);
    await first.reg.compact();
    await first.reg.close();
    fs.writeFileSync(newestSnapshot(dir), fs.readFileSync(newestSnapshot(dir), "utf8").replace('"a3"', '"a9x"'));
    disk.readOnly();
    const { reg, store, warnings } = openRegistry(dir, { mode: "strict", retryMs: 30 });
    assert.strictEqual(reg.size, 20, warnings.join("\n"));
    disk.writable();
    await waitFor(() => store.health().ok, "the store to heal", 10000);
    assert.ok(fs.readdirSync(dir).some((n) => n.endsWith(".damaged")), "set aside once writable");
    for (let i = 0; i < 5; i++) reg.create(`c${i}`);
    await reg.compact();
    const live = docs(reg);
    await reg.close();
    // Damage the newest snapshot: the one before it must still be there, with its journals.
    fs.truncateSync(newestSnapshot(dir), 100);
    const again = openRegistry(dir);
    assert.deepStrictEqual(docs(again.reg), live, again.warnings.join("\n"));
  });

  it("a stray journal-0.log does not pass for the journals from the start", async function () {
    const dir = freshDir("stray");
    const { reg } = openRegistry(dir, { mode: "strict" });
    for (let i = 0; i < 20; i++) reg.create(`a${i}`);
    await reg.compact();
    for (let i = 0; i < 20; i++) reg.create(`b${i}`);
    await reg.compact();
    reg.create("c0");
    assert.ifError(await durable(reg));
    const live = docs(reg);
    await reg.close();
    for (const name of snapshotFiles(dir)) fs.appendFileSync(path.join(dir, name), "\n{torn");
    fs.writeFileSync(path.join(dir, "journal-0.log"), "");
    const again = openRegistry(dir);
    assert.deepStrictEqual(docs(again.reg), live, again.warnings.join("\n"));
  });

  it("a journal line with the largest safe sequence number is damage, not a new start: later writes survive", async function () {
    const dir = freshDir("max-lsn");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("a");
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    fs.appendFileSync(lastJournal(dir), `{"l":${Number.MAX_SAFE_INTEGER},"o":"c","i":"far","v":1,"t":${NOW},"m":null}\n`);
    const second = openRegistry(dir, { mode: "strict" });
    assert.match(second.warnings.join("\n"), /1 damaged line\(s\) skipped/);
    assert.strictEqual(second.reg.has("far"), false);
    for (let i = 0; i < 10; i++) second.reg.create(`late-${i}`);
    assert.ifError(await durable(second.reg));
    await second.reg.close();
    const third = openRegistry(dir);
    assert.strictEqual(third.reg.size, 11);
  });

  it("a damaged byte in a whole line does not move where a torn tail is cut", async function () {
    const dir = freshDir("utf8");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("a", { attributes: { s: "x" } });
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    const file = lastJournal(dir);
    const bytes = fs.readFileSync(file);
    bytes[bytes.indexOf(Buffer.from('"x"')) + 1] = 0xff; // one invalid UTF-8 byte inside the value
    fs.writeFileSync(file, Buffer.concat([bytes, Buffer.from('{"l":2,"o":"c","i":"to')]));
    const whole = bytes.length;
    const second = openRegistry(dir, { mode: "strict" });
    assert.strictEqual(fs.statSync(file).size, whole, "cut exactly at the end of the last whole line");
    second.reg.create("b");
    assert.ifError(await durable(second.reg));
    await second.reg.close();
    const third = openRegistry(dir);
    assert.ok(third.reg.has("b"), "the acknowledged create after the cut survives");
    assert.doesNotMatch(third.warnings.join("\n"), /torn/, "and the journal is whole again");
  });

  it("compacts a registry with no twins (a slice with nothing to write is no short write), and one whose last slice is empty", async function () {
    const dir = freshDir("empty-slice");
    const { reg } = openRegistry(dir, { sliceMs: 1 });
    await reg.compact();
    assert.strictEqual(snapshotFiles(dir).length, 1);
    reg.create("only");
    await reg.compact();
    await reg.close();
    const again = openRegistry(dir);
    assert.deepStrictEqual(again.warnings, []);
    assert.ok(again.reg.has("only"));
  });
});
