"use strict";
// The lifecycle state machine and running conditions: src/core/lifecycle/stages.ts, conditions.ts.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { parseStages, DEFAULT_STAGES } = require("../../nodes/lib/core/lifecycle/stages");
const { compileComparison, truthy } = require("../../nodes/lib/core/lifecycle/conditions");
const { Twin } = require("../../nodes/lib/core/twin");

const code = (c) => (err) => {
  assert.equal(err.code, c, err.message);
  return true;
};

describe("core/lifecycle: stages", function () {
  const m = parseStages("");

  it("has the default stages, in order, with the transitions a plant allows", function () {
    assert.deepEqual(m.stages, ["design", "manufactured", "commissioned", "operating", "maintenance", "decommissioned", "retired"]);
    assert.deepEqual(m.allowed("operating"), ["maintenance", "decommissioned"]);
    assert.deepEqual(m.allowed("maintenance"), ["operating", "decommissioned"]);
    assert.deepEqual(m.allowed("retired"), [], "nothing out of retired");
    assert.equal(m.check("p1", "operating", "maintenance"), "maintenance");
    assert.equal(m.check("p1", "maintenance", "operating"), "operating");
    assert.equal(m.check("p1", "decommissioned", "commissioned"), "commissioned", "recommissioning");
  });

  it("lets a twin with no stage (or one the machine lacks) enter any stage", function () {
    assert.equal(m.check("p1", null, "operating"), "operating");
    assert.equal(m.check("p1", "someOldStage", "retired"), "retired");
  });

  it("refuses a transition that is not allowed, naming the current stage and the allowed ones", function () {
    assert.throws(() => m.check("p1", "operating", "retired"), (err) => {
      assert.equal(err.code, "transition");
      assert.deepEqual(err.params, { twinId: "p1", from: "operating", to: "retired", allowed: "maintenance, decommissioned" });
      return true;
    });
    assert.throws(() => m.check("p1", "retired", "operating"), (err) => err.code === "transition" && err.params.allowed === "-");
    assert.throws(() => m.check("p1", "operating", "operating"), code("same-stage"));
    assert.throws(() => m.check("p1", "operating", "broken"), (err) => err.code === "stage-unknown" && /design, manufactured/.test(err.params.stages));
    assert.throws(() => m.check("p1", "operating", 42), code("stage-unknown"));
    assert.throws(() => m.check("p1", "operating", "__proto__"), code("stage-unknown"));
  });

  it("guards leaving maintenance for operation, and nothing else", function () {
    assert.equal(m.guarded("maintenance", "operating"), true);
    assert.equal(m.guarded("maintenance", "decommissioned"), false);
    assert.equal(m.guarded("commissioned", "operating"), false);
    assert.equal(m.guarded(null, "operating"), false);
  });

  it("takes the user's own list, as JSON text or a value", function () {
    const own = parseStages(JSON.stringify({
      transitions: { idle: ["running"], running: ["idle", "service"], service: ["idle"] },
      guards: { service: ["idle"] },
    }));
    assert.deepEqual(own.stages, ["idle", "running", "service"]);
    assert.equal(own.guarded("service", "idle"), true);
    assert.throws(() => own.check("m", "idle", "service"), (err) => err.params.allowed === "running");
    assert.deepEqual(parseStages({ transitions: { a: ["b"], b: [] } }).stages, ["a", "b"]);
    assert.deepEqual(parseStages(null).toJSON(), DEFAULT_STAGES);
  });

  it("refuses stage lists that can not work, with a reason", function () {
    assert.throws(() => parseStages("{nope"), code("config.stages-json"));
    assert.throws(() => parseStages("[]"), code("config.stages-shape"));
    assert.throws(() => parseStages({ transitions: {}, extra: 1 }), code("config.stages-shape"));
    assert.throws(() => parseStages({ transitions: {} }), code("config.stages-empty"));
    assert.throws(() => parseStages('{"transitions": {"__proto__": []}}'), code("config.stage-name"));
    assert.throws(() => parseStages({ transitions: { "a b": [] } }), code("config.stage-name"));
    assert.throws(() => parseStages({ transitions: { a: ["nowhere"] } }), (err) => err.code === "config.stage-target" && err.params.target === '"nowhere"');
    assert.throws(() => parseStages({ transitions: { a: ["a"] } }), code("config.stage-target"));
    assert.throws(() => parseStages({ transitions: { a: "b", b: [] } }), code("config.stage-target"));
    assert.throws(() => parseStages({ transitions: { a: ["b"], b: [] }, guards: { b: ["a"] } }), code("config.guards"));
    assert.throws(() => parseStages({ transitions: { a: ["b"], b: [] }, guards: { c: ["a"] } }), code("config.guards"));
    assert.equal({}.polluted, undefined);
  });

  it("the editor's default stages are the runtime's", function () {
    const html = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "twin-lifecycle.html"), "utf8");
    const m2 = /var DEFAULT_STAGES = (\{[\s\S]*?\n      \});/.exec(html);
    assert.ok(m2, "DEFAULT_STAGES in the editor");
    assert.deepEqual(JSON.parse(m2[1]), DEFAULT_STAGES);
  });
});

describe("core/lifecycle: running conditions", function () {
  function twin(reported) {
    const t = new Twin("p1", null, 0, 0);
    for (const [k, v] of Object.entries(reported)) t.reported.set(k, { value: v, ts: 1 });
    return t;
  }

  it("compares a reported property with a literal", function () {
    const c = compileComparison("rpm > 0");
    assert.deepEqual(c.properties, ["rpm"]);
    assert.equal(c.evaluate(twin({ rpm: 1450 })), true);
    assert.equal(c.evaluate(twin({ rpm: 0 })), false);
    assert.equal(c.evaluate(twin({ rpm: "fast" })), false, "not a number");
    assert.equal(c.evaluate(twin({ temperature: 50 })), false, "a missing property is false");
    assert.equal(compileComparison("rpm>=10").evaluate(twin({ rpm: 10 })), true);
    assert.equal(compileComparison("t <= -1.5e1").evaluate(twin({ t: -20 })), true);
    assert.equal(compileComparison('mode == "auto"').evaluate(twin({ mode: "auto" })), true);
    assert.equal(compileComparison("mode = 'auto'").evaluate(twin({ mode: "manual" })), false);
    assert.equal(compileComparison('mode != "off"').evaluate(twin({ mode: "auto" })), true);
    assert.equal(compileComparison("on == true").evaluate(twin({ on: true })), true);
    assert.equal(compileComparison("status.running == true").evaluate(twin({ status: { running: true } })), true);
    assert.equal(compileComparison("status.running").evaluate(twin({ status: { other: 1 } })), false);
  });

  it("a bare property holds when true or a non-zero number", function () {
    const c = compileComparison("running");
    assert.equal(c.evaluate(twin({ running: true })), true);
    assert.equal(c.evaluate(twin({ running: 2 })), true);
    assert.equal(c.evaluate(twin({ running: 0 })), false);
    assert.equal(c.evaluate(twin({ running: "yes" })), false);
    assert.equal(truthy(NaN), false);
  });

  it("refuses what is not a comparison", function () {
    for (const bad of ["", "rpm >", "rpm > fast", "rpm > 0 and x", "1 > rpm", 'rpm > "1"', "__proto__ == 1", "a.constructor", "rpm >> 2"]) {
      assert.throws(() => compileComparison(bad), code("config.condition"), bad);
    }
  });
});
