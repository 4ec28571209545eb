/**
 * `twin-sensor` node: sensor binding. Turns a reading (an MQTT message or any message) into
 * reported state of a twin: finds the twin and property from the topic or the config, reads the
 * value and its timestamp, converts it into the model's terms, and reports it to the registry.
 */
import { TwinError, showValue } from "../core/errors";
import { compilePattern, parseDeadband, Deadband, TopicPattern } from "../core/binding";
import { parseTimestamp } from "../core/timestamp";
import { readPath } from "../core/path";
import { canonicalUnit } from "../core/units";
import { readingPath } from "../core/reading";
import { ChangeEvent, TwinRegistry } from "../core/registry";
import { dict } from "../core/json";
import { Node, NodeDef, NodeMessage, RED, Send, Done } from "../runtime/red";
import { findRegistry, failWith, onInput, RegistryNode } from "../runtime/registry-node";
import { propertyReader } from "../runtime/jsonata";

interface SensorConfig extends NodeDef {
  registry?: string;
  pattern?: string;
  twinId?: string;
  twinIdType?: string;
  property?: string;
  value?: string;
  valueType?: string;
  timestamp?: string;
  timestampType?: string;
  scale?: string | number;
  offset?: string | number;
  unit?: string;
  deadband?: string;
  unknown?: string;
  model?: string;
  output?: string;
  parseNumbers?: boolean;
}

/** What a message becomes before the registry sees it. */
interface Reading { twinId: string; values: Record<string, unknown>; ts: number | undefined; source: string | undefined }

/** A typed input read per message; `sync` is there when it reads without waiting (a message path, a fixed value). */
type Resolve<T> = ((msg: NodeMessage, cb: (err: Error | null, value?: T) => void) => void) & { sync?: (msg: NodeMessage) => T };

export = function (RED: RED) {
  function TwinSensorNode(this: Node, config: SensorConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const registryNode = findRegistry(RED, config.registry);
    const settings = readSettings(RED, node, registryNode, config);
    let received = 0;
    /** Whether a reading came since deploy, and whether the idle status already shows it stopped. */
    let fed = false;
    let idleShown = false;

    // Readings per second over the last interval; the registry's own trouble wins.
    const statusTimer = setInterval(() => {
      let health = { ok: true } as { ok: boolean };
      try {
        health = registryNode ? registryNode.use().health() : { ok: false };
      } catch {
        health = { ok: false };
      }
      if (!registryNode) node.status({ fill: "red", shape: "ring", text: RED._("twin-sensor.status.no-registry") });
      else if (!health.ok) node.status({ fill: "red", shape: "ring", text: RED._("twin-sensor.status.store-error") });
      else if (settings.error) node.status({ fill: "red", shape: "ring", text: RED._("twin-sensor.status.config-error") });
      else if (received > 0) node.status({ fill: "green", shape: "dot", text: RED._("twin-sensor.status.rate", { rate: received }) });
      // Idle is not a fault, and "0/s" in green read as a live stream that stopped: grey, with the
      // last twin fed and when. Only when it changes, not every second.
      else if (fed && !idleShown) {
        idleShown = true;
        node.status({ fill: "grey", shape: "ring", text: RED._("twin-sensor.status.idle", { at: new Date().toLocaleTimeString() }) });
      }
      if (received > 0) idleShown = false;
      received = 0;
    }, 1000);
    if (settings.error) node.error(registryNode ? registryNode.describe(settings.error) : settings.error);

    function fail(msg: NodeMessage, done: Done, err: unknown): void {
      failWith(msg, done, registryNode ? registryNode.describe(err) : (err as Error));
    }

    onInput(RED, node, (msg: NodeMessage, send: Send, done: Done) => {
      let registry: TwinRegistry;
      try {
        if (!registryNode) throw new Error(RED._("twin-sensor.errors.no-registry"));
        if (settings.error) throw settings.error;
        registry = registryNode.use();
      } catch (err) {
        return fail(msg, done, err);
      }
      // Message paths and fixed values (most configurations) are read at once, without a callback.
      if (settings.readNow) {
        const reading = settings.readNow(msg);
        if (reading instanceof Error) return fail(msg, done, reading);
        return report(registry, reading, msg, send, done);
      }
      settings.read(msg, (err, reading) => {
        if (err || !reading) return fail(msg, done, err);
        report(registry, reading, msg, send, done);
      });
    });

    function report(registry: TwinRegistry, reading: Reading, msg: NodeMessage, send: Send, done: Done): void {
      if (!registry.leads(reading.twinId)) return forward(registry, reading, msg, send, done);
      let result: ChangeEvent | null;
      try {
        result = path.change(registry, reading.twinId, reading.values, reading);
      } catch (e) {
        return fail(msg, done, e);
      }
      received++;
      fed = true;
      if (!result) return done(); // inside the deadband, or older than what is stored
      const event = result;
      registry.whenDurable((durableErr) => {
        if (durableErr) return fail(msg, done, durableErr);
        msg.twinId = reading.twinId;
        msg.payload = settings.output === "twin" ? registry.get(reading.twinId) : event;
        send(msg);
        done();
      });
    }

    /** The reading path twin-link shares (core/reading.ts), prepared once with this node's settings. */
    const path = readingPath({
      create: settings.create ? { model: settings.model || null } : undefined,
      parseNumbers: settings.parseNumbers,
      scale: settings.scale,
      offset: settings.offset,
      unit: settings.unit || undefined,
      deadband: settings.deadband,
    });

    /**
     * A twin another instance leads (a registry shared on Redis): the reading goes to its leader,
     * which shapes it with this node's settings (sent as data) against the values it holds, and
     * the message completes once the leader answers that it is durable; its error is the one the
     * local path would show. Readings of one twin forwarded from here are applied and answered in
     * the order they came while the twin keeps its leader (one request stream per partition, run
     * in order); across a change of leader, a reading forwarded just before and one made here
     * just after may land in either order, as readings of one twin from two instances may.
     */
    function forward(registry: TwinRegistry, reading: Reading, msg: NodeMessage, send: Send, done: Done): void {
      path.submit(registry, reading.twinId, reading.values, reading).then(
        (outcome) => {
          received++;
          fed = true;
          if (!outcome.event) return done();
          msg.twinId = reading.twinId;
          msg.payload = settings.output === "twin" ? registry.get(reading.twinId) : outcome.event;
          send(msg);
          done();
        },
        (err) => fail(msg, done, err),
      ).catch((err) => node.error(err));
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      clearInterval(statusTimer);
      node.status({});
      done();
    });
  }

  RED.nodes.registerType("twin-sensor", TwinSensorNode);
};

interface Settings {
  error: Error | null;
  scale: number;
  offset: number;
  unit: string;
  deadband: Deadband | null;
  create: boolean;
  model: string;
  output: string;
  parseNumbers: boolean;
  read(msg: NodeMessage, cb: (err: Error | null, reading?: Reading) => void): void;
  /** `read` without a callback, when every input the node reads is read without waiting (message paths, fixed values). */
  readNow: ((msg: NodeMessage) => Reading | Error) | null;
}

/** Everything the config says, checked once at deploy; a bad setting is a red status, not a crash. */
function readSettings(RED: RED, node: Node, registryNode: RegistryNode | null, config: SensorConfig): Settings {
  const settings: Settings = {
    error: null,
    scale: 1,
    offset: 0,
    unit: "",
    deadband: null,
    create: config.unknown === "create",
    model: config.model || "",
    output: config.output === "twin" ? "twin" : "event",
    parseNumbers: config.parseNumbers !== false,
    read: (_msg, cb) => cb(settings.error),
    readNow: null,
  };
  try {
    const pattern = config.pattern ? compilePattern(config.pattern) : null;
    settings.scale = finite(config.scale, 1, "scale");
    settings.offset = finite(config.offset, 0, "offset");
    if (config.unit) {
      const unit = canonicalUnit(config.unit);
      if (!unit) throw new TwinError("invalid-unit", { unit: config.unit });
      settings.unit = unit;
    }
    settings.deadband = parseDeadband(config.deadband || "");
    const property = (config.property || "").trim();
    const read = (value: string, type: string) => resolver(RED, node, registryNode, value, type);
    const twinOf = read(config.twinId || "", config.twinIdType || "str");
    const valueOf = read(config.value || "payload", config.valueType || "msg");
    const tsOf = config.timestamp ? read(config.timestamp, config.timestampType || "msg") : null;
    const tsKey = timestampKey(config);
    const readers: Readers = { pattern, property, twinOf, valueOf, tsOf, tsKey, names: new Map() };
    settings.read = (msg, cb) => readMessage(msg, readers, cb);
    if (twinOf.sync && valueOf.sync && (!tsOf || tsOf.sync)) settings.readNow = (msg) => readAtOnce(msg, readers);
  } catch (err) {
    settings.error = err as Error;
  }
  return settings;
}

function finite(value: unknown, fallback: number, option: string): number {
  if (value === undefined || value === null || value === "") return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TwinError("invalid-option", { option, reason: `${showValue(value)} is not a number` });
  return n;
}

/** A typedInput read once per message: message paths synchronously, JSONata prepared once (and bounded). */
function resolver(RED: RED, node: Node, registryNode: RegistryNode | null, value: string, type: string): Resolve<unknown> {
  if (type === "msg") {
    const sync = (msg: NodeMessage) => readPath(msg, value);
    return Object.assign((msg: NodeMessage, cb: (err: Error | null, value?: unknown) => void) => cb(null, sync(msg)), { sync });
  }
  if (type === "str") {
    // A fixed text is itself (as Node-RED evaluates it); empty means "not set".
    const fixed = value === "" ? undefined : "" + value;
    const sync = () => fixed;
    return Object.assign((_msg: NodeMessage, cb: (err: Error | null, value?: unknown) => void) => cb(null, fixed), { sync });
  }
  const reader = propertyReader(RED, node, registryNode, value, type);
  if (reader.problem) throw reader.problem; // a JSONata that does not parse: shown at deploy
  return reader;
}

interface Readers {
  pattern: TopicPattern | null;
  property: string;
  twinOf: Resolve<unknown>;
  valueOf: Resolve<unknown>;
  tsOf: Resolve<unknown> | null;
  /** A key of the reading object that holds its timestamp, so it is not taken for a property. */
  tsKey: string | null;
  /** Property names from topics, see knownName. */
  names: Map<string, string>;
}

/** `payload.ts` beside a value of `payload`: the timestamp sits inside the reading object. */
function timestampKey(config: SensorConfig): string | null {
  if ((config.valueType || "msg") !== "msg" || (config.timestampType || "msg") !== "msg" || !config.timestamp) return null;
  const value = config.value || "payload";
  if (!config.timestamp.startsWith(value + ".")) return null;
  const key = config.timestamp.slice(value.length + 1);
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : null;
}

/** The topic's parameters when the node has a pattern (null without one), or the error of a topic that does not match it. */
function topicParams(r: Readers, topic: string): Record<string, string> | null | Error {
  if (!r.pattern) return null;
  const params = r.pattern.match(topic);
  return params ?? new TwinError("topic-mismatch", { topic: topic.slice(0, 200), pattern: r.pattern.source });
}

/** readMessage for readers that all read without waiting: step by step in the same order, without a callback per step. */
function readAtOnce(msg: NodeMessage, r: Readers): Reading | Error {
  const topic = typeof msg.topic === "string" ? msg.topic : "";
  const params = topicParams(r, topic);
  if (params instanceof Error) return params;
  const twinId = twinIdOf(msg, params, (r.twinOf.sync as (msg: NodeMessage) => unknown)(msg));
  if (twinId instanceof Error) return twinId;
  let value: unknown;
  try {
    value = decode(twinId, (r.valueOf.sync as (msg: NodeMessage) => unknown)(msg));
  } catch (e) {
    return e as Error;
  }
  const values = valuesOf(value, params, r);
  const ts = r.tsOf ? timestampOf(twinId, (r.tsOf.sync as (msg: NodeMessage) => unknown)(msg)) : undefined;
  if (ts instanceof Error) return ts;
  return { twinId, values, ts, source: topic || undefined };
}

function readMessage(msg: NodeMessage, r: Readers, cb: (err: Error | null, reading?: Reading) => void): void {
  const topic = typeof msg.topic === "string" ? msg.topic : "";
  const params = topicParams(r, topic);
  if (params instanceof Error) return cb(params);
  r.twinOf(msg, (err, configured) => {
    if (err) return cb(err);
    const twinId = twinIdOf(msg, params, configured);
    if (twinId instanceof Error) return cb(twinId);
    r.valueOf(msg, (valueErr, raw) => {
      if (valueErr) return cb(valueErr);
      let value: unknown;
      try {
        value = decode(twinId, raw);
      } catch (e) {
        return cb(e as Error);
      }
      const values = valuesOf(value, params, r);
      const finish = (ts: number | undefined) => cb(null, { twinId, values, ts, source: topic || undefined });
      if (!r.tsOf) return finish(undefined);
      r.tsOf(msg, (tsErr, rawTs) => {
        if (tsErr) return cb(tsErr);
        const ts = timestampOf(twinId, rawTs);
        if (ts instanceof Error) return cb(ts);
        finish(ts);
      });
    });
  });
}

/** The twin: from the topic, else the node's setting, else msg.twinId. */
function twinIdOf(msg: NodeMessage, params: Record<string, string> | null, configured: unknown): string | Error {
  const twinId = params?.twin ?? (configured !== undefined && configured !== "" ? configured : msg.twinId);
  if (typeof twinId !== "string" || twinId === "") return new TwinError("invalid-id", { id: showValue(twinId) });
  return twinId;
}

/**
 * The property a topic names, as the string kept for that name. Cut from each message's topic,
 * the name is a new string every time, and V8 looks a new string up in its table of property
 * keys before it can store a value under it; the kept one was looked up once.
 */
function knownName(r: Readers, name: string): string {
  const known = r.names.get(name);
  if (known !== undefined) return known;
  if (r.names.size >= MAX_NAMES) r.names.clear();
  r.names.set(name, name);
  return name;
}

/** Property names a node keeps (knownName); a stream of ever new names starts over past it. */
const MAX_NAMES = 1000;

/** The reading's properties: one named by the topic or the node, else the keys of an object, else "value". */
function valuesOf(value: unknown, params: Record<string, string> | null, r: Readers): Record<string, unknown> {
  const property = params?.property !== undefined ? knownName(r, params.property) : r.property;
  let values: Record<string, unknown>;
  if (property) {
    values = dict<unknown>();
    values[property] = value;
  } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    values = value as Record<string, unknown>;
    if (r.tsKey && r.tsKey in values) {
      values = Object.assign(dict<unknown>(), values);
      delete values[r.tsKey];
    }
  } else {
    values = dict<unknown>();
    values.value = value;
  }
  return values;
}

/** The reading's source time; undefined when the message gives none. */
function timestampOf(twinId: string, rawTs: unknown): number | undefined | Error {
  if (rawTs === undefined || rawTs === null || rawTs === "") return undefined;
  const ts = parseTimestamp(rawTs);
  if (ts === null) return new TwinError("invalid-time", { twinId, value: showValue(rawTs), rule: "epoch ms, epoch s or ISO 8601" });
  return ts;
}

/** MQTT payloads arrive as Buffers or strings; a JSON object or array in text is parsed. */
function decode(twinId: string, raw: unknown): unknown {
  let value = raw;
  if (Buffer.isBuffer(value)) value = value.toString("utf8");
  if (typeof value === "string") {
    const text = value.trim();
    if (text.startsWith("{") || text.startsWith("[")) {
      try {
        value = JSON.parse(text);
      } catch {
        throw new TwinError("invalid-reading", { twinId, property: "payload", value: showValue(text), rule: "not JSON" });
      }
    }
  }
  if (value === undefined) throw new TwinError("invalid-reading", { twinId, property: "payload", value: "undefined", rule: "no value" });
  return value;
}
