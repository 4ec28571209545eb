/**
 * Admission of user JSON into twin state. One walk checks every rule before anything is
 * stored (finite numbers, nesting depth, forbidden keys, size) and copies the value into
 * null-prototype objects, so no user string ever becomes a key of a plain object.
 */
import { TwinError, showValue } from "./errors";
import { isForbiddenKey } from "./names";

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject { [key: string]: Json }

export interface AdmitContext {
  twinId: string;
  property: string;
  maxDepth: number;
  /** Bytes still allowed; the walk stops as soon as the value is larger. */
  budget: number;
}

export interface Admitted { value: Json; size: number }

/**
 * A plain data object: `{}` or `Object.create(null)`, from this realm or another. A Function
 * node runs in a sandbox of its own, so its objects have that sandbox's Object.prototype.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  // A dict() is as plain as Object.create(null); answered here, as the readings the registry
  // builds are dicts (Object.prototype.toString looks up Symbol.toStringTag along the chain).
  if (proto === null || proto === Dict.prototype) return true;
  return Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === "[object Object]";
}

/**
 * Objects for user-named keys. Their prototype is an empty, frozen object with a null prototype:
 * nothing is inherited (no `__proto__` setter, no `constructor`), as with Object.create(null),
 * but V8 keeps them in its fast object layout, which halves the cost of building a document.
 */
const Dict = function Dict(this: object) {} as unknown as new () => Record<string, never>;
Dict.prototype = Object.freeze(Object.create(null));

export function dict<T = Json>(): Record<string, T> {
  return new Dict() as unknown as Record<string, T>;
}

/** Whether nothing at all is inherited: a dict() or an Object.create(null) object. */
export function inheritsNothing(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Dict.prototype;
}

/**
 * NEGATIVE_ZERO: a number is stored as JSON can hold it, so -0 is stored as 0. JSON.stringify
 * writes -0 as "0": a twin that kept -0 in memory (its value, its history) showed 0 after a
 * restart, and the same document read differently before and after one.
 */

/** Checks and copies `value` (-0 becomes 0); throws a TwinError naming twin, property and rule. */
export function admit(value: unknown, ctx: AdmitContext): Admitted {
  const state = { size: 0 };
  const copy = walk(value, ctx, 1, state, ctx.property);
  return { value: copy, size: state.size };
}

function walk(value: unknown, ctx: AdmitContext, depth: number, state: { size: number }, path: string): Json {
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) {
        throw new TwinError("invalid-value", { twinId: ctx.twinId, property: path, value: showValue(value), rule: "finite" });
      }
      charge(ctx, state, 8, path);
      return value === 0 ? 0 : value; // -0 as 0: see NEGATIVE_ZERO
    case "string":
      charge(ctx, state, value.length + 2, path);
      return value;
    case "boolean":
      charge(ctx, state, 5, path);
      return value;
    case "object": {
      if (value === null) {
        charge(ctx, state, 4, path);
        return null;
      }
      if (depth > ctx.maxDepth) {
        throw new TwinError("too-deep", { twinId: ctx.twinId, property: path, limit: ctx.maxDepth });
      }
      if (Array.isArray(value)) {
        charge(ctx, state, 2 + value.length, path);
        const out: Json[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = walk(value[i], ctx, depth + 1, state, path);
        return out;
      }
      if (!isPlainObject(value)) {
        throw new TwinError("invalid-json", { twinId: ctx.twinId, property: path, value: showValue(value) });
      }
      const out = dict();
      const source = value as Record<string, unknown>;
      charge(ctx, state, 2, path);
      for (const key of Object.keys(source)) {
        if (isForbiddenKey(key)) throw new TwinError("forbidden-key", { twinId: ctx.twinId, property: path, key });
        const item = source[key];
        if (item === undefined) continue;
        charge(ctx, state, key.length + 4, path);
        out[key] = walk(item, ctx, depth + 1, state, `${path}.${key}`);
      }
      return out;
    }
    default:
      throw new TwinError("invalid-json", { twinId: ctx.twinId, property: path, value: showValue(value) });
  }
}

function charge(ctx: AdmitContext, state: { size: number }, bytes: number, path: string): void {
  state.size += bytes;
  if (state.size > ctx.budget) {
    throw new TwinError("too-large", { twinId: ctx.twinId, property: path, limit: ctx.budget });
  }
}

/** Approximate serialised size of an admitted value, the measure the document limit uses. */
export function sizeOf(value: Json): number {
  switch (typeof value) {
    case "number": return 8;
    case "string": return value.length + 2;
    case "boolean": return 5;
    default: {
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let n = 2 + value.length;
        for (const item of value) n += sizeOf(item);
        return n;
      }
      let n = 2;
      // for-in, not Object.keys: admitted objects inherit nothing, and no key list is made per call.
      for (const key in value) n += key.length + 4 + sizeOf(value[key]);
      return n;
    }
  }
}

/** Structural equality of two JSON values. */
export function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !jsonEqual(a[k], (b as JsonObject)[k])) return false;
  }
  return true;
}

/** Deep copy of an admitted value (null-prototype objects stay null-prototype). */
export function cloneJson<T extends Json>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => cloneJson(v)) as T;
  const out = dict();
  for (const k in value) out[k] = cloneJson((value as JsonObject)[k]);
  return out as T;
}
