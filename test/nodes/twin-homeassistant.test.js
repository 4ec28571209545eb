"use strict";
// twin-homeassistant in the test helper's Node-RED, on Node-RED's own mqtt-broker config node,
// against a real MQTT broker (aedes, in this process). "Home Assistant" is a plain mqtt.js client
// that reads the retained discovery configs the way HA's MQTT integration does, and sends
// commands the way HA's number/select/switch entities do.
const assert = require("node:assert/strict");
const path = require("path");
const mqtt = require("mqtt");
const { helper, nodes, flow, waitFor } = require("./support");
const { startBroker } = require("../integration/harness");

const haNode = require(path.join(__dirname, "..", "..", "nodes", "twin-homeassistant.js"));
const mqttNodes = require("@node-red/nodes/core/network/10-mqtt.js");

const MODELS = JSON.stringify({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel" },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true },
      mode: { type: "string", enum: ["auto", "manual"], writable: true },
    },
  },
});

/** Home Assistant, as far as MQTT goes: what it receives (retained first), and what it sends. */
async function homeAssistant(port) {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `ha-${Math.random().toString(16).slice(2, 8)}`, reconnectPeriod: 200 });
  await new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
  const inbox = [];
  client.on("message", (topic, payload, packet) => inbox.push({ topic, text: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(["homeassistant/#", "twinwire/#"], { qos: 1 });
  return {
    inbox,
    /** The latest message on a topic. */
    last: (topic) => inbox.filter((m) => m.topic === topic).pop(),
    configs: () => inbox.filter((m) => m.topic.startsWith("homeassistant/") && m.topic.endsWith("/config")),
    send: (topic, payload, retain = false) => client.publishAsync(topic, payload, { qos: 1, retain }),
    end: () => client.endAsync(true),
  };
}

describe("twin-homeassistant node", function () {
  this.timeout(20000);
  let broker;
  let clients = [];
  const ha = async () => {
    const c = await homeAssistant(broker.port);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    broker = await startBroker();
  });
  afterEach(async () => {
    await helper.unload();
    for (const c of clients) await c.end();
    clients = [];
    await broker.close();
  });

  function haFlow(config = {}, brokerId = "b") {
    return [
      ...flow([{ id: "ha", type: "twin-homeassistant", registry: "reg", broker: brokerId, stateInterval: 0, ...config }], { models: MODELS }),
      { id: "b", type: "mqtt-broker", broker: "127.0.0.1", port: String(broker.port), clientid: "", autoConnect: true, usetls: false, protocolVersion: "4", keepalive: "60", cleansession: true },
    ];
  }
  async function load(config, brokerId) {
    await helper.load([nodes.registry, nodes.catch, mqttNodes, haNode], haFlow(config, brokerId));
    const errors = [];
    helper.getNode("errors").on("input", (m) => errors.push(m));
    return { reg: helper.getNode("reg").use(), errors };
  }

  it("leaves a retained discovery config per property on the broker, which HA finds when it starts later", async function () {
    const { reg } = await load();
    reg.create("pump-07", { model: "pump", attributes: { name: "Pump 7" }, reported: { temperature: 61.5 } });
    reg.create("pump-08", { model: "pump" });
    const early = await ha();
    await waitFor(() => early.configs().length === 6, "6 configs");
    // HA starting now gets them from the broker, retained.
    const late = await ha();
    await waitFor(() => late.configs().length === 6 && late.last("twinwire/pump-07/state"), "the retained configs and state");
    for (const m of late.configs()) assert.equal(m.retain, true, m.topic);
    const temperature = JSON.parse(late.last("homeassistant/sensor/twinwire_pump-07/temperature/config").text);
    assert.equal(temperature.unit_of_measurement, "°C");
    assert.equal(temperature.device.name, "Pump 7");
    assert.equal(JSON.parse(late.last("twinwire/pump-07/state").text).temperature, 61.5);
    assert.equal(late.last("twinwire/status").text, "online");
    assert.equal(late.last("twinwire/pump-07/availability").text, "online");
    const rpm = JSON.parse(late.last("homeassistant/number/twinwire_pump-07/rpm/config").text);
    assert.equal(rpm.command_topic, "twinwire/pump-07/set/rpm");
  });

  it("takes HA's commands as desired state; a value the model refuses reaches a Catch node and changes nothing", async function () {
    const { reg, errors } = await load();
    reg.create("pump-07", { model: "pump" });
    const client = await ha();
    await waitFor(() => client.last("homeassistant/select/twinwire_pump-07/mode/config"), "the select's config");
    await client.send("twinwire/pump-07/set/rpm", "1450");
    await client.send("twinwire/pump-07/set/mode", "manual");
    await waitFor(() => reg.get("pump-07").desired.mode === "manual", "the desired mode");
    assert.equal(reg.get("pump-07").desired.rpm, 1450);
    assert.equal(reg.get("pump-07").meta.desired.rpm.by, "homeassistant");
    const version = reg.get("pump-07").version;
    await client.send("twinwire/pump-07/set/rpm", "9000");
    await waitFor(() => errors.length === 1, "the refusal at the catch node");
    assert.equal(errors[0].twinId, "pump-07");
    assert.equal(errors[0].property, "rpm");
    assert.equal(errors[0].error.source.id, "ha");
    assert.equal(reg.get("pump-07").version, version);
    assert.equal(reg.get("pump-07").desired.rpm, 1450);
  });

  it("clears a deleted twin's configs from the broker, so HA removes its device", async function () {
    const { reg } = await load();
    reg.create("pump-07", { model: "pump" });
    const client = await ha();
    await waitFor(() => client.configs().length === 3, "3 configs");
    reg.remove("pump-07");
    await waitFor(() => client.configs().filter((m) => m.text === "").length === 3, "3 empty configs");
    const late = await ha();
    await waitFor(() => late.last("twinwire/status"), "the retained bridge status");
    assert.equal(late.configs().length, 0, "nothing retained for the deleted twin");
  });

  it("clears what the broker kept for a twin deleted while the flow was stopped", async function () {
    const client = await ha();
    // Left behind by an earlier run of this bridge: a config, and the twin's retained state.
    await client.send("homeassistant/sensor/twinwire_ghost/temperature/config", JSON.stringify({ unique_id: "twinwire_ghost-temperature", state_topic: "twinwire/ghost/state" }), true);
    await client.send("twinwire/ghost/state", JSON.stringify({ temperature: 20 }), true);
    const { reg } = await load();
    reg.create("pump-07", { model: "pump" });
    await waitFor(() => client.last("homeassistant/sensor/twinwire_ghost/temperature/config")?.text === "", "the ghost's config cleared");
    await waitFor(() => client.last("twinwire/ghost/state")?.text === "", "the ghost's state cleared");
    const late = await ha();
    await waitFor(() => late.configs().length === 3, "pump-07's configs");
    assert.equal(late.last("homeassistant/sensor/twinwire_ghost/temperature/config"), undefined, "nothing retained for the ghost");
    assert.equal(late.last("twinwire/ghost/state"), undefined);
  });

  it("publishes every config again when HA says it (re)started", async function () {
    const { reg } = await load();
    reg.create("pump-07", { model: "pump" });
    const client = await ha();
    await waitFor(() => client.configs().length === 3, "3 configs");
    const before = client.configs().length;
    await client.send("homeassistant/status", "online");
    await waitFor(() => client.configs().length === before + 3, "3 configs again");
  });

  it("says offline for the bridge when the flow stops", async function () {
    await load();
    const client = await ha();
    await waitFor(() => client.last("twinwire/status")?.text === "online", "online");
    await helper.unload();
    await waitFor(() => client.last("twinwire/status")?.text === "offline", "offline");
  });

  it("without a broker, shows a red status and says what to pick", async function () {
    await helper.load([nodes.registry, nodes.catch, mqttNodes, haNode], haFlow({}, ""));
    // The test helper records every call on the node (sinon spies), including those made at deploy.
    const node = helper.getNode("ha");
    assert.ok(node.error.getCalls().some((c) => String(c.args[0]) === "twin-homeassistant.errors.no-broker"), "the error names the missing broker");
    assert.deepEqual(node.status.lastCall.args[0], { fill: "red", shape: "ring", text: "twin-homeassistant.status.config" });
  });
});
