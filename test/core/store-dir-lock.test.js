"use strict";
/**
 * One process at a time writes a store directory (src/core/store/dir-lock.ts). What a restart
 * relies on: a lock whose process is gone, or whose pid now belongs to another program (a reboot,
 * a container started again), is taken over without anyone deleting it; a lock held by a process
 * that runs is refused, naming it. A holder it cannot look up (another host name: a container on
 * the same volume, a machine on a network share) keeps the lock while it refreshes
 * it, and one taken over all the same writes and acknowledges nothing more.
 */
const assert = require("assert");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawn, execFile } = require("child_process");
const { FileStore } = require("../../nodes/lib/core/store/file-store");
const { LEASE } = require("../../nodes/lib/core/store/dir-lock");
const { useStoreDirs, freshDir, openRegistry, durable, journalEntries, waitFor } = require("./store-support");

const LIB = path.join(__dirname, "../../nodes/lib/core");

/** Field 22 of /proc/<pid>/stat (start time since boot), as the lock records it; null off Linux. */
function startOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return null;
  }
}

function bootId() {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
}

function writeLock(dir, holder) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "lock"), JSON.stringify({ host: os.hostname(), boot: bootId(), since: Date.now(), token: "theirs", ...holder }));
}

describe("core/store: the directory's lock", function () {
  this.timeout(20000);
  useStoreDirs("store-lock");
  let child = null;
  const lease = { ...LEASE };
  afterEach(() => {
    if (child) child.kill("SIGKILL");
    child = null;
    Object.assign(LEASE, lease);
  });

  /** A process that runs until killed: the other holder. */
  async function otherProcess() {
    child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    await new Promise((resolve) => child.once("spawn", resolve));
    return child.pid;
  }

  it("refuses a directory a running process holds, naming its pid; takes it once that process is gone", async () => {
    const dir = freshDir("held");
    const pid = await otherProcess();
    writeLock(dir, { pid, started: startOf(pid) ?? undefined });
    assert.throws(() => new FileStore({ dir, mode: "strict" }).recover(), (err) => err.code === "store-unavailable" && new RegExp(`in use by another process \\(pid ${pid} `).test(err.message));

    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    child = null;
    const store = new FileStore({ dir, mode: "strict" });
    store.recover();
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "lock"), "utf8")).pid, process.pid);
    await store.close();
    assert.equal(fs.existsSync(path.join(dir, "lock")), false, "a clean close lets the directory go");
  });

  it("takes over a lock whose pid now belongs to a process started later (a reboot or a container started again)", async function () {
    const pid = await otherProcess();
    if (startOf(pid) === null) this.skip(); // no /proc: only the pid is known
    const dir = freshDir("reused");
    writeLock(dir, { pid, started: "1" });
    const store = new FileStore({ dir, mode: "strict" });
    store.recover();
    await store.close();
  });

  it("takes over at once a lock of this host name from before this boot (a power cut), though a process of its pid runs now", async () => {
    const pid = await otherProcess();
    const dir = freshDir("reboot");
    // Off Linux there is no boot id: a lock older than this machine's uptime is from before the boot.
    const before = bootId() ? { boot: "another-boot" } : { boot: undefined, since: Date.now() - os.uptime() * 1000 - 120000 };
    writeLock(dir, { pid, started: startOf(pid) ?? undefined, ...before });
    const store = new FileStore({ dir, mode: "strict" });
    store.recover();
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "lock"), "utf8")).pid, process.pid, "no lease to wait out");
    await store.close();
  });

  it("takes over a lock copied with the directory (a backup made while Node-RED ran, started elsewhere)", async () => {
    const pid = await otherProcess();
    const original = freshDir("original");
    writeLock(original, { pid, started: startOf(pid) ?? undefined, dir: fs.realpathSync(original) });
    assert.throws(() => new FileStore({ dir: original, mode: "strict" }).recover(), /in use by another process/);
    const copy = freshDir("copy");
    fs.cpSync(original, copy, { recursive: true });
    const store = new FileStore({ dir: copy, mode: "strict" });
    store.recover();
    await store.close();
  });

  it("takes over a lock naming this very pid that this process did not take (a container restarted as pid 1), or no usable pid, or torn", async () => {
    const cases = {
      "this pid": { pid: process.pid, started: startOf(process.pid) ?? undefined },
      "pid 0": { pid: 0 },
      "a negative pid": { pid: -1 },
      "a pid in words": { pid: "1" },
      "a fractional pid": { pid: 1.5 },
    };
    for (const [name, holder] of Object.entries(cases)) {
      const dir = freshDir(`pid-${name.replace(/\W+/g, "-")}`);
      writeLock(dir, holder);
      const store = new FileStore({ dir, mode: "strict" });
      assert.doesNotThrow(() => store.recover(), name);
      assert.notEqual(JSON.parse(fs.readFileSync(path.join(dir, "lock"), "utf8")).token, "theirs", `${name}: the lock is this store's now`);
      await store.close();
    }
    for (const text of ["", "{\"pid\":", "null", "[]"]) {
      const dir = freshDir("torn");
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "lock"), text);
      const store = new FileStore({ dir, mode: "strict" });
      assert.doesNotThrow(() => store.recover(), JSON.stringify(text));
      await store.close();
    }
  });

  it("leaves the lock to the process that took it over while this one looked gone", async () => {
    const dir = freshDir("taken");
    const store = new FileStore({ dir, mode: "strict" });
    store.recover();
    const pid = await otherProcess();
    fs.rmSync(path.join(dir, "lock"));
    writeLock(dir, { pid, started: startOf(pid) ?? undefined });
    await store.close();
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "lock"), "utf8")).token, "theirs", "a close does not remove another process's lock");
  });

  it("lets stores of one process share the directory: the lock goes with the last of them", async () => {
    const dir = freshDir("shared");
    const a = new FileStore({ dir, mode: "strict" });
    a.recover();
    const b = new FileStore({ dir, mode: "batched" });
    b.recover();
    await b.close();
    assert.equal(fs.existsSync(path.join(dir, "lock")), true, "still held by the first store");
    await a.close();
    assert.equal(fs.existsSync(path.join(dir, "lock")), false);
  });
  describe("held by a process it cannot look up (another host name)", function () {
    /** This test's monotonic clock for the lease: moved by hand, not by waiting. */
    let clock = 0;
    beforeEach(() => {
      LEASE.now = () => clock;
    });

    const lockOf = (dir) => JSON.parse(fs.readFileSync(path.join(dir, "lock"), "utf8"));
    const setTime = (dir, ms) => fs.utimesSync(path.join(dir, "lock"), new Date(ms), new Date(ms));
    const open = (dir) => {
      const store = new FileStore({ dir, mode: "strict" });
      store.recover();
      return store;
    };

    it("waits while the holder refreshes its lock, however long, saying who holds it and when it is taken over; takes it once the lock goes the expiry without a refresh", async () => {
      const pid = await otherProcess();
      const holders = {
        "another host (a container on the same volume)": { host: "another-host" },
        // Containers are often pid 1 each: that is not this process.
        "another host, with this pid": { host: "another-host", pid: process.pid },
      };
      for (const [name, holder] of Object.entries(holders)) {
        const dir = freshDir("lease");
        writeLock(dir, { pid, started: startOf(pid) ?? undefined, ...holder });
        const owner = holder.pid ?? pid;
        const refused = (err) => {
          assert.strictEqual(err.code, "store-unavailable", `${name}: ${err.message}`);
          assert.strictEqual(err.params.holder, owner, "the registry tries again (twin-registry.ts, retryLocal)");
          assert.match(err.message, new RegExp(`in use by another process \\(pid ${owner} on ${holder.host ?? os.hostname()}, `));
          assert.match(err.message, /taken over if its lock is not refreshed within 20 s/);
          return true;
        };
        assert.throws(() => open(dir), refused, name);
        // Refreshed between every look, each far past the expiry by this clock: a live holder.
        for (let i = 1; i <= 3; i++) {
          clock += 3 * LEASE.expiryMs;
          setTime(dir, Date.now() - i * 1000);
          assert.throws(() => open(dir), refused, `${name}: look ${i}`);
        }
        clock += LEASE.expiryMs - 1;
        assert.throws(() => open(dir), refused, `${name}: not refreshed, but not yet for the expiry`);
        clock += 1;
        const store = open(dir);
        assert.notStrictEqual(lockOf(dir).token, "theirs", `${name}: taken over once not refreshed for the expiry`);
        await store.close();
      }
    });

    it("takes over at once a lock from another host last refreshed long before by this machine's clock (a machine off since), not one refreshed lately", async () => {
      const stale = freshDir("lease-stale");
      writeLock(stale, { pid: 4242, host: "another-host" });
      setTime(stale, Date.now() - 2 * LEASE.staleMs);
      const store = open(stale);
      assert.strictEqual(lockOf(stale).pid, process.pid);
      await store.close();

      const recent = freshDir("lease-recent");
      // Taken long ago, refreshed a minute ago: a clock a minute off, or a look just before the refresh.
      writeLock(recent, { pid: 4242, host: "another-host", since: Date.now() - 2 * LEASE.staleMs });
      setTime(recent, Date.now() - 60000);
      assert.throws(() => open(recent), /in use by another process \(pid 4242 on another-host/);
    });

    it("a holder taken over refuses changes, naming the process that took the store over; the changes it acknowledged before, and those the other made, survive", async () => {
      LEASE.refreshMs = 20;
      const dir = freshDir("fenced");
      const { reg, store } = openRegistry(dir, { mode: "strict" });
      for (let i = 0; i < 20; i++) {
        reg.create(`a-${i}`);
        assert.ifError(await durable(reg));
      }
      // The other process (its lease check found this one's lock not refreshed: a paused machine):
      // it waits for a line, then opens the store, makes 20 changes and closes.
      const script = `
        const { TwinRegistry } = require(${JSON.stringify(path.join(LIB, "registry"))});
        const { FileStore } = require(${JSON.stringify(path.join(LIB, "store/file-store"))});
        process.stdin.once("data", async () => {
          const reg = new TwinRegistry({ store: new FileStore({ dir: ${JSON.stringify(dir)}, mode: "strict" }) });
          reg.open();
          for (let i = 0; i < 20; i++) {
            reg.create("b-" + i);
            await new Promise((resolve, reject) => reg.whenDurable((err) => (err ? reject(err) : resolve())));
          }
          await reg.close();
          process.exit(0);
        });`;
      child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "ignore", "inherit"] });
      await new Promise((resolve) => child.once("spawn", resolve));
      // Its takeover: the lock names it now (replaced whole, as a takeover makes it).
      const next = path.join(dir, "lock.next");
      fs.writeFileSync(next, JSON.stringify({ pid: child.pid, host: os.hostname(), boot: bootId(), since: Date.now(), token: "theirs" }));
      fs.renameSync(next, path.join(dir, "lock"));
      await waitFor(() => !store.health().ok, "the store to find its lock taken over", 15000);
      const reason = new RegExp(`another process \\(pid ${child.pid} on ${os.hostname()}\\) took .* over`);
      assert.match(store.health().error, reason);

      child.stdin.write("go\n");
      const code = await new Promise((resolve) => child.once("exit", resolve));
      child = null;
      assert.strictEqual(code, 0, "the other process made and closed its changes");
      assert.throws(() => reg.create("a-late"), (err) => err.code === "store-unavailable" && reason.test(err.message));
      await reg.close().catch(() => undefined);

      const { reg: after, warnings } = openRegistry(dir, { mode: "strict" });
      assert.deepStrictEqual(warnings, []);
      const want = [...Array(20).keys()].flatMap((i) => [`a-${i}`, `b-${i}`]).sort();
      assert.deepStrictEqual([...after.ids()].sort(), want);
    });

    it("a write after the refreshes ran late (the event loop held up) checks the lock first: taken over meanwhile, nothing is written", async () => {
      LEASE.refreshMs = 60000; // the refresh timer does not run in this test: only the write's check
      const dir = freshDir("late");
      const { reg } = openRegistry(dir, { mode: "strict" });
      reg.create("a");
      assert.ifError(await durable(reg));
      writeLock(dir, { pid: 4242, host: "another-host" });
      clock += 2 * LEASE.refreshMs + 1;
      reg.create("b");
      const err = await durable(reg);
      assert.ok(err && err.code === "store-unavailable" && /another process \(pid 4242 on another-host\) took .* over/.test(err.message), String(err));
      assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["a"], "b is not written into the directory the other process writes");
    });

    it("a write after a pause of the machine (suspended: its monotonic clock stood still, its wall clock did not) checks the lock first", async () => {
      LEASE.refreshMs = 60000;
      const dir = freshDir("suspended");
      const { reg } = openRegistry(dir, { mode: "strict" });
      reg.create("a");
      assert.ifError(await durable(reg));
      writeLock(dir, { pid: 4242, host: "another-host" });
      // performance.now (CLOCK_MONOTONIC, mach_absolute_time) does not count a suspend; Date.now does.
      const realNow = Date.now;
      const resumed = realNow() + 2 * LEASE.refreshMs + 1;
      Date.now = () => resumed;
      let err;
      try {
        reg.create("b");
        err = await durable(reg);
      } finally {
        Date.now = realNow;
      }
      assert.ok(err && err.code === "store-unavailable" && /another process \(pid 4242 on another-host\) took .* over/.test(err.message), String(err));
      assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["a"]);
    });

    it("refreshes its lock where a descriptor opened for reading cannot set times (Windows: SetFileTime needs write-attributes access)", async () => {
      LEASE.refreshMs = 60000;
      const dir = freshDir("refresh-times");
      const { reg } = openRegistry(dir, { mode: "strict" });
      const lock = path.join(dir, "lock");
      const past = new Date(Date.now() - 3600e3);
      fs.utimesSync(lock, past, past);
      const { openSync, closeSync, futimesSync } = fs;
      const readOnly = new Set();
      fs.openSync = (file, flags, ...rest) => {
        const fd = openSync(file, flags, ...rest);
        if (flags === "r" || flags === undefined) readOnly.add(fd);
        return fd;
      };
      fs.closeSync = (fd) => {
        readOnly.delete(fd);
        return closeSync(fd);
      };
      fs.futimesSync = (fd, atime, mtime) => {
        if (readOnly.has(fd)) throw Object.assign(new Error("EPERM: operation not permitted, futime"), { code: "EPERM" });
        return futimesSync(fd, atime, mtime);
      };
      try {
        clock += 2 * LEASE.refreshMs + 1; // the write's check refreshes the lock
        reg.create("a");
        assert.ifError(await durable(reg));
      } finally {
        Object.assign(fs, { openSync, closeSync, futimesSync });
      }
      assert.ok(fs.statSync(lock).mtimeMs > past.getTime() + 1000, "the lock is refreshed: another host would take a live holder's lock over after the expiry");
      assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["a"]);
    });

    /**
     * A store that wrote "a", then was held up past two refresh periods while another process took
     * its lock over, wrote and closed cleanly (removing the lock).
     */
    async function lockGoneWhileLate(name) {
      LEASE.refreshMs = 60000;
      const dir = freshDir(name);
      const { reg } = openRegistry(dir, { mode: "strict" });
      reg.create("a");
      assert.ifError(await durable(reg));
      fs.rmSync(path.join(dir, "lock"));
      clock += 2 * LEASE.refreshMs + 1;
      return { dir, reg };
    }

    it("a lock gone after the refreshes ran late counts as taken over (the other process took it, wrote and closed meanwhile): not made again, nothing written", async () => {
      const { dir, reg } = await lockGoneWhileLate("late-gone");
      reg.create("b");
      const err = await durable(reg);
      assert.ok(err && err.code === "store-unavailable" && /took .* over/.test(err.message), String(err));
      assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["a"], "b is not written after the other process's changes");
      assert.strictEqual(fs.existsSync(path.join(dir, "lock")), false, "the lock is not made again for a store that may not write");
    });

    it("a store opened in this process after a late refresh and a lock gone meanwhile does not carry the other stores on: they are told it was taken over", async () => {
      const { dir, reg } = await lockGoneWhileLate("late-gone-redeploy");
      // A redeploy: the new registry reads the directory as the other process left it.
      const { reg: next } = openRegistry(dir, { mode: "strict" });
      assert.throws(() => reg.create("b"), (err) => err.code === "store-unavailable" && /took .* over/.test(err.message));
      next.create("c");
      assert.ifError(await durable(next));
      assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["a", "c"]);
      await next.close();
      await reg.close().catch(() => undefined);
    });
  });

  it("refreshes its lock while open, not after close, and does not keep the process alive", async () => {
    const dirs = [freshDir("refresh"), freshDir("left-open")];
    const script = `
      const fs = require("fs");
      const { FileStore } = require(${JSON.stringify(path.join(LIB, "store/file-store"))});
      const { LEASE } = require(${JSON.stringify(path.join(LIB, "store/dir-lock"))});
      LEASE.refreshMs = 10;
      const [dir, other] = ${JSON.stringify(dirs)};
      const lock = dir + "/lock";
      (async () => {
        const store = new FileStore({ dir, mode: "strict" });
        store.recover();
        const past = new Date(Date.now() - 3600e3);
        fs.utimesSync(lock, past, past);
        while (fs.statSync(lock).mtimeMs === past.getTime()) await new Promise((r) => setTimeout(r, 5));
        await store.close();
        // A refresh still running would make the lock again (as after the directory was deleted).
        await new Promise((r) => setTimeout(r, 20 * LEASE.refreshMs));
        console.log(JSON.stringify({ refreshed: true, lockAfterClose: fs.existsSync(lock) }));
        // Left open: its lease alone must not keep this process running.
        new FileStore({ dir: other, mode: "strict" }).recover();
      })();`;
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, ["-e", script], { timeout: 15000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    assert.deepStrictEqual(JSON.parse(out), { refreshed: true, lockAfterClose: false });
  });
});
