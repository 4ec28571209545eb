// Shared helpers for the benchmarks: child processes, temp dirs, the built core, statistics.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { fork } = require("child_process");

const repoRoot = path.resolve(__dirname, "..");
/** Scratch space on the repository's disk (gitignored): fsync costs what it costs there. */
const tmpRoot = path.join(__dirname, ".tmp");

function tempDir(prefix) {
  fs.mkdirSync(tmpRoot, { recursive: true });
  return fs.mkdtempSync(path.join(tmpRoot, prefix + "-"));
}

function removeDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The package the benchmarks run: a private copy of the built package (package.json and nodes/)
 * made once per run by run.js, so a rebuild in the working tree during the run can not pull
 * files from under it. Child scripts run by hand use the working tree.
 */
function packageDir() {
  return process.env.TWINWIRE_BENCH_PKG || repoRoot;
}

/**
 * Copies the built package to `dest`; retries while the working tree is being rebuilt (every
 * file the package.json names, and the compiled core, must be there).
 */
async function snapshotPackage(dest) {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
  const red = pkg["node-red"] || {};
  // Each entry (nodes/<type>.js) is a loader for nodes/lib/nodes|plugins/<type>.js (scripts/build.js).
  const needed = [path.join("nodes", "lib", "core", "registry.js"), path.join("nodes", "lib", "core", "store", "file-store.js")];
  for (const [kind, entries] of [["nodes", red.nodes || {}], ["plugins", red.plugins || {}]]) {
    for (const file of Object.values(entries)) needed.push(file, path.join("nodes", "lib", kind, path.basename(file)));
  }
  for (let attempt = 0; attempt < 30; attempt++) {
    removeDir(dest);
    try {
      fs.mkdirSync(dest, { recursive: true });
      fs.copyFileSync(path.join(repoRoot, "package.json"), path.join(dest, "package.json"));
      fs.cpSync(path.join(repoRoot, "nodes"), path.join(dest, "nodes"), { recursive: true });
      const missing = needed.filter((f) => !fs.existsSync(path.join(dest, f)));
      if (!missing.length) return dest;
    } catch {
      /* a file vanished while copying: try again */
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error("the built package is incomplete (run `npm run build`)");
}

/** The compiled core (npm run bench builds first). */
function core() {
  const lib = path.join(packageDir(), "nodes", "lib", "core");
  if (!fs.existsSync(path.join(lib, "registry.js"))) throw new Error("nodes/lib/core is missing: run `npm run build` first");
  return {
    TwinRegistry: require(path.join(lib, "registry.js")).TwinRegistry,
    FileStore: require(path.join(lib, "store", "file-store.js")).FileStore,
    MemoryStore: require(path.join(lib, "store", "memory-store.js")).MemoryStore,
  };
}

/**
 * Runs `bench/<script>` in a child process and resolves with the object it sends back with
 * `report()`. Rejects when the child fails, or after `timeoutMs`.
 */
function runChild(script, args = [], { execArgv = [], timeoutMs = 180000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, script), args.map(String), {
      execArgv,
      // The child's output (Node-RED's log lines among it) goes to stderr: stdout is the report.
      stdio: ["ignore", 2, 2, "ipc"],
    });
    let result;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} ${args.join(" ")}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("message", (m) => {
      if (m && m.type === "result") result = m.result;
      else if (m && m.type === "error") result = { __error: m.error };
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (result && result.__error) reject(new Error(`${script} ${args.join(" ")}: ${result.__error}`));
      else if (result !== undefined && code === 0) resolve(result);
      else reject(new Error(`${script} ${args.join(" ")} exited with ${signal || code} and no result`));
    });
  });
}

/** For child scripts: sends the result to the parent (or prints it when run by hand). */
function report(result) {
  if (process.send) process.send({ type: "result", result }, () => process.exit(0));
  else {
    console.log(JSON.stringify(result, null, 2));
    process.exit(0);
  }
}

/** For child scripts: runs main() and reports its result or its failure. */
function childMain(main) {
  main().then(report, (err) => {
    const text = err && err.stack ? err.stack : String(err);
    if (process.send) process.send({ type: "error", error: text }, () => process.exit(1));
    else {
      console.error(text);
      process.exit(1);
    }
  });
}

function median(values) {
  const s = values.slice().sort((a, b) => a - b);
  const n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Full garbage collection, a few times so weak and finalised objects go too. */
function fullGc() {
  if (typeof global.gc !== "function") throw new Error("run with --expose-gc");
  for (let i = 0; i < 4; i++) global.gc();
}

/** Ten plausible readings with two decimals (floats, not small integers, as real sensors send). */
function readings(seed) {
  const out = {};
  for (let p = 0; p < 10; p++) out["p" + p] = (2001 + p * 730 + ((seed * 31 + p * 17) % 1000) * 3) / 100;
  return out;
}

function twinId(k) {
  return "twin-" + String(k).padStart(6, "0");
}

function dirBytes(dir) {
  let total = 0;
  for (const name of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}

/** Size of the newest snapshot a FileStore keeps in `dir` (snapshot-<lsn>.jsonl). */
function snapshotSize(dir) {
  const names = fs.readdirSync(dir).filter((n) => /^snapshot-\d{16}\.jsonl$/.test(n)).sort();
  if (!names.length) throw new Error(`no snapshot in ${dir}`);
  return fs.statSync(path.join(dir, names[names.length - 1])).size;
}

/**
 * Time the main thread has spent ready to run while other processes had the CPU, in ms
 * (Linux schedstat), or null where unknown: the share of a measurement the machine, not the
 * code, is to blame for.
 */
function runQueueWaitMs() {
  try {
    const fields = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").trim().split(/\s+/);
    const ns = Number(fields[1]);
    return Number.isFinite(ns) ? ns / 1e6 : null;
  } catch {
    return null;
  }
}

const MB = 1024 * 1024;

function machine() {
  const cpus = os.cpus();
  let nodeRed = "unknown";
  try {
    nodeRed = require(require.resolve("node-red/package.json", { paths: [repoRoot] })).version;
  } catch {
    /* reported as unknown */
  }
  return {
    cpu: cpus.length ? cpus[0].model.trim() : "unknown",
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    nodeRed,
  };
}

/**
 * A thermostat cycle, 0..rise: linear heating over heatShare of the period, then exponential
 * cooling back to 0 (time constant coolTau); `d.cyclePhase` shifts it (all in seconds).
 */
function heatCycle(d, t) {
  const u = (((t + d.cyclePhase) % d.period) + d.period) % d.period;
  const heat = d.heatShare * d.period;
  if (u < heat) return (d.rise * u) / heat;
  const c = d.period - heat;
  const end = Math.exp(-c / d.coolTau);
  return (d.rise * (Math.exp(-(u - heat) / d.coolTau) - end)) / (1 - end);
}

/** A seeded uniform draw in [0, 1) (mulberry32): the same recordings on every run. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from several numbers (a recording's seed, device, stream...): FNV-1a with a final mix. */
function hash(...xs) {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d) >>> 0;
    h ^= h >>> 12;
  }
  return h >>> 0;
}

module.exports = { mulberry32, hash, heatCycle, repoRoot, packageDir, snapshotPackage, tmpRoot, tempDir, removeDir, core, runChild, report, childMain, median, fullGc, readings, twinId, dirBytes, snapshotSize, runQueueWaitMs, MB, machine };
