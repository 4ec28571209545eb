/**
 * Drift detection: a two-sided Page-Hinkley test (CUSUM form) on the standardised forecast
 * errors. Each side sums (z - delta) and restarts from zero when the sum would go negative; a
 * sum over lambda means the errors have leant one way for longer than noise does: the level
 * moved (a step, or a ramp the model did not follow).
 *
 * - z is clipped to +-CLIP_Z, so one spike (or one reading far out in the noise's tail) can not
 *   raise the alarm by itself: a shift has to last a few readings.
 * - While a side sums, it keeps its latest RECENT readings and their ages, so an alarm also
 *   tells where the level went (their median, robust to a reading from before the shift that
 *   opened the sum): the forecaster moves there at once (a level shift is accepted), instead of
 *   learning it slowly while every reading looks anomalous.
 * - Repeated alarms the same way within QUIET_READINGS readings are one drift (one alert).
 */
import { median } from "simple-statistics";
import { Json } from "../json";
import { numbers } from "./smoothing";

/** Allowance per reading, in standard deviations: shifts smaller than this are not drift. */
export const DELTA = 1;
/** Alarm thresholds (lambda) per sensitivity, in standard deviations summed. */
export const LAMBDA = { low: 10, medium: 6, high: 4 } as const;
export type Sensitivity = keyof typeof LAMBDA;
export const QUIET_READINGS = 100;
/** Largest |z| a single reading adds. */
export const CLIP_Z = 3;
/** Readings of a sum in progress kept to tell the new level. */
export const RECENT = 8;

export interface DriftAlarm {
  direction: "up" | "down";
  /** Readings since the shift began. */
  since: number;
  /** Median of the latest of those readings, and their mean age in seconds. */
  level: number;
  age: number;
  /** False when it repeats an alarm the same way (no new alert). */
  fresh: boolean;
}

/** One side's running sum, the readings since it left zero, and the latest of them with their ages (s). */
class Side {
  g = 0;
  n = 0;
  values: number[] = [];
  ages: number[] = [];

  add(x: number, value: number, dt: number): void {
    const g = this.g + x;
    if (g <= 0) return this.reset();
    this.g = g;
    this.n++;
    for (let i = 0; i < this.ages.length; i++) this.ages[i] += dt;
    this.values.push(value);
    this.ages.push(0);
    if (this.values.length > RECENT) {
      this.values.shift();
      this.ages.shift();
    }
  }

  reset(): void {
    this.g = this.n = 0;
    this.values = [];
    this.ages = [];
  }

  toJSON(): Json {
    return [this.g, this.n, this.values.slice(), this.ages.slice()];
  }

  static from(json: unknown): Side {
    if (!Array.isArray(json) || json.length !== 4) throw new Error("bad drift state");
    const s = new Side();
    [s.g, s.n] = numbers(json.slice(0, 2), 2, "drift");
    const values = json[2];
    const ages = json[3];
    if (!Array.isArray(values) || !Array.isArray(ages) || values.length !== ages.length || values.length > RECENT) throw new Error("bad drift state");
    s.values = numbers(values, values.length, "drift").slice();
    s.ages = numbers(ages, ages.length, "drift").slice();
    return s;
  }
}

export class Drift {
  private up = new Side();
  private down = new Side();
  /** Readings since the last alarm, and its direction (+1, -1, 0 none). */
  private since = QUIET_READINGS;
  private last = 0;

  constructor(private readonly lambda: number) {}

  /**
   * Takes a standardised error `z` for `value`, `dt` seconds after the previous
   * reading. `slack` (standard deviations) widens the allowance while the level itself is less
   * sure than usual: a lean that its own error explains is not drift.
   */
  update(z: number, value: number, dt: number, slack = 0): DriftAlarm | null {
    this.since++;
    const x = Math.max(-CLIP_Z, Math.min(CLIP_Z, z));
    this.up.add(x - DELTA - slack, value, dt);
    this.down.add(-x - DELTA - slack, value, dt);
    const side = this.up.g > this.lambda ? this.up : this.down.g > this.lambda ? this.down : null;
    if (!side) return null;
    const sign = side === this.up ? 1 : -1;
    const alarm: DriftAlarm = {
      direction: sign > 0 ? "up" : "down",
      since: side.n,
      level: median(side.values),
      age: side.ages.reduce((a, b) => a + b, 0) / side.ages.length,
      fresh: !(this.last === sign && this.since < QUIET_READINGS),
    };
    this.since = 0;
    this.last = sign;
    this.up.reset();
    this.down.reset();
    return alarm;
  }

  /** Forgets sums in progress (after a gap nothing before it says anything about now). */
  reset(): void {
    this.up.reset();
    this.down.reset();
  }

  toJSON(): Json {
    return [this.up.toJSON(), this.down.toJSON(), this.since, this.last];
  }

  static from(lambda: number, json: unknown): Drift {
    if (!Array.isArray(json) || json.length !== 4) throw new Error("bad drift state");
    const d = new Drift(lambda);
    d.up = Side.from(json[0]);
    d.down = Side.from(json[1]);
    [d.since, d.last] = numbers(json.slice(2), 2, "drift");
    return d;
  }
}
