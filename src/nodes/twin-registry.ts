/**
 * `twin-registry` config node: one twin store. Builds the core registry from its settings,
 * restores it from disk (or, shared between instances, from Redis through a `twin-redis` node),
 * shows its health on every node that uses it, and flushes on close.
 */
import * as fs from "fs";
import * as path from "path";
import { TwinRegistry, DEFAULTS, RegistryOptions } from "../core/registry";
import { TwinError, isTwinError, showNames } from "../core/errors";
import { loadModels, missingLinks, ModelProblem, ModelSet, ModelSource, unknownUnits } from "../core/models";
import { FileStore, holdsStoreFiles } from "../core/store/file-store";
import { MemoryStore } from "../core/store/memory-store";
import { RedisStore } from "../core/store/redis-store";
import { Store } from "../core/store/store";
import { Node, NodeDef, NodeStatus, RED } from "../runtime/red";
import { RegistryNode, storeDir } from "../runtime/registry-node";
import { RedisNode, findRedis, instanceName, usableRedisName } from "../runtime/redis-node";
import { DEFAULT_EXPRESSION_LIMITS, EXPRESSION_LIMIT_RANGE, ExpressionLimits } from "../runtime/jsonata";
import { attachLiveFeed } from "../runtime/live-feed";
import { atMostEvery } from "../runtime/rate-limit";

interface RegistryConfig extends NodeDef {
  models?: string;
  /** A folder of model files, relative to Node-RED's user directory (blank: none). */
  modelsFolder?: string;
  persistence?: string;
  historyLength?: string | number;
  staleness?: string | number;
  maxDocumentKb?: string | number;
  /** "Live updates in the Twins sidebar" (missing: on). */
  liveFeed?: boolean;
  /** Time and depth limits of every JSONata expression run by this registry's nodes (blank: defaults). */
  expressionTimeout?: string | number;
  expressionDepth?: string | number;
  /** persistence "redis": the id of a `twin-redis` config node. */
  redis?: string;
  /** persistence "redis": "strict" or "batched" (default), the RedisStore's mode. */
  redisDurability?: string;
  /** persistence "redis": the registry's name in Redis (blank: this node's id). */
  redisName?: string;
}

const MODES = new Set(["strict", "batched", "memory", "redis"]);
/** After a Redis registry failed to open (Redis not reachable yet), the next try. */
const REDIS_RETRY_MS = 5000;
/** Readings skipped behind a stored reading from the future: said at most this often. */
const AHEAD_WARN_MS = 60000;

export = function (RED: RED) {
  function TwinRegistryNode(this: RegistryNode, config: RegistryConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.name = config.name;
    (node as { expressionLimits: ExpressionLimits }).expressionLimits = {
      timeMs: within(config.expressionTimeout, EXPRESSION_LIMIT_RANGE.timeMs, DEFAULT_EXPRESSION_LIMITS.timeMs),
      depth: within(config.expressionDepth, EXPRESSION_LIMIT_RANGE.depth, DEFAULT_EXPRESSION_LIMITS.depth),
    };
    const users = new Set<Node>();
    let registry: TwinRegistry | null = null;
    let failure: string | null = null;
    /** Model files of the folder that were left out: shown on every node that uses this registry. */
    let modelProblems: ModelProblem[] = [];
    let statusTimer: NodeJS.Timeout | null = null;
    /** A Redis registry between deploy and its first successful open (or its failure to configure). */
    let opening = false;
    /** A Redis registry whose last try to open failed; tried again every REDIS_RETRY_MS. */
    let retrying = false;
    let closed = false;
    const whenOpen: Array<() => void> = [];
    let redisNode: RedisNode | null = null;
    /** The registry being opened (a Redis one opens over the network). */
    let pending: TwinRegistry | null = null;
    let retryTimer: NodeJS.Timeout | null = null;
    let lastFailure = "";

    node.describe = (err: unknown): Error => {
      if (!isTwinError(err)) return err instanceof Error ? err : new Error(textOf(err));
      // A property missing from an incomplete model is worded with the link that may hold it.
      let key: string = err.code === "not-in-model" && err.params.missing !== undefined ? "not-in-model-incomplete" : err.code;
      // A device's message over twin-link's size limit: the message is too large, not the twin.
      if (err.code === "too-large" && err.params.bytes !== undefined) key = "payload-too-large";
      const out = new Error(RED._(`twin-registry.errors.${key}`, err.params)) as Error & { code?: string; params?: object };
      out.code = err.code;
      out.params = err.params;
      return out;
    };

    node.use = (): TwinRegistry => {
      if (!registry) throw new TwinError("store-unavailable", { reason: failure ?? RED._(opening ? "twin-registry.errors.not-open-yet" : "twin-registry.errors.not-open") });
      return registry;
    };

    /**
     * Deploy-time users (followers, watches, links) wait here for a registry that opens over the
     * network; called at once when it is open or failed for good.
     */
    node.whenOpen = (callback: () => void) => {
      if (opening && !closed) whenOpen.push(callback);
      else callback();
    };

    function settled(): void {
      opening = false;
      // Outside Node-RED's guard around a node's constructor: a start that throws would end the
      // process (an unhandled rejection) and leave the nodes after it unstarted.
      for (const callback of whenOpen.splice(0)) {
        try {
          callback();
        } catch (err) {
          node.error(RED._("twin-registry.errors.start-failed", { reason: node.describe(err).message }));
        }
      }
    }

    function status(): NodeStatus {
      if (!registry) {
        if (retrying) return { fill: "red", shape: "ring", text: RED._(redisNode ? "twin-registry.status.redis-retrying" : "twin-registry.status.in-use") };
        if (opening) return { fill: "yellow", shape: "ring", text: RED._("twin-registry.status.connecting") };
        return { fill: "red", shape: "ring", text: RED._("twin-registry.status.failed") };
      }
      const health = registry.health();
      if (!health.ok) {
        // On Redis, the reason (connection lost) says more than "store error" and is short.
        if (registry.store instanceof RedisStore) return { fill: "red", shape: "ring", text: shorten(RED._("twin-registry.status.redis-error", { error: health.error ?? "" })) };
        return { fill: "red", shape: "ring", text: RED._("twin-registry.status.store-error") };
      }
      const twins = RED._(registry.size === 1 ? "twin-registry.status.one" : "twin-registry.status.count", { count: registry.size });
      if (modelProblems.length > 0) {
        return { fill: "yellow", shape: "dot", text: RED._("twin-registry.status.models-left-out", { twins, count: modelProblems.length }) };
      }
      return { fill: "green", shape: "dot", text: twins };
    }

    function showStatus(): void {
      statusTimer = null;
      const s = status();
      for (const user of users) user.status(s);
    }

    /** Twin counts change in bursts: show them at most twice a second. */
    function scheduleStatus(): void {
      if (!statusTimer) statusTimer = setTimeout(showStatus, 500);
    }

    node.addUser = (user: Node) => {
      users.add(user);
      user.status(status());
    };
    node.removeUser = (user: Node) => {
      users.delete(user);
    };

    try {
      const sources: ModelSource[] = [{ input: config.models || "" }];
      const unread: ModelProblem[] = [];
      if (config.modelsFolder && String(config.modelsFolder).trim()) {
        if (!RED.settings.userDir) throw new Error(RED._("twin-registry.errors.no-user-dir-models"));
        const folder = modelsFolder(RED, RED.settings.userDir, String(config.modelsFolder).trim());
        readModelFiles(folder, sources, unread);
      }
      const loaded = loadModels(sources);
      const models = loaded.models;
      modelProblems = [...unread, ...loaded.problems];
      for (const { file, error } of modelProblems.slice(0, MAX_FILE_ERRORS)) {
        // A problem of the file as a whole (not JSON, unreadable) names no model of its own.
        const reason = error.params.model === file ? String(error.params.reason) : node.describe(error).message;
        node.error(RED._("twin-registry.errors.model-file", { file, reason }));
      }
      if (modelProblems.length > MAX_FILE_ERRORS) {
        node.error(RED._("twin-registry.errors.model-files-more", { count: modelProblems.length - MAX_FILE_ERRORS }));
      }
      warnUnknownUnits(RED, node, models);
      warnIncompleteModels(RED, node, models);
      const mode = MODES.has(String(config.persistence)) ? String(config.persistence) : "batched";
      const options: RegistryOptions = {
        models,
        historyLength: count(config.historyLength, DEFAULTS.historyLength),
        stalenessMs: count(config.staleness, 0) * 1000,
        maxDocumentBytes: count(config.maxDocumentKb, DEFAULTS.maxDocumentBytes / 1024) * 1024,
      };
      if (mode === "redis") openShared(options);
      else {
        if (mode === "memory") {
          // Switched from strict or batched: the twins on disk stay there, unread, until switched back.
          const dir = storedBefore();
          if (dir) node.warn(RED._("twin-registry.warn.memory-leaves-disk", { dir }));
          openLocal(options, new MemoryStore());
        } else {
          if (!RED.settings.userDir) throw new Error(RED._("twin-registry.errors.no-user-dir"));
          const fileMode = mode as "strict" | "batched";
          const dir = storeDir(RED, RED.settings.userDir, node.id);
          const open = () => openLocal(options, new FileStore({ dir, mode: fileMode }));
          const held = open();
          if (held) {
            // Another Node-RED writes this directory: try again until it lets go (it is stopped).
            opening = true;
            retryLocal(held, open);
          }
        }
      }
    } catch (err) {
      const e = node.describe(err);
      // A store's own reason (its directory held by another process) is not wrapped twice when
      // the nodes using the registry refuse messages as "twin store unavailable: <reason>".
      if (isTwinError(err)) failure = err.code === "store-unavailable" && err.params.reason !== undefined ? String(err.params.reason) : e.message;
      else failure = (err as NodeJS.ErrnoException).code ?? e.message;
      node.error(RED._("twin-registry.errors.open-failed", { reason: e.message }));
      settled();
    }

    /**
     * The store directory a file mode left twins in, or null. A memory registry needs no directory,
     * so an id that could not name one (an imported flow's) is no error here: nothing was stored.
     */
    function storedBefore(): string | null {
      if (!RED.settings.userDir) return null;
      try {
        const dir = storeDir(RED, RED.settings.userDir, node.id);
        return holdsStoreFiles(dir) ? dir : null;
      } catch {
        return null;
      }
    }

    function heldElsewhere(err: unknown): err is TwinError {
      return isTwinError(err) && err.code === "store-unavailable" && err.params.holder !== undefined;
    }

    /**
     * Opens a registry on `store` and serves it: null. When another process holds the store's
     * directory, the error saying so (nothing started); any other error is thrown.
     */
    function openLocal(options: RegistryOptions, store: Store): TwinError | null {
      const candidate = new TwinRegistry({ ...options, store });
      let warnings: string[];
      try {
        warnings = candidate.open();
      } catch (err) {
        if (heldElsewhere(err)) return err;
        throw err;
      }
      for (const warning of warnings) node.warn(RED._("twin-registry.warn.recovery", { detail: warning }));
      started(candidate);
      return null;
    }

    /**
     * The store directory is held by another process (dir-lock.ts): said once, then tried again
     * every REDIS_RETRY_MS, so that this registry opens once the other Node-RED is stopped instead
     * of staying failed until a deploy. Its users wait as for a registry opening on Redis.
     */
    function retryLocal(held: TwinError, open: () => TwinError | null): void {
      const reason = String(held.params.reason);
      if (reason !== lastFailure) node.error(RED._("twin-registry.errors.in-use-retrying", { reason, seconds: REDIS_RETRY_MS / 1000 }));
      lastFailure = reason;
      failure = reason;
      retrying = true;
      showStatus();
      retryTimer = setTimeout(() => {
        retryTimer = null;
        if (closed) return;
        try {
          const still = open();
          if (still) return retryLocal(still, open);
        } catch (next) {
          const e = node.describe(next);
          failure = e.message;
          retrying = false;
          node.error(RED._("twin-registry.errors.open-failed", { reason: e.message }));
          settled();
          showStatus();
          return;
        }
        retrying = false;
        failure = null;
        node.log(RED._("twin-registry.log.open-after-in-use"));
        settled();
        showStatus();
      }, REDIS_RETRY_MS);
    }

    /** The registry is open: it serves its users from now on. */
    function started(candidate: TwinRegistry): void {
      registry = candidate;
      node.on("close", attachLiveFeed(RED, node, candidate, config.liveFeed));
      candidate.subscribe((event) => {
        if (event.section === "twin") scheduleStatus();
      });
      candidate.onListenerError((err) => node.error(node.describe(err)));
      // Once a minute at most: a clock gone back skips every reading of every twin it timed.
      candidate.onStoredAhead(
        atMostEvery(AHEAD_WARN_MS, (count, now, twinId: string, properties: string[], storedTs: number) =>
          node.warn(RED._("twin-registry.warn.stored-ahead", { twinId, properties: properties.join(", "), stored: new Date(storedTs).toISOString(), now: new Date(now).toISOString(), count })),
        ),
      );
      // A shared store's trouble with what other instances wrote (an entry it could not apply,
      // read again from Redis) is the user's to know, not only the store's.
      candidate.store.onWarning?.((message) => node.warn(RED._("twin-registry.warn.redis", { detail: message })));
      candidate.store.onHealth((health) => {
        if (!health.ok) {
          node.error(RED._("twin-registry.errors.store-unavailable", { reason: health.error ?? "" }));
          if (health.unwritten && candidate.store.mode === "batched") node.error(RED._("twin-registry.errors.store-unwritten", { count: health.unwritten }));
        } else node.log(RED._("twin-registry.log.store-recovered"));
        showStatus();
      });
    }

    // ---- persistence "redis": a registry shared with other instances (docs/redis.md) ----------

    function openShared(options: RegistryOptions): void {
      redisNode = findRedis(RED, config.redis);
      if (!redisNode) throw new Error(RED._("twin-registry.errors.no-redis"));
      const redisName = redisNode.name || redisNode.id;
      if (redisNode.problem) throw new Error(RED._("twin-registry.errors.redis-settings", { redis: redisName, reason: node.describe(redisNode.problem).message }));
      // The same flow imported on every instance has the same node id: they share one registry.
      const name = String(config.redisName ?? "").trim() || node.id;
      if (!usableRedisName(name)) throw new Error(RED._("twin-registry.errors.redis-name", { name: JSON.stringify(name.slice(0, 60)) }));
      const durability = config.redisDurability === "strict" ? "strict" : "batched";
      opening = true;
      const attempt = (): void => {
        retryTimer = null;
        if (closed || !redisNode) return;
        const instance = instanceName(RED.settings as { userDir?: unknown; uiPort?: unknown }, node.id);
        const store = new RedisStore({ redis: redisNode.acquire(), registry: name, prefix: redisNode.prefix, mode: durability, instance, ...leaseTiming() });
        const candidate = new TwinRegistry({ ...options, store });
        pending = candidate;
        showStatus();
        candidate.openAsync().then(
          (warnings) => {
            if (closed) return;
            pending = null;
            retrying = false;
            failure = null;
            if (lastFailure) node.log(RED._("twin-registry.log.redis-open"));
            // Which Node-RED holds what in Redis (lease holders are `name#incarnation`).
            node.log(RED._("twin-registry.log.redis-instance", { instance: store.instance }));
            for (const warning of warnings) node.warn(RED._("twin-registry.warn.redis", { detail: warning }));
            started(candidate);
            settled();
            showStatus();
          },
          (err: unknown) => {
            if (closed) return;
            pending = null;
            // The reason as the store gave it ("connect ECONNREFUSED ..."), not wrapped twice.
            const reason = isTwinError(err) && err.code === "store-unavailable" && err.params.reason !== undefined ? String(err.params.reason) : node.describe(err).message;
            failure = RED._("twin-registry.errors.redis-retrying", { reason, seconds: REDIS_RETRY_MS / 1000 });
            // Once per reason: Redis down for an hour is one error, not one every 5 s.
            if (reason !== lastFailure) node.error(RED._("twin-registry.errors.redis-open-failed", { reason, seconds: REDIS_RETRY_MS / 1000 }));
            lastFailure = reason;
            retrying = true;
            showStatus();
            candidate.close().catch(() => undefined).then(() => {
              redisNode?.release();
              if (!closed) retryTimer = setTimeout(attempt, REDIS_RETRY_MS);
            });
          },
        );
      };
      attempt();
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      closed = true;
      if (statusTimer) clearTimeout(statusTimer);
      if (retryTimer) clearTimeout(retryTimer);
      users.clear();
      whenOpen.length = 0;
      const open = registry ?? pending;
      // The store closes before the twin-redis node lets its client go.
      const finish = () => {
        if (open && redisNode) redisNode.release();
        done();
      };
      if (!open) return finish();
      open.close().then(finish, (err: unknown) => {
        node.error(RED._("twin-registry.errors.close-failed", { reason: node.describe(err).message }));
        finish();
      });
    });
  }

  RED.nodes.registerType("twin-registry", TwinRegistryNode);
};

/** Files of a models folder read at most: a folder this big is more likely a mistake. */
const MAX_MODEL_FILES = 50000;
/** A model file larger than this is left out (the RealEstateCore ontology's largest is 100 KB). */
const MAX_MODEL_FILE_BYTES = 8 * 1024 * 1024;
/** Folders below the models folder followed this deep at most. */
const MAX_MODEL_FOLDER_DEPTH = 16;
/** Files left out that get a log line each; the rest are counted in one more. */
const MAX_FILE_ERRORS = 20;

/**
 * The models folder as an absolute path: relative to the user directory, and inside it even once
 * symbolic links are followed, so a flow cannot make a registry read files elsewhere.
 */
function modelsFolder(RED: RED, userDir: string, folder: string): string {
  const base = path.resolve(userDir);
  const dir = path.resolve(base, folder);
  const inside = (root: string, p: string) => {
    const rel = path.relative(root, p);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  };
  // The user directory itself holds flows.json, package.json and node_modules: not models.
  if (path.isAbsolute(folder) || !inside(base, dir) || dir === base) {
    throw new Error(RED._("twin-registry.errors.models-folder-outside", { folder: JSON.stringify(folder.slice(0, 200)) }));
  }
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch (err) {
    throw new Error(RED._("twin-registry.errors.models-folder-missing", { folder: JSON.stringify(folder.slice(0, 200)), reason: (err as NodeJS.ErrnoException).code ?? String(err) }));
  }
  const realBase = fs.realpathSync(base);
  if (!inside(realBase, real) || real === realBase) {
    throw new Error(RED._("twin-registry.errors.models-folder-outside", { folder: JSON.stringify(folder.slice(0, 200)) }));
  }
  if (!fs.statSync(real).isDirectory()) {
    throw new Error(RED._("twin-registry.errors.models-folder-missing", { folder: JSON.stringify(folder.slice(0, 200)), reason: "ENOTDIR" }));
  }
  return real;
}

/**
 * Every .json and .jsonld file in the folder and below, as model sources named by their path
 * inside it ("dtmi/com/example/thermostat-1.json"), in name order so a deploy reads them the same
 * way each time. Hidden entries, node_modules and symbolic links are passed over (a link could
 * lead out of the folder); a file that cannot be read, or is too large, is a problem of its own, so the others load.
 */
function readModelFiles(root: string, sources: ModelSource[], problems: ModelProblem[]): void {
  let count = 0;
  const walk = (rel: string, depth: number): void => {
    if (depth > MAX_MODEL_FOLDER_DEPTH) return;
    const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.name === "node_modules" || count >= MAX_MODEL_FILES) continue;
      const file = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(file, depth + 1);
      else if (entry.isFile() && /\.json(ld)?$/i.test(entry.name)) {
        count++;
        const unreadable = (reason: string) => problems.push({ file, error: new TwinError("model-invalid", { model: file, reason }) });
        try {
          const size = fs.statSync(path.join(root, file)).size;
          if (size > MAX_MODEL_FILE_BYTES) unreadable(`the file is larger than ${MAX_MODEL_FILE_BYTES / 1024 / 1024} MB`);
          else sources.push({ file, input: fs.readFileSync(path.join(root, file), "utf8") });
        } catch (err) {
          unreadable(`the file could not be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
      }
    }
  };
  walk("", 0);
}

/** Once per model property whose unit the unit table does not know, when the models load. */
const MAX_UNIT_WARNINGS = 20;

function warnUnknownUnits(RED: RED, node: Node, models: ModelSet): void {
  const all = [...models.values()].flatMap((model) => unknownUnits(model).map((u) => ({ model: model.name, ...u })));
  for (const u of all.slice(0, MAX_UNIT_WARNINGS)) node.warn(RED._("twin-registry.warn.unknown-unit", u));
  if (all.length > MAX_UNIT_WARNINGS) node.warn(RED._("twin-registry.warn.unknown-units-more", { count: all.length - MAX_UNIT_WARNINGS }));
}

/**
 * Once per Thing Model loaded incomplete (links to models the registry was not given), naming
 * each missing link, the properties left out for it, and the file names that would supply them.
 */
function warnIncompleteModels(RED: RED, node: Node, models: ModelSet): void {
  const incomplete = [...models.values()].filter((model) => model.unresolved);
  for (const model of incomplete.slice(0, MAX_UNIT_WARNINGS)) {
    const missing = missingLinks(model);
    const links = missing.slice(0, 10).map((m) => `${m.link} ${JSON.stringify(m.href)}${m.properties.length ? ` (${RED._("twin-registry.warn.left-out", { properties: showNames(m.properties, 10) })})` : ""}`);
    node.warn(RED._("twin-registry.warn.incomplete-model", {
      model: model.name,
      links: links.join("; ") + (missing.length > 10 ? "; …" : ""),
      files: showNames([...new Set(missing.map((m) => m.file))], 10),
    }));
  }
  if (incomplete.length > MAX_UNIT_WARNINGS) node.warn(RED._("twin-registry.warn.incomplete-models-more", { count: incomplete.length - MAX_UNIT_WARNINGS }));
}

/** A whole number within range from an editor field, or the default when blank or invalid. */
function within(value: unknown, range: readonly [number, number], fallback: number): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = Number(value);
  return Number.isInteger(n) && n >= range[0] && n <= range[1] ? n : fallback;
}

/** Something thrown that is not an Error (a JSONata error is a plain {code, message, ...}), in words. */
function textOf(err: unknown): string {
  if (err && typeof err === "object") {
    const { message, code } = err as { message?: unknown; code?: unknown };
    if (typeof message === "string" && message) return typeof code === "string" && code ? `${message} (${code})` : message;
    try {
      return JSON.stringify(err).slice(0, 200);
    } catch {
      return Object.prototype.toString.call(err);
    }
  }
  return String(err);
}

/**
 * Lease timing of a Redis registry. For tests only: TWINWIRE_REDIS_LEASE_MS shortens the lease
 * (renewed every third of it) so a multi-process test sees another instance take over in a few
 * seconds instead of the default 10 s lease. Not for production: a lease shorter than a long
 * garbage-collection pause or a slow Redis reply makes partitions change hands for nothing.
 */
function leaseTiming(): { leaseMs?: number; renewMs?: number } {
  const leaseMs = Number(process.env.TWINWIRE_REDIS_LEASE_MS);
  if (!Number.isInteger(leaseMs) || leaseMs < 300) return {};
  return { leaseMs, renewMs: Math.floor(leaseMs / 3) };
}

/** Node-RED shows a status in the space of a few words. */
function shorten(text: string): string {
  return text.length > 40 ? text.slice(0, 39) + "…" : text;
}

/** A non-negative whole number from an editor field, or the default when blank or invalid. */
function count(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
}
