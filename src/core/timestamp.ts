/**
 * Timestamps as devices and users send them: epoch seconds or milliseconds, as numbers or text,
 * ISO 8601 text, Date objects. Shared by sensor binding, the device link and queries.
 */

/** Largest |epoch ms| a Date can hold (±100,000,000 days). */
const MAX_TIME = 8.64e15;
/**
 * Below this magnitude a number is taken as epoch seconds, above it as epoch milliseconds:
 * 1e11 ms is 3 March 1973, which no live sensor reports, while 1e11 s is the year 5138.
 */
const SECONDS_BELOW = 1e11;
/** A decimal number in text (no hex, no "Infinity"). */
export const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** YYYY-MM-DD (or ±YYYYYY), then optionally a time and, with the time, a zone. */
const ISO = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** A number as epoch ms: below 1e11 in magnitude it is seconds. Whole milliseconds; null out of range. */
function fromNumber(n: number): number | null {
  if (!Number.isFinite(n)) return null;
  const ms = Math.round(Math.abs(n) < SECONDS_BELOW ? n * 1000 : n);
  if (Math.abs(ms) > MAX_TIME) return null;
  return ms === 0 ? 0 : ms;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** ISO 8601 / RFC 3339 text as epoch ms, refusing impossible dates (2025-02-30) and times. */
function fromIso(text: string): number | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (m[1] === "-000000" || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  const hasTime = m[4] !== undefined;
  const hour = hasTime ? Number(m[4]) : 0;
  const minute = hasTime ? Number(m[5]) : 0;
  const second = m[6] !== undefined ? Number(m[6]) : 0;
  const ms = m[7] !== undefined ? Number((m[7] + "00").slice(0, 3)) : 0;
  if (minute > 59 || second > 59) return null;
  if (hour > 24 || (hour === 24 && (minute !== 0 || second !== 0 || ms !== 0))) return null;
  const date = new Date(0);
  const zone = m[8];
  if (hasTime && zone === undefined) {
    // ECMAScript reads a date-time without an offset as local time (and a date alone as UTC).
    date.setFullYear(year, month - 1, day);
    date.setHours(hour, minute, second, ms);
  } else {
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, ms);
    if (zone !== undefined && zone !== "Z" && zone !== "z") {
      const sign = zone[0] === "-" ? -1 : 1;
      const digits = zone.slice(1).replace(":", "");
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
      if (oh > 23 || om > 59) return null;
      date.setTime(date.getTime() - sign * (oh * 60 + om) * 60000);
    }
  }
  const time = date.getTime();
  return Number.isFinite(time) && Math.abs(time) <= MAX_TIME ? time : null;
}

/**
 * Reads a source timestamp as epoch milliseconds:
 * - a number is epoch ms, unless its magnitude is below 1e11, when it is epoch seconds (1e11 ms
 *   is 1973, 1e11 s is the year 5138, so the two never overlap for real clocks); fractions are
 *   rounded to whole milliseconds;
 * - a decimal string likewise ("1764130000", " 1764130000123 "; not hex, not "");
 * - an ISO 8601 string that starts with YYYY-MM-DD ("2025-11-26", "2025-11-26T04:26:40Z",
 *   "2025-11-26T05:26:40.5+01:00"); a date alone is UTC and a date-time without an offset is
 *   local time, as in ECMAScript. Text Date.parse would read loosely ("1", "March", "2025-1-1",
 *   "2025-02-30") is refused;
 * - a valid Date object.
 * Negative values (before 1970) are returned as they are: -5 is -5000 ms. Whether such a time is
 * acceptable is the registry's rule, not this parser's. Anything else (NaN, Infinity, booleans,
 * objects, empty or garbage text, a time beyond ±8.64e15 ms) gives null.
 */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value === "number") return fromNumber(value);
  if (typeof value === "string") {
    const text = value.trim();
    if (text === "" || text.length > 64) return null;
    if (DECIMAL.test(text)) return fromNumber(Number(text));
    return fromIso(text);
  }
  if (value instanceof Date) {
    const time = value.getTime();
    return Number.isFinite(time) ? time : null;
  }
  return null;
}
