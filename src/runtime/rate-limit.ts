/**
 * A warning said at most once per `everyMs`, with how many times it came since it was last said
 * (`count`, this time included) and the time (`now`, epoch ms). What sets it off (a clock gone
 * back, a device's clock reset) comes with every reading: a log line per reading would bury
 * everything else in the log.
 */
export function atMostEvery<A extends unknown[]>(everyMs: number, say: (count: number, now: number, ...args: A) => void): (...args: A) => void {
  let saidAt = -Infinity;
  let count = 0;
  return (...args: A) => {
    count++;
    const now = Date.now();
    if (now - saidAt < everyMs) return;
    saidAt = now;
    say(count, now, ...args);
    count = 0;
  };
}
