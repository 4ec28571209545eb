/**
 * The admin HTTP API (docs/architecture.md, "Admin HTTP API"), on RED.httpAdmin so it follows
 * the user's adminAuth.
 * Registries are found through Node-RED's own node list at request time: nothing here keeps
 * state between deployments.
 *
 * Also, for the Twins sidebar:
 *   GET  /twins/:registry  also takes q (id contains, any case), sort (id, model, stage, online,
 *        updated, lastSeen, delta, anomaly), order (asc, desc) and reported (0-10: add that many
 *        reported values to each summary, as `reported`).
 *   POST /twins/:registry/:twinId/desired  (twins.write) a JSON object of desired values, checked
 *        by registry.setDesired like twin-mirror's input; `null` clears a property; ?ifVersion=
 *        refuses the change if the twin moved on. Answers the twin document.
 *   GET  /twin-models/:registry  (twins.read) the names of the registry's models, as it parsed
 *        them (the Models field and its models folder): { models: [name, ...] }, sorted.
 *   GET  /twin-models/:registry/:model  (twins.read) one parsed model (modelJson): every property
 *        with its type, unit, range, writability and nested rules, Components as the twin names
 *        them. The editor reads models here, never by parsing the Models text itself. Under
 *        /twin-models, not /twins, so that no twin id ("models") is shadowed.
 *   POST /twin-registry/:registry/migrate  (twins.admin) copies the registry's twins between its
 *        local store and Redis: src/plugins/admin-migrate.ts.
 *
 * A registry shared on Redis serves reads from its own copy; while Redis is out of reach, that
 * copy may miss other instances' changes, so the reads of its twins carry the header
 * `X-Twinwire-Stale: 1` (a header, so every body keeps its shape).
 */
import { TwinRegistry, ListQuery, HistoryQuery, WriteOptions } from "../core/registry";
import { TwinSummary } from "../core/twin";
import { ErrorCode, isTwinError } from "../core/errors";
import { modelJson } from "../core/models";
import { RED, Request, Response } from "../runtime/red";
import { RegistryNode, findRegistry } from "../runtime/registry-node";
import { liveSummary } from "../runtime/live-feed";
import { registerMigrateRoute } from "./admin-migrate";

/** An error of the API itself, answered as { error, code } like a core error. */
class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** HTTP status of a core error; validation failures are the client's (400). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  "not-found": 404,
  conflict: 409,
  "store-unavailable": 503,
  "store-closed": 503,
  "invalid-id": 400,
  "invalid-property": 400,
  "forbidden-key": 400,
  "invalid-query": 400,
  "invalid-json": 400,
  "too-deep": 400,
  "too-large": 400,
  "invalid-value": 400,
  "not-writable": 400,
  "not-in-model": 400,
  "invalid-version": 400,
  "invalid-unit": 400,
  "no-conversion": 400,
};

const SORT_KEYS = ["id", "model", "stage", "online", "updated", "lastSeen", "delta", "anomaly"] as const;
type SortKey = (typeof SORT_KEYS)[number];
const MAX_PREVIEW = 10;

interface PageQuery extends ListQuery { q?: string; sort?: SortKey; desc?: boolean; reported?: number }

export function registerAdminApi(RED: RED): void {
  const read = RED.auth.needsPermission("twins.read");
  const write = RED.auth.needsPermission("twins.write");

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
    if (match.length > 1) throw new HttpError(409, "ambiguous-registry", RED._("twin-admin-api.errors.ambiguous", { registry: ref }));
    const node = match.length ? findRegistry(RED, match[0].id) : null;
    if (!node) throw new HttpError(404, "no-registry", RED._("twin-admin-api.errors.no-registry", { registry: ref }));
    try {
      return { node, registry: node.use() };
    } catch (err) {
      throw new HttpError(503, isTwinError(err) ? err.code : "store-unavailable", node.describe(err).message);
    }
  }

  /** A handler returns the answer, or a promise of it (a write answers once it is durable). */
  function route(handler: (req: Request, res: Response) => unknown) {
    return (req: Request, res: Response) => {
      try {
        const answer = handler(req, res);
        if (answer instanceof Promise) answer.then((value) => res.json(value), (err) => fail(req, res, err));
        else res.json(answer);
      } catch (err) {
        fail(req, res, err);
      }
    };
  }

  function fail(req: Request, res: Response, err: unknown): void {
    if (err instanceof HttpError) return void res.status(err.status).json({ error: err.message, code: err.code });
    if (isTwinError(err)) {
      // The registry's own catalog words the error (the request may have failed before resolving it).
      const node = findRegistry(RED, registries().find((r) => r.id === req.params.registry || r.name === req.params.registry)?.id);
      const message = node ? node.describe(err).message : err.message;
      const status = STATUS[err.code] ?? 500;
      return void res.status(status).json({ error: message, code: err.code });
    }
    RED.log.error(`twinwire admin API: ${(err as Error).stack ?? err}`);
    res.status(500).json({ error: String((err as Error).message ?? err), code: "internal" });
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

  /** Marks the answer of a read from a shared registry that has lost its store (see above). */
  function stale(res: Response, registry: TwinRegistry): void {
    // Only a shared store has open(): a local one is the truth even when its disk refuses writes.
    if (registry.store.open && !registry.health().ok) res.setHeader("X-Twinwire-Stale", "1");
  }

  RED.httpAdmin.get("/twins/:registry", read, route((req, res) => {
    const { registry } = resolve(req.params.registry);
    stale(res, registry);
    return page(registry, listQuery(RED, req.query));
  }));

  RED.httpAdmin.get("/twins/:registry/:twinId", read, route((req, res) => {
    const { registry } = resolve(req.params.registry);
    stale(res, registry);
    return registry.get(req.params.twinId);
  }));

  RED.httpAdmin.get("/twins/:registry/:twinId/history/:property", read, route((req, res) => {
    const { registry } = resolve(req.params.registry);
    stale(res, registry);
    return registry.history(req.params.twinId, req.params.property, historyQuery(RED, req.query));
  }));

  RED.httpAdmin.get("/twin-models/:registry", read, route((req) => {
    const { registry } = resolve(req.params.registry);
    return { models: [...registry.models.keys()].sort() };
  }));

  RED.httpAdmin.get("/twin-models/:registry/:model", read, route((req) => {
    const { registry } = resolve(req.params.registry);
    const model = registry.models.get(req.params.model);
    if (!model) throw new HttpError(404, "no-model", RED._("twin-admin-api.errors.no-model", { registry: req.params.registry, model: req.params.model.slice(0, 200) }));
    return modelJson(model);
  }));

  RED.httpAdmin.post("/twins/:registry/:twinId/desired", write, route((req) => {
    const { registry } = resolve(req.params.registry);
    const body = req.body;
    // `curl -d '{"rpm": 1500}'` sends a form: its body parsed as one field named after the JSON.
    if (!isJson(req)) throw new HttpError(400, "invalid-body", RED._("twin-admin-api.errors.desired-type", { type: String(req.headers?.["content-type"] ?? "none").slice(0, 100) }));
    if (body === null || typeof body !== "object" || Array.isArray(body) || !Object.keys(body).length) {
      throw new HttpError(400, "invalid-body", RED._("twin-admin-api.errors.desired-body"));
    }
    const user = req.user && typeof req.user.username === "string" && req.user.username ? req.user.username : "editor";
    const options: WriteOptions = { by: user };
    if (req.query.ifVersion !== undefined) options.ifVersion = req.query.ifVersion;
    const twinId = req.params.twinId;
    // A twin another instance leads (a registry shared on Redis): set there, answered once durable.
    if (!registry.leads(twinId)) return registry.submit({ op: "setDesired", id: twinId, values: body, options }).then(() => registry.get(twinId));
    registry.setDesired(req.params.twinId, body, options);
    const answer = registry.get(req.params.twinId);
    // Answer only once the change is as durable as the registry's mode promises (strict: fsynced).
    return new Promise((resolve, reject) => registry.whenDurable((err) => (err ? reject(err) : resolve(answer))));
  }));

  registerMigrateRoute(RED, resolve);

  // A path whose percent-encoding does not decode (`%E0%A4%A`) fails in Express before the route
  // runs: without this it answers an HTML page holding its stack trace. (A body that is not JSON
  // fails earlier still, in the editor's own body parser, before anything here is reached: that
  // answer is Node-RED's, as for its own routes.)
  RED.httpAdmin.use(["/twins", "/twin-models", "/twin-registry"], (err, _req, res, next) => {
    if (err instanceof URIError) return void res.status(400).json({ error: RED._("twin-admin-api.errors.bad-path", { reason: String(err.message).slice(0, 200) }), code: "invalid-query" });
    next(err);
  });
}

function isJson(req: Request): boolean {
  const type = req.headers?.["content-type"];
  return typeof type === "string" && /^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type.trim());
}

/**
 * One page of summaries. Sorted by id ascending with no search, the registry pages by itself;
 * otherwise the matching summaries are searched and sorted here (about 10 ms for 10,000 twins).
 */
function page(registry: TwinRegistry, query: PageQuery): { total: number; twins: TwinSummary[] } {
  let result: { total: number; twins: TwinSummary[] };
  if (query.q === undefined && (query.sort === undefined || query.sort === "id") && !query.desc) {
    result = registry.list(query);
  } else {
    let all = registry.list({ model: query.model, stage: query.stage, online: query.online }).twins;
    if (query.q !== undefined) {
      const needle = query.q.toLowerCase();
      all = all.filter((t) => t.id.toLowerCase().includes(needle));
    }
    const key = query.sort ?? "id";
    const sign = query.desc ? -1 : 1;
    all.sort((a, b) => compare(a[key], b[key], sign) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const offset = query.offset ?? 0;
    result = { total: all.length, twins: all.slice(offset, offset + (query.limit ?? all.length)) };
  }
  if (query.reported) {
    const n = query.reported;
    result.twins = result.twins.map((t) => liveSummary(registry, t.id, n) ?? t);
  }
  return result;
}

/** `sign` 1 ascending, -1 descending; null (no model, never seen) last either way; false before true. */
function compare(a: unknown, b: unknown, sign: number): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return sign * (a - b);
  if (typeof a === "boolean" && typeof b === "boolean") return sign * (a ? 1 : -1);
  const x = String(a);
  const y = String(b);
  return sign * (x < y ? -1 : x > y ? 1 : 0);
}

function listQuery(RED: RED, q: Record<string, unknown>): PageQuery {
  const out: PageQuery = {};
  if (typeof q.model === "string" && q.model) out.model = q.model;
  if (typeof q.stage === "string" && q.stage) out.stage = q.stage;
  if (q.online !== undefined) {
    if (q.online !== "true" && q.online !== "false") throw badQuery(RED, "online", q.online, "true or false");
    out.online = q.online === "true";
  }
  if (q.limit !== undefined) out.limit = whole(RED, "limit", q.limit);
  if (q.offset !== undefined) out.offset = whole(RED, "offset", q.offset);
  if (typeof q.q === "string" && q.q) out.q = q.q.slice(0, 128);
  if (q.sort !== undefined) {
    if (!SORT_KEYS.includes(q.sort as SortKey)) throw badQuery(RED, "sort", q.sort, SORT_KEYS.join(", "));
    out.sort = q.sort as SortKey;
  }
  if (q.order !== undefined) {
    if (q.order !== "asc" && q.order !== "desc") throw badQuery(RED, "order", q.order, "asc or desc");
    out.desc = q.order === "desc";
  }
  if (q.reported !== undefined) out.reported = Math.min(MAX_PREVIEW, whole(RED, "reported", q.reported));
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
  return new HttpError(400, "invalid-query", RED._("twin-admin-api.errors.query", { name, value: String(value).slice(0, 40), expected }));
}
