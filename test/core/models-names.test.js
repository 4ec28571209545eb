"use strict";
// Property names as vendors write them (OPC UA "7:Temperature", a Modbus meter's "voltage-v-l1-n",
// a Vorto conversion's "distance.currentMeasured"): an imported model keeps them, mapped to twin
// property names that are safe in every topic, query path, condition and JSON Pointer.
const assert = require("node:assert/strict");
const { parseModels, checkValue, modelPropertyName } = require("../../nodes/lib/core/models");
const { twinPropertyName, isPropertyName } = require("../../nodes/lib/core/names");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { applyReading } = require("../../nodes/lib/core/reading");
const { T0, throwsTwin } = require("./core-support");

const td = (properties) => ({ "@context": "https://www.w3.org/2022/wot/td/v1.1", title: "Meter", properties });

describe("core/models: vendor property names", function () {
  it("maps a vendor's name predictably to a twin property name", function () {
    const cases = {
      temperature: "temperature",
      "voltage-v-l1-n": "voltage_v_l1_n",
      "7:Temperature": "_7_Temperature",
      "distance.currentMeasured": "distance_currentMeasured",
      "sensors/left": "sensors_left",
      "1stStage": "_1stStage",
      "Température": "Temp_rature",
    };
    for (const [given, twin] of Object.entries(cases)) {
      assert.equal(twinPropertyName(given), twin, given);
      assert.ok(isPropertyName(twin), twin);
    }
  });

  it("still refuses __proto__, constructor and prototype, also when a mapping would spell them", function () {
    for (const name of ["__proto__", "constructor", "prototype", "--proto--", "", "x".repeat(129)]) {
      assert.equal(twinPropertyName(name), undefined, name);
    }
    throwsTwin(() => parseModels(td({ "--proto--": { type: "number" } })), "model-invalid", { model: "Meter", reason: /"--proto--" cannot be a property name/ });
    throwsTwin(() => parseModels(td({ constructor: { type: "number" } })), "model-invalid", { reason: /"constructor" is a forbidden key/ });
  });

  it("imports a WoT model with such names, keeping the vendor's spelling beside the twin's", function () {
    const model = parseModels(td({
      "voltage-v-l1-n": { type: "number", unit: "V", readOnly: true },
      "7:Temperature": { type: "number", unit: "Cel", minimum: -40, maximum: 125 },
      status: { type: "string" },
    })).get("Meter");
    assert.deepEqual([...model.properties.keys()], ["voltage_v_l1_n", "_7_Temperature", "status"]);
    assert.equal(model.properties.get("voltage_v_l1_n").sourceName, "voltage-v-l1-n");
    assert.equal(model.properties.get("status").sourceName, undefined, "only when the names differ");
    throwsTwin(() => checkValue(model, "m1", "_7_Temperature", 200, false), "invalid-value", { rule: "maximum 125" });
  });

  it("a reading in the vendor's spelling reaches the property its model maps it to", function () {
    const reg = new TwinRegistry({ models: parseModels(td({ "voltage-v-l1-n": { type: "number", unit: "V" }, "7:Temperature": { type: "number" } })), clock: () => T0 });
    reg.open();
    try {
      reg.create("m1", { model: "Meter" });
      reg.report("m1", { "voltage-v-l1-n": 231, "7:Temperature": 21.5 });
      assert.deepEqual({ ...reg.get("m1").reported }, { voltage_v_l1_n: 231, _7_Temperature: 21.5 });
      throwsTwin(() => reg.report("m1", { "volt-x": 1 }), "invalid-property");
    } finally {
      reg.close();
    }
  });

  it("a reading addressed by the twin name reaches the property", function () {
    const reg = new TwinRegistry({ models: parseModels(td({ "voltage-v-l1-n": { type: "number", unit: "V" } })), clock: () => T0 });
    reg.open();
    try {
      applyReading(reg, "m1", { voltage_v_l1_n: 231000 }, { create: { model: "Meter" }, unit: "mV" });
      assert.equal(reg.get("m1").reported.voltage_v_l1_n, 231);
    } finally {
      reg.close();
    }
  });

  it("finds the twin property for a name as the device spells it, and only for a name the model mapped", function () {
    const model = parseModels(td({ "voltage-v-l1-n": { type: "number" }, status: { type: "string" } })).get("Meter");
    assert.equal(modelPropertyName(model, "voltage-v-l1-n"), "voltage_v_l1_n");
    assert.equal(modelPropertyName(model, "voltage_v_l1_n"), "voltage_v_l1_n");
    assert.equal(modelPropertyName(model, "status"), "status");
    assert.equal(modelPropertyName(model, "voltage.v.l1.n"), "voltage.v.l1.n", "another spelling that maps alike is not the vendor's name");
    assert.equal(modelPropertyName(null, "a-b"), "a-b");
  });

  it("refuses two vendor names that would become one twin property, naming both", function () {
    throwsTwin(() => parseModels(td({ "on-off": { type: "boolean" }, on_off: { type: "boolean" } })), "model-invalid", {
      model: "Meter", reason: /"on-off" and "on_off" would both be twin property "on_off"/,
    });
  });

  it("keeps compact models, written for Twinwire, to the strict rules", function () {
    throwsTwin(() => parseModels({ pump: { properties: { "bad-name": {} } } }), "model-invalid", { reason: /"bad-name" is not a valid property name/ });
  });
});
