/**
 * Usage counters, computed from the timestamps of readings, never from wall-clock timers, so
 * replayed, late or time-warped data counts the same as live data.
 *
 * Operating time is kept as `base` (milliseconds counted up to `from`) plus, while the twin runs,
 * the time from `from` to the latest reading: nothing needs writing while a machine just keeps
 * running, and a restart loses nothing because the latest reading time is the twin's own
 * (persisted) reported state. Only edges (start, stop) change the counter and are written.
 * The running condition is taken to hold from one reading to the next.
 *
 * Cycles are rising edges of the running condition. The first reading only sets the starting
 * state: a machine already running when counting begins is not counted as a start.
 *
 * Custom counters:
 *   rises  -- rising edges of their own condition (e.g. `power > 9`: load peaks)
 *   hours  -- hours while their condition holds (e.g. `temperature > 70`: hot running hours)
 *   starts -- starts of the running condition at which their condition holds (starts under load)
 */
import { Json, JsonObject, dict } from "../json";
import { isPropertyName } from "../names";
import { Condition, compileComparison } from "./conditions";
import { LifecycleError, showValue } from "./errors";

export interface RunCounter {
  on: boolean;
  /** Reading time up to which `base` counts. */
  from: number;
  /** Operating milliseconds up to `from`. */
  base: number;
  cycles: number;
}

export type CounterKind = "rises" | "hours" | "starts";

export interface CounterSpec {
  name: string;
  count: CounterKind;
  when: Condition;
}

export interface CustomCounter {
  on: boolean;
  from: number;
  /** A count (rises, starts) or milliseconds (hours). */
  value: number;
}

export const MS_PER_HOUR = 3_600_000;
export const MAX_COUNTERS = 20;

/** Hours from milliseconds, to the microhour (3.6 ms): exact enough, and no 0.30000000000000004. */
export function hoursOf(ms: number): number {
  return Math.round((ms / MS_PER_HOUR) * 1e6) / 1e6;
}

/** Operating milliseconds at reading time t. */
export function runningMs(c: RunCounter | null, t: number): number {
  if (!c) return 0;
  return c.base + (c.on ? Math.max(0, t - c.from) : 0);
}

export type Edge = "start" | "stop" | null;

/**
 * The run counter after a reading at time t with the condition `running`. Time never runs
 * backwards: a reading older than the last edge counts at the time of that edge.
 */
export function advanceRun(c: RunCounter | null, t: number, running: boolean): { counter: RunCounter; edge: Edge; changed: boolean } {
  if (!c) return { counter: { on: running, from: t, base: 0, cycles: 0 }, edge: null, changed: true };
  if (running === c.on) return { counter: c, edge: null, changed: false };
  const at = Math.max(t, c.from);
  const next: RunCounter = { on: running, from: at, base: runningMs(c, at), cycles: c.cycles + (running ? 1 : 0) };
  return { counter: next, edge: running ? "start" : "stop", changed: true };
}

/** The same counter re-based at t (base takes in the running time up to t); the totals do not change. */
export function settleRun(c: RunCounter, t: number): RunCounter {
  const at = Math.max(t, c.from);
  return { on: c.on, from: at, base: runningMs(c, at), cycles: c.cycles };
}

/** A custom counter's value at reading time t (a count, or milliseconds for `hours`). */
export function customValue(spec: CounterSpec, c: CustomCounter | undefined, t: number): number {
  if (!c) return 0;
  return spec.count === "hours" && c.on ? c.value + Math.max(0, t - c.from) : c.value;
}

/** A custom counter after a reading: `holds` is its condition, `edge` the running condition's edge. */
export function advanceCustom(spec: CounterSpec, c: CustomCounter | undefined, t: number, holds: boolean, edge: Edge): { counter: CustomCounter; changed: boolean } {
  if (!c) return { counter: { on: holds, from: t, value: spec.count === "starts" && edge === "start" && holds ? 1 : 0 }, changed: true };
  const at = Math.max(t, c.from);
  switch (spec.count) {
    case "starts":
      if (edge === "start" && holds) return { counter: { on: holds, from: at, value: c.value + 1 }, changed: true };
      return c.on === holds ? { counter: c, changed: false } : { counter: { on: holds, from: at, value: c.value }, changed: true };
    case "rises":
      if (c.on === holds) return { counter: c, changed: false };
      return { counter: { on: holds, from: at, value: c.value + (holds ? 1 : 0) }, changed: true };
    case "hours":
      if (c.on === holds) return { counter: c, changed: false };
      return { counter: { on: holds, from: at, value: customValue(spec, c, at) }, changed: true };
  }
}

/** The value people read: hours for an `hours` counter, else the count. */
export function shownValue(spec: CounterSpec, c: CustomCounter | undefined, t: number): number {
  const v = customValue(spec, c, t);
  return spec.count === "hours" ? hoursOf(v) : v;
}

// ---- settings ---------------------------------------------------------------------------------

/**
 * Custom counters from JSON text or a value: a list of
 * `{"name": "loadedStarts", "count": "starts", "when": "power > 9"}`, or with `"jsonata"`
 * instead of `"when"` (compiled by `jsonata`, which the node supplies).
 */
export function parseCounters(input: unknown, options: { jsonata?: (expression: string) => Condition; running: boolean }): CounterSpec[] {
  let raw = input;
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return [];
  if (typeof raw === "string") {
    try {
      raw = JSON.parse(raw);
    } catch (err) {
      throw new LifecycleError("config.counters", { reason: (err as Error).message.slice(0, 120) });
    }
  }
  if (!Array.isArray(raw)) throw new LifecycleError("config.counters", { reason: showValue(raw) });
  if (raw.length > MAX_COUNTERS) throw new LifecycleError("config.counters-many", { limit: MAX_COUNTERS });
  const names = new Set<string>();
  return raw.map((item, i) => {
    const at = (field: string) => ({ index: i + 1, field });
    if (!item || typeof item !== "object" || Array.isArray(item)) throw new LifecycleError("config.counter", { ...at("-"), value: showValue(item) });
    const o = item as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!["name", "count", "when", "jsonata"].includes(key)) throw new LifecycleError("config.counter", { ...at(key), value: showValue(o[key]) });
    }
    if (!isPropertyName(o.name) || names.has(o.name)) throw new LifecycleError("config.counter", { ...at("name"), value: showValue(o.name) });
    names.add(o.name);
    if (o.count !== "rises" && o.count !== "hours" && o.count !== "starts") throw new LifecycleError("config.counter", { ...at("count"), value: showValue(o.count) });
    if (o.count === "starts" && !options.running) throw new LifecycleError("config.counter", { ...at("count"), value: showValue(o.count) });
    let when: Condition;
    if (typeof o.when === "string" && o.jsonata === undefined) when = compileComparison(o.when);
    else if (typeof o.jsonata === "string" && o.when === undefined && options.jsonata) when = options.jsonata(o.jsonata);
    else throw new LifecycleError("config.counter", { ...at(o.jsonata !== undefined ? "jsonata" : "when"), value: showValue(o.jsonata ?? o.when) });
    return { name: o.name, count: o.count, when };
  });
}

// ---- state ------------------------------------------------------------------------------------

export function runToJson(c: RunCounter): JsonObject {
  return { on: c.on, from: c.from, base: c.base, cycles: c.cycles };
}

export function runFromJson(value: Json | undefined): RunCounter | null {
  if (!isObj(value)) return null;
  const { on, from, base, cycles } = value;
  if (typeof on !== "boolean" || !isNum(from) || !isNum(base) || !isNum(cycles)) return null;
  return { on, from, base, cycles };
}

export function customToJson(map: Map<string, CustomCounter>): JsonObject {
  const out = dict();
  for (const [name, c] of map) out[name] = [c.on ? 1 : 0, c.from, c.value];
  return out;
}

export function customFromJson(value: Json | undefined): Map<string, CustomCounter> {
  const out = new Map<string, CustomCounter>();
  if (!isObj(value)) return out;
  for (const name of Object.keys(value)) {
    const v = value[name];
    if (!isPropertyName(name) || !Array.isArray(v) || v.length !== 3 || !v.every(isNum)) continue;
    out.set(name, { on: v[0] === 1, from: v[1] as number, value: v[2] as number });
  }
  return out;
}

function isObj(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNum(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}
