"use strict";
// Nodes that take a registry on Redis at deploy start once it is open (RegistryNode.whenOpen),
// outside Node-RED's own guard around a node's constructor: a node whose start throws is an error
// in the log, and the other nodes of the registry still start (no unhandled rejection, which ends
// Node-RED).
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, waitFor, registryWithCatalog } = require("./support");
const { startRedis, requireRedis } = require("../support/redis-server");

const root = path.join(__dirname, "..", "..");
const redisNode = require(path.join(root, "nodes", "twin-redis.js"));

const withCatalog = registryWithCatalog;

/** A node that starts when its registry is open, and whose start throws when told to. */
function starterNode(RED) {
  function Starter(config) {
    RED.nodes.createNode(this, config);
    RED.nodes.getNode(config.registry).whenOpen(() => {
      if (config.fail) throw new Error("this start failed");
      this.started = true;
    });
  }
  RED.nodes.registerType("test-starter", Starter);
}

describe("twin-registry on Redis: nodes started once it is open", function () {
  this.timeout(30000);
  let server = null;
  before(function () {
    requireRedis(this);
  });
  beforeEach(async function () {
    server = await startRedis({ appendfsync: "everysec" });
    await new Promise((resolve) => helper.startServer(resolve));
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    await server.stop();
  });

  it("reports a node whose start throws as an error, and still starts the others", async function () {
    await helper.load([withCatalog, redisNode, starterNode], [
      { id: "tab", type: "tab", label: "test" },
      { id: "redis", type: "twin-redis", name: "test redis", topology: "single", host: "127.0.0.1", port: server.port, prefix: "twinwire:" },
      { id: "reg", type: "twin-registry", name: "plant", persistence: "redis", redis: "redis", redisName: "plant" },
      { id: "broken", type: "test-starter", z: "tab", registry: "reg", fail: true },
      { id: "fine", type: "test-starter", z: "tab", registry: "reg" },
    ]);
    await waitFor(() => helper.getNode("fine").started, "the second node to start", 10000);
    const errors = helper.log().args.map((a) => a[0]).filter((m) => m.level === helper.log().ERROR).map((m) => String(m.msg));
    assert.ok(errors.includes("a node using this registry could not start once the registry opened: this start failed"), JSON.stringify(errors));
  });
});
