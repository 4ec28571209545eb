"use strict";
// The example flows deployed for real, as `npm start` and Import > Examples deploy them.
const assert = require("node:assert/strict");
const fs = require("fs");
const mqtt = require("mqtt");
const path = require("path");
const h = require("./harness");
const { examplesAsFlows } = require("../../scripts/lib/nodered-runtime");

describe("example files as Import > Examples reads them", function () {
  it("each brings its own tab, named after the example, not a new \"Flow 2\"", function () {
    const dir = path.join(h.repoRoot, "examples");
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const nodes = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
      const tabs = nodes.filter((n) => n.type === "tab");
      assert.deepEqual(tabs.map((t) => t.label), [file.slice(0, -5)], file);
      const elsewhere = nodes.filter((n) => n.type !== "tab" && n.x !== undefined && n.z !== tabs[0].id);
      assert.deepEqual(elsewhere.map((n) => n.id), [], `${file}: every canvas node on its tab`);
    }
  });
});

describe("example flows in a real Node-RED", function () {
  this.timeout(60000);
  let nr;
  let flows;
  let broker;

  before(async function () {
    // The examples that speak MQTT use the broker of `npm start` (127.0.0.1:1883); here they get
    // a broker of their own on a free port.
    broker = await h.startBroker();
    flows = examplesAsFlows();
    for (const n of flows) {
      if (n.type === "mqtt-broker") n.port = String(broker.port);
      if (n.type === "twin-link-broker") n.url = broker.url;
    }
    nr = await h.startNodeRed({ flows });
  });
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, nr);
  });
  after(async function () {
    await h.stopAll();
    if (broker) await broker.close();
  });

  function injectNamed(name) {
    const node = flows.find((n) => n.type === "inject" && n.name === name);
    assert.ok(node, `an inject node named "${name}"`);
    return h.request(nr.url, { method: "POST", path: `/inject/${node.id}` });
  }

  const twin = (id, registry = "basics") => h.request(nr.url, { path: `/twins/${registry}/${id}` });

  it("deploys every example with no node reporting an error", function () {
    const tabs = flows.filter((n) => n.type === "tab").map((n) => n.label);
    assert.ok(tabs.includes("Twin basics"));
    assert.doesNotMatch(nr.logs(), /\[error\]/);
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/);
  });

  it("Twin basics: each inject does what its comment says", async function () {
    assert.equal((await injectNamed("create pump-07")).status, 200);
    let r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.status === 200 && res;
    });
    assert.equal(r.body.version, 1);
    assert.equal(r.body.model, "pump");

    await injectNamed("update attributes");
    r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.body.version === 2 && res;
    });
    assert.deepEqual(r.body.attributes, { site: "plant-1", tags: { line: "A", zone: "north" } });

    await injectNamed("temperature 61.2, desired rpm 1500");
    r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.body.version === 3 && res;
    });
    assert.deepEqual(r.body.reported, { temperature: 61.2, rpm: 1480 });
    assert.deepEqual(r.body.delta, { rpm: 1500 });

    // The refusal goes to the example's catch node (so it is not logged); messages run in order,
    // so once the next inject's effect shows, the refused one has been handled.
    await injectNamed("temperature 500 (refused)");
    await injectNamed("temperature 61.2, desired rpm 1500");
    r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.body.version >= 4 && res;
    });
    assert.equal(r.body.version, 4, "the refused reading made no version");
    assert.equal(r.body.reported.temperature, 61.2);

    await injectNamed("list pumps");
    await injectNamed("delete pump-07");
    await h.waitFor(async () => (await twin("pump-07")).status === 404);
  });

  it("Home sensors: a reading from the living-room inject lands in its twin through twin-sensor", async function () {
    await injectNamed("living-room sensor");
    const doc = await h.waitFor(async () => {
      const res = await twin("living-room", "home");
      return res.status === 200 && res.body;
    });
    assert.equal(doc.model, "room-sensor");
    assert.equal(typeof doc.reported.temperature, "number");
    assert.equal(doc.connectivity.online, true);
  });

  it("Thermostat desired state: the setpoint goes out over MQTT and the twin converges", async function () {
    this.timeout(30000);
    // The twin appears with the simulated thermostat's first report (a second after deploy).
    await h.waitFor(async () => (await twin("thermo-1", "thermostats")).status === 200, 10000);
    await injectNamed("setpoint 21.5");
    const doc = await h.waitFor(async () => {
      const res = await twin("thermo-1", "thermostats");
      return res.status === 200 && res.body.reported.setpoint === 21.5 && res.body;
    }, 20000);
    assert.equal(doc.desired.setpoint, 21.5);
    assert.equal(doc.delta.setpoint, undefined, "nothing left to do for the device");
  });

  it("Simulated pumps: the simulator feeds twins and follows an rpm command through the mirror", async function () {
    this.timeout(30000);
    const pump = await h.waitFor(async () => {
      const res = await twin("pump-01", "simulated");
      return res.status === 200 && res;
    }, 10000);
    assert.equal(typeof pump.body.reported.temperature, "number");
    await injectNamed("pump-01 rpm 1800");
    await h.waitFor(async () => (await twin("pump-01", "simulated")).body.reported.rpm > 1790, 20000);
  });

  it("Fleet overview: pumps get their site attribute and every fleet query answers in the Debug sidebar", async function () {
    this.timeout(30000);
    const pump = await h.waitFor(async () => {
      const res = await twin("pump-05", "fleet");
      return res.status === 200 && res.body.attributes.site && res.body;
    }, 20000);
    assert.match(pump.attributes.site, /^plant-[12]$/);

    // The queries answer in the Debug sidebar, as a user reads them: wait for each one's answer.
    const comms = await h.connectComms(nr.url, undefined, ["debug"]);
    try {
      // Example ids are made unique on import: find the Fleet tab's debug nodes by name.
      const tab = flows.find((n) => n.type === "tab" && n.label === "Fleet overview");
      assert.ok(tab, "a Fleet overview tab");
      const debugId = (name) => {
        const node = flows.find((n) => n.type === "debug" && n.z === tab.id && n.name === name);
        assert.ok(node, `a debug node "${name}" on the Fleet overview tab`);
        return node.id;
      };
      const from = (name) => comms.received.filter((m) => m.topic === "debug" && m.data && m.data.id === debugId(name));
      const answers = ["fleet power (kW)", "pumps online", "mean temperature per site", "hottest pump", "pump-01 an hour ago"];
      await injectNamed("every 10 s");
      await comms.until(() => answers.every((name) => from(name).length > 0), 20000);
      const value = (name) => JSON.parse(from(name)[0].data.msg);
      assert.ok(value("fleet power (kW)") > 0, `fleet power: ${from("fleet power (kW)")[0].data.msg}`);
      assert.ok(Number.isInteger(value("pumps online")) && value("pumps online") >= 1, `pumps online: ${from("pumps online")[0].data.msg}`);
      assert.match(JSON.stringify(value("mean temperature per site")), /plant-[12]/, "mean temperature per site names the sites");
      assert.match(JSON.stringify(value("hottest pump")), /pump-\d\d/, "the hottest pump is a pump");
      assert.deepEqual(from("errors").map((m) => m.data.msg), [], "no query failed");
    } finally {
      comms.ws.close();
    }
  });

  it("Home Assistant: HA finds the house's devices, and a setpoint set in HA reaches the thermostat and comes back", async function () {
    this.timeout(30000);
    const ha = mqtt.connect(broker.url, { reconnectPeriod: 200 });
    const seen = new Map();
    ha.on("message", (topic, payload) => seen.set(topic, payload.toString()));
    try {
      await ha.subscribeAsync(["homeassistant/#", "twinwire/#"], { qos: 1 });
      const setpoint = await h.waitFor(() => seen.get("homeassistant/number/twinwire_thermostat/setpoint/config"), 15000);
      const config = JSON.parse(setpoint);
      assert.equal(config.unit_of_measurement, "°C");
      assert.deepEqual([config.min, config.max], [5, 30]);
      const humidity = JSON.parse(await h.waitFor(() => seen.get("homeassistant/sensor/twinwire_living-room/humidity/config"), 15000));
      assert.deepEqual([humidity.unit_of_measurement, humidity.device_class], ["%", "humidity"]);
      await ha.publishAsync(config.command_topic, "22.5", { qos: 1 });
      const doc = await h.waitFor(async () => {
        const res = await twin("thermostat", "house");
        return res.status === 200 && res.body.reported.setpoint === 22.5 && res.body;
      }, 20000);
      assert.equal(doc.meta.desired.setpoint.by, "homeassistant");
      await h.waitFor(() => JSON.parse(seen.get("twinwire/thermostat/state") || "{}").setpoint === 22.5, 15000);
    } finally {
      await ha.endAsync(true);
    }
  });

  it("MQTT device link: the simulated device gets the LED delta over MQTT and reports it back", async function () {
    this.timeout(30000);
    await h.waitFor(async () => (await twin("esp32-sim", "devices")).status === 200, 15000);
    await injectNamed("esp32-sim: LED on");
    const doc = await h.waitFor(async () => {
      const res = await twin("esp32-sim", "devices");
      return res.body.reported.led === true && Object.keys(res.body.delta).length === 0 && res.body;
    }, 20000);
    assert.equal(doc.desired.led, true);
  });

  it("MQTT device link with examples/device-client.js: its twin appears, the LED delta reaches it and comes back, Ctrl-C takes it offline", async function () {
    this.timeout(45000);
    const { spawn } = require("child_process");
    const path = require("path");
    const device = spawn(process.execPath, [path.join(h.repoRoot, "examples", "device-client.js"), "esp32-01"], {
      // As the README says: the same MQTT_PORT as npm start.
      env: { ...process.env, MQTT_URL: "", MQTT_PORT: new URL(broker.url).port },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let said = "";
    device.stdout.on("data", (c) => (said += c));
    device.stderr.on("data", (c) => (said += c));
    try {
      const first = await h.waitFor(async () => {
        const res = await twin("esp32-01", "devices");
        return res.status === 200 && typeof res.body.reported.temperature === "number" && res.body;
      }, 20000);
      assert.equal(first.connectivity.online, true);
      assert.match(said, /esp32-01: connected to mqtt:\/\/127\.0\.0\.1/);
      await injectNamed("esp32-01: LED on");
      const on = await h.waitFor(async () => {
        const res = await twin("esp32-01", "devices");
        return res.body.reported.led === true && Object.keys(res.body.delta).length === 0 && res.body;
      }, 20000);
      assert.equal(on.desired.led, true);
      await h.waitFor(() => /esp32-01: LED on/.test(said) && /reading r\d+ accepted, twin version \d+/.test(said), 10000);
      device.kill("SIGINT");
      await h.waitFor(async () => (await twin("esp32-01", "devices")).body.connectivity.online === false, 15000);
    } catch (err) {
      err.message += `\n--- device-client.js said ---\n${said}`;
      throw err;
    } finally {
      if (device.exitCode === null) device.kill("SIGKILL");
    }
  });

  it("Pump predictive maintenance: readings get predictions written to the twin", async function () {
    this.timeout(30000);
    const doc = await h.waitFor(async () => {
      const res = await h.request(nr.url, { path: "/twins" });
      const reg = res.body.find((r) => r.count > 0 && /pump|predict/i.test(r.name));
      if (!reg) return false;
      const list = await h.request(nr.url, { path: `/twins/${reg.id}?limit=1` });
      const first = list.body.twins[0];
      if (!first) return false;
      const twinDoc = (await h.request(nr.url, { path: `/twins/${reg.id}/${first.id}` })).body;
      return Object.keys(twinDoc.predictions).length > 0 && twinDoc;
    }, 20000);
    const prediction = Object.values(doc.predictions)[0];
    for (const key of ["method", "forecast", "lower", "upper", "trend", "score", "anomaly", "ts"]) assert.ok(key in prediction, key);
  });
});

