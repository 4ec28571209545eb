"use strict";
// twin-link in the test helper's Node-RED, against an MQTT broker (aedes) in this process, with a
// "device" that is a plain mqtt.js client: the device protocol end to end, malformed payloads,
// state publishing, and what a technician sees when credentials or TLS are wrong.
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const net = require("net");
const tls = require("tls");
const path = require("path");
const { execFileSync } = require("child_process");
const mqtt = require("mqtt");
const { helper, nodes, waitFor } = require("./support");

const linkNode = require(path.join(__dirname, "..", "..", "nodes", "twin-link.js"));
const tlsNode = require("@node-red/nodes/core/network/05-tls.js");
const mqttNodes = require("@node-red/nodes/core/network/10-mqtt.js");

const PUMP = JSON.stringify({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 5 },
      mode: { type: "string", enum: ["auto", "manual", "off"], writable: true },
      running: { type: "boolean" },
    },
  },
});

// ---- broker and device -----------------------------------------------------------------------

async function startBroker(options = {}) {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker(options.aedes || {});
  const server = options.tls ? tls.createServer(options.tls, broker.handle) : net.createServer(broker.handle);
  const sockets = new Set();
  let connections = 0;
  server.on(options.tls ? "secureConnection" : "connection", (s) => {
    connections++;
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    broker,
    port,
    url: `${options.tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    /** TCP connections accepted so far (a client that connected and left counts too). */
    connections: () => connections,
    /** TCP connections open now. */
    open: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        broker.close(() => server.close(() => resolve()));
      }),
  };
}

/** A device: subscribes to everything under twins/ and keeps what it receives. */
async function device(url, clientId = `dev-${Math.random().toString(16).slice(2, 8)}`) {
  const client = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 200 });
  await new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
  const inbox = [];
  client.on("message", (topic, payload, packet) => inbox.push({ topic, text: payload.toString(), retain: packet.retain, qos: packet.qos }));
  await client.subscribeAsync("twins/#", { qos: 1 });
  return {
    client,
    inbox,
    mark: () => inbox.length,
    publish: (topic, payload, opts = {}) => client.publishAsync(topic, typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload), { qos: 1, ...opts }),
    /** The first message on `topic` received after position `since`, as JSON (or text). */
    async next(topic, since = 0, timeout = 10000) {
      const found = await waitFor(() => inbox.slice(since).find((m) => m.topic === topic), `a message on ${topic}`, timeout);
      try {
        return JSON.parse(found.text);
      } catch {
        return found.text;
      }
    },
    all: (topic, since = 0) => inbox.slice(since).filter((m) => m.topic === topic),
    end: () => client.endAsync(true),
  };
}

const plain = (v) => JSON.parse(JSON.stringify(v));

// ---- flows -----------------------------------------------------------------------------------

let clientSeq = 0;

function linkFlow(url, link = {}, broker = {}, registry = {}) {
  return [
    { id: "tab", type: "tab", label: "link" },
    { id: "reg", type: "twin-registry", name: "plant", persistence: "memory", models: PUMP, ...registry },
    { id: "b", type: "twin-link-broker", url, clientId: `link-test-${process.pid}-${++clientSeq}`, protocol: "4", keepalive: 10, sessionExpiry: 1, queueLimit: 100, ...broker },
    { id: "link", type: "twin-link", z: "tab", registry: "reg", broker: "b", root: "twins", qos: "1", unknown: "create", model: "pump", state: "document", stateInterval: 0, replies: "all", wires: [["rejected"]], ...link },
    { id: "rejected", type: "helper", z: "tab" },
  ];
}

const statuses = [];
const errors = [];
const warnings = [];
const logs = [];
const rejections = [];

async function load(flow, credentials = {}) {
  statuses.length = errors.length = warnings.length = logs.length = rejections.length = 0;
  await helper.load([nodes.registry, linkNode, tlsNode], flow, credentials);
  const link = helper.getNode("link");
  link.on("call:status", (call) => statuses.push(call.args[0]));
  link.on("call:error", (call) => errors.push(String(call.args[0])));
  link.on("call:warn", (call) => warnings.push(String(call.args[0])));
  link.on("call:log", (call) => logs.push(String(call.args[0])));
  // Not the probes of roundTrip: those are the test's, not the device's.
  helper.getNode("rejected").on("input", (msg) => msg.twinId !== "probe" && rejections.push(msg));
  return helper.getNode("reg").use();
}

let probes = 0;

/**
 * A round trip through the link: asks it about twin "probe" (which never exists) and waits for
 * the answer, asking again while the link is not subscribed yet. Also the marker for "nothing
 * more arrives": the link handles requests in order and publishes on one connection, which the
 * broker delivers in order, so whatever the link published before it answered is in dev's inbox
 * once the answer is.
 */
async function roundTrip(dev, timeout = 15000) {
  const asked = new Set();
  const answered = () => dev.all("twins/probe/get/rejected").some((m) => asked.has(JSON.parse(m.text).clientToken));
  const deadline = Date.now() + timeout;
  while (!answered()) {
    if (Date.now() > deadline) throw new Error(`the link did not answer within ${timeout} ms`);
    const token = `probe-${++probes}`;
    asked.add(token);
    await dev.publish("twins/probe/get", { clientToken: token });
    await waitFor(answered, "an answer to a probe", 250).catch(() => {}); // then ask again
  }
}

/** Waits until the link answers: it is connected and subscribed. */
async function ready(dev) {
  await waitFor(() => helper.getNode("link") && statuses.some((s) => s.text === "twin-link.status.connected"), "status connected", 15000);
  await roundTrip(dev);
}

describe("twin-link node", function () {
  this.timeout(20000);
  let broker;
  let dev;

  beforeEach(function (done) {
    helper.startServer(done);
  });

  afterEach(async function () {
    if (dev) await dev.end();
    dev = null;
    await helper.unload();
    await helper.stopServer();
    if (broker) await broker.close();
    broker = null;
    assert.equal({}.polluted, undefined);
  });

  async function setup(link, brokerConfig, registry, credentials) {
    broker = await startBroker();
    const reg = await load(linkFlow(broker.url, link, brokerConfig, registry), credentials);
    dev = await device(broker.url);
    await ready(dev);
    return reg;
  }

  describe("readings", function () {
    it("applies a reading, creates the twin with its model, answers /accepted with the version and the clientToken", async function () {
      const reg = await setup();
      const since = dev.mark();
      await dev.publish("twins/pump-07/reported", { temperature: "61.5", rpm: 1480, clientToken: "t-1" });
      const ack = await dev.next("twins/pump-07/reported/accepted", since);
      assert.deepEqual(Object.keys(ack).sort(), ["clientToken", "ts", "version"]);
      assert.equal(ack.clientToken, "t-1");
      assert.equal(ack.version, 1);
      const doc = reg.get("pump-07");
      assert.equal(doc.model, "pump");
      assert.equal(doc.reported.temperature, 61.5, "text coerced by the model, like twin-sensor");
      assert.equal(doc.reported.rpm, 1480);
      assert.equal(doc.meta.reported.rpm.source, "twins/pump-07/reported");
      assert.equal(doc.connectivity.online, true);
      assert.equal(reg.get("pump-07").reported.clientToken, undefined, "clientToken is not a property");

      const again = dev.mark();
      await dev.publish("twins/pump-07/reported", { temperature: 62, ts: "2020-01-01T00:00:00Z", version: 1 });
      const stale = await dev.next("twins/pump-07/reported/accepted", again);
      assert.deepEqual(stale.stale, ["temperature"], "an older reading is accepted but not applied");
      assert.equal(stale.version, 1);
      assert.equal(reg.get("pump-07").reported.temperature, 61.5);
    });

    it("rejects a reading the model refuses, with the reason and the clientToken; the twin is unchanged", async function () {
      const reg = await setup();
      await dev.publish("twins/pump-07/reported", { temperature: 60 });
      await dev.next("twins/pump-07/reported/accepted");
      const since = dev.mark();
      await dev.publish("twins/pump-07/reported", { temperature: 999, rpm: 1500, clientToken: "abc" });
      const nack = await dev.next("twins/pump-07/reported/rejected", since);
      assert.equal(nack.code, "invalid-value");
      assert.equal(nack.clientToken, "abc");
      assert.match(nack.message, /invalid-value/); // the helper's RED._ gives the catalog key
      assert.equal(typeof nack.ts, "number");
      const doc = reg.get("pump-07");
      assert.equal(doc.version, 1);
      assert.equal(doc.reported.temperature, 60);
      assert.equal(doc.reported.rpm, undefined, "nothing of the reading is applied");
      await waitFor(() => rejections.length === 1, "the rejection at the output");
      assert.equal(rejections[0].topic, "twins/pump-07/reported");
      assert.equal(rejections[0].twinId, "pump-07");
      assert.deepEqual(plain(rejections[0].payload), { topic: "twins/pump-07/reported", twinId: "pump-07", request: "reported", code: "invalid-value", message: nack.message, clientToken: "abc" });
    });

    it("answers every malformed payload on /rejected and keeps running", async function () {
      const reg = await setup({}, {}, { maxDocumentKb: 4 });
      let deep = "1";
      for (let i = 0; i < 1000; i++) deep = `[${deep}]`;
      const cases = [
        ["twins/pump-1/reported", "{broken json", "invalid-reading"],
        ["twins/pump-1/reported", "", "invalid-reading"],
        ["twins/pump-1/reported", "[1,2,3]", "invalid-reading"],
        ["twins/pump-1/reported", '"text"', "invalid-reading"],
        ["twins/pump-1/reported", "42", "invalid-reading"],
        ["twins/pump-1/reported", "null", "invalid-reading"],
        ["twins/pump-1/reported", Buffer.from([0xff, 0xfe, 0x00, 0x01]), "invalid-reading"],
        ["twins/pump-1/reported", JSON.stringify({ temperature: "x".repeat(10000) }), "too-large"],
        ["twins/pump-1/reported", `{"temperature": ${deep}}`, "too-deep"],
        ["twins/pump-1/reported", '{"__proto__": {"polluted": true}}', "forbidden-key"],
        ["twins/pump-1/reported", '{"constructor": 1}', "forbidden-key"],
        ["twins/pump-1/reported", '{"bad name": 1}', "invalid-property"],
        ["twins/pump-1/reported", '{"humidity": 1}', "not-in-model"],
        ["twins/pump-1/reported", '{"running": "maybe"}', "invalid-value"],
        ["twins/pump-1/reported", '{"temperature": 1, "ts": "yesterday"}', "invalid-time"],
        ["twins/pump-1/reported", '{"temperature": 1, "ts": 99999999999999}', "invalid-time"],
        ["twins/pump-1/reported", '{"temperature": 1, "version": "one"}', "invalid-version"],
        ["twins/pump-1/reported", '{"temperature": 1, "clientToken": {"a": 1}}', "invalid-reading"],
        ["twins/pump-1/reported", JSON.stringify({ temperature: 1, clientToken: "x".repeat(65) }), "invalid-reading"],
        ["twins/bad id!/reported", '{"temperature": 1}', "invalid-id"],
        ["twins/__proto__/reported", '{"temperature": 1}', "invalid-id"],
        ["twins/pump-1/get", "not json", "invalid-reading"],
        ["twins/pump-1/get", "[]", "invalid-reading"],
      ];
      for (const [topic, payload, code] of cases) {
        const since = dev.mark();
        await dev.publish(topic, payload);
        const nack = await dev.next(`${topic}/rejected`, since);
        assert.equal(nack.code, code, `${topic} ${String(payload).slice(0, 40)}`);
        // The message is too large, not the twin: "the twin would exceed its size limit" misled.
        if (code === "too-large") assert.equal(nack.message, "twin-registry.errors.payload-too-large");
      }
      assert.equal(reg.has("pump-1"), false, "no malformed reading created the twin");
      assert.equal(reg.has("bad id!"), false);
      assert.equal(rejections.length, cases.length);
      const since = dev.mark();
      await dev.publish("twins/pump-1/reported", { temperature: 20, clientToken: "still-alive" });
      assert.equal((await dev.next("twins/pump-1/reported/accepted", since)).clientToken, "still-alive");
      assert.deepEqual(errors, [], "a bad device payload is the device's problem: /rejected and the output, not the log");
    });

    it("echoes the clientToken of a payload it then rejects", async function () {
      await setup();
      const since = dev.mark();
      await dev.publish("twins/pump-2/reported", { temperature: 1, ts: "never", clientToken: "tok" });
      const nack = await dev.next("twins/pump-2/reported/rejected", since);
      assert.equal(nack.code, "invalid-time");
      assert.equal(nack.clientToken, "tok");
    });

    it("refuses readings of unknown twins when set to reject", async function () {
      const reg = await setup({ unknown: "reject" });
      const since = dev.mark();
      await dev.publish("twins/ghost/reported", { temperature: 20 });
      assert.equal((await dev.next("twins/ghost/reported/rejected", since)).code, "not-found");
      reg.create("ghost", { model: "pump" });
      await dev.publish("twins/ghost/reported", { temperature: 20 });
      assert.equal((await dev.next("twins/ghost/reported/accepted", since)).version, 2);
    });

    it("refuses a reading whose version is not the twin's (optimistic concurrency)", async function () {
      const reg = await setup();
      reg.create("pump-3", { model: "pump", reported: { temperature: 10 } });
      const since = dev.mark();
      await dev.publish("twins/pump-3/reported", { temperature: 11, version: 5, clientToken: "v" });
      const nack = await dev.next("twins/pump-3/reported/rejected", since);
      assert.equal(nack.code, "conflict");
      await dev.publish("twins/pump-3/reported", { temperature: 11, version: 1 });
      assert.equal((await dev.next("twins/pump-3/reported/accepted", since)).version, 2);
    });

    it("ignores retained readings (they would be replayed at every subscribe)", async function () {
      broker = await startBroker();
      dev = await device(broker.url);
      await dev.publish("twins/pump-4/reported", { temperature: 5 }, { retain: true });
      const reg = await load(linkFlow(broker.url));
      await ready(dev);
      await dev.publish("twins/pump-4/get", "");
      await dev.next("twins/pump-4/get/rejected");
      assert.equal(reg.has("pump-4"), false, "the retained reading delivered at subscribe was not applied");
      await dev.publish("twins/pump-4/reported", "", { retain: true }); // clear it
    });

    it("answers /accepted only when asked, with replies set to errors", async function () {
      await setup({ replies: "errors" });
      const since = dev.mark();
      await dev.publish("twins/pump-5/reported", { temperature: 1 });
      await dev.publish("twins/pump-5/reported", { temperature: 2, clientToken: "please" });
      assert.equal((await dev.next("twins/pump-5/reported/accepted", since)).clientToken, "please");
      assert.equal(dev.all("twins/pump-5/reported/accepted", since).length, 1);
      await dev.publish("twins/pump-5/reported", { temperature: 999 });
      assert.equal((await dev.next("twins/pump-5/reported/rejected", since)).code, "invalid-value");
    });

    it("answers a reading at no higher QoS than the device sent it with; deltas keep the link's QoS", async function () {
      const reg = await setup();
      const since = dev.mark();
      await dev.publish("twins/pump-8/reported", { temperature: 1, clientToken: "q0" }, { qos: 0 });
      await dev.next("twins/pump-8/reported/accepted", since);
      await dev.publish("twins/pump-8/reported", { temperature: 2, clientToken: "q1" }, { qos: 1 });
      await dev.publish("twins/pump-8/reported", { temperature: 999, clientToken: "bad0" }, { qos: 0 });
      await dev.next("twins/pump-8/reported/rejected", since);
      reg.setDesired("pump-8", { rpm: 1500 });
      await dev.next("twins/pump-8/delta", since);
      const answers = ["reported/accepted", "reported/rejected", "delta"].map((t) => `twins/pump-8/${t}`);
      const got = dev.inbox.slice(since).filter((m) => answers.includes(m.topic));
      assert.deepEqual(got.map((m) => [m.topic.slice("twins/pump-8/".length), JSON.parse(m.text).clientToken, m.qos]), [
        ["reported/accepted", "q0", 0],
        ["reported/accepted", "q1", 1],
        ["reported/rejected", "bad0", 0],
        ["delta", undefined, 1],
      ]);
    });

    it("treats an empty reading as a sign of life", async function () {
      const reg = await setup();
      reg.create("pump-6", { model: "pump" });
      const since = dev.mark();
      await dev.publish("twins/pump-6/reported", "{}");
      const ack = await dev.next("twins/pump-6/reported/accepted", since);
      assert.equal(ack.version, 1);
      assert.equal(reg.get("pump-6").connectivity.online, true);
    });
  });

  describe("get", function () {
    it("answers with the document and the clientToken, or /rejected", async function () {
      const reg = await setup();
      reg.create("pump-8", { model: "pump", reported: { temperature: 30 }, desired: { rpm: 1000 } });
      const since = dev.mark();
      await dev.publish("twins/pump-8/get", { clientToken: "g1" });
      const doc = await dev.next("twins/pump-8/get/accepted", since);
      assert.equal(doc.id, "pump-8");
      assert.equal(doc.clientToken, "g1");
      assert.deepEqual(doc.reported, { temperature: 30 });
      assert.deepEqual(doc.delta, { rpm: 1000 });
      const again = dev.mark();
      await dev.publish("twins/pump-8/get", "");
      assert.equal((await dev.next("twins/pump-8/get/accepted", again)).clientToken, undefined);
      await dev.publish("twins/nobody/get", { clientToken: "g2" });
      const nack = await dev.next("twins/nobody/get/rejected", since);
      assert.deepEqual([nack.code, nack.clientToken], ["not-found", "g2"]);
    });
  });

  describe("deltas", function () {
    it("sends the whole delta when desired state is written, once per write, and not when the device catches up", async function () {
      const reg = await setup();
      reg.create("pump-9", { model: "pump", reported: { rpm: 1000, mode: "auto" } });
      let since = dev.mark();
      reg.setDesired("pump-9", { rpm: 1500, mode: "manual" });
      const delta = await dev.next("twins/pump-9/delta", since);
      assert.deepEqual(delta.state, { rpm: 1500, mode: "manual" });
      assert.equal(delta.version, 2);
      await roundTrip(dev); // the marker: a second message about this write would be here by now
      assert.equal(dev.all("twins/pump-9/delta", since).length, 1, "desired and delta events of one write give one message");

      since = dev.mark();
      await dev.publish("twins/pump-9/reported", { rpm: 1498 }); // within the tolerance of 5
      await dev.next("twins/pump-9/reported/accepted", since);
      await roundTrip(dev); // the marker: a delta caused by the reading would be here by now
      assert.deepEqual(dev.all("twins/pump-9/delta", since).map((m) => JSON.parse(m.text).state), [], "rpm converged; mode's delta did not grow");
      assert.deepEqual(plain(reg.get("pump-9").delta), { mode: "manual" });

      // The device moves away from desired again: the delta grows, the device is told.
      await dev.publish("twins/pump-9/reported", { rpm: 900 });
      assert.deepEqual((await dev.next("twins/pump-9/delta", since)).state, { rpm: 1500, mode: "manual" });
    });

    it("sends the delta of a twin created with desired state", async function () {
      const reg = await setup();
      const since = dev.mark();
      reg.create("pump-10", { model: "pump", desired: { mode: "off" } });
      assert.deepEqual((await dev.next("twins/pump-10/delta", since)).state, { mode: "off" });
    });

    it("sends the delta again when the device says it is online, and when the twin comes back online", async function () {
      const reg = await setup({}, {}, { staleness: 1 });
      reg.create("pump-11", { model: "pump", reported: { rpm: 0 } });
      reg.setDesired("pump-11", { rpm: 1200 });
      let since = dev.mark();
      await dev.publish("twins/pump-11/status", "online", { retain: true });
      assert.deepEqual((await dev.next("twins/pump-11/delta", since)).state, { rpm: 1200 });
      assert.equal(reg.get("pump-11").connectivity.online, true);

      await waitFor(() => !reg.get("pump-11").connectivity.online, "offline after staleness", 10000);
      since = dev.mark();
      await dev.publish("twins/pump-11/reported", { temperature: 20 });
      assert.deepEqual((await dev.next("twins/pump-11/delta", since)).state, { rpm: 1200 });
      await roundTrip(dev); // the marker: a second delta would be here by now
      assert.equal(dev.all("twins/pump-11/delta", since).length, 1);
      await dev.publish("twins/pump-11/status", "", { retain: true });
    });
  });

  describe("through the flow's mqtt-broker", function () {
    it("logs the client id the mqtt-broker connects with, also when its Client ID is left blank", async function () {
      broker = await startBroker();
      const flow = linkFlow(broker.url, { connection: "mqtt-broker", mqttBroker: "mb", broker: "" }).filter((n) => n.id !== "b");
      flow.push({ id: "mb", type: "mqtt-broker", broker: "127.0.0.1", port: String(broker.port), clientid: "", autoConnect: true, usetls: false, protocolVersion: "4", keepalive: "60", cleansession: true });
      statuses.length = logs.length = 0;
      // The helper's RED._ gives keys back: the log line's parameters are what is checked.
      const withParams = (RED) => {
        const original = RED._;
        RED._ = (key, params) => (key.startsWith("twin-link.log.") ? `${key} ${JSON.stringify(params ?? {})}` : original.call(RED, key, params));
        return linkNode(RED);
      };
      await helper.load([nodes.registry, withParams, mqttNodes], flow);
      helper.getNode("link").on("call:log", (call) => logs.push(String(call.args[0])));
      await waitFor(() => logs.some((l) => l.startsWith("twin-link.log.connected ")), "the connected log line", 15000);
      // "connected to mqtt://127.0.0.1:1883 as " named no client: the one Node-RED made up is named.
      const line = logs.find((l) => l.startsWith("twin-link.log.connected "));
      const clientId = helper.getNode("mb").options.clientId;
      assert.ok(clientId, "the mqtt-broker made up a client id");
      assert.equal(JSON.parse(line.slice("twin-link.log.connected ".length)).clientId, clientId, line);
    });
  });

  describe("status", function () {
    it("online touches the twin; offline, unknown twins and other twins' status are no error; garbage goes to the output", async function () {
      const reg = await setup({}, {}, { staleness: 1 });
      reg.create("pump-12", { model: "pump", reported: { temperature: 1 } });
      await waitFor(() => !reg.get("pump-12").connectivity.online, "offline after staleness", 10000);
      await dev.publish("twins/pump-12/status", "Online");
      await waitFor(() => reg.get("pump-12").connectivity.online, "online again", 10000);
      assert.equal(reg.get("pump-12").version, 1, "a sign of life is no version step");
      await dev.publish("twins/pump-12/status", "offline");
      await dev.publish("twins/stranger/status", "online");
      await dev.publish("twins/pump-12/status", "exploded");
      await waitFor(() => rejections.length === 1, "the rejection at the output");
      assert.equal(rejections[0].payload.request, "status");
      assert.equal(rejections[0].payload.code, "invalid-reading");
      assert.equal(reg.has("stranger"), false);
      assert.equal(dev.all("twins/pump-12/status/rejected").length, 0);
    });
  });

  describe("state", function () {
    it("publishes the retained document, at most once per interval per twin, the last state always", async function () {
      const reg = await setup({ stateInterval: 300 });
      const since = dev.mark();
      for (let i = 0; i < 20; i++) reg.report("pump-13", { temperature: i }, { create: { model: "pump" } });
      await waitFor(() => dev.all("twins/pump-13/state", since).some((m) => JSON.parse(m.text).reported.temperature === 19), "the last state", 10000);
      const states = dev.all("twins/pump-13/state", since);
      assert.ok(states.length <= 3, `${states.length} publishes for 20 changes within 300 ms`);
      assert.equal(JSON.parse(states[0].text).id, "pump-13");

      // A new subscriber (a dashboard, another Node-RED) gets the retained state at once.
      const other = await device(broker.url);
      try {
        const retained = await other.next("twins/pump-13/state");
        assert.equal(retained.reported.temperature, 19);
        assert.equal(other.all("twins/pump-13/state")[0].retain, true);
      } finally {
        await other.end();
      }
      // Deleting the twin clears its retained state.
      reg.remove("pump-13");
      await waitFor(() => dev.all("twins/pump-13/state", since).some((m) => m.text === ""), "an empty retained state", 10000);
    });

    it("publishes reported state only, or nothing, when set so", async function () {
      let reg = await setup({ state: "reported" });
      let since = dev.mark();
      reg.report("pump-14", { temperature: 7 }, { create: { model: "pump" } });
      assert.deepEqual(await dev.next("twins/pump-14/state", since), { temperature: 7 });
      reg.updateAttributes("pump-14", { site: "x" });
      await roundTrip(dev); // the marker: a state the attributes caused would be here by now
      assert.equal(dev.all("twins/pump-14/state", since).length, 1, "attributes are not reported state");
      await dev.end();
      dev = null;
      await helper.unload();
      await broker.close();

      reg = await setup({ state: "off" });
      since = dev.mark();
      reg.report("pump-15", { temperature: 7 }, { create: { model: "pump" } });
      await dev.publish("twins/pump-15/get", "");
      // The marker: the get was asked after the reading, and the link answers on the connection a
      // state would have gone out on, so a state would be here before the answer.
      await dev.next("twins/pump-15/get/accepted", since);
      assert.equal(dev.all("twins/pump-15/state", since).length, 0);
    });

    it("publishes every twin's state when the broker has no session for it, not when the session is resumed", async function () {
      const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-link-"));
      try {
        helper.settings({ userDir });
        broker = await startBroker();
        const flow = linkFlow(broker.url, {}, { clientId: `link-republish-${process.pid}` }, { persistence: "batched" });
        // Twins that exist before the link first connects: a registry restored from disk.
        await helper.load([nodes.registry], flow.filter((n) => n.type === "twin-registry"));
        const reg = helper.getNode("reg").use();
        for (let i = 0; i < 1200; i++) reg.report(`p-${i}`, { temperature: i % 100 }, { create: { model: "pump" } });
        await helper.unload();

        dev = await device(broker.url);
        let since = dev.mark();
        await load(flow);
        await waitFor(() => dev.all("twins/p-1199/state", since).length === 1, "the state of the last twin", 20000);
        const states = dev.inbox.slice(since).filter((m) => /^twins\/p-\d+\/state$/.test(m.topic));
        assert.equal(new Set(states.map((m) => m.topic)).size, 1200);
        await helper.unload();

        since = dev.mark();
        await load(flow);
        await ready(dev);
        // The marker: a republish starts when the link connects, before it subscribes and answers.
        await roundTrip(dev);
        assert.equal(dev.inbox.slice(since).filter((m) => /\/state$/.test(m.topic)).length, 0, "the broker kept the session: its retained states are current");
      } finally {
        helper.settings({});
        fs.rmSync(userDir, { recursive: true, force: true });
      }
    });
  });

  describe("connection", function () {
    it("shows auth failed and logs an error when the broker refuses the credentials, and connects with the right ones", async function () {
      broker = await startBroker({
        aedes: {
          authenticate: (client, username, password, done) => {
            if (username === "link" && password && password.toString() === "secret") return done(null, true);
            const err = new Error("bad user name or password");
            err.returnCode = 4;
            done(err, false);
          },
        },
      });
      await load(linkFlow(broker.url), { b: { user: "link", password: "wrong" } });
      await waitFor(() => statuses.some((s) => s.text === "twin-link.status.auth"), "status auth failed", 15000);
      const status = statuses.find((s) => s.text === "twin-link.status.auth");
      assert.deepEqual([status.fill, status.shape], ["red", "ring"]);
      await waitFor(() => errors.some((e) => /failure\.auth/.test(e)), "an error", 10000);
      // The marker: a third connection is made only once the second was refused and the link
      // handled that refusal (the first retry comes after about 1 s, the second about 2 s later).
      await waitFor(() => broker.connections() >= 3 && broker.open() === 0, "two retries, and the third attempt refused", 20000);
      // The flow is stopped below while the link waits to retry (the next retry is seconds away),
      // not while mqtt.js is still closing the refused attempt: a link closed then keeps retrying
      // for good (mqtt.js with manualConnect clears `disconnecting` when end() completes, and the
      // refused attempt's late "close" sets up a reconnect), which would keep the test run alive.
      // A few turns of the event loop let the refused attempt close on the client's side too.
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      assert.equal(errors.filter((e) => /failure\.auth/.test(e)).length, 1, "said once, not at every retry");
      await helper.unload();

      await load(linkFlow(broker.url), { b: { user: "link", password: "secret" } });
      await waitFor(() => statuses.some((s) => s.text === "twin-link.status.connected"), "connected", 15000);
      assert.deepEqual(errors, []);
    });

    it("logs that it is connected again after the broker closed its connection without an error", async function () {
      await setup();
      const connectedLogs = () => logs.filter((l) => /log\.connected/.test(l)).length;
      await waitFor(() => connectedLogs() === 1, "the first connected log line");
      const linkClient = Object.values(broker.broker.clients).find((c) => c.id.startsWith("link-test-"));
      assert.ok(linkClient, "the link's client at the broker");
      linkClient.close(); // the broker ends the connection: no error reaches the link
      await waitFor(() => connectedLogs() === 2, "a connected log line for the new connection", 15000);
      assert.deepEqual(errors, []);
    });

    it("says session taken over when another client uses the same client id (a second Node-RED with the same flow)", async function () {
      this.timeout(30000);
      broker = await startBroker();
      const flow = linkFlow(broker.url, {}, { clientId: "the-same-id" });
      flow.push({ ...flow.find((n) => n.id === "b"), id: "b2" });
      flow.push({ ...flow.find((n) => n.id === "link"), id: "link2", broker: "b2", root: "other", wires: [[]] });
      await load(flow);
      await waitFor(() => statuses.some((s) => s.text === "twin-link.status.taken-over"), "status session taken over", 25000);
      assert.ok(errors.some((e) => /failure\.taken-over/.test(e)));
    });

    it("keeps every status under 20 characters (the helper shows catalog keys, so the catalog is checked)", function () {
      const catalog = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "locales", "en-US", "twin-link.json"), "utf8"));
      for (const [key, text] of Object.entries(catalog["twin-link"].status)) {
        const shown = text.replace(/__rate__/g, "99999").replace(/__rejected__/g, "9999");
        assert.ok(shown.length < 20, `${key}: "${shown}"`);
      }
    });

    it("keeps credentials out of the flow (credentials, not defaults)", function () {
      const html = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "twin-link.html"), "utf8");
      const defaults = html.slice(html.indexOf('registerType("twin-link-broker"'), html.indexOf("credentials:"));
      assert.doesNotMatch(defaults, /password|user:/);
    });

    it("shows a TLS error when mqtts meets a plain MQTT port", async function () {
      broker = await startBroker();
      await load(linkFlow(`mqtts://127.0.0.1:${broker.port}`));
      await waitFor(() => statuses.some((s) => s.text === "twin-link.status.tls"), "status TLS error", 15000);
      await waitFor(() => errors.some((e) => /failure\.tls/.test(e)), "an error", 10000);
    });

    describe("with a TLS broker", function () {
      let dir;
      before(function () {
        try {
          dir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-tls-"));
          execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore" });
        } catch {
          console.log("      (skipped: openssl is not installed, so no self-signed certificate for the TLS broker)");
          this.skip();
        }
      });
      after(function () {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      });

      it("refuses a server its CA does not know (TLS error), and connects with the right CA in a tls-config node", async function () {
        const key = fs.readFileSync(path.join(dir, "key.pem"));
        const cert = fs.readFileSync(path.join(dir, "cert.pem"));
        broker = await startBroker({ tls: { key, cert } });
        await load(linkFlow(broker.url));
        await waitFor(() => statuses.some((s) => s.text === "twin-link.status.tls"), "status TLS error", 15000);
        assert.ok(errors.some((e) => /failure\.tls/.test(e)));
        await helper.unload();

        const flow = linkFlow(broker.url, {}, { tls: "tls" });
        flow.push({ id: "tls", type: "tls-config", cert: "", key: "", ca: "", certname: "", keyname: "", caname: "ca.pem", servername: "", verifyservercert: true });
        await load(flow, { tls: { cadata: cert.toString() } });
        await waitFor(() => statuses.some((s) => s.text === "twin-link.status.connected"), "connected over TLS", 15000);
        assert.deepEqual(errors, []);
      });
    });

    it("reports configuration problems as a red status and an error, and starts no connection", async function () {
      broker = await startBroker();
      for (const [link, brokerConfig] of [
        [{ root: "twins/+" }, {}],
        [{ root: "$SYS" }, {}],
        [{ root: "a//b" }, {}],
        [{ group: "no/slash" }, {}],
        [{ qos: "3" }, {}],
        [{ model: "boat" }, {}],
        [{}, { url: "http://127.0.0.1:1883" }],
        [{}, { url: "not a url" }],
        [{ broker: "" }, {}],
      ]) {
        await load(linkFlow(broker.url, link, brokerConfig));
        await waitFor(() => statuses.some((s) => s.fill === "red"), `a red status for ${JSON.stringify([link, brokerConfig])}`, 10000);
        assert.equal(errors.length, 1, JSON.stringify([link, brokerConfig]));
        assert.equal(broker.broker.connectedClients, 0, `connected while deployed with ${JSON.stringify([link, brokerConfig])}`);
        await helper.unload();
      }
      // The marker that any connection would have arrived by now: a valid link connects, and is
      // the broker's first connection of this test.
      await load(linkFlow(broker.url));
      await waitFor(() => broker.broker.connectedClients === 1, "the valid link to connect", 10000);
      assert.equal(broker.connections(), 1, "no badly configured link ever opened a connection");
    });
  });
});
