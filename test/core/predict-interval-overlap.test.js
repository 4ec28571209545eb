"use strict";
// The calibrated interval where forecasts overlap (scorer.ts, GAMMA and START_OVERLAP): a sensor read every
// 10 s and forecast 1 h ahead has a dozen forecasts pending at once, each sharing most of its path
// with the next, so the first twenty settled errors hold two or three outcomes, not twenty. An
// interval started from them alone was often far too narrow, and a miss at that horizon is known
// only after a whole run of issued forecasts has missed: over an 8 h recording a user saw a
// fraction well below 90 % of the outcomes inside the nominal 95 % interval.
const assert = require("node:assert/strict");
const { seededGauss, intervalCoverage } = require("./core-support");
const { predictOptions } = require("../../nodes/lib/core/predict/options");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");

const STEP = 10;
const AHEAD = 360;
const READINGS = (8 * 3600) / STEP;

/** A walk read every 10 s for 8 h: `step` a reading, under reading noise `noise`. */
function walk(seed, step, noise) {
  const gauss = seededGauss(seed);
  let level = 20;
  return Array.from({ length: READINGS }, () => {
    level += step * gauss();
    return level + noise * gauss();
  });
}

/** Forecasts 1 h ahead at defaults: the share of outcomes inside the interval once it reports a coverage. */
function coverage(values) {
  const { share, judged } = intervalCoverage(values, new Predictor(predictOptions({ horizon: AHEAD * STEP })), { step: STEP, ahead: AHEAD });
  assert.ok(judged >= 1000, `${judged} outcomes judged`);
  return share;
}

const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

describe("predict: 1 h intervals of a sensor read every 10 s", function () {
  it("hold close to 95 % of outcomes on 8 h recordings of a random walk, where persistence is all there is", function () {
    // Started from the first twenty errors alone: 0.814 over these seeds, 16 of 20 below 90 %;
    // with their floor 0.894; started at it, with the offsets stepped per outcome, 0.888.
    const shares = SEEDS.map((seed) => coverage(walk(seed, 1, 0)));
    assert.ok(mean(shares) >= 0.87, `mean coverage ${mean(shares).toFixed(3)}`);
  });

  it("hold close to 95 % of outcomes on 8 h recordings of a slow drift under reading noise, where a smoothed level helps", function () {
    // Started from the first twenty errors alone: 0.860 over these seeds; with their floor 0.908;
    // started at it, with the offsets stepped per outcome, 0.889; with the floor under a young
    // calibrated interval (scorer.ts, FLOOR_SHARE), 0.913.
    const shares = SEEDS.map((seed) => coverage(walk(1000 + seed, 0.1, 1)));
    assert.ok(mean(shares) >= 0.9, `mean coverage ${mean(shares).toFixed(3)}`);
  });

  it("hold close to 95 % of outcomes on short series forecast several readings ahead", function () {
    // A hundred readings forecast 5-7 ahead judge about ten independent outcomes: one run of
    // misses there is a large share of them. With the offsets stepped per settled forecast (each
    // outcome spans 5-7 of them) 0.906 of outcomes were inside on average and 53 of these 120
    // walks ended below 90 %; stepped per outcome, 0.921 and 28.
    const shares = [];
    for (const [step, ahead] of [[600, 6], [86400, 7], [365 * 86400, 5]]) {
      for (let seed = 1; seed <= 40; seed++) {
        const gauss = seededGauss(seed);
        let level = 0;
        const values = Array.from({ length: 100 }, () => (level += gauss()));
        const c = intervalCoverage(values, new Predictor(predictOptions({ horizon: ahead * step })), { step, ahead });
        assert.ok(c.judged >= 50, `${c.judged} judged`);
        shares.push(c.share);
      }
    }
    assert.ok(mean(shares) >= 0.915, `mean coverage ${mean(shares).toFixed(3)}`);
    const below = shares.filter((c) => c < 0.9).length;
    assert.ok(below <= 36, `${below} of ${shares.length} walks below 90 %`);
  });
});
