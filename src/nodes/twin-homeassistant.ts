/**
 * `twin-homeassistant` node: every twin of a registry appears in Home Assistant through MQTT
 * discovery, on a broker the user already configured (Node-RED's `mqtt-broker` config node). A
 * thin adapter over the core HomeAssistantBridge (src/core/homeassistant/bridge.ts): this file
 * reads the settings, publishes what the bridge gives it once durable, feeds it HA's commands
 * and birth messages, and re-announces everything when the broker connection comes back.
 */
import { isTwinError, showValue } from "../core/errors";
import { compileGlob } from "../core/glob";
import { HA_DEFAULTS, HaOptions, checkHaOptions, checkTopicPrefix, commandFilter, parseCommandTopic, bridgeTopic } from "../core/homeassistant/discovery";
import { HomeAssistantBridge, Publication } from "../core/homeassistant/bridge";
import { Node, NodeDef, NodeStatus, RED } from "../runtime/red";
import { findRegistry } from "../runtime/registry-node";
import { FollowerNode } from "./follower-node";

/** What this node uses of Node-RED's `mqtt-broker` config node (core 10-mqtt.js). */
interface BrokerNode extends Node {
  connected: boolean;
  register(user: Node): void;
  deregister(user: Node, done: () => void, autoDisconnect?: boolean): void;
  subscribe(topic: string, options: { qos: 0 | 1 | 2 }, callback: (topic: string, payload: Buffer) => void, ref: string): void;
  unsubscribe(topic: string, ref: string, removeClientSubscription?: boolean): void;
  publish(msg: { topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean }, done?: (err?: unknown) => void): void;
}

/** How often the connection is looked at: a reconnect re-announces every twin. */
const CONNECTION_CHECK_MS = 1000;
const ORIGIN = { name: "Twinwire", support_url: "https://github.com/twinwire/node-red-twins" };

export = function (RED: RED) {
  function TwinHomeAssistantNode(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-homeassistant.${key}`, params);
    const registryNode = findRegistry(RED, config.registry);
    const describe = (err: unknown): Error => (registryNode ? registryNode.describe(err) : err instanceof Error ? err : new Error(String(err)));
    const brokerConfig = RED.nodes.getNode(typeof config.broker === "string" ? config.broker : "") as BrokerNode | null;
    const broker = brokerConfig && brokerConfig.type === "mqtt-broker" ? brokerConfig : null;

    let ha: HaOptions | null = null;
    let handles: (twinId: string) => boolean = () => true;
    let stateIntervalMs = 1000;
    let problem: string | null = null;
    try {
      ha = checkHaOptions({
        prefix: checkTopicPrefix("prefix", blank(config.prefix) ? HA_DEFAULTS.prefix : config.prefix),
        base: checkTopicPrefix("base", blank(config.base) ? HA_DEFAULTS.base : config.base),
        id: blank(config.haId) ? HA_DEFAULTS.id : String(config.haId).trim(),
        origin: { ...ORIGIN, sw_version: packageVersion() },
      });
      if (!blank(config.twinIds)) {
        const matcher = compileGlob(String(config.twinIds));
        if (!matcher) throw new Error(t("errors.twinIds", { value: String(config.twinIds) }));
        handles = matcher;
      }
      const seconds = blank(config.stateInterval) ? 1 : Number(config.stateInterval);
      if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) throw new Error(t("errors.stateInterval", { value: showValue(config.stateInterval) }));
      stateIntervalMs = seconds * 1000;
      if (!broker) throw new Error(t("errors.no-broker"));
    } catch (err) {
      problem = isTwinError(err) && err.code === "invalid-option" ? t(`errors.${String(err.params.option)}`, { value: err.params.value }) : (err as Error).message;
    }

    let missed = false;
    const publish = (box: Publication[]): void => {
      if (!broker || !broker.connected) {
        missed = true; // published again in full when the connection is back
        return;
      }
      for (const p of box) {
        broker.publish({ topic: p.topic, payload: p.payload, qos: 1, retain: p.retain }, (err) => {
          if (err) node.error(t("errors.publish", { topic: p.topic, error: String((err as Error)?.message ?? err) }));
        });
      }
    };

    const follow = new FollowerNode<HomeAssistantBridge, Publication[]>({
      node, registryNode, problem, t, describe,
      create: (registry) =>
        new HomeAssistantBridge(registry, {
          ha: ha as HaOptions, // set whenever there is no problem, and only then does it start
          handles,
          stateIntervalMs,
          emit: (publications) => follow.box()?.push(...publications),
          onError: (err) => node.error(describe(err)),
          onChange: () => follow.statusChanged(),
        }),
      emptyBox: () => [],
      hasAny: (box) => box.length > 0,
      send: publish,
      status: (bridge, registry): NodeStatus => {
        if (!registry.health().ok) return { fill: "red", shape: "ring", text: t("status.store-error") };
        if (!broker?.connected) return { fill: "yellow", shape: "ring", text: t("status.disconnected") };
        return { fill: "green", shape: "dot", text: t(bridge.size === 1 ? "status.one" : "status.twins", { count: bridge.size }) };
      },
    });

    let watcher: NodeJS.Timeout | null = null;
    if (broker && ha && problem === null) {
      const o = ha;
      broker.register(node);
      broker.subscribe(commandFilter(o), { qos: 1 }, (topic, payload) => onCommand(o, topic, payload), node.id);
      // Every retained discovery config: this bridge's that no twin stands for any more are cleared.
      broker.subscribe(configFilter(o), { qos: 1 }, (topic, payload) => follow.follower?.noticeConfig(topic, payload.toString("utf8")), node.id);
      broker.subscribe(`${o.prefix}/status`, { qos: 1 }, (_topic, payload) => {
        // Home Assistant's birth message: it (re)started and wants every config again.
        if (String(payload) === "online") follow.follower?.announceAll();
      }, node.id);
      let wasConnected = broker.connected;
      watcher = setInterval(() => {
        const now = broker.connected;
        if (now && (!wasConnected || missed)) {
          missed = false;
          follow.follower?.announceAll();
        }
        if (now !== wasConnected) follow.statusChanged();
        wasConnected = now;
      }, CONNECTION_CHECK_MS);
    }

    function onCommand(o: HaOptions, topic: string, payload: Buffer): void {
      const target = parseCommandTopic(o, topic);
      if (!target) return;
      const text = payload.toString("utf8");
      try {
        const { follower: bridge } = follow.use();
        bridge.command(target.twinId, target.property, text);
      } catch (err) {
        node.error(describe(err), { topic, twinId: target.twinId, property: target.property, payload: text });
      }
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      if (watcher) clearInterval(watcher);
      watcher = null;
      // On a registry shared with other live instances, their bridges go on serving every twin:
      // this one leaving must not make HA mark every entity unavailable.
      let peers = 0;
      try {
        peers = follow.use().registry.store.peers?.() ?? 0;
      } catch {
        // never started (no registry, still connecting): nobody else to speak for
      }
      follow.close();
      if (!broker || !ha || problem !== null) return done();
      const o = ha;
      broker.unsubscribe(commandFilter(o), node.id, true);
      broker.unsubscribe(`${o.prefix}/status`, node.id, true);
      broker.unsubscribe(configFilter(o), node.id, true);
      const leave = () => broker.deregister(node, done, true);
      // HA marks every entity unavailable; a crash leaves "online" (the broker's Will can say otherwise: see the help).
      if (broker.connected && peers === 0) broker.publish({ topic: bridgeTopic(o), payload: "offline", qos: 1, retain: true }, leave);
      else leave();
    });

    follow.begin();
  }

  RED.nodes.registerType("twin-homeassistant", TwinHomeAssistantNode);
};

function blank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "string" && v.trim() === "");
}

function configFilter(o: HaOptions): string {
  return `${o.prefix}/+/+/+/config`;
}

function packageVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return String(require("../../../package.json").version);
  } catch {
    return "";
  }
}
