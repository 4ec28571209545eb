/**
 * The admin HTTP API of design.md, on RED.httpAdmin so it follows the user's adminAuth.
 * Registries are found through Node-RED's own node list at request time: nothing here keeps
 * state between deployments.
 */
import { TwinRegistry, ListQuery, HistoryQuery } from "../core/registry";
import { isTwinError } from "../core/errors";
import { RED, Request, Response } from "../nodes/red";
import { RegistryNode, findRegistry } from "../nodes/registry-node";

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const NOT_FOUND = new Set(["not-found"]);
const BAD_REQUEST = new Set(["invalid-id", "invalid-property", "forbidden-key", "invalid-query"]);

export function registerAdminApi(RED: RED): void {
  const read = RED.auth.needsPermission("twins.read");

  function registries(): Array<{ id: string; name: string }> {
    const out: Array<{ id: string; name: string }> = [];
    RED.nodes.eachNode((def) => {
      if (def.type === "twin-registry") out.push({ id: def.id, name: typeof def.name === "string" ? def.name : "" });
    });
    return out;
  }

  /** `:registry` is the config node's id or its name. */
  function resolve(ref: string): { node: RegistryNode; registry: TwinRegistry } {
    const all = registries();
    let match = all.filter((r) => r.id === ref);
    if (!match.length) match = all.filter((r) => r.name === ref);
    if (match.length > 1) throw new HttpError(409, RED._("twin-admin-api.errors.ambiguous", { registry: ref }));
    const node = match.length ? findRegistry(RED, match[0].id) : null;
    if (!node) throw new HttpError(404, RED._("twin-admin-api.errors.no-registry", { registry: ref }));
    try {
      return { node, registry: node.use() };
    } catch (err) {
      throw new HttpError(503, node.describe(err).message);
    }
  }

  function route(handler: (req: Request) => unknown) {
    return (req: Request, res: Response) => {
      let node: RegistryNode | null = null;
      try {
        res.json(handler(req));
      } catch (err) {
        if (err instanceof HttpError) return void res.status(err.status).json({ error: err.message });
        if (isTwinError(err)) {
          node = findRegistry(RED, registries().find((r) => r.id === req.params.registry || r.name === req.params.registry)?.id);
          const message = node ? node.describe(err).message : err.message;
          const status = NOT_FOUND.has(err.code) ? 404 : BAD_REQUEST.has(err.code) ? 400 : 500;
          return void res.status(status).json({ error: message, code: err.code });
        }
        RED.log.error(`twinwire admin API: ${(err as Error).stack ?? err}`);
        res.status(500).json({ error: String((err as Error).message ?? err) });
      }
    };
  }

  RED.httpAdmin.get("/twins", read, route(() =>
    registries().map(({ id, name }) => {
      const node = findRegistry(RED, id);
      let count: number | null = null;
      try {
        count = node ? node.use().size : null;
      } catch {
        count = null;
      }
      return { id, name, count };
    }),
  ));

  RED.httpAdmin.get("/twins/:registry", read, route((req) => {
    const { registry } = resolve(req.params.registry);
    return registry.list(listQuery(RED, req.query));
  }));

  RED.httpAdmin.get("/twins/:registry/:twinId", read, route((req) => {
    const { registry } = resolve(req.params.registry);
    return registry.get(req.params.twinId);
  }));

  RED.httpAdmin.get("/twins/:registry/:twinId/history/:property", read, route((req) => {
    const { registry } = resolve(req.params.registry);
    return registry.history(req.params.twinId, req.params.property, historyQuery(RED, req.query));
  }));
}

function listQuery(RED: RED, q: Record<string, unknown>): ListQuery {
  const out: ListQuery = {};
  if (typeof q.model === "string" && q.model) out.model = q.model;
  if (typeof q.stage === "string" && q.stage) out.stage = q.stage;
  if (q.online !== undefined) {
    if (q.online !== "true" && q.online !== "false") throw badQuery(RED, "online", q.online, "true or false");
    out.online = q.online === "true";
  }
  if (q.limit !== undefined) out.limit = whole(RED, "limit", q.limit);
  if (q.offset !== undefined) out.offset = whole(RED, "offset", q.offset);
  return out;
}

function historyQuery(RED: RED, q: Record<string, unknown>): HistoryQuery {
  const out: HistoryQuery = {};
  if (q.from !== undefined) out.from = time(RED, "from", q.from);
  if (q.to !== undefined) out.to = time(RED, "to", q.to);
  if (q.limit !== undefined) out.limit = whole(RED, "limit", q.limit);
  return out;
}

function whole(RED: RED, name: string, value: unknown): number {
  if (typeof value !== "string" || !/^\d{1,9}$/.test(value)) throw badQuery(RED, name, value, "a whole number");
  return Number(value);
}

/** Epoch milliseconds or an ISO 8601 date. */
function time(RED: RED, name: string, value: unknown): number {
  if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  const parsed = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(parsed)) throw badQuery(RED, name, value, "epoch ms or an ISO 8601 date");
  return parsed;
}

function badQuery(RED: RED, name: string, value: unknown, expected: string): HttpError {
  return new HttpError(400, RED._("twin-admin-api.errors.query", { name, value: String(value).slice(0, 40), expected }));
}
