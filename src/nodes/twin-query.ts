/**
 * `twin-query` node: selects twins (ids, models, stage, online, attribute conditions and an
 * optional JSONata expression per twin document), sorts and limits them, and sends a list, one
 * message per twin, the first, or fleet figures over a reported property; with a time `at`, the
 * reported state as of then. The query itself lives in core/query.ts; this file reads the
 * settings and the message, runs the JSONata expression, and sends.
 */
import { isTwinError } from "../core/errors";
import { TwinRegistry } from "../core/registry";
import { Twin, toDocument, toSummary } from "../core/twin";
import { Query, QueryInput, QUERY_KEYS, aggregatePayload, arrange, compileQuery, select, stateAt, truthy } from "../core/query";
import { Node, NodeDef, NodeMessage, RED, Send, Done } from "../runtime/red";
import { findRegistry, failWith, onInput } from "../runtime/registry-node";
import { Expression, ExpressionError, prepareExpression } from "../runtime/jsonata";

interface QueryConfig extends NodeDef {
  registry?: string;
  twinIds?: string;
  models?: string;
  stage?: string;
  online?: string;
  where?: unknown;
  expression?: string;
  maxTwins?: string | number;
  sort?: string;
  order?: string;
  limit?: string | number;
  output?: string;
  detail?: string;
  property?: string;
  aggregate?: string;
  groupBy?: string;
  at?: string;
}

/** cloneMessage is part of RED.util in every Node-RED this package supports (3.1 and later). */
type QueryRED = RED & { util: RED["util"] & { cloneMessage<T>(msg: T): T } };

const OUTPUTS = new Set(["list", "each", "first", "aggregate"]);
const DEFAULT_MAX_TWINS = 10000;
const MAX_MAX_TWINS = 1000000;
/** JSONata evaluations between two turns of the event loop. */
const BATCH = 100;
const STATUS_MAX = 19;

class QueryFailure extends Error {}

export = function (RED: QueryRED) {
  function TwinQueryNode(this: Node, config: QueryConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>): string => RED._(`twin-query.${key}`, params);
    const registryNode = findRegistry(RED, config.registry);
    const output = OUTPUTS.has(String(config.output)) ? String(config.output) : "list";
    const summaries = config.detail === "summary";
    const base: QueryInput = {
      twinIds: config.twinIds,
      models: config.models,
      stage: config.stage,
      online: config.online,
      where: config.where,
      sort: config.sort,
      order: config.order,
      limit: config.limit,
      property: config.property,
      aggregate: config.aggregate,
      groupBy: config.groupBy,
      at: config.at,
    };
    let closed = false;
    let seq = 0;

    /** A core error in words from this node's catalog (or the registry's); others pass through. */
    function describe(err: unknown): Error {
      if (isTwinError(err) && err.code === "invalid-query") {
        const params = { ...err.params, names: "__proto__, constructor, prototype" };
        const out = new Error(t(`errors.${String(err.params.option)}`, params)) as Error & { code?: string; params?: object };
        out.code = err.code;
        out.params = err.params;
        return out;
      }
      if (registryNode) return registryNode.describe(err);
      return err instanceof Error ? err : new Error(String(err));
    }

    // ---- settings, checked at deploy: a bad one is a red status and fails every message --------
    let problem: Error | null = null;
    let maxTwins = DEFAULT_MAX_TWINS;
    let expression: Expression | null = null;
    try {
      maxTwins = maxTwinsOf(config.maxTwins);
      compileQuery(base, Date.now());
    } catch (err) {
      problem = describe(err);
    }
    const text = typeof config.expression === "string" ? config.expression.trim() : "";
    if (!problem && text) {
      try {
        expression = prepareExpression(RED, node, registryNode, text);
      } catch (err) {
        problem = new Error(t("errors.expression", { message: err instanceof ExpressionError ? String(err.params.reason) : messageOf(err) }));
      }
    }
    if (!registryNode) node.status({ fill: "red", shape: "ring", text: t("status.no-registry") });
    else if (problem) {
      node.status({ fill: "red", shape: "ring", text: t("status.bad-query") });
      node.error(problem);
    }

    function maxTwinsOf(value: unknown): number {
      if (value === undefined || value === null || value === "") return DEFAULT_MAX_TWINS;
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > MAX_MAX_TWINS) throw new QueryFailure(t("errors.maxTwins", { value: String(value).slice(0, 40) }));
      return n;
    }

    /** The node's settings with what msg.payload (and msg.at) say instead. */
    function inputOf(msg: NodeMessage): QueryInput {
      const input: QueryInput = { ...base };
      if (msg.at !== undefined) input.at = msg.at;
      const payload = msg.payload;
      if (payload && typeof payload === "object" && !Array.isArray(payload) && !Buffer.isBuffer(payload)) {
        const p = payload as Record<string, unknown>;
        if (Object.prototype.hasOwnProperty.call(p, "model") && p.model !== undefined) input.models = p.model;
        for (const key of QUERY_KEYS) {
          if (Object.prototype.hasOwnProperty.call(p, key) && p[key] !== undefined) input[key] = p[key];
        }
      }
      return input;
    }

    /** Keeps the twins the expression selects; evaluated on each twin's document, one after the other. */
    async function byExpression(registry: TwinRegistry, twins: Twin[], expression: Expression): Promise<Twin[]> {
      if (twins.length > maxTwins) throw new QueryFailure(t("errors.too-many", { count: twins.length, max: maxTwins }));
      const kept: Twin[] = [];
      for (let i = 0; i < twins.length; i++) {
        if (closed) return [];
        if (i > 0 && i % BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
        const twin = twins[i];
        if (registry.twin(twin.id) !== twin) continue; // deleted (or replaced) meanwhile
        const document = toDocument(twin, registry.modelOf(twin));
        const result = await expression.evaluate(document).catch((err: unknown) => {
          const failure = new QueryFailure(t("errors.evaluation", { twinId: twin.id, message: messageOf(err) })) as QueryFailure & { code?: string };
          if (err instanceof ExpressionError) failure.code = err.code; // which limit, for a Catch node's msg.error.code
          throw failure;
        });
        if (truthy(result)) kept.push(twin);
      }
      // Twins deleted while the expression ran are not answered for.
      return kept.filter((twin) => registry.twin(twin.id) === twin);
    }

    function itemOf(registry: TwinRegistry, twin: Twin, q: Query): unknown {
      if (q.at !== null) return stateAt(twin, q.at);
      const model = registry.modelOf(twin);
      return summaries ? toSummary(twin, model) : toDocument(twin, model);
    }

    function showCount(count: number): void {
      const label = count === 1 ? t("status.one") : t("status.count", { count });
      node.status({ fill: "green", shape: "dot", text: label.length > STATUS_MAX ? label.slice(0, STATUS_MAX - 1) + "…" : label });
    }

    async function run(msg: NodeMessage, registry: TwinRegistry, send: Send): Promise<void> {
      const q = compileQuery(inputOf(msg), Date.now());
      let selected = select(registry, q);
      if (expression !== null) selected = await byExpression(registry, selected, expression);
      if (closed) return;
      const { total, twins } = arrange(selected, q);
      if (output === "aggregate") {
        msg.payload = aggregatePayload(twins, q);
        msg.total = total;
        send(msg);
        return showCount(twins.length);
      }
      if (output === "first") {
        const twin = twins[0];
        msg.payload = twin ? itemOf(registry, twin, q) : null;
        if (twin) msg.twinId = twin.id;
        msg.total = total;
        send(msg);
        return showCount(twin ? 1 : 0);
      }
      if (output === "list") {
        msg.payload = twins.map((twin) => itemOf(registry, twin, q));
        msg.total = total;
        send(msg);
        return showCount(twins.length);
      }
      // each: one message per twin, with msg.parts so a join node can put the list back together
      const { payload: _payload, parts: outer, ...rest } = msg;
      const id = `${msg._msgid ?? node.id}-q${++seq}`;
      const out: NodeMessage[] = twins.map((twin, index) => {
        const m = RED.util.cloneMessage(rest as NodeMessage);
        m.payload = itemOf(registry, twin, q);
        m.twinId = twin.id;
        m.total = total;
        const parts: Record<string, unknown> = { id, index, count: twins.length, type: "array", len: 1 };
        if (outer !== undefined) parts.parts = outer;
        m.parts = parts;
        return m;
      });
      if (out.length) send([out]);
      showCount(twins.length);
    }

    onInput(RED, node, (msg: NodeMessage, send: Send, done: Done) => {
      let registry: TwinRegistry;
      try {
        if (!registryNode) throw new QueryFailure(t("errors.no-registry"));
        if (problem) throw problem;
        registry = registryNode.use();
      } catch (err) {
        return failWith(msg, done, describe(err));
      }
      run(msg, registry, send).then(
        () => done(),
        (err: unknown) => {
          node.status({ fill: "red", shape: "ring", text: t("status.failed") });
          failWith(msg, done, describe(err));
        },
      );
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      closed = true;
      node.status({});
      done();
    });
  }

  RED.nodes.registerType("twin-query", TwinQueryNode);
};

function messageOf(err: unknown): string {
  const text = err && typeof err === "object" && "message" in err ? String((err as { message: unknown }).message) : String(err);
  return text.length > 200 ? text.slice(0, 199) + "…" : text;
}
