// Per-reading cost of the twin-predict estimators, measured on the core directly (issue 4):
// does a reading cost the same after 20,000 readings of a series (every warm-up over) as after 100,000?
//
//   node --expose-gc bench/predict.js [late=100000] [clones=200] [block=100] [rounds=5]
//
// For each method (auto, ewma, holt, linear; the node's defaults plus a threshold, so time to threshold
// is computed too) one live Predictor is fed a synthetic series, a reading every 10 s: a daily
// cycle, slow wear, Gaussian noise quantised to 0.1, a fault spike every 5,000 readings. Its
// state (toJSON) is taken after `early` (20,000) and after `late` readings. A timed block restores
// `clones` predictors from one of those states (Predictor.restore continues exactly where the
// live one stopped: checked below against the live series) and gives each the next `block`
// readings of the series, interleaved across the clones (as a flow interleaves twins). The
// per-reading cost is the block's time over clones x block. Blocks alternate early/late over
// `rounds` rounds after one untimed round; medians. The same is then done for the forecaster
// alone (Ewma/Holt/Linear.update, auto's Candidates.update, restored from the predictor's state),
// without anomaly scoring, drift and threshold.
"use strict";
const path = require("path");
const { performance } = require("perf_hooks");
const { childMain, median, packageDir, fullGc } = require("./lib");

const LATE = Number(process.argv[2] || 100000);
const CLONES = Number(process.argv[3] || 200);
const BLOCK = Number(process.argv[4] || 100);
const ROUNDS = Number(process.argv[5] || 5);
// After every warm-up: the detector's 30 min, auto's daily profile and the threshold tracker's
// cycle bins (two days of 10 s readings: 17,280). Before them a reading costs less (no verdicts,
// one line instead of one per phase), which is not what "flat in the readings seen" asks.
// A quick run (fewer than 100,000 readings) compares a fifth of its readings with all of them.
const EARLY = Math.min(20000, Math.floor(LATE / 5));
const METHODS = ["auto", "ewma", "holt", "linear"];
const T0 = 1764000000000;
const STEP_MS = 10000;

function predictLib() {
  const dir = path.join(packageDir(), "nodes", "lib", "core", "predict");
  return {
    Predictor: require(path.join(dir, "predictor.js")).Predictor,
    predictOptions: require(path.join(dir, "options.js")).predictOptions,
    Ewma: require(path.join(dir, "ewma.js")).Ewma,
    Holt: require(path.join(dir, "holt.js")).Holt,
    Linear: require(path.join(dir, "linear.js")).Linear,
    Candidates: require(path.join(dir, "candidates.js")).Candidates,
  };
}

/** The series: value of reading i (deterministic: a hashed Gaussian, not a shared PRNG state). */
function unit(i, salt) {
  let t = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt, 0x85ebca6b)) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
}
function valueAt(i) {
  const gauss = Math.sqrt(-2 * Math.log(unit(i, 1))) * Math.cos(2 * Math.PI * unit(i, 2));
  let v = 60 + 2 * Math.sin((2 * Math.PI * i) / 8640) + 0.00002 * i + 0.3 * gauss;
  if (i > 0 && i % 5000 === 0) v += 8;
  return Math.round(v * 10) / 10;
}
const tsAt = (i) => T0 + i * STEP_MS;

function forecasterFrom(lib, options, state) {
  // auto's forecasters are its candidates (persistence, ewma, holt, seasonal), updated together.
  if (options.method === "auto") return () => ({ c: lib.Candidates.from(options.horizon, state.c), ts: 0, update(dt, v) { this.c.update((this.ts += dt * 1000), dt, v, dt); } });
  if (options.method === "ewma") return () => lib.Ewma.from(options.halfLife, state.f);
  if (options.method === "linear") return () => lib.Linear.from(options.window, state.f);
  const settings = { halfLife: options.halfLife, trendHalfLife: options.trendHalfLife, damping: options.damping, warmup: options.warmup };
  return () => lib.Holt.from(settings, state.f);
}

/** Time per reading (ns) of `block` readings from reading `from` on `clones` fresh copies. */
function timeBlock(makeCopy, feed, from) {
  const copies = [];
  for (let c = 0; c < CLONES; c++) copies.push(makeCopy());
  fullGc();
  const t0 = performance.now();
  for (let j = 0; j < BLOCK; j++) {
    const i = from + j;
    const ts = tsAt(i);
    const v = valueAt(i);
    for (let c = 0; c < CLONES; c++) feed(copies[c], ts, v, i);
  }
  const ms = performance.now() - t0;
  return (ms * 1e6) / (CLONES * BLOCK);
}

async function main() {
  const lib = predictLib();
  const out = { early: EARLY, late: LATE, clones: CLONES, block: BLOCK, rounds: ROUNDS, stepS: STEP_MS / 1000, methods: {} };
  for (const method of METHODS) {
    const options = lib.predictOptions({ method, threshold: 90 });
    const live = new lib.Predictor(options);
    const states = {};
    const built = performance.now();
    let alerts = 0;
    for (let i = 0; i < LATE; i++) {
      if (i === EARLY) states.early = JSON.parse(JSON.stringify(live.toJSON()));
      const o = live.update(tsAt(i), valueAt(i));
      alerts += o ? o.alerts.length : 0;
    }
    states.late = JSON.parse(JSON.stringify(live.toJSON()));
    const buildMs = performance.now() - built;
    // A clone continues exactly as the live series does.
    const clone = lib.Predictor.restore(options, states.late);
    if (!clone.restored) throw new Error(`${method}: the state after ${LATE} readings does not restore`);
    for (let i = LATE; i < LATE + 20; i++) {
      const a = JSON.stringify(live.update(tsAt(i), valueAt(i)));
      const b = JSON.stringify(clone.predictor.update(tsAt(i), valueAt(i)));
      if (a !== b) throw new Error(`${method}: a restored predictor differs from the live one at reading ${i}`);
    }
    const at = { early: EARLY, late: LATE };
    const predictor = { early: [], late: [] };
    const forecaster = { early: [], late: [] };
    const makePredictor = (stage) => () => lib.Predictor.restore(options, states[stage]).predictor;
    const feedPredictor = (p, ts, v) => p.update(ts, v);
    const feedForecaster = (f, _ts, v) => f.update(STEP_MS / 1000, v);
    // The predictor's blocks first, then the forecaster's alone: interleaved, the forecaster's
    // direct calls (other argument types, no forecasts asked) made V8 drop and rebuild the optimised
    // code of the predictor's hot path between blocks, and the predictor's figures measured that:
    // ewma 7.9 us a reading interleaved against 3.5 us apart, linear 11.5 against 7.5, auto 6.0
    // against 4.2 with the line candidate (4.2 and 4.2 before it); holt the same either way.
    for (const [times, make, feed] of [[predictor, makePredictor, feedPredictor], [forecaster, (stage) => forecasterFrom(lib, options, states[stage]), feedForecaster]]) {
      for (let round = -1; round < ROUNDS; round++) {
        // Round -1 warms the code up and is not kept; then early/late alternate, starting with each in turn.
        const order = round % 2 === 0 ? ["early", "late"] : ["late", "early"];
        for (const stage of order) {
          const ns = timeBlock(make(stage), feed, at[stage]);
          if (round >= 0) times[stage].push(ns);
        }
      }
    }
    out.methods[method] = {
      buildMs,
      alerts,
      stateBytes: { early: JSON.stringify(states.early).length, late: JSON.stringify(states.late).length },
      predictorNs: predictor,
      forecasterNs: forecaster,
      median: {
        predictor: { early: median(predictor.early), late: median(predictor.late) },
        forecaster: { early: median(forecaster.early), late: median(forecaster.late) },
      },
    };
  }
  return out;
}

childMain(main);
