"use strict";
// The Dashboard 2.0 widgets' nodes (ui-twin-fleet, ui-twin-card) with the test helper: without
// the Dashboard they say what to install and the rest of the flow still works; with the real
// Dashboard's config nodes they register their bundles and answer a dashboard's socket events
// with the data the Vue components show, and a desired value set on the card goes through the
// registry (checked by the model, recorded as by "dashboard", answered once durable).
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, flow, waitFor } = require("./support");

const root = path.join(__dirname, "..", "..");
const fleetNode = require(path.join(root, "nodes", "ui-twin-fleet.js"));
const cardNode = require(path.join(root, "nodes", "ui-twin-card.js"));
const dashboardDir = path.dirname(require.resolve("@flowfuse/node-red-dashboard/package.json"));
const dashboard = ["ui_base", "ui_page", "ui_group", "ui_theme"].map((n) => require(path.join(dashboardDir, "nodes", "config", `${n}.js`)));
const RuntimeNode = require("@node-red/runtime/lib/nodes/Node.js");
// The helper's RED._ gives back catalog keys: texts are checked by key, and the catalog's English here.
const catalog = (type) => require(path.join(root, "nodes", "locales", "en-US", `${type}.json`))[type];

const MODELS = JSON.stringify({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel" },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 10 },
    },
  },
});

/** A socket.io connection as the widget's hooks see it: records what the node emits to it. */
function connection(id = "conn-1") {
  const emitted = [];
  const onDisconnect = [];
  return {
    id,
    connected: true,
    emitted,
    emit(event, payload) {
      emitted.push({ event, payload: JSON.parse(JSON.stringify(payload)) });
    },
    once(event, handler) {
      if (event === "disconnect") onDisconnect.push(handler);
    },
    disconnect() {
      this.connected = false;
      onDisconnect.forEach((h) => h());
    },
    last(event) {
      for (let i = emitted.length - 1; i >= 0; i--) if (emitted[i].event === event) return emitted[i].payload;
      return undefined;
    },
  };
}

const dashboardNodes = [
  { id: "base", type: "ui-base", name: "test", path: "/dashboard", includeClientData: true, acceptsClientConfig: ["ui-control"] },
  { id: "theme", type: "ui-theme", name: "light", colors: { surface: "#ffffff", primary: "#0094ce", bgPage: "#eeeeee", groupBg: "#ffffff", groupOutline: "#cccccc" } },
  { id: "page", type: "ui-page", name: "Fleet", ui: "base", path: "/fleet", layout: "grid", theme: "theme", order: 1, visible: "true", disabled: "false" },
  { id: "group", type: "ui-group", name: "Pumps", page: "page", width: "12", height: "1", order: 1, showTitle: true, visible: "true", disabled: "false" },
];

describe("Dashboard 2.0 widget nodes (ui-twin-fleet, ui-twin-card)", function () {
  this.timeout(20000);
  let calls;
  let originalStatus;
  let originalError;

  before(function () {
    originalStatus = RuntimeNode.prototype.status;
    originalError = RuntimeNode.prototype.error;
    RuntimeNode.prototype.status = function (status) {
      calls.push({ id: this.id, status });
      return originalStatus.call(this, status);
    };
    RuntimeNode.prototype.error = function (err, msg) {
      calls.push({ id: this.id, error: String(err && err.message ? err.message : err) });
      return originalError.call(this, err, msg);
    };
  });
  after(function () {
    RuntimeNode.prototype.status = originalStatus;
    RuntimeNode.prototype.error = originalError;
  });
  beforeEach(async function () {
    calls = [];
    await helper.startServer();
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  const statusOf = (id) => calls.filter((c) => c.id === id && c.status).map((c) => c.status).pop();
  const errorsOf = (id) => calls.filter((c) => c.id === id && c.error).map((c) => c.error);

  describe("without Dashboard 2.0 installed", function () {
    it("each widget shows a red status and an error naming the package to install; the twin nodes still work", async function () {
      await helper.load([nodes.registry, nodes.twin, nodes.catch, fleetNode, cardNode], flow([
        { id: "fleet", type: "ui-twin-fleet", group: "", registry: "reg", wires: [[]] },
        { id: "card", type: "ui-twin-card", group: "gone", registry: "reg", twinId: "pump-01", wires: [[]] },
        { id: "t", type: "twin", registry: "reg", operation: "create", twinId: "pump-01", twinIdType: "str", wires: [["out"]] },
        { id: "out", type: "helper" },
      ], { models: MODELS }));
      for (const [id, type] of [["fleet", "ui-twin-fleet"], ["card", "ui-twin-card"]]) {
        assert.deepEqual(statusOf(id), { fill: "red", shape: "ring", text: `${type}.status.no-dashboard` });
        assert.deepEqual(errorsOf(id), [`${type}.errors.no-dashboard`]);
        assert.equal(catalog(type).status["no-dashboard"], "Dashboard 2.0 not installed");
        assert.match(catalog(type).errors["no-dashboard"], /FlowFuse Dashboard 2\.0 widget: install __package__ \(Manage palette/);
      }
      const created = new Promise((resolve) => helper.getNode("out").once("input", resolve));
      const before = calls.length;
      helper.getNode("t").receive({ payload: { model: "pump", reported: { temperature: 40 } } });
      assert.equal((await created).payload.id, "pump-01");
      // The registry shows its new count on the nodes that use it; the widgets keep saying what is missing.
      await waitFor(() => calls.slice(before).some((c) => c.id === "t" && c.status), "the registry's status on the twin node");
      assert.equal(statusOf("fleet").text, "ui-twin-fleet.status.no-dashboard");
      assert.equal(statusOf("card").text, "ui-twin-card.status.no-dashboard");
    });

    it("a message to a card fails with that error, so a Catch node sees it", async function () {
      await helper.load([nodes.registry, nodes.catch, cardNode], flow([{ id: "card", type: "ui-twin-card", group: "", registry: "reg", wires: [[]] }]));
      const caught = new Promise((resolve) => helper.getNode("errors").once("input", resolve));
      helper.getNode("card").receive({ twinId: "pump-01" });
      assert.match((await caught).error.message, /ui-twin-card\.errors\.no-dashboard$/);
    });
  });

  describe("with Dashboard 2.0", function () {
    async function load(widgets, registryConfig = { models: MODELS }) {
      await helper.load([nodes.registry, nodes.twin, nodes.catch, ...dashboard, fleetNode, cardNode], [
        ...flow(widgets, registryConfig),
        ...dashboardNodes,
      ]);
      const base = helper.getNode("base");
      const registry = helper.getNode("reg").use();
      return { base, registry };
    }

    it("registers each widget with its group and the bundle the dashboard loads from /resources", async function () {
      const { base } = await load([
        { id: "fleet", type: "ui-twin-fleet", group: "group", registry: "reg", wires: [[]] },
        { id: "card", type: "ui-twin-card", group: "group", registry: "reg", twinId: "pump-01", wires: [[]] },
      ]);
      assert.deepEqual(
        { package: base.ui.widgets.get("fleet").src.package, src: base.ui.widgets.get("fleet").src.src, component: base.ui.widgets.get("fleet").src.component },
        { package: "@twinwire/node-red-twins", src: "ui-twin-fleet.umd.js", component: "UITwinFleet" },
      );
      assert.equal(base.ui.widgets.get("card").src.component, "UITwinCard");
      assert.equal(base.ui.widgets.get("card").src.name, "ui-twin-card"); // the UMD library's global
      assert.deepEqual(errorsOf("fleet"), []);
      assert.deepEqual(errorsOf("card"), []);
    });

    it("the fleet widget gets the twins matching its dashboard's filter, with values in their units, and again when a twin changes", async function () {
      const { base, registry } = await load([{ id: "fleet", type: "ui-twin-fleet", group: "group", registry: "reg", wires: [[]] }]);
      registry.create("pump-01", { model: "pump", reported: { temperature: 72.44, rpm: 1500 } });
      registry.create("pump-02", { model: "pump", reported: { temperature: 40 } });
      registry.setDesired("pump-02", { rpm: 900 });
      registry.create("valve-1", { reported: { open: true } });
      const hooks = base.ui.widgets.get("fleet").hooks;
      const conn = connection();
      hooks.onChange({}, { kind: "load", filter: { model: "pump" } }, conn, "fleet");
      let view = conn.last("ui-twin-fleet:view:fleet");
      assert.deepEqual([view.total, view.count], [2, 3]);
      assert.deepEqual(view.rows.map((r) => [r.id, r.delta, r.values]), [
        ["pump-01", 0, [["temperature", "72.44 °C"], ["rpm", "1500"]]],
        ["pump-02", 1, [["temperature", "40 °C"]]],
      ]);
      assert.deepEqual(view.models, ["pump"]);

      // What is no request of this widget's page is no business of the node.
      await hooks.onChange({}, 42, conn, "fleet");
      await hooks.onChange({}, { kind: "other" }, conn, "fleet");
      assert.equal(conn.emitted.length, 1);

      registry.report("pump-01", { temperature: 80 });
      view = await waitFor(() => {
        const v = conn.last("ui-twin-fleet:view:fleet");
        return v.rows[0].values[0][1] === "80 °C" && v;
      }, "the pushed view with the new temperature");
      assert.equal(view.rows.length, 2);
    });

    it("the card widget gets the twin named by msg.twinId, with history for its sparklines", async function () {
      const { base, registry } = await load([{ id: "card", type: "ui-twin-card", group: "group", registry: "reg", twinId: "pump-01", wires: [[]] }]);
      registry.create("pump-01", { model: "pump", reported: { temperature: 60 } });
      registry.create("pump-02", { model: "pump", reported: { temperature: 50, rpm: 1200 } });
      for (let i = 1; i <= 5; i++) registry.report("pump-02", { temperature: 50 + i }, { ts: Date.now() + i });
      const conn = connection();
      base.ui.widgets.get("card").hooks.onChange({}, { kind: "load" }, conn, "card");
      assert.equal(conn.last("ui-twin-card:view:card").id, "pump-01");

      helper.getNode("card").receive({ twinId: "pump-02" });
      const view = await waitFor(() => {
        const v = conn.last("ui-twin-card:view:card");
        return v.id === "pump-02" && v;
      }, "the card of pump-02");
      const temperature = view.properties.find((p) => p.name === "temperature");
      assert.equal(temperature.text, "55 °C");
      assert.deepEqual(temperature.history, [50, 51, 52, 53, 54, 55]);
      assert.equal(view.properties.find((p) => p.name === "rpm").writable, true);
      assert.deepEqual(statusOf("card"), { fill: "green", shape: "dot", text: "pump-02" });
    });

    it("a desired value set on the card is checked by the model, recorded as by dashboard, answered once durable, and sent on", async function () {
      const { base, registry } = await load([{ id: "card", type: "ui-twin-card", group: "group", registry: "reg", twinId: "pump-01", wires: [["set"]] }, { id: "set", type: "helper" }]);
      registry.create("pump-01", { model: "pump", reported: { rpm: 1500 } });
      const hooks = base.ui.widgets.get("card").hooks;
      const conn = connection();
      hooks.onChange({}, { kind: "load" }, conn, "card");

      const sent = new Promise((resolve) => helper.getNode("set").once("input", resolve));
      // A form field gives text: "1800" is the integer 1800 for the model.
      hooks.onChange({}, { kind: "desired", requestId: "r1", twinId: "pump-01", property: "rpm", value: "1800" }, conn, "card");
      const answer = await waitFor(() => conn.last("ui-twin-card:desired-result:card"), "the answer");
      assert.deepEqual(answer, { requestId: "r1", ok: true, twinId: "pump-01", property: "rpm", value: 1800 });
      const doc = registry.get("pump-01");
      assert.equal(doc.desired.rpm, 1800);
      assert.equal(doc.meta.desired.rpm.by, "dashboard");
      const msg = await sent;
      assert.deepEqual({ topic: msg.topic, payload: msg.payload, by: msg.by }, { topic: "pump-01", payload: { rpm: 1800 }, by: "dashboard" });
    });

    it("a desired value the model refuses is answered with the registry's error and changes nothing", async function () {
      const { base, registry } = await load([{ id: "card", type: "ui-twin-card", group: "group", registry: "reg", twinId: "pump-01", wires: [[]] }]);
      registry.create("pump-01", { model: "pump", reported: { rpm: 1500 } });
      const hooks = base.ui.widgets.get("card").hooks;
      const conn = connection();
      hooks.onChange({}, { kind: "desired", requestId: "r2", twinId: "pump-01", property: "rpm", value: "9000" }, conn, "card");
      let answer = conn.last("ui-twin-card:desired-result:card");
      assert.equal(answer.ok, false);
      assert.equal(answer.code, "invalid-value");
      assert.equal(answer.error, "twin-registry.errors.invalid-value"); // the registry's own words, as the sidebar shows them

      hooks.onChange({}, { kind: "desired", requestId: "r3", twinId: "pump-01", property: "temperature", value: "20" }, conn, "card");
      answer = conn.last("ui-twin-card:desired-result:card");
      assert.deepEqual({ requestId: answer.requestId, code: answer.code }, { requestId: "r3", code: "not-writable" });

      // A page still showing another twin does not write to the one the card shows now.
      hooks.onChange({}, { kind: "desired", requestId: "r4", twinId: "pump-09", property: "rpm", value: 100 }, conn, "card");
      assert.equal(conn.last("ui-twin-card:desired-result:card").error, "ui-twin-card.errors.other-twin");
      assert.deepEqual(Object.keys(registry.get("pump-01").desired), []);
    });

    it("a read-only card shows no control and refuses a desired value a page still sends", async function () {
      const { base, registry } = await load([{ id: "card", type: "ui-twin-card", group: "group", registry: "reg", twinId: "pump-01", readOnly: true, wires: [[]] }]);
      registry.create("pump-01", { model: "pump", reported: { rpm: 1500 } });
      const hooks = base.ui.widgets.get("card").hooks;
      const conn = connection();
      hooks.onChange({}, { kind: "load" }, conn, "card");
      assert.equal(conn.last("ui-twin-card:view:card").readOnly, true);
      hooks.onChange({}, { kind: "desired", requestId: "r5", twinId: "pump-01", property: "rpm", value: 1800 }, conn, "card");
      assert.deepEqual(conn.last("ui-twin-card:desired-result:card"), { requestId: "r5", ok: false, error: "ui-twin-card.errors.read-only", code: "failed" });
      assert.deepEqual(Object.keys(registry.get("pump-01").desired), []);
    });
  });
});
