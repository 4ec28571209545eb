/**
 * Sensor binding: the pure part of turning a reading (an MQTT message or any message) into
 * reported state. Topic patterns with named segments say which twin and property a topic is
 * about; readPath (path.ts) extracts the value; parseTimestamp (timestamp.ts) reads the source
 * time; coerce, scaleValue and the deadband shape the value before the registry validates and
 * stores it.
 *
 * Nothing here uses a user string as a key of a plain object: captures come back in
 * null-prototype objects, and paths are walked through own data properties only.
 */
import { TwinError } from "./errors";
import { dict } from "./json";
import { isForbiddenKey } from "./names";
import { tidy } from "./units";
import { DECIMAL } from "./timestamp";

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
    // Walks the topic's levels in place (one per message through twin-sensor): only the
    // captured levels become strings, no array of every level.
    match(topic: string): Record<string, string> | null {
      if (typeof topic !== "string") return null;
      if (wildFirst && topic.startsWith("$")) return null;
      const out = dict<string>();
      // `at`: where the next level starts; one past the end once the last level is read.
      let at = 0;
      for (let i = 0; i < fixed; i++) {
        if (at > topic.length) return null; // fewer levels than the pattern
        let end = topic.indexOf("/", at);
        if (end < 0) end = topic.length;
        const seg = segments[i];
        if (seg.kind === Kind.Literal) {
          if (end - at !== seg.text.length || !topic.startsWith(seg.text, at)) return null;
        } else if (seg.kind === Kind.Capture) {
          if (end === at) return null;
          out[seg.text] = topic.slice(at, end);
        }
        at = end + 1;
      }
      // Without "#", no level may follow.
      return hash || at === topic.length + 1 ? out : null;
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
