"use strict";
// What an import tells the user beyond properties: the parts a twin does not hold, Thing
// Descriptions of several devices of one kind, and a TD that lacks its @context.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { parseModels } = require("../../nodes/lib/core/models");
const { throwsTwin } = require("./core-support");

const fixtureText = (name) => fs.readFileSync(path.join(__dirname, "..", "fixtures", "models", name), "utf8");
const fixture = (name) => JSON.parse(fixtureText(name));

describe("core/models: what an import drops and how it names models", function () {
  it("names the actions and events of a Thing Model it does not import", function () {
    const model = parseModels(fixture("thingweb-basic-tm.tm.jsonld")).get("Lamp Thing");
    assert.deepEqual(model.ignored, ["action toggle", "event overheating"]);
  });

  it("names the Commands of a DTDL Interface and its bases, and nothing when all is state", function () {
    const models = parseModels([fixture("azure-thermostat-1.json"), fixture("azure-deviceinformation-1.json")]);
    assert.deepEqual(models.get("dtmi:com:example:Thermostat;1").ignored, ["command getMaxMinReport"]);
    assert.equal(models.get("dtmi:azure:DeviceManagement:DeviceInformation;1").ignored, undefined);
  });

  it("TDs of several devices of one kind, pasted together, make one model", function () {
    const a = fixture("pump.td.json");
    const b = fixture("pump.td.json");
    b.id = "urn:dev:ops:pump-08";
    b.base = "https://pump-08.example.com/";
    const models = parseModels([a, b]);
    assert.deepEqual([...models.keys()], ["Pump07"]);
  });

  it("TDs that share a title but differ in properties are refused with the way out", function () {
    const a = fixture("pump.td.json");
    const b = fixture("pump.td.json");
    delete b.properties.rpm;
    throwsTwin(() => parseModels([a, b]), "model-invalid", { model: "Pump07", reason: /different properties \(give each a name/ });
  });

  it("a TD without @context is told to add one, not blamed for its title", function () {
    const td = fixture("pump.td.json");
    delete td["@context"];
    throwsTwin(() => parseModels(td), "model-invalid", { model: "models", reason: /WoT Thing Description without "@context": add "@context"/ });
  });
});

describe("core/models: model text as files carry it", function () {
  it("reads a model whose text starts with a byte order mark", function () {
    const models = parseModels("\uFEFF" + fixtureText("azure-thermostat-1.json"));
    assert.deepEqual([...models.keys()], ["dtmi:com:example:Thermostat;1"]);
  });
});

describe("core/models: the parsed model as JSON for the editor", function () {
  it("gives components, units, writability, nested rules and dropped parts as plain JSON", function () {
    const { modelJson } = require("../../nodes/lib/core/models");
    const models = parseModels([fixture("azure-temperaturecontroller-1.json"), fixture("azure-thermostat-1.json"),
      fixture("azure-deviceinformation-1.json"), fixture("azure-deviceupdate-1.json")]);
    const controller = JSON.parse(JSON.stringify(modelJson(models.get("dtmi:com:example:TemperatureController;1"))));
    assert.equal(controller.source, "dtdl");
    assert.deepEqual(controller.properties.thermostat1__targetTemperature,
      { name: "thermostat1__targetTemperature", type: "number", unit: "Cel", writable: true, kind: "property",
        description: "Allows to remotely specify the desired target temperature." });
    assert.deepEqual(controller.ignored, ["command reboot", "command thermostat1__getMaxMinReport", "command thermostat2__getMaxMinReport"]);
    const update = JSON.parse(JSON.stringify(modelJson(models.get("dtmi:azure:iot:deviceUpdate;1"))));
    assert.deepEqual(update.properties.service.fields.fileUrls, { type: "object", values: { type: "string" } });
    assert.equal(update.properties.service.fields.workflow.fields.action.type, "integer");
  });
});
