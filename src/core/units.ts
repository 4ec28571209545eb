/**
 * Units of measure for sensor readings: recognising what users and standards call a unit, and
 * converting a reading from the unit a device sends to the unit its twin's model declares.
 *
 * Canonical codes are UCUM (the codes compact models and the DTDL/WoT importers in models.ts
 * use): "Cel", "[degF]", "K", "Pa", "kPa", "bar", "[psi]", "W", "kW.h", "m/s", "km/h", "%", "1"...
 * Symbols are case-sensitive where case carries meaning ("mW" is a milliwatt, "MW" a megawatt;
 * "K" is kelvin, while "C" and "F" are accepted as aliases of Celsius and Fahrenheit only because
 * no SI unit of those dimensions is spelled that way). Spelled-out names ("celsius",
 * "kilowatt hour", "degreeCelsius", DTDL's "poundPerSquareInch", QUDT's "DEG_C") are matched
 * ignoring case, spaces, "_", "-" and "."; a vocabulary prefix or IRI ("om2:degreeCelsius",
 * "http://qudt.org/vocab/unit/HZ") is looked through to its local name. A unit not in the table
 * is not an error for a model: the model keeps its text, and only conversion is not offered.
 *
 * Linear units carry their factor to the dimension's base unit as an exact ratio (num / den),
 * so that e.g. 36 km/h is exactly 10 m/s rather than 9.999999999999998. Results are rounded to
 * 15 significant digits, which removes binary floating-point noise (373.15 - 273.15) and never
 * changes a value by more than one part in 10^15.
 */
import { TwinError } from "./errors";

export type Dimension =
  | "temperature" | "pressure" | "power" | "energy" | "speed" | "acceleration" | "ratio"
  | "length" | "area" | "volume" | "mass" | "time" | "frequency" | "angle" | "angularSpeed"
  | "voltage" | "current" | "resistance" | "charge" | "apparentPower" | "reactivePower" | "reactiveEnergy"
  | "illuminance" | "luminousFlux" | "luminousIntensity" | "magneticField" | "force" | "torque"
  | "density" | "flow" | "data" | "dataRate" | "level" | "powerLevel";

interface Linear { dimension: Exclude<Dimension, "temperature">; num: number; den: number }
interface Affine { dimension: "temperature"; toCel: (v: number) => number; fromCel: (v: number) => number }
type UnitDef = Linear | Affine;

const lin = (dimension: Linear["dimension"], num: number, den = 1): Linear => ({ dimension, num, den });

/**
 * Canonical code -> definition. The base unit of each linear dimension has factor 1. Decibels
 * (dB, dBm) are logarithmic: each is a dimension of its own, so they only "convert" to themselves.
 */
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
  ["mm[Hg]", lin("pressure", 133.322387415)],
  ["[in_i'Hg]", lin("pressure", 3386.388640341)],
  ["[in_i'H2O]", lin("pressure", 249.08891)],
  // power, base W
  ["mW", lin("power", 1, 1000)],
  ["W", lin("power", 1)],
  ["kW", lin("power", 1e3)],
  ["MW", lin("power", 1e6)],
  ["GW", lin("power", 1e9)],
  ["[HP]", lin("power", 745.69987158227022)],
  ["VA", lin("apparentPower", 1)],
  ["kVA", lin("apparentPower", 1e3)],
  ["var", lin("reactivePower", 1)],
  ["kvar", lin("reactivePower", 1e3)],
  // energy, base J
  ["J", lin("energy", 1)],
  ["kJ", lin("energy", 1e3)],
  ["MJ", lin("energy", 1e6)],
  ["GJ", lin("energy", 1e9)],
  ["W.h", lin("energy", 3600)],
  ["kW.h", lin("energy", 3.6e6)],
  ["MW.h", lin("energy", 3.6e9)],
  ["var.h", lin("reactiveEnergy", 1)],
  ["kvar.h", lin("reactiveEnergy", 1e3)],
  // speed, base m/s. International mile = 1609.344 m, knot = 1852 m/h.
  ["m/s", lin("speed", 1)],
  ["mm/s", lin("speed", 1, 1000)],
  ["km/s", lin("speed", 1000)],
  ["km/h", lin("speed", 1000, 3600)],
  ["[mi_i]/h", lin("speed", 1609344, 3600000)],
  ["[ft_i]/s", lin("speed", 3048, 10000)],
  ["[kn_i]", lin("speed", 1852, 3600)],
  // acceleration, base m/s2; standard gravity is 9.80665 m/s2 exactly
  ["m/s2", lin("acceleration", 1)],
  ["[g]", lin("acceleration", 980665, 100000)],
  // dimensionless, base 1. Relative humidity is a percentage, kept apart so it can be shown as such.
  ["1", lin("ratio", 1)],
  ["%", lin("ratio", 1, 100)],
  ["%RH", lin("ratio", 1, 100)],
  ["[ppm]", lin("ratio", 1, 1e6)],
  ["[ppb]", lin("ratio", 1, 1e9)],
  // length, base m
  ["m", lin("length", 1)],
  ["km", lin("length", 1000)],
  ["cm", lin("length", 1, 100)],
  ["mm", lin("length", 1, 1000)],
  ["um", lin("length", 1, 1e6)],
  ["nm", lin("length", 1, 1e9)],
  ["[in_i]", lin("length", 254, 10000)],
  ["[ft_i]", lin("length", 3048, 10000)],
  ["[mi_i]", lin("length", 1609344, 1000)],
  // area and volume, base m2 and m3. US gallon = 231 cubic inches.
  ["m2", lin("area", 1)],
  ["cm2", lin("area", 1, 1e4)],
  ["m3", lin("volume", 1)],
  ["L", lin("volume", 1, 1000)],
  ["mL", lin("volume", 1, 1e6)],
  ["[gal_us]", lin("volume", 3785411784, 1e12)],
  ["[cft_i]", lin("volume", 28316846592, 1e12)],
  ["[cin_i]", lin("volume", 16387064, 1e12)],
  // mass, base kg
  ["kg", lin("mass", 1)],
  ["g", lin("mass", 1, 1000)],
  ["mg", lin("mass", 1, 1e6)],
  ["t", lin("mass", 1000)],
  ["[lb_av]", lin("mass", 45359237, 1e8)],
  ["[oz_av]", lin("mass", 45359237, 16e8)],
  // time, base s
  ["s", lin("time", 1)],
  ["ms", lin("time", 1, 1000)],
  ["us", lin("time", 1, 1e6)],
  ["ns", lin("time", 1, 1e9)],
  ["min", lin("time", 60)],
  ["h", lin("time", 3600)],
  ["d", lin("time", 86400)],
  // frequency, base Hz; revolutions per minute are UCUM "/min"
  ["Hz", lin("frequency", 1)],
  ["kHz", lin("frequency", 1e3)],
  ["MHz", lin("frequency", 1e6)],
  ["GHz", lin("frequency", 1e9)],
  ["/min", lin("frequency", 1, 60)],
  ["/s", lin("frequency", 1)],
  // angle and angular speed, base rad
  ["rad", lin("angle", 1)],
  ["deg", lin("angle", Math.PI, 180)],
  ["rad/s", lin("angularSpeed", 1)],
  ["deg/s", lin("angularSpeed", Math.PI, 180)],
  // electricity
  ["V", lin("voltage", 1)],
  ["mV", lin("voltage", 1, 1000)],
  ["uV", lin("voltage", 1, 1e6)],
  ["kV", lin("voltage", 1000)],
  ["A", lin("current", 1)],
  ["mA", lin("current", 1, 1000)],
  ["uA", lin("current", 1, 1e6)],
  ["kA", lin("current", 1000)],
  ["Ohm", lin("resistance", 1)],
  ["kOhm", lin("resistance", 1000)],
  ["MOhm", lin("resistance", 1e6)],
  ["A.h", lin("charge", 3600)],
  ["mA.h", lin("charge", 3.6)],
  // light and magnetism
  ["lx", lin("illuminance", 1)],
  ["lm", lin("luminousFlux", 1)],
  ["cd", lin("luminousIntensity", 1)],
  ["T", lin("magneticField", 1)],
  ["mT", lin("magneticField", 1, 1000)],
  ["uT", lin("magneticField", 1, 1e6)],
  // mechanics
  ["N", lin("force", 1)],
  ["N.m", lin("torque", 1)],
  // concentration (mass per volume), base kg/m3
  ["kg/m3", lin("density", 1)],
  ["g/m3", lin("density", 1, 1000)],
  ["mg/m3", lin("density", 1, 1e6)],
  ["ug/m3", lin("density", 1, 1e9)],
  // flow, base m3/s
  ["m3/s", lin("flow", 1)],
  ["m3/h", lin("flow", 1, 3600)],
  ["L/s", lin("flow", 1, 1000)],
  ["L/min", lin("flow", 1, 60000)],
  ["L/h", lin("flow", 1, 3600000)],
  ["mL/min", lin("flow", 1, 6e7)],
  // data, base byte (UCUM By); kibi- and mebi- are powers of two
  ["By", lin("data", 1)],
  ["bit", lin("data", 1, 8)],
  ["KiBy", lin("data", 1024)],
  ["MiBy", lin("data", 1048576)],
  ["GiBy", lin("data", 1073741824)],
  ["Kibit", lin("data", 128)],
  ["kBy", lin("data", 1000)],
  ["MBy", lin("data", 1e6)],
  ["bit/s", lin("dataRate", 1)],
  ["kbit/s", lin("dataRate", 1000)],
  ["Mbit/s", lin("dataRate", 1e6)],
  // logarithmic levels
  ["dB", lin("level", 1)],
  ["dBm", lin("powerLevel", 1)],
]);

/** Symbols and codes, matched exactly (after trimming). Canonical codes map to themselves. */
const SYMBOLS = new Map<string, string>([
  ["degC", "Cel"], ["°C", "Cel"], ["℃", "Cel"], ["ºC", "Cel"], ["C", "Cel"], ["C°", "Cel"], ["° C", "Cel"],
  ["degF", "[degF]"], ["°F", "[degF]"], ["℉", "[degF]"], ["ºF", "[degF]"], ["F", "[degF]"], ["° F", "[degF]"],
  ["hpa", "hPa"], ["kpa", "kPa"], ["KPa", "kPa"],
  ["psi", "[psi]"], ["PSI", "[psi]"], ["mmHg", "mm[Hg]"], ["inHg", "[in_i'Hg]"], ["inH2O", "[in_i'H2O]"],
  ["kw", "kW"], ["KW", "kW"], ["hp", "[HP]"], ["HP", "[HP]"],
  ["kj", "kJ"], ["KJ", "kJ"],
  ["Wh", "W.h"], ["W·h", "W.h"],
  ["kWh", "kW.h"], ["kW·h", "kW.h"], ["kwh", "kW.h"], ["KWh", "kW.h"], ["KWH", "kW.h"],
  ["MWh", "MW.h"], ["MW·h", "MW.h"],
  ["varh", "var.h"], ["kvarh", "kvar.h"], ["VAr", "var"], ["VAR", "var"], ["kVAr", "kvar"],
  ["m.s-1", "m/s"], ["km.h-1", "km/h"], ["kph", "km/h"], ["KPH", "km/h"], ["kmh", "km/h"], ["km/hr", "km/h"],
  ["mph", "[mi_i]/h"], ["MPH", "[mi_i]/h"], ["mi/h", "[mi_i]/h"], ["ft/s", "[ft_i]/s"],
  ["kn", "[kn_i]"], ["kt", "[kn_i]"],
  ["m/s²", "m/s2"], ["m.s-2", "m/s2"], ["m/s^2", "m/s2"], ["g0", "[g]"], ["gn", "[g]"],
  ["", "1"],
  ["ppm", "[ppm]"], ["ppb", "[ppb]"],
  ["%rh", "%RH"], ["% RH", "%RH"], ["%rH", "%RH"], ["RH", "%RH"], ["RH%", "%RH"], ["% r.H.", "%RH"], ["%r.H.", "%RH"],
  ["μm", "um"], ["µm", "um"], ["in", "[in_i]"], ["ft", "[ft_i]"], ["mi", "[mi_i]"],
  ["m²", "m2"], ["m^2", "m2"], ["m³", "m3"], ["m^3", "m3"], ["l", "L"], ["ml", "mL"], ["gal", "[gal_us]"],
  ["lb", "[lb_av]"], ["lbs", "[lb_av]"], ["oz", "[oz_av]"],
  ["sec", "s"], ["secs", "s"], ["msec", "ms"], ["μs", "us"], ["µs", "us"], ["hr", "h"], ["hrs", "h"],
  ["rpm", "/min"], ["RPM", "/min"], ["r/min", "/min"], ["1/min", "/min"], ["1/s", "/s"],
  ["°", "deg"], ["°/s", "deg/s"], ["dps", "deg/s"],
  ["μV", "uV"], ["µV", "uV"], ["μA", "uA"], ["µA", "uA"], ["Ω", "Ohm"], ["ohm", "Ohm"], ["kΩ", "kOhm"], ["MΩ", "MOhm"],
  ["Ah", "A.h"], ["mAh", "mA.h"],
  ["lux", "lx"], ["Lux", "lx"], ["LUX", "lx"],
  ["μT", "uT"], ["µT", "uT"], ["Nm", "N.m"],
  ["µg/m3", "ug/m3"], ["μg/m3", "ug/m3"], ["µg/m³", "ug/m3"], ["μg/m³", "ug/m3"], ["ug/m³", "ug/m3"], ["mg/m³", "mg/m3"],
  ["kg/m³", "kg/m3"], ["m³/h", "m3/h"], ["l/min", "L/min"], ["l/h", "L/h"], ["l/s", "L/s"], ["lpm", "L/min"],
  ["B", "By"], ["byte", "By"], ["bytes", "By"], ["KiB", "KiBy"], ["MiB", "MiBy"], ["GiB", "GiBy"], ["kB", "kBy"], ["MB", "MBy"],
  ["bps", "bit/s"], ["kbps", "kbit/s"], ["Mbps", "Mbit/s"],
  ["db", "dB"], ["dBmW", "dBm"],
]);

/**
 * Spelled-out names, keyed lower-case with spaces, "_", "-" and "." removed (see wordKey). They
 * cover the DTDL semantic units, the OM 2 and QUDT local names (after their prefix, see
 * canonicalUnit) and the ways people write units out in full.
 */
const WORDS = new Map<string, string>([
  ["celsius", "Cel"], ["degreecelsius", "Cel"], ["degreescelsius", "Cel"], ["degc", "Cel"], ["celcius", "Cel"],
  ["degreesc", "Cel"], ["centigrade", "Cel"], ["degreecentigrade", "Cel"],
  ["fahrenheit", "[degF]"], ["degreefahrenheit", "[degF]"], ["degreesfahrenheit", "[degF]"], ["degf", "[degF]"], ["degreesf", "[degF]"],
  ["kelvin", "K"], ["kelvins", "K"], ["degreekelvin", "K"],
  ["pascal", "Pa"], ["hectopascal", "hPa"], ["kilopascal", "kPa"], ["megapascal", "MPa"], ["hectopa", "hPa"], ["kilopa", "kPa"],
  ["millibar", "mbar"], ["poundpersquareinch", "[psi]"], ["atmosphere", "atm"], ["standardatmosphere", "atm"],
  ["millimetresofmercury", "mm[Hg]"], ["millimetreofmercury", "mm[Hg]"], ["millimetersofmercury", "mm[Hg]"],
  ["inchesofmercury", "[in_i'Hg]"], ["inchofmercury", "[in_i'Hg]"], ["inchesofwater", "[in_i'H2O]"], ["inchofwater", "[in_i'H2O]"],
  ["milliwatt", "mW"], ["watt", "W"], ["watts", "W"], ["kilowatt", "kW"], ["kilowatts", "kW"], ["megawatt", "MW"], ["gigawatt", "GW"],
  ["horsepower", "[HP]"], ["kilow", "kW"],
  ["voltampere", "VA"], ["kilovoltampere", "kVA"], ["voltamperereactive", "var"], ["kilovoltamperereactive", "kvar"],
  ["voltamperereactivehour", "var.h"],
  ["joule", "J"], ["joules", "J"], ["kilojoule", "kJ"], ["megajoule", "MJ"], ["gigajoule", "GJ"],
  ["watthour", "W.h"], ["watthours", "W.h"], ["kilowatthour", "kW.h"], ["kilowatthours", "kW.h"], ["megawatthour", "MW.h"],
  ["whr", "W.h"], ["kilowhr", "kW.h"],
  ["metrepersecond", "m/s"], ["meterpersecond", "m/s"], ["metrespersecond", "m/s"], ["meterspersecond", "m/s"], ["mpersec", "m/s"],
  ["kilometrepersecond", "km/s"], ["millimetrepersecond", "mm/s"], ["millimeterpersecond", "mm/s"],
  ["kilometreperhour", "km/h"], ["kilometerperhour", "km/h"], ["kilometresperhour", "km/h"], ["kilometersperhour", "km/h"],
  ["kilomperhr", "km/h"],
  ["mileperhour", "[mi_i]/h"], ["milesperhour", "[mi_i]/h"], ["footpersecond", "[ft_i]/s"], ["feetpersecond", "[ft_i]/s"],
  ["knot", "[kn_i]"], ["knots", "[kn_i]"],
  ["metrepersecondsquared", "m/s2"], ["meterpersecondsquared", "m/s2"], ["metrepersecondtimesquared", "m/s2"], ["mpersec2", "m/s2"],
  ["gforce", "[g]"], ["standardgravity", "[g]"],
  ["ratio", "1"], ["unity", "1"], ["unitless", "1"], ["percent", "%"], ["percentage", "%"], ["pct", "%"],
  ["partspermillion", "[ppm]"], ["partsperbillion", "[ppb]"], ["ppm", "[ppm]"], ["ppb", "[ppb]"],
  ["percentrh", "%RH"], ["percentrelativehumidity", "%RH"], ["relativehumidity", "%RH"],
  ["metre", "m"], ["meter", "m"], ["metres", "m"], ["meters", "m"], ["kilometre", "km"], ["kilometer", "km"], ["kilometres", "km"],
  ["centimetre", "cm"], ["centimeter", "cm"], ["centimetres", "cm"], ["millimetre", "mm"], ["millimeter", "mm"], ["millimetres", "mm"],
  ["micrometre", "um"], ["micrometer", "um"], ["micron", "um"], ["nanometre", "nm"], ["nanometer", "nm"],
  ["inch", "[in_i]"], ["inches", "[in_i]"], ["foot", "[ft_i]"], ["feet", "[ft_i]"], ["mile", "[mi_i]"], ["miles", "[mi_i]"],
  ["centim", "cm"], ["millim", "mm"], ["kilom", "km"],
  ["squaremetre", "m2"], ["squaremeter", "m2"], ["squarecentimetre", "cm2"],
  ["cubicmetre", "m3"], ["cubicmeter", "m3"], ["cubicmetres", "m3"], ["litre", "L"], ["liter", "L"], ["litres", "L"], ["liters", "L"],
  ["millilitre", "mL"], ["milliliter", "mL"], ["gallon", "[gal_us]"], ["gallons", "[gal_us]"],
  ["cubicfoot", "[cft_i]"], ["cubicfeet", "[cft_i]"], ["cubicinch", "[cin_i]"], ["cubicinches", "[cin_i]"],
  ["kilogram", "kg"], ["kilograms", "kg"], ["gram", "g"], ["grams", "g"], ["milligram", "mg"], ["milligrams", "mg"],
  ["tonne", "t"], ["metricton", "t"], ["pound", "[lb_av]"], ["pounds", "[lb_av]"], ["ounce", "[oz_av]"], ["ounces", "[oz_av]"],
  ["kilogm", "kg"], ["gm", "g"],
  ["second", "s"], ["seconds", "s"], ["secondtime", "s"], ["sec", "s"],
  ["millisecond", "ms"], ["milliseconds", "ms"], ["millisec", "ms"], ["microsecond", "us"], ["microseconds", "us"],
  ["microsec", "us"], ["nanosecond", "ns"], ["nanoseconds", "ns"], ["nanosec", "ns"],
  ["minute", "min"], ["minutes", "min"], ["minutetime", "min"], ["hour", "h"], ["hours", "h"], ["hourtime", "h"],
  ["day", "d"], ["days", "d"],
  ["hertz", "Hz"], ["hz", "Hz"], ["kilohertz", "kHz"], ["kilohz", "kHz"], ["megahertz", "MHz"], ["megahz", "MHz"],
  ["gigahertz", "GHz"], ["gigahz", "GHz"],
  ["revolutionperminute", "/min"], ["revolutionsperminute", "/min"], ["revpermin", "/min"],
  ["revolutionpersecond", "/s"], ["revolutionspersecond", "/s"], ["revpersec", "/s"],
  ["radian", "rad"], ["radians", "rad"], ["degreeofarc", "deg"], ["degree", "deg"], ["degrees", "deg"], ["angulardegree", "deg"],
  ["radianpersecond", "rad/s"], ["radianpersecondtime", "rad/s"], ["radpersec", "rad/s"],
  ["degreepersecond", "deg/s"], ["degreespersecond", "deg/s"], ["degpersec", "deg/s"], ["anglepersec", "deg/s"],
  ["volt", "V"], ["volts", "V"], ["millivolt", "mV"], ["microvolt", "uV"], ["kilovolt", "kV"], ["milliv", "mV"],
  ["ampere", "A"], ["amperes", "A"], ["amp", "A"], ["amps", "A"], ["milliampere", "mA"], ["microampere", "uA"], ["kiloampere", "kA"],
  ["millia", "mA"],
  ["ohm", "Ohm"], ["ohms", "Ohm"], ["kiloohm", "kOhm"], ["megaohm", "MOhm"],
  ["amperehour", "A.h"], ["milliamperehour", "mA.h"],
  ["lux", "lx"], ["lumen", "lm"], ["lumens", "lm"], ["candela", "cd"],
  ["tesla", "T"], ["millitesla", "mT"], ["microtesla", "uT"],
  ["newton", "N"], ["newtons", "N"], ["newtonmetre", "N.m"], ["newtonmeter", "N.m"],
  ["kilogrampercubicmetre", "kg/m3"], ["kilogrampercubicmeter", "kg/m3"], ["grampercubicmetre", "g/m3"],
  ["milligrampercubicmetre", "mg/m3"], ["microgrampercubicmetre", "ug/m3"], ["microgrampercubicmeter", "ug/m3"],
  ["microgramspercubicmetre", "ug/m3"], ["microgramspercubicmeter", "ug/m3"],
  ["cubicmetrepersecond", "m3/s"], ["cubicmetreperhour", "m3/h"], ["cubicmeterperhour", "m3/h"],
  ["litrepersecond", "L/s"], ["literpersecond", "L/s"], ["litreperminute", "L/min"], ["literperminute", "L/min"],
  ["litreperhour", "L/h"], ["literperhour", "L/h"], ["millilitreperminute", "mL/min"], ["milliliterperminute", "mL/min"],
  ["byte", "By"], ["bytes", "By"], ["bit", "bit"], ["bits", "bit"], ["kibibyte", "KiBy"], ["mebibyte", "MiBy"], ["gibibyte", "GiBy"],
  ["kibibit", "Kibit"], ["kilobyte", "kBy"], ["megabyte", "MBy"],
  ["bitpersecond", "bit/s"], ["kilobitpersecond", "kbit/s"], ["megabitpersecond", "Mbit/s"],
  // QUDT local names that are abbreviations ("MIN", "HR", "PA", "BAR", "DEG", "RAD", "KiloV")
  ["min", "min"], ["hr", "h"], ["pa", "Pa"], ["bar", "bar"], ["deg", "deg"], ["rad", "rad"], ["kilov", "kV"],
  ["decibel", "dB"], ["decibels", "dB"], ["decib", "dB"], ["decibelmilliwatt", "dBm"], ["decibm", "dBm"],
]);

/**
 * Where a unit is named by a vocabulary: OM 2 ("om2:degreeCelsius"), QUDT ("qudt-unit:DEG_C",
 * "http://qudt.org/vocab/unit/DEG_C"), or another prefix ("time:seconds"). The local name after
 * the prefix is then looked up like any other. "/" counts as a separator only in a full IRI, since
 * "planks/s" is not seconds.
 */
const IRI = /^[a-z][a-z0-9+.-]*:\/\//i;
const PREFIXED = /^[A-Za-z][A-Za-z0-9_.-]*:(.+)$/;

function localName(text: string): string | undefined {
  if (IRI.test(text)) {
    const cut = Math.max(text.lastIndexOf("/"), text.lastIndexOf("#"));
    return cut < text.length - 1 ? text.slice(cut + 1) : undefined;
  }
  return PREFIXED.exec(text)?.[1];
}

/** Long names are never units; this also bounds the work done on user text. */
const MAX_UNIT_LENGTH = 128;

function wordKey(name: string): string {
  return name.toLowerCase().replace(/[\s_.-]+/g, "");
}

/** Canonical UCUM code for a unit name or alias; undefined when the unit is not known. */
export function canonicalUnit(name: string): string | undefined {
  if (typeof name !== "string" || name.length > MAX_UNIT_LENGTH) return undefined;
  const text = name.trim();
  const known = lookUp(text);
  if (known !== undefined) return known;
  const local = localName(text);
  return local === undefined ? undefined : lookUp(local);
}

function lookUp(text: string): string | undefined {
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
