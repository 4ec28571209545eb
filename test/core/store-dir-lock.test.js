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
