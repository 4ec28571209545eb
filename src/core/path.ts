/**
 * Property paths ("payload.sensors[0].t", 'payload["a b"]'): checked once as a setting, read
 * through own data properties only, never __proto__, constructor or prototype. Shared by sensor
 * binding and queries.
 */
import { TwinError } from "./errors";
import { isForbiddenKey } from "./names";


const pathCache = new Map<string, string[] | null>();
const PATH_CACHE_SIZE = 256;

/** Splits "a.b[0]['c d'].e" into keys; null when the syntax is wrong. */
function splitPath(path: string): string[] | null {
  const keys: string[] = [];
  let i = 0;
  const n = path.length;
  if (n === 0) return null;
  while (i < n) {
    const c = path[i];
    if (c === "[") {
      const q = path[i + 1];
      if (q === '"' || q === "'") {
        const end = path.indexOf(q, i + 2);
        if (end < 0 || path[end + 1] !== "]") return null;
        keys.push(path.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = path.indexOf("]", i + 1);
        const index = end < 0 ? "" : path.slice(i + 1, end).trim();
        if (!/^\d+$/.test(index)) return null;
        keys.push(String(Number(index)));
        i = end + 1;
      }
    } else {
      if (c === ".") {
        if (keys.length === 0) return null; // leading dot
        i++;
      }
      let end = i;
      while (end < n && path[end] !== "." && path[end] !== "[" && path[end] !== "]") end++;
      if (end === i) return null; // "a..b", "a.", "a.[0]"
      keys.push(path.slice(i, end));
      i = end;
      if (path[i] === "]") return null;
    }
    if (i < n && path[i] !== "." && path[i] !== "[") return null;
  }
  return keys;
}

function cachedPath(path: string): string[] | null {
  let keys = pathCache.get(path);
  if (keys === undefined) {
    keys = path.length > 1000 ? null : splitPath(path);
    if (pathCache.size >= PATH_CACHE_SIZE) pathCache.clear();
    pathCache.set(path, keys);
  }
  return keys;
}

/**
 * Checks a path setting and returns its keys. Throws TwinError("invalid-option", {option:
 * "path", reason}) on wrong syntax or a key that is __proto__, constructor or prototype.
 */
export function parsePath(path: string): string[] {
  const keys = typeof path === "string" ? cachedPath(path) : null;
  if (!keys) throw new TwinError("invalid-option", { option: "path", reason: `"${String(path).slice(0, 60)}" is not a property path` });
  const bad = keys.find(isForbiddenKey);
  if (bad !== undefined) throw new TwinError("invalid-option", { option: "path", reason: `"${bad}" is not allowed in a path` });
  return keys.slice();
}

/**
 * Reads "payload.value", "payload.sensors[0].t", 'payload["a b"]' or "value" from `source`,
 * through own data properties only: never a getter, never an inherited member, and never a key
 * named __proto__, constructor or prototype (undefined instead). A malformed path, or a walk
 * that meets a missing key or a non-object, gives undefined.
 */
export function readPath(source: unknown, path: string): unknown {
  if (typeof path !== "string") return undefined;
  const keys = cachedPath(path);
  if (!keys) return undefined;
  let current = source;
  for (const key of keys) {
    if (isForbiddenKey(key)) return undefined;
    if (typeof current !== "object" || current === null) return undefined;
    const desc = Object.getOwnPropertyDescriptor(current, key);
    if (!desc || !("value" in desc)) return undefined;
    current = desc.value;
  }
  return current;
}
