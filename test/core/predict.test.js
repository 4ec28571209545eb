"use strict";
// Units of src/core/predict: smoothing, options, the three forecasters, anomaly scoring and its
// hysteresis, drift, time to threshold, gaps, and the state round trip.
const assert = require("node:assert/strict");
const { alpha, keep, EwStats, roundSig } = require("../../nodes/lib/core/predict/smoothing");
const { readConfig, predictOptions, DEFAULTS } = require("../../nodes/lib/core/predict/options");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");
const { Ewma } = require("../../nodes/lib/core/predict/ewma");
const { Holt } = require("../../nodes/lib/core/predict/holt");
const { Linear } = require("../../nodes/lib/core/predict/linear");
const { Ring } = require("../../nodes/lib/core/predict/ring");

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

  it("gives no verdict during warm-up, however far off a reading is", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method, threshold: 0 }));
      const values = noise(30);
      values[20] = 1000;
      const out = feed(p, values);
      assert.ok(out.every((o) => o.prediction.score === 0 && !o.prediction.anomaly && o.alerts.length === 0), method);
      assert.ok(out.every((o) => o.prediction.timeToThreshold === null), "no time to threshold either");
    }
  });

  it("does not fire on a constant reading that starts to move by one step", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method }));
      // Constant for 100 readings (no change yet to learn the step from), then one step.
      const out = feed(p, [...Array(100).fill(21.5), 21.6, 21.5, 21.5, 21.5]);
      assert.equal(out.flatMap((o) => o.alerts).length, 0, method);
      assert.ok(out[100].prediction.score < 0.45, `${method}: ${out[100].prediction.score}`);
    }
  });

  it("does not fire on a flat quantised signal that toggles by one step", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method }));
      const r = rng(9);
      // Sits on 20.0, now and then 20.1 or 19.9 (a value near a quantisation boundary).
      const values = Array.from({ length: 5000 }, () => (r() < 0.03 ? (r() < 0.5 ? 20.1 : 19.9) : 20));
      const out = feed(p, values);
      assert.equal(out.flatMap((o) => o.alerts).length, 0, method);
      assert.ok(Math.max(...out.map((o) => o.prediction.score)) < 0.45, `${method}: one step scores about 0.4`);
    }
  });

  it("does not learn from the readings it flags: repeated spikes stay anomalous", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method }));
      const values = noise(400, { seed: 4 });
      for (let i = 100; i < 400; i += 15) values[i] += 5; // 25 sigma, every 15 readings
      const out = feed(p, values);
      for (let i = 100; i < 400; i += 15) assert.equal(out[i].flagged, true, `${method} spike at ${i}`);
      const starts = out.flatMap((o) => o.alerts).filter((a) => a.type === "anomaly" && a.state === "start");
      assert.equal(starts.length, 20, `${method}: one anomaly per spike`);
      for (const a of starts) assert.ok(Math.abs(a.expected - 20) < 0.3, `${method}: the level did not move toward the spikes (${a.expected})`);
    }
  });

  it("starts and ends one anomaly per spike (hysteresis)", function () {
    const p = new Predictor(predictOptions());
    const values = noise(200, { seed: 5 });
    values[100] = 25;
    const out = feed(p, values);
    const alerts = out.flatMap((o, i) => o.alerts.map((a) => ({ i, ...a })));
    assert.deepEqual(alerts.map((a) => `${a.type}:${a.state}@${a.i}`), ["anomaly:start@100", "anomaly:end@103"]);
    assert.equal(alerts[0].value, 25);
    assert.ok(alerts[0].score >= 1);
    assert.ok(Math.abs(alerts[0].expected - 20) < 0.3);
    assert.equal(alerts[1].duration, 30);
    assert.equal(out[101].prediction.anomaly, true, "still in the anomaly until it calms down");
    assert.equal(out[103].prediction.anomaly, false);
  });

  it("accepts a lasting step: drift detected, the level moves, the anomaly ends", function () {
    for (const method of METHODS) {
      const p = new Predictor(predictOptions({ method }));
      const values = noise(300, { seed: 6 }).map((v, i) => (i >= 150 ? v + 3 : v));
      const out = feed(p, values);
      const alerts = out.flatMap((o, i) => o.alerts.map((a) => ({ i, ...a })));
      const drift = alerts.find((a) => a.type === "drift");
      assert.ok(drift && drift.i >= 150 && drift.i < 160, `${method}: drift soon after the step (${JSON.stringify(alerts)})`);
      assert.equal(drift.direction, "up");
      assert.ok(Math.abs(drift.to - 23) < 0.5, `${method}: new level ${drift.to}`);
      assert.equal(out[299].prediction.anomaly, false, method);
      assert.ok(Math.abs(out[299].prediction.forecast - 23) < 0.5, method);
    }
  });

  it("finds a step too small to be an anomaly as drift", function () {
    const p = new Predictor(predictOptions());
    const values = noise(400, { seed: 7, q: 0.01 }).map((v, i) => (i >= 200 ? v + 0.5 : v)); // 2.5 sigma
    const out = feed(p, values);
    const alerts = out.flatMap((o, i) => o.alerts.map((a) => ({ i, ...a })));
    assert.ok(!alerts.some((a) => a.type === "anomaly"));
    const drift = alerts.filter((a) => a.type === "drift");
    assert.equal(drift.length, 1);
    assert.ok(drift[0].i >= 200 && drift[0].i < 230, `at ${drift[0].i}`);
  });

  it("does not alert on drift when told not to, but still accepts the shift", function () {
    const p = new Predictor(predictOptions({ drift: false }));
    const out = feed(p, noise(300, { seed: 6 }).map((v, i) => (i >= 150 ? v + 3 : v)));
    assert.ok(!out.flatMap((o) => o.alerts).some((a) => a.type === "drift"));
    assert.equal(out[299].prediction.anomaly, false);
  });

  it("restarts the level after a long gap, with no verdict on the first reading after it", function () {
    for (const method of ["ewma", "holt"]) {
      const p = new Predictor(predictOptions({ method }));
      feed(p, noise(100));
      // Three hours later (more than 10 intervals and 2 half-lives): the machine restarted warmer.
      const later = T0 + 100 * 10000 + 3 * 3600 * 1000;
      const out = feed(p, noise(20, { base: 30, seed: 2 }), 10, later);
      assert.equal(out[0].gap, true);
      assert.equal(out[0].prediction.score, 0);
      assert.ok(out.every((o) => o.alerts.length === 0), `${method}: ${JSON.stringify(out.flatMap((o) => o.alerts))}`);
      assert.ok(Math.abs(out[19].prediction.forecast - 30) < 1, method);
    }
  });

  it("widens the spread after a shorter gap instead of scoring as usual", function () {
    const p = new Predictor(predictOptions({ method: "holt" }));
    feed(p, noise(200, { seed: 8 }));
    const state = JSON.stringify(p.toJSON());
    const normal = p.update(T0 + 200 * 10000, 20.8);
    const q = Predictor.restore(p.options, JSON.parse(state)).predictor;
    const afterGap = q.update(T0 + 199 * 10000 + 900 * 1000, 20.8);
    assert.equal(afterGap.gap, false);
    assert.ok(afterGap.prediction.score < normal.prediction.score, `${afterGap.prediction.score} < ${normal.prediction.score}`);
  });

  it("times the threshold, above and below, and is 0 once past it", function () {
    const up = new Predictor(predictOptions({ threshold: 30, warning: 3600 }));
    const out = feed(up, Array.from({ length: 300 }, (_, i) => 20 + 0.001 * i * 10));
    const last = out[299].prediction;
    const truth = (30 - (20 + 0.001 * 2990)) / 0.001;
    assert.ok(Math.abs(last.timeToThreshold - truth) < 1, `${last.timeToThreshold} vs ${truth}`);
    const down = new Predictor(predictOptions({ threshold: 10, direction: "below" }));
    const outDown = feed(down, Array.from({ length: 300 }, (_, i) => 20 - 0.001 * i * 10));
    assert.ok(Math.abs(outDown[299].prediction.timeToThreshold - (20 - 2.99 - 10) / 0.001) < 1);
    const away = new Predictor(predictOptions({ threshold: 10, direction: "below" }));
    assert.equal(feed(away, Array.from({ length: 300 }, (_, i) => 20 + 0.001 * i * 10))[299].prediction.timeToThreshold, null);
    const past = new Predictor(predictOptions({ threshold: 15 }));
    assert.equal(feed(past, Array(100).fill(20))[99].prediction.timeToThreshold, 0);
  });

  it("warns once when the threshold comes within the warning horizon, and clears with hysteresis", function () {
    const p = new Predictor(predictOptions({ threshold: 30, warning: 3600 }));
    // Rises toward 30 (crossing in about 1 h at reading 400), then falls back.
    const values = Array.from({ length: 1200 }, (_, i) => (i < 500 ? 20 + 0.002 * i * 10 : 30 - 0.002 * (i - 500) * 10));
    const alerts = feed(p, values).flatMap((o, i) => o.alerts.map((a) => ({ i, ...a })));
    const t = alerts.filter((a) => a.type === "threshold");
    assert.deepEqual(t.map((a) => a.state), ["start", "end"]);
    assert.ok(t[0].timeToThreshold <= 3600 && t[0].timeToThreshold > 3000);
    assert.equal(t[0].limit, 30);
    assert.equal(t[0].direction, "above");
  });

  it("keeps the work per reading of ewma and holt constant: the state does not grow", function () {
    for (const method of ["ewma", "holt"]) {
      const p = new Predictor(predictOptions({ method, threshold: 90 }));
      feed(p, noise(1000, { seed: 1 }));
      const small = JSON.stringify(p.toJSON()).length;
      feed(p, noise(20000, { seed: 2 }), 10, T0 + 1000 * 10000);
      assert.ok(JSON.stringify(p.toJSON()).length <= small + 40, method);
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

  it("starts fresh from nothing, another method's state or a damaged one", function () {
    const holt = new Predictor(predictOptions());
    feed(holt, noise(100));
    const state = JSON.parse(JSON.stringify(holt.toJSON()));
    assert.equal(Predictor.restore(predictOptions(), undefined).restored, false);
    assert.equal(Predictor.restore(predictOptions({ method: "ewma" }), state).restored, false);
    assert.equal(Predictor.restore(predictOptions(), { ...state, f: { n: "x" } }).restored, false);
    assert.equal(Predictor.restore(predictOptions(), { ...state, v: 99 }).restored, false);
    const fresh = Predictor.restore(predictOptions(), { ...state, b: null }).predictor;
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
