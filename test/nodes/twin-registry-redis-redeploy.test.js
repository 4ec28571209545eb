"use strict";
// Redeploying a flow with a registry on Redis leaves nothing behind: after five full deploys the
// connections redis-server counts, this process's open handles and the twin-redis node's
// clients are what they were after the first (each deploy closes the store's connections,
// timers and the shared client it used).
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, exchange, waitFor } = require("./support");
const { startRedis, requireRedis } = require("../support/redis-server");
const Redis = require("ioredis").default;

const root = path.join(__dirname, "..", "..");
const redisNode = require(path.join(root, "nodes", "twin-redis.js"));
const watchNode = require(path.join(root, "nodes", "twin-watch.js"));

function flow(port, historyLength) {
  return [
    { id: "tab", type: "tab", label: "test" },
    { id: "redis", type: "twin-redis", name: "test redis", topology: "single", host: "127.0.0.1", port, prefix: "twinwire:" },
    { id: "reg", type: "twin-registry", name: "plant", persistence: "redis", redis: "redis", redisName: "plant", redisDurability: "batched", historyLength },
    { id: "t", type: "twin", z: "tab", registry: "reg", operation: "msg", twinId: "", twinIdType: "str", wires: [["out"]] },
    { id: "w", type: "twin-watch", z: "tab", registry: "reg", twinId: "", wires: [["watched"]] },
    { id: "out", type: "helper", z: "tab" },
    { id: "watched", type: "helper", z: "tab" },
    { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["errors"]] },
    { id: "errors", type: "helper", z: "tab" },
  ];
}

async function opened() {
  return waitFor(() => {
    try {
      return helper.getNode("reg").use();
    } catch {
      return null;
    }
  }, "the registry open on Redis", 15000);
}

async function connectedClients(probe) {
  const info = await probe.info("clients");
  return Number(/connected_clients:(\d+)/.exec(info)[1]);
}

describe("twin-registry on Redis, redeployed", function () {
  this.timeout(60000);
  let server = null;
  let probe = null;
  before(function () {
    requireRedis(this);
  });
  beforeEach(async function () {
    server = await startRedis({ appendfsync: "everysec" });
    probe = new Redis(server.port, "127.0.0.1");
    probe.on("error", () => undefined);
    await new Promise((resolve) => helper.startServer(resolve));
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    probe.disconnect();
    await server.stop();
  });

  /** Connections redis-server counts, this process's handles and timers, once closing ones are gone. */
  const measure = async () => ({ redisClients: await connectedClients(probe), resources: process.getActiveResourcesInfo().length });
  async function settledCounts(atMost) {
    let now = await measure();
    const deadline = Date.now() + 5000;
    while ((now.redisClients > atMost.redisClients || now.resources > atMost.resources) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      now = await measure();
    }
    return now;
  }

  it("holds as many Redis connections, handles and timers after five redeploys as after the first deploy", async function () {
    await helper.load([nodes.registry, redisNode, nodes.twin, watchNode, nodes.catch], flow(server.port, 10));
    await opened();
    assert.equal((await exchange("t", "out", { operation: "create", twinId: "pump-1", payload: {} })).kind, "ok");
    const first = await measure();
    const seen = [first];
    for (let i = 1; i <= 5; i++) {
      await helper.setFlows(flow(server.port, 10 + i), "full");
      await opened();
      const r = await exchange("t", "out", { operation: "get", twinId: "pump-1" });
      assert.equal(r.kind, "ok", JSON.stringify(r.msg.error));
      seen.push(await settledCounts(first));
    }
    assert.deepEqual(seen.map((s) => s.redisClients), seen.map(() => first.redisClients), "Redis connections per deploy");
    assert.ok(seen.every((s) => s.resources <= first.resources), `handles and timers per deploy: ${JSON.stringify(seen.map((s) => s.resources))}`);
  });

  it("goes by the same instance name after a redeploy or restart, so it takes back the partitions it led", async function () {
    helper.settings({ userDir: path.join(require("os").tmpdir(), "twinwire-instance-name"), uiPort: 1880 });
    try {
      await helper.load([nodes.registry, redisNode, nodes.twin, watchNode, nodes.catch], flow(server.port, 10));
      const before = (await opened()).store;
      await helper.setFlows(flow(server.port, 11), "full");
      const after = (await opened()).store;
      assert.notEqual(after, before, "a new store after the redeploy");
      assert.equal(after.name, before.name);
      assert.notEqual(after.instance, before.instance, "a new incarnation: the old one's epoch fences it");
      // What the other instances see: one live name, not a new one beside the old heartbeat.
      await after.leases.round();
      assert.deepEqual([...new Set(after.leases.live.map((i) => i.split("#")[0]))], [after.name]);
    } finally {
      helper.settings({});
    }
  });

  it("holds one registry's connections once Redis is back after five redeploys while it was out of reach", async function () {
    const port = server.port;
    await server.stop();
    await helper.load([nodes.registry, redisNode, nodes.twin, watchNode, nodes.catch], flow(port, 10));
    for (let i = 1; i <= 5; i++) await helper.setFlows(flow(port, 10 + i), "full");
    server = await startRedis({ appendfsync: "everysec", port });
    probe.disconnect();
    probe = new Redis(server.port, "127.0.0.1");
    probe.on("error", () => undefined);
    await opened();
    // The probe, the twin-redis node's client and the store's four (write, read, leases, requests).
    assert.equal((await settledCounts({ redisClients: 6, resources: Infinity })).redisClients, 6);
  });

  it("redeploys in seconds while Redis hangs (stopped), and holds one registry's connections once it answers again", async function () {
    await helper.load([nodes.registry, redisNode, nodes.twin, watchNode, nodes.catch], flow(server.port, 10));
    await opened();
    assert.equal((await exchange("t", "out", { operation: "create", twinId: "pump-1", payload: {} })).kind, "ok");
    const before = await measure();
    server.child.kill("SIGSTOP");
    const took = [];
    try {
      // A change Redis never answers is in flight at the redeploy.
      helper.getNode("t").receive({ operation: "update", twinId: "pump-1", payload: { attributes: { site: "plant-1" } } });
      // Applied here, its append sent and never answered.
      await waitFor(() => helper.getNode("reg").use().get("pump-1").attributes.site === "plant-1", "the change applied");
      for (let i = 1; i <= 5; i++) {
        const started = Date.now();
        await helper.setFlows(flow(server.port, 10 + i), "full");
        took.push(Date.now() - started);
      }
    } finally {
      server.child.kill("SIGCONT");
    }
    assert.ok(took.every((ms) => ms < 5000), `deploys took ${took.join(", ")} ms (Node-RED gives up on a close after 15 s)`);
    await opened();
    assert.equal((await settledCounts(before)).redisClients, before.redisClients);
  });
});
