/**
 * `ui-twin-fleet` node: a Dashboard 2.0 widget listing a registry's twins, live, with filters by
 * model, stage, online and anomaly. A click on a twin sends { payload: twinId, twinId } so a
 * ui-twin-card (or anything else) can follow it. The rows are built in core/dashboard.ts; the
 * Vue component is ui/ui-twin-fleet.
 *
 * Socket events:
 *   browser -> "widget-change" (id, {kind: "load", filter})  what this page shows; answered at once
 *   node -> browser "ui-twin-fleet:view:<id>"                 the rows, again on every change (twice a second at most)
 */
import { FleetFilter, fleetView, readFleetFilter } from "../core/dashboard";
import { TwinRegistry } from "../core/registry";
import { Node, NodeDef, NodeMessage, RED } from "../runtime/red";
import { findRegistry, openProblem, whenRegistryOpen } from "../runtime/registry-node";
import { Audience, Connection, coalesce, registerWidget, requestOf } from "../runtime/dashboard";

interface FleetConfig extends NodeDef {
  group?: string;
  registry?: string;
  maxRows?: string | number;
  values?: string | number;
}

const PUSH_MS = 500;
const DEFAULT_ROWS = 100;
const MAX_ROWS = 1000;

export = function (RED: RED) {
  function UiTwinFleetNode(this: Node, config: FleetConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>): string => RED._(`ui-twin-fleet.${key}`, params);
    const registryNode = findRegistry(RED, config.registry);
    const maxRows = bounded(config.maxRows, DEFAULT_ROWS, MAX_ROWS);
    const values = bounded(config.values, 3, 10);
    const audience = new Audience<FleetFilter>();
    let registry: TwinRegistry | null = null;
    let unsubscribe: (() => void) | null = null;
    let problem: string | null = null;

    function viewFor(filter: FleetFilter): unknown {
      if (!registry) return { error: problem ?? t("errors.no-registry") };
      try {
        return fleetView(registry, filter, maxRows, values);
      } catch (err) {
        return { error: registryNode ? registryNode.describe(err).message : String(err) };
      }
    }

    const push = coalesce(PUSH_MS, () => audience.each((conn, filter) => conn.emit(`ui-twin-fleet:view:${node.id}`, viewFor(filter))));

    const registered = registerWidget(RED, node, config, {
      onAction: true,
      onChange: (_msg: NodeMessage, value: unknown, conn: Connection) => {
        const request = requestOf(value);
        if (request?.kind !== "load") return;
        const f = readFleetFilter(request.filter);
        audience.set(conn, f);
        conn.emit(`ui-twin-fleet:view:${node.id}`, viewFor(f));
      },
    }, t);
    // Without the Dashboard the node only says so: it does not even follow the registry.
    if (registered) {
      const report = (): void => {
        if (!problem) return;
        node.status({ fill: "red", shape: "ring", text: t("status.no-registry") });
        node.error(problem);
      };
      if (!registryNode) {
        problem = t("errors.no-registry");
        report();
      } else {
        // A registry on Redis opens after deploy: until then the view says it is connecting.
        problem = openProblem(registryNode);
        whenRegistryOpen(node, registryNode, () => {
          problem = null;
          try {
            registry = registryNode.use();
            registryNode.addUser(node); // the registry's count and health as the node's status
            unsubscribe = registry.subscribe(() => {
              if (audience.size) push.poke();
            });
          } catch (err) {
            problem = registryNode.describe(err).message;
          }
          report();
          push.poke();
        });
      }
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      push.stop();
      unsubscribe?.();
      audience.clear();
      registryNode?.removeUser(node);
      done();
    });
  }

  RED.nodes.registerType("ui-twin-fleet", UiTwinFleetNode);
};

function bounded(value: unknown, fallback: number, max: number): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isInteger(n) || n < 1) return fallback;
  return Math.min(n, max);
}
