/**
 * `twin` node: twin creation and management. One operation per message (from the node's
 * config or msg.operation): create, upsert, get, update (attributes), delete, list.
 */
import { TwinError } from "../core/errors";
import { TwinRegistry, ListQuery, SubmitOp, CreateInput, WriteOptions } from "../core/registry";
import { Node, NodeDef, NodeMessage, NodeStatus, RED, Send, Done } from "../runtime/red";
import { findRegistry, failWith, onInput } from "../runtime/registry-node";
import { propertyReader } from "../runtime/jsonata";

interface TwinConfig extends NodeDef {
  registry?: string;
  operation?: string;
  twinId?: string;
  twinIdType?: string;
  model?: string;
  /** What an update sends: "event" (what changed) or "twin" (the document; a node saved without it). */
  output?: string;
}

const OPERATIONS = new Set(["create", "upsert", "get", "update", "delete", "list"]);
const WRITES = new Set(["create", "upsert", "update", "delete"]);
const STATUS_MS = 250;

export = function (RED: RED) {
  function TwinNode(this: Node, config: TwinConfig) {
    RED.nodes.createNode(this, config);
    const node = this;
    const registryNode = findRegistry(RED, config.registry);
    if (!registryNode) node.status({ fill: "red", shape: "ring", text: RED._("twin.status.no-registry") });

    // The node's own last result (what it did, or why not), not the registry's: several twin
    // nodes on one registry would all show the same count. At most every STATUS_MS, the last wins.
    // Statuses are made only when shown (RED._ per message cost a third of an update's time).
    let pendingStatus: (() => NodeStatus) | null = null;
    let statusTimer: NodeJS.Timeout | null = null;
    let lastResult: () => NodeStatus = () => ({});
    let storeTrouble = false;
    // The registry still says when its store fails (red, on every node that uses it) and heals
    // (green, its count): the count is not shown here, the node's last result is.
    const registryStatus = {
      status(s: NodeStatus) {
        const healed = storeTrouble && s.fill !== "red";
        storeTrouble = s.fill === "red";
        // Once the store heals, a failure it caused is no longer this node's news.
        if (healed && lastResult().fill === "red") lastResult = () => ({ fill: "green", shape: "dot", text: RED._("twin.status.ready") });
        showResult(storeTrouble ? () => s : lastResult, true);
      },
    } as unknown as Node;
    if (registryNode) registryNode.addUser(registryStatus);
    function showResult(status: () => NodeStatus, fromRegistry = false): void {
      if (!fromRegistry) {
        lastResult = status;
        if (storeTrouble) return;
      }
      pendingStatus = status;
      if (statusTimer) return;
      node.status(status());
      pendingStatus = null;
      statusTimer = setTimeout(function flush() {
        statusTimer = null;
        if (pendingStatus) showResult(pendingStatus, true);
      }, STATUS_MS);
    }
    // The last success as data, shown by one status function: nothing is allocated per message
    // for a status that is shown at most every STATUS_MS.
    let doneKey = "";
    let doneVersion: number | null = null;
    let doneCount: unknown = 0;
    // No twin id: node statuses reach every editor user, including those who may not read twins.
    const doneStatus = (): NodeStatus =>
      doneKey === "list"
        ? { fill: "green", shape: "dot", text: RED._(doneCount === 1 ? "twin.status.listed-one" : "twin.status.listed", { count: doneCount }) }
        : { fill: "green", shape: "dot", text: RED._(`twin.status.${doneKey}`, { version: doneVersion }) };
    function showDone(msg: NodeMessage, operation: string): void {
      if (operation === "list") {
        doneKey = "list";
        doneCount = msg.total;
      } else {
        const doc = msg.payload as { version?: unknown } | null;
        doneVersion = doc && typeof doc === "object" && typeof doc.version === "number" ? doc.version : null;
        doneKey = operation === "upsert" && msg.created ? "create" : operation;
      }
      showResult(doneStatus);
    }
    function failed(err: Error & { code?: unknown }): () => NodeStatus {
      const code = typeof err.code === "string" ? err.code : "error";
      return () => ({ fill: "red", shape: "ring", text: code });
    }

    // A node saved before the setting existed sends the document, as it did then.
    const updateEvent = config.output === "event";

    const readTwinId = config.twinId ? propertyReader(RED, node, registryNode, config.twinId, config.twinIdType || "str") : null;
    if (readTwinId?.problem) node.error(readTwinId.problem); // a JSONata twin id that does not parse: every message fails with it

    /** Without a typed input on the node: msg.twinId, else msg.payload.id. */
    function twinIdOf(msg: NodeMessage): unknown {
      if (msg.twinId !== undefined) return msg.twinId;
      const payload = msg.payload as Record<string, unknown> | undefined;
      return payload && typeof payload === "object" ? payload.id : undefined;
    }

    function operationOf(msg: NodeMessage): string {
      const operation = config.operation && config.operation !== "msg" ? config.operation : msg.operation;
      if (typeof operation !== "string" || !OPERATIONS.has(operation)) {
        throw new Error(RED._("twin.errors.operation", { operation: String(operation) }));
      }
      return operation;
    }

    function handle(msg: NodeMessage, registry: TwinRegistry, operation: string, id: unknown): void {
      const options = optionsOf(msg);
      if (operation === "list") {
        const result = registry.list(listQuery(msg.payload));
        msg.payload = result.twins;
        msg.total = result.total;
        return;
      }
      if (id === undefined || id === null || id === "") throw new Error(RED._("twin.errors.no-id"));
      const payload = isObject(msg.payload) ? msg.payload : {};
      switch (operation) {
        case "create":
        case "upsert": {
          const input = inputOf(payload);
          if (operation === "create") msg.payload = registry.create(id, input, options);
          else {
            const result = registry.upsert(id, input, options);
            msg.payload = result.document;
            msg.created = result.created;
          }
          break;
        }
        case "get":
          msg.payload = registry.get(id);
          break;
        case "update":
          msg.payload = updateEvent ? registry.changeAttributes(id, patchOf(msg, id), options) : registry.updateAttributes(id, patchOf(msg, id), options);
          break;
        case "delete":
          msg.payload = registry.remove(id, options);
          break;
      }
      msg.twinId = id;
    }

    function inputOf(payload: Record<string, unknown>): CreateInput {
      return { model: payload.model ?? (config.model || undefined), attributes: payload.attributes, reported: payload.reported, desired: payload.desired };
    }

    /** An update's attributes: `{attributes: {...}}`, or the payload itself less its id. */
    function patchOf(msg: NodeMessage, id: unknown): Record<string, unknown> {
      if (!isObject(msg.payload)) throw new TwinError("invalid-patch", { twinId: String(id), value: typeof msg.payload });
      return isObject(msg.payload.attributes) ? msg.payload.attributes : withoutId(msg.payload, id);
    }

    /** A write as data for registry.submit: the same call with the same arguments as handle() makes. */
    function writeOp(msg: NodeMessage, operation: string, id: string): SubmitOp {
      const options = optionsOf(msg);
      const payload = isObject(msg.payload) ? msg.payload : {};
      switch (operation) {
        case "create": return { op: "create", id, input: inputOf(payload), options };
        case "upsert": return { op: "upsert", id, input: inputOf(payload), options };
        case "update": return { op: updateEvent ? "changeAttributes" : "updateAttributes", id, patch: patchOf(msg, id), options };
        default: return { op: "remove", id, options };
      }
    }

    // Callbacks rather than promises: the common case (an id from the node or the message)
    // completes in the same turn, which is most of this node's throughput. The functions below
    // take what they need as arguments: per message, only the durability callback is a closure.
    onInput(RED, node, (msg: NodeMessage, send: Send, done: Done) => {
      let registry: TwinRegistry;
      let operation: string;
      try {
        if (!registryNode) throw new Error(RED._("twin.errors.no-registry"));
        registry = registryNode.use();
        operation = operationOf(msg);
      } catch (err) {
        return fail(msg, done, err);
      }
      if (!readTwinId) return run(msg, registry, operation, twinIdOf(msg), send, done);
      readTwinId(msg, (idErr, id) => (idErr ? fail(msg, done, idErr) : run(msg, registry, operation, id, send, done)));
    });

    function run(msg: NodeMessage, registry: TwinRegistry, operation: string, id: unknown, send: Send, done: Done): void {
      if (typeof id === "string" && WRITES.has(operation) && !registry.leads(id)) return forward(msg, registry, operation, id, send, done);
      try {
        handle(msg, registry, operation, id);
      } catch (err) {
        return fail(msg, done, err);
      }
      if (!WRITES.has(operation)) {
        showDone(msg, operation);
        send(msg);
        return done();
      }
      // In strict mode this waits for the fsync that covers the change.
      registry.whenDurable((err) => {
        if (err) return fail(msg, done, err);
        showDone(msg, operation);
        send(msg);
        done();
      });
    }

    function fail(msg: NodeMessage, done: Done, err: unknown): void {
      const described = registryNode ? registryNode.describe(err) : (err as Error);
      showResult(failed(described));
      failWith(msg, done, described);
    }

    /**
     * A write to a twin another instance leads (a registry shared on Redis; a create too, as its
     * partition's leader decides whether the id is free): made there and answered once durable,
     * with the message completed here; errors are the leader's TwinError, worded as here. Writes
     * to one twin forwarded from here are made and answered in the order they came while the twin
     * keeps its leader (one request stream per partition, run in order); across a change of
     * leader, one forwarded just before and one made here just after may land in either order.
     */
    function forward(msg: NodeMessage, registry: TwinRegistry, operation: string, id: string, send: Send, done: Done): void {
      let op: SubmitOp;
      try {
        op = writeOp(msg, operation, id);
      } catch (err) {
        return fail(msg, done, err);
      }
      registry.submit(op).then(
        (result) => {
          if (operation === "upsert") {
            const r = result as { document: unknown; created: boolean };
            msg.payload = r.document;
            msg.created = r.created;
          } else msg.payload = result;
          msg.twinId = id;
          showDone(msg, operation);
          send(msg);
          done();
        },
        (err) => fail(msg, done, err),
      ).catch((err) => node.error(err));
    }

    node.on("close", (_removed: boolean, done: () => void) => {
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = null;
      registryNode?.removeUser(registryStatus);
      done();
    });
  }

  RED.nodes.registerType("twin", TwinNode);
};

/** A write's options from the message; most messages carry neither, and share one frozen object. */
function optionsOf(msg: NodeMessage): WriteOptions {
  if (msg.ifVersion === undefined && typeof msg.by !== "string") return NO_OPTIONS;
  return { ifVersion: msg.ifVersion, by: typeof msg.by === "string" ? msg.by : undefined };
}

const NO_OPTIONS: WriteOptions = Object.freeze({});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `{id, ...attributes}` as an update: the id names the twin and is not an attribute. */
function withoutId(payload: Record<string, unknown>, id: unknown): Record<string, unknown> {
  if (payload.id !== id) return payload;
  const { id: _omit, ...rest } = payload;
  return rest;
}

function listQuery(payload: unknown): ListQuery {
  const q: ListQuery = {};
  if (!isObject(payload)) return q;
  if (typeof payload.model === "string") q.model = payload.model;
  if (typeof payload.stage === "string") q.stage = payload.stage;
  if (typeof payload.online === "boolean") q.online = payload.online;
  if (Number.isInteger(payload.limit) && (payload.limit as number) >= 0) q.limit = payload.limit as number;
  if (Number.isInteger(payload.offset) && (payload.offset as number) >= 0) q.offset = payload.offset as number;
  return q;
}

