"use strict";
const { inheritsNothing } = require("../../nodes/lib/core/json");
const assert = require("assert");
const { admit, sizeOf, jsonEqual, cloneJson, dict } = require("../../nodes/lib/core/json");

const ctx = (over = {}) => ({ twinId: "pump-07", property: "config", maxDepth: 6, budget: 64 * 1024, ...over });

/** Asserts fn throws a TwinError with this code and (a superset of) these params. */
function throwsTwin(fn, code, params = {}) {
  assert.throws(fn, (err) => {
    assert.strictEqual(err.name, "TwinError", `expected TwinError, got ${err && err.stack}`);
    assert.strictEqual(err.code, code, `expected ${code}, got ${err.message}`);
    for (const [key, value] of Object.entries(params)) {
      if (value instanceof RegExp) assert.match(String(err.params[key]), value, `param ${key}`);
      else assert.strictEqual(err.params[key], value, `param ${key}`);
    }
    return true;
  });
}

/** An object nested `levels` deep: {a: {a: ... {a: 1}}} (1 level = {a: 1}). */
function nestedObject(levels) {
  let v = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

function nestedArray(levels) {
  let v = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

/** Every object in an admitted value, at any depth. */
function objectsIn(value, out = []) {
  if (value && typeof value === "object") {
    if (!Array.isArray(value)) out.push(value);
    for (const k of Object.keys(value)) objectsIn(value[k], out);
  }
  return out;
}

// Taken once every test file is loaded: a library loaded by another file (should) may add members.
let PROTO_NAMES;
before(function () {
  PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
});

describe("core/json admission", function () {
  afterEach(function () {
    assert.strictEqual(({}).polluted, undefined, "Object.prototype was polluted");
    assert.deepStrictEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTO_NAMES);
  });

  describe("accepted values", function () {
    it("accepts every JSON value: null, booleans, finite numbers, strings, arrays, objects", function () {
      const input = { n: null, t: true, f: false, i: -3, x: 1.5e300, z: 0, s: "héllo", a: [1, "2", [3]], o: { p: { q: "r" } } };
      const { value } = admit(input, ctx());
      assert.deepStrictEqual(JSON.parse(JSON.stringify(value)), input);
    });

    it("accepts scalars at the top level", function () {
      assert.strictEqual(admit(42, ctx()).value, 42);
      assert.strictEqual(admit("on", ctx()).value, "on");
      assert.strictEqual(admit(null, ctx()).value, null);
      assert.strictEqual(admit(false, ctx()).value, false);
    });

    it("accepts null-prototype objects as input", function () {
      const input = Object.create(null);
      input.a = 1;
      assert.strictEqual(admit(input, ctx()).value.a, 1);
    });

    it("drops keys whose value is undefined (as JSON.stringify does)", function () {
      const { value } = admit({ a: 1, b: undefined }, ctx());
      assert.deepStrictEqual(Object.keys(value), ["a"]);
    });

    it("keeps keys named like Object.prototype members as plain data", function () {
      const { value } = admit({ toString: 1, hasOwnProperty: "x", valueOf: [1] }, ctx());
      assert.strictEqual(value.toString, 1);
      assert.strictEqual(value.hasOwnProperty, "x");
      assert.deepStrictEqual(value.valueOf, [1]);
    });
  });

  describe("finite numbers", function () {
    for (const [label, bad] of [["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]]) {
      it(`refuses ${label} with rule "finite", naming twin and property`, function () {
        throwsTwin(() => admit(bad, ctx()), "invalid-value", { twinId: "pump-07", property: "config", rule: "finite", value: label });
      });
    }

    it("names the nested path of a non-finite number inside an object", function () {
      throwsTwin(() => admit({ limits: { high: NaN } }, ctx()), "invalid-value", { property: "config.limits.high", rule: "finite" });
    });

    it("refuses a non-finite number inside an array", function () {
      throwsTwin(() => admit([1, 2, Infinity], ctx()), "invalid-value", { rule: "finite" });
    });
  });

  describe("values that are not JSON", function () {
    class Reading {
      constructor() {
        this.v = 1;
      }
    }
    const cases = [
      ["a function", () => 1],
      ["a Date", new Date(0)],
      ["a Buffer", Buffer.from("abc")],
      ["a class instance", new Reading()],
      ["a Map", new Map([["a", 1]])],
      ["a Set", new Set([1])],
      ["a RegExp", /x/],
      ["a typed array", new Float64Array(2)],
      ["a BigInt", 10n],
      ["a Symbol", Symbol("s")],
      ["undefined", undefined],
    ];
    for (const [label, bad] of cases) {
      it(`refuses ${label} with invalid-json`, function () {
        throwsTwin(() => admit(bad, ctx()), "invalid-json", { twinId: "pump-07", property: "config" });
      });
    }

    it("refuses a Date nested in an object, naming its path", function () {
      throwsTwin(() => admit({ service: { last: new Date() } }, ctx()), "invalid-json", { property: "config.service.last" });
    });

    it("refuses a hole or undefined inside an array", function () {
      throwsTwin(() => admit([1, undefined], ctx()), "invalid-json");
      throwsTwin(() => admit(new Array(3), ctx()), "invalid-json");
    });
  });

  describe("forbidden keys", function () {
    for (const key of ["__proto__", "constructor", "prototype"]) {
      it(`refuses "${key}" as an own key, at the top and nested`, function () {
        const top = JSON.parse(`{"${key}": {"polluted": 1}}`);
        assert.ok(Object.prototype.hasOwnProperty.call(top, key), "test input must hold the key as an own property");
        throwsTwin(() => admit(top, ctx()), "forbidden-key", { twinId: "pump-07", key });
        const nested = JSON.parse(`{"a": [{"b": {"${key}": {"polluted": 1}}}]}`);
        throwsTwin(() => admit(nested, ctx()), "forbidden-key", { property: "config.a.b", key });
      });
    }

    it("refuses __proto__ set on a null-prototype object", function () {
      const input = Object.create(null);
      input["__proto__"] = { polluted: 1 };
      throwsTwin(() => admit(input, ctx()), "forbidden-key", { key: "__proto__" });
    });
  });

  describe("nesting depth", function () {
    it("allows objects nested 6 levels", function () {
      assert.doesNotThrow(() => admit(nestedObject(6), ctx()));
    });

    it("refuses objects nested 7 levels with too-deep and the limit", function () {
      throwsTwin(() => admit(nestedObject(7), ctx()), "too-deep", { twinId: "pump-07", property: /^config/, limit: 6 });
    });

    it("counts arrays as levels too (6 allowed, 7 refused)", function () {
      assert.doesNotThrow(() => admit(nestedArray(6), ctx()));
      throwsTwin(() => admit(nestedArray(7), ctx()), "too-deep", { limit: 6 });
    });

    it("refuses 10,000-deep nesting with too-deep, not a stack overflow", function () {
      throwsTwin(() => admit(nestedObject(10000), ctx()), "too-deep", { limit: 6 });
      throwsTwin(() => admit(nestedArray(10000), ctx()), "too-deep", { limit: 6 });
    });

    it("follows the configured depth", function () {
      assert.doesNotThrow(() => admit(nestedObject(2), ctx({ maxDepth: 2 })));
      throwsTwin(() => admit(nestedObject(3), ctx({ maxDepth: 2 })), "too-deep", { limit: 2 });
    });
  });

  describe("size budget", function () {
    it("refuses a 1 MB string under the 64 KB document limit", function () {
      throwsTwin(() => admit("x".repeat(1024 * 1024), ctx()), "too-large", { twinId: "pump-07", property: "config", limit: 65536 });
    });

    it("refuses a million-element array before walking it", function () {
      throwsTwin(() => admit(new Array(1e6).fill(0), ctx()), "too-large", { limit: 65536 });
    });

    it("refuses many small keys that add up past the budget", function () {
      const wide = {};
      for (let i = 0; i < 10000; i++) wide[`key${i}`] = i;
      throwsTwin(() => admit(wide, ctx()), "too-large");
    });

    it("accepts a value just within the budget", function () {
      assert.doesNotThrow(() => admit("x".repeat(100), ctx({ budget: 102 })));
      throwsTwin(() => admit("x".repeat(101), ctx({ budget: 102 })), "too-large");
    });

    it("reports the size the document limit measures later (sizeOf of the copy)", function () {
      const admitted = admit({ a: [1, "two", null, true], b: { c: "d" }, skipped: undefined }, ctx());
      assert.strictEqual(admitted.size, sizeOf(admitted.value));
      assert.ok(admitted.size > 0);
    });
  });

  describe("the admitted copy", function () {
    it("is made of null-prototype objects at every level", function () {
      const { value } = admit({ a: { b: [{ c: { d: 1 } }] } }, ctx());
      const objects = objectsIn(value);
      assert.strictEqual(objects.length, 4);
      for (const o of objects) assert.ok(inheritsNothing(o));
      assert.ok(Array.isArray(value.a.b));
    });

    it("is detached: changing the input afterwards does not change it", function () {
      const input = { limits: { high: 80 }, tags: ["a"] };
      const { value } = admit(input, ctx());
      input.limits.high = 999;
      input.tags.push("b");
      input.extra = 1;
      assert.deepStrictEqual(JSON.parse(JSON.stringify(value)), { limits: { high: 80 }, tags: ["a"] });
    });

    it("does not modify the input", function () {
      const input = { a: { b: 1 }, u: undefined };
      admit(input, ctx());
      assert.ok("u" in input);
      assert.strictEqual(Object.getPrototypeOf(input.a), Object.prototype);
    });
  });

  describe("jsonEqual", function () {
    it("compares structure, not key order or prototype", function () {
      const a = dict();
      a.x = 1;
      a.y = [1, { z: null }];
      assert.ok(jsonEqual(a, { y: [1, { z: null }], x: 1 }));
    });

    it("tells apart values that differ anywhere", function () {
      assert.ok(!jsonEqual({ a: [1, 2] }, { a: [2, 1] }));
      assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: 1 }));
      assert.ok(!jsonEqual({ a: 1, b: 2 }, { a: 1, c: 2 }));
      assert.ok(!jsonEqual({}, []));
      assert.ok(!jsonEqual(null, {}));
      assert.ok(!jsonEqual(1, "1"));
    });
  });

  describe("cloneJson", function () {
    it("makes a deep, detached, null-prototype copy", function () {
      const original = admit({ a: { b: [1, { c: 2 }] } }, ctx()).value;
      const copy = cloneJson(original);
      copy.a.b[1].c = 99;
      assert.strictEqual(original.a.b[1].c, 2);
      assert.ok(inheritsNothing(copy.a.b[1]));
    });
  });
});
