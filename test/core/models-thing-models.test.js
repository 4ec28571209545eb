"use strict";
// W3C WoT Thing Models as the Eclipse Thingweb playground publishes them (see
// test/fixtures/models/NOTICE): no title, tm:extends, tm:ref, tm:submodel and {{placeholders}},
// all resolved inside the input the registry's Models field is given.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { parseModels, checkValue } = require("../../nodes/lib/core/models");
const { throwsTwin } = require("./core-support");

const fixture = (name) => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "models", `thingweb-${name}.tm.jsonld`), "utf8"));

/** Several Thing Model files, keyed by their file names as a user would paste them. */
function files(...names) {
  return Object.fromEntries(names.map((name) => [`${name}.tm.jsonld`, fixture(name)]));
}

const specs = (model) => Object.fromEntries([...model.properties].map(([k, v]) => [k, { ...v }]));

describe("core/models: Thing Models", function () {
  it("names a Thing Model without a title by its @id, or by the name it is given", function () {
    const tm = fixture("basic-on-off-tm");
    delete tm.title;
    tm["@id"] = "urn:example:tm:on-off";
    assert.deepEqual([...parseModels(tm).keys()], ["urn:example:tm:on-off"]);
    delete tm["@id"];
    assert.deepEqual([...parseModels({ switch: tm }).keys()], ["switch"]);
    throwsTwin(() => parseModels(tm), "model-invalid", { model: "models", reason: /needs a title or an @id .*give it a name/ });
  });

  it("tm:extends takes the properties of the extended model from the same input", function () {
    const models = parseModels(files("extends-basic", "basic-on-off-tm"));
    assert.deepEqual(specs(models.get("extends-basic.tm.jsonld")), {
      onOff: { name: "onOff", type: "boolean", writable: true },
      dim: { name: "dim", type: "integer", minimum: 0, maximum: 100, writable: true, description: "Dimms the lamp between the values: 0 and 100" },
    });
  });

  it("tm:extends and tm:ref across three files: the imported definitions keep their rules", function () {
    const models = parseModels(files("extend-and-import", "basic-on-off-tm", "basic-tm", "extends-basic"));
    const model = models.get("extend-and-import.tm.jsonld");
    assert.deepEqual([...model.properties.keys()], ["onOff", "status", "dimming"]);
    assert.equal(model.properties.get("status").writable, false, "readOnly in basic-tm");
    throwsTwin(() => checkValue(model, "lamp", "dimming", 101, true), "invalid-value", { rule: "maximum 100" });
  });

  it("tm:ref within the same document, with the keys beside it overriding", function () {
    const p = parseModels(fixture("relative-imports")).get("Multi Sensor").properties;
    assert.deepEqual({ ...p.get("innerTemperature") }, { name: "innerTemperature", type: "number", unit: "Cel", minimum: 10, writable: true, description: "The inner temperature" });
    assert.equal(p.get("outerTemperature").unit, "K");
  });

  it("tm:ref overrides an imported maximum and adds a unit", function () {
    const models = parseModels(files("overwrite-existing-definitions", "extends-basic", "basic-on-off-tm"));
    const dimming = models.get("overwrite-existing-definitions.tm.jsonld").properties.get("dimming");
    assert.deepEqual([dimming.type, dimming.minimum, dimming.maximum, dimming.unit], ["integer", 0, 80, "%"]);
  });

  it("tm:submodel properties join under instanceName__property", function () {
    const models = parseModels(files("submodel", "basic-ventilation-tm", "basic-led-tm"));
    const names = [...models.get("submodel.tm.jsonld").properties.keys()];
    assert.ok(names.includes("status"));
    assert.ok(names.includes("ventilation__switch"), names.join());
    assert.ok(names.includes("led__R"), names.join());
  });

  it("refuses a Thing Model whose every property is behind a link the input lacks, naming the file to add", function () {
    throwsTwin(() => parseModels(fixture("overwrite-existing-definitions")), "model-invalid", {
      model: "Smart Lamp Control",
      reason: /has no property of its own to import: tm:ref ".*extends-basic.tm.jsonld#\/properties\/dim" is not in the input \(add that Thing Model to the Models, named "extends-basic"\)/,
    });
  });

  it("refuses a placeholder where a number belongs, naming it, and keeps one in the title", function () {
    throwsTwin(() => parseModels(fixture("placeholder")), "model-invalid", {
      model: "thermostat No. {{THERMOSTAT_NUMBER}}",
      reason: /property "temperature": maximum is the Thing Model placeholder {{THERMOSTAT_TEMPERATURE_MAXIMUM}}/,
    });
    const filled = fixture("placeholder");
    filled.properties.temperature.maximum = 60;
    const model = parseModels(filled).get("thermostat No. {{THERMOSTAT_NUMBER}}");
    assert.deepEqual([model.properties.get("temperature").minimum, model.properties.get("temperature").maximum], [-20, 60]);
  });

  it("ignores links that are not composition, even when they are not written as an array", function () {
    const tm = fixture("basic-on-off-tm");
    tm.links = { rel: "tm:extends", href: "elsewhere.tm.jsonld" };
    assert.deepEqual([...parseModels(tm).get("Basic On/Off Thing").properties.keys()], ["onOff"]);
  });

  it("refuses tm:extends cycles and a tm:ref that points at nothing", function () {
    const a = { "@type": "tm:ThingModel", links: [{ rel: "tm:extends", href: "b.tm.jsonld" }] };
    const b = { "@type": "tm:ThingModel", links: [{ rel: "tm:extends", href: "./a.tm.jsonld" }] };
    throwsTwin(() => parseModels({ a, b }), "model-invalid", { model: "a", reason: /cycle/ });
    const c = { "@type": "tm:ThingModel", properties: { x: { "tm:ref": "#/properties/y" } } };
    throwsTwin(() => parseModels({ c }), "model-invalid", { model: "c", reason: /property "x": tm:ref "#\/properties\/y" points at no definition/ });
  });
});
