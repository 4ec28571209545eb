/**
 * Time to threshold: when the trend carries the property across a configured limit, and the
 * warning (with hysteresis) when that time falls under the warning horizon.
 */
import { Json } from "../json";
import { Forecaster } from "./forecaster";
import { numbers } from "./smoothing";

export type Direction = "above" | "below";

/**
 * Seconds until the forecast crosses `limit`: 0 when the level is already past it, null when
 * the trend points away, is not told apart from noise, or (damped) levels off before it.
 */
export function timeToThreshold(f: Forecaster, limit: number, direction: Direction): number | null {
  const above = direction === "above";
  const level = f.level();
  if (above ? level >= limit : level <= limit) return 0;
  if (!f.trendSignificant()) return null;
  const t = f.timeTo(limit, above);
  return t === null || !Number.isFinite(t) ? null : t;
}

/** A warning ends only when the time is this much over the horizon (or gone)... */
export const CLEAR_MARGIN = 1.25;
/** ...for this many readings in a row: a trend flickering in and out of significance warns once. */
export const CLEAR_READINGS = 10;

export class Warning {
  active = false;
  private calm = 0;

  step(time: number | null, horizon: number): "start" | "end" | null {
    if (!this.active) {
      if (time === null || time > horizon) return null;
      this.active = true;
      this.calm = 0;
      return "start";
    }
    const clear = time === null || time > horizon * CLEAR_MARGIN;
    this.calm = clear ? this.calm + 1 : 0;
    if (this.calm < CLEAR_READINGS) return null;
    this.active = false;
    return "end";
  }

  toJSON(): Json {
    return [this.active ? 1 : 0, this.calm];
  }

  static from(json: unknown): Warning {
    const [active, calm] = numbers(json, 2, "warning");
    const w = new Warning();
    w.active = active === 1;
    w.calm = calm;
    return w;
  }
}
