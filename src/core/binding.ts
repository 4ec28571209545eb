/**
 * Sensor binding: the pure part of turning a reading (an MQTT message or any message) into
 * reported state. Topic patterns with named segments say which twin and property a topic is
 * about; readPath extracts the value; parseTimestamp reads the source time; coerce, scaleValue
 * and the deadband shape the value before the registry validates and stores it.
 *
 * Nothing here uses a user string as a key of a plain object: captures come back in
 * null-prototype objects, and paths are walked through own data properties only.
 */
import { TwinError } from "./errors";
import { dict } from "./json";
import { isForbiddenKey } from "./names";
import { tidy } from "./units";

// ---------------------------------------------------------------------------------------------
// Topic patterns

export interface TopicPattern {
  readonly source: string;
  readonly names: string[];
  match(topic: string): Record<string, string> | null;
}

const enum Kind { Literal, Plus, Capture, Hash }
interface Segment { kind: Kind; text: string }

/** MQTT's limit on a topic (and so on a filter): 65,535 bytes. */
const MAX_PATTERN_LENGTH = 65535;
const CAPTURE = /^\{([A-Za-z0-9_]+)\}$/;

function invalidPattern(pattern: string, reason: string): never {
  throw new TwinError("invalid-pattern", { pattern: pattern.slice(0, 200), reason });
}

/**
 * Compiles an MQTT-style topic pattern with named segments:
 * - a literal segment matches itself exactly (no character is special: "." or "*" are literal);
 * - "+" matches any one segment, not captured;
 * - "{name}" matches any one non-empty segment and captures it as `name` (an empty level, as in
 *   "plant//temp", is no name, so the topic does not match);
 * - "#", last only, matches zero or more trailing segments, as in MQTT: "home/+/{twin}/#"
 *   matches "home/x/t" (its parent level) as well as "home/x/t/a/b".
 * As in MQTT, a pattern whose first segment is a wildcard ("+", "#" or "{name}") does not match a
 * topic that starts with "$" ($SYS and other broker topics).
 * Names are letters, digits and "_", unique in the pattern, and never __proto__, constructor or
 * prototype. A wildcard or brace must be a whole segment. The empty pattern matches every topic
 * and captures nothing. Throws TwinError("invalid-pattern", {pattern, reason}).
 */
export function compilePattern(pattern: string): TopicPattern {
  if (typeof pattern !== "string") invalidPattern(String(pattern), "the pattern must be text");
  if (pattern.length > MAX_PATTERN_LENGTH) invalidPattern(pattern, `longer than ${MAX_PATTERN_LENGTH} characters`);
  if (pattern.includes("\u0000")) invalidPattern(pattern, "contains a NUL character");
  const names: string[] = [];
  if (pattern === "") return { source: pattern, names, match: () => dict<string>() };

  const parts = pattern.split("/");
  const segments: Segment[] = parts.map((part, i): Segment => {
    if (part === "#") {
      if (i !== parts.length - 1) invalidPattern(pattern, "# must be the last segment");
      return { kind: Kind.Hash, text: part };
    }
    if (part === "+") return { kind: Kind.Plus, text: part };
    const capture = CAPTURE.exec(part);
    if (capture) {
      const name = capture[1];
      if (isForbiddenKey(name)) invalidPattern(pattern, `the name "${name}" is not allowed`);
      if (names.includes(name)) invalidPattern(pattern, `the name "${name}" is used twice`);
      names.push(name);
      return { kind: Kind.Capture, text: name };
    }
    if (part === "{}") invalidPattern(pattern, "{} needs a name");
    if (part.includes("{") || part.includes("}")) {
      invalidPattern(pattern, /^\{[^{}]*\}$/.test(part)
        ? `"${part.slice(0, 60)}": names are letters, digits and _`
        : `"${part.slice(0, 60)}": a {name} must be a whole segment`);
    }
    if (part.includes("+") || part.includes("#")) invalidPattern(pattern, `"${part.slice(0, 60)}": + and # must be a whole segment`);
    return { kind: Kind.Literal, text: part };
  });

  const hash = segments[segments.length - 1].kind === Kind.Hash;
  const fixed = hash ? segments.length - 1 : segments.length;
  const wildFirst = segments[0].kind !== Kind.Literal;

  return {
    source: pattern,
    names,
    match(topic: string): Record<string, string> | null {
      if (typeof topic !== "string") return null;
      if (wildFirst && topic.startsWith("$")) return null;
      const levels = topic.split("/");
      if (hash ? levels.length < fixed : levels.length !== fixed) return null;
      const out = dict<string>();
      for (let i = 0; i < fixed; i++) {
        const seg = segments[i];
        const level = levels[i];
        if (seg.kind === Kind.Literal) {
          if (level !== seg.text) return null;
        } else if (seg.kind === Kind.Capture) {
          if (level === "") return null;
          out[seg.text] = level;
        }
      }
      return out;
    },
  };
}

/** The MQTT subscription filter of a pattern: each "{name}" becomes "+"; "" becomes "#". */
export function subscriptionFilter(pattern: string): string {
  const compiled = compilePattern(pattern);
  if (compiled.source === "") return "#";
  return compiled.source.split("/").map((part) => (CAPTURE.test(part) ? "+" : part)).join("/");
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/** Largest |epoch ms| a Date can hold (±100,000,000 days). */
const MAX_TIME = 8.64e15;
/**
 * Below this magnitude a number is taken as epoch seconds, above it as epoch milliseconds:
 * 1e11 ms is 3 March 1973, which no live sensor reports, while 1e11 s is the year 5138.
 */
const SECONDS_BELOW = 1e11;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
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

// ---------------------------------------------------------------------------------------------
// Value shaping

/** A decimal number in text, or undefined (hex, "", "Infinity", "1e400" and other overflow). */
function decimal(text: string): number | undefined {
  const t = text.trim();
  if (!DECIMAL.test(t)) return undefined;
  const n = Number(t);
  if (!Number.isFinite(n)) return undefined;
  return n === 0 ? 0 : n;
}

const BOOLEAN_WORDS = new Map<string, boolean>([["true", true], ["false", false], ["on", true], ["off", false]]);

/**
 * Coerces a reading to the model's type, for devices that send everything as text:
 * - number / integer: decimal text ("21.5", " 42 ", "-1e3") becomes a number; "", "0x10",
 *   "Infinity" and "1e400" (which would overflow) are returned unchanged so that validation names
 *   the problem (an integer model still refuses "21.5" -> 21.5 in validation);
 * - boolean: "true"/"false"/"on"/"off", any case, surrounding spaces allowed;
 * - anything else is returned unchanged.
 * With no spec, no type or type "any", a twin keeps what it got, unless `coerceWithoutModel` is
 * true: then decimal text becomes a number and "true"/"false" a boolean ("on"/"off" stay text,
 * since without a model they are as likely to be a mode as a switch).
 */
export function coerce(spec: { type?: string } | undefined, value: unknown, coerceWithoutModel = false): unknown {
  if (typeof value !== "string") return value;
  const type = spec?.type;
  if (type === "number" || type === "integer") return decimal(value) ?? value;
  if (type === "boolean") {
    if (value.length > 16) return value;
    const b = BOOLEAN_WORDS.get(value.trim().toLowerCase());
    return b === undefined ? value : b;
  }
  if ((type === undefined || type === "any") && coerceWithoutModel) {
    const n = decimal(value);
    if (n !== undefined) return n;
    const word = value.length > 16 ? "" : value.trim().toLowerCase();
    if (word === "true") return true;
    if (word === "false") return false;
  }
  return value;
}

/**
 * value * scale + offset for finite numbers (rounded to 15 significant digits, so 215 * 0.1 is
 * 21.5, not 21.500000000000004); anything else is returned unchanged. scale 1 / offset 0 leaves
 * the value exactly as it was.
 */
export function scaleValue(value: unknown, scale: number, offset: number): unknown {
  if (typeof value !== "number" || !Number.isFinite(value)) return value;
  if (scale === 1 && offset === 0) return value;
  return tidy(value * scale + offset);
}

// ---------------------------------------------------------------------------------------------
// Deadband

export interface Deadband { mode: "absolute" | "percent"; value: number }

/** Deep equality of JSON-like values (plain or null-prototype objects, arrays, primitives). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/**
 * True when `next` is inside the deadband around `previous`, i.e. the change is too small to
 * report. For two finite numbers: |next - previous| <= band (absolute), or <= band% of
 * |previous| (percent; around 0 only an exact 0 is inside). The edge counts as inside, with a
 * tolerance of a few ulps so 0.3 -> 0.8 is inside a 0.5 band despite floating point. Other
 * values are inside only when deep-equal. With no previous value (undefined) nothing is inside.
 */
export function withinDeadband(previous: unknown, next: unknown, band: Deadband): boolean {
  if (previous === undefined) return false;
  if (typeof previous === "number" && typeof next === "number" && Number.isFinite(previous) && Number.isFinite(next)) {
    const width = Number.isFinite(band.value) && band.value > 0 ? band.value : 0;
    const limit = band.mode === "percent" ? (Math.abs(previous) * width) / 100 : width;
    const slack = 4 * Number.EPSILON * Math.max(Math.abs(previous), Math.abs(next), limit);
    return Math.abs(next - previous) <= limit + slack;
  }
  return deepEqual(previous, next);
}

/**
 * Parses a deadband setting: "0.5" (absolute, in the property's unit), "2%" or "2 %" (percent of
 * the previous value), "" (no deadband -> null). "0" suppresses exact repeats only. Throws
 * TwinError("invalid-option", {option: "deadband", reason}) on anything else or a negative band.
 */
export function parseDeadband(text: string): Deadband | null {
  const input: unknown = text;
  if (input === undefined || input === null) return null;
  if (typeof input !== "string" && typeof input !== "number") {
    throw new TwinError("invalid-option", { option: "deadband", reason: "must be a number or a percentage" });
  }
  const t = String(input).trim();
  if (t === "") return null;
  const percent = t.endsWith("%");
  const body = percent ? t.slice(0, -1).trimEnd() : t;
  const n = body.length > 40 ? undefined : decimal(body);
  if (n === undefined) {
    throw new TwinError("invalid-option", { option: "deadband", reason: `"${t.slice(0, 40)}" is not a number or a percentage` });
  }
  if (n < 0) throw new TwinError("invalid-option", { option: "deadband", reason: "must not be negative" });
  return { mode: percent ? "percent" : "absolute", value: n };
}

// ---------------------------------------------------------------------------------------------
// Paths

const pathCache = new Map<string, string[] | null>();
const PATH_CACHE_SIZE = 256;

/** Splits "a.b[0]['c d'].e" into keys; null when the syntax is wrong. */
function splitPath(path: string): string[] | null {
  const keys: string[] = [];
  let i = 0;
  const n = path.length;
  if (n === 0) return null;
  while (i < n) {
    const c = path[i];
    if (c === "[") {
      const q = path[i + 1];
      if (q === '"' || q === "'") {
        const end = path.indexOf(q, i + 2);
        if (end < 0 || path[end + 1] !== "]") return null;
        keys.push(path.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = path.indexOf("]", i + 1);
        const index = end < 0 ? "" : path.slice(i + 1, end).trim();
        if (!/^\d+$/.test(index)) return null;
        keys.push(String(Number(index)));
        i = end + 1;
      }
    } else {
      if (c === ".") {
        if (keys.length === 0) return null; // leading dot
        i++;
      }
      let end = i;
      while (end < n && path[end] !== "." && path[end] !== "[" && path[end] !== "]") end++;
      if (end === i) return null; // "a..b", "a.", "a.[0]"
      keys.push(path.slice(i, end));
      i = end;
      if (path[i] === "]") return null;
    }
    if (i < n && path[i] !== "." && path[i] !== "[") return null;
  }
  return keys;
}

function cachedPath(path: string): string[] | null {
  let keys = pathCache.get(path);
  if (keys === undefined) {
    keys = path.length > 1000 ? null : splitPath(path);
    if (pathCache.size >= PATH_CACHE_SIZE) pathCache.clear();
    pathCache.set(path, keys);
  }
  return keys;
}

/**
 * Checks a path setting and returns its keys. Throws TwinError("invalid-option", {option:
 * "path", reason}) on wrong syntax or a key that is __proto__, constructor or prototype.
 */
export function parsePath(path: string): string[] {
  const keys = typeof path === "string" ? cachedPath(path) : null;
  if (!keys) throw new TwinError("invalid-option", { option: "path", reason: `"${String(path).slice(0, 60)}" is not a property path` });
  const bad = keys.find(isForbiddenKey);
  if (bad !== undefined) throw new TwinError("invalid-option", { option: "path", reason: `"${bad}" is not allowed in a path` });
  return keys.slice();
}

/**
 * Reads "payload.value", "payload.sensors[0].t", 'payload["a b"]' or "value" from `source`,
 * through own data properties only: never a getter, never an inherited member, and never a key
 * named __proto__, constructor or prototype (undefined instead). A malformed path, or a walk
 * that meets a missing key or a non-object, gives undefined.
 */
export function readPath(source: unknown, path: string): unknown {
  if (typeof path !== "string") return undefined;
  const keys = cachedPath(path);
  if (!keys) return undefined;
  let current = source;
  for (const key of keys) {
    if (isForbiddenKey(key)) return undefined;
    if (typeof current !== "object" || current === null) return undefined;
    const desc = Object.getOwnPropertyDescriptor(current, key);
    if (!desc || !("value" in desc)) return undefined;
    current = desc.value;
  }
  return current;
}
