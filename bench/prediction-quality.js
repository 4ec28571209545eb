// Prediction quality at default settings on real public series and on the simulator (issue 12):
// forecast MAE at the horizon over persistence's and over seasonal persistence's, the share of
// outcomes inside the 95 % interval after warm-up, forecasts outside the physical bounds, and the
// longest run of flagged readings.
//
//   node bench/prediction-quality.js [simDays=7] [package directory]
//   node bench/prediction-quality.js --null [seeds=100] [package directory]
//
// Drives the package only through readConfig (the node's defaults, plus the horizon and the
// bounds) and Predictor.update, so the same script runs on older code for a "before" column:
// give it a built checkout of that code as the package directory (run.js does, with
// BENCH_BEFORE=<directory>).
//
// Series: every numeric column of ../shared/data/timeseries/*.csv beside the repository when that
// exists, else of test/fixtures/timeseries (rows with an empty cell skipped: a gap). A series read
// at least hourly is forecast 1 h ahead (the default); a slower one at one step and at a longer
// horizon (a year for monthly and quarterly series, a week for daily, five steps for annual).
// A forecast made at t is judged against the first reading at or after t + horizon (within half a
// step); persistence forecasts the reading at t, seasonal persistence the reading one period
// (a year; a week for daily series) before the target. Warm-up: the readings before the
// prediction reports a coverage (new code), or before `warmup` readings (code without one).
//
// --null: the same figures on a null model, per real series and horizon: `seeds` Gaussian random
// walks read at that series' own times (same length, steps and gaps), where persistence is the
// best forecast there is and no candidate can help. What auto gives there is the spread to expect
// from its defaults on a series of that shape with nothing to learn: how often it ends above
// persistence and by how much, and how often its coverage ends outside 90-97 % (and outside 85-99 %,
// the independent check's band) by chance; beside it the same for the walk's exact 95 % interval
// (oracle*), which covers 95 % in expectation: where even that one lands outside the band in many
// walks, a series of that shape judges too few independent outcomes for the band to say much. Two
// synthetic shapes follow them: a sensor read every 10 s for 8 h and forecast 1 h ahead (the
// shape of the recordings the independent check uses), as a plain walk and as a slow walk under
// reading noise, where a smoothed level does beat persistence.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const { childMain, packageDir, repoRoot } = require("./lib");

const NULL_MODEL = process.argv.includes("--null");
const ARGS = process.argv.slice(2).filter((a) => a !== "--null");
const SIM_DAYS = NULL_MODEL ? 0 : Number(ARGS[0] || 7);
const NULL_SEEDS = NULL_MODEL ? Number(ARGS[0] || 100) : 0;
const PACKAGE = ARGS[1] || packageDir();
const DAY = 86400;
const YEAR = 365.25 * DAY;
/** Quantities that can not be negative. */
const NON_NEGATIVE = /sunspots|passengers|gas|nile|ozone|solar|wind/;

function lib() {
  const dir = path.join(PACKAGE, "nodes", "lib", "core");
  return {
    Predictor: require(path.join(dir, "predict", "predictor.js")).Predictor,
    readConfig: require(path.join(dir, "predict", "options.js")).readConfig,
    SimDevice: require(path.join(dir, "simulator", "device.js")).SimDevice,
    parseProfile: require(path.join(dir, "simulator", "profile.js")).parseProfile,
  };
}

function dataDir() {
  const shared = path.join(repoRoot, "..", "shared", "data", "timeseries");
  return fs.existsSync(shared) ? shared : path.join(repoRoot, "test", "fixtures", "timeseries");
}

/** Every numeric column of every CSV: { name, points: [{ts, v, label}] }. */
function loadSeries(dir) {
  const out = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".csv")).sort()) {
    const [head, ...rows] = fs.readFileSync(path.join(dir, file), "utf8").trim().split(/\r?\n/);
    const cols = head.split(",");
    const labelAt = cols.indexOf("active");
    for (let c = 1; c < cols.length; c++) {
      if (c === labelAt) continue;
      const points = [];
      for (const row of rows) {
        const cells = row.split(",");
        if (cells[c] === undefined || cells[c] === "") continue;
        points.push({ ts: Date.parse(cells[0]), v: Number(cells[c]), label: labelAt >= 0 ? Number(cells[labelAt]) : 0 });
      }
      const base = file.replace(/\.csv$/, "");
      out.push({ name: cols.length > 2 && labelAt < 0 ? `${base}:${cols[c]}` : base, points });
    }
  }
  return out;
}

function medianStep(points) {
  const d = [];
  for (let i = 1; i < points.length; i++) d.push((points[i].ts - points[i - 1].ts) / 1000);
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)];
}

/** Horizons (s) and the seasonal period (s) for a series stepping every `step` seconds. */
function plan(step) {
  if (step <= 3600) return { horizons: [3600], period: DAY };
  if (step <= 2 * DAY) return { horizons: [step, 7 * step], period: 7 * DAY };
  if (step <= 100 * DAY) return { horizons: [step, Math.round(YEAR / step) * step], period: YEAR };
  return { horizons: [step, 5 * step], period: null };
}

/** The index of the first point at or after `t` (ms) from `from` on, or -1. */
function firstAtOrAfter(points, t, from) {
  for (let j = from; j < points.length; j++) if (points[j].ts >= t) return j;
  return -1;
}

function run(L, points, options) {
  const p = new L.Predictor(options);
  return points.map((x) => {
    const o = p.update(x.ts, x.v);
    return o ? o.prediction : null;
  });
}

/** The figures of one series at one horizon. */
function judge(points, preds, horizon, step, period, options, bounds) {
  let n = 0, err = 0, errP = 0, nS = 0, errS = 0, errSP = 0, inside = 0, judged = 0, outOfBounds = 0, seasonalN = 0;
  const basis = {};
  let j = 0;
  for (let i = 0; i < points.length; i++) {
    const pr = preds[i];
    if (!pr) continue;
    if (bounds && ((bounds.min !== undefined && (pr.lower < bounds.min || pr.forecast < bounds.min)) || (bounds.max !== undefined && (pr.upper > bounds.max || pr.forecast > bounds.max)))) outOfBounds++;
    const target = points[i].ts + horizon * 1000;
    j = firstAtOrAfter(points, target - (step * 1000) / 2, Math.max(j, i + 1));
    if (j < 0) break;
    if (points[j].ts - target > step * 1000) continue;
    const y = points[j].v;
    n++;
    err += Math.abs(y - pr.forecast);
    errP += Math.abs(y - points[i].v);
    if (pr.basis) basis[pr.basis] = (basis[pr.basis] || 0) + 1;
    if (period !== null && horizon <= period + step) {
      const k = nearest(points, target - period * 1000, step);
      if (k >= 0 && k <= i) {
        nS++;
        errS += Math.abs(y - pr.forecast);
        errSP += Math.abs(y - points[k].v);
        seasonalN++;
      }
    }
    const warm = pr.coverage !== undefined ? pr.coverage !== null : i >= options.warmup;
    if (warm) {
      judged++;
      if (y >= pr.lower && y <= pr.upper) inside++;
    }
  }
  return {
    horizon,
    steps: Math.round(horizon / step),
    forecasts: n,
    maeRatio: errP > 0 ? err / errP : null,
    maeRatioSeasonal: seasonalN >= 10 && errSP > 0 ? errS / errSP : null,
    seasonalForecasts: nS,
    coverage: judged > 0 ? inside / judged : null,
    coverageN: judged,
    outOfBounds,
    basis,
  };
}

function nearest(points, t, step) {
  let lo = 0, hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].ts < t) lo = mid + 1;
    else hi = mid;
  }
  for (const k of [lo - 1, lo]) if (k >= 0 && k < points.length && Math.abs(points[k].ts - t) <= (step * 1000) / 2) return k;
  return -1;
}

/** The longest run of readings the prediction marks anomalous, outside readings labelled active. */
function longestFalseEpisode(points, preds) {
  let best = 0, bestS = 0, run = 0, since = 0;
  for (let i = 0; i < points.length; i++) {
    const on = preds[i] && preds[i].anomaly && !points[i].label;
    if (on) {
      if (run === 0) since = points[i].ts;
      run++;
      if (run > best) {
        best = run;
        bestS = (points[i].ts - since) / 1000;
      }
    } else run = 0;
  }
  return { readings: best, seconds: bestS };
}

function series(L, s) {
  const step = medianStep(s.points);
  const { horizons, period } = plan(step);
  const bounds = NON_NEGATIVE.test(s.name) ? { min: 0 } : null;
  const out = { name: s.name, readings: s.points.length, step, period, bounds, horizons: [] };
  for (const horizon of horizons) {
    const options = L.readConfig({ horizon, bounds }).options;
    const preds = run(L, s.points, options);
    out.horizons.push(judge(s.points, preds, horizon, step, period, options, bounds));
    if (horizon === horizons[0]) out.longestFlag = longestFalseEpisode(s.points, preds);
  }
  return out;
}

/** The pump profile's temperature, vibration and power from one simulated device, a reading every 10 s. */
function simulator(L) {
  const device = new L.SimDevice("pump-1", L.parseProfile(""), 12);
  const byProp = {};
  const n = Math.round((SIM_DAYS * DAY) / 10);
  const t0 = Date.UTC(2026, 0, 1);
  for (let k = 0; k < n; k++) {
    for (const r of device.sample(k, k * 10000)) {
      if (r.property === "rpm") continue;
      (byProp[r.property] = byProp[r.property] || []).push({ ts: t0 + k * 10000, v: r.value, label: 0 });
    }
  }
  return Object.entries(byProp).map(([prop, points]) => series(L, { name: `simulator:${prop}`, points }));
}

/** The commit a package directory was built from, when it is a git checkout. */
function commitOf(dir) {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

/**
 * The shape the independent check reads (issue 12): a sensor read every 10 s for 8 h, forecast
 * 1 h ahead, so 360 readings per horizon and a dozen forecasts pending at once, which no real
 * series here has. A plain walk (nothing to learn), and a slow walk (0.1 a reading) under reading
 * noise of 1, where a smoothed level beats persistence: what a change costs where there is
 * something to learn.
 */
function fieldShapes() {
  const t0 = Date.UTC(2026, 0, 1);
  const times = Array.from({ length: (8 * 3600) / 10 }, (_, k) => ({ ts: t0 + k * 10000 }));
  return [
    { name: "synthetic: 10 s for 8 h, random walk", points: times },
    { name: "synthetic: 10 s for 8 h, slow walk + noise", points: times, walk: 0.1, noise: 1 },
  ];
}

/**
 * The share of the outcomes auto's coverage judges (the same forecasts, from auto's first reported
 * coverage on) that fall inside the exact 95 % interval of the walk: the level the walk had when
 * the forecast was made, +- 1.96 standard deviations of what the walk and the reading noise add by
 * the target. It covers 95 % in expectation, so its spread over the walks is what chance alone
 * does to the coverage of a series of that shape: a series read a few hundred times with
 * overlapping forecasts judges only a few independent outcomes.
 */
function oracleCoverage(points, preds, horizon, step, walk, noise) {
  let inside = 0, judged = 0, j = 0;
  for (let i = 0; i < points.length; i++) {
    const pr = preds[i];
    if (!pr || pr.coverage === null || pr.coverage === undefined) continue;
    const target = points[i].ts + horizon * 1000;
    j = firstAtOrAfter(points, target - (step * 1000) / 2, Math.max(j, i + 1));
    if (j < 0) break;
    if (points[j].ts - target > step * 1000) continue;
    const sd = Math.sqrt(walk * walk * (j - i) + noise * noise);
    judged++;
    if (Math.abs(points[j].v - points[i].level) <= 1.959964 * sd) inside++;
  }
  return judged > 0 ? inside / judged : null;
}

/** Per real series and horizon: auto's figures over NULL_SEEDS random walks read at the series' times. */
function nullModel(L, s) {
  const step = medianStep(s.points);
  const { horizons } = plan(step);
  const rows = horizons.map((horizon) => ({ horizon, steps: Math.round(horizon / step), ratios: [], coverages: [], oracle: [] }));
  // The simulator's seeded generator (mulberry32, Box-Muller): the same walks in every run.
  const { Rng } = require(path.join(PACKAGE, "nodes", "lib", "core", "simulator", "prng.js"));
  for (let seed = 1; seed <= NULL_SEEDS; seed++) {
    const rng = new Rng(seed);
    let v = 0;
    const points = s.points.map((x) => {
      v += (s.walk ?? 1) * rng.gaussian();
      return { ts: x.ts, v: v + (s.noise ? s.noise * rng.gaussian() : 0), level: v, label: 0 };
    });
    for (const row of rows) {
      const options = L.readConfig({ horizon: row.horizon }).options;
      const preds = run(L, points, options);
      const j = judge(points, preds, row.horizon, step, null, options, null);
      row.ratios.push(j.maeRatio);
      if (j.coverage !== null) row.coverages.push(j.coverage);
      const o = oracleCoverage(points, preds, row.horizon, step, s.walk ?? 1, s.noise ?? 0);
      if (o !== null) row.oracle.push(o);
    }
  }
  const share = (xs, f) => (xs.length ? xs.filter(f).length / xs.length : null);
  return {
    name: s.name,
    readings: s.points.length,
    step,
    seeds: NULL_SEEDS,
    horizons: rows.map(({ horizon, steps, ratios, coverages, oracle }) => {
      const sorted = ratios.slice().sort((a, b) => a - b);
      return {
        horizon,
        steps,
        // Above by more than the published forecast's rounding (to a thousandth of its interval)
        // can make it: the walks' values have more digits than the real series'.
        aboveOne: share(ratios, (r) => r > 1 + 1e-5),
        meanRatio: ratios.reduce((a, b) => a + b, 0) / ratios.length,
        p90Ratio: sorted[Math.floor(0.9 * (sorted.length - 1))],
        maxRatio: sorted[sorted.length - 1],
        meanCoverage: coverages.length ? coverages.reduce((a, b) => a + b, 0) / coverages.length : null,
        coverageBelow90: share(coverages, (c) => c < 0.9),
        coverageAbove97: share(coverages, (c) => c > 0.97),
        // The band the independent check on field recordings asks for (issue 12): 85-99 %.
        coverageBelow85: share(coverages, (c) => c < 0.85),
        coverageAbove99: share(coverages, (c) => c > 0.99),
        // The same judged outcomes inside the exact 95 % interval of the walk (see oracleCoverage).
        oracleMeanCoverage: oracle.length ? oracle.reduce((a, b) => a + b, 0) / oracle.length : null,
        oracleBelow90: share(oracle, (c) => c < 0.9),
        oracleAbove97: share(oracle, (c) => c > 0.97),
        oracleBelow85: share(oracle, (c) => c < 0.85),
        oracleAbove99: share(oracle, (c) => c > 0.99),
      };
    }),
  };
}

async function main() {
  const L = lib();
  const dir = dataDir();
  if (NULL_MODEL) {
    const out = { data: path.relative(repoRoot, dir), nullModel: true, seeds: NULL_SEEDS, commit: commitOf(PACKAGE), series: [] };
    for (const s of loadSeries(dir)) out.series.push(nullModel(L, s));
    for (const s of fieldShapes()) out.series.push(nullModel(L, s));
    return out;
  }
  const out = { data: path.relative(repoRoot, dir), simDays: SIM_DAYS, commit: commitOf(PACKAGE), series: [] };
  for (const s of loadSeries(dir)) out.series.push(series(L, s));
  out.series.push(...simulator(L));
  return out;
}

if (require.main === module) childMain(main);
module.exports = { main };
