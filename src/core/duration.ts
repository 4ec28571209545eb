/** Durations as users write them ("500ms", "30s", "5m", "2h", "3d", "1w", or seconds). */
import { TwinError } from "./errors";

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
