"use strict";
/**
 * twin-sensor and twin nodes, and the admin API's desired route, on two instances of one registry
 * shared on Redis: a message (or request) for a twin the instance does not lead is made on the
 * twin's leader and gives the output, the stored values and the error (code and words) the same
 * message gives on the leader.
 *
 * Two twin-registry nodes in one runtime stand for the two instances: each node's `use()` hands
 * out a registry opened on a RedisStore of the same server (test/core/redis-support.js).
 */
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, flow } = require("./support");
const { parseModels } = require("../../nodes/lib/core/models");
const { useRedis, ledBy, split } = require("../core/redis-support");
const { registerAdminApi } = require("../../nodes/lib/plugins/admin-api");

const sensorNode = require(path.join(__dirname, "..", "..", "nodes", "twin-sensor.js"));
const completeNode = require("@node-red/nodes/core/common/24-complete.js");

const MODELS = parseModels({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true },
    },
  },
});
const plain = (v) => JSON.parse(JSON.stringify(v));

/** On each instance ("a" leads the test's twins, "b" does not): a sensor, a twin node, their outputs. */
function sharedFlow(sensor) {
  const side = (x) => [
    { id: `s-${x}`, type: "twin-sensor", registry: `reg-${x}`, unknown: "create", model: "pump", wires: [[`out-${x}`]], ...sensor },
    { id: `t-${x}`, type: "twin", registry: `reg-${x}`, operation: "msg", wires: [[`out-${x}`]] },
    { id: `out-${x}`, type: "helper" },
  ];
  const other = { id: "reg-b", type: "twin-registry", name: "plant", persistence: "memory" }; // before the nodes that find it
  const completer = { id: "completer", type: "complete", scope: ["s-a", "s-b"], uncaught: false, wires: [["completed"]] };
  const f = flow([other, ...side("a"), ...side("b"), completer, { id: "completed", type: "helper" }]);
  return f.map((n) => (n.id === "reg" ? { ...n, id: "reg-a" } : n));
}

/**
 * The admin API's desired route over one registry per instance (a stand-in for Node-RED's admin
 * routes, nodes and permissions): resolves with the HTTP status and body it answers.
 */
function desiredRoute(reg) {
  const routes = new Map();
  const node = { id: "reg", type: "twin-registry", use: () => reg, describe: (err) => err };
  registerAdminApi({
    auth: { needsPermission: () => (_req, _res, next) => next() },
    nodes: { eachNode: (visit) => visit({ id: "reg", type: "twin-registry", name: "plant" }), getNode: (id) => (id === "reg" ? node : null) },
    httpAdmin: { get: () => undefined, post: (route, _permission, handler) => routes.set(route, handler) },
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
    };
    handler({ params: { registry: "reg", twinId }, body, query, user: { username: "ann" } }, res);
  });
}

describe("twin-sensor and twin nodes on a registry shared on Redis", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "everysec" });
  let a;
  let b;

  beforeEach(async function () {
    const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };
    a = await ctx.open(lease, { historyLength: 100, models: MODELS });
    b = await ctx.open(lease, { historyLength: 100, models: MODELS });
    await split(a, b);
    await new Promise((resolve) => helper.startServer(resolve));
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  async function load(sensor = {}) {
    await helper.load([nodes.registry, nodes.twin, sensorNode, nodes.catch, completeNode], sharedFlow(sensor));
    helper.getNode("reg-a").use = () => a.reg;
    helper.getNode("reg-b").use = () => b.reg;
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
        assert.equal(forwarded.msg.error.message, local.msg.error.message);
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
    const id = ledBy(a.store, b.store, "fan");
    a.reg.create(id, { model: "pump" });
    const [onLeader, elsewhere] = [desiredRoute(a.reg), desiredRoute(b.reg)];
    const set = await elsewhere(id, { rpm: 1200 });
    assert.equal(set.status, 200);
    assert.equal(set.body.desired.rpm, 1200);
    assert.equal(set.body.meta.desired.rpm.by, "ann");
    assert.equal(a.reg.get(id).desired.rpm, 1200);
    const refused = [await elsewhere(id, { rpm: 1300 }, { ifVersion: "1" }), await onLeader(id, { rpm: 1300 }, { ifVersion: "1" })];
    assert.deepEqual(refused.map((r) => [r.status, r.body.code]), [[409, "conflict"], [409, "conflict"]]);
    assert.equal(refused[0].body.error, refused[1].body.error);
    assert.equal(a.reg.get(id).desired.rpm, 1200);
  });
});
