/**
 * `ui-twin-card` node: a Dashboard 2.0 widget showing one twin (set in the node, or by
 * msg.twinId / a string msg.payload, e.g. from a ui-twin-fleet click): reported values in their
 * units with a sparkline each, predictions with horizon and interval, lifecycle stage and due
 * maintenance, and a control per writable property that sets its desired value. The card view is
 * built in core/dashboard.ts; the Vue component is ui/ui-twin-card.
 *
 * A desired value goes the way the sidebar's POST .../desired goes: registry.setDesired (the
 * model checks it), recorded with by "dashboard", and acknowledged to the browser only once the
 * change is as durable as the registry's mode promises. It then also leaves the node's output.
 *
 * Socket events:
 *   browser -> "widget-change" (id, {kind: "load"})              answered with the view at once
 *   browser -> "widget-change" (id, {kind: "desired", requestId, twinId, property, value})
 *   node -> browser "ui-twin-card:view:<id>"                     the card, again on every change of its twin
 *   node -> browser "ui-twin-card:desired-result:<id>"           {requestId, ok} or {requestId, error, code}
 */
import { cardView, desiredFromInput } from "../core/dashboard";
import { isTwinError } from "../core/errors";
import { dict } from "../core/json";
import { isTwinId } from "../core/names";
import { TwinRegistry } from "../core/registry";
import { Node, NodeDef, NodeMessage, RED, Send } from "../runtime/red";
import { findRegistry, openProblem, whenRegistryOpen } from "../runtime/registry-node";
import { Audience, Connection, coalesce, registerWidget, requestOf } from "../runtime/dashboard";

interface CardConfig extends NodeDef {
  group?: string;
  registry?: string;
  twinId?: string;
  points?: string | number;
  /** Shows no control for desired values, and refuses any that a page sends. */
  readOnly?: boolean;
}

const PUSH_MS = 500;
/** Who the registry records as the writer of a desired value set on a dashboard. */
const DASHBOARD_WRITER = "dashboard";

export = function (RED: RED) {
  function UiTwinCardNode(this: Node, config: CardConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>): string => RED._(`ui-twin-card.${key}`, params);
    const registryNode = findRegistry(RED, config.registry);
    const points = Math.min(200, Math.max(10, Number(config.points) || 60));
    const audience = new Audience<null>();
    let registry: TwinRegistry | null = null;
    let unsubscribe: (() => void) | null = null;
    let problem: string | null = null;
    let twinId: string | null = isTwinId(config.twinId) ? config.twinId : null;
    const readOnly = config.readOnly === true;

    function view(): unknown {
      if (!registry) return { error: problem ?? t("errors.no-registry") };
      if (!twinId) return { empty: t("label.pick") };
      try {
        const card = cardView(registry, twinId, points);
        return card ? { ...card, readOnly } : { twinId, empty: t("label.missing", { twinId }) };
      } catch (err) {
        return { error: describe(err).message };
      }
    }

    function describe(err: unknown): Error {
      if (registryNode) return registryNode.describe(err);
      return err instanceof Error ? err : new Error(String(err));
    }

    const push = coalesce(PUSH_MS, () => {
      const v = view();
      audience.each((conn) => conn.emit(`ui-twin-card:view:${node.id}`, v));
    });

    function showStatus(): void {
      if (problem) node.status({ fill: "red", shape: "ring", text: t("status.no-registry") });
      else node.status(twinId ? { fill: "green", shape: "dot", text: twinId } : { fill: "grey", shape: "ring", text: t("status.none") });
    }

    /** A desired value from a dashboard: through the registry, answered once durable. */
    function setDesired(conn: Connection, request: unknown): void {
      const r = (request && typeof request === "object" ? request : {}) as Record<string, unknown>;
      const reply = (answer: Record<string, unknown>) => conn.emit(`ui-twin-card:desired-result:${node.id}`, { requestId: r.requestId ?? null, ...answer });
      const fail = (err: unknown) => {
        const e = describe(err);
        reply({ ok: false, error: e.message, code: isTwinError(err) ? err.code : (e as Error & { code?: string }).code ?? "failed" });
      };
      try {
        if (!registry) throw new Error(problem ?? t("errors.no-registry"));
        if (readOnly) throw new Error(t("errors.read-only"));
        // The card writes to the twin it shows; a stale page naming another twin is refused.
        const target = r.twinId === undefined ? twinId : r.twinId;
        if (typeof target !== "string" || target !== twinId) throw new Error(t("errors.other-twin", { twinId: String(target) }));
        const { property, value } = desiredFromInput(registry, target, r.property, r.value);
        const values = dict();
        values[property] = value;
        const written = () => {
          reply({ ok: true, twinId: target, property, value });
          node.send({ topic: target, twinId: target, payload: { [property]: value }, by: DASHBOARD_WRITER });
        };
        // A twin another instance leads (a registry shared on Redis): set there, answered once durable.
        if (!registry.leads(target)) {
          registry.submit({ op: "setDesired", id: target, values, options: { by: DASHBOARD_WRITER } }).then(written, fail).catch((err) => node.error(err));
          return;
        }
        registry.setDesired(target, values, { by: DASHBOARD_WRITER });
        registry.whenDurable((err) => (err ? fail(err) : written()));
      } catch (err) {
        fail(err);
      }
    }

    const registered = registerWidget(RED, node, config, {
      onInput: (msg: NodeMessage, _send: Send) => {
        const next = msg.twinId !== undefined ? msg.twinId : msg.payload;
        if (!isTwinId(next)) throw new Error(t("errors.twin-id", { value: String(next).slice(0, 60) }));
        twinId = next;
        showStatus();
        const v = view();
        audience.each((conn) => conn.emit(`ui-twin-card:view:${node.id}`, v));
      },
      onChange: (_msg: NodeMessage, value: unknown, conn: Connection) => {
        const request = requestOf(value);
        if (request?.kind === "load") {
          audience.set(conn, null);
          conn.emit(`ui-twin-card:view:${node.id}`, view());
        } else if (request?.kind === "desired") setDesired(conn, request);
      },
    }, t);
    // Without the Dashboard the node only says so: it does not even follow the registry. Its
    // status is the twin it shows, so it is not one of the registry's users (their status is the
    // twin count).
    if (registered) {
      if (!registryNode) {
        problem = t("errors.no-registry");
        showStatus();
        node.error(problem);
      } else {
        // A registry on Redis opens after deploy: until then the view says it is connecting.
        problem = openProblem(registryNode);
        whenRegistryOpen(node, registryNode, () => {
          problem = null;
          try {
            registry = registryNode.use();
            unsubscribe = registry.subscribe((event) => {
              if (audience.size && event.twinId === twinId) push.poke();
            });
          } catch (err) {
            problem = describe(err).message;
          }
          showStatus();
          if (problem) node.error(problem);
          push.poke();
        });
      }
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      push.stop();
      unsubscribe?.();
      audience.clear();
      done();
    });
  }

  RED.nodes.registerType("ui-twin-card", UiTwinCardNode);
};
