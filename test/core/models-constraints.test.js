"use strict";
// Rules inside values: the fields of an object property, the items of an array, the values of a
// map, and JSON Schema's multipleOf, exclusive bounds, pattern and const, as real models declare
// them (Azure Device Update's nested Objects and Maps, IoT Central's geopoint; NOTICE names them).
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { parseModels, checkValue } = require("../../nodes/lib/core/models");
const { throwsTwin } = require("./core-support");

const fixture = (name) => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "models", name), "utf8"));
const refused = (model, property, value, rule) => throwsTwin(() => checkValue(model, "t1", property, value, false), "invalid-value", { property, rule });
const td = (properties) => parseModels({ "@context": "https://www.w3.org/2022/wot/td/v1.1", title: "Lamp", properties }).get("Lamp");

describe("core/models: nested and numeric constraints", function () {
  it("checks the fields of a WoT object property: a brightness of 9999 is refused", function () {
    const lamp = td({
      state: { type: "object", required: ["on"], properties: {
        on: { type: "boolean" },
        brightness: { type: "integer", minimum: 0, maximum: 100 },
        color: { type: "object", properties: { r: { type: "integer", minimum: 0, maximum: 255 } } },
      } },
    });
    assert.deepEqual(checkValue(lamp, "t1", "state", { on: true, brightness: 80, extra: "kept" }, false), { on: true, brightness: 80, extra: "kept" });
    refused(lamp, "state", { on: true, brightness: 9999 }, "brightness: maximum 100");
    refused(lamp, "state", { on: true, color: { r: 300 } }, "color: r: maximum 255");
    refused(lamp, "state", { brightness: 5 }, "on: required");
  });

  it("checks array items, multipleOf, exclusive bounds, pattern and const", function () {
    const lamp = td({
      levels: { type: "array", items: { type: "number", exclusiveMinimum: 0 } },
      step: { type: "number", multipleOf: 0.1 },
      ratio: { type: "number", exclusiveMaximum: 1 },
      serial: { type: "string", pattern: "^[A-Z]{2}-[0-9]{4}$" },
      kind: { type: "string", const: "lamp" },
    });
    checkValue(lamp, "t1", "levels", [0.5, 3], false);
    refused(lamp, "levels", [0.5, 0], "[1]: exclusiveMinimum 0");
    checkValue(lamp, "t1", "step", 0.3, false);
    refused(lamp, "step", 0.25, "multipleOf 0.1");
    refused(lamp, "ratio", 1, "exclusiveMaximum 1");
    checkValue(lamp, "t1", "serial", "AB-1234", false);
    refused(lamp, "serial", "ab-1234", "pattern ^[A-Z]{2}-[0-9]{4}$");
    refused(lamp, "kind", "bulb", 'const "lamp"');
  });

  it("refuses a model with a bad pattern or a multipleOf that is not positive", function () {
    throwsTwin(() => td({ s: { type: "string", pattern: "([a-z" } }), "model-invalid", { reason: /property "s": pattern "\(\[a-z" is not a regular expression/ });
    throwsTwin(() => td({ n: { type: "number", multipleOf: 0 } }), "model-invalid", { reason: /multipleOf must be greater than 0/ });
    const legacy = td({ id: { type: "string", pattern: "^[a-z\\_]+$" } });
    checkValue(legacy, "t1", "id", "pump_", false);
    refused(legacy, "id", "pump-7", "pattern ^[a-z\\_]+$");
  });

  it("checks DTDL Object fields and Map values through named schemas (Azure Device Update)", function () {
    const model = parseModels(fixture("azure-deviceupdate-1.json")).get("dtmi:azure:iot:deviceUpdate;1");
    const service = { workflow: { action: 3, id: "w-1" }, updateManifest: "{}", fileUrls: { f1: "https://example.com/f1" } };
    assert.deepEqual(checkValue(model, "t1", "service", service, true), service);
    refused(model, "service", { ...service, workflow: { action: "three" } }, "workflow: action: type integer");
    refused(model, "service", { ...service, fileUrls: { f1: 42 } }, "fileUrls: f1: type string");
    refused(model, "agent", { state: 1.5 }, "state: type integer");
  });

  it("accepts geopoint as an object with lat and lon numbers (IoT Central climate monitor)", function () {
    const model = parseModels(fixture("azure-climatemonitor-1.json")).get("dtmi:com:example:climatemonitor;1");
    checkValue(model, "t1", "Location", { lat: 47.6, lon: -122.3 }, false);
    checkValue(model, "t1", "Location", { lat: 47.6, lon: -122.3, alt: 40 }, false);
    refused(model, "Location", { lat: 47.6 }, "lon: required");
    refused(model, "Location", { lat: "47.6", lon: 0 }, "lat: type number");
    assert.equal(model.properties.get("latitude").unit, "deg");
  });

  it("checks DTDL Array elements", function () {
    const model = parseModels({ m: { "@type": "Interface", contents: [
      { "@type": "Telemetry", name: "samples", schema: { "@type": "Array", elementSchema: "double" } },
    ] } }).get("m");
    checkValue(model, "t1", "samples", [1, 2.5], false);
    refused(model, "samples", [1, "2"], "[1]: type number");
  });
});

describe("core/models: nested schemas real TDs get slightly wrong", function () {
  it("leaves a nested field of an unknown type unchecked, and skips a field that is not a schema", function () {
    const model = td({
      light: { type: "object", properties: {
        lastupdated: { type: "date-time" },
        required: ["on"],
        on: { type: "boolean" },
      } },
    });
    checkValue(model, "t1", "light", { lastupdated: "2020-09-01T10:00:00Z", on: true }, false);
    refused(model, "light", { on: "yes" }, "on: type boolean");
    throwsTwin(() => td({ light: { type: "date-time" } }), "model-invalid", { reason: /property "light": unknown type "date-time"/ });
  });
});
