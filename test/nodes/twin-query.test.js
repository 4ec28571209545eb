"use strict";
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, flow, exchange, waitFor } = require("./support");

const queryNode = require(path.join(__dirname, "..", "..", "nodes", "twin-query.js"));
const joinNode = require("@node-red/nodes/core/sequence/17-split.js");
const completeNode = require("@node-red/nodes/core/common/24-complete.js");
// The same Node class the helper's Node-RED uses: its status and error calls are recorded per node.
const RuntimeNode = require("@node-red/runtime/lib/nodes/Node.js");

const plain = (v) => JSON.parse(JSON.stringify(v));

const PUMP = JSON.stringify({
  pump: { properties: { temperature: { type: "number" }, power: { type: "number" }, mode: { type: "string" } } },
});

/** A query node "q" wired to helper "out", over registry "reg". */
function queryFlow(config = {}, registryConfig = { models: PUMP }, extra = []) {
  return flow([{ id: "q", type: "twin-query", registry: "reg", wires: [["out"]], ...config }, { id: "out", type: "helper" }, ...extra], registryConfig);
}

const load = (f) => helper.load([nodes.registry, nodes.twin, queryNode, joinNode, nodes.catch, completeNode], f);
/**
 * A complete node for "q", wired to helper "completed": its message is the marker that a query
 * is over, and (as what the query sent went out before it completed, and Node-RED delivers in
 * order) that everything it sent has arrived.
 */
const COMPLETE = [
  { id: "completer", type: "complete", scope: ["q"], uncaught: false, wires: [["completed"]] },
  { id: "completed", type: "helper" },
];
let marks = 0;
/** Sends msg to "q" and resolves once that query (told apart by msg.mark) completed. */
function completed(msg) {
  const mark = ++marks;
  const done = new Promise((resolve) => {
    const node = helper.getNode("completed");
    const listener = (m) => {
      if (m.mark !== mark) return;
      node.removeListener("input", listener);
      resolve(m);
    };
    node.on("input", listener);
  });
  helper.getNode("q").receive({ ...msg, mark });
  return done;
}
const ask = (msg = { payload: Date.now() }) => exchange("q", "out", msg);
const registry = () => helper.getNode("reg").use();

/** Six pumps on two sites; pump-06 is offline, pump-05 has no power reading, pump-04 reads power as text. */
function pumps() {
  const reg = registry();
  const t0 = Date.now() - 60_000;
  const rows = [
    ["pump-01", "plant-1", { temperature: 55, power: 7.5, mode: "auto" }],
    ["pump-02", "plant-1", { temperature: 62, power: 8 }],
    ["pump-03", "plant-1", { temperature: 58, power: 7 }],
    ["pump-04", "plant-2", { temperature: 64, mode: "manual" }],
    ["pump-05", "plant-2", { temperature: 51 }],
    ["pump-06", "plant-2", { temperature: 60, power: 6.5 }],
  ];
  for (const [id, site, reported] of rows) {
    reg.create(id, { model: "pump", attributes: { site } });
    reg.report(id, reported, { ts: t0 });
  }
  reg.setOnline("pump-06", false);
  return reg;
}

describe("twin-query node", function () {
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
      calls.push({ id: this.id, error: err });
      return originalError.call(this, err, msg);
    };
  });
  after(function () {
    RuntimeNode.prototype.status = originalStatus;
    RuntimeNode.prototype.error = originalError;
  });
  beforeEach(function (done) {
    calls = [];
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
  });

  const statusOf = (id) => calls.filter((c) => c.id === id && c.status).map((c) => c.status);
  const lastStatus = (id) => statusOf(id).at(-1);
  const errorsOf = (id) => calls.filter((c) => c.id === id && c.error).map((c) => c.error);

  async function fails(msg, pattern) {
    const r = await ask(msg);
    assert.equal(r.kind, "error", `expected an error for ${JSON.stringify(msg)}`);
    assert.match(r.msg.error.message, pattern);
    return r;
  }

  // ---- output modes ----------------------------------------------------------------------------

  it("sends a list of twin documents sorted by id, with the total, keeping the message's other properties", async function () {
    await load(queryFlow({ twinIds: "pump-0*", where: [{ path: "site", op: "=", value: "plant-1", type: "str" }] }));
    pumps();
    const r = await ask({ payload: 1764000000000, correlation: "abc" });
    assert.equal(r.kind, "ok");
    assert.equal(r.msg.correlation, "abc");
    assert.equal(r.msg.total, 3);
    assert.deepEqual(r.msg.payload.map((d) => d.id), ["pump-01", "pump-02", "pump-03"]);
    const doc = plain(r.msg.payload[0]);
    assert.deepEqual(doc.attributes, { site: "plant-1" });
    assert.equal(doc.reported.temperature, 55);
    assert.equal(doc.connectivity.online, true);
    // The helper's RED._ gives back catalog keys (cut to 19 characters here); the catalog is checked below.
    assert.equal(lastStatus("q").fill, "green");
    assert.match(lastStatus("q").text, /^twin-query\.status/);
  });

  it("sends summaries when chosen, and an empty list when nothing matches", async function () {
    await load(queryFlow({ detail: "summary", online: "offline" }));
    pumps();
    let r = await ask();
    assert.deepEqual(plain(r.msg.payload).map((s) => [s.id, s.online, s.model]), [["pump-06", false, "pump"]]);
    assert.deepEqual(Object.keys(r.msg.payload[0]).sort(), ["anomaly", "delta", "id", "lastSeen", "model", "online", "stage", "updated", "version"]);
    assert.equal(lastStatus("q").fill, "green");
    r = await ask({ payload: { twinIds: "nothing-*" } });
    assert.deepEqual(r.msg.payload, []);
    assert.equal(r.msg.total, 0);
  });

  it("sends one message per twin with msg.parts, which a join node puts back into an array", async function () {
    const join = { id: "join", type: "join", mode: "auto", build: "array", property: "payload", propertyType: "msg", timeout: "", count: "", wires: [["joined"]] };
    await load(queryFlow({ output: "each", detail: "summary", sort: "temperature", order: "desc", limit: 3, wires: [["out", "join"]] }, { models: PUMP }, [join, { id: "joined", type: "helper" }, ...COMPLETE]));
    pumps();
    const got = [];
    helper.getNode("out").on("input", (m) => got.push(m));
    const joined = new Promise((resolve) => helper.getNode("joined").once("input", resolve));
    await completed({ payload: "go", topic: "t" });
    const whole = await joined;
    // The marker that no fourth message comes: the answer to a later query through the same node.
    await completed({ payload: { twinIds: "pump-01", limit: 1 }, topic: "marker" });
    assert.equal(got.pop().topic, "marker");
    assert.deepEqual(got.map((m) => m.twinId), ["pump-04", "pump-02", "pump-06"]);
    assert.deepEqual(got.map((m) => m.parts.index), [0, 1, 2]);
    assert.ok(got.every((m) => m.parts.count === 3 && m.parts.type === "array" && m.parts.id === got[0].parts.id && m.total === 6 && m.topic === "t"));
    assert.deepEqual(whole.payload.map((s) => s.id), ["pump-04", "pump-02", "pump-06"]);
  });

  it("keeps an incoming msg.parts inside the new one, and sends nothing per twin when none match", async function () {
    await load(queryFlow({ output: "each", twinIds: "pump-01" }, undefined, COMPLETE));
    pumps();
    const r = await ask({ parts: { id: "outer", index: 2, count: 5 } });
    assert.deepEqual(plain(r.msg.parts.parts), { id: "outer", index: 2, count: 5 });
    assert.equal(r.msg.parts.count, 1);
    const got = [];
    helper.getNode("out").on("input", (m) => got.push(m));
    await completed({ payload: { twinIds: "none" } });
    assert.equal(lastStatus("q").fill, "green", "answered, with 0 twins");
    // The marker that nothing comes of it: the answer to a later query through the same node.
    await completed({ payload: { twinIds: "pump-01" }, topic: "marker" });
    assert.deepEqual(got.map((m) => m.topic), ["marker"]);
  });

  it("sends the first twin only: the hottest pump, or null when none matches", async function () {
    await load(queryFlow({ output: "first", sort: "temperature", order: "desc", limit: "1" }));
    pumps();
    let r = await ask();
    assert.equal(r.msg.twinId, "pump-04");
    assert.equal(r.msg.payload.reported.temperature, 64);
    assert.equal(r.msg.total, 6);
    r = await ask({ payload: { where: { site: "plant-3" } } });
    assert.equal(r.kind, "ok");
    assert.equal(r.msg.payload, null);
    assert.equal(r.msg.total, 0);
  });

  it("computes fleet figures: total power, count online, mean temperature per site", async function () {
    await load(queryFlow({ output: "aggregate", property: "power", aggregate: "sum" }));
    pumps();
    let r = await ask();
    assert.equal(r.msg.payload, 29, "pump-04 (text) and pump-05 (none) are left out");
    r = await ask({ payload: { aggregate: "all" } });
    assert.deepEqual(plain(r.msg.payload), { twins: 6, count: 4, sum: 29, mean: 7.25, min: 6.5, max: 8 });
    r = await ask({ payload: { online: true, aggregate: "count", property: "" } });
    assert.equal(r.msg.payload, 5);
    r = await ask({ payload: { property: "temperature", aggregate: "mean", groupBy: "site" } });
    assert.deepEqual(plain(r.msg.payload), [
      { group: "plant-1", twins: 3, value: 58.3333333333333 },
      { group: "plant-2", twins: 3, value: 58.3333333333333 },
    ]);
  });

  // ---- JSONata -------------------------------------------------------------------------------

  it("selects with a JSONata expression evaluated on each twin document", async function () {
    await load(queryFlow({ expression: 'reported.temperature > 57 and attributes.site = "plant-1"', detail: "summary" }));
    pumps();
    let r = await ask();
    assert.deepEqual(r.msg.payload.map((s) => s.id), ["pump-02", "pump-03"]);
    // the settings narrow first, the expression then tests what is left
    r = await ask({ payload: { twinIds: "pump-03" } });
    assert.deepEqual(r.msg.payload.map((s) => s.id), ["pump-03"]);
  });

  it("reads the expression's result as $boolean() does, and sees flow context", async function () {
    await load(queryFlow({ expression: '$flowContext("wanted") = id ? reported.mode : ""', detail: "summary" }));
    pumps();
    helper.getNode("q").context().flow.set("wanted", "pump-04");
    const r = await ask();
    assert.deepEqual(r.msg.payload.map((s) => s.id), ["pump-04"]);
  });

  it("fails the message, naming the twin, when the expression fails on one", async function () {
    await load(queryFlow({ expression: "$number(reported.mode) > 1" }));
    pumps();
    const r = await fails({}, /twin-query\.errors\.evaluation/);
    assert.equal(r.msg.error.source.id, "q");
    assert.equal(lastStatus("q").fill, "red");
  });

  it("shows a bad expression at deploy and fails every message with it", async function () {
    await load(queryFlow({ expression: "reported.temperature >" }));
    pumps();
    assert.equal(lastStatus("q").text, "twin-query.status.bad-query");
    assert.match(String(errorsOf("q")[0].message), /twin-query\.errors\.expression/);
    await fails({}, /twin-query\.errors\.expression/);
  });

  it("bounds the expression's work with Max twins", async function () {
    await load(queryFlow({ expression: "true", maxTwins: 5 }));
    pumps();
    await fails({}, /twin-query\.errors\.too-many/);
    const r = await ask({ payload: { twinIds: "pump-0?", online: true } });
    assert.equal(r.kind, "ok", "5 twins left to test is within the bound");
    assert.equal(r.msg.payload.length, 5);
  });

  it("tests many twins without holding the event loop, and answers for all of them", async function () {
    this.timeout(10000);
    await load(queryFlow({ expression: "reported.n % 2 = 0", output: "aggregate", aggregate: "count", maxTwins: 5000 }));
    const reg = registry();
    for (let i = 0; i < 1000; i++) reg.create(`t-${i}`, { reported: { n: i } });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const r = await ask();
    clearInterval(timer);
    assert.equal(r.msg.payload, 500);
    assert.ok(ticks > 2, `timers ran while the expression was tested (${ticks})`);
  });

  // ---- message overrides -----------------------------------------------------------------------

  it("lets msg.payload fields replace the node's settings for one message", async function () {
    await load(queryFlow({ twinIds: "pump-01", detail: "summary" }));
    pumps();
    let r = await ask({ payload: { twinIds: "pump-0*", where: { site: "plant-2" }, sort: "temperature", order: "desc", limit: 2 } });
    assert.deepEqual(r.msg.payload.map((s) => s.id), ["pump-04", "pump-06"]);
    assert.equal(r.msg.total, 3);
    r = await ask({ payload: { twinIds: "", offset: 4, limit: 1 } });
    assert.deepEqual(r.msg.payload.map((s) => s.id), ["pump-05"]);
    r = await ask({ payload: { model: "nothing" } });
    assert.deepEqual(r.msg.payload, [], "payload.model works as payload.models");
    // not an object, or other fields only: the node's settings
    for (const payload of [1764000000000, "text", [1, 2], { site: "plant-2", unrelated: true }]) {
      r = await ask({ payload });
      assert.deepEqual(r.msg.payload.map((s) => s.id), ["pump-01"], JSON.stringify(payload));
    }
  });

  it("sends the state as of a past time from msg.payload.at, msg.at or the node", async function () {
    await load(queryFlow({ output: "first", twinIds: "p1", at: "-1h" }, { historyLength: 100 }));
    const reg = registry();
    const now = Date.now();
    reg.create("p1");
    reg.report("p1", { temperature: 50, mode: "auto" }, { ts: now - 3 * 3_600_000 });
    reg.report("p1", { temperature: 51 }, { ts: now - 2 * 3_600_000 });
    reg.report("p1", { temperature: 52, mode: "manual" }, { ts: now - 60_000 });
    let r = await ask();
    let state = plain(r.msg.payload);
    assert.ok(Math.abs(state.at - (now - 3_600_000)) < 5000);
    assert.deepEqual(state.reported, { temperature: 51, mode: null });
    assert.deepEqual(state.notes, { mode: "not-numeric" });
    assert.equal(state.ts.temperature, now - 2 * 3_600_000);
    r = await ask({ at: now - 2.5 * 3_600_000 });
    assert.equal(r.msg.payload.reported.temperature, 50);
    r = await ask({ at: now - 2.5 * 3_600_000, payload: { at: new Date(now - 4 * 3_600_000).toISOString() } });
    state = plain(r.msg.payload);
    assert.deepEqual(state.reported, { temperature: null, mode: null }, "payload.at wins over msg.at");
    assert.deepEqual(state.notes, { temperature: "before-first", mode: "not-numeric" });
    r = await ask({ payload: { at: now } });
    assert.deepEqual(plain(r.msg.payload.reported), { temperature: 52, mode: "manual" });
  });

  it("aggregates the values as of a past time", async function () {
    await load(queryFlow({ output: "aggregate", property: "power", aggregate: "sum" }));
    const reg = registry();
    const now = Date.now();
    for (const [id, then, later] of [["a", 5, 7], ["b", 3, 4]]) {
      reg.create(id);
      reg.report(id, { power: then }, { ts: now - 7_200_000 });
      reg.report(id, { power: later }, { ts: now - 60_000 });
    }
    assert.equal((await ask()).msg.payload, 11);
    assert.equal((await ask({ payload: { at: "-1h" } })).msg.payload, 8);
  });

  // ---- bad input ---------------------------------------------------------------------------------

  it("fails a message with a bad query and sends nothing, and goes on working", async function () {
    await load(queryFlow());
    pumps();
    await fails({ payload: { sort: "two words" } }, /twin-query\.errors\.sort/);
    await fails({ payload: { sort: "__proto__" } }, /twin-query\.errors\.forbidden/);
    await fails({ payload: { where: { "tags.__proto__.x": 1 } } }, /twin-query\.errors\.forbidden/);
    await fails({ payload: JSON.parse('{"where": {"__proto__": "x"}}') }, /twin-query\.errors\.forbidden/);
    await fails({ payload: { groupBy: "constructor" } }, /twin-query\.errors\.forbidden/);
    await fails({ payload: { at: "yesterday" } }, /twin-query\.errors\.at/);
    await fails({ at: {} }, /twin-query\.errors\.at/);
    await fails({ payload: { limit: -3 } }, /twin-query\.errors\.limit/);
    await fails({ payload: { online: "sometimes" } }, /twin-query\.errors\.online/);
    await fails({ payload: { twinIds: "pump/1" } }, /twin-query\.errors\.twinIds/);
    await fails({ payload: { where: [{ path: "a", op: "like", value: "x" }] } }, /twin-query\.errors\.operator/);
    await fails({ payload: { aggregate: "sum" } }, /twin-query\.errors\.needs-property/);
    assert.equal(lastStatus("q").text, "twin-query.status.failed");
    const r = await ask();
    assert.equal(r.kind, "ok");
    assert.equal(r.msg.payload.length, 6);
  });

  it("shows a bad setting at deploy", async function () {
    await load(queryFlow({ sort: "reported.__proto__" }));
    assert.equal(lastStatus("q").text, "twin-query.status.bad-query");
    assert.match(String(errorsOf("q")[0].message), /twin-query\.errors\.forbidden/);
    await fails({}, /twin-query\.errors\.forbidden/);
    // a message can set what the node got wrong
    const r = await ask({ payload: { sort: "id" } });
    assert.equal(r.kind, "error", "a bad setting fails every message until it is fixed in the node");
  });

  it("refuses a bad Max twins at deploy", async function () {
    await load(queryFlow({ maxTwins: "lots" }));
    assert.equal(lastStatus("q").text, "twin-query.status.bad-query");
    await fails({}, /twin-query\.errors\.maxTwins/);
  });

  it("fails every message when no registry is configured", async function () {
    await load(queryFlow({ registry: "" }));
    assert.equal(lastStatus("q").text, "twin-query.status.no-registry");
    await fails({}, /twin-query\.errors\.no-registry/);
  });

  it("keeps every status under 20 characters (the helper shows catalog keys, so the catalog is checked)", function () {
    const catalog = require("../../nodes/locales/en-US/twin-query.json")["twin-query"];
    for (const [key, text] of Object.entries(catalog.status)) {
      const shown = text.replace("__count__", "1000000");
      assert.ok(shown.length < 20, `${key}: "${text}"`);
    }
  });

  it("has a catalog message for every error the query can give", function () {
    const catalog = require("../../nodes/locales/en-US/twin-query.json")["twin-query"].errors;
    const source = require("fs").readFileSync(path.join(__dirname, "..", "..", "src", "core", "query.ts"), "utf8");
    const options = new Set(["twinIds", "models"]);
    for (const m of source.matchAll(/invalid\("([a-zA-Z-]+)"/g)) options.add(m[1]);
    const adapter = require("fs").readFileSync(path.join(__dirname, "..", "..", "src", "nodes", "twin-query.ts"), "utf8");
    for (const m of adapter.matchAll(/t\("errors\.([a-zA-Z-]+)"/g)) options.add(m[1]);
    assert.ok(options.size > 20);
    for (const option of options) assert.ok(catalog[option], `errors.${option} is missing`);
    for (const text of Object.values(catalog)) assert.doesNotMatch(text, /__(proto|constructor|prototype)__/, "i18next would read it as a parameter");
  });
});
