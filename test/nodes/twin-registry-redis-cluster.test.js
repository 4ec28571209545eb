"use strict";
// A twin-registry on a twin-redis config node of topology "cluster", against a real Redis Cluster
// of three nodes (test/support/redis-cluster.js; skipped, saying so, without redis-server):
// the registry opens (it was refused before), and two registries of one name share their twins.
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, exchange, waitFor } = require("./support");
const { startRedisCluster, requireRedisCluster } = require("../support/redis-cluster");
const { ledBy, split } = require("../core/redis-support");

const redisNode = require(path.join(__dirname, "..", "..", "nodes", "twin-redis.js"));

function clusterFlow(startupNodes) {
  const out = [
    { id: "tab", type: "tab", label: "test" },
    { id: "redis", type: "twin-redis", name: "test cluster", topology: "cluster", nodes: startupNodes, prefix: "twinwire:" },
  ];
  for (const id of ["a", "b"]) {
    out.push({ id, type: "twin-registry", name: `registry ${id}`, persistence: "redis", redis: "redis", redisName: "plant", redisDurability: "strict", historyLength: 10 });
    out.push({ id: `t-${id}`, type: "twin", z: "tab", registry: id, operation: "msg", twinId: "", twinIdType: "str", wires: [[`out-${id}`]] });
    out.push({ id: `out-${id}`, type: "helper", z: "tab" });
  }
  out.push({ id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["errors"]] });
  out.push({ id: "errors", type: "helper", z: "tab" });
  return out;
}

async function opened(registryId) {
  return waitFor(() => {
    try {
      return helper.getNode(registryId).use();
    } catch {
      return null;
    }
  }, `registry ${registryId} open on the Redis Cluster`, 15000);
}

describe("twin-registry on a Redis Cluster (twin-redis topology cluster)", function () {
  this.timeout(30000);
  let cluster = null;
  before(function () {
    requireRedisCluster(this);
    process.env.TWINWIRE_REDIS_LEASE_MS = "1500";
  });
  after(function () {
    delete process.env.TWINWIRE_REDIS_LEASE_MS;
  });
  beforeEach(async function () {
    cluster = await startRedisCluster({ nodes: 3 });
    await new Promise((resolve) => helper.startServer(resolve));
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    await cluster?.stop();
  });

  it("opens two registries of one name on the Cluster, and a twin created through either is read through the other", async function () {
    await helper.load([nodes.registry, redisNode, nodes.twin, nodes.catch], clusterFlow(cluster.nodes));
    const a = await opened("a");
    const b = await opened("b");
    // Each writes the twins whose partition it leads (a change elsewhere goes through submit, not this test's subject).
    await split({ store: a.store }, { store: b.store });
    const fromA = ledBy(a.store, b.store, "pump");
    const fromB = ledBy(b.store, a.store, "valve");
    const created = await exchange("t-a", "out-a", { operation: "create", twinId: fromA, payload: { attributes: { site: "plant-1" } } });
    assert.equal(created.kind, "ok", JSON.stringify(created.msg.error));
    assert.equal((await exchange("t-b", "out-b", { operation: "create", twinId: fromB, payload: {} })).kind, "ok");
    await waitFor(() => b.has(fromA) && a.has(fromB), "each registry to read the other's twin");
    const read = await exchange("t-b", "out-b", { operation: "get", twinId: fromA });
    assert.equal(read.kind, "ok");
    assert.deepEqual({ ...read.msg.payload.attributes }, { site: "plant-1" });
  });
});
