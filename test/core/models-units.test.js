"use strict";
// Units as real models declare them, through the reading path: a unit the table knows converts in
// any spelling, and a unit it does not know keeps readings flowing in the model's own unit.
const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { applyReading } = require("../../nodes/lib/core/reading");
const { T0, throwsTwin } = require("./core-support");

const MODELS = parseModels({
  "@context": "https://www.w3.org/2022/wot/td/v1.1",
  title: "Weather",
  properties: {
    temperature: { type: "number", unit: "om2:degreeCelsius", readOnly: true },
    supply: { type: "number", unit: "om2:volt", readOnly: true },
    rainfall: { type: "number", unit: "buckets/h", readOnly: true },
  },
});

describe("core/models: units through readings", function () {
  let reg;

  beforeEach(function () {
    reg = new TwinRegistry({ models: MODELS, clock: () => T0 });
    reg.open();
    reg.create("w1", { model: "Weather" });
  });

  afterEach(async function () {
    await reg.close();
  });

  it("a reading that names no unit is kept in the model's unit, even one the table does not know", function () {
    applyReading(reg, "w1", { rainfall: 4, temperature: 21.5 });
    assert.equal(reg.get("w1").reported.rainfall, 4);
    assert.equal(reg.get("w1").reported.temperature, 21.5);
  });

  it("a sensor in Fahrenheit or millivolts feeds an OM 2 model, converted", function () {
    applyReading(reg, "w1", { temperature: 212 }, { unit: "[degF]" });
    applyReading(reg, "w1", { supply: 3300 }, { unit: "mV" });
    assert.equal(reg.get("w1").reported.temperature, 100);
    assert.equal(reg.get("w1").reported.supply, 3.3);
  });

  it("a reading in a unit that cannot become the model's unknown unit is refused, the twin unchanged", function () {
    applyReading(reg, "w1", { rainfall: 4 });
    throwsTwin(() => applyReading(reg, "w1", { rainfall: 9 }, { unit: "mm" }), "no-conversion",
      { twinId: "w1", property: "rainfall", from: "mm", to: "buckets/h" });
    assert.equal(reg.get("w1").reported.rainfall, 4);
  });
});
