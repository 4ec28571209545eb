/**
 * From a `twin-redis` config node's settings to an ioredis client: one server (host and port, or
 * a redis:// / rediss:// URL), Sentinel (the sentinels and the primary's name) or Cluster (its
 * startup nodes). Pure apart from `connect`, so each setting is checked here, before anything
 * connects, with `invalid-option` naming the setting.
 */
import Redis, { Cluster, ClusterOptions, RedisOptions } from "ioredis";
import { SentinelConnector, StandaloneConnector } from "ioredis/built/connectors";
import type { ErrorEmitter } from "ioredis/built/connectors/AbstractConnector";
import type { NetStream } from "ioredis/built/types";
import type { ConnectionOptions } from "tls";
import { TwinError } from "../../errors";

export interface RedisSettings {
  topology?: "single" | "sentinel" | "cluster";
  /** redis://[user:password@]host[:port][/db] or rediss:// (TLS); single server only. */
  url?: string;
  host?: string;
  port?: number | string;
  db?: number | string;
  /** Credentials (a config node keeps them as credentials, never in the flow file). */
  username?: string;
  password?: string;
  /** TLS options (e.g. from a `tls-config` node); set means TLS. */
  tls?: ConnectionOptions;
  /** "host:port, host:port" */
  sentinels?: string;
  /** The name Sentinel knows the primary by. */
  sentinelName?: string;
  sentinelPassword?: string;
  /** Cluster startup nodes, "host:port, host:port". */
  nodes?: string;
}

export type Connection =
  | { kind: "single" | "sentinel"; options: RedisOptions }
  | { kind: "cluster"; nodes: Array<{ host: string; port: number }>; options: ClusterOptions };

function invalid(option: string, reason: string): TwinError {
  return new TwinError("invalid-option", { option, reason });
}

function portOf(value: unknown, option: string): number {
  const text = String(value ?? "").trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw invalid(option, `"${text.slice(0, 40)}" is not a port (1 to 65535)`);
  return port;
}

/** "host:port, host:port" as addresses (a missing port is `defaultPort`). */
export function addresses(list: string | undefined, option: string, defaultPort: number): Array<{ host: string; port: number }> {
  const out: Array<{ host: string; port: number }> = [];
  for (const item of String(list ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\[[^\]]+\]|[^:\s]+)(?::(\S+))?$/.exec(item);
    if (!m) throw invalid(option, `"${item.slice(0, 40)}" is not host:port`);
    out.push({ host: m[1].replace(/^\[|\]$/g, ""), port: m[2] === undefined ? defaultPort : portOf(m[2], option) });
  }
  if (!out.length) throw invalid(option, "names no server");
  return out;
}

/** A URL as an error may show it: a user and password in it are the node's secret, and errors reach the log. */
function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1…@");
}

export function connectionOf(settings: RedisSettings): Connection {
  const topology = settings.topology ?? "single";
  const auth: RedisOptions = {};
  if (settings.username) auth.username = settings.username;
  if (settings.password) auth.password = settings.password;
  if (settings.tls) auth.tls = settings.tls;
  const dbText = String(settings.db ?? "").trim();
  if (dbText !== "" && !/^\d+$/.test(dbText)) throw invalid("db", `"${dbText.slice(0, 40)}" is not a database number`);
  const db = dbText === "" ? undefined : Number(dbText);
  if (topology === "cluster") {
    // A Cluster has only database 0.
    if (db) throw invalid("db", "a Redis Cluster has database 0 only");
    return { kind: "cluster", nodes: addresses(settings.nodes, "nodes", 6379), options: { redisOptions: auth } };
  }
  if (topology === "sentinel") {
    const name = String(settings.sentinelName ?? "").trim();
    if (!name) throw invalid("sentinelName", "Sentinel needs the name of the primary it watches");
    const options: RedisOptions = { ...auth, sentinels: addresses(settings.sentinels, "sentinels", 26379), name };
    if (settings.sentinelPassword) options.sentinelPassword = settings.sentinelPassword;
    if (db !== undefined) options.db = db;
    return { kind: "sentinel", options };
  }
  if (topology !== "single") throw invalid("topology", `"${String(topology).slice(0, 40)}" is not single, sentinel or cluster`);
  const url = String(settings.url ?? "").trim();
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid("url", `"${withoutCredentials(url).slice(0, 40)}" is not a URL`);
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw invalid("url", "starts with redis:// or rediss://");
    const options: RedisOptions = { ...auth, host: parsed.hostname.replace(/^\[|\]$/g, ""), port: parsed.port ? portOf(parsed.port, "url") : 6379 };
    // Credentials in the URL count only where the node has none of its own.
    if (!options.username && parsed.username) options.username = decodeURIComponent(parsed.username);
    if (!options.password && parsed.password) options.password = decodeURIComponent(parsed.password);
    const path = parsed.pathname.replace(/^\//, "");
    if (path && !/^\d+$/.test(path)) throw invalid("url", `"${path.slice(0, 40)}" is not a database number`);
    if (db !== undefined) options.db = db;
    else if (path) options.db = Number(path);
    if (parsed.protocol === "rediss:" && !options.tls) options.tls = {};
    return { kind: "single", options };
  }
  const options: RedisOptions = { ...auth, host: String(settings.host ?? "").trim() || "127.0.0.1", port: settings.port === undefined || settings.port === "" ? 6379 : portOf(settings.port, "port") };
  if (db !== undefined) options.db = db;
  return { kind: "single", options };
}

/**
 * ioredis listens for its socket's errors with once(). A TLS socket can emit a second error after
 * the first: the server's alert after this side refused its certificate, or after a disconnect in
 * the middle of the handshake. With no listener left that second error would end the process
 * (Node-RED with it). A listener that stays takes it; ioredis has reported the first already.
 */
class TlsStandaloneConnector extends StandaloneConnector {
  override connect(emitter: ErrorEmitter): Promise<NetStream> {
    return super.connect(emitter).then(keepErrors);
  }
}
class TlsSentinelConnector extends SentinelConnector {
  override connect(emitter: ErrorEmitter): Promise<NetStream> {
    return super.connect(emitter).then(keepErrors);
  }
}
function keepErrors(stream: NetStream): NetStream {
  stream.on("error", () => undefined);
  return stream;
}

/** A client for the settings (connecting in the background, as ioredis does). */
export function connect(settings: RedisSettings): Redis | Cluster {
  const c = connectionOf(settings);
  if (c.kind === "cluster") return new Cluster(c.nodes, c.options);
  // Duplicates (the store's own connections) keep the connector: their options are copied.
  if (c.options.tls) c.options.Connector = (c.kind === "sentinel" ? TlsSentinelConnector : TlsStandaloneConnector) as unknown as RedisOptions["Connector"];
  return new Redis(c.options);
}
