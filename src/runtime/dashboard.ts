/**
 * The twin widgets' side of FlowFuse Dashboard 2.0 (@flowfuse/node-red-dashboard), which stays
 * optional: a widget node registers with its `ui-group` as the Dashboard's third-party widget
 * guide says, and without the Dashboard (or without a group) it shows a red status and an error
 * naming what to install, and fails its messages with that error; nothing else changes.
 *
 * Data goes to the browser on the widget's own socket.io events, one per widget id, to the
 * connections that asked for it (a widget asks when it mounts, after a reconnect and after a
 * deploy), so each open dashboard gets what it shows and nothing is kept in the Dashboard's
 * message store.
 */
import * as fs from "fs";
import * as path from "path";
import { Done, Node, NodeMessage, RED, Send } from "./red";

/** What a socket.io connection offers here. */
export interface Connection {
  id: string;
  connected?: boolean;
  emit(event: string, payload: unknown): void;
  once(event: "disconnect", handler: () => void): void;
}

/** The Dashboard's ui-base node, as far as these widgets use it. */
interface DashboardBase {
  ui?: { widgets?: Map<string, { src?: unknown }> };
}

interface DashboardGroup extends Node {
  register(node: Node, config: object, events: WidgetEvents): void;
  getBase(): DashboardBase;
}

/**
 * The event hooks a widget hands the Dashboard (see its third-party widget guide). The browser's
 * requests come as `widget-change` events, whose handler the Dashboard looks up when each event
 * arrives: custom `onSocket` events would be bound to the connection once, when it opens, and a
 * deploy leaves an open page talking to the node that was replaced.
 */
export interface WidgetEvents {
  onAction?: boolean;
  onInput?: (msg: NodeMessage, send: Send) => void | Promise<void>;
  onChange?: (msg: NodeMessage, value: unknown, conn: Connection, id: string) => void | Promise<void>;
}

/** A request a widget's page sends in a widget-change event: { kind, ... }; null for anything else. */
export function requestOf(value: unknown): Record<string, unknown> | null {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const r = value as Record<string, unknown>;
  return typeof r.kind === "string" ? r : null;
}

export const DASHBOARD_PACKAGE = "@flowfuse/node-red-dashboard";

type DashboardRED = RED & { nodes: RED["nodes"] & { getType?(type: string): unknown } };

/** Whether Dashboard 2.0's nodes are installed in this Node-RED (its ui-base type is registered). */
export function dashboardInstalled(RED: DashboardRED): boolean {
  try {
    return typeof RED.nodes.getType === "function" && !!RED.nodes.getType("ui-base");
  } catch {
    return false;
  }
}

/**
 * Registers `node` with its group. Returns false, after a red status and an error in the node's
 * words (keys errors.no-dashboard / errors.no-group, status.no-dashboard / status.no-group of
 * `t`), when the Dashboard or the group is missing; every message then fails with that error.
 */
export function registerWidget(
  RED: DashboardRED,
  node: Node,
  config: { group?: unknown; type?: string },
  events: WidgetEvents,
  t: (key: string, params?: Record<string, unknown>) => string,
): boolean {
  const group = typeof config.group === "string" && config.group ? (RED.nodes.getNode(config.group) as DashboardGroup | null) : null;
  if (!group || typeof group.register !== "function" || typeof group.getBase !== "function") {
    const installed = dashboardInstalled(RED);
    const key = installed ? "no-group" : "no-dashboard";
    const problem = new Error(t(`errors.${key}`, { package: DASHBOARD_PACKAGE }));
    node.status({ fill: "red", shape: "ring", text: t(`status.${key}`) });
    node.error(problem);
    node.on("input", (_msg: NodeMessage, _send: Send, done: Done) => done(problem));
    return false;
  }
  group.register(node, config, events);
  provideSource(RED, group.getBase(), node, config.type ?? node.type);
  return true;
}

/**
 * The Dashboard finds a third-party widget's bundle through the package.json of the user
 * directory, and only in dependencies named `*node-red-dashboard-2-*`; this package has another
 * name, so (unless Node-RED runs from this repository) the widget would register with no bundle
 * and show nothing. It gets the entry the Dashboard would have made from our package.json's
 * "node-red-dashboard-2" section.
 */
function provideSource(RED: RED, base: DashboardBase, node: Node, type: string): void {
  const widget = base?.ui?.widgets?.get(node.id);
  if (!widget || widget.src) return;
  const root = path.resolve(__dirname, "..", "..", "..");
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { name: string; "node-red-dashboard-2"?: { widgets?: Record<string, { output: string; component: string }> } };
    const entry = pkg["node-red-dashboard-2"]?.widgets?.[type];
    if (entry) widget.src = { package: pkg.name, name: type, src: entry.output, path: root, component: entry.component };
  } catch (err) {
    RED.log.warn(`twinwire: ${type} ${node.id}: cannot read package.json for the widget bundle: ${(err as Error).message}`);
  }
}

/**
 * The connections a widget serves and what each asked for: a widget sends its request when it
 * mounts (and after a reconnect); pushes go to the connections still open.
 */
export class Audience<R> {
  private readonly conns = new Map<string, { conn: Connection; request: R }>();

  set(conn: Connection, request: R): void {
    const known = this.conns.has(conn.id);
    this.conns.set(conn.id, { conn, request });
    if (!known) conn.once("disconnect", () => this.conns.delete(conn.id));
  }

  get size(): number {
    return this.conns.size;
  }

  each(fn: (conn: Connection, request: R) => void): void {
    for (const [id, { conn, request }] of this.conns) {
      if (conn.connected === false) this.conns.delete(id);
      else fn(conn, request);
    }
  }

  clear(): void {
    this.conns.clear();
  }
}

/**
 * Runs `fn` at most once per `ms` however often `poke` is called (registry changes come in
 * bursts: a simulator writes 40 readings a second).
 */
export function coalesce(ms: number, fn: () => void): { poke(): void; stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  return {
    poke() {
      if (timer || stopped) return;
      timer = setTimeout(() => {
        timer = null;
        if (!stopped) fn();
      }, ms);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
