"use strict";
// What the core tests share: a fixed start time, a clock the test moves by hand, a plain view of
// the registry's null-prototype objects, and the TwinError assertion.
const assert = require("assert");

const T0 = 1764000000000;

/** A clock the test moves by hand: clock() is now, clock.advance(ms) moves it on. */
function manualClock(start = T0) {
  let now = start;
  const clock = () => now;
  clock.advance = (ms) => (now += ms);
  return clock;
}

/** Plain-object view (the registry hands out null-prototype objects). */
const plain = (value) => JSON.parse(JSON.stringify(value));

/** Asserts fn throws a TwinError with this code and (a superset of) these params; a RegExp param matches. */
function throwsTwin(fn, code, params = {}) {
  assert.throws(fn, (err) => {
    assert.strictEqual(err.name, "TwinError", `expected a TwinError, got ${err && err.stack}`);
    assert.strictEqual(err.code, code, `expected ${code}, got ${err.message}`);
    for (const [key, value] of Object.entries(params)) {
      if (value instanceof RegExp) assert.match(String(err.params[key]), value, `param ${key}`);
      else assert.strictEqual(err.params[key], value, `param ${key}`);
    }
    return true;
  });
}

// A seeded uniform draw in [0, 1): the benches' generator, so a test and a bench draw the same numbers.
const { mulberry32 } = require("../../bench/lib");

/** Seeded standard normal draws (Box-Muller over mulberry32). */
function seededGauss(seed) {
  const next = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/**
 * Feeds `values` (one reading every `step` seconds from `t0`) to `predictor` and judges each
 * published interval by the reading `ahead` readings later, once the interval is calibrated (it
 * reports a coverage): the share of those outcomes inside, how many were judged, and every prediction.
 */
function intervalCoverage(values, predictor, { step, ahead, t0 = T0 }) {
  const preds = values.map((v, i) => predictor.update(t0 + i * step * 1000, v).prediction);
  let inside = 0;
  let judged = 0;
  for (let i = 0; i + ahead < values.length; i++) {
    if (preds[i].coverage === null) continue;
    judged++;
    if (values[i + ahead] >= preds[i].lower && values[i + ahead] <= preds[i].upper) inside++;
  }
  return { share: inside / judged, judged, preds };
}

module.exports = { T0, manualClock, plain, throwsTwin, mulberry32, seededGauss, intervalCoverage };
