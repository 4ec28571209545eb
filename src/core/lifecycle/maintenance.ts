/**
 * Maintenance: work orders and the rules that say when maintenance is due.
 *
 * A work order is opened (preventive, corrective or predictive, with a description and who
 * opened it), collects notes and parts while open, and is closed with the time spent. Orders are
 * kept with the twin as private state, one state key per order, so a note rewrites one order,
 * never the whole record.
 *
 * Maintenance falls due by schedule (every N operating hours, every D days of reading time,
 * every N cycles, each counted since the last maintenance) or by prediction (twin-predict says a
 * property will cross its threshold within the horizon). A due period starts once and lasts
 * until maintenance is done: a preventive or predictive order is closed, or the twin passes a
 * guarded transition (maintenance -> operating).
 */
import { Json, JsonObject, isPlainObject } from "../json";
import { isForbiddenKey, isPropertyName } from "../names";
import { TwinError } from "../errors";
import { LifecycleError, showValue } from "./errors";

export type OrderType = "preventive" | "corrective" | "predictive";
export const ORDER_TYPES: readonly OrderType[] = ["preventive", "corrective", "predictive"];

export const LIMITS = {
  text: 2000,
  by: 128,
  notes: 200,
  parts: 200,
  hours: 100_000,
};

export interface OpenInput { type: OrderType; description: string; by: string | null }
export interface NoteInput { id: string | null; note: string | null; parts: Json[] | null; by: string | null }
export interface CloseInput { id: string | null; hours: number; by: string | null; notes: string | null }

// ---- payloads ---------------------------------------------------------------------------------

/** The payload as a record with only `allowed` keys (forbidden keys refused by name). */
export function fields(twinId: string, payload: unknown, allowed: readonly string[], optional = false): Record<string, unknown> {
  if ((payload === undefined || payload === null) && optional) return Object.create(null);
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new LifecycleError("payload.object", { twinId, value: showValue(payload), fields: allowed.join(", ") });
  }
  if (!isPlainObject(payload)) throw new LifecycleError("payload.object", { twinId, value: showValue(payload), fields: allowed.join(", ") });
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(payload)) {
    if (isForbiddenKey(key)) throw new TwinError("forbidden-key", { twinId, key });
    if (!allowed.includes(key)) throw new LifecycleError("payload.unknown-field", { twinId, field: key.slice(0, 64), fields: allowed.join(", ") });
    const value = (payload as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** A string field: required (non-empty) or optional (null when absent), at most `max` characters. */
export function text(twinId: string, f: Record<string, unknown>, field: string, required: boolean, max = LIMITS.text): string | null {
  const value = f[field];
  if (value === undefined || value === null || value === "") {
    if (required) throw new LifecycleError("payload.missing", { twinId, field });
    return null;
  }
  if (typeof value !== "string") throw new LifecycleError("payload.text", { twinId, field, value: showValue(value) });
  if (value.length > max) throw new LifecycleError("payload.too-long", { twinId, field, limit: max });
  return value;
}

export function flag(twinId: string, f: Record<string, unknown>, field: string): boolean {
  const value = f[field];
  if (value === undefined || value === null || value === false) return false;
  if (value === true) return true;
  throw new LifecycleError("payload.boolean", { twinId, field, value: showValue(value) });
}

/** Epoch ms, or ISO 8601 text; null when absent. */
export function time(twinId: string, f: Record<string, unknown>, field: string): number | null {
  const value = f[field];
  if (value === undefined || value === null || value === "") return null;
  const ms = typeof value === "number" ? value : typeof value === "string" && /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new LifecycleError("payload.time", { twinId, field, value: showValue(value) });
  return ms;
}

export function readOpen(twinId: string, payload: unknown): OpenInput {
  const f = fields(twinId, payload, ["type", "description", "by"]);
  const type = f.type;
  if (type === undefined) throw new LifecycleError("payload.missing", { twinId, field: "type" });
  if (!ORDER_TYPES.includes(type as OrderType)) throw new LifecycleError("payload.order-type", { twinId, value: showValue(type) });
  return { type: type as OrderType, description: text(twinId, f, "description", true) as string, by: text(twinId, f, "by", false, LIMITS.by) };
}

export function readNote(twinId: string, payload: unknown): NoteInput {
  const f = fields(twinId, payload, ["id", "note", "parts", "by"]);
  const note = text(twinId, f, "note", false);
  const parts = f.parts === undefined || f.parts === null ? null : readParts(twinId, f.parts);
  if (note === null && (parts === null || parts.length === 0)) throw new LifecycleError("payload.note", { twinId });
  return { id: orderIdOf(twinId, f.id), note, parts, by: text(twinId, f, "by", false, LIMITS.by) };
}

export function readClose(twinId: string, payload: unknown): CloseInput {
  const f = fields(twinId, payload, ["id", "hours", "by", "notes"]);
  const hours = f.hours;
  if (hours === undefined || hours === null) throw new LifecycleError("payload.missing", { twinId, field: "hours" });
  if (typeof hours !== "number" || !Number.isFinite(hours) || hours < 0 || hours > LIMITS.hours) {
    throw new LifecycleError("payload.hours", { twinId, value: showValue(hours), limit: LIMITS.hours });
  }
  return { id: orderIdOf(twinId, f.id), hours, by: text(twinId, f, "by", false, LIMITS.by), notes: text(twinId, f, "notes", false) };
}

/** Parts: names such as "bearing 6204", or {"name": "bearing 6204", "qty": 2}. */
function readParts(twinId: string, value: unknown): Json[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length > LIMITS.parts) throw new LifecycleError("order-full", { twinId, id: "-", limit: LIMITS.parts });
  return list.map((p) => {
    if (typeof p === "string" && p !== "" && p.length <= 200) return { name: p, qty: 1 };
    if (p && typeof p === "object" && !Array.isArray(p)) {
      const keys = Object.keys(p);
      for (const key of keys) if (isForbiddenKey(key)) throw new TwinError("forbidden-key", { twinId, key });
      const { name, qty } = p as Record<string, unknown>;
      const count = qty === undefined ? 1 : qty;
      if (keys.every((k) => k === "name" || k === "qty") && typeof name === "string" && name !== "" && name.length <= 200 &&
          typeof count === "number" && Number.isFinite(count) && count > 0 && count <= 1e6) {
        return { name, qty: count };
      }
    }
    throw new LifecycleError("payload.parts", { twinId, value: showValue(p) });
  });
}

const ORDER_ID = /^WO-([1-9]\d{0,8})$/;

export function orderId(n: number): string {
  return `WO-${n}`;
}

/** "WO-3", or the number 3; null when absent (the one open order is meant). */
export function orderIdOf(twinId: string, value: unknown): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0 && value < 1e9) return orderId(value);
  if (typeof value === "string" && ORDER_ID.test(value)) return value;
  throw new LifecycleError("payload.order-id", { twinId, value: showValue(value) });
}

export function orderNumber(id: string): number {
  return Number((ORDER_ID.exec(id) as RegExpExecArray)[1]);
}

// ---- orders -----------------------------------------------------------------------------------

export function newOrder(id: string, input: OpenInput, ts: number): JsonObject {
  return { id, type: input.type, description: input.description, by: input.by, opened: ts, status: "open", notes: [], parts: [], closed: null };
}

/** The order with a note and parts added (a new object; the stored one is never touched). */
export function noted(twinId: string, order: JsonObject, input: NoteInput, ts: number): JsonObject {
  const notes = Array.isArray(order.notes) ? order.notes.slice() : [];
  const parts = Array.isArray(order.parts) ? order.parts.slice() : [];
  if (input.note !== null) {
    if (notes.length >= LIMITS.notes) throw new LifecycleError("order-full", { twinId, id: String(order.id), limit: LIMITS.notes });
    notes.push({ ts, by: input.by, text: input.note });
  }
  if (input.parts) {
    if (parts.length + input.parts.length > LIMITS.parts) throw new LifecycleError("order-full", { twinId, id: String(order.id), limit: LIMITS.parts });
    for (const p of input.parts) parts.push({ ...(p as JsonObject), ts, by: input.by });
  }
  return { ...order, notes, parts };
}

export function closed(order: JsonObject, input: CloseInput, ts: number): JsonObject {
  return { ...order, status: "closed", closed: { ts, by: input.by, hours: input.hours, notes: input.notes } };
}

export function isOpen(order: Json | undefined): order is JsonObject {
  return typeof order === "object" && order !== null && !Array.isArray(order) && order.status === "open";
}

// ---- due rules --------------------------------------------------------------------------------

export interface DueRules {
  /** Every N operating hours; null: off. */
  hours: number | null;
  /** Every D days (reading time); null: off. */
  days: number | null;
  /** Every N cycles; null: off. */
  cycles: number | null;
  /** Due when a prediction's timeToThreshold is at most this many seconds; null: off. */
  horizon: number | null;
  /** The predicted property the horizon watches; null: any. */
  property: string | null;
}

export const NO_RULES: DueRules = { hours: null, days: null, cycles: null, horizon: null, property: null };

/** Where the schedule counts from: the last maintenance (or the start of counting). */
export interface Baseline { hours: number; cycles: number; ts: number }

export const MS_PER_DAY = 86_400_000;

/** The first schedule rule that is due at (hours, cycles, t), or null. */
export function scheduleDue(rules: DueRules, base: Baseline, hours: number, cycles: number, t: number): JsonObject | null {
  if (rules.hours !== null && hours - base.hours >= rules.hours - 1e-9) {
    return { rule: "operatingHours", limit: rules.hours, value: round3(hours - base.hours), at: t };
  }
  if (rules.cycles !== null && cycles - base.cycles >= rules.cycles) {
    return { rule: "cycles", limit: rules.cycles, value: cycles - base.cycles, at: t };
  }
  if (rules.days !== null && t - base.ts >= rules.days * MS_PER_DAY) {
    return { rule: "days", limit: rules.days, value: round3((t - base.ts) / MS_PER_DAY), at: t };
  }
  return null;
}

/** Due by prediction: the property's time to threshold (seconds) is within the horizon. */
export function predictionDue(rules: DueRules, property: string, prediction: Json, t: number): JsonObject | null {
  if (rules.horizon === null || (rules.property !== null && rules.property !== property)) return null;
  if (typeof prediction !== "object" || prediction === null || Array.isArray(prediction)) return null;
  const ttt = prediction.timeToThreshold;
  if (typeof ttt !== "number" || !Number.isFinite(ttt) || ttt > rules.horizon) return null;
  const at = typeof prediction.ts === "number" && Number.isFinite(prediction.ts) ? prediction.ts : t;
  return { rule: "prediction", property, timeToThreshold: ttt, horizon: rules.horizon, at };
}

/** Rules from the node's fields: blank is off, anything else a number above 0. */
export function parseRules(input: { hours?: unknown; days?: unknown; cycles?: unknown; horizonHours?: unknown; property?: unknown }): DueRules {
  const property = typeof input.property === "string" ? input.property.trim() : "";
  if (property !== "" && !isPropertyName(property)) throw new LifecycleError("config.property", { value: showValue(property) });
  const horizonHours = positive(input.horizonHours, "horizon");
  return {
    hours: positive(input.hours, "hours"),
    days: positive(input.days, "days"),
    cycles: positive(input.cycles, "cycles"),
    horizon: horizonHours === null ? null : horizonHours * 3600,
    property: property || null,
  };
}

function positive(value: unknown, field: string): number | null {
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) return null;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new LifecycleError("config.number", { field, value: showValue(value) });
  return n;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
