"use strict";
/**
 * Edges of the registry's change rules that users meet: what ifVersion strings count as a version,
 * what a bad payload's error names, where the document limit lies exactly, what a creation and a
 * device's own status announce, and what counts as a sign of life.
 */
const assert = require("assert");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { T0, manualClock, plain, throwsTwin } = require("./core-support");
const { JournalStore } = require("./journal-store");

describe("core/registry change rules", function () {
  let clock;
  let opened = [];

  function open(options = {}) {
    const reg = new TwinRegistry({ clock, ...options });
    reg.open();
    opened.push(reg);
    return reg;
  }

  function record(reg) {
    const events = [];
    reg.subscribe((e) => events.push(plain(e)));
    return events;
  }

  beforeEach(function () {
    clock = manualClock();
  });

  afterEach(async function () {
    for (const reg of opened) await reg.close();
    opened = [];
  });

  describe("ifVersion", function () {
    it("creates a twin when ifVersion is 0 or \"0\" (the caller expects it not to exist yet)", function () {
      const reg = open();
      assert.strictEqual(reg.create("a", {}, { ifVersion: 0 }).version, 1);
      assert.strictEqual(reg.create("b", {}, { ifVersion: "0" }).version, 1);
    });

    it("answers conflict, not invalid-version, for ifVersion 0 on a twin that exists", function () {
      const reg = open();
      reg.create("a");
      throwsTwin(() => reg.updateAttributes("a", { x: 1 }, { ifVersion: 0 }), "conflict", { expected: 0, current: 1 });
    });

    it("reads a string of several digits as a version number", function () {
      const reg = open();
      reg.create("a");
      throwsTwin(() => reg.updateAttributes("a", { x: 1 }, { ifVersion: "12" }), "conflict", { expected: 12, current: 1 });
    });

    for (const bad of [" 1", "1 ", "1.0", "0x1", "+1"]) {
      it(`refuses the string ${JSON.stringify(bad)} as ifVersion instead of reading it as 1`, function () {
        const reg = open();
        reg.create("a");
        throwsTwin(() => reg.updateAttributes("a", { x: 1 }, { ifVersion: bad }), "invalid-version");
        assert.strictEqual(reg.get("a").version, 1);
      });
    }
  });

  describe("payloads that are not what a change needs", function () {
    for (const input of [null, "text", 5]) {
      it(`refuses to create a twin from ${JSON.stringify(input)}, naming the payload, and creates nothing`, function () {
        const reg = open();
        throwsTwin(() => reg.create("a", input), "invalid-json", { twinId: "a", property: "payload" });
        assert.strictEqual(reg.size, 0);
      });
    }

    it("names reported or desired when their values are not an object", function () {
      const reg = open();
      reg.create("a");
      throwsTwin(() => reg.report("a", 5), "invalid-json", { twinId: "a", property: "reported" });
      throwsTwin(() => reg.setDesired("a", 5), "invalid-json", { twinId: "a", property: "desired" });
    });

    it("lists the models it knows when refusing an unknown one, or says there are none", function () {
      const models = parseModels({ pump: { properties: {} }, valve: { properties: {} } });
      throwsTwin(() => open({ models }).create("a", { model: "fan" }), "unknown-model", { known: "pump, valve" });
      throwsTwin(() => open().create("a", { model: "fan" }), "unknown-model", { known: "none" });
    });

    it("skips readings and desired values that are undefined (as a JavaScript caller leaves them)", function () {
      const reg = open();
      reg.create("a");
      reg.report("a", { temperature: 1, note: undefined });
      reg.setDesired("a", { rpm: 1500, mode: undefined });
      const doc = plain(reg.get("a"));
      assert.deepStrictEqual([doc.reported, doc.desired], [{ temperature: 1 }, { rpm: 1500 }]);
    });

    it("lets upsert name model null for a twin without a model", function () {
      const reg = open();
      reg.create("a");
      assert.strictEqual(reg.upsert("a", { model: null, attributes: { site: "x" } }).document.attributes.site, "x");
    });

    it("names the state key it refuses", function () {
      const reg = open();
      reg.create("a");
      throwsTwin(() => reg.setState("a", "bad key!", 1), "invalid-property", { twinId: "a", property: "bad key!" });
    });

    it("names the path inside the lifecycle when a lifecycle record nests too deep", function () {
      const reg = open();
      reg.create("a");
      throwsTwin(() => reg.setLifecycle("a", { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } }), "too-deep", { twinId: "a", property: "lifecycle.a.b.c.d.e.f" });
    });
  });

  describe("reading times", function () {
    it("uses the registry clock when ts is null", function () {
      const reg = open();
      reg.create("a");
      clock.advance(500);
      reg.report("a", { temperature: 1 }, { ts: null });
      assert.strictEqual(reg.get("a").meta.reported.temperature.ts, T0 + 500);
    });

    it("accepts ts 0, the start of 1970", function () {
      const reg = open();
      reg.create("a");
      reg.report("a", { temperature: 1 }, { ts: 0 });
      assert.strictEqual(reg.get("a").meta.reported.temperature.ts, 0);
    });
  });

  describe("document size limit", function () {
    it("accepts a document of exactly maxDocumentBytes and refuses one byte more", function () {
      // A property costs its name twice, its value and 40 bytes of meta: 2 + 6 + 40 = 48.
      assert.strictEqual(open({ maxDocumentBytes: 48 }).create("a", { reported: { x: "aaaa" } }).reported.x, "aaaa");
      throwsTwin(() => open({ maxDocumentBytes: 47 }).create("a", { reported: { x: "aaaa" } }), "too-large", { property: "document", limit: 47 });
    });

    it("counts a property's name toward the limit", function () {
      const name = "n".repeat(100);
      throwsTwin(() => open({ maxDocumentBytes: 200 }).create("a", { reported: { [name]: 1 } }), "too-large");
    });

    it("measures a replaced reported or desired value without the value it replaces", function () {
      const reg = open({ maxDocumentBytes: 200 });
      reg.create("a", { reported: { note: "a".repeat(100) } });
      reg.report("a", { note: "b".repeat(100) });
      reg.create("b", { desired: { note: "a".repeat(100) } });
      reg.setDesired("b", { note: "b".repeat(100) });
      assert.deepStrictEqual([reg.get("a").reported.note[0], reg.get("b").desired.note[0]], ["b", "b"]);
    });

    it("does not count replaced attributes against the limit, however often they are replaced", function () {
      const reg = open({ maxDocumentBytes: 500 });
      reg.create("a");
      for (let i = 0; i < 10; i++) reg.updateAttributes("a", { note: String(i).repeat(100) });
      assert.strictEqual(reg.get("a").attributes.note, "9".repeat(100));
    });
  });

  describe("what a creation announces", function () {
    it("announces a twin created with readings, its readings and its coming online", function () {
      const reg = open();
      const events = record(reg);
      reg.create("a", { reported: { temperature: 1 } });
      assert.deepStrictEqual(events.map((e) => e.section), ["twin", "reported", "connectivity"]);
      assert.deepStrictEqual(events[2].changes.online, { value: true, previous: false, ts: T0 });
    });

    it("announces only the creation when the readings and desired values are empty", function () {
      const reg = open();
      const events = record(reg);
      reg.create("a", { reported: {}, desired: {} });
      assert.deepStrictEqual(events.map((e) => e.section), ["twin"]);
      assert.strictEqual(reg.get("a").connectivity.online, false);
    });

    it("returns the readings event and no stale readings from a report that creates its twin", function () {
      const reg = open();
      const result = plain(reg.report("a", { temperature: 1 }, { create: {} }));
      assert.deepStrictEqual(result, {
        event: { twinId: "a", version: 1, section: "reported", ts: T0, changes: { temperature: { value: 1, previous: null, ts: T0 } } },
        stale: [],
        created: true,
      });
    });
  });

  describe("connectivity", function () {
    it("takes a twin offline in its document, and after a restart, when the device says it is offline", function () {
      const store = new JournalStore();
      const reg = open({ store });
      reg.create("a", { reported: { temperature: 1 } });
      const events = record(reg);
      reg.setOnline("a", false);
      assert.strictEqual(reg.get("a").connectivity.online, false);
      assert.deepStrictEqual(events.map((e) => [e.section, e.changes.online]), [["connectivity", { value: false, previous: true, ts: T0 }]]);
      const back = open({ store: new JournalStore(store.entries) });
      assert.strictEqual(back.get("a").connectivity.online, false);
    });

    it("counts only readings as a sign of life: an attribute change does not keep a twin online", function () {
      const reg = open({ stalenessMs: 1000 });
      reg.create("a");
      reg.report("a", { temperature: 1 });
      clock.advance(800);
      reg.updateAttributes("a", { site: "x" });
      clock.advance(300);
      reg.expire();
      assert.strictEqual(reg.get("a").connectivity.online, false);
    });

    it("keeps lastSeen at the latest reading when the host clock steps back", function () {
      const reg = open();
      reg.create("a");
      clock.advance(1000);
      reg.report("a", { temperature: 1 });
      clock.advance(-500);
      // Another property, so the reading is not refused as older than the stored one.
      reg.report("a", { rpm: 2 });
      assert.strictEqual(reg.get("a").reported.rpm, 2);
      assert.strictEqual(reg.get("a").connectivity.lastSeen, T0 + 1000);
    });
  });

  describe("desired values, lifecycle and list", function () {
    it("keeps no history of numeric desired values", function () {
      const reg = open();
      reg.create("a");
      reg.setDesired("a", { rpm: 1500 });
      assert.deepStrictEqual(reg.history("a", "rpm"), []);
    });

    it("announces only the lifecycle fields that changed", function () {
      const reg = open();
      reg.create("a");
      reg.setLifecycle("a", { stage: "commissioning", owner: "ops" });
      const events = record(reg);
      reg.setLifecycle("a", { stage: "operating", owner: "ops" });
      assert.deepStrictEqual(Object.keys(events[0].changes), ["stage"]);
    });

    it("lists only the twins in the stage asked for", function () {
      const reg = open();
      for (const id of ["a", "b", "c"]) reg.create(id);
      reg.setLifecycle("a", { stage: "operating" });
      reg.setLifecycle("c", { stage: "retired" });
      assert.deepStrictEqual(reg.list({ stage: "operating" }).twins.map((t) => t.id), ["a"]);
    });
  });
});
