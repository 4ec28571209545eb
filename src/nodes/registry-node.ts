/** What the `twin-registry` config node offers the nodes that use it. */
import { TwinRegistry } from "../core/registry";
import { Node, NodeMessage, RED } from "./red";

export interface RegistryNode extends Node {
  /** The registry, or a TwinError("store-unavailable") when its store could not be opened. */
  use(): TwinRegistry;
  /** A core error in words from the locale catalog; other errors pass through. */
  describe(err: unknown): Error;
  addUser(node: Node): void;
  removeUser(node: Node): void;
}

export function findRegistry(RED: RED, id: unknown): RegistryNode | null {
  if (typeof id !== "string" || !id) return null;
  const node = RED.nodes.getNode(id) as RegistryNode | null;
  return node && node.type === "twin-registry" ? node : null;
}

/** Reads a typedInput value (msg, flow, global, env, jsonata...) the way core nodes do. */
export function evaluate(RED: RED, node: Node, msg: NodeMessage, value: string, type: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    RED.util.evaluateNodeProperty(value, type || "str", node, msg, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * Node-RED deep-copies a failed message for each Catch node; a payload nested thousands of
 * levels deep overflows that copy and would take Node-RED down. Such a payload is dropped from
 * the failed message (set to null) before it is handed back.
 */
export function failWith(msg: NodeMessage, done: (err?: Error) => void, err: Error): void {
  if (deeperThan(msg.payload, 100)) msg.payload = null;
  done(err);
}

function deeperThan(value: unknown, limit: number): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; level.length; depth++) {
    if (depth > limit) return true;
    const next: unknown[] = [];
    for (const v of level) {
      if (v && typeof v === "object" && !Buffer.isBuffer(v)) {
        for (const key of Object.keys(v as object)) next.push((v as Record<string, unknown>)[key]);
        if (next.length > 100000) return false; // wide, not deep: Node-RED copies that fine
      }
    }
    level = next;
  }
  return false;
}
