"use strict";
// The Twins sidebar reads models as the registry parsed them (GET twin-models/..., the admin API),
// never by parsing a registry node's Models text: so a WoT or DTDL model, an array of them, a
// Component or a models folder shows the units and writability the registry checks by, and the
// model filter lists model names, never JSON keys. Run in a VM with a stub $.getJSON the test
// answers by hand; the integration test checks the route and its permission.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const UTIL = path.join(__dirname, "..", "..", "resources", "sidebar", "util.js");

/** util.js with $.getJSON recorded: requests[i] = { url, answer(json), refuse() }. */
function load(editorNodes = []) {
  const requests = [];
  const $ = () => ({});
  $.getJSON = (url) => {
    const request = { url, ok: [], bad: [] };
    request.answer = (json) => request.ok.forEach((fn) => fn(json));
    request.refuse = () => request.bad.forEach((fn) => fn({ status: 500 }));
    const promise = {
      done: (fn) => (request.ok.push(fn), promise),
      fail: (fn) => (request.bad.push(fn), promise),
      always: (fn) => (request.ok.push(fn), request.bad.push(fn), promise),
    };
    requests.push(request);
    return promise;
  };
  const RED = {
    _: (key) => key,
    nodes: {
      node: (id) => editorNodes.find((n) => n.id === id) ?? null,
      eachConfig: (fn) => editorNodes.forEach(fn),
    },
  };
  const context = { window: {}, RED, $ };
  vm.runInNewContext(fs.readFileSync(UTIL, "utf8"), context, { filename: UTIL });
  return { u: context.window.TwinwireSidebar.util, requests };
}

const plain = (v) => JSON.parse(JSON.stringify(v));

describe("Twins sidebar models (util.js)", function () {
  it("takes a model's properties from the registry's parsed model, fetched once, and tells the views when it arrives", function () {
    const { u, requests } = load();
    const heard = [];
    u.onModels((registry, model) => heard.push([registry, model]));
    const model = "dtmi:com:example:TemperatureController;1";
    assert.equal(u.modelProperties("reg-1", model), null, "not fetched yet");
    assert.equal(u.modelProperties("reg-1", model), null, "still on its way");
    assert.deepEqual(requests.map((r) => r.url), ["twin-models/reg-1/dtmi%3Acom%3Aexample%3ATemperatureController%3B1"]);
    requests[0].answer({
      name: model, source: "dtdl",
      properties: { thermostat1__targetTemperature: { name: "thermostat1__targetTemperature", type: "number", unit: "Cel", writable: true } },
    });
    assert.deepEqual(heard, [["reg-1", model]]);
    const props = u.modelProperties("reg-1", model);
    assert.equal(u.unitOf(props, "thermostat1__targetTemperature"), "Cel");
    assert.equal(u.unitSymbol(u.unitOf(props, "thermostat1__targetTemperature")), "°C");
    assert.equal(props.thermostat1__targetTemperature.writable, true);
    assert.equal(requests.length, 1, "no second request for a model it has");
  });

  it("lists model names from the registries, never the JSON keys of a Models text it could parse itself", function () {
    const wot = { "@context": "https://www.w3.org/2022/wot/td/v1.1", title: "Lamp", properties: { on: { type: "boolean" } } };
    const { u, requests } = load([{ id: "reg-1", type: "twin-registry", models: JSON.stringify(wot) }]);
    const heard = [];
    u.onModels((registry, model) => heard.push([registry, model]));
    assert.deepEqual(plain(u.modelNames()), []);
    u.loadModelNames(["reg-1", "reg-2"]);
    u.loadModelNames(["reg-1"]);
    assert.deepEqual(requests.map((r) => r.url), ["twin-models/reg-1", "twin-models/reg-2"]);
    requests[1].answer({ models: ["pump", "dtmi:com:example:Thermostat;1"] });
    requests[0].answer({ models: ["Lamp", "pump"] });
    assert.deepEqual(plain(u.modelNames()), ["Lamp", "dtmi:com:example:Thermostat;1", "pump"]);
    assert.deepEqual(heard, [["reg-2", null], ["reg-1", null]]);
    assert.equal(u.modelProperties("reg-1", "@context"), null);
  });

  it("asks again once a registry restarted (a deploy), and drops an answer that was on its way meanwhile", function () {
    const { u, requests } = load();
    const heard = [];
    u.onModels((registry, model) => heard.push([registry, model]));
    u.modelProperties("reg-1", "pump");
    u.forgetModels("reg-1");
    requests[0].answer({ properties: { rpm: { unit: "1/min" } } });
    assert.deepEqual(heard, [], "the answer from before the deploy is dropped");
    assert.equal(u.modelProperties("reg-1", "pump"), null);
    assert.equal(requests.length, 2, "fetched again");
    requests[1].answer({ properties: { rpm: { unit: "kW" } } });
    assert.equal(u.unitOf(u.modelProperties("reg-1", "pump"), "rpm"), "kW");
  });

  it("shows no units for a model the registry does not have, without asking again", function () {
    const { u, requests } = load();
    u.modelProperties("reg-1", "ghost");
    requests[0].refuse();
    assert.equal(u.modelProperties("reg-1", "ghost"), null);
    assert.equal(requests.length, 1);
  });

  it("keeps the links an incomplete Thing Model could not follow, for the twin's detail to list", function () {
    const { u, requests } = load();
    const base = { link: "tm:extends", href: "https://example.com/models/colored-lamp-1.0.0.tm.jsonld" };
    const ref = { link: "tm:ref", href: "https://example.com/basic.tm.jsonld#/properties/status", property: "status" };
    assert.equal(u.modelProperties("reg-1", "Dimmable Lamp"), null);
    assert.deepEqual(plain(u.modelUnresolved("reg-1", "Dimmable Lamp")), [], "nothing known before the model arrives");
    requests[0].answer({ name: "Dimmable Lamp", source: "wot", properties: { dim: { name: "dim", type: "integer", writable: true } }, unresolved: [base, ref, "not a link"] });
    assert.deepEqual(plain(u.modelUnresolved("reg-1", "Dimmable Lamp")), [base, ref]);
    u.modelProperties("reg-1", "Lamp");
    requests[1].answer({ name: "Lamp", source: "wot", properties: { on: { name: "on", type: "boolean" } } });
    assert.deepEqual(plain(u.modelUnresolved("reg-1", "Lamp")), [], "a complete model lists none");
    u.forgetModels("reg-1");
    assert.deepEqual(plain(u.modelUnresolved("reg-1", "Dimmable Lamp")), [], "forgotten with the rest when the registry restarts");
  });
});

