"use strict";
// A candidate's forecast that is not a finite number (a degenerate fit) must not become the
// prediction, nor poison the scorer's error means, bank and interval once it settles.
const assert = require("node:assert/strict");
const { mulberry32 } = require("./core-support");
const { Scorer } = require("../../nodes/lib/core/predict/scorer");

function run(forced) {
  const rand = mulberry32(7);
  const scorer = new Scorer(3, forced);
  const clamp = (x) => Math.min(1e9, Math.max(-1e9, x));
  let y = 20;
  const published = [];
  for (let i = 0; i < 600; i++) {
    const ts = i * 60000;
    y += (rand() - 0.5) * 0.4;
    scorer.settle(ts, y, 60, 600, () => true);
    const bad = i % 7 === 3 ? [NaN, Infinity, -Infinity][i % 3] : y + 0.05;
    const out = scorer.issue(ts, [y, bad, y - 0.1], 60, 600, clamp);
    published.push(out);
  }
  return { scorer, published };
}

describe("prediction scorer: a candidate that cannot forecast", function () {
  for (const [label, forced] of [["auto", null], ["an explicit method", 1]]) {
    it(`with ${label}, every published forecast, interval, skill and coverage stays a finite number when a candidate gives NaN or Infinity now and then`, function () {
      const { scorer, published } = run(forced);
      for (const out of published) {
        assert.ok(Number.isFinite(out.forecast), `forecast ${out.forecast}`);
        assert.ok(Number.isFinite(out.lower) && Number.isFinite(out.upper), `interval ${out.lower}..${out.upper}`);
        assert.ok(out.lower <= out.forecast && out.forecast <= out.upper);
        if (out.skill !== null) assert.ok(Number.isFinite(out.skill), `skill ${out.skill}`);
        if (out.coverage !== null) assert.ok(Number.isFinite(out.coverage), `coverage ${out.coverage}`);
      }
      // Judged forecasts came in (the test would prove nothing on a scorer that never settled).
      assert.ok(published.at(-1).skill !== null, "no skill reported after 600 readings");
      // The state saved for a restart holds no NaN either (JSON would turn it into null).
      assert.doesNotMatch(JSON.stringify(scorer.toJSON()), /null/);
    });
  }
});
