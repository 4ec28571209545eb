/**
 * Fleet queries over a registry: which twins (id and model globs, lifecycle stage,
 * connectivity, conditions on attribute paths), in what order and how many of them, fleet
 * figures over one reported property (count, sum, mean, min, max, optionally per group), and
 * the reported state of a twin as of a past time, read from its history.
 *
 * Pure: no Node-RED and no timers; the caller passes the time. A JSONata selection needs
 * Node-RED, so the adapter runs it over `select`'s candidates and reads its answer with `truthy`.
 *
 * Every bad setting throws TwinError("invalid-query", { option, value }); `option` names the
 * message in the node's catalog (twinIds, models, stage, online, where, condition, path,
 * forbidden, operator, value, compare, sort, order, limit, offset, property, aggregate,
 * needs-property, groupBy, at).
 */
import { TwinError, isTwinError, showValue } from "./errors";
import { Json, JsonObject, cloneJson, dict, isPlainObject as isRecord, jsonEqual } from "./json";
import { isForbiddenKey, isPropertyName } from "./names";
import { parsePath, readPath } from "./path";
import { parseTimestamp } from "./timestamp";
import { parseDuration } from "./duration";
import { tidy } from "./units";
import { Twin, stageOf } from "./twin";
import { WatchFilter } from "./watch";

// ---- the query ---------------------------------------------------------------------------------

export type Operator = "=" | "!=" | "<" | "<=" | ">" | ">=";
export type AggregateFn = "all" | "count" | "sum" | "mean" | "min" | "max";
export type TwinField = "id" | "lastSeen" | "version" | "updated" | "created";

/** One condition on an attribute path; `path` is checked, so readPath can walk it. */
export interface Condition { path: string; op: Operator; value: Json }

export type SortKey =
  | { kind: "field"; name: TwinField }
  | { kind: "reported"; name: string }
  | { kind: "attribute"; path: string };

/** What the node's settings and a message may say; every part optional. */
export interface QueryInput {
  twinIds?: unknown;
  models?: unknown;
  stage?: unknown;
  online?: unknown;
  where?: unknown;
  sort?: unknown;
  order?: unknown;
  limit?: unknown;
  offset?: unknown;
  property?: unknown;
  aggregate?: unknown;
  groupBy?: unknown;
  at?: unknown;
}

/** A checked query. */
export interface Query {
  /** Id and model globs; null lets every twin through. */
  filter: WatchFilter | null;
  stage: string | null;
  online: boolean | null;
  where: Condition[];
  sort: SortKey;
  /** 1 ascending, -1 descending. */
  order: 1 | -1;
  /** Infinity: no limit. */
  limit: number;
  offset: number;
  /** A reported property name, for aggregates. */
  property: string | null;
  aggregate: AggregateFn;
  /** An attribute path to group aggregates by. */
  groupBy: string | null;
  /** Epoch ms: reported values are taken as of this time. */
  at: number | null;
}

export const QUERY_KEYS: readonly (keyof QueryInput)[] = [
  "twinIds", "models", "stage", "online", "where", "sort", "order", "limit", "offset", "property", "aggregate", "groupBy", "at",
];

const OPERATORS = new Map<string, Operator>([
  ["=", "="], ["==", "="], ["!=", "!="], ["<>", "!="], ["<", "<"], ["<=", "<="], [">", ">"], [">=", ">="],
]);
const FIELDS = new Set<string>(["id", "lastSeen", "version", "updated", "created"]);
const AGGREGATES = new Set<string>(["all", "count", "sum", "mean", "min", "max"]);
const MAX_CONDITIONS = 100;
const MAX_COUNT = 1e9;
const MAX_STAGE = 128;
const MAX_PATH = 500;

function invalid(option: string, value: unknown): never {
  const shown = showValue(value, 60);
  throw new TwinError("invalid-query", { option, value: shown, reason: `${option} ${shown}` });
}

const blank = (v: unknown): boolean => v === undefined || v === null || (typeof v === "string" && v.trim() === "");

/** Checks a query. `now` is the time a relative `at` ("-1h") counts back from. */
export function compileQuery(input: QueryInput, now: number): Query {
  let filter: WatchFilter | null = null;
  if (!blank(input.twinIds) || !blank(input.models)) {
    try {
      const f = new WatchFilter({ twinIds: blank(input.twinIds) ? undefined : input.twinIds, models: blank(input.models) ? undefined : input.models });
      filter = f.ids || f.models ? f : null;
    } catch (err) {
      if (isTwinError(err) && err.code === "invalid-option") invalid(String(err.params.option), String(err.params.value ?? ""));
      throw err;
    }
  }
  const aggregate = aggregateOf(input.aggregate);
  const property = propertyOf(input.property);
  if (property === null && aggregate !== "all" && aggregate !== "count") invalid("needs-property", aggregate);
  const limit = countOf(input.limit, "limit");
  return {
    filter,
    stage: stageFilter(input.stage),
    online: onlineOf(input.online),
    where: parseWhere(input.where),
    sort: parseSort(input.sort),
    order: orderOf(input.order),
    limit: limit === 0 ? Infinity : limit,
    offset: countOf(input.offset, "offset"),
    property,
    aggregate,
    groupBy: blank(input.groupBy) ? null : attributePath(input.groupBy, "groupBy"),
    at: parseAt(input.at, now),
  };
}

function stageFilter(value: unknown): string | null {
  if (blank(value)) return null;
  if (typeof value !== "string" || value.length > MAX_STAGE) invalid("stage", value);
  return value.trim();
}

function onlineOf(value: unknown): boolean | null {
  if (blank(value) || value === "any") return null;
  if (value === true || value === "true" || value === "online") return true;
  if (value === false || value === "false" || value === "offline") return false;
  return invalid("online", value);
}

function orderOf(value: unknown): 1 | -1 {
  if (blank(value)) return 1;
  const text = typeof value === "string" ? value.trim().toLowerCase() : value;
  if (text === "asc" || text === "ascending") return 1;
  if (text === "desc" || text === "descending") return -1;
  return invalid("order", value);
}

/** A whole number 0 to 1e9 from a number or decimal text; blank is 0. */
function countOf(value: unknown, option: string): number {
  if (blank(value)) return 0;
  const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_COUNT) invalid(option, value);
  return n;
}

function aggregateOf(value: unknown): AggregateFn {
  if (blank(value)) return "all";
  const text = typeof value === "string" ? value.trim() : value;
  if (typeof text !== "string" || !AGGREGATES.has(text)) invalid("aggregate", value);
  return text as AggregateFn;
}

/** A reported property name; "reported.temperature" is read as "temperature". */
function propertyOf(value: unknown): string | null {
  if (blank(value)) return null;
  if (typeof value !== "string") return invalid("property", value);
  let name = value.trim();
  if (name.startsWith("reported.")) name = name.slice("reported.".length);
  if (isForbiddenKey(name)) invalid("forbidden", value);
  if (!isPropertyName(name)) invalid("property", value);
  return name;
}

/** Checks an attribute path (site, tags.line, zones[0]); refuses __proto__, constructor, prototype. */
function attributePath(value: unknown, option: string): string {
  if (typeof value !== "string" || value.length > MAX_PATH) return invalid(option === "groupBy" ? "groupBy" : "path", value);
  const path = value.trim();
  try {
    parsePath(path);
  } catch {
    if (/(^|[^A-Za-z0-9_$])(__proto__|constructor|prototype)([^A-Za-z0-9_$]|$)/.test(path)) invalid("forbidden", value);
    invalid(option === "groupBy" ? "groupBy" : "path", value);
  }
  return path;
}

/**
 * The sort key: a twin field (id, lastSeen, version, updated, created), a reported property
 * (`temperature` or `reported.temperature`; the prefix is needed for a property named like a
 * field), or an attribute path (`attributes.site`). Blank sorts by id.
 */
export function parseSort(value: unknown): SortKey {
  if (blank(value)) return { kind: "field", name: "id" };
  if (typeof value !== "string") return invalid("sort", value);
  const text = value.trim();
  if (FIELDS.has(text)) return { kind: "field", name: text as TwinField };
  if (text.startsWith("attributes.")) {
    const path = text.slice("attributes.".length);
    if (/(^|[^A-Za-z0-9_$])(__proto__|constructor|prototype)([^A-Za-z0-9_$]|$)/.test(path)) invalid("forbidden", value);
    try {
      parsePath(path);
    } catch {
      invalid("sort", value);
    }
    return { kind: "attribute", path };
  }
  const name = text.startsWith("reported.") ? text.slice("reported.".length) : text;
  if (isForbiddenKey(name)) invalid("forbidden", value);
  if (!isPropertyName(name)) invalid("sort", value);
  return { kind: "reported", name };
}

/**
 * Conditions on attribute paths, all of which a twin must meet. Either
 * - an object of path -> value (equality) or path -> { operator: value, ... }:
 *   `{ "site": "plant-1", "floor": { ">=": 2, "<": 5 } }`; or
 * - an array of `{ path, op, value, type }` (the editor's rows): `op` defaults to "=", and
 *   `type` (str, num, bool, json, null) reads a text `value` as that type.
 * Operators: = (or ==), != (or <>), <, <=, >, >=. The comparisons take a number or a string.
 */
export function parseWhere(value: unknown): Condition[] {
  if (blank(value)) return [];
  const out: Condition[] = [];
  const add = (c: Condition): void => {
    if (out.length >= MAX_CONDITIONS) invalid("where", `more than ${MAX_CONDITIONS} conditions`);
    out.push(c);
  };
  if (Array.isArray(value)) {
    for (const row of value) {
      if (!isRecord(row)) invalid("condition", row);
      const path = attributePath(row.path, "path");
      const op = operatorOf(row.op === undefined || row.op === "" ? "=" : row.op);
      add(condition(path, op, typed(row.value, row.type)));
    }
    return out;
  }
  if (!isRecord(value)) return invalid("where", value);
  for (const key of Object.keys(value)) {
    const path = attributePath(key, "path");
    const v = value[key];
    if (isRecord(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => OPERATORS.has(k))) {
      for (const k of Object.keys(v)) add(condition(path, operatorOf(k), jsonOf(v[k])));
    } else {
      add(condition(path, "=", jsonOf(v)));
    }
  }
  return out;
}

function condition(path: string, op: Operator, value: Json): Condition {
  if (op !== "=" && op !== "!=" && typeof value !== "number" && typeof value !== "string") invalid("compare", value);
  return { path, op, value };
}

function operatorOf(value: unknown): Operator {
  const op = typeof value === "string" ? OPERATORS.get(value.trim()) : undefined;
  if (!op) return invalid("operator", value);
  return op;
}

/** An editor row's value read as its type. */
function typed(value: unknown, type: unknown): Json {
  if (type === undefined || type === null || type === "" || typeof value !== "string") return jsonOf(value);
  switch (type) {
    case "str":
      return value;
    case "num": {
      const n = value.trim() === "" ? NaN : Number(value);
      if (!Number.isFinite(n)) invalid("value", value);
      return n;
    }
    case "bool":
      if (value === "true") return true;
      if (value === "false") return false;
      return invalid("value", value);
    case "null":
      return null;
    case "json":
      try {
        return jsonOf(JSON.parse(value));
      } catch (err) {
        if (isTwinError(err)) throw err;
        return invalid("value", value);
      }
    default:
      return invalid("value", type);
  }
}

/** A value to compare with: JSON, refused otherwise (functions, NaN, Dates...). */
function jsonOf(value: unknown, depth = 0): Json {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) invalid("value", value);
    return value;
  }
  if (depth < 8 && Array.isArray(value)) return value.map((v) => jsonOf(v, depth + 1));
  if (depth < 8 && isRecord(value)) {
    const out = dict();
    for (const k of Object.keys(value)) {
      if (isForbiddenKey(k)) invalid("forbidden", k);
      out[k] = jsonOf(value[k], depth + 1);
    }
    return out;
  }
  return invalid("value", value);
}

/**
 * `at` as epoch ms: a number of epoch ms, decimal text of epoch ms, an ISO 8601 date or
 * date-time, a Date, or a time before `now`: "-1h", "-30m", "-90s" (durations as the simulator
 * reads them). Blank: null (the current state). Before 1970 or unreadable: invalid.
 */
export function parseAt(value: unknown, now: number): number | null {
  if (blank(value)) return null;
  let at: number | null = null;
  if (typeof value === "number") at = Number.isFinite(value) ? Math.round(value) : null;
  else if (value instanceof Date) at = Number.isFinite(value.getTime()) ? value.getTime() : null;
  else if (typeof value === "string") {
    const text = value.trim();
    if (text.startsWith("-")) {
      try {
        at = now - parseDuration(text.slice(1), "at");
      } catch {
        at = null;
      }
    } else if (/^\d+$/.test(text)) {
      at = Number(text);
    } else if (text.length <= 64) {
      at = parseTimestamp(text);
    }
  }
  if (at === null || !Number.isFinite(at) || at < 0) return invalid("at", value);
  return at;
}

// ---- selection ---------------------------------------------------------------------------------

/** What `select` needs of a registry. */
export interface TwinSource {
  ids(): Iterable<string>;
  twin(id: string): Twin | undefined;
}

/** Whether a twin meets the query's id, model, stage, online and attribute conditions. */
export function matches(twin: Twin, q: Query): boolean {
  if (q.filter && !q.filter.matchesTwin(twin.id, twin.model)) return false;
  if (q.online !== null && twin.online !== q.online) return false;
  if (q.stage !== null && stageOf(twin) !== q.stage) return false;
  for (const c of q.where) if (!meets(twin.attributes, c)) return false;
  return true;
}

/** The twins that meet the query's conditions, in the registry's order (see `arrange`). */
export function select(source: TwinSource, q: Query): Twin[] {
  const out: Twin[] = [];
  for (const id of source.ids()) {
    const twin = source.twin(id);
    if (twin && matches(twin, q)) out.push(twin);
  }
  return out;
}

/**
 * One condition against a twin's attributes. A missing path meets only `!=`; `<`, `<=`, `>`, `>=`
 * compare numbers with numbers and strings with strings (other pairs never meet); `=` and `!=`
 * compare JSON values deeply, with no conversion ("2" is not 2).
 */
export function meets(attributes: JsonObject, c: Condition): boolean {
  const v = readPath(attributes, c.path) as Json | undefined;
  switch (c.op) {
    case "=":
      return v !== undefined && jsonEqual(v, c.value);
    case "!=":
      return v === undefined || !jsonEqual(v, c.value);
    default: {
      if (typeof v !== typeof c.value || (typeof v !== "number" && typeof v !== "string")) return false;
      const a = v as number | string;
      const b = c.value as number | string;
      if (c.op === "<") return a < b;
      if (c.op === "<=") return a <= b;
      if (c.op === ">") return a > b;
      return a >= b;
    }
  }
}

/** How JSONata's $boolean() reads a result: what selects a twin with an expression. */
export function truthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  switch (typeof value) {
    case "boolean":
      return value;
    case "number":
      return value !== 0 && !Number.isNaN(value);
    case "string":
      return value.length > 0;
    case "function":
      return false;
    case "object":
      if (Array.isArray(value)) return value.length === 1 ? truthy(value[0]) : value.some(truthy);
      return Object.keys(value).length > 0;
    default:
      return false;
  }
}

// ---- order and limit ---------------------------------------------------------------------------

type Key = number | string | undefined;

function sortValue(twin: Twin, key: SortKey, at: number | null): Key {
  let v: unknown;
  switch (key.kind) {
    case "field":
      v = key.name === "id" ? twin.id : twin[key.name];
      break;
    case "reported":
      v = at === null ? twin.reported.get(key.name)?.value : reportedAt(twin, key.name, at)?.value;
      break;
    case "attribute":
      v = readPath(twin.attributes, key.path);
      break;
  }
  return typeof v === "number" || typeof v === "string" ? v : undefined;
}

/** Numbers before strings; undefined (missing, or neither) after both, whatever the order. */
function compareKeys(a: Key, b: Key, order: 1 | -1): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  if (typeof a !== typeof b) return (typeof a === "number" ? -1 : 1) * order;
  return (a < b ? -1 : a > b ? 1 : 0) * order;
}

interface Keyed { twin: Twin; key: Key }

function compareKeyed(x: Keyed, y: Keyed, order: 1 | -1): number {
  return compareKeys(x.key, y.key, order) || (x.twin.id < y.twin.id ? -1 : x.twin.id > y.twin.id ? 1 : 0);
}

/**
 * Sorts (ties by id, ascending), then skips `offset` and keeps `limit`. Twins with no value for
 * the key (no such reported property, or one that is neither a number nor a string) come last in
 * either order. With `at`, a reported property sorts by its value as of then. `total` counts the
 * twins before offset and limit.
 */
export function arrange(twins: Twin[], q: Query): { total: number; twins: Twin[] } {
  const keyed: Keyed[] = twins.map((twin) => ({ twin, key: sortValue(twin, q.sort, q.at) }));
  const wanted = q.offset + q.limit;
  let sorted: Keyed[];
  if (wanted <= 64 && wanted * 8 < keyed.length) {
    // The top few of many (the hottest pump): keep a short sorted list instead of sorting all.
    sorted = [];
    for (const item of keyed) {
      if (sorted.length === wanted && compareKeyed(item, sorted[wanted - 1], q.order) >= 0) continue;
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareKeyed(sorted[mid], item, q.order) <= 0) lo = mid + 1;
        else hi = mid;
      }
      sorted.splice(lo, 0, item);
      if (sorted.length > wanted) sorted.pop();
    }
  } else {
    sorted = keyed.sort((x, y) => compareKeyed(x, y, q.order));
  }
  const end = q.limit === Infinity ? sorted.length : q.offset + q.limit;
  return { total: twins.length, twins: sorted.slice(q.offset, end).map((k) => k.twin) };
}

// ---- aggregates --------------------------------------------------------------------------------

/**
 * Fleet figures over one reported property. `twins`: how many twins were aggregated; `count`:
 * how many of them have a numeric value for the property (every twin when there is no
 * property); sum, mean, min and max are over those values, null when there are none (or no
 * property). Booleans, text and missing values are left out, not read as 0. Sum and mean are
 * rounded to 15 significant digits, which drops floating-point noise and nothing else.
 */
export interface Figures { twins: number; count: number; sum: number | null; mean: number | null; min: number | null; max: number | null }

export function figures(twins: Twin[], property: string | null, at: number | null = null): Figures {
  if (property === null) return { twins: twins.length, count: twins.length, sum: null, mean: null, min: null, max: null };
  let count = 0;
  let sum = 0;
  let carry = 0; // Neumaier summation: the low bits a plain sum of many readings loses
  let min = Infinity;
  let max = -Infinity;
  for (const twin of twins) {
    const v = at === null ? twin.reported.get(property)?.value : reportedAt(twin, property, at)?.value;
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    count++;
    const t = sum + v;
    carry += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0) return { twins: twins.length, count: 0, sum: null, mean: null, min: null, max: null };
  // Rounded to 15 significant digits, as unit conversions are: 55.8, not 55.800000000000004.
  const total = sum + carry;
  return { twins: twins.length, count, sum: tidy(total), mean: tidy(total / count), min, max };
}

export interface Group extends Figures { group: Json }

/** Figures per value of an attribute path, groups in ascending order; twins without it in group null, last. */
export function groups(twins: Twin[], path: string, property: string | null, at: number | null = null): Group[] {
  const byKey = new Map<string, { group: Json; twins: Twin[] }>();
  for (const twin of twins) {
    const raw = readPath(twin.attributes, path) as Json | undefined;
    const group = raw === undefined ? null : raw;
    const key = JSON.stringify(group);
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { group: cloneJson(group), twins: [] }));
    entry.twins.push(twin);
  }
  const keyOf = (g: Json): Key => (typeof g === "number" || typeof g === "string" ? g : undefined);
  const list = [...byKey.values()].sort((a, b) => {
    const ka = keyOf(a.group);
    const kb = keyOf(b.group);
    if (ka === undefined && kb === undefined) {
      // null last; other non-scalar groups (booleans, objects) in the order of their JSON
      if (a.group === null || b.group === null) return a.group === b.group ? 0 : a.group === null ? 1 : -1;
      const ja = JSON.stringify(a.group);
      const jb = JSON.stringify(b.group);
      return ja < jb ? -1 : ja > jb ? 1 : 0;
    }
    return compareKeys(ka, kb, 1);
  });
  return list.map((entry) => ({ group: entry.group, ...figures(entry.twins, property, at) }));
}

/**
 * What the aggregate output sends: with `aggregate` "all", the Figures (or, grouped, a list of
 * `{ group, twins, count, sum, mean, min, max }`); with one function, that figure alone (a
 * number, or null when there are no values), or grouped a list of `{ group, twins, value }`.
 */
export function aggregatePayload(twins: Twin[], q: Query): Json {
  const pick = (f: Figures): number | null => (q.aggregate === "all" ? null : f[q.aggregate as Exclude<AggregateFn, "all">]);
  if (q.groupBy !== null) {
    const list = groups(twins, q.groupBy, q.property, q.at);
    if (q.aggregate === "all") return list as unknown as Json;
    return list.map((g) => ({ group: g.group, twins: g.twins, value: pick(g) }));
  }
  const f = figures(twins, q.property, q.at);
  return q.aggregate === "all" ? (f as unknown as Json) : pick(f);
}

// ---- state at a past time ------------------------------------------------------------------------

/**
 * Why a property has no value in a past state:
 * - not-numeric: its reading is later than `at` and it is not a number, so it has no history;
 * - no-history: a number, but the registry keeps no history (history length 0);
 * - before-first: `at` is before its first reading;
 * - beyond-history: `at` is before the oldest point the history still holds (the ring buffer
 *   keeps the registry's history length of points per property).
 */
export type StateNote = "not-numeric" | "no-history" | "before-first" | "beyond-history";

export interface ValueAt { value: Json; ts: number | null; note?: StateNote }

/**
 * A reported property as of `at`: the latest reading at or before it. The current reading
 * answers when it is that old (whatever its type); otherwise the history's latest point at or
 * before `at`. History holds numbers only. Undefined when the twin never reported the property.
 */
export function reportedAt(twin: Twin, name: string, at: number): ValueAt | undefined {
  const entry = twin.reported.get(name);
  if (!entry) return undefined;
  if (entry.ts <= at) return { value: entry.value, ts: entry.ts };
  if (typeof entry.value !== "number") return { value: null, ts: null, note: "not-numeric" };
  const series = twin.history?.get(name);
  if (!series) return { value: null, ts: null, note: "no-history" };
  const point = series.valueAt(at);
  if (point) return { value: point.value, ts: point.ts };
  return { value: null, ts: null, note: series.length < series.capacity ? "before-first" : "beyond-history" };
}

/** A twin's reported state as of a time: what the query sends for each twin when `at` is given. */
export interface TwinState {
  id: string;
  model: string | null;
  at: number;
  reported: Record<string, Json>;
  /** When each value was read; null when there is no value. */
  ts: Record<string, number | null>;
  /** Why a property is null, for those that are. */
  notes: Record<string, StateNote>;
}

export function stateAt(twin: Twin, at: number): TwinState {
  const reported = dict<Json>();
  const ts = dict<number | null>();
  const notes = dict<StateNote>();
  for (const name of twin.reported.keys()) {
    const v = reportedAt(twin, name, at) as ValueAt;
    reported[name] = cloneJson(v.value);
    ts[name] = v.ts;
    if (v.note) notes[name] = v.note;
  }
  return { id: twin.id, model: twin.model, at, reported, ts, notes };
}

