// Event-loop lag under sustained MQTT load (issue 11): devices publish readings at a steady rate
// (10,000 a second by default) to twin-link (root "twins", batched registry, default replies:
// an /accepted reply per reading at its QoS 0, the retained document at most once a second per twin), in the
// runtime and with the flows of bench/mqtt.js. While they do, Node-RED's event loop is watched:
// monitorEventLoopDelay (1 ms resolution) p50/p99/max, the longest gap between setInterval(1 ms)
// ticks, and the longest GC pause. The broker and devices are a child process (bench/mqtt-load.js).
//
//   node bench/mqtt-lag.js [rate=10000] [seconds=60] [twins=1000] [clients=4]
//
// Section 11 of `npm run bench` (BENCH_ONLY=lag), or by hand: TWINWIRE_BENCH_PKG (a built
// package) is used when set, the repository's build otherwise.
"use strict";
const os = require("os");
const { performance, monitorEventLoopDelay, PerformanceObserver } = require("perf_hooks");
const { tempDir, removeDir, childMain, runQueueWaitMs } = require("./lib");
const { startRuntime } = require("./red");
const { flows, startLoad, settle, waitFor, gapTracker } = require("./mqtt");

const RATE = Number(process.argv[2] || 10000);
const SECONDS = Number(process.argv[3] || 60);
const TWINS = Number(process.argv[4] || 1000);
const CLIENTS = Number(process.argv[5] || 4);
const WARMUP = 5000;

const ms = (ns) => Math.round(ns / 1e4) / 100;

/** Resolves once done() holds, or once progress() has not moved for stallMs. */
function drained(done, progress, stallMs) {
  return new Promise((resolve) => {
    let last = progress();
    let since = performance.now();
    const timer = setInterval(() => {
      const now = progress();
      if (now !== last) {
        last = now;
        since = performance.now();
      }
      if (done() || performance.now() - since > stallMs) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
}

async function main() {
  const userDir = tempDir("mqtt-lag");
  const load = startLoad();
  try {
    const port = await load.ready;
    const { RED, get } = await startRuntime(userDir, flows(port));
    const counted = { count: 0 };
    get("reg-link").use().subscribe((event) => {
      if (event.section === "reported") counted.count++;
    });
    const state = () => get("link-broker").connectionState().state;
    await waitFor(() => get("nr-broker").connected && state() === "connected", 15000, "the MQTT connections did not come up");
    await new Promise((r) => setTimeout(r, 500)); // the SUBACKs
    await load.connect(CLIENTS);
    const spec = (id, offset, n, rate) => ({ id, kind: "json", prefix: "twins", offset, n, qos: 0, twins: TWINS, rate });
    // The warm-up creates the twins.
    await load.publish(spec(1, 0, WARMUP, 0));
    await waitFor(() => counted.count >= WARMUP, 30000, "the warm-up readings did not arrive");
    await settle();

    const n = RATE * SECONDS;
    counted.count = 0;
    let gcMax = 0;
    let gcKind = "";
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.duration > gcMax) {
          gcMax = e.duration;
          gcKind = String(e.detail ? e.detail.kind : e.kind);
        }
      }
    });
    gcObserver.observe({ entryTypes: ["gc"] });
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const gaps = gapTracker();
    const wait0 = runQueueWaitMs();
    const cpu0 = process.cpuUsage();
    const load0 = os.loadavg()[0];
    const t0 = performance.now();
    await load.publish(spec(2, WARMUP, n, RATE));
    const publishedMs = performance.now() - t0;
    // A Node-RED that cannot keep up falls behind: what it still owes is reported, not an error.
    await drained(() => counted.count >= n, () => counted.count, 5000);
    const elapsedMs = performance.now() - t0;
    histogram.disable();
    const maxGapMs = gaps();
    gcObserver.disconnect();
    const cpu = process.cpuUsage(cpu0);
    const wait1 = runQueueWaitMs();
    const result = {
      rate: RATE,
      seconds: SECONDS,
      readings: counted.count,
      behind: n - counted.count,
      publishedMs: Math.round(publishedMs),
      lastArrivedMs: Math.round(elapsedMs),
      loopDelayMs: { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) },
      maxGapMs: Math.round(maxGapMs * 10) / 10,
      longestGcMs: Math.round(gcMax * 10) / 10,
      longestGcKind: gcKind,
      cpuShare: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100) / 100,
      cpuWaitShare: wait0 === null || wait1 === null ? null : Math.round(((wait1 - wait0) / elapsedMs) * 100) / 100,
      loadAverage: { start: load0, end: os.loadavg()[0] },
    };
    await RED.stop();
    return result;
  } finally {
    await load.stop().catch(() => undefined);
    removeDir(userDir);
  }
}

childMain(main);
