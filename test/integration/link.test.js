"use strict";
// twin-link in a real Node-RED process, against a real broker: the in-process aedes (always)
// and mosquitto (when installed; CI installs it). Devices are plain mqtt.js clients. What a user
// would see: the protocol end to end, a broker killed and restarted in the middle of a stream of
// QoS 1 readings, Node-RED killed while devices keep publishing (persistent session), and, on
// mosquitto, MQTT 5 shared subscriptions splitting the devices between two Node-RED instances.
const assert = require("node:assert/strict");
const net = require("net");
const mqtt = require("mqtt");
const h = require("./harness");
const { startMosquitto, requireMosquitto } = require("../support/mosquitto");

// ---- brokers ---------------------------------------------------------------------------------

async function startAedes(port = 0, persistence) {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker(persistence ? { persistence } : {});
  const server = net.createServer(broker.handle);
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  return {
    broker,
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy(); // no DISCONNECT: as if the broker died
        broker.close(() => server.close(() => resolve()));
      }),
  };
}

/** aedes in this process; a restart keeps its sessions and queues (the same persistence). */
async function aedesBroker() {
  /** Client ids in the order their SUBSCRIBEs came, across restarts. */
  const subscribes = [];
  const watch = (b) => b.broker.on("subscribe", (_subs, client) => subscribes.push(client.id));
  let current = await startAedes();
  watch(current);
  const port = current.port;
  return {
    kind: "aedes",
    protocol: "4", // aedes speaks MQTT 3.1.1
    url: `mqtt://127.0.0.1:${port}`,
    kill: () => current.close(),
    async start() {
      current = await startAedes(port, current.broker.persistence);
      watch(current);
    },
    mark: () => subscribes.length,
    /** Resolves once `clientId` subscribed after mark `since`. */
    subscribed: (clientId, since, timeout) => h.waitFor(() => subscribes.slice(since).includes(clientId), timeout),
    close: () => current.close(),
  };
}

/** mosquitto with persistence (sessions saved every second), so a kill and a start keep them. */
async function mosquittoBroker() {
  const broker = await startMosquitto({ persistence: true, maxInflight: 100 });
  return { ...broker, kind: "mosquitto", protocol: "5", mark: () => broker.logs().length, close: () => broker.stop() };
}

// ---- flows and devices -----------------------------------------------------------------------

function linkFlows({ url, protocol, clientId, root = "twins", group = "" }) {
  return [
    { id: "tab1", type: "tab", label: "link" },
    { id: "reg1", type: "twin-registry", name: "plant", persistence: "strict", historyLength: "2000", staleness: "0", maxDocumentKb: "64", models: "" },
    { id: "b1", type: "twin-link-broker", name: "broker", url, clientId, protocol, keepalive: "10", sessionExpiry: "1", queueLimit: "10000" },
    { id: "link1", type: "twin-link", z: "tab1", name: "", registry: "reg1", broker: "b1", root, group, qos: "1", unknown: "create", model: "", state: "document", stateInterval: "200", replies: "all", x: 200, y: 100, wires: [[]] },
    // Desired state from an HTTP call: no wiring to the device, the link sends the delta.
    { id: "httpin1", type: "http in", z: "tab1", url: "/desired", method: "post", upload: false, x: 100, y: 200, wires: [["prep1", "ok1"]] },
    { id: "prep1", type: "change", z: "tab1", rules: [{ t: "set", p: "twinId", pt: "msg", to: "payload.twinId", tot: "msg" }, { t: "set", p: "payload", pt: "msg", to: "{\"desired\": payload.desired}", tot: "jsonata" }, { t: "delete", p: "res", pt: "msg" }], x: 300, y: 200, wires: [["twin1"]] },
    { id: "twin1", type: "twin", z: "tab1", registry: "reg1", operation: "upsert", twinId: "", twinIdType: "str", model: "", x: 500, y: 200, wires: [[]] },
    { id: "ok1", type: "http response", z: "tab1", statusCode: "202", x: 300, y: 250, wires: [] },
  ];
}

async function device(url, clientId) {
  const client = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 100, connectTimeout: 2000 });
  await new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
  const inbox = [];
  client.on("message", (topic, payload, packet) => inbox.push({ topic, text: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync("twins/#", { qos: 1 });
  return {
    client,
    inbox,
    mark: () => inbox.length,
    publish: (topic, body, opts = {}) => client.publishAsync(topic, typeof body === "string" ? body : JSON.stringify(body), { qos: 1, ...opts }),
    async next(topic, since = 0, timeout = 10000) {
      const m = await h.waitFor(() => inbox.slice(since).find((x) => x.topic === topic), timeout);
      return m.text === "" ? "" : JSON.parse(m.text);
    },
  };
}

/** Values of a property's history, as the admin API gives them. */
async function history(nr, twinId, property) {
  const r = await h.request(nr.url, { path: `/twins/plant/${twinId}/history/${property}?limit=5000` });
  return r.status === 200 ? r.body.map((p) => p.value) : [];
}

const twin = (nr, id) => h.request(nr.url, { path: `/twins/plant/${id}` });

/** Polls until the link answers a get: Node-RED is up, connected and subscribed. */
async function linkReady(dev, timeout = 20000) {
  await h.waitFor(async () => {
    const since = dev.mark();
    await dev.publish("twins/probe/get", "");
    return h.waitFor(() => dev.inbox.slice(since).some((m) => m.topic === "twins/probe/get/rejected"), 300).catch(() => false);
  }, timeout);
}

/**
 * Polls `done` until it holds, for as long as `progress` (a number) keeps changing: resolves
 * null when done, or {progress} once progress stood still for `stillMs`.
 */
async function untilStill(done, progress, stillMs) {
  let last;
  let since = Date.now();
  for (;;) {
    if (await done()) return null;
    const now = await progress().catch(() => last);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since > stillMs) {
      return { progress: now };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---- the scenarios, for each broker ------------------------------------------------------------

for (const kind of ["aedes", "mosquitto"]) {
  describe(`twin-link in a real Node-RED, broker: ${kind}`, function () {
    this.timeout(90000);
    let broker;
    let nr;
    let dev;
    const extra = [];
    const linkId = `it-link-${kind}-${process.pid}`;

    before(async function () {
      if (kind === "mosquitto" && !requireMosquitto(this)) return;
      broker = kind === "aedes" ? await aedesBroker() : await mosquittoBroker();
      nr = await h.startNodeRed({ flows: linkFlows({ url: broker.url, protocol: broker.protocol, clientId: linkId }) });
      dev = await device(broker.url, `it-device-${kind}-${process.pid}`);
      await linkReady(dev);
    });
    afterEach(function () {
      h.printLogsIfFailed(this.currentTest, nr, ...extra);
      if (this.currentTest.state === "failed" && broker && broker.logs) console.error(`--- mosquitto ---\n${broker.logs()}--- end ---`);
    });
    after(async function () {
      if (dev) await dev.client.endAsync(true);
      await h.stopAll();
      if (broker) await broker.close();
    });

    it("speaks the whole device protocol", async function () {
      let since = dev.mark();
      await dev.publish("twins/thermo-1/reported", { temperature: 19.5, setpoint: 18, clientToken: "r1" });
      const ack = await dev.next("twins/thermo-1/reported/accepted", since);
      assert.deepEqual([ack.version, ack.clientToken], [1, "r1"]);
      let doc = (await twin(nr, "thermo-1")).body;
      assert.deepEqual(doc.reported, { temperature: 19.5, setpoint: 18 });
      assert.equal(doc.connectivity.online, true);

      since = dev.mark();
      await dev.publish("twins/thermo-1/reported", "{not json");
      assert.equal((await dev.next("twins/thermo-1/reported/rejected", since)).code, "invalid-reading");
      since = dev.mark();
      await dev.publish("twins/thermo-1/reported", { temperature: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } }, clientToken: "deep" });
      const nack = await dev.next("twins/thermo-1/reported/rejected", since);
      assert.deepEqual([nack.code, nack.clientToken], ["too-deep", "deep"]);
      assert.match(nack.message, /thermo-1.*temperature.*deeper than 6 levels/, "the reason in words, from the catalog");

      await dev.publish("twins/thermo-1/get", { clientToken: "g" });
      const got = await dev.next("twins/thermo-1/get/accepted", since);
      assert.deepEqual([got.id, got.version, got.clientToken], ["thermo-1", 1, "g"]);

      // Desired state set in the flow reaches the device as a delta, with no wiring to MQTT.
      since = dev.mark();
      const r = await h.request(nr.url, { method: "POST", path: "/api/desired", body: { twinId: "thermo-1", desired: { setpoint: 21 } } });
      assert.equal(r.status, 202);
      assert.deepEqual((await dev.next("twins/thermo-1/delta", since)).state, { setpoint: 21 });
      await dev.publish("twins/thermo-1/reported", { setpoint: 21 });
      await h.waitFor(async () => Object.keys((await twin(nr, "thermo-1")).body.delta).length === 0);

      // The device reconnects (its last will said offline, now online): it gets the delta again.
      since = dev.mark();
      await h.request(nr.url, { method: "POST", path: "/api/desired", body: { twinId: "thermo-1", desired: { setpoint: 22 } } });
      await dev.next("twins/thermo-1/delta", since);
      since = dev.mark();
      await dev.publish("twins/thermo-1/status", "offline", { retain: true });
      await dev.publish("twins/thermo-1/status", "online", { retain: true });
      assert.deepEqual((await dev.next("twins/thermo-1/delta", since)).state, { setpoint: 22 });

      // Anyone on the broker sees the twin's state, retained: once a state with setpoint 22 has
      // gone out (dev sees it too; the state interval is 200 ms), the broker holds it or a later one.
      await h.waitFor(() => dev.inbox.some((m) => m.topic === "twins/thermo-1/state" && m.text && JSON.parse(m.text).desired.setpoint === 22), 15000);
      const watcher = await device(broker.url, `it-watcher-${kind}-${process.pid}`);
      try {
        // The broker hands the retained state to a new subscriber; a live one the link publishes
        // at that moment may arrive first, so look for the retained one, not the first one.
        const retained = await h.waitFor(() => watcher.inbox.find((m) => m.topic === "twins/thermo-1/state" && m.retain === true), 15000);
        const state = JSON.parse(retained.text);
        assert.equal(state.id, "thermo-1");
        assert.equal(state.desired.setpoint, 22);
      } finally {
        await watcher.client.endAsync(true);
        await dev.publish("twins/thermo-1/status", "", { retain: true });
      }
    });

    it("reconnects after the broker is killed and restarted, and every reading published after it came back arrives", async function () {
      let seq = 0;
      let firstAfter = null;
      const send = () => dev.client.publish("twins/stream-1/reported", JSON.stringify({ seq: seq++ }), { qos: 1 });
      const timer = setInterval(send, 20);
      try {
        await h.waitFor(async () => (await history(nr, "stream-1", "seq")).length >= 20, 15000);
        if (broker.saved) await broker.saved();
        await broker.kill();
        const since = broker.mark();
        // A lower bound, not a wait: the broker stays down at least this long while the device
        // goes on publishing (into its own queue).
        await new Promise((r) => setTimeout(r, 1500));
        await broker.start();
        firstAfter = seq;
        // The stream goes on until the link is back (the broker has its subscription again; not
        // the link's log line, which a reconnect no error came before does not write) and a real
        // stream (more than 100 readings) was published since: counted, not timed.
        await broker.subscribed(linkId, since, 20000);
        await h.waitFor(() => seq - firstAfter > 100, 20000);
      } finally {
        clearInterval(timer);
      }
      const last = seq - 1;
      const missing = async () => {
        const v = new Set(await history(nr, "stream-1", "seq"));
        const out = [];
        for (let i = firstAfter; i <= last; i++) if (!v.has(i)) out.push(i);
        return out;
      };
      // The link first works through what the broker kept for its session: one fsync per
      // acknowledged reading (strict), which a loaded machine makes slow, not stuck. So the wait
      // lasts as long as the twin's version keeps moving, and fails once it stood still 15 s,
      // saying what the device's client (mqtt.js's own fields) still holds.
      const stalled = await untilStill(
        async () => (await missing()).length === 0,
        async () => (await twin(nr, "stream-1")).body.version,
        15000,
      );
      if (stalled) {
        const left = await missing();
        const device = { connected: dev.client.connected, replaying: dev.client._storeProcessing, waiting: dev.client._storeProcessingQueue.length, offline: dev.client.queue.length, unacknowledged: Object.keys(dev.client.outgoing).length };
        assert.fail(`no reading arrived for 15 s; missing ${left.length} of ${firstAfter}..${last} (${left.slice(0, 20).join(", ")}${left.length > 20 ? "..." : ""}); twin version ${stalled.progress}; the device's client: ${JSON.stringify(device)}`);
      }
      assert.ok(last - firstAfter > 50, `a real stream after the restart (${last - firstAfter + 1} readings)`);
    });

    it("gets the readings devices published while Node-RED was down (persistent session)", async function () {
      await linkReady(dev);
      await nr.kill("SIGKILL"); // a restart without warning
      for (let i = 0; i < 30; i++) await dev.publish("twins/restart-1/reported", { seq: 1000 + i });
      nr = await h.startNodeRed({ userDir: nr.userDir });
      const values = await h.waitFor(async () => {
        const v = await history(nr, "restart-1", "seq");
        return v.length >= 30 && v;
      }, 30000);
      for (let i = 0; i < 30; i++) assert.ok(values.includes(1000 + i), `reading ${1000 + i}`);
      assert.equal((await twin(nr, "restart-1")).body.reported.seq, 1029, "in order: the last one published is the current one");
    });

    if (kind === "mosquitto") {
      it("splits devices between two Node-RED instances with an MQTT 5 shared subscription; both publish retained state", async function () {
        const flows = (name) => linkFlows({ url: broker.url, protocol: "5", clientId: `it-shared-${name}-${process.pid}`, root: "fleet", group: "twinwire" });
        const [a, b] = await Promise.all([h.startNodeRed({ flows: flows("a") }), h.startNodeRed({ flows: flows("b") })]);
        extra.push(a, b);
        const states = new Set();
        const watcher = mqtt.connect(broker.url, { clientId: `it-fleet-watch-${process.pid}` });
        await new Promise((resolve) => watcher.once("connect", resolve));
        watcher.on("message", (topic) => states.add(topic));
        await watcher.subscribeAsync("fleet/+/state", { qos: 1 });
        try {
          // One subscribed: a get for an unknown twin is rejected by one of them.
          await h.waitFor(async () => {
            const since = dev.mark();
            await dev.client.subscribeAsync("fleet/#", { qos: 1 });
            await dev.publish("fleet/probe/get", "");
            return h.waitFor(() => dev.inbox.slice(since).some((m) => m.topic === "fleet/probe/get/rejected"), 300).catch(() => false);
          }, 20000);
          // Both subscribed is what the split needs, and the broker shares a group's messages
          // among the members subscribed when each arrives: devices report (40 at least, more
          // while only one instance is in the group) until both instances hold some.
          const count = async (nr) => (await h.request(nr.url, { path: "/twins/plant" })).body.total || 0;
          let devices = 0;
          const report = async (n) => {
            for (const end = devices + n; devices < end; devices++) await dev.publish(`fleet/d-${devices}/reported`, { value: devices });
          };
          await report(40);
          await h.waitFor(async () => {
            if ((await count(a)) > 0 && (await count(b)) > 0) return true;
            await report(4);
            return false;
          }, 20000, 250);
          await h.waitFor(async () => (await count(a)) + (await count(b)) >= devices, 20000);
          const [na, nb] = [await count(a), await count(b)];
          assert.equal(na + nb, devices, "each reading went to one instance only");
          assert.ok(na > 0 && nb > 0, `both instances took devices (${na} and ${nb})`);
          await h.waitFor(() => states.size >= devices, 15000);
        } finally {
          await watcher.endAsync(true);
          await a.stop();
          await b.stop();
        }
      });
    }
  });
}

// ---- twin-link over Node-RED's own mqtt-broker config node ---------------------------------------

describe("twin-link through an existing mqtt-broker config node (mosquitto)", function () {
  this.timeout(90000);
  let broker;
  let nr;
  let dev;

  before(async function () {
    if (!requireMosquitto(this)) return;
    broker = await mosquittoBroker();
    const port = new URL(broker.url).port;
    const flows = linkFlows({ url: broker.url, protocol: "4", clientId: "unused" })
      .filter((n) => n.type !== "twin-link-broker")
      .map((n) => (n.type === "twin-link" ? { ...n, broker: "", connection: "mqtt-broker", mqttBroker: "mb1" } : n));
    flows.push(
      { id: "mb1", type: "mqtt-broker", name: "plant broker", broker: "127.0.0.1", port, clientid: `it-shared-${process.pid}`, autoConnect: true, usetls: false, protocolVersion: "4", keepalive: "60", cleansession: true },
      // A core mqtt in node on the same config node: one connection serves both.
      { id: "in1", type: "mqtt in", z: "tab1", name: "", topic: "plant/#", qos: "1", datatype: "utf8", broker: "mb1", nl: false, rap: true, rh: 0, inputs: 0, x: 100, y: 300, wires: [["store1"]] },
      { id: "store1", type: "change", z: "tab1", rules: [{ t: "set", p: "seen", pt: "global", to: "payload", tot: "msg" }], x: 300, y: 300, wires: [[]] },
      { id: "seenin", type: "http in", z: "tab1", url: "/seen", method: "get", x: 100, y: 350, wires: [["seenget"]] },
      { id: "seenget", type: "change", z: "tab1", rules: [{ t: "set", p: "payload", pt: "msg", to: "seen", tot: "global" }], x: 300, y: 350, wires: [["seenout"]] },
      { id: "seenout", type: "http response", z: "tab1", x: 500, y: 350, wires: [] },
    );
    nr = await h.startNodeRed({ flows });
    dev = await device(broker.url, `it-device-shared-${process.pid}`);
    await linkReady(dev);
  });
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, nr);
    if (this.currentTest.state === "failed" && broker) console.error(`--- mosquitto ---\n${broker.logs()}--- end ---`);
  });
  after(async function () {
    if (dev) await dev.client.endAsync(true);
    await h.stopAll();
    if (broker) await broker.close();
  });

  it("speaks the device protocol over the flow's mqtt-broker, one connection shared with an mqtt in node", async function () {
    let since = dev.mark();
    await dev.publish("twins/fan-1/reported", { speed: 3, clientToken: "r1" });
    const ack = await dev.next("twins/fan-1/reported/accepted", since);
    assert.deepEqual([ack.version, ack.clientToken], [1, "r1"]);
    assert.deepEqual((await twin(nr, "fan-1")).body.reported, { speed: 3 });

    since = dev.mark();
    assert.equal((await h.request(nr.url, { method: "POST", path: "/api/desired", body: { twinId: "fan-1", desired: { speed: 5 } } })).status, 202);
    assert.deepEqual((await dev.next("twins/fan-1/delta", since)).state, { speed: 5 });
    await h.waitFor(() => dev.inbox.some((m) => m.topic === "twins/fan-1/state" && m.retain === false && m.text && JSON.parse(m.text).desired.speed === 5), 15000);

    await dev.publish("plant/line-1", "hello");
    await h.waitFor(async () => (await h.request(nr.url, { path: "/api/seen" })).text === "hello");
    // mosquitto logs each client that connects: Node-RED opened one connection, the mqtt-broker's.
    const clients = [...broker.logs().matchAll(/New client connected from \S+ as (\S+)/g)].map((m) => m[1]).filter((id) => !id.startsWith("it-device"));
    assert.deepEqual([...new Set(clients)], [`it-shared-${process.pid}`]);
  });
});
