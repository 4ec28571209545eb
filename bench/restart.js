// Restart time: how long a fresh process takes to open a registry over a FileStore.
//
//   node bench/restart.js build <baseDir> <twins> <readingsPerTwin>
//       creates the twins (batched FileStore), reports readings, flushes, then leaves three
//       stores holding the same twins under <baseDir>:
//         journal-only/      everything in the journal, no snapshot (copied before compaction)
//         snapshot/          after compact() once: the snapshot and an empty journal
//         snapshot-journal/  the snapshot plus as many readings again in the journal (the store
//                            compacts by itself only once the journal outgrows the snapshot,
//                            so this is close to the most a restart ever replays)
//   node bench/restart.js open <dir> <twins>
//       times new TwinRegistry({store: new FileStore({dir, mode: "batched"})}).open(), checks the
//       twins, a twin's readings and history, then times reading every series once (historyReadMs)
//
// The registry uses its default history length (what a user gets), so history is restored too.
"use strict";
const fs = require("fs");
const path = require("path");
const { performance } = require("perf_hooks");
const { core, childMain, readings, twinId, dirBytes, snapshotSize, runQueueWaitMs } = require("./lib");

const turn = () => new Promise((r) => setImmediate(r));

// Readings one second apart, in time order, all in the past (older ones would be refused).
const firstTs = Date.now() - 60000;

async function report(registry, twins, perTwin, first) {
  for (let round = 0; round < perTwin; round++) {
    const ts = firstTs + (first + round) * 1000;
    for (let k = 0; k < twins; k++) {
      registry.report(twinId(k), readings(k + first + round), { ts });
      if (k % 2000 === 1999) await turn(); // let the batched writer run
    }
  }
}

async function build(baseDir, twins, perTwin) {
  const { TwinRegistry, FileStore } = core();
  const live = path.join(baseDir, "snapshot-journal");
  const journalDir = path.join(baseDir, "journal-only");
  const snapshotDir = path.join(baseDir, "snapshot");
  // No automatic compaction while building: the journal-only copy must have no snapshot.
  const store = new FileStore({ dir: live, mode: "batched", compactBytes: Number.MAX_SAFE_INTEGER });
  const registry = new TwinRegistry({ store });
  registry.open();
  const started = performance.now();
  for (let k = 0; k < twins; k++) {
    registry.create(twinId(k), { attributes: { site: `plant-${k % 7}`, serial: `S-${k}` } });
    if (k % 2000 === 1999) await turn();
  }
  await report(registry, twins, perTwin, 0);
  await store.flush();
  const buildMs = performance.now() - started;
  fs.cpSync(live, journalDir, { recursive: true });
  const t0 = performance.now();
  await registry.compact();
  const compactMs = performance.now() - t0;
  fs.cpSync(live, snapshotDir, { recursive: true });
  await report(registry, twins, perTwin, perTwin);
  await registry.close();
  const journalAfter = fs.readdirSync(live).filter((f) => f.startsWith("journal-")).reduce((n, f) => n + fs.statSync(path.join(live, f)).size, 0);
  return {
    twins, readingsPerTwin: perTwin, buildMs, compactMs,
    journalOnlyBytes: dirBytes(journalDir),
    snapshotBytes: snapshotSize(snapshotDir),
    snapshotJournalBytes: journalAfter,
    longestSliceMs: store.stats.longestSliceMs,
  };
}

async function open(dir, twins) {
  const { TwinRegistry, FileStore } = core();
  const wait0 = runQueueWaitMs();
  const t0 = performance.now();
  const registry = new TwinRegistry({ store: new FileStore({ dir, mode: "batched" }) });
  const warnings = registry.open();
  const ms = performance.now() - t0;
  const wait1 = runQueueWaitMs();
  const cpuWaitMs = wait0 === null || wait1 === null ? null : wait1 - wait0;
  if (registry.size !== twins) throw new Error(`restored ${registry.size} twins, expected ${twins}`);
  const sample = registry.get(twinId(twins - 1));
  if (Object.keys(sample.reported).length !== 10) throw new Error("restored twin lacks its readings");
  const heapUsed = process.memoryUsage().heapUsed;
  // A restored series is decoded when first read (history.ts, SeriesMap.restore): the time to
  // read the newest point of every one is the work the open left to later reads.
  const t1 = performance.now();
  let points = 0;
  for (const id of registry.ids()) {
    for (const property of Object.keys(sample.reported)) {
      const newest = registry.history(id, property, { limit: 1 });
      if (newest.length !== 1) throw new Error(`${id} lacks the history of ${property}`);
      points++;
    }
  }
  const historyReadMs = performance.now() - t1;
  const last = registry.history(twinId(twins - 1), "p9");
  if (last.length < 3 || last[last.length - 1].value !== sample.reported.p9) throw new Error("restored history does not end in the twin's reading");
  await registry.close();
  return { ms, cpuWaitMs, warnings: warnings.length, heapUsed, historyReadMs, seriesRead: points };
}

childMain(async () => {
  const [command, ...args] = process.argv.slice(2);
  if (command === "build") return build(args[0], Number(args[1]), Number(args[2]));
  if (command === "open") return open(args[0], Number(args[1]));
  throw new Error("usage: restart.js build <baseDir> <twins> <readings> | open <dir> <twins>");
});
