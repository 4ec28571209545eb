// Longest event-loop stall while a snapshot is written (compaction) at 100k twins.
//
//   node bench/compaction.js [twins=100000] [readingsPerSecond=20000]
//
// Builds the twins (10 numeric properties, batched FileStore, default history length), lets
// the process settle, then applies readings at a steady rate while registry.compact() runs.
// The stall is measured three ways: perf_hooks.monitorEventLoopDelay (resolution 1 ms), a
// setInterval(1 ms) gap tracker, and the store's own longest synchronous slice. The same load
// is also measured for the same time without compaction (the floor: GC, the load itself).
"use strict";
const fs = require("fs");
const path = require("path");
const os = require("os");
const { performance, monitorEventLoopDelay, PerformanceObserver, constants } = require("perf_hooks");

const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental marking",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak callbacks",
};
const { core, childMain, readings, twinId, tempDir, removeDir, snapshotSize, runQueueWaitMs } = require("./lib");

const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Everything that measures stalls, started and stopped together. */
function watch() {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let maxGap = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  let longestGc = 0;
  let longestGcKind = "";
  let gcCount = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcCount++;
      if (e.duration > longestGc) {
        longestGc = e.duration;
        const kind = e.detail ? e.detail.kind : e.kind;
        longestGcKind = GC_KINDS[kind] || String(kind);
      }
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  histogram.enable();
  const wait0 = runQueueWaitMs();
  return () => {
    // Time the main thread was ready to run but waited for a CPU (other processes had it).
    const wait1 = runQueueWaitMs();
    const cpuWaitMs = wait0 === null || wait1 === null ? null : wait1 - wait0;
    histogram.disable();
    clearInterval(tick);
    observer.disconnect();
    maxGap = Math.max(maxGap, performance.now() - last);
    return {
      maxGapMs: maxGap,
      loopDelayMaxMs: histogram.max / 1e6,
      loopDelayP99Ms: histogram.percentile(99) / 1e6,
      longestGcMs: longestGc,
      longestGcKind,
      gcCount,
      loadAverage: os.loadavg()[0],
      cpuWaitMs,
    };
  };
}

/** Applies `perSecond` readings a second, in 5 ms batches, round-robin over the twins. */
function load(registry, twins, perSecond) {
  let k = 0;
  let applied = 0;
  const perTick = Math.max(1, Math.round(perSecond / 200));
  const timer = setInterval(() => {
    for (let n = 0; n < perTick; n++) {
      registry.report(twinId(k), readings(k + applied));
      k = (k + 1) % twins;
      applied++;
    }
  }, 5);
  return () => {
    clearInterval(timer);
    return applied;
  };
}

async function main() {
  const twins = Number(process.argv[2] || 100000);
  const perSecond = Number(process.argv[3] || 20000);
  const { TwinRegistry, FileStore } = core();
  const dir = tempDir("compaction");
  try {
    const store = new FileStore({ dir: path.join(dir, "store"), mode: "batched", compactBytes: Number.MAX_SAFE_INTEGER });
    const registry = new TwinRegistry({ store });
    registry.open();
    const now = Date.now();
    for (let k = 0; k < twins; k++) {
      registry.create(twinId(k), { attributes: { site: `plant-${k % 7}`, serial: `S-${k}` }, reported: readings(k) }, { ts: now - 2000 });
      registry.report(twinId(k), readings(k + 1), { ts: now - 1000 });
      if (k % 1000 === 999) await turn();
    }
    await store.flush();
    await sleep(500);

    // The floor: the same load, no compaction.
    let stopLoad = load(registry, twins, perSecond);
    await sleep(300);
    let stopWatch = watch();
    await sleep(2000);
    const baseline = stopWatch();
    baseline.readings = stopLoad();

    stopLoad = load(registry, twins, perSecond);
    await sleep(300);
    stopWatch = watch();
    const started = performance.now();
    await registry.compact();
    const compactMs = performance.now() - started;
    const during = stopWatch();
    during.readings = stopLoad();
    during.compactMs = compactMs;

    const result = {
      twins,
      readingsPerSecond: perSecond,
      baseline,
      during,
      longestSliceMs: store.stats.longestSliceMs,
      compactions: store.stats.compactions,
      snapshotBytes: snapshotSize(path.join(dir, "store")),
    };
    await registry.close();
    return result;
  } finally {
    removeDir(dir);
  }
}

childMain(main);
