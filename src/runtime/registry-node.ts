/** What the `twin-registry` config node offers the nodes that use it. */
import * as path from "path";
import { TwinRegistry } from "../core/registry";
import type { ExpressionLimits } from "./jsonata";
import { Done, Node, NodeMessage, RED, Send } from "./red";

export interface RegistryNode extends Node {
  /** The registry, or a TwinError("store-unavailable") when its store could not be opened. */
  use(): TwinRegistry;
  /** A core error in words from the locale catalog; other errors pass through. */
  describe(err: unknown): Error;
  addUser(node: Node): void;
  removeUser(node: Node): void;
  /**
   * Calls back once the registry is open, or has failed to open: at once for a local store, later
   * for one opened over the network (Redis). Nodes that take the registry at deploy wait here.
   */
  whenOpen(callback: () => void): void;
  /** The time and depth limits of every JSONata expression a node of this registry runs (jsonata.ts). */
  readonly expressionLimits: ExpressionLimits;
}

/**
 * Runs a node's start once its registry is open: at once on a local store, once the twins are
 * read on a shared one (Redis), and not at all if the node closed meanwhile. For nodes that take
 * the registry when deployed (use() throws store-unavailable until it is open).
 */
export function whenRegistryOpen(node: Node, registryNode: RegistryNode | null, start: () => void): void {
  if (!registryNode) return start();
  let closed = false;
  let started = false;
  registryNode.whenOpen(() => {
    if (closed) return;
    started = true;
    start();
  });
  if (started) return;
  node.on("close", (_removed: boolean, done: () => void) => {
    closed = true;
    done();
  });
}

/** Why the registry cannot be used yet (still connecting to Redis), in the registry's words; null once it can. */
export function openProblem(registryNode: RegistryNode): string | null {
  try {
    registryNode.use();
    return null;
  } catch (err) {
    return registryNode.describe(err).message;
  }
}

export function findRegistry(RED: RED, id: unknown): RegistryNode | null {
  if (typeof id !== "string" || !id) return null;
  const node = RED.nodes.getNode(id) as RegistryNode | null;
  return node && node.type === "twin-registry" ? node : null;
}

/**
 * Node-RED deep-copies a message, recursively, wherever one message becomes two: for each
 * Catch node when it fails, for each Complete node when it completes (done()), and for every
 * message but the first that send() delivers (a second wire, or a list of messages). A value
 * nested a few thousand levels deep overflows the stack in that copy, and the RangeError takes
 * Node-RED down. No twin node makes such a value (twin documents nest at most 6 levels); one
 * can only come in with a message. So every input handler is registered through onInput, which
 * refuses such a message whole, at once, before any work, with a clear error through done(err).
 */
export const MAX_MESSAGE_DEPTH = 1000;

/** The input handler of a twin node, behind the message-depth guard every twin node shares. */
export function onInput(RED: RED, node: Node, handler: (msg: NodeMessage, send: Send, done: Done) => void): void {
  node.on("input", (msg: NodeMessage, send: Send, done: Done) => {
    const deep = tooDeep(msg);
    if (deep) {
      for (const key of deep) msg[key] = null;
      const properties = deep.map((key) => `msg.${key}`).join(", ");
      const err = new Error(RED._("twin-registry.errors.message-too-deep", { properties, limit: MAX_MESSAGE_DEPTH })) as Error & { code?: string };
      err.code = "message-too-deep";
      return done(err);
    }
    handler(msg, send, done);
  });
}

/**
 * The failed message goes back with the error. A payload nested deeper than Node-RED can copy
 * (a handler's own check found it too deep for a twin) is dropped from it (set to null).
 */
export function failWith(msg: NodeMessage, done: (err?: Error) => void, err: Error): void {
  if (depthBeyond(msg.payload, 100)) msg.payload = null;
  done(err);
}

/**
 * The top-level properties of msg that nest deeper than Node-RED can copy (req and res it never
 * copies); null when there are none, which is every message but a hostile one, so that one
 * allocates nothing: no key list, and shallow() walks without a list of values.
 */
function tooDeep(msg: NodeMessage): string[] | null {
  if (shallowMessage(msg)) return null;
  let deep: string[] | null = null;
  for (const key of Object.keys(msg)) {
    if (key === "req" || key === "res") continue;
    try {
      if (depthBeyond(msg[key], MAX_MESSAGE_DEPTH)) (deep ??= []).push(key);
    } catch {
      // a getter that throws: not something this check can judge; the node deals with the message
    }
  }
  return deep;
}

/**
 * The first check, which settles nearly every message: one bounded walk (shallow() below) over
 * all its properties but req and res, sharing one object budget, without a key list. False when
 * it cannot tell (a property too deep or too big for the bound, a getter that throws): then each
 * property is judged on its own.
 */
function shallowMessage(msg: NodeMessage): boolean {
  if (FAST_DEPTH > MAX_MESSAGE_DEPTH) return false;
  fastLeft = FAST_OBJECTS;
  try {
    for (const key in msg) {
      if (key === "req" || key === "res" || !Object.prototype.hasOwnProperty.call(msg, key)) continue;
      const value: unknown = msg[key];
      if (value && typeof value === "object" && !shallow(value, 1)) return false;
    }
  } catch {
    return false;
  }
  return true;
}

/**
 * Whether value nests deeper than limit levels (an object or array is one level), walked in the
 * order a deep copy walks it (depth first, in key order, each object once, so shared and
 * circular references cost nothing), without recursion.
 */
function depthBeyond(value: unknown, limit: number): boolean {
  if (!value || typeof value !== "object") return false;
  // Nearly every message is small and shallow: a bounded walk without the Set and the stack
  // settles it. Every path it walked is at most FAST_DEPTH deep, so no object can be met deeper
  // by the exact walk below either; when the bound is hit, the exact walk decides.
  fastLeft = FAST_OBJECTS;
  if (FAST_DEPTH <= limit && shallow(value as object, 1)) return false;
  const seen = new Set<object>();
  const stack: Array<[object, number]> = [[value as object, 1]];
  while (stack.length) {
    const [object, depth] = stack.pop() as [object, number];
    if (seen.has(object)) continue;
    seen.add(object);
    if (depth > limit) return true;
    if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) continue;
    const values = object instanceof Map || object instanceof Set ? [...object.values()] : Object.values(object);
    for (let i = values.length - 1; i >= 0; i--) {
      const child = values[i];
      if (child && typeof child === "object") stack.push([child as object, depth + 1]);
    }
  }
  return false;
}

const FAST_DEPTH = 32;
const FAST_OBJECTS = 256;
/** Objects the bounded walk may still visit (one walk at a time: the guard is synchronous). */
let fastLeft = 0;

/** Whether every path from object is at most FAST_DEPTH deep, found within FAST_OBJECTS objects; false: not known. */
function shallow(object: object, depth: number): boolean {
  if (depth > FAST_DEPTH || --fastLeft < 0) return false;
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) return true;
  if (object instanceof Map || object instanceof Set) {
    for (const child of object.values()) if (child && typeof child === "object" && !shallow(child as object, depth + 1)) return false;
    return true;
  }
  // The values Object.values would list (own enumerable string keys, an array's named ones too),
  // without the list: an inherited enumerable key is skipped, so this walks what the exact walk would.
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
    const child: unknown = (object as Record<string, unknown>)[key];
    if (child && typeof child === "object" && !shallow(child, depth + 1)) return false;
  }
  return true;
}

/**
 * The registry's own directory under the user directory, named by its node id. An imported flow
 * can carry any id: one that is not a plain file name (separators, "..", control characters)
 * is refused instead of putting the store somewhere else.
 */
export function storeDir(RED: RED, userDir: string, id: string): string {
  const base = path.resolve(userDir, "twinwire");
  const dir = path.resolve(base, id);
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/.test(id) || id.includes("..") || path.dirname(dir) !== base) {
    throw new Error(RED._("twin-registry.errors.bad-store-id", { id: JSON.stringify(id.slice(0, 60)) }));
  }
  return dir;
}
