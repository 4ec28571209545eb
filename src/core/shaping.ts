/**
 * How a reading's values are shaped for the twin's model before the registry checks them
 * (coercion, scale, unit, deadband): the settings as plain data, and the shaper made from them.
 * The data form is what travels with a reading forwarded to the instance leading the twin on a
 * registry shared by several (docs/redis.md): the leader makes the shaper again, so the deadband
 * is compared with the value it holds, the only one current.
 */
import type { Shaper } from "./registry";
import { TwinError, showValue } from "./errors";
import { Deadband, coerce, scaleValue, withinDeadband } from "./binding";
import { canonicalUnit, convertUnit } from "./units";

/** Left out of the change by a shaper (its value inside the deadband). */
export const SKIP: unique symbol = Symbol("skip");

/** A node's shaping settings, JSON as they are (undefined: the default). */
export interface Shaping {
  /** Decimal text and "true"/"false" become numbers and booleans when the twin has no model. */
  parseNumbers?: boolean;
  /** value * scale + offset for numbers (1 and 0 by default). */
  scale?: number;
  offset?: number;
  /** Canonical unit of the readings, converted into the unit the model gives the property. */
  unit?: string;
  /** A reading this close to the stored value changes nothing (but the twin stays online). */
  deadband?: Deadband | null;
}

/** Coercion, scale, unit and deadband for each value; a unit error names `at.twinId`, the reading being shaped. */
export function shaperFor(options: Shaping, at: { twinId: string }): Shaper {
  const scale = options.scale ?? 1;
  const offset = options.offset ?? 0;
  const parseNumbers = options.parseNumbers === true;
  const unit = options.unit;
  const deadband = options.deadband;
  return (name, raw, spec, stored) => {
    let value = scaleValue(coerce(spec, raw, parseNumbers), scale, offset);
    if (unit && spec?.unit && typeof value === "number") {
      value = convertUnit(value, unit, spec.unit, { twinId: at.twinId, property: name });
    }
    if (deadband && stored && withinDeadband(stored.value, value, deadband)) return SKIP;
    return value;
  };
}

/** Only the settings of a Shaping, with each one's own copy (nothing else a caller's object holds travels). */
export function shapingData(options: Shaping): Shaping {
  const out: Shaping = {};
  if (options.parseNumbers !== undefined) out.parseNumbers = options.parseNumbers;
  if (options.scale !== undefined && options.scale !== 1) out.scale = options.scale;
  if (options.offset !== undefined && options.offset !== 0) out.offset = options.offset;
  if (options.unit) out.unit = options.unit;
  if (options.deadband) out.deadband = { mode: options.deadband.mode, value: options.deadband.value };
  return out;
}

const KEYS = new Set(["parseNumbers", "scale", "offset", "unit", "deadband"]);

function refuse(option: string, reason: string): never {
  throw new TwinError("invalid-option", { option: `shaping.${option}`, reason });
}

/**
 * Shaping settings from elsewhere (a reading forwarded through Redis), checked as untrusted
 * input: anything but the settings above, in their types and ranges, is refused with
 * TwinError("invalid-option") naming it. A setting this instance does not know is refused too,
 * rather than a reading shaped otherwise than its sender meant.
 */
export function checkShaping(value: unknown): Shaping {
  if (typeof value !== "object" || value === null || Array.isArray(value)) refuse("", `${showValue(value)} is not an object`);
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) if (!KEYS.has(key)) refuse(key.slice(0, 40), "not a shaping setting");
  const out: Shaping = {};
  if (input.parseNumbers !== undefined) {
    if (typeof input.parseNumbers !== "boolean") refuse("parseNumbers", `${showValue(input.parseNumbers)} is not true or false`);
    out.parseNumbers = input.parseNumbers;
  }
  for (const key of ["scale", "offset"] as const) {
    const n = input[key];
    if (n === undefined) continue;
    if (typeof n !== "number" || !Number.isFinite(n)) refuse(key, `${showValue(n)} is not a number`);
    out[key] = n;
  }
  if (input.unit !== undefined) {
    const unit = input.unit;
    if (typeof unit !== "string" || canonicalUnit(unit) !== unit) refuse("unit", `${showValue(unit)} is not a known unit`);
    out.unit = unit;
  }
  if (input.deadband !== undefined && input.deadband !== null) {
    const band = input.deadband as Record<string, unknown>;
    if (typeof band !== "object" || Array.isArray(band) || Object.keys(band).length !== 2 ||
      (band.mode !== "absolute" && band.mode !== "percent") || typeof band.value !== "number" || !Number.isFinite(band.value) || band.value < 0) {
      refuse("deadband", `${showValue(input.deadband)} is not {mode: "absolute" or "percent", value: a number, 0 or more}`);
    }
    out.deadband = { mode: band.mode, value: band.value };
  }
  return out;
}

interface Rebuilt { shape: Shaper; at: { twinId: string } }

/** Shapers made again from forwarded settings, by their JSON; bounded, as the settings come from elsewhere. */
const rebuilt = new Map<string, Rebuilt>();
const REBUILT_MAX = 256;

/**
 * The shaper for shaping settings that came as data (a forwarded reading), checked first
 * (checkShaping). A stream of readings from one node carries the same settings each time: their
 * shaper is made once and kept by the settings' JSON. The shaper names `twinId` in a unit error;
 * it runs synchronously within the report it is made for (as readingPath's does).
 */
export function shaperOf(value: unknown, twinId: string): Shaper {
  const key = JSON.stringify(value);
  let found = key === undefined ? undefined : rebuilt.get(key);
  if (!found) {
    const at = { twinId };
    found = { shape: shaperFor(checkShaping(value), at), at };
    if (rebuilt.size >= REBUILT_MAX) rebuilt.clear();
    rebuilt.set(key, found);
  }
  found.at.twinId = twinId;
  return found.shape;
}
