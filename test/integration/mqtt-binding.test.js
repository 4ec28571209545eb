"use strict";
// Sensor binding over a real MQTT broker and a real Node-RED: a device publishes, the twin
// shows it through the admin API, and it survives a restart.
const assert = require("node:assert/strict");
const mqtt = require("mqtt");
const h = require("./harness");

function flows(brokerPort) {
  return [
    { id: "tab1", type: "tab", label: "binding" },
    { id: "reg1", type: "twin-registry", name: "plant", persistence: "strict", historyLength: "50", staleness: "2", maxDocumentKb: "64",
      models: JSON.stringify({ pump: { properties: { temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 }, rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true } } } }) },
    { id: "broker1", type: "mqtt-broker", name: "local", broker: "127.0.0.1", port: String(brokerPort), clientid: "", autoConnect: true, usetls: false, protocolVersion: "4", keepalive: "60", cleansession: true },
    { id: "in1", type: "mqtt in", z: "tab1", name: "", topic: "plant/+/+/+", qos: "1", datatype: "auto-detect", broker: "broker1", nl: false, rap: true, rh: 0, inputs: 0, x: 100, y: 100, wires: [["sensor1"]] },
    { id: "sensor1", type: "twin-sensor", z: "tab1", registry: "reg1", pattern: "plant/{site}/{twin}/{property}", unknown: "create", model: "pump", value: "payload", valueType: "msg", x: 300, y: 100, wires: [[]] },
    // Desired state over HTTP -> twin-mirror -> MQTT to the device.
    { id: "httpin1", type: "http in", z: "tab1", url: "/desired", method: "post", upload: false, x: 100, y: 200, wires: [["prep1", "ok1"]] },
    { id: "prep1", type: "change", z: "tab1", rules: [{ t: "set", p: "twinId", pt: "msg", to: "payload.twinId", tot: "msg" }, { t: "set", p: "payload", pt: "msg", to: "payload.desired", tot: "msg" }, { t: "delete", p: "res", pt: "msg" }], x: 300, y: 200, wires: [["mirror1"]] },
    { id: "ok1", type: "http response", z: "tab1", statusCode: "202", x: 300, y: 250, wires: [] },
    { id: "mirror1", type: "twin-mirror", z: "tab1", registry: "reg1", twinId: "", twinIdType: "str", scope: "all", pattern: "", topic: "devices/{twin}/set", timeout: "30", retries: "2", backoff: "2", clearOnApplied: false, resendOnDeploy: false, x: 500, y: 200, wires: [["out1"], []] },
    { id: "out1", type: "mqtt out", z: "tab1", topic: "", qos: "1", retain: "false", broker: "broker1", x: 700, y: 200, wires: [] },
  ];
}

describe("sensor binding over MQTT in a real Node-RED", function () {
  this.timeout(60000);
  let broker;
  let nr;
  let client;
  const commands = [];

  before(async function () {
    broker = await h.startBroker();
    nr = await h.startNodeRed({ flows: flows(broker.port) });
    client = mqtt.connect(broker.url, { clientId: "test-device" });
    await new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
    await client.subscribeAsync("devices/+/set", { qos: 1 });
    client.on("message", (topic, payload) => commands.push({ topic, payload: JSON.parse(payload.toString()) }));
    // mqtt in subscribes once its broker connection is up.
    await h.waitFor(() => broker.broker.connectedClients >= 2, 10000);
  });
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, nr);
  });
  after(async function () {
    if (client) await client.endAsync();
    await h.stopAll();
    if (broker) await broker.close();
  });

  const publish = (topic, payload) => client.publishAsync(topic, String(payload), { qos: 1 });
  const twin = (id) => h.request(nr.url, { path: `/twins/plant/${id}` });

  it("turns published readings into reported state, visible through the admin API", async function () {
    await h.waitFor(async () => {
      await publish("plant/p1/pump-07/temperature", "61.5");
      return (await twin("pump-07")).status === 200;
    }, 15000);
    await publish("plant/p1/pump-07/rpm", "1480");
    const doc = await h.waitFor(async () => {
      const r = await twin("pump-07");
      return r.body.reported && r.body.reported.rpm === 1480 && r.body;
    });
    assert.equal(doc.model, "pump");
    assert.equal(doc.reported.temperature, 61.5);
    assert.equal(doc.meta.reported.rpm.source, "plant/p1/pump-07/rpm");
    assert.equal(doc.connectivity.online, true);
  });

  it("refuses an out-of-range reading without touching the twin, and keeps running", async function () {
    const before = (await twin("pump-07")).body;
    await publish("plant/p1/pump-07/temperature", "999");
    await publish("plant/p1/pump-07/temperature", "{broken json");
    await publish("plant/p1/pump-07/temperature", "62");
    const after = await h.waitFor(async () => {
      const r = await twin("pump-07");
      return r.body.reported.temperature === 62 && r.body;
    });
    assert.equal(after.version, before.version + 1, "only the valid reading made a version");
  });

  it("marks a twin offline after the staleness timeout and online on the next reading", async function () {
    await h.waitFor(async () => (await twin("pump-07")).body.connectivity.online === false, 10000);
    await publish("plant/p1/pump-07/temperature", "63");
    await h.waitFor(async () => (await twin("pump-07")).body.connectivity.online === true, 10000);
  });

  it("sends desired state to the device over MQTT as a delta", async function () {
    commands.length = 0;
    const r = await h.request(nr.url, { method: "POST", path: "/api/desired", body: { twinId: "pump-07", desired: { rpm: 1500 } } });
    assert.equal(r.status, 202);
    await h.waitFor(() => commands.length > 0, 10000);
    assert.deepEqual(commands[0], { topic: "devices/pump-07/set", payload: { rpm: 1500 } });
    const doc = (await twin("pump-07")).body;
    assert.deepEqual(doc.desired, { rpm: 1500 });
    assert.deepEqual(doc.delta, { rpm: 1500 });
  });

  it("keeps readings and history across a restart", async function () {
    const before = (await twin("pump-07")).body;
    await nr.stop();
    nr = await h.startNodeRed({ userDir: nr.userDir });
    const after = (await twin("pump-07")).body;
    assert.equal(after.version, before.version);
    assert.deepEqual(after.reported, before.reported);
    const history = await h.request(nr.url, { path: "/twins/plant/pump-07/history/temperature" });
    // The first reading may have been published more than once while the flow was starting.
    const values = history.body.map((p) => p.value);
    assert.equal(values[0], 61.5);
    assert.deepEqual(values.slice(-2), [62, 63]);
  });

  it("keeps desired state and the pending delta across a restart, and resends it when the device is back", async function () {
    const doc = (await twin("pump-07")).body;
    assert.deepEqual(doc.delta, { rpm: 1500 });
    await h.waitFor(async () => (await twin("pump-07")).body.connectivity.online === false, 10000);
    commands.length = 0;
    await publish("plant/p1/pump-07/temperature", "64");
    await h.waitFor(() => commands.length > 0, 10000);
    assert.deepEqual(commands[0], { topic: "devices/pump-07/set", payload: { rpm: 1500 } });
    await publish("plant/p1/pump-07/rpm", "1500");
    await h.waitFor(async () => Object.keys((await twin("pump-07")).body.delta).length === 0, 10000);
  });
});
