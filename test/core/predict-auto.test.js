"use strict";
// The default method `auto` and the calibrated interval (issue 12, items 1, 2 and 4), on the real
// public series in test/fixtures/timeseries and on synthetic signals with a known shape.
const assert = require("node:assert/strict");
const { mulberry32 } = require("./core-support");
const fs = require("fs");
const path = require("path");
const { predictOptions } = require("../../nodes/lib/core/predict/options");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");
const { ALLOWANCE } = require("../../nodes/lib/core/predict/scorer");

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86400;
const YEAR = 365.25 * DAY;
const FIXTURES = path.join(__dirname, "..", "fixtures", "timeseries");

/** Every numeric column of every fixture CSV (rows with an empty cell skipped: a gap). */
function realSeries() {
  const out = [];
  for (const file of fs.readdirSync(FIXTURES).filter((f) => f.endsWith(".csv")).sort()) {
    const [head, ...rows] = fs.readFileSync(path.join(FIXTURES, file), "utf8").trim().split(/\r?\n/);
    const cols = head.split(",");
    for (let c = 1; c < cols.length; c++) {
      if (cols[c] === "active") continue;
      const points = rows.map((r) => r.split(",")).filter((x) => x[c] !== "").map((x) => ({ ts: Date.parse(x[0]), v: Number(x[c]) }));
      out.push({ name: `${file}:${cols[c]}`, points });
    }
  }
  return out;
}

/** As bench/prediction-quality.js: 1 h for a series read at least hourly, else one step and a longer horizon. */
function horizons(points) {
  const d = points.slice(1).map((p, i) => (p.ts - points[i].ts) / 1000).sort((a, b) => a - b);
  const step = d[Math.floor(d.length / 2)];
  if (step <= 3600) return { step, list: [3600] };
  if (step <= 2 * DAY) return { step, list: [step, 7 * step] };
  if (step <= 100 * DAY) return { step, list: [step, Math.round(YEAR / step) * step] };
  return { step, list: [step, 5 * step] };
}

/**
 * Runs a predictor over `points` and judges each prediction against the first reading at or
 * after its target time: MAE over persistence's, and the share inside the interval once the
 * prediction reports a coverage (the interval is calibrated from then on).
 */
function judge(points, horizon, step, options = {}) {
  const p = new Predictor(predictOptions({ horizon, ...options }));
  const preds = points.map((x) => p.update(x.ts, x.v).prediction);
  let err = 0, errP = 0, inside = 0, judged = 0, forecasts = 0;
  let j = 0;
  for (let i = 0; i < points.length; i++) {
    const target = points[i].ts + horizon * 1000;
    while (j < points.length && (j <= i || points[j].ts < target - (step * 1000) / 2)) j++;
    if (j >= points.length) break;
    if (points[j].ts - target > step * 1000) continue;
    const y = points[j].v;
    forecasts++;
    err += Math.abs(y - preds[i].forecast);
    errP += Math.abs(y - points[i].v);
    if (preds[i].coverage !== null) {
      judged++;
      if (y >= preds[i].lower && y <= preds[i].upper) inside++;
    }
  }
  return { ratio: err / errP, coverage: inside / judged, judged, forecasts, preds };
}

/** Seeded PRNG (mulberry32) with a Gaussian. */
function rng(seed) {
  const next = mulberry32(seed);
  next.gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return next;
}

/** A sensor read every `dt` s for `days`: daily cycle, Gaussian noise, quantised to 0.1. */
function daily(days, { dt = 60, amplitude = 5, sigma = 0.3, seed = 3 } = {}) {
  const r = rng(seed);
  const n = Math.round((days * DAY) / dt);
  return Array.from({ length: n }, (_, i) => {
    const t = i * dt;
    return { ts: T0 + t * 1000, v: Math.round((50 + amplitude * Math.sin((2 * Math.PI * t) / DAY) + sigma * r.gauss()) * 10) / 10 };
  });
}

describe("predict: auto and calibrated intervals", function () {
  const series = realSeries();
  const runs = [];
  before(function () {
    for (const s of series) {
      const { step, list } = horizons(s.points);
      for (const h of list) runs.push({ name: `${s.name} at ${Math.round(h / step)} step(s)`, ...judge(s.points, h, step) });
    }
  });

  it("forecasts at the horizon as well as persistence or better on every real series, and clearly better on average", function () {
    assert.ok(runs.length >= 20);
    // Within the guard's bound, 1 + ALLOWANCE / sqrt(n) over n judged forecasts (scorer.ts; its
    // proof on adversarial data: predict-never-worse.test.js). On a hundred readings an online
    // choice can not know in advance which of two near-equal forecasts wins (measured: at most
    // 1.012, beaver1 at 1 h, against a bound of 1.029 there).
    for (const r of runs) assert.ok(r.ratio <= 1 + ALLOWANCE / Math.sqrt(r.forecasts), `${r.name}: MAE ${r.ratio.toFixed(4)} x persistence's over ${r.forecasts}`);
    const mean = Math.exp(runs.reduce((a, r) => a + Math.log(r.ratio), 0) / runs.length);
    assert.ok(mean <= 0.9, `geometric mean ${mean.toFixed(3)}`);
  });

  it("keeps 90-97 % of outcomes inside the 95 % interval on every real series", function () {
    for (const r of runs) {
      assert.ok(r.judged >= 50, r.name);
      // Issue 12's band, on short series too, where a miss is 1.4-1.7 % of those judged: beaver1
      // at 1 h holds 66 of 73 (0.904), one miss from the line. 6 of its misses are the forecasts
      // issued in the hour before one jump; with the offsets stepped per forecast instead of per
      // outcome (scorer.ts, GAMMA) it held 65 (0.890).
      assert.ok(r.coverage >= 0.9 && r.coverage <= 0.97, `${r.name}: ${r.coverage.toFixed(3)} of ${r.judged}`);
    }
  });

  it("says which candidate it uses, and reports skill and coverage only once forecasts have settled", function () {
    const points = daily(4);
    const preds = judge(points, 3600, 60).preds;
    assert.equal(preds[0].basis, "persistence");
    assert.equal(preds[0].skill, null);
    assert.equal(preds[0].coverage, null);
    // 1 h until the first forecast settles, then one per 5 min bucket: skill after 10, coverage after 30.
    const firstSkill = preds.findIndex((p) => p.skill !== null);
    const firstCoverage = preds.findIndex((p) => p.coverage !== null);
    assert.ok(firstSkill >= 60 + 9 * 5 && firstSkill <= 60 + 11 * 5, `skill from reading ${firstSkill}`);
    assert.ok(firstCoverage > firstSkill, `coverage from reading ${firstCoverage}`);
    for (const p of preds.slice(firstCoverage)) assert.ok(p.coverage >= 0 && p.coverage <= 1 && p.lower <= p.forecast && p.forecast <= p.upper);
  });

  it("sizes the interval before it is calibrated from the changes over the longest lag seen, not one reading's change", function () {
    // A sensor read every 5 s, forecast 1 h ahead: the interval is calibrated only after about
    // 3.5 h (1 h to the first check, then 30 checks 5 min apart). Before, a random walk from one
    // reading's change made it about 30 times too wide on noise, and far too narrow on a ramp.
    const hours = 3;
    const run = (value) => {
      const r = rng(11);
      const points = Array.from({ length: (hours * 3600) / 5 }, (_, i) => ({ ts: T0 + i * 5000, v: value(i * 5, r) }));
      const p = new Predictor(predictOptions({ horizon: 3600 }));
      const preds = points.map((x) => p.update(x.ts, x.v).prediction);
      let inside = 0, judged = 0, half = 0;
      // Forecasts issued once the data spans the horizon, judged on the reading 1 h later.
      for (let i = 720; i + 720 < points.length; i++) {
        assert.equal(preds[i].coverage, null, "still the fallback");
        judged++;
        half += (preds[i].upper - preds[i].lower) / 2;
        const y = points[i + 720].v;
        if (y >= preds[i].lower && y <= preds[i].upper) inside++;
      }
      return { share: inside / judged, half: half / judged };
    };
    // White noise of 0.2 around a constant: the 1 h change is that noise, about 0.28 (sd).
    const noise = run((t, r) => 20 + 0.2 * r.gauss());
    assert.ok(noise.share >= 0.9, `noise: ${noise.share.toFixed(3)} inside`);
    assert.ok(noise.half < 2, `noise: half width ${noise.half.toFixed(2)}`);
    // The same with a dropout to -127 for 3 readings at 1.5 h: a fault, not how far the signal moves.
    const dropout = run((t, r) => (t >= 5400 && t < 5415 ? -127 : 20 + 0.2 * r.gauss()));
    assert.ok(dropout.half < 2, `dropout: half width ${dropout.half.toFixed(2)}`);
    // A ramp of 2 a hour with noise of 0.01: the 1 h change is 2.
    const ramp = run((t, r) => 20 + (2 * t) / 3600 + 0.01 * r.gauss());
    assert.ok(ramp.share >= 0.9, `ramp: ${ramp.share.toFixed(3)} inside, half width ${ramp.half.toFixed(2)}`);
  });

  it("carries the fallback's pace across a restore, starts it anew from a state saved before it, and refuses a damaged one", function () {
    const r = rng(5);
    const points = Array.from({ length: 1500 }, (_, i) => ({ ts: T0 + i * 5000, v: 20 + (2 * i * 5) / 3600 + 0.01 * r.gauss() }));
    const options = predictOptions({ horizon: 3600 });
    const first = new Predictor(options);
    for (let i = 0; i < 1000; i++) first.update(points[i].ts, points[i].v);
    const state = JSON.parse(JSON.stringify(first.toJSON()));
    assert.ok(Array.isArray(state.s.f) && state.s.f.length === 3, "the fallback's pace is saved");
    const same = Predictor.restore(options, state).predictor;
    const older = JSON.parse(JSON.stringify(state));
    delete older.s.f;
    const old = Predictor.restore(options, older);
    assert.equal(old.restored, true);
    for (let i = 1000; i < points.length; i++) {
      const a = same.update(points[i].ts, points[i].v).prediction;
      assert.deepEqual(a, first.update(points[i].ts, points[i].v).prediction, `reading ${i}`);
      assert.equal(a.coverage, null, "still the fallback");
      const c = old.predictor.update(points[i].ts, points[i].v).prediction;
      assert.ok(Number.isFinite(c.lower) && c.lower <= c.forecast && c.forecast <= c.upper);
    }
    for (const f of [[-1, 10, 5], [1, -1, 5], [1, 0, 5], [1, 10, 1.5], [1, 10], ["1", 10, 5]]) {
      const bad = JSON.parse(JSON.stringify(state));
      bad.s.f = f;
      assert.equal(Predictor.restore(options, bad).restored, false, JSON.stringify(f));
    }
  });

  it("learns a daily cycle once two days are seen and then forecasts 1 h ahead far better than the value now", function () {
    const points = daily(5);
    const r = judge(points, 3600, 60);
    const last = r.preds[r.preds.length - 1];
    assert.equal(last.basis, "seasonal");
    assert.ok(last.skill < 0.5, `skill ${last.skill}`);
    const lateDays = points.filter((p) => p.ts >= T0 + 3 * DAY * 1000);
    const late = judge(lateDays, 3600, 60);
    assert.ok(late.ratio < 1, "on its own too");
    assert.ok(r.ratio < 0.7, `MAE ${r.ratio.toFixed(3)} x persistence's`);
  });

  it("keeps a relative humidity's forecast and interval within 0-100 % from the first reading on", function () {
    const r = rng(5);
    let v = 97;
    const points = Array.from({ length: 3000 }, (_, i) => {
      v = Math.min(100, Math.max(90, v + 0.4 * r.gauss()));
      return { ts: T0 + i * 10000, v: Math.round(v * 10) / 10 };
    });
    for (const method of ["auto", "holt", "ewma", "linear"]) {
      const p = new Predictor(predictOptions({ method, bounds: { min: 0, max: 100 } }));
      for (const x of points) {
        const pr = p.update(x.ts, x.v).prediction;
        assert.ok(pr.lower >= 0 && pr.upper <= 100 && pr.forecast <= 100 && pr.forecast >= 0, `${method} at ${x.ts}: ${pr.lower} ${pr.forecast} ${pr.upper}`);
      }
    }
    const unbounded = new Predictor(predictOptions());
    assert.ok(points.some((x) => unbounded.update(x.ts, x.v).prediction.upper > 100), "without bounds the interval does pass 100 (the test can fail)");
  });

  it("publishes an explicit method's own forecast, even where persistence would have done better", function () {
    // A random walk: the level of ewma lags it, persistence is the better forecast.
    const r = rng(9);
    let v = 50;
    const points = Array.from({ length: 2000 }, (_, i) => ({ ts: T0 + i * 10000, v: (v += r.gauss()) }));
    for (const method of ["ewma", "holt", "linear"]) {
      const p = new Predictor(predictOptions({ method }));
      const last = points.map((x) => p.update(x.ts, x.v).prediction).pop();
      assert.equal(last.basis, method);
      assert.ok(last.skill > 1, `${method}: skill ${last.skill} (worse than persistence, and said so)`);
      assert.notEqual(last.forecast, points[points.length - 1].v, method);
    }
  });

  it("reads bounds from a config and refuses a minimum above the maximum", function () {
    assert.deepEqual(predictOptions({ bounds: { min: "0", max: "100" } }).bounds, { min: 0, max: 100 });
    assert.equal(predictOptions({ bounds: {} }).bounds, undefined);
    assert.throws(() => predictOptions({ bounds: { min: 5, max: 1 } }), (e) => e.code === "invalid-option" && e.params.option === "bounds");
    assert.throws(() => predictOptions({ bounds: { max: "x" } }), (e) => e.code === "invalid-option");
  });

  it("publishes forecast and interval as finely as the interval asks at any magnitude, inside the bounds after rounding", function () {
    // Near 1e15 with noise of 1e3 (7 significant digits made the interval 0 wide) and at the
    // edge of a 32-bit integer range (rounding took the forecast past it).
    const u = mulberry32(3);
    const p = new Predictor(predictOptions({ horizon: 600 }));
    const edge = new Predictor(predictOptions({ horizon: 600, bounds: { min: -2147483648, max: 2147483647 } }));
    let inside = 0, judged = 0;
    const pending = [];
    for (let i = 0; i < 2000; i++) {
      const ts = T0 + i * 10000;
      const v = 1e15 + Math.round(1000 * (u() + u() + u() - 1.5));
      while (pending.length && pending[0][0] <= ts) {
        const [, lower, upper] = pending.shift();
        judged++;
        if (v >= lower && v <= upper) inside++;
      }
      const pr = p.update(ts, v).prediction;
      if (pr.coverage !== null) pending.push([ts + 600000, pr.lower, pr.upper]);
      const e = edge.update(ts, i % 2 ? 2147483647 : 2147483647 - Math.round(20000 * u())).prediction;
      assert.ok(e.upper <= 2147483647 && e.forecast <= 2147483647, `reading ${i}: forecast ${e.forecast}, upper ${e.upper}`);
    }
    assert.ok(judged > 1000 && inside / judged > 0.85, `${inside} of ${judged} outcomes inside`);
  });

  it("continues exactly after a restore with a learnt daily profile and forecasts still pending", function () {
    const points = daily(3, { dt: 120 });
    const options = predictOptions({ bounds: { min: 0 } });
    for (const cut of [0, 35, 700, 2000]) {
      const a = new Predictor(options);
      for (let i = 0; i <= cut; i++) a.update(points[i].ts, points[i].v);
      const { predictor: b, restored } = Predictor.restore(options, JSON.parse(JSON.stringify(a.toJSON())));
      assert.equal(restored, true);
      for (let i = cut + 1; i < points.length; i++) assert.deepEqual(b.update(points[i].ts, points[i].v), a.update(points[i].ts, points[i].v), `cut ${cut}, reading ${i}`);
      assert.deepEqual(b.toJSON(), a.toJSON());
    }
  });

  it("holds the same amount of state after 3 days of readings as after 20 days: the work per reading does not grow", function () {
    const p = new Predictor(predictOptions({ threshold: 90 }));
    const feed = (from, to) => {
      const r = rng(from + 1);
      for (let i = from; i < to; i++) p.update(T0 + i * 60000, Math.round((60 + 2 * Math.sin((2 * Math.PI * i) / 1440) + 0.3 * r.gauss()) * 10) / 10);
    };
    feed(0, 3 * 1440);
    const early = p.toJSON();
    feed(3 * 1440, 20 * 1440);
    const late = p.toJSON();
    assert.equal(late.s.p.length, early.s.p.length, "pending forecasts: one per bucket of the horizon");
    assert.equal(late.c.p.S.length, early.c.p.S.length, "the daily profile's bins");
    assert.ok(JSON.stringify(late).length <= JSON.stringify(early).length * 1.1);
    assert.ok(late.s.p.length <= 14);
  });
});
