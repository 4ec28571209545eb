// End to end over MQTT, in ONE embedded Node-RED runtime, against a bare `mqtt in` on the same
// broker (issues 3 and 6). The broker (aedes) and the publishing devices run in a child process
// of their own (bench/mqtt-load.js), so this process is Node-RED alone.
//
//   devices -> broker -> mqtt in "bench/bare/+/temperature"                                  -> counter   (bare-value)
//   devices -> broker -> mqtt in "bench/sensor/+/temperature" -> twin-sensor (batched)       -> counter   (sensor)
//   devices -> broker -> mqtt in "twins-bare/+/reported"                                     -> counter   (bare-json)
//   devices -> broker -> twin-link (root "twins", batched registry) -> registry "reported" events counted   (link)
//   the same with replies "errors" (no /accepted per reading), root "quiet"                                  (link-quiet)
//
// twin-sensor's path sends one property per message as text ("21.53") on
// {prefix}/{twin}/{property}, bound with the pattern bench/sensor/{twin}/{property}; twin-link's
// path sends JSON bodies {"temperature", "humidity"} on twins/{twin}/reported, and its bare
// counterpart the very same bodies under another root. Every mqtt in subscribes with QoS 1 and
// auto-detect (JSON parsed), through one mqtt-broker config node (MQTT 3.1.1, clean session);
// twin-link has its own connection (persistent session; its defaults: QoS 1, replies on
// /accepted at no higher QoS than the reading's, the retained document at most once a second per
// twin) but MQTT 3.1.1, as aedes has no MQTT 5. link-quiet differs from link only in replies "errors" (devices that send no
// clientToken get no /accepted), to tell what the replies cost. Unknown twins are created by the
// first readings (during the warm-up).
//
// A run: the devices publish n readings as fast as the broker takes them (QoS 0, or QoS 1 when
// asked); the rate is readings counted at the end of the path over the time from the publish
// order to the n-th count. Node-RED's CPU time over the run is recorded too (per reading it
// compares the paths even when the broker, not Node-RED, sets the pace). Before each run the
// process is left to settle (work a run leaves behind, such as acknowledgements still coming in,
// is not charged to the next). Runs alternate bare-value, sensor, bare-json, link, link-quiet over
// `rounds` rounds per QoS. Last, a burst of readings through twin-link is followed at once by
// stopping Node-RED, timed with the longest event-loop gap: closing the link while acknowledgements
// are outstanding.
//
//   node --expose-gc bench/mqtt.js [messages=50000] [rounds=3] [warmup=5000] [twins=1000] [clients=4] [qos1Rounds=2] [paths]
//
// `paths` (for profiling by hand) is a comma list out of bare-value,sensor,bare-json,link,link-quiet.
// BENCH_PERSISTENCE=strict runs the registries strict (default batched).
// BENCH_RATE=<readings/s> paces the devices (default: as fast as the broker takes them).
// BENCH_IDLE_SUBSCRIPTIONS=<n> adds n mqtt in nodes on the same mqtt-broker node, subscribed to
// topics nobody publishes (what a flow with an mqtt in per machine has): Node-RED's broker node
// matches every message against every subscription it holds (README, "Wiring a device").
"use strict";
const path = require("path");
const { fork } = require("child_process");
const { performance } = require("perf_hooks");
const { tempDir, removeDir, childMain, median, runQueueWaitMs } = require("./lib");
const { startRuntime } = require("./red");

const MESSAGES = Number(process.argv[2] || 50000);
const ROUNDS = Number(process.argv[3] || 3);
const WARMUP = Number(process.argv[4] || 5000);
const TWINS = Number(process.argv[5] || 1000);
const CLIENTS = Number(process.argv[6] || 4);
const QOS1_ROUNDS = Number(process.argv[7] === undefined ? 2 : process.argv[7]);
const ONLY = process.argv[8] ? process.argv[8].split(",") : null;
/** The registries' persistence mode (BENCH_PERSISTENCE=strict to see what waiting for each fsync costs). */
const PERSISTENCE = process.env.BENCH_PERSISTENCE || "batched";
/**
 * Readings per second the devices keep to (BENCH_RATE), instead of as fast as the broker takes them: CPU
 * per reading depends on how many readings a socket read brings, so paths compare best at one rate.
 */
const RATE = Number(process.env.BENCH_RATE) || undefined;
/** Idle mqtt in nodes on the shared broker node (BENCH_IDLE_SUBSCRIPTIONS). */
const IDLE_SUBSCRIPTIONS = Number(process.env.BENCH_IDLE_SUBSCRIPTIONS) || 0;
/** A run that stops making progress for this long after the devices are done has lost messages. */
const STALL_MS = 5000;

const PATHS = [
  { name: "bare-value", kind: "value", prefix: "bench/bare", counter: "count-bare-value" },
  { name: "sensor", kind: "value", prefix: "bench/sensor", counter: "count-sensor" },
  { name: "bare-json", kind: "json", prefix: "twins-bare", counter: "count-bare-json" },
  { name: "link", kind: "json", prefix: "twins", counter: null, registry: "reg-link" },
  { name: "link-quiet", kind: "json", prefix: "quiet", counter: null, registry: "reg-quiet" },
].filter((p) => !ONLY || ONLY.includes(p.name));

function flows(port) {
  const mqttIn = (id, topic, wires, y) => ({ id, type: "mqtt in", z: "tab", name: "", topic, qos: "1", datatype: "auto-detect", broker: "nr-broker", nl: false, rap: true, rh: 0, inputs: 0, x: 100, y, wires });
  const counter = (id, y) => ({ id, type: "bench-counter", z: "tab", x: 500, y, wires: [] });
  const registry = (id) => ({ id, type: "twin-registry", name: id.slice(4), persistence: PERSISTENCE, historyLength: 100, staleness: 0, maxDocumentKb: 64, models: "" });
  return [
    { id: "tab", type: "tab", label: "bench" },
    { id: "nr-broker", type: "mqtt-broker", name: "bench", broker: "127.0.0.1", port: String(port), clientid: "", autoConnect: true, usetls: false, protocolVersion: "4", keepalive: "60", cleansession: true },
    registry("reg-sensor"),
    registry("reg-link"),
    registry("reg-quiet"),
    mqttIn("in-bare-value", "bench/bare/+/temperature", [["count-bare-value"]], 60),
    counter("count-bare-value", 60),
    mqttIn("in-sensor", "bench/sensor/+/temperature", [["sensor"]], 120),
    {
      id: "sensor", type: "twin-sensor", z: "tab", x: 300, y: 120, registry: "reg-sensor", pattern: "bench/sensor/{twin}/{property}", twinId: "", twinIdType: "str",
      property: "", value: "payload", valueType: "msg", timestamp: "", timestampType: "msg", scale: 1, offset: 0, unit: "", deadband: "",
      unknown: "create", model: "", output: "event", parseNumbers: true, wires: [["count-sensor"]],
    },
    counter("count-sensor", 120),
    mqttIn("in-bare-json", "twins-bare/+/reported", [["count-bare-json"]], 180),
    counter("count-bare-json", 180),
    { id: "link-broker", type: "twin-link-broker", name: "bench", url: `mqtt://127.0.0.1:${port}`, tls: "", clientId: "bench-link", protocol: "4", keepalive: "60", sessionExpiry: "24", queueLimit: "10000" },
    // Rejections leave on the output: counted as errors.
    { id: "link", type: "twin-link", z: "tab", x: 300, y: 240, name: "", registry: "reg-link", broker: "link-broker", root: "twins", group: "", qos: "1", unknown: "create", model: "", state: "document", stateInterval: "1000", replies: "all", wires: [["count-errors"]] },
    { id: "link-quiet", type: "twin-link", z: "tab", x: 300, y: 270, name: "", registry: "reg-quiet", broker: "link-broker", root: "quiet", group: "", qos: "1", unknown: "create", model: "", state: "document", stateInterval: "1000", replies: "errors", wires: [["count-errors"]] },
    // Errors end a message too: count them apart so a failing node can not hang the run.
    { id: "catch", type: "catch", z: "tab", x: 100, y: 300, scope: null, uncaught: false, wires: [["count-errors"]] },
    counter("count-errors", 300),
    ...Array.from({ length: IDLE_SUBSCRIPTIONS }, (_, k) => mqttIn(`idle-${k}`, `bench/idle/${k}/+/temperature`, [["count-errors"]], 400 + 20 * k)),
  ];
}

/** The load process: broker and devices. */
function startLoad() {
  const child = fork(path.join(__dirname, "mqtt-load.js"), [], { stdio: ["ignore", 2, 2, "ipc"] });
  const waiters = new Map();
  let ready;
  const readyPromise = new Promise((resolve, reject) => {
    ready = { resolve, reject };
  });
  let failure = null;
  child.on("message", (m) => {
    if (m.type === "ready") ready.resolve(m.port);
    else if (m.type === "error") {
      failure = new Error(`mqtt-load: ${m.error}`);
      ready.reject(failure);
      for (const w of waiters.values()) w.reject(failure);
      waiters.clear();
    } else {
      const key = m.type === "published" ? `published:${m.id}` : m.type;
      const w = waiters.get(key);
      if (w) {
        waiters.delete(key);
        w.resolve(m);
      }
    }
  });
  child.on("exit", (code) => {
    const err = failure || new Error(`mqtt-load exited with ${code}`);
    ready.reject(err);
    for (const w of waiters.values()) w.reject(err);
    waiters.clear();
  });
  const ask = (message, answer) =>
    new Promise((resolve, reject) => {
      waiters.set(answer, { resolve, reject });
      child.send(message);
    });
  return {
    ready: readyPromise,
    connect: (clients) => ask({ type: "connect", clients }, "connected"),
    publish: (spec) => ask({ type: "publish", ...spec }, `published:${spec.id}`),
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.send({ type: "stop" });
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}

/**
 * Orders n readings from the devices and waits until n have ended at `counter` (or `errors`).
 * Resolves with the time to the n-th, what was counted, Node-RED's CPU time, and the devices'
 * own figures; a run that stalls once the devices are done ends with what arrived (lost > 0).
 */
function run(load, spec, counter, errors) {
  return new Promise((resolve, reject) => {
    counter.count = 0;
    errors.count = 0;
    const n = spec.n;
    let finished = false;
    let last = 0; // time of the latest count
    let publishedAt = 0;
    const ended = () => counter.count + errors.count;
    const fail = (err) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      counter.onCount = errors.onCount = null;
      reject(err);
    };
    const finish = (lost) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      counter.onCount = errors.onCount = null;
      const cpu = process.cpuUsage(cpu0);
      const wait1 = runQueueWaitMs();
      const ms = last - t0;
      published.then(
        (p) => resolve({ ms, received: counter.count, errors: errors.count, lost, cpuMs: (cpu.user + cpu.system) / 1000, cpuWait: wait0 === null || wait1 === null ? null : (wait1 - wait0) / ms, load: p }),
        reject,
      );
    };
    counter.onCount = errors.onCount = () => {
      last = performance.now();
      if (ended() >= n) finish(0);
    };
    const watchdog = setInterval(() => {
      const now = performance.now();
      if (publishedAt && now - Math.max(last, publishedAt) > STALL_MS) finish(n - ended());
      else if (now - t0 > 120000) fail(new Error(`stuck: ${ended()} of ${n} readings after 120 s`));
    }, 250);
    const wait0 = runQueueWaitMs();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const published = load.publish(spec);
    published.then(() => {
      publishedAt = performance.now();
    }, fail);
  });
}

/**
 * Waits until this process is quiet (under 20 % of a core for two 100 ms samples in a row, at
 * most 60 s), so work a run leaves behind (acknowledgements still coming in, replies still going
 * out) is not charged to the next one. Resolves with the time it took.
 */
async function settle() {
  const t0 = performance.now();
  let quiet = 0;
  while (quiet < 2 && performance.now() - t0 < 60000) {
    const cpu0 = process.cpuUsage();
    const s0 = performance.now();
    await new Promise((r) => setTimeout(r, 100));
    const cpu = process.cpuUsage(cpu0);
    quiet = (cpu.user + cpu.system) / 1000 / (performance.now() - s0) < 0.2 ? quiet + 1 : 0;
  }
  return performance.now() - t0;
}

/** Tracks the longest gap between setInterval(1 ms) ticks until the returned function is called. */
function gapTracker() {
  let max = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
  }, 1);
  return () => {
    clearInterval(tick);
    return Math.max(max, performance.now() - last);
  };
}

function waitFor(check, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - t0 > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`${what} within ${timeoutMs} ms`));
      }
    }, 50);
  });
}

async function main() {
  const userDir = tempDir("mqtt");
  const load = startLoad();
  try {
    const port = await load.ready;
    const { RED, get } = await startRuntime(userDir, flows(port));
    const errors = get("count-errors");
    // twin-link's readings are counted where they land: the registry's reported events.
    const counters = {};
    for (const p of PATHS) {
      if (p.counter) {
        counters[p.name] = get(p.counter);
        continue;
      }
      const counter = (counters[p.name] = { count: 0, onCount: null });
      get(p.registry).use().subscribe((event) => {
        if (event.section !== "reported") return;
        counter.count++;
        if (counter.onCount) counter.onCount();
      });
    }
    // Both MQTT clients of Node-RED subscribed: what is published now arrives.
    const state = () => get("link-broker").connectionState().state;
    await waitFor(() => get("nr-broker").connected && state() === "connected", 15000, "the MQTT connections did not come up");
    await new Promise((r) => setTimeout(r, 500)); // the SUBACKs
    await load.connect(CLIENTS);

    let offset = 0;
    let id = 0;
    const received = {};
    for (const p of PATHS) received[p.name] = 0;
    const order = (p, n, qos) => {
      const spec = { id: ++id, kind: p.kind, prefix: p.prefix, offset, n, qos, twins: TWINS, rate: RATE };
      offset += n;
      return spec;
    };
    for (const p of PATHS) {
      await settle();
      const r = await run(load, order(p, WARMUP, 0), counters[p.name], errors);
      received[p.name] += r.received;
      if (r.errors || r.lost) throw new Error(`${p.name}: ${r.errors} failed and ${r.lost} lost of ${WARMUP} readings during warm-up`);
    }
    const results = {};
    for (const [qos, rounds] of [[0, ROUNDS], [1, QOS1_ROUNDS]]) {
      if (!rounds) continue;
      const runs = {};
      for (const p of PATHS) runs[p.name] = [];
      for (let round = 0; round < rounds; round++) {
        for (const p of PATHS) {
          const settleMs = await settle();
          if (global.gc) global.gc();
          const r = await run(load, order(p, MESSAGES, qos), counters[p.name], errors);
          received[p.name] += r.received;
          if (r.errors) throw new Error(`${p.name}, QoS ${qos}: ${r.errors} of ${MESSAGES} readings failed`);
          runs[p.name].push({
            rate: (r.received / r.ms) * 1000,
            lost: r.lost,
            cpuUsPerReading: (r.cpuMs * 1000) / r.received,
            cpuShare: r.cpuMs / r.ms,
            cpuWait: r.cpuWait,
            loadMs: r.load ? r.load.ms : null,
            loadCpuShare: r.load ? r.load.cpuMs / r.ms : null,
            settleMs,
          });
        }
      }
      const med = {};
      for (const p of PATHS) {
        med[p.name] = {
          rate: median(runs[p.name].map((x) => x.rate)),
          cpuUsPerReading: median(runs[p.name].map((x) => x.cpuUsPerReading)),
          cpuShare: median(runs[p.name].map((x) => x.cpuShare)),
          loadCpuShare: median(runs[p.name].map((x) => x.loadCpuShare)),
          lost: runs[p.name].reduce((a, x) => a + x.lost, 0),
        };
      }
      results[`qos${qos}`] = { rounds, runs, median: med };
    }
    // Closing twin-link right after a burst, while acknowledgements of its replies are outstanding.
    let close = null;
    const link = PATHS.find((p) => p.name === "link");
    if (link) {
      await settle();
      const r = await run(load, order(link, MESSAGES, 0), counters.link, errors);
      received.link += r.received;
      close = { readings: r.received, burstMs: r.ms };
    }
    // Every reading counted landed in its twin: each adds one version (the first creates the twin).
    const check = {};
    for (const [name, reg] of [["sensor", "reg-sensor"], ["link", "reg-link"], ["link-quiet", "reg-quiet"]]) {
      if (!PATHS.some((p) => p.name === name)) continue;
      const registry = get(reg).use();
      let versions = 0;
      for (const tid of registry.ids()) versions += registry.get(tid).version;
      if (versions !== received[name]) throw new Error(`${name}: versions add up to ${versions}, ${received[name]} readings were counted`);
      check[name] = { twins: registry.size, versions };
    }
    if (!close) await settle();
    const stopGaps = gapTracker();
    const stop0 = performance.now();
    await RED.stop();
    const stopMs = performance.now() - stop0;
    const maxGapMs = stopGaps();
    // What the loop still does once the nodes are closed (acknowledgements of a closed link).
    const afterGaps = gapTracker();
    const afterMs = await settle();
    if (close) Object.assign(close, { stopMs, maxGapMs, afterMs, afterMaxGapMs: afterGaps() });
    return { messages: MESSAGES, warmup: WARMUP, twins: TWINS, clients: CLIENTS, paths: PATHS.map((p) => p.name), results, check, stopMs, close };
  } finally {
    await load.stop().catch(() => undefined);
    removeDir(userDir);
  }
}

if (require.main === module) childMain(main);

module.exports = { flows, startLoad, settle, waitFor, gapTracker };
