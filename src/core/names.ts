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

export function checkPropertyName(twinId: string, name: string): string {
  if (FORBIDDEN.has(name)) throw new TwinError("forbidden-key", { twinId, key: name });
  if (!PROPERTY.test(name)) throw new TwinError("invalid-property", { twinId, property: name.slice(0, 140) });
  return name;
}

export function isStateKey(key: unknown): key is string {
  return typeof key === "string" && STATE_KEY.test(key) && !FORBIDDEN.has(key);
}
