// Heap per twin: N twins with 10 numeric reported properties each, memory store, core registry.
//
//   node --expose-gc bench/heap.js <twins> <historyLength> <readingsPerTwin>
//
// heapUsed after a full GC, minus the same figure for an empty open registry, divided by N
// (twin ids included: the registry keeps them).
// Also reports arrayBuffers (history ring buffers live in typed arrays, off the JS heap).
"use strict";
const { performance } = require("perf_hooks");
const { core, childMain, fullGc, readings, twinId } = require("./lib");

async function main() {
  const twins = Number(process.argv[2] || 1000);
  const historyLength = Number(process.argv[3] || 0);
  const perTwin = Number(process.argv[4] || 1);
  const { TwinRegistry, MemoryStore } = core();

  const registry = new TwinRegistry({ store: new MemoryStore(), historyLength });
  registry.open();
  fullGc();
  const before = process.memoryUsage();

  const started = performance.now();
  const now = Date.now();
  for (let k = 0; k < twins; k++) registry.create(twinId(k));
  // Readings in time order, one second apart, ending now.
  for (let round = 0; round < perTwin; round++) {
    const ts = now - (perTwin - round) * 1000;
    for (let k = 0; k < twins; k++) registry.report(twinId(k), readings(k + round), { ts });
  }
  const buildMs = performance.now() - started;

  fullGc();
  const after = process.memoryUsage();
  if (registry.size !== twins) throw new Error(`expected ${twins} twins, registry holds ${registry.size}`);
  const heap = after.heapUsed - before.heapUsed;
  const buffers = after.arrayBuffers - before.arrayBuffers;
  return {
    twins,
    historyLength,
    readingsPerTwin: perTwin,
    buildMs,
    heapBytes: heap,
    heapPerTwin: heap / twins,
    arrayBufferBytes: buffers,
    arrayBuffersPerTwin: buffers / twins,
    rssBytes: after.rss - before.rss,
  };
}

childMain(main);
