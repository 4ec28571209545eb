"use strict";
// twin-lifecycle node in the test helper: the message API (transitions, work orders, history,
// kpi), counting from other nodes' readings, due alerts on output 2, errors through catch, the
// status, and the catalog. The helper's RED._ gives back catalog keys; the catalog is checked
// at the end, and the English texts in the integration test.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { helper, nodes, flow, waitFor, holdFsyncs, useUserDir } = require("./support");

const lifecycleNode = require(path.join(__dirname, "..", "..", "nodes", "twin-lifecycle.js"));
const completeNode = require("@node-red/nodes/core/common/24-complete.js");

const MODELS = JSON.stringify({
  pump: { properties: { rpm: { type: "number", minimum: 0 }, power: { type: "number" }, vibration: { type: "number" } } },
});
const H = 3_600_000;
const T0 = Date.now() - 30 * 24 * H; // readings a month in the past: their time counts, not the clock's
const plain = (v) => JSON.parse(JSON.stringify(v));

/** Registry, the lifecycle node "lc" wired to "out" (results) and "alerts", and a complete node. */
function lifecycleFlow(config = {}, registryConfig = {}) {
  return flow(
    [
      { id: "lc", type: "twin-lifecycle", registry: "reg", twinId: "", twinIdType: "str", scope: "all", running: "rpm > 0", runningType: "cond", wires: [["out"], ["alerts"]], ...config },
      { id: "out", type: "helper" },
      { id: "alerts", type: "helper" },
      { id: "completer", type: "complete", scope: ["lc"], uncaught: false, wires: [["completed"]] },
      { id: "completed", type: "helper" },
    ],
    { models: MODELS, ...registryConfig },
  );
}

let seen;

async function load(f) {
  await helper.load([nodes.registry, lifecycleNode, nodes.catch, completeNode], f);
  seen = { out: [], alerts: [], status: [] };
  helper.getNode("out").on("input", (msg) => seen.out.push(msg));
  helper.getNode("alerts").on("input", (msg) => seen.alerts.push(msg));
  const lc = helper.getNode("lc");
  const status = lc.status;
  lc.status = function (s) {
    seen.status.push(s);
    return status.call(this, s);
  };
  return helper.getNode("reg").use();
}

/** Sends a message to the node; resolves once it completed or failed. */
function send(msg) {
  return new Promise((resolve) => {
    const completed = helper.getNode("completed");
    const errors = helper.getNode("errors");
    const finish = (kind) => (m) => {
      completed.removeAllListeners("input");
      errors.removeAllListeners("input");
      setImmediate(() => resolve({ kind, msg: m }));
    };
    completed.once("input", finish("ok"));
    errors.once("input", finish("error"));
    helper.getNode("lc").receive(msg);
  });
}

const take = (name) => seen[name].splice(0);

function reading(reg, id, hours, values) {
  reg.report(id, values, { ts: T0 + hours * H, create: { model: "pump" } });
}

describe("twin-lifecycle node", function () {
  beforeEach(function (done) {
    helper.startServer(done);
  });

  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    assert.equal({}.polluted, undefined);
  });

  describe("transitions", function () {
    it("moves a twin, answers with its lifecycle on output 1 and the audit event on output 2", async function () {
      const reg = await load(lifecycleFlow());
      reg.create("pump-1", { model: "pump" });
      const r = await send({ topic: "transition", twinId: "pump-1", payload: { to: "commissioned", by: "ana", reason: "installed" } });
      assert.equal(r.kind, "ok");
      const [out] = take("out");
      assert.equal(out.twinId, "pump-1");
      assert.equal(out.topic, "transition");
      assert.deepEqual(Object.keys(out.payload).sort(), ["cycles", "maintenanceDue", "operatingHours", "since", "stage"]);
      assert.equal(out.payload.stage, "commissioned");
      const [alert] = take("alerts");
      assert.equal(alert.topic, "transition");
      assert.deepEqual({ ...plain(alert.payload), ts: 0 }, { twinId: "pump-1", ts: 0, type: "transition", from: null, to: "commissioned", by: "ana", reason: "installed" });
      assert.equal(reg.get("pump-1").lifecycle.stage, "commissioned");
      // The helper's RED._ gives the catalog key, cut to 19 characters like every status.
      await waitFor(() => seen.status.some((s) => s.fill === "green" && s.shape === "dot" && s.text.startsWith("twin-lifecycle.sta")));
    });

    it("fails a transition that is not allowed, leaving the twin as it was", async function () {
      const reg = await load(lifecycleFlow());
      reg.create("pump-1", { model: "pump" });
      await send({ topic: "transition", twinId: "pump-1", payload: { to: "operating" } });
      take("out");
      take("alerts");
      const version = reg.get("pump-1").version;
      const r = await send({ topic: "transition", twinId: "pump-1", payload: { to: "retired", by: "ana" } });
      assert.equal(r.kind, "error");
      assert.match(r.msg.error.message, /twin-lifecycle\.errors\.transition/);
      assert.equal(reg.get("pump-1").version, version);
      assert.deepEqual(take("out"), []);
      assert.deepEqual(take("alerts"), []);
    });

    it("guards maintenance -> operating until the work order is closed, or an override with a reason", async function () {
      const reg = await load(lifecycleFlow());
      reg.create("pump-1", { model: "pump" });
      for (const payload of [{ to: "operating" }, { to: "maintenance", reason: "leak" }]) {
        assert.equal((await send({ topic: "transition", twinId: "pump-1", payload })).kind, "ok");
      }
      let r = await send({ topic: "workorder/open", twinId: "pump-1", payload: { type: "corrective", description: "seal", by: "ana" } });
      assert.equal(r.msg.payload.id, "WO-1");
      r = await send({ topic: "transition", twinId: "pump-1", payload: { to: "operating", by: "ana" } });
      assert.match(r.msg.error.message, /errors\.guard/);
      r = await send({ topic: "transition", twinId: "pump-1", payload: { to: "operating", by: "ana", override: true } });
      assert.match(r.msg.error.message, /errors\.override-reason/);
      r = await send({ topic: "transition", twinId: "pump-1", payload: { to: "operating", by: "chief", override: true, reason: "emergency" } });
      assert.equal(r.kind, "ok");
      const last = take("alerts").pop();
      assert.equal(last.payload.override, true);
      assert.deepEqual(plain(last.payload.openOrders), ["WO-1"]);
      assert.equal(reg.get("pump-1").lifecycle.stage, "operating");
    });
  });

  describe("work orders, history and kpi", function () {
    it("open, note, close; then history and kpi answer on output 1", async function () {
      const reg = await load(lifecycleFlow());
      reg.create("pump-1", { model: "pump" });
      let r = await send({ topic: "workorder/open", twinId: "pump-1", payload: { type: "corrective", description: "bearing noise", by: "ana" } });
      assert.equal(r.kind, "ok");
      let out = take("out")[0];
      assert.deepEqual([out.payload.id, out.payload.status, out.lifecycle.stage], ["WO-1", "open", null]);
      r = await send({ topic: "workorder/note", twinId: "pump-1", payload: { id: "WO-1", note: "bearing worn", parts: ["bearing 6204"], by: "ben" } });
      assert.equal(take("out")[0].payload.parts[0].name, "bearing 6204");
      r = await send({ topic: "workorder/close", twinId: "pump-1", payload: { id: 1, hours: 2, by: "ben", notes: "replaced" } });
      out = take("out")[0];
      assert.deepEqual([out.payload.status, out.payload.closed.hours], ["closed", 2]);
      assert.deepEqual(take("alerts").map((m) => m.topic), ["workorder/open", "workorder/note", "workorder/close"]);

      r = await send({ topic: "history", twinId: "pump-1", payload: Date.now() }); // an inject's timestamp: everything
      out = take("out")[0];
      assert.deepEqual(out.payload.log.map((e) => e.type), ["workorder/open", "workorder/note", "workorder/close"]);
      assert.equal(out.payload.workOrders.length, 1);
      assert.equal(out.payload.logLimit, 1000);
      await send({ topic: "history", twinId: "pump-1", payload: { from: Date.now() + 1000 } });
      assert.equal(take("out")[0].payload.log.length, 0);

      r = await send({ topic: "kpi", twinId: "pump-1" });
      out = take("out")[0];
      assert.deepEqual([out.payload.failures, out.payload.repairs, out.payload.mttr], [1, 1, 2]);
      assert.deepEqual(take("alerts"), [], "queries write nothing");
    });

    it("answers kpi for the fleet of handled twins without a twin id", async function () {
      const reg = await load(lifecycleFlow({ scope: "glob", pattern: "pump-*" }));
      for (const id of ["pump-1", "pump-2", "fan-1"]) {
        reading(reg, id, 0, { rpm: 0 });
        reading(reg, id, 1, { rpm: 100 });
        reading(reg, id, 11, { rpm: 100 });
      }
      const r = await send({ topic: "kpi" });
      assert.equal(r.kind, "ok");
      const { payload } = take("out")[0];
      assert.deepEqual([payload.twins, payload.operatingHours, payload.cycles], [2, 20, 2]);
      assert.deepEqual(payload.byTwin.map((k) => k.twinId), ["pump-1", "pump-2"]);
    });

    it("takes the twin id from the node's typedInput", async function () {
      const reg = await load(lifecycleFlow({ twinId: "asset.id", twinIdType: "msg" }));
      reg.create("pump-9", { model: "pump" });
      const r = await send({ topic: "transition", asset: { id: "pump-9" }, twinId: "ignored", payload: { to: "operating" } });
      assert.equal(r.kind, "ok");
      assert.equal(take("out")[0].twinId, "pump-9");
    });
  });

  describe("counting other nodes' readings", function () {
    it("counts operating hours and cycles from reading timestamps, and alerts once when maintenance falls due", async function () {
      const reg = await load(lifecycleFlow({ dueHours: "10", autoOrder: true }));
      reading(reg, "pump-1", 0, { rpm: 0 });
      for (let h = 1; h <= 30; h++) reading(reg, "pump-1", h, { rpm: 1450, power: 7 });
      await waitFor(() => seen.alerts.length >= 2, "the due alert and its work order");
      // The marker that no other alert comes ("once"): a message through the node after the
      // readings; what it sent about them was sent before, and Node-RED delivers in order.
      await send({ topic: "kpi", twinId: "pump-1" });
      const alerts = take("alerts");
      assert.deepEqual(alerts.map((m) => m.topic), ["due", "workorder/open"]);
      const due = alerts[0].payload;
      assert.deepEqual([due.twinId, due.rule, due.limit, due.value, due.at, due.order], ["pump-1", "operatingHours", 10, 10, T0 + 11 * H, "WO-1"]);
      assert.equal(alerts[1].payload.orderType, "preventive");
      assert.equal(alerts[1].payload.description, "twin-lifecycle.order.operatingHours");
      const k = take("out")[0].payload;
      assert.deepEqual([k.operatingHours, k.cycles, k.maintenanceDue.rule, k.workOrders.open], [29, 1, "operatingHours", 1]);
      await waitFor(() => seen.status.some((s) => s.fill === "yellow" && s.text.startsWith("twin-lifecycle.sta")));
    });

    it("falls due every N days of reading time (the node's 'due every' days setting), once per period", async function () {
      const reg = await load(lifecycleFlow({ running: "", dueDays: "2" }));
      reading(reg, "pump-1", 0, { rpm: 0 });
      reading(reg, "pump-1", 24, { rpm: 0 }); // one day: not yet
      reading(reg, "pump-1", 47, { rpm: 0 });
      reading(reg, "pump-1", 49, { rpm: 0 }); // two days and an hour: due
      reading(reg, "pump-1", 50, { rpm: 0 }); // still the same period: no second alert
      await waitFor(() => seen.alerts.length >= 1);
      await send({ topic: "kpi", twinId: "pump-1" });
      const k = take("out")[0].payload;
      assert.equal(k.maintenanceDue.rule, "days");
      const alerts = take("alerts");
      assert.deepEqual(alerts.map((m) => [m.topic, m.payload.rule, m.payload.limit, m.payload.at]), [["due", "days", 2, T0 + 49 * H]]);
    });

    it("counts with a JSONata condition on the twin", async function () {
      const reg = await load(lifecycleFlow({ running: "reported.rpm > 0 and reported.power > 1", runningType: "jsonata" }));
      reading(reg, "pump-1", 0, { rpm: 0, power: 0 });
      reading(reg, "pump-1", 1, { rpm: 1000, power: 5 });
      reading(reg, "pump-1", 2, { rpm: 1000, power: 0.5 }); // not running: no power
      reading(reg, "pump-1", 4, { rpm: 1000, power: 5 });
      reading(reg, "pump-1", 7, { rpm: 1000, power: 5 });
      // A JSONata condition is evaluated asynchronously, reading after reading in turn: once the
      // last reading's turn has come (it stops the pump, which the twin's lifecycle state shows),
      // every earlier one has been counted.
      reading(reg, "pump-1", 8, { rpm: 0, power: 0 });
      await waitFor(() => {
        const run = reg.getState("pump-1", "lifecycle")?.run;
        return run && run.on === false && run.from === T0 + 8 * H;
      }, "the last reading to be counted");
      await send({ topic: "kpi", twinId: "pump-1" });
      const k = take("out")[0].payload;
      assert.deepEqual([k.operatingHours, k.cycles], [5, 2]);
    });

    it("falls due when twin-predict's time to threshold is within the horizon", async function () {
      const reg = await load(lifecycleFlow({ running: "", dueHorizon: "24", dueProperty: "vibration", autoOrder: true }));
      reg.create("pump-1", { model: "pump" });
      reg.setPrediction("pump-1", "vibration", { timeToThreshold: 3600, ts: T0 });
      reg.setPrediction("pump-1", "vibration", { timeToThreshold: 1800, ts: T0 + 1 });
      await waitFor(() => seen.alerts.length >= 2, "the due alert and its work order");
      await send({ topic: "kpi", twinId: "pump-1" }); // the marker that no other alert comes (see above)
      const alerts = take("alerts");
      assert.deepEqual(alerts.map((m) => [m.topic, m.payload.rule ?? m.payload.orderType]), [["due", "prediction"], ["workorder/open", "predictive"]]);
    });

    it("stops counting when closed", async function () {
      const reg = await load(lifecycleFlow());
      reading(reg, "pump-1", 0, { rpm: 0 });
      await helper.getNode("lc").close();
      reading(reg, "pump-1", 1, { rpm: 100 });
      assert.equal(reg.getState("pump-1", "lifecycle").run.on, false, "the registry's readings no longer reach it");
      assert.deepEqual(seen.status.pop(), {}, "status cleared");
    });
  });

  describe("errors", function () {
    it("fail the message with a catalog message, the twin unchanged", async function () {
      const reg = await load(lifecycleFlow({ scope: "glob", pattern: "pump-*" }));
      reg.create("pump-1", { model: "pump" });
      reg.create("fan-1", { model: "pump" });
      await send({ topic: "workorder/open", twinId: "pump-1", payload: { type: "corrective", description: "x" } });
      await send({ topic: "workorder/close", twinId: "pump-1", payload: { id: "WO-1", hours: 1 } });
      take("out");
      take("alerts");
      const before = plain(reg.get("pump-1"));
      const cases = [
        [{ topic: "explode", twinId: "pump-1" }, /errors\.topic/],
        [{ twinId: "pump-1", payload: { to: "operating" } }, /errors\.topic/],
        [{ topic: "transition", payload: { to: "operating" } }, /errors\.no-id/],
        [{ topic: "transition", twinId: "fan-1", payload: { to: "operating" } }, /errors\.not-handled/],
        [{ topic: "transition", twinId: "pump-404", payload: { to: "operating" } }, /errors\.not-found/],
        [{ topic: "transition", twinId: "bad id!", payload: { to: "operating" } }, /errors\.invalid-id/],
        [{ topic: "transition", twinId: "pump-1", payload: "operating" }, /errors\.payload\.object/],
        [{ topic: "transition", twinId: "pump-1", payload: { to: "flying" } }, /errors\.stage-unknown/],
        [{ topic: "transition", twinId: "pump-1", payload: JSON.parse('{"to": "operating", "__proto__": {"polluted": 1}}') }, /errors\.forbidden-key/],
        [{ topic: "transition", twinId: "pump-1", payload: { to: "operating" }, ifVersion: 1 }, /errors\.conflict/],
        [{ topic: "workorder/open", twinId: "pump-1", payload: { type: "urgent", description: "x" } }, /errors\.payload\.order-type/],
        [{ topic: "workorder/note", twinId: "pump-1", payload: { id: "WO-7", note: "x" } }, /errors\.order-unknown/],
        [{ topic: "workorder/close", twinId: "pump-1", payload: { id: "WO-1", hours: 1 } }, /errors\.order-closed/],
        [{ topic: "workorder/close", twinId: "pump-1", payload: { hours: 1 } }, /errors\.order-which/],
        [{ topic: "workorder/close", twinId: "pump-1", payload: { id: "WO-1", hours: -2 } }, /errors\.payload\.hours/],
        [{ topic: "history", twinId: "pump-1", payload: { from: "last week" } }, /errors\.payload\.time/],
      ];
      for (const [msg, pattern] of cases) {
        const r = await send(msg);
        assert.equal(r.kind, "error", JSON.stringify(msg));
        assert.match(r.msg.error.message, pattern, JSON.stringify(msg));
      }
      assert.deepEqual(plain(reg.get("pump-1")), before);
      assert.deepEqual(take("out"), []);
      assert.deepEqual(take("alerts"), []);
    });

    it("refuses settings that can not work, with a red status, and fails every message", async function () {
      const bad = [
        [{ stages: "{ not json" }, /errors\.config\.stages-json/],
        [{ stages: '{"transitions": {"a": ["b"]}}' }, /errors\.config\.stage-target/],
        [{ running: "rpm >" }, /errors\.config\.condition/],
        [{ running: "reported.rpm >", runningType: "jsonata" }, /errors\.config\.jsonata/],
        [{ counters: '[{"name": "x", "count": "often", "when": "a"}]' }, /errors\.config\.counter/],
        [{ dueHours: "-1" }, /errors\.config\.number/],
        [{ running: "", dueCycles: "5" }, /errors\.config\.needs-running/],
        [{ logSize: "5" }, /errors\.config\.log-size/],
        [{ scope: "glob", pattern: "a/b" }, /errors\.pattern/],
        [{ scope: "twin", twinId: "x.y", twinIdType: "msg" }, /errors\.scope-id/],
      ];
      for (const [config, pattern] of bad) {
        await load(lifecycleFlow(config));
        const r = await send({ topic: "kpi" });
        assert.equal(r.kind, "error", JSON.stringify(config));
        assert.match(r.msg.error.message, pattern, JSON.stringify(config));
        await helper.unload();
      }
    });

    it("fails every message clearly when its registry could not start", async function () {
      await helper.load([nodes.registry, lifecycleNode, nodes.catch, completeNode], lifecycleFlow({}, { models: "{ not json" }));
      const r = await send({ topic: "kpi" });
      assert.equal(r.kind, "error");
      assert.match(r.msg.error.message, /errors\.store-unavailable/);
    });
  });

  describe("strict persistence", function () {
    useUserDir("twin-lifecycle-");

    /** A strict registry with pump-1 on disk, and its fsyncs held back from now on. */
    async function strictWithHeldFsyncs(config) {
      const reg = await load(lifecycleFlow(config, { persistence: "strict" }));
      reading(reg, "pump-1", 0, { rpm: 0 });
      await new Promise((resolve, reject) => reg.whenDurable((err) => (err ? reject(err) : resolve())));
      return { reg, fsyncs: holdFsyncs(reg) };
    }

    it("answers a transition, and sends its audit event, only once the change is on disk", async function () {
      const { fsyncs } = await strictWithHeldFsyncs();
      const answered = send({ topic: "transition", twinId: "pump-1", payload: { to: "commissioned", by: "ana" } });
      await waitFor(() => fsyncs.held > 0, "the transition's journal write to reach its fsync");
      assert.equal(seen.out.length + seen.alerts.length, 0, "answered before the change was on disk");
      fsyncs.release();
      assert.equal((await answered).kind, "ok");
      assert.deepEqual(take("alerts").map((m) => m.topic), ["transition"]);
      assert.equal(take("out")[0].payload.stage, "commissioned");
      fsyncs.restore();
    });

    it("sends a due alert caused by another node's readings only once the counters behind it are on disk", async function () {
      const { reg, fsyncs } = await strictWithHeldFsyncs({ dueHours: "10" });
      for (let h = 1; h <= 12; h++) reading(reg, "pump-1", h, { rpm: 1450 });
      await waitFor(() => fsyncs.held > 0, "the readings' journal write to reach its fsync");
      await new Promise((r) => setImmediate(r));
      assert.equal(seen.alerts.length, 0, "the due alert left before the change behind it was on disk");
      fsyncs.restore();
      await waitFor(() => seen.alerts.length === 1, "the due alert once the fsync completed");
      assert.deepEqual(take("alerts").map((m) => [m.topic, m.payload.rule]), [["due", "operatingHours"]]);
    });
  });

  describe("catalog", function () {
    const catalog = require("../../nodes/locales/en-US/twin-lifecycle.json")["twin-lifecycle"];
    const lookup = (key) => key.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), catalog);

    it("has a message for every error code of the core and every key the node uses", function () {
      const errorsSource = fs.readFileSync(path.join(__dirname, "..", "..", "src", "core", "lifecycle", "errors.ts"), "utf8");
      const codes = [...errorsSource.matchAll(/\|\s*"([a-z.-]+)"/g)].map((m) => m[1]);
      assert.ok(codes.length > 30);
      for (const c of codes) assert.equal(typeof lookup(`errors.${c}`), "string", `errors.${c} is missing`);
      // The node's own keys, and those of the scope reader it shares with twin-mirror.
      const source = ["twin-lifecycle.ts", "scope.ts"].map((f) => fs.readFileSync(path.join(__dirname, "..", "..", "src", "nodes", f), "utf8")).join("\n");
      const keys = [...source.matchAll(/\bt\("([a-z]+\.[a-z.-]+)"/g)].map((m) => m[1]);
      assert.ok(keys.length > 10);
      for (const key of keys) assert.equal(typeof lookup(key), "string", `${key} is missing`);
      for (const rule of ["operatingHours", "cycles", "days", "prediction"]) assert.equal(typeof lookup(`order.${rule}`), "string");
    });

    it("keeps status texts under 20 characters", function () {
      for (const [name, text] of Object.entries(catalog.status)) {
        const shown = text.replace("__twinId__", "pump-01").replace("__stage__", "decommissioned");
        assert.ok(shown.length < 20, `status.${name}: "${shown}"`);
      }
    });

    it("documents every action and both outputs in the help", function () {
      const help = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "locales", "en-US", "twin-lifecycle.html"), "utf8");
      for (const word of ["<h3>Inputs</h3>", "<h3>Outputs</h3>", "<h3>Details</h3>", "transition", "workorder/open", "workorder/note", "workorder/close", "history", "kpi", "1000", "override"]) {
        assert.ok(help.includes(word), word);
      }
    });
  });
});
