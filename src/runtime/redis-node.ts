/** What the `twin-redis` config node offers the registries that use it. */
import { createHash } from "crypto";
import { hostname, networkInterfaces } from "os";
import { resolve } from "path";
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

/**
 * This Node-RED's name among the instances that share a registry on Redis: its host name and a
 * hash of the machine's network addresses (`machine`), its user directory and port. It stays the
 * same across restarts, so a restarted instance takes back the partitions it led; a random name
 * per start took a new share each time, moving about 2/N of the partitions between instances
 * that had not restarted. Two Node-RED processes on one host differ in user directory or in port,
 * two registry nodes of one process (`registry`, the node's id) in that, and cloned machines
 * (Raspberry Pis from one image, containers with a fixed host name) in their hardware addresses.
 * Were two live instances to share a name anyway, one of them would lead nothing: correct, not
 * shared. Undefined (the store then picks a random name) when the user directory is not known.
 */
export function instanceName(settings: { userDir?: unknown; uiPort?: unknown }, registry: string, machine = machineAddress()): string | undefined {
  if (typeof settings.userDir !== "string" || !settings.userDir) return undefined;
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 60) || "host";
  const where = `${machine}:${resolve(settings.userDir)}:${String(settings.uiPort ?? "")}:${registry}`;
  return `${host}-${createHash("sha256").update(where).digest("hex").slice(0, 8)}`;
}

/** The lowest hardware address of the machine's external interfaces ("" when it has none). */
function machineAddress(): string {
  const macs: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (!i.internal && i.mac && i.mac !== "00:00:00:00:00:00") macs.push(i.mac);
  }
  return macs.sort()[0] ?? "";
}
