"use strict";
// `skill` is what a user reads to judge a forecast: its recent mean absolute error at the horizon
// over persistence's (scorer.ts). A mutation test found nothing checking the ratio itself.
const assert = require("node:assert/strict");
const { seededGauss } = require("./core-support");
const { Scorer, MIN_SETTLED } = require("../../nodes/lib/core/predict/scorer");

const T0 = Date.UTC(2026, 0, 5);
const STEP = 10;

/** A walk read every STEP s, forecast one reading ahead by an explicit method forecasting `f(now, next)`; the skill reported at each reading. */
function skills(f, seed) {
  const gauss = seededGauss(seed);
  const values = [20];
  for (let i = 1; i < 200; i++) values.push(values[i - 1] + gauss());
  const scorer = new Scorer(2, 1);
  const out = [];
  for (let i = 0; i + 1 < values.length; i++) {
    const ts = T0 + i * STEP * 1000;
    scorer.settle(ts, values[i], STEP, STEP, () => true);
    out.push(scorer.issue(ts, [values[i], f(values[i], values[i + 1])], STEP, STEP, (x) => x).skill);
  }
  return out;
}

describe("predict: skill", function () {
  it("is the forecast's recent mean absolute error over persistence's, from the MIN_SETTLED-th settled forecast on", function () {
    for (const seed of [1, 2, 3]) {
      const same = skills((now) => now, seed);
      const half = skills((now, next) => now + 0.5 * (next - now), seed);
      const exact = skills((now, next) => next, seed);
      const twice = skills((now, next) => now - (next - now), seed);
      assert.equal(same[MIN_SETTLED - 1], null, "not before enough forecasts have settled");
      for (let i = MIN_SETTLED; i < same.length; i++) {
        assert.ok(Math.abs(same[i] - 1) < 1e-12, `persistence itself: ${same[i]}`);
        assert.ok(Math.abs(half[i] - 0.5) < 1e-12, `half way to the outcome: ${half[i]}`);
        assert.equal(exact[i], 0, "the outcome itself");
        assert.ok(Math.abs(twice[i] - 2) < 1e-12, `as far the other way: ${twice[i]}`);
      }
    }
  });
});
