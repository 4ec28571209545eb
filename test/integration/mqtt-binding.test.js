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
  ];
}

describe("sensor binding over MQTT in a real Node-RED", function () {
  this.timeout(60000);
  let broker;
  let nr;
  let client;

  before(async function () {
    broker = await h.startBroker();
    nr = await h.startNodeRed({ flows: flows(broker.port) });
    client = mqtt.connect(broker.url, { clientId: "test-device" });
    await new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
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
});
