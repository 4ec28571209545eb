"use strict";
/** flush(): what the registry awaits before it reports a change as stored (and close() before it lets go). */
const assert = require("assert");
const { useStoreDirs, freshDir, openRegistry, journalEntries, faultyIO, durable } = require("./store-support");

describe("core/store: flush", function () {
  this.timeout(20000);
  useStoreDirs("store-flush");

  it("resolves only once every change made before it is on disk, including those queued behind a slow write", async function () {
    const dir = freshDir("flush-queued");
    const io = faultyIO();
    const { reg, store } = openRegistry(dir, { mode: "strict", io });
    reg.create("a");
    assert.ifError(await durable(reg));
    io.syncDelayMs = 60;
    reg.create("b");
    await new Promise((resolve) => setImmediate(resolve)); // b's write is under way, its fsync slow
    reg.create("c"); // queued behind it
    await store.flush();
    assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["a", "b", "c"]);
  });
});
