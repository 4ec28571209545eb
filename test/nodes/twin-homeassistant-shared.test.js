"use strict";
// twin-homeassistant on a registry shared on Redis (docs/redis.md): when one instance's flow stops
// while another instance still serves the registry, Home Assistant must not be told the bridge is
// offline (every entity would turn unavailable while the other instance's bridge goes on); the
// last instance to stop still says it. The other instance is a registry on a RedisStore opened in
// this process on the same server, prefix and name.
const assert = require("node:assert/strict");
const path = require("path");
const mqtt = require("mqtt");
const Redis = require("ioredis").default;
const { helper, nodes, waitFor } = require("./support");
const { startBroker } = require("../integration/harness");
const { startRedis, requireRedis } = require("../support/redis-server");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { RedisStore } = require("../../nodes/lib/core/store/redis-store");

const root = path.join(__dirname, "..", "..");
const haNode = require(path.join(root, "nodes", "twin-homeassistant.js"));
const redisNode = require(path.join(root, "nodes", "twin-redis.js"));
const mqttNodes = require("@node-red/nodes/core/network/10-mqtt.js");

describe("twin-homeassistant node on a registry shared on Redis", function () {
  this.timeout(30000);
  let broker;
  let server;
  let ha;
  let other = null;
  let client = null;
  const leaseMs = process.env.TWINWIRE_REDIS_LEASE_MS;

  before(function () {
    requireRedis(this);
    // Lease rounds every 200 ms, so each instance sees the other soon.
    process.env.TWINWIRE_REDIS_LEASE_MS = "600";
  });
  after(() => {
    if (leaseMs === undefined) delete process.env.TWINWIRE_REDIS_LEASE_MS;
    else process.env.TWINWIRE_REDIS_LEASE_MS = leaseMs;
  });
  beforeEach(async () => {
    broker = await startBroker();
    server = await startRedis();
    ha = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: `ha-${Math.random().toString(16).slice(2, 8)}` });
    await new Promise((resolve, reject) => ha.once("connect", resolve).once("error", reject));
    ha.inbox = [];
    ha.on("message", (topic, payload) => ha.inbox.push({ topic, text: payload.toString() }));
    await ha.subscribeAsync(["twinwire/status", "test/marker"], { qos: 1 });
  });
  afterEach(async () => {
    await helper.unload();
    if (other) await other.close().catch(() => undefined);
    other = null;
    if (client) client.disconnect();
    client = null;
    await ha.endAsync(true);
    await broker.close();
    await server.stop();
  });

  const flow = () => [
    { id: "tab", type: "tab", label: "test" },
    { id: "redis", type: "twin-redis", name: "test redis", topology: "single", host: "127.0.0.1", port: String(server.port), prefix: "twinwire:" },
    { id: "reg", type: "twin-registry", name: "registry", persistence: "redis", redis: "redis", redisDurability: "batched", redisName: "plant", historyLength: 10 },
    { id: "b", type: "mqtt-broker", broker: "127.0.0.1", port: String(broker.port), clientid: "", autoConnect: true, usetls: false, protocolVersion: "4", keepalive: "60", cleansession: true },
    { id: "ha", type: "twin-homeassistant", z: "tab", registry: "reg", broker: "b", stateInterval: 0 },
  ];

  /** The registry of "the other Node-RED": same server, prefix and name. */
  async function otherInstance() {
    client = new Redis(server.port, "127.0.0.1");
    client.on("error", () => undefined);
    const store = new RedisStore({ redis: client, registry: "plant", prefix: "twinwire:", mode: "batched", leaseMs: 600, renewMs: 200, blockMs: 200 });
    other = new TwinRegistry({ historyLength: 10, store });
    await other.openAsync();
    return store;
  }

  /** Stops the flow, then waits for a marker sent after it: whatever the bridge said at close came before. */
  async function stopFlowAndSettle() {
    await helper.unload();
    await ha.publishAsync("test/marker", "after close", { qos: 1 });
    await waitFor(() => ha.inbox.some((m) => m.topic === "test/marker"), "the marker");
  }

  it("leaves the bridge online in Home Assistant when its flow stops while another instance serves the registry", async function () {
    const store = await otherInstance();
    await helper.load([nodes.registry, redisNode, mqttNodes, haNode], flow());
    await waitFor(() => ha.inbox.some((m) => m.topic === "twinwire/status" && m.text === "online"), "the bridge online");
    const node = helper.getNode("reg");
    // Both instances have seen each other in a lease round.
    await waitFor(() => store.peers() === 1 && node.use().store.peers() === 1, "each instance sees the other");
    await stopFlowAndSettle();
    assert.deepEqual(ha.inbox.filter((m) => m.topic === "twinwire/status").map((m) => m.text).filter((t) => t === "offline"), []);
  });

  it("says offline for the bridge when the last instance serving the registry stops", async function () {
    await helper.load([nodes.registry, redisNode, mqttNodes, haNode], flow());
    await waitFor(() => ha.inbox.some((m) => m.topic === "twinwire/status" && m.text === "online"), "the bridge online");
    await waitFor(() => { try { return helper.getNode("reg").use().store.peers() === 0; } catch { return false; } }, "the registry open, alone");
    await stopFlowAndSettle();
    assert.equal(ha.inbox.filter((m) => m.topic === "twinwire/status").pop().text, "offline");
  });
});
