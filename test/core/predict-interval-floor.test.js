"use strict";
// The floor under a young calibrated interval (scorer.ts, FLOOR_SHARE): forecast an hour ahead
// every few seconds, the calibrated interval's first hours rest on the errors of two or three
// overlapping hours, and an interval that started narrow held a small share of a recording's
// outcomes. Until its errors hold FLOOR_HORIZONS horizons of outcomes, a sensor's interval is at
// least a share of the readings' own change over the horizon; the floor then ends, leaving the
// calibrated interval as it would have been.
const assert = require("node:assert/strict");
const { seededGauss } = require("./core-support");
const { predictOptions } = require("../../nodes/lib/core/predict/options");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");
const { Scorer } = require("../../nodes/lib/core/predict/scorer");

const T0 = Date.UTC(2026, 0, 5);
const AMPLITUDE = 5;

/**
 * A cycle whose period is the horizon, read every `step` seconds under a little noise: what is
 * read a horizon later is what is read now, so the forecast's errors are tiny, while the readings
 * move by about the amplitude over the shorter lags.
 */
function cycle(horizon, step, count, seed = 1) {
  const gauss = seededGauss(seed);
  return Array.from({ length: count }, (_, i) => ({
    ts: T0 + i * step * 1000,
    v: 20 + AMPLITUDE * Math.sin((2 * Math.PI * i * step) / horizon) + 0.02 * gauss(),
  }));
}

/** The half widths of the calibrated intervals (those that report a coverage), with their times. */
function halves(predictor, points) {
  const out = [];
  for (const { ts, v } of points) {
    const o = predictor.update(ts, v);
    if (o && o.prediction.coverage !== null) out.push({ hours: (ts - T0) / 3600e3, half: (o.prediction.upper - o.prediction.lower) / 2 });
  }
  return out;
}

describe("predict: the floor under a young calibrated interval", function () {
  it("holds a sensor's interval to a share of the readings' change over the horizon while few horizons are judged, then ends", function () {
    const points = cycle(3600, 10, (16 * 3600) / 10);
    const h = halves(new Predictor(predictOptions({ horizon: 3600 })), points);
    const young = h.filter((x) => x.hours < 8);
    const old = h.filter((x) => x.hours > 13);
    assert.ok(young.length > 100 && old.length > 100, `${young.length} young, ${old.length} old`);
    // Over lags spread evenly up to the horizon (one period), the square change of a sine averages
    // AMPLITUDE^2 and the lags half the horizon: a walk's pace of 2 AMPLITUDE^2 a horizon, whose 95 %
    // change is 1.96 x sqrt(2) AMPLITUDE; 0.7 of it is 1.94 AMPLITUDE (measured 1.90-1.98).
    const widths = young.map((x) => x.half);
    assert.ok(Math.min(...widths) > 1.7 * AMPLITUDE && Math.max(...widths) < 2.2 * AMPLITUDE, `young half widths ${Math.min(...widths)} to ${Math.max(...widths)}`);
    // Once the floor ends, the interval is the calibrated one: the errors' scale, a small part of the cycle.
    assert.ok(Math.max(...old.map((x) => x.half)) < 1, `widest half width after the floor ${Math.max(...old.map((x) => x.half))}`);
  });

  it("leaves the calibration as it would be without it: the offsets are judged on the interval they gave", function () {
    // Two scorers fed the same readings and forecasts (persistence alone), one told every reading
    // was flagged: it learns no pace, so no floor. Their published intervals differ while the
    // floor holds; what the offsets and the integrator learn must not (judged on the floored
    // interval, no reading would miss it, and the calibration would come out of the floor too narrow).
    const points = cycle(3600, 10, (10 * 3600) / 10, 3);
    const floored = new Scorer(1, null);
    const plain = new Scorer(1, null);
    const all = () => true;
    let wider = 0;
    for (const { ts, v } of points) {
      floored.settle(ts, v, 10, 3600, all, false);
      plain.settle(ts, v, 10, 3600, all, true);
      const a = floored.issue(ts, [v], 10, 3600, (x) => x, false);
      const b = plain.issue(ts, [v], 10, 3600, (x) => x, true);
      if (a.coverage !== null) {
        if (a.upper - a.lower > 10 * (b.upper - b.lower)) wider++;
        const [sa, sb] = [floored.toJSON(), plain.toJSON()];
        assert.deepEqual([sa.c[0], sa.c[1], sa.i], [sb.c[0], sb.c[1], sb.i], `offsets and integrator at ${(ts - T0) / 3600e3} h`);
      }
    }
    assert.ok(wider > 1000, `${wider} intervals floored`);
  });

  it("is not for a slow series: a monthly one forecast a year ahead keeps the interval its errors give", function () {
    // Over a year ahead the changes over shorter lags hold a seasonal swing the forecast does not make.
    const month = (365.25 / 12) * 86400;
    const points = cycle(12 * month, month, 240);
    const h = halves(new Predictor(predictOptions({ horizon: 12 * month })), points);
    assert.ok(h.length > 50, `${h.length} calibrated`);
    assert.ok(Math.max(...h.map((x) => x.half)) < 1, `widest half width ${Math.max(...h.map((x) => x.half))}`);
  });

  it("continues identically after a restore while the floor holds", function () {
    const points = cycle(3600, 10, (9 * 3600) / 10, 2);
    const options = predictOptions({ horizon: 3600 });
    const a = new Predictor(options);
    const cut = (5 * 3600) / 10;
    for (const { ts, v } of points.slice(0, cut)) a.update(ts, v);
    const state = JSON.parse(JSON.stringify(a.toJSON()));
    // A forecast issued under the floor keeps the bounds the offsets are judged on: 7 numbers, one per candidate (4), and those 2.
    assert.ok(state.s.p.some((slot) => slot.length === 13), "a pending forecast was issued under the floor");
    const { predictor: b, restored } = Predictor.restore(options, state);
    assert.equal(restored, true);
    for (const { ts, v } of points.slice(cut)) assert.deepEqual(b.update(ts, v), a.update(ts, v));
  });
});
