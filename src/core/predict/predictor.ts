/**
 * One property's predictor: a forecast at the horizon (auto: the best of cheap candidates on
 * their own settled forecasts; or ewma, holt, linear), an interval calibrated on the settled
 * errors (scorer.ts), anomaly scoring with hysteresis, drift detection and time to threshold,
 * fed one reading at a time. It keeps no
 * twin state: the caller stores `toJSON()` with the twin (registry.setPrediction) and restores
 * it with `Predictor.restore`, which continues exactly where it stopped.
 *
 * Per reading, in order:
 * 1. the time since the previous reading (dt) and the typical interval (a geometric EW mean
 *    of dt, clamped so a gap or a burst moves it little);
 * 2. the forecast for this reading and its spread (wider after a gap), the error u at one
 *    typical step and its score z = (u - centre) / sigma, once warmed up;
 * 3. |z| at the threshold flags the reading: the forecaster gets a clipped value and the spread
 *    statistics skip it;
 * 4. after a gap longer than GAP_STEPS typical intervals and GAP_HALF_LIVES level half-lives,
 *    the level starts again from the reading, with no verdict on it;
 * 5. drift detection on z; an alarm moves the level to where the readings went;
 * 6. the forecasts due now are settled by this reading (scorer.ts); the candidates (auto) learn it;
 * 7. the prediction at the horizon (the candidate in use, or the method's forecaster, within the
 *    physical bounds), time to threshold, and alerts from the hysteresis states.
 *
 * With `auto`, anomaly scoring and time to threshold run on a holt forecaster with the
 * configured half-lives, as the holt method does.
 */
import { JsonObject } from "../json";
import { Baseline, Episode } from "./anomaly";
import { Candidates } from "./candidates";
import { DELTA, Drift, LAMBDA } from "./drift";
import { Ewma } from "./ewma";
import { Forecaster } from "./forecaster";
import { Holt } from "./holt";
import { Linear } from "./linear";
import { PredictOptions } from "./options";
import { Scorer } from "./scorer";
import { roundSig } from "./smoothing";
import { Warning, timeToThreshold } from "./threshold";

/** A reading more than this many typical intervals after the previous one is after a gap... */
export const GAP_STEPS = 10;
/** ...if that is also more than this many level half-lives. */
export const GAP_HALF_LIVES = 2;
/** A flagged reading reaches the forecaster clipped to this many spreads from the forecast. */
export const CLIP = 2;
/** Weight of a new interval in the typical interval. */
const TYPICAL_WEIGHT = 0.1;
/** 2: auto's candidates and the scorer (a version 1 state restores to a fresh predictor). */
const STATE_VERSION = 2;

/** What the twin stores in predictions[property] (docs/architecture.md, "The twin document"). */
export interface Prediction {
  method: string;
  forecast: number;
  horizon: number;
  lower: number;
  upper: number;
  trend: number | null;
  score: number;
  anomaly: boolean;
  timeToThreshold: number | null;
  ts: number;
  /** The forecaster the forecast comes from: auto's candidate in use, or the method itself. */
  basis: string;
  /** Recent mean absolute error at the horizon over persistence's (below 1: better), or null before enough settled forecasts. */
  skill: number | null;
  /** Running share of settled outcomes inside the interval (nominal 0.95), or null while the interval is the wide fallback. */
  coverage: number | null;
}

export type Alert =
  | { type: "anomaly"; state: "start"; ts: number; value: number; expected: number; score: number }
  | { type: "anomaly"; state: "end"; ts: number; value: number; score: number; peak: number; duration: number }
  | { type: "drift"; state: "detected"; ts: number; value: number; direction: "up" | "down"; from: number; to: number }
  | { type: "threshold"; state: "start" | "end"; ts: number; value: number; limit: number; direction: "above" | "below"; timeToThreshold: number | null };

export interface Outcome {
  prediction: Prediction;
  alerts: Alert[];
  /** This reading's |z| reached the threshold. */
  flagged: boolean;
  /** This reading came after a gap (no verdict on it). */
  gap: boolean;
}

export class Predictor {
  private f: Forecaster;
  private candidates: Candidates | null;
  private scorer: Scorer;
  private forecasts: number[] = [];
  private readonly clamp: (x: number) => number;
  private baseline: Baseline;
  private drift: Drift;
  private episode = new Episode();
  private warning = new Warning();
  private n = 0;
  private lastTs: number | null = null;
  private lastValue = 0;
  private typical: number | null = null;

  constructor(readonly options: PredictOptions) {
    this.f = newForecaster(options);
    this.candidates = options.method === "auto" ? new Candidates(options.horizon) : null;
    this.scorer = newScorer(options);
    this.clamp = clampTo(options.bounds);
    this.baseline = new Baseline(baselineSettings(options), options.halfLife);
    this.drift = new Drift(LAMBDA[options.sensitivity]);
  }

  /** Readings taken in. */
  get count(): number {
    return this.n;
  }

  /** Time of the latest reading (epoch ms), or null. */
  get lastTime(): number | null {
    return this.lastTs;
  }

  get anomalous(): boolean {
    return this.episode.active;
  }

  get warned(): boolean {
    return this.warning.active;
  }

  /** Takes one reading; returns null (and changes nothing) when it is not newer than the last one. */
  update(ts: number, value: number): Outcome | null {
    if (!Number.isFinite(ts) || !Number.isFinite(value)) throw new RangeError("a reading needs a finite time and value");
    if (this.lastTs !== null && ts <= this.lastTs) return null;
    const o = this.options;
    const first = this.lastTs === null;
    const dt = first ? 0 : (ts - (this.lastTs as number)) / 1000;
    const warm = this.n >= o.warmup;
    const typical = this.typical ?? dt;
    const gap = !first && this.typical !== null && dt > GAP_STEPS * this.typical && dt > GAP_HALF_LIVES * o.halfLife;
    const alerts: Alert[] = [];
    let z = 0;
    let flagged = false;
    let expected = value;

    if (first) {
      this.f.update(0, value, ts);
    } else if (gap) {
      this.f.restart(dt, value, ts);
      this.drift.reset();
    } else {
      expected = this.f.expect(dt);
      const sigma = this.baseline.sigma(this.f.level());
      const spread = Math.sqrt(this.f.variance(dt, typical, sigma * sigma));
      // The error as if it came one typical interval after the previous reading.
      const u = (value - expected) * (sigma / spread);
      const center = this.baseline.center();
      z = (u - center) / sigma;
      flagged = warm && Math.abs(z) >= o.zThreshold;
      if (flagged) {
        const side = Math.sign(z);
        this.f.update(dt, expected + (center + side * CLIP * sigma) * (spread / sigma), ts, value);
        this.baseline.learnClipped(center + side * CLIP * sigma);
      } else {
        this.f.update(dt, value, ts);
        this.baseline.learn(u, z, dt);
      }
      if (warm) {
        // Not drift: a lean the level's own extra error or its usual lag explains, or one smaller than the quantisation step.
        const slack = 2 * Math.sqrt(this.f.levelExcess(typical)) + 2 * this.baseline.wander() + Math.max(0, this.baseline.step / sigma - DELTA);
        const alarm = this.drift.update(z, value, dt, slack);
        if (alarm) {
          const from = this.f.level();
          const to = alarm.level + (this.f.trend() ?? 0) * alarm.age;
          this.f.relevel(to, alarm.since);
          this.baseline.forget(alarm.since);
          if (o.drift && alarm.fresh) {
            alerts.push({ type: "drift", state: "detected", ts, value, direction: alarm.direction, from: round(from), to: round(this.f.level()) });
          }
        }
      }
    }
    const before = this.typical ?? 0;
    const cands = this.candidates;
    this.scorer.settle(ts, value, before, o.horizon, cands ? (k) => cands.eligible(k, ts) : () => true);
    this.baseline.observe(value, first ? 0 : value - this.lastValue);
    if (!first) {
      const clamped = Math.min(10 * typical, Math.max(typical / 10, dt));
      this.typical = this.typical === null ? dt : Math.exp(Math.log(this.typical) + TYPICAL_WEIGHT * (Math.log(clamped) - Math.log(this.typical)));
    }
    this.n++;
    this.lastTs = ts;
    this.lastValue = value;

    const score = warm && !gap && !first ? roundSig(Math.abs(z) / o.zThreshold, 3) : 0;
    if (warm && !gap && !first) {
      const change = this.episode.step(score, ts);
      if (change === "start") alerts.push({ type: "anomaly", state: "start", ts, value, expected: round(expected), score });
      else if (change === "end") {
        alerts.push({ type: "anomaly", state: "end", ts, value, score, peak: this.episode.peak, duration: (ts - this.episode.since) / 1000 });
      }
    }

    let ttt: number | null = null;
    if (o.threshold !== null && this.n > o.warmup) {
      const t = timeToThreshold(this.f, o.threshold, o.direction);
      ttt = t === null ? null : Math.round(t);
      if (o.warning > 0) {
        const change = this.warning.step(ttt, o.warning);
        if (change) alerts.push({ type: "threshold", state: change, ts, value, limit: o.threshold, direction: o.direction, timeToThreshold: ttt });
      }
    }

    const fc = this.forecasts;
    if (cands) {
      cands.update(ts, dt, value, this.typical ?? 0);
      cands.forecasts(ts, o.horizon, fc);
    } else {
      fc[0] = value;
      fc[1] = this.f.expect(o.horizon);
    }
    for (let k = 0; k < fc.length; k++) fc[k] = this.clamp(fc[k]);
    const issued = this.scorer.issue(ts, fc, this.typical ?? 0, o.horizon, this.clamp);
    const trend = this.f.trend();
    const prediction: Prediction = {
      method: o.method,
      forecast: round(issued.forecast),
      horizon: o.horizon,
      lower: round(issued.lower),
      upper: round(issued.upper),
      trend: trend === null ? null : roundSig(trend, 4),
      score,
      anomaly: this.episode.active,
      timeToThreshold: ttt,
      ts,
      basis: cands ? cands.names[issued.used] : o.method,
      skill: issued.skill === null ? null : roundSig(issued.skill, 3),
      coverage: issued.coverage === null ? null : roundSig(issued.coverage, 3),
    };
    return { prediction, alerts, flagged, gap };
  }

  /** Everything needed to continue exactly where this predictor is: JSON, no NaN or Infinity. */
  toJSON(): JsonObject {
    return {
      v: STATE_VERSION,
      m: this.options.method,
      n: this.n,
      t: this.lastTs,
      y: this.lastValue,
      dt: this.typical,
      f: this.f.toJSON(),
      b: this.baseline.toJSON(),
      d: this.drift.toJSON(),
      e: this.episode.toJSON(),
      w: this.warning.toJSON(),
      c: this.candidates ? this.candidates.toJSON() : null,
      s: this.scorer.toJSON(),
    };
  }

  /**
   * A predictor continuing from `state`, or a fresh one (restored false) when there is none or it
   * does not fit: another method, another format, or damaged. Changed settings of the same method
   * (half-lives, thresholds) apply from now on to what was learnt.
   */
  static restore(options: PredictOptions, state: unknown): { predictor: Predictor; restored: boolean } {
    const p = new Predictor(options);
    if (!state || typeof state !== "object" || Array.isArray(state)) return { predictor: p, restored: false };
    const s = state as Record<string, unknown>;
    if (s.v !== STATE_VERSION || s.m !== options.method) return { predictor: p, restored: false };
    try {
      p.f = restoreForecaster(options, s.f);
      p.baseline = Baseline.from(baselineSettings(options), options.halfLife, s.b);
      p.drift = Drift.from(LAMBDA[options.sensitivity], s.d);
      p.episode = Episode.from(s.e);
      p.warning = Warning.from(s.w);
      p.candidates = options.method === "auto" ? Candidates.from(options.horizon, s.c) : null;
      p.scorer = Scorer.from(p.scorer.k, p.scorer.forced, s.s);
      if (!Number.isInteger(s.n) || (s.n as number) < 0) throw new Error("bad count");
      p.n = s.n as number;
      p.lastTs = finiteOrNull(s.t);
      p.lastValue = finiteOrNull(s.y) ?? 0;
      p.typical = finiteOrNull(s.dt);
      if (p.n > 0 && p.lastTs === null) throw new Error("no time");
      return { predictor: p, restored: true };
    } catch {
      return { predictor: new Predictor(options), restored: false };
    }
  }
}

/** auto: persistence and the candidates; a method: persistence (for skill) and the method, always used. */
function newScorer(o: PredictOptions): Scorer {
  return o.method === "auto" ? new Scorer(4, null) : new Scorer(2, 1);
}

function clampTo(bounds: PredictOptions["bounds"]): (x: number) => number {
  const min = bounds && typeof bounds.min === "number" ? bounds.min : -Infinity;
  const max = bounds && typeof bounds.max === "number" ? bounds.max : Infinity;
  return (x) => Math.min(max, Math.max(min, x));
}

function newForecaster(o: PredictOptions): Forecaster {
  if (o.method === "ewma") return new Ewma(o.halfLife);
  if (o.method === "linear") return new Linear(o.window);
  return new Holt({ halfLife: o.halfLife, trendHalfLife: o.trendHalfLife, damping: o.damping, warmup: o.warmup });
}

function restoreForecaster(o: PredictOptions, json: unknown): Forecaster {
  if (o.method === "ewma") return Ewma.from(o.halfLife, json);
  if (o.method === "linear") return Linear.from(o.window, json);
  return Holt.from({ halfLife: o.halfLife, trendHalfLife: o.trendHalfLife, damping: o.damping, warmup: o.warmup }, json);
}

/** The spread is learnt over four level half-lives: noise changes more slowly than the level. */
function baselineSettings(o: PredictOptions) {
  return { halfLife: 4 * o.halfLife, robust: o.robust, window: o.window };
}

function round(x: number): number {
  return roundSig(x, 7);
}

function finiteOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error("bad number");
  return v;
}
