/**
 * `twin-predict` node: streaming forecast, anomaly score, drift and time to threshold per twin
 * property. Readings come in as messages (twin-sensor's change events, or {twinId, payload})
 * and/or from the registry's reported changes ("watch the registry"). Each (twin, property) has
 * a core Predictor (src/core/predict); its prediction and state go to the twin in one journal
 * entry (registry.setPrediction), so a restart continues the learning where it stopped.
 */
import { TwinError, isTwinError, showValue } from "../core/errors";
import { Json } from "../core/json";
import { ChangeEvent, TwinRegistry } from "../core/registry";
import { checkPropertyName } from "../core/names";
import { globMatch } from "../core/glob";
import { PredictConfig, readConfig } from "../core/predict/options";
import { Alert, Prediction, Predictor } from "../core/predict/predictor";
import { Node, NodeDef, NodeMessage, RED, Send, Done } from "../runtime/red";
import { findRegistry, failWith, onInput } from "../runtime/registry-node";

/** Without a publication, a predictor's state is still saved this often (reading time), and on close. */
const SAVE_EVERY_MS = 60 * 1000;

interface Reading { twinId: string; property: string; value: number; ts: number }

/** One (twin, property) being predicted. */
interface Tracked {
  predictor: Predictor;
  /** What was last written to the twin and sent, for the step option. */
  published: Prediction | null;
  /** Reading time of the last save, and whether the state moved on since. */
  savedAt: number;
  dirty: boolean;
}

export = function (RED: RED) {
  function TwinPredictNode(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const t = (key: string, params?: Record<string, unknown>) => RED._(`twin-predict.${key}`, params);
    const registryNode = findRegistry(RED, config.registry);

    let settings: PredictConfig | null = null;
    let configError: Error | null = null;
    try {
      settings = readConfig(config);
    } catch (err) {
      configError = optionError(err);
      node.error(configError);
    }
    const explicit = new Set(settings?.properties ?? []);

    const tracked = new Map<string, Map<string, Tracked>>();
    const anomalous = new Set<string>();
    const warned = new Set<string>();
    let closed = false;

    // ---- registry ----------------------------------------------------------------------------
    let registry: TwinRegistry | null = null;
    let registryError: Error | null = null;
    let unsubscribe: (() => void) | null = null;
    if (registryNode && settings) {
      try {
        registry = registryNode.use();
      } catch (err) {
        registryError = registryNode.describe(err);
        node.error(registryError);
      }
    }
    if (registry) {
      const pending: ChangeEvent[] = [];
      unsubscribe = registry.subscribe((event) => {
        if (event.section === "twin" && event.op === "deleted") return forget(event.twinId);
        if (!settings?.watch || event.section !== "reported" || !twinWanted(event.twinId)) return;
        // Handled after the writer's change is complete, never inside it.
        if (pending.push(event) === 1) queueMicrotask(() => drain(pending));
      });
    }

    function drain(queue: ChangeEvent[]): void {
      const events = queue.splice(0);
      if (closed || !registry) return;
      for (const event of events) {
        try {
          const readings = fromChanges(event.twinId, event.changes);
          if (!readings.length) continue;
          const out = apply(registry, readings);
          const predictions = out.predictions.map((p) => ({ topic: `${p.twinId}/${p.property}`, twinId: p.twinId, property: p.property, payload: p }));
          if (predictions.length || out.alerts.length) node.send([predictions, out.alerts] as unknown as NodeMessage[]);
        } catch (err) {
          node.error(registryNode ? registryNode.describe(err) : err, { topic: `${event.twinId}/reported`, twinId: event.twinId, payload: event });
        }
      }
    }

    function forget(twinId: string): void {
      const props = tracked.get(twinId);
      if (!props) return;
      for (const property of props.keys()) {
        anomalous.delete(key(twinId, property));
        warned.delete(key(twinId, property));
      }
      tracked.delete(twinId);
    }

    function twinWanted(twinId: string): boolean {
      const globs = settings?.twinIds ?? [];
      return globs.length === 0 || globs.some((g) => globMatch(g, twinId));
    }

    function propertyWanted(property: string): boolean {
      return explicit.size === 0 || explicit.has(property);
    }

    // ---- readings ----------------------------------------------------------------------------

    /** Readings of wanted properties in a change's `changes`; throws on a non-number for a named property. */
    function fromChanges(twinId: string, changes: unknown): Reading[] {
      if (!changes || typeof changes !== "object" || Array.isArray(changes)) {
        throw new TwinError("invalid-reading", { twinId, property: "changes", value: showValue(changes), rule: "not an object" });
      }
      const out: Reading[] = [];
      const c = changes as Record<string, unknown>;
      for (const property of Object.keys(c)) {
        if (!propertyWanted(property)) continue;
        const change = c[property] as { value?: unknown; ts?: unknown } | null;
        const value = change && typeof change === "object" ? change.value : change;
        const ts = change && typeof change === "object" && typeof change.ts === "number" && Number.isFinite(change.ts) ? change.ts : Date.now();
        const reading = numeric(twinId, property, value, ts);
        if (reading) out.push(reading);
      }
      return out;
    }

    /** A reading, null to skip (a non-number of a property nobody named), or an error naming twin and property. */
    function numeric(twinId: string, property: string, value: unknown, ts: number): Reading | null {
      if (typeof value === "number" && Number.isFinite(value)) return { twinId, property, value, ts };
      if (!explicit.has(property)) return null;
      throw new TwinError("invalid-reading", { twinId, property, value: showValue(value), rule: t("rules.not-a-number") });
    }

    /** The readings a message carries, or null when it carries nothing for this node. */
    function fromMessage(msg: NodeMessage): Reading[] | null {
      const payload = msg.payload as Record<string, unknown> | null | undefined;
      if (isChangeEvent(payload)) {
        if (payload.section !== "reported") return null;
        const twinId = typeof payload.twinId === "string" ? payload.twinId : msg.twinId;
        if (typeof twinId !== "string" || !twinId) throw new Error(t("errors.no-twin"));
        return twinWanted(twinId) ? fromChanges(twinId, payload.changes) : null;
      }
      const twinId = msg.twinId;
      if (typeof twinId !== "string" || !twinId) throw new Error(t("errors.no-twin"));
      if (!twinWanted(twinId)) return null;
      const ts = readingTime(twinId, msg.ts);
      if (payload && typeof payload === "object" && !Array.isArray(payload) && !Buffer.isBuffer(payload)) {
        const changes: Record<string, unknown> = Object.create(null);
        for (const property of Object.keys(payload)) changes[property] = { value: payload[property], ts };
        return fromChanges(twinId, changes);
      }
      let property: string;
      if (typeof msg.property === "string" && msg.property) property = checkPropertyName(twinId, msg.property);
      else if (explicit.size === 1) property = [...explicit][0];
      else throw new Error(t("errors.no-property", { twinId }));
      if (!propertyWanted(property)) return null;
      if (typeof payload === "number" && Number.isFinite(payload)) return [{ twinId, property, value: payload, ts }];
      throw new TwinError("invalid-reading", { twinId, property, value: showValue(payload), rule: t("rules.not-a-number") });
    }

    // ---- prediction --------------------------------------------------------------------------

    function trackedFor(reg: TwinRegistry, twinId: string, property: string): Tracked {
      let props = tracked.get(twinId);
      if (!props) tracked.set(twinId, (props = new Map()));
      let entry = props.get(property);
      if (!entry) {
        const state = reg.getState(twinId, stateKey(property));
        const { predictor } = Predictor.restore((settings as PredictConfig).options, state);
        const stored = reg.twin(twinId)?.predictions?.get(property);
        entry = { predictor, published: isPrediction(stored) ? (stored as unknown as Prediction) : null, savedAt: predictor.lastTime ?? -Infinity, dirty: false };
        props.set(property, entry);
      }
      return entry;
    }

    /** Updates the predictors of every reading (checked first, so a bad message changes nothing). */
    function apply(reg: TwinRegistry, readings: Reading[]): { predictions: Array<Prediction & { twinId: string; property: string; value: number }>; alerts: NodeMessage[] } {
      for (const r of readings) if (!reg.has(r.twinId)) throw new TwinError("not-found", { twinId: r.twinId });
      const predictions: Array<Prediction & { twinId: string; property: string; value: number }> = [];
      const alerts: NodeMessage[] = [];
      const step = (settings as PredictConfig).step;
      for (const r of readings) {
        const entry = trackedFor(reg, r.twinId, r.property);
        const out = entry.predictor.update(r.ts, r.value);
        if (!out) continue; // not newer than the last reading
        const p = out.prediction;
        const k = key(r.twinId, r.property);
        mark(anomalous, k, entry.predictor.anomalous);
        mark(warned, k, entry.predictor.warned);
        const last = entry.published;
        const publish = step === 0 || !last || out.alerts.length > 0 || Math.abs(p.forecast - last.forecast) >= step ||
          p.anomaly !== last.anomaly || (p.timeToThreshold === null) !== (last.timeToThreshold === null);
        if (publish) {
          // The estimator state (up to 2 KB for linear) goes with a prediction at most once a
          // minute of readings, and on close: a crash costs at most a minute of learning.
          const save = r.ts - entry.savedAt >= SAVE_EVERY_MS || out.alerts.length > 0 || !last;
          reg.setPrediction(r.twinId, r.property, p as unknown as Json, save ? { [stateKey(r.property)]: entry.predictor.toJSON() } : undefined);
          entry.published = p;
          if (save) entry.savedAt = r.ts;
          entry.dirty = !save;
          predictions.push({ ...p, twinId: r.twinId, property: r.property, value: r.value });
        } else if (r.ts - entry.savedAt >= SAVE_EVERY_MS) {
          reg.setState(r.twinId, stateKey(r.property), entry.predictor.toJSON());
          entry.savedAt = r.ts;
          entry.dirty = false;
        } else {
          entry.dirty = true;
        }
        for (const a of out.alerts) alerts.push(alertMessage(r, a));
      }
      return { predictions, alerts };
    }

    function alertMessage(r: Reading, a: Alert): NodeMessage {
      const params: Record<string, unknown> = { ...a, twinId: r.twinId, property: r.property };
      // Model values to four significant digits for people (the payload keeps them whole).
      for (const name of ["expected", "from", "to"]) if (typeof params[name] === "number") params[name] = Number((params[name] as number).toPrecision(4));
      let kind: string = a.type === "drift" ? `drift-${a.direction}` : `${a.type}-${a.state}`;
      if (a.type === "threshold") {
        params.time = a.timeToThreshold === null ? "-" : duration(a.timeToThreshold);
        if (a.state === "start" && a.timeToThreshold === 0) kind = "threshold-past";
      }
      if (a.type === "anomaly" && a.state === "end") params.time = duration(a.duration);
      const text = t(`alerts.${kind}`, params);
      return { topic: `${r.twinId}/${r.property}/${a.type}`, twinId: r.twinId, property: r.property, payload: { ...a, twinId: r.twinId, property: r.property, text } };
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
      const fail = (err: unknown) => failWith(msg, done, registryNode ? registryNode.describe(err) : (err as Error));
      if (configError) return fail(configError);
      if (!registryNode) return fail(new Error(t("errors.no-registry")));
      if (!registry) return fail(registryError ?? new Error(t("errors.no-registry")));
      const reg = registry;
      let out: ReturnType<typeof apply>;
      try {
        const readings = fromMessage(msg);
        if (!readings || !readings.length) return done();
        out = apply(reg, readings);
      } catch (err) {
        return fail(err);
      }
      reg.whenDurable((err) => {
        if (err) return fail(err);
        const predictions = out.predictions.map((p, i) => {
          const m: NodeMessage = i === 0 ? msg : { ...msg };
          m.topic = `${p.twinId}/${p.property}`;
          m.twinId = p.twinId;
          m.property = p.property;
          m.payload = p;
          return m;
        });
        if (predictions.length || out.alerts.length) send([predictions, out.alerts] as unknown as NodeMessage[]);
        done();
      });
    });

    // ---- status ------------------------------------------------------------------------------
    let shown = "";
    const showStatus = (): void => {
      let s: { fill: "red" | "yellow" | "green"; shape: "ring" | "dot"; text: string };
      if (configError) s = { fill: "red", shape: "ring", text: t("status.config-error") };
      else if (!registryNode) s = { fill: "red", shape: "ring", text: t("status.no-registry") };
      else if (!registry || !registry.health().ok) s = { fill: "red", shape: "ring", text: t("status.store-error") };
      else if (anomalous.size) s = { fill: "yellow", shape: "dot", text: t("status.anomalies", { count: anomalous.size }) };
      else if (warned.size) s = { fill: "yellow", shape: "ring", text: t("status.warnings", { count: warned.size }) };
      else if (tracked.size) s = { fill: "green", shape: "dot", text: t("status.predicting", { count: countTracked() }) };
      else s = { fill: "green", shape: "ring", text: t(settings?.watch ? "status.watching" : "status.ready") };
      const id = `${s.fill}/${s.shape}/${s.text}`;
      if (id === shown) return;
      shown = id;
      node.status(s);
    };
    const statusTimer = setInterval(showStatus, 1000);
    showStatus();

    function countTracked(): number {
      let n = 0;
      for (const props of tracked.values()) n += props.size;
      return n;
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      closed = true;
      clearInterval(statusTimer);
      unsubscribe?.();
      // Save what was learnt since the last save (the registry closes after the nodes that use it).
      if (registry) {
        for (const [twinId, props] of tracked) {
          for (const [property, entry] of props) {
            if (!entry.dirty) continue;
            try {
              registry.setState(twinId, stateKey(property), entry.predictor.toJSON());
            } catch {
              // The store is gone or the twin was deleted meanwhile: nothing left to save into.
            }
          }
        }
      }
      tracked.clear();
      node.status({});
      done();
    });

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

/** The key of a property's estimator state in the twin's private state. */
function stateKey(property: string): string {
  return `predict:${property}`;
}

function key(twinId: string, property: string): string {
  return `${twinId}\u0000${property}`;
}

function mark(set: Set<string>, k: string, on: boolean): void {
  if (on) set.add(k);
  else set.delete(k);
}

function isChangeEvent(p: unknown): p is { twinId?: unknown; section: string; changes: unknown } {
  return !!p && typeof p === "object" && !Array.isArray(p) && typeof (p as { section?: unknown }).section === "string" && "changes" in (p as object);
}

function isPrediction(v: unknown): boolean {
  return !!v && typeof v === "object" && !Array.isArray(v) && typeof (v as { forecast?: unknown }).forecast === "number";
}

function readingTime(twinId: string, ts: unknown): number {
  if (ts === undefined || ts === null) return Date.now();
  if (typeof ts !== "number" || !Number.isFinite(ts) || ts < 0) throw new TwinError("invalid-time", { twinId, value: showValue(ts), rule: "epoch ms" });
  return ts;
}
