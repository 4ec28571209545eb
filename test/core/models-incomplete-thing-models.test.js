"use strict";
// A Thing Model pasted as a vendor publishes it links to models by URL (its base, its submodels,
// definitions it imports) that the registry was not given. It is imported as an incomplete model:
// what it declares itself is checked as usual, each link it could not follow is listed, and a
// reading of a property it lacks says the model is incomplete and which link is missing. A model
// left with nothing of its own is refused, naming what to add. Fixtures: test/fixtures/models/NOTICE.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { parseModels, checkValue, modelJson, missingLinks } = require("../../nodes/lib/core/models");
const { throwsTwin } = require("./core-support");

const fixture = (name) => JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "models", `thingweb-${name}.tm.jsonld`), "utf8"));
const files = (...names) => Object.fromEntries(names.map((name) => [`${name}.tm.jsonld`, fixture(name)]));
const plain = (v) => JSON.parse(JSON.stringify(v));

const WOT = "https://www.w3.org/2022/wot/td/v1.1";
const PLAYGROUND = "https://raw.githubusercontent.com/eclipse-thingweb/playground/master/examples/tm";
const ON_OFF = `${PLAYGROUND}/1-basic/basic-on-off-tm.tm.jsonld`;

describe("core/models: Thing Models with links nobody supplied", function () {
  it("imports a Thing Model whose base is missing with its own properties checked, and lists the missing tm:extends", function () {
    const model = parseModels(fixture("extends-basic")).get("Smart Lamp Control with Dimming");
    assert.deepEqual([...model.properties.keys()], ["dim"]);
    assert.equal(checkValue(model, "lamp-1", "dim", 40, false), 40);
    throwsTwin(() => checkValue(model, "lamp-1", "dim", 140, false), "invalid-value", { rule: "maximum 100" });
    assert.deepEqual(model.unresolved, [{ link: "tm:extends", href: ON_OFF }]);
    assert.deepEqual(plain(modelJson(model)).unresolved, [{ link: "tm:extends", href: ON_OFF }], "the sidebar and /twin-models see it");
  });

  it("refuses a reading of a property the model lacks as not-in-model, naming the missing link it may come from", function () {
    const model = parseModels(fixture("extends-basic")).get("Smart Lamp Control with Dimming");
    throwsTwin(() => checkValue(model, "lamp-1", "onOff", true, false), "not-in-model", {
      model: "Smart Lamp Control with Dimming", property: "onOff", missing: `tm:extends "${ON_OFF}"`,
    });
    throwsTwin(() => checkValue(model, "lamp-1", "onOff", true, true), "not-in-model", { missing: /basic-on-off-tm/ });
    // A complete model keeps the plain refusal.
    const complete = parseModels(files("extends-basic", "basic-on-off-tm")).get("extends-basic.tm.jsonld");
    assert.equal(complete.unresolved, undefined);
    assert.throws(() => checkValue(complete, "lamp-1", "brightness", 1, false), (err) => err.code === "not-in-model" && !("missing" in err.params));
  });

  it("leaves out a property whose tm:ref points at a missing model, naming that link for it, and keeps the rest", function () {
    const model = parseModels(files("extend-and-import", "basic-on-off-tm")).get("extend-and-import.tm.jsonld");
    assert.deepEqual([...model.properties.keys()], ["onOff"], "status and dimming have no definition here");
    assert.deepEqual(model.unresolved.map((u) => [u.link, u.property]), [["tm:ref", "status"], ["tm:ref", "dimming"]]);
    throwsTwin(() => checkValue(model, "lamp-1", "status", "on", false), "not-in-model", {
      missing: `tm:ref "${PLAYGROUND}/1-basic/basic-tm.tm.jsonld#/properties/status"`,
    });
    assert.deepEqual(missingLinks(model).map((m) => [m.file, m.properties]), [["basic-tm", ["status"]], ["extends-basic", ["dimming"]]]);
  });

  it("leaves out a property that names no type of its own while the base it may complete is missing", function () {
    const tm = {
      "@context": [WOT], "@type": "tm:ThingModel", title: "Dim Lamp",
      links: [{ rel: "tm:extends", href: "http://example.com/SmartControlLampTM" }],
      properties: { dim: { maximum: 200 }, level: { type: "integer", minimum: 0 } },
    };
    const model = parseModels(tm).get("Dim Lamp");
    assert.deepEqual([...model.properties.keys()], ["level"], "dim would otherwise accept any value");
    assert.deepEqual(missingLinks(model), [{ link: "tm:extends", href: "http://example.com/SmartControlLampTM", file: "SmartControlLampTM", properties: ["dim"] }]);
    delete tm.properties.level;
    throwsTwin(() => parseModels(tm), "model-invalid", {
      model: "Dim Lamp",
      reason: 'has no property of its own to import: tm:extends "http://example.com/SmartControlLampTM" is not in the input (add that Thing Model to the Models, named "SmartControlLampTM")',
    });
  });

  it("keeps the submodels it has and names the one it lacks for a reading under that instance", function () {
    const model = parseModels(files("submodel", "basic-led-tm")).get("submodel.tm.jsonld");
    const names = [...model.properties.keys()];
    assert.ok(names.includes("status") && names.includes("led__R"), names.join());
    assert.ok(!names.some((n) => n.startsWith("ventilation__")), names.join());
    assert.deepEqual(model.unresolved, [{ link: "tm:submodel", href: `${PLAYGROUND}/5-tm-submodel/basic-ventilation-tm.tm.jsonld`, instance: "ventilation" }]);
    throwsTwin(() => checkValue(model, "v-1", "ventilation__switch", true, false), "not-in-model", { missing: /^tm:submodel ".*basic-ventilation-tm.tm.jsonld"$/ });
  });

  it("passes on what a base it has could not follow, under the submodel's name", function () {
    const led = { "@context": [WOT], "@type": "tm:ThingModel", title: "led", links: [{ rel: "tm:extends", href: "https://vendor.example/rgb.tm.jsonld" }], properties: { R: { type: "integer" }, G: {} } };
    const room = { "@context": [WOT], "@type": "tm:ThingModel", title: "Room", links: [{ rel: "tm:submodel", href: "./led.tm.jsonld", instanceName: "lamp" }], properties: {} };
    const model = parseModels([room, led]).get("Room");
    assert.deepEqual([...model.properties.keys()], ["lamp__R"]);
    assert.deepEqual(model.unresolved, [
      { link: "tm:extends", href: "https://vendor.example/rgb.tm.jsonld", instance: "lamp" },
      { link: "tm:extends", href: "https://vendor.example/rgb.tm.jsonld", property: "lamp__G", instance: "lamp" },
    ]);
    throwsTwin(() => checkValue(model, "r-1", "lamp__G", 1, false), "not-in-model", { missing: 'tm:extends "https://vendor.example/rgb.tm.jsonld"' });
  });

  it("reads \"@type\": \"ThingModel\" without the tm: prefix as a Thing Model, passing over a \"required\" list among its properties", function () {
    // The shape of Siemens' LwM2M Thing Models from the 2021 W3C plugfest.
    const lwm2m = {
      "@context": ["https://www.w3.org/2019/wot/td/v1"], "@type": "ThingModel", title: "OMA LwM2M Light Control (Object ID 3311)",
      properties: { required: ["On_Off"], On_Off: { type: "boolean" }, Dimmer: { type: "integer", unit: "/100", minimum: 0, maximum: 100 } },
    };
    const model = parseModels(lwm2m).get("OMA LwM2M Light Control (Object ID 3311)");
    assert.equal(model.source, "wot");
    assert.deepEqual([...model.properties.keys()], ["On_Off", "Dimmer"]);
    assert.deepEqual(model.ignored, ['"required" list among the properties (not a property)']);
    // Without a WoT @context the type alone says what it is, as "tm:ThingModel" does.
    const bare = { "@type": "ThingModel", title: "Bare", links: [{ rel: "tm:extends", href: "./lwm2m.tm.jsonld" }], properties: { Colour: { type: "string" } } };
    const both = parseModels({ "lwm2m.tm.jsonld": lwm2m, bare });
    assert.deepEqual([...both.get("bare").properties.keys()], ["On_Off", "Dimmer", "Colour"]);
    // Anything else that is not an object among the properties is still refused.
    lwm2m.properties.On_Off = "boolean";
    throwsTwin(() => parseModels(lwm2m), "model-invalid", { reason: 'property "On_Off": must be an object' });
  });
});
