/**
 * Units of measure for sensor readings: recognising what users and standards call a unit, and
 * converting a reading from the unit a device sends to the unit its twin's model declares.
 *
 * Canonical codes are UCUM (the codes compact models and the DTDL/WoT importers in models.ts
 * use): "Cel", "[degF]", "K", "Pa", "kPa", "bar", "[psi]", "W", "kW.h", "m/s", "km/h", "%", "1"...
 * Symbols are case-sensitive where case carries meaning ("mW" is a milliwatt, "MW" a megawatt;
 * "K" is kelvin, while "C" and "F" are accepted as aliases of Celsius and Fahrenheit only because
 * no SI unit of those dimensions is spelled that way). Spelled-out names ("celsius",
 * "kilowatt hour", "degreeCelsius") are matched ignoring case, spaces, "_" and "-".
 *
 * Linear units carry their factor to the dimension's base unit as an exact ratio (num / den),
 * so that e.g. 36 km/h is exactly 10 m/s rather than 9.999999999999998. Results are rounded to
 * 15 significant digits, which removes binary floating-point noise (373.15 - 273.15) and never
 * changes a value by more than one part in 10^15.
 */
import { TwinError } from "./errors";

export type Dimension = "temperature" | "pressure" | "power" | "energy" | "speed" | "ratio";

interface Linear { dimension: Exclude<Dimension, "temperature">; num: number; den: number }
interface Affine { dimension: "temperature"; toCel: (v: number) => number; fromCel: (v: number) => number }
type UnitDef = Linear | Affine;

const lin = (dimension: Linear["dimension"], num: number, den = 1): Linear => ({ dimension, num, den });

/** Canonical code -> definition. The base unit of each linear dimension has factor 1. */
const UNITS = new Map<string, UnitDef>([
  // temperature (affine): everything passes through Celsius
  ["Cel", { dimension: "temperature", toCel: (v) => v, fromCel: (v) => v }],
  ["K", { dimension: "temperature", toCel: (v) => v - 273.15, fromCel: (v) => v + 273.15 }],
  ["[degF]", { dimension: "temperature", toCel: (v) => ((v - 32) * 5) / 9, fromCel: (v) => (v * 9) / 5 + 32 }],
  // pressure, base Pa. psi = 0.45359237 kg * 9.80665 m/s^2 / (0.0254 m)^2, exactly.
  ["Pa", lin("pressure", 1)],
  ["hPa", lin("pressure", 100)],
  ["kPa", lin("pressure", 1000)],
  ["MPa", lin("pressure", 1e6)],
  ["bar", lin("pressure", 1e5)],
  ["mbar", lin("pressure", 100)],
  ["[psi]", lin("pressure", 44482216152605, 6451600000)],
  ["atm", lin("pressure", 101325)],
  // power, base W
  ["mW", lin("power", 1, 1000)],
  ["W", lin("power", 1)],
  ["kW", lin("power", 1e3)],
  ["MW", lin("power", 1e6)],
  ["GW", lin("power", 1e9)],
  // energy, base J
  ["J", lin("energy", 1)],
  ["kJ", lin("energy", 1e3)],
  ["MJ", lin("energy", 1e6)],
  ["W.h", lin("energy", 3600)],
  ["kW.h", lin("energy", 3.6e6)],
  ["MW.h", lin("energy", 3.6e9)],
  // speed, base m/s. International mile = 1609.344 m, knot = 1852 m/h.
  ["m/s", lin("speed", 1)],
  ["km/h", lin("speed", 1000, 3600)],
  ["[mi_i]/h", lin("speed", 1609344, 3600000)],
  ["[kn_i]", lin("speed", 1852, 3600)],
  // dimensionless, base 1
  ["1", lin("ratio", 1)],
  ["%", lin("ratio", 1, 100)],
  ["[ppm]", lin("ratio", 1, 1e6)],
]);

/** Symbols and codes, matched exactly (after trimming). Canonical codes map to themselves. */
const SYMBOLS = new Map<string, string>([
  ["degC", "Cel"], ["°C", "Cel"], ["℃", "Cel"], ["ºC", "Cel"], ["C", "Cel"],
  ["degF", "[degF]"], ["°F", "[degF]"], ["℉", "[degF]"], ["ºF", "[degF]"], ["F", "[degF]"],
  ["hpa", "hPa"], ["kpa", "kPa"], ["KPa", "kPa"],
  ["psi", "[psi]"], ["PSI", "[psi]"],
  ["kw", "kW"], ["KW", "kW"],
  ["kj", "kJ"], ["KJ", "kJ"],
  ["Wh", "W.h"], ["W·h", "W.h"],
  ["kWh", "kW.h"], ["kW·h", "kW.h"], ["kwh", "kW.h"], ["KWh", "kW.h"], ["KWH", "kW.h"],
  ["MWh", "MW.h"], ["MW·h", "MW.h"],
  ["m.s-1", "m/s"], ["km.h-1", "km/h"], ["kph", "km/h"], ["KPH", "km/h"], ["kmh", "km/h"],
  ["mph", "[mi_i]/h"], ["MPH", "[mi_i]/h"], ["mi/h", "[mi_i]/h"],
  ["kn", "[kn_i]"], ["kt", "[kn_i]"],
  ["", "1"],
  ["ppm", "[ppm]"],
]);

/** Spelled-out names, keyed lower-case with spaces, "_" and "-" removed (see wordKey). */
const WORDS = new Map<string, string>([
  ["celsius", "Cel"], ["degreecelsius", "Cel"], ["degreescelsius", "Cel"],
  ["fahrenheit", "[degF]"], ["degreefahrenheit", "[degF]"], ["degreesfahrenheit", "[degF]"],
  ["kelvin", "K"], ["kelvins", "K"],
  ["pascal", "Pa"], ["hectopascal", "hPa"], ["kilopascal", "kPa"], ["megapascal", "MPa"],
  ["millibar", "mbar"], ["poundpersquareinch", "[psi]"], ["atmosphere", "atm"],
  ["milliwatt", "mW"], ["watt", "W"], ["watts", "W"], ["kilowatt", "kW"], ["megawatt", "MW"], ["gigawatt", "GW"],
  ["joule", "J"], ["kilojoule", "kJ"], ["megajoule", "MJ"],
  ["watthour", "W.h"], ["kilowatthour", "kW.h"], ["megawatthour", "MW.h"],
  ["metrepersecond", "m/s"], ["meterpersecond", "m/s"], ["metrespersecond", "m/s"], ["meterspersecond", "m/s"],
  ["kilometreperhour", "km/h"], ["kilometerperhour", "km/h"], ["kilometresperhour", "km/h"], ["kilometersperhour", "km/h"],
  ["mileperhour", "[mi_i]/h"], ["milesperhour", "[mi_i]/h"],
  ["knot", "[kn_i]"], ["knots", "[kn_i]"],
  ["ratio", "1"], ["percent", "%"], ["pct", "%"], ["partspermillion", "[ppm]"],
]);

/** Long names are never units; this also bounds the work done on user text. */
const MAX_UNIT_LENGTH = 64;

function wordKey(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, "");
}

/** Canonical UCUM code for a unit name or alias; undefined when the unit is not known. */
export function canonicalUnit(name: string): string | undefined {
  if (typeof name !== "string" || name.length > MAX_UNIT_LENGTH) return undefined;
  const text = name.trim();
  if (UNITS.has(text)) return text;
  return SYMBOLS.get(text) ?? WORDS.get(wordKey(text));
}

/** The dimension a unit measures, or undefined when the unit is not known. */
export function unitDimension(name: string): Dimension | undefined {
  const code = canonicalUnit(name);
  return code === undefined ? undefined : UNITS.get(code)!.dimension;
}

/** Canonical code for a unit setting; throws TwinError("invalid-unit") when unknown. */
export function checkUnit(name: string): string {
  const code = canonicalUnit(name);
  if (code === undefined) throw new TwinError("invalid-unit", { unit: String(name).slice(0, MAX_UNIT_LENGTH) });
  return code;
}

/**
 * True when values can be converted from one unit to the other: both are known and measure the
 * same dimension, or both are the very same string (a unit this module does not know, such as
 * "/min", still "converts" to itself unchanged).
 */
export function canConvert(from: string, to: string): boolean {
  if (typeof from === "string" && from === to) return true;
  const a = canonicalUnit(from);
  const b = canonicalUnit(to);
  return a !== undefined && b !== undefined && UNITS.get(a)!.dimension === UNITS.get(b)!.dimension;
}

/**
 * Converts `value` between two units of one dimension (temperature is affine; the others are
 * linear). Same unit (same string, or two names of one unit) returns `value` unchanged. Throws
 * TwinError("no-conversion", {twinId, property, from, to}) across dimensions or when either unit
 * is unknown; twinId and property come from `ctx` ("?" when not given).
 */
export function convertUnit(value: number, from: string, to: string, ctx?: { twinId?: string; property?: string }): number {
  if (typeof from === "string" && from === to) return value;
  const a = canonicalUnit(from);
  const b = canonicalUnit(to);
  const da = a === undefined ? undefined : UNITS.get(a)!;
  const db = b === undefined ? undefined : UNITS.get(b)!;
  if (!da || !db || da.dimension !== db.dimension) {
    throw new TwinError("no-conversion", {
      twinId: ctx?.twinId ?? "?",
      property: ctx?.property ?? "?",
      from: String(from).slice(0, MAX_UNIT_LENGTH),
      to: String(to).slice(0, MAX_UNIT_LENGTH),
    });
  }
  if (a === b || !Number.isFinite(value)) return value;
  let out: number;
  if (da.dimension === "temperature") {
    out = (db as Affine).fromCel(da.toCel(value));
  } else {
    const dl = db as Linear;
    out = (value * da.num * dl.den) / (da.den * dl.num);
  }
  return tidy(out);
}

/** Rounds to 15 significant digits: drops floating-point noise, keeps every meaningful digit. */
export function tidy(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x === 0 ? 0 : x;
  return Number(x.toPrecision(15));
}
