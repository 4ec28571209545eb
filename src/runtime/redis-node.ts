/** What the `twin-redis` config node offers the registries that use it. */
import type { Cluster, Redis } from "ioredis";
import type { TwinError } from "../core/errors";
import { Node, RED } from "./red";

export interface RedisNode extends Node {
  /** The key prefix every key of the registries on this server starts with. */
  readonly prefix: string;
  readonly topology: "single" | "sentinel" | "cluster";
  /** A setting that cannot work (invalid-option, naming it), found at deploy; null when none. */
  readonly problem: TwinError | null;
  /** The shared client, made on the first call; throws `problem`. Each call is matched by one `release`. */
  acquire(): Redis | Cluster;
  release(): void;
}

export function findRedis(RED: RED, id: unknown): RedisNode | null {
  if (typeof id !== "string" || !id) return null;
  const node = RED.nodes.getNode(id) as RedisNode | null;
  return node && node.type === "twin-redis" ? node : null;
}

/** Whether a registry can be named so in Redis: its keys' hash tag is the name, in braces. */
export function usableRedisName(name: string): boolean {
  return !/[{}\s]/.test(name) && name.length <= 200;
}
