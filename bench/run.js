#!/usr/bin/env node
// `npm run bench`: measures throughput, heap, restart time and compaction stalls, each in its
// own child process, then writes BENCHMARKS.md and prints the same text.
//
// Speed is reported as a ratio against the core change node measured in the same runtime and
// the same run; nothing here is asserted by a test. Set BENCH_QUICK=1 for a short smoke run
// (smaller counts; its BENCHMARKS.md says so).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { performance } = require("perf_hooks");
const { repoRoot, tmpRoot, tempDir, removeDir, runChild, median, machine, snapshotPackage, MB } = require("./lib");

const QUICK = process.env.BENCH_QUICK === "1";
const CFG = QUICK
  ? { messages: 10000, rounds: 3, warmup: 2000, fleet: 1000, heap: [1000, 10000], heapHistory: [[1000, 100], [10000, 1]], restartTwins: 10000, restartRuns: 1, compactTwins: 10000, compactRuns: 1 }
  : { messages: 100000, rounds: 3, warmup: 10000, fleet: 1000, heap: [1000, 10000, 100000], heapHistory: [[1000, 100], [10000, 100], [100000, 1]], restartTwins: 100000, restartRuns: 3, compactTwins: 100000, compactRuns: 3 };
const TARGET = { ratio: 0.5, heapMb: 300, restartS: 5, stallMs: 50 };

const fmt = (n, digits = 0) => Number(n).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mb = (bytes) => fmt(bytes / MB, 1);
const verdict = (ok) => (ok ? "met" : "NOT MET");
const log = (text) => process.stderr.write(`bench: ${text}\n`);

async function throughput() {
  log(`throughput: ${CFG.rounds} rounds of ${CFG.messages} messages per flow`);
  return runChild("throughput.js", [CFG.messages, CFG.rounds, CFG.warmup, CFG.fleet], { execArgv: ["--expose-gc"], timeoutMs: 300000 });
}

async function heap() {
  const out = { off: [], history: [] };
  for (const n of CFG.heap) {
    log(`heap: ${n} twins, history off`);
    out.off.push(await runChild("heap.js", [n, 0, 1], { execArgv: ["--expose-gc"] }));
  }
  for (const [n, readings] of CFG.heapHistory) {
    log(`heap: ${n} twins, history 100, ${readings} readings`);
    out.history.push(await runChild("heap.js", [n, 100, readings], { execArgv: ["--expose-gc"] }));
  }
  return out;
}

async function restart() {
  const dir = tempDir("restart");
  try {
    log(`restart: building ${CFG.restartTwins} twins`);
    const build = await runChild("restart.js", ["build", dir, CFG.restartTwins, 3], { timeoutMs: 240000 });
    const opens = { "snapshot": [], "journal-only": [], "snapshot-journal": [] };
    for (let run = 0; run < CFG.restartRuns; run++) {
      log(`restart: opens, round ${run + 1} of ${CFG.restartRuns}`);
      for (const kind of Object.keys(opens)) opens[kind].push(await runChild("restart.js", ["open", path.join(dir, kind), CFG.restartTwins]));
    }
    return { build, opens };
  } finally {
    removeDir(dir);
  }
}

async function compaction() {
  const runs = [];
  for (let run = 0; run < CFG.compactRuns; run++) {
    log(`compaction: run ${run + 1} of ${CFG.compactRuns}`);
    runs.push(await runChild("compaction.js", [CFG.compactTwins, 20000], { timeoutMs: 240000 }));
  }
  return runs;
}

function render(r) {
  const L = [];
  const conditions = (name) => {
    const x = r.sections[name];
    L.push(`_${fmt(x.seconds)} s; load average (1 min) when it started: ${x.load.toFixed(2)} on ${r.machine.cores} cores._`, "");
  };
  const m = r.machine;
  L.push("# Benchmarks", "");
  L.push("Written by `npm run bench` (bench/run.js); numbers are from the run below, on one machine.");
  L.push("Speed is a ratio against Node-RED's core change node in the same runtime and run, so it says");
  L.push("little about other machines in absolute terms. Nothing here is asserted by a test.");
  if (QUICK) L.push("", "**Quick smoke run (BENCH_QUICK=1): reduced counts, not the reference figures.**");
  L.push("", "| | |", "|---|---|");
  L.push(`| machine | ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os} |`);
  L.push(`| Node.js | ${m.node} |`);
  L.push(`| Node-RED | ${m.nodeRed} (embedded, one runtime) |`);
  L.push(`| date | ${r.date} |`);
  L.push("| command | `npm run bench` |");
  L.push(`| duration | ${fmt(r.durationS)} s |`);
  L.push(`| load average (1 min) at start / end | ${r.loadStart.toFixed(2)} / ${r.loadEnd.toFixed(2)} (above ~${m.cores}, other processes compete for the CPU and figures get noisier) |`);

  // 1. Throughput
  const t = r.throughput;
  const change = t.median.change;
  const ratio = (mode) => t.median[`twin-${mode}`] / change;
  L.push("", "## 1. Throughput: twin node (update) vs core change node", "");
  conditions("throughput");
  L.push(`One embedded Node-RED runtime (httpAdminRoot/httpNodeRoot false, log level warn), flows`);
  L.push("`entry -> twin (operation update, registry <mode>) -> counter` and `entry -> change (set msg.payload.x) -> counter`.");
  L.push(`${fmt(t.messages)} messages per run after a ${fmt(t.warmup)}-message warm-up per flow, sent with \`receive()\` in batches of`);
  L.push(`${t.batch} with setImmediate between batches and at most ${fmt(t.window)} in flight; updates go round-robin to ${fmt(t.twins)} twins`);
  L.push("(2 attributes, 10 reported numbers each); each update emits the full twin document. Runs alternate");
  L.push(`change, twin batched, twin memory, twin strict over ${t.rounds} rounds; figures are medians of ${t.rounds}. Stores on the repository's disk (ext4).`, "");
  L.push("| flow | runs (msgs/s) | median msgs/s | ratio to change | target |", "|---|---|---|---|---|");
  const row = (name, label, target) =>
    L.push(`| ${label} | ${t.runs[name].map((v) => fmt(v)).join(", ")} | ${fmt(t.median[name])} | ${name === "change" ? "1.00" : (t.median[name] / change).toFixed(2)} | ${target} |`);
  row("change", "change node", "baseline");
  row("twin-batched", "twin, batched", `>= ${TARGET.ratio}`);
  row("twin-memory", "twin, memory", "report only");
  row("twin-strict", "twin, strict", "report only (fsync per group commit)");
  const waits = Object.values(t.cpuWaitMs).flat().filter((x) => x !== null);
  if (waits.length) L.push("", `The main thread waited for a CPU (other processes had it) for ${(Math.min(...waits) * 100).toFixed(0)} to ${(Math.max(...waits) * 100).toFixed(0)} % of a run's time.`);
  const perRound = (mode) => t.runs[`twin-${mode}`].map((v, k) => (v / t.runs.change[k]).toFixed(2)).join(", ");
  L.push("", `Ratio run by run (each twin run against the change run of the same round): batched ${perRound("batched")}; memory ${perRound("memory")}; strict ${perRound("strict")}.`);
  L.push("", `- twin (batched) / change = ${ratio("batched").toFixed(2)} (ratio of the medians), target >= ${TARGET.ratio}: **${verdict(ratio("batched") >= TARGET.ratio)}**`);

  // 2. Heap
  const h = r.heap;
  L.push("", "## 2. Heap per twin (core registry, memory store)", "");
  conditions("heap");
  L.push("Each row is a fresh child process (`--expose-gc`): heapUsed after full GC with N twins, minus the same for an");
  L.push("empty open registry, divided by N. Twins have 10 numeric reported properties (two-decimal floats), ids included.", "");
  L.push("| twins | history | heap total | heap per twin | typed arrays (off heap) per twin | target |", "|---|---|---|---|---|---|");
  for (const x of h.off) L.push(`| ${fmt(x.twins)} | off (0) | ${mb(x.heapBytes)} MB | ${fmt(x.heapPerTwin)} B | ${fmt(x.arrayBuffersPerTwin)} B | ${x.twins === 100000 ? `<= ${TARGET.heapMb} MB total` : "-"} |`);
  for (const x of h.history) {
    const how = x.readingsPerTwin >= x.historyLength ? `${x.historyLength}, filled (${x.readingsPerTwin} readings)` : `${x.historyLength} (the default), ${x.readingsPerTwin} reading${x.readingsPerTwin > 1 ? "s" : ""}`;
    L.push(`| ${fmt(x.twins)} | ${how} | ${mb(x.heapBytes)} MB | ${fmt(x.heapPerTwin)} B | ${fmt(x.arrayBuffersPerTwin)} B | report only |`);
  }
  const big = h.off.find((x) => x.twins === 100000);
  if (big) L.push("", `- 100,000 twins, history off: ${mb(big.heapBytes)} MB of heap, target <= ${TARGET.heapMb} MB: **${verdict(big.heapBytes / MB <= TARGET.heapMb)}**`);
  else L.push("", "- 100,000 twins not measured in this run: target not judged");
  if (h.history.length) {
    L.push("- With history on, points sit in Float64Arrays (16 bytes a point, at least 16 points reserved per property) counted under");
    L.push("  arrayBuffers, not heapUsed; the heap column holds the Series and typed-array objects themselves.");
    const dflt = h.history.find((x) => x.twins === 100000);
    if (dflt) L.push(`- For information: 100,000 twins with the default history length (100) and a single reading take ${mb(dflt.heapBytes)} MB of heap plus ${mb(dflt.arrayBufferBytes)} MB of typed arrays.`);
  }

  // 3. Restart
  const s = r.restart;
  const med = (kind) => median(s.opens[kind].map((x) => x.ms)) / 1000;
  const snapMed = med("snapshot");
  L.push("", `## 3. Restart time with ${fmt(s.build.twins)} twins (batched FileStore)`, "");
  conditions("restart");
  L.push(`Built in a child process: ${fmt(s.build.twins)} twins created (2 attributes), then ${s.build.readingsPerTwin} readings of 10 numeric properties each`);
  L.push("(default history length 100, so history is restored too), then `compact()` once. A copy taken before compaction");
  L.push(`holds the same data in the journal only; a third store is the snapshot plus ${s.build.readingsPerTwin} more readings per twin in the journal`);
  L.push("(the store compacts by itself only once its journal outgrows the snapshot, so a restart can replay about this much).");
  L.push("Each open is a fresh child process timing `new TwinRegistry({store: new FileStore({dir, mode: \"batched\"})}).open()`;");
  L.push(`the restored count and a twin's readings are checked. ${s.opens.snapshot.length} opens of each, alternating; median.`, "");
  L.push("| store on disk | size | opens (s) | median | median less time waiting for a CPU | heap right after open (no GC) | target |", "|---|---|---|---|---|---|---|");
  // Wall time minus the time the (single, busy) main thread sat ready to run while other
  // processes had the CPU: about what the open takes on a machine to itself.
  const ownTime = (kind) => {
    const w = s.opens[kind].filter((x) => typeof x.cpuWaitMs === "number").map((x) => x.ms - x.cpuWaitMs);
    return w.length === s.opens[kind].length ? median(w) / 1000 : null;
  };
  const restartRow = (kind, label, size, target) => {
    const own = ownTime(kind);
    L.push(`| ${label} | ${size} | ${s.opens[kind].map((x) => (x.ms / 1000).toFixed(2)).join(", ")} | ${med(kind).toFixed(2)} s | ${own === null ? "n/a" : `${own.toFixed(2)} s`} | ${mb(median(s.opens[kind].map((x) => x.heapUsed)))} MB | ${target} |`);
  };
  restartRow("snapshot", "snapshot (after compact)", `${mb(s.build.snapshotBytes)} MB`, `<= ${TARGET.restartS} s`);
  restartRow("journal-only", "journal only (no snapshot)", `${mb(s.build.journalOnlyBytes)} MB`, "report only");
  restartRow("snapshot-journal", "snapshot + journal (more readings)", `${mb(s.build.snapshotBytes)} + ${mb(s.build.snapshotJournalBytes)} MB`, "report only");
  const snapOwn = ownTime("snapshot");
  L.push("", `- restart from snapshot with ${fmt(s.build.twins)} twins: ${snapMed.toFixed(2)} s${snapOwn === null ? "" : ` (${snapOwn.toFixed(2)} s less the time spent waiting for a CPU)`}, target <= ${TARGET.restartS} s: **${s.build.twins === 100000 ? verdict(snapMed <= TARGET.restartS) : "not judged (fewer than 100,000 twins)"}**`);

  // 4. Compaction
  const c = r.compaction;
  const worstSlice = Math.max(...c.map((x) => x.longestSliceMs));
  const worstGap = Math.max(...c.map((x) => x.during.maxGapMs));
  const worstBaseGap = Math.max(...c.map((x) => x.baseline.maxGapMs));
  L.push("", `## 4. Event-loop stall during compaction at ${fmt(c[0].twins)} twins`, "");
  conditions("compaction");
  L.push(`A child process builds ${fmt(c[0].twins)} twins (10 numeric properties, batched FileStore, history on), then applies`);
  L.push(`${fmt(c[0].readingsPerSecond)} readings/s (every 5 ms) while \`registry.compact()\` writes the snapshot. Stalls: largest gap of a`);
  L.push("`setInterval(1 ms)` tracker, `monitorEventLoopDelay({resolution: 1})` max and p99, the store's own `stats.longestSliceMs`,");
  L.push("and the longest GC pause seen (perf_hooks). \"Load only\" is the same load for 2 s without compaction, for comparison.", "");
  L.push("| run | compaction | readings applied during it | max gap, load only | max gap during compaction | loop delay max / p99 | longest GC pause (kind) | store longestSliceMs | main thread waiting for a CPU / load avg | target |", "|---|---|---|---|---|---|---|---|---|---|");
  c.forEach((x, k) =>
    L.push(`| ${k + 1} | ${fmt(x.during.compactMs)} ms | ${fmt(x.during.readings)} | ${x.baseline.maxGapMs.toFixed(1)} ms | ${x.during.maxGapMs.toFixed(1)} ms | ${x.during.loopDelayMaxMs.toFixed(1)} / ${x.during.loopDelayP99Ms.toFixed(1)} ms | ${x.during.longestGcMs.toFixed(1)} ms (${x.during.longestGcKind || "none"}) | ${x.longestSliceMs.toFixed(1)} ms | ${x.during.cpuWaitMs === null ? "n/a" : `${fmt(x.during.cpuWaitMs)} ms`} / ${x.during.loadAverage.toFixed(2)} | <= ${TARGET.stallMs} ms |`),
  );
  L.push("", `Snapshot file: ${mb(c[0].snapshotBytes)} MB.`);
  const judged = c[0].twins === 100000;
  const medSlice = median(c.map((x) => x.longestSliceMs));
  const medGap = median(c.map((x) => x.during.maxGapMs));
  L.push("A slice is timed by the wall clock, so a GC pause or the OS descheduling the process inside a slice counts against it.");
  L.push("\"Waiting for a CPU\" is the time the main thread was ready to run but other processes had the CPU during the");
  L.push("compaction (Linux schedstat); with the 1-minute load average it shows how much of a stall the machine, not the code, caused.");
  L.push("", `- longest synchronous compaction step (store.stats.longestSliceMs): worst of ${c.length} ${worstSlice.toFixed(1)} ms (median ${medSlice.toFixed(1)} ms), target <= ${TARGET.stallMs} ms: **${judged ? verdict(worstSlice <= TARGET.stallMs) : "not judged (fewer than 100,000 twins)"}**`);
  L.push(`- longest event-loop gap during compaction: worst of ${c.length} ${worstGap.toFixed(1)} ms (median ${medGap.toFixed(1)} ms; load only: worst ${worstBaseGap.toFixed(1)} ms), target <= ${TARGET.stallMs} ms: **${judged ? verdict(worstGap <= TARGET.stallMs) : "not judged"}**`);

  // Summary
  L.push("", "## Targets", "");
  L.push("| target | measured | result |", "|---|---|---|");
  L.push(`| twin (batched) / change >= ${TARGET.ratio} | ${ratio("batched").toFixed(2)} | ${verdict(ratio("batched") >= TARGET.ratio)} |`);
  if (big) L.push(`| 100,000 twins in <= ${TARGET.heapMb} MB heap (history off) | ${mb(big.heapBytes)} MB | ${verdict(big.heapBytes / MB <= TARGET.heapMb)} |`);
  if (s.build.twins === 100000) L.push(`| restart with 100,000 twins <= ${TARGET.restartS} s (snapshot) | ${snapMed.toFixed(2)} s | ${verdict(snapMed <= TARGET.restartS)} |`);
  if (judged) {
    L.push(`| no synchronous compaction step over ${TARGET.stallMs} ms (store slice, worst of ${c.length}) | ${worstSlice.toFixed(1)} ms | ${verdict(worstSlice <= TARGET.stallMs)} |`);
    L.push(`| no event-loop gap over ${TARGET.stallMs} ms during compaction (worst of ${c.length}) | ${worstGap.toFixed(1)} ms | ${verdict(worstGap <= TARGET.stallMs)} |`);
  }
  L.push("");
  return L.join("\n");
}

async function main() {
  const started = performance.now();
  const result = { machine: machine(), date: new Date().toISOString(), loadStart: os.loadavg()[0] };
  const pkgDir = tempDir("package");
  try {
    process.env.TWINWIRE_BENCH_PKG = await snapshotPackage(pkgDir);
    result.sections = {};
    for (const [name, measure] of [["throughput", throughput], ["heap", heap], ["restart", restart], ["compaction", compaction]]) {
      const load = os.loadavg()[0];
      const t0 = performance.now();
      result[name] = await measure();
      result.sections[name] = { load, seconds: (performance.now() - t0) / 1000 };
    }
  } finally {
    removeDir(pkgDir);
  }
  result.loadEnd = os.loadavg()[0];
  result.durationS = (performance.now() - started) / 1000;
  const text = render(result);
  fs.writeFileSync(path.join(repoRoot, "BENCHMARKS.md"), text);
  try {
    fs.rmdirSync(tmpRoot); // only when empty
  } catch {
    /* other runs' leftovers stay */
  }
  console.log(text);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
