// twin-predict across kill -9 (issue: "state stays across restarts"): a stream of readings, the
// process killed at random points, restarted from disk, the same stream continued; every
// prediction after a restart compared with one run that never stopped. Not part of `npm run bench`.
//
//   node bench/predict-restart.js inproc [readings=4000] [seeds=2]
//       registry on a FileStore (batched and strict) + the PredictEngine in this process; a kill is
//       a copy of the store directory (what is on disk), a new registry and engine opened on it.
//       4 methods x seeds, 6 kills each. Batched copies without waiting for the disk, so its kills
//       lose more than the 100 ms a real batched store may.
//   node bench/predict-restart.js process [readings=1500] [seeds=2]
//       a real Node-RED process: http in -> twin-sensor -> twin-predict -> http response (alerts to
//       a file); readings sent one at a time; SIGKILL with a reading in flight (re-sent after the
//       restart when unanswered: a device re-delivering), 4 kills per run.
//
// Prints one JSON line per run: predictions compared, how far forecasts moved (in interval
// widths), coverage and skill, alerts only in the restarted run (extra), missing, started twice
// (dupStarts / dup), and the readings where a number turned null, an interval lost its forecast,
// or an anomaly was flagged only after the restart (bad).
"use strict";
const fs = require("fs"), os = require("os"), path = require("path");
const ROOT = path.join(__dirname, "..");
const W = path.join(ROOT, "nodes", "lib", "core");

// Kill-9 trial: engine on a FileStore registry; at random points the store dir is copied (what is
// on disk), a new registry+engine opened on the copy, the stream continued. Compared with an
// uninterrupted run.

const { TwinRegistry } = require(W + "/registry");
const { FileStore } = require(W + "/store/file-store");
const { PredictEngine } = require(W + "/predict/engine");
const { readConfig } = require(W + "/predict/options");
const { Predictor } = require(W + "/predict/predictor");

function rng(seed) { let a = seed >>> 0; return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; }
function series(n, seed) {
  const r = rng(seed); const g = () => Math.sqrt(-2 * Math.log(r() || 1e-9)) * Math.cos(2 * Math.PI * r());
  const out = [];
  for (let i = 0; i < n; i++) {
    let v = 60 + 3 * Math.sin((2 * Math.PI * i) / 8640) + 0.0008 * i + 0.3 * g();
    if (i % 1500 === 700) v += 8;                       // spike
    if (i % 1500 >= 1000 && i % 1500 < 1270) v += 5;   // 45 min step
    out.push(Math.round(v * 10) / 10);
  }
  return out;
}
const START = Date.now() - 5 * 86400e3;
const at = (i) => START + i * 10000;

function makeEngine(reg, config) {
  const e = new PredictEngine(reg, { config: readConfig(config), emit: () => {}, onError: (err) => { throw err; } });
  e.start();
  return e;
}
function openReg(dir, mode) {
  const reg = new TwinRegistry({ store: new FileStore({ dir, mode, intervalMs: 10 }), historyLength: 20 });
  const w = reg.open();
  return reg;
}
const durable = (reg) => new Promise((res, rej) => reg.whenDurable((e) => (e ? rej(e) : res())));

async function run({ mode, config, n, kills, seed, wait }) {
  const values = series(n, seed);
  let dir = fs.mkdtempSync(path.join(os.tmpdir(), "pk-"));
  let reg = openReg(dir, mode);
  reg.create("pump");
  let engine = makeEngine(reg, config);
  const preds = new Array(n).fill(null), alerts = [];
  const killSet = new Set(kills);
  const olds = [];
  for (let i = 0; i < n; i++) {
    if (killSet.has(i)) {
      if (wait) await durable(reg);
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), "pk-"));
      for (const f of fs.readdirSync(dir)) if (!f.endsWith(".lock")) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
      olds.push(reg);
      dir = copy;
      reg = openReg(dir, mode);
      engine = makeEngine(reg, config);
    }
    reg.report("pump", { temperature: values[i] }, { ts: at(i) });
    const eff = engine.apply([{ twinId: "pump", property: "temperature", value: values[i], ts: at(i) }]);
    for (const p of eff.predictions) preds[i] = p;
    for (const a of eff.alerts) alerts.push({ i, ...a.alert });
    if (i % 10 === 0) await durable(reg);
  }
  const stateLen = JSON.stringify(reg.getState("pump", "predict:temperature")).length;
  engine.close(); await reg.close(); for (const o of olds) await o.close().catch(() => {});
  return { preds, alerts, stateLen };
}

function episodes(alerts, type) {
  const out = []; let open = false; let dupStarts = 0;
  for (const a of alerts) if (a.type === type) {
    if (a.state === "start") { if (open) dupStarts++; open = true; }
    else if (a.state === "end") open = false;
  }
  return { open, dupStarts };
}

const REG = "c3f0000000000002";
function flow(persistence, predictConfig, alertsFile) {
  const z = "c3f0000000000001"; const id = (n) => `c3f00000000001${String(n).padStart(2, "0")}`;
  return [
    { id: z, type: "tab", label: "predict over http" },
    { id: REG, type: "twin-registry", name: "pr", models: "", persistence, historyLength: "10", staleness: "0", maxDocumentKb: "64" },
    { id: id(1), type: "http in", z, url: "/reading", method: "post", upload: false, swaggerDoc: "", wires: [[id(2)]] },
    { id: id(2), type: "change", z, rules: [
      { t: "set", p: "twinId", pt: "msg", to: "payload.twinId", tot: "msg" },
      { t: "set", p: "ts", pt: "msg", to: "payload.ts", tot: "msg" },
      { t: "set", p: "payload", pt: "msg", to: "payload.values", tot: "msg" }], wires: [[id(3)]] },
    { id: id(3), type: "twin-sensor", z, registry: REG, pattern: "", twinId: "", twinIdType: "str", property: "", value: "payload", valueType: "msg",
      timestamp: "ts", timestampType: "msg", scale: 1, offset: 0, unit: "", deadband: "", unknown: "create", model: "", output: "event", parseNumbers: true, wires: [[id(4)]] },
    { id: id(4), type: "twin-predict", z, registry: REG, properties: "temperature", ...predictConfig, wires: [[id(5)], [id(6)]] },
    { id: id(5), type: "http response", z, statusCode: "", headers: {}, wires: [] },
    { id: id(6), type: "file", z, filename: alertsFile, filenameType: "str", appendNewline: true, createDir: true, overwriteFile: "false", encoding: "none", wires: [] },
  ];
}
function seriesReal(n, seed) {
  const r = rng(seed); const g = () => Math.sqrt(-2 * Math.log(r() || 1e-9)) * Math.cos(2 * Math.PI * r());
  return Array.from({ length: n }, (_, i) => { let v = 60 + 3 * Math.sin((2 * Math.PI * i) / 8640) + 0.3 * g(); if (i % 600 === 400) v += 8; if (i % 600 >= 450 && i % 600 < 460) v += 5; return Math.round(v * 10) / 10; });
}
const withTimeout = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(() => r(null), ms))]);
async function trial(h, persistence, predictConfig, n, kills, seed) {
  const values = seriesReal(n, seed);
  const START = Date.now() - 3 * 86400e3; const at = (i) => START + i * 10000;
  const userDir = h.tempUserDir(); const alertsFile = path.join(userDir, "alerts.jsonl");
  let nr = await h.startNodeRed({ userDir, flows: flow(persistence, predictConfig, alertsFile), startTimeout: 60000 });
  const got = new Array(n).fill(null); let restarts = 0, resent = 0, noAnswer = 0;
  let i = 0; const killAt = new Set(kills);
  while (i < n) {
    if (killAt.has(i)) {
      killAt.delete(i);
      // Kill while a reading is in flight: its answer may never come.
      const inflight = h.request(nr.url, { method: "POST", path: "/api/reading", body: { twinId: "pump", ts: at(i), values: { temperature: values[i] } } }).catch(() => null);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5)));
      await nr.kill("SIGKILL");
      const res = await inflight;
      if (res && res.status === 200) { got[i] = res.body; i++; } else resent++;
      nr = await h.startNodeRed({ userDir, startTimeout: 60000 });
      restarts++;
      continue;
    }
    const res = await withTimeout(h.request(nr.url, { method: "POST", path: "/api/reading", body: { twinId: "pump", ts: at(i), values: { temperature: values[i] } } }), 5000);
    if (res && res.status === 200) got[i] = res.body; else noAnswer++;
    i++;
  }
  await new Promise((r) => setTimeout(r, 300));
  await nr.stop();
  const alerts = fs.existsSync(alertsFile) ? fs.readFileSync(alertsFile, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
  // Baseline: one predictor that never stopped.
  const p = new Predictor(readConfig(predictConfig).options); const base = []; const baseAlerts = [];
  for (let k = 0; k < n; k++) { const o = p.update(at(k), values[k]); base.push(o.prediction); for (const a of o.alerts) baseAlerts.push({ k, ...a }); }
  let compared = 0, same = 0, maxFc = 0, maxCov = 0, maxSkill = 0; const bad = [];
  for (let k = 0; k < n; k++) {
    const b = got[k]; if (!b) continue; const a = base[k]; compared++;
    if (JSON.stringify({ ...b, twinId: undefined, property: undefined, value: undefined }) === JSON.stringify(a)) same++;
    if (![b.forecast, b.lower, b.upper, b.score].every(Number.isFinite) || !(b.lower <= b.forecast && b.forecast <= b.upper)) bad.push(`k${k} unsound`);
    if (b.anomaly && !a.anomaly) bad.push(`k${k} anomaly only after restart ${a.score}->${b.score}`);
    for (const f of ["skill", "coverage"]) if ((a[f] === null) !== (b[f] === null)) bad.push(`k${k} ${f} ${a[f]}->${b[f]}`);
    maxFc = Math.max(maxFc, Math.abs(a.forecast - b.forecast) / Math.max(1e-9, a.upper - a.lower));
    if (a.coverage !== null && b.coverage !== null) maxCov = Math.max(maxCov, Math.abs(a.coverage - b.coverage));
    if (a.skill !== null && b.skill !== null) maxSkill = Math.max(maxSkill, Math.abs(a.skill - b.skill));
  }
  const key = (x) => `${x.ts}:${x.type}:${x.state}`;
  const baseKeys = new Set(baseAlerts.map(key)); const counts = {};
  for (const x of alerts) counts[key(x)] = (counts[key(x)] || 0) + 1;
  const extra = alerts.filter((x) => !baseKeys.has(key(x))).map((x) => `${(x.ts - START) / 10000}:${x.type}:${x.state}`);
  const dup = Object.entries(counts).filter(([, c]) => c > 1).map(([k]) => k);
  const gotKeys = new Set(alerts.map(key));
  const missing = baseAlerts.filter((x) => !gotKeys.has(key(x))).map((x) => `${x.k}:${x.type}:${x.state}`);
  return { persistence, method: predictConfig.method || "auto", seed, restarts, resent, noAnswer, compared, identical: same, maxFcOverWidth: +maxFc.toFixed(3), maxCov: +maxCov.toFixed(3), maxSkill: +maxSkill.toFixed(3), alerts: alerts.length, baseAlerts: baseAlerts.length, extra, dup, missing, bad: bad.slice(0, 6), nbad: bad.length };
}

async function inproc(n, rounds) {
  const configs = [
    { horizon: "600", threshold: "75", warning: "3600" },
    { method: "holt", horizon: "600", threshold: "75" },
    { method: "linear", horizon: "300" },
    { method: "ewma", horizon: "300" },
  ];
  for (const mode of ["batched", "strict"]) for (const config of configs) for (let s = 1; s <= rounds; s++) {
    const r = rng(s * 97 + 13);
    const kills = Array.from({ length: 6 }, () => 30 + Math.floor(r() * (n - 60))).sort((a, b) => a - b);
    const base = await run({ mode, config, n, kills: [], seed: s, wait: false });
    const k = await run({ mode, config, n, kills, seed: s, wait: mode === "strict" });
    const bad = []; let compared = 0, maxFc = 0, maxCov = 0, maxSkill = 0, diverged = 0;
    for (let i = 0; i < n; i++) {
      const a = base.preds[i], b = k.preds[i];
      if (!b) { if (a) bad.push(`i${i}: no prediction after restart`); continue; }
      if (!a) continue;
      compared++;
      for (const key of ["forecast", "lower", "upper", "score"]) if (!Number.isFinite(b[key])) bad.push(`i${i}: ${key} ${b[key]}`);
      if (!(b.lower <= b.forecast && b.forecast <= b.upper)) bad.push(`i${i}: interval ${b.lower} ${b.forecast} ${b.upper}`);
      for (const key of ["skill", "coverage", "timeToThreshold", "trend"]) if ((a[key] === null) !== (b[key] === null)) bad.push(`i${i}: ${key} ${a[key]} -> ${b[key]}`);
      if (b.anomaly && !a.anomaly) bad.push(`i${i}: anomaly only after restart (score ${a.score} -> ${b.score})`);
      const d = Math.abs(a.forecast - b.forecast) / Math.max(1e-9, a.upper - a.lower);
      if (d > 1e-9) diverged++;
      maxFc = Math.max(maxFc, d);
      if (a.coverage !== null && b.coverage !== null) maxCov = Math.max(maxCov, Math.abs(a.coverage - b.coverage));
      if (a.skill !== null && b.skill !== null) maxSkill = Math.max(maxSkill, Math.abs(a.skill - b.skill));
    }
    const key = (x) => `${x.i}:${x.type}:${x.state}`;
    const baseA = new Set(base.alerts.map(key)), kA = new Set(k.alerts.map(key));
    const ep = ["anomaly", "threshold"].map((t) => ({ t, ...episodes(k.alerts, t) }));
    console.log(JSON.stringify({ mode, method: config.method || "auto", seed: s, kills, compared, diverged, maxFcOverWidth: +maxFc.toFixed(3), maxCov: +maxCov.toFixed(3), maxSkill: +maxSkill.toFixed(3),
      stateChars: [base.stateLen, k.stateLen], extra: k.alerts.filter((x) => !baseA.has(key(x))).map(key), missing: base.alerts.filter((x) => !kA.has(key(x))).map(key), ep, bad: bad.length, badSample: bad.slice(0, 4) }));
  }
}

async function processes(n, seeds) {
  const h = require(path.join(ROOT, "test", "integration", "harness"));
  try {
    for (const persistence of ["strict", "batched"]) for (const cfg of [{ horizon: "600", threshold: "75" }, { method: "holt", horizon: "300" }]) for (let s = 1; s <= seeds; s++) {
      const r = rng(s * 31 + (persistence === "strict" ? 1 : 2));
      const kills = Array.from({ length: 4 }, () => 50 + Math.floor(r() * (n - 100))).sort((a, b) => a - b);
      console.log(JSON.stringify(await trial(h, persistence, cfg, n, kills, s)));
    }
  } finally {
    await h.stopAll();
  }
}

const [how, a, b] = process.argv.slice(2);
(how === "process" ? processes(Number(a || 1500), Number(b || 2)) : inproc(Number(a || 4000), Number(b || 2))).catch((e) => {
  console.error(e);
  process.exit(1);
});
