/**
 * Simulation profiles: what a simulated device measures and how each signal behaves. A profile
 * is JSON, written by people, so parsing is strict: an unknown field (a typo such as "amplitud"),
 * a wrong type or an impossible value fails with TwinError("invalid-option", {option: "profile",
 * reason}) where the reason names the property and field, e.g. "temperature.cycle.period: ...".
 *
 * Durations are seconds or text with a unit ("30s", "2h", "3d"); see clock.ts. All times in a
 * profile are simulated time since the simulation started (or was reset).
 */
import { TwinError, showValue as show } from "../errors";
import { isPropertyName } from "../names";
import { parseDuration as clockDuration } from "../duration";

export interface Cycle { amplitude: number; periodMs: number; phase: number }

export interface Drift {
  /** Drift after one `per`: value += rate x ((t - start) / per) ^ exponent. */
  rate: number;
  perMs: number;
  exponent: number;
  startMs: number;
  /** Relative spread of the rate between devices (0.3: each device's rate is x N(1, 0.3)). */
  spread: number;
}

export type FaultType = "step" | "stuck" | "dropout" | "spike" | "noise";

export interface Fault {
  type: FaultType;
  /** Shares random draws (whether and when) with faults of the same name on other properties; "" for none. */
  name: string;
  /** When it starts: a fixed time, or each device draws a time in [atMs, atToMs]. */
  atMs: number;
  atToMs: number;
  /** How long it lasts; Infinity for ever (a spike is one reading). */
  durationMs: number;
  /** step: added to the value; spike: added to one reading; noise: the standard deviation of the extra noise. */
  size: number;
  /** Chance that a device has this fault at all. */
  probability: number;
  /** Only these devices (empty: every device). */
  devices: string[];
}

export interface PropertySpec {
  name: string;
  base: number;
  /** Spread of the base between devices (standard deviation). */
  spread: number;
  cycles: Cycle[];
  noise: number;
  drift: Drift | null;
  spikes: { probability: number; size: number } | null;
  dropout: number;
  stuck: { probability: number; durationMs: number } | null;
  faults: Fault[];
  resolution: number;
  min: number;
  max: number;
  /** Time constant of the first-order response to a new setpoint (0: at once). */
  lagMs: number;
  /** Commands naming this property set its setpoint. */
  writable: boolean;
  /** This property is the setpoint of another one: commands set it and the other follows it. */
  setpointOf: string | null;
  /** value += factor x (level of the other property - its starting level). */
  couple: Array<{ property: string; factor: number }>;
  unit: string;
}

export interface Profile {
  properties: PropertySpec[];
  /** Chance that a device sends nothing at all at a reading. */
  dropout: number;
}

export const MAX_PROPERTIES = 100;
export const MAX_FAULTS = 100;

/**
 * The default profile: a centrifugal pump. Temperature with a daily cycle and slow wear,
 * vibration that wears faster and faster and has spikes, an rpm that follows commands with a
 * 5 s lag, and a power draw that rises with rpm. Some pumps develop a bearing fault between
 * simulated day 4 and 6 (vibration and temperature step up together).
 */
export const PUMP_PROFILE = {
  properties: {
    temperature: {
      unit: "Cel", base: 55, spread: 1.5, noise: 0.3, resolution: 0.1,
      cycle: { amplitude: 3, period: "1d" },
      drift: { rate: 0.4, per: "1d", shape: "linear", spread: 0.3 },
      couple: { rpm: 0.01 },
      faults: [{ name: "bearing", type: "step", at: ["4d", "6d"], size: 4, probability: 0.4 }],
    },
    vibration: {
      unit: "mm/s", base: 2, spread: 0.2, noise: 0.15, resolution: 0.01, min: 0,
      drift: { rate: 0.3, per: "7d", shape: "accelerating", spread: 0.3 },
      spikes: { probability: 0.005, size: 3 },
      couple: { rpm: 0.001 },
      faults: [{ name: "bearing", type: "step", at: ["4d", "6d"], size: 1.5, probability: 0.4 }],
    },
    rpm: {
      unit: "rpm", base: 1450, noise: 3, resolution: 1, min: 0, max: 3600, writable: true, lag: "5s",
    },
    power: {
      unit: "kW", base: 7.5, spread: 0.3, noise: 0.1, resolution: 0.01, min: 0,
      drift: { rate: 0.05, per: "1d", shape: "linear" },
      couple: { rpm: 0.005 },
      dropout: 0.01,
    },
  },
};

/** Parses a profile from JSON text or a value; empty text means the pump profile. */
export function parseProfile(input: unknown): Profile {
  let raw = input;
  if (typeof raw === "string") {
    if (raw.trim() === "") raw = PUMP_PROFILE;
    else {
      try {
        raw = JSON.parse(raw);
      } catch (err) {
        bad("", `not JSON (${(err as Error).message.slice(0, 120)})`);
      }
    }
  }
  if (raw === undefined || raw === null) raw = PUMP_PROFILE;
  const top = object(raw, "");
  allowOnly(top, ["properties", "dropout"], "");
  const props = object(top.properties, "properties");
  const names = Object.keys(props);
  if (names.length === 0) bad("properties", "a profile needs at least one property");
  if (names.length > MAX_PROPERTIES) bad("properties", `at most ${MAX_PROPERTIES} properties`);
  const specs = names.map((name) => {
    if (!isPropertyName(name)) bad(name, "not a valid property name (a letter or _ then letters, digits or _)");
    return property(name, props[name]);
  });
  checkLinks(specs);
  return { properties: specs, dropout: probability(top.dropout, "dropout") };
}

const PROPERTY_FIELDS = [
  "base", "spread", "cycle", "noise", "drift", "spikes", "dropout", "stuck", "faults", "resolution",
  "min", "max", "lag", "writable", "setpointOf", "couple", "unit",
];

function property(name: string, value: unknown): PropertySpec {
  const o = object(value, name);
  allowOnly(o, PROPERTY_FIELDS, name);
  const at = (field: string) => `${name}.${field}`;
  const min = num(o.min, at("min"), -Infinity);
  const max = num(o.max, at("max"), Infinity);
  if (min > max) bad(at("min"), `min ${min} is above max ${max}`);
  if (o.unit !== undefined && typeof o.unit !== "string") bad(at("unit"), "must be text");
  if (o.writable !== undefined && typeof o.writable !== "boolean") bad(at("writable"), "must be true or false");
  if (o.setpointOf !== undefined && typeof o.setpointOf !== "string") bad(at("setpointOf"), "must name another property");
  return {
    name,
    base: num(o.base, at("base"), NaN), // NaN: not given (a setpoint takes its target's base)
    spread: nonNegative(o.spread, at("spread")),
    cycles: cycles(o.cycle, at("cycle")),
    noise: nonNegative(o.noise, at("noise")),
    drift: o.drift === undefined ? null : drift(o.drift, at("drift")),
    spikes: o.spikes === undefined ? null : spikes(o.spikes, at("spikes")),
    dropout: probability(o.dropout, at("dropout")),
    stuck: o.stuck === undefined ? null : stuck(o.stuck, at("stuck")),
    faults: faults(o.faults, at("faults")),
    resolution: nonNegative(o.resolution, at("resolution")),
    min,
    max,
    lagMs: o.lag === undefined ? 0 : parseDuration(o.lag, at("lag")),
    writable: o.writable === true,
    setpointOf: (o.setpointOf as string | undefined) ?? null,
    couple: couple(o.couple, at("couple")),
    unit: (o.unit as string | undefined) ?? "",
  };
}

function cycles(value: unknown, where: string): Cycle[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.length > 10) bad(where, "at most 10 cycles");
  return list.map((item, i) => {
    const w = Array.isArray(value) ? `${where}[${i}]` : where;
    const o = object(item, w);
    allowOnly(o, ["amplitude", "period", "phase"], w);
    const periodMs = o.period === undefined ? 86_400_000 : parseDuration(o.period, `${w}.period`);
    if (periodMs <= 0) bad(`${w}.period`, "must be above 0");
    const phase = num(o.phase, `${w}.phase`, 0);
    if (phase < 0 || phase >= 1) bad(`${w}.phase`, "a fraction of the period, from 0 to below 1");
    return { amplitude: num(o.amplitude, `${w}.amplitude`, 0), periodMs, phase };
  });
}

function drift(value: unknown, where: string): Drift {
  const o = object(value, where);
  allowOnly(o, ["rate", "per", "shape", "exponent", "start", "spread"], where);
  const shape = o.shape === undefined ? "linear" : o.shape;
  if (shape !== "linear" && shape !== "accelerating") bad(`${where}.shape`, `"linear" or "accelerating", not ${show(shape)}`);
  const exponent = num(o.exponent, `${where}.exponent`, shape === "linear" ? 1 : 2);
  if (shape === "linear" && exponent !== 1) bad(`${where}.exponent`, "a linear drift has exponent 1; use shape \"accelerating\"");
  if (shape === "accelerating" && !(exponent > 1 && exponent <= 10)) bad(`${where}.exponent`, "above 1 and at most 10 for an accelerating drift");
  const perMs = o.per === undefined ? 86_400_000 : parseDuration(o.per, `${where}.per`);
  if (perMs <= 0) bad(`${where}.per`, "must be above 0");
  return {
    rate: num(o.rate, `${where}.rate`, 0),
    perMs,
    exponent,
    startMs: o.start === undefined ? 0 : parseDuration(o.start, `${where}.start`),
    spread: nonNegative(o.spread, `${where}.spread`),
  };
}

function spikes(value: unknown, where: string) {
  const o = object(value, where);
  allowOnly(o, ["probability", "size"], where);
  return { probability: probability(o.probability, `${where}.probability`), size: num(o.size, `${where}.size`, 0) };
}

function stuck(value: unknown, where: string) {
  const o = object(value, where);
  allowOnly(o, ["probability", "duration"], where);
  if (o.duration === undefined) bad(`${where}.duration`, "how long the sensor stays stuck is needed");
  const durationMs = parseDuration(o.duration, `${where}.duration`);
  if (durationMs <= 0) bad(`${where}.duration`, "must be above 0");
  return { probability: probability(o.probability, `${where}.probability`), durationMs };
}

const FAULT_TYPES: FaultType[] = ["step", "stuck", "dropout", "spike", "noise"];

function faults(value: unknown, where: string): Fault[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) bad(where, "must be a list of faults");
  if (value.length > MAX_FAULTS) bad(where, `at most ${MAX_FAULTS} faults`);
  return value.map((item, i) => {
    const w = `${where}[${i}]`;
    const o = object(item, w);
    allowOnly(o, ["type", "name", "at", "duration", "size", "probability", "devices"], w);
    if (!FAULT_TYPES.includes(o.type as FaultType)) bad(`${w}.type`, `one of ${FAULT_TYPES.join(", ")}, not ${show(o.type)}`);
    const type = o.type as FaultType;
    if (o.at === undefined) bad(`${w}.at`, "when the fault happens is needed (e.g. \"3d\", or a range [\"2d\", \"5d\"])");
    let atMs: number;
    let atToMs: number;
    if (Array.isArray(o.at)) {
      if (o.at.length !== 2) bad(`${w}.at`, "a range is a list of two durations, [from, to]");
      atMs = parseDuration(o.at[0], `${w}.at`);
      atToMs = parseDuration(o.at[1], `${w}.at`);
      if (atToMs < atMs) bad(`${w}.at`, "the end of the range is before its start");
    } else {
      atMs = atToMs = parseDuration(o.at, `${w}.at`);
    }
    if (type === "spike" && o.duration !== undefined) bad(`${w}.duration`, "a spike is one reading and has no duration");
    const durationMs = o.duration === undefined ? Infinity : parseDuration(o.duration, `${w}.duration`);
    if ((type === "step" || type === "spike" || type === "noise") && o.size === undefined) bad(`${w}.size`, `a ${type} fault needs a size`);
    if (type === "noise" && !(typeof o.size === "number" && o.size > 0)) bad(`${w}.size`, `a noise fault's size is the standard deviation of the noise it adds, a number above 0, not ${show(o.size)}`);
    if ((type === "stuck" || type === "dropout") && o.size !== undefined) bad(`${w}.size`, `a ${type} fault has no size`);
    if (o.name !== undefined && (typeof o.name !== "string" || o.name === "")) bad(`${w}.name`, "must be text");
    let devices: string[] = [];
    if (o.devices !== undefined) {
      if (!Array.isArray(o.devices) || !o.devices.every((d) => typeof d === "string")) bad(`${w}.devices`, "must be a list of device ids");
      devices = o.devices as string[];
    }
    return {
      type,
      name: (o.name as string | undefined) ?? "",
      atMs,
      atToMs,
      durationMs,
      size: num(o.size, `${w}.size`, 0),
      probability: o.probability === undefined ? 1 : probability(o.probability, `${w}.probability`),
      devices,
    };
  });
}

function couple(value: unknown, where: string): Array<{ property: string; factor: number }> {
  if (value === undefined) return [];
  const o = object(value, where);
  return Object.keys(o).map((property) => ({ property, factor: num(o[property], `${where}.${property}`, 0) }));
}

/** Cross-property rules: names exist, no self links, one setpoint per property. */
function checkLinks(specs: PropertySpec[]): void {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const setpointFor = new Map<string, string>();
  for (const s of specs) {
    for (const c of s.couple) {
      if (!byName.has(c.property)) bad(`${s.name}.couple`, `no property ${show(c.property)} in this profile`);
      if (c.property === s.name) bad(`${s.name}.couple`, "a property can not be coupled to itself");
    }
    if (s.setpointOf === null) continue;
    const target = byName.get(s.setpointOf);
    if (!target) bad(`${s.name}.setpointOf`, `no property ${show(s.setpointOf)} in this profile`);
    if (target.name === s.name) bad(`${s.name}.setpointOf`, "a property can not be its own setpoint");
    if (target.setpointOf !== null) bad(`${s.name}.setpointOf`, `${target.name} is itself a setpoint`);
    const other = setpointFor.get(target.name);
    if (other) bad(`${s.name}.setpointOf`, `${target.name} already has the setpoint ${other}`);
    setpointFor.set(target.name, s.name);
    if (s.lagMs > 0) bad(`${s.name}.lag`, `a setpoint changes at once; give the lag to ${target.name}`);
  }
  for (const s of specs) {
    if (!Number.isNaN(s.base)) continue;
    const target = s.setpointOf !== null ? byName.get(s.setpointOf) : undefined;
    s.base = target && !Number.isNaN(target.base) ? target.base : 0;
  }
}

// ---------------------------------------------------------------------------------------------

/** A duration in ms; its error names the profile and the field. */
function parseDuration(value: unknown, where: string): number {
  try {
    return clockDuration(value, where);
  } catch (err) {
    return bad(where, (err as TwinError).params.reason as string);
  }
}

function bad(where: string, reason: string): never {
  throw new TwinError("invalid-option", { option: "profile", reason: where ? `${where}: ${reason}` : reason });
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad(where, `must be an object, not ${show(value)}`);
  return value as Record<string, unknown>;
}

function allowOnly(o: Record<string, unknown>, fields: string[], where: string): void {
  for (const key of Object.keys(o)) {
    if (!fields.includes(key)) bad(where ? `${where}.${key}` : key, `unknown field (known: ${fields.join(", ")})`);
  }
}

function num(value: unknown, where: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) bad(where, `must be a number, not ${show(value)}`);
  return value;
}

function nonNegative(value: unknown, where: string): number {
  const n = num(value, where, 0);
  if (n < 0) bad(where, "must not be negative");
  return n;
}

function probability(value: unknown, where: string): number {
  const n = num(value, where, 0);
  if (n < 0 || n > 1) bad(where, `a probability from 0 to 1, not ${n}`);
  return n;
}
