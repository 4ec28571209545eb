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
