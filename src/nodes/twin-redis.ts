/**
 * `twin-redis` config node: where a registry shared between Node-RED instances lives (a Redis
 * server, Sentinel or Cluster), its key prefix and credentials. It holds the settings, checks
 * them at deploy (core/store/redis/connection.ts), and makes one ioredis client on first use,
 * shared by every registry that uses it (each store makes its own connections from it with
 * `duplicate`), closed when the last of them lets it go or the node closes.
 */
import type { Cluster, Redis } from "ioredis";
import type { ConnectionOptions } from "tls";
import { TwinError } from "../core/errors";
import { connect, connectionOf, RedisSettings } from "../core/store/redis/connection";
import { REDIS_DEFAULTS } from "../core/store/redis-store";
import { Node, NodeDef, RED } from "../runtime/red";
import { RedisNode } from "../runtime/redis-node";

interface RedisConfig extends NodeDef {
  topology?: string;
  url?: string;
  host?: string;
  port?: string | number;
  db?: string | number;
  sentinels?: string;
  sentinelName?: string;
  nodes?: string;
  prefix?: string;
  usetls?: boolean;
  /** The id of a core `tls-config` node. */
  tls?: string;
}

interface Credentials { username?: string; password?: string; sentinelPassword?: string }

/** What Node-RED's core `tls-config` node offers (node-red/nodes/core/network/05-tls.js). */
interface TlsNode extends Node {
  addTLSOptions(options: ConnectionOptions): ConnectionOptions;
}

const TOPOLOGIES = new Set(["single", "sentinel", "cluster"]);

export = function (RED: RED) {
  function TwinRedisNode(this: RedisNode & { credentials?: Credentials }, config: RedisConfig) {
    RED.nodes.createNode(this, config);
    const node = this as RedisNode & { credentials?: Credentials; prefix: string; topology: RedisNode["topology"]; problem: TwinError | null };
    node.name = config.name;
    node.prefix = config.prefix === undefined || config.prefix === null ? REDIS_DEFAULTS.prefix : String(config.prefix);
    const topology = TOPOLOGIES.has(String(config.topology)) ? (String(config.topology) as RedisNode["topology"]) : "single";
    node.topology = topology;
    const credentials = node.credentials ?? {};
    const settings: RedisSettings = {
      topology,
      url: config.url,
      host: config.host,
      port: config.port,
      db: config.db,
      sentinels: config.sentinels,
      sentinelName: config.sentinelName,
      nodes: config.nodes,
      username: credentials.username || undefined,
      password: credentials.password || undefined,
      sentinelPassword: credentials.sentinelPassword || undefined,
    };
    node.problem = null;
    try {
      if (config.usetls) {
        const tlsNode = config.tls ? (RED.nodes.getNode(config.tls) as TlsNode | null) : null;
        // A missing tls-config node would quietly connect in plain text: refused instead.
        if (!tlsNode || typeof tlsNode.addTLSOptions !== "function") throw new TwinError("invalid-option", { option: "tls", reason: RED._("twin-redis.errors.no-tls-config") });
        settings.tls = tlsNode.addTLSOptions({});
      }
      // Only a url of a single server counts; the other topologies ignore it.
      if (topology !== "single") settings.url = undefined;
      connectionOf(settings);
    } catch (err) {
      node.problem = err instanceof TwinError ? err : new TwinError("invalid-option", { option: "?", reason: String((err as Error).message ?? err) });
    }

    let client: Redis | Cluster | null = null;
    let users = 0;

    node.acquire = () => {
      if (node.problem) throw node.problem;
      if (!client) {
        client = connect(settings);
        // Connection trouble is each store's to report (its health); without a listener ioredis
        // would print every failed reconnection.
        client.on("error", () => undefined);
      }
      users++;
      return client;
    };

    function end(): Promise<void> {
      const c = client;
      client = null;
      users = 0;
      if (!c) return Promise.resolve();
      // quit() waits for a reply that never comes while the server is unreachable.
      if (c.status !== "ready") {
        c.disconnect();
        return Promise.resolve();
      }
      return c.quit().then(() => undefined, () => c.disconnect());
    }

    node.release = () => {
      if (users > 0 && --users === 0) void end();
    };

    node.on("close", (_removed: boolean, done: () => void) => {
      end().then(done, done);
    });
  }

  RED.nodes.registerType("twin-redis", TwinRedisNode, {
    credentials: { username: { type: "text" }, password: { type: "password" }, sentinelPassword: { type: "password" } },
  });
};
