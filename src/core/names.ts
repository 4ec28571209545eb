/**
 * The naming rules (docs/architecture.md, "Names and limits"): ids safe in an MQTT topic, a file
 * name and a URL.
 */
import { TwinError } from "./errors";

const TWIN_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const PROPERTY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Keys other parts use for their private per-twin state, e.g. "mirror" or "predict:temperature". */
const STATE_KEY = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN.has(key);
}

export function isTwinId(id: unknown): id is string {
  return typeof id === "string" && TWIN_ID.test(id) && !FORBIDDEN.has(id);
}

export function checkTwinId(id: unknown): string {
  if (!isTwinId(id)) throw new TwinError("invalid-id", { id: typeof id === "string" ? id.slice(0, 140) : typeof id });
  return id;
}

export function isPropertyName(name: unknown): name is string {
  return typeof name === "string" && PROPERTY.test(name) && !FORBIDDEN.has(name);
}

/**
 * The twin property name for a name as a vendor model spells it (OPC UA "7:Temperature", WoT
 * "distance.currentMeasured", "on-off", "1stStage"): a valid name is kept, anything else has every
 * character outside letters, digits and "_" replaced by "_", and a leading digit gets a "_" in
 * front ("_7_Temperature", "distance_currentMeasured", "on_off", "_1stStage"). A "." or ":" would
 * read as a path step or a key separator in queries, conditions and topics, so the twin never
 * sees one. undefined when no safe name results (empty, too long, or a forbidden key either way).
 */
export function twinPropertyName(name: string): string | undefined {
  if (typeof name !== "string" || FORBIDDEN.has(name)) return undefined;
  if (PROPERTY.test(name)) return name;
  const mapped = name.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=[0-9])/, "_");
  return isPropertyName(mapped) ? mapped : undefined;
}

export function checkPropertyName(twinId: string, name: string): string {
  if (FORBIDDEN.has(name)) throw new TwinError("forbidden-key", { twinId, key: name });
  if (!PROPERTY.test(name)) throw new TwinError("invalid-property", { twinId, property: name.slice(0, 140) });
  return name;
}

export function isStateKey(key: unknown): key is string {
  return typeof key === "string" && STATE_KEY.test(key) && !FORBIDDEN.has(key);
}
