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
import { Node, NodeDef, NodeMessage, RED, Send, Done } from "../runtime/red";
import { findRegistry, failWith, onInput } from "../runtime/registry-node";
import { FollowerNode } from "./follower-node";
import { propertyReader, readProperty } from "../runtime/jsonata";

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
    let resendTimer: NodeJS.Timeout | null = null;

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

    const describe = (err: unknown): Error => (registryNode ? registryNode.describe(err) : err instanceof Error ? err : new Error(String(err)));
    const follow = new FollowerNode<Mirror, Outbox>({
      node, registryNode, problem, t, describe,
      create: (registry) => {
        const s = settings as Settings; // set whenever there is no problem, and only then does it start
        return new Mirror({
          registry,
          handles: s.handles,
          timeoutMs: s.timeoutMs,
          retries: s.retries,
          backoff: s.backoff,
          clearOnApplied: config.clearOnApplied === true,
          by: "twin-mirror",
          onCommand: (command) => post(deviceMessages(command, topic).map((m) => deviceMsg(command, m)), []),
          onSync: (event) => post([], [syncMsg(event)]),
          onError: (err) => node.error(describe(err)),
          onChange: () => follow.statusChanged(),
        });
      },
      started: (mirror) => {
        if (config.resendOnDeploy === true) {
          resendTimer = setTimeout(() => {
            resendTimer = null;
            mirror.resendOutstanding("start");
          }, RESEND_DELAY_MS);
        }
      },
      emptyBox: () => ({ device: [], sync: [] }),
      hasAny: (box) => box.device.length > 0 || box.sync.length > 0,
      // node.send takes an array of messages per output, as the input handler's send does.
      send: (box) => node.send(outputs(box)),
      status: (mirror, registry) => {
        if (!registry.health().ok) return { fill: "red", shape: "ring", text: t("status.store-error") };
        const { pending, failed } = mirror.counts();
        if (failed) return { fill: "red", shape: "ring", text: t("status.failed", { count: failed }) };
        if (pending) return { fill: "yellow", shape: "ring", text: t("status.pending", { count: pending }) };
        return { fill: "green", shape: "dot", text: t("status.in-sync") };
      },
    });

    function deviceMsg(command: Command, m: ReturnType<typeof deviceMessages>[number]): NodeMessage {
      const msg: NodeMessage = { topic: m.topic, payload: m.payload, twinId: m.twinId, reason: command.reason };
      if (m.property !== undefined) msg.property = m.property;
      return msg;
    }

    function syncMsg(event: SyncEvent): NodeMessage {
      return { topic: "sync", twinId: event.twinId, payload: event };
    }

    function post(device: NodeMessage[], sync: NodeMessage[]): void {
      const box = follow.box();
      if (!box) return;
      box.device.push(...device);
      box.sync.push(...sync);
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
      const desired = msg.payload;
      if (!reg.leads(twinId)) {
        // A registry shared on Redis, the twin led by another instance: the change is made there,
        // and the delta leaves from that instance's twin-mirror (work done once). This message
        // completes once the leader has made the change durable, or fails with its error.
        await reg.submit({ op: "setDesired", id: twinId, values: desired, options: { ifVersion: msg.ifVersion, by: typeof msg.by === "string" ? msg.by : undefined } });
        return null;
      }
      const box: Outbox = { device: [], sync: [] };
      follow.during(box, () => {
        reg.setDesired(twinId, desired, { ifVersion: msg.ifVersion, by: typeof msg.by === "string" ? msg.by : undefined });
        m.flush();
      });
      return box;
    }

    onInput(RED, node, (msg: NodeMessage, send: Send, done: Done) => {
      let reg: TwinRegistry;
      let m: Mirror;
      try {
        ({ registry: reg, follower: m } = follow.use());
      } catch (err) {
        return failWith(msg, done, describe(err));
      }
      handle(msg, send, reg, m).then(
        (box) => {
          if (!box) return done();
          // In strict mode the delta leaves only once the desired state it carries is on disk.
          follow.afterDurable(msg, done, () => {
            if (box.device.length || box.sync.length) send(outputs(box));
            done();
          });
        },
        (err: unknown) => failWith(msg, done, describe(err)),
      );
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      if (resendTimer) clearTimeout(resendTimer);
      resendTimer = null;
      follow.close();
      done();
    });

    follow.begin();
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

