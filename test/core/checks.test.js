"use strict";
// The rules a change meets before the registry journals it (src/core/checks.ts), on their own:
// each takes a twin as the registry holds it and either answers what the write will store or
// throws the TwinError the user sees. The registry tests cover the same rules through writes.
const assert = require("assert");
const { ChangeChecks, expectedVersion } = require("../../nodes/lib/core/checks");
const { Twin } = require("../../nodes/lib/core/twin");
const { SKIP } = require("../../nodes/lib/core/shaping");
const { parseModels } = require("../../nodes/lib/core/models");
const { T0, manualClock, plain, throwsTwin } = require("./core-support");

function setup(limits = {}) {
  const clock = manualClock();
  const models = new Map();
  const checks = new ChangeChecks({
    clock,
    maxDocumentBytes: 64 * 1024,
    maxDepth: 6,
    maxFutureMs: 5 * 60 * 1000,
    modelOf: (twin) => (twin.model ? models.get(twin.model) : null),
    ...limits,
  });
  return { checks, clock, models };
}

/** A twin holding `reported` values (name -> [value, ts]). */
function twinWith(reported = {}, model = null) {
  const twin = new Twin("pump-1", model, T0, T0);
  for (const [name, [value, ts]] of Object.entries(reported)) twin.reported.set(name, { value, ts, series: undefined });
  return twin;
}

describe("core/checks: what a change must meet before it is written", function () {
  describe("reported", function () {
    it("keeps fresh values, names older readings as stale and leaves them out", function () {
      const { checks } = setup();
      const twin = twinWith({ temperature: [20, T0 + 1000], pressure: [1, T0 - 1000] });
      const checked = checks.reported(twin, { temperature: 21, pressure: 2, flow: 3 }, { ts: T0 });
      assert.deepStrictEqual(plain(checked.values), { pressure: 2, flow: 3 });
      assert.deepStrictEqual(checked.stale, ["temperature"]);
      assert.strictEqual(checked.ts, T0);
      assert.strictEqual(checked.kept, 3);
      // Each accepted value's stored entry, in order, for the write that follows.
      assert.deepStrictEqual(checked.entries, [twin.reported.get("pressure"), undefined]);
    });

    it("takes the stored reading sent again (its own time and value, an MQTT message delivered twice) as stale, not as a new one", function () {
      const { checks } = setup();
      const twin = twinWith({ temperature: [20.5, T0], mode: [{ fan: "auto" }, T0] });
      const again = checks.reported(twin, { temperature: 20.5, mode: { fan: "auto" } }, { ts: T0 });
      assert.deepStrictEqual(plain(again.values), {});
      assert.deepStrictEqual(again.stale, ["temperature", "mode"]);
      // The same time with another value is a correction: kept, as before.
      const corrected = checks.reported(twin, { temperature: 20.6, mode: { fan: "high" } }, { ts: T0 });
      assert.deepStrictEqual(plain(corrected.values), { temperature: 20.6, mode: { fan: "high" } });
      // A reading timed by this machine's clock (at T0 here) is a new observation, however close in time.
      const fresh = checks.reported(twin, { temperature: 20.5 }, {});
      assert.deepStrictEqual(plain(fresh.values), { temperature: 20.5 });
    });

    it("stores -0 as 0 and refuses what is not a finite JSON value, naming the property", function () {
      const { checks } = setup();
      assert.ok(Object.is(checks.reported(twinWith(), { level: -0 }, {}).values.level, 0));
      throwsTwin(() => checks.reported(twinWith(), { level: NaN }, {}), "invalid-value", { twinId: "pump-1", property: "level", rule: "finite" });
      throwsTwin(() => checks.reported(twinWith(), [1, 2], {}), "invalid-json", { property: "reported" });
      throwsTwin(() => checks.reported(twinWith(), { __proto__: null, constructor: 1 }, {}), "forbidden-key", { key: "constructor" });
    });

    it("checks the source time only once a shaper keeps a value: a reading inside the deadband is still a sign of life", function () {
      const { checks } = setup();
      const skipAll = () => SKIP;
      const checked = checks.reported(twinWith({ temperature: [20, T0] }), { temperature: 20.01 }, { ts: "yesterday", shape: skipAll });
      assert.strictEqual(checked.kept, 0);
      assert.deepStrictEqual(plain(checked.values), {});
      throwsTwin(() => checks.reported(twinWith(), { temperature: 25 }, { ts: "yesterday", shape: (_n, v) => v }), "invalid-time", { rule: "epoch ms" });
    });

    it("maps a vendor's spelling through the model and then leaves the stored entries to be looked up again", function () {
      const { checks, models } = setup();
      const parsed = parseModels({ "@context": "https://www.w3.org/2022/wot/td/v1.1", title: "Meter", properties: { "7:Temperature": { type: "number", minimum: -40, maximum: 125 } } });
      models.set("Meter", parsed.get("Meter"));
      const twin = twinWith({}, "Meter");
      const checked = checks.reported(twin, { "7:Temperature": 21 }, {});
      assert.deepStrictEqual(plain(checked.values), { _7_Temperature: 21 });
      assert.strictEqual(checked.entries, null);
      throwsTwin(() => checks.reported(twin, { "7:Temperature": 200 }, {}), "invalid-value", { property: "_7_Temperature" });
    });
  });

  describe("sourceTime", function () {
    it("takes the clock without a time, and refuses one in the future, before 1970 or not a number", function () {
      const { checks, clock } = setup();
      assert.strictEqual(checks.sourceTime("pump-1", undefined), clock());
      assert.strictEqual(checks.sourceTime("pump-1", clock() + 5 * 60 * 1000), clock() + 5 * 60 * 1000);
      throwsTwin(() => checks.sourceTime("pump-1", clock() + 5 * 60 * 1000 + 1), "invalid-time", { rule: "in the future" });
      throwsTwin(() => checks.sourceTime("pump-1", -1), "invalid-time", { rule: "before 1970" });
      throwsTwin(() => checks.sourceTime("pump-1", Infinity), "invalid-time", { rule: "epoch ms" });
      assert.ok(Object.is(checks.sourceTime("pump-1", -0), 0));
    });
  });

  describe("version", function () {
    it("passes the twin's own version, as a number or its decimal text, and refuses any other as a conflict", function () {
      const { checks } = setup();
      const twin = twinWith();
      twin.version = 4;
      checks.version(twin, undefined);
      checks.version(twin, 4);
      checks.version(twin, "4");
      throwsTwin(() => checks.version(twin, 3), "conflict", { expected: 3, current: 4 });
      throwsTwin(() => checks.version(twin, "4.0"), "invalid-version");
      throwsTwin(() => expectedVersion("pump-1", -1), "invalid-version");
      assert.strictEqual(expectedVersion("pump-1", "12"), 12);
    });
  });

  describe("size", function () {
    it("measures the parts of one change together: each may fit alone and the change still be refused", function () {
      const { checks } = setup({ maxDocumentBytes: 400 });
      const twin = twinWith();
      const big = "x".repeat(80);
      const attributes = checks.attributes(twin, { a: big, b: big });
      const desired = checks.desired(twin, { c: big, d: big }, {});
      checks.size(twin, { a: attributes });
      checks.size(twin, { d: desired });
      throwsTwin(() => checks.size(twin, { a: attributes, d: desired }), "too-large", { limit: 400, property: "document" });
    });
  });

  describe("desired and attributes", function () {
    it("clears only a desired value the twin has, and keeps who asked for the value", function () {
      const { checks } = setup();
      const twin = twinWith();
      twin.desired = new Map([["setpoint", { value: 20, ts: T0, series: undefined }]]);
      const out = checks.desired(twin, { setpoint: null, other: null, speed: 3 }, { by: "twin-mirror" });
      assert.deepStrictEqual([...out.keys()], ["setpoint", "speed"]);
      assert.strictEqual(out.get("setpoint"), null);
      assert.deepStrictEqual(out.get("speed"), [3, T0, "twin-mirror"]);
    });

    it("merges an attribute patch (null removes a key) and measures only the keys it names", function () {
      const { checks } = setup();
      const twin = twinWith();
      const first = checks.attributes(twin, { site: "north", line: 2 });
      twin.attributes = first.merged;
      twin.attributeBytes = first.size;
      const next = checks.attributes(twin, { line: null, owner: "ops" });
      assert.deepStrictEqual(plain(next.merged), { site: "north", owner: "ops" });
      assert.deepStrictEqual(next.keys, ["line", "owner"]);
      assert.strictEqual(next.size, checks.attributes(twinWith(), { site: "north", owner: "ops" }).size);
      throwsTwin(() => checks.attributes(twin, "north"), "invalid-patch");
    });
  });

  describe("state and derived values", function () {
    it("takes state keys with dots and colons, deeper than a property may be, and refuses __proto__", function () {
      const { checks } = setup();
      const deep = { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } };
      const s = checks.state(twinWith(), { "predict:temperature": deep, gone: null });
      assert.deepStrictEqual(plain(s), { "predict:temperature": deep, gone: null });
      throwsTwin(() => checks.state(twinWith(), { __proto__: null, ["__proto__"]: 1 }), "invalid-property");
      throwsTwin(() => checks.derived(twinWith(), "temperature", deep, 1024), "too-deep");
    });

    it("holds state to its own 1 MB and a derived value to the budget its section gives, not to the document's limit", function () {
      // A tiny document limit still lets a follower keep its state; a large one does not let a
      // prediction past its section's 64 KB (sections.ts), which setDerived passes as the budget.
      const { checks } = setup({ maxDocumentBytes: 64 });
      const s = checks.state(twinWith(), { "predict:level": "x".repeat(1000) });
      assert.strictEqual(s["predict:level"].length, 1000);
      throwsTwin(() => checks.state(twinWith(), { "predict:level": "x".repeat(1024 * 1024) }), "too-large", { property: "predict:level", limit: 1024 * 1024 });
      const large = setup({ maxDocumentBytes: 1024 * 1024 }).checks;
      throwsTwin(() => large.derived(twinWith(), "level", "x".repeat(2000), 1024), "too-large", { property: "level", limit: 1024 });
    });
  });
});
