"use strict";
// What the anomaly detector promises whatever the readings: random series of every shape a
// field device sends (gaps, jitter, equal or older timestamps, steps, spikes, dropouts, wild
// glitches, stuck runs, quantised values, a few settings), each checked for the invariants
// below. A seed that fails is named, so `gen(seed)` rebuilds the series.
const assert = require("node:assert/strict");
const { AnomalyDetector, DETECTOR_DEFAULTS } = require("../../nodes/lib/core/predict/detector");

/** xorshift32: the same series for a seed on every machine. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function gen(seed) {
  const r = rng(seed * 2654435761);
  const g = () => {
    let u = 0;
    for (let i = 0; i < 6; i++) u += r();
    return (u - 3) * 1.41;
  };
  const n = 300 + Math.floor(r() * 1200);
  const dt0 = [1, 10, 60, 600, 86400 * 30][Math.floor(r() * 5)] * 1000;
  const q = r() < 0.5 ? [1, 0.1, 0.01, 0.5, 8][Math.floor(r() * 5)] : 0;
  const noise = r() < 0.2 ? 0 : Math.pow(10, -3 + r() * 4);
  const base = (r() - 0.5) * Math.pow(10, Math.floor(r() * 6));
  const amp = r() < 0.5 ? 0 : noise * r() * 50;
  const jitter = r() < 0.3;
  const out = [];
  let ts = 1764000000000;
  let level = base;
  let stuckLeft = 0;
  let stuckValue = 0;
  for (let i = 0; i < n; i++) {
    let dt = dt0;
    if (jitter) dt *= 0.5 + r();
    const ev = r();
    if (ev < 0.01) dt *= 5 + r() * 60; // a gap
    if (ev > 0.995) dt = r() < 0.5 ? 0 : -dt0; // an equal or older timestamp
    ts += Math.round(dt);
    if (r() < 0.004) level += (r() - 0.5) * noise * 40 + (r() < 0.3 ? (r() - 0.5) * Math.abs(base + 1) : 0); // a step
    let v = level + amp * Math.sin(i / 50) + noise * g();
    const e = r();
    if (e < 0.01) v += (r() < 0.5 ? -1 : 1) * noise * (5 + r() * 30); // a spike
    else if (e < 0.013) v = 0; // a dropout
    else if (e < 0.016) v = 1e9 * (r() - 0.5); // a wild glitch
    if (stuckLeft > 0) {
      v = stuckValue;
      stuckLeft--;
    } else if (r() < 0.004) {
      stuckLeft = 10 + Math.floor(r() * 300);
      stuckValue = v;
    }
    if (q) v = Math.round(v / q) * q;
    out.push({ ts, value: v });
  }
  return out;
}

function optionsFor(seed) {
  if (seed % 7 === 0) return { ...DETECTOR_DEFAULTS, resolution: [0.01, 0.1, 1][seed % 3] };
  if (seed % 5 === 0) return { ...DETECTOR_DEFAULTS, levelShift: 600, warmup: 5, warmupTime: 0 };
  return { ...DETECTOR_DEFAULTS };
}

const SEEDS = 60;

describe("predict detector: invariants on random field-shaped series", function () {
  this.timeout(60000);

  it(`never throws on finite readings, gives no flag or score without a verdict, keeps every figure finite, ends every episode within levelShift and keeps its state small (${SEEDS} seeds)`, function () {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const data = gen(seed);
      const d = new AnomalyDetector(optionsFor(seed));
      let openTs = null;
      data.forEach(({ ts, value }, i) => {
        const levelShift = d.levelShiftTime() * 1000;
        const v = d.update(ts, value);
        const at = `seed ${seed}, reading ${i}`;
        if (!v.verdict) assert.ok(!v.flagged && v.score === 0, `a flag or score without a verdict, ${at}`);
        assert.ok(Number.isFinite(v.score) && Number.isFinite(v.expected), `a non-finite verdict, ${at}`);
        for (const a of v.alerts) {
          for (const [k, x] of Object.entries(a)) if (typeof x === "number") assert.ok(Number.isFinite(x), `alert ${k} not finite, ${at}`);
          if (a.type === "anomaly") openTs = a.state === "start" ? ts : null;
        }
        if (d.anomalous && openTs !== null && v.verdict) assert.ok(ts - openTs < levelShift, `an episode open for levelShift after a verdict, ${at}`);
        assert.ok(JSON.stringify(d.toJSON()).length <= 3000, `state over 3,000 characters, ${at}`);
      });
    }
  });

  it(`continues from its saved state exactly as it would have, wherever the state was taken (${SEEDS} seeds)`, function () {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const data = gen(seed);
      const options = optionsFor(seed);
      const live = new AnomalyDetector(options);
      const verdicts = data.map(({ ts, value }) => JSON.stringify(live.update(ts, value)));
      const r = rng(seed + 99);
      // Random points, and the readings just after a flag and just after a gap, where the state
      // holds the most that a restore could drop (the last reading's part in an anomaly, a level
      // taken across a gap).
      const flagged = verdicts.map((v, i) => (JSON.parse(v).flagged ? i + 1 : -1)).filter((i) => i > 0);
      const gaps = data.map((p, i) => (i > 0 && p.ts - data[i - 1].ts > 5 * Math.abs(data[1].ts - data[0].ts) ? i + 1 : -1)).filter((i) => i > 0);
      const cuts = [0, 1, 20, 21, ...Array.from({ length: 4 }, () => Math.floor(r() * data.length)), ...flagged.slice(0, 4), ...gaps.slice(0, 4)];
      for (const cut of cuts) {
        const a = new AnomalyDetector(options);
        for (let i = 0; i < cut; i++) a.update(data[i].ts, data[i].value);
        const b = AnomalyDetector.from(options, JSON.parse(JSON.stringify(a.toJSON())));
        for (let i = cut; i < data.length; i++) {
          assert.equal(JSON.stringify(b.update(data[i].ts, data[i].value)), verdicts[i], `seed ${seed}, restored at ${cut}, reading ${i}`);
        }
      }
    }
  });
  it("continues exactly from a state saved at any reading around a gap with a glitch after it, a spike and a stuck run, and just after a spike on a signal that holds one value", function () {
    // Where the state carries most: a level taken across a gap and waiting to be undone, an open
    // stuck episode, and the last reading's part in an anomaly (restored just after a spike on a
    // signal that holds one value, the change back must still not count as its resolution).
    const r = rng(7);
    const around = [];
    for (let i = 0; i < 700; i++) {
      if (i >= 300 && i < 330) continue;
      let value = Math.round((50 + Math.sin(i / 40) + 0.2 * (r() - 0.5)) * 10) / 10;
      if (i === 330) value = 42;
      if (i === 400) value = 58;
      if (i >= 500 && i < 560) value = 49.5;
      around.push({ ts: 1764000000000 + i * 10000, value });
    }
    const flat = Array.from({ length: 600 }, (_, i) => ({ ts: 1764000000000 + i * 10000, value: i === 300 || i === 450 ? 58 : 50 }));
    for (const [data, cuts] of [[around, Array.from({ length: 300 }, (_, k) => 260 + k)], [flat, [300, 301, 302]]]) {
      const live = new AnomalyDetector(DETECTOR_DEFAULTS);
      const verdicts = data.map(({ ts, value }) => JSON.stringify(live.update(ts, value)));
      assert.ok(verdicts.some((v) => JSON.parse(v).flagged), "a fault is flagged");
      for (const cut of cuts) {
        const a = new AnomalyDetector(DETECTOR_DEFAULTS);
        for (let i = 0; i < cut; i++) a.update(data[i].ts, data[i].value);
        const b = AnomalyDetector.from(DETECTOR_DEFAULTS, JSON.parse(JSON.stringify(a.toJSON())));
        for (let i = cut; i < Math.min(data.length, cut + 200); i++) {
          assert.equal(JSON.stringify(b.update(data[i].ts, data[i].value)), verdicts[i], `restored at ${cut}, reading ${i}`);
        }
      }
    }
  });
});
