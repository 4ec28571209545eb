#!/usr/bin/env node
// `npm run bench`: measures throughput, heap, restart time, compaction stalls, twin-sensor (in a
// flow and end to end over MQTT), twin-predict (the core estimators and the node), twin-link and
// what a SIGKILL loses in each persistence mode under load, the event-loop lag under sustained MQTT load,
// the quality of twin-predict's predictions on real series, and a registry shared on Redis by 1 to 3 instances,
// each in its own child process, then writes BENCHMARKS.md and prints the same text.
//
// Speed is reported as a ratio against the core change node (or, over MQTT, a bare mqtt in node)
// measured in the same runtime and the same run; nothing here is asserted by a test. Before each
// section the page cache is written out and the run waits (up to 20 s) for the CPUs to go quiet
// (settle(), below); each section's text says what it found. Set
// BENCH_QUICK=1 for a short smoke run (smaller counts; its BENCHMARKS.md says so), and
// BENCH_ONLY=sensor,mqtt,... (throughput, heap, restart, compaction, sensor, mqtt, predict, sigkill, history, lag, quality, anomaly, redis) to run
// some sections by hand: that prints the text and leaves BENCHMARKS.md alone. Each run keeps its
// raw figures in bench/.tmp/last-run.json; BENCH_RENDER=1 renders the text again from them.
// BENCH_ONLY=... BENCH_MERGE=<a full run's last-run.json> puts the sections just run into that
// run's figures and writes BENCHMARKS.md (each such section names its own date and commit).
// BENCH_BASELINE=<BENCHMARKS.md written by the same bench on the previous commit> puts that run's
// target figures beside this run's in the Targets table.
// The quality and anomaly sections' "before" column: BENCH_BEFORE=<a built checkout of older code>
// measures it in the same run; without it the figures recorded in bench/prediction-quality-before.json
// and bench/anomaly-quality-before.json (commit 0fc12ab) are shown.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const { performance } = require("perf_hooks");
const { repoRoot, tmpRoot, tempDir, removeDir, runChild, median, machine, snapshotPackage, MB } = require("./lib");

const QUICK = process.env.BENCH_QUICK === "1";
const CFG = QUICK
  ? {
    messages: 10000, rounds: 3, warmup: 2000, fleet: 1000, heap: [1000, 10000], heapHistory: [[1000, 100], [10000, 1], [10000, 100]], restartTwins: 10000, restartRuns: 1, compactTwins: 10000, compactRuns: 1,
    sensor: { messages: 10000, rounds: 3, warmup: 2000, twins: 1000 },
    mqtt: { messages: 10000, rounds: 3, warmup: 1000, twins: 1000, clients: 4, qos1Rounds: 1 },
    predict: { late: 10000, clones: 100, block: 100, rounds: 3 },
    predictNode: { messages: 10000, rounds: 3, warmup: 2000, twins: 1000 },
    sigkill: { rounds: 1, killAfterMs: 1000 },
    history: { devices: 10, readings: 1000, series: 2000, points: 200, rounds: 3 },
    lag: { rate: 10000, seconds: 10, twins: 1000, clients: 4 },
    redis: { twins: 1000, seconds: 3, window: 50 },
  }
  : {
    messages: 100000, rounds: 3, warmup: 10000, fleet: 1000, heap: [1000, 10000, 100000], heapHistory: [[1000, 100], [10000, 100], [100000, 1], [100000, 100]], restartTwins: 100000, restartRuns: 3, compactTwins: 100000, compactRuns: 3,
    sensor: { messages: 100000, rounds: 5, warmup: 10000, twins: 1000 },
    mqtt: { messages: 50000, rounds: 7, warmup: 5000, twins: 1000, clients: 4, qos1Rounds: 3 },
    predict: { late: 100000, clones: 200, block: 100, rounds: 7 },
    predictNode: { messages: 50000, rounds: 3, warmup: 10000, twins: 1000 },
    sigkill: { rounds: 5, killAfterMs: 1500 },
    history: { devices: 20, readings: 2000, series: 10000, points: 300, rounds: 5 },
    lag: { rate: 10000, seconds: 120, twins: 1000, clients: 4 },
    redis: { twins: 1000, seconds: 10, window: 50 },
  };
const TARGET = { historyMb: 600, historyBytesPerPoint: 4, ratio: 0.5, heapMb: 300, restartS: 5, stallMs: 50, sensorRatio: 0.5, sensorRatio10: 0.35, mqttRatio: 0.8, predictFlat: 1.2, linkRatio: 0.8, lagP99Ms: 20, lagMaxMs: 200 };

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
    out.history.push(await runChild("heap.js", [n, 100, readings], { execArgv: ["--expose-gc"], timeoutMs: 900000 }));
  }
  return out;
}

async function history() {
  const c = CFG.history;
  log(`history: bytes per point, ${c.devices} simulated pumps x ${c.readings} readings and the shared time series`);
  const points = await runChild("history.js", ["points", c.devices, c.readings], { execArgv: ["--expose-gc"] });
  log(`history: push, range and valueAt, compact vs Float64 ring, ${c.series} series x ${c.points} points, ${c.rounds} rounds`);
  const speed = await runChild("history.js", ["speed", c.series, c.points, c.rounds], { execArgv: ["--expose-gc"], timeoutMs: 600000 });
  return { points, speed };
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

async function sensor() {
  const c = CFG.sensor;
  log(`twin-sensor: ${c.rounds} rounds of ${c.messages} messages per flow`);
  return runChild("sensor.js", [c.messages, c.rounds, c.warmup, c.twins], { execArgv: ["--expose-gc"], timeoutMs: 300000 });
}

async function mqtt() {
  const c = CFG.mqtt;
  log(`mqtt: ${c.rounds} rounds (QoS 0) and ${c.qos1Rounds} (QoS 1) of ${c.messages} readings per path`);
  return runChild("mqtt.js", [c.messages, c.rounds, c.warmup, c.twins, c.clients, c.qos1Rounds], { execArgv: ["--expose-gc"], timeoutMs: 400000 });
}

async function lag() {
  const c = CFG.lag;
  log(`lag: ${c.rate} readings/s over MQTT to twin-link for ${c.seconds} s`);
  return runChild("mqtt-lag.js", [c.rate, c.seconds, c.twins, c.clients], { timeoutMs: (c.seconds + 120) * 1000 });
}

async function predict() {
  const c = CFG.predict;
  const n = CFG.predictNode;
  log(`predict: core estimators after ${Math.min(20000, Math.floor(c.late / 5))} and ${c.late} readings`);
  const core = await runChild("predict.js", [c.late, c.clones, c.block, c.rounds], { execArgv: ["--expose-gc"], timeoutMs: 300000 });
  log(`predict: twin-predict node, ${n.rounds} rounds of ${n.messages} messages per flow`);
  const node = await runChild("predict-node.js", [n.messages, n.rounds, n.warmup, n.twins], { execArgv: ["--expose-gc"], timeoutMs: 300000 });
  return { core, node };
}

const QUALITY_BEFORE = path.join(__dirname, "prediction-quality-before.json");

async function quality() {
  log("quality: predictions at default settings on the real series and the simulator");
  const after = await runChild("prediction-quality.js", [7], { timeoutMs: 600000 });
  log("quality: the same defaults on random walks read at each real series' times (null model, 200 seeds)");
  const nullModel = await runChild("prediction-quality.js", ["--null", 200], { timeoutMs: 600000 });
  let before = null;
  if (process.env.BENCH_BEFORE) {
    log(`quality: the same on ${process.env.BENCH_BEFORE}`);
    before = { ...(await runChild("prediction-quality.js", [7, path.resolve(process.env.BENCH_BEFORE)], { timeoutMs: 600000 })), measured: "in this run" };
  } else if (fs.existsSync(QUALITY_BEFORE)) {
    before = { ...JSON.parse(fs.readFileSync(QUALITY_BEFORE, "utf8")), measured: "recorded earlier (bench/prediction-quality-before.json)" };
  }
  return { after, before, nullModel };
}

const ANOMALY_BEFORE = path.join(__dirname, "anomaly-quality-before.json");

/** bench/field-faults.js's intervals (s): a fast and a slow field sensor. */
const FIELD_INTERVALS = [10, 30];
/** Its figures on the code before the episode-ending rules (STEP_OUT, AFTER_RUN) of commit df1f2a8 on. */
const FIELD_BEFORE = path.join(__dirname, "field-faults-before.json");

async function anomaly() {
  log("anomaly: flags on simulated faults and real series, time to threshold on synthetic wear, at default settings");
  const after = await runChild("anomaly-quality.js", ["--json"], { timeoutMs: 600000 });
  let before = null;
  if (process.env.BENCH_BEFORE) {
    log(`anomaly: the same on ${process.env.BENCH_BEFORE}`);
    before = { ...(await runChild("anomaly-quality.js", ["--json", path.resolve(process.env.BENCH_BEFORE)], { timeoutMs: 600000 })), measured: "in this run" };
  } else if (fs.existsSync(ANOMALY_BEFORE)) {
    before = { ...JSON.parse(fs.readFileSync(ANOMALY_BEFORE, "utf8")), measured: "recorded earlier (bench/anomaly-quality-before.json)" };
  }
  const field = { after: [], before: null };
  for (const interval of FIELD_INTERVALS) {
    log(`anomaly: field-shaped recordings with labelled faults, read every ${interval} s`);
    field.after.push(await runChild("field-faults.js", [repoRoot, interval], { timeoutMs: 600000 }));
  }
  if (process.env.BENCH_BEFORE) {
    field.before = [];
    for (const interval of FIELD_INTERVALS) field.before.push(await runChild("field-faults.js", [path.resolve(process.env.BENCH_BEFORE), interval], { timeoutMs: 600000 }));
    field.beforeSource = `${process.env.BENCH_BEFORE}, in this run`;
  } else if (fs.existsSync(FIELD_BEFORE)) {
    const recorded = JSON.parse(fs.readFileSync(FIELD_BEFORE, "utf8"));
    field.before = FIELD_INTERVALS.map((iv) => recorded.runs.find((r) => r.args.interval === iv));
    if (field.before.some((r) => !r)) field.before = null;
    else field.beforeSource = `commit ${recorded.commit}, recorded earlier (bench/field-faults-before.json)`;
  }
  return { after, before, field };
}

function renderField(L, field) {
  L.push("", "Field-shaped recordings with labelled faults (bench/field-faults.js, written apart from the simulator and the real series");
  L.push("the defaults were chosen on): temperature and relative humidity from three kinds of device (indoor, outdoor with a daily");
  L.push("cycle, a heated room with a 15-45 min thermostat cycle), noise 0.03-0.18, resolutions 0.0625 to 1, 1 % of readings lost,");
  L.push("16 seeds x 3 devices x 12 h per row; 1-3 faults per recording after the first 2 h: a spike, a dropout to a sentinel, a stuck");
  L.push("run of 5-20 min, a burst of noise of 2-10 min, a step of 5-20 min. Per reading, flagged = the prediction's `anomaly`; the 1 h");
  L.push("forecast's MAE over persistence's against the true signal (pairs with no fault); 95 % coverage from 2 h on.");
  const before = field.before;
  if (before) L.push(`Before -> after: ${field.beforeSource || "an earlier build"}, and this run's build.`);
  L.push("", "| read every | quantity | precision | recall | F1 | false flags after steps / bursts | 1 h MAE / persistence | 95 % coverage |", "|---|---|---|---|---|---|---|---|");
  const f3 = (x) => (x === null || x === undefined ? "-" : x.toFixed(3));
  const pair = (b, a, f) => (before ? `${f(b)} -> ${f(a)}` : f(a));
  field.after.forEach((run, i) => {
    for (const q of ["temperature", "humidity"]) {
      const a = run.all[q];
      const b = before ? before[i].all[q] : null;
      const after = (x) => `${x.kinds.step.fpAfterAnomaly} / ${x.kinds.noise.fpAfterAnomaly}`;
      L.push(`| ${run.args.interval} s | ${q} | ${pair(b && b.anomaly.precision, a.anomaly.precision, f3)} | ${pair(b && b.anomaly.recall, a.anomaly.recall, f3)} | ${pair(b && b.anomaly.f1, a.anomaly.f1, f3)} | ${before ? `${after(b)} -> ${after(a)}` : after(a)} | ${pair(b && b.forecast.maeRatio, a.forecast.maeRatio, f3)} | ${pair(b && b.coverage.coverage, a.coverage.coverage, f3)} |`);
    }
  });
}

function renderAnomaly(L, r, conditions, targets) {
  const { after, before } = r.anomaly;
  L.push("", "## 13. Anomaly flags and time to threshold: simulated faults and real series (issue 12)", "");
  conditions("anomaly");
  L.push("bench/anomaly-quality.js, at default settings. Simulated faults: a 10 s temperature sensor from twin-simulator (noise 0.3,");
  L.push("resolution 0.1, a daily cycle of +-3, slow wear), 2 days per run and 3 seeds per fault kind: 12 single-reading spikes, 12");
  L.push("lasting steps (6.7 to 13 sigma), 12 steps of those sizes that end after 45 min to 2 h (step-back: a fault fixed), 12");
  L.push("stuck-sensor windows of 15 to 45 min, 12 bursts of noise (4 to 6 sigma, 10 to 20 min), or a ramp of 3 an hour. A reading");
  L.push("counts as flagged when its prediction says `anomaly` (what the twin shows). Truth per reading: a spike's reading, a step's");
  L.push("first `levelShift` (after that the new level is the new normal, by design; a step-back's end is normal), a stuck window, a");
  L.push("burst, a ramp's first 2 x `levelShift` (found by a drift alert, not by flags: the all-kinds row takes its per-reading");
  L.push("figures from the other kinds). Per");
  L.push("episode (ep): a detection (anomaly start or drift alert) is true inside a fault's truth window (plus 5 intervals).");
  L.push(`Real series: every numeric column of \`${after.data}\`; nothing there is a fault, except beaver2's \`active\` onset (a level`);
  L.push("shift of about 0.5 degC, truth for its first level-shift time). Longest false: the longest flagged episode outside a fault.");
  L.push("Level shift: the detector's own time for that series (30 min, and at least 5 typical intervals).");
  if (before) {
    L.push("", `Before: commit ${before.commit || "unknown"} (the old Predictor's verdicts at its defaults), ${before.measured}; after: this run's build`);
    L.push(`(${after.detector === "AnomalyDetector" ? "the AnomalyDetector twin-predict uses, at its defaults" : "its Predictor"}). Figures are before -> after.`);
  }
  const f2 = (x) => (x === null || x === undefined ? "-" : x.toFixed(2));
  const dur = (s) => (s === 0 ? "0" : s < 7200 ? `${Math.round(s / 60)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 86400)} d`);
  const pair = (b, a, f) => (before ? `${b === undefined ? "-" : f(b)} -> ${f(a)}` : f(a));
  L.push("", "| series | readings | flagged | precision | recall | F1 | precision ep | recall ep | alerts (of them drift) | false episodes / 1,000 readings | longest false (readings) | level shift |", "|---|---|---|---|---|---|---|---|---|---|---|---|");
  const long = [];
  for (const a of after.anomaly) {
    const b = before ? before.anomaly.find((x) => x.series === a.series) || {} : {};
    const lf = (x) => (x.longestFalse === undefined ? "-" : `${dur(x.longestFalse)} (${fmt(x.longestFalseReadings)})`);
    L.push(`| ${a.series} | ${fmt(a.readings)} | ${pair(b.flagged, a.flagged, fmt)} | ${pair(b.precision, a.precision, f2)} | ${pair(b.recall, a.recall, f2)} | ${pair(b.f1, a.f1, f2)} | ${pair(b.episodePrecision, a.episodePrecision, f2)} | ${pair(b.episodeRecall, a.episodeRecall, f2)} | ${pair(b.detections === undefined ? undefined : `${b.detections} (${b.drifts})`, `${a.detections} (${a.drifts})`, String)} | ${pair(b.falsePer1000, a.falsePer1000, f2)} | ${before ? `${lf(b)} -> ${lf(a)}` : lf(a)} | ${dur(a.levelShiftTime)} |`);
    if (a.longestFalse > a.levelShiftTime) long.push(`${a.series} ${dur(a.longestFalse)}`);
  }
  L.push("", "Time to threshold (limit 70 above, warning 24 h, the node's defaults otherwise, through the Predictor): a 10 s sensor");
  L.push("60 + wear + 3 sin(daily) + noise 0.3 quantised to 0.1, 3 seeds; the share of estimates within 10 % of the true time left");
  L.push("(from day 2 on, while the crossing is more than an hour away; no estimate counts as a miss), the median error (\"no estimate\":");
  L.push("none for most of the time), and the warnings started per approach (one is the goal).", "");
  L.push("| case | estimates | within 10 % | median error | warnings per approach |", "|---|---|---|---|---|");
  const pct = (x) => (x === null || x === undefined || !Number.isFinite(x) ? "no estimate" : `${(100 * x).toFixed(1)} %`);
  for (const a of after.threshold) {
    const b = before ? before.threshold.find((x) => x.case === a.case) || {} : {};
    L.push(`| ${a.case} | ${fmt(a.estimates)} | ${pair(b.within10, a.within10, pct)} | ${pair(b.medianError, a.medianError, pct)} | ${pair(b.warningsPerApproach, a.warningsPerApproach, (x) => x.toFixed(1))} |`);
  }
  if (r.anomaly.field) renderField(L, r.anomaly.field);
  const sim = after.anomaly.find((x) => x.series === "simulated, all kinds");
  const met = sim.precision >= 0.85 && sim.recall >= 0.7;
  L.push("");
  L.push(`- No false flag episode on normal data longer than the level-shift setting: ${long.length ? `longer on ${long.join(", ")}` : "none longer"}: **${verdict(!long.length)}**`);
  L.push(`- Simulated faults (spike, step, stuck, noise), per reading: precision ${f2(sim.precision)} (target >= 0.85), recall ${f2(sim.recall)} (target >= 0.7): **${verdict(met)}**`);
  targets.push(`| anomaly flags: no false episode on normal data longer than the level shift (issue 12) | ${long.length ? long.join(", ") : "none longer"} | ${verdict(!long.length)} |`);
  targets.push(`| anomaly flags on simulated faults: precision >= 0.85 with recall >= 0.7 (issue 12) | ${f2(sim.precision)} / ${f2(sim.recall)} | ${verdict(met)} |`);
}

async function sigkill() {
  const c = CFG.sigkill;
  log(`sigkill: ${c.rounds} rounds per mode, every core busy`);
  return runChild("sigkill.js", [c.rounds, c.killAfterMs], { timeoutMs: 600000 });
}

async function redis() {
  const c = CFG.redis;
  log(`redis: 1, 2 and 3 instances on one redis-server (appendfsync everysec, then always), ${c.seconds} s each, and the local store`);
  const out = await runChild("redis.js", [c.twins, c.seconds, c.window], { timeoutMs: 900000 });
  if (out.skipped) log(`redis: skipped: ${out.skipped}`);
  return out;
}

function renderRedis(L, r, conditions) {
  const x = r.redis;
  L.push("", "## 14. A registry shared on Redis: updates/s and latency for 1, 2 and 3 instances (issue 15)", "");
  if (x.skipped) {
    L.push(`_Skipped: ${x.skipped}._`);
    return;
  }
  conditions("redis");
  L.push(`bench/redis.js: one redis-server (${x.redisVersion.split(" ").slice(0, 3).join(" ")}, AOF on, its files on the repository's disk), ${fmt(x.twins)} twins (2 reported`);
  L.push("numbers each) written into a fresh registry of 64 partitions before each run (the migration's `writeRedis`), then 1, 2 or 3");
  L.push("instances, each a child process (bench/redis-instance.js) with the registry open on a RedisStore (default lease and");
  L.push(`timing), submitting readings (\`registry.submit({op: "report", ...})\`, 2 numbers) for its share of the twins from ${x.window} loops at`);
  L.push("once (so at most that many of its updates in flight), each loop waiting for its update's promise (durable as the mode");
  L.push("promises) before the next. With 2 or 3 instances, half of each instance's twins are led by another instance, so half its");
  L.push(`readings are forwarded to the leader (\`RedisStore.forward\`); 1 instance leads every twin. ${x.warmupS} s of warm-up, then ${x.seconds} s timed,`);
  L.push("every instance at once, once per row. Latency: from the call to the promise resolving, for the updates completed in the");
  L.push("timed part. The same loops on a local FileStore (one process, the same twins) for comparison. Afterwards every twin's");
  L.push("version is 1 + the readings acknowledged for it, on instance 1 (which follows every partition): \"checked\".", "");
  L.push("| store | instances | updates/s (per instance) | latency p50 / p99 | on the leader p50 / p99 | forwarded p50 / p99 | CPU per instance | waiting for a CPU | redis-server CPU | errors | refused (backpressure) | checked |", "|---|---|---|---|---|---|---|---|---|---|---|---|");
  const ms = (v) => (v === null || v === undefined ? "-" : v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : fmt(v));
  const lat = (l) => (l.n ? `${ms(l.p50)} / ${ms(l.p99)} ms` : "-");
  const shares = (xs) => xs.map((v) => (v === null ? "-" : `${Math.round(v * 100)} %`)).join(", ");
  const errs = (e) => (Object.keys(e).length ? Object.entries(e).map(([k, n]) => `${k} ${fmt(n)}`).join(", ") : "0");
  const row = (store, y) =>
    L.push(`| ${store} | ${y.instances} | ${fmt(y.rate)}${y.instances > 1 ? ` (${y.perInstance.map((v) => fmt(v)).join(", ")})` : ""} | ${lat(y.all)} | ${lat(y.local)} | ${lat(y.forwarded)} | ${shares(y.cpuShare)} | ${shares(y.cpuWaitShare)} | ${y.redisCpuShare === undefined ? "-" : shares([y.redisCpuShare])} | ${errs(y.errors)} | ${fmt(y.refused)} | ${y.checked ? "yes" : `NO (${fmt(y.versions.found)} of ${fmt(y.versions.expected)})`} |`);
  for (const y of x.redis) row(`Redis, appendfsync ${y.appendfsync} (RedisStore ${y.mode})`, y);
  for (const y of x.local) row(`local FileStore ${y.mode}`, y);
  L.push("", "CPU columns are shares of one core over the timed part (redis-server's over warm-up and timed part); \"waiting for a CPU\" is");
  L.push("the time an instance's main thread was ready to run while other processes had the CPU (Linux schedstat): on a machine");
  L.push(`with ${r.machine.cores} cores, 1 to 3 instances, redis-server and whatever else runs share them, so these figures say more about a busy`);
  L.push("machine than about Redis. No target: report only.");
  const firsts = [...x.redis, ...x.local].map((y) => y.firstError).filter(Boolean);
  if (firsts.length) L.push("", `First error seen: ${firsts[0]}`);
}

function renderSigkill(L, r, conditions, targets) {
  const k = r.sigkill;
  L.push("", "## 9. What a SIGKILL loses, per persistence mode, on a loaded machine (issue 10)", "");
  conditions("sigkill");
  L.push(`A real Node-RED process (the test suite's HTTP flow: \`http in -> twin -> http response\`, one registry) takes twin changes`);
  L.push(`from 20 concurrent HTTP clients while ${k.burners} CPU burners (one per core) keep the machine busy; ${fmt(k.killAfterMs)} ms in, it is killed`);
  L.push("with SIGKILL mid-stream, restarted on the same user directory, and every change it answered 200 for is looked for.");
  L.push("\"Before the last acknowledgement\" uses the runtime's clock, stamped just after the twin node completed the message;");
  L.push(`"before the kill" the client's (negative: the answer was on its way when the kill was sent). Rounds per mode: ${k.rounds}, alternating between the modes.`, "");
  L.push("| mode | round | acknowledged | in flight at the kill | lost | lost: acknowledged this long before the last acknowledgement | lost: acknowledged this long before the kill |", "|---|---|---|---|---|---|---|");
  const span = (xs) => (xs.length ? `${fmt(Math.min(...xs))} to ${fmt(Math.max(...xs))} ms` : "-");
  for (const mode of ["strict", "batched"]) {
    k[mode].forEach((x, i) => L.push(`| ${mode} | ${i + 1} | ${fmt(x.acknowledged)} | ${x.inFlightAtKill} | ${x.lost} | ${span(x.lostBeforeLastAckMs)} | ${span(x.lostBeforeKillMs)} |`));
  }
  const total = (mode, f) => k[mode].reduce((a, x) => a + f(x), 0);
  const strictLost = total("strict", (x) => x.lost);
  const batchedLate = k.batched.flatMap((x) => x.lostBeforeLastAckMs);
  const worst = batchedLate.length ? Math.max(...batchedLate) : 0;
  L.push("", `- strict: ${fmt(strictLost)} of ${fmt(total("strict", (x) => x.acknowledged))} acknowledged changes lost, target 0: **${verdict(strictLost === 0)}**`);
  L.push(`- batched: ${fmt(total("batched", (x) => x.lost))} of ${fmt(total("batched", (x) => x.acknowledged))} acknowledged changes lost; the oldest of them was acknowledged ${fmt(worst)} ms before the last acknowledgement, target < 100 ms (+ the hop to the stamp): **${verdict(worst < 150)}**`);
  targets.push(`| SIGKILL under load, strict: 0 acknowledged changes lost | ${fmt(strictLost)} lost | ${verdict(strictLost === 0)} |`);
  targets.push(`| SIGKILL under load, batched: nothing acknowledged >= 100 ms before the last acknowledgement lost | oldest lost: ${fmt(worst)} ms | ${verdict(worst < 150)} |`);
}

function renderQuality(L, r, conditions, targets) {
  const { after, before } = r.quality;
  L.push("", "## 12. Prediction quality at default settings: real series and the simulator (issue 12)", "");
  conditions("quality");
  L.push("bench/prediction-quality.js drives the package through `readConfig` (the node's defaults, plus the horizon and, for a");
  L.push("quantity that can not be negative, `bounds: {min: 0}`) and `Predictor.update` only, so the same script measures older");
  L.push(`code. Series: every numeric column of \`${after.data}\` (rows with an empty cell skipped: a gap), and a simulated pump`);
  L.push(`(twin-simulator's default profile: temperature, vibration, power; a reading every 10 s for ${after.simDays} days, faults included).`);
  L.push("A series read at least hourly is forecast 1 h ahead (the default horizon); a slower one one step ahead and further (a year");
  L.push("for monthly and quarterly series, a week for daily ones, five steps for annual ones). A forecast made at t is judged against");
  L.push("the first reading at or after t + horizon (within half a step). MAE ratio: the forecast's mean absolute error over that of");
  L.push("persistence (the reading at t), and of seasonal persistence (the reading one period before the target: a year, for daily");
  L.push("series a week; where the horizon is the period, that is persistence again). Coverage: the share of outcomes inside the 95 %");
  L.push("interval after warm-up (from the first prediction that reports a coverage; code without one: after `warmup` readings).");
  L.push("Outside bounds: predictions whose forecast or interval leaves [0, inf) for a non-negative quantity. Longest flag: the");
  L.push("longest run of readings marked anomalous outside readings labelled active (beaver `active`).");
  if (before) L.push("", `Before: commit ${before.commit || "unknown"}, ${before.measured}; after: this run's build. Figures are before -> after.`);
  L.push("", "| series | step | horizon | forecasts | MAE / persistence | MAE / seasonal persistence | 95 % coverage (judged) | outside bounds | longest flag (readings) | auto's basis (share of forecasts) |", "|---|---|---|---|---|---|---|---|---|---|");
  const dur = (s) => (s >= 86400 * 300 ? `${fmt(s / 86400 / 365.25, 2)} y` : s >= 86400 * 25 ? `${fmt(s / 86400 / 30.44, 0)} mo` : s >= 86400 ? `${fmt(s / 86400, 0)} d` : s >= 3600 ? `${fmt(s / 3600, 0)} h` : s >= 60 ? `${fmt(s / 60, 0)} min` : `${fmt(s, 0)} s`);
  const num = (x, d = 3) => (x === null || x === undefined ? "-" : x.toFixed(d));
  const pair = (b, a, f) => (before ? `${b === undefined ? "-" : f(b)} -> ${f(a)}` : f(a));
  const ratios = [];
  const coverages = [];
  for (const s of after.series) {
    const b = before ? before.series.find((x) => x.name === s.name) : null;
    s.horizons.forEach((h, i) => {
      const bh = b ? b.horizons.find((x) => x.horizon === h.horizon) : undefined;
      const total = Object.values(h.basis).reduce((a, n) => a + n, 0) || 1;
      const basis = Object.entries(h.basis).sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ${Math.round((100 * n) / total)} %`).join(", ") || "-";
      const cov = (x) => (x.coverage === null ? "-" : `${x.coverage.toFixed(3)} (${fmt(x.coverageN)})`);
      L.push(`| ${s.name} | ${dur(s.step)} | ${h.steps} step${h.steps > 1 ? "s" : ""} (${dur(h.horizon)}) | ${fmt(h.forecasts)} | ${pair(bh && bh.maeRatio, h.maeRatio, num)} | ${pair(bh && bh.maeRatioSeasonal, h.maeRatioSeasonal, num)} | ${pair(bh, h, (x) => (x ? cov(x) : "-"))} | ${pair(bh && bh.outOfBounds, h.outOfBounds, (x) => fmt(x))} | ${i === 0 ? pair(b && b.longestFlag.readings, s.longestFlag.readings, (x) => fmt(x)) : ""} | ${basis} |`);
      ratios.push({ name: `${s.name} at ${h.steps}`, v: h.maeRatio });
      if (h.coverage !== null) coverages.push({ name: `${s.name} at ${h.steps}`, v: h.coverage });
    });
  }
  const worse = ratios.filter((x) => x.v > 1);
  const maxRatio = Math.max(...ratios.map((x) => x.v));
  const outside = coverages.filter((x) => x.v < 0.9 || x.v > 0.97);
  L.push("");
  L.push(`- MAE / persistence <= 1.0 on every series and horizon: ${ratios.length - worse.length} of ${ratios.length}${worse.length ? ` (above: ${worse.map((x) => `${x.name} ${x.v.toFixed(4)}`).join(", ")})` : ""}: **${verdict(!worse.length)}**`);
  L.push(`- 95 % coverage within 90-97 % after warm-up on every series and horizon: ${coverages.length - outside.length} of ${coverages.length}${outside.length ? ` (outside: ${outside.map((x) => `${x.name} ${x.v.toFixed(3)}`).join(", ")})` : ""}: **${verdict(!outside.length)}**`);
  if (r.quality.nullModel) renderNullModel(L, after, r.quality.nullModel);
  targets.push(`| prediction quality: MAE / persistence <= 1.0 on every series (issue 12) | ${ratios.length - worse.length} of ${ratios.length}, worst ${maxRatio.toFixed(3)} | ${verdict(!worse.length)} |`);
  targets.push(`| prediction quality: 95 % coverage 90-97 % on every series (issue 12) | ${coverages.length - outside.length} of ${coverages.length} | ${verdict(!outside.length)} |`);
}

/**
 * The real rows beside what the same defaults give with nothing to learn: a row just above 1.0 or
 * just outside 90-97 % reads differently when random walks of its length and timing land there
 * most of the time.
 */
function renderNullModel(L, after, nullModel) {
  L.push("", `**The same defaults with nothing to learn** (\`node bench/prediction-quality.js --null ${nullModel.seeds}\`): per series and`);
  L.push(`horizon, ${nullModel.seeds} Gaussian random walks read at that series' own times (same length, steps and gaps). On a random walk`);
  L.push("persistence is the best forecast there is, so auto can only match it or lose by the noise of what it tried; the columns");
  L.push("say how often and by how much, and how often the coverage of a series that short ends outside 90-97 % by chance.");
  L.push("The rows named `synthetic:` have no real series beside them: a sensor read every 10 s for 8 h and forecast 1 h ahead");
  L.push("(360 readings a horizon, 12 forecasts pending at once), the shape of field recordings no series here has; the slow walk");
  L.push("moves 0.1 a reading under reading noise of 1, so a smoothed level does beat persistence there.");
  L.push("The last two columns: how often the coverage ends outside 85-99 %, the band of the independent check on field");
  L.push("recordings, and how often the walk's own exact 95 % interval, judged on the same outcomes, ends outside 90-97 %: where");
  L.push("even that one lands outside in many walks, a series of that shape holds too few independent outcomes for the band to judge.", "");
  L.push("| series | horizon | real: MAE / persistence | walks above 1.0 | walks: mean / 90th percentile | real: coverage | walks: mean coverage | walks below 90 % / above 97 % | walks below 85 % / above 99 % | exact interval: below 90 % / above 97 % |", "|---|---|---|---|---|---|---|---|---|---|");
  for (const s of nullModel.series) {
    const real = after.series.find((x) => x.name === s.name);
    for (const h of s.horizons) {
      const rh = real ? real.horizons.find((x) => x.horizon === h.horizon) : undefined;
      const pct = (x) => `${Math.round(100 * x)} %`;
      // Older runs' JSON (BENCH_MERGE) has no such fields.
      const band = (below, above) => (below === undefined || below === null ? "-" : `${pct(below)} / ${pct(above)}`);
      L.push(`| ${s.name} | ${h.steps} step${h.steps > 1 ? "s" : ""} | ${rh ? rh.maeRatio.toFixed(4) : "-"} | ${pct(h.aboveOne)} | ${h.meanRatio.toFixed(4)} / ${h.p90Ratio.toFixed(4)} | ${rh && rh.coverage !== null ? rh.coverage.toFixed(3) : "-"} | ${h.meanCoverage.toFixed(3)} | ${pct(h.coverageBelow90)} / ${pct(h.coverageAbove97)} | ${band(h.coverageBelow85, h.coverageAbove99)} | ${band(h.oracleBelow90, h.oracleAbove97)} |`);
    }
  }
}

function renderThroughput(L, r, conditions, targets) {
  const t = r.throughput;
  const change = t.median.change;
  const ratio = (mode) => t.median[`twin-${mode}`] / change;
  L.push("", "## 1. Throughput: twin node (update) vs core change node", "");
  conditions("throughput");
  L.push(`One embedded Node-RED runtime (httpAdminRoot/httpNodeRoot false, log level warn), flows`);
  L.push("`entry -> twin (operation update, registry <mode>) -> counter` and `entry -> change (set msg.payload.x) -> counter`.");
  L.push(`${fmt(t.messages)} messages per run after a ${fmt(t.warmup)}-message warm-up per flow, sent with \`receive()\` in batches of`);
  L.push(`${t.batch} with setImmediate between batches and at most ${fmt(t.window)} in flight${t.windowFull ? " (with that many in flight the sender waits for messages to end, it does not poll)" : ""}; updates go round-robin to ${fmt(t.twins)} twins`);
  L.push("(2 attributes, 10 reported numbers each). The twin nodes are as the palette gives them (Output: what an update changed):");
  L.push("each update emits its change event `{twinId, version, section: \"attributes\", ts, changes}`; the \"document output\" row is");
  L.push("the same node set to send the whole twin document (Output: the whole twin, what a node saved before the setting sends), on");
  L.push("a batched registry of its own, so the document's cost stays visible. The change node emits the message it got with `payload.x` set.");
  L.push(`Runs alternate change, twin batched, twin batched with document output, twin memory, twin strict over ${t.rounds} rounds;`);
  L.push(`figures are medians of ${t.rounds}. Stores on the repository's disk (ext4)${t.windowFull ? "; before each run every store writes what it holds, so a flow's last batch is not written in the next flow's run" : ""}. CPU per message is the process's CPU time (user + system, all threads) over a run.`, "");
  L.push("| flow | runs (msgs/s) | median msgs/s | ratio to change | CPU per message (median) | target |", "|---|---|---|---|---|---|");
  const cpu = (name) => (t.medianCpuUsPerMsg && t.medianCpuUsPerMsg[name] !== undefined ? `${t.medianCpuUsPerMsg[name].toFixed(2)} µs` : "-");
  const row = (name, label, target) => {
    if (!t.runs[name]) return;
    L.push(`| ${label} | ${t.runs[name].map((v) => fmt(v)).join(", ")} | ${fmt(t.median[name])} | ${name === "change" ? "1.00" : (t.median[name] / change).toFixed(2)} | ${cpu(name)} | ${target} |`);
  };
  row("change", "change node", "baseline");
  row("twin-batched", "twin, batched", `>= ${TARGET.ratio}`);
  row("twin-batched-document", "twin, batched, document output", "report only");
  row("twin-memory", "twin, memory", "report only");
  row("twin-strict", "twin, strict", "report only (fsync per group commit)");
  const waits = Object.values(t.cpuWaitMs).flat().filter((x) => x !== null);
  if (waits.length) L.push("", `The main thread waited for a CPU (other processes had it) for ${(Math.min(...waits) * 100).toFixed(0)} to ${(Math.max(...waits) * 100).toFixed(0)} % of a run's time.`);
  if (t.windowFull) {
    // A batched store holds acknowledgements while a write and its fsync outlast its interval: a slow disk, not the code.
    const worst = (name) => (t.windowFull[name] ? `${(Math.max(...t.windowFull[name]) * 100).toFixed(0)} %` : "-");
    L.push("", `Share of a run's time with ${fmt(t.window)} messages in flight, the most of its runs (acknowledgements held behind a write and its fsync): batched ${worst("twin-batched")}, batched with document output ${worst("twin-batched-document")}, memory ${worst("twin-memory")}, strict ${worst("twin-strict")} (it answers after each fsync).`);
  }
  if (t.oldGrowth) {
    // Hundreds of bytes a message: V8 allocates the flow's per-message objects in the old generation (or messages wait
    // long enough to be promoted), and major collections land in the runs; a few bytes: young collections free them.
    const growth = (name) => (t.oldGrowth[name] ? t.oldGrowth[name].map((b) => fmt(b)).join(", ") : "-");
    L.push("", `Old generation growth per message, run by run (what young collections did not free): change ${growth("change")}; batched ${growth("twin-batched")}; batched, document output ${growth("twin-batched-document")}; memory ${growth("twin-memory")}; strict ${growth("twin-strict")} (bytes).`);
  }
  const perRound = (mode) => (t.runs[`twin-${mode}`] || []).map((v, k) => (v / t.runs.change[k]).toFixed(2)).join(", ");
  L.push("", `Ratio run by run (each twin run against the change run of the same round): batched ${perRound("batched")}; batched, document output ${perRound("batched-document")}; memory ${perRound("memory")}; strict ${perRound("strict")}.`);
  L.push("", `- twin (batched) / change = ${ratio("batched").toFixed(2)} (ratio of the medians), target >= ${TARGET.ratio}: **${verdict(ratio("batched") >= TARGET.ratio)}**`);
  // Waiting for a CPU slows the wall clock of a run, not its CPU time: on a busy machine this is the steadier figure.
  if (t.medianCpuUsPerMsg && t.medianCpuUsPerMsg["twin-batched"]) L.push(`- for information, CPU per message: change / twin (batched) = ${(t.medianCpuUsPerMsg.change / t.medianCpuUsPerMsg["twin-batched"]).toFixed(2)} (${t.medianCpuUsPerMsg.change.toFixed(2)} / ${t.medianCpuUsPerMsg["twin-batched"].toFixed(2)} µs)`);
  targets.push(`| twin (batched) / change >= ${TARGET.ratio} | ${ratio("batched").toFixed(2)} | ${verdict(ratio("batched") >= TARGET.ratio)} |`);
}

function renderHeap(L, r, conditions, targets) {
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
    L.push("- With history on, each numeric property's points are compressed (section 10) into 64-byte blocks of one arena shared by");
    L.push("  every series (256 KiB array buffers, counted under typed arrays); the heap column holds the Series objects and maps.");
    const dflt = h.history.find((x) => x.twins === 100000);
    if (dflt) L.push(`- For information: 100,000 twins with the default history length (100) and a single reading take ${mb(dflt.heapBytes)} MB of heap plus ${mb(dflt.arrayBufferBytes)} MB of typed arrays.`);
  }
  if (big) targets.push(`| 100,000 twins in <= ${TARGET.heapMb} MB heap (history off) | ${mb(big.heapBytes)} MB | ${verdict(big.heapBytes / MB <= TARGET.heapMb)} |`);
  const full = h.history.find((x) => x.twins === 100000 && x.readingsPerTwin >= x.historyLength);
  if (full) {
    const all = (full.heapBytes + full.arrayBufferBytes) / MB;
    L.push(`- 100,000 twins x 10 numeric properties, default history (100) full: ${mb(full.heapBytes)} MB of heap + ${mb(full.arrayBufferBytes)} MB of array buffers = ${fmt(all, 1)} MB in all, target <= ${TARGET.historyMb} MB (issue 11): **${verdict(all <= TARGET.historyMb)}**${full.rssBytes ? ` (resident set grew by ${mb(full.rssBytes)} MB)` : ""}`);
    targets.push(`| 100,000 twins x 10 properties, history 100 full: heap + buffers <= ${TARGET.historyMb} MB | ${fmt(all, 1)} MB | ${verdict(all <= TARGET.historyMb)} |`);
  }
}

function renderHistory(L, r, conditions, targets) {
  const { points: p, speed: v } = r.history;
  const per = (x) => (x.bytes / x.points).toFixed(2);
  L.push("", "## 10. Compact history: bytes per stored point, and speed vs the Float64 ring (issue 11)", "");
  conditions("history");
  L.push("Each series is pushed into a compact `Series` (src/core/history.ts: delta-of-delta timestamps, scaled-integer deltas or XOR values,");
  L.push("64-byte self-contained blocks, in the spirit of Gorilla, VLDB 2015) large enough to keep all its points; its bytes are the arena");
  L.push("blocks it holds (a partly filled last block counts whole; block headers included), divided by its points. The Float64 ring it");
  L.push("replaces took 16 B a point. Every point is read back and compared before it counts (`bench/history.js points`).", "");
  L.push(`Simulator: the \`twin-simulator\` default profile (pumps), ${fmt(p.devices)} devices x ${fmt(p.readings)} readings, one a second, seed 42.`);
  L.push("Shared data: every numeric column of `../shared/data/timeseries/` (missing cells are not readings, so not pushed).", "");
  L.push("| series | points | bytes | bytes per point |", "|---|---|---|---|");
  for (const x of p.simulator) L.push(`| ${x.name} (${x.series} series) | ${fmt(x.points)} | ${fmt(x.bytes)} | ${per(x)} |`);
  L.push(`| **simulator, all** | ${fmt(p.simulatorAll.points)} | ${fmt(p.simulatorAll.bytes)} | **${per(p.simulatorAll)}** |`);
  for (const x of p.files) L.push(`| ${x.name} | ${fmt(x.points)} | ${fmt(x.bytes)} | ${per(x)} |`);
  if (p.files.length) L.push(`| **shared time series, all** | ${fmt(p.filesAll.points)} | ${fmt(p.filesAll.bytes)} | **${per(p.filesAll)}** |`);
  else L.push("| shared time series | - | - | not found next to the repository |");
  L.push("", `- With the default history length (100) after ${fmt(p.readings)} readings, the ring has turned: the simulator series hold ${per(p.ring)} B per visible point`);
  L.push("  (a dropped block takes its points with it, so up to one block of older points waits, hidden, for its last point to age out).");
  const simOk = p.simulatorAll.bytes / p.simulatorAll.points <= TARGET.historyBytesPerPoint;
  L.push(`- Simulator data: ${per(p.simulatorAll)} B a point, target <= ${TARGET.historyBytesPerPoint} B (Gorilla's figure on its data: 1.37 B): **${verdict(simOk)}**`);
  targets.push(`| history bytes per stored point on simulator data <= ${TARGET.historyBytesPerPoint} B | ${per(p.simulatorAll)} B | ${verdict(simOk)} |`);
  L.push("", `Speed, same process, the two implementations alternating (\`bench/history.js speed\`): ${fmt(v.series)} series of capacity 100,`);
  L.push(`${fmt(v.points)} two-decimal readings each pushed round-robin (the ring turns), then per series \`range(last - 60 s, last, 50)\` (a`);
  L.push(`sparkline) and one \`valueAt\` in the kept window (state at a past time); median of ${v.rounds} rounds after a warm-up.`, "");
  L.push("| operation | compact | Float64 ring (before) | compact / ring |", "|---|---|---|---|");
  for (const o of v.ops) L.push(`| ${o.op} | ${fmt(o.compactNs)} ns | ${fmt(o.ringNs)} ns | ${o.ratio.toFixed(2)} |`);
}

function renderRestart(L, r, conditions, targets) {
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
  if (s.build.twins === 100000) targets.push(`| restart with 100,000 twins <= ${TARGET.restartS} s (snapshot) | ${snapMed.toFixed(2)} s | ${verdict(snapMed <= TARGET.restartS)} |`);
}

function renderCompaction(L, r, conditions, targets) {
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
  if (judged) {
    targets.push(`| no synchronous compaction step over ${TARGET.stallMs} ms (store slice, worst of ${c.length}) | ${worstSlice.toFixed(1)} ms | ${verdict(worstSlice <= TARGET.stallMs)} |`);
    targets.push(`| no event-loop gap over ${TARGET.stallMs} ms during compaction (worst of ${c.length}) | ${worstGap.toFixed(1)} ms | ${verdict(worstGap <= TARGET.stallMs)} |`);
  }
}

const us = (ns) => (ns / 1000).toFixed(2);
const pct = (x) => (x === null || x === undefined ? "n/a" : `${Math.round(x * 100)} %`);

function renderSensor(L, r, conditions, targets) {
  const x = r.sensor;
  L.push("", "## 5. twin-sensor vs core change node (issue 3)", "");
  conditions("sensor");
  L.push("One embedded Node-RED runtime, as in section 1: `entry -> twin-sensor (registry batched) -> counter` against");
  L.push("`entry -> change (set msg.value to msg.payload) -> counter`, the change node fed the very same messages.");
  L.push("twin-sensor reads the twin from `msg.twinId`, `unknown: create` (the warm-up creates the twins), output `event`,");
  L.push(`history 100 (the default). One property: \`{twinId, payload: 21.53}\` with the node's property set to \`temperature\`;`);
  L.push("ten properties: `{twinId, payload: {p0..p9}}` (two-decimal numbers) with no property set, so each key is a property.");
  L.push(`${fmt(x.messages)} messages per run after a ${fmt(x.warmup)}-message warm-up per flow, \`receive()\` in batches of ${x.batch}, at most`);
  L.push(`${fmt(x.window)} in flight, round-robin over ${fmt(x.twins)} twins. Runs alternate change (1), twin-sensor (1), change (10),`);
  L.push(`twin-sensor (10) over ${x.rounds} rounds; medians. Afterwards every twin's versions add up to the readings sent (checked).`, "");
  L.push("| flow | runs (msgs/s) | median msgs/s | ratio to change (same messages) | target |", "|---|---|---|---|---|");
  const row = (name, label, base, target) =>
    L.push(`| ${label} | ${x.runs[name].map((v) => fmt(v)).join(", ")} | ${fmt(x.median[name])} | ${base ? (x.median[name] / x.median[base]).toFixed(2) : "1.00"} | ${target} |`);
  row("change-1", "change node, 1 property", null, "baseline");
  row("sensor-1", "twin-sensor, 1 property, batched", "change-1", `>= ${TARGET.sensorRatio}`);
  row("change-10", "change node, 10 properties", null, "baseline");
  row("sensor-10", "twin-sensor, 10 properties, batched", "change-10", `>= ${TARGET.sensorRatio10}`);
  const waits = Object.values(x.cpuWaitMs).flat().filter((w) => w !== null);
  if (waits.length) L.push("", `The main thread waited for a CPU (other processes had it) for ${(Math.min(...waits) * 100).toFixed(0)} to ${(Math.max(...waits) * 100).toFixed(0)} % of a run's time.`);
  const ratios = (props) => x.runs[`sensor-${props}`].map((v, k) => v / x.runs[`change-${props}`][k]);
  const perRound = (props) => `${ratios(props).map((v) => v.toFixed(2)).join(", ")} (median ${median(ratios(props)).toFixed(2)})`;
  L.push("", `Ratio run by run (against the change run of the same round): 1 property ${perRound(1)}; 10 properties ${perRound(10)}.`, "");
  for (const props of [1, 10]) {
    const q = x.median[`sensor-${props}`] / x.median[`change-${props}`];
    const label = `twin-sensor (batched, ${props} propert${props === 1 ? "y" : "ies"} per message) / change`;
    // Issue 11's table: 0.5 for one property per message, 0.35 for ten.
    const target = props === 1 ? TARGET.sensorRatio : TARGET.sensorRatio10;
    L.push(`- ${label} = ${q.toFixed(2)}, target >= ${target}: **${verdict(q >= target)}**`);
    targets.push(`| ${label} >= ${target} | ${q.toFixed(2)} | ${verdict(q >= target)} |`);
  }
}

function renderMqtt(L, r, conditions, targets, which) {
  const x = r.mqtt;
  const [bare, path, extra, num, title, target] = which === "sensor"
    ? ["bare-value", "sensor", [], "6", "twin-sensor end to end over MQTT vs a bare mqtt in (issue 3)", TARGET.mqttRatio]
    : ["bare-json", "link", ["link-quiet"], "8", "twin-link: readings from MQTT devices into the registry vs a bare mqtt in (issue 6)", TARGET.linkRatio];
  L.push("", `## ${num}. ${title}`, "");
  if (which === "sensor") {
    conditions("mqtt");
    L.push("One embedded Node-RED runtime; the broker (aedes 1.2, MQTT 3.1.1 only) and the devices run together in a child");
    L.push(`process of their own (bench/mqtt-load.js), ${x.clients} MQTT clients publishing round-robin for ${fmt(x.twins)} twins, as fast as the broker takes`);
    L.push("the messages (each client keeps at most 1,000 QoS 0 messages unwritten or 200 QoS 1 messages unacknowledged). Paths, all");
    L.push("in the same runtime and on the same broker (this section and section 8):", "");
    L.push("- bare-value: `mqtt in bench/bare/+/temperature -> counter`");
    L.push("- sensor: `mqtt in bench/sensor/+/temperature -> twin-sensor (pattern bench/sensor/{twin}/{property}, registry batched, unknown: create) -> counter`");
    L.push("- bare-json: `mqtt in twins-bare/+/reported -> counter`");
    L.push("- link: `twin-link (root twins, registry batched, unknown: create)`, counted at the registry's `reported` events");
    L.push("- link-quiet: the same with `replies: errors` (root quiet, a registry of its own): no /accepted reply per reading");
    L.push("");
    L.push("bare-value and sensor get one property per message as text (`\"21.53\"`); bare-json, link and link-quiet get the same JSON");
    L.push("bodies (`{\"temperature\": 21.53, \"humidity\": 40.2}`) on `{root}/{twin}/reported`, each under its own root. Every mqtt in");
    L.push("node subscribes with QoS 1 and `auto-detect` (so JSON is parsed), through one mqtt-broker config node (MQTT 3.1.1, clean");
    L.push("session); twin-link has its own connection with its defaults (QoS 1 subscriptions, persistent session, an /accepted reply");
    L.push("per reading at the reading's QoS, the retained document at most once a second per twin) except MQTT 3.1.1, as aedes speaks");
    L.push("no MQTT 5.");
    L.push(`A run: the devices publish ${fmt(x.messages)} readings; the rate is readings counted at the end of the path over the time from`);
    L.push(`the publish order to the last count. After a ${fmt(x.warmup)}-reading warm-up per path (it creates the twins), runs alternate`);
    L.push(`bare-value, sensor, bare-json, link, link-quiet: ${x.results.qos0.rounds} rounds at QoS 0${x.results.qos1 ? `, then ${x.results.qos1.rounds} at QoS 1` : ""}; medians. "Node-RED CPU" is the`);
    L.push("CPU time of the Node-RED process (all its threads) over the run: per reading it compares what the paths cost even when");
    L.push("the broker, not Node-RED, sets the pace; as a share of the run, 100 % is one core busy. \"Broker + devices\" is the same");
    L.push("share for the load process. Before each run Node-RED is left to settle (under 20 % of a core for 200 ms), so work a");
    L.push("run leaves behind (acknowledgements still coming in) is not charged to the next. Afterwards the versions of the sensor's");
    L.push("and the links' twins add up to the readings counted (checked).");
  } else {
    L.push("_Measured in the same child run and runtime as section 6 (same broker, same devices, alternating with its paths)._");
  }
  for (const qos of ["qos0", "qos1"]) {
    const q = x.results[qos];
    if (!q) continue;
    L.push("", `**QoS ${qos === "qos0" ? 0 : 1}** (published at QoS ${qos === "qos0" ? 0 : 1}, subscribed at QoS 1)`, "");
    L.push("| path | runs (readings/s) | median readings/s | ratio to bare | Node-RED CPU per reading | Node-RED CPU (share of the run) | broker + devices CPU | lost | target |", "|---|---|---|---|---|---|---|---|---|");
    for (const name of [bare, path, ...extra]) {
      const runs = q.runs[name];
      const med = q.median[name];
      const isBare = name === bare;
      L.push(`| ${name} | ${runs.map((v) => fmt(v.rate)).join(", ")} | ${fmt(med.rate)} | ${isBare ? "1.00" : (med.rate / q.median[bare].rate).toFixed(2)} | ${fmt(med.cpuUsPerReading, 1)} µs | ${pct(med.cpuShare)} | ${pct(med.loadCpuShare)} | ${fmt(med.lost)} | ${isBare ? "baseline" : qos === "qos0" && name === path ? `>= ${target}` : "report only"} |`);
    }
    const ratios = q.runs[path].map((v, k) => v.rate / q.runs[bare][k].rate);
    const perRound = `${ratios.map((v) => v.toFixed(2)).join(", ")} (median ${median(ratios).toFixed(2)})`;
    const cpuRatio = (name) => (q.median[name].cpuUsPerReading / q.median[bare].cpuUsPerReading).toFixed(2);
    L.push("", `Ratio run by run: ${perRound}. Node-RED CPU per reading over ${bare}'s: ${[path, ...extra].map((n) => `${n} ${cpuRatio(n)}x`).join(", ")}.`);
    const waits = [bare, path].flatMap((n) => q.runs[n].map((v) => v.cpuWait)).filter((w) => w !== null && w !== undefined);
    if (waits.length) L.push(`Node-RED's main thread waited for a CPU for ${(Math.min(...waits) * 100).toFixed(0)} to ${(Math.max(...waits) * 100).toFixed(0)} % of a run's time.`);
  }
  const q0 = x.results.qos0;
  const ratio = q0.median[path].rate / q0.median[bare].rate;
  const label = which === "sensor" ? "MQTT -> mqtt in -> twin-sensor / bare mqtt in (QoS 0)" : "MQTT -> twin-link -> registry / bare mqtt in (QoS 0)";
  L.push("", `- ${label} = ${ratio.toFixed(2)}, target >= ${target}: **${verdict(ratio >= target)}**`);
  if (x.results.qos1) {
    const q1 = x.results.qos1;
    L.push(`- the same at QoS 1 (report only): ${(q1.median[path].rate / q1.median[bare].rate).toFixed(2)}`);
  }
  if (which === "link") {
    const quiet = q0.median["link-quiet"].rate / q0.median[bare].rate;
    const perReply = q0.median.link.cpuUsPerReading - q0.median["link-quiet"].cpuUsPerReading;
    L.push(`- link-quiet (replies: errors) / bare mqtt in (QoS 0, report only): ${quiet.toFixed(2)}; the /accepted reply (QoS 0, as the reading) costs Node-RED about ${fmt(perReply, 1)} µs of CPU per reading.`);
    const c = x.close;
    if (c) {
      L.push(`- Closing twin-link right after a burst (report only): ${fmt(c.readings)} readings through it at QoS 0 (${fmt(c.burstMs)} ms), then \`RED.stop()\` at once:`);
      L.push(`  the stop took ${fmt(c.stopMs)} ms (longest event-loop gap ${fmt(c.maxGapMs)} ms); after it the process still took ${fmt(c.afterMs)} ms to settle`);
      L.push(`  (200 ms at the least; longest event-loop gap ${fmt(c.afterMaxGapMs)} ms meanwhile).`);
      L.push("  One measurement: it depends on how many of the link's own publications are still unacknowledged when the stop comes");
      L.push("  (the retained states at QoS 1; the /accepted replies go at the readings' QoS 0), which differs from run to run.");
    }
  }
  targets.push(`| ${label} >= ${target} | ${ratio.toFixed(2)} | ${verdict(ratio >= target)} |`);
}

function renderPredict(L, r, conditions, targets) {
  const { core, node } = r.predict;
  L.push("", "## 7. twin-predict: per-reading cost of the estimators, and the node vs core change node (issue 4)", "");
  conditions("predict");
  L.push("**Core estimators** (bench/predict.js, `nodes/lib/core/predict`, no Node-RED). For each method a live `Predictor` (the");
  L.push("node's defaults plus a threshold of 90, so time to threshold is computed too) takes a synthetic series, a reading every");
  L.push(`${core.stepS} s: a daily cycle, slow wear, Gaussian noise quantised to 0.1, a fault spike every 5,000 readings. Its state is taken`);
  L.push(`after ${fmt(core.early)} and after ${fmt(core.late)} readings. A timed block restores ${fmt(core.clones)} predictors from one of those states (a check`);
  L.push("confirms a restored predictor continues exactly as the live one) and feeds each the next " + fmt(core.block) + " readings, interleaved");
  L.push(`across them; cost per reading = block time / ${fmt(core.clones * core.block)}. Blocks alternate over ${core.rounds} rounds after an untimed one; medians.`);
  L.push("\"Forecaster alone\" is the same for `Ewma`/`Holt`/`Linear.update` (auto: its candidates' update) without anomaly scoring, drift and threshold, timed after all of the predictor's blocks (interleaved with them, it slowed the predictor's optimised code: see bench/predict.js).", "");
  L.push(`| method | per reading after ${fmt(core.early)} | after ${fmt(core.late)} | ratio | runs after ${fmt(core.early)} / after ${fmt(core.late)} (µs) | forecaster alone after ${fmt(core.early)} / ${fmt(core.late)} | state (JSON bytes) | target |`, "|---|---|---|---|---|---|---|---|");
  const judged = core.late >= 100000;
  for (const method of ["auto", "ewma", "holt", "linear"].filter((x) => core.methods[x])) {
    const m = core.methods[method];
    const p = m.median.predictor;
    const f = m.median.forecaster;
    const q = p.late / p.early;
    const target = method === "linear" ? "report only" : `<= ${TARGET.predictFlat}`;
    L.push(`| ${method} | ${us(p.early)} µs | ${us(p.late)} µs | ${q.toFixed(2)} | ${m.predictorNs.early.map(us).join(", ")} / ${m.predictorNs.late.map(us).join(", ")} | ${us(f.early)} / ${us(f.late)} µs | ${fmt(m.stateBytes.early)} / ${fmt(m.stateBytes.late)} | ${target} |`);
  }
  L.push("");
  for (const method of ["auto", "ewma", "holt"].filter((x) => core.methods[x])) {
    const p = core.methods[method].median.predictor;
    const q = p.late / p.early;
    const label = `${method}: per-reading cost after ${fmt(core.late)} readings / after ${fmt(core.early)}`;
    L.push(`- ${label} = ${q.toFixed(2)}, target <= ${TARGET.predictFlat}: **${judged ? verdict(q <= TARGET.predictFlat) : "not judged (fewer than 100,000 readings)"}**`);
    if (judged) targets.push(`| ${method}: per-reading cost after 100,000 readings / after ${fmt(core.early)} <= ${TARGET.predictFlat} | ${q.toFixed(2)} | ${verdict(q <= TARGET.predictFlat)} |`);
  }
  const lin = core.methods.linear.median.predictor;
  L.push(`- linear (report only): ${(lin.late / lin.early).toFixed(2)}; its window (${"100"} readings) is full from the 100th reading on, so its cost is bounded by the window, not the series.`);

  L.push("", "**The node** (bench/predict-node.js): one embedded runtime, `entry -> twin-predict (method m, properties temperature,");
  L.push("registry batched, defaults otherwise) -> counter` for each method (a registry each) against `entry -> change (set msg.value");
  L.push("to msg.payload) -> counter`, with the same messages `{twinId, payload: 60.3, ts}` round-robin over " + fmt(node.twins) + " twins (created");
  L.push(`beforehand), reading times 10 ms apart, so each twin gets one every 10 s of reading time. With step 0 (the default) every reading`);
  L.push("publishes: its prediction and the predictor's state go to the twin in one journal entry and the message leaves on output 1.");
  L.push(`${fmt(node.messages)} messages per run after a ${fmt(node.warmup)}-message warm-up per flow; runs alternate change, ewma, holt, linear over ${node.rounds} rounds;`);
  L.push("medians. Afterwards every twin holds a prediction from its node's method (checked).", "");
  L.push("| flow | runs (msgs/s) | median msgs/s | ratio to change | journal entry per reading (prediction + state) | store compactions | target |", "|---|---|---|---|---|---|---|");
  L.push(`| change node | ${node.runs.change.map((v) => fmt(v)).join(", ")} | ${fmt(node.median.change)} | 1.00 | - | - | baseline |`);
  for (const method of ["ewma", "holt", "linear"]) {
    const st = node.predicted[method];
    L.push(`| twin-predict, ${method} | ${node.runs[method].map((v) => fmt(v)).join(", ")} | ${fmt(node.median[method])} | ${(node.median[method] / node.median.change).toFixed(2)} | ${fmt(st.entryBytes)} B | ${st.compactions} | report only |`);
  }
  const waits = Object.values(node.cpuWaitMs).flat().filter((w) => w !== null);
  if (waits.length) L.push("", `The main thread waited for a CPU for ${(Math.min(...waits) * 100).toFixed(0)} to ${(Math.max(...waits) * 100).toFixed(0)} % of a run's time.`);
  L.push("", `- twin-predict (holt, the default) / change = ${(node.median.holt / node.median.change).toFixed(2)} (report only, no target)`);
}

function renderLag(L, r, conditions, targets) {
  const g = r.lag;
  L.push("", "## 11. Event-loop lag under sustained MQTT load (issue 11)", "");
  conditions("lag");
  L.push(`bench/mqtt-lag.js: the runtime, flows and broker of section 6; the devices publish ${fmt(g.rate)} readings a second (QoS 0, JSON bodies`);
  L.push(`of two properties, round-robin over ${fmt(CFG.lag.twins)} twins created beforehand) to twin-link (batched registry, default replies: an`);
  L.push(`/accepted reply per reading at its QoS 0, the retained document at most once a second per twin) for ${fmt(g.seconds)} s. Meanwhile Node-RED's`);
  L.push("event loop is watched: `monitorEventLoopDelay` (1 ms resolution), the longest gap between `setInterval(1 ms)` ticks, the longest GC pause.", "");
  L.push("| readings | last one counted after | loop delay p50 / p99 / max | longest gap | longest GC pause (kind) | Node-RED CPU (share) | main thread waiting for a CPU | target |", "|---|---|---|---|---|---|---|---|");
  L.push(`| ${fmt(g.readings)}${g.behind ? ` (${fmt(g.behind)} never arrived: Node-RED fell behind)` : ""} | ${fmt(g.lastArrivedMs)} ms (published in ${fmt(g.publishedMs)} ms) | ${g.loopDelayMs.p50} / ${g.loopDelayMs.p99} / ${g.loopDelayMs.max} ms | ${g.maxGapMs} ms | ${g.longestGcMs} ms (${g.longestGcKind === "1" ? "scavenge" : g.longestGcKind === "2" ? "mark-compact" : g.longestGcKind}) | ${g.cpuShare === null ? "-" : `${fmt(g.cpuShare * 100)} %`} | ${g.cpuWaitShare === null ? "-" : `${fmt(g.cpuWaitShare * 100)} %`} | p99 <= ${TARGET.lagP99Ms} ms, max <= ${TARGET.lagMaxMs} ms |`);
  const ok = !g.behind && g.loopDelayMs.p99 <= TARGET.lagP99Ms && g.loopDelayMs.max <= TARGET.lagMaxMs;
  L.push("", `- event-loop delay at ${fmt(g.rate)} readings/s over MQTT (twin-link, batched): p99 ${g.loopDelayMs.p99} ms, max ${g.loopDelayMs.max} ms, target p99 <= ${TARGET.lagP99Ms} ms and max <= ${TARGET.lagMaxMs} ms: **${verdict(ok)}**`);
  targets.push(`| event-loop delay at ${fmt(g.rate)} readings/s over MQTT: p99 <= ${TARGET.lagP99Ms} ms, max <= ${TARGET.lagMaxMs} ms | p99 ${g.loopDelayMs.p99} ms, max ${g.loopDelayMs.max} ms | ${verdict(ok)} |`);
}

function render(r) {
  const L = [];
  const conditions = (name) => {
    const x = r.sections[name];
    const later = x.merged ? ` Measured later than the rest of this document, by \`BENCH_ONLY=${name}\` on ${x.merged.date}, commit ${x.merged.source ? x.merged.source.commit : "unknown"}${x.merged.source && x.merged.source.dirty ? " with uncommitted changes under src/" : ""} (BENCH_MERGE).` : "";
    const settled = x.settled
      ? ` Before it the page cache was written out (sync, ${x.settled.syncS.toFixed(1)} s) and the machine left to settle: ${x.settled.busy === null ? "CPU use unknown" : x.settled.busy < SETTLE.cores ? `${x.settled.busy.toFixed(2)} cores in use after ${fmt(x.settled.waitedS)} s` : `still ${x.settled.busy.toFixed(2)} cores in use after ${fmt(x.settled.waitedS)} s (the wait's limit)`}.`
      : "";
    L.push(`_${fmt(x.seconds)} s; load average (1 min) when it started: ${x.load.toFixed(2)} on ${r.machine.cores} cores.${settled}${later}_`, "");
  };
  const m = r.machine;
  L.push("# Benchmarks", "");
  L.push("Written by `npm run bench` (bench/run.js); numbers are from the run below, on one machine.");
  L.push("Speed is a ratio against Node-RED's core change node in the same runtime and run (over MQTT, against a bare");
  L.push("`mqtt in` node on the same broker), so it says little about other machines in absolute terms. Nothing here is");
  L.push("asserted by a test.");
  if (QUICK) L.push("", "**Quick smoke run (BENCH_QUICK=1): reduced counts, not the reference figures.**");
  L.push("", "| | |", "|---|---|");
  L.push(`| machine | ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os} |`);
  L.push(`| Node.js | ${m.node} |`);
  L.push(`| Node-RED | ${m.nodeRed} (embedded, one runtime) |`);
  L.push(`| date | ${r.date} |`);
  if (r.source) L.push(`| source | commit ${r.source.commit}${r.source.dirty ? ", with uncommitted changes under src/" : ""} (built by the run) |`);
  L.push("| command | `npm run bench` |");
  L.push(`| duration | ${fmt(r.durationS)} s |`);
  L.push(`| load average (1 min) at start / end | ${r.loadStart.toFixed(2)} / ${r.loadEnd.toFixed(2)} (above ~${m.cores}, other processes compete for the CPU and figures get noisier) |`);
  const targets = [];

  // Each section, or a line saying it was not run (BENCH_ONLY), in the order of the document.
  const sections = [
    ["throughput", "1. Throughput: twin node (update) vs core change node", renderThroughput],
    ["heap", "2. Heap per twin (core registry, memory store)", renderHeap],
    ["restart", "3. Restart time (batched FileStore)", renderRestart],
    ["compaction", "4. Event-loop stall during compaction", renderCompaction],
    ["sensor", "5. twin-sensor vs core change node (issue 3)", renderSensor],
    ["mqtt", "6. twin-sensor end to end over MQTT vs a bare mqtt in (issue 3)", (...a) => renderMqtt(...a, "sensor")],
    ["predict", "7. twin-predict: per-reading cost of the estimators, and the node vs core change node (issue 4)", renderPredict],
    ["mqtt", "8. twin-link: readings from MQTT devices into the registry vs a bare mqtt in (issue 6)", (...a) => renderMqtt(...a, "link")],
    ["sigkill", "9. What a SIGKILL loses, per persistence mode, on a loaded machine (issue 10)", renderSigkill],
    ["history", "10. Compact history: bytes per stored point, and speed vs the Float64 ring (issue 11)", renderHistory],
    ["lag", "11. Event-loop lag under sustained MQTT load (issue 11)", renderLag],
    ["quality", "12. Prediction quality at default settings: real series and the simulator (issue 12)", renderQuality],
    ["anomaly", "13. Anomaly flags and time to threshold: simulated faults and real series (issue 12)", renderAnomaly],
    ["redis", "14. A registry shared on Redis: updates/s and latency for 1, 2 and 3 instances (issue 15)", renderRedis],
  ];
  for (const [name, title, section] of sections) {
    if (r[name]) section(L, r, conditions, targets);
    else L.push("", `## ${title}`, "", "_Not run this time (BENCH_ONLY)._");
  }

  // Summary, with the previous commit's figures beside when the run was given them (BENCH_BASELINE).
  L.push("", "## Targets", "");
  if (r.baseline) {
    const b = r.baseline;
    L.push(`_previous_: the same bench on ${b.commit ? `commit ${b.commit}` : "the previous commit"} (its BENCHMARKS.md of ${b.date || "unknown date"}, load ${b.load || "unknown"}), run on this machine right before this one.`, "");
    L.push("| target | measured | previous | result |", "|---|---|---|---|");
    for (const row of targets) {
      const [label, measured, result] = cells(row);
      const before = b.rows[targetKey(label)];
      L.push(`| ${label} | ${measured} | ${before === undefined ? "not measured" : before} | ${result} |`);
    }
  } else {
    L.push("| target | measured | result |", "|---|---|---|");
    L.push(...targets);
  }
  L.push("");
  return L.join("\n");
}

/** The cells of a markdown table row. */
function cells(row) {
  return row.split("|").slice(1, -1).map((c) => c.trim());
}

/** A target's name without its threshold, so a row still matches when a goal moved ("... >= 0.5" and "... >= 0.35"). */
function targetKey(label) {
  return label.replace(/\s*(>=|<=|<|>)\s*[\d.,]+.*$/, "").trim();
}

/**
 * The previous commit's figures from its BENCHMARKS.md: the measured column of its Targets table
 * by target, and where and when it was measured.
 */
function readBaseline(file) {
  const text = fs.readFileSync(file, "utf8");
  const rows = {};
  const at = text.indexOf("## Targets");
  if (at < 0) throw new Error(`${file} has no Targets table`);
  for (const line of text.slice(at).split("\n")) {
    if (!line.startsWith("|") || line.startsWith("|---") || line.startsWith("| target")) continue;
    const c = cells(line);
    rows[targetKey(c[0])] = c[1];
  }
  const field = (name) => (text.match(new RegExp(`^\\| ${name} \\| ([^|]+) \\|`, "m")) || [])[1];
  return { rows, commit: (field("source") || "").replace(/^commit /, "").split(/[ ,]/)[0] || null, date: field("date") || null, load: (field("load average \\(1 min\\) at start / end") || "").split(" (")[0] || null };
}

/** The commit the measured build comes from (npm run bench builds the working tree first), or null. */
function sourceVersion() {
  try {
    const git = (args) => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return { commit: git(["rev-parse", "--short", "HEAD"]), dirty: git(["status", "--porcelain", "--", "src"]) !== "" };
  } catch {
    return null;
  }
}

/**
 * Before each section the machine is let settle, so a section does not pay for what ran just
 * before it (the build `npm run bench` starts with, an earlier section, other processes): the
 * page cache is written out (sync: a section's first fsyncs do not queue behind the build's
 * writeback, and a batched store that waits for a slow fsync holds its acknowledgements), then
 * the CPU use of everything else is sampled each second (/proc/stat) until it is below
 * SETTLE.cores, for at most SETTLE.maxS.
 */
const SETTLE = { cores: 0.25, maxS: 20 };

/** Cores in use over the next `ms` (all processes; this one sleeps meanwhile), or null where /proc/stat is unknown. */
async function busyCores(ms) {
  const read = () => {
    try {
      const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
      // user nice system idle iowait irq softirq steal: idle and iowait are not use.
      return { busy: f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0), all: f.slice(0, 8).reduce((a, b) => a + (b || 0), 0) };
    } catch {
      return null;
    }
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  if (!a || !b || b.all === a.all) return null;
  return ((b.busy - a.busy) / (b.all - a.all)) * os.cpus().length;
}

async function settle() {
  const t0 = performance.now();
  try {
    execFileSync("sync", { stdio: "ignore", timeout: 60000 });
  } catch {
    /* no sync command: the section starts with what the disk has queued */
  }
  const syncS = (performance.now() - t0) / 1000;
  let busy = await busyCores(1000);
  while (busy !== null && busy >= SETTLE.cores && (performance.now() - t0) / 1000 < SETTLE.maxS) busy = await busyCores(1000);
  return { syncS, waitedS: (performance.now() - t0) / 1000, busy };
}

/** Where each run leaves its raw figures (gitignored), so the text can be rendered again from them. */
const LAST_RUN = path.join(tmpRoot, "last-run.json");

async function main() {
  // BENCH_RENDER=1: writes the text again from the last run's figures (after a change to the wording).
  if (process.env.BENCH_RENDER) {
    const last = JSON.parse(fs.readFileSync(LAST_RUN, "utf8"));
    if (last.quick !== QUICK) throw new Error(`the last run was ${last.quick ? "" : "not "}a quick one: set BENCH_QUICK as it was`);
    const text = render(last.result);
    if (!last.only) fs.writeFileSync(path.join(repoRoot, "BENCHMARKS.md"), text);
    console.log(text);
    return;
  }
  const started = performance.now();
  const result = { machine: machine(), date: new Date().toISOString(), loadStart: os.loadavg()[0], source: sourceVersion() };
  // BENCH_BASELINE=<the previous commit's BENCHMARKS.md>: its Targets figures go beside this run's.
  if (process.env.BENCH_BASELINE) result.baseline = readBaseline(process.env.BENCH_BASELINE);
  const pkgDir = tempDir("package");
  try {
    process.env.TWINWIRE_BENCH_PKG = await snapshotPackage(pkgDir);
    result.sections = {};
    const all = [["throughput", throughput], ["heap", heap], ["restart", restart], ["compaction", compaction], ["sensor", sensor], ["mqtt", mqtt], ["predict", predict], ["sigkill", sigkill], ["history", history], ["lag", lag], ["quality", quality], ["anomaly", anomaly], ["redis", redis]];
    const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(",") : null;
    for (const [name, measure] of all.filter(([n]) => !only || only.includes(n))) {
      const settled = await settle();
      log(`${name}: settled in ${settled.waitedS.toFixed(1)} s (sync ${settled.syncS.toFixed(1)} s), CPU in use ${settled.busy === null ? "unknown" : settled.busy.toFixed(2)} cores`);
      const load = os.loadavg()[0];
      const t0 = performance.now();
      result[name] = await measure();
      result.sections[name] = { load, settled, seconds: (performance.now() - t0) / 1000 };
    }
  } finally {
    removeDir(pkgDir);
  }
  result.loadEnd = os.loadavg()[0];
  result.durationS = (performance.now() - started) / 1000;
  fs.mkdirSync(tmpRoot, { recursive: true });
  fs.writeFileSync(LAST_RUN, JSON.stringify({ only: process.env.BENCH_ONLY || null, quick: QUICK, result }));
  const text = render(result);
  // A partial run (BENCH_ONLY) is printed, never written over the full figures; with
  // BENCH_MERGE=<a full run's last-run.json> its sections replace that run's and the document is
  // written again, each merged section saying when and on which commit it was measured.
  if (process.env.BENCH_ONLY && process.env.BENCH_MERGE) {
    const full = JSON.parse(fs.readFileSync(process.env.BENCH_MERGE, "utf8"));
    if (full.only || full.quick !== QUICK) throw new Error("BENCH_MERGE needs a full run's last-run.json, quick or not as this run");
    for (const name of Object.keys(result.sections)) {
      full.result[name] = result[name];
      full.result.sections[name] = { ...result.sections[name], merged: { date: result.date, source: result.source } };
    }
    fs.writeFileSync(path.join(tmpRoot, "merged-run.json"), JSON.stringify(full));
    const merged = render(full.result);
    fs.writeFileSync(path.join(repoRoot, "BENCHMARKS.md"), merged);
    console.log(merged);
    return;
  }
  if (!process.env.BENCH_ONLY) fs.writeFileSync(path.join(repoRoot, "BENCHMARKS.md"), text);
  console.log(text);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
