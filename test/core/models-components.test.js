"use strict";
// DTDL Components as vendors publish them (Azure IoT Plug and Play's TemperatureController, see
// test/fixtures/models/NOTICE): a component's properties become twin properties under
// `<component>__<property>`, with the component Interface's types, units and writability.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { parseModels, checkValue, COMPONENT_SEPARATOR } = require("../../nodes/lib/core/models");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { applyReading } = require("../../nodes/lib/core/reading");
const { T0, throwsTwin } = require("./core-support");

const fixture = (name) => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "models", name), "utf8"));
const CONTROLLER = "dtmi:com:example:TemperatureController;1";
const FILES = () => [fixture("azure-temperaturecontroller-1.json"), fixture("azure-thermostat-1.json"), fixture("azure-deviceinformation-1.json")];

describe("core/models: DTDL Components", function () {
  it("gives the twin every property of its components, named component__property", function () {
    const model = parseModels(FILES()).get(CONTROLLER);
    assert.equal(COMPONENT_SEPARATOR, "__");
    assert.deepEqual([...model.properties.keys()], [
      "workingSet", "serialNumber",
      "thermostat1__temperature", "thermostat1__targetTemperature", "thermostat1__maxTempSinceLastReboot",
      "thermostat2__temperature", "thermostat2__targetTemperature", "thermostat2__maxTempSinceLastReboot",
      "deviceInformation__manufacturer", "deviceInformation__model", "deviceInformation__swVersion",
      "deviceInformation__osName", "deviceInformation__processorArchitecture", "deviceInformation__processorManufacturer",
      "deviceInformation__totalStorage", "deviceInformation__totalMemory",
    ]);
  });

  it("keeps the component Interface's type, unit and writability", function () {
    const p = parseModels(FILES()).get(CONTROLLER).properties;
    assert.deepEqual({ ...p.get("thermostat1__targetTemperature") }, {
      name: "thermostat1__targetTemperature", type: "number", unit: "Cel", writable: true, kind: "property",
      description: "Allows to remotely specify the desired target temperature.",
    });
    assert.equal(p.get("thermostat2__temperature").kind, "telemetry");
    assert.equal(p.get("thermostat2__temperature").writable, false);
    assert.equal(p.get("workingSet").unit, "KiBy", "kibibyte");
  });

  it("accepts readings and desired state for a component property, and refuses what its Interface forbids", function () {
    const model = parseModels(FILES()).get(CONTROLLER);
    assert.equal(checkValue(model, "tc", "thermostat1__targetTemperature", 21.5, true), 21.5);
    throwsTwin(() => checkValue(model, "tc", "thermostat1__temperature", 20, true), "not-writable", { property: "thermostat1__temperature" });
    throwsTwin(() => checkValue(model, "tc", "deviceInformation__model", 7, false), "invalid-value", { rule: "type string" });
    const reg = new TwinRegistry({ models: parseModels(FILES()), clock: () => T0 });
    reg.open();
    try {
      applyReading(reg, "tc-1", { thermostat1__temperature: 20.5, serialNumber: "SN-1" }, { create: { model: CONTROLLER } });
      applyReading(reg, "tc-1", { thermostat1__temperature: 70 }, { unit: "[degF]" });
      assert.equal(reg.get("tc-1").reported.thermostat1__temperature, 21.1111111111111);
    } finally {
      reg.close();
    }
  });

  it("names every Interface the input lacks, rather than dropping the components", function () {
    throwsTwin(() => parseModels([fixture("azure-temperaturecontroller-1.json")]), "model-invalid", {
      model: CONTROLLER,
      reason: /not in the input: "dtmi:com:example:Thermostat;1", "dtmi:azure:DeviceManagement:DeviceInformation;1" \(add their files/,
    });
  });

  it("accepts an inline component Interface and refuses components that nest in a cycle", function () {
    const ctx = "dtmi:dtdl:context;3";
    const lamp = { "@context": ctx, "@id": "dtmi:ex:Lamp;1", "@type": "Interface", contents: [
      { "@type": "Component", name: "bulb", schema: { "@type": "Interface", "@id": "dtmi:ex:Bulb;1",
        contents: [{ "@type": "Property", name: "on", schema: "boolean", writable: true }] } },
    ] };
    assert.deepEqual([...parseModels(lamp).get("dtmi:ex:Lamp;1").properties.keys()], ["bulb__on"]);
    const a = { "@context": ctx, "@id": "dtmi:ex:A;1", "@type": "Interface", contents: [{ "@type": "Component", name: "b", schema: "dtmi:ex:B;1" }] };
    const b = { "@context": ctx, "@id": "dtmi:ex:B;1", "@type": "Interface", contents: [{ "@type": "Component", name: "a", schema: "dtmi:ex:A;1" }] };
    throwsTwin(() => parseModels([a, b]), "model-invalid", { model: "dtmi:ex:A;1", reason: /cycle/ });
  });

  it("refuses a component property that collides with a property of the same name", function () {
    const ctx = "dtmi:dtdl:context;3";
    const inner = { "@context": ctx, "@id": "dtmi:ex:In;1", "@type": "Interface", contents: [{ "@type": "Property", name: "x", schema: "double" }] };
    const outer = { "@context": ctx, "@id": "dtmi:ex:Out;1", "@type": "Interface", contents: [
      { "@type": "Property", name: "c__x", schema: "string" },
      { "@type": "Component", name: "c", schema: "dtmi:ex:In;1" },
    ] };
    throwsTwin(() => parseModels([outer, inner]), "model-invalid", { model: "dtmi:ex:Out;1", reason: /"c__x" is defined twice/ });
  });
});
