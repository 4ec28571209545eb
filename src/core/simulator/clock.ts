/**
 * Simulated time. A run starts at real time t0; reading k is due at t0 + k x interval (real) and
 * carries the simulated timestamp
 *
 *     start + min(e x warp, back + e)      with e = k x interval, start = t0 - back
 *
 * so with a time warp, simulated time starts `back` in the past, runs `warp` times faster than
 * real time until it reaches real now (after back / (warp - 1) of real time), then goes on at
 * real speed. A simulated timestamp is therefore never later than the real time at which its
 * reading is sent: a registry, which refuses readings from the future, accepts them all.
 */
import { TwinError } from "../errors";

const UNITS: ReadonlyArray<[RegExp, number]> = [
  [/^ms$/, 1],
  [/^(s|sec|secs?|seconds?)$/, 1000],
  [/^(m|min|mins?|minutes?)$/, 60_000],
  [/^(h|hr|hrs?|hours?)$/, 3_600_000],
  [/^(d|days?)$/, 86_400_000],
  [/^(w|wk|weeks?)$/, 604_800_000],
];

/** Longest duration anywhere in a simulation: 10 years. */
export const MAX_DURATION_MS = 3650 * 86_400_000;

/**
 * A duration in milliseconds from a number of seconds or text such as "500ms", "30s", "5m",
 * "2h", "3d", "1w" (a bare number in text is seconds too). Throws TwinError("invalid-option")
 * naming `option` when it is not one, is negative, or is longer than 10 years.
 */
export function parseDuration(value: unknown, option: string): number {
  let ms: number | null = null;
  if (typeof value === "number") ms = value * 1000;
  else if (typeof value === "string") {
    const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(value);
    if (m) {
      const unit = m[2].toLowerCase();
      const scale = unit === "" ? 1000 : UNITS.find(([re]) => re.test(unit))?.[1];
      if (scale !== undefined) ms = Number(m[1]) * scale;
    }
  }
  if (ms === null || !Number.isFinite(ms)) {
    throw new TwinError("invalid-option", { option, reason: `${describe(value)} is not a duration (seconds, or text such as 500ms, 30s, 5m, 2h, 3d, 1w)` });
  }
  if (ms < 0) throw new TwinError("invalid-option", { option, reason: "must not be negative" });
  if (ms > MAX_DURATION_MS) throw new TwinError("invalid-option", { option, reason: "must not be longer than 10 years (3650d)" });
  return ms;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 39) + "…" : value);
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "a list" : "an object";
}

export interface ClockOptions {
  /** Real milliseconds between readings of one device. */
  intervalMs: number;
  /** Simulated milliseconds per real millisecond, 1 or more. */
  warp: number;
  /** How far before the real start simulated time starts, in ms. */
  backMs: number;
}

/** The default `back` for a warp: simulated time catches up with real time after one real minute. */
export function defaultBack(warp: number): number {
  return Math.min(MAX_DURATION_MS, Math.round((warp - 1) * 60_000));
}

export class SimClock {
  readonly intervalMs: number;
  readonly warp: number;
  readonly backMs: number;

  constructor(options: ClockOptions) {
    this.intervalMs = options.intervalMs;
    this.warp = options.warp;
    this.backMs = options.backMs;
  }

  /** Simulated ms since the simulated start after `elapsed` real ms of running. */
  simulated(elapsed: number): number {
    const e = Math.max(0, elapsed);
    return Math.min(e * this.warp, this.backMs + e);
  }

  /** Simulated ms since the simulated start of reading k. */
  stepTime(k: number): number {
    return this.simulated(k * this.intervalMs);
  }

  /** The simulated timestamp (epoch ms) of reading k of a run that started at real time t0. */
  timestamp(t0: number, k: number): number {
    return Math.floor(t0 - this.backMs + this.stepTime(k));
  }

  /** The last reading due `elapsed` real ms into the run. */
  dueStep(elapsed: number): number {
    return Math.floor(Math.max(0, elapsed) / this.intervalMs + 1e-9);
  }

  /** True once simulated time has reached real time (always true without a warp). */
  caughtUp(elapsed: number): boolean {
    return this.warp <= 1 || elapsed * (this.warp - 1) >= this.backMs;
  }
}
