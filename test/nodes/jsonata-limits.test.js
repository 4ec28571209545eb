"use strict";
// Bounded JSONata (src/runtime/jsonata.ts) and messages too deep for Node-RED to copy
// (onInput in src/runtime/registry-node.ts), in the test helper and directly.
//
// Every user expression runs within the registry's time and depth limits and fails its message
// in words, at a Catch node; every node with an input refuses a message nested deeper than
// Node-RED can copy before it does anything, so a Complete node, a Catch node or a second wire
// never makes Node-RED overflow its stack. The helper's RED._ gives back catalog keys, so the
// nodes' texts are checked by key and error code here, and the catalog's English is rendered
// in the last part.
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, flow, waitFor } = require("./support");

const root = path.join(__dirname, "..", "..");
const load = (name) => require(path.join(root, "nodes", `${name}.js`));
const queryNode = load("twin-query");
const lifecycleNode = load("twin-lifecycle");
const sensorNode = load("twin-sensor");
const mirrorNode = load("twin-mirror");
const predictNode = load("twin-predict");
const simulatorNode = load("twin-simulator");
const completeNode = require("@node-red/nodes/core/common/24-complete.js");
// The Node class the helper's Node-RED uses: its error calls are watched where no message goes with them.
const RuntimeNode = require("@node-red/runtime/lib/nodes/Node.js");
const { util } = require("@node-red/util");
const catalog = require(path.join(root, "nodes", "locales", "en-US", "twin-registry.json"))["twin-registry"];

const ALL = [nodes.registry, nodes.twin, queryNode, lifecycleNode, sensorNode, mirrorNode, predictNode, simulatorNode, nodes.catch, completeNode];
const PUMP = JSON.stringify({ pump: { properties: { rpm: { type: "number", minimum: 0 }, temperature: { type: "number" } } } });

/** Runs until it has looped for seconds when unbounded (about 6 s on an idle machine). */
const SLOW = "$sum($map([1..2000000], function($v){ $v * 2 })) > 0";
/** Recursion 5,000 calls deep (about 15,000 nested steps); fine for JSONata itself, unbounded. */
const DEEP = "($f := function($n){ $n <= 0 ? 0 : 1 + $f($n - 1) }; $f(5000)) > 0";

/** A value nested `levels` deep: more than Node-RED's recursive message copy can take. */
function nested(levels) {
  let value = { level: 0 };
  for (let i = 1; i < levels; i++) value = { d: value };
  return value;
}

/** Every message at helper nodes "out", "out2", "completed" and "errors" from now on. */
function collect() {
  const seen = { out: [], out2: [], completed: [], errors: [] };
  for (const id of Object.keys(seen)) {
    const n = helper.getNode(id);
    if (n) n.on("input", (msg) => seen[id].push(msg));
  }
  return seen;
}

/** The node under test wired to "out", a Complete node watching it, and the support's catch node. */
function withComplete(nodeConfig, registryConfig = {}, extra = []) {
  return flow(
    [
      { wires: [["out"]], ...nodeConfig },
      { id: "out", type: "helper" },
      { id: "completer", type: "complete", scope: [nodeConfig.id], uncaught: false, wires: [["completed"]] },
      { id: "completed", type: "helper" },
      ...extra,
    ],
    { models: PUMP, ...registryConfig },
  );
}

/** Tracks the longest time the event loop went without running a 10 ms timer. */
function loopWatch() {
  let last = Date.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, Date.now() - last);
    },
  };
}

describe("bounded JSONata and messages Node-RED can copy", function () {
  this.timeout(60000);

  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
  });

  describe("JSONata limits in the nodes", function () {
    it("twin-query: a runaway expression fails its message at the time limit, at a catch node, while timers keep running", async function () {
      await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg", expression: SLOW }));
      helper.getNode("reg").use().create("pump-1", { model: "pump" });
      const seen = collect();
      const watch = loopWatch();
      const started = Date.now();
      helper.getNode("q").receive({ payload: 1 });
      await waitFor(() => seen.errors.length + seen.out.length > 0, "the query to end", 30000);
      const elapsed = Date.now() - started;
      const longest = watch.stop();
      assert.equal(seen.out.length, 0, "the query did not answer");
      const error = seen.errors[0].error;
      assert.equal(error.source.id, "q");
      assert.equal(error.code, "expression-timeout");
      assert.match(error.message, /twin-query\.errors\.evaluation/);
      assert.doesNotMatch(error.message, /\[object Object\]/);
      assert.ok(elapsed >= 450, `stopped after ${elapsed} ms, not before the 500 ms limit`);
      assert.ok(elapsed < 15000, `stopped after ${elapsed} ms`);
      // Unbounded, this expression holds the event loop for seconds; bounded, it gives it a turn every 20 ms or so.
      assert.ok(longest < 2000, `the event loop was held for ${longest} ms at once`);
      assert.equal(seen.completed.length, 0, "a failed message does not complete");
    });

    it("twin-query: a recursive expression fails at the depth limit", async function () {
      // A time limit far beyond the depth's: on a busy machine 500 nested steps can take longer than the default 500 ms.
      await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg", expression: DEEP }, { expressionTimeout: "30000" }));
      helper.getNode("reg").use().create("pump-1", { model: "pump" });
      const seen = collect();
      helper.getNode("q").receive({ payload: 1 });
      await waitFor(() => seen.errors.length + seen.out.length > 0, "the query to end", 30000);
      assert.equal(seen.out.length, 0);
      assert.equal(seen.errors[0].error.code, "expression-too-deep");
    });

    it("twin-lifecycle: a condition that fails, or recurses without end, is reported in words naming the twin", async function () {
      // Conditions run on the registry's changes, not on a message: their errors go to the log
      // (node.error without a message), which is watched here.
      const original = RuntimeNode.prototype.error;
      const logged = [];
      RuntimeNode.prototype.error = function (err, msg) {
        if (this.id === "lc") logged.push(err);
        return original.call(this, err, msg);
      };
      try {
        for (const [running, code] of [
          ["$nofn(reported.rpm)", "expression-failed"],
          [DEEP, "expression-too-deep"],
        ]) {
          logged.length = 0;
          await helper.load(ALL, withComplete({ id: "lc", type: "twin-lifecycle", registry: "reg", scope: "all", running, runningType: "jsonata", wires: [["out"], []] }));
          helper.getNode("reg").use().report("pump-1", { rpm: 5 }, { create: { model: "pump" } });
          await waitFor(() => logged.length > 0, `an error for ${running}`, 30000);
          const error = logged[0];
          assert.ok(error instanceof Error);
          assert.notEqual(error.message, "[object Object]");
          assert.match(error.message, /twin-lifecycle\.errors\.condition/);
          assert.equal(error.code, code);
          await helper.unload();
        }
      } finally {
        RuntimeNode.prototype.error = original;
      }
    });

    it("twin: a JSONata twin id that fails or does not parse fails the message in words, not [object Object]", async function () {
      for (const [twinId, code] of [
        ["$nofn(payload)", "expression-failed"],
        ["payload +", "expression-invalid"],
      ]) {
        await helper.load(ALL, withComplete({ id: "t", type: "twin", registry: "reg", operation: "get", twinId, twinIdType: "jsonata" }));
        const seen = collect();
        helper.getNode("t").receive({ payload: 1 });
        await waitFor(() => seen.errors.length + seen.out.length > 0, `an answer for ${twinId}`, 10000);
        const error = seen.errors[0].error;
        assert.notEqual(error.message, "Error: [object Object]");
        assert.match(error.message, new RegExp(`twin-registry\\.errors\\.${code}`));
        assert.equal(error.code, code);
        await helper.unload();
      }
    });

    it("twin-sensor: a JSONata value runs within the limits too", async function () {
      await helper.load(ALL, withComplete({ id: "s", type: "twin-sensor", registry: "reg", twinId: "pump-1", property: "rpm", value: DEEP.replace("> 0", ""), valueType: "jsonata", unknown: "create", model: "pump" }));
      const seen = collect();
      helper.getNode("s").receive({ payload: 1 });
      await waitFor(() => seen.errors.length + seen.out.length > 0, "the reading to end", 30000);
      assert.equal(seen.errors[0].error.code, "expression-too-deep");
      assert.equal(helper.getNode("reg").use().find("pump-1"), undefined, "nothing was written");
    });

    it("reads the limits from the registry's settings, and falls back to the defaults for a value out of range", async function () {
      const deepOk = "($f := function($n){ $n <= 0 ? 0 : 1 + $f($n - 1) }; $f(1000)) > 0";
      const loop = "$sum($map([1..5000], function($v){ $v })) > 0";
      const run = async (registryConfig, expression) => {
        await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg", expression }, registryConfig));
        helper.getNode("reg").use().create("pump-1", { model: "pump" });
        const seen = collect();
        helper.getNode("q").receive({ payload: 1 });
        await waitFor(() => seen.errors.length + seen.completed.length > 0, "the query to end", 30000);
        const limits = helper.getNode("reg").expressionLimits;
        await helper.unload();
        return { limits, code: seen.errors.length ? seen.errors[0].error.code : "ok" };
      };
      // 1,000 calls deep (about 3,000 steps) is beyond the default depth limit, within 20,000.
      assert.deepEqual(await run({}, deepOk), { limits: { timeMs: 500, depth: 500 }, code: "expression-too-deep" });
      assert.deepEqual(await run({ expressionDepth: "20000", expressionTimeout: "60000" }, deepOk), { limits: { timeMs: 60000, depth: 20000 }, code: "ok" });
      // 5,000 lambda calls take milliseconds: within the default time limit, not within 1 ms.
      assert.deepEqual(await run({}, loop), { limits: { timeMs: 500, depth: 500 }, code: "ok" });
      assert.deepEqual(await run({ expressionTimeout: 1 }, loop), { limits: { timeMs: 1, depth: 500 }, code: "expression-timeout" });
      assert.deepEqual(await run({ expressionTimeout: "soon", expressionDepth: 5 }, loop), { limits: { timeMs: 500, depth: 500 }, code: "ok" });
    });

    it("keeps ordinary expressions working, flow context included, for many messages at once", async function () {
      await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg", expression: '$flowContext("site") = attributes.site and reported.rpm > 10', detail: "summary" }));
      const reg = helper.getNode("reg").use();
      for (let i = 1; i <= 20; i++) reg.create(`pump-${i}`, { model: "pump", attributes: { site: i % 2 ? "a" : "b" }, reported: { rpm: i } });
      helper.getNode("q").context().flow.set("site", "a");
      const seen = collect();
      for (let i = 0; i < 30; i++) helper.getNode("q").receive({ payload: i });
      await waitFor(() => seen.out.length + seen.errors.length >= 30, "30 answers", 30000);
      assert.deepEqual(seen.errors, []);
      for (const msg of seen.out) assert.deepEqual(msg.payload.map((s) => s.id).sort(), ["pump-11", "pump-13", "pump-15", "pump-17", "pump-19"]);
    });
  });

  describe("messages nested deeper than Node-RED can copy", function () {
    it("twin-query output each with a Complete node: a 20,000-deep msg.payload fails in words, and Node-RED keeps running", async function () {
      await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg", output: "each" }));
      helper.getNode("reg").use().create("pump-1", { model: "pump" });
      const seen = collect();
      helper.getNode("q").receive({ payload: nested(20000) });
      await waitFor(() => seen.errors.length + seen.completed.length > 0, "the message to end", 10000);
      assert.equal(seen.errors.length, 1);
      const { error, payload } = seen.errors[0];
      assert.equal(error.code, "message-too-deep");
      assert.match(error.message, /twin-registry\.errors\.message-too-deep/);
      assert.equal(payload, null, "the payload is dropped from the failed message");
      assert.deepEqual([seen.out.length, seen.completed.length], [0, 0], "refused whole");
      // Still running: the next message is answered and completes.
      helper.getNode("q").receive({ payload: 1, ok: true });
      await waitFor(() => seen.completed.length > 0, "the next message to complete", 10000);
      assert.equal(seen.completed[0].ok, true);
      assert.equal(seen.out[0].twinId, "pump-1");
    });

    it("every node with an input refuses such a message before any work, whatever the property", async function () {
      const deep = () => nested(20000);
      const cases = [
        [{ id: "n", type: "twin", registry: "reg", operation: "get" }, { twinId: "pump-1", big: deep() }],
        [{ id: "n", type: "twin", registry: "reg", operation: "update" }, { twinId: "pump-1", payload: { site: deep() } }],
        [{ id: "n", type: "twin-sensor", registry: "reg", twinId: "pump-1", property: "rpm", unknown: "create", model: "pump" }, { payload: 5, big: deep() }],
        [{ id: "n", type: "twin-mirror", registry: "reg", scope: "all", wires: [["out"], ["out2"]] }, { topic: "get", twinId: "pump-1", big: deep() }],
        [{ id: "n", type: "twin-predict", registry: "reg", properties: "rpm", wires: [["out"], ["out2"]] }, { twinId: "pump-1", payload: { twinId: "pump-1", section: "reported", changes: { rpm: { value: 1, ts: 1 } } }, big: deep() }],
        [{ id: "n", type: "twin-simulator", prefix: "sim-", count: 1, interval: 1, seed: "1", autoStart: false }, { topic: "reset", big: deep() }],
        [{ id: "n", type: "twin-lifecycle", registry: "reg", scope: "all", running: "rpm > 0", runningType: "cond", wires: [["out"], ["out2"]] }, { topic: "kpi", twinId: "pump-1", big: deep() }],
        // a second wire: Node-RED copies the message for it
        [{ id: "n", type: "twin-query", registry: "reg", wires: [["out", "out2"]] }, { payload: 1, big: deep() }],
      ];
      for (const [config, msg] of cases) {
        const what = `${config.type} with ${Object.keys(msg).join(", ")}`;
        await helper.load(ALL, withComplete(config, {}, [{ id: "out2", type: "helper" }]));
        const reg = helper.getNode("reg").use();
        reg.create("pump-1", { model: "pump", attributes: { site: "a" } });
        const seen = collect();
        helper.getNode("n").receive(msg);
        await waitFor(() => seen.errors.length + seen.completed.length > 0, `${what} to end`, 10000);
        assert.equal(seen.errors.length, 1, what);
        assert.equal(seen.errors[0].error.code, "message-too-deep", what);
        assert.deepEqual([seen.out.length, seen.out2.length, seen.completed.length], [0, 0, 0], what);
        const twin = JSON.parse(JSON.stringify(reg.find("pump-1")));
        assert.deepEqual([twin.attributes, twin.reported, twin.version], [{ site: "a" }, {}, 1], what);
        await helper.unload();
      }
    });

    it("lets a message nested 1,000 levels deep through untouched, to two wires and a Complete node, and refuses 1,001", async function () {
      await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg", wires: [["out", "out2"]] }, {}, [{ id: "out2", type: "helper" }]));
      const seen = collect();
      helper.getNode("q").receive({ payload: 1, big: nested(1000) });
      await waitFor(() => seen.completed.length + seen.errors.length > 0, "the message to end", 10000);
      assert.deepEqual(seen.errors, []);
      assert.deepEqual([seen.out.length, seen.out2.length, seen.completed.length], [1, 1, 1]);
      assert.equal(JSON.stringify(seen.out2[0].big), JSON.stringify(nested(1000)), "the copy for the second wire is whole");
      helper.getNode("q").receive({ payload: 1, big: nested(1001) });
      await waitFor(() => seen.errors.length > 0, "the second message to fail", 10000);
      assert.equal(seen.errors[0].error.code, "message-too-deep");
      assert.deepEqual([seen.out.length, seen.completed.length], [1, 1]);
    });

    it("judges a wide message (400 objects, then one deep object shared by three properties) in full: 1,000 levels pass, 1,001 are refused", async function () {
      await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg", wires: [["out", "out2"]] }, {}, [{ id: "out2", type: "helper" }]));
      const seen = collect();
      // Many small objects before the deep one, so the guard's quick look runs out of objects.
      const wide = (deep) => {
        const value = {};
        for (let i = 0; i < 400; i++) value["k" + i] = { v: i };
        value.deep = deep;
        return value;
      };
      const shared = nested(999);
      helper.getNode("q").receive({ payload: 1, big: wide(shared), again: [shared, shared, shared] });
      await waitFor(() => seen.completed.length + seen.errors.length > 0, "the first message to end", 10000);
      assert.deepEqual(seen.errors, [], "1,000 levels (the wide object, then 999) pass");
      assert.deepEqual([seen.out.length, seen.out2.length], [1, 1]);
      helper.getNode("q").receive({ payload: 1, big: wide(nested(1000)) });
      await waitFor(() => seen.errors.length > 0, "the second message to fail", 10000);
      assert.equal(seen.errors[0].error.code, "message-too-deep");
      assert.deepEqual([seen.out.length, seen.completed.length], [1, 1], "refused whole");
    });
    it("finds the deep value wherever a copy could meet it: in a Map, a Set, or a named key of an array", async function () {
      await helper.load(ALL, withComplete({ id: "q", type: "twin-query", registry: "reg" }));
      const seen = collect();
      const list = [1, 2];
      list.extra = nested(20000);
      const holders = [new Map([["k", nested(20000)]]), new Set([nested(20000)]), list];
      for (const holder of holders) helper.getNode("q").receive({ payload: 1, big: { holder } });
      await waitFor(() => seen.errors.length + seen.completed.length >= holders.length, "the messages to end", 10000);
      assert.deepEqual(seen.errors.map((e) => e.error.code), ["message-too-deep", "message-too-deep", "message-too-deep"]);
    });
  });

  describe("the bounded expression", function () {
    // Node-RED's own util, and a RED._ that renders the English catalog.
    const render = (key, params = {}) => {
      const text = key.split(".").slice(1).reduce((o, k) => (o ? o[k] : undefined), catalog);
      assert.equal(typeof text, "string", `${key} is in the catalog`);
      return text.replace(/__([a-zA-Z]+)__/g, (_, name) => {
        assert.ok(name in params, `${key} gets __${name}__`);
        return String(params[name]);
      });
    };
    const RED = { util, _: render };
    let prepareExpression;
    before(function () {
      ({ prepareExpression } = require(path.join(root, "nodes", "lib", "runtime", "jsonata.js")));
    });
    const node = { id: "n1", type: "test" };
    const registry = (limits) => ({ expressionLimits: limits });
    const failure = (promise) => promise.then(
      (value) => assert.fail(`expected a failure, got ${JSON.stringify(value)}`),
      (err) => err,
    );

    it("reads well: the expression, JSONata's reason and code, or the limit and what to look for", async function () {
      let err = await failure(prepareExpression(RED, node, null, "$nofn(1)").evaluate({}));
      assert.ok(err instanceof Error);
      assert.equal(err.message, 'JSONata expression "$nofn(1)" failed: Attempted to invoke a non-function (T1006)');
      assert.equal(err.code, "expression-failed");
      assert.throws(() => prepareExpression(RED, node, null, "a +"), (e) => e.code === "expression-invalid" && e.message === 'JSONata expression "a +" is invalid: Unexpected end of expression (S0207)');
      err = await failure(prepareExpression(RED, node, registry({ timeMs: 20, depth: 500 }), "($f := function(){ $f() }; $f())").evaluate({}));
      assert.equal(err.code, "expression-timeout");
      assert.match(err.message, /^JSONata expression "\(\$f := function\(\)\{ \$f\(\) \}; \$f\(\)\)" was stopped after 20 ms, the registry's expression time limit/);
      err = await failure(prepareExpression(RED, node, registry({ timeMs: 5000, depth: 50 }), "($f := function($n){ 1 + $f($n) }; $f(0))").evaluate({}));
      assert.equal(err.code, "expression-too-deep");
      assert.match(err.message, /was stopped at 50 nested steps, the registry's expression depth limit: does a function call itself without end\?$/);
      assert.equal(
        render("twin-registry.errors.message-too-deep", { properties: "msg.payload", limit: 1000 }),
        "msg.payload nests deeper than 1000 levels, more than Node-RED can copy (for a Catch or Complete node, or a second wire): the message is refused and the property set to null",
      );
      // a long expression is cut short in the message
      const long = `${"a.".repeat(200)}b(`;
      assert.throws(() => prepareExpression(RED, node, null, long), (e) => e.message.length < 300 && !e.message.includes("[object Object]"));
    });

    it("gives each evaluation its own depth: evaluations of one expression side by side do not add up", async function () {
      // 100 calls deep is about 300 steps: 20 at once would be 6,000 on a shared counter.
      const expression = prepareExpression(RED, node, null, "($f := function($n){ $n <= 0 ? 0 : 1 + $f($n - 1) }; $f(depth))");
      const results = await Promise.all(Array.from({ length: 20 }, () => expression.evaluate({ depth: 100 })));
      assert.deepEqual(results, Array(20).fill(100));
      // and the record of one that failed is not the next one's
      assert.equal((await failure(expression.evaluate({ depth: 5000 }))).code, "expression-too-deep");
      assert.equal(await expression.evaluate({ depth: 10 }), 10);
    });

    it("counts an evaluation's own work toward the time limit, not its wait: a burst of short evaluations all finish", async function () {
      // A burst of messages at once, each a small share of the limit: side by side the burst
      // takes three limits or more, and the last ones wait through nearly all of it. Sized from
      // one evaluation on this machine now, so it shows the same on a fast one and a loaded one.
      const source = "$sum($map([1..300], function($v){ $v * k }))";
      const probe = prepareExpression(RED, node, null, source);
      await probe.evaluate({ k: 1 }); // compiled and warm
      let started = Date.now();
      for (let i = 0; i < 5; i++) await probe.evaluate({ k: i });
      const one = Math.max(1, (Date.now() - started) / 5);
      // Well above one evaluation's work: a stall between two of its steps (the process waiting
      // for a core, or a garbage collection, on a machine whose cores are all busy) is charged to
      // it, and at 250 ms an evaluation of a few milliseconds was stopped in a run under load.
      const limit = Math.max(1000, Math.ceil(40 * one));
      const expression = prepareExpression(RED, node, registry({ timeMs: limit, depth: 500 }), source);
      // A machine whose speed changes under the test can make a burst shorter than planned:
      // then a burst twice as large, until one has outlasted the limit twice over.
      let count = Math.ceil((3 * limit) / one);
      for (let tries = 0; ; tries++, count *= 2) {
        started = Date.now();
        const results = await Promise.all(Array.from({ length: count }, (_, k) => expression.evaluate({ k })));
        assert.deepEqual(results, Array.from({ length: count }, (_, k) => 45150 * k), `a burst of ${count} at a limit of ${limit} ms`);
        if (Date.now() - started > 2 * limit) break;
        assert.ok(tries < 4, `no burst outlasted the limit (${limit} ms) twice over, so the test shows nothing`);
      }
      // and a runaway one in the same burst is still stopped
      const runaway = prepareExpression(RED, node, registry({ timeMs: limit, depth: 500 }), "($f := function(){ $f() }; $f())");
      const [stopped] = await Promise.all([failure(runaway.evaluate({})), ...Array.from({ length: 50 }, (_, k) => expression.evaluate({ k }))]);
      assert.equal(stopped.code, "expression-timeout");
    });

    it("gives each evaluation its own clock: one started late in another's time gets its full time", async function () {
      // Date.now is moved on by hand, so this holds on a machine of any speed and load.
      const realNow = Date.now;
      let offset = 0;
      Date.now = () => realNow() + offset;
      try {
        const expression = prepareExpression(RED, node, registry({ timeMs: 100000, depth: 500 }), "$sum($map([1..n], function($v){ $v })) > 0");
        const first = failure(expression.evaluate({ n: 1e7 })); // would run for many seconds
        offset = 99000; // the first has 1 s left
        const second = expression.evaluate({ n: 20000 });
        offset = 100500; // the first is past its limit; the second has 98.5 s left
        assert.equal((await first).code, "expression-timeout");
        assert.equal(await second, true, "the second evaluation runs to its end, within its own time");
        // and one that starts after another failed is not failed by it
        assert.equal(await expression.evaluate({ n: 10 }), true);
      } finally {
        Date.now = realNow;
      }
    });
  });
});
