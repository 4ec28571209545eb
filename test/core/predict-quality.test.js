"use strict";
// The predictor against known truth, on simulated sensor data as it comes from the field:
// noise, quantisation, jittered sampling, gaps, slow wander. Every series comes from a seeded
// PRNG, so each run sees the same data.
const assert = require("node:assert/strict");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");
const { predictOptions } = require("../../nodes/lib/core/predict/options");

const T0 = 1764000000000;

function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.gauss = () => {
    let u = 0;
    while (u === 0) u = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return next;
}

/**
 * A sensor: base + rate * t + a slow random-walk wander + an optional daily cycle, Gaussian
 * noise, quantised to q, sampled every dt s +-10 %, with dropouts of 50 to 650 s. With
 * `eventEvery`, spikes (one reading) and steps (a lasting shift) of minMag..maxMag sigma are
 * injected about that many readings apart. Returns { points: [{ts, value, truth}], events: [{i, kind}] }.
 */
function sensor(o) {
  const r = rng(o.seed);
  const points = [];
  const events = [];
  let t = 0;
  let wander = 0;
  let offset = 0;
  let next = o.eventEvery ? 200 + Math.floor(o.eventEvery * r()) : Infinity;
  for (let i = 0; i < o.n; i++) {
    let dt = o.dt * (0.9 + 0.2 * r());
    if (r() < (o.gapProb ?? 0.002)) dt += 50 + 600 * r();
    t += dt;
    wander += (o.wander ?? 0) * r.gauss() * Math.sqrt(dt);
    let truth = o.base + (o.rate ?? 0) * t + wander + offset + (o.daily ? o.daily * Math.sin((2 * Math.PI * t) / 86400) : 0);
    let value = truth + o.sigma * r.gauss();
    if (i === next) {
      const kind = r() < 0.5 ? "spike" : "step";
      const mag = o.sigma * (o.minMag + (o.maxMag - o.minMag) * r()) * (r() < 0.5 ? -1 : 1);
      value += mag;
      if (kind === "step") {
        offset += mag;
        truth += mag;
      }
      events.push({ i, kind });
      next = i + Math.floor(o.eventEvery * (0.5 + r()));
    }
    points.push({ ts: Math.round(T0 + t * 1000), value: o.q ? Math.round(value / o.q) * o.q : value, truth });
  }
  return { points, events };
}

const FIELD = { dt: 10, base: 60, sigma: 0.3, q: 0.1, wander: 0.002, gapProb: 0.002 };
const WEAR = { ...FIELD, n: 7000, wander: 0, rate: 30 / (20 * 3600) }; // +30 degC in 20 h: 90 degC in about 14 h after 6 h
// Slower wear over three days: the threshold tracker gives estimates once a day of readings is in.
const SLOW_WEAR = { ...FIELD, n: 26000, wander: 0, rate: 30 / (60 * 3600) }; // +30 degC in 60 h

/**
 * Detections (anomaly starts and drift alerts) matched to injected events within K readings; a
 * drift alert within the level-shift time (30 min: 180 readings of 10 s, and a margin) of a step
 * is that step's episode ending as it should, not a second detection of its own.
 */
function score(options, data, K = 10, shiftReadings = 200) {
  const p = new Predictor(predictOptions(options));
  const starts = [];
  const drifts = [];
  data.points.forEach((pt, i) => {
    for (const a of p.update(pt.ts, pt.value).alerts) {
      if (a.type === "anomaly" && a.state === "start") starts.push(i);
      else if (a.type === "drift") drifts.push(i);
    }
  });
  const near = (d, e) => d >= e.i && d <= e.i + K;
  const closing = (d) => data.events.some((e) => e.kind === "step" && d > e.i && d <= e.i + shiftReadings && starts.some((x) => near(x, e)));
  const detections = [...starts, ...drifts.filter((d) => !closing(d))];
  const recall = (kind) => {
    const ev = data.events.filter((e) => e.kind === kind);
    return ev.filter((e) => detections.some((d) => near(d, e))).length / ev.length;
  };
  const tp = detections.filter((d) => data.events.some((e) => near(d, e))).length;
  return { spikes: recall("spike"), steps: recall("step"), precision: detections.length ? tp / detections.length : 1, detections: detections.length, events: data.events.length };
}

describe("predict: quality against known truth", function () {
  this.timeout(60000);

  it("forecasts a trend better than the last value does (holt, linear)", function () {
    for (const method of ["holt", "linear"]) {
      for (const seed of [1, 2, 3]) {
        const { points } = sensor({ ...WEAR, seed });
        const p = new Predictor(predictOptions({ method }));
        const forecasts = points.map((pt) => p.update(pt.ts, pt.value).prediction.forecast);
        let model = 0;
        let naive = 0;
        let n = 0;
        let j = 0;
        for (let i = 0; i < points.length; i++) {
          if (points[i].ts - points[0].ts < 2 * 3600 * 1000) continue; // warmed up
          const target = points[i].ts + 3600 * 1000;
          while (j < points.length && points[j].ts < target) j++;
          if (j >= points.length) break;
          model += Math.abs(forecasts[i] - points[j].value);
          naive += Math.abs(points[i].value - points[j].value);
          n++;
        }
        assert.ok(n > 1000);
        assert.ok(model < 0.6 * naive, `${method} seed ${seed}: mean error ${(model / n).toFixed(3)} vs last value ${(naive / n).toFixed(3)}`);
      }
    }
  });

  it("times the crossing of a limit on linear wear within 10 % once two days of readings are in, for every method", function () {
    // The tracker is the same for every method: one seed each.
    for (const [method, seed] of [["auto", 1], ["holt", 2], ["linear", 3]]) {
      {
        const { points } = sensor({ ...SLOW_WEAR, seed });
        const p = new Predictor(predictOptions({ method, threshold: 90 }));
        const errors = [];
        for (const pt of points) {
          const got = p.update(pt.ts, pt.value).prediction.timeToThreshold;
          const elapsed = (pt.ts - points[0].ts) / 1000;
          const truth = (90 - (SLOW_WEAR.base + SLOW_WEAR.rate * elapsed)) / SLOW_WEAR.rate;
          // Warmed up: two days and four hours in (the tracker waits for readings that cover two days, its
          // dropouts not counted, to tell a daily cycle from wear); while the crossing is more than an hour away.
          if (elapsed < 187200 || truth < 3600) continue;
          errors.push(got === null ? Infinity : Math.abs(got - truth) / truth);
        }
        errors.sort((a, b) => a - b);
        const within = errors.filter((e) => e <= 0.1).length / errors.length;
        const median = errors[errors.length >> 1];
        assert.ok(within >= 0.95, `${method} seed ${seed}: ${(within * 100).toFixed(1)} % within 10 %`);
        assert.ok(median < 0.03, `${method} seed ${seed}: median error ${(median * 100).toFixed(1)} %`);
      }
    }
  });

  it("finds injected spikes and steps with precision and recall of at least 0.8 at default settings", function () {
    const field = { ...FIELD, n: 20000, eventEvery: 400, minMag: 6, maxMag: 12 };
    const coarse = { ...field, base: 20, sigma: 0.1, q: 0.1, wander: 0.001, gapProb: 0.005 };
    const runs = [];
    for (const method of ["auto", "holt", "ewma", "linear"]) for (const seed of [1, 2]) runs.push([method, { ...field, seed }]);
    for (const seed of [4, 5]) runs.push(["holt", { ...coarse, seed }]);
    for (const [method, sc] of runs) {
      const r = score({ method }, sensor(sc));
      const what = `${method} seed ${sc.seed} q/sigma ${sc.q / sc.sigma}: ${JSON.stringify(r)}`;
      assert.ok(r.events >= 40, what);
      assert.ok(r.spikes >= 0.8, what);
      assert.ok(r.steps >= 0.8, what);
      assert.ok(r.precision >= 0.8, what);
    }
  });

  it("raises no alert on a clean noisy signal over 10,000 readings", function () {
    const runs = [];
    for (const method of ["holt", "ewma", "linear"]) for (const seed of [11, 12, 13]) runs.push([{ method }, { ...FIELD, n: 10000, seed }]);
    runs.push([{ method: "holt", robust: true }, { ...FIELD, n: 10000, seed: 14 }]);
    runs.push([{ method: "holt" }, { ...FIELD, n: 10000, seed: 15, base: 20, sigma: 0.1, q: 0.1 }]); // quantisation as coarse as the noise
    runs.push([{ method: "holt" }, { ...FIELD, n: 10000, seed: 16, dt: 30, base: 20, daily: 3, sigma: 0.2 }]); // a daily cycle
    runs.push([{ method: "holt" }, { ...FIELD, n: 10000, seed: 17, dt: 1, base: 5, sigma: 0.05, q: 0.01, wander: 0.001 }]); // 1 Hz
    for (const [options, sc] of runs) {
      const p = new Predictor(predictOptions({ ...options, threshold: sc.base + 50, warning: 86400 }));
      const alerts = sensor(sc).points.flatMap((pt) => p.update(pt.ts, pt.value).alerts);
      assert.deepEqual(alerts, [], `${JSON.stringify(options)} ${JSON.stringify(sc)}`);
    }
  });
});
