// Anomaly flags you can trust (issue 12, item 3): the AnomalyDetector (src/core/predict/detector.ts)
// at its defaults, on simulated faults with known truth and on real public series.
//
//   node bench/anomaly-quality.js          (prints the tables; run `node scripts/build.js` first)
//   node bench/anomaly-quality.js --json [package directory]
//
// Exports run() (the anomaly rows below) and thresholdRows() (time to threshold on synthetic wear,
// see there), each with a printer. With --json (and as a child of bench/run.js, section 13) it
// reports both as JSON for the package given (default: the one the bench runs): its detector at
// its defaults, or for code without one (before issue 12) its Predictor's verdicts at its
// defaults; the simulator, the data and the truth are always this checkout's, so the same script
// gives the "before" figures (bench/anomaly-quality-before.json: commit 0fc12ab).
//
// Simulated faults: a 10 s temperature sensor from the simulator (noise 0.3, resolution 0.1, a
// daily cycle of +-3, slow wear of 0.4 a day), 2 days per device, one fault kind per scenario:
// - spike: 12 single-reading spikes of 6.7 to 13 sigma;
// - step: 12 lasting steps of 6.7 to 13 sigma (alternating up and down);
// - step-back: 12 steps of the same sizes that end, back where they were (a fault fixed), after
//   45 min, 1 h, 1.5 h or 2 h;
// - stuck: 12 stuck-sensor windows of 15 to 45 min;
// - noise: 12 bursts of noise 4 to 6 times the sensor's (sd 1.2 to 1.8), 10 to 20 min each;
// - drift: a ramp of 3 (10 sigma) an hour from a random time on.
// Per reading, a reading counts as flagged when the prediction says `anomaly` for it (what the
// twin shows). Truth per reading: the readings of a spike; the first `levelShift` of a step or step-back (after that the new
// level is the new normal, by design); every reading of a stuck window or a burst; the first 2 x levelShift
// of a ramp (whose level the detector follows: it is found by a drift alert, not by flags, so
// its per-reading recall is 0 by design and the "all kinds" row takes flags per reading from
// spike, step, stuck and noise only). A detection (an anomaly start or a drift alert) is true when it
// falls within a fault's truth window (plus 5 typical intervals); a fault is found when a
// detection falls there.
//
// Real series (../shared/data/timeseries when present, else test/fixtures/timeseries): every
// numeric column, readings in time order, missing cells skipped. Nothing there is a labelled
// fault, so every episode counts as false except in beaver2, whose `active` onset (a level shift
// of about 0.5 degC) is truth for its first levelShift. The longest false episode must stay under
// the level-shift setting (in the series' own time: at least 5 typical intervals).
"use strict";
const fs = require("fs");
const path = require("path");
const { mulberry32 } = require("./lib");

const ROOT = path.resolve(__dirname, "..");

function lib() {
  const dir = path.join(process.env.TWINWIRE_BENCH_PKG || ROOT, "nodes", "lib", "core");
  return {
    AnomalyDetector: require(path.join(dir, "predict", "detector.js")).AnomalyDetector,
    DETECTOR_DEFAULTS: require(path.join(dir, "predict", "detector.js")).DETECTOR_DEFAULTS,
    SimDevice: require(path.join(dir, "simulator", "device.js")).SimDevice,
    parseProfile: require(path.join(dir, "simulator", "profile.js")).parseProfile,
  };
}

/** Where the real series are: the shared data when beside the repository, else the fixtures. */
function seriesDir() {
  const shared = path.resolve(ROOT, "..", "shared", "data", "timeseries");
  return fs.existsSync(shared) ? shared : path.join(ROOT, "test", "fixtures", "timeseries");
}

/**
 * A CSV with a `time` column as { name, columns: { column: [{ ts, value, row }] }, labels }:
 * one series per numeric column, missing cells skipped; `active` (beaver) is a label, not a series.
 */
function loadSeries(file, dir = seriesDir()) {
  const lines = fs.readFileSync(path.join(dir, file), "utf8").trim().split(/\r?\n/);
  const head = lines[0].split(",");
  const columns = {};
  const labels = [];
  for (const c of head.slice(1)) if (c !== "active") columns[c] = [];
  lines.slice(1).forEach((line, row) => {
    const cells = line.split(",");
    const ts = Date.parse(cells[0]);
    head.forEach((c, i) => {
      if (i === 0 || cells[i] === undefined || cells[i] === "") return;
      if (c === "active") labels.push({ ts, active: cells[i] === "1" });
      else columns[c].push({ ts, value: Number(cells[i]), row });
    });
  });
  return { name: file.replace(/\.csv$/, ""), columns, labels };
}

function seriesFiles(dir = seriesDir()) {
  return fs.readdirSync(dir).filter((f) => f.endsWith(".csv")).sort();
}

const T0 = Date.UTC(2026, 0, 5);
const STEP_MS = 10000;
const DAY_MS = 86400000;
const KINDS = ["spike", "step", "step-back", "stuck", "noise", "drift"];

/** How long step-back j lasts: 45 min, 1 h, 1.5 h or 2 h. */
const backSeconds = (j) => [2700, 3600, 5400, 7200][j % 4];

/** How long burst j of a noise scenario lasts: 10, 15 or 20 min. */
const burstSeconds = (j) => 600 + 300 * (j % 3);

/**
 * One simulated scenario: { points: [{ts, value}], faults: [{kind, from, to}] } (truth windows
 * in ms, `to` exclusive), for `kind` and `seed`; `levelShiftMs` bounds the step and drift truth.
 */
function simulate(kind, seed, { days = 2, levelShiftMs = 1800000 } = {}) {
  const { SimDevice, parseProfile } = lib();
  const temperature = {
    base: 55, noise: 0.3, resolution: 0.1,
    cycle: { amplitude: 3, period: "1d" },
    drift: { rate: 0.4, per: "1d" },
  };
  const faults = [];
  const events = [];
  const n = Math.round((days * DAY_MS) / STEP_MS);
  const first = 4 * 3600000;
  const every = (days * DAY_MS - first - 2 * 3600000) / 12;
  for (let j = 0; j < 12 && kind !== "drift"; j++) {
    const at = first + j * every + ((seed * 7919 + j * 104729) % 1800) * 1000;
    const size = (j % 2 ? -1 : 1) * (2 + 0.5 * (j % 5));
    if (kind === "spike") faults.push({ type: "spike", at: at / 1000, size });
    else if (kind === "step") faults.push({ type: "step", at: at / 1000, size });
    else if (kind === "step-back") faults.push({ type: "step", at: at / 1000, size, duration: backSeconds(j) });
    else if (kind === "noise") faults.push({ type: "noise", at: at / 1000, size: 0.3 * (4 + (j % 3)), duration: burstSeconds(j) });
    else faults.push({ type: "stuck", at: at / 1000, duration: 900 + 900 * (j % 3) });
    events.push({ at, j });
  }
  if (kind === "drift") {
    const at = 8 * 3600000 + ((seed * 7919) % 24) * 1800000;
    temperature.drift = { rate: 3, per: "1h", start: at / 1000 };
    events.push({ at, j: 0 });
  }
  if (faults.length) temperature.faults = faults;
  const device = new SimDevice(`pump-${seed}`, parseProfile({ properties: { temperature } }), seed);
  const points = [];
  for (let k = 0; k < n; k++) {
    const t = k * STEP_MS;
    const r = device.sample(k, t);
    if (r.length) points.push({ ts: T0 + t, value: r[0].value });
  }
  const windows = events.map(({ at, j }) => {
    // The first reading at or after the fault's time is the first faulty one.
    const from = T0 + Math.ceil(at / STEP_MS) * STEP_MS;
    if (kind === "spike") return { kind, from, to: from + 1 };
    if (kind === "stuck") return { kind, from, to: from + (900 + 900 * (j % 3)) * 1000 };
    if (kind === "noise") return { kind, from, to: T0 + Math.ceil((at + burstSeconds(j) * 1000) / STEP_MS) * STEP_MS };
    if (kind === "drift") return { kind, from, to: from + 2 * levelShiftMs };
    if (kind === "step-back") return { kind, from, to: from + Math.min(levelShiftMs, backSeconds(j) * 1000) };
    return { kind, from, to: from + levelShiftMs };
  });
  return { points, faults: windows };
}

/**
 * Feeds `points` to a fresh detector and scores its verdicts against `faults` (truth windows):
 * per reading, per episode, and the false episodes.
 */
function evaluate(points, faults, options = {}, make = null) {
  const { AnomalyDetector, DETECTOR_DEFAULTS } = lib();
  const d = make ? make() : new AnomalyDetector({ ...DETECTOR_DEFAULTS, ...options });
  const inFault = (ts, slack = 0) => faults.find((f) => ts >= f.from && ts < f.to + slack);
  let tp = 0, fp = 0, fn = 0;
  const detections = [];
  const episodes = [];
  let open = null;
  let typical = 0;
  points.forEach((pt, i) => {
    const v = d.update(pt.ts, pt.value);
    const truth = Boolean(inFault(pt.ts));
    // Per reading, what a user sees: the prediction's `anomaly` for this reading.
    if (v.anomaly && truth) tp++;
    else if (v.anomaly) fp++;
    else if (truth) fn++;
    if (i > 0) typical = pt.ts - points[i - 1].ts;
    for (const a of v.alerts) {
      if (a.type === "drift" || (a.type === "anomaly" && a.state === "start")) detections.push({ ts: a.ts, type: a.type, reason: a.reason });
      if (a.type === "anomaly" && a.state === "start") open = { from: a.ts, readings: 0 };
      if (a.type === "anomaly" && a.state === "end" && open) {
        episodes.push({ ...open, to: a.ts });
        open = null;
      }
    }
    if (open) open.readings++;
  });
  if (open) episodes.push({ ...open, to: points[points.length - 1].ts, unfinished: true });
  const slack = 5 * typical;
  const trueDet = detections.filter((x) => inFault(x.ts, slack)).length;
  const found = faults.filter((f) => detections.some((x) => x.ts >= f.from && x.ts < f.to + slack)).length;
  const falseEpisodes = episodes.filter((e) => !inFault(e.from, slack));
  const longest = falseEpisodes.reduce((m, e) => Math.max(m, (e.to - e.from) / 1000), 0);
  const longestReadings = falseEpisodes.reduce((m, e) => Math.max(m, e.readings), 0);
  const ratio = (a, b) => (b === 0 ? null : a / b);
  const f1 = (p, r) => (p === null || r === null || p + r === 0 ? null : (2 * p * r) / (p + r));
  const pr = ratio(tp, tp + fp);
  const rr = ratio(tp, tp + fn);
  const pe = ratio(trueDet, detections.length);
  const re = ratio(found, faults.length);
  return {
    readings: points.length,
    counts: { tp, fp, fn, trueDet, detections: detections.length, found, faults: faults.length },
    flagged: tp + fp,
    precision: pr, recall: rr, f1: f1(pr, rr),
    episodePrecision: pe, episodeRecall: re, episodeF1: f1(pe, re),
    detections: detections.length,
    drifts: detections.filter((x) => x.type === "drift").length,
    falseEpisodes: falseEpisodes.length,
    falsePer1000: (1000 * falseEpisodes.length) / points.length,
    longestFalse: longest,
    longestFalseReadings: longestReadings,
    levelShiftTime: d.levelShiftTime ? d.levelShiftTime() : (options.levelShift ?? DETECTOR_DEFAULTS.levelShift),
  };
}

/** Truth windows of beaver2's `active` label: each onset, for the level-shift time. */
function activeOnsets(labels, levelShiftMs) {
  const out = [];
  labels.forEach((l, i) => {
    if (l.active && (i === 0 || !labels[i - 1].active)) out.push({ kind: "active", from: l.ts, to: l.ts + levelShiftMs });
  });
  return out;
}

/**
 * The table: one row per simulated fault kind (3 seeds pooled) and per real series column.
 * `make` replaces the detector (anything with update(ts, value) -> { flagged, alerts }): the
 * "before" figures feed the old Predictor's anomaly verdicts through it (see below).
 */
function run({ seeds = [1, 2, 3], options = {}, make = null } = {}) {
  const { DETECTOR_DEFAULTS } = lib();
  const levelShiftMs = (options.levelShift ?? DETECTOR_DEFAULTS.levelShift) * 1000;
  const rows = [];
  const byKind = {};
  for (const kind of KINDS) {
    byKind[kind] = seeds.map((seed) => {
      const s = simulate(kind, seed, { levelShiftMs });
      return evaluate(s.points, s.faults, options, make);
    });
    rows.push(pool(`simulated ${kind}`, byKind[kind]));
  }
  // Flags per reading are for spikes, steps, stuck sensors and noise; a ramp is a drift alert, not flags.
  const flagsRow = pool("simulated spike+step+step-back+stuck+noise", [...byKind.spike, ...byKind.step, ...byKind["step-back"], ...byKind.stuck, ...byKind.noise]);
  const all = pool("simulated, all kinds", KINDS.flatMap((k) => byKind[k]));
  rows.push({ ...all, precision: flagsRow.precision, recall: flagsRow.recall, f1: flagsRow.f1 });
  for (const file of seriesFiles()) {
    const s = loadSeries(file);
    for (const [column, points] of Object.entries(s.columns)) {
      const name = Object.keys(s.columns).length > 1 || column !== "value" ? `${s.name}:${column}` : s.name;
      const faults = s.labels.length ? activeOnsets(s.labels, 0) : [];
      // The truth window of a real onset is the detector's own level-shift time on that series.
      const first = evaluate(points, faults, options, make);
      const windows = faults.map((f) => ({ ...f, to: f.from + first.levelShiftTime * 1000 }));
      const r = windows.length ? evaluate(points, windows, options, make) : first;
      rows.push({ series: name, ...r });
    }
  }
  return rows;
}

/** The runs' counts pooled into one row: ratios of the summed counts. */
function pool(series, parts) {
  const sum = (k) => parts.reduce((a, p) => a + p[k], 0);
  const c = (k) => parts.reduce((a, p) => a + p.counts[k], 0);
  const ratio = (a, b) => (b === 0 ? null : a / b);
  const f1 = (p, r) => (p === null || r === null || p + r === 0 ? null : (2 * p * r) / (p + r));
  const precision = ratio(c("tp"), c("tp") + c("fp"));
  const recall = ratio(c("tp"), c("tp") + c("fn"));
  const episodePrecision = ratio(c("trueDet"), c("detections"));
  const episodeRecall = ratio(c("found"), c("faults"));
  const counts = {};
  for (const k of Object.keys(parts[0].counts)) counts[k] = c(k);
  return {
    series,
    readings: sum("readings"),
    counts,
    flagged: sum("flagged"),
    precision, recall, f1: f1(precision, recall),
    episodePrecision, episodeRecall, episodeF1: f1(episodePrecision, episodeRecall),
    detections: sum("detections"),
    drifts: sum("drifts"),
    falseEpisodes: sum("falseEpisodes"),
    falsePer1000: (1000 * sum("falseEpisodes")) / sum("readings"),
    longestFalse: Math.max(...parts.map((p) => p.longestFalse)),
    longestFalseReadings: Math.max(...parts.map((p) => p.longestFalseReadings)),
    levelShiftTime: parts[0].levelShiftTime,
  };
}

function print(rows) {
  const f = (x, d = 2) => (x === null || x === undefined ? "-" : x.toFixed(d));
  const dur = (s) => (s === 0 ? "0" : s < 7200 ? `${Math.round(s / 60)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 86400)} d`);
  const head = ["series", "readings", "flagged", "P", "R", "F1", "P ep", "R ep", "F1 ep", "alerts", "drift", "false/1000", "longest false", "(readings)", "levelShift"];
  const lines = [head];
  for (const r of rows) {
    lines.push([r.series, String(r.readings), String(r.flagged), f(r.precision), f(r.recall), f(r.f1), f(r.episodePrecision), f(r.episodeRecall), f(r.episodeF1),
      String(r.detections), String(r.drifts), f(r.falsePer1000), dur(r.longestFalse), String(r.longestFalseReadings), dur(r.levelShiftTime)]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) console.log(l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
}

/**
 * Time to threshold (ThresholdTracker) on synthetic wear under a daily cycle, the case: a
 * 10 s sensor, 60 + wear + 3 sin(daily) + noise 0.3 quantised to 0.1, limit 70, warning 24 h;
 * linear wear of 1 and 0.5 a day, and wear accelerating (0.3 a day + 0.05 a day per day). Per
 * case (3 seeds pooled): the share of estimates within 10 % of the true time (from day 2 on, while
 * the crossing is more than an hour away; null counts as a miss), the median error, and the
 * warnings started (one per approach is the goal). Measured through the Predictor of `pkg` at its
 * defaults with that limit and warning (so code from before the ThresholdTracker is measured too).
 */
function thresholdRows({ seeds = [1, 2, 3], step = 10, pkg = process.env.TWINWIRE_BENCH_PKG || ROOT } = {}) {
  const dir = path.join(pkg, "nodes", "lib", "core", "predict");
  const { Predictor } = require(path.join(dir, "predictor.js"));
  const { predictOptions } = require(path.join(dir, "options.js"));
  const cases = [
    { name: "wear 1/day, daily cycle +-3", rate: 1, accel: 0, days: 9 },
    { name: "wear 0.5/day, daily cycle +-3", rate: 0.5, accel: 0, days: 14 },
    { name: "wear 0.3/day accelerating 0.05/day^2", rate: 0.3, accel: 0.05, days: 9 },
  ];
  const rows = [];
  for (const c of cases) {
    const errors = [];
    let warnings = 0;
    for (const seed of seeds) {
      const next = mulberry32(seed);
      const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
      const truth = (t) => 60 + c.rate * (t / 86400) + c.accel * (t / 86400) ** 2 + 3 * Math.sin((2 * Math.PI * t) / 86400);
      const n = Math.round((c.days * 86400) / step);
      const horizon = n + Math.round(86400 / step);
      const cross = new Array(horizon + 1).fill(Infinity);
      for (let i = horizon - 1; i >= 0; i--) cross[i] = truth(i * step) >= 70 ? i : cross[i + 1];
      // What a user sees: the node's defaults with a limit and a warning, through the Predictor.
      const predictor = new Predictor(predictOptions({ threshold: 70, direction: "above", warning: 86400 }));
      for (let i = 0; i < n; i++) {
        const t = i * step;
        const o = predictor.update(T0 + t * 1000, Math.round((truth(t) + 0.3 * gauss()) * 10) / 10);
        const out = { timeToThreshold: o.prediction.timeToThreshold, alerts: o.alerts.filter((x) => x.type === "threshold") };
        warnings += out.alerts.filter((x) => x.state === "start").length;
        const left = (cross[i] - i) * step;
        if (t < 2 * 86400 || !Number.isFinite(left) || left <= 3600) continue;
        errors.push(out.timeToThreshold === null ? Infinity : Math.abs(out.timeToThreshold - left) / left);
      }
    }
    errors.sort((x, y) => x - y);
    rows.push({
      case: c.name,
      estimates: errors.length,
      within10: errors.filter((e) => e <= 0.1).length / errors.length,
      medianError: errors[errors.length >> 1],
      warningsPerApproach: warnings / seeds.length,
    });
  }
  return rows;
}

function printThreshold(rows) {
  console.log("time to threshold (limit 70, warning 24 h, 10 s readings, 3 seeds)");
  for (const r of rows) {
    console.log(`  ${r.case.padEnd(40)} within 10 %: ${(100 * r.within10).toFixed(1).padStart(5)} %   median error ${(100 * r.medianError).toFixed(1).padStart(5)} %   warnings per approach ${r.warningsPerApproach.toFixed(1)}`);
  }
}

/**
 * The code before issue 12 as a detector: the Predictor of a built package at `dir` (e.g. a
 * checkout of the parent commit), at its defaults; its outcome's `flagged` and alerts are what a
 * user got. Null when that package has no predictor.
 */
function predictorDetector(dir) {
  const base = path.join(dir, "nodes", "lib", "core", "predict");
  if (!fs.existsSync(path.join(base, "predictor.js"))) return null;
  const { Predictor } = require(path.join(base, "predictor.js"));
  const { predictOptions } = require(path.join(base, "options.js"));
  return () => {
    const p = new Predictor(predictOptions({}));
    return {
      update(ts, value) {
        const out = p.update(ts, value);
        return out ? { anomaly: out.prediction.anomaly, alerts: out.alerts.filter((a) => a.type !== "threshold") } : { anomaly: false, alerts: [] };
      },
    };
  };
}

/**
 * The detector of the package at `dir` at its defaults, or null for the bench's own (lib()); code
 * without one (before issue 12) gives its Predictor's verdicts (predictorDetector).
 */
function detectorOf(dir) {
  const own = path.resolve(process.env.TWINWIRE_BENCH_PKG || ROOT);
  if (path.resolve(dir) === own) return null;
  const file = path.join(dir, "nodes", "lib", "core", "predict", "detector.js");
  if (!fs.existsSync(file)) return predictorDetector(dir);
  const { AnomalyDetector, DETECTOR_DEFAULTS } = require(file);
  return () => new AnomalyDetector({ ...DETECTOR_DEFAULTS });
}

/** The commit a package directory was built from, when it is a git checkout. */
function commitOf(dir) {
  try {
    return require("child_process").execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

/** Section 13 of `npm run bench`: both tables for the package given (argv after --json). */
async function main() {
  const { packageDir } = require("./lib");
  const pkg = path.resolve(process.argv[3] || packageDir());
  const { DETECTOR_DEFAULTS } = lib();
  return {
    commit: commitOf(pkg),
    data: path.relative(ROOT, seriesDir()),
    detector: fs.existsSync(path.join(pkg, "nodes", "lib", "core", "predict", "detector.js")) ? "AnomalyDetector" : "Predictor",
    levelShift: DETECTOR_DEFAULTS.levelShift,
    anomaly: run({ make: detectorOf(pkg) }),
    threshold: thresholdRows({ pkg }),
  };
}

module.exports = { run, print, predictorDetector, thresholdRows, printThreshold, evaluate, simulate, loadSeries, seriesFiles, seriesDir, activeOnsets, KINDS, main };

if (require.main === module && (process.argv[2] === "--json" || process.send)) {
  require("./lib").childMain(main);
} else if (require.main === module) {
  // BEFORE=<a built checkout of the code before, e.g. the parent commit>: its figures first.
  const before = process.env.BEFORE ? predictorDetector(path.resolve(process.env.BEFORE)) : null;
  if (before) {
    console.log(`before (${process.env.BEFORE}, the old Predictor's anomaly verdicts at its defaults):`);
    print(run({ make: before }));
    console.log("\nafter (AnomalyDetector at its defaults):");
  }
  print(run());
  console.log("");
  if (before) {
    console.log("before:");
    printThreshold(thresholdRows({ pkg: path.resolve(process.env.BEFORE) }));
    console.log("after:");
  }
  printThreshold(thresholdRows());
}
