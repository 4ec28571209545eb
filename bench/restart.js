// Restart time: how long a fresh process takes to open a registry over a FileStore.
//
//   node bench/restart.js build <snapshotDir> <journalDir> <twins> <readingsPerTwin>
//       creates the twins (batched FileStore), reports readings, flushes; copies the store to
//       <journalDir> (data only in the journal), then compacts once and closes <snapshotDir>.
//   node bench/restart.js open <dir> <twins>
//       times new TwinRegistry({store: new FileStore({dir, mode: "batched"})}).open()
//
// The registry uses its default history length (what a user gets), so history is restored too.
"use strict";
const fs = require("fs");
const path = require("path");
const { performance } = require("perf_hooks");
const { core, childMain, readings, twinId, dirBytes } = require("./lib");

const turn = () => new Promise((r) => setImmediate(r));

async function build(snapshotDir, journalDir, twins, perTwin) {
  const { TwinRegistry, FileStore } = core();
  // No automatic compaction while building: the journal-only copy must have no snapshot.
  const store = new FileStore({ dir: snapshotDir, mode: "batched", compactBytes: Number.MAX_SAFE_INTEGER });
  const registry = new TwinRegistry({ store });
  registry.open();
  const started = performance.now();
  for (let k = 0; k < twins; k++) {
    registry.create(twinId(k), { attributes: { site: `plant-${k % 7}`, serial: `S-${k}` } });
    if (k % 2000 === 1999) await turn(); // let the batched writer run
  }
  const now = Date.now();
  for (let round = 0; round < perTwin; round++) {
    const ts = now - (perTwin - round) * 1000;
    for (let k = 0; k < twins; k++) {
      registry.report(twinId(k), readings(k + round), { ts });
      if (k % 2000 === 1999) await turn();
    }
  }
  await store.flush();
  const buildMs = performance.now() - started;
  const journalBytes = dirBytes(snapshotDir);
  fs.rmSync(journalDir, { recursive: true, force: true });
  fs.cpSync(snapshotDir, journalDir, { recursive: true });
  const t0 = performance.now();
  await registry.compact();
  const compactMs = performance.now() - t0;
  await registry.close();
  return {
    twins, readingsPerTwin: perTwin, buildMs, compactMs,
    journalOnlyBytes: journalBytes,
    snapshotBytes: fs.statSync(path.join(snapshotDir, "snapshot.jsonl")).size,
    snapshotDirBytes: dirBytes(snapshotDir),
    longestSliceMs: store.stats.longestSliceMs,
  };
}

async function open(dir, twins) {
  const { TwinRegistry, FileStore } = core();
  const t0 = performance.now();
  const registry = new TwinRegistry({ store: new FileStore({ dir, mode: "batched" }) });
  const warnings = registry.open();
  const ms = performance.now() - t0;
  if (registry.size !== twins) throw new Error(`restored ${registry.size} twins, expected ${twins}`);
  const sample = registry.get(twinId(twins - 1));
  if (Object.keys(sample.reported).length !== 10) throw new Error("restored twin lacks its readings");
  const heapUsed = process.memoryUsage().heapUsed;
  await registry.close();
  return { ms, warnings: warnings.length, heapUsed };
}

childMain(async () => {
  const [command, ...args] = process.argv.slice(2);
  if (command === "build") return build(args[0], args[1], Number(args[2]), Number(args[3]));
  if (command === "open") return open(args[0], Number(args[1]));
  throw new Error("usage: restart.js build <snapshotDir> <journalDir> <twins> <readings> | open <dir> <twins>");
});
