"use strict";
/**
 * The journal a compaction opens: its name reaches the disk with a directory fsync that runs off
 * the event loop, and nothing written to that journal counts as durable before it has.
 */
const assert = require("assert");
const fs = require("fs");
const { useStoreDirs, freshDir, openRegistry, faultyIO, durable, waitFor } = require("./store-support");

describe("core/store: the name of a new journal", function () {
  this.timeout(20000);
  useStoreDirs("store-journal-name");

  it("strict: a change written to the journal a compaction just opened is acknowledged only once the directory holding its name is fsynced", async function () {
    const dir = freshDir("journal-name");
    const io = faultyIO();
    const { reg } = openRegistry(dir, { mode: "strict", io });
    reg.create("a", { reported: { t: 1 } });
    assert.ifError(await durable(reg));

    // The first directory fsync from here on is held until the test lets it finish.
    const fsync = fs.fsync;
    let held = null;
    fs.fsync = (fd, cb) => {
      if (held === null && fs.fstatSync(fd).isDirectory()) {
        held = { release: null };
        fsync(fd, (err) => {
          held.release = () => cb(err);
        });
        return;
      }
      fsync(fd, cb);
    };
    try {
      const compacting = reg.compact();
      await waitFor(() => held !== null && held.release !== null, "the directory fsync of the new journal");
      const synced = io.syncsDone;
      reg.report("a", { t: 2 });
      let acknowledged = false;
      const acknowledgement = durable(reg).then((err) => {
        acknowledged = true;
        return err;
      });
      await waitFor(() => io.syncsDone > synced, "the change's write and fdatasync");
      await new Promise((resolve) => setImmediate(resolve));
      assert.strictEqual(acknowledged, false, "acknowledged while the new journal's name was not on disk");
      held.release();
      assert.ifError(await acknowledgement);
      await compacting;
    } finally {
      fs.fsync = fsync;
    }
    assert.strictEqual(reg.get("a").reported.t, 2);
  });
});
