// The compact history (src/core/history.ts) against the Float64 ring it replaced (bench/ring-series.js).
//
//   node --expose-gc bench/history.js points <devices> <readings>
//   node --expose-gc bench/history.js speed <series> <points> <rounds>
//
// points: bytes per stored point on the twin-simulator's default profile (a fleet of pumps, one
// reading a second) and on every numeric column of ../shared/data/timeseries/ (next to the
// repository, or TWINWIRE_TIMESERIES). Storage counted as the 64-byte arena blocks a series
// holds (a partly filled last block counts whole), divided by its points.
// speed: push, range() and valueAt() through both implementations in the same process; the
// ratio is compact time / ring time (below 1: the compact history is faster).
"use strict";
const fs = require("fs");
const path = require("path");
const { performance } = require("perf_hooks");
const { packageDir, repoRoot, childMain, median, fullGc } = require("./lib");

const lib = (...p) => require(path.join(packageDir(), "nodes", "lib", "core", ...p));

function blocksOf(fill) {
  const { arenaStats } = lib("history.js");
  const before = arenaStats().blocksInUse;
  const kept = fill();
  const stats = arenaStats();
  return { bytes: (stats.blocksInUse - before) * stats.blockBytes, kept };
}

/** Bytes per point for `points` ([ts, value] pairs) kept whole, and at the default history (100). */
function measure(name, points) {
  const { Series } = lib("history.js");
  const whole = blocksOf(() => {
    const s = new Series(points.length);
    for (const [ts, v] of points) s.push(ts, v);
    return s;
  });
  if (whole.kept.toJSON().length !== points.length * 2) throw new Error(`${name}: lost points`);
  return { name, points: points.length, bytes: whole.bytes, perPoint: whole.bytes / points.length };
}

function simulatorSeries(devices, readings) {
  const { Fleet, deviceIds } = lib("simulator", "fleet.js");
  const { parseProfile } = lib("simulator", "profile.js");
  const fleet = new Fleet({ ids: deviceIds({ prefix: "pump-", count: devices }), profile: parseProfile(""), seed: 42, intervalMs: 1000, warp: 1, backMs: 0 });
  const t0 = Date.UTC(2026, 0, 1);
  fleet.start(t0);
  const byProperty = new Map();
  for (let k = 0; k < readings; k++) {
    for (const r of fleet.tick(t0 + k * 1000)) {
      for (const { property, value } of r.values) {
        const key = `${r.twinId} ${property}`;
        if (!byProperty.has(key)) byProperty.set(key, []);
        byProperty.get(key).push([r.ts, value]);
      }
    }
  }
  return byProperty;
}

function csvSeries(dir) {
  const out = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".csv")).sort()) {
    const lines = fs.readFileSync(path.join(dir, file), "utf8").trim().split(/\r?\n/);
    const head = lines[0].split(",").map((h) => h.replace(/"/g, ""));
    const timeCol = head.indexOf("time");
    for (let c = 0; c < head.length; c++) {
      if (c === timeCol) continue;
      // An empty cell is a missing reading: the registry would not have received one.
      const points = [];
      for (const line of lines.slice(1)) {
        const cells = line.split(",");
        if (cells[c] === undefined || cells[c] === "") continue;
        const v = Number(cells[c]);
        if (Number.isFinite(v)) points.push([Date.parse(cells[timeCol]), v]);
      }
      if (points.length) out.push({ name: `${file.replace(/\.csv$/, "")} ${head[c]}`, points });
    }
  }
  return out;
}

function points(devices, readings) {
  const sim = simulatorSeries(devices, readings);
  // Per profile property over the fleet, so the table stays short.
  const perProperty = new Map();
  for (const [key, pts] of sim) {
    const property = key.split(" ")[1];
    const m = measure(key, pts);
    const agg = perProperty.get(property) || { name: `simulator ${property}`, series: 0, points: 0, bytes: 0 };
    agg.series++;
    agg.points += m.points;
    agg.bytes += m.bytes;
    perProperty.set(property, agg);
  }
  const simulator = [...perProperty.values()].map((x) => ({ ...x, perPoint: x.bytes / x.points }));
  // At the default history length the ring turns: what a series holds for its 100 visible points.
  const { Series } = lib("history.js");
  let ringBytes = 0;
  let ringPoints = 0;
  for (const pts of sim.values()) {
    const m = blocksOf(() => {
      const s = new Series(100);
      for (const [ts, v] of pts) s.push(ts, v);
      return s;
    });
    ringBytes += m.bytes;
    ringPoints += m.kept.length;
  }
  const dir = process.env.TWINWIRE_TIMESERIES || path.resolve(repoRoot, "..", "shared", "data", "timeseries");
  const files = fs.existsSync(dir) ? csvSeries(dir).map((s) => measure(s.name, s.points)) : [];
  const total = (xs) => ({ points: xs.reduce((a, x) => a + x.points, 0), bytes: xs.reduce((a, x) => a + x.bytes, 0) });
  return { devices, readings, simulator, simulatorAll: total(simulator), ring: { points: ringPoints, bytes: ringBytes }, dir: files.length ? dir : null, files, filesAll: total(files) };
}

function timeIt(fn) {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function speed(nSeries, nPoints, rounds) {
  const impls = { compact: lib("history.js").Series, ring: require("./ring-series.js").Series };
  const value = (k, i) => Math.round((20 + 5 * Math.sin(i / 10 + k) + ((i * 7919 + k) % 13) / 100) * 100) / 100;
  const t0 = 1.7e12;
  const res = { compact: { push: [], range: [], valueAt: [] }, ring: { push: [], range: [], valueAt: [] } };
  let sink = 0;
  for (let round = 0; round < rounds + 1; round++) {
    // Alternate the order so neither always runs on a warmer or a more fragmented heap.
    for (const name of round % 2 ? ["ring", "compact"] : ["compact", "ring"]) {
      const Series = impls[name];
      fullGc();
      const all = new Array(nSeries);
      const push = timeIt(() => {
        for (let k = 0; k < nSeries; k++) all[k] = new Series(100);
        for (let i = 0; i < nPoints; i++) {
          const ts = t0 + i * 1000;
          for (let k = 0; k < nSeries; k++) all[k].push(ts, value(k, i));
        }
      });
      // A sparkline (the sidebar asks for the newest points of a window) and a state-at-a-past-time query.
      const last = t0 + (nPoints - 1) * 1000;
      const range = timeIt(() => {
        for (let k = 0; k < nSeries; k++) sink += all[k].range(last - 60000, last, 50).length;
      });
      const valueAt = timeIt(() => {
        for (let k = 0; k < nSeries; k++) sink += all[k].valueAt(last - ((k * 37) % 99) * 1000 - 500).value;
      });
      if (round === 0) continue; // warm-up
      res[name].push.push(push);
      res[name].range.push(range);
      res[name].valueAt.push(valueAt);
    }
  }
  const med = (name, op) => median(res[name][op]);
  const ops = ["push", "range", "valueAt"].map((op) => ({
    op,
    compactNs: (med("compact", op) * 1e6) / (op === "push" ? nSeries * nPoints : nSeries),
    ringNs: (med("ring", op) * 1e6) / (op === "push" ? nSeries * nPoints : nSeries),
    ratio: med("compact", op) / med("ring", op),
  }));
  return { series: nSeries, points: nPoints, rounds, ops, sink: Number.isFinite(sink) };
}

async function main() {
  const mode = process.argv[2];
  if (mode === "points") return points(Number(process.argv[3] || 10), Number(process.argv[4] || 1000));
  if (mode === "speed") return speed(Number(process.argv[3] || 10000), Number(process.argv[4] || 300), Number(process.argv[5] || 5));
  throw new Error(`unknown mode ${mode}`);
}

childMain(main);
