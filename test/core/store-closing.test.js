"use strict";
/**
 * Closing a file store: what close() says when the disk is failing, what waiting messages hear,
 * and what it leaves behind (open descriptors, timers, a torn write not yet cut back). A flow
 * redeploy closes and reopens every registry, so anything left behind piles up.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { NOW, useStoreDirs, freshDir, openRegistry, docs, durable, faultyIO, journalText, throwsTwin } = require("./store-support");

const openDescriptors = () => fs.readdirSync("/proc/self/fd").length;
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("core/store: closing", function () {
  this.timeout(20000);
  useStoreDirs("store-closing");

  it("close() on a failing disk fails with the disk's error, and a message still waiting hears it too", async function () {
    const dir = freshDir("close-failing");
    const io = faultyIO();
    const { reg, store } = openRegistry(dir, { mode: "strict", io, retryMs: 1000 });
    reg.create("a");
    assert.ifError(await durable(reg));
    io.failWrite = "ENOSPC";
    reg.create("b");
    const first = await durable(reg);
    assert.strictEqual(first && first.code, "store-unavailable");
    // The failed batch is kept for a retry: a message asking now waits for it.
    let heard = null;
    store.whenDurable((err) => (heard = err || "ok"));
    await assert.rejects(reg.close(), (err) => err.code === "store-unavailable" && /ENOSPC/.test(err.params.reason));
    assert.ok(heard && heard !== "ok", "the waiting message heard back, with an error");
    assert.strictEqual(heard.code, "store-unavailable");
    assert.match(String(heard.params.reason), /ENOSPC/, "it names what the disk said");
    throwsTwin(() => store.append({ l: 9, o: "c", i: "late" }), "store-closed");
  });

  it("close() releases every file descriptor the store opened (journals, snapshots read and written, a format 1 snapshot)", async function () {
    const dir = freshDir("close-fds");
    const header = JSON.stringify({ format: "twinwire-snapshot", version: 1, lsn: 1 });
    const twin = JSON.stringify({ i: "old", m: null, c: NOW, u: NOW, v: 1, l: 1, a: {}, r: {}, on: false, ls: null });
    fs.writeFileSync(path.join(dir, "snapshot.jsonl"), `${header}\n${twin}\n`);
    const before = openDescriptors();
    const { reg } = openRegistry(dir, { mode: "strict" });
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 10; k++) reg.create(`t-${round}-${k}`);
      await reg.compact();
    }
    await reg.close();
    const again = openRegistry(dir, { mode: "strict" });
    assert.strictEqual(again.reg.size, 31);
    await again.reg.close();
    assert.strictEqual(openDescriptors(), before);
  });

  it("close() waits for a torn write to be cut back: the next start finds a clean journal", async function () {
    const dir = freshDir("close-cutting");
    const io = faultyIO();
    const { reg } = openRegistry(dir, { mode: "strict", io, retryMs: 1000 });
    reg.create("a", { attributes: { site: "s" } });
    assert.ifError(await durable(reg));
    const clean = journalText(dir);
    io.failWrite = "EIO";
    io.partial = true;
    io.truncateDelayMs = 80;
    reg.report("a", { x: 1 }, { ts: NOW });
    const err = await durable(reg);
    assert.strictEqual(err && err.code, "store-unavailable");
    await reg.close().catch(() => undefined);
    assert.strictEqual(io.truncatesDone, io.truncates, "no cut-back still running");
    assert.strictEqual(journalText(dir), clean);
    const again = openRegistry(dir);
    assert.deepStrictEqual(again.warnings, []);
    assert.deepStrictEqual(Object.keys(docs(again.reg)), ["a"]);
  });

  it("close() on a failing disk leaves no retry timer behind, even when the cut-back fails after it began", async function () {
    const dir = freshDir("close-timers");
    const io = faultyIO();
    const { reg } = openRegistry(dir, { mode: "strict", io, retryMs: 5000 });
    reg.create("a");
    assert.ifError(await durable(reg));
    const before = timers(); // mocha's own timeout timer is armed by now
    io.failWrite = "EIO";
    io.partial = true;
    io.failTruncate = "EIO";
    io.truncateDelayMs = 50;
    reg.create("b");
    await durable(reg);
    await reg.close().catch(() => undefined);
    assert.strictEqual(timers(), before);
  });
});
