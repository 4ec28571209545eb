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
import { MAX_DURATION_MS } from "../duration";

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
