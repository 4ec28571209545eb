"use strict";
/**
 * twin-sensor, twin and twin-mirror nodes, the admin API's desired route and ui-twin-card's desired value, on
 * two instances of one registry shared on Redis: a message (or request) for a twin the instance
 * does not lead is made on the twin's leader and gives the output, the stored values and the
 * error (code and words) the same message gives on the leader.
 *
 * Two twin-registry nodes of one name in Redis (persistence "redis" through a twin-redis node),
 * in one runtime, stand for the two instances.
 */
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, waitFor } = require("./support");
const { useRedis, ledBy, split } = require("../core/redis-support");
const { registerAdminApi } = require("../../nodes/lib/plugins/admin-api");

const root = path.join(__dirname, "..", "..");
const redisNode = require(path.join(root, "nodes", "twin-redis.js"));
const sensorNode = require(path.join(root, "nodes", "twin-sensor.js"));
const cardNode = require(path.join(root, "nodes", "ui-twin-card.js"));
const mirrorNode = require(path.join(root, "nodes", "twin-mirror.js"));
const completeNode = require("@node-red/nodes/core/common/24-complete.js");
const dashboardDir = path.dirname(require.resolve("@flowfuse/node-red-dashboard/package.json"));
const dashboard = ["ui_base", "ui_page", "ui_group", "ui_theme"].map((n) => require(path.join(dashboardDir, "nodes", "config", `${n}.js`)));
const catalog = require(path.join(root, "nodes", "locales", "en-US", "twin-registry.json"))["twin-registry"];

const PUMP = {
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true },
    },
  },
};
const plain = (v) => JSON.parse(JSON.stringify(v));

/**
 * The twin-registry node type with the registry's errors worded from its English catalog (the
 * helper's RED._ gives back bare keys), so a test compares what a user reads, parameters and all.
 */
function registryNodeWorded(RED) {
  RED._ = (key, params = {}) => {
    const [type, ...rest] = key.split(".");
    const text = type === "twin-registry" ? rest.reduce((o, k) => (o ? o[k] : undefined), catalog) : undefined;
    return typeof text === "string" ? text.replace(/__([a-zA-Z]+)__/g, (_, name) => String(params[name])) : key;
  };
  return nodes.registry(RED);
}

/** Registries reg-a and reg-b, one registry in Redis; on each a sensor, a twin node and their output. */
function sharedFlow(port, sensor, more = []) {
  const registry = (x) => ({ id: `reg-${x}`, type: "twin-registry", name: `registry ${x}`, persistence: "redis", redis: "redis", redisDurability: "batched", redisName: "plant", historyLength: 100, models: JSON.stringify(PUMP) });
  const side = (x) => [
    { id: `s-${x}`, type: "twin-sensor", z: "tab", registry: `reg-${x}`, unknown: "create", model: "pump", wires: [[`out-${x}`]], ...sensor },
    { id: `t-${x}`, type: "twin", z: "tab", registry: `reg-${x}`, operation: "msg", wires: [[`out-${x}`]] },
    { id: `out-${x}`, type: "helper", z: "tab" },
  ];
  return [
    { id: "tab", type: "tab", label: "test" },
    { id: "redis", type: "twin-redis", name: "test redis", topology: "single", host: "127.0.0.1", port, prefix: "twinwire:" },
    registry("a"),
    registry("b"),
    ...side("a"),
    ...side("b"),
    { id: "completer", type: "complete", z: "tab", scope: ["s-a", "s-b", "m-a", "m-b"], uncaught: false, wires: [["completed"]] },
    { id: "completed", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["errors"]] },
    { id: "errors", type: "helper", z: "tab" },
    ...more,
  ];
}

/** The registry of a node, once open on Redis (use() throws store-unavailable until then). */
function opened(id) {
  return waitFor(() => {
    try {
      return helper.getNode(id).use();
    } catch {
      return null;
    }
  }, `registry ${id} open on Redis`, 15000);
}

/**
 * The admin API's desired route over one registry (a stand-in for Node-RED's admin routes,
 * nodes and permissions): resolves with the HTTP status and body it answers.
 */
function desiredRoute(reg) {
  const routes = new Map();
  const node = { id: "reg", type: "twin-registry", use: () => reg, describe: (err) => err };
  registerAdminApi({
    auth: { needsPermission: () => (_req, _res, next) => next() },
    nodes: { eachNode: (visit) => visit({ id: "reg", type: "twin-registry", name: "plant" }), getNode: (id) => (id === "reg" ? node : null) },
    httpAdmin: { get: () => undefined, post: (route, _permission, handler) => routes.set(route, handler), use: () => undefined },
    log: { error: () => undefined },
    _: (key) => key,
  });
  const handler = routes.get("/twins/:registry/:twinId/desired");
  return (twinId, body, query = {}) => new Promise((resolve) => {
    const res = {
      code: 200,
      status(code) {
        this.code = code;
        return this;
      },
      json(value) {
        resolve({ status: this.code, body: plain(value) });
      },
      setHeader: () => undefined,
      set: () => undefined,
    };
    handler({ params: { registry: "reg", twinId }, body, query, user: { username: "ann" }, headers: { "content-type": "application/json" } }, res);
  });
}

describe("twin-sensor and twin nodes on a registry shared on Redis", function () {
  this.timeout(30000);
  let a;
  let b;

  before(function () {
    // Short enough for the two registries to split the partitions in a few seconds, long enough
    // for a lease to outlast a loaded machine's pauses (a twin changing leader mid-test).
    process.env.TWINWIRE_REDIS_LEASE_MS = "3000";
  });
  after(function () {
    delete process.env.TWINWIRE_REDIS_LEASE_MS;
  });

  beforeEach(async function () {
    await new Promise((resolve) => helper.startServer(resolve));
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });
  // After the hooks above: each test's flow is stopped before its redis-server is.
  const ctx = useRedis({ appendfsync: "everysec" });

  /** Deploys sharedFlow and resolves once both registries are open and lead a share of the partitions each. */
  async function load(sensor = {}, more = []) {
    await helper.load([registryNodeWorded, redisNode, nodes.twin, sensorNode, nodes.catch, completeNode, ...dashboard, cardNode, mirrorNode], sharedFlow(ctx.server.port, sensor, more));
    a = { reg: await opened("reg-a") };
    b = { reg: await opened("reg-b") };
    a.store = a.reg.store;
    b.store = b.reg.store;
    await split(a, b);
  }

  let marks = 0;
  /** Sends msg into node `id` and resolves with its output, its error, or (completed, no output) "quiet". */
  function send(id, msg) {
    const side = id.slice(-1);
    const mark = `m-${++marks}`;
    return new Promise((resolve) => {
      const watched = [helper.getNode(`out-${side}`), helper.getNode("errors"), helper.getNode("completed")];
      const finish = (kind) => (m) => {
        if (m.mark !== mark) return;
        watched.forEach((n) => n.removeAllListeners("input"));
        resolve({ kind, msg: m });
      };
      watched[0].on("input", finish("ok"));
      watched[1].on("input", finish("error"));
      watched[2].on("input", finish("quiet"));
      helper.getNode(id).receive({ ...msg, mark });
    });
  }

  it("makes a twin-sensor reading of a twin led by the other instance there, with the shaping, output and error words of the leader's own sensor", async function () {
    await load({ unit: "degF", scale: "0.1", deadband: "0.5" });
    const here = ledBy(a.store, b.store, "here");
    const there = ledBy(a.store, b.store, "there");
    const steps = [
      { payload: { temperature: "980", rpm: "15000" } }, // 98 degF, 1500 rpm: creates the twin
      { payload: { temperature: "985" } }, // 98.5 degF: 0.28 Cel, inside the deadband
      { payload: { temperature: "1000" } },
      { payload: { rpm: 40000 } }, // 4000 rpm: above the model's maximum
    ];
    const kinds = [];
    for (const step of steps) {
      const local = await send("s-a", { ...step, twinId: here });
      const forwarded = await send("s-b", { ...step, twinId: there });
      kinds.push(forwarded.kind);
      assert.equal(forwarded.kind, local.kind, `${JSON.stringify(step.payload)}: ${forwarded.msg.error ? forwarded.msg.error.message : forwarded.kind}`);
      if (local.kind === "ok") {
        assert.equal(forwarded.msg.twinId, there);
        const changes = (msg) => Object.entries(plain(msg.payload.changes)).map(([k, c]) => [k, c.value, c.previous]);
        assert.deepEqual(changes(forwarded.msg), changes(local.msg));
      }
      if (local.kind === "error") {
        assert.equal(forwarded.msg.error.code, "invalid-value");
        assert.equal(forwarded.msg.error.code, local.msg.error.code);
        assert.ok(local.msg.error.message.includes(here), local.msg.error.message);
        assert.equal(forwarded.msg.error.message, local.msg.error.message.split(here).join(there));
      }
    }
    assert.deepEqual(kinds, ["ok", "quiet", "ok", "error"]);
    for (const reg of [a.reg, b.reg]) {
      assert.deepEqual(plain(reg.get(there).reported), plain(a.reg.get(here).reported));
      assert.equal(reg.get(there).version, 2);
    }
    assert.equal(a.reg.get(here).reported.rpm, 1500);
  });

  it("creates, updates and deletes through a twin node on the instance that does not lead the twin, and words a refusal as the leader's node does", async function () {
    await load();
    const id = ledBy(a.store, b.store, "valve");
    const created = await send("t-b", { operation: "create", twinId: id, payload: { model: "pump", attributes: { site: "north" } } });
    assert.equal(created.kind, "ok", created.msg.error && created.msg.error.message);
    assert.equal(created.msg.payload.version, 1);
    assert.equal(a.reg.get(id).attributes.site, "north");
    const again = [await send("t-b", { operation: "create", twinId: id, payload: {} }), await send("t-a", { operation: "create", twinId: id, payload: {} })];
    assert.deepEqual(again.map((r) => r.kind), ["error", "error"]);
    assert.deepEqual(again.map((r) => r.msg.error.code), ["exists", "exists"]);
    assert.equal(again[0].msg.error.message, again[1].msg.error.message);
    const updated = await send("t-b", { operation: "update", twinId: id, payload: { site: "south" }, ifVersion: 1 });
    assert.equal(updated.kind, "ok", updated.msg.error && updated.msg.error.message);
    assert.equal(updated.msg.payload.attributes.site, "south");
    const conflict = [await send("t-b", { operation: "update", twinId: id, payload: { site: "x" }, ifVersion: 1 }), await send("t-a", { operation: "update", twinId: id, payload: { site: "x" }, ifVersion: 1 })];
    assert.deepEqual(conflict.map((r) => r.msg.error.code), ["conflict", "conflict"]);
    assert.equal(conflict[0].msg.error.message, conflict[1].msg.error.message);
    const upserted = await send("t-b", { operation: "upsert", twinId: id, payload: { reported: { rpm: 7 } } });
    assert.equal(upserted.msg.created, false);
    assert.equal(upserted.msg.payload.reported.rpm, 7);
    const deleted = await send("t-b", { operation: "delete", twinId: id });
    assert.equal(deleted.kind, "ok", deleted.msg.error && deleted.msg.error.message);
    assert.equal(deleted.msg.payload.version, 3);
    assert.equal(a.reg.has(id), false);
    assert.equal(b.reg.has(id), false, "the submitter's registry has the deletion when the message completes");
  });

  it("sets a desired value through the admin API of the instance that does not lead the twin, answering with the document once durable, and a conflict with the leader's status and words", async function () {
    await load();
    const id = ledBy(a.store, b.store, "fan");
    a.reg.create(id, { model: "pump" });
    await waitFor(() => b.reg.has(id), "the twin on the other instance");
    const [onLeader, elsewhere] = [desiredRoute(a.reg), desiredRoute(b.reg)];
    const set = await elsewhere(id, { rpm: 1200 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.desired.rpm, 1200);
    assert.equal(set.body.meta.desired.rpm.by, "ann");
    assert.equal(a.reg.get(id).desired.rpm, 1200);
    const refused = [await elsewhere(id, { rpm: 1300 }, { ifVersion: "1" }), await onLeader(id, { rpm: 1300 }, { ifVersion: "1" })];
    assert.deepEqual(refused.map((r) => [r.status, r.body.code]), [[409, "conflict"], [409, "conflict"]]);
    assert.equal(refused[0].body.error, refused[1].body.error);
    assert.equal(a.reg.get(id).desired.rpm, 1200);
  });

  it("sets a desired value from a ui-twin-card on the instance that does not lead the twin, answering the dashboard and sending it on once durable", async function () {
    await load({}, [
      { id: "base", type: "ui-base", name: "test", path: "/dashboard", includeClientData: true, acceptsClientConfig: ["ui-control"] },
      { id: "theme", type: "ui-theme", name: "light", colors: { surface: "#ffffff", primary: "#0094ce", bgPage: "#eeeeee", groupBg: "#ffffff", groupOutline: "#cccccc" } },
      { id: "page", type: "ui-page", name: "Fleet", ui: "base", path: "/fleet", layout: "grid", theme: "theme", order: 1, visible: "true", disabled: "false" },
      { id: "group", type: "ui-group", name: "Pumps", page: "page", width: "12", height: "1", order: 1, showTitle: true, visible: "true", disabled: "false" },
      { id: "card", type: "ui-twin-card", z: "tab", group: "group", registry: "reg-b", wires: [["set"]] },
      { id: "set", type: "helper", z: "tab" },
    ]);
    const id = ledBy(a.store, b.store, "card");
    a.reg.create(id, { model: "pump", reported: { rpm: 1500 } });
    await waitFor(() => b.reg.has(id), "the twin on the card's instance"); // the card reads its model there
    helper.getNode("card").receive({ twinId: id });
    const answers = [];
    const conn = { id: "conn-1", connected: true, emit: (event, payload) => answers.push({ event, payload: plain(payload) }), once: () => undefined };
    const hooks = helper.getNode("base").ui.widgets.get("card").hooks;
    // The card follows its registry once open, and shows the twin once told it.
    await waitFor(() => {
      hooks.onChange({}, { kind: "load" }, conn, "card");
      const view = answers.filter((e) => e.event === "ui-twin-card:view:card").pop();
      return view && view.payload.id === id;
    }, "the card showing the twin");
    const sent = new Promise((resolve) => helper.getNode("set").once("input", resolve));
    hooks.onChange({}, { kind: "desired", requestId: "r1", twinId: id, property: "rpm", value: "1800" }, conn, "card");
    const answer = await waitFor(() => answers.find((e) => e.event === "ui-twin-card:desired-result:card"), "the card's answer");
    assert.deepEqual(answer.payload, { requestId: "r1", ok: true, twinId: id, property: "rpm", value: 1800 });
    const msg = await sent;
    assert.deepEqual({ topic: msg.topic, payload: msg.payload, by: msg.by }, { topic: id, payload: { rpm: 1800 }, by: "dashboard" });
    assert.equal(a.reg.get(id).desired.rpm, 1800);
    assert.equal(a.reg.get(id).meta.desired.rpm.by, "dashboard");
  });

  it("sets a desired value through a twin-mirror on the instance that does not lead the twin: made on the leader, the delta sent once, by the leader's mirror", async function () {
    const mirror = (x) => [
      { id: `m-${x}`, type: "twin-mirror", z: "tab", registry: `reg-${x}`, twinId: "", twinIdType: "str", scope: "all", topic: "devices/{twin}/set", timeout: 30, retries: 2, backoff: 2, wires: [[`dev-${x}`], []] },
      { id: `dev-${x}`, type: "helper", z: "tab" },
    ];
    await load({}, [...mirror("a"), ...mirror("b")]);
    const there = ledBy(a.store, b.store, "there");
    a.reg.create(there, { model: "pump", reported: { rpm: 1000 } });
    await waitFor(() => b.reg.has(there), "the twin on the other instance");
    const commands = { a: [], b: [] };
    helper.getNode("dev-a").on("input", (m) => commands.a.push(m));
    helper.getNode("dev-b").on("input", (m) => commands.b.push(m));
    // (listeners stay on: Node-RED's input callbacks are not to be removed while it calls them)
    const errors = [];
    helper.getNode("errors").on("input", (m) => errors.push(m.error));
    let completed = 0;
    helper.getNode("completed").on("input", () => completed++);
    helper.getNode("m-b").receive({ twinId: there, payload: { rpm: 1500 } });
    await waitFor(() => completed === 1 || errors.length > 0, "the message completed or failed");
    assert.deepEqual(errors.map((e) => e.message), []);
    // Complete means durable on the leader, and the change is followed here before submit resolves.
    assert.equal(b.reg.get(there).desired.rpm, 1500);
    assert.equal(a.reg.get(there).desired.rpm, 1500);
    await waitFor(() => commands.a.length === 1, "the delta from the leader's mirror");
    assert.deepEqual(plain(commands.a[0].payload), { rpm: 1500 });
    assert.equal(commands.b.length, 0, "the instance that does not lead the twin sends no command");
    // A refusal comes back in the leader's words: rpm above the model's maximum.
    helper.getNode("m-b").receive({ twinId: there, payload: { rpm: 99999 } });
    await waitFor(() => errors.length === 1, "the refusal");
    assert.equal(errors[0].code, "invalid-value", errors[0].message);
    assert.equal(completed, 1);
    assert.equal(b.reg.get(there).desired.rpm, 1500);
  });
});
