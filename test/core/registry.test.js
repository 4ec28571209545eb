"use strict";
const { inheritsNothing } = require("../../nodes/lib/core/json");
const assert = require("assert");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { T0, manualClock, plain, throwsTwin } = require("./core-support");
const { isTwinId, isPropertyName } = require("../../nodes/lib/core/names");

/** The compact pump model of design.md. */
const PUMP = {
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 5 },
      mode: { type: "string", enum: ["auto", "manual", "off"], writable: true },
    },
  },
};

/** Runs fn, which must throw `code`, and asserts the twin's document is byte-for-byte the same. */
function refusedUnchanged(registry, id, fn, code, params) {
  const before = JSON.stringify(registry.get(id));
  throwsTwin(fn, code, params);
  assert.strictEqual(JSON.stringify(registry.get(id)), before, "the twin changed although the write was refused");
}

const { JournalStore } = require("./journal-store");

// Taken once every test file is loaded: a library loaded by another file (should) may add members.
let PROTO_NAMES;
before(function () {
  PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
});

describe("core/registry", function () {
  let opened = [];
  let clock;
  let reg;

  /** Opens a registry with the pump model and the manual clock; closed after each test. */
  function openRegistry(options = {}) {
    const r = new TwinRegistry({ models: parseModels(PUMP), clock, ...options });
    r.open();
    opened.push(r);
    return r;
  }

  /** Collects every event the registry broadcasts. */
  function record(registry) {
    const events = [];
    registry.subscribe((e) => events.push(plain(e)));
    return events;
  }

  beforeEach(function () {
    clock = manualClock();
    reg = openRegistry();
  });

  afterEach(async function () {
    for (const r of opened) await r.close();
    opened = [];
    assert.strictEqual(({}).polluted, undefined, "Object.prototype was polluted");
    assert.deepStrictEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_NAMES);
  });

  // -------------------------------------------------------------------------------------------
  describe("twin ids", function () {
    for (const id of ["pump-07", "7", "P", "plant1.line_2:pump-07", "a-", "x".repeat(128)]) {
      it(`accepts ${JSON.stringify(id.length > 20 ? `${id.slice(0, 5)}…(${id.length})` : id)}`, function () {
        assert.strictEqual(reg.create(id).id, id);
        assert.ok(isTwinId(id));
      });
    }

    it("refuses an id of 129 characters", function () {
      throwsTwin(() => reg.create("x".repeat(129)), "invalid-id");
      assert.strictEqual(reg.size, 0);
    });

    const bad = {
      "a leading '-'": "-pump",
      "a leading '_'": "_pump",
      "a leading '.'": ".pump",
      "a '/'": "plant/pump",
      "a '#'": "pump#1",
      "a '+'": "pump+1",
      "a space": "pump 7",
      "a trailing newline": "pump\n",
      "a non-ASCII letter": "pümpe",
      "the empty string": "",
      '"__proto__"': "__proto__",
      '"constructor"': "constructor",
      '"prototype"': "prototype",
    };
    for (const [label, id] of Object.entries(bad)) {
      it(`refuses an id with ${label}, naming it`, function () {
        throwsTwin(() => reg.create(id), "invalid-id", { id });
        assert.strictEqual(reg.size, 0);
        assert.ok(!isTwinId(id));
      });
    }

    for (const [label, id] of [["a number", 42], ["null", null], ["undefined", undefined], ["an object", {}], ["an array", ["a"]]]) {
      it(`refuses ${label} as an id`, function () {
        throwsTwin(() => reg.create(id), "invalid-id");
      });
    }

    it("answers invalid-id (not not-found, not an inherited member) when reading with a bad id", function () {
      throwsTwin(() => reg.get("constructor"), "invalid-id");
      throwsTwin(() => reg.get("__proto__"), "invalid-id");
      throwsTwin(() => reg.report("a/b", { x: 1 }), "invalid-id");
      throwsTwin(() => reg.remove(""), "invalid-id");
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("property names", function () {
    beforeEach(function () {
      reg.create("t1");
    });

    for (const name of ["temperature", "_private", "t2", "T_2", "a".repeat(100)]) {
      it(`accepts the property name ${JSON.stringify(name.length > 20 ? name.slice(0, 5) + "…" : name)}`, function () {
        reg.report("t1", { [name]: 1 });
        assert.strictEqual(reg.get("t1").reported[name], 1);
        assert.ok(isPropertyName(name));
      });
    }

    for (const name of ["2t", "a-b", "a b", "a.b", "a/b", "", "ü", "$x"]) {
      it(`refuses the property name ${JSON.stringify(name)} naming twin and property`, function () {
        refusedUnchanged(reg, "t1", () => reg.report("t1", { ok: 1, [name]: 1 }), "invalid-property", { twinId: "t1", property: name });
        assert.ok(!isPropertyName(name));
      });
    }

    it("applies the same rules to attribute keys and desired properties", function () {
      refusedUnchanged(reg, "t1", () => reg.updateAttributes("t1", { "serial-no": "x" }), "invalid-property", { property: "serial-no" });
      refusedUnchanged(reg, "t1", () => reg.setDesired("t1", { "set point": 1 }), "invalid-property", { property: "set point" });
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("forbidden keys (__proto__, constructor, prototype)", function () {
    for (const key of ["__proto__", "constructor", "prototype"]) {
      describe(`"${key}"`, function () {
        const hostile = () => JSON.parse(`{"${key}": {"polluted": 1}}`);

        beforeEach(function () {
          reg.create("t1", { attributes: { site: "a" }, reported: { x: 1 } });
          assert.ok(Object.prototype.hasOwnProperty.call(hostile(), key));
        });

        it("is refused as a reported property", function () {
          refusedUnchanged(reg, "t1", () => reg.report("t1", hostile()), "forbidden-key", { twinId: "t1", key });
        });

        it("is refused as a desired property", function () {
          refusedUnchanged(reg, "t1", () => reg.setDesired("t1", hostile()), "forbidden-key", { twinId: "t1", key });
        });

        it("is refused as an attribute key", function () {
          refusedUnchanged(reg, "t1", () => reg.updateAttributes("t1", hostile()), "forbidden-key", { twinId: "t1", key });
        });

        it("is refused as a nested key inside a value, naming the path", function () {
          refusedUnchanged(reg, "t1", () => reg.report("t1", { config: hostile() }), "forbidden-key", { twinId: "t1", property: "config", key });
          refusedUnchanged(reg, "t1", () => reg.updateAttributes("t1", { location: { geo: hostile() } }), "forbidden-key", { key, property: "location.geo" });
        });

        it("is refused in the attributes or reported state of a new twin, which is not created", function () {
          throwsTwin(() => reg.create("t2", { attributes: hostile() }), "forbidden-key", { twinId: "t2", key });
          throwsTwin(() => reg.create("t2", { reported: hostile() }), "forbidden-key", { twinId: "t2", key });
          assert.ok(!reg.has("t2"));
        });

        it("is refused by upsert, leaving the twin unchanged", function () {
          refusedUnchanged(reg, "t1", () => reg.upsert("t1", { attributes: { ok: 1, meta: hostile() } }), "forbidden-key", { key });
        });
      });
    }
  });

  // -------------------------------------------------------------------------------------------
  describe("create", function () {
    it("starts a twin at version 1 with created and updated from the clock", function () {
      const doc = reg.create("pump-07", { model: "pump" });
      assert.deepStrictEqual(plain(doc), {
        id: "pump-07",
        model: "pump",
        attributes: {},
        reported: {},
        desired: {},
        delta: {},
        predictions: {},
        lifecycle: null,
        connectivity: { online: false, lastSeen: null },
        meta: { reported: {}, desired: {} },
        version: 1,
        created: T0,
        updated: T0,
      });
    });

    it("takes initial attributes, reported and desired state", function () {
      const doc = reg.create("pump-07", {
        model: "pump",
        attributes: { site: "plant-1", serial: "P7-2231" },
        reported: { temperature: 61.2, rpm: 1480 },
        desired: { rpm: 1500 },
      });
      assert.strictEqual(doc.version, 1);
      assert.deepStrictEqual(plain(doc.attributes), { site: "plant-1", serial: "P7-2231" });
      assert.deepStrictEqual(plain(doc.reported), { temperature: 61.2, rpm: 1480 });
      assert.deepStrictEqual(plain(doc.desired), { rpm: 1500 });
      assert.deepStrictEqual(plain(doc.delta), { rpm: 1500 });
    });

    it("refuses an id that exists, leaving the twin alone", function () {
      reg.create("pump-07", { attributes: { site: "a" } });
      refusedUnchanged(reg, "pump-07", () => reg.create("pump-07", { attributes: { site: "b" } }), "exists", { twinId: "pump-07" });
    });

    it("refuses an unknown model, naming twin and model, and creates nothing", function () {
      throwsTwin(() => reg.create("pump-07", { model: "compressor" }), "unknown-model", { twinId: "pump-07", model: '"compressor"' });
      assert.ok(!reg.has("pump-07"));
    });

    it("checks initial state against the model and creates nothing when it breaks a rule", function () {
      throwsTwin(() => reg.create("pump-07", { model: "pump", reported: { temperature: 500 } }), "invalid-value", { rule: "maximum 200" });
      throwsTwin(() => reg.create("pump-07", { model: "pump", desired: { temperature: 50 } }), "not-writable");
      assert.ok(!reg.has("pump-07"));
    });

    it("returns a detached document: changing it does not change the twin", function () {
      const doc = reg.create("pump-07", { attributes: { loc: { line: 1 } } });
      doc.attributes.loc.line = 99;
      doc.version = 1000;
      assert.strictEqual(reg.get("pump-07").attributes.loc.line, 1);
      assert.strictEqual(reg.get("pump-07").version, 1);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("upsert", function () {
    it("creates a missing twin", function () {
      const { document, created } = reg.upsert("pump-07", { model: "pump", attributes: { site: "a" } });
      assert.strictEqual(created, true);
      assert.strictEqual(document.version, 1);
      assert.deepStrictEqual(plain(document.attributes), { site: "a" });
    });

    it("merges into an existing twin", function () {
      reg.create("pump-07", { model: "pump", attributes: { site: "a", serial: "S1" } });
      const { document, created } = reg.upsert("pump-07", { model: "pump", attributes: { site: "b", serial: null }, reported: { rpm: 10 } });
      assert.strictEqual(created, false);
      assert.deepStrictEqual(plain(document.attributes), { site: "b" });
      assert.deepStrictEqual(plain(document.reported), { rpm: 10 });
      assert.ok(document.version > 1);
    });

    it("refuses to change the model of an existing twin", function () {
      reg.create("pump-07", { model: "pump" });
      refusedUnchanged(reg, "pump-07", () => reg.upsert("pump-07", { model: "valve", attributes: { x: 1 } }), "model-fixed", { twinId: "pump-07", model: "pump" });
      reg.create("free");
      refusedUnchanged(reg, "free", () => reg.upsert("free", { model: "pump" }), "model-fixed", { twinId: "free" });
    });

    it("applies nothing when one part is invalid (bad desired leaves attributes alone)", function () {
      reg.create("pump-07", { model: "pump", attributes: { site: "a" } });
      refusedUnchanged(reg, "pump-07", () => reg.upsert("pump-07", { attributes: { site: "b" }, reported: { rpm: 1 }, desired: { rpm: -5 } }), "invalid-value", { property: "rpm" });
    });

    it("accepts an empty model for a twin without a model, as create does", function () {
      reg.upsert("free", { model: "", attributes: { a: 1 } });
      const { document, created } = reg.upsert("free", { model: "", attributes: { a: 2 } });
      assert.strictEqual(created, false);
      assert.strictEqual(document.model, null);
      assert.strictEqual(document.attributes.a, 2);
    });

    it("keeps the version when it brings nothing new", function () {
      reg.create("pump-07", { model: "pump", attributes: { site: "a" } });
      const { document } = reg.upsert("pump-07", { model: "pump", attributes: { site: "a" } });
      assert.strictEqual(document.version, 1);
    });

    it("keeps the version and emits nothing when its readings are all older than the stored ones", function () {
      reg.create("pump-07", { model: "pump" });
      reg.report("pump-07", { rpm: 100 }, { ts: T0 });
      const events = record(reg);
      const before = reg.get("pump-07").version;
      const { document } = reg.upsert("pump-07", { reported: { rpm: 50 } }, { ts: T0 - 1000 });
      assert.strictEqual(document.reported.rpm, 100);
      assert.strictEqual(document.version, before, "version rose although nothing was applied");
      assert.deepStrictEqual(events, []);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("updateAttributes", function () {
    beforeEach(function () {
      reg.create("pump-07", { attributes: { site: "plant-1", serial: "P7", loc: { line: 1, cell: "A" } } });
    });

    it("merges a patch: objects merge, null deletes, other values replace", function () {
      clock.advance(1000);
      const doc = reg.updateAttributes("pump-07", { serial: null, loc: { cell: null, bay: 3 }, owner: "ops" });
      assert.deepStrictEqual(plain(doc.attributes), { site: "plant-1", loc: { line: 1, bay: 3 }, owner: "ops" });
      assert.strictEqual(doc.version, 2);
      assert.strictEqual(doc.updated, T0 + 1000);
      assert.strictEqual(doc.created, T0);
    });

    it("keeps the version when the patch changes nothing", function () {
      const doc = reg.updateAttributes("pump-07", { site: "plant-1", missing: null });
      assert.strictEqual(doc.version, 1);
    });

    it("refuses a patch that is not an object", function () {
      for (const patch of [null, "x", 5, [1], undefined]) {
        refusedUnchanged(reg, "pump-07", () => reg.updateAttributes("pump-07", patch), "invalid-patch", { twinId: "pump-07" });
      }
    });

    it("refuses attributes of an unknown twin with not-found", function () {
      throwsTwin(() => reg.updateAttributes("nope", { a: 1 }), "not-found", { twinId: "nope" });
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("versions", function () {
    beforeEach(function () {
      reg.create("pump-07", { model: "pump" });
    });

    it("rises by exactly one per accepted change", function () {
      assert.strictEqual(reg.report("pump-07", { rpm: 1, temperature: 20 }).event.version, 2);
      assert.strictEqual(reg.setDesired("pump-07", { rpm: 100, mode: "auto" }).version, 3);
      assert.strictEqual(reg.updateAttributes("pump-07", { site: "a" }).version, 4);
      assert.strictEqual(reg.get("pump-07").version, 4);
    });

    it("stays put on a refused change", function () {
      throwsTwin(() => reg.report("pump-07", { rpm: "fast" }), "invalid-value");
      throwsTwin(() => reg.setDesired("pump-07", { temperature: 1 }), "not-writable");
      assert.strictEqual(reg.get("pump-07").version, 1);
    });

    it("applies a write whose ifVersion matches", function () {
      const { event } = reg.report("pump-07", { rpm: 5 }, { ifVersion: 1 });
      assert.strictEqual(event.version, 2);
      assert.strictEqual(reg.setDesired("pump-07", { rpm: 9 }, { ifVersion: "2" }).version, 3, "a digit string counts");
    });

    it("refuses a write whose ifVersion is behind with conflict, naming expected and current", function () {
      reg.report("pump-07", { rpm: 5 });
      refusedUnchanged(reg, "pump-07", () => reg.report("pump-07", { rpm: 6 }, { ifVersion: 1 }), "conflict", { twinId: "pump-07", expected: 1, current: 2 });
      refusedUnchanged(reg, "pump-07", () => reg.setDesired("pump-07", { rpm: 6 }, { ifVersion: 1 }), "conflict");
      refusedUnchanged(reg, "pump-07", () => reg.updateAttributes("pump-07", { a: 1 }, { ifVersion: 3 }), "conflict", { expected: 3, current: 2 });
      refusedUnchanged(reg, "pump-07", () => reg.remove("pump-07", { ifVersion: 1 }), "conflict");
    });

    for (const bad of [-1, 1.5, "two", "", NaN, {}, null, true]) {
      it(`refuses ifVersion ${typeof bad === "string" ? JSON.stringify(bad) : String(bad)} with invalid-version`, function () {
        refusedUnchanged(reg, "pump-07", () => reg.report("pump-07", { rpm: 1 }, { ifVersion: bad }), "invalid-version", { twinId: "pump-07" });
      });
    }

    it("refuses create with an ifVersion other than 0 (the twin was expected to exist)", function () {
      throwsTwin(() => reg.create("new-one", {}, { ifVersion: 3 }), "conflict", { twinId: "new-one", current: 0 });
      assert.ok(!reg.has("new-one"));
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("remove", function () {
    it("deletes the twin and returns its last document; get then answers not-found", function () {
      reg.create("pump-07", { attributes: { site: "a" } });
      reg.report("pump-07", { rpm: 1 });
      const last = reg.remove("pump-07");
      assert.strictEqual(last.version, 2);
      assert.deepStrictEqual(plain(last.attributes), { site: "a" });
      assert.ok(!reg.has("pump-07"));
      throwsTwin(() => reg.get("pump-07"), "not-found", { twinId: "pump-07" });
      throwsTwin(() => reg.remove("pump-07"), "not-found");
      throwsTwin(() => reg.report("pump-07", { rpm: 1 }), "not-found");
    });

    it("lets the id be used again for a fresh twin with no old state or history", function () {
      reg.create("pump-07", { attributes: { site: "a" } });
      reg.report("pump-07", { rpm: 1 });
      reg.remove("pump-07");
      const doc = reg.create("pump-07");
      assert.strictEqual(doc.version, 1);
      assert.deepStrictEqual(plain(doc.attributes), {});
      assert.deepStrictEqual(plain(doc.reported), {});
      assert.deepStrictEqual(reg.history("pump-07", "rpm"), []);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("report", function () {
    beforeEach(function () {
      reg.create("pump-07", { model: "pump" });
    });

    it("applies a multi-property reading as one change with one version step", function () {
      const events = record(reg);
      const { event, stale } = reg.report("pump-07", { temperature: 61.2, rpm: 1480, mode: "auto" });
      assert.deepStrictEqual(stale, []);
      assert.strictEqual(event.version, 2);
      assert.deepStrictEqual(Object.keys(event.changes).sort(), ["mode", "rpm", "temperature"]);
      assert.deepStrictEqual(events.filter((e) => e.section === "reported").length, 1);
      const doc = reg.get("pump-07");
      assert.deepStrictEqual(plain(doc.reported), { temperature: 61.2, rpm: 1480, mode: "auto" });
      assert.strictEqual(doc.version, 2);
    });

    it("records when and where each reading came from", function () {
      clock.advance(500);
      reg.report("pump-07", { temperature: 60 }, { ts: T0 + 100, source: "plant-1/pump-07/temperature" });
      const doc = reg.get("pump-07");
      assert.deepStrictEqual(plain(doc.meta.reported), { temperature: { ts: T0 + 100, source: "plant-1/pump-07/temperature" } });
      assert.strictEqual(doc.updated, T0 + 500);
    });

    it("uses the registry clock as the reading time when none is given", function () {
      clock.advance(42);
      reg.report("pump-07", { rpm: 1 });
      assert.strictEqual(reg.get("pump-07").meta.reported.rpm.ts, T0 + 42);
    });

    describe("against the model", function () {
      const cases = [
        ["above the maximum", { temperature: 250 }, "invalid-value", { property: "temperature", rule: "maximum 200", value: "250" }],
        ["below the minimum", { temperature: -41 }, "invalid-value", { property: "temperature", rule: "minimum -40" }],
        ["of the wrong type", { rpm: 12.5 }, "invalid-value", { property: "rpm", rule: "type integer" }],
        ["a string for a number", { temperature: "hot" }, "invalid-value", { property: "temperature", rule: "type number" }],
        ["outside the enum", { mode: "turbo" }, "invalid-value", { property: "mode", rule: /^enum auto\|manual\|off/ }],
        ["not in the model", { humidity: 40 }, "not-in-model", { property: "humidity", model: "pump" }],
      ];
      for (const [label, values, code, params] of cases) {
        it(`refuses a reading ${label}, naming twin, property and rule`, function () {
          refusedUnchanged(reg, "pump-07", () => reg.report("pump-07", values), code, { twinId: "pump-07", ...params });
        });
      }

      it("accepts values on the range bounds", function () {
        reg.report("pump-07", { temperature: -40, rpm: 3600 });
        reg.report("pump-07", { temperature: 200, rpm: 0 });
        assert.deepStrictEqual(plain(reg.get("pump-07").reported), { temperature: 200, rpm: 0 });
      });
    });

    it("refuses the whole message, byte for byte, when one reading of several is bad", function () {
      reg.report("pump-07", { temperature: 50, rpm: 1000 });
      const events = record(reg);
      refusedUnchanged(reg, "pump-07", () => reg.report("pump-07", { temperature: 51, mode: "auto", rpm: 99999 }), "invalid-value", { property: "rpm" });
      assert.deepStrictEqual(events, [], "no event for a refused message");
      assert.strictEqual(reg.history("pump-07", "temperature").length, 1, "history has no trace of the refused message");
    });

    it("accepts any JSON value for a twin without a model", function () {
      reg.create("free");
      reg.report("free", { anything: { nested: [1, "two", null] }, flag: true, n: -1 });
      assert.deepStrictEqual(plain(reg.get("free").reported), { anything: { nested: [1, "two", null] }, flag: true, n: -1 });
    });

    it("refuses values that are not an object of readings", function () {
      for (const values of [5, "x", null, [1, 2], undefined]) {
        refusedUnchanged(reg, "pump-07", () => reg.report("pump-07", values), "invalid-json", { twinId: "pump-07" });
      }
    });

    it("refuses non-finite numbers with rule finite", function () {
      reg.create("free");
      refusedUnchanged(reg, "free", () => reg.report("free", { x: NaN }), "invalid-value", { twinId: "free", property: "x", rule: "finite" });
    });

    it("keeps its own copy: changing the message afterwards does not change the twin", function () {
      reg.create("free");
      const values = { config: { gain: 2, taps: [1, 2] } };
      reg.report("free", values);
      values.config.gain = 99;
      values.config.taps.push(3);
      assert.deepStrictEqual(plain(reg.get("free").reported.config), { gain: 2, taps: [1, 2] });
    });

    it("hands out copies in its change events: a flow that changes the event it got changes nothing in the twin", function () {
      reg.create("free");
      reg.report("free", { config: { gain: 2 }, level: 3 });
      const seen = [];
      reg.subscribe((e) => seen.push(e));
      const { event } = reg.report("free", { config: { gain: 4, taps: [1] }, level: 5 });
      assert.strictEqual(seen[0], event);
      event.changes.config.value.gain = 99;
      event.changes.config.value.taps.push(2);
      event.changes.config.previous.gain = 98;
      event.changes.level.value = 0;
      assert.deepStrictEqual(plain(reg.get("free").reported), { config: { gain: 4, taps: [1] }, level: 5 });
      const next = reg.report("free", { level: 6 }).event;
      assert.deepStrictEqual(plain(next.changes.level), { value: 6, previous: 5, ts: next.changes.level.ts });
      assert.deepStrictEqual(plain(reg.history("free", "level").map((p) => p.value)), [3, 5, 6]);
    });

    it("stores objects with a null prototype", function () {
      reg.create("free");
      reg.report("free", { config: { a: { b: 1 } } });
      const doc = reg.get("free");
      assert.ok(inheritsNothing(doc.reported));
      assert.ok(inheritsNothing(doc.reported.config));
      assert.ok(inheritsNothing(doc.reported.config.a));
    });

    describe("nesting", function () {
      const nested = (levels) => {
        let v = 1;
        for (let i = 0; i < levels; i++) v = { a: v };
        return v;
      };

      it("accepts a value nested 6 levels and refuses 7 with too-deep", function () {
        reg.create("free");
        reg.report("free", { deep: nested(6) });
        refusedUnchanged(reg, "free", () => reg.report("free", { deep: nested(7) }), "too-deep", { twinId: "free", limit: 6 });
      });

      it("lets attribute values nest as deep as readings (6 levels), not deeper", function () {
        reg.create("free");
        reg.updateAttributes("free", { deep: nested(6) });
        refusedUnchanged(reg, "free", () => reg.updateAttributes("free", { deep: nested(7) }), "too-deep", { twinId: "free", limit: 6 });
      });

      it("refuses 10,000-deep nesting with too-deep instead of overflowing the stack", function () {
        reg.create("free");
        refusedUnchanged(reg, "free", () => reg.report("free", { deep: nested(10000) }), "too-deep");
        refusedUnchanged(reg, "free", () => reg.updateAttributes("free", { deep: nested(10000) }), "too-deep");
      });
    });

    describe("older readings", function () {
      it("skips a reading older than the stored one and lists it in stale", function () {
        reg.report("pump-07", { temperature: 60, rpm: 1000 }, { ts: T0 });
        const { event, stale } = reg.report("pump-07", { temperature: 55 }, { ts: T0 - 1 });
        assert.deepStrictEqual(stale, ["temperature"]);
        assert.strictEqual(event, null);
        assert.strictEqual(reg.get("pump-07").reported.temperature, 60);
        assert.strictEqual(reg.get("pump-07").version, 2);
      });

      it("applies the newer readings of a message and skips only the older ones", function () {
        reg.report("pump-07", { temperature: 60 }, { ts: T0 });
        reg.report("pump-07", { rpm: 1000 }, { ts: T0 - 5000 });
        const { event, stale } = reg.report("pump-07", { temperature: 55, rpm: 1200 }, { ts: T0 - 1000 });
        assert.deepStrictEqual(stale, ["temperature"]);
        assert.deepStrictEqual(Object.keys(event.changes), ["rpm"]);
        assert.deepStrictEqual(plain(reg.get("pump-07").reported), { temperature: 60, rpm: 1200 });
      });

      it("applies a reading with the same timestamp as the stored one", function () {
        reg.report("pump-07", { rpm: 1 }, { ts: T0 });
        const { stale } = reg.report("pump-07", { rpm: 2 }, { ts: T0 });
        assert.deepStrictEqual(stale, []);
        assert.strictEqual(reg.get("pump-07").reported.rpm, 2);
      });
    });

    describe("reading timestamps", function () {
      const cases = [
        ["before 1970", -1, "before 1970"],
        ["far in the future", T0 + 24 * 3600 * 1000, "in the future"],
        ["NaN", NaN, "epoch ms"],
        ["Infinity", Infinity, "epoch ms"],
        ["a date string", "2025-11-26T10:00:00Z", "epoch ms"],
      ];
      for (const [label, ts, rule] of cases) {
        it(`refuses a timestamp ${label} with invalid-time`, function () {
          refusedUnchanged(reg, "pump-07", () => reg.report("pump-07", { rpm: 1 }, { ts }), "invalid-time", { twinId: "pump-07", rule });
        });
      }

      it("accepts a device clock slightly ahead (within maxFutureMs)", function () {
        reg.report("pump-07", { rpm: 1 }, { ts: T0 + 60000 });
        assert.strictEqual(reg.get("pump-07").meta.reported.rpm.ts, T0 + 60000);
      });

      it("follows the maxFutureMs option", function () {
        const strict = openRegistry({ maxFutureMs: 1000 });
        strict.create("p");
        throwsTwin(() => strict.report("p", { x: 1 }, { ts: T0 + 1001 }), "invalid-time", { rule: "in the future" });
        strict.report("p", { x: 1 }, { ts: T0 + 1000 });
      });
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("setDesired and delta", function () {
    beforeEach(function () {
      reg.create("pump-07", { model: "pump" });
    });

    it("sets a writable property and records who asked", function () {
      clock.advance(10);
      const event = reg.setDesired("pump-07", { rpm: 1500 }, { by: "dashboard" });
      assert.strictEqual(event.version, 2);
      const doc = reg.get("pump-07");
      assert.deepStrictEqual(plain(doc.desired), { rpm: 1500 });
      assert.deepStrictEqual(plain(doc.meta.desired), { rpm: { ts: T0 + 10, by: "dashboard" } });
    });

    it("refuses a property the model does not mark writable", function () {
      refusedUnchanged(reg, "pump-07", () => reg.setDesired("pump-07", { temperature: 50 }), "not-writable", { twinId: "pump-07", property: "temperature", model: "pump" });
    });

    it("refuses a property outside the model and a value that breaks a rule", function () {
      refusedUnchanged(reg, "pump-07", () => reg.setDesired("pump-07", { speed: 1 }), "not-in-model", { property: "speed" });
      refusedUnchanged(reg, "pump-07", () => reg.setDesired("pump-07", { rpm: 5000 }), "invalid-value", { property: "rpm", rule: "maximum 3600" });
      refusedUnchanged(reg, "pump-07", () => reg.setDesired("pump-07", { rpm: 100, mode: "fast" }), "invalid-value", { property: "mode" });
    });

    it("clears a property with null", function () {
      reg.setDesired("pump-07", { rpm: 1500, mode: "auto" });
      const event = reg.setDesired("pump-07", { rpm: null });
      assert.strictEqual(event.version, 3);
      const doc = reg.get("pump-07");
      assert.deepStrictEqual(plain(doc.desired), { mode: "auto" });
      assert.deepStrictEqual(plain(doc.delta), { mode: "auto" });
    });

    it("changes nothing when clearing a property that was never desired", function () {
      assert.strictEqual(reg.setDesired("pump-07", { rpm: null }), null);
      assert.strictEqual(reg.get("pump-07").version, 1);
    });

    it("shows a delta for a desired value the device has not reported", function () {
      reg.setDesired("pump-07", { rpm: 1500, mode: "auto" });
      reg.report("pump-07", { rpm: 1200, mode: "auto" });
      assert.deepStrictEqual(plain(reg.get("pump-07").delta), { rpm: 1500 });
    });

    it("counts numbers within the model's tolerance as equal (desired 1500, reported 1497, tolerance 5)", function () {
      reg.setDesired("pump-07", { rpm: 1500 });
      reg.report("pump-07", { rpm: 1497 });
      assert.deepStrictEqual(plain(reg.get("pump-07").delta), {});
      reg.report("pump-07", { rpm: 1494 });
      assert.deepStrictEqual(plain(reg.get("pump-07").delta), { rpm: 1500 });
    });

    it("lists delta counts in list() summaries", function () {
      reg.setDesired("pump-07", { rpm: 1500, mode: "auto" });
      reg.report("pump-07", { rpm: 1500 });
      assert.strictEqual(reg.list().twins[0].delta, 1);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("change events", function () {
    it("announce a created twin", function () {
      const events = record(reg);
      reg.create("pump-07", { model: "pump" });
      assert.deepStrictEqual(events, [{ twinId: "pump-07", version: 1, section: "twin", ts: T0, changes: {}, op: "created" }]);
    });

    it("carry each reported value with its previous value and reading time", function () {
      reg.create("pump-07", { model: "pump" });
      reg.report("pump-07", { temperature: 60.9 }, { ts: T0 });
      clock.advance(1000);
      const events = record(reg);
      reg.report("pump-07", { temperature: 61.2, rpm: 1480 }, { ts: T0 + 900 });
      assert.deepStrictEqual(events, [{
        twinId: "pump-07",
        version: 3,
        section: "reported",
        ts: T0 + 1000,
        changes: {
          temperature: { value: 61.2, previous: 60.9, ts: T0 + 900 },
          rpm: { value: 1480, previous: null, ts: T0 + 900 },
        },
      }]);
    });

    it("announce desired changes and the delta they open", function () {
      reg.create("pump-07", { model: "pump" });
      const events = record(reg);
      reg.setDesired("pump-07", { rpm: 1500 });
      assert.deepStrictEqual(events, [
        { twinId: "pump-07", version: 2, section: "desired", ts: T0, changes: { rpm: { value: 1500, previous: null, ts: T0 } } },
        { twinId: "pump-07", version: 2, section: "delta", ts: T0, changes: { rpm: { value: 1500, previous: null, ts: T0 } } },
      ]);
    });

    it("announce a delta closing when the device reports the desired value", function () {
      reg.create("pump-07", { model: "pump" });
      reg.setDesired("pump-07", { rpm: 1500 });
      reg.report("pump-07", { rpm: 1400 });
      const events = record(reg);
      reg.report("pump-07", { rpm: 1498 });
      const delta = events.filter((e) => e.section === "delta");
      assert.deepStrictEqual(delta, [{ twinId: "pump-07", version: 4, section: "delta", ts: T0, changes: { rpm: { value: null, previous: 1500, ts: T0 } } }]);
    });

    it("announce a delta closing when the desired property is cleared", function () {
      reg.create("pump-07", { model: "pump" });
      reg.setDesired("pump-07", { rpm: 1500 });
      const events = record(reg);
      reg.setDesired("pump-07", { rpm: null });
      assert.deepStrictEqual(events, [
        { twinId: "pump-07", version: 3, section: "desired", ts: T0, changes: { rpm: { value: null, previous: 1500, ts: T0 } } },
        { twinId: "pump-07", version: 3, section: "delta", ts: T0, changes: { rpm: { value: null, previous: 1500, ts: T0 } } },
      ]);
    });

    it("announce no delta when a reading keeps it unchanged", function () {
      reg.create("pump-07", { model: "pump" });
      reg.setDesired("pump-07", { rpm: 1500 });
      const events = record(reg);
      reg.report("pump-07", { rpm: 1200 });
      reg.report("pump-07", { temperature: 20 });
      assert.deepStrictEqual(events.filter((e) => e.section === "delta"), []);
    });

    it("announce attribute changes, a deleted attribute as value null", function () {
      reg.create("pump-07", { attributes: { site: "a", serial: "S1" } });
      clock.advance(5);
      const events = record(reg);
      reg.updateAttributes("pump-07", { site: "b", serial: null, owner: "ops" });
      assert.deepStrictEqual(events, [{
        twinId: "pump-07",
        version: 2,
        section: "attributes",
        ts: T0 + 5,
        changes: {
          site: { value: "b", previous: "a", ts: T0 + 5 },
          serial: { value: null, previous: "S1", ts: T0 + 5 },
          owner: { value: "ops", previous: null, ts: T0 + 5 },
        },
      }]);
    });

    it("announce a deleted twin with its last version", function () {
      reg.create("pump-07");
      reg.updateAttributes("pump-07", { a: 1 });
      clock.advance(7);
      const events = record(reg);
      reg.remove("pump-07");
      assert.deepStrictEqual(events, [{ twinId: "pump-07", version: 2, section: "twin", ts: T0 + 7, changes: {}, op: "deleted" }]);
    });

    it("announce a twin coming online once, on its first reading", function () {
      reg.create("pump-07");
      const events = record(reg);
      reg.report("pump-07", { x: 1 });
      reg.report("pump-07", { x: 2 });
      const online = events.filter((e) => e.section === "connectivity");
      assert.deepStrictEqual(online, [{ twinId: "pump-07", version: 2, section: "connectivity", ts: T0, changes: { online: { value: true, previous: false, ts: T0 } } }]);
      assert.deepStrictEqual(plain(reg.get("pump-07").connectivity), { online: true, lastSeen: T0 });
    });

    it("are not sent for refused writes", function () {
      reg.create("pump-07", { model: "pump" });
      const events = record(reg);
      assert.throws(() => reg.report("pump-07", { rpm: -1 }));
      assert.throws(() => reg.setDesired("pump-07", { temperature: 1 }));
      assert.throws(() => reg.updateAttributes("pump-07", "x"));
      assert.throws(() => reg.create("pump-07"));
      assert.deepStrictEqual(events, []);
    });

    it("stop after unsubscribing", function () {
      const events = [];
      const off = reg.subscribe((e) => events.push(e));
      reg.create("a");
      off();
      reg.create("b");
      assert.strictEqual(events.length, 1);
    });

    it("survive a throwing subscriber: the write lands, others are told, onListenerError gets the error", function () {
      reg.create("pump-07");
      const boom = new Error("subscriber bug");
      const errors = [];
      reg.onListenerError((err) => errors.push(err));
      reg.subscribe(() => {
        throw boom;
      });
      const events = record(reg);
      const { event } = reg.report("pump-07", { x: 1 });
      assert.strictEqual(event.version, 2);
      assert.strictEqual(reg.get("pump-07").reported.x, 1);
      assert.deepStrictEqual(events.map((e) => e.section), ["reported", "connectivity"]);
      assert.deepStrictEqual(errors, [boom, boom]);
    });

    it("do not let a throwing subscriber fail the write when no error handler is set", function () {
      reg.create("pump-07");
      reg.subscribe(() => {
        throw new Error("subscriber bug");
      });
      assert.doesNotThrow(() => reg.report("pump-07", { x: 1 }));
      assert.strictEqual(reg.get("pump-07").version, 2);
    });

    it("do not hand out the twin's own objects: a subscriber editing an event cannot change the twin", function () {
      reg.create("free", { attributes: { loc: { line: 1 } } });
      reg.subscribe((e) => {
        for (const name of Object.keys(e.changes)) {
          const v = e.changes[name].value;
          if (v && typeof v === "object") v.tampered = true;
        }
      });
      reg.report("free", { config: { gain: 2 } });
      reg.setDesired("free", { target: { gain: 3 } });
      reg.updateAttributes("free", { loc: { line: 2 } });
      const doc = reg.get("free");
      const seen = {
        reported: plain(doc.reported.config),
        desired: plain(doc.desired.target),
        attributes: plain(doc.attributes.loc),
      };
      assert.deepStrictEqual(seen, { reported: { gain: 2 }, desired: { gain: 3 }, attributes: { line: 2 } }, "twin state was changed through an event");
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("document size limit", function () {
    it("refuses a 1 MB reading under the default 64 KB limit", function () {
      reg.create("free");
      refusedUnchanged(reg, "free", () => reg.report("free", { blob: "x".repeat(1024 * 1024) }), "too-large", { twinId: "free", limit: 65536 });
    });

    describe("with maxDocumentBytes 2000", function () {
      let small;
      beforeEach(function () {
        small = openRegistry({ maxDocumentBytes: 2000 });
        small.create("t", { attributes: { note: "x".repeat(500) }, reported: { a: "y".repeat(500) } });
      });

      it("refuses reported growth past the limit with too-large and leaves the twin unchanged", function () {
        refusedUnchanged(small, "t", () => small.report("t", { b: "z".repeat(1200) }), "too-large", { twinId: "t", limit: 2000 });
      });

      it("refuses attribute growth past the limit", function () {
        refusedUnchanged(small, "t", () => small.updateAttributes("t", { more: "z".repeat(1200) }), "too-large", { twinId: "t" });
      });

      it("refuses desired growth past the limit", function () {
        refusedUnchanged(small, "t", () => small.setDesired("t", { b: "z".repeat(1200) }), "too-large", { twinId: "t" });
      });

      it("refuses a new twin larger than the limit and does not create it", function () {
        throwsTwin(() => small.create("u", { attributes: { a: "x".repeat(1000) }, reported: { b: "y".repeat(1000) } }), "too-large", { twinId: "u" });
        assert.ok(!small.has("u"));
      });

      it("still accepts changes that shrink or replace values within the limit", function () {
        small.report("t", { a: "w".repeat(900) });
        small.report("t", { a: "short" });
        small.report("t", { b: "z".repeat(1000) });
        small.updateAttributes("t", { note: null });
        assert.strictEqual(small.get("t").reported.b.length, 1000);
      });

      it("refuses an upsert whose parts fit one by one but not together", function () {
        refusedUnchanged(small, "t", () => small.upsert("t", { attributes: { more: "m".repeat(500) }, reported: { b: "r".repeat(500) } }), "too-large", { twinId: "t" });
      });
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("history", function () {
    beforeEach(function () {
      reg.create("pump-07", { model: "pump" });
      for (let i = 0; i < 10; i++) reg.report("pump-07", { temperature: 20 + i, mode: "auto" }, { ts: T0 - 10000 + i * 1000 });
    });

    it("records numeric readings with their reading time, oldest first", function () {
      const points = reg.history("pump-07", "temperature");
      assert.strictEqual(points.length, 10);
      assert.deepStrictEqual(points[0], { ts: T0 - 10000, value: 20 });
      assert.deepStrictEqual(points[9], { ts: T0 - 1000, value: 29 });
    });

    it("keeps no history of non-numeric or never-reported properties", function () {
      assert.deepStrictEqual(reg.history("pump-07", "mode"), []);
      assert.deepStrictEqual(reg.history("pump-07", "rpm"), []);
    });

    it("selects by from/to (inclusive) and limit (newest points)", function () {
      const values = (q) => reg.history("pump-07", "temperature", q).map((p) => p.value);
      assert.deepStrictEqual(values({ from: T0 - 8000, to: T0 - 6000 }), [22, 23, 24]);
      assert.deepStrictEqual(values({ limit: 2 }), [28, 29]);
      assert.deepStrictEqual(values({ from: T0 - 8000, to: T0 - 6000, limit: 1 }), [24]);
      assert.deepStrictEqual(values({ from: T0 }), []);
    });

    it("does not record skipped older readings", function () {
      reg.report("pump-07", { temperature: 99 }, { ts: T0 - 50000 });
      assert.strictEqual(reg.history("pump-07", "temperature").length, 10);
    });

    it("keeps only the newest historyLength points", function () {
      const short = openRegistry({ historyLength: 3 });
      short.create("t");
      for (let i = 0; i < 10; i++) short.report("t", { v: i }, { ts: T0 - 100 + i });
      assert.deepStrictEqual(short.history("t", "v").map((p) => p.value), [7, 8, 9]);
    });

    it("keeps none with historyLength 0", function () {
      const none = openRegistry({ historyLength: 0 });
      none.create("t");
      none.report("t", { v: 1 });
      assert.deepStrictEqual(none.history("t", "v"), []);
      assert.strictEqual(none.get("t").reported.v, 1);
    });

    it("refuses an unknown twin or a bad property name", function () {
      throwsTwin(() => reg.history("nope", "temperature"), "not-found");
      throwsTwin(() => reg.history("pump-07", "__proto__"), "forbidden-key");
      throwsTwin(() => reg.history("pump-07", "a-b"), "invalid-property");
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("list", function () {
    beforeEach(function () {
      for (const id of ["pump-10", "fan-1", "pump-02", "Zeta", "pump-01"]) reg.create(id, id.startsWith("pump") ? { model: "pump" } : {});
      reg.report("pump-02", { rpm: 1 });
      reg.report("fan-1", { on: true });
    });

    const ids = (result) => result.twins.map((t) => t.id);

    it("lists every twin sorted by id", function () {
      const result = reg.list();
      assert.strictEqual(result.total, 5);
      assert.deepStrictEqual(ids(result), ["Zeta", "fan-1", "pump-01", "pump-02", "pump-10"]);
    });

    it("filters by model", function () {
      assert.deepStrictEqual(ids(reg.list({ model: "pump" })), ["pump-01", "pump-02", "pump-10"]);
      assert.strictEqual(reg.list({ model: "valve" }).total, 0);
    });

    it("filters by online state", function () {
      assert.deepStrictEqual(ids(reg.list({ online: true })), ["fan-1", "pump-02"]);
      assert.deepStrictEqual(ids(reg.list({ online: false })), ["Zeta", "pump-01", "pump-10"]);
    });

    it("pages with limit and offset, total counting every match", function () {
      const page = reg.list({ model: "pump", limit: 2, offset: 1 });
      assert.strictEqual(page.total, 3);
      assert.deepStrictEqual(ids(page), ["pump-02", "pump-10"]);
      assert.deepStrictEqual(ids(reg.list({ limit: 2 })), ["Zeta", "fan-1"]);
      assert.deepStrictEqual(ids(reg.list({ offset: 10 })), []);
    });

    it("gives a summary per twin", function () {
      const summary = reg.list({ model: "pump", limit: 1, offset: 1 }).twins[0];
      assert.deepStrictEqual(plain(summary), {
        id: "pump-02", model: "pump", stage: null, online: true, lastSeen: T0, version: 2, updated: T0, delta: 0, anomaly: false,
      });
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("connectivity and staleness", function () {
    let live;
    beforeEach(function () {
      live = openRegistry({ stalenessMs: 10000 });
      live.create("pump-07");
      live.report("pump-07", { x: 1 });
    });

    it("keeps a twin online until stalenessMs has passed without a reading", function () {
      const events = record(live);
      clock.advance(9999);
      live.expire();
      assert.deepStrictEqual(events, []);
      assert.strictEqual(live.get("pump-07").connectivity.online, true);
    });

    it("takes a silent twin offline with a connectivity event, keeping its version and lastSeen", function () {
      const events = record(live);
      clock.advance(10000);
      live.expire();
      assert.deepStrictEqual(events, [{
        twinId: "pump-07", version: 2, section: "connectivity", ts: T0 + 10000,
        changes: { online: { value: false, previous: true, ts: T0 + 10000 } },
      }]);
      const doc = live.get("pump-07");
      assert.deepStrictEqual(plain(doc.connectivity), { online: false, lastSeen: T0 });
      assert.strictEqual(doc.version, 2);
      assert.deepStrictEqual(live.list({ online: false }).twins.map((t) => t.id), ["pump-07"]);
    });

    it("tells only once that a twin went offline", function () {
      const events = record(live);
      clock.advance(20000);
      live.expire();
      clock.advance(20000);
      live.expire();
      assert.strictEqual(events.length, 1);
    });

    it("brings the twin online again on its next reading", function () {
      clock.advance(15000);
      live.expire();
      const events = record(live);
      live.report("pump-07", { x: 2 });
      assert.deepStrictEqual(events.filter((e) => e.section === "connectivity"), [{
        twinId: "pump-07", version: 3, section: "connectivity", ts: T0 + 15000,
        changes: { online: { value: true, previous: false, ts: T0 + 15000 } },
      }]);
      assert.deepStrictEqual(plain(live.get("pump-07").connectivity), { online: true, lastSeen: T0 + 15000 });
    });

    it("touch() refreshes lastSeen without a version change and postpones going offline", function () {
      const events = record(live);
      clock.advance(8000);
      live.touch("pump-07");
      const doc = live.get("pump-07");
      assert.strictEqual(doc.version, 2);
      assert.strictEqual(doc.connectivity.lastSeen, T0 + 8000);
      clock.advance(8000); // 16 s after the reading, 8 s after the touch
      live.expire();
      assert.strictEqual(live.get("pump-07").connectivity.online, true);
      clock.advance(2000);
      live.expire();
      assert.strictEqual(live.get("pump-07").connectivity.online, false);
      assert.deepStrictEqual(events.map((e) => e.changes.online.value), [false]);
    });

    it("touch() brings an offline twin back online with an event", function () {
      clock.advance(10000);
      live.expire();
      const events = record(live);
      live.touch("pump-07");
      assert.deepStrictEqual(events.map((e) => [e.section, e.changes.online.value]), [["connectivity", true]]);
      assert.strictEqual(live.get("pump-07").version, 2);
    });

    it("touch() refuses an unknown twin", function () {
      throwsTwin(() => live.touch("nope"), "not-found");
    });

    it("never takes a twin offline when stalenessMs is 0", function () {
      reg.create("t");
      reg.report("t", { x: 1 });
      clock.advance(365 * 24 * 3600 * 1000);
      reg.expire();
      assert.strictEqual(reg.get("t").connectivity.online, true);
    });

    it("does not take a removed twin's id offline later", function () {
      live.remove("pump-07");
      const events = record(live);
      clock.advance(20000);
      live.expire();
      assert.deepStrictEqual(events, []);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("restart from the journal", function () {
    it("restores the same documents and history", async function () {
      const store = new JournalStore();
      const first = openRegistry({ store });
      first.create("pump-07", { model: "pump", attributes: { site: "plant-1" } });
      first.report("pump-07", { temperature: 60, rpm: 1400 }, { source: "s" });
      first.setDesired("pump-07", { rpm: 1500 }, { by: "dashboard" });
      first.updateAttributes("pump-07", { serial: "P7" });
      first.create("gone");
      first.remove("gone");
      const before = JSON.stringify(first.get("pump-07"));
      await first.close();
      const second = openRegistry({ store: new JournalStore(store.entries) });
      assert.strictEqual(JSON.stringify(second.get("pump-07")), before);
      assert.ok(!second.has("gone"));
      assert.deepStrictEqual(second.history("pump-07", "temperature").map((p) => p.value), [60]);
    });

    it("restores a twin that touch() brought back online as online", async function () {
      const store = new JournalStore();
      const first = openRegistry({ store, stalenessMs: 10000 });
      first.create("pump-07");
      first.report("pump-07", { x: 1 });
      clock.advance(10000);
      first.expire();
      clock.advance(1000);
      first.touch("pump-07");
      const before = plain(first.get("pump-07").connectivity);
      await first.close();
      const second = openRegistry({ store: new JournalStore(store.entries), stalenessMs: 10000 });
      assert.deepStrictEqual(plain(second.get("pump-07").connectivity), before);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe("closing", function () {
    it("refuses writes after close() with store-closed", async function () {
      reg.create("t");
      await reg.close();
      throwsTwin(() => reg.create("u"), "store-closed");
      throwsTwin(() => reg.report("t", { x: 1 }), "store-closed");
    });
  });
});
