// An adversarial check of the AnomalyDetector's episode-ending rules (STEP_OUT and AFTER_RUN in
// src/core/predict/detector.ts): seeded sensor recordings with labelled faults designed to make
// those rules end an episode too early (a real fault missed) or too late (false flags after it),
// run through the detector of one or more built packages, per reading. An evaluation tool, not a
// test: it prints figures, it asserts nothing.
//
//   node bench/detector-families.js <pkgDir> [<pkgDir> ...] [--families a,b] [--seeds N]
//        [--intervals 1,5,10,30,60] [--cases] [--show family:seed:interval[:from:to]] [--json]
//
// <pkgDir>: the root of a built package; its nodes/lib/core/predict/detector.js is run at
// DETECTOR_DEFAULTS. The first package is the reference. The recordings depend on nothing of the
// packages: the same family, seed (1..N, default 12) and interval (s) give the same recording.
//
// A recording: 12 h read every `interval` s (+-10 % jitter); truth = a level of 15-25 + a daily
// sine + (some families) a heating cycle of 15-45 min + a mean-reverting walk; reading = truth +
// Gaussian noise, quantised to the family's resolutions. "thr" = 5 max(1.25 sd, res / 2), a rough
// figure for the detector's threshold, sizes the faults. Labelled: a fault's readings whose value
// differs from the fault-free reading; of a stuck run, every reading but the first. Families:
//   hold_toward      coarse sensor (0.5/1) on a daily flank; steps of 10-40 min right after a hold
//                    of 10+ equal readings, back toward where the signal was 2 h before
//   hold_away        the same, steps away from there (1.2-2.5 thr)
//   hold_quiet       the same on a quiet sensor (little daily move, long holds), either sign
//   stuck_slow       the reading frozen for 2-40 min on a slow sensor
//   stuck_fast       the same on a heated room's cycle
//   stuck_then_step  frozen 3-20 min, then back with an offset for 10-30 min (a restart with a bad
//                    calibration), toward or away from where the signal was 2 h before
//   cycle_step       heated room: steps of 1.2-3 thr for 5-40 min, ending anywhere on the cycle
//   size_change      a step that after 4-15 min shrinks (still >= 1.1 thr), grows or flips sign
//   repeated         2-4 steps of 3-15 min with 2-12 min of normal readings between
//   intermittent     a step flickering on for 2-6 readings and off for 1-6 over 10-30 min
//   early            steps or stuck runs from 35 min to 3 h into a 6 h recording
//   gaps             readings missing for 1-10 min every 15-60 min; steps and stuck runs
//   realvalued       unquantised, daily cycles up to +-8, walks of 0.3-3 h; steps of 1.1-4 thr
//   recur_long       a step of 35-50 min (long enough for levelShift to take it), then the same
//                    offset again 20-70 min later for 10-30 min, right after a hold if one comes
//
// Columns, per family over its recordings (seeds x intervals), one per package (named by its
// directory's basename, or A, B... when those clash):
//   recs, faults, labelled: recordings, faults and labelled readings (the same for every package);
//   recall: labelled readings with Verdict.anomaly (part of an open episode) over labelled ones;
//   false flags: unlabelled readings with Verdict.anomaly; "<=1h after": those within 1 h after a
//   fault's last reading and in no fault's window; "in window": those within a fault's first and
//   last reading (an intermittent fault's off readings, a stuck run's first reading, an offset
//   lost in the quantisation).
// --cases counts, per family and package, the recordings where it flags fewer labelled readings
// or more unlabelled ones than the reference, and lists the 8 worst; --show prints one recording's faults and, per
// reading, each package's flag, expected value, score and alerts (all readings from..to, else
// those where the packages disagree, or with one package where it disagrees with the label).
"use strict";
const fs = require("fs");
const path = require("path");
const { mulberry32, hash, heatCycle } = require("./lib");

const H = 3600;
const T0 = Date.UTC(2026, 0, 5);
const DETECTOR = "nodes/lib/core/predict/detector.js";

// ---------------------------------------------------------------- generator (no package code)

function rng(seed) {
  const next = mulberry32(seed);
  return {
    next,
    u: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor((hi - lo + 1) * next()),
    pick: (xs) => xs[Math.floor(xs.length * next())],
    g: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

function decimals(res) {
  const s = String(res);
  return s.includes(".") ? s.length - s.indexOf(".") - 1 : 0;
}

/** Quantised to `res` (0: unquantised, 6 decimals). */
function q(x, res) {
  return res ? Number((Math.round(x / res) * res).toFixed(decimals(res))) : Number(x.toFixed(6));
}

/** A device: truth(t) = mu + daily sine + heating cycle (p.cycle) + mean-reverting walk. */
function makeDevice(r, p) {
  const d = { mu: r.u(15, 25), amp: p.amp, phase: r.u(0, 2 * Math.PI), walkSd: p.walkSd ?? 0.2, walkTau: p.walkTau ?? 2 * H };
  if (p.cycle) {
    d.period = r.u(15, 45) * 60;
    d.heatShare = r.u(0.3, 0.5);
    d.rise = p.rise ?? r.u(1, 2);
    d.coolTau = ((1 - d.heatShare) * d.period) / r.u(1.5, 3);
    d.cyclePhase = r.u(0, d.period);
  }
  return d;
}

/** Reading times (s): every p.interval +-10 %, with gaps of p.gaps.len min every p.gaps.every min. */
function timeline(r, p) {
  const ts = [];
  const end = p.hours * H;
  let t = 0;
  let nextGap = p.gaps ? r.u(p.gaps.every[0], p.gaps.every[1]) * 60 : Infinity;
  while (t < end) {
    if (t >= nextGap) {
      t += r.u(p.gaps.len[0], p.gaps.len[1]) * 60;
      nextGap = t + r.u(p.gaps.every[0], p.gaps.every[1]) * 60;
      continue;
    }
    ts.push(t);
    t += p.interval * r.u(0.9, 1.1);
  }
  return ts;
}

function truthSeries(r, d, ts) {
  const out = [];
  let w = 0;
  let last = 0;
  for (const t of ts) {
    const e = Math.exp(-(t - last) / d.walkTau);
    last = t;
    w = w * e + d.walkSd * Math.sqrt(1 - e * e) * r.g();
    let y = d.mu + d.amp * Math.sin((2 * Math.PI * t) / 86400 + d.phase) + w;
    if (d.period) y += heatCycle(d, t);
    out.push(y);
  }
  return out;
}

/** Rough threshold of the detector for this sensor (sizes the faults). */
function thr(p) {
  return 5 * Math.max(1.25 * p.sd, 0.5 * (p.res || 0));
}

/** The fault-free recording of a family; `params(r)` draws the sensor's parameters. rf draws the faults. */
function recording(seed, interval, fam, params) {
  const r = rng(hash(seed, interval, fam.length, fam.charCodeAt(0), fam.charCodeAt(fam.length - 1)));
  const p = { hours: 12, interval, ...params(r) };
  const ts = timeline(rng(hash(seed, 7, interval)), p);
  const truth = truthSeries(rng(hash(seed, 3)), makeDevice(r, p), ts);
  const rn = rng(hash(seed, 4, interval));
  const noisy = truth.map((x) => x + p.sd * rn.g());
  const clean = noisy.map((x) => q(x, p.res));
  return { p, ts, truth, noisy, clean, rf: rng(hash(seed, 5, interval, fam.charCodeAt(1))) };
}

/** The index of the first reading at or after t (s). */
function idxAt(ts, t) {
  const i = ts.findIndex((x) => x >= t);
  return i < 0 ? ts.length : i;
}

/** Up to k fault start times (s) from `from` h (+0-30 min), at least minApart min (+0-60) apart, 1.2 h before the end. */
function plan(r, k, from, hours, minApart) {
  const starts = [];
  let t = from * H + r.u(0, 30) * 60;
  for (let i = 0; i < k && t < (hours - 1.2) * H; i++) {
    starts.push(t);
    t += minApart * 60 + r.u(0, 60) * 60;
  }
  return starts;
}

/** The first index from i0 (within maxAhead readings) that follows 10 equal clean readings; -1 if none. */
function afterHold(clean, i0, maxAhead) {
  for (let i = Math.max(i0, 11); i < Math.min(clean.length, i0 + maxAhead); i++) {
    let k = 1;
    while (k <= 10 && clean[i - k] === clean[i - 1]) k++;
    if (k > 10) return i;
  }
  return -1;
}

/**
 * The recording with its faults: offsets `faults` ({a, b, off(i), info}: off(i) added to the noisy
 * truth at readings a..b) and stuck runs `stucks` ([a, b]: readings a+1..b repeat reading a).
 */
function finish(rec, faults, stucks = []) {
  const y = rec.clean.slice();
  const lab = new Array(y.length).fill(false);
  for (const f of faults) {
    for (let i = f.a; i <= f.b; i++) {
      const o = f.off(i);
      if (o === 0) continue;
      y[i] = q(rec.noisy[i] + o, rec.p.res);
      if (y[i] !== rec.clean[i]) lab[i] = true;
    }
  }
  for (const [a, b] of stucks) {
    for (let i = a + 1; i <= b; i++) {
      y[i] = y[a];
      lab[i] = true;
    }
  }
  const all = faults.map((f) => ({ a: f.a, b: f.b, info: f.info })).concat(stucks.map(([a, b]) => ({ a, b, info: "stuck" })));
  return { ts: rec.ts, y, lab, faults: all, p: rec.p, truth: rec.truth, clean: rec.clean };
}

// ---------------------------------------------------------------- families

function holdStep(seed, interval, fam, dir) {
  const rec = recording(seed, interval, fam, (r) => ({
    res: r.pick([0.5, 1]),
    sd: r.u(0.02, 0.12),
    amp: dir === 0 ? r.u(0.3, 1) : r.u(3, 8),
    walkSd: dir === 0 ? r.u(0.1, 0.4) : r.u(0.1, 0.5),
  }));
  const { rf, p, ts, clean, truth } = rec;
  const th = thr(p);
  const faults = [];
  for (const t of plan(rf, 3, 3, p.hours, 100)) {
    const a = afterHold(clean, idxAt(ts, t), Math.round((40 * 60) / interval) + 50);
    if (a < 0) continue;
    const move = truth[a] - truth[idxAt(ts, ts[a] - 2 * H)];
    const sign = dir === 0 ? (rf.next() < 0.5 ? -1 : 1) : dir * Math.sign(move || 1);
    const size = Math.max(dir === -1 ? Math.max(1.2 * th, rf.u(0.5, 0.9) * Math.abs(move)) : rf.u(1.2, 2.5) * th, 2 * p.res);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(10, 40) * 60));
    faults.push({ a, b, off: () => sign * size, info: `step ${(sign * size).toFixed(2)} thr~${th.toFixed(2)} move2h ${move.toFixed(2)}` });
  }
  return finish(rec, faults);
}

function stuck(seed, interval, fam, fast) {
  const rec = recording(seed, interval, fam, (r) => ({
    res: r.pick([0.0625, 0.1, 0.1, 0.5]),
    sd: r.u(0.02, 0.15),
    amp: fast ? r.u(0.3, 2) : r.u(0.5, 4),
    cycle: fast,
    walkSd: r.u(0.1, 0.5),
  }));
  const { rf, p, ts } = rec;
  const stucks = [];
  for (const t of plan(rf, 3, 2.5, p.hours, 80)) {
    const a = idxAt(ts, t);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(2, 40) * 60));
    if (b - a >= 2) stucks.push([a, b]);
  }
  return finish(rec, [], stucks);
}

function stuckThenStep(seed, interval) {
  const rec = recording(seed, interval, "stuck_then_step", (r) => ({
    res: r.pick([0.1, 0.5, 1]),
    sd: r.u(0.02, 0.12),
    amp: r.u(2, 6),
    cycle: r.next() < 0.3,
    walkSd: r.u(0.1, 0.4),
  }));
  const { rf, p, ts, truth } = rec;
  const th = thr(p);
  const stucks = [];
  const faults = [];
  for (const t of plan(rf, 3, 3, p.hours, 100)) {
    const a = idxAt(ts, t);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(3, 20) * 60));
    const c = Math.min(ts.length - 1, idxAt(ts, ts[b] + rf.u(10, 30) * 60));
    if (b - a < 10 || c <= b) continue;
    const move = truth[b] - truth[idxAt(ts, ts[b] - 2 * H)];
    const toward = rf.next() < 0.5;
    const sign = (toward ? -1 : 1) * Math.sign(move || 1);
    const size = toward ? Math.max(1.2 * th, rf.u(0.5, 0.9) * Math.abs(move)) : rf.u(1.2, 2.5) * th;
    stucks.push([a, b]);
    faults.push({ a: b + 1, b: c, off: () => sign * size, info: `stuck [${a}..${b}] then step ${(sign * size).toFixed(2)} toward=${toward} move2h ${move.toFixed(2)}` });
  }
  return finish(rec, faults, stucks);
}

/** Up to 4 steps of a constant offset (minutes[0]-minutes[1] long, sizes[0]-sizes[1] thr, either sign). */
function constantSteps(rec, minutes, sizes) {
  const { rf, p, ts } = rec;
  const th = thr(p);
  const faults = [];
  for (const t of plan(rf, 4, 2.5, p.hours, 75)) {
    const a = idxAt(ts, t);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(minutes[0], minutes[1]) * 60));
    const size = (rf.next() < 0.5 ? -1 : 1) * rf.u(sizes[0], sizes[1]) * th;
    faults.push({ a, b, off: () => size, info: `step ${size.toFixed(2)} thr~${th.toFixed(2)}` });
  }
  return faults;
}

function cycleStep(seed, interval) {
  const rec = recording(seed, interval, "cycle_step", (r) => ({
    res: r.pick([0, 0.0625, 0.1, 0.5]),
    sd: r.u(0.02, 0.15),
    amp: r.u(0.5, 3),
    cycle: true,
    rise: r.u(1, 2.5),
    walkSd: r.u(0.1, 0.3),
  }));
  return finish(rec, constantSteps(rec, [5, 40], [1.2, 3]));
}

/** Shrinks to 0.3-0.6 (still >= 1.1 thr), grows 1.5-2.5 times, or flips sign (0.6-1.2 times) at index m. */
function sizeChange(seed, interval) {
  const rec = recording(seed, interval, "size_change", (r) => ({
    res: r.pick([0, 0.1, 0.1, 0.5]),
    sd: r.u(0.02, 0.15),
    amp: r.u(1, 6),
    cycle: r.next() < 0.4,
    walkSd: r.u(0.1, 0.4),
  }));
  const { rf, p, ts } = rec;
  const th = thr(p);
  const faults = [];
  for (const t of plan(rf, 3, 2.5, p.hours, 100)) {
    const a = idxAt(ts, t);
    const m = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(4, 15) * 60));
    const b = Math.min(ts.length - 1, idxAt(ts, ts[m] + rf.u(5, 25) * 60));
    const kind = rf.pick(["shrink", "shrink", "grow", "flip"]);
    const sign = rf.next() < 0.5 ? -1 : 1;
    const j1 = kind === "shrink" ? rf.u(2.5, 5) * th : rf.u(1.3, 2.5) * th;
    const j2 = kind === "shrink" ? Math.max(1.1 * th, rf.u(0.3, 0.6) * j1) : kind === "grow" ? j1 * rf.u(1.5, 2.5) : -j1 * rf.u(0.6, 1.2);
    faults.push({ a, b, off: (i) => sign * (i < m ? j1 : j2), info: `${kind} ${(sign * j1).toFixed(2)} -> ${(sign * j2).toFixed(2)} at ${m} thr~${th.toFixed(2)}` });
  }
  return finish(rec, faults);
}

function repeated(seed, interval) {
  const rec = recording(seed, interval, "repeated", (r) => ({
    res: r.pick([0, 0.1, 0.5]),
    sd: r.u(0.02, 0.15),
    amp: r.u(0.5, 5),
    cycle: r.next() < 0.3,
    walkSd: r.u(0.1, 0.4),
  }));
  const { rf, p, ts } = rec;
  const th = thr(p);
  const faults = [];
  for (const t of plan(rf, 2, 2.5, p.hours, 180)) {
    let s = t;
    const k = rf.int(2, 4);
    const sign0 = rf.next() < 0.5 ? -1 : 1;
    for (let j = 0; j < k; j++) {
      const a = idxAt(ts, s);
      const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(3, 15) * 60));
      const size = (rf.next() < 0.7 ? sign0 : -sign0) * rf.u(1.3, 3) * th;
      faults.push({ a, b, off: () => size, info: `step ${size.toFixed(2)} thr~${th.toFixed(2)}` });
      s = ts[b] + rf.u(2, 12) * 60;
    }
  }
  return finish(rec, faults);
}

function intermittent(seed, interval) {
  const rec = recording(seed, interval, "intermittent", (r) => ({
    res: r.pick([0, 0.1, 0.5]),
    sd: r.u(0.02, 0.15),
    amp: r.u(0.5, 4),
    cycle: r.next() < 0.3,
    walkSd: r.u(0.1, 0.4),
  }));
  const { rf, p, ts } = rec;
  const th = thr(p);
  const faults = [];
  for (const t of plan(rf, 3, 2.5, p.hours, 100)) {
    const a = idxAt(ts, t);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(10, 30) * 60));
    const size = (rf.next() < 0.5 ? -1 : 1) * rf.u(1.3, 3) * th;
    const on = rf.int(2, 6);
    const off = rf.int(1, 6);
    faults.push({ a, b, off: (i) => ((i - a) % (on + off) < on ? size : 0), info: `flicker ${size.toFixed(2)} on ${on} off ${off}` });
  }
  return finish(rec, faults);
}

/** 70 % steps, 30 % stuck runs, 20-40 min apart. */
function early(seed, interval) {
  const rec = recording(seed, interval, "early", (r) => ({
    hours: 6,
    res: r.pick([0, 0.1, 0.5, 1]),
    sd: r.u(0.02, 0.15),
    amp: r.u(0.5, 6),
    cycle: r.next() < 0.3,
    walkSd: r.u(0.1, 0.4),
  }));
  const { rf, p, ts } = rec;
  const th = thr(p);
  const faults = [];
  const stucks = [];
  let t = rf.u(35, 50) * 60;
  for (let j = 0; j < 3 && t < 3.2 * H; j++) {
    const a = idxAt(ts, t);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(5, 25) * 60));
    if (rf.next() < 0.7) {
      const size = (rf.next() < 0.5 ? -1 : 1) * rf.u(1.3, 3) * th;
      faults.push({ a, b, off: () => size, info: `step ${size.toFixed(2)}` });
    } else stucks.push([a, b]);
    t = ts[b] + rf.u(20, 40) * 60;
  }
  return finish(rec, faults, stucks);
}

/** 75 % steps, 25 % stuck runs, of 5-30 min. */
function gaps(seed, interval) {
  const rec = recording(seed, interval, "gaps", (r) => ({
    res: r.pick([0, 0.1, 0.5]),
    sd: r.u(0.02, 0.15),
    amp: r.u(0.5, 5),
    cycle: r.next() < 0.3,
    walkSd: r.u(0.1, 0.4),
    gaps: { every: [15, 60], len: [1, 10] },
  }));
  const { rf, p, ts } = rec;
  const th = thr(p);
  const faults = [];
  const stucks = [];
  for (const t of plan(rf, 4, 2.5, p.hours, 75)) {
    const a = idxAt(ts, t);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(5, 30) * 60));
    if (rf.next() < 0.75) {
      const size = (rf.next() < 0.5 ? -1 : 1) * rf.u(1.3, 3) * th;
      faults.push({ a, b, off: () => size, info: `step ${size.toFixed(2)}` });
    } else stucks.push([a, b]);
  }
  return finish(rec, faults, stucks);
}

function realvalued(seed, interval) {
  const rec = recording(seed, interval, "realvalued", (r) => ({
    res: 0,
    sd: r.u(0.005, 0.2),
    amp: r.u(0.5, 8),
    cycle: r.next() < 0.3,
    walkSd: r.u(0.05, 0.6),
    walkTau: r.u(0.3, 3) * H,
  }));
  return finish(rec, constantSteps(rec, [5, 60], [1.1, 4]));
}

function recurLong(seed, interval) {
  const rec = recording(seed, interval, "recur_long", (r) => ({
    res: r.pick([0.1, 0.5, 1]),
    sd: r.u(0.02, 0.1),
    amp: r.u(0.3, 3),
    walkSd: r.u(0.1, 0.3),
  }));
  const { rf, p, ts, clean } = rec;
  const th = thr(p);
  const faults = [];
  for (const t of plan(rf, 2, 2.5, p.hours, 200)) {
    const a = idxAt(ts, t);
    const b = Math.min(ts.length - 1, idxAt(ts, ts[a] + rf.u(35, 50) * 60));
    const size = (rf.next() < 0.5 ? -1 : 1) * Math.max(rf.u(1.3, 2.5) * th, 2 * p.res);
    faults.push({ a, b, off: () => size, info: `first ${size.toFixed(2)} thr~${th.toFixed(2)}` });
    const c0 = idxAt(ts, ts[b] + rf.u(20, 70) * 60);
    let c = afterHold(clean, c0, Math.round((20 * 60) / interval));
    if (c < 0) c = c0;
    const d = Math.min(ts.length - 1, idxAt(ts, ts[c] + rf.u(10, 30) * 60));
    if (d > c) faults.push({ a: c, b: d, off: () => size, info: `again ${size.toFixed(2)}` });
  }
  return finish(rec, faults);
}

const FAMILIES = {
  hold_toward: (s, iv) => holdStep(s, iv, "hold_toward", -1),
  hold_away: (s, iv) => holdStep(s, iv, "hold_away", +1),
  hold_quiet: (s, iv) => holdStep(s, iv, "hold_quiet", 0),
  stuck_slow: (s, iv) => stuck(s, iv, "stuck_slow", false),
  stuck_fast: (s, iv) => stuck(s, iv, "stuck_fast", true),
  stuck_then_step: stuckThenStep,
  cycle_step: cycleStep,
  size_change: sizeChange,
  repeated,
  intermittent,
  early,
  gaps,
  realvalued,
  recur_long: recurLong,
};

// ---------------------------------------------------------------- evaluation

/** Verdict.anomaly per reading (1/0); the verdicts go to `verdicts` when given. */
function run(pkg, rec, verdicts) {
  const d = new pkg.AnomalyDetector(pkg.DETECTOR_DEFAULTS);
  return rec.ts.map((t, i) => {
    const v = d.update(T0 + Math.round(t * 1000), rec.y[i]);
    if (verdicts) verdicts.push(v);
    return v.anomaly ? 1 : 0;
  });
}

function score(rec, flags) {
  const n = rec.ts.length;
  const inWindow = new Array(n).fill(false);
  const after = new Array(n).fill(false);
  for (const f of rec.faults) {
    for (let i = f.a; i <= f.b; i++) inWindow[i] = true;
    for (let i = f.b + 1; i < n && rec.ts[i] - rec.ts[f.b] <= H; i++) after[i] = true;
  }
  const s = { labelled: 0, tp: 0, ff: 0, ffAfter: 0, ffIn: 0 };
  for (let i = 0; i < n; i++) {
    if (rec.lab[i]) {
      s.labelled++;
      s.tp += flags[i];
    } else if (flags[i]) {
      s.ff++;
      if (inWindow[i]) s.ffIn++;
      else if (after[i]) s.ffAfter++;
    }
  }
  return s;
}

function evaluate(fam, pkgs, args) {
  const row = { family: fam, recordings: 0, faults: 0, labelled: 0, packages: {}, cases: {} };
  for (const pk of pkgs) row.packages[pk.label] = { tp: 0, ff: 0, ffAfter: 0, ffIn: 0 };
  for (const pk of pkgs.slice(1)) row.cases[pk.label] = [];
  for (const interval of args.intervals) {
    for (let seed = 1; seed <= args.seeds; seed++) {
      const rec = FAMILIES[fam](seed, interval);
      const res = pkgs.map((pk) => score(rec, run(pk.detector, rec)));
      row.recordings++;
      row.faults += rec.faults.length;
      row.labelled += res[0].labelled;
      pkgs.forEach((pk, j) => {
        for (const k of ["tp", "ff", "ffAfter", "ffIn"]) row.packages[pk.label][k] += res[j][k];
        const lostTP = res[0].tp - res[j].tp;
        const addedFF = res[j].ff - res[0].ff;
        if (j > 0 && (lostTP > 0 || addedFF > 0)) row.cases[pk.label].push({ seed, interval, lostTP, addedFF, ref: res[0], pkg: res[j] });
      });
    }
  }
  for (const s of Object.values(row.packages)) s.recall = row.labelled ? s.tp / row.labelled : null;
  return row;
}

// ---------------------------------------------------------------- output

function printTable(rows, pkgs) {
  const w = Math.max(6, ...pkgs.map((pk) => pk.label.length));
  const cols = (f) => pkgs.map((pk) => f(pk.label).padStart(w)).join(" ");
  const groups = [
    ["recall", (s) => (s.recall === null ? "-" : s.recall.toFixed(3))],
    ["false flags", (s) => String(s.ff)],
    ["<=1h after", (s) => String(s.ffAfter)],
    ["in window", (s) => String(s.ffIn)],
  ];
  console.log("family           recs faults labelled" + groups.map(([title]) => ` | ${title} ${cols((l) => l)}`).join(""));
  for (const r of rows) {
    const head = `${r.family.padEnd(16)}${String(r.recordings).padStart(5)} ${String(r.faults).padStart(6)} ${String(r.labelled).padStart(8)}`;
    console.log(head + groups.map(([title, f]) => ` | ${" ".repeat(title.length)} ${cols((l) => f(r.packages[l]))}`).join(""));
  }
}

function printCases(rows, pkgs) {
  for (const r of rows) {
    for (const pk of pkgs.slice(1)) {
      const cases = r.cases[pk.label];
      if (!cases.length) continue;
      const top = cases.slice().sort((x, y) => y.lostTP + y.addedFF - x.lostTP - x.addedFF).slice(0, 8);
      console.log(`\n${r.family}: ${cases.length} recordings worse on ${pk.label} than ${pkgs[0].label}; top:`);
      for (const c of top) {
        const { ref, pkg } = c;
        console.log(`  seed ${c.seed} iv ${c.interval}: tp ${ref.tp}->${pkg.tp} of ${ref.labelled}, ff ${ref.ff}->${pkg.ff} (after ${ref.ffAfter}->${pkg.ffAfter})`);
      }
    }
  }
}

function show(spec, pkgs) {
  const [fam, seed, interval, from, to] = spec.split(":");
  if (!FAMILIES[fam] || !(Number(seed) >= 1) || !(Number(interval) > 0)) throw new Error(`--show family:seed:interval[:from:to], not ${spec}`);
  const rec = FAMILIES[fam](Number(seed), Number(interval));
  const verdicts = pkgs.map(() => []);
  const flags = pkgs.map((pk, j) => run(pk.detector, rec, verdicts[j]));
  const min = (i) => (rec.ts[i] / 60).toFixed(1);
  console.log(`p: ${JSON.stringify(rec.p)}`);
  for (const f of rec.faults) console.log(`fault [${f.a}..${f.b}] t=${min(f.a)}-${min(f.b)} min ${f.info}`);
  const lo = from === undefined ? 0 : Number(from);
  const hi = to === undefined ? rec.ts.length - 1 : Math.min(rec.ts.length - 1, Number(to));
  for (let i = lo; i <= hi; i++) {
    const other = pkgs.length > 1 ? flags[1][i] : Number(rec.lab[i]);
    if (from === undefined && flags.every((f) => f[i] === other)) continue;
    const per = pkgs.map((pk, j) => {
      const v = verdicts[j][i];
      const alerts = v.alerts.map((x) => x.type + ":" + x.state + (x.to !== undefined ? ">" + x.to : "")).join(",");
      return `${pk.label}=${flags[j][i]} ${v.expected.toFixed(3)} ${v.score}${alerts ? " " + alerts : ""}`;
    });
    console.log(`${i}\tt=${(rec.ts[i] / 60).toFixed(2)}\ttruth=${rec.truth[i].toFixed(3)}\tclean=${rec.clean[i]}\ty=${rec.y[i]}\tlab=${rec.lab[i] ? 1 : 0}\t${per.join("\t")}`);
  }
}

// ---------------------------------------------------------------- main

function parseArgs(argv) {
  const args = { dirs: [], families: Object.keys(FAMILIES), seeds: 12, intervals: [1, 5, 10, 30, 60], cases: false, show: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--families") args.families = argv[++i].split(",").filter(Boolean);
    else if (a === "--seeds") args.seeds = Number(argv[++i]);
    else if (a === "--intervals") args.intervals = argv[++i].split(",").map(Number);
    else if (a === "--cases") args.cases = true;
    else if (a === "--show") args.show = argv[++i];
    else if (a === "--json") args.json = true;
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else args.dirs.push(path.resolve(a));
  }
  const usage =
    "usage: node bench/detector-families.js <pkgDir> [<pkgDir> ...] [--families a,b] [--seeds N] [--intervals 1,5,10,30,60] [--cases] [--show family:seed:interval[:from:to]] [--json]";
  if (!args.dirs.length || !Number.isInteger(args.seeds) || args.seeds < 1 || !args.intervals.every((x) => x > 0)) throw new Error(usage);
  for (const f of args.families) if (!FAMILIES[f]) throw new Error(`unknown family ${f} (${Object.keys(FAMILIES).join(", ")})`);
  return args;
}

/** Columns named by the directories' basenames, or A, B... when those are not unique or too long. */
function loadPackages(dirs) {
  const names = dirs.map((d) => path.basename(d));
  const byName = new Set(names).size === names.length && names.every((n) => n.length <= 12);
  return dirs.map((dir, j) => {
    const file = path.join(dir, DETECTOR);
    if (!fs.existsSync(file)) throw new Error(`${file} not found (a built package root?)`);
    return { label: byName ? names[j] : String.fromCharCode(65 + j), dir, detector: require(file) };
  });
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const pkgs = loadPackages(args.dirs);
  if (args.show) return show(args.show, pkgs);
  const rows = args.families.map((fam) => evaluate(fam, pkgs, args));
  if (args.json) {
    if (!args.cases) for (const r of rows) delete r.cases;
    const packages = pkgs.map(({ label, dir }) => ({ label, dir }));
    console.log(JSON.stringify({ packages, seeds: args.seeds, intervals: args.intervals, families: rows }, null, 2));
    return;
  }
  for (const pk of pkgs) console.log(`${pk.label}: ${pk.dir}${pk === pkgs[0] ? " (reference)" : ""}`);
  printTable(rows, pkgs);
  if (args.cases) printCases(rows, pkgs);
}

try {
  main();
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
