/**
 * Home Assistant MQTT discovery for twins: what Home Assistant documents under "Discovery
 * messages" (https://www.home-assistant.io/integrations/mqtt/), one retained config per twin
 * property at `<prefix>/<platform>/<node_id>/<object_id>/config`, all of one twin's entities on
 * one HA device. Pure: the bridge (bridge.ts) decides when to publish.
 *
 * - A property becomes a `sensor` (numbers with unit and device class, strings, an enum as
 *   device class `enum`) or a `binary_sensor` (booleans); a writable one becomes a `number`
 *   (with the model's range), a `select` (an enum), a `switch` (a boolean) or a `text`.
 *   Objects and arrays have no HA entity: HA states are single values.
 * - Values come from one retained JSON state topic per twin, `<base>/<twinId>/state`.
 * - Commands arrive on `<base>/<twinId>/set/<property>` and become desired state.
 * - Availability: the bridge's `<base>/status` and the twin's own `<base>/<twinId>/availability`
 *   (its connectivity), both must say `online`.
 */
import { createHash } from "crypto";
import { TwinError, showValue } from "../errors";
import { Json, JsonObject, dict } from "../json";
import { PropertySpec, TwinModel } from "../models";
import { canonicalUnit } from "../units";

export interface HaOptions {
  /** Home Assistant's discovery prefix ("homeassistant"). */
  prefix: string;
  /** Where this bridge's own topics live ("twinwire"): state, availability, attributes, commands. */
  base: string;
  /**
   * Part of every unique id and discovery topic, so two bridges never claim one entity: letters
   * and digits only, so the `_` after it always ends it. It must stay the same across restarts,
   * or HA sees new entities.
   */
  id: string;
  origin: { name: string; sw_version?: string; support_url?: string };
}

export type Platform = "sensor" | "binary_sensor" | "number" | "select" | "switch" | "text";

export interface Discovery {
  property: string;
  platform: Platform;
  /** The discovery topic. */
  topic: string;
  config: JsonObject;
}

/** What discovery needs of a twin. */
export interface TwinView {
  id: string;
  modelName: string | null;
  model: TwinModel | null;
  attributes: JsonObject;
  /** The reported values (a twin without a model gets entities for these, read-only). */
  reported: ReadonlyMap<string, { value: Json }>;
}

export const HA_DEFAULTS = { prefix: "homeassistant", base: "twinwire", id: "twinwire" } as const;

/** HA's character class for node and object ids. */
const HA_ID = /^[a-zA-Z0-9_-]+$/;
/** A bridge id: no `_` or `-`, so where it ends in a node id is never in doubt. */
export const BRIDGE_ID = /^[a-zA-Z0-9]{1,32}$/;

/**
 * An id in HA's character class `[a-zA-Z0-9_-]`. Twin ids may also hold `.` and `:`: those become
 * `_`, and a short hash of the original keeps `a.b` and `a_b` apart.
 */
export function haId(text: string): string {
  if (HA_ID.test(text)) return text;
  const hash = createHash("sha1").update(text).digest("hex").slice(0, 6);
  return `${text.replace(/[^a-zA-Z0-9_-]/g, "_")}_${hash}`;
}

/** A topic prefix a user typed: no wildcards, no empty levels, no leading or trailing slash. */
export function checkTopicPrefix(option: string, value: unknown): string {
  const text = typeof value === "string" ? value.trim() : "";
  if (!text || /[+#\0]/.test(text) || text.split("/").some((level) => level === "")) {
    throw new TwinError("invalid-option", { option, value: showValue(value) });
  }
  return text;
}

export function topicsOf(o: HaOptions, twinId: string) {
  const root = `${o.base}/${twinId}`;
  return {
    state: `${root}/state`,
    availability: `${root}/availability`,
    attributes: `${root}/attributes`,
    command: (property: string) => `${root}/set/${property}`,
  };
}

/**
 * The settings checked together: the bridge's topics must stay out of HA's discovery prefix (with
 * base = prefix, the bridge's own `status` would read as HA's birth message, and every announcement
 * would start the next one).
 */
export function checkHaOptions(o: HaOptions): HaOptions {
  if (o.base === o.prefix || o.base.startsWith(`${o.prefix}/`) || o.prefix.startsWith(`${o.base}/`)) {
    throw new TwinError("invalid-option", { option: "base", value: o.base });
  }
  if (!BRIDGE_ID.test(o.id)) throw new TwinError("invalid-option", { option: "haId", value: o.id.slice(0, 60) });
  return o;
}

/** The node id of a twin's discovery topics and its HA device: `<bridge id>_<twin id in HA's characters>`. */
export function nodeIdOf(o: HaOptions, twinId: string): string {
  return `${o.id}_${haId(twinId)}`;
}

/** The bridge's own availability topic. */
export function bridgeTopic(o: HaOptions): string {
  return `${o.base}/status`;
}

/** The subscription that takes every command of this bridge. */
export function commandFilter(o: HaOptions): string {
  return `${o.base}/+/set/+`;
}

/** The twin and property a command topic names, or null when it is not one of ours. */
export function parseCommandTopic(o: HaOptions, topic: string): { twinId: string; property: string } | null {
  const prefix = `${o.base}/`;
  if (!topic.startsWith(prefix)) return null;
  const parts = topic.slice(prefix.length).split("/");
  if (parts.length !== 3 || parts[1] !== "set" || !parts[0] || !parts[2]) return null;
  return { twinId: parts[0], property: parts[2] };
}

/** Every entity of a twin, in property order. */
export function discoveryOf(twin: TwinView, o: HaOptions): Discovery[] {
  const out: Discovery[] = [];
  const specs: Array<[string, PropertySpec | null, Json]> = [];
  if (twin.model) for (const [name, spec] of twin.model.properties) specs.push([name, spec, null]);
  else for (const [name, entry] of twin.reported) specs.push([name, null, entry.value]);
  const node = nodeIdOf(o, twin.id);
  const topics = topicsOf(o, twin.id);
  const device = deviceOf(twin, o);
  for (const [property, spec, sample] of specs) {
    const entity = entityOf(property, spec, sample);
    if (!entity) continue;
    const config: JsonObject = {
      name: spec?.description && spec.description.length <= 60 ? spec.description : label(property),
      // A property name has no "-": the last "-" always ends the twin's part.
      unique_id: `${node}-${property}`,
      state_topic: topics.state,
      value_template: entity.template(property),
      json_attributes_topic: topics.attributes,
      availability: [{ topic: bridgeTopic(o) }, { topic: topics.availability }],
      availability_mode: "all",
      device,
      origin: { ...o.origin },
      ...entity.fields,
    };
    if (entity.writable) config.command_topic = topics.command(property);
    out.push({ property, platform: entity.platform, topic: `${o.prefix}/${entity.platform}/${node}/${property}/config`, config });
  }
  return out;
}

/** The state topic's payload: every property the twin has entities for, null when not reported yet. */
export function statePayload(twin: TwinView, entities: readonly Discovery[]): JsonObject {
  const state = dict();
  for (const { property } of entities) state[property] = twin.reported.get(property)?.value ?? null;
  return state;
}

/**
 * A command's payload as the property's value (HA sends text): a number for a number or integer,
 * true/false for ON/OFF, the text itself for a string. The registry then checks it against the
 * model (range, enum, writable) as it checks any desired value.
 */
export function commandValue(twinId: string, property: string, spec: PropertySpec | undefined, payload: string): Json {
  const text = payload.trim();
  const bad = (rule: string): never => {
    throw new TwinError("invalid-value", { twinId, property, value: showValue(payload), rule });
  };
  if (!spec) return bad("not in the twin's model");
  switch (spec.type) {
    case "number":
    case "integer": {
      const n = text === "" ? NaN : Number(text);
      if (!Number.isFinite(n)) return bad("a number");
      if (spec.type === "integer" && !Number.isInteger(n)) return bad("a whole number");
      return n;
    }
    case "boolean":
      if (text === "ON") return true;
      if (text === "OFF") return false;
      return bad("ON or OFF");
    case "string":
      return payload;
    default:
      return bad(`no Home Assistant entity for a${spec.type === "any" ? "ny value" : ` ${spec.type}`}`);
  }
}

interface EntityShape {
  platform: Platform;
  writable: boolean;
  fields: JsonObject;
  template(property: string): string;
}

const VALUE = (p: string) => `{{ value_json['${p}'] }}`;
/** Not reported yet (null) reads as None, which HA shows as unknown, not as OFF. */
const ON_OFF = (p: string) => `{{ 'None' if value_json['${p}'] is none else ('ON' if value_json['${p}'] else 'OFF') }}`;

function entityOf(property: string, spec: PropertySpec | null, sample: Json): EntityShape | null {
  const type = spec ? spec.type : typeof sample === "number" ? "number" : typeof sample === "boolean" ? "boolean" : typeof sample === "string" ? "string" : null;
  const writable = spec?.writable === true;
  if (type === "number" || type === "integer") {
    const unit = spec?.unit ? haUnit(spec.unit) : null;
    const fields: JsonObject = {};
    if (unit?.unit) fields.unit_of_measurement = unit.unit;
    // "%" is many things; it is a humidity only when the property says so.
    const deviceClass = unit?.deviceClass ?? (unit?.unit === "%" && /humidity/i.test(property) ? "humidity" : null);
    if (deviceClass) fields.device_class = deviceClass;
    if (writable) {
      const bounded = spec?.minimum !== undefined && spec?.maximum !== undefined;
      // HA's own defaults (1 to 100) would refuse most values: the model's range, or a wide one.
      fields.min = spec?.minimum ?? -1e9;
      fields.max = spec?.maximum ?? 1e9;
      fields.step = type === "integer" ? 1 : 0.01;
      fields.mode = bounded ? "auto" : "box";
      return { platform: "number", writable, fields, template: VALUE };
    }
    fields.state_class = fields.device_class === "energy" ? "total_increasing" : "measurement";
    return { platform: "sensor", writable, fields, template: VALUE };
  }
  if (type === "boolean") {
    const fields: JsonObject = { payload_on: "ON", payload_off: "OFF" };
    if (writable) return { platform: "switch", writable, fields: { ...fields, state_on: "ON", state_off: "OFF" }, template: ON_OFF };
    return { platform: "binary_sensor", writable, fields, template: ON_OFF };
  }
  if (type === "string") {
    const options = spec?.enum?.filter((v): v is string => typeof v === "string") ?? [];
    if (options.length) {
      if (writable) return { platform: "select", writable, fields: { options }, template: VALUE };
      return { platform: "sensor", writable, fields: { device_class: "enum", options }, template: VALUE };
    }
    if (writable) return { platform: "text", writable, fields: { max: 255 }, template: VALUE };
    return { platform: "sensor", writable, fields: {}, template: VALUE };
  }
  return null;
}

/**
 * A model unit as HA shows it, with the device class HA allows for it. Only pairs HA accepts are
 * given a device class; an unknown unit is shown as written, without one.
 */
export function haUnit(unit: string): { unit: string; deviceClass: string | null } {
  const code = canonicalUnit(unit) ?? unit.trim();
  const known = HA_UNITS.get(code);
  return known ? { unit: known[0], deviceClass: known[1] } : { unit: code, deviceClass: null };
}

/** Model unit code -> [HA unit, HA sensor device class]. */
const HA_UNITS = new Map<string, [string, string | null]>([
  ["Cel", ["°C", "temperature"]], ["[degF]", ["°F", "temperature"]], ["K", ["K", "temperature"]],
  ["Pa", ["Pa", "pressure"]], ["hPa", ["hPa", "pressure"]], ["kPa", ["kPa", "pressure"]], ["MPa", ["MPa", "pressure"]],
  ["bar", ["bar", "pressure"]], ["mbar", ["mbar", "pressure"]], ["[psi]", ["psi", "pressure"]],
  ["mW", ["mW", "power"]], ["W", ["W", "power"]], ["kW", ["kW", "power"]], ["MW", ["MW", "power"]], ["GW", ["GW", "power"]],
  ["J", ["J", "energy"]], ["kJ", ["kJ", "energy"]], ["MJ", ["MJ", "energy"]],
  ["W.h", ["Wh", "energy"]], ["kW.h", ["kWh", "energy"]], ["MW.h", ["MWh", "energy"]],
  ["m/s", ["m/s", "speed"]], ["km/h", ["km/h", "speed"]], ["[mi_i]/h", ["mph", "speed"]], ["[kn_i]", ["kn", "speed"]], ["mm/s", ["mm/s", "speed"]],
  ["%", ["%", null]], ["%RH", ["%", "humidity"]], ["[ppm]", ["ppm", null]], ["1", ["", null]],
  ["V", ["V", "voltage"]], ["mV", ["mV", "voltage"]], ["A", ["A", "current"]], ["mA", ["mA", "current"]],
  ["Hz", ["Hz", "frequency"]], ["kHz", ["kHz", "frequency"]], ["lx", ["lx", "illuminance"]],
  ["s", ["s", "duration"]], ["min", ["min", "duration"]], ["h", ["h", "duration"]], ["d", ["d", "duration"]], ["ms", ["ms", "duration"]],
  ["/min", ["rpm", null]], ["L", ["L", "volume_storage"]], ["m3", ["m³", "volume_storage"]], ["kg", ["kg", "weight"]], ["g", ["g", "weight"]],
  ["m", ["m", "distance"]], ["cm", ["cm", "distance"]], ["mm", ["mm", "distance"]], ["km", ["km", "distance"]],
  ["L/min", ["L/min", "volume_flow_rate"]], ["m3/h", ["m³/h", "volume_flow_rate"]], ["L/s", ["L/s", "volume_flow_rate"]],
  ["dB", ["dB", "sound_pressure"]], ["deg", ["°", null]], ["ug/m3", ["µg/m³", null]],
]);

/** One HA device per twin: its name (attribute `name` when there is one), model and maker. */
function deviceOf(twin: TwinView, o: HaOptions): JsonObject {
  const a = twin.attributes;
  const text = (key: string, max = 100): string | null => (typeof a[key] === "string" && a[key] !== "" ? (a[key] as string).slice(0, max) : null);
  const device: JsonObject = {
    identifiers: [nodeIdOf(o, twin.id)],
    name: text("name") ?? twin.id,
    manufacturer: text("manufacturer") ?? text("vendor") ?? "Twinwire",
    serial_number: text("serial") ?? text("serialNumber") ?? twin.id,
  };
  if (twin.modelName) device.model = twin.modelName.slice(0, 100);
  const area = text("location") ?? text("area");
  if (area) device.suggested_area = area;
  return device;
}

/** "operatingHours" -> "Operating hours", "flow_rate" -> "Flow rate". */
function label(property: string): string {
  const words = property.replace(/_/g, " ").replace(/([a-z0-9])([A-Z])/g, "$1 $2").trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
