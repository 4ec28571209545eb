// The embedded Node-RED runtime the flow benchmarks share (throughput.js, sensor.js, predict-node.js,
// mqtt.js): one runtime per child process, the package loaded from packageDir(), the bench-entry
// and bench-counter nodes from bench/nodes, and drive(), which pushes messages through an entry
// node and times them until they have ended at a counter.
"use strict";
const path = require("path");
const v8 = require("v8");
const { performance } = require("perf_hooks");
const { prepareUserDir } = require("../scripts/lib/nodered-runtime");
const { packageDir, runQueueWaitMs } = require("./lib");

const BATCH = 200; // receive() calls per event-loop turn
const WINDOW = 2000; // messages in flight at most

function waitForFlows(RED, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("flows did not start")), timeoutMs);
    RED.events.once("flows:started", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Starts Node-RED in this process with `flows` in `userDir` (httpAdminRoot/httpNodeRoot false,
 * log level warn). Resolves with {RED, get(id)}; get throws when a node did not start.
 */
async function startRuntime(userDir, flows) {
  const RED = require("node-red");
  // <userDir>/node_modules/@twinwire/node-red-twins -> the package (see scripts/lib/nodered-runtime.js)
  prepareUserDir(userDir, { flows, packageDir: packageDir() });
  const settings = {
    userDir,
    flowFile: path.join(userDir, "flows.json"),
    credentialSecret: "twinwire-bench",
    httpAdminRoot: false,
    httpNodeRoot: false,
    nodesDir: [path.join(__dirname, "nodes")],
    logging: { console: { level: "warn", metrics: false, audit: false } },
    editorTheme: { tours: false, projects: { enabled: false } },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false },
  };
  RED.init(settings);
  const started = waitForFlows(RED, 20000);
  await RED.start();
  await started;
  const get = (id) => {
    const n = RED.nodes.getNode(id);
    if (!n) throw new Error(`node ${id} did not start (is the package loaded?)`);
    return n;
  };
  return { RED, get };
}

/**
 * Sends n messages, `make(k)` for k = offset..offset+n-1, through `entry`; resolves with
 * {ms, errors, fullMs} once n have ended at `counter` or `errors` (both bench-counter nodes, or
 * any object with count and onCount). fullMs: how long the window was full, i.e. the flow held
 * WINDOW messages it had not ended (a batched store holds acknowledgements while a slow write and
 * fsync outlast its interval; a strict one answers only after each fsync).
 */
function drive(entry, counter, errors, n, offset, make) {
  return new Promise((resolve, reject) => {
    counter.count = 0;
    errors.count = 0;
    let sent = 0;
    let finished = false;
    // While the window is full the pump does not run: it starts again once a batch's worth of
    // messages has ended. (It used to go round setImmediate meanwhile, and that spinning was
    // charged to the flow's CPU time: a 280 ms fsync cost a batched run 1-2 us a message.)
    let full = false;
    let fullSince = 0;
    let fullMs = 0;
    const ended = () => counter.count + errors.count;
    const guard = setTimeout(() => {
      finished = true;
      reject(new Error(`stuck: ${ended()} of ${n} messages ended after 120 s`));
    }, 120000);
    const check = () => {
      const done = ended();
      if (!finished && done >= n) {
        finished = true;
        clearTimeout(guard);
        counter.onCount = errors.onCount = null;
        resolve({ ms: performance.now() - t0, errors: errors.count, fullMs });
      } else if (full && done + WINDOW - sent >= Math.min(BATCH, n - sent)) {
        full = false;
        fullMs += performance.now() - fullSince;
        setImmediate(pump);
      }
    };
    counter.onCount = errors.onCount = check;
    const t0 = performance.now();
    function pump() {
      if (finished) return;
      const limit = Math.min(n, ended() + WINDOW);
      for (let b = 0; b < BATCH && sent < limit; b++, sent++) entry.receive(make(offset + sent));
      if (sent >= n) return;
      if (sent < limit) setImmediate(pump);
      else {
        full = true;
        fullSince = performance.now();
      }
    }
    pump();
  });
}

/**
 * Runs `flowsUnderTest` ([name, entry id, counter id, make] each) round after round, alternating,
 * after a warm-up of each; every run must end without errors. `between` (optional, async) runs
 * before each timed run, off the clock. Returns {runs, cpuWaitMs, median} in messages per second
 * (cpuWaitMs: share of each run's time the main thread waited for a CPU), {cpuUsPerMsg,
 * medianCpuUsPerMsg}: the process's CPU time (user + system) per message of each run, and
 * windowFull: the share of each run's time the window was full (see drive), and oldGrowth: bytes
 * a message added to the old generation over each run (a few when young collections free what a
 * message made; hundreds when V8 has come to allocate its objects in the old generation, or when
 * messages wait long enough to be promoted).
 */
async function alternate(get, flowsUnderTest, { messages, rounds, warmup, errorsId = "count-errors", between = null }, median) {
  const errors = get(errorsId);
  let offset = 0;
  for (const [name, entry, counter, make] of flowsUnderTest) {
    const r = await drive(get(entry), get(counter), errors, warmup, offset, make);
    offset += warmup;
    if (r.errors) throw new Error(`${name}: ${r.errors} messages failed during warm-up`);
  }
  const runs = {};
  const cpuWaitMs = {};
  const cpuUsPerMsg = {};
  const windowFull = {};
  const oldGrowth = {};
  for (const [name] of flowsUnderTest) {
    oldGrowth[name] = [];
    runs[name] = [];
    cpuWaitMs[name] = [];
    cpuUsPerMsg[name] = [];
    windowFull[name] = [];
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, entry, counter, make] of flowsUnderTest) {
      // What the flow before left running (a store's last batch, its write and fsync) ends
      // before this run's clock starts, not inside it.
      if (between) await between();
      if (global.gc) global.gc();
      const wait0 = runQueueWaitMs();
      const old0 = oldGenerationBytes();
      const cpu0 = process.cpuUsage();
      const r = await drive(get(entry), get(counter), errors, messages, offset, make);
      const cpu = process.cpuUsage(cpu0);
      const wait1 = runQueueWaitMs();
      cpuUsPerMsg[name].push((cpu.user + cpu.system) / messages);
      cpuWaitMs[name].push(wait0 === null || wait1 === null ? null : (wait1 - wait0) / r.ms);
      windowFull[name].push(r.fullMs / r.ms);
      oldGrowth[name].push((oldGenerationBytes() - old0) / messages);
      offset += messages;
      if (r.errors) throw new Error(`${name}: ${r.errors} of ${messages} messages failed`);
      runs[name].push((messages / r.ms) * 1000);
    }
  }
  const med = {};
  const medianCpuUsPerMsg = {};
  for (const name of Object.keys(runs)) {
    med[name] = median(runs[name]);
    medianCpuUsPerMsg[name] = median(cpuUsPerMsg[name]);
  }
  return { runs, cpuWaitMs, windowFull, oldGrowth, median: med, cpuUsPerMsg, medianCpuUsPerMsg, sent: offset };
}

/** Bytes in use outside the young generation (old, code, large objects): what young collections did not free. */
function oldGenerationBytes() {
  let bytes = 0;
  for (const space of v8.getHeapSpaceStatistics()) if (space.space_name !== "new_space") bytes += space.space_used_size;
  return bytes;
}

/** The core change node the twin nodes are measured against: moves msg.payload to msg.value. */
function changeNode(id, z, wires, rule = { t: "set", p: "value", pt: "msg", to: "payload", tot: "msg" }) {
  return { id, type: "change", z, x: 300, y: 60, name: "", rules: [rule], action: "", property: "", from: "", to: "", reg: false, wires };
}

module.exports = { BATCH, WINDOW, startRuntime, drive, alternate, changeNode, waitForFlows };
