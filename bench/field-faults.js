// Field-device recordings with labelled faults: how the prediction core (Predictor, at the node's
// defaults, method auto, horizon 1 h) flags faulty readings and forecasts the true signal 1 h
// ahead. An evaluation tool, not a test: it prints figures, it asserts nothing.
//
//   node bench/field-faults.js <packageDir> <intervalSeconds> [hours=12] [seeds=16] [devices=3]
//        [--json] [--kinds spike,dropout,stuck,noise,step] [--device 0|1|2] [--show SEED]
//
// <packageDir>: the root of a built package (its nodes/lib/core/predict/predictor.js and
// options.js are loaded from there, the way bench/prediction-quality.js does), so the same
// recordings can be run against another checkout. The recordings themselves depend on nothing
// of the package: a seeded mulberry32 per (seed, device, stream) gives the same recording in
// every run. Fault plans, device and sensor parameters are drawn from a stream that does not
// depend on the interval, so a seed has the same faults at the same times at every interval.
//
// Recordings: per seed (1..seeds) and device index d (0..devices-1), one temperature (degC) and
// one relative humidity (%, bounds 0..100 passed to the predictor as the engine does for a model
// with minimum/maximum) recording, read together every `interval` s (+-10 % jitter on each
// timestamp, 1 % of the readings lost). Device kind = d % 3:
//   0 indoor: mean-reverting walk around 20-24 degC; humidity 35-55 %, anti-correlated;
//   1 outdoor: a daily sine (amplitude 2-6 degC, random phase) plus a walk; humidity 50-90 %;
//   2 heated room: a thermostat cycle (period 15-45 min; linear heating of 1-2 degC over 30-50 %
//     of it, then exponential cooling) plus a walk; humidity follows inversely.
// Each reading: truth + Gaussian noise (sd 0.03-0.18 per recording), quantised to a resolution
// per recording (temperature 0.0625/0.1/0.5/1, humidity 0.1/0.5/1; finer ones more common).
// Faults: 1-3 per recording, starting after the first 2 h, at least 60 min apart (so a false
// flag within 60 min after a fault can be put down to that fault alone):
//   spike   1 reading, offset max(5-15 sd of the short-term change, 3 degC / 8 %RH), sign random;
//   dropout 1-3 readings at a sentinel (-127 or 85 degC; 0 or 100 %RH);
//   stuck   the reading frozen for 5-20 min (labelled: every reading of the run but the first);
//   noise   2-10 min of extra noise, sd 1-3 degC / 3-8 %RH;
//   step    an offset of 2-5 degC / 6-15 %RH for 5-20 min, then back to the true signal.
// Humidity stays within 0..100 (a spike or step that would leave it goes the other way).
//
// Evaluation per recording, a fresh Predictor fed the readings in time order:
// - anomaly, per reading once the detector is warmed up (options.warmup readings and
//   options.warmupTime s): flagged = Outcome.flagged ("the detector flagged this reading: far from
//   what was expected, or a stuck value"; a reading in a burst of noise too). Beside it the same
//   counts for Prediction.anomaly (the reading is part of an open episode: what the twin shows).
//   Per fault kind: recall and faults found (at least one labelled reading flagged); false
//   positives within [fault's first reading, its last reading + 60 min] are "after <kind>", the
//   rest "elsewhere".
// - forecast: every prediction at t against the first reading at or after t + 1 h (within 1.5
//   intervals) of the true noisy signal (the quantised reading without the fault); pairs whose
//   reading at t or target is labelled faulty are skipped. Pooled sum |forecast - y| over sum
//   |reading at t - y| (persistence), and how many recordings are above 1.
// - coverage: of the same pairs, those with a finite lower and upper, once the predictor has
//   reported a coverage (Prediction.coverage not null) or made 2 h or more after the recording's
//   start: the share of targets within [lower, upper]. Also by the target's hour of the recording
//   (hour H = targets in [H-1, H) h), every pair with an interval: hour 3 is the forecasts made at
//   1-2 h (before the gate above: the interval before the predictor reports any coverage), from
//   hour 4 on it is the same pairs as the overall figure. "1st cov h": mean hour of the first
//   reported coverage.
//
// --kinds restricts the fault kinds drawn; --device N evaluates only device indices of kind N
// (the same recordings as without it); --show SEED prints every fault of that seed's recordings
// with the readings around it (truth, reading, label, flagged) to check the labelling.
"use strict";
const path = require("path");
const { execFileSync } = require("child_process");
const { mulberry32, hash, heatCycle } = require("./lib");

const HOUR = 3600;
const KINDS = ["spike", "dropout", "stuck", "noise", "step"];
const DEVICE_KINDS = ["indoor", "outdoor", "heated"];
const T0 = Date.UTC(2026, 0, 5);
const WARM_FAULT_FREE = 2 * HOUR;
const AFTER = 60 * 60;
const HORIZON = 3600;
const COVERAGE_HOURS = [3, 4, 6, 12];

const QUANTITIES = [
  {
    name: "temperature", unit: "degC", bounds: null,
    resolutions: [0.0625, 0.1, 0.5, 1], weights: [0.35, 0.35, 0.2, 0.1],
    spikeMin: 3, sentinels: [-127, 85], burst: [1, 3], step: [2, 5],
  },
  {
    name: "humidity", unit: "%RH", bounds: { min: 0, max: 100 },
    resolutions: [0.1, 0.5, 1], weights: [0.5, 0.3, 0.2],
    spikeMin: 8, sentinels: [0, 100], burst: [3, 8], step: [6, 15],
  },
];

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const flags = { json: false, kinds: KINDS.slice(), device: null, show: null };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") flags.json = true;
    else if (a === "--kinds") flags.kinds = argv[++i].split(",").map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith("--kinds=")) flags.kinds = a.slice(8).split(",").map((s) => s.trim()).filter(Boolean);
    else if (a === "--device") flags.device = Number(argv[++i]);
    else if (a.startsWith("--device=")) flags.device = Number(a.slice(9));
    else if (a === "--show") flags.show = Number(argv[++i]);
    else if (a.startsWith("--show=")) flags.show = Number(a.slice(7));
    else pos.push(a);
  }
  const usage = "usage: node bench/field-faults.js <packageDir> <intervalSeconds> [hours=12] [seeds=16] [devices=3] [--json] [--kinds k1,k2] [--device 0|1|2] [--show SEED]";
  if (pos.length < 2) throw new Error(usage);
  const args = {
    pkg: path.resolve(pos[0]),
    interval: Number(pos[1]),
    hours: pos[2] === undefined ? 12 : Number(pos[2]),
    seeds: pos[3] === undefined ? 16 : Number(pos[3]),
    devices: pos[4] === undefined ? 3 : Number(pos[4]),
    ...flags,
  };
  if (!(args.interval > 0) || !(args.hours > 2) || !(args.seeds >= 1) || !(args.devices >= 1)) throw new Error(usage);
  for (const k of args.kinds) if (!KINDS.includes(k)) throw new Error(`unknown fault kind ${k} (${KINDS.join(", ")})`);
  if (!args.kinds.length) throw new Error("--kinds: at least one kind");
  if (args.device !== null && ![0, 1, 2].includes(args.device)) throw new Error("--device: 0 (indoor), 1 (outdoor) or 2 (heated)");
  return args;
}

// ---------------------------------------------------------------- generator (no package code)

function rng(seed) {
  const next = mulberry32(seed);
  const r = {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor((hi - lo + 1) * next()),
    pick: (xs) => xs[Math.floor(xs.length * next())],
    weighted: (xs, ws) => {
      const total = ws.reduce((a, b) => a + b, 0);
      let u = next() * total;
      for (let i = 0; i < xs.length; i++) if ((u -= ws[i]) < 0) return xs[i];
      return xs[xs.length - 1];
    },
    gauss: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
  return r;
}

const STREAM = { params: 1, time: 2, signal: 3, noise: 4, faults: 5 };

/** Exact OU step (mean 0, stationary sd `sd`, time constant `tau` s) over dt s. */
function ou(x, dt, sd, tau, g) {
  const e = Math.exp(-dt / tau);
  return x * e + sd * Math.sqrt(1 - e * e) * g;
}

function decimalsOf(res) {
  const s = String(res);
  return s.includes(".") ? s.length - s.indexOf(".") - 1 : 0;
}

function quantise(x, res) {
  return Number((Math.round(x / res) * res).toFixed(decimalsOf(res)));
}

/** Device parameters (interval-independent). */
function deviceParams(kind, p) {
  if (kind === 0) {
    return {
      kind, mu: p.uniform(20, 24), wSd: p.uniform(0.3, 0.8), wTau: p.uniform(1, 3) * HOUR,
      hMid: p.uniform(40, 50), hK: p.uniform(2, 4), hSd: p.uniform(0.8, 2), hTau: p.uniform(1, 3) * HOUR,
    };
  }
  if (kind === 1) {
    const amp = p.uniform(2, 6);
    return {
      kind, mu: p.uniform(5, 25), amp, phase: p.uniform(0, 2 * Math.PI), wSd: p.uniform(0.3, 1.0), wTau: p.uniform(0.5, 2) * HOUR,
      hMid: p.uniform(62, 78), hK: (p.uniform(0.6, 1) * 12) / amp, hSd: p.uniform(0.8, 2), hTau: p.uniform(1, 3) * HOUR,
    };
  }
  const period = p.uniform(15, 45) * 60;
  const heatShare = p.uniform(0.3, 0.5);
  const cool = (1 - heatShare) * period;
  return {
    kind, base: p.uniform(19, 22), period, heatShare, rise: p.uniform(1, 2), coolTau: cool / p.uniform(1.5, 3), cyclePhase: p.uniform(0, period),
    wSd: p.uniform(0.1, 0.4), wTau: p.uniform(1, 3) * HOUR,
    hMid: p.uniform(40, 50), hK: p.uniform(1.5, 3), hSd: p.uniform(0.5, 1.5), hTau: p.uniform(1, 3) * HOUR,
  };
}

/** Interval-independent fault plan of one quantity's recording. */
function planFaults(q, p, hours, kinds) {
  const count = p.int(1, 3);
  const faults = [];
  const end = hours * HOUR;
  for (let f = 0; f < count; f++) {
    const kind = p.pick(kinds);
    const fault = { kind };
    if (kind === "spike") {
      fault.sds = p.uniform(5, 15);
      fault.sign = p.next() < 0.5 ? -1 : 1;
      fault.duration = 0;
    } else if (kind === "dropout") {
      fault.readings = p.int(1, 3);
      fault.sentinel = p.pick(q.sentinels);
      fault.duration = 0;
    } else if (kind === "stuck") {
      fault.duration = p.uniform(5, 20) * 60;
    } else if (kind === "noise") {
      fault.duration = p.uniform(2, 10) * 60;
      fault.sd = p.uniform(q.burst[0], q.burst[1]);
    } else {
      fault.duration = p.uniform(5, 20) * 60;
      fault.offset = (p.next() < 0.5 ? -1 : 1) * p.uniform(q.step[0], q.step[1]);
    }
    // Placed at least AFTER seconds from any other fault (both ways).
    const hi = end - fault.duration - 300;
    for (let attempt = 0; attempt < 100 && hi > WARM_FAULT_FREE; attempt++) {
      const start = p.uniform(WARM_FAULT_FREE, hi);
      const clash = faults.some((o) => start < o.start + o.duration + AFTER && o.start < start + fault.duration + AFTER);
      if (!clash) {
        fault.start = start;
        faults.push(fault);
        break;
      }
    }
  }
  return faults.sort((a, b) => a.start - b.start);
}

/**
 * One device's recordings: { kind, params, quantities: [{ name, resolution, noiseSd, faults,
 * ts[], value[], truth[], label[] (fault index or -1) }] }.
 */
function generate(seed, device, { interval, hours, kinds }) {
  const kind = device % 3;
  const p = rng(hash(seed, device, STREAM.params));
  const d = deviceParams(kind, p);
  const sensors = QUANTITIES.map((q) => ({
    q,
    noiseSd: p.uniform(0.03, 0.18),
    resolution: p.weighted(q.resolutions, q.weights),
  }));
  for (const s of sensors) s.plan = planFaults(s.q, p, hours, kinds);

  // Timestamps: a grid with +-10 % jitter, 1 % lost.
  const tr = rng(hash(seed, device, STREAM.time, Math.round(interval * 1000)));
  const n = Math.floor((hours * HOUR) / interval);
  const times = [];
  for (let k = 0; k < n; k++) {
    const t = k * interval + (k === 0 ? 0 : tr.uniform(-0.1, 0.1) * interval);
    const lost = tr.next() < 0.01;
    times.push({ t, lost });
  }

  // Truth, then noise and quantisation, on every grid time; lost readings dropped afterwards.
  const sr = rng(hash(seed, device, STREAM.signal, Math.round(interval * 1000)));
  const nr = rng(hash(seed, device, STREAM.noise, Math.round(interval * 1000)));
  let w = d.wSd * sr.gauss();
  let wh = d.hSd * sr.gauss();
  let prev = 0;
  const rows = [];
  for (const { t, lost } of times) {
    const dt = t - prev;
    prev = t;
    if (dt > 0) {
      w = ou(w, dt, d.wSd, d.wTau, sr.gauss());
      wh = ou(wh, dt, d.hSd, d.hTau, sr.gauss());
    }
    let temp, ref;
    if (kind === 0) {
      temp = d.mu + w;
      ref = d.mu;
    } else if (kind === 1) {
      temp = d.mu + d.amp * Math.sin((2 * Math.PI * t) / 86400 + d.phase) + w;
      ref = d.mu;
    } else {
      temp = d.base + heatCycle(d, t) + w;
      ref = d.base + d.rise / 2;
    }
    const hum = Math.min(100, Math.max(0, d.hMid - d.hK * (temp - ref) + wh));
    const raw = [temp + sensors[0].noiseSd * nr.gauss(), hum + sensors[1].noiseSd * nr.gauss()];
    if (!lost) rows.push({ t, raw });
  }

  const fr = rng(hash(seed, device, STREAM.faults, Math.round(interval * 1000)));
  const quantities = sensors.map((s, qi) => {
    const { q, resolution } = s;
    const clampQ = (x) => (q.bounds ? Math.min(q.bounds.max, Math.max(q.bounds.min, x)) : x);
    const ts = rows.map((r) => T0 + Math.round(r.t * 1000));
    const raw = rows.map((r) => r.raw[qi]);
    const truth = raw.map((x) => clampQ(quantise(x, resolution)));
    const value = truth.slice();
    const label = new Array(rows.length).fill(-1);
    const faults = [];
    const first = (sec) => {
      let i = 0;
      while (i < rows.length && rows[i].t < sec) i++;
      return i;
    };
    for (const f of s.plan) {
      const i0 = first(f.start);
      if (i0 >= rows.length) continue;
      const fault = { kind: f.kind, start: f.start, duration: f.duration, first: i0, last: i0, labelled: 0 };
      const idx = faults.length;
      if (f.kind === "spike") {
        // Short-term change: sd of successive differences of the noisy signal over the 30 min before.
        const from = first(f.start - 1800);
        const diffs = [];
        for (let i = Math.max(1, from); i < i0; i++) diffs.push(raw[i] - raw[i - 1]);
        const mean = diffs.reduce((a, b) => a + b, 0) / Math.max(1, diffs.length);
        const sd = Math.sqrt(diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, diffs.length - 1));
        const offset = Math.max(f.sds * sd, q.spikeMin);
        let sign = f.sign;
        if (q.bounds && (raw[i0] + sign * offset > q.bounds.max || raw[i0] + sign * offset < q.bounds.min)) sign = -sign;
        fault.offset = sign * offset;
        fault.changeSd = sd;
        value[i0] = clampQ(quantise(raw[i0] + fault.offset, resolution));
        label[i0] = idx;
      } else if (f.kind === "dropout") {
        fault.sentinel = f.sentinel;
        for (let i = i0; i < Math.min(rows.length, i0 + f.readings); i++) {
          value[i] = f.sentinel;
          label[i] = idx;
          fault.last = i;
        }
      } else {
        const endSec = f.start + f.duration;
        let offset = f.offset;
        if (f.kind === "step" && q.bounds) {
          // A step that would leave the bounds goes the other way.
          let lo = Infinity, hi = -Infinity;
          for (let i = i0; i < rows.length && rows[i].t < endSec; i++) {
            lo = Math.min(lo, raw[i]);
            hi = Math.max(hi, raw[i]);
          }
          if (hi + offset > q.bounds.max || lo + offset < q.bounds.min) offset = -offset;
        }
        if (f.kind === "step") fault.offset = offset;
        if (f.kind === "noise") fault.sd = f.sd;
        for (let i = i0; i < rows.length && rows[i].t < endSec; i++) {
          fault.last = i;
          if (f.kind === "stuck") {
            value[i] = truth[i0];
            if (i > i0) label[i] = idx;
          } else if (f.kind === "noise") {
            value[i] = clampQ(quantise(raw[i] + f.sd * fr.gauss(), resolution));
            label[i] = idx;
          } else {
            value[i] = clampQ(quantise(raw[i] + offset, resolution));
            label[i] = idx;
          }
        }
      }
      for (let i = fault.first; i <= fault.last; i++) if (label[i] === idx) fault.labelled++;
      // Stuck readings that equal what the sensor would have read anyway (coarse, slow signals).
      if (f.kind === "stuck") {
        fault.sameAsTruth = 0;
        for (let i = fault.first + 1; i <= fault.last; i++) if (value[i] === truth[i]) fault.sameAsTruth++;
      }
      faults.push(fault);
    }
    return { name: q.name, unit: q.unit, bounds: q.bounds, resolution, noiseSd: s.noiseSd, faults, ts, value, truth, label };
  });
  return { seed, device, kind, kindName: DEVICE_KINDS[kind], params: d, quantities };
}

// ---------------------------------------------------------------- the package under test

function loadPackage(pkg) {
  const dir = path.join(pkg, "nodes", "lib", "core", "predict");
  try {
    const { Predictor } = require(path.join(dir, "predictor.js"));
    const { readConfig } = require(path.join(dir, "options.js"));
    return { Predictor, readConfig };
  } catch (e) {
    // A copy of the package needs its dependencies resolvable from there (e.g. a node_modules symlink).
    throw new Error(`can not load the built core from ${dir} (run \`npm run build\` there; a copy needs node_modules): ${e.message.split("\n")[0]}`);
  }
}

function commitOf(dir) {
  try {
    const git = (...a) => execFileSync("git", a, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    // The built core is what runs: uncommitted sources say it may not be the commit's.
    return git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--", "src") ? " + uncommitted src changes" : "");
  } catch {
    return null;
  }
}

/** The node's defaults (readConfig of an empty config), horizon 1 h, the model's bounds as the engine adds them. */
function optionsFor(L, rec) {
  const options = L.readConfig({ horizon: HORIZON }).options;
  return rec.bounds ? { ...options, bounds: { ...rec.bounds } } : options;
}

function runPredictor(L, rec) {
  const options = optionsFor(L, rec);
  const p = new L.Predictor(options);
  const n = rec.ts.length;
  const out = { options, forecast: new Float64Array(n), lower: new Float64Array(n), upper: new Float64Array(n), coverage: new Array(n), flagged: new Uint8Array(n), anomaly: new Uint8Array(n), score: new Float64Array(n), ok: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    const o = p.update(rec.ts[i], rec.value[i]);
    if (!o) continue;
    const pr = o.prediction;
    out.ok[i] = 1;
    out.forecast[i] = pr.forecast;
    out.lower[i] = typeof pr.lower === "number" ? pr.lower : NaN;
    out.upper[i] = typeof pr.upper === "number" ? pr.upper : NaN;
    out.coverage[i] = pr.coverage === undefined ? null : pr.coverage;
    out.flagged[i] = o.flagged ? 1 : 0;
    out.anomaly[i] = pr.anomaly ? 1 : 0;
    out.score[i] = pr.score;
  }
  return out;
}

// ---------------------------------------------------------------- evaluation

function emptyStats() {
  const kinds = {};
  for (const k of KINDS) kinds[k] = { faults: 0, found: 0, foundAnomaly: 0, labelled: 0, tp: 0, tpAnomaly: 0, fpAfter: 0, fpAfterAnomaly: 0, stuckSameAsTruth: 0 };
  const hours = {};
  return {
    recordings: 0, readings: 0, judged: 0, labelled: 0,
    tp: 0, fp: 0, fn: 0, tpA: 0, fpA: 0, fnA: 0, fpElsewhere: 0, fpElsewhereA: 0,
    kinds,
    pairs: 0, err: 0, errP: 0, above: 0, ratios: [],
    covN: 0, covIn: 0, hours, covFirstSum: 0, covFirstN: 0,
  };
}

function evaluate(rec, res, S, interval) {
  const n = rec.ts.length;
  const o = res.options;
  const t0 = rec.ts[0];
  S.recordings++;
  S.readings += n;
  // Attribution windows: [first faulty reading, last + AFTER].
  const windows = rec.faults.map((f) => ({ kind: f.kind, from: rec.ts[f.first], to: rec.ts[f.last] + AFTER * 1000 }));
  const attribute = (ts) => {
    for (const w of windows) if (ts >= w.from && ts <= w.to) return w.kind;
    return null;
  };
  const foundBy = rec.faults.map(() => ({ f: false, a: false }));
  for (let i = 0; i < n; i++) {
    if (!(i >= o.warmup && (rec.ts[i] - t0) / 1000 >= o.warmupTime)) continue;
    S.judged++;
    const truth = rec.label[i] >= 0;
    const fl = res.flagged[i] === 1;
    const an = res.anomaly[i] === 1;
    if (truth) {
      const f = rec.faults[rec.label[i]];
      const K = S.kinds[f.kind];
      S.labelled++;
      K.labelled++;
      if (fl) {
        S.tp++;
        K.tp++;
        foundBy[rec.label[i]].f = true;
      } else S.fn++;
      if (an) {
        S.tpA++;
        K.tpAnomaly++;
        foundBy[rec.label[i]].a = true;
      } else S.fnA++;
    } else {
      const kind = fl || an ? attribute(rec.ts[i]) : null;
      if (fl) {
        S.fp++;
        if (kind) S.kinds[kind].fpAfter++;
        else S.fpElsewhere++;
      }
      if (an) {
        S.fpA++;
        if (kind) S.kinds[kind].fpAfterAnomaly++;
        else S.fpElsewhereA++;
      }
    }
  }
  rec.faults.forEach((f, k) => {
    const K = S.kinds[f.kind];
    K.faults++;
    if (foundBy[k].f) K.found++;
    if (foundBy[k].a) K.foundAnomaly++;
    if (f.sameAsTruth) K.stuckSameAsTruth += f.sameAsTruth;
  });

  // Forecast and coverage pairs.
  let err = 0, errP = 0, j = 0, covSeen = false;
  const slack = 1.5 * interval * 1000;
  for (let i = 0; i < n; i++) {
    if (!res.ok[i]) continue;
    if (res.coverage[i] !== null && res.coverage[i] !== undefined) covSeen = true;
    const target = rec.ts[i] + HORIZON * 1000;
    if (j <= i) j = i + 1;
    while (j < n && rec.ts[j] < target) j++;
    if (j >= n) break;
    if (rec.ts[j] - target > slack) continue;
    if (rec.label[i] >= 0 || rec.label[j] >= 0) continue;
    const y = rec.truth[j];
    S.pairs++;
    err += Math.abs(res.forecast[i] - y);
    errP += Math.abs(rec.value[i] - y);
    const lo = res.lower[i], hi = res.upper[i];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) continue;
    const inside = y >= lo && y <= hi ? 1 : 0;
    // Overall coverage: once the predictor reports one, or from 2 h on (forecast time).
    if (covSeen || rec.ts[i] - T0 >= WARM_FAULT_FREE * 1000) {
      S.covN++;
      S.covIn += inside;
    }
    // Per hour of the recording, by the target's time, every pair with an interval (hour 3 is
    // forecasts made at 1-2 h, before the gate above: the interval before any coverage).
    const hour = Math.floor((rec.ts[j] - T0) / 3600000) + 1;
    const H = (S.hours[hour] = S.hours[hour] || { n: 0, inside: 0 });
    H.n++;
    H.inside += inside;
  }
  const firstCov = res.coverage.findIndex((c) => c !== null && c !== undefined);
  if (firstCov >= 0) {
    S.covFirstSum += (rec.ts[firstCov] - T0) / 3600000;
    S.covFirstN++;
  }
  S.err += err;
  S.errP += errP;
  const ratio = errP > 0 ? err / errP : null;
  if (ratio !== null && ratio > 1) S.above++;
  S.ratios.push(ratio);
}

function summarise(S) {
  const r = (a, b) => (b > 0 ? a / b : null);
  const f1 = (p, q) => (p === null || q === null || p + q === 0 ? null : (2 * p * q) / (p + q));
  const precision = r(S.tp, S.tp + S.fp), recall = r(S.tp, S.tp + S.fn);
  const precisionA = r(S.tpA, S.tpA + S.fpA), recallA = r(S.tpA, S.tpA + S.fnA);
  const kinds = {};
  for (const k of KINDS) {
    const K = S.kinds[k];
    if (!K.faults) continue;
    kinds[k] = { ...K, recall: r(K.tp, K.labelled), recallAnomaly: r(K.tpAnomaly, K.labelled) };
  }
  const hours = {};
  for (const h of Object.keys(S.hours).sort((a, b) => a - b)) hours[h] = { n: S.hours[h].n, coverage: r(S.hours[h].inside, S.hours[h].n) };
  const ratios = S.ratios.filter((x) => x !== null).sort((a, b) => a - b);
  return {
    recordings: S.recordings, readings: S.readings, judged: S.judged, labelled: S.labelled,
    flagged: { tp: S.tp, fp: S.fp, fn: S.fn, precision, recall, f1: f1(precision, recall), fpElsewhere: S.fpElsewhere },
    anomaly: { tp: S.tpA, fp: S.fpA, fn: S.fnA, precision: precisionA, recall: recallA, f1: f1(precisionA, recallA), fpElsewhere: S.fpElsewhereA },
    kinds,
    forecast: { pairs: S.pairs, maeRatio: r(S.err, S.errP), mae: r(S.err, S.pairs), maePersistence: r(S.errP, S.pairs), recordingsAbove1: S.above, worstRatio: ratios.length ? ratios[ratios.length - 1] : null, medianRatio: ratios.length ? ratios[ratios.length >> 1] : null },
    coverage: { n: S.covN, coverage: r(S.covIn, S.covN), firstReportedHour: r(S.covFirstSum, S.covFirstN), recordingsWithCoverage: S.covFirstN, hours },
  };
}

/** Checks that the per-kind numbers add up to the totals. */
function checks(S) {
  const sum = (f) => KINDS.reduce((a, k) => a + f(S.kinds[k]), 0);
  const out = [];
  const eq = (name, a, b) => out.push({ name, ok: a === b, a, b });
  eq("labelled = TP + FN", S.labelled, S.tp + S.fn);
  eq("sum of kinds' labelled = labelled", sum((K) => K.labelled), S.labelled);
  eq("sum of kinds' TP = TP", sum((K) => K.tp), S.tp);
  eq("sum of FP after kinds + elsewhere = FP", sum((K) => K.fpAfter) + S.fpElsewhere, S.fp);
  eq("anomaly: sum of kinds' TP = TP", sum((K) => K.tpAnomaly), S.tpA);
  eq("anomaly: FP after kinds + elsewhere = FP", sum((K) => K.fpAfterAnomaly) + S.fpElsewhereA, S.fpA);
  eq("faults found <= faults, per kind", sum((K) => (K.found <= K.faults ? 0 : 1)), 0);
  const hourN = Object.values(S.hours).reduce((a, h) => a + h.n, 0);
  eq("coverage: judged pairs <= pairs with an interval (hours) <= pairs", Number(S.covN <= hourN && hourN <= S.pairs), 1);
  return out;
}

// ---------------------------------------------------------------- output

function fmt(x, d = 3) {
  return x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d);
}

function table(rows, head) {
  const lines = [head, ...rows].map((l) => l.map(String));
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  return lines.map((l) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")).join("\n");
}

function printReport(rep) {
  const a = rep.args;
  console.log(`field-faults: package ${a.pkg}${rep.commit ? ` (${rep.commit})` : ""}, interval ${a.interval} s, ${a.hours} h, seeds 1-${a.seeds}, devices ${a.devices}` +
    `${a.device !== null ? `, device kind ${a.device} (${DEVICE_KINDS[a.device]}) only` : ""}, fault kinds ${a.kinds.join(",")}; ${rep.seconds.toFixed(1)} s`);
  console.log(`options: method ${rep.options.method}, horizon ${rep.options.horizon} s, warmup ${rep.options.warmup} readings and ${rep.options.warmupTime} s, zThreshold ${rep.options.zThreshold}, levelShift ${rep.options.levelShift} s; humidity bounds 0..100\n`);
  const groups = [["all", rep.all], ...DEVICE_KINDS.map((k) => [k, rep.byDevice[k]]).filter(([, g]) => g)];

  console.log("anomaly per reading (flagged = Outcome.flagged; [anomaly] = Prediction.anomaly)");
  const aRows = [];
  for (const [g, G] of groups) {
    for (const q of QUANTITIES) {
      const s = G[q.name];
      aRows.push([`${g} ${q.name}`, s.recordings, s.judged, s.labelled, s.flagged.tp, s.flagged.fp, s.flagged.fn, fmt(s.flagged.precision), fmt(s.flagged.recall), fmt(s.flagged.f1),
        `${fmt(s.anomaly.precision)}/${fmt(s.anomaly.recall)}/${fmt(s.anomaly.f1)}`]);
    }
  }
  console.log(table(aRows, ["group quantity", "recs", "judged", "faulty", "TP", "FP", "FN", "P", "R", "F1", "[anomaly] P/R/F1"]));

  console.log("\nper fault kind (all devices): recall per reading, faults found, FP within 60 min after a fault of that kind");
  const kRows = [];
  for (const q of QUANTITIES) {
    const s = rep.all[q.name];
    for (const [k, K] of Object.entries(s.kinds)) {
      kRows.push([`${q.name} ${k}`, K.faults, `${K.found}`, K.labelled, K.tp, fmt(K.recall), K.fpAfter, `${fmt(K.recallAnomaly)}`, K.foundAnomaly, K.fpAfterAnomaly, k === "stuck" ? K.stuckSameAsTruth : ""]);
    }
    kRows.push([`${q.name} elsewhere`, "", "", "", "", "", s.flagged.fpElsewhere, "", "", s.anomaly.fpElsewhere, ""]);
  }
  console.log(table(kRows, ["quantity kind", "faults", "found", "faulty", "TP", "recall", "FP after", "[anomaly] recall", "found", "FP after", "stuck=truth"]));

  console.log(`\nforecast at ${HORIZON} s vs persistence (true signal, fault-free pairs); coverage from the first reported one or 2 h on; hN: coverage of all pairs whose target is in hour N, [N-1, N) h`);
  const fRows = [];
  for (const [g, G] of groups) {
    for (const q of QUANTITIES) {
      const s = G[q.name];
      const hc = COVERAGE_HOURS.map((h) => fmt(s.coverage.hours[h] ? s.coverage.hours[h].coverage : null));
      fRows.push([`${g} ${q.name}`, s.forecast.pairs, fmt(s.forecast.mae, 4), fmt(s.forecast.maePersistence, 4), fmt(s.forecast.maeRatio), `${s.forecast.recordingsAbove1}/${s.recordings}`, fmt(s.forecast.worstRatio),
        s.coverage.n, fmt(s.coverage.coverage), fmt(s.coverage.firstReportedHour, 2), ...hc]);
    }
  }
  console.log(table(fRows, ["group quantity", "pairs", "MAE", "MAE pers", "ratio", "recs>1", "worst", "cov n", "coverage", "1st cov h", ...COVERAGE_HOURS.map((h) => `h${h}`)]));

  const bad = rep.checks.filter((c) => !c.ok);
  console.log(`\nchecks: ${rep.checks.length - bad.length}/${rep.checks.length} sums add up${bad.length ? ": FAILED " + bad.map((c) => `${c.name} (${c.a} vs ${c.b})`).join("; ") : ""}`);
}

function showFaults(L, args, seed) {
  const devices = [];
  for (let d = 0; d < args.devices; d++) if (args.device === null || d % 3 === args.device) devices.push(d);
  for (const d of devices) {
    const g = generate(seed, d, args);
    for (const rec of g.quantities) {
      const res = runPredictor(L, rec);
      console.log(`\nseed ${seed} device ${d} (${g.kindName}) ${rec.name}: resolution ${rec.resolution}, noise sd ${rec.noiseSd.toFixed(3)}, ${rec.ts.length} readings, ${rec.faults.length} fault(s)`);
      rec.faults.forEach((f, k) => {
        const extra = f.kind === "spike" ? `offset ${f.offset.toFixed(2)} (change sd ${f.changeSd.toFixed(3)})` : f.kind === "dropout" ? `sentinel ${f.sentinel}` : f.kind === "step" ? `offset ${f.offset.toFixed(2)}` : f.kind === "noise" ? `sd ${f.sd.toFixed(2)}` : `frozen at ${rec.value[f.first]}, ${f.sameAsTruth} of its labelled readings equal the truth`;
        console.log(`  fault ${k}: ${f.kind} at ${(f.start / 3600).toFixed(3)} h, planned ${Math.round(f.duration)} s, readings ${f.first}..${f.last} (${f.labelled} labelled); ${extra}`);
        const show = new Set();
        for (let i = f.first - 3; i <= f.first + 3; i++) show.add(i);
        for (let i = f.last - 2; i <= f.last + 3; i++) show.add(i);
        let prev = null;
        for (const i of [...show].sort((a, b) => a - b)) {
          if (i < 0 || i >= rec.ts.length) continue;
          if (prev !== null && i > prev + 1) console.log("        ...");
          prev = i;
          console.log(`    ${String(i).padStart(6)}  t=${((rec.ts[i] - T0) / 1000).toFixed(1).padStart(8)} s  truth ${String(rec.truth[i]).padStart(8)}  reading ${String(rec.value[i]).padStart(8)}  ${rec.label[i] >= 0 ? "FAULT" : "     "}  ${res.flagged[i] ? "flagged" : "       "} ${res.anomaly[i] ? "anomaly" : "       "} score ${res.score[i].toFixed(2)}`);
        }
      });
    }
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const L = loadPackage(args.pkg);
  if (args.show !== null) {
    showFaults(L, args, args.show);
    return;
  }
  const started = process.hrtime.bigint();
  const stats = { all: {}, byDevice: {} };
  for (const q of QUANTITIES) stats.all[q.name] = emptyStats();
  const allStats = [];
  let options = null;
  for (let seed = 1; seed <= args.seeds; seed++) {
    for (let d = 0; d < args.devices; d++) {
      if (args.device !== null && d % 3 !== args.device) continue;
      const g = generate(seed, d, args);
      const dk = DEVICE_KINDS[g.kind];
      if (!stats.byDevice[dk]) {
        stats.byDevice[dk] = {};
        for (const q of QUANTITIES) stats.byDevice[dk][q.name] = emptyStats();
      }
      for (const rec of g.quantities) {
        const res = runPredictor(L, rec);
        if (!options) options = res.options;
        evaluate(rec, res, stats.all[rec.name], args.interval);
        evaluate(rec, res, stats.byDevice[dk][rec.name], args.interval);
      }
    }
  }
  for (const q of QUANTITIES) allStats.push(...checks(stats.all[q.name]).map((c) => ({ ...c, name: `${q.name}: ${c.name}` })));
  const rep = {
    args: { pkg: args.pkg, interval: args.interval, hours: args.hours, seeds: args.seeds, devices: args.devices, kinds: args.kinds, device: args.device },
    commit: commitOf(args.pkg),
    options: options ? { method: options.method, horizon: options.horizon, warmup: options.warmup, warmupTime: options.warmupTime, zThreshold: options.zThreshold, levelShift: options.levelShift } : null,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    all: {},
    byDevice: {},
    checks: allStats,
  };
  for (const q of QUANTITIES) rep.all[q.name] = summarise(stats.all[q.name]);
  for (const [dk, qs] of Object.entries(stats.byDevice)) {
    rep.byDevice[dk] = {};
    for (const q of QUANTITIES) rep.byDevice[dk][q.name] = summarise(qs[q.name]);
  }
  // Forked by bench/run.js: the report goes back over IPC.
  if (process.send) process.send({ type: "result", result: rep }, () => process.exit(0));
  else if (args.json) console.log(JSON.stringify(rep, null, 2));
  else printReport(rep);
}

module.exports = { generate, parseArgs, KINDS, DEVICE_KINDS };

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
}
