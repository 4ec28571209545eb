"use strict";
/**
 * What the store refuses to take, and what it tells the user about changes it holds but has not
 * written: a closed store, a failing disk (the disk's own error is named), a sequence number
 * that a restart could not read back, and the count of unwritten changes while a retry runs.
 */
const assert = require("assert");
const { FileStore } = require("../../nodes/lib/core/store/file-store");
const path = require("path");
const { NOW, useStoreDirs, mountTmpfs, freshDir, openRegistry, journalEntries, waitFor, durable, throwsTwin, faultyIO } = require("./store-support");

/** A journal entry creating twin `id` at sequence number `l`. */
const create = (l, id = `t-${l}`) => ({ l, o: "c", i: id, v: 1, t: NOW, m: null });

/** A FileStore on a fresh directory, recovered (empty) and ready for appends. */
function openStore(label, options = {}) {
  const dir = freshDir(label);
  const store = new FileStore({ dir, mode: "strict", ...options });
  store.recover();
  return { store, dir };
}

function whenDurable(store) {
  return new Promise((resolve) => store.whenDurable((err) => resolve(err)));
}

describe("core/store: what the store refuses", function () {
  this.timeout(20000);
  useStoreDirs("store-refusals");
  const stores = [];
  afterEach(async function () {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  });
  const track = (s) => (stores.push(s), s);

  it("a closed store refuses an append with store-closed instead of dropping the change silently", async function () {
    const { store } = openStore("closed");
    track(store);
    store.append(create(1));
    assert.ifError(await whenDurable(store));
    await store.close();
    throwsTwin(() => store.append(create(2)), "store-closed");
  });

  it("while the disk fails, a change is refused with store-unavailable naming the disk's error", async function () {
    const io = faultyIO();
    const { reg, store } = openRegistry(freshDir("failing"), { mode: "strict", retryMs: 10000, io });
    io.failWrite = "ENOSPC";
    reg.create("a");
    const err = await durable(reg);
    assert.ok(err, "the write failed");
    assert.strictEqual(store.health().ok, false);
    assert.throws(() => reg.create("b"), (e) => e.code === "store-unavailable" && /ENOSPC/.test(e.message), "the error says why");
    // Node's own errors start with their code: it is said once ("ENOSPC: ENOSPC: no space left"
    // was in every refused message's log line while a real disk was full).
    assert.throws(() => reg.create("c"), (e) => !/ENOSPC: ENOSPC/.test(e.message) && /ENOSPC: simulated failure, write/.test(e.message), "the code once");
  });

  for (const bad of [Number.MAX_SAFE_INTEGER, 2.5]) {
    it(`refuses an entry numbered ${bad} (a restart could not read it back) and keeps taking good ones`, async function () {
      const { store, dir } = openStore(`unsafe-${bad}`);
      track(store);
      assert.throws(
        () => store.append(create(bad, "far")),
        (e) => e.code === "store-unavailable" && e.message.includes(`sequence number ${bad} is not a safe whole number`),
      );
      store.append(create(Number.MAX_SAFE_INTEGER - 1, "last-good"));
      assert.ifError(await whenDurable(store));
      assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["last-good"], "only the good entry is on disk");
    });
  }

  it("health counts the changes a retry is writing as unwritten until that write is on disk", async function () {
    const io = faultyIO();
    const { reg, store } = openRegistry(freshDir("retry-count"), { mode: "strict", retryMs: 30, io });
    io.failWrite = "ENOSPC";
    for (const id of ["a", "b", "c"]) reg.create(id);
    assert.ok(await durable(reg), "the write failed");
    assert.deepStrictEqual(store.health(), { ok: false, error: store.health().error, unwritten: 3 });
    // The retry's write succeeds, its fsync is slow: the three changes are still not on disk.
    io.failWrite = null;
    io.syncDelayMs = 300;
    await waitFor(() => io.syncs >= 1, "the retry's fsync to start");
    assert.strictEqual(io.syncsDone, 0);
    const during = store.health();
    assert.strictEqual(during.ok, false);
    assert.strictEqual(during.unwritten, 3, "the batch being retried is still unwritten");
    await waitFor(() => store.health().ok, "the store to heal");
    assert.strictEqual(store.health().unwritten, undefined);
  });

  it("a disk that stays read-only: every retry keeps the store unhealthy and refusing, with no false all-clear", async function () {
    const disk = mountTmpfs("ro-stays", 1024);
    if (!disk) {
      // Mounting needs root; CI runs as root, so there it must run.
      if (process.env.CI) throw new Error("mounting a tmpfs failed: CI runs as root and must run this test");
      return this.skip();
    }
    const dir = path.join(disk.dir, "store");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("a");
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    disk.readOnly();
    const { reg, store } = openRegistry(dir, { mode: "strict", retryMs: 10 });
    const events = [];
    store.onHealth((h) => events.push(h));
    // The marker: twenty retries have run (each tries to reopen the journal), whatever the
    // machine's speed; none of them may have reported the store healthy.
    let retries = 0;
    const reopen = store.reopen;
    store.reopen = function () {
      retries++;
      return reopen.call(this);
    };
    await waitFor(() => retries >= 20, "twenty retries", 10000);
    assert.deepStrictEqual(events.filter((h) => h.ok), [], "never reported healthy while the disk is read-only");
    assert.strictEqual(store.health().ok, false);
    throwsTwin(() => reg.create("b"), "store-unavailable");
    disk.writable();
    await waitFor(() => store.health().ok, "the store to notice the disk is writable", 10000);
    reg.create("b");
    assert.ifError(await durable(reg));
  });
});
