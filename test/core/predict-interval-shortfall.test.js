"use strict";
// The calibrated interval's integrator (scorer.ts, conformal PID control): at a horizon of several
// readings, a change of level is a run of misses before the first of them settles, and the next
// change, the other way, is another run. The share of outcomes inside the nominal 95 % interval
// must still stay at 90 % or above, not only on a long series.
const assert = require("node:assert/strict");
const { mulberry32, intervalCoverage } = require("./core-support");
const { predictOptions } = require("../../nodes/lib/core/predict/options");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");

const T0 = Date.UTC(2026, 0, 1);
const STEP = 600;
const AHEAD = 6;

/** A level that moves by `shift` every `every` readings, up and back down, with a little noise, read every 10 min. */
function activity(seed, n = 160, every = 40, shift = 0.5) {
  const r = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  let level = 37;
  return Array.from({ length: n }, (_, i) => {
    if (i > 0 && i % every === 0) level += Math.floor(i / every) % 2 ? shift : -shift;
    return Math.round((level + 0.05 * gauss()) * 100) / 100;
  });
}

/** Forecasts 1 h (6 readings) ahead; the share of outcomes inside the interval once it is calibrated. */
function coverage(values, predictor = new Predictor(predictOptions({ horizon: AHEAD * STEP }))) {
  return intervalCoverage(values, predictor, { step: STEP, ahead: AHEAD, t0: T0 });
}

describe("predict: the interval makes up a shortfall of coverage", function () {
  it("keeps about 90 % or more of outcomes inside the 95 % interval when the level moves up and down faster than forecasts settle", function () {
    // Without the integrator: 0.849 to 0.899 over these seeds (mean 0.869); each change the
    // other way met a side the first run of misses had left narrow.
    const shares = [1, 2, 3, 4, 5].map((seed) => coverage(activity(seed)));
    for (const c of shares) {
      assert.ok(c.judged >= 100, `${c.judged} judged`);
      assert.ok(c.share >= 0.88, `coverage ${c.share.toFixed(3)} of ${c.judged}`);
    }
    const mean = shares.reduce((a, c) => a + c.share, 0) / shares.length;
    assert.ok(mean >= 0.895, `mean coverage ${mean.toFixed(3)}`);
  });

  it("restores a state saved before the integrator, and carries the shortfall across a restart", function () {
    const values = activity(2);
    const options = predictOptions({ horizon: AHEAD * STEP });
    const first = new Predictor(options);
    for (let i = 0; i < 80; i++) first.update(T0 + i * STEP * 1000, values[i]);
    const state = JSON.parse(JSON.stringify(first.toJSON()));
    assert.ok(Array.isArray(state.s.i) && state.s.i.length === 2, "the integrator's totals are saved");

    const same = Predictor.restore(options, state);
    assert.equal(same.restored, true);
    const older = JSON.parse(JSON.stringify(state));
    delete older.s.i;
    const old = Predictor.restore(options, older);
    assert.equal(old.restored, true);
    for (let i = 80; i < values.length; i++) {
      const a = same.predictor.update(T0 + i * STEP * 1000, values[i]).prediction;
      const b = first.update(T0 + i * STEP * 1000, values[i]).prediction;
      assert.deepEqual(a, b, `reading ${i}: the restored predictor goes on as the one that never stopped`);
      const c = old.predictor.update(T0 + i * STEP * 1000, values[i]).prediction;
      assert.ok(Number.isFinite(c.lower) && c.lower <= c.forecast && c.forecast <= c.upper);
    }
  });
});
