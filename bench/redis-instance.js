// One instance of the shared-registry benchmark (bench/redis.js forks one per instance): opens the
// registry on a RedisStore (or, for the comparison, a registry of its own on a local FileStore)
// and, when told, submits readings for its share of the twins with `registry.submit`, a fixed
// number of them in flight, timing each from the call to its promise resolving (durable).
//
//   node bench/redis-instance.js redis <port> <registry name> <strict|batched>
//   node bench/redis-instance.js local <dir> <strict|batched> <twins>
//
// Commands over IPC: status, leads {ids}, run {ids, seconds, warmupS, window}, versions {ids}, close.
"use strict";
const path = require("path");
const { performance } = require("perf_hooks");
const { packageDir, repoRoot, runQueueWaitMs } = require("./lib");

const lib = path.join(packageDir(), "nodes", "lib", "core");
const { TwinRegistry } = require(path.join(lib, "registry.js"));
const { FileStore } = require(path.join(lib, "store", "file-store.js"));
const { RedisStore } = require(path.join(lib, "store", "redis-store.js"));

const [kind, where, nameOrMode, modeOrTwins] = process.argv.slice(2);
let registry;
let store;

async function open() {
  if (kind === "redis") {
    const Redis = require(require.resolve("ioredis", { paths: [repoRoot] })).default;
    const client = new Redis(Number(where), "127.0.0.1");
    client.on("error", () => undefined);
    store = new RedisStore({ redis: client, registry: nameOrMode, mode: modeOrTwins });
    registry = new TwinRegistry({ store });
    const warnings = await registry.openAsync();
    return { warnings, close: () => client.disconnect() };
  }
  store = new FileStore({ dir: where, mode: nameOrMode });
  registry = new TwinRegistry({ store });
  const warnings = registry.open();
  for (let k = 0; k < Number(modeOrTwins); k++) registry.create(twinName(k), { reported: { temperature: 20, rpm: 1000 } });
  await new Promise((resolve, reject) => registry.whenDurable((err) => (err ? reject(err) : resolve())));
  return { warnings, close: () => undefined };
}

/** The main thread's context switches and the process's read and write system calls so far (Linux), or null. */
function contextSwitches() {
  try {
    const text = require("fs").readFileSync(`/proc/self/task/${process.pid}/status`, "utf8");
    const io = require("fs").readFileSync("/proc/self/io", "utf8");
    return {
      voluntary: Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(text)[1]),
      involuntary: Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(text)[1]),
      reads: Number(/syscr:\s+(\d+)/.exec(io)[1]),
      writes: Number(/syscw:\s+(\d+)/.exec(io)[1]),
    };
  } catch {
    return null;
  }
}

function twinName(k) {
  return "twin-" + String(k).padStart(4, "0");
}

/** Readings for `ids` from `window` loops at once for warm-up + seconds; latencies of those completed in the timed part. */
async function run({ ids, seconds, warmupS, window, rate = 0 }) {
  const local = [];
  const forwarded = [];
  const errors = {};
  let ok = 0;
  let counted = 0;
  let measuring = false;
  let stop = false;
  let next = 0;
  let seq = 0;
  const loop = async () => {
    while (!stop) await once();
  };
  const once = async () => {
    const id = ids[next++ % ids.length];
    const here = registry.leads(id);
    const n = ++seq;
    const t0 = performance.now();
    try {
      await registry.submit({ op: "report", id, values: { temperature: 20 + (n % 1000) / 100, rpm: 1000 + (n % 97) } });
      ok++;
      if (measuring) {
        counted++;
        (here ? local : forwarded).push(performance.now() - t0);
      }
    } catch (err) {
      const code = (err && err.code) || (err && err.message) || String(err);
      errors[code] = (errors[code] || 0) + 1;
      if (!errors.first) errors.first = String((err && err.params && err.params.reason) || (err && err.message) || err).slice(0, 200);
      // A store that refuses at once would keep this loop in microtasks: the run's timer never
      // fired and the instance span until killed. Let the event loop turn; the errors are reported.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  // rate (by hand, BENCH_REDIS_RATE): readings started at that rate instead of back to back, at
  // most `window` in flight, so two builds are compared doing the same work (CPU per update).
  let paced = null;
  if (rate > 0) {
    let started = 0;
    let inFlight = 0;
    const t0 = performance.now();
    paced = [];
    const tick = () => {
      if (stop) return;
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      while (started < due && inFlight < window) {
        started++;
        inFlight++;
        paced.push(once().finally(() => inFlight--));
      }
      if (started < due) started = due; // behind: those are not made up later
      setTimeout(tick, 5);
    };
    tick();
  }
  const loops = rate > 0 ? [] : Array.from({ length: window }, loop);
  await new Promise((resolve) => setTimeout(resolve, warmupS * 1000));
  const cpu0 = process.cpuUsage();
  const wait0 = runQueueWaitMs();
  const switches0 = contextSwitches();
  measuring = true;
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  measuring = false;
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const wait1 = runQueueWaitMs();
  const switches1 = contextSwitches();
  stop = true;
  await Promise.all(loops);
  if (paced) await Promise.all(paced);
  return {
    counted, ok, elapsedMs, errors, refused: store.stats.refused || 0,
    cpuShare: (cpu.user + cpu.system) / 1000 / elapsedMs,
    // The main thread's sleeps (voluntary: the event loop waited) and preemptions over the timed part.
    switches: switches0 && switches1 ? Object.fromEntries(Object.keys(switches0).map((k) => [k, switches1[k] - switches0[k]])) : null,
    cpuWaitShare: wait0 === null || wait1 === null ? null : (wait1 - wait0) / elapsedMs,
    local: Array.from(local, (x) => Math.round(x * 1000) / 1000),
    forwarded: Array.from(forwarded, (x) => Math.round(x * 1000) / 1000),
  };
}

async function main() {
  const opened = await open();
  process.on("message", async (m) => {
    try {
      let answer;
      if (m.cmd === "status") {
        answer = kind === "redis" ? { held: store.leases.heldPartitions().length, writable: store.writableCount(), leading: store.leadingCount(), partitions: store.partitions } : { writable: 1, leading: 1 };
      } else if (m.cmd === "leads") answer = { led: m.ids.filter((id) => registry.leads(id)) };
      else if (m.cmd === "run") answer = await run(m);
      else if (m.cmd === "versions") answer = { sum: m.ids.reduce((a, id) => a + (registry.has(id) ? registry.get(id).version : 0), 0) };
      else if (m.cmd === "close") {
        await registry.close();
        opened.close();
        process.send({ id: m.id, answer: {} }, () => process.exit(0));
        return;
      }
      process.send({ id: m.id, answer });
    } catch (err) {
      process.send({ id: m.id, error: String((err && err.stack) || err) });
    }
  });
  process.send({ ready: true, warnings: opened.warnings });
}

main().catch((err) => {
  process.send({ failed: String((err && err.stack) || err) }, () => process.exit(1));
});
