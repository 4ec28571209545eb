// The registry shared on Redis (issue 15): updates/s and per-update latency for 1, 2 and 3
// instances on one redis-server, each instance a child process (bench/redis-instance.js) with the
// registry open on a RedisStore, submitting readings (`registry.submit`) for its share of the
// twins; and the same load on a local FileStore for comparison. Once with `appendfsync everysec`
// (RedisStore batched) and once with `always` (strict); local store batched and strict.
//
//   node bench/redis.js <twins> <seconds> <window>
//
// Shares: with more than one instance, half of each instance's twins are led by another instance,
// so half its readings are forwarded to their leader. Reports {skipped} without redis-server.
"use strict";
const os = require("os");
const path = require("path");
const { fork } = require("child_process");
const { childMain, tempDir, removeDir, packageDir, repoRoot } = require("./lib");
const { startRedis, redisBinary } = require("../test/support/redis-server");

const TWINS = Number(process.argv[2] || 1000);
const SECONDS = Number(process.argv[3] || 10);
const WINDOW = Number(process.argv[4] || 100);
const WARMUP_S = 2;
/** By hand: "everysec:2,3" measures only those (no local store runs). */
const ONLY = process.argv[5] || "";

const lib = path.join(packageDir(), "nodes", "lib", "core");
const log = (text) => process.stderr.write(`bench: redis: ${text}\n`);

function twinName(k) {
  return "twin-" + String(k).padStart(4, "0");
}

/** A forked instance with a request/answer channel. */
function instance(args) {
  // BENCH_REDIS_PROF=<dir>: each instance writes a CPU profile there (node --cpu-prof), by hand only.
  const execArgv = process.env.BENCH_REDIS_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_REDIS_PROF}`] : [];
  const child = fork(path.join(__dirname, "redis-instance.js"), args.map(String), { execArgv, stdio: ["ignore", 2, 2, "ipc"] });
  let seq = 0;
  const waiting = new Map();
  let onReady;
  const ready = new Promise((resolve, reject) => (onReady = { resolve, reject }));
  child.on("message", (m) => {
    if (m.ready) return onReady.resolve(m.warnings);
    if (m.failed) return onReady.reject(new Error(m.failed));
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error) w.reject(new Error(m.error));
    else w.resolve(m.answer);
  });
  child.on("exit", (code) => {
    onReady.reject(new Error(`instance exited with ${code}`));
    for (const w of waiting.values()) w.reject(new Error(`instance exited with ${code}`));
  });
  return {
    ready,
    ask(cmd, more = {}) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, cmd, ...more });
      });
    },
    /** Waits a moment for the exit a close brings, then ends it. */
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function until(condition, what, timeoutMs) {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latency(values) {
  const s = Float64Array.from(values).sort();
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99) };
}

/**
 * Each instance's share: half of the twins it leads, and half of the others' (handed round-robin
 * to the instances that do not lead them); one instance takes them all.
 */
function shares(led) {
  const n = led.length;
  if (n === 1) return [led[0]];
  const out = led.map((own) => own.slice(0, Math.ceil(own.length / 2)));
  let turn = 0;
  led.forEach((own, leader) => {
    for (const id of own.slice(Math.ceil(own.length / 2))) {
      let to = turn++ % (n - 1);
      if (to >= leader) to++;
      out[to].push(id);
    }
  });
  return out;
}

/** CPU time of a process (user + system) in ms, from /proc; null where there is none. */
function procCpuMs(pid) {
  try {
    const fields = require("fs").readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Commands the server ran, by name (INFO commandstats). */
async function commandStats(client) {
  const out = {};
  for (const m of (await client.info("commandstats")).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) out[m[1]] = Number(m[2]);
  return out;
}

function diffStats(a, b) {
  const out = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] || 0) > 0) out[k] = v - (a[k] || 0);
  return out;
}

/** Runs the instances' loads at once and sums them. */
async function measure(instances, ids) {
  const runs = await Promise.all(instances.map((inst, k) => inst.ask("run", { ids: ids[k], seconds: SECONDS, warmupS: WARMUP_S, window: WINDOW, rate: Number(process.env.BENCH_REDIS_RATE || 0) })));
  const errors = {};
  for (const r of runs) for (const [code, n] of Object.entries(r.errors)) if (code !== "first") errors[code] = (errors[code] || 0) + n;
  const firstError = runs.map((r) => r.errors.first).find(Boolean) || null;
  return {
    rate: runs.reduce((a, r) => a + (r.counted / r.elapsedMs) * 1000, 0),
    perInstance: runs.map((r) => Math.round((r.counted / r.elapsedMs) * 1000)),
    cpuShare: runs.map((r) => Math.round(r.cpuShare * 100) / 100),
    /** Per update made (all instances): the main threads' sleeps and preemptions, the processes' read and write calls. */
    perUpdate: runs.every((r) => r.switches) ? Object.fromEntries(Object.keys(runs[0].switches).map((k) => [k, Math.round((runs.reduce((a, r) => a + r.switches[k], 0) / runs.reduce((a, r) => a + r.counted, 0)) * 100) / 100])) : null,
    cpuWaitShare: runs.map((r) => (r.cpuWaitShare === null ? null : Math.round(r.cpuWaitShare * 100) / 100)),
    all: latency(runs.flatMap((r) => r.local.concat(r.forwarded))),
    local: latency(runs.flatMap((r) => r.local)),
    forwarded: latency(runs.flatMap((r) => r.forwarded)),
    errors,
    firstError,
    refused: runs.reduce((a, r) => a + r.refused, 0),
    ok: runs.reduce((a, r) => a + r.ok, 0),
  };
}

/** N instances on one registry of the server; the twins seeded into Redis first (migrate.writeRedis). */
async function shared(server, mode, n) {
  const Redis = require(require.resolve("ioredis", { paths: [repoRoot] })).default;
  const { TwinRegistry } = require(path.join(lib, "registry.js"));
  const { writeRedis, recordsOf } = require(path.join(lib, "store", "migrate.js"));
  const name = `bench-${mode}-${n}`;
  const ids = Array.from({ length: TWINS }, (_, k) => twinName(k));
  const seed = new TwinRegistry();
  for (const id of ids) seed.create(id, { reported: { temperature: 20, rpm: 1000 } });
  const client = new Redis(server.port, "127.0.0.1");
  await writeRedis({ kind: "redis", redis: client, registry: name }, recordsOf(seed));
  const instances = [];
  try {
    for (let k = 0; k < n; k++) instances.push(instance(["redis", server.port, name, mode]));
    const warnings = (await Promise.all(instances.map((i) => i.ready))).flat();
    // Every partition led by one instance, each writable where it is held, before anything is timed.
    let waitedMs = Date.now();
    await until(async () => {
      const st = await Promise.all(instances.map((i) => i.ask("status")));
      // Leading, not only writable: a partition taken over is led once the changes waiting for it have run.
      return st.every((s) => s.writable > 0 && s.writable === s.held && s.leading === s.held) && st.reduce((a, s) => a + s.writable, 0) === st[0].partitions;
    }, `the partitions to split between ${n} instance(s)`, 60000);
    waitedMs = Date.now() - waitedMs;
    const led = (await Promise.all(instances.map((i) => i.ask("leads", { ids })))).map((x) => x.led);
    const share = shares(led);
    if (share.some((ids) => ids.length === 0)) throw new Error(`an instance was given no twins to update (led: ${led.map((l) => l.length).join(", ")})`);
    const cpu0 = procCpuMs(server.child.pid);
    const stats0 = await commandStats(client);
    const t0 = Date.now();
    const result = await measure(instances, share);
    const cpu1 = procCpuMs(server.child.pid);
    result.commands = diffStats(stats0, await commandStats(client));
    // Over warm-up and timed part alike (the loads run through both).
    result.redisCpuShare = cpu0 === null || cpu1 === null ? null : Math.round(((cpu1 - cpu0) / (Date.now() - t0)) * 100) / 100;
    // Nothing acknowledged is missing: every twin's version on instance 0 (it follows them all) is
    // 1 + the readings that resolved for it.
    const expected = ids.length + result.ok;
    let sum = 0;
    try {
      await until(async () => (sum = (await instances[0].ask("versions", { ids })).sum) === expected, "every acknowledged reading on instance 1", 20000);
    } catch {
      /* reported as not checked */
    }
    return { instances: n, mode, warnings, splitMs: waitedMs, forwardedShare: n === 1 ? 0 : share.reduce((a, s, k) => a + s.filter((id) => !led[k].includes(id)).length, 0) / ids.length, ...result, checked: sum === expected, versions: { expected, found: sum } };
  } finally {
    await Promise.all(instances.map((i) => i.ask("close").catch(() => undefined)));
    await Promise.all(instances.map((i) => i.kill()));
    client.disconnect();
  }
}

async function local(mode) {
  const dir = tempDir(`redis-local-${mode}`);
  const inst = instance(["local", dir, mode, TWINS]);
  try {
    const warnings = await inst.ready;
    const ids = Array.from({ length: TWINS }, (_, k) => twinName(k));
    const result = await measure([inst], [ids]);
    const sum = (await inst.ask("versions", { ids })).sum;
    return { instances: 1, mode, warnings, ...result, checked: sum === ids.length + result.ok, versions: { expected: ids.length + result.ok, found: sum } };
  } finally {
    await inst.ask("close").catch(() => undefined);
    await inst.kill();
    removeDir(dir);
  }
}

async function main() {
  if (!redisBinary()) return { skipped: "redis-server is not installed (apt-get install redis-server): the shared-registry section was not measured" };
  const out = { twins: TWINS, seconds: SECONDS, warmupS: WARMUP_S, window: WINDOW, load: os.loadavg()[0], redis: [], local: [] };
  out.redisVersion = require("child_process").execFileSync(redisBinary(), ["--version"], { encoding: "utf8" }).trim();
  for (const [fsync, mode] of [["everysec", "batched"], ["always", "strict"]]) {
    if (ONLY && !ONLY.startsWith(fsync)) continue;
    const dir = tempDir(`redis-${fsync}`);
    const server = await startRedis({ appendfsync: fsync, dir });
    try {
      for (const n of ONLY ? ONLY.split(":")[1].split(",").map(Number) : [1, 2, 3]) {
        log(`appendfsync ${fsync} (${mode}), ${n} instance(s), ${SECONDS} s`);
        out.redis.push({ appendfsync: fsync, ...(await shared(server, mode, n)) });
      }
    } finally {
      await server.stop();
      removeDir(dir);
    }
  }
  for (const mode of ONLY ? [] : ["batched", "strict"]) {
    log(`local FileStore ${mode}, ${SECONDS} s`);
    out.local.push(await local(mode));
  }
  out.loadEnd = os.loadavg()[0];
  return out;
}

childMain(main);
