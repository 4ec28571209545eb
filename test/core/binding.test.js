"use strict";
const { inheritsNothing } = require("../../nodes/lib/core/json");
const assert = require("assert");
const {
  compilePattern, subscriptionFilter, coerce, scaleValue, withinDeadband, parseDeadband,
} = require("../../nodes/lib/core/binding");
const { parseTimestamp } = require("../../nodes/lib/core/timestamp");
const { readPath, parsePath } = require("../../nodes/lib/core/path");

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

/** Captures as a plain object for deepStrictEqual, after checking they have no prototype. */
function captured(pattern, topic) {
  const out = compilePattern(pattern).match(topic);
  if (out === null) return null;
  assert.ok(inheritsNothing(out), "captures must be a null-prototype object");
  return { ...out };
}

describe("core/binding", function () {
  describe("compilePattern", function () {
    it("captures named segments of plant/{site}/{twin}/{property}", function () {
      const p = compilePattern("plant/{site}/{twin}/{property}");
      assert.strictEqual(p.source, "plant/{site}/{twin}/{property}");
      assert.deepStrictEqual(p.names, ["site", "twin", "property"]);
      assert.deepStrictEqual(captured(p.source, "plant/p1/pump-07/temperature"),
        { site: "p1", twin: "pump-07", property: "temperature" });
    });

    it("refuses topics with too few or too many segments, or another literal", function () {
      const p = compilePattern("plant/{site}/{twin}/{property}");
      assert.strictEqual(p.match("plant/p1/pump-07"), null);
      assert.strictEqual(p.match("plant/p1/pump-07/temperature/extra"), null);
      assert.strictEqual(p.match("factory/p1/pump-07/temperature"), null);
      assert.strictEqual(p.match("Plant/p1/pump-07/temperature"), null, "literals are case-sensitive");
      assert.strictEqual(p.match("plants/p1/pump-07/temperature"), null, "a literal is the whole level, not its start");
      assert.strictEqual(p.match("plan/p1/pump-07/temperature"), null);
      assert.strictEqual(p.match("plant/p1/pump-07/temperature/"), null, "a trailing / is one more, empty, level");
      assert.strictEqual(p.match(""), null);
      assert.deepStrictEqual(captured("a/+", "a/"), {}, "+ matches an empty last level");
      assert.strictEqual(compilePattern("a/+").match("a"), null);
    });

    it("does not capture an empty level as a name", function () {
      assert.strictEqual(compilePattern("plant/{site}/{twin}").match("plant//pump"), null);
      assert.deepStrictEqual(captured("plant/+/{twin}", "plant//pump"), { twin: "pump" }, "+ matches an empty level, as MQTT");
    });

    it("home/+/{twin}/# matches deeper topics and, as MQTT, the parent level itself", function () {
      const p = compilePattern("home/+/{twin}/#");
      assert.deepStrictEqual(p.names, ["twin"]);
      assert.deepStrictEqual(captured(p.source, "home/kitchen/esp32/temperature"), { twin: "esp32" });
      assert.deepStrictEqual(captured(p.source, "home/kitchen/esp32/a/b/c"), { twin: "esp32" });
      assert.deepStrictEqual(captured(p.source, "home/x/t"), { twin: "t" }, "# matches zero levels");
      assert.deepStrictEqual(captured(p.source, "home/x/t/"), { twin: "t" });
      assert.strictEqual(p.match("home/x"), null, "too few levels");
      assert.strictEqual(p.match("office/x/t/y"), null);
    });

    it("# alone matches every topic and captures nothing", function () {
      const p = compilePattern("#");
      assert.deepStrictEqual(p.names, []);
      for (const topic of ["a", "a/b/c", "/", "", "plant/p1/x"]) assert.deepStrictEqual(captured("#", topic), {}, topic);
    });

    it("{twin} alone captures a one-level topic", function () {
      assert.deepStrictEqual(captured("{twin}", "pump-07"), { twin: "pump-07" });
      assert.strictEqual(compilePattern("{twin}").match("pump-07/temp"), null);
      assert.strictEqual(compilePattern("{twin}").match(""), null);
    });

    it("the empty pattern matches every topic and captures nothing", function () {
      const p = compilePattern("");
      assert.deepStrictEqual(p.names, []);
      assert.deepStrictEqual(captured("", "anything/at/all"), {});
      assert.deepStrictEqual(captured("", ""), {});
      assert.deepStrictEqual(captured("", "$SYS/x"), {});
    });

    it("treats regex and other special characters in literals literally", function () {
      const p = compilePattern("sensors.v1/(a|b)/*/$x/{twin}/é ü/[0]");
      assert.deepStrictEqual(captured(p.source, "sensors.v1/(a|b)/*/$x/t1/é ü/[0]"), { twin: "t1" });
      assert.strictEqual(p.match("sensorsXv1/(a|b)/*/$x/t1/é ü/[0]"), null);
      assert.strictEqual(p.match("sensors.v1/a/*/$x/t1/é ü/[0]"), null);
      assert.deepStrictEqual(captured("/lead/{twin}", "/lead/t"), { twin: "t" }, "a leading / is an empty literal level");
      assert.strictEqual(compilePattern("/lead/{twin}").match("lead/t"), null);
    });

    it("does not let wildcards in the first level match $ topics, as MQTT", function () {
      assert.strictEqual(compilePattern("#").match("$SYS/broker/uptime"), null);
      assert.strictEqual(compilePattern("+/x").match("$SYS/x"), null);
      assert.strictEqual(compilePattern("{twin}/x").match("$t/x"), null);
      assert.deepStrictEqual(captured("$SYS/{what}", "$SYS/uptime"), { what: "uptime" });
    });

    it("returns null for a topic that is not a string", function () {
      const p = compilePattern("{twin}");
      for (const t of [undefined, null, 42, {}, ["a"]]) assert.strictEqual(p.match(t), null);
    });

    it("keeps a __proto__ topic segment as a plain value, with no pollution", function () {
      const p = compilePattern("plant/{twin}/{property}");
      const out = p.match("plant/__proto__/constructor");
      assert.ok(inheritsNothing(out));
      assert.strictEqual(out.twin, "__proto__");
      assert.strictEqual(out.property, "constructor");
      assert.deepStrictEqual(Object.keys(out), ["twin", "property"]);
      assert.strictEqual({}.twin, undefined);
      assert.strictEqual(Object.prototype.property, undefined);
      const again = p.match("plant/__proto__/polluted");
      assert.strictEqual(again.property, "polluted");
      assert.strictEqual({}.polluted, undefined);
    });

    it("captures names that are letters, digits and _", function () {
      assert.deepStrictEqual(captured("{a_1}/{B2}/{_x}/{9}", "p/q/r/s"), { a_1: "p", B2: "q", _x: "r", 9: "s" });
    });

    it("refuses invalid patterns with invalid-pattern and a reason", function () {
      const bad = [
        ["x/{a}{b}/y", /whole segment/],
        ["x/pre{a}", /whole segment/],
        ["x/{a}post", /whole segment/],
        ["x/{a", /whole segment/],
        ["a/#/b", /last segment/],
        ["#/a", /last segment/],
        ["{twin}/{twin}", /used twice/],
        ["{__proto__}", /not allowed/],
        ["a/{constructor}", /not allowed/],
        ["{prototype}/b", /not allowed/],
        ["{}", /needs a name/],
        ["{a-b}", /letters, digits/],
        ["{a b}", /letters, digits/],
        ["a+/b", /whole segment/],
        ["a/b#", /whole segment/],
        ["a/\u0000", /NUL/],
      ];
      for (const [pattern, reason] of bad) {
        throwsTwin(() => compilePattern(pattern), "invalid-pattern", { pattern, reason });
      }
      throwsTwin(() => compilePattern("a/".repeat(40000)), "invalid-pattern", { reason: /longer than/ });
    });

    it("gives the MQTT subscription filter of a pattern", function () {
      assert.strictEqual(subscriptionFilter("plant/{site}/{twin}/{property}"), "plant/+/+/+");
      assert.strictEqual(subscriptionFilter("home/+/{twin}/#"), "home/+/+/#");
      assert.strictEqual(subscriptionFilter(""), "#");
      throwsTwin(() => subscriptionFilter("a/#/b"), "invalid-pattern");
    });
  });

  describe("parseTimestamp", function () {
    const MS = 1764130000000; // 2025-11-26T04:06:40Z

    it("reads a number above 1e11 as epoch ms and below as epoch seconds", function () {
      assert.strictEqual(parseTimestamp(MS), MS);
      assert.strictEqual(parseTimestamp(MS / 1000), MS);
      assert.strictEqual(parseTimestamp(1764130000.123), 1764130000123);
      assert.strictEqual(parseTimestamp(1e11), 1e11, "1e11 itself is ms (1973)");
      assert.strictEqual(parseTimestamp(99999999999), 99999999999000, "just below 1e11 is seconds (year 5138)");
      assert.strictEqual(parseTimestamp(0), 0);
      assert.strictEqual(parseTimestamp(MS + 0.6), MS + 1, "whole milliseconds");
    });

    it("returns negative (pre-1970) times as numbers; the registry decides whether to accept them", function () {
      assert.strictEqual(parseTimestamp(-5), -5000);
      assert.strictEqual(parseTimestamp(-1.7e12), -1.7e12);
      assert.strictEqual(parseTimestamp("1969-12-31T23:59:59Z"), -1000);
    });

    it("reads decimal strings the same way", function () {
      assert.strictEqual(parseTimestamp(String(MS)), MS);
      assert.strictEqual(parseTimestamp(" 1764130000 "), MS);
      assert.strictEqual(parseTimestamp("1764130000.5"), MS + 500);
      assert.strictEqual(parseTimestamp("1.76413e12"), MS);
      assert.strictEqual(parseTimestamp("1"), 1000, "one second, not the year 2001 Date.parse would read");
      assert.strictEqual(parseTimestamp("2025"), 2025000, "a bare number is seconds, never a year");
    });

    it("reads ISO 8601 with Z, with an offset, with fractions, and a date alone (UTC)", function () {
      assert.strictEqual(parseTimestamp("2025-11-26T04:06:40Z"), MS);
      assert.strictEqual(parseTimestamp("2025-11-26T04:06:40.000Z"), MS);
      assert.strictEqual(parseTimestamp("2025-11-26T04:06:40.123456Z"), MS + 123);
      assert.strictEqual(parseTimestamp("2025-11-26t04:06:40.5z"), MS + 500);
      assert.strictEqual(parseTimestamp("2025-11-26T05:06:40+01:00"), MS);
      assert.strictEqual(parseTimestamp("2025-11-26T05:06:40+0100"), MS);
      assert.strictEqual(parseTimestamp("2025-11-26T05:06:40+01"), MS);
      assert.strictEqual(parseTimestamp("2025-11-25T23:36:40-04:30"), MS);
      assert.strictEqual(parseTimestamp("2025-11-26 04:06:40Z"), MS);
      assert.strictEqual(parseTimestamp("2025-11-26T04:06Z"), MS - 40000);
      assert.strictEqual(parseTimestamp("2025-11-26"), Date.UTC(2025, 10, 26));
      assert.strictEqual(parseTimestamp("2024-02-29"), Date.UTC(2024, 1, 29));
      assert.strictEqual(parseTimestamp("2025-11-26T24:00:00Z"), Date.UTC(2025, 10, 27));
    });

    it("reads a date-time without offset as local time, as ECMAScript does", function () {
      assert.strictEqual(parseTimestamp("2025-11-26T04:06:40"), new Date(2025, 10, 26, 4, 6, 40).getTime());
    });

    it("reads a Date object", function () {
      assert.strictEqual(parseTimestamp(new Date(MS)), MS);
      assert.strictEqual(parseTimestamp(new Date(NaN)), null);
    });

    it("returns null for anything unusable", function () {
      const junk = [
        NaN, Infinity, -Infinity, true, false, null, undefined, {}, [], [MS], { ts: MS }, () => MS,
        "", "  ", "abc", "March", "March 3, 2025", "Tue, 25 Nov 2025 10:00:00 GMT", "0x10", "12abc",
        "2025-1-1", "2025-11", "2025-02-30", "2025-02-29", "2025-13-01", "2025-00-10",
        "2025-11-26T25:00:00Z", "2025-11-26T10:60:00Z", "2025-11-26T24:00:01Z", "2025-11-26T10:00:00+25:00",
        "2025-11-26Z", "2025-11-26T10", "2025-11-26T10:00:00 junk", "1e400", 1e20, -1e20, "-000000-01-01",
      ];
      for (const value of junk) assert.strictEqual(parseTimestamp(value), null, `${String(value)}`);
    });
  });

  describe("coerce", function () {
    const num = { type: "number" };
    const int = { type: "integer" };
    const bool = { type: "boolean" };

    it("turns decimal text into numbers for number and integer", function () {
      assert.strictEqual(coerce(num, "21.5"), 21.5);
      assert.strictEqual(coerce(num, " 42 "), 42);
      assert.strictEqual(coerce(num, "-1e3"), -1000);
      assert.strictEqual(coerce(num, ".5"), 0.5);
      assert.strictEqual(coerce(num, "+7"), 7);
      assert.strictEqual(coerce(int, "42"), 42);
      assert.strictEqual(coerce(int, "21.5"), 21.5, "validation, not coercion, refuses a fraction");
      assert.ok(Object.is(coerce(num, "-0"), 0));
    });

    it("returns unusable text unchanged so validation names it", function () {
      for (const text of ["", "  ", "0x10", "1e400", "-1e400", "Infinity", "NaN", "abc", "12abc", "1,5", "1_000"]) {
        assert.strictEqual(coerce(num, text), text, text);
        assert.strictEqual(coerce(int, text), text, text);
      }
    });

    it("leaves numbers and other non-strings alone", function () {
      assert.strictEqual(coerce(num, 3), 3);
      assert.strictEqual(coerce(num, true), true);
      const obj = { a: 1 };
      assert.strictEqual(coerce(num, obj), obj);
      assert.strictEqual(coerce(bool, 1), 1);
    });

    it("turns true/false/on/off (any case) into booleans for boolean", function () {
      assert.strictEqual(coerce(bool, "true"), true);
      assert.strictEqual(coerce(bool, "FALSE"), false);
      assert.strictEqual(coerce(bool, " On "), true);
      assert.strictEqual(coerce(bool, "off"), false);
      assert.strictEqual(coerce(bool, "yes"), "yes");
      assert.strictEqual(coerce(bool, "1"), "1");
      assert.strictEqual(coerce(bool, true), true);
    });

    it("leaves strings alone for string and other types", function () {
      assert.strictEqual(coerce({ type: "string" }, "42"), "42");
      assert.strictEqual(coerce({ type: "string" }, "true"), "true");
      assert.strictEqual(coerce({ type: "object" }, "{}"), "{}");
      assert.strictEqual(coerce({ type: "array" }, "1"), "1");
    });

    it("keeps what it got without a model, unless coerceWithoutModel", function () {
      assert.strictEqual(coerce(undefined, "21.5"), "21.5");
      assert.strictEqual(coerce(undefined, "true"), "true");
      assert.strictEqual(coerce({ type: "any" }, "21.5"), "21.5");
      assert.strictEqual(coerce(undefined, "21.5", true), 21.5);
      assert.strictEqual(coerce({ type: "any" }, " 42 ", true), 42);
      assert.strictEqual(coerce(undefined, "True", true), true);
      assert.strictEqual(coerce(undefined, "false", true), false);
      assert.strictEqual(coerce(undefined, "on", true), "on", "on/off may be a mode without a model");
      assert.strictEqual(coerce(undefined, "0x10", true), "0x10");
      assert.strictEqual(coerce(undefined, "1e400", true), "1e400");
      assert.strictEqual(coerce({ type: "string" }, "42", true), "42", "a model's type wins over the flag");
    });
  });

  describe("scaleValue", function () {
    it("applies value * scale + offset to finite numbers", function () {
      assert.strictEqual(scaleValue(10, 2, 1), 21);
      assert.strictEqual(scaleValue(215, 0.1, 0), 21.5);
      assert.strictEqual(scaleValue(0.1, 1, 0.2), 0.3);
      assert.strictEqual(scaleValue(-4, 0.5, -1), -3);
      assert.strictEqual(scaleValue(5, 1, 0), 5);
    });

    it("leaves non-numbers and non-finite numbers unchanged", function () {
      assert.strictEqual(scaleValue("10", 2, 1), "10");
      assert.strictEqual(scaleValue(true, 2, 1), true);
      assert.strictEqual(scaleValue(null, 2, 1), null);
      assert.ok(Number.isNaN(scaleValue(NaN, 2, 1)));
      const obj = { v: 1 };
      assert.strictEqual(scaleValue(obj, 2, 1), obj);
    });
  });

  describe("deadband", function () {
    const abs = (value) => ({ mode: "absolute", value });
    const pct = (value) => ({ mode: "percent", value });

    it("absolute: inside when the change is at most the band", function () {
      assert.strictEqual(withinDeadband(20, 20.4, abs(0.5)), true);
      assert.strictEqual(withinDeadband(20, 20.5, abs(0.5)), true, "the edge is inside");
      assert.strictEqual(withinDeadband(0.3, 0.8, abs(0.5)), true, "floating-point noise at the edge");
      assert.strictEqual(withinDeadband(20, 20.6, abs(0.5)), false);
      assert.strictEqual(withinDeadband(20, 19.4, abs(0.5)), false);
      assert.strictEqual(withinDeadband(20, 20, abs(0)), true, "0 suppresses exact repeats");
      assert.strictEqual(withinDeadband(20, 20.000001, abs(0)), false);
    });

    it("percent: relative to |previous|; around 0 only an exact 0 is inside", function () {
      assert.strictEqual(withinDeadband(100, 101.9, pct(2)), true);
      assert.strictEqual(withinDeadband(100, 102, pct(2)), true);
      assert.strictEqual(withinDeadband(100, 102.1, pct(2)), false);
      assert.strictEqual(withinDeadband(-100, -98.5, pct(2)), true);
      assert.strictEqual(withinDeadband(-100, -97, pct(2)), false);
      assert.strictEqual(withinDeadband(0, 0, pct(5)), true);
      assert.strictEqual(withinDeadband(0, 1e-9, pct(5)), false);
    });

    it("non-numbers: inside only when deep-equal", function () {
      assert.strictEqual(withinDeadband("auto", "auto", abs(1)), true);
      assert.strictEqual(withinDeadband("auto", "manual", abs(1)), false);
      assert.strictEqual(withinDeadband(true, true, abs(1)), true);
      assert.strictEqual(withinDeadband(true, false, abs(1)), false);
      assert.strictEqual(withinDeadband({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, abs(1)), true);
      assert.strictEqual(withinDeadband({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] }, abs(1)), false);
      assert.strictEqual(withinDeadband([1, 2], [1, 2, 3], abs(1)), false);
      assert.strictEqual(withinDeadband(null, null, abs(1)), true);
      assert.strictEqual(withinDeadband(1, "1", abs(1)), false, "a number and its text differ");
      assert.strictEqual(withinDeadband(1, null, abs(5)), false);
    });

    it("nothing is inside when there is no previous value", function () {
      assert.strictEqual(withinDeadband(undefined, 20, abs(100)), false);
      assert.strictEqual(withinDeadband(undefined, undefined, abs(100)), false);
    });

    it("parses deadband settings", function () {
      assert.deepStrictEqual(parseDeadband("0.5"), { mode: "absolute", value: 0.5 });
      assert.deepStrictEqual(parseDeadband(" 2% "), { mode: "percent", value: 2 });
      assert.deepStrictEqual(parseDeadband("2 %"), { mode: "percent", value: 2 });
      assert.deepStrictEqual(parseDeadband("0"), { mode: "absolute", value: 0 });
      assert.deepStrictEqual(parseDeadband("1e-3"), { mode: "absolute", value: 0.001 });
      assert.strictEqual(parseDeadband(""), null);
      assert.strictEqual(parseDeadband("   "), null);
      assert.strictEqual(parseDeadband(undefined), null);
    });

    it("refuses garbage and negative deadbands", function () {
      for (const text of ["abc", "%", "2%%", "0x10", "1e400", "5 units", "Infinity", "--1", "2%5"]) {
        throwsTwin(() => parseDeadband(text), "invalid-option", { option: "deadband", reason: /not a number/ });
      }
      throwsTwin(() => parseDeadband("-1"), "invalid-option", { option: "deadband", reason: /negative/ });
      throwsTwin(() => parseDeadband("-2%"), "invalid-option", { option: "deadband", reason: /negative/ });
    });
  });

  describe("readPath", function () {
    const msg = {
      topic: "t",
      payload: { value: 21.5, sensors: [{ t: 1 }, { t: 2, "a b": "x" }], zero: 0, nil: null, "dash-ed": 3 },
    };

    it("reads dot and bracket paths", function () {
      assert.strictEqual(readPath(msg, "topic"), "t");
      assert.strictEqual(readPath(msg, "payload.value"), 21.5);
      assert.strictEqual(readPath(msg, "payload.sensors[0].t"), 1);
      assert.strictEqual(readPath(msg, "payload.sensors[1].t"), 2);
      assert.strictEqual(readPath(msg, "payload.sensors.1.t"), 2);
      assert.strictEqual(readPath(msg, 'payload.sensors[1]["a b"]'), "x");
      assert.strictEqual(readPath(msg, "payload.sensors[1]['a b']"), "x");
      assert.strictEqual(readPath(msg, "payload.dash-ed"), 3);
      assert.strictEqual(readPath(msg, "payload.zero"), 0);
      assert.strictEqual(readPath(msg, "payload.nil"), null);
      assert.strictEqual(readPath([10, 20], "[1]"), 20);
      assert.deepStrictEqual(readPath(msg, "payload.sensors[0]"), { t: 1 });
    });

    it("gives undefined for missing keys, non-objects and malformed paths", function () {
      assert.strictEqual(readPath(msg, "payload.missing"), undefined);
      assert.strictEqual(readPath(msg, "payload.value.deeper"), undefined);
      assert.strictEqual(readPath(msg, "payload.sensors[5].t"), undefined);
      assert.strictEqual(readPath(null, "payload"), undefined);
      assert.strictEqual(readPath(42, "payload"), undefined);
      assert.strictEqual(readPath("text", "length"), undefined);
      for (const bad of ["", ".payload", "payload.", "payload..value", "payload[", "payload[x]", "payload[0", "payload]", "a[0]b", 'a["b]', 7]) {
        assert.strictEqual(readPath(msg, bad), undefined, String(bad));
      }
    });

    it("walks own data properties only, never __proto__, constructor or prototype", function () {
      assert.strictEqual(readPath(msg, "payload.toString"), undefined);
      assert.strictEqual(readPath(msg, "payload.hasOwnProperty"), undefined);
      assert.strictEqual(readPath(msg, "__proto__"), undefined);
      assert.strictEqual(readPath(msg, "payload.constructor"), undefined);
      assert.strictEqual(readPath(msg, "payload.constructor.prototype"), undefined);
      assert.strictEqual(readPath(function f() {}, "prototype"), undefined);
      const own = JSON.parse('{"__proto__": {"x": 1}, "constructor": 2}');
      assert.strictEqual(readPath(own, "__proto__.x"), undefined);
      assert.strictEqual(readPath(own, '["__proto__"]'), undefined);
      assert.strictEqual(readPath(own, "constructor"), undefined);
      const withGetter = Object.defineProperty({}, "v", { get() { throw new Error("getter ran"); }, enumerable: true });
      assert.strictEqual(readPath(withGetter, "v"), undefined);
      const child = Object.create({ inherited: 1 });
      assert.strictEqual(readPath(child, "inherited"), undefined);
      const bare = Object.assign(Object.create(null), { v: 5 });
      assert.strictEqual(readPath({ p: bare }, "p.v"), 5);
    });

    it("parsePath checks a path setting", function () {
      assert.deepStrictEqual(parsePath("payload.sensors[0].t"), ["payload", "sensors", "0", "t"]);
      throwsTwin(() => parsePath("payload..x"), "invalid-option", { option: "path", reason: /not a property path/ });
      throwsTwin(() => parsePath(""), "invalid-option", { option: "path" });
      throwsTwin(() => parsePath("payload.__proto__"), "invalid-option", { option: "path", reason: /not allowed/ });
    });
  });
});
