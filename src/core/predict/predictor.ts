/**
 * One property's predictor, fed one reading at a time: a forecast at the horizon (auto: the
 * value now moved toward the cheap candidate that helped most on its own settled forecasts; or
 * ewma, holt, linear) with an interval calibrated on the settled errors (candidates.ts,
 * scorer.ts), anomaly verdicts and level shifts from the AnomalyDetector (detector.ts), and time
 * to threshold from the ThresholdTracker (threshold.ts). It keeps no twin state: the caller
 * stores `toJSON()` with the twin (registry.setPrediction) and restores it with
 * `Predictor.restore`, which continues exactly where it stopped.
 *
 * Per reading, in order:
 * 1. the time since the previous reading (dt) and the typical interval (a geometric EW mean
 *    of dt, clamped so a gap or a burst moves it little);
 * 2. the detector's verdict on the reading (its own one-step forecast and robust scale);
 * 3. auto's candidates learn the reading, a flagged one no further than CLIP_THRESHOLDS
 *    thresholds from what the detector expected (persistence takes it as it is); feeding them
 *    what the detector expected instead, or moving them to a level the detector accepted, made
 *    the forecasts worse on the simulator and on seasonal series (the detector's one-step
 *    expectation knows no season); its persistence candidate follows a real shift at once and
 *    the scorer weighs the rest. A method (ewma, holt, linear) learns what the detector expected
 *    in place of a flagged reading, moves to a level the detector accepted (a drift alert), and
 *    starts its level again from the reading after a gap longer than GAP_STEPS typical intervals
 *    and GAP_HALF_LIVES level half-lives;
 * 4. the forecasts due now are settled by this reading (scorer.ts), with what was read;
 * 5. the prediction at the horizon, within the physical bounds; time to threshold; the alerts.
 */
import { JsonObject } from "../json";
import { Candidates } from "./candidates";
import { AnomalyDetector, DetectorAlert, DetectorOptions } from "./detector";
import { Ewma } from "./ewma";
import { Forecaster } from "./forecaster";
import { Holt } from "./holt";
import { Linear } from "./linear";
import { PredictOptions } from "./options";
import { Scorer } from "./scorer";
import { GAP_STEPS, roundAt, roundSig } from "./smoothing";
import { Direction, ThresholdAlert, ThresholdTracker } from "./threshold";

/** A reading more than GAP_STEPS typical intervals (smoothing.ts) after the previous one is after a gap if that is also more than this many level half-lives. */
export const GAP_HALF_LIVES = 2;
/**
 * auto's candidates (but persistence) learn a flagged reading no further from what the detector
 * expected than this many times the detector's threshold: a dropout to -127 or 0 % RH is no level
 * for a smoothed candidate to follow for an hour, nor a slope for a trend; a real new level still
 * pulls them there, and once the detector takes it for the new normal they learn it whole.
 *
 * Taken as it was, each dropout dragged the ewma level by tens of degrees for an hour, and the
 * forecasts that dragged level made were then "right" when the next dropout came: they filled the
 * guard's bank (scorer.ts), which let the dragged forecasts out between dropouts. A sensor dropping
 * to -127 or 85 for 5 readings every 30-50 min, read every 30 s (test/core/predict-sensor-auto
 * .test.js): auto's 1 h MAE on the normal readings 1.0 to 10 times persistence's, though 0.96-1.02
 * of it over all readings. Clipped, 1.07-1.26 at -127 while the scorer still learnt the weights
 * from the dropouts (see scorer.ts, score()); with both, 0.81-0.99.
 *
 * Clipped at the threshold itself (1), beaver1 at 1 h went 1.0119 -> 1.0137 of persistence (its
 * activity is a real new level, learnt too slowly); 2 to 5 leave every real series as it was
 * (bench/prediction-quality.js). Left out of the candidates altogether, monthly sunspots at 1
 * month went 0.972 -> 1.002 (its flagged months are its peaks, and real). Field-shaped recordings
 * (a daily cycle, a slow walk, reading noise, quantisation and a fault every 25-50 min: spikes,
 * dropouts to an error value, stuck runs, bursts of noise, gaps; 8 seeds x 3 devices, read every
 * 5, 10, 20 or 30 s for 12 h; a throwaway harness), auto's 1 h MAE over persistence's, pooled,
 * temperature / humidity: 0.967-0.995 / 0.953-0.992 before, 0.950-0.960 / 0.925-0.966 clipped and
 * with the scorer's fault-free weights; recordings above persistence of 24 per quantity and
 * interval: 5-10 / 6-11 before, 0-3 / 4-7 after.
 */
export const CLIP_THRESHOLDS = 2;
/** Weight of a new interval in the typical interval. */
const TYPICAL_WEIGHT = 0.1;
/**
 * 3: the detector and the threshold tracker (2: auto's candidates and the scorer, never
 * released). Any other version restores to a fresh predictor.
 */
const STATE_VERSION = 3;

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
  /** Running share of settled outcomes inside the interval (nominal 0.95), or null while the interval is the fallback (scorer.ts, FALLBACK). */
  coverage: number | null;
}

export type Alert = DetectorAlert | ThresholdAlert;

export interface Outcome {
  prediction: Prediction;
  alerts: Alert[];
  /** The detector flagged this reading (far from what was expected, or a stuck value). */
  flagged: boolean;
  /** This reading came after a gap (the level starts again from it). */
  gap: boolean;
}

export class Predictor {
  /** The method's forecaster; null for auto (its candidates forecast). */
  private f: Forecaster | null;
  private candidates: Candidates | null;
  private scorer: Scorer;
  private detector: AnomalyDetector;
  private tracker: ThresholdTracker | null;
  private forecasts: number[] = [];
  private readonly clamp: (x: number) => number;
  private n = 0;
  private lastTs: number | null = null;
  private typical: number | null = null;
  /** A warning announced before a redeploy that no longer goes on here: its end goes with the next reading. */
  private unwarn: { limit: number; direction: Direction } | null = null;
  /** The detector's alerts of the reading being taken: those of a step that fails are not lost (see update). */
  private verdictAlerts: DetectorAlert[] = [];

  constructor(readonly options: PredictOptions) {
    const auto = options.method === "auto";
    this.f = auto ? null : newForecaster(options);
    this.candidates = auto ? new Candidates(options.horizon) : null;
    this.scorer = newScorer(options);
    this.detector = new AnomalyDetector(detectorOptions(options));
    this.tracker = options.threshold === null ? null : new ThresholdTracker(thresholdOptions(options));
    this.clamp = clampTo(options.bounds);
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
    return this.detector.anomalous;
  }

  get warned(): boolean {
    return this.tracker !== null && this.tracker.warned;
  }

  /** Takes one reading; returns null (and changes nothing) when it is not newer than the last one. */
  update(ts: number, value: number): Outcome | null {
    if (!Number.isFinite(ts) || !Number.isFinite(value)) throw new RangeError("a reading needs a finite time and value");
    if (this.lastTs !== null && ts <= this.lastTs) return null;
    if (this.n === 0) return this.step(ts, value);
    const wasAnomalous = this.detector.anomalous;
    const wasWarned = this.tracker !== null && this.tracker.warned;
    const unwarn = this.unwarn;
    this.verdictAlerts = [];
    try {
      const out = this.step(ts, value);
      if (sound(out.prediction)) return out;
    } catch {
      // See below.
    }
    // A restored state that can not go on: a hand-edited or damaged twin document whose numbers
    // passed restore's checks one by one (an error mean of 1e308, a level of -1e15) and then threw
    // on every reading (the node failed each message for good) or published an interval to
    // -Infinity (null in the twin) or a coverage of 2.49. Whatever it half changed, the predictor
    // starts afresh, whole, from this reading. An anomaly or a warning announced before this
    // reading ends there, said as such (without its end, a dashboard showed it for good): the
    // end the failed step gave, or one now; one the failed step began was never announced.
    const stepEnd = this.verdictAlerts.find((a) => a.type === "anomaly" && a.state === "end");
    const ended = wasAnomalous ? (stepEnd ?? this.detector.close(ts, value)) : null;
    this.reset();
    this.unwarn = unwarn ?? (wasWarned ? { limit: this.options.threshold as number, direction: this.options.direction } : null);
    const out = this.step(ts, value);
    if (ended) out.alerts.unshift(ended);
    return out;
  }

  private reset(): void {
    const fresh = new Predictor(this.options);
    this.f = fresh.f;
    this.candidates = fresh.candidates;
    this.scorer = fresh.scorer;
    this.detector = fresh.detector;
    this.tracker = fresh.tracker;
    this.forecasts = [];
    this.n = 0;
    this.lastTs = null;
    this.typical = null;
    this.unwarn = null;
  }

  private step(ts: number, value: number): Outcome {
    const o = this.options;
    const first = this.lastTs === null;
    const dt = first ? 0 : (ts - (this.lastTs as number)) / 1000;
    const before = this.typical ?? 0;
    const gap = !first && this.typical !== null && dt > GAP_STEPS * this.typical && dt > GAP_HALF_LIVES * o.halfLife;

    const verdict = this.detector.update(ts, value);
    this.verdictAlerts = verdict.alerts;
    // Flagged past CLIP_THRESHOLDS thresholds: what the candidates learn of it is clipped, and its
    // errors do not size the interval (scorer.ts).
    const far = verdict.flagged && verdict.score > CLIP_THRESHOLDS;
    let shift: number | null = null;
    const alerts: Alert[] = [];
    for (const a of verdict.alerts) {
      if (a.type === "drift") shift = a.to;
      if (a.type !== "drift" || o.drift) alerts.push(a);
    }

    const f = this.f;
    if (f) {
      if (first) f.update(0, value, ts);
      else if (gap) f.restart(dt, value, ts);
      // A method learns what the detector expected in place of a flagged reading (a trend
      // would take a fault or the first half hour of a new level for a slope).
      else f.update(dt, verdict.flagged ? verdict.expected : value, ts, value);
      // A level the detector accepted as the new normal: the method's level goes there at once.
      if (shift !== null) f.relevel(shift, 1);
    }
    const cands = this.candidates;
    this.scorer.settle(ts, value, before, o.horizon, cands ? (k) => cands.eligible(k, ts) : () => true, verdict.flagged, far);
    if (!first) {
      const clamped = Math.min(10 * before, Math.max(before / 10, dt));
      this.typical = this.typical === null ? dt : Math.exp(Math.log(this.typical) + TYPICAL_WEIGHT * (Math.log(clamped) - Math.log(this.typical)));
    }
    this.n++;
    this.lastTs = ts;

    const fc = this.forecasts;
    if (cands) {
      cands.update(ts, dt, value, this.typical ?? 0, far ? verdict.expected + (CLIP_THRESHOLDS / verdict.score) * (value - verdict.expected) : value);
      cands.forecasts(ts, o.horizon, fc);
    } else {
      fc[0] = value;
      fc[1] = (f as Forecaster).expect(o.horizon);
    }
    for (let k = 0; k < fc.length; k++) fc[k] = this.clamp(fc[k]);
    const issued = this.scorer.issue(ts, fc, this.typical ?? 0, o.horizon, this.clamp, verdict.flagged, far);

    let ttt: number | null = null;
    let started: ThresholdAlert[] = [];
    if (this.tracker) {
      const t = this.tracker.update(ts, value);
      ttt = t.timeToThreshold === null ? null : Math.round(t.timeToThreshold);
      if (o.warning > 0) started = t.alerts;
    }
    // The end of a warning announced before a redeploy comes before any warning of the new limit.
    if (this.unwarn) {
      alerts.push({ type: "threshold", state: "end", ts, value, limit: this.unwarn.limit, direction: this.unwarn.direction, timeToThreshold: ttt });
      this.unwarn = null;
    }
    alerts.push(...started);

    const trend = f ? f.trend() : (cands as Candidates).trend();
    const k = decimals(issued.upper - issued.lower);
    const prediction: Prediction = {
      method: o.method,
      forecast: this.clamp(roundAt(issued.forecast, k)),
      horizon: o.horizon,
      lower: this.clamp(roundAt(issued.lower, k)),
      upper: this.clamp(roundAt(issued.upper, k)),
      trend: trend === null ? null : roundSig(trend, 4),
      score: verdict.score,
      anomaly: verdict.anomaly,
      timeToThreshold: ttt,
      ts,
      basis: cands ? cands.names[issued.used] : o.method,
      skill: issued.skill === null ? null : roundSig(issued.skill, 3),
      coverage: issued.coverage === null ? null : roundSig(issued.coverage, 3),
    };
    return { prediction, alerts, flagged: verdict.flagged, gap };
  }

  /** Everything needed to continue exactly where this predictor is: JSON, no NaN or Infinity. */
  toJSON(): JsonObject {
    return {
      v: STATE_VERSION,
      m: this.options.method,
      // What the scorer's and the tracker's state are of: a redeploy that changes either starts that part afresh.
      h: this.options.horizon,
      d: this.tracker ? this.options.direction : null,
      l: this.tracker ? this.options.threshold : null,
      n: this.n,
      t: this.lastTs,
      dt: this.typical,
      f: this.f ? this.f.toJSON() : null,
      c: this.candidates ? this.candidates.toJSON() : null,
      s: this.scorer.toJSON(),
      a: this.detector.toJSON(),
      th: this.tracker ? this.tracker.toJSON() : null,
    };
  }

  /**
   * A predictor continuing from `state`, or a fresh one (restored false) when there is none or it
   * does not fit: another format (a state from before auto, version 1), or damaged. Changed
   * settings of the same method (half-lives, thresholds) apply from now on to what was learnt; a
   * limit set since starts its time to threshold afresh. A redeploy that changes:
   * - the method keeps the detector and the threshold tracker (they do not depend on it): started
   *   afresh, an anomaly or a warning already announced never had its end, and the new method
   *   waited out another warm-up (30 min without a verdict); its forecaster and scorer start anew;
   * - the horizon starts the scorer anew: its pending forecasts, skill, coverage and interval are
   *   of the old horizon (600 s -> 3600 s on a holt: 0.966 coverage claimed, 0.76 of the next
   *   outcomes inside); auto's line goes on, its times counted in the new horizon;
   * - the direction starts the tracker anew: its fit is of the value's other sign (below 50 on a
   *   value at 64 said "past the limit" at once, with a warning).
   */
  static restore(options: PredictOptions, state: unknown): { predictor: Predictor; restored: boolean } {
    const p = new Predictor(options);
    if (!state || typeof state !== "object" || Array.isArray(state)) return { predictor: p, restored: false };
    const s = state as Record<string, unknown>;
    if (s.v !== STATE_VERSION) return { predictor: p, restored: false };
    try {
      if (s.m === options.method) {
        p.f = options.method === "auto" ? null : restoreForecaster(options, s.f);
        const horizon = savedHorizon(s);
        p.candidates = options.method === "auto" ? Candidates.from(options.horizon, s.c, horizon ?? options.horizon) : null;
        if (horizon === null || horizon === options.horizon) p.scorer = Scorer.from(p.scorer.k, p.scorer.forced, s.s);
        else Scorer.from(p.scorer.k, p.scorer.forced, s.s); // still checked: a damaged state is refused whole
      } else if (typeof s.m !== "string") throw new Error("bad method");
      p.detector = AnomalyDetector.from(detectorOptions(options), s.a);
      const sameDirection = s.d === undefined || s.d === null || s.d === options.direction;
      let continued = false;
      if (p.tracker && s.th !== null && s.th !== undefined && sameDirection) {
        try {
          p.tracker = ThresholdTracker.from(thresholdOptions(options), s.th);
          continued = true;
        } catch {
          p.tracker = new ThresholdTracker(thresholdOptions(options));
        }
      }
      // A warning announced before that no longer goes on here (the threshold or its warning
      // removed, the direction turned round) ends with the next reading: without its end, a
      // dashboard showed it for good, and with warnings turned off the node's status counted it
      // for good (a tracker that no longer warns never ended it). One of another limit ends too,
      // naming the limit it was announced with; the new limit's warning starts from that reading
      // if it is due (before, the old one went on and its end named the new limit).
      const th = s.th as { warn?: unknown } | null | undefined;
      const wasWarning = !!th && typeof th === "object" && Array.isArray(th.warn) && th.warn[0] === 1;
      const otherLimit = typeof s.l === "number" && s.l !== options.threshold;
      if (wasWarning && (!continued || options.warning === 0 || otherLimit)) {
        if (continued && p.tracker) p.tracker.endWarning();
        const limit = typeof s.l === "number" && Number.isFinite(s.l) ? s.l : null;
        const direction = s.d === "above" || s.d === "below" ? s.d : null;
        if (limit !== null && direction !== null) p.unwarn = { limit, direction };
      }
      if (!Number.isInteger(s.n) || (s.n as number) < 0) throw new Error("bad count");
      p.n = s.n as number;
      p.lastTs = finiteOrNull(s.t);
      p.typical = finiteOrNull(s.dt);
      if (p.n > 0 && p.lastTs === null) throw new Error("no time");
      // Every part takes each reading: a last time of 1e308 typed into one of them made every
      // reading "not newer", and the predictor silent for good.
      if (p.detector.lastTime !== p.lastTs) throw new Error("times disagree");
      return { predictor: p, restored: true };
    } catch {
      return { predictor: new Predictor(options), restored: false };
    }
  }
}

/**
 * The horizon a state's scorer is of: saved with it (h), or for a state saved before, the target
 * of its latest pending forecast less the time it was issued; with none pending, nothing tells
 * (taken as the same).
 */
function savedHorizon(s: Record<string, unknown>): number | null {
  if (typeof s.h === "number") return s.h;
  const sc = s.s as { t?: unknown; p?: unknown } | null;
  if (sc && typeof sc === "object" && typeof sc.t === "number" && Array.isArray(sc.p) && sc.p.length > 0) {
    const last = sc.p[sc.p.length - 1];
    if (Array.isArray(last) && typeof last[0] === "number") return (last[0] - sc.t) / 1000;
  }
  return null;
}

/** auto: persistence and the candidates; a method: persistence (for skill) and the method, always used. */
function newScorer(o: PredictOptions): Scorer {
  return o.method === "auto" ? new Scorer(4, null) : new Scorer(2, 1);
}

function detectorOptions(o: PredictOptions): DetectorOptions {
  return { zThreshold: o.zThreshold, warmup: o.warmup, warmupTime: o.warmupTime, levelShift: o.levelShift, resolution: o.resolution };
}

function thresholdOptions(o: PredictOptions) {
  return { limit: o.threshold as number, direction: o.direction, warning: o.warning };
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

/**
 * The decimals the forecast and its interval are published with: a thousandth of the interval's
 * width or finer, at most 15 significant digits (roundAt), whatever the magnitude. Rounded to 7
 * significant digits instead, an energy meter at 1.23e9 Wh read to 0.1 Wh was forecast to the
 * nearest 1,000 Wh (published MAE 253 Wh, 6.7 unrounded) and a series near 1e15 got an interval
 * of width 0 that held none of its outcomes while its coverage, taken unrounded, said 0.99.
 */
const WIDTH_DECIMALS = 3;
function decimals(width: number): number {
  return width > 0 && Number.isFinite(width) ? WIDTH_DECIMALS - Math.floor(Math.log10(width)) : Infinity;
}

/** What a prediction always is: finite numbers, the forecast within its interval, a coverage a share. */
function sound(p: Prediction): boolean {
  const finite = [p.forecast, p.lower, p.upper, p.score].every(Number.isFinite);
  const maybe = [p.trend, p.skill, p.coverage, p.timeToThreshold].every((x) => x === null || Number.isFinite(x));
  return finite && maybe && p.lower <= p.forecast && p.forecast <= p.upper && (p.coverage === null || (p.coverage >= 0 && p.coverage <= 1)) &&
    (p.skill === null || p.skill >= 0) && (p.timeToThreshold === null || p.timeToThreshold >= 0);
}

function finiteOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error("bad number");
  return v;
}
