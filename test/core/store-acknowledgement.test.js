"use strict";
/**
 * When a message is told its change is durable, per mode: strict waits for the fsync that covers
 * it (and no longer), batched answers at once unless a change older than the window is still
 * being written, and close() waits for a retried write before it lets go of the journal.
 */
const assert = require("assert");
const fs = require("fs");
const { useStoreDirs, freshDir, openRegistry, journalText, journalEntries, lastJournal, waitFor, durable, immediate, faultyIO } = require("./store-support");

describe("core/store: when a change is acknowledged", function () {
  this.timeout(20000);
  useStoreDirs("store-ack");

  describe("strict", function () {
    it("a message that changed nothing, with nothing being written, completes at once", async function () {
      const { reg } = openRegistry(freshDir("strict-idle"), { mode: "strict" });
      let called = false;
      reg.whenDurable((err) => {
        assert.ifError(err);
        called = true;
      });
      assert.ok(called, "completed without waiting for a write");
    });

    it("a message that changed nothing while an earlier change is written completes once that change is on disk", async function () {
      const dir = freshDir("strict-inflight");
      const io = faultyIO();
      io.syncDelayMs = 200;
      const { reg } = openRegistry(dir, { mode: "strict", io });
      reg.create("a");
      await waitFor(() => io.syncs >= 1, "the write of a to be under way");
      let seen = null;
      reg.whenDurable((err) => (seen = { err, synced: io.syncsDone }));
      assert.strictEqual(seen, null, "not completed while the change it may depend on is unwritten");
      await waitFor(() => seen !== null, "the completion");
      assert.ifError(seen.err);
      assert.strictEqual(seen.synced, 1, "completed after the fsync that covers a");
    });

    it("a change completes after its own fsync, not after changes made while that fsync ran", async function () {
      const io = faultyIO();
      io.syncDelayMs = 300;
      const { reg } = openRegistry(freshDir("strict-own"), { mode: "strict", intervalMs: 100, io });
      reg.create("a");
      let seen = null;
      reg.whenDurable((err) => (seen = { err, synced: io.syncsDone }));
      await waitFor(() => io.syncs >= 1, "a's fsync to start");
      reg.create("b"); // waits for the next write; older than the interval once a's fsync is done
      await waitFor(() => seen !== null, "a's completion", 10000);
      assert.ifError(seen.err);
      assert.strictEqual(seen.synced, 1, "completed by the first fsync, without waiting for b's");
      assert.ifError(await durable(reg));
    });

    it("does not wait for the batched interval: a change is durable as soon as its fsync is done", async function () {
      const { reg } = openRegistry(freshDir("strict-fast"), { mode: "strict", intervalMs: 60000 });
      reg.create("a");
      const started = performance.now();
      assert.ifError(await durable(reg));
      const took = performance.now() - started;
      assert.ok(took < 5000, `durable after ${Math.round(took)} ms, not after half the 60 s interval`);
    });
  });

  describe("batched", function () {
    it("changes made in different turns of the event loop within the interval share one write", async function () {
      const dir = freshDir("batched-share");
      const io = faultyIO();
      const { reg } = openRegistry(dir, { mode: "batched", intervalMs: 400, io });
      for (const id of ["a", "b", "c"]) {
        reg.create(id);
        await immediate();
      }
      assert.strictEqual(io.writes, 0, "nothing written yet: the batch waits for more changes");
      await waitFor(() => journalEntries(dir).length === 3, "the batch on disk");
      assert.strictEqual(io.writes, 1, "one write for the three changes");
    });

    it("a change is on disk by itself well within the interval, with no acknowledgement pushing it", async function () {
      const dir = freshDir("batched-timer");
      const { reg } = openRegistry(dir, { mode: "batched", intervalMs: 1000 });
      const started = performance.now();
      reg.create("a");
      await waitFor(() => /"i":"a"/.test(journalText(dir)), "a on disk", 5000);
      const took = performance.now() - started;
      // Written half the interval after the change; a late timer on a busy machine gets the rest.
      assert.ok(took < 1500, `written after ${Math.round(took)} ms`);
    });

    it("starts writing half a window after a change even inside one long turn of the event loop, where the flush timer cannot run", async function () {
      const io = faultyIO();
      const { reg } = openRegistry(freshDir("batched-long-turn"), { mode: "batched", intervalMs: 600, io });
      reg.create("a");
      const written = io.writes;
      // A long synchronous turn, as a socket read of thousands of MQTT readings makes.
      const started = performance.now();
      while (performance.now() - started < 320);
      let called = false;
      reg.whenDurable(() => (called = true));
      assert.ok(io.writes > written, "the write of a started within the turn, not after it when the timer runs late");
      assert.ok(called, "acknowledged at once: a is younger than the window");
      assert.ifError(await durable(reg));
    });

    it("acknowledges at once while the change being written is younger than the window", async function () {
      const io = faultyIO();
      io.syncDelayMs = 300;
      const { reg, store } = openRegistry(freshDir("batched-young"), { mode: "batched", intervalMs: 5000, io });
      reg.create("a");
      const flushed = store.flush(); // a's write starts now, its fsync takes 300 ms
      assert.strictEqual(io.writes, 1);
      let called = false;
      reg.whenDurable(() => (called = true));
      assert.ok(called, "acknowledged without waiting for the slow fsync");
      await flushed;
    });

    /** Starts writing `a` with a 500 ms fsync in a 100 ms window, then lets `a` age past the window. */
    async function slowWritePastWindow(label) {
      const dir = freshDir(label);
      const io = faultyIO();
      io.syncDelayMs = 500;
      const { reg, store } = openRegistry(dir, { mode: "batched", intervalMs: 100, io });
      reg.create("a");
      const started = performance.now();
      const flushed = store.flush();
      await waitFor(() => performance.now() - started >= 150, "a to be older than the window");
      assert.strictEqual(io.syncsDone, 0, "a's fsync still running (the test's premise)");
      return { dir, io, reg, flushed };
    }

    it("a message acknowledged while a change older than the window is still being written waits for that write", async function () {
      const { io, reg, flushed } = await slowWritePastWindow("batched-held");
      let seen = null;
      reg.whenDurable((err) => (seen = { err, synced: io.syncsDone }));
      assert.strictEqual(seen, null, "held: a was acknowledged more than a window ago and is not on disk");
      await flushed;
      await waitFor(() => seen !== null, "the held acknowledgement");
      assert.ifError(seen.err);
      assert.strictEqual(seen.synced, 1);
    });

    it("a held acknowledgement is released when the slow write is done, not kept for a change younger than the window", async function () {
      const dir = freshDir("batched-release");
      const io = faultyIO();
      // a's fsync waits until the test lets it finish.
      let release = null;
      const fdatasync = io.fdatasync;
      io.fdatasync = (fd, cb) => {
        if (release === null) release = () => fdatasync(fd, cb);
        else fdatasync(fd, cb);
      };
      // A window long enough that b, created just before a's fsync is let finish, is still young
      // when it does on a loaded machine (at 100 ms a busy CI machine could make b old first).
      const { reg, store } = openRegistry(dir, { mode: "batched", intervalMs: 1000, io });
      reg.create("a");
      const started = performance.now();
      store.flush().catch(() => undefined);
      await waitFor(() => release !== null && performance.now() - started >= 1050, "a's fsync to hang past the window");
      let seen = null;
      reg.whenDurable((err) => (seen = { err, synced: io.syncsDone }));
      assert.strictEqual(seen, null, "held behind a");
      reg.create("b"); // acknowledged at once, and young when a's fsync finishes
      release();
      await waitFor(() => seen !== null, "the held acknowledgement");
      assert.ifError(seen.err);
      assert.strictEqual(seen.synced, 1, "released by a's fsync, not held for b's write");
    });

    it("a change acknowledgement held behind a slow write also waits for its own change once that is older than the window", async function () {
      const { dir, io, reg } = await slowWritePastWindow("batched-held-own");
      reg.create("b");
      let seen = null;
      reg.whenDurable((err) => (seen = { err, synced: io.syncsDone, onDisk: fs.readFileSync(lastJournal(dir), "utf8") }));
      assert.strictEqual(seen, null, "held behind a");
      await waitFor(() => seen !== null, "the held acknowledgement", 10000);
      assert.ifError(seen.err);
      // By the time a's write finished, b had waited longer than the window: acknowledging it then
      // would let a crash lose an acknowledged change older than the window.
      assert.match(seen.onDisk, /"i":"b"/, "b was on disk when it was acknowledged");
      assert.strictEqual(seen.synced, 2);
    });
  });

  describe("batched, on a failing disk", function () {
    it("a held acknowledgement does not make the store retry a failed disk before its retry time", async function () {
      const io = faultyIO();
      const { reg, store } = openRegistry(freshDir("no-early-retry"), { mode: "batched", intervalMs: 20, retryMs: 60000, io });
      io.failWrite = "EIO";
      reg.create("a");
      await waitFor(() => !store.health().ok, "the write to fail");
      const writes = io.writes;
      await waitFor(() => io.truncatesDone >= 1, "the cut-back of the failed write");
      io.failWrite = null;
      const started = performance.now();
      await waitFor(() => performance.now() - started >= 40, "a to be older than the window");
      let called = false;
      reg.whenDurable(() => (called = true));
      assert.strictEqual(called, false, "held: a is unwritten");
      assert.strictEqual(io.writes, writes, "no write before the retry is due (the disk is not hammered)");
    });

    it("the window counts from the oldest change a failed write gave back, not from a younger one acknowledged during that write", async function () {
      const io = faultyIO();
      const write = io.write;
      let failNext = true;
      // The disk takes 700 ms to refuse the first write.
      io.write = (fd, buffer, offset, length, position, cb) => {
        if (!failNext) return write(fd, buffer, offset, length, position, cb);
        failNext = false;
        setTimeout(() => cb(Object.assign(new Error("EIO: simulated failure, write"), { code: "EIO" }), 0), 700);
      };
      const { reg, store } = openRegistry(freshDir("failed-window"), { mode: "batched", intervalMs: 1500, retryMs: 60000, io });
      const started = performance.now();
      reg.create("a"); // acknowledged at once, written at once below
      store.flush().catch(() => undefined);
      await waitFor(() => performance.now() - started >= 200, "200 ms");
      assert.ok(store.health().ok, "the write has not failed yet (the test's premise)");
      reg.create("b"); // acknowledged while a's write is under way
      await waitFor(() => !store.health().ok, "the write to fail");
      await waitFor(() => performance.now() - started >= 1500, "a to be older than the window");
      let called = false;
      reg.whenDurable(() => (called = true));
      assert.strictEqual(called, false, "not acknowledged: a, acknowledged 1.5 s ago, is still unwritten");
    });
  });

  describe("close", function () {
    it("close() during a retried write waits for it: the change it was writing is on disk afterwards", async function () {
      const dir = freshDir("close-retry");
      const io = faultyIO();
      const { reg } = openRegistry(dir, { mode: "strict", retryMs: 30, io });
      io.failWrite = "ENOSPC";
      reg.create("a");
      assert.ok(await durable(reg), "the first write failed");
      // The disk recovers but is slow: the retry's write takes 300 ms.
      io.failWrite = null;
      const write = io.write;
      let retried = false;
      io.write = (...args) => {
        retried = true;
        setTimeout(() => write(...args), 300);
      };
      await waitFor(() => retried, "the retry's write to start");
      await reg.close().catch(() => undefined);
      assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["a"], "the retried change was written before the journal was closed");
      const again = openRegistry(dir);
      assert.ok(again.reg.has("a"));
    });
  });
});
