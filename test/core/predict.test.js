"use strict";
// Units of src/core/predict: smoothing, options, the forecasters, the predictor's wiring of the
// anomaly detector and the threshold tracker (their own behaviour: predict-detector.test.js,
// predict-threshold.test.js), gaps, and the state round trip.
const assert = require("node:assert/strict");
const { alpha, keep, EwStats, roundSig } = require("../../nodes/lib/core/predict/smoothing");
const { readConfig, predictOptions, DEFAULTS } = require("../../nodes/lib/core/predict/options");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");
const { Ewma } = require("../../nodes/lib/core/predict/ewma");
const { Holt } = require("../../nodes/lib/core/predict/holt");
const { Linear } = require("../../nodes/lib/core/predict/linear");
const { Ring } = require("../../nodes/lib/core/predict/ring");
const { AnomalyDetector } = require("../../nodes/lib/core/predict/detector");
const { ThresholdTracker } = require("../../nodes/lib/core/predict/threshold");

const T0 = 1764000000000;
const METHODS = ["auto", "ewma", "holt", "linear"];

/** Seeded PRNG (mulberry32) with a Gaussian. */
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

/** Feeds `values` every `dt` seconds from T0; returns every outcome. */
function feed(p, values, dt = 10, start = T0) {
  return values.map((v, i) => p.update(start + i * dt * 1000, v));
}

function noise(n, { seed = 1, base = 20, sigma = 0.2, q = 0.1 } = {}) {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.round((base + sigma * r.gauss()) / q) * q);
}

describe("predict: smoothing", function () {
  it("weighs a reading by the time since the previous one: alpha = 1 - exp(-dt ln2 / halfLife)", function () {
    assert.equal(alpha(300, 300), 0.5);
    assert.ok(Math.abs(alpha(10, 300) - (1 - Math.exp((-10 * Math.LN2) / 300))) < 1e-15);
    assert.ok(Math.abs(keep(600, 300) - 0.25) < 1e-15);
    assert.equal(alpha(0, 300), 0);
  });

  it("averages plainly at first, then exponentially", function () {
    const s = new EwStats();
    for (const x of [1, 2, 3, 4]) s.add(x, 0.01);
    assert.ok(Math.abs(s.mean - 2.5) < 1e-12, "plain mean of the first readings");
    assert.ok(Math.abs(s.variance - 1.25) < 1e-12);
  });

  it("rounds away float noise", function () {
    assert.equal(roundSig(20.1 - 20.0, 9), 0.1);
  });

  it("keeps a bounded ring, oldest first", function () {
    const r = new Ring(3);
    for (const x of [1, 2, 3, 4, 5]) r.push(x);
    assert.deepEqual(r.toArray(), [3, 4, 5]);
    r.addOldest(2, 10);
    assert.deepEqual(r.toArray(), [13, 14, 5]);
    r.dropNewest(1);
    assert.deepEqual(r.toArray(), [13, 14]);
    assert.deepEqual(Ring.of(2, [1, 2, 3]).toArray(), [2, 3]);
  });
});

describe("predict: options", function () {
  it("has defaults and reads editor strings", function () {
    const c = readConfig({});
    assert.deepEqual(c.options, DEFAULTS);
    assert.deepEqual(c.properties, []);
    assert.equal(c.step, 0);
    assert.equal(c.watch, false);
    const d = readConfig({ method: "linear", horizon: "7200", threshold: "90", direction: "below", properties: " temperature, vibration ,temperature", twinIds: "pump-*", robust: true, drift: "false", step: "0.5", watch: "true", damping: "" });
    assert.equal(d.options.method, "linear");
    assert.equal(d.options.horizon, 7200);
    assert.equal(d.options.threshold, 90);
    assert.equal(d.options.direction, "below");
    assert.equal(d.options.robust, true);
    assert.equal(d.options.drift, false);
    assert.equal(d.options.damping, 0);
    assert.deepEqual(d.properties, ["temperature", "vibration"]);
    assert.deepEqual(d.twinIds, ["pump-*"]);
    assert.equal(d.step, 0.5);
    assert.equal(d.watch, true);
  });

  it("lists an old flow's settings that no longer do anything, so the node can say so: only values other than the old defaults", function () {
    assert.deepEqual(readConfig({}).superseded, []);
    assert.deepEqual(readConfig({ sensitivity: "medium", robust: false }).superseded, []);
    assert.deepEqual(readConfig({ sensitivity: "low", robust: "true" }).superseded, [{ option: "sensitivity", value: "low" }, { option: "robust", value: true }]);
    assert.deepEqual(readConfig({ sensitivity: "high" }).superseded, [{ option: "sensitivity", value: "high" }]);
  });

  it("names the setting that is wrong", function () {
    const bad = [
      [{ method: "magic" }, "method"],
      [{ horizon: "0" }, "horizon"],
      [{ horizon: "soon" }, "horizon"],
      [{ halfLife: -1 }, "halfLife"],
      [{ window: "5" }, "window"],
      [{ window: "100.5" }, "window"],
      [{ threshold: "hot" }, "threshold"],
      [{ direction: "sideways" }, "direction"],
      [{ zThreshold: "1" }, "zThreshold"],
      [{ sensitivity: "extreme" }, "sensitivity"],
      [{ properties: "temperature, 2bad" }, "properties"],
      [{ properties: "__proto__" }, "properties"],
      [{ twinIds: "pump/7" }, "twinIds"],
      [{ step: "-1" }, "step"],
    ];
    for (const [config, option] of bad) {
      assert.throws(() => readConfig(config), (e) => e.code === "invalid-option" && e.params.option === option, JSON.stringify(config));
    }
  });
});

describe("predict: forecasters", function () {
  it("holt fits a clean line exactly, during warm-up and after", function () {
    const h = new Holt({ halfLife: 600, trendHalfLife: 7200, damping: 0, warmup: 30 });
    for (let i = 0; i < 200; i++) h.update(i === 0 ? 0 : 10, 50 + 0.01 * i * 10);
    assert.ok(Math.abs(h.trend() - 0.01) < 1e-9, `trend ${h.trend()}`);
    assert.ok(Math.abs(h.level() - (50 + 0.01 * 1990)) < 1e-6);
    assert.ok(Math.abs(h.expect(100) - (h.level() + 1)) < 1e-6);
    assert.equal(h.trendSignificant(), true);
    const t = h.timeTo(100, true);
    assert.ok(Math.abs(t - (100 - h.level()) / 0.01) < 1e-3);
  });

  it("holt with damping levels off, and never reaches a limit beyond where it levels off", function () {
    const h = new Holt({ halfLife: 600, trendHalfLife: 7200, damping: 3600, warmup: 30 });
    for (let i = 0; i < 100; i++) h.update(i === 0 ? 0 : 10, 50 + 0.001 * i * 10);
    const ceiling = h.level() + (h.trend() * 3600) / Math.LN2;
    assert.ok(h.expect(3600) < h.level() + h.trend() * 3600, "below the straight line");
    assert.ok(Math.abs(h.expect(1e7) - ceiling) < 1e-6, "approaches level + trend * D / ln2");
    assert.equal(h.timeTo(ceiling + 1, true), null);
    const t = h.timeTo(h.level() + 1, true);
    assert.ok(Math.abs(h.expect(t) - (h.level() + 1)) < 1e-9, "the time it gives is when the forecast gets there");
  });

  it("ewma has a level and no trend; its interval does not grow with the horizon beyond the level's", function () {
    const e = new Ewma(600);
    for (let i = 0; i < 100; i++) e.update(i === 0 ? 0 : 10, 7);
    assert.equal(e.level(), 7);
    assert.equal(e.trend(), null);
    assert.equal(e.trendSignificant(), false);
    assert.equal(e.timeTo(10, true), null);
    assert.equal(e.timeTo(5, true), 0, "already past");
  });

  it("linear is least squares over its window, with the trend's significance from r squared", function () {
    const l = new Linear(50);
    for (let i = 0; i < 120; i++) l.update(i === 0 ? 0 : 10, i < 70 ? 0 : 3 + 0.002 * (i - 70) * 10);
    assert.ok(Math.abs(l.trend() - 0.002) < 1e-12, "only the last 50 readings count");
    assert.ok(Math.abs(l.rSquared() - 1) < 1e-12);
    assert.equal(l.trendSignificant(), true);
    const flat = new Linear(50);
    const values = noise(50, { seed: 3, q: 0 });
    values.forEach((v, i) => flat.update(i === 0 ? 0 : 10, v));
    assert.equal(flat.trendSignificant(), false, "noise has no significant trend");
  });
});

describe("predict: predictor", function () {
  it("writes the design.md prediction shape", function () {
    const p = new Predictor(predictOptions({ threshold: 90 }));
    const out = feed(p, noise(50));
    const pr = out[49].prediction;
    assert.deepEqual(Object.keys(pr), ["method", "forecast", "horizon", "lower", "upper", "trend", "score", "anomaly", "timeToThreshold", "ts", "basis", "skill", "coverage"]);
    assert.equal(pr.method, "auto");
    assert.equal(pr.basis, "persistence", "no settled forecast yet: auto is persistence");
    assert.equal(pr.skill, null);
    assert.equal(pr.coverage, null);
    assert.equal(pr.horizon, 3600);
    assert.ok(pr.lower < pr.forecast && pr.forecast < pr.upper);
    assert.equal(pr.ts, T0 + 49 * 10000);
    assert.equal(typeof pr.score, "number");
    assert.equal(pr.anomaly, false);
  });

  it("ignores a reading that is not newer than the last one", function () {
    const p = new Predictor(predictOptions());
    p.update(T0 + 1000, 1);
    assert.equal(p.update(T0 + 1000, 5), null);
    assert.equal(p.update(T0, 5), null);
    assert.equal(p.count, 1);
  });

  it("gives no verdict before 20 readings and 30 minutes, however far off a reading is", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method }));
      const values = noise(150); // 25 minutes of 10 s readings
      values[100] = 1000;
      const out = feed(p, values);
      assert.ok(out.every((o) => o.prediction.score === 0 && !o.prediction.anomaly && !o.flagged && o.alerts.length === 0), method);
    }
  });

  it("carries the detector's verdicts and the threshold tracker's times and alerts, for every method", function () {
    const values = noise(3000, { seed: 4 }).map((v, i) => v + (i >= 2000 ? 3 : 0) + 0.0005 * i);
    for (let i = 400; i < 1800; i += 300) values[i] += 5;
    for (const method of METHODS) {
      const options = predictOptions({ method, threshold: 30, warning: 86400 });
      const p = new Predictor(options);
      const detector = new AnomalyDetector({ zThreshold: options.zThreshold, warmup: options.warmup, warmupTime: options.warmupTime, levelShift: options.levelShift, resolution: options.resolution });
      const tracker = new ThresholdTracker({ limit: 30, direction: "above", warning: 86400 });
      let flagged = 0;
      values.forEach((v, i) => {
        const ts = T0 + i * 10000;
        const o = p.update(ts, v);
        const d = detector.update(ts, v);
        const t = tracker.update(ts, v);
        assert.equal(o.prediction.score, d.score, `${method} reading ${i}`);
        assert.equal(o.prediction.anomaly, d.anomaly);
        assert.equal(o.flagged, d.flagged);
        assert.equal(o.prediction.timeToThreshold, t.timeToThreshold === null ? null : Math.round(t.timeToThreshold));
        assert.deepEqual(o.alerts, [...d.alerts, ...t.alerts]);
        flagged += o.flagged ? 1 : 0;
      });
      assert.ok(flagged >= 5, `${method}: the spikes were flagged (the test can fail)`);
    }
  });

  it("starts and ends one anomaly per spike: at the reading back when far off, after the hysteresis's calm readings when near the threshold", function () {
    const p = new Predictor(predictOptions());
    const values = noise(400, { seed: 5 });
    values[300] = 25;
    values[350] += 1.5;
    const out = feed(p, values);
    const alerts = out.flatMap((o, i) => o.alerts.map((a) => ({ i, ...a })));
    assert.ok(out[350].prediction.score >= 1 && out[350].prediction.score < 3, `score ${out[350].prediction.score}`);
    assert.deepEqual(alerts.map((a) => `${a.type}:${a.state}@${a.i}`), ["anomaly:start@300", "anomaly:end@301", "anomaly:start@350", "anomaly:end@353"]);
    assert.equal(alerts[0].value, 25);
    assert.ok(alerts[0].score >= 3);
    assert.ok(Math.abs(alerts[0].expected - 20) < 0.3);
    assert.equal(alerts[1].duration, 10);
    assert.equal(alerts[3].duration, 30);
    assert.equal(out[300].prediction.anomaly, true);
    // The readings after a spike are normal themselves; only the end alert waits out the hysteresis.
    assert.equal(out[301].prediction.anomaly, false);
    assert.equal(out[351].prediction.anomaly, false);
  });

  it("ends the anomaly of a lasting step within the level-shift time, reports it as drift, and forecasts the new level", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method }));
      const values = noise(800, { seed: 6 }).map((v, i) => (i >= 300 ? v + 3 : v));
      const out = feed(p, values);
      const alerts = out.flatMap((o, i) => o.alerts.map((a) => ({ i, ...a })));
      const drift = alerts.find((a) => a.type === "drift");
      // 30 min of 10 s readings: 180.
      assert.ok(drift && drift.i >= 300 && drift.i <= 300 + 185, `${method}: drift within the level-shift time (${JSON.stringify(alerts)})`);
      assert.equal(drift.direction, "up");
      assert.ok(Math.abs(drift.to - 23) < 0.5, `${method}: new level ${drift.to}`);
      assert.ok(out.slice(300 + 185).every((o) => !o.prediction.anomaly), method);
      assert.ok(Math.abs(out[799].prediction.forecast - 23) < 0.5, `${method}: forecast ${out[799].prediction.forecast}`);
    }
  });

  it("does not alert on drift when told not to, but still ends the anomaly", function () {
    const p = new Predictor(predictOptions({ drift: false }));
    const out = feed(p, noise(800, { seed: 6 }).map((v, i) => (i >= 300 ? v + 3 : v)));
    const alerts = out.flatMap((o) => o.alerts);
    assert.ok(!alerts.some((a) => a.type === "drift"));
    assert.deepEqual(alerts.filter((a) => a.type === "anomaly").map((a) => a.state), ["start", "end"]);
    assert.equal(out[799].prediction.anomaly, false);
  });

  it("restarts a method's level after a long gap, with no verdict on the first reading after it", function () {
    for (const method of ["ewma", "holt"]) {
      const p = new Predictor(predictOptions({ method }));
      feed(p, noise(300));
      // Three hours later (more than 10 intervals and 2 half-lives): the machine restarted warmer.
      const later = T0 + 300 * 10000 + 3 * 3600 * 1000;
      const out = feed(p, noise(20, { base: 30, seed: 2 }), 10, later);
      assert.equal(out[0].gap, true);
      assert.equal(out[0].prediction.score, 0);
      assert.ok(Math.abs(out[0].prediction.forecast - 30) < 1, `${method}: ${out[0].prediction.forecast}`);
    }
  });

  it("keeps the work per reading of auto, ewma and holt constant: the state does not grow", function () {
    for (const method of ["auto", "ewma", "holt"]) {
      const p = new Predictor(predictOptions({ method, threshold: 90 }));
      // Two days of 30 s readings first: the daily profile and the threshold tracker's cycle bins are in place.
      feed(p, noise(6000, { seed: 1 }), 30);
      const small = JSON.stringify(p.toJSON()).length;
      feed(p, noise(6000, { seed: 2 }), 30, T0 + 6000 * 30000);
      assert.ok(JSON.stringify(p.toJSON()).length <= small * 1.05, `${method}: ${small} then ${JSON.stringify(p.toJSON()).length}`);
    }
    const l = new Predictor(predictOptions({ method: "linear", window: 50 }));
    feed(l, noise(5000));
    assert.ok(l.toJSON().f.y.length === 50, "linear keeps its window");
  });
});

describe("predict: state", function () {
  const cases = [];
  for (const method of METHODS) for (const robust of [false, true]) cases.push({ method, robust });
  cases.push({ method: "holt", damping: 3600 });

  for (const c of cases) {
    it(`continues identically after serialize and restore (${JSON.stringify(c)})`, function () {
      const r = rng(11);
      const values = Array.from({ length: 1500 }, (_, i) => Math.round((50 + 0.0005 * i * 10 + 0.3 * r.gauss() + (i % 200 === 150 ? 4 : 0) + (i > 900 ? 2 : 0)) * 10) / 10);
      const times = [];
      let t = T0;
      for (let i = 0; i < values.length; i++) times.push((t += (r() < 0.01 ? 2000 : 10) * 1000 * (0.8 + 0.4 * r())));
      const options = predictOptions({ ...c, threshold: 60, warning: 7200 });
      for (const cut of [3, 29, 31, 400, 1000]) {
        const a = new Predictor(options);
        for (let i = 0; i <= cut; i++) a.update(times[i], values[i]);
        const state = JSON.parse(JSON.stringify(a.toJSON()));
        const { predictor: b, restored } = Predictor.restore(options, state);
        assert.equal(restored, true);
        for (let i = cut + 1; i < values.length; i++) {
          assert.deepEqual(b.update(times[i], values[i]), a.update(times[i], values[i]), `cut ${cut}, reading ${i}`);
        }
        assert.deepEqual(b.toJSON(), a.toJSON());
      }
    });
  }

  it("restores a state saved before auto and calibrated intervals (version 1) to a fresh predictor", function () {
    const v1 = { v: 1, m: "holt", n: 500, t: T0, y: 20, dt: 10, f: { n: 500, L: 20, b: 0, P: 0.1, bv: 0, bm: 0, bn: 400, S: null }, b: [1], d: [0], e: [0], w: [0, 0] };
    for (const method of METHODS) {
      const { predictor, restored } = Predictor.restore(predictOptions({ method }), v1);
      assert.equal(restored, false, method);
      assert.equal(predictor.count, 0, method);
      assert.equal(predictor.update(T0 + 1000, 21).prediction.forecast, 21, method);
    }
  });

  it("starts fresh from nothing or a damaged state, and keeps only the detector of another method's", function () {
    const holt = new Predictor(predictOptions());
    feed(holt, noise(100));
    const state = JSON.parse(JSON.stringify(holt.toJSON()));
    assert.equal(Predictor.restore(predictOptions(), undefined).restored, false);
    // Another method's state: its detector goes on (an anomaly announced gets its end, no second
    // warm-up), its forecaster and scorer start anew (predict-restart.test.js).
    const other = Predictor.restore(predictOptions({ method: "ewma" }), state);
    assert.deepEqual(other.predictor.toJSON().a, state.a);
    assert.deepEqual(other.predictor.toJSON().f, new Predictor(predictOptions({ method: "ewma" })).toJSON().f);
    assert.equal(Predictor.restore(predictOptions(), { ...state, s: { n: "x" } }).restored, false);
    assert.equal(Predictor.restore(predictOptions(), { ...state, c: { y: "x" } }).restored, false);
    assert.equal(Predictor.restore(predictOptions({ method: "holt" }), { ...state, m: "holt", f: { n: "x" } }).restored, false);
    assert.equal(Predictor.restore(predictOptions(), { ...state, v: 99 }).restored, false);
    const fresh = Predictor.restore(predictOptions(), { ...state, a: null }).predictor;
    assert.equal(fresh.count, 0);
    assert.equal(Predictor.restore(predictOptions({ zThreshold: 6 }), state).restored, true, "changed settings keep what was learnt");
  });

  it("is plain JSON with no NaN or Infinity, at every stage", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method, robust: true, threshold: 25 }));
      const check = () => {
        const text = JSON.stringify(p.toJSON());
        assert.doesNotMatch(text, /null,null|NaN|Infinity/);
        assert.deepEqual(JSON.parse(text), p.toJSON());
      };
      check();
      const values = Array(40).fill(20);
      values.forEach((v, i) => {
        p.update(T0 + i * 1000, v);
        check();
      });
    }
  });
});
