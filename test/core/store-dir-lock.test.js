"use strict";
/**
 * One process at a time writes a store directory (src/core/store/dir-lock.ts). What a restart
 * relies on: a lock whose process is gone, or whose pid now belongs to another program (a reboot,
 * a container started again), is taken over without anyone deleting it; a lock held by a process
 * that runs is refused, naming it.
 */
const assert = require("assert");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawn } = require("child_process");
const { FileStore } = require("../../nodes/lib/core/store/file-store");
const { useStoreDirs, freshDir } = require("./store-support");

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
  afterEach(() => {
    if (child) child.kill("SIGKILL");
    child = null;
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

  it("takes over a lock written on another host or before this boot", async () => {
    const pid = await otherProcess();
    for (const holder of [{ host: "another-host" }, { boot: "another-boot" }]) {
      const dir = freshDir(`stale-${Object.keys(holder)[0]}`);
      writeLock(dir, { pid, started: startOf(pid) ?? undefined, ...holder });
      const store = new FileStore({ dir, mode: "strict" });
      store.recover();
      await store.close();
    }
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
});
