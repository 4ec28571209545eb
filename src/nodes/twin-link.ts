/**
 * `twin-link` and its `twin-link-broker` config node: the physical link over MQTT. Devices that
 * can only publish and subscribe talk to their twins with no flow wiring (the protocol is
 * src/core/link/protocol.ts, its rules src/core/link/link.ts, the connection
 * src/core/link/connection.ts). The broker node holds one connection, shared by the link nodes
 * that use it, like Node-RED's own mqtt-broker; a link node ties one registry to one topic root.
 */
import * as os from "os";
import { TwinRegistry } from "../core/registry";
import { LinkTopics, RequestKind, isGroupName, rootProblem } from "../core/link/protocol";
import { DeviceLink, Rejection, ReplyMode, StateMode } from "../core/link/link";
import { ConnectionState, Failure, LinkConnection, TlsOptions, isSecure, urlProblem } from "../core/link/connection";
import { Outgoing } from "../core/link/queue";
import { Node, NodeDef, NodeStatus, RED } from "../runtime/red";
import { findRegistry, whenRegistryOpen } from "../runtime/registry-node";

interface BrokerConfig extends NodeDef {
  url?: string;
  tls?: string;
  clientId?: string;
  protocol?: string;
  keepalive?: string | number;
  sessionExpiry?: string | number;
  queueLimit?: string | number;
}

interface LinkConfig extends NodeDef {
  registry?: string;
  /** "mqtt-broker": Node-RED's own broker config node (mqttBroker); else twin-link-broker (broker). */
  connection?: string;
  broker?: string;
  mqttBroker?: string;
  root?: string;
  group?: string;
  qos?: string | number;
  unknown?: string;
  model?: string;
  state?: string;
  stateInterval?: string | number;
  replies?: string;
}

/** What a link node offers the broker node it uses. */
interface LinkUser {
  id: string;
  subscriptions(): Map<string, 0 | 1 | 2>;
  accepts(topic: string): boolean;
  /** `qos`: the QoS the message came with; replies to it go at no higher one. */
  handle(topic: string, payload: Buffer, retain: boolean, done: () => void, qos: 0 | 1 | 2): void;
  onState(state: ConnectionState, failure: Failure | null): void;
  onConnect(info: { sessionPresent: boolean; dropped: number }): void;
  onOverflow(): void;
}

interface BrokerNode extends Node {
  /** A configuration problem in words, or null. */
  problem: string | null;
  url: string;
  clientId: string;
  register(user: LinkUser): void;
  deregister(user: LinkUser, removed: boolean): Promise<void>;
  publish(message: Outgoing, key?: string): void;
  connectionState(): { state: ConnectionState; failure: Failure | null; queued: number };
}

/** What twin-link uses of Node-RED's mqtt-broker config node (node-red/nodes/core/network/10-mqtt.js). */
interface MqttBrokerNode extends Node {
  brokerurl?: string;
  clientid?: string;
  /** The id it connects with: clientid, or the one it made up when that is blank. */
  options?: { clientId?: unknown };
  connected?: boolean;
  register(user: { id: string; status(s: NodeStatus): void }): void;
  deregister(user: { id: string }, done: () => void, autoDisconnect?: boolean): void;
  subscribe(topic: string, options: { qos: number }, callback: (topic: string, payload: Buffer, packet: { retain?: boolean; qos?: number }) => void, ref: string): void;
  unsubscribe(topic: string, ref: string, removeClientSubscription?: boolean): void;
  publish(msg: { topic: string; payload: Buffer | string; qos: number; retain: boolean }, done?: (err?: unknown) => void): void;
}

interface TlsNode extends Node {
  addTLSOptions(options: TlsOptions): TlsOptions;
}

type WithCredentials = Node & { credentials?: { user?: string; password?: string } };

const DEFAULTS = { root: "twins", qos: 1, keepalive: 60, sessionExpiryHours: 24, queueLimit: 10000, stateIntervalMs: 1000 };
const STATUS_INTERVAL_MS = 1000;

export = function (RED: RED) {
  // ---- twin-link-broker ------------------------------------------------------------------------

  function TwinLinkBrokerNode(this: BrokerNode, config: BrokerConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-link.${key}`, params);
    const users = new Map<string, LinkUser>();
    /** Each link node's subscriptions, kept while it restarts, so a redeploy does not unsubscribe. */
    const known = new Map<string, Map<string, 0 | 1 | 2>>();
    let connection: LinkConnection | null = null;
    let ending: Promise<void> = Promise.resolve();

    node.name = config.name;
    node.url = String(config.url ?? "").trim();
    node.clientId = String(config.clientId ?? "").trim() || defaultClientId(node.id);
    node.problem = null;
    const protocolVersion = String(config.protocol) === "4" ? 4 : 5;
    const keepalive = whole(config.keepalive, DEFAULTS.keepalive);
    const sessionExpiryHours = number(config.sessionExpiry, DEFAULTS.sessionExpiryHours);
    const queueLimit = whole(config.queueLimit, DEFAULTS.queueLimit);
    const urlIssue = urlProblem(node.url);
    if (urlIssue) node.problem = t(`errors.url-${urlIssue}`, { url: node.url });
    else if (keepalive === null || keepalive > 65535) node.problem = t("errors.keepalive", { value: String(config.keepalive) });
    else if (sessionExpiryHours === null) node.problem = t("errors.session", { value: String(config.sessionExpiry) });
    else if (queueLimit === null) node.problem = t("errors.queue", { value: String(config.queueLimit) });

    function tlsOptions(): TlsOptions | undefined {
      if (!isSecure(node.url) || !config.tls) return undefined;
      const tlsNode = RED.nodes.getNode(config.tls) as TlsNode | null;
      return tlsNode && typeof tlsNode.addTLSOptions === "function" ? tlsNode.addTLSOptions({}) : undefined;
    }

    function wanted(): Map<string, 0 | 1 | 2> {
      const all = new Map<string, 0 | 1 | 2>();
      for (const subs of known.values()) {
        for (const [filter, qos] of subs) all.set(filter, Math.max(qos, all.get(filter) ?? 0) as 0 | 1 | 2);
      }
      return all;
    }

    function connect(): LinkConnection {
      const credentials = (node as WithCredentials).credentials ?? {};
      const conn = new LinkConnection(
        {
          url: node.url,
          clientId: node.clientId,
          username: credentials.user || undefined,
          password: credentials.password || undefined,
          protocolVersion,
          keepalive: keepalive as number,
          sessionExpiry: (sessionExpiryHours as number) * 3600,
          tls: tlsOptions(),
          queueLimit: queueLimit as number,
        },
        {
          onState: (state, failure) => {
            for (const user of users.values()) user.onState(state, failure);
          },
          onConnect: (info) => {
            for (const user of users.values()) user.onConnect(info);
          },
          onOverflow: () => {
            for (const user of users.values()) user.onOverflow();
          },
          onMessage: dispatch,
          onError: (err) => node.error(err instanceof Error ? err.message : String(err)),
        },
      );
      conn.setSubscriptions(wanted());
      // The connection of a previous deployment must be gone before its client id is reused;
      // meanwhile this one queues what is published.
      ending.then(() => conn.start());
      return conn;
    }

    /** Hands a message to the link nodes it is for; acknowledged once they all are done. */
    function dispatch(topic: string, payload: Buffer, retain: boolean, done: () => void, qos: 0 | 1 | 2): void {
      // No link node running (a redeploy): leave the message unacknowledged, so the broker
      // delivers it again when the session resumes, instead of losing it.
      if (users.size === 0) return;
      // Most messages are for one link node: no list and no countdown for them.
      let first: LinkUser | null = null;
      let handlers: LinkUser[] | null = null;
      for (const user of users.values()) {
        if (!user.accepts(topic)) continue;
        if (!first) first = user;
        else (handlers ??= [first]).push(user);
      }
      if (!first) return done(); // a subscription nobody uses any more
      if (!handlers) return first.handle(topic, payload, retain, done, qos);
      let waiting = handlers.length;
      const one = () => {
        if (--waiting === 0) done();
      };
      for (const user of handlers) user.handle(topic, payload, retain, one, qos);
    }

    node.register = (user: LinkUser) => {
      users.set(user.id, user);
      known.set(user.id, user.subscriptions());
      if (node.problem) return;
      if (!connection) connection = connect();
      else connection.setSubscriptions(wanted());
      user.onState(connection.state, connection.failure);
    };

    node.deregister = (user: LinkUser, removed: boolean) => {
      users.delete(user.id);
      if (removed) {
        known.delete(user.id);
        connection?.setSubscriptions(wanted());
      }
      if (users.size === 0 && connection) {
        const conn = connection;
        connection = null;
        ending = conn.end();
      }
      return ending;
    };

    node.publish = (message: Outgoing, key?: string) => {
      connection?.publish(message, key);
    };

    node.connectionState = () =>
      connection ? { state: connection.state, failure: connection.failure, queued: connection.queued } : { state: "connecting", failure: null, queued: 0 };

    node.on("close", (removed: boolean, done: () => void) => {
      users.clear();
      const conn = connection;
      connection = null;
      if (!conn) return void ending.then(() => done());
      conn.end({ removeSession: removed }).then(() => done());
    });
  }

  /**
   * A twin-link-broker's interface over a Node-RED mqtt-broker config node, so a flow that already
   * has one configures its broker once. What it cannot give (see the help): the mqtt-broker
   * acknowledges a message as it arrives, not once the twin's change is stored; it keeps no
   * persistent session or queue, so what is published while disconnected is lost (the link
   * publishes every retained state again on each connect instead).
   */
  function overMqttBroker(mqtt: MqttBrokerNode, ref: string): BrokerNode {
    const users = new Map<string, LinkUser>();
    const subscribed = new Map<string, 0 | 1 | 2>();
    let state: ConnectionState = "connecting";
    const watcher = {
      id: ref,
      // The mqtt-broker tells its users its state through their status.
      status(s: NodeStatus) {
        const next: ConnectionState = s && s.fill === "green" ? "connected" : s && s.fill === "red" ? "reconnecting" : "connecting";
        const was = state;
        state = next;
        for (const user of users.values()) {
          user.onState(next, null);
          if (next === "connected" && was !== "connected") user.onConnect({ sessionPresent: false, dropped: 0 });
        }
      },
    };
    function dispatch(topic: string, payload: Buffer, packet: { retain?: boolean; qos?: number }): void {
      // Unknown QoS: no cap, replies go at the link's own.
      const qos = packet && (packet.qos === 0 || packet.qos === 1) ? packet.qos : 2;
      for (const user of users.values()) if (user.accepts(topic)) user.handle(topic, payload, !!packet?.retain, noop, qos);
    }
    const shim = {
      problem: null,
      url: String(mqtt.brokerurl ?? ""),
      clientId: String(mqtt.clientid || mqtt.options?.clientId || ""),
      register(user: LinkUser) {
        users.set(user.id, user);
        for (const [filter, qos] of user.subscriptions()) {
          if (subscribed.has(filter)) continue;
          subscribed.set(filter, qos);
          mqtt.subscribe(filter, { qos }, dispatch, ref);
        }
        mqtt.register(watcher);
        if (mqtt.connected) watcher.status({ fill: "green", shape: "dot", text: "" });
        else user.onState(state, null);
      },
      deregister(user: LinkUser) {
        users.delete(user.id);
        for (const filter of subscribed.keys()) mqtt.unsubscribe(filter, ref, true);
        subscribed.clear();
        return new Promise<void>((resolve) => mqtt.deregister(watcher, () => resolve(), true));
      },
      publish(message: Outgoing) {
        if (!mqtt.connected) return; // republished on the next connect
        mqtt.publish({ topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain });
      },
      connectionState() {
        return { state, failure: null, queued: 0 };
      },
    };
    return shim as unknown as BrokerNode;
  }

  RED.nodes.registerType("twin-link-broker", TwinLinkBrokerNode, {
    credentials: { user: { type: "text" }, password: { type: "password" } },
  });

  // ---- twin-link -------------------------------------------------------------------------------

  function TwinLinkNode(this: Node, config: LinkConfig) {
    RED.nodes.createNode(this, config);
    whenRegistryOpen(this, findRegistry(RED, config.registry), () => startLink.call(this, config));
  }

  function startLink(this: Node, config: LinkConfig) {
    const node = this;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-link.${key}`, params);
    const registryNode = findRegistry(RED, config.registry);
    const useMqttBroker = config.connection === "mqtt-broker";
    const candidate = !useMqttBroker && config.broker ? (RED.nodes.getNode(config.broker) as BrokerNode | null) : null;
    const mqttCandidate = useMqttBroker && config.mqttBroker ? (RED.nodes.getNode(config.mqttBroker) as MqttBrokerNode | null) : null;
    const brokerNode =
      candidate && candidate.type === "twin-link-broker"
        ? candidate
        : mqttCandidate && mqttCandidate.type === "mqtt-broker" && typeof mqttCandidate.subscribe === "function"
          ? overMqttBroker(mqttCandidate, node.id)
          : null;
    let problem: string | null = null;
    let link: DeviceLink | null = null;
    let registry: TwinRegistry | null = null;
    let topics: LinkTopics | null = null;
    let handled = 0;
    let rejected = 0;
    let lastStatus = "";
    /** The failure last told in the log, so a retry does not say it again. */
    let told = "";
    let closed = false;

    const root = typeof config.root === "string" && config.root.trim() !== "" ? config.root.trim() : DEFAULTS.root;
    const group = typeof config.group === "string" ? config.group.trim() : "";
    const qos = config.qos === undefined || config.qos === "" ? DEFAULTS.qos : Number(config.qos);
    const stateMode: StateMode = config.state === "reported" || config.state === "off" ? config.state : "document";
    const replies: ReplyMode = config.replies === "errors" ? "errors" : "all";
    const interval = number(config.stateInterval, DEFAULTS.stateIntervalMs);
    const model = typeof config.model === "string" ? config.model.trim() : "";

    function describe(err: unknown): { code: string; message: string } {
      const e = (registryNode ? registryNode.describe(err) : err) as Error & { code?: unknown };
      return { code: typeof e.code === "string" ? e.code : "error", message: e instanceof Error ? e.message : String(e) };
    }

    try {
      if (!registryNode) throw new Error(t("errors.no-registry"));
      if (!brokerNode) throw new Error(t("errors.no-broker"));
      const rootIssue = rootProblem(root);
      if (rootIssue) throw new Error(t(`errors.root-${rootIssue}`, { root }));
      if (group && !isGroupName(group)) throw new Error(t("errors.group", { group }));
      if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(t("errors.qos", { value: String(config.qos) }));
      if (interval === null) throw new Error(t("errors.interval", { value: String(config.stateInterval) }));
      registry = registryNode.use();
      if (config.unknown === "create" && model && !registry.models.has(model)) {
        throw new Error(t("errors.model", { model, known: [...registry.models.keys()].join(", ") || "-" }));
      }
      topics = new LinkTopics(root);
      if (brokerNode.problem) throw new Error(brokerNode.problem);
    } catch (err) {
      problem = describe(err).message;
    }

    const user: LinkUser = {
      id: node.id,
      subscriptions: () => new Map((topics as LinkTopics).subscriptions(group || null).map((s) => [s.filter, qos as 0 | 1 | 2])),
      accepts: (topic) => !!link && link.accepts(topic),
      handle: (topic, payload, retain, done, requestQos) => {
        if (!link) return done();
        link.handle(topic, payload, retain, done, requestQos);
      },
      onState: (state, failure) => {
        if (closed) return;
        showStatus();
        if (state === "connected" && told !== "connected") node.log(t("log.connected", { url: brokerNode!.url, clientId: brokerNode!.clientId }));
        if (state === "connected") told = "connected";
        // A connection can end with no error (the broker closed it): the next one is news again.
        else if (told === "connected") told = "";
        if (!failure || told === `${failure.kind}|${failure.code}`) return;
        told = `${failure.kind}|${failure.code}`;
        const params = { url: brokerNode!.url, clientId: brokerNode!.clientId, code: failure.code, detail: failure.detail };
        // An unreachable broker is a warning (it is retried); refusals need someone to act.
        if (failure.kind === "network") node.warn(t("failure.network", params));
        else node.error(t(`failure.${failure.kind}`, params));
      },
      onConnect: (info) => {
        if (closed || !link) return;
        if (info.dropped > 0) node.warn(t("log.dropped", { count: info.dropped }));
        // The broker lost our session (a first start, or a broker without persistence) or we
        // dropped messages: its retained states may be missing or old.
        if (!info.sessionPresent || info.dropped > 0) link.republishAll();
      },
      onOverflow: () => {
        if (!closed) node.warn(t("log.overflow"));
      },
    };

    function statusOf(): NodeStatus {
      if (problem) return { fill: "red", shape: "ring", text: t(registryNode && brokerNode ? "status.config" : !registryNode ? "status.no-registry" : "status.no-broker") };
      if (registry && !registry.health().ok) return { fill: "red", shape: "ring", text: t("status.store-error") };
      const { state, failure } = brokerNode!.connectionState();
      if (failure && failure.kind !== "network") return { fill: "red", shape: "ring", text: t(`status.${failure.kind}`) };
      if (state === "connected") {
        if (handled === 0 && rejected === 0) return { fill: "green", shape: "dot", text: t("status.connected") };
        return { fill: "green", shape: "dot", text: t(rejected ? "status.rate-rejected" : "status.rate", { rate: handled, rejected }) };
      }
      return { fill: "yellow", shape: "ring", text: t(state === "reconnecting" ? "status.reconnecting" : "status.connecting") };
    }

    function showStatus(): void {
      const status = statusOf();
      const key = `${status.fill}|${status.shape}|${status.text}`;
      if (key !== lastStatus) {
        lastStatus = key;
        node.status(status);
      }
    }

    const statusTimer = setInterval(() => {
      showStatus();
      handled = rejected = 0;
    }, STATUS_INTERVAL_MS);

    if (problem) {
      node.error(problem);
    } else {
      link = new DeviceLink({
        registry: registry as TwinRegistry,
        topics: topics as LinkTopics,
        publish: (topic, payload, retain, key, atMost) =>
          brokerNode!.publish({ topic, payload, qos: atMost === undefined || atMost > qos ? (qos as 0 | 1 | 2) : atMost, retain }, key),
        create: config.unknown === "create" ? { model: model || null } : undefined,
        state: stateMode,
        stateIntervalMs: interval as number,
        replies,
        describe,
        onHandled: (_kind: RequestKind) => {
          handled++;
        },
        onRejected: (r: Rejection) => {
          rejected++;
          node.send({ topic: r.topic, twinId: r.twinId, payload: r });
        },
        onError: (err) => node.error(describe(err).message),
      });
      link.start();
      brokerNode!.register(user);
    }
    showStatus();

    node.on("close", (removed: boolean, done: () => void) => {
      closed = true;
      clearInterval(statusTimer);
      link?.close();
      link = null;
      node.status({});
      if (!brokerNode || problem) return done();
      brokerNode.deregister(user, removed).then(() => done(), () => done());
    });
  }

  RED.nodes.registerType("twin-link", TwinLinkNode);
};

function noop(): void {}

/**
 * The client id of a persistent session must stay the same across restarts, and differ between
 * Node-RED instances running the same flow: the host name and the config node's id.
 */
function defaultClientId(nodeId: string): string {
  const host = os.hostname().replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 32) || "node-red";
  return `twinwire-${host}-${nodeId}`;
}

/** A non-negative number from an editor field, the default when blank, null when invalid. */
function number(value: unknown, fallback: number): number | null {
  if (value === undefined || value === null || value === "") return fallback;
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

function whole(value: unknown, fallback: number): number | null {
  const n = number(value, fallback);
  return n !== null && Number.isInteger(n) ? n : null;
}
