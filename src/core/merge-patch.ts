/** JSON Merge Patch (RFC 7396) over admitted JSON: objects merge, `null` deletes, anything else replaces. */
import { Json, JsonObject, dict } from "./json";

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = dict();
  // for-in, not Object.keys: admitted objects inherit nothing, and no key list is made per call.
  if (isObject(target)) for (const key in target) out[key] = target[key];
  for (const key in patch) {
    const value = patch[key];
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
