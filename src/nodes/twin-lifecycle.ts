/**
 * `twin-lifecycle` node: a twin's life from commissioning to retirement. msg.topic selects an
 * action (transition, work orders) or a query (history, kpi); the node also counts usage from
 * the registry's reported changes and watches predictions for the due rule. Output 1 carries
 * the results of messages, output 2 the audit events (transitions, work orders, maintenance
 * due). The domain is src/core/lifecycle/.
 */
import { showValue } from "../core/errors";
import { JsonObject } from "../core/json";
import { checkTwinId } from "../core/names";
import { readScope } from "./scope";
import { Condition, compileComparison, truthy } from "../core/lifecycle/conditions";
import { CounterSpec, parseCounters } from "../core/lifecycle/counters";
import { LifecycleError, isLifecycleError } from "../core/lifecycle/errors";
import { DEFAULT_LOG_SIZE, MAX_LOG_SIZE, MIN_LOG_SIZE } from "../core/lifecycle/log";
import { DueRules, parseRules } from "../core/lifecycle/maintenance";
import { StageMachine, parseStages } from "../core/lifecycle/stages";
import { Lifecycle } from "../core/lifecycle/tracker";
import { Node, NodeDef, NodeMessage, RED, Send, Done } from "../runtime/red";
import { findRegistry, failWith, onInput } from "../runtime/registry-node";
import { FollowerNode } from "./follower-node";
import { ExpressionError, prepareExpression, propertyReader, readProperty } from "../runtime/jsonata";

interface LifecycleConfig extends NodeDef {
  registry?: string;
  twinId?: string;
  twinIdType?: string;
  /** "all" (every twin of the registry), "twin" (the node's twin id) or "glob". */
  scope?: string;
  pattern?: string;
  stages?: string;
  running?: string;
  /** "cond" (a property comparison such as rpm > 0) or "jsonata" (on the twin document). */
  runningType?: string;
  counters?: string;
  dueHours?: string | number;
  dueDays?: string | number;
  dueCycles?: string | number;
  dueHorizon?: string | number;
  dueProperty?: string;
  autoOrder?: boolean;
  logSize?: string | number;
}

interface Settings {
  handles: (twinId: string) => boolean;
  scope: string;
  stages: StageMachine;
  running: Condition | null;
  counters: CounterSpec[];
  rules: DueRules;
  autoOrder: boolean;
  logSize: number;
}

/** Audit messages for output 2, gathered while an input runs or until the turn ends. */
type Outbox = NodeMessage[];

const TOPICS = new Set(["transition", "workorder/open", "workorder/note", "workorder/close", "history", "kpi"]);
const STATUS_MAX = 19;

export = function (RED: RED) {
  function TwinLifecycleNode(this: Node, config: LifecycleConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const registryNode = findRegistry(RED, config.registry);
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-lifecycle.${key}`, params);
    let settings: Settings | null = null;
    let problem: string | null = null;

    /** Core errors in words from the catalogs: ours first, then the registry's. */
    function describe(err: unknown): Error {
      if (isLifecycleError(err)) {
        const out = new Error(t(`errors.${err.code}`, err.params)) as Error & { code?: string; params?: object };
        out.code = err.code;
        out.params = err.params;
        return out;
      }
      if (registryNode) return registryNode.describe(err);
      return err instanceof Error ? err : new Error(String(err));
    }

    /** A JSONata condition on the twin document (evaluated asynchronously, in order per twin, within the registry's limits). */
    function jsonataCondition(expression: string): Condition {
      let prepared: ReturnType<typeof prepareExpression>;
      try {
        prepared = prepareExpression(RED, node, registryNode, expression);
      } catch (err) {
        const reason = err instanceof ExpressionError ? String(err.params.reason) : String((err as Error).message);
        throw new LifecycleError("config.jsonata", { expression: expression.slice(0, 100), reason: reason.slice(0, 120) });
      }
      return {
        properties: null,
        source: expression,
        evaluate(twin) {
          const document = follow.registry?.find(twin.id);
          return prepared.evaluate(document as object).then(truthy, (err: Error) => {
            const failure = new Error(t("errors.condition", { twinId: twin.id, message: err.message })) as Error & { code?: string };
            if (err instanceof ExpressionError) failure.code = err.code;
            throw failure;
          });
        },
      };
    }
    const readTwinId = config.twinId ? propertyReader(RED, node, registryNode, config.twinId, config.twinIdType || "str") : null;
    if (readTwinId?.problem) node.error(readTwinId.problem); // a JSONata twin id that does not parse: every message fails with it

    function readSettings(c: LifecycleConfig): Settings {
      const { handles, label: scope } = readScope(RED, node, c, t);
      const stages = parseStages(c.stages);
      const text = String(c.running ?? "").trim();
      const running = text === "" ? null : c.runningType === "jsonata" ? jsonataCondition(text) : compileComparison(text);
      const counters = parseCounters(c.counters, { jsonata: jsonataCondition, running: running !== null });
      const rules = parseRules({ hours: c.dueHours, days: c.dueDays, cycles: c.dueCycles, horizonHours: c.dueHorizon, property: c.dueProperty });
      if (!running && (rules.hours !== null || rules.cycles !== null)) throw new LifecycleError("config.needs-running");
      let logSize = DEFAULT_LOG_SIZE;
      if (c.logSize !== undefined && c.logSize !== "") {
        logSize = Number(c.logSize);
        if (!Number.isInteger(logSize) || logSize < MIN_LOG_SIZE || logSize > MAX_LOG_SIZE) {
          throw new LifecycleError("config.log-size", { value: showValue(c.logSize), min: MIN_LOG_SIZE, max: MAX_LOG_SIZE });
        }
      }
      return { handles, scope, stages, running, counters, rules, autoOrder: c.autoOrder === true, logSize };
    }

    try {
      settings = readSettings(config);
    } catch (err) {
      problem = describe(err).message;
    }

    const follow = new FollowerNode<Lifecycle, Outbox>({
      node, registryNode, problem, t, describe,
      create: (registry) => {
        const s = settings as Settings; // set whenever there is no problem, and only then does it start
        return new Lifecycle({
          registry,
          stages: s.stages,
          running: s.running,
          counters: s.counters,
          rules: s.rules,
          autoOrder: s.autoOrder,
          logSize: s.logSize,
          handles: s.handles,
          by: "twin-lifecycle",
          describeDue: (due) => t(`order.${String(due.rule)}`, { ...due }),
          onAudit: (twinId, entry) => post(twinId, entry),
          onError: (err) => node.error(describe(err)),
        });
      },
      started: () => showStatus({ fill: "green", shape: "ring", text: t("status.ready") }),
      emptyBox: () => [],
      hasAny: (box) => box.length > 0,
      send: (box) => node.send([null, box]),
    });

    function showStatus(s: { fill: "green" | "yellow" | "red" | "blue"; shape: "dot" | "ring"; text: string }): void {
      if (follow.isClosed) return;
      node.status({ ...s, text: s.text.length > STATUS_MAX ? s.text.slice(0, STATUS_MAX - 1) + "…" : s.text });
    }

    /** An audit entry: with the message that caused it, or gathered for the turn and sent once durable. */
    function post(twinId: string, entry: JsonObject): void {
      const box = follow.box();
      if (!box) return;
      const msg: NodeMessage = { topic: String(entry.type), twinId, payload: { twinId, ...entry } };
      if (entry.type === "due") showStatus({ fill: "yellow", shape: "dot", text: t("status.due") });
      else if (entry.type === "transition") showStatus({ fill: "green", shape: "dot", text: t("status.stage", { stage: String(entry.to) }) });
      box.push(msg);
    }

    async function twinIdOf(msg: NodeMessage): Promise<unknown> {
      if (readTwinId) return readProperty(readTwinId, msg);
      return msg.twinId;
    }

    /** Runs the message's action; resolves whether it wrote (and must wait until durable). */
    async function handle(msg: NodeMessage, lc: Lifecycle, box: Outbox): Promise<boolean> {
      const topic = msg.topic;
      if (typeof topic !== "string" || !TOPICS.has(topic)) throw new Error(t("errors.topic", { topic: showValue(topic) }));
      const id = await twinIdOf(msg);
      const none = id === undefined || id === null || id === "";
      if (topic === "kpi" && none) {
        msg.payload = lc.fleet();
        return false;
      }
      if (none) throw new Error(t("errors.no-id"));
      const twinId = checkTwinId(id);
      if (!(settings as Settings).handles(twinId)) throw new Error(t("errors.not-handled", { twinId, scope: (settings as Settings).scope }));
      msg.twinId = twinId;
      if (topic === "kpi") {
        msg.payload = lc.kpi(twinId);
        return false;
      }
      if (topic === "history") {
        const range = msg.payload !== null && typeof msg.payload === "object" && !Array.isArray(msg.payload) ? msg.payload : undefined;
        msg.payload = lc.history(twinId, range);
        return false;
      }
      const options = { ifVersion: msg.ifVersion };
      follow.during(box, () => {
        switch (topic) {
          case "transition": {
            const r = lc.transition(twinId, msg.payload, options);
            msg.payload = r.lifecycle;
            break;
          }
          case "workorder/open":
          case "workorder/note":
          case "workorder/close": {
            const action = topic === "workorder/open" ? lc.openOrder : topic === "workorder/note" ? lc.noteOrder : lc.closeOrder;
            const r = action.call(lc, twinId, msg.payload, options);
            msg.payload = r.order;
            msg.lifecycle = r.lifecycle;
            break;
          }
        }
      });
      return true;
    }

    onInput(RED, node, (msg: NodeMessage, send: Send, done: Done) => {
      let lc: Lifecycle;
      try {
        lc = follow.use().follower;
      } catch (err) {
        return failWith(msg, done, describe(err));
      }
      const box: Outbox = [];
      handle(msg, lc, box).then(
        (wrote) => {
          const finish = () => {
            send([msg, box.length ? box : null]);
            done();
          };
          // In strict persistence the answer leaves only once the change is on disk.
          if (wrote) follow.afterDurable(msg, done, finish);
          else finish();
        },
        (err: unknown) => failWith(msg, done, describe(err)),
      );
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      follow.close();
      node.status({});
      done();
    });

    follow.begin();
  }

  RED.nodes.registerType("twin-lifecycle", TwinLifecycleNode);
};
