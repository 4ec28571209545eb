/**
 * `twin-predict` node: streaming forecast, anomaly score, drift and time to threshold per twin
 * property. A thin adapter over the core PredictEngine (src/core/predict/engine.ts), a registry
 * follower: this file reads messages into readings, turns what the engine causes into messages,
 * and sends them once the registry says the predictions behind them are durable.
 */
import { TwinError, isTwinError, showValue } from "../core/errors";
import { checkPropertyName } from "../core/names";
import { PredictConfig, readConfig } from "../core/predict/options";
import { AlertOut, PredictEffects, PredictEngine, PredictReading } from "../core/predict/engine";
import { Node, NodeDef, NodeMessage, NodeStatus, RED, Send, Done } from "../runtime/red";
import { findRegistry, failWith, onInput } from "../runtime/registry-node";
import { atMostEvery } from "../runtime/rate-limit";
import { FollowerNode } from "./follower-node";

/** A reading older than the last (a device's clock set back) is warned of at most this often. */
const OLDER_WARN_MS = 60000;

/** What the engine causes outside the node's inputs: output 1 predictions, output 2 alerts. */
interface Box { predictions: NodeMessage[]; alerts: NodeMessage[] }

export = function (RED: RED) {
  function TwinPredictNode(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-predict.${key}`, params);
    const registryNode = findRegistry(RED, config.registry);
    const describe = (err: unknown): Error => (registryNode ? registryNode.describe(err) : err instanceof Error ? err : new Error(String(err)));

    let settings: PredictConfig | null = null;
    let problem: string | null = null;
    try {
      settings = readConfig(config);
    } catch (err) {
      problem = optionError(err).message;
    }
    // An old flow's settings that no longer do anything: said once, at deploy, with what replaces them.
    for (const s of settings ? settings.superseded : []) node.warn(t(`superseded.${s.option}`, { value: String(s.value) }));

    // Once a minute at most: a device whose clock went back sends every reading older than the last.
    const older = atMostEvery(OLDER_WARN_MS, (count, _now, twinId: string, property: string, ts: number, last: number) =>
      node.warn(t("warn.older", { twinId, property, ts: new Date(ts).toISOString(), last: new Date(last).toISOString(), count })),
    );

    const follow = new FollowerNode<PredictEngine, Box>({
      node, registryNode, problem, t, describe,
      create: (registry) =>
        new PredictEngine(registry, {
          config: settings as PredictConfig, // set whenever there is no problem, and only then does it start
          notANumber: t("rules.not-a-number"),
          emit: (effects) => {
            const box = follow.box();
            if (!box) return;
            box.predictions.push(...predictionMessages(effects, null));
            box.alerts.push(...effects.alerts.map(alertMessage));
          },
          onError: (err, event) => node.error(describe(err), { topic: `${event.twinId}/reported`, twinId: event.twinId, payload: event }),
          onChange: () => follow.statusChanged(),
          onOlder: older,
        }),
      emptyBox: () => ({ predictions: [], alerts: [] }),
      hasAny: (box) => box.predictions.length > 0 || box.alerts.length > 0,
      // An alert leaves once the state behind it is written: batched acknowledges before its
      // write, and an alert sent then and lost in a crash with that state was announced again
      // after the restart (a second end of an episode, a second drift).
      written: (box) => box.alerts.length > 0,
      send: (box) => node.send([box.predictions, box.alerts] as unknown as NodeMessage[]),
      status: (engine, registry): NodeStatus => {
        if (!registry.health().ok) return { fill: "red", shape: "ring", text: t("status.store-error") };
        const { tracked, anomalous, warned } = engine.counts();
        if (anomalous) return { fill: "yellow", shape: "dot", text: t("status.anomalies", { count: anomalous }) };
        if (warned) return { fill: "yellow", shape: "ring", text: t("status.warnings", { count: warned }) };
        if (tracked) return { fill: "green", shape: "dot", text: t("status.predicting", { count: tracked }) };
        return { fill: "green", shape: "ring", text: t(engine.config.watch ? "status.watching" : "status.ready") };
      },
    });

    // ---- messages ----------------------------------------------------------------------------

    /** The readings a message carries, or null when it carries nothing for this node. */
    function fromMessage(engine: PredictEngine, msg: NodeMessage): PredictReading[] | null {
      const payload = msg.payload as Record<string, unknown> | null | undefined;
      if (isChangeEvent(payload)) {
        if (payload.section !== "reported") return null;
        const twinId = typeof payload.twinId === "string" ? payload.twinId : msg.twinId;
        if (typeof twinId !== "string" || !twinId) throw new Error(t("errors.no-twin"));
        return engine.wantsTwin(twinId) ? engine.readingsOf(twinId, payload.changes) : null;
      }
      const twinId = msg.twinId;
      if (typeof twinId !== "string" || !twinId) throw new Error(t("errors.no-twin"));
      if (!engine.wantsTwin(twinId)) return null;
      const ts = readingTime(twinId, msg.ts);
      if (payload && typeof payload === "object" && !Array.isArray(payload) && !Buffer.isBuffer(payload)) {
        const changes: Record<string, unknown> = Object.create(null);
        for (const property of Object.keys(payload)) changes[property] = { value: payload[property], ts };
        return engine.readingsOf(twinId, changes);
      }
      let property: string;
      if (typeof msg.property === "string" && msg.property) property = checkPropertyName(twinId, msg.property);
      else if (engine.onlyProperty !== null) property = engine.onlyProperty;
      else throw new Error(t("errors.no-property", { twinId }));
      if (!engine.wantsProperty(property)) return null;
      if (typeof payload === "number" && Number.isFinite(payload)) return [{ twinId, property, value: payload, ts }];
      throw new TwinError("invalid-reading", { twinId, property, value: showValue(payload), rule: t("rules.not-a-number") });
    }

    /** Output 1: one message per prediction; the first one reuses the input message when there is one. */
    function predictionMessages(effects: PredictEffects, msg: NodeMessage | null): NodeMessage[] {
      return effects.predictions.map((p, i) => {
        const m: NodeMessage = msg ? (i === 0 ? msg : { ...msg }) : {};
        m.topic = `${p.twinId}/${p.property}`;
        m.twinId = p.twinId;
        m.property = p.property;
        m.payload = p;
        return m;
      });
    }

    function alertMessage({ twinId, property, alert: a }: AlertOut): NodeMessage {
      const params: Record<string, unknown> = { ...a, twinId, property };
      // Model values to four significant digits for people (the payload keeps them whole).
      for (const name of ["expected", "from", "to"]) if (typeof params[name] === "number") params[name] = Number((params[name] as number).toPrecision(4));
      let kind: string = a.type === "drift" ? `drift-${a.direction}` : `${a.type}-${a.state}`;
      if (a.type === "anomaly" && a.state === "start" && a.reason) kind = `anomaly-${a.reason}`;
      if (a.type === "threshold") {
        params.time = a.timeToThreshold === null ? "-" : duration(a.timeToThreshold);
        if (a.state === "start" && a.timeToThreshold === 0) kind = "threshold-past";
      }
      if (a.type === "anomaly" && a.state === "end") params.time = duration(a.duration);
      const text = t(`alerts.${kind}`, params);
      return { topic: `${twinId}/${property}/${a.type}`, twinId, property, payload: { ...a, twinId, property, text } };
    }

    function duration(seconds: number): string {
      if (seconds <= 0) return t("time.now");
      if (seconds < 90) return t("time.seconds", { n: Math.round(seconds) });
      if (seconds < 3600) return t("time.minutes", { n: Math.max(1, Math.round(seconds / 60)) });
      if (seconds < 2 * 86400) return t("time.hours", { n: Math.round((seconds / 3600) * 10) / 10 });
      return t("time.days", { n: Math.round((seconds / 86400) * 10) / 10 });
    }

    // ---- input -------------------------------------------------------------------------------

    onInput(RED, node, (msg: NodeMessage, send: Send, done: Done) => {
      let effects: PredictEffects;
      try {
        const { follower: engine } = follow.use();
        const readings = fromMessage(engine, msg);
        if (!readings || !readings.length) return done();
        effects = engine.apply(readings);
      } catch (err) {
        return failWith(msg, done, describe(err));
      }
      follow.afterDurable(msg, done, () => {
        const predictions = predictionMessages(effects, msg);
        const alerts = effects.alerts.map(alertMessage);
        if (predictions.length || alerts.length) send([predictions, alerts] as unknown as NodeMessage[]);
        done();
      }, effects.alerts.length > 0);
    });

    node.on("close", (_removed: boolean, done: () => void) => {
      follow.close();
      node.status({});
      done();
    });

    follow.begin();

    /** A bad setting in words from this node's catalog. */
    function optionError(err: unknown): Error {
      if (isTwinError(err) && err.code === "invalid-option") {
        return new Error(t(`errors.option.${err.params.option}`, { value: err.params.value }));
      }
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  RED.nodes.registerType("twin-predict", TwinPredictNode);
};

function isChangeEvent(p: unknown): p is { twinId?: unknown; section: string; changes: unknown } {
  return !!p && typeof p === "object" && !Array.isArray(p) && typeof (p as { section?: unknown }).section === "string" && "changes" in (p as object);
}

function readingTime(twinId: string, ts: unknown): number {
  if (ts === undefined || ts === null) return Date.now();
  if (typeof ts !== "number" || !Number.isFinite(ts) || ts < 0) throw new TwinError("invalid-time", { twinId, value: showValue(ts), rule: "epoch ms" });
  return ts;
}
