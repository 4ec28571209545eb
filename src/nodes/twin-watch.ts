/**
 * `twin-watch` node: an event source. Emits the registry's change events that match its filter
 * (twin id globs, models, sections, properties), at most one per twin and section per throttle
 * interval, and optionally the state of every matching twin when the flow starts. The filter and
 * throttle live in core/watch.ts; this file wires them to the registry, a timer and the status.
 */
import { isTwinError } from "../core/errors";
import { ChangeEvent, TwinRegistry } from "../core/registry";
import { WatchFilter, WatchFollower } from "../core/watch";
import { Node, NodeDef, NodeMessage, RED } from "../runtime/red";
import { findRegistry, whenRegistryOpen } from "../runtime/registry-node";

interface WatchNodeConfig extends NodeDef {
  registry?: string;
  twinIds?: string;
  models?: string;
  sections?: string | string[];
  properties?: string | string[];
  throttle?: string | number;
  emitState?: boolean | string;
}

/** Wait before sending the state on start, as the inject node's "once" does, so the flow is wired. */
const STATE_DELAY_MS = 100;
/** State messages sent per turn of the event loop, so a large registry never blocks it for long. */
const STATE_BATCH = 250;
const STATUS_MAX = 19;

export = function (RED: RED) {
  function TwinWatchNode(this: Node, config: WatchNodeConfig) {
    RED.nodes.createNode(this, config);
    whenRegistryOpen(this, findRegistry(RED, config.registry), () => startWatch.call(this, config));
  }

  function startWatch(this: Node, config: WatchNodeConfig) {
    const node = this;

    const fail = (status: string, err: Error): void => {
      node.status({ fill: "red", shape: "ring", text: RED._(`twin-watch.status.${status}`) });
      node.error(err);
    };

    let filter: WatchFilter;
    try {
      filter = new WatchFilter({
        twinIds: config.twinIds,
        models: config.models,
        sections: config.sections,
        properties: config.properties,
        throttleMs: config.throttle,
      });
    } catch (err) {
      const option = isTwinError(err) ? String(err.params.option) : "unknown";
      const value = isTwinError(err) ? err.params.value : String(err);
      return fail("bad-filter", new Error(RED._(`twin-watch.errors.${option}`, { value })));
    }

    const registryNode = findRegistry(RED, config.registry);
    if (!registryNode) return fail("no-registry", new Error(RED._("twin-watch.errors.no-registry")));
    let registry: TwinRegistry;
    try {
      registry = registryNode.use();
    } catch (err) {
      return fail("registry-failed", registryNode.describe(err));
    }

    // ---- status: when the last event went, or events per second when more than one a second ----
    // (no twin id: a node's status reaches every editor user with status.read, twins.read or not)
    let sentInSecond = 0;
    let statusTimer: NodeJS.Timeout | null = null;
    const show = (text: string): void => {
      node.status({ fill: "green", shape: "dot", text: text.length > STATUS_MAX ? text.slice(0, STATUS_MAX - 1) + "…" : text });
    };
    const statusTick = (): void => {
      statusTimer = null;
      if (sentInSecond === 0) return;
      show(sentInSecond === 1 ? RED._("twin-watch.status.last", { at: new Date().toLocaleTimeString() }) : RED._("twin-watch.status.rate", { rate: sentInSecond }));
      sentInSecond = 0;
      statusTimer = setTimeout(statusTick, 1000);
    };
    const sent = (): void => {
      if (statusTimer) {
        sentInSecond++;
        return;
      }
      show(RED._("twin-watch.status.last", { at: new Date().toLocaleTimeString() }));
      sentInSecond = 1;
      statusTimer = setTimeout(statusTick, 1000);
    };
    node.status({ fill: "green", shape: "ring", text: RED._("twin-watch.status.watching") });

    // ---- events ------------------------------------------------------------------------------
    // An event goes out once the change it tells of is durable (in strict persistence, after the
    // fsync): the registry emits after the change is in the store, so a wait asked for now covers
    // it, and waits end in the order they were asked for. In memory mode that is at once.
    let closed = false;
    let failing = false;
    const emit = (event: ChangeEvent): void => {
      registry.whenDurable((err) => {
        if (closed) return;
        if (err) {
          // One error per turn, not one per event of a burst.
          if (failing) return;
          failing = true;
          queueMicrotask(() => (failing = false));
          return node.error(registryNode.describe(err));
        }
        // The event object is the registry's, shared by every listener: sent as is, never cloned here.
        node.send({ topic: `${event.twinId}/${event.section}`, twinId: event.twinId, payload: event });
        sent();
      });
    };
    const follower = new WatchFollower(registry, { filter, emit, onError: (err) => node.error(err) });
    follower.start();

    // ---- state on start ----------------------------------------------------------------------
    let stateTimer: NodeJS.Timeout | null = null;
    let stateStep: NodeJS.Immediate | null = null;
    const sendState = (): void => {
      stateTimer = null;
      const ids: string[] = [];
      for (const id of registry.ids()) if (follower.matchesTwin(id)) ids.push(id);
      ids.sort();
      let i = 0;
      const step = (): void => {
        stateStep = null;
        const end = Math.min(i + STATE_BATCH, ids.length);
        for (; i < end; i++) {
          const document = registry.find(ids[i]);
          if (!document) continue; // deleted since
          const msg: NodeMessage = { topic: `${document.id}/state`, twinId: document.id, payload: document };
          node.send(msg);
          sent();
        }
        if (i < ids.length) stateStep = setImmediate(step);
      };
      step();
    };
    if (config.emitState === true || config.emitState === "true") stateTimer = setTimeout(sendState, STATE_DELAY_MS);

    node.on("close", (_removed: boolean, done: () => void) => {
      follower.close();
      closed = true;
      if (statusTimer) clearTimeout(statusTimer);
      if (stateTimer) clearTimeout(stateTimer);
      if (stateStep) clearImmediate(stateStep);
      statusTimer = stateTimer = null;
      stateStep = null;
      done();
    });
  }

  RED.nodes.registerType("twin-watch", TwinWatchNode);
};
