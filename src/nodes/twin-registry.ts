/**
 * `twin-registry` config node: one twin store. Builds the core registry from its settings,
 * restores it from disk, shows its health on every node that uses it, and flushes on close.
 */
import * as path from "path";
import { TwinRegistry, DEFAULTS } from "../core/registry";
import { TwinError, isTwinError } from "../core/errors";
import { parseModels, ModelSet } from "../core/models";
import { FileStore } from "../core/store/file-store";
import { MemoryStore } from "../core/store/memory-store";
import { Store } from "../core/store/store";
import { Node, NodeDef, NodeStatus, RED } from "../runtime/red";
import { RegistryNode } from "../runtime/registry-node";
import { DEFAULT_EXPRESSION_LIMITS, EXPRESSION_LIMIT_RANGE, ExpressionLimits } from "../runtime/jsonata";
import { attachLiveFeed } from "../runtime/live-feed";

interface RegistryConfig extends NodeDef {
  models?: string;
  persistence?: string;
  historyLength?: string | number;
  staleness?: string | number;
  maxDocumentKb?: string | number;
  /** "Live updates in the Twins sidebar" (missing: on). */
  liveFeed?: boolean;
  /** Time and depth limits of every JSONata expression run by this registry's nodes (blank: defaults). */
  expressionTimeout?: string | number;
  expressionDepth?: string | number;
}

const MODES = new Set(["strict", "batched", "memory"]);

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
    let statusTimer: NodeJS.Timeout | null = null;

    node.describe = (err: unknown): Error => {
      if (!isTwinError(err)) return err instanceof Error ? err : new Error(textOf(err));
      const out = new Error(RED._(`twin-registry.errors.${err.code}`, err.params)) as Error & { code?: string; params?: object };
      out.code = err.code;
      out.params = err.params;
      return out;
    };

    node.use = (): TwinRegistry => {
      if (!registry) throw new TwinError("store-unavailable", { reason: failure ?? "not open" });
      return registry;
    };

    function status(): NodeStatus {
      if (!registry) return { fill: "red", shape: "ring", text: RED._("twin-registry.status.failed") };
      const health = registry.health();
      if (!health.ok) return { fill: "red", shape: "ring", text: RED._("twin-registry.status.store-error") };
      return { fill: "green", shape: "dot", text: RED._(registry.size === 1 ? "twin-registry.status.one" : "twin-registry.status.count", { count: registry.size }) };
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
      const models: ModelSet = parseModels(config.models || "");
      const mode = MODES.has(String(config.persistence)) ? String(config.persistence) : "batched";
      let store: Store;
      if (mode === "memory") store = new MemoryStore();
      else {
        if (!RED.settings.userDir) throw new Error(RED._("twin-registry.errors.no-user-dir"));
        store = new FileStore({ dir: storeDir(RED, RED.settings.userDir, node.id), mode: mode as "strict" | "batched" });
      }
      const candidate = new TwinRegistry({
        models,
        store,
        historyLength: count(config.historyLength, DEFAULTS.historyLength),
        stalenessMs: count(config.staleness, 0) * 1000,
        maxDocumentBytes: count(config.maxDocumentKb, DEFAULTS.maxDocumentBytes / 1024) * 1024,
      });
      for (const warning of candidate.open()) node.warn(RED._("twin-registry.warn.recovery", { detail: warning }));
      registry = candidate;
      node.on("close", attachLiveFeed(RED, node, registry, config.liveFeed));
      registry.subscribe((event) => {
        if (event.section === "twin") scheduleStatus();
      });
      registry.onListenerError((err) => node.error(node.describe(err)));
      registry.store.onHealth((health) => {
        if (!health.ok) {
          node.error(RED._("twin-registry.errors.store-unavailable", { reason: health.error ?? "" }));
          if (health.unwritten && candidate.store.mode === "batched") node.error(RED._("twin-registry.errors.store-unwritten", { count: health.unwritten }));
        } else node.log(RED._("twin-registry.log.store-recovered"));
        showStatus();
      });
    } catch (err) {
      const e = node.describe(err);
      failure = isTwinError(err) ? e.message : (err as NodeJS.ErrnoException).code ?? e.message;
      node.error(RED._("twin-registry.errors.open-failed", { reason: e.message }));
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      if (statusTimer) clearTimeout(statusTimer);
      users.clear();
      if (!registry) return done();
      registry.close().then(done, (err: unknown) => {
        node.error(RED._("twin-registry.errors.close-failed", { reason: node.describe(err).message }));
        done();
      });
    });
  }

  RED.nodes.registerType("twin-registry", TwinRegistryNode);
};

/**
 * The registry's own directory under the user directory, named by its node id. An imported flow
 * can carry any id: one that is not a plain file name (separators, "..", control characters)
 * is refused instead of putting the store somewhere else.
 */
function storeDir(RED: RED, userDir: string, id: string): string {
  const base = path.resolve(userDir, "twinwire");
  const dir = path.resolve(base, id);
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/.test(id) || id.includes("..") || path.dirname(dir) !== base) {
    throw new Error(RED._("twin-registry.errors.bad-store-id", { id: JSON.stringify(id.slice(0, 60)) }));
  }
  return dir;
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

/** A non-negative whole number from an editor field, or the default when blank or invalid. */
function count(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
}
