/**
 * Reconnect delays: doubling from `minMs` up to `maxMs`, each spread by +-20% so a fleet of
 * Node-RED instances that lost the same broker does not come back in one burst.
 */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** 0 <= random() < 1; Math.random by default (tests pass their own). */
  random?: () => number;
}

export const BACKOFF_DEFAULTS = { minMs: 1000, maxMs: 30000 };

/** The wait before reconnect attempt `attempt` (0 for the first after a loss). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const min = Math.max(1, options.minMs);
  const max = Math.max(min, options.maxMs);
  const base = Math.min(max, min * 2 ** Math.min(Math.max(0, attempt), 30));
  const spread = 0.8 + 0.4 * (options.random ?? Math.random)();
  return Math.max(1, Math.round(Math.min(max, base * spread)));
}
