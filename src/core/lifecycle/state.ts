/**
 * A twin's lifecycle bookkeeping, as kept in the registry's private state under the key
 * "lifecycle": counters' internals, the due schedule's baseline and the current due period,
 * the work order index and sequence, the cumulative reliability sums, and where the audit log
 * blocks are. Each work order sits under its own key (`lifecycle:wo:<n>`), the log in blocks.
 * Read back from disk, it is checked field by field; anything unusable starts from empty.
 */
import { Json, JsonObject } from "../json";
import { RunCounter, CustomCounter, runToJson, runFromJson, customToJson, customFromJson } from "./counters";
import { Baseline, orderNumber } from "./maintenance";
import { LogPointer, EMPTY_LOG } from "./log";

export const STATE_KEY = "lifecycle";

export function orderKey(id: string): string {
  return `lifecycle:wo:${orderNumber(id)}`;
}

export interface MainState {
  run: RunCounter | null;
  custom: Map<string, CustomCounter>;
  /** Where the due schedule counts from (the last maintenance, or the start of counting). */
  base: Baseline | null;
  /** The current due period, or null. */
  due: JsonObject | null;
  /** Number of the last work order opened. */
  seq: number;
  open: string[];
  /** Closed orders still kept, oldest first. */
  kept: string[];
  closedTotal: number;
  failures: number;
  repairs: number;
  repairHours: number;
  log: LogPointer;
}

export function emptyState(): MainState {
  return { run: null, custom: new Map(), base: null, due: null, seq: 0, open: [], kept: [], closedTotal: 0, failures: 0, repairs: 0, repairHours: 0, log: { ...EMPTY_LOG } };
}

/**
 * Parsed states by the stored value they came from: a twin's state value is replaced, never
 * changed in place, so its parse is good for as long as it is stored (readings look at it often).
 */
const parsed = new WeakMap<object, MainState>();

/**
 * The state held in `value`, as a copy the caller may change by assignment: its lists and
 * objects are shared with the cache and must be replaced, never changed in place.
 */
export function readState(value: Json | undefined): MainState {
  if (!isObj(value)) return emptyState();
  let s = parsed.get(value);
  if (!s) {
    s = parse(value);
    parsed.set(value, s);
  }
  return { ...s, custom: new Map(s.custom) };
}

function parse(value: JsonObject): MainState {
  const s = emptyState();
  s.run = runFromJson(value.run);
  s.custom = customFromJson(value.custom);
  if (isObj(value.base) && num(value.base.hours) && num(value.base.cycles) && num(value.base.ts)) {
    s.base = { hours: value.base.hours, cycles: value.base.cycles, ts: value.base.ts };
  }
  s.due = isObj(value.due) ? value.due : null;
  if (num(value.seq)) s.seq = value.seq;
  s.open = ids(value.open);
  s.kept = ids(value.kept);
  for (const key of ["closedTotal", "failures", "repairs", "repairHours"] as const) if (num(value[key])) s[key] = value[key] as number;
  const log = value.log;
  if (isObj(log) && num(log.first) && num(log.last) && num(log.count) && log.first <= log.last) {
    s.log = { first: log.first, last: log.last, count: log.count };
  }
  return s;
}

export function stateToJson(s: MainState): JsonObject {
  const out: JsonObject = {
    seq: s.seq,
    open: s.open.slice(),
    kept: s.kept.slice(),
    closedTotal: s.closedTotal,
    failures: s.failures,
    repairs: s.repairs,
    repairHours: s.repairHours,
    log: { first: s.log.first, last: s.log.last, count: s.log.count },
    due: s.due,
  };
  if (s.run) out.run = runToJson(s.run);
  if (s.custom.size) out.custom = customToJson(s.custom);
  if (s.base) out.base = { hours: s.base.hours, cycles: s.base.cycles, ts: s.base.ts };
  return out;
}

function ids(value: Json | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string" && /^WO-[1-9]\d{0,8}$/.test(v)) : [];
}

function isObj(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function num(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}
