/**
 * The admin route that moves a registry's twins between its local store and Redis
 * (core/store/migrate.ts; docs/redis.md, "Migration"):
 *
 *   POST /twin-registry/:registry/migrate  (twins.admin)  {to: "redis" | "local", replace?: true, redis?: "<twin-redis id>"}
 *
 * to "redis": the registry runs on a local store (strict, batched or memory). The twins it holds
 *   now are written to Redis under the `twin-redis` node's key prefix and the registry's Redis
 *   name (its "Name in Redis", blank: its id), the registry Redis mode would open. The
 *   `twin-redis` node is the registry's own Redis setting, or `redis` in the body.
 * to "local": the registry runs on Redis. Its twins are read from Redis and written to the
 *   directory its local store would open (`<userDir>/twinwire/<id>`).
 * Nothing of the source changes. A target that holds twins is refused (409 target-not-empty)
 * unless `replace` is true (a directory is then set aside beside it, Redis keys are deleted); a
 * Redis registry open on some instance is refused always (409 target-in-use). The target is read
 * back and compared twin by twin. Answers {from, to, target, twins, history, versions, replaced,
 * setAside?, warnings}. Changes made after the copy are not in it: stop the inputs first, then
 * switch the registry's Persistence in its dialog and deploy.
 */
import type { Redis } from "ioredis";
import { TwinRegistry } from "../core/registry";
import { isTwinError } from "../core/errors";
import { MigrationError, MigrationTarget, MigrationSource, migrate } from "../core/store/migrate";
import { NodeDef, RED, Request, Response } from "../runtime/red";
import { RegistryNode, storeDir } from "../runtime/registry-node";
import { findRedis, usableRedisName } from "../runtime/redis-node";

/** How admin-api resolves `:registry` (id or name) to the running node and its registry; throws its HTTP errors. */
export type ResolveRegistry = (ref: string) => { node: RegistryNode; registry: TwinRegistry };

const STATUS: Record<string, number> = { "target-not-empty": 409, "target-in-use": 409, "counts-differ": 500 };

/** How long the route waits for a Redis connection that is not up yet. */
const CONNECT_MS = 10000;

export function registerMigrateRoute(RED: RED, resolve: ResolveRegistry): void {
  // Not twins.write: with `replace` a migration deletes every twin in its target, which is more
  // than an operator who may set desired values should be able to do. twins.admin is held by
  // users with "*" only, unless adminAuth grants it by name.
  const admin = RED.auth.needsPermission("twins.admin");
  /** Registries being migrated now: a second request for one of them waits its turn by being refused. */
  const running = new Set<string>();

  const fail = (res: Response, status: number, code: string, message: string) => void res.status(status).json({ error: message, code });
  const text = (key: string, params: Record<string, unknown> = {}) => RED._(`twin-admin-api.errors.${key}`, params);

  RED.httpAdmin.post("/twin-registry/:registry/migrate", admin, (req: Request, res: Response) => {
    let resolved: { node: RegistryNode; registry: TwinRegistry };
    try {
      resolved = resolve(req.params.registry);
    } catch (err) {
      // admin-api's own errors carry their status and code.
      const e = err as { status?: number; code?: string; message?: string };
      return fail(res, e.status ?? 500, e.code ?? "internal", String(e.message ?? err));
    }
    const { node, registry } = resolved;
    const body = (req.body && typeof req.body === "object" ? req.body : {}) as { to?: unknown; replace?: unknown; redis?: unknown };
    if (body.to !== "redis" && body.to !== "local") return fail(res, 400, "invalid-body", text("migrate-body"));
    const def = definition(RED, node.id);
    const onRedis = def?.persistence === "redis";
    const name = (node.name || node.id) as string;
    if (body.to === "redis" && onRedis) return fail(res, 409, "migrate-not-configured", text("migrate-on-redis", { registry: name }));
    if (body.to === "local" && !onRedis) return fail(res, 409, "migrate-not-configured", text("migrate-not-on-redis", { registry: name }));
    const redisId = typeof body.redis === "string" && body.redis ? body.redis : typeof def?.redis === "string" ? def.redis : "";
    const redisNode = findRedis(RED, redisId);
    if (!redisNode) {
      return fail(res, 400, "migrate-no-redis", text("migrate-no-redis", { registry: name, redis: redisId }));
    }
    // Where the registry's Redis mode would refuse to open, a copy there is a trap: refused in its words, before connecting.
    const redisName = typeof def?.redisName === "string" && def.redisName.trim() ? def.redisName.trim() : node.id;
    if (redisNode.topology === "cluster") return fail(res, 400, "invalid-option", RED._("twin-registry.errors.migrate-cluster"));
    if (!usableRedisName(redisName)) return fail(res, 400, "invalid-option", RED._("twin-registry.errors.redis-name", { name: JSON.stringify(redisName.slice(0, 60)) }));
    if (body.to === "local" && !RED.settings.userDir) return fail(res, 400, "migrate-no-user-dir", text("migrate-no-user-dir"));
    if (running.has(node.id)) return fail(res, 409, "migrate-running", text("migrate-running", { registry: name }));

    let client: Redis;
    try {
      client = redisNode.acquire() as Redis;
    } catch (err) {
      return fail(res, 503, isTwinError(err) ? err.code : "store-unavailable", node.describe(err).message);
    }
    running.add(node.id);
    // The name and prefix the registry's Redis mode opens (src/nodes/twin-registry.ts).
    const side = { kind: "redis" as const, redis: client, registry: redisName, prefix: redisNode.prefix };
    const run = async () => {
      await ready(client);
      let from: MigrationSource;
      let to: MigrationTarget;
      if (body.to === "redis") {
        from = { kind: "registry", registry };
        to = side;
      } else {
        from = side;
        to = { kind: "local", dir: storeDir(RED, RED.settings.userDir as string, node.id) };
      }
      const result = await migrate(from, to, { replace: body.replace === true, historyLength: registry.historyLength });
      const target = to.kind === "local" ? to.dir : `${side.prefix}{${side.registry}}`;
      return { ...result, target };
    };
    run().then(
      (answer) => res.json(answer),
      (err: unknown) => {
        if (err instanceof MigrationError) return fail(res, STATUS[err.code] ?? 500, err.code, text(`migrate-${err.code}`, err.params));
        if (isTwinError(err)) return fail(res, err.code === "invalid-option" ? 400 : 503, err.code, node.describe(err).message);
        // A Redis error (a refused command, the connection gone) or a file system one.
        return fail(res, 503, "store-unavailable", text("migrate-failed", { reason: String((err as Error)?.message ?? err) }));
      },
    ).finally(() => {
      running.delete(node.id);
      redisNode.release();
    });
  });
}

/** The registry's settings as deployed (persistence, redis, redisName). */
function definition(RED: RED, id: string): NodeDef | null {
  let found: NodeDef | null = null;
  RED.nodes.eachNode((def) => {
    if (def.id === id) found = def;
  });
  return found;
}

/** Resolves once the client is connected; a server out of reach fails after CONNECT_MS. */
function ready(client: Redis): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("ready", ok);
      reject(new Error(`Redis did not answer within ${CONNECT_MS / 1000} s`));
    }, CONNECT_MS);
    const ok = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once("ready", ok);
  });
}
