"use strict";
// A registry's models folder: every model file under Node-RED's user directory read at deploy,
// references resolving across the files and the Models field, a bad file named with its reason
// while the others load, a path out of the user directory refused; and a unit Twinwire does not
// know warned about once, when the models load, while readings keep flowing in it.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { helper, nodes, flow, exchange, useUserDir, registryWithCatalog } = require("./support");

const sensorNode = require(path.join(__dirname, "..", "..", "nodes", "twin-sensor.js"));
const FIXTURES = path.join(__dirname, "..", "fixtures", "models");
const WOT = "https://www.w3.org/2022/wot/td/v1.1";

// The registry's texts rendered from the English catalog, so a test sees the file and reason a user reads.
const withCatalog = registryWithCatalog;

const load = (f) => helper.load([withCatalog, nodes.twin, sensorNode, nodes.catch], f);
const registry = () => helper.getNode("reg").use();
/** What the registry node logged at a level (helper.log() spies on Node-RED's log). */
const logged = (level) => helper.log().args.map((a) => a[0]).filter((m) => m.type === "twin-registry" && m.level === helper.log()[level]).map((m) => String(m.msg));
/** The status the registry gives the nodes that use it. */
function userStatus() {
  let status = null;
  const user = { status: (s) => (status = s) };
  helper.getNode("reg").addUser(user);
  helper.getNode("reg").removeUser(user);
  return status;
}

function sensorFlow(registryConfig, model = "") {
  return flow(
    [
      { id: "s", type: "twin-sensor", registry: "reg", unknown: "create", model, pattern: "{twin}/{property}", wires: [["out"]] },
      { id: "out", type: "helper" },
    ],
    { modelsFolder: "models", ...registryConfig },
  );
}

describe("twin-registry: models folder", function () {
  let userDir;
  useUserDir("twinwire-models-folder-");
  beforeEach(function (done) {
    userDir = helper.settings().userDir;
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  /** Writes files under <userDir>/models: { "a/b.json": text or value }. */
  function files(map) {
    for (const [name, content] of Object.entries(map)) {
      const file = path.join(userDir, "models", name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
    }
  }

  it("loads every model file below the folder, resolving Components across files and the Models field", async function () {
    const thermostat = fs.readFileSync(path.join(FIXTURES, "azure-thermostat-1.json"), "utf8");
    files({
      "dtmi/com/example/temperaturecontroller-1.json": fs.readFileSync(path.join(FIXTURES, "azure-temperaturecontroller-1.json"), "utf8"),
      "dtmi/azure/devicemanagement/deviceinformation-1.json": fs.readFileSync(path.join(FIXTURES, "azure-deviceinformation-1.json"), "utf8"),
      "sdf/sdfobject-door.tm.jsonld": { "@context": [WOT], "@type": "tm:ThingModel", properties: { open: { type: "boolean" } } },
      ".hidden/ignored.json": "{ not even json",
      "notes.txt": "not a model file",
    });
    await load(sensorFlow({ models: thermostat }, "dtmi:com:example:TemperatureController;1"));
    const models = registry().models;
    assert.deepEqual([...models.keys()].sort(), [
      "dtmi:azure:DeviceManagement:DeviceInformation;1",
      "dtmi:com:example:TemperatureController;1",
      "dtmi:com:example:Thermostat;1",
      "sdfobject-door",
    ]);
    assert.equal(models.get("dtmi:com:example:TemperatureController;1").properties.get("thermostat1__targetTemperature").unit, "Cel");
    assert.deepEqual(logged("ERROR"), []);
    assert.equal(userStatus().fill, "green");
    const r = await exchange("s", "out", { topic: "tc-1/thermostat1__temperature", payload: 21.5 });
    assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
  });

  it("passes over node_modules and says in one line how many more files were left out after twenty", async function () {
    const bad = Object.fromEntries(Array.from({ length: 23 }, (_, i) => [`bad/b${String(i).padStart(2, "0")}.json`, "{"]));
    files({ ...bad, "node_modules/some-package/package.json": { name: "some-package" } });
    await load(sensorFlow({}));
    const errors = logged("ERROR");
    assert.equal(errors.length, 21, errors.join("\n"));
    assert.match(errors[19], /^model file bad\/b19\.json left out/);
    assert.equal(errors[20], "and 3 more model files left out");
    assert.doesNotMatch(errors.join("\n"), /package\.json/);
    assert.equal(userStatus().text, "0 twins, 23 model file(s) left out");
  });

  it("leaves out a bad file, naming it and why in the log and on the nodes that use the registry, and loads the rest", async function () {
    files({
      "good/lamp.tm.json": { "@context": [WOT], "@type": "tm:ThingModel", title: "Lamp", properties: { on: { type: "boolean" } } },
      "bad/fan.tm.json": { "@context": [WOT], "@type": "tm:ThingModel", title: "Fan", properties: { rpm: { type: "integer", minimum: 9, maximum: 1 } } },
      "bad/broken.json": "{ \"@context\": ",
    });
    await load(sensorFlow({}));
    assert.deepEqual([...registry().models.keys()], ["Lamp"]);
    const errors = logged("ERROR");
    assert.equal(errors.length, 2, errors.join("\n"));
    assert.match(errors[0], /^model file bad\/broken\.json left out: not valid JSON/);
    assert.match(errors[1], /^model file bad\/fan\.tm\.json left out: model Fan: property "rpm": minimum 9 is greater than maximum 1/);
    assert.deepEqual(userStatus(), { fill: "yellow", shape: "dot", text: "0 twins, 2 model file(s) left out" });
  });

  for (const [what, folder] of [["with ..", "../outside"], ["absolute", "/etc"], ["the user directory itself", "models/.."]]) {
    it(`refuses a models folder that is not a folder inside the user directory (${what}), saying so`, async function () {
      await load(sensorFlow({ modelsFolder: folder }));
      assert.throws(() => registry(), { code: "store-unavailable" });
      assert.match(logged("ERROR").join("\n"), /models folder ".*" is not a folder inside Node-RED's user directory/);
    });
  }

  it("refuses a models folder that leads out of the user directory through a link", async function () {
    const outside = fs.mkdtempSync(path.join(require("os").tmpdir(), "twinwire-outside-"));
    try {
      fs.writeFileSync(path.join(outside, "secret.json"), JSON.stringify({ Lamp: { properties: {} } }));
      fs.symlinkSync(outside, path.join(userDir, "models"));
      await load(sensorFlow({}));
      assert.throws(() => registry(), { code: "store-unavailable" });
      assert.match(logged("ERROR").join("\n"), /models folder "models" is not a folder inside Node-RED's user directory/);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it("warns once, at load, about a unit it does not know, and keeps every reading in that unit", async function () {
    files({ "scale.td.json": { "@context": [WOT], title: "Scale", properties: { load: { type: "number", unit: "planks" }, mass: { type: "number", unit: "kg" } } } });
    await load(sensorFlow({}, "Scale"));
    const warning = 'model Scale, property load: unit "planks" is not one Twinwire knows; readings are kept in it as they come, and none can be converted into it';
    assert.deepEqual(logged("WARN"), [warning]);
    for (const value of [3, 4, 5]) {
      const r = await exchange("s", "out", { topic: "scale-1/load", payload: value });
      assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
    }
    assert.equal(registry().get("scale-1").reported.load, 5);
    assert.deepEqual(logged("WARN"), [warning], "no warning per reading");
  });

  it("loads a Thing Model whose base is not in the folder as incomplete, warning once with the link and the file to add, and a reading the base would hold names the link", async function () {
    files({ "tm/extends-basic.tm.jsonld": fs.readFileSync(path.join(FIXTURES, "thingweb-extends-basic.tm.jsonld"), "utf8") });
    await load(sensorFlow({}, "Smart Lamp Control with Dimming"));
    const base = "https://raw.githubusercontent.com/eclipse-thingweb/playground/master/examples/tm/1-basic/basic-on-off-tm.tm.jsonld";
    assert.deepEqual(logged("WARN"), [
      `model Smart Lamp Control with Dimming is incomplete, it links to Thing Models this registry was not given: tm:extends "${base}". ` +
        "Its own properties are checked as usual; a reading of any other is refused. Put those Thing Models (basic-on-off-tm) in the Models folder or the Models array and deploy again",
    ]);
    assert.deepEqual(userStatus(), { fill: "green", shape: "dot", text: "0 twins" }, "nothing was left out");
    const ok = await exchange("s", "out", { topic: "lamp-1/dim", payload: 40 });
    assert.equal(ok.kind, "ok", ok.msg.error && ok.msg.error.message);
    const refused = await exchange("s", "out", { topic: "lamp-1/onOff", payload: true });
    assert.equal(refused.kind, "error");
    assert.equal(refused.msg.error.message,
      `Error: twin lamp-1: property onOff is not in model Smart Lamp Control with Dimming, which is incomplete: tm:extends "${base}" is not loaded (put that Thing Model in the registry's Models folder or Models array)`);
    assert.equal(logged("WARN").length, 1, "no warning per reading");
  });
});
