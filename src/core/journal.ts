/**
 * Journal entries: the one description of a change that is both written to disk and applied
 * to memory. The registry builds an entry, hands it to the store, then applies it with
 * `applyEntry`; recovery applies the same entries from disk, so live and restored state can
 * not drift apart. Entries are keyed by a registry-wide log sequence number (`l`).
 */
import { Json, JsonObject, dict, sizeOf, inheritsNothing } from "./json";
import { Series, SeriesMap } from "./history";
import { Twin, Entry } from "./twin";
import { DERIVED, DERIVED_SECTIONS, DerivedCode, DerivedSection, sectionOfCode } from "./sections";
import { isForbiddenKey, isPropertyName, isStateKey, isTwinId } from "./names";
import { showNames } from "./errors";
import { mergePatch, isObject } from "./merge-patch";

/** [value, ts, source-or-by] */
export type EntryTuple = [Json, number, string?];
type Props<T> = Record<string, T>;

/**
 * Reported values in an entry. `rv` is the compact form the registry writes: the values of one
 * reading, which share a source time (`rt`, left out when it is the entry's `t`) and a source
 * (`rs`, left out when there is none), so a ten-property reading stores one timestamp, not ten.
 * `r` is the older form, a tuple per property; entries and snapshots in it still apply.
 */
interface ReportedValues { r?: Props<EntryTuple>; rv?: Props<Json>; rt?: number; rs?: string }

export type JournalEntry =
  | ({ l: number; o: "c"; i: string; v: number; t: number; m: string | null; a?: JsonObject; d?: Props<EntryTuple> } & ReportedValues)
  | { l: number; o: "x"; i: string; t: number }
  | ({ l: number; o: "u"; i: string; v: number; t: number; a?: JsonObject; ap?: JsonObject; d?: Props<EntryTuple | null> } & ReportedValues)
  | DerivedEntry
  | { l: number; o: "st"; i: string; t: number; s: Props<Json> }
  | { l: number; o: "n"; i: string; t: number; on: boolean };

/**
 * A write to a derived section (src/core/sections.ts): the op is the section's code, and so is
 * the key of the value: `{o: "p", p: {temperature: {...}}}`, `{o: "lc", v: 8, lc: {...}}`. A
 * keyed section's value names the keys written (null removes one); `v` is there when the
 * section is versioned. `s` is private state written in the same entry.
 */
export interface DerivedEntry {
  l: number;
  o: DerivedCode;
  i: string;
  t: number;
  v?: number;
  s?: Props<Json | null>;
  [code: string]: unknown;
}

export interface ApplyContext {
  twins: Map<string, Twin>;
  historyLength: number;
  /** Entries read from disk are untrusted: names are checked again and values copied. */
  fromDisk: boolean;
  /** A live attribute patch the registry merged and measured already (its result is a fresh object). */
  merged?: { patch: JsonObject; merged: JsonObject; size: number };
  /**
   * Live readings (an entry's `rv`) with the stored entry of each (undefined: a new property) in
   * the order `values` holds them: the registry looked them up to check the values.
   */
  stored?: { values: Props<Json>; entries: Array<Entry | undefined> };
  /**
   * Told each name or value from disk that was passed over because the write path would have
   * refused it, so a restart can name them and a change applied from elsewhere can leave them
   * out of its events: the section, the name in it (null for a whole section), and what was
   * wrong with the value (null when the name itself was refused). `refusalText` words it.
   */
  refused?: Refused;
}

/** See ApplyContext.refused. */
export type Refused = (twinId: string, section: string, name: string | null, why: string | null) => void;

/** A refusal as a warning names it: `pump-1 reported "cfg" (the key "__proto__" in it)`. */
export function refusalText(twinId: string, section: string, name: string | null, why: string | null): string {
  return `${twinId} ${section}${name === null ? "" : ` "${name}"`}${why === null ? "" : ` (${why})`}`;
}

/** The warning for `count` refusals read `where` ("on disk", "in Redis"), naming `names` (refusalText's). */
export function refusedWarning(count: number, where: string, names: string[]): string {
  return `${count} name(s) or value(s) ${where} that a write would have refused were skipped: ${showNames(names)}`;
}

/**
 * What applying an entry did: `applied`; `covered` when the twin already holds it (replay over a
 * snapshot); `unknown` when its twin does not exist; `invalid` when an entry from disk is not one.
 */
export type Applied = "applied" | "covered" | "unknown" | "invalid";

/** Checked readings of one change, as the registry hands them to an entry (journalReadings). */
export interface Readings { values: Props<Json>; ts: number; source?: string }

/** Puts readings into an entry in the compact form; nothing when there are none. */
export function journalReadings(entry: ReportedValues & { t: number }, readings: Readings, t: number): void {
  if (!hasKeys(readings.values)) return;
  entry.rv = readings.values;
  if (readings.ts !== t) entry.rt = readings.ts;
  if (readings.source !== undefined) entry.rs = readings.source;
}

/**
 * Writes a reading's entry (`{l, o: "u", i, v, t, rv[, rt][, rs]}`, what most changes are) as its
 * journal line, byte for byte `JSON.stringify(entry) + "\n"`, straight into `buffer` at `offset`;
 * returns the offset past the line, or -1 when it leaves the line to JSON.stringify: another kind
 * of entry, a value other than a number, boolean or plain ASCII text, a name or text that JSON
 * escapes, a number with more than 4 decimals or 15 digits, or no room left before `buffer`'s
 * end. Bytes it wrote before giving up lie past the line and are written over by the next one.
 *
 * Why: JSON.stringify turns each double into text with the general shortest-digits algorithm
 * (about 80 ns a number), and the string it makes is then copied into the buffer as UTF-8; the
 * short decimals sensors send are written here from their integers, with no string at all. The
 * core reading path of a ten-property reading went from about 5.7 to 4.6 us of CPU.
 */
export function writeReadingLine(entry: JournalEntry, buffer: Buffer, offset: number): number {
  if (entry.o !== "u") return -1;
  const end = buffer.length;
  let o = offset;
  let n = 0;
  for (const key in entry) {
    // The keys in the order write() and journalReadings() add them: anything else goes to JSON.stringify.
    if (key !== LINE_KEYS[n]) {
      if (n === 6 && key === "rs") n = 7;
      else return -1;
    }
    const value = (entry as unknown as Record<string, unknown>)[key];
    if (value === undefined) return -1;
    if (o + key.length + 32 > end) return -1;
    // `{"l":`, `,"o":`, ...: the same few bytes each time, copied rather than checked.
    const prefix = LINE_PREFIXES[n];
    for (let k = 0; k < prefix.length; k++) buffer[o++] = prefix[k];
    if (n === 5) {
      // The registry's own readings object: nothing inherited that a for-in would list.
      if (value === null || typeof value !== "object" || !inheritsNothing(value)) return -1;
      o = readingValues(buffer, o, value as Props<Json>, end);
    } else if (typeof value === "number") o = decimal(buffer, o, value);
    else if (typeof value === "string") o = asciiText(buffer, o, value, end);
    else return -1;
    if (o < 0) return -1;
    n++;
  }
  if (n < 6 || o + 2 > end) return -1;
  buffer[o++] = 125; // }
  buffer[o++] = 10;
  return o;
}

const LINE_KEYS = ["l", "o", "i", "v", "t", "rv", "rt", "rs"];
const LINE_PREFIXES = LINE_KEYS.map((key, n) => Uint8Array.from(Buffer.from(`${n === 0 ? "{" : ","}"${key}":`, "latin1")));

/** `{"name":value,...}` for writeReadingLine; -1 when a name or value is not one it writes. */
function readingValues(buffer: Buffer, offset: number, values: Props<Json>, end: number): number {
  let o = offset;
  if (o + 1 > end) return -1;
  buffer[o++] = 123;
  let first = true;
  for (const name in values) {
    const value = values[name];
    if (o + name.length + 34 > end) return -1;
    if (!first) buffer[o++] = 44;
    first = false;
    o = asciiText(buffer, o, name, end);
    if (o < 0) return -1;
    buffer[o++] = 58;
    if (typeof value === "number") o = decimal(buffer, o, value);
    else if (value === true) o += buffer.write("true", o, "latin1");
    else if (value === false) o += buffer.write("false", o, "latin1");
    else if (typeof value === "string") o = asciiText(buffer, o, value, end);
    else return -1;
    if (o < 0) return -1;
  }
  if (o + 1 > end) return -1;
  buffer[o++] = 125;
  return o;
}

/** `"text"` when every character is printable ASCII that JSON leaves as it is (no quote, no backslash); else -1. */
function asciiText(buffer: Buffer, offset: number, text: string, end: number): number {
  if (offset < 0 || offset + text.length + 2 > end) return -1;
  let o = offset;
  buffer[o++] = 34;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 32 || c > 126 || c === 34 || c === 92) return -1;
    buffer[o++] = c;
  }
  buffer[o++] = 34;
  return o;
}

const DECIMALS = [1, 10, 100, 1000, 10000];

/**
 * A number as JSON writes it, for the ones that are an integer of at most 15 digits divided by
 * 10^0..10^4 (what n / 10^s gives back exactly): the decimal text of that integer with its point
 * put in is then the shortest text that reads back as the number, the one JSON writes (two
 * decimal texts of at most 15 digits never read back as the same double). -1 for any other.
 * Writes at most 18 bytes.
 */
function decimal(buffer: Buffer, offset: number, v: number): number {
  if (v === 0) {
    buffer[offset] = 48; // 0 and -0 alike, as JSON writes them
    return offset + 1;
  }
  for (let s = 0; s <= 4; s++) {
    const p = DECIMALS[s];
    const n = Math.round(v * p);
    if (n / p !== v) continue;
    const a = n < 0 ? -n : n;
    if (!(a < 1e15)) return -1;
    let o = offset;
    if (n < 0) buffer[o++] = 45; // -
    // The integer as two halves below 1e8 (int32s), so its digits come from integer arithmetic:
    // a float division per digit, twice over, made a 13-digit timestamp the dearest part of a line.
    let hi = a < 1e8 ? 0 : Math.floor(a / 1e8) | 0;
    let lo = (a - hi * 1e8) | 0;
    const digits = hi > 0 ? digitCount(hi) + 8 : digitCount(lo);
    // Digits after the point among the integer's own: none when the number is below 1 ("0.0" first).
    let point = s;
    if (digits <= s) {
      buffer[o++] = 48;
      buffer[o++] = 46;
      for (let z = digits; z < s; z++) buffer[o++] = 48;
      point = 0;
    }
    const length = point > 0 ? digits + 1 : digits;
    let q = o + length - 1;
    for (let k = 0; k < digits; k++) {
      if (point > 0 && k === point) buffer[q--] = 46;
      // The low half's 8 digits first (leading zeros included when there is a high half).
      if (k < 8) {
        const d = (lo / 10) | 0;
        buffer[q--] = 48 + lo - d * 10;
        lo = d;
      } else {
        const d = (hi / 10) | 0;
        buffer[q--] = 48 + hi - d * 10;
        hi = d;
      }
    }
    return o + length;
  }
  return -1;
}

/** Digits of a whole number from 0 to 99,999,999. */
function digitCount(x: number): number {
  if (x < 10000) return x < 100 ? (x < 10 ? 1 : 2) : x < 1000 ? 3 : 4;
  return x < 1000000 ? (x < 100000 ? 5 : 6) : x < 10000000 ? 7 : 8;
}

/** Whether an entry from disk has its compact readings in a form that can be applied. */
function readingsValid(e: ReportedValues): boolean {
  return (e.rv === undefined || isObject(e.rv as Json)) && (e.rt === undefined || finite(e.rt)) && (e.rs === undefined || typeof e.rs === "string");
}

/** Whether the entry reports any value, in either form (`r: null` from disk reports none, as it always did). */
function reportsAny(e: ReportedValues): boolean {
  return (!!e.r && Object.keys(e.r).length > 0) || (!!e.rv && Object.keys(e.rv).length > 0);
}

/**
 * Whether an entry from disk has the version and time a twin takes from it as numbers: a string
 * `v` made the version "7", then "71" after one reading (never equal to an ifVersion again), an
 * object `t` made `updated` (or `lastSeen`) that object. FileStore checks only `l`, `o` and `i`.
 */
function finite(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** A creation from disk with its version and time made numbers (1, 0) where they were not, each named. */
function creationRepaired<E extends { i: string; v: unknown; t: unknown }>(e: E, ctx: ApplyContext): E {
  if (!finite(e.v)) ctx.refused?.(e.i, "version", null, "not a number");
  if (!finite(e.t)) ctx.refused?.(e.i, "time", null, "not a number");
  return { ...e, v: finite(e.v) ? e.v : 1, t: finite(e.t) ? e.t : 0 };
}

/** Applies one entry. */
export function applyEntry(e: JournalEntry, ctx: ApplyContext): Applied {
  const existing = ctx.twins.get(e.i);
  if (existing && e.l <= existing.lsn) return "covered";
  if (e.o === "c") {
    if (ctx.fromDisk && (!isTwinId(e.i) || !readingsValid(e))) return "invalid";
    // From disk, a creation whose version or time is not a number still creates the twin (with
    // version 1, time 0, named in the warning): skipped, it lost the twin and every later entry.
    if (ctx.fromDisk && (!finite(e.v) || !finite(e.t))) e = creationRepaired(e, ctx);
    // Stored only once built: an entry from disk that fails halfway leaves no twin at version 0
    // behind for its later entries to build on.
    // From disk, a model that is not a name is none, as fromRecord reads a snapshot's: kept as it
    // was, a 100,000-deep array as `m` threw out of the restart when its warning named the model.
    const twin = new Twin(e.i, ctx.fromDisk && typeof e.m !== "string" ? null : e.m, e.t, e.t);
    if (isObject(e.a)) setAttributes(twin, e.a, ctx);
    if (e.r) putEntries(twin, "reported", e.r, ctx);
    if (e.rv) putReadings(twin, e, ctx);
    if (reportsAny(e)) seen(twin, e.t);
    if (e.d) putEntries(twin, "desired", e.d, ctx);
    twin.version = e.v;
    twin.lsn = e.l;
    ctx.twins.set(e.i, twin);
    return "applied";
  }
  if (!existing) return "unknown";
  const twin = existing;
  switch (e.o) {
    case "x":
      ctx.twins.delete(e.i);
      return "applied";
    case "u":
      if (ctx.fromDisk && (!readingsValid(e) || !finite(e.v) || !finite(e.t))) return "invalid";
      if (isObject(e.a)) setAttributes(twin, e.a, ctx);
      if (isObject(e.ap)) patchAttributes(twin, e.ap, ctx);
      if (e.r) putEntries(twin, "reported", e.r, ctx);
      if (e.rv) putReadings(twin, e, ctx);
      if (e.r || e.rv) seen(twin, e.t);
      if (e.d) putEntries(twin, "desired", e.d, ctx);
      break;
    case "st":
      putState(twin, e.s, ctx);
      twin.lsn = e.l;
      return "applied";
    case "n":
      if (ctx.fromDisk && e.on && !finite(e.t)) return "invalid";
      if (e.on) seen(twin, e.t);
      else twin.online = false;
      twin.lsn = e.l;
      return "applied";
    default:
      return applyDerived(twin, e as DerivedEntry, ctx);
  }
  twin.version = e.v;
  twin.updated = e.t;
  twin.lsn = e.l;
  return "applied";
}

function applyDerived(twin: Twin, e: DerivedEntry, ctx: ApplyContext): Applied {
  const section = sectionOfCode(e.o);
  if (!section) return "invalid";
  const spec = DERIVED[section];
  if (spec.versioned && (typeof e.v !== "number" || (ctx.fromDisk && !finite(e.t)))) return "invalid";
  const value = e[e.o];
  if (spec.shape === "keyed") {
    if (!isObject(value as Json)) return "invalid";
    putKeyed(twin, section, value as Props<Json | null>, ctx);
  } else {
    if (value === undefined) return "invalid";
    const kept = ctx.fromDisk ? fromDisk(twin, section, null, value as Json, ctx) : (value as Json);
    // A value the write path would refuse (told to ctx.refused) is passed over, as a refused name
    // in a keyed section is: the twin keeps the section it held, as a refused write leaves it, and
    // the rest of the entry (state, version step) applies, so the twin stays in step with the
    // entries after it. Failing the entry lost its state and, for another instance's change,
    // had the whole partition read again, where it failed again.
    if (kept !== undefined) (twin.derived ??= new Map()).set(section, kept);
  }
  if (e.s) putState(twin, e.s, ctx);
  if (spec.versioned) {
    // Derived data that is not versioned changes the document but is no version step.
    twin.version = e.v as number;
    twin.updated = e.t;
  }
  twin.lsn = e.l;
  return "applied";
}

function putKeyed(twin: Twin, section: DerivedSection, props: Props<Json | null>, ctx: ApplyContext): void {
  let map = twin.derived?.get(section) as Map<string, Json> | undefined;
  for (const [name, value] of entriesOf(twin, section, props, ctx)) {
    if (value === null) map?.delete(name);
    else {
      if (!map) (twin.derived ??= new Map()).set(section, (map = new Map()));
      map.set(name, value);
    }
  }
}

function putState(twin: Twin, s: Props<Json | null>, ctx: ApplyContext): void {
  for (const key of Object.keys(s)) {
    let value = s[key];
    if (ctx.fromDisk) {
      if (!isStateKey(key)) {
        refuse(twin, "state", key, null, ctx);
        continue;
      }
      if (value !== null && (value = fromDisk(twin, "state", key, value, ctx) as Json) === undefined) continue;
    }
    if (value === null) twin.state?.delete(key);
    else (twin.state ??= new Map()).set(key, value);
  }
}

function seen(twin: Twin, t: number): void {
  twin.online = true;
  if (twin.lastSeen === null || t > twin.lastSeen) twin.lastSeen = t;
  if (twin.storedSeen === null || t > twin.storedSeen) twin.storedSeen = t;
}

/** A keyed section's values; from disk, names are checked again and values copied. (A plain loop, not a generator: this is on every reading's path.) */
function entriesOf(twin: Twin, section: string, props: Props<Json | null>, ctx: ApplyContext): Array<[string, Json | null]> {
  const out: Array<[string, Json | null]> = [];
  for (const name of Object.keys(props)) {
    let value = props[name];
    if (ctx.fromDisk) {
      if (!isPropertyName(name)) {
        refuse(twin, section, name, null, ctx);
        continue;
      }
      if (value !== null && (value = fromDisk(twin, section, name, value, ctx) as Json) === undefined) continue;
    }
    out.push([name, value]);
  }
  return out;
}

/**
 * Nesting a value from disk may have. The write path admits far less (json.ts: maxDepth, 6 by
 * default; 16 for state), but a registry may be configured deeper; this bound only keeps the
 * copy, and every later walk of the value (size, merge, document), within the stack: a value a
 * hundred thousand levels deep parses, and its copy threw out of the whole restart.
 */
const DISK_DEPTH = 256;

/** What was wrong with the value fromDisk last refused, for the warning. */
let refusal = "";

/**
 * A value from disk as the write path would have admitted it, copied into dicts; undefined (and
 * `ctx.refused` told) when it would have been refused: a forbidden key (`__proto__`, ...) at any
 * depth, or nesting past DISK_DEPTH. -0 becomes 0, as it does on the way in (json.ts, admit), so
 * a value typed as -0 on disk reads as the one JSON.stringify would have written.
 */
function fromDisk(twin: Twin, section: string, name: string | null, value: Json, ctx: ApplyContext): Json | undefined {
  const copy = diskCopy(value, 1);
  if (copy === undefined) refuse(twin, section, name, refusal, ctx);
  return copy;
}

function diskCopy(value: Json, depth: number): Json | undefined {
  if (typeof value !== "object" || value === null) return value === 0 ? 0 : value;
  if (depth > DISK_DEPTH) {
    refusal = `nested deeper than ${DISK_DEPTH} levels`;
    return undefined;
  }
  if (Array.isArray(value)) {
    const out: Json[] = new Array(value.length);
    for (let k = 0; k < value.length; k++) {
      const item = diskCopy(value[k], depth + 1);
      if (item === undefined) return undefined;
      out[k] = item;
    }
    return out;
  }
  const out = dict();
  for (const key of Object.keys(value)) {
    if (isForbiddenKey(key)) {
      refusal = `the key "${key}" in it`;
      return undefined;
    }
    const item = diskCopy(value[key], depth + 1);
    if (item === undefined) return undefined;
    out[key] = item;
  }
  return out;
}

function refuse(twin: Twin, section: string, name: string | null, why: string | null, ctx: ApplyContext): void {
  ctx.refused?.(twin.id, section, name, why);
}

/** A whole attribute set from disk: each top-level name and value checked as a write checks them. */
function diskAttributes(twin: Twin, attributes: JsonObject, ctx: ApplyContext): JsonObject {
  const out = dict();
  for (const key of Object.keys(attributes)) {
    if (!isPropertyName(key)) {
      refuse(twin, "attributes", key, null, ctx);
      continue;
    }
    const value = fromDisk(twin, "attributes", key, attributes[key], ctx);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** An attribute change is journalled as the merge patch that made it, not the whole result. */
function patchAttributes(twin: Twin, patch: JsonObject, ctx: ApplyContext): void {
  if (!ctx.fromDisk && ctx.merged && ctx.merged.patch === patch) {
    setAttributes(twin, ctx.merged.merged, LIVE, ctx.merged.size);
    return;
  }
  // A live patch was admitted by the registry already: merged as it is, without a copy.
  // A patch from disk is checked as a whole attribute set is; its nulls (removals) are kept.
  const admitted = ctx.fromDisk ? diskAttributes(twin, patch, ctx) : patch;
  setAttributes(twin, mergePatch(twin.attributes, admitted) as JsonObject, LIVE);
}

/** Attributes merged here are copies already. */
const LIVE = { fromDisk: false };

function setAttributes(twin: Twin, attributes: JsonObject, ctx: ApplyContext | typeof LIVE, measured?: number): void {
  const next = ctx.fromDisk ? diskAttributes(twin, attributes, ctx as ApplyContext) : attributes;
  const size = measured ?? sizeOf(next);
  twin.bytes += size - twin.attributeBytes;
  twin.attributeBytes = size;
  twin.attributes = next;
}

function putEntries(twin: Twin, section: "reported" | "desired", props: Props<EntryTuple | null>, ctx: ApplyContext): void {
  if (ctx.fromDisk) {
    // A damaged tuple from disk is passed over, as a refused name is, and the rest applies: set,
    // it would leave a value of nothing, and its size count would throw halfway through the entry.
    // Only the value is copied: the tuple is not kept (entriesOf copied it whole, in a pair per
    // property, a tenth of a restart's allocations).
    for (const name of Object.keys(props)) {
      if (!isPropertyName(name)) {
        refuse(twin, section, name, null, ctx);
        continue;
      }
      const tuple = props[name];
      if (!Array.isArray(tuple)) putEntry(twin, section, name, null, ctx);
      else if (tupleUsable(tuple)) {
        const value = fromDisk(twin, section, name, tuple[0], ctx);
        if (value !== undefined) putValue(twin, section, name, value, tuple[1], typeof tuple[2] === "string" ? tuple[2] : undefined, ctx);
      }
    }
  } else {
    // Live entries were built by the registry: no copy, and no list of pairs per reading.
    for (const name in props) putEntry(twin, section, name, props[name], ctx);
  }
}

/** Compact readings: every value with the entry's one source time and source. */
function putReadings(twin: Twin, e: ReportedValues & { t: number }, ctx: ApplyContext): void {
  const values = e.rv as Props<Json>;
  const ts = e.rt ?? e.t;
  if (ctx.fromDisk) {
    const reported = twin.reported;
    for (const name of Object.keys(values)) {
      // A name the twin holds passed the naming rules when it was stored: only a new one is
      // checked, as a live reading checks it (most entries on disk are readings of known names).
      const old = reported.get(name);
      if (old === undefined && !isPropertyName(name)) {
        refuse(twin, "reported", name, null, ctx);
        continue;
      }
      const value = fromDisk(twin, "reported", name, values[name], ctx);
      if (value !== undefined) putStored(twin, "reported", reported, name, old, value, ts, e.rs, ctx);
    }
  } else if (ctx.stored !== undefined && ctx.stored.values === values) {
    const entries = ctx.stored.entries;
    let i = 0;
    for (const name in values) putStored(twin, "reported", twin.reported, name, entries[i++], values[name], ts, e.rs, ctx);
  } else {
    for (const name in values) putValue(twin, "reported", name, values[name], ts, e.rs, ctx);
  }
}

function putEntry(twin: Twin, section: "reported" | "desired", name: string, tuple: EntryTuple | null, ctx: ApplyContext): void {
  if (tuple === null || !Array.isArray(tuple)) {
    const map = section === "reported" ? twin.reported : twin.desired;
    const old = map?.get(name);
    if (old) twin.bytes -= entrySize(name, old.value);
    map?.delete(name);
    return;
  }
  putValue(twin, section, name, tuple[0], tuple[1], typeof tuple[2] === "string" ? tuple[2] : undefined, ctx);
}

/** A tuple from disk that can be applied: [value, finite ts, source?] (null and other values clear: putEntries). */
function tupleUsable(tuple: EntryTuple): boolean {
  return tuple[0] !== undefined && finite(tuple[1]);
}

function putValue(twin: Twin, section: "reported" | "desired", name: string, value: Json, ts: number, source: string | undefined, ctx: ApplyContext): void {
  const map = section === "reported" ? twin.reported : twin.desired;
  putStored(twin, section, map, name, map?.get(name), value, ts, source, ctx);
}

/** putValue with the property's stored entry `old` (undefined when there is none) known already. */
function putStored(twin: Twin, section: "reported" | "desired", map: Map<string, Entry> | null, name: string, old: Entry | undefined, value: Json, ts: number, source: string | undefined, ctx: ApplyContext): void {
  twin.bytes += old ? sizeChange(value, old.value) : entrySize(name, value);
  if (old && (old.source === undefined) === (source === undefined)) {
    // Entries are read synchronously only (nobody keeps one), so the stored one is updated in
    // place: a reading allocates no new entry per property.
    old.value = value;
    old.ts = ts;
    if (source !== undefined) old.source = source;
    if (section === "reported" && typeof value === "number" && ctx.historyLength > 0) (old.series ?? seriesFor(twin, old, name, ctx)).push(ts, value);
  } else {
    const entry: Entry = source === undefined ? { value, ts, series: undefined } : { value, ts, source, series: undefined };
    if (!map) map = twin.desired = new Map();
    map.set(name, entry);
    if (section === "reported" && typeof value === "number" && ctx.historyLength > 0) seriesFor(twin, entry, name, ctx).push(ts, value);
  }
}

/** The property's history, made when it has none, and kept on its entry so later readings find it at once. */
function seriesFor(twin: Twin, entry: Entry, name: string, ctx: ApplyContext): Series {
  const history = (twin.history ??= new SeriesMap());
  let series = history.get(name);
  if (!series) history.set(name, (series = new Series(ctx.historyLength)));
  entry.series = series;
  return series;
}

/** Bytes a property adds to the document: name, value and its meta timestamps. */
export function entrySize(name: string, value: Json): number {
  return name.length * 2 + valueSize(value) + 40;
}

/** What the document's size changes by when a property's value `previous` becomes `value`. */
export function sizeChange(value: Json, previous: Json): number {
  return valueSize(value) - valueSize(previous);
}

/** sizeOf, with the numbers most values are settled here: sizeOf's switch on typeof was a call per value. */
function valueSize(value: Json): number {
  return typeof value === "number" ? 8 : sizeOf(value);
}

/** A twin as one snapshot line. */
export interface TwinRecord {
  i: string; m: string | null; c: number; u: number; v: number; l: number;
  a: JsonObject; r: Props<EntryTuple>; d?: Props<EntryTuple>; st?: Props<Json>;
  on: boolean; ls: number | null;
  /** History, flat: [ts0, v0, ts1, v1, ...] per property. */
  h?: Props<number[]>;
  /** History as encoded blocks (Series.encode): what a file snapshot writes for a series of ENCODED_FROM points or more. */
  hb?: Props<string>;
  /** Each derived section written, under its code (src/core/sections.ts): `p` predictions, `lc` lifecycle. */
  [code: string]: unknown;
}

/**
 * `encodedHistory`: the history as its encoded blocks (`hb`), for a file snapshot, where turning
 * every point into decimal text was most of the work; records for other readers (Redis, a
 * migration) keep the flat form every version reads.
 */
export function toRecord(twin: Twin, encodedHistory = false): TwinRecord {
  const rec: TwinRecord = {
    i: twin.id, m: twin.model, c: twin.created, u: twin.updated, v: twin.version, l: twin.lsn,
    a: twin.attributes, r: tuples(twin.reported), on: twin.online, ls: twin.lastSeen,
  };
  if (twin.desired && twin.desired.size) rec.d = tuples(twin.desired);
  if (twin.derived) {
    for (const [section, value] of twin.derived) {
      if (value instanceof Map) {
        if (value.size) rec[DERIVED[section].code] = fromMap(value);
      } else if (value !== null) rec[DERIVED[section].code] = value;
    }
  }
  if (twin.state && twin.state.size) rec.st = fromMap(twin.state);
  if (twin.history && twin.history.size) {
    let h: Props<number[]> | undefined;
    let hb: Props<string> | undefined;
    const history = twin.history;
    for (const name of history.keys()) {
      // A series restored from a snapshot and not read since goes to the next one as it was read: not decoded.
      const restored = encodedHistory ? history.asRestored(name) : undefined;
      if (typeof restored === "string") {
        (hb ??= dict<string>())[name] = restored;
        continue;
      }
      if (restored !== undefined) {
        (h ??= dict<number[]>())[name] = restored;
        continue;
      }
      const series = history.get(name) as Series;
      if (encodedHistory && series.length >= ENCODED_FROM) (hb ??= dict<string>())[name] = series.encode();
      else (h ??= dict<number[]>())[name] = series.toJSON();
    }
    if (h) rec.h = h;
    if (hb) rec.hb = hb;
  }
  return rec;
}

/**
 * Points from which a series is written as its encoded blocks. An encoded series is whole 64-byte
 * blocks in base64, about 80 characters for the first one however few points it holds, where
 * each point written out as [ts, value] text is about 20: a series of a few points is smaller, and
 * reads back faster, written out (100,000 twins x 10 properties of 3 points: 105 MB flat, 129 MB
 * encoded, restart 4.6 against 5.0 s; BENCHMARKS.md section 3).
 */
const ENCODED_FROM = 8;

function tuples(map: Map<string, Entry>): Props<EntryTuple> {
  const out = dict<EntryTuple>();
  for (const [name, e] of map) out[name] = e.source === undefined ? [e.value, e.ts] : [e.value, e.ts, e.source];
  return out;
}

function fromMap(map: Map<string, Json>): Props<Json> {
  const out = dict();
  for (const [k, v] of map) out[k] = v;
  return out;
}

/** How a record's sections are applied: untrusted, and with no history (a record carries its own). Its map of twins is never used. */
const RECORD: ApplyContext = Object.freeze({ twins: new Map<string, Twin>(), historyLength: 0, fromDisk: true });

/** Rebuilds a twin from an untrusted snapshot line; returns null when the line is not a twin. */
export function fromRecord(rec: unknown, historyLength: number, refused?: Refused): Twin | null {
  if (!rec || typeof rec !== "object") return null;
  const r = rec as Partial<TwinRecord>;
  if (!isTwinId(r.i) || typeof r.v !== "number" || typeof r.l !== "number") return null;
  const twin = new Twin(r.i, typeof r.m === "string" ? r.m : null, num(r.c), num(r.u));
  const ctx = refused ? { ...RECORD, refused } : RECORD;
  if (isObject(r.a)) setAttributes(twin, r.a, ctx);
  if (r.r && typeof r.r === "object") putEntries(twin, "reported", r.r, ctx);
  if (r.d && typeof r.d === "object") putEntries(twin, "desired", r.d, ctx);
  for (const section of DERIVED_SECTIONS) {
    const value = r[DERIVED[section].code];
    if (value === undefined) continue;
    if (DERIVED[section].shape === "whole") {
      const kept = fromDisk(twin, section, null, value as Json, ctx);
      if (kept !== undefined) (twin.derived ??= new Map()).set(section, kept);
    } else if (isObject(value as Json)) putKeyed(twin, section, value as Props<Json | null>, ctx);
  }
  if (r.st && typeof r.st === "object") putState(twin, r.st, ctx);
  // A record holds each series in one form or the other (short ones written out, long ones as
  // blocks); were a name in both, the blocks, read second, win, as when a record held one form only.
  // Each series is decoded when first read (SeriesMap.restore).
  if (historyLength > 0 && r.h && typeof r.h === "object") {
    for (const name of Object.keys(r.h)) {
      if (isPropertyName(name)) (twin.history ??= new SeriesMap()).restore(name, historyLength, r.h[name], true);
      else refuse(twin, "history", name, null, ctx);
    }
  }
  if (historyLength > 0 && r.hb && typeof r.hb === "object") {
    for (const name of Object.keys(r.hb)) {
      if (isPropertyName(name)) (twin.history ??= new SeriesMap()).restore(name, historyLength, r.hb[name], false);
      else refuse(twin, "history", name, null, ctx);
    }
  }
  twin.online = r.on === true;
  twin.lastSeen = typeof r.ls === "number" ? r.ls : null;
  twin.storedSeen = twin.lastSeen;
  twin.version = r.v;
  twin.lsn = r.l;
  return twin;
}

/** Whether an object has an own key, without listing them. */
function hasKeys(value: object): boolean {
  for (const _ in value) return true;
  return false;
}

function num(value: unknown): number {
  return finite(value) ? value : 0;
}
