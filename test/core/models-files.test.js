"use strict";
// Models from several files at once (a registry's models folder): references resolve across the
// files and the Models setting, a Thing Model without a title or @id is named after its file, and
// a bad file is left out with its reason while every other file loads.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { loadModels, parseModels, checkValue, missingLinks } = require("../../nodes/lib/core/models");
const { throwsTwin } = require("./core-support");

const FIXTURES = path.join(__dirname, "..", "fixtures", "models");
const read = (name) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const WOT = "https://www.w3.org/2022/wot/td/v1.1";

/** A fixture as it sits in a folder under the name its publisher gave it (see NOTICE). */
const file = (fixture, as) => ({ file: as, input: read(fixture) });

describe("core/models: a folder of model files", function () {
  it("names a Thing Model with neither title nor @id after its file, as the SDF converter writes them", function () {
    const door = { "@context": [WOT], "@type": "tm:ThingModel", properties: { open: { type: "boolean", readOnly: true } } };
    const { models, problems } = loadModels([{ file: "sdf/sdfobject-door.tm.jsonld", input: JSON.stringify(door) }]);
    assert.deepEqual(problems, []);
    assert.deepEqual([...models.keys()], ["sdfobject-door"]);
    assert.equal(models.get("sdfobject-door").properties.get("open").writable, false);
  });

  it("resolves tm:extends and tm:ref to files elsewhere in the folder by their file names", function () {
    const { models, problems, files } = loadModels([
      file("thingweb-extend-and-import.tm.jsonld", "3-tm-extends-imports/extend-and-import.tm.jsonld"),
      file("thingweb-basic-on-off-tm.tm.jsonld", "1-basic/basic-on-off-tm.tm.jsonld"),
      file("thingweb-basic-tm.tm.jsonld", "1-basic/basic-tm.tm.jsonld"),
      file("thingweb-extends-basic.tm.jsonld", "3-tm-extends-imports/extends-basic.tm.jsonld"),
    ]);
    assert.deepEqual(problems, []);
    const name = files.get("3-tm-extends-imports/extend-and-import.tm.jsonld")[0];
    const model = models.get(name);
    assert.deepEqual([...model.properties.keys()], ["onOff", "status", "dimming"]);
    throwsTwin(() => checkValue(model, "lamp", "dimming", 101, true), "invalid-value", { rule: "maximum 100" });
  });

  it("resolves a DTDL Component named in a file to an Interface given in the Models setting", function () {
    const controller = read("azure-temperaturecontroller-1.json");
    const thermostat = JSON.parse(read("azure-thermostat-1.json"));
    const info = read("azure-deviceinformation-1.json");
    const { models, problems } = loadModels([
      { input: [thermostat] },
      { file: "dtmi/com/example/temperaturecontroller-1.json", input: controller },
      { file: "dtmi/azure/devicemanagement/deviceinformation-1.json", input: info },
    ]);
    assert.deepEqual(problems, []);
    const spec = models.get("dtmi:com:example:TemperatureController;1").properties.get("thermostat1__targetTemperature");
    assert.equal(spec.writable, true);
    assert.equal(spec.unit, "Cel");
  });

  it("leaves out a file that is not JSON or whose model is wrong, naming the file and why, and loads the rest", function () {
    const good = { "@context": [WOT], "@type": "tm:ThingModel", title: "Lamp", properties: { on: { type: "boolean" } } };
    const wrong = { "@context": [WOT], "@type": "tm:ThingModel", title: "Fan", properties: { rpm: { type: "integer", minimum: 10, maximum: 1 } } };
    const { models, problems } = loadModels([
      { file: "broken.json", input: "{ not json" },
      { file: "fan.tm.json", input: JSON.stringify(wrong) },
      { file: "lamp.tm.json", input: JSON.stringify(good) },
    ]);
    assert.deepEqual([...models.keys()], ["Lamp"]);
    assert.deepEqual(problems.map((p) => p.file), ["broken.json", "fan.tm.json"]);
    assert.match(problems[0].error.params.reason, /not valid JSON/);
    assert.match(problems[1].error.params.reason, /property "rpm": minimum 10 is greater than maximum 1/);
  });

  it("loads a file whose link points outside the folder as an incomplete model, naming the missing file", function () {
    const { models, problems } = loadModels([file("thingweb-extends-basic.tm.jsonld", "extends-basic.tm.jsonld")]);
    assert.deepEqual(problems, []);
    const model = models.get("Smart Lamp Control with Dimming");
    assert.deepEqual([...model.properties.keys()], ["dim"]);
    assert.deepEqual(missingLinks(model).map((m) => [m.link, m.file]), [["tm:extends", "basic-on-off-tm"]]);
  });

  it("refuses a file that declares a model name the Models setting or another file already has, naming the first", function () {
    const lamp = (props) => JSON.stringify({ "@context": [WOT], "@type": "tm:ThingModel", title: "Lamp", properties: props });
    const { models, problems } = loadModels([
      { input: { Lamp: { properties: { on: { type: "boolean", writable: true } } } } },
      { file: "a/lamp.tm.json", input: lamp({ level: { type: "number" } }) },
      { file: "b/fan.tm.json", input: lamp({ speed: { type: "number" } }).replace("Lamp", "Fan") },
      { file: "c/fan.tm.json", input: lamp({ rpm: { type: "number" } }).replace("Lamp", "Fan") },
      { file: "d/fan-copy.tm.json", input: lamp({ speed: { type: "number" } }).replace("Lamp", "Fan") },
    ]);
    assert.deepEqual([...models.get("Lamp").properties.keys()], ["on"], "the Models setting keeps its name");
    assert.deepEqual([...models.get("Fan").properties.keys()], ["speed"]);
    assert.deepEqual(problems.map((p) => [p.file, p.error.params.reason]), [
      ["a/lamp.tm.json", "duplicate model name: the Models setting already declares it"],
      ["c/fan.tm.json", 'duplicate model name: file "b/fan.tm.json" already declares it'],
    ], "a file holding the same model again is no problem");
  });

  it("still throws a problem of the Models setting itself, as parseModels always has", function () {
    throwsTwin(() => loadModels([{ input: "{ nope" }, { file: "x.json", input: "{}" }]), "model-invalid", { reason: /not valid JSON/ });
    throwsTwin(() => parseModels({ Lamp: { properties: { on: { type: "boolen" } } } }), "model-invalid", { reason: /unknown type/ });
  });

  it("reads an enum of SDF choices as their values, and any other enum member by JSON equality", function () {
    const tm = {
      "@context": [WOT], "@type": "tm:ThingModel", title: "Sensor",
      properties: {
        quality: { type: "integer", enum: [{ "sdf:choiceName": "UNCHECKED", const: 0 }, { "sdf:choiceName": "GOOD", const: 1 }] },
        position: { type: "object", enum: [{ x: 0, y: 0 }, { x: 1, y: 0 }] },
      },
    };
    const model = parseModels(tm).get("Sensor");
    assert.equal(checkValue(model, "s1", "quality", 1, false), 1);
    throwsTwin(() => checkValue(model, "s1", "quality", 2, false), "invalid-value", { rule: "enum 0|1" });
    assert.deepEqual(checkValue(model, "s1", "position", { y: 0, x: 1 }, false), { y: 0, x: 1 });
    throwsTwin(() => checkValue(model, "s1", "position", { x: 2, y: 0 }, false), "invalid-value");
  });

  it("leaves an SDF choice list with ranges in it to the property's type and bounds", function () {
    const tm = {
      "@context": [WOT], "@type": "tm:ThingModel", title: "Sensor",
      properties: {
        quality: {
          type: "integer", minimum: 0, maximum: 23,
          enum: [{ "sdf:choiceName": "UNCHECKED", const: 0 }, { "sdf:choiceName": "VENDOR", minimum: 16, maximum: 23 }],
        },
      },
    };
    const model = parseModels(tm).get("Sensor");
    assert.equal(checkValue(model, "s1", "quality", 17, false), 17);
    throwsTwin(() => checkValue(model, "s1", "quality", 24, false), "invalid-value", { rule: "maximum 23" });
  });

  it("takes one DTDL Interface copied into two folders once, and leaves out a different one under the same @id", function () {
    const thermostat = read("azure-thermostat-1.json");
    const changed = JSON.parse(thermostat);
    changed.contents = changed.contents.slice(0, 1);
    const { models, problems } = loadModels([
      { file: "a/thermostat-1.json", input: thermostat },
      { file: "b/thermostat-1.json", input: thermostat },
      { file: "c/thermostat-1.json", input: JSON.stringify(changed) },
    ]);
    assert.deepEqual([...models.keys()], ["dtmi:com:example:Thermostat;1"]);
    assert.deepEqual(problems.map((p) => [p.file, p.error.params.reason]), [["c/thermostat-1.json", "Interface dtmi:com:example:Thermostat;1 is given twice"]]);
  });

  it("uses a reference-only source for links but makes no model of it and reports none of its problems", function () {
    const { models, problems } = loadModels([
      file("thingweb-extends-basic.tm.jsonld", "extends-basic.tm.jsonld"),
      { ...file("thingweb-basic-on-off-tm.tm.jsonld", "basic-on-off-tm.tm.jsonld"), reference: true },
      { file: "broken.json", input: "{", reference: true },
    ]);
    assert.deepEqual(problems, []);
    assert.equal(models.size, 1);
    assert.deepEqual([...[...models.values()][0].properties.keys()], ["onOff", "dim"]);
  });
});
