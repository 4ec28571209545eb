/**
 * `twin-mirror` node: state mirroring. Input sets desired state (or asks for it with topic
 * "get"); output 1 carries the delta to the device, output 2 the convergence of every property
 * (pending, applied, timeout, failed, cleared). The tracking itself is src/core/mirror.ts.
 */
import { showValue } from "../core/errors";
import { Command, Mirror, MIRROR_DEFAULTS, SyncEvent, deviceMessages, topicProblem } from "../core/mirror";
import { readScope } from "./scope";
import { checkTwinId } from "../core/names";
import { isPlainObject } from "../core/json";
import { TwinRegistry } from "../core/registry";
import { Node, NodeDef, NodeMessage, RED, Send, Done } from "./red";
import { findRegistry, failWith, onInput } from "./registry-node";
import { propertyReader, readProperty } from "./jsonata";

interface MirrorConfig extends NodeDef {
  registry?: string;
  twinId?: string;
  twinIdType?: string;
  /** "all" (every twin of the registry), "twin" (the node's twin id) or "glob". */
  scope?: string;
  pattern?: string;
  topic?: string;
  timeout?: string | number;
  retries?: string | number;
  backoff?: string | number;
  clearOnApplied?: boolean;
  resendOnDeploy?: boolean;
}

interface Settings {
  timeoutMs: number;
  retries: number;
  backoff: number;
  handles: (twinId: string) => boolean;
  /** The handled twins in words, for the "not handled" error. */
  scope: string;
}

interface Outbox { device: NodeMessage[]; sync: NodeMessage[] }

const DEFAULT_TOPIC = "devices/{twin}/set";
/** Like an inject node's "once": wired nodes exist by then. */
const RESEND_DELAY_MS = 100;
const STATUS_INTERVAL_MS = 250;

export = function (RED: RED) {
  function TwinMirrorNode(this: Node, config: MirrorConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const registryNode = findRegistry(RED, config.registry);
    const readTwinId = config.twinId ? propertyReader(RED, node, registryNode, config.twinId, config.twinIdType || "str") : null;
    if (readTwinId?.problem) node.error(readTwinId.problem); // a JSONata twin id that does not parse: every message fails with it
    const topic = typeof config.topic === "string" && config.topic !== "" ? config.topic : DEFAULT_TOPIC;
    let settings: Settings | null = null;
    let problem: string | null = null;
    let registry: TwinRegistry | null = null;
    let mirror: Mirror | null = null;
    /** While an input message is written, what it causes goes out with it. */
    let capture: Outbox | null = null;
    let outbox: Outbox | null = null;
    let statusTimer: NodeJS.Timeout | null = null;
    let statusDirty = false;
    let resendTimer: NodeJS.Timeout | null = null;
    let closed = false;

    // node.send takes an array of messages per output, as the input handler's send does.
    const emit: Send = (m) => node.send(m);
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-mirror.${key}`, params);

    try {
      settings = readSettings(config);
    } catch (err) {
      problem = (err as Error).message;
    }

    function readSettings(c: MirrorConfig): Settings {
      const topicIssue = topicProblem(topic);
      if (topicIssue) throw new Error(t(`errors.topic-${topicIssue}`, { topic }));
      const timeout = numberOr(c.timeout, MIRROR_DEFAULTS.timeoutMs / 1000);
      if (!(timeout > 0) || timeout * 1000 > 2 ** 31 - 1) throw new Error(t("errors.timeout", { value: String(c.timeout) }));
      const retries = numberOr(c.retries, MIRROR_DEFAULTS.retries);
      if (!Number.isInteger(retries) || retries < 0 || retries > 100) throw new Error(t("errors.retries", { value: String(c.retries) }));
      const backoff = numberOr(c.backoff, MIRROR_DEFAULTS.backoff);
      if (!(backoff >= 1 && backoff <= 10)) throw new Error(t("errors.backoff", { value: String(c.backoff) }));
      const base = { timeoutMs: timeout * 1000, retries, backoff };
      const { handles, label } = readScope(RED, node, c, t);
      return { ...base, handles, scope: label };
    }

    /** Starts tracking once; throws when the registry is unavailable. */
    function ensureStarted(): { registry: TwinRegistry; mirror: Mirror } {
      if (registry && mirror) return { registry, mirror };
      if (!registryNode) throw new Error(t("errors.no-registry"));
      if (!settings) throw new Error(problem ?? "");
      const reg = registryNode.use();
      const m = new Mirror({
        registry: reg,
        handles: settings.handles,
        timeoutMs: settings.timeoutMs,
        retries: settings.retries,
        backoff: settings.backoff,
        clearOnApplied: config.clearOnApplied === true,
        by: "twin-mirror",
        onCommand: (command) => post(deviceMessages(command, topic).map((m) => deviceMsg(command, m)), []),
        onSync: (event) => post([], [syncMsg(event)]),
        onError: (err) => node.error(registryNode.describe(err)),
        onChange: scheduleStatus,
      });
      registry = reg;
      mirror = m;
      m.start();
      if (config.resendOnDeploy === true) {
        resendTimer = setTimeout(() => {
          resendTimer = null;
          m.resendOutstanding("start");
        }, RESEND_DELAY_MS);
      }
      scheduleStatus();
      return { registry: reg, mirror: m };
    }

    function deviceMsg(command: Command, m: ReturnType<typeof deviceMessages>[number]): NodeMessage {
      const msg: NodeMessage = { topic: m.topic, payload: m.payload, twinId: m.twinId, reason: command.reason };
      if (m.property !== undefined) msg.property = m.property;
      return msg;
    }

    function syncMsg(event: SyncEvent): NodeMessage {
      return { topic: "sync", twinId: event.twinId, payload: event };
    }

    /**
     * Messages caused by an input go out with it; others (other nodes' writes, timers, the
     * twin coming online) are gathered for the turn and sent once their changes are durable.
     */
    function post(device: NodeMessage[], sync: NodeMessage[]): void {
      if (closed) return;
      const box = capture ?? outbox;
      if (box) {
        box.device.push(...device);
        box.sync.push(...sync);
        return;
      }
      outbox = { device, sync };
      queueMicrotask(drain);
    }

    function drain(): void {
      const box = outbox;
      outbox = null;
      if (!box || closed || !registry || !registryNode) return;
      registry.whenDurable((err) => {
        if (closed) return;
        if (err) return node.error(registryNode.describe(err));
        emit(outputs(box));
      });
    }

    function showStatus(): void {
      if (!mirror || !registry) return;
      if (!registry.health().ok) return node.status({ fill: "red", shape: "ring", text: t("status.store-error") });
      const { pending, failed } = mirror.counts();
      if (failed) node.status({ fill: "red", shape: "ring", text: t("status.failed", { count: failed }) });
      else if (pending) node.status({ fill: "yellow", shape: "ring", text: t("status.pending", { count: pending }) });
      else node.status({ fill: "green", shape: "dot", text: t("status.in-sync") });
    }

    /** At most four updates a second: counts move in bursts. */
    function scheduleStatus(): void {
      if (closed) return;
      if (statusTimer) {
        statusDirty = true;
        return;
      }
      showStatus();
      statusTimer = setTimeout(() => {
        statusTimer = null;
        if (statusDirty) {
          statusDirty = false;
          scheduleStatus();
        }
      }, STATUS_INTERVAL_MS);
    }

    async function twinIdOf(msg: NodeMessage): Promise<unknown> {
      if (readTwinId) return readProperty(readTwinId, msg);
      return msg.twinId;
    }

    async function handle(msg: NodeMessage, send: Send, reg: TwinRegistry, m: Mirror): Promise<Outbox | null> {
      const id = await twinIdOf(msg);
      if (id === undefined || id === null || id === "") throw new Error(t("errors.no-id"));
      const twinId = checkTwinId(id);
      if (!(settings as Settings).handles(twinId)) throw new Error(t("errors.not-handled", { twinId, scope: (settings as Settings).scope }));
      if (msg.topic === "get") {
        const doc = reg.get(twinId);
        msg.twinId = twinId;
        msg.payload = { twinId, desired: doc.desired, reported: doc.reported, delta: doc.delta, sync: m.tracking(twinId) };
        send([null, msg]);
        return null;
      }
      if (!isPlainObject(msg.payload)) throw new Error(t("errors.payload", { twinId, value: showValue(msg.payload) }));
      const box: Outbox = { device: [], sync: [] };
      capture = box;
      try {
        reg.setDesired(twinId, msg.payload, { ifVersion: msg.ifVersion, by: typeof msg.by === "string" ? msg.by : undefined });
        m.flush();
      } finally {
        capture = null;
      }
      return box;
    }

    onInput(RED, node, (msg: NodeMessage, send: Send, done: Done) => {
      if (problem) return failWith(msg, done, new Error(problem));
      let reg: TwinRegistry;
      let m: Mirror;
      try {
        ({ registry: reg, mirror: m } = ensureStarted());
      } catch (err) {
        return failWith(msg, done, registryNode ? registryNode.describe(err) : (err as Error));
      }
      handle(msg, send, reg, m).then(
        (box) => {
          if (!box) return done();
          // In strict mode the delta leaves only once the desired state it carries is on disk.
          reg.whenDurable((err) => {
            if (err) return failWith(msg, done, registryNode!.describe(err));
            if (box.device.length || box.sync.length) send(outputs(box));
            done();
          });
        },
        (err: unknown) => failWith(msg, done, registryNode!.describe(err)),
      );
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      closed = true;
      if (statusTimer) clearTimeout(statusTimer);
      if (resendTimer) clearTimeout(resendTimer);
      statusTimer = resendTimer = null;
      mirror?.close();
      mirror = null;
      registry = null;
      outbox = capture = null;
      done();
    });

    if (problem) {
      node.error(problem);
      node.status({ fill: "red", shape: "ring", text: t("status.config") });
    } else if (!registryNode) {
      node.status({ fill: "red", shape: "ring", text: t("status.no-registry") });
    } else {
      try {
        ensureStarted();
      } catch (err) {
        node.error(registryNode.describe(err));
        node.status({ fill: "red", shape: "ring", text: t("status.registry-failed") });
      }
    }
  }

  RED.nodes.registerType("twin-mirror", TwinMirrorNode);
};

/** Output 1 and output 2, each a list of messages or nothing. */
function outputs(box: Outbox): Array<NodeMessage[] | null> {
  return [box.device.length ? box.device : null, box.sync.length ? box.sync : null];
}

/** A number from an editor field, or the default when blank; NaN when not a number. */
function numberOr(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === "") return fallback;
  return typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
}

