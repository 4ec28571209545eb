"use strict";
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { parseModels, checkValue, valuesMatch } = require("../../nodes/lib/core/models");

const FIXTURES = path.join(__dirname, "..", "fixtures", "models");
const fixture = (name) => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), "utf8"));
const fixtureText = (name) => fs.readFileSync(path.join(FIXTURES, name), "utf8");

/** The compact example of design.md. */
const PUMP = {
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 5 },
      mode: { type: "string", enum: ["auto", "manual", "off"], writable: true },
    },
  },
};

/** Asserts fn throws a TwinError with this code and (a superset of) these params. */
function throwsTwin(fn, code, params = {}) {
  assert.throws(fn, (err) => {
    assert.strictEqual(err.name, "TwinError", `expected TwinError, got ${err.stack}`);
    assert.strictEqual(err.code, code, `expected ${code}, got ${err.message}`);
    for (const [key, value] of Object.entries(params)) {
      if (value instanceof RegExp) assert.match(String(err.params[key]), value, `param ${key}`);
      else assert.strictEqual(err.params[key], value, `param ${key}`);
    }
    return true;
  });
}

const modelInvalid = (input, model, reason) => throwsTwin(() => parseModels(input), "model-invalid", { model, reason });

function compactWith(prop) {
  return { pump: { properties: { rpm: prop } } };
}

function specs(model) {
  return Object.fromEntries([...model.properties].map(([k, v]) => [k, { ...v }]));
}

describe("core/models", function () {
  describe("parseModels: empty input", function () {
    for (const [label, input] of [["undefined", undefined], ["null", null], ["empty string", ""],
      ["blank string", "  \n"], ["{}", {}], ['"{}"', "{}"], ["[]", []]]) {
      it(`${label} gives no models`, function () {
        const models = parseModels(input);
        assert.ok(models instanceof Map);
        assert.strictEqual(models.size, 0);
      });
    }
  });

  describe("parseModels: compact form", function () {
    it("reads the design.md example", function () {
      const models = parseModels(PUMP);
      const pump = models.get("pump");
      assert.strictEqual(pump.name, "pump");
      assert.strictEqual(pump.source, "compact");
      assert.deepStrictEqual(specs(pump), {
        temperature: { name: "temperature", type: "number", unit: "Cel", minimum: -40, maximum: 200, writable: false },
        rpm: { name: "rpm", type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 5 },
        mode: { name: "mode", type: "string", enum: ["auto", "manual", "off"], writable: true },
      });
    });

    it("accepts the same model as a JSON string", function () {
      assert.deepStrictEqual(specs(parseModels(JSON.stringify(PUMP)).get("pump")), specs(parseModels(PUMP).get("pump")));
    });

    it("defaults type to any and writable to false", function () {
      const spec = parseModels({ m: { properties: { note: {} } } }).get("m").properties.get("note");
      assert.deepStrictEqual({ ...spec }, { name: "note", type: "any", writable: false });
    });

    it("keeps description and kind", function () {
      const spec = parseModels(compactWith({ type: "number", description: "shaft speed", kind: "telemetry" }))
        .get("pump").properties.get("rpm");
      assert.strictEqual(spec.description, "shaft speed");
      assert.strictEqual(spec.kind, "telemetry");
    });

    it("accepts a model with no properties", function () {
      assert.strictEqual(parseModels({ empty: {} }).get("empty").properties.size, 0);
    });
  });

  describe("parseModels: W3C WoT", function () {
    it("reads a Thing Model named by its title", function () {
      const models = parseModels(fixture("pump.tm.json"));
      assert.deepStrictEqual([...models.keys()], ["CentrifugalPump"]);
      const model = models.get("CentrifugalPump");
      assert.strictEqual(model.source, "wot");
      assert.deepStrictEqual(specs(model), {
        temperature: {
          name: "temperature", type: "number", unit: "Cel", minimum: -40, maximum: 200, writable: false,
          description: "Temperature at the drive-end bearing",
        },
        rpm: { name: "rpm", type: "integer", unit: "/min", minimum: 0, maximum: 3600, writable: true, description: "Shaft speed" },
        mode: { name: "mode", type: "string", enum: ["auto", "manual", "off"], writable: true, description: "Operating mode" },
      });
    });

    it("reads a Thing Description from a JSON string, ignoring actions, events and forms' protocols", function () {
      const model = parseModels(fixtureText("pump.td.json")).get("Pump07");
      assert.deepStrictEqual([...model.properties.keys()], ["temperature", "rpm", "status", "lastError"]);
      const p = (name) => model.properties.get(name);
      assert.strictEqual(p("temperature").writable, false, "readOnly");
      assert.strictEqual(p("rpm").writable, true, "writable when readOnly is absent");
      assert.strictEqual(p("status").type, "object");
      assert.strictEqual(p("status").writable, false, "forms allow only observeproperty");
      assert.strictEqual(p("lastError").type, "any", "WoT null maps to any");
      assert.strictEqual(p("lastError").writable, false, "forms allow only readproperty");
    });

    it("accepts a WoT document as a value of the compact map, named by the key", function () {
      const models = parseModels({ pump: fixture("pump.tm.json") });
      assert.deepStrictEqual([...models.keys()], ["pump"]);
      assert.strictEqual(models.get("pump").source, "wot");
    });

    it("recognises a Thing Model by @type alone", function () {
      const models = parseModels({ "@type": "tm:ThingModel", title: "Lamp", properties: { on: { type: "boolean" } } });
      assert.strictEqual(models.get("Lamp").properties.get("on").type, "boolean");
    });

    it("refuses a standalone WoT document without a title", function () {
      const tm = fixture("pump.tm.json");
      delete tm.title;
      modelInvalid(tm, "models", /title/);
    });

    it("refuses an unknown WoT type", function () {
      const tm = fixture("pump.tm.json");
      tm.properties.rpm.type = "float";
      modelInvalid(tm, "CentrifugalPump", /property "rpm": unknown type "float"/);
    });

    it("refuses an unfilled Thing Model placeholder where a number belongs", function () {
      const tm = fixture("pump.tm.json");
      tm.properties.rpm.maximum = "{{RPM_MAX}}";
      modelInvalid(tm, "CentrifugalPump", /property "rpm": maximum is the Thing Model placeholder \{\{RPM_MAX\}\}/);
    });
  });

  describe("parseModels: DTDL", function () {
    const THERMOSTAT = "dtmi:com:example:Thermostat;1";

    it("reads a v3 Interface named by its @id", function () {
      const models = parseModels(fixture("thermostat.dtdl.json"));
      assert.deepStrictEqual([...models.keys()], [THERMOSTAT]);
      const model = models.get(THERMOSTAT);
      assert.strictEqual(model.source, "dtdl");
      assert.deepStrictEqual(specs(model), {
        temperature: {
          name: "temperature", type: "number", unit: "Cel", writable: false, kind: "telemetry",
          description: "Temperature in degrees Celsius.",
        },
        targetTemperature: {
          name: "targetTemperature", type: "number", unit: "Cel", writable: true, kind: "property",
          description: "Allows to remotely specify the desired target temperature.",
        },
        maxTempSinceLastReboot: {
          name: "maxTempSinceLastReboot", type: "number", unit: "Cel", writable: false, kind: "property",
          description: "Max temperature since last reboot.",
        },
        fanMode: { name: "fanMode", type: "integer", enum: [0, 1, 2], writable: true, kind: "property", description: "Fan mode" },
      });
      assert.strictEqual(model.properties.has("getMaxMinReport"), false, "Commands are not state");
    });

    it("accepts an Interface in the compact map, named by the key", function () {
      const models = parseModels({ thermostat: fixture("thermostat.dtdl.json") });
      assert.strictEqual(models.get("thermostat").source, "dtdl");
      assert.strictEqual(models.get("thermostat").properties.size, 4);
    });

    it("reads a v2 Interface, its schemas, units and ignores Relationship", function () {
      const iface = {
        "@context": "dtmi:dtdl:context;2",
        "@id": "dtmi:com:example:Boiler;1",
        "@type": "Interface",
        schemas: [{ "@id": "dtmi:com:example:Boiler:state;1", "@type": "Enum", valueSchema: "string",
          enumValues: [{ name: "idle", enumValue: "idle" }, { name: "heating", enumValue: "heating" }] }],
        contents: [
          { "@type": ["Telemetry", "Pressure"], name: "pressure", schema: "float", unit: "bar" },
          { "@type": ["Telemetry", "Pressure"], name: "inlet", schema: "float", unit: "poundPerSquareInch" },
          { "@type": "Telemetry", name: "flow", schema: "double", unit: "litrePerHour" },
          { "@type": "Property", name: "state", schema: "dtmi:com:example:Boiler:state;1" },
          { "@type": "Property", name: "starts", schema: "unsignedInteger" },
          { "@type": "Property", name: "since", schema: "dateTime" },
          { "@type": "Property", name: "config", writable: true, schema: { "@type": "Map", mapKey: { name: "k", schema: "string" }, mapValue: { name: "v", schema: "string" } } },
          { "@type": "Telemetry", name: "samples", schema: { "@type": "Array", elementSchema: "double" } },
          { "@type": "Telemetry", name: "location", schema: "point" },
          { "@type": "Relationship", name: "feeds", target: "dtmi:com:example:Radiator;1" },
        ],
      };
      const p = parseModels([iface]).get("dtmi:com:example:Boiler;1").properties;
      assert.deepStrictEqual([...p.keys()], ["pressure", "inlet", "flow", "state", "starts", "since", "config", "samples", "location"]);
      assert.strictEqual(p.get("pressure").unit, "bar");
      assert.strictEqual(p.get("inlet").unit, "[psi]");
      assert.strictEqual(p.get("flow").unit, "L/h");
      assert.deepStrictEqual(p.get("state").enum, ["idle", "heating"]);
      assert.strictEqual(p.get("state").type, "string");
      assert.deepStrictEqual([p.get("starts").type, p.get("starts").minimum], ["integer", 0]);
      assert.strictEqual(p.get("since").type, "string");
      assert.deepStrictEqual([p.get("config").type, p.get("config").writable], ["object", true]);
      assert.strictEqual(p.get("samples").type, "array");
      assert.strictEqual(p.get("location").type, "object");
    });

    it("maps every listed DTDL unit to its UCUM-style code", function () {
      const units = {
        degreeCelsius: "Cel", degreeFahrenheit: "[degF]", kelvin: "K", pascal: "Pa", kilopascal: "kPa", bar: "bar",
        poundPerSquareInch: "[psi]", watt: "W", kilowatt: "kW", wattHour: "W.h", kilowattHour: "kW.h",
        metrePerSecond: "m/s", kilometrePerHour: "km/h", percent: "%", revolutionPerMinute: "/min", hertz: "Hz",
        volt: "V", ampere: "A", second: "s", hour: "h",
      };
      const contents = Object.keys(units).map((unit) => ({ "@type": "Telemetry", name: unit, schema: "double", unit }));
      const p = parseModels({ m: { "@type": "Interface", contents } }).get("m").properties;
      for (const [unit, code] of Object.entries(units)) assert.strictEqual(p.get(unit).unit, code, unit);
    });

    it("never makes Telemetry writable", function () {
      const p = parseModels({ m: { "@type": "Interface", contents: [{ "@type": "Telemetry", name: "t", schema: "double", writable: true }] } });
      assert.strictEqual(p.get("m").properties.get("t").writable, false);
    });

    it("merges contents of an Interface it extends in the same input, once through a diamond", function () {
      const ctx = "dtmi:dtdl:context;3";
      const base = { "@context": ctx, "@id": "dtmi:ex:Device;1", "@type": "Interface",
        contents: [{ "@type": "Property", name: "serial", schema: "string" }] };
      const powered = { "@context": ctx, "@id": "dtmi:ex:Powered;1", "@type": "Interface", extends: "dtmi:ex:Device;1",
        contents: [{ "@type": "Telemetry", name: "power", schema: "double", unit: "watt" }] };
      const cooled = { "@context": ctx, "@id": "dtmi:ex:Cooled;1", "@type": "Interface", extends: ["dtmi:ex:Device;1"],
        contents: [{ "@type": "Telemetry", name: "coolant", schema: "double", unit: "degreeCelsius" }] };
      const chiller = { "@context": ctx, "@id": "dtmi:ex:Chiller;1", "@type": "Interface",
        extends: ["dtmi:ex:Powered;1", "dtmi:ex:Cooled;1"],
        contents: [{ "@type": "Property", name: "setpoint", schema: "double", writable: true }] };
      const models = parseModels(JSON.stringify([chiller, powered, cooled, base]));
      assert.deepStrictEqual([...models.keys()], ["dtmi:ex:Chiller;1", "dtmi:ex:Powered;1", "dtmi:ex:Cooled;1", "dtmi:ex:Device;1"]);
      assert.deepStrictEqual([...models.get("dtmi:ex:Chiller;1").properties.keys()], ["serial", "power", "coolant", "setpoint"]);
      assert.strictEqual(models.get("dtmi:ex:Chiller;1").properties.get("power").unit, "W");
    });

    it("refuses extends to an unknown Interface, and extends cycles", function () {
      const iface = fixture("thermostat.dtdl.json");
      iface.extends = "dtmi:com:example:Missing;1";
      modelInvalid(iface, "dtmi:com:example:Thermostat;1", /Interfaces not in the input: "dtmi:com:example:Missing;1"/);
      const a = { "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface", extends: "dtmi:ex:B;1" };
      const b = { "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:B;1", "@type": "Interface", extends: "dtmi:ex:A;1" };
      modelInvalid([a, b], "dtmi:ex:A;1", /extends cycle/);
    });

    it("refuses a property defined twice through extends", function () {
      const base = { "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Base;1", "@type": "Interface",
        contents: [{ "@type": "Property", name: "mode", schema: "string" }] };
      const child = { "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Child;1", "@type": "Interface", extends: "dtmi:ex:Base;1",
        contents: [{ "@type": "Property", name: "mode", schema: "integer" }] };
      modelInvalid([child, base], "dtmi:ex:Child;1", /"mode" is defined twice/);
    });

    it("refuses unknown schemas, an empty Enum and a standalone Interface without @id", function () {
      const withSchema = (schema) => ({ m: { "@type": "Interface", contents: [{ "@type": "Property", name: "x", schema }] } });
      modelInvalid(withSchema("quaternion"), "m", /property "x": unknown schema "quaternion"/);
      modelInvalid(withSchema({ "@type": "Enum", valueSchema: "string", enumValues: [] }), "m", /enum must not be empty/);
      modelInvalid(withSchema({ "@type": "Enum", valueSchema: "integer", enumValues: [{ name: "a", enumValue: "a" }] }), "m",
        /enum value "a" is not of type integer/);
      const iface = fixture("thermostat.dtdl.json");
      delete iface["@id"];
      modelInvalid(iface, "models", /@id/);
    });

    it("refuses the same Interface given twice", function () {
      modelInvalid([fixture("thermostat.dtdl.json"), fixture("thermostat.dtdl.json")], THERMOSTAT, /given twice/);
    });
  });

  describe("parseModels: arrays", function () {
    it("accepts an array mixing every form", function () {
      const models = parseModels([PUMP, fixture("pump.tm.json"), [fixture("thermostat.dtdl.json")], { valve: fixture("pump.td.json") }]);
      assert.deepStrictEqual([...models.keys()], ["pump", "CentrifugalPump", "dtmi:com:example:Thermostat;1", "valve"]);
      assert.deepStrictEqual([...models.values()].map((m) => m.source), ["compact", "wot", "dtdl", "wot"]);
    });

    it("refuses the same model name twice", function () {
      modelInvalid([PUMP, PUMP], "pump", "duplicate model name");
      const tm = fixture("pump.tm.json");
      tm.title = "pump";
      modelInvalid([PUMP, tm], "pump", "duplicate model name");
    });

    it("names the position of an element that is not a model", function () {
      modelInvalid([PUMP, 42], "models[1]", /must be an object/);
      modelInvalid([PUMP, null], "models[1]", /must be an object/);
    });
  });

  describe("parseModels: rules", function () {
    it("bad JSON names the parse error", function () {
      modelInvalid('{"pump": {', "models", /^not valid JSON: .+/);
    });

    it("a number or boolean is not a models setting", function () {
      modelInvalid(42, "models", /object or an array/);
      modelInvalid("true", "models", /object or an array/);
    });

    it("Thing Descriptions whose context is the TD namespace or a 2018-2019 draft import; the 2017 interaction list is refused in words that say why", function () {
      const props = { temp: { type: "number", unit: "Cel", readOnly: true }, target: { type: "number", minimum: 5, maximum: 30 } };
      for (const context of ["http://www.w3.org/ns/td", ["https://w3c.github.io/wot/w3c-wot-td-context.jsonld"], "https://www.w3.org/ns/wot-next/td"]) {
        const models = parseModels({ "@context": context, title: "Room", properties: props });
        const room = models.get("Room");
        assert.ok(room, JSON.stringify(context));
        assert.strictEqual(room.properties.get("temp").writable, false);
        assert.strictEqual(room.properties.get("target").maximum, 30);
      }
      // The 2018 drafts named a thing by `name`.
      const draft = parseModels({ "@context": ["https://w3c.github.io/wot-thing-description/context/td-context.jsonld"], name: "Lamp", properties: { on: { type: "boolean" } } });
      assert.deepStrictEqual([...draft.keys()], ["Lamp"]);
      modelInvalid({ "@context": ["https://w3c.github.io/wot/w3c-wot-td-context.jsonld"], name: "Old", interaction: [{ "@type": ["Property"], name: "t" }] }, "Old", /2017 draft's "interaction" list/);
    });

    it("unrecognised JSON-LD is named as such", function () {
      modelInvalid({ "@context": "https://schema.org", "@type": "Product" }, "models", /neither a WoT/);
    });

    it("a model must be an object", function () {
      modelInvalid({ pump: "centrifugal" }, "pump", /must be an object/);
      modelInvalid({ pump: { properties: [] } }, "pump", /properties must be an object/);
      modelInvalid({ pump: { properties: { rpm: 5 } } }, "pump", /property "rpm": must be an object/);
    });

    it("model names are 1 to 200 characters and not forbidden keys", function () {
      assert.ok(parseModels({ ["m".repeat(200)]: {} }).has("m".repeat(200)));
      throwsTwin(() => parseModels({ ["m".repeat(201)]: {} }), "model-invalid", { reason: /longer than 200/ });
      modelInvalid({ "": {} }, "models", /must not be empty/);
      modelInvalid('{"constructor": {}}', "constructor", /forbidden key/);
      modelInvalid('{"__proto__": {"properties": {}}}', "__proto__", /forbidden key/);
      modelInvalid({ "@type": "tm:ThingModel", title: "prototype" }, "prototype", /forbidden key/);
    });

    it("minimum must not exceed maximum", function () {
      modelInvalid(compactWith({ type: "number", minimum: 10, maximum: 5 }), "pump", 'property "rpm": minimum 10 is greater than maximum 5');
      assert.ok(parseModels(compactWith({ type: "number", minimum: 5, maximum: 5 })));
    });

    it("enum must be a non-empty array of values of the property's type", function () {
      modelInvalid(compactWith({ enum: [] }), "pump", /enum must not be empty/);
      modelInvalid(compactWith({ enum: "auto" }), "pump", /enum must be an array/);
      modelInvalid(compactWith({ type: "integer", enum: [1, 2.5] }), "pump", /enum value 2.5 is not of type integer/);
      modelInvalid(compactWith({ enum: [() => 1] }), "pump", /not admissible JSON/);
    });

    it("tolerance must be finite and not negative", function () {
      modelInvalid(compactWith({ type: "number", tolerance: -1 }), "pump", /tolerance -1 is negative/);
      modelInvalid(compactWith({ type: "number", tolerance: Infinity }), "pump", /tolerance must be a finite number/);
      modelInvalid(compactWith({ type: "number", tolerance: "5" }), "pump", /tolerance must be a finite number/);
      assert.strictEqual(parseModels(compactWith({ type: "number", tolerance: 0 })).get("pump").properties.get("rpm").tolerance, 0);
    });

    it("refuses unknown types", function () {
      modelInvalid(compactWith({ type: "float" }), "pump", 'property "rpm": unknown type "float"');
      modelInvalid(compactWith({ type: 7 }), "pump", 'property "rpm": unknown type 7');
    });

    it("refuses fields of the wrong kind and unknown keys in compact models", function () {
      modelInvalid(compactWith({ writable: "yes" }), "pump", /writable must be true or false/);
      modelInvalid(compactWith({ unit: 3 }), "pump", /unit must be a string/);
      modelInvalid(compactWith({ kind: "event" }), "pump", /kind must be/);
      modelInvalid(compactWith({ type: "number", maximun: 5 }), "pump", 'property "rpm": unknown key "maximun"');
      modelInvalid({ pump: { propertis: {} } }, "pump", 'unknown key "propertis"');
    });

    it("refuses property names that break the naming rules", function () {
      modelInvalid({ pump: { properties: { "bad-name": {} } } }, "pump", /"bad-name" is not a valid property name/);
      modelInvalid({ pump: { properties: { "9lives": {} } } }, "pump", /not a valid property name/);
    });
  });

  describe("parseModels: forbidden property names in every format", function () {
    const inputs = {
      compact: (name) => `{"pump": {"properties": {"${name}": {"type": "number"}}}}`,
      wot: (name) => `{"@context": "https://www.w3.org/2022/wot/td/v1.1", "title": "Pump",
        "properties": {"${name}": {"type": "object", "polluted": true}}}`,
      dtdl: (name) => JSON.stringify({
        "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Pump;1", "@type": "Interface",
        contents: [{ "@type": "Property", name, schema: "double", polluted: true }],
      }),
    };

    for (const [format, build] of Object.entries(inputs)) {
      for (const name of ["__proto__", "constructor", "prototype"]) {
        it(`${format}: refuses "${name}" and pollutes nothing`, function () {
          throwsTwin(() => parseModels(build(name)), "model-invalid", { reason: new RegExp(`"${name}" is a forbidden key`) });
          assert.strictEqual({}.polluted, undefined);
          assert.strictEqual(Object.prototype.polluted, undefined);
          assert.strictEqual(Object.prototype.type, undefined);
          assert.deepStrictEqual(Object.getOwnPropertyNames(Object.prototype).filter((k) => k === "polluted" || k === "type"), []);
        });
      }
    }

    it("a model named __proto__ inside an array pollutes nothing either", function () {
      throwsTwin(() => parseModels('[{"__proto__": {"properties": {"polluted": {"type": "boolean"}}}}]'), "model-invalid", { model: "__proto__" });
      assert.strictEqual({}.polluted, undefined);
    });

    it("does not mistake inherited Object members for input", function () {
      // "constructor" and "toString" exist on every plain object; only own keys may count.
      const models = parseModels({ m: { properties: { toString: {}, valueOf: { type: "string" } } } });
      assert.deepStrictEqual([...models.get("m").properties.keys()], ["toString", "valueOf"]);
      modelInvalid({ m: { "@type": "Interface", contents: [{ "@type": "Property", name: "x", schema: "constructor" }] } },
        "m", /unknown schema "constructor"/);
      modelInvalid({ m: { "@type": "Interface", contents: [{ "@type": "Property", name: "x", schema: "toString" }] } },
        "m", /unknown schema "toString"/);
      const spec = parseModels({ m: { "@type": "Interface", contents: [{ "@type": "Telemetry", name: "x", schema: "double", unit: "constructor" }] } })
        .get("m").properties.get("x");
      assert.strictEqual(spec.unit, "constructor");
    });
  });

  describe("checkValue", function () {
    const pump = parseModels(PUMP).get("pump");
    const invalidValue = (property, value, rule, forDesired = false) =>
      throwsTwin(() => checkValue(pump, "pump-07", property, value, forDesired), "invalid-value",
        { twinId: "pump-07", property, value: showValueLike(value), rule });

    function showValueLike(value) {
      if (typeof value === "string") return JSON.stringify(value);
      if (Array.isArray(value)) return `array(${value.length})`;
      if (value !== null && typeof value === "object") return "object";
      return String(value);
    }

    it("accepts anything when there is no model", function () {
      const value = { nested: [1, "two", null] };
      assert.strictEqual(checkValue(null, "pump-07", "whatever", value, true), value);
      assert.strictEqual(checkValue(null, "pump-07", "x", null, false), null);
    });

    it("returns valid values unchanged", function () {
      assert.strictEqual(checkValue(pump, "pump-07", "temperature", 61.2, false), 61.2);
      assert.strictEqual(checkValue(pump, "pump-07", "rpm", 1500, true), 1500);
      assert.strictEqual(checkValue(pump, "pump-07", "mode", "auto", true), "auto");
      assert.strictEqual(checkValue(pump, "pump-07", "temperature", -40, false), -40);
      assert.strictEqual(checkValue(pump, "pump-07", "temperature", 200, false), 200);
    });

    it("does not coerce a numeric string", function () {
      invalidValue("temperature", "21.5", "type number");
    });

    it("checks the type", function () {
      invalidValue("temperature", true, "type number");
      invalidValue("temperature", null, "type number");
      invalidValue("rpm", 1500.5, "type integer");
      invalidValue("rpm", "1500", "type integer");
      invalidValue("mode", 1, "type string");
      invalidValue("mode", null, "type string");
    });

    it("checks minimum, maximum and enum with the exact rule strings", function () {
      invalidValue("temperature", -40.1, "minimum -40");
      invalidValue("temperature", 250, "maximum 200");
      invalidValue("rpm", -1, "minimum 0");
      invalidValue("rpm", 3601, "maximum 3600", true);
      invalidValue("mode", "turbo", "enum auto|manual|off", true);
    });

    it("checks every other type, and null only passes for any", function () {
      const m = parseModels({
        m: { properties: { b: { type: "boolean" }, o: { type: "object" }, a: { type: "array" }, x: { type: "any" }, n: { type: "integer", enum: [0, 1, 2] } } },
      }).get("m");
      const fails = (prop, value, rule) => throwsTwin(() => checkValue(m, "t1", prop, value, false), "invalid-value", { rule });
      fails("b", "true", "type boolean");
      fails("o", [], "type object");
      fails("o", null, "type object");
      fails("a", {}, "type array");
      fails("a", null, "type array");
      fails("n", 3, "enum 0|1|2");
      assert.strictEqual(checkValue(m, "t1", "b", false, false), false);
      assert.deepStrictEqual(checkValue(m, "t1", "o", { a: 1 }, false), { a: 1 });
      assert.deepStrictEqual(checkValue(m, "t1", "a", [1], false), [1]);
      for (const v of [null, 1, "s", [], {}]) assert.strictEqual(checkValue(m, "t1", "x", v, false), v);
    });

    it("compares enum members structurally", function () {
      const m = parseModels({ m: { properties: { p: { enum: [{ a: 1 }, [1, 2]] } } } }).get("m");
      assert.deepStrictEqual(checkValue(m, "t1", "p", { a: 1 }, false), { a: 1 });
      throwsTwin(() => checkValue(m, "t1", "p", { a: 2 }, false), "invalid-value", { rule: "enum object|array(2)" });
    });

    it("refuses a property the model does not have", function () {
      throwsTwin(() => checkValue(pump, "pump-07", "pressure", 1, false), "not-in-model",
        { twinId: "pump-07", property: "pressure", model: "pump" });
      throwsTwin(() => checkValue(pump, "pump-07", "__proto__", 1, false), "not-in-model", { property: "__proto__" });
      throwsTwin(() => checkValue(pump, "pump-07", "constructor", 1, false), "not-in-model", { property: "constructor" });
    });

    it("refuses desired state for a property that is not writable", function () {
      throwsTwin(() => checkValue(pump, "pump-07", "temperature", 50, true), "not-writable",
        { twinId: "pump-07", property: "temperature", model: "pump" });
      assert.strictEqual(checkValue(pump, "pump-07", "temperature", 50, false), 50);
    });

    it("applies to imported models: WoT readOnly and DTDL Telemetry are not writable", function () {
      const tm = parseModels(fixture("pump.tm.json")).get("CentrifugalPump");
      throwsTwin(() => checkValue(tm, "p1", "temperature", 20, true), "not-writable", { model: "CentrifugalPump" });
      assert.strictEqual(checkValue(tm, "p1", "rpm", 1200, true), 1200);
      const dt = parseModels(fixture("thermostat.dtdl.json")).get("dtmi:com:example:Thermostat;1");
      throwsTwin(() => checkValue(dt, "t1", "temperature", 20, true), "not-writable", { model: "dtmi:com:example:Thermostat;1" });
      throwsTwin(() => checkValue(dt, "t1", "fanMode", 3, true), "invalid-value", { rule: "enum 0|1|2" });
      assert.strictEqual(checkValue(dt, "t1", "targetTemperature", 21.5, true), 21.5);
    });

    it("shortens long values in the error", function () {
      throwsTwin(() => checkValue(pump, "pump-07", "mode", "x".repeat(1000), false), "invalid-value",
        { value: /^"x+…$/ });
    });
  });

  describe("valuesMatch", function () {
    const rpm = parseModels(PUMP).get("pump").properties.get("rpm");
    const temperature = parseModels(PUMP).get("pump").properties.get("temperature");

    it("counts numbers within the tolerance as equal, boundaries included", function () {
      assert.strictEqual(valuesMatch(rpm, 1500, 1504), true);
      assert.strictEqual(valuesMatch(rpm, 1500, 1495), true);
      assert.strictEqual(valuesMatch(rpm, 1500, 1505), true);
      assert.strictEqual(valuesMatch(rpm, 1500, 1506), false);
    });

    it("compares numbers exactly without a tolerance or a spec", function () {
      assert.strictEqual(valuesMatch(temperature, 61.2, 61.2), true);
      assert.strictEqual(valuesMatch(temperature, 61.2, 61.3), false);
      assert.strictEqual(valuesMatch(undefined, 1, 1), true);
      assert.strictEqual(valuesMatch(undefined, 1, 2), false);
    });

    it("uses deep JSON equality for everything else", function () {
      assert.strictEqual(valuesMatch(rpm, "1500", 1500), false);
      assert.strictEqual(valuesMatch(undefined, { a: [1, { b: null }] }, { a: [1, { b: null }] }), true);
      assert.strictEqual(valuesMatch(undefined, { a: 1 }, { a: 1, b: 2 }), false);
      assert.strictEqual(valuesMatch(undefined, [1, 2], [2, 1]), false);
      assert.strictEqual(valuesMatch(undefined, null, null), true);
      assert.strictEqual(valuesMatch(rpm, { v: 1500 }, { v: 1501 }), false, "tolerance applies to the value itself only");
    });
  });
});
