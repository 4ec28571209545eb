"use strict";
// POST /twin-registry/:registry/migrate (src/plugins/admin-migrate.ts) against a real
// redis-server: a registry's twins go from its local store to Redis and, once it runs on Redis,
// back to its local store, whole; the answer gives the counts; a target holding twins, a Redis
// registry open elsewhere, a registry already on the target side or without a Redis connection
// are refused with the catalog's words.
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { helper, nodes, waitFor, renderCatalogs } = require("./support");
const { startRedis, requireRedis } = require("../support/redis-server");
const { registerAdminApi } = require("../../nodes/lib/plugins/admin-api");

const root = path.join(__dirname, "..", "..");
const redisNode = require(path.join(root, "nodes", "twin-redis.js"));

/** RED._ renders the English catalogs (the helper's gives keys back), and the admin API is registered. */
function withCatalog(RED) {
  renderCatalogs(RED, ["twin-registry", "twin-admin-api"]);
  registerAdminApi(RED);
  return nodes.registry(RED);
}

const load = (flow) => helper.load([withCatalog, redisNode], flow);

function flow(port, registries) {
  return [
    { id: "tab", type: "tab", label: "test" },
    { id: "redis", type: "twin-redis", name: "test redis", topology: "single", host: "127.0.0.1", port, prefix: "twinwire:" },
    ...registries.map((r) => ({ type: "twin-registry", name: `registry ${r.id}`, redisDurability: "strict", historyLength: 10, ...r })),
  ];
}

async function opened(id = "reg") {
  return waitFor(() => {
    try {
      return helper.getNode(id).use();
    } catch {
      return null;
    }
  }, `registry ${id} open`, 15000);
}

function everything(reg) {
  const out = {};
  for (const id of [...reg.ids()].sort()) out[id] = { doc: JSON.parse(JSON.stringify(reg.get(id))), history: reg.history(id, "temperature"), state: reg.getState(id, "mirror") ?? null };
  return out;
}

const migrate = (registry, body) => helper.request().post(`/twin-registry/${registry}/migrate`).send(body);

describe("Admin API: migrating a registry between its local store and Redis", function () {
  this.timeout(30000);
  let server = null;
  let userDir = null;
  before(function () {
    requireRedis(this);
    process.env.TWINWIRE_REDIS_LEASE_MS = "1500";
  });
  after(function () {
    delete process.env.TWINWIRE_REDIS_LEASE_MS;
  });
  beforeEach(async function () {
    server = await startRedis({ appendfsync: "always" });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-migrate-"));
    helper.settings({ userDir });
    await new Promise((resolve) => helper.startServer(resolve));
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    await server.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it("copies the twins of a registry on its local store to Redis, and once it runs on Redis back to its local store, answering the counts", async function () {
    await load(flow(server.port, [{ id: "reg", persistence: "batched", redis: "redis", redisName: "plant" }]));
    const local = await opened();
    local.create("pump-1", { attributes: { site: "north" }, desired: { rpm: 1200 } });
    for (let i = 0; i < 4; i++) local.report("pump-1", { temperature: 20 + i });
    local.setLifecycle("pump-1", { stage: "operating", operatingHours: 3 });
    local.setState("pump-1", "mirror", { attempts: 1 });
    local.create("valve-2", { reported: { temperature: 5, open: true } });
    const before = everything(local);

    const up = await migrate("reg", { to: "redis" }).expect(200);
    assert.deepEqual(
      { from: up.body.from, to: up.body.to, target: up.body.target, twins: up.body.twins, history: up.body.history, versions: up.body.versions, replaced: up.body.replaced },
      { from: "registry", to: "redis", target: "twinwire:{plant}", twins: 2, history: 5, versions: before["pump-1"].doc.version + before["valve-2"].doc.version, replaced: 0 },
    );
    const again = await migrate("reg", { to: "redis" }).expect(409);
    assert.equal(again.body.code, "target-not-empty");
    assert.match(again.body.error, /^twinwire:\{plant\} holds 2 twin\(s\) already .*send "replace": true/);
    const wrongWay = await migrate("reg", { to: "local" }).expect(409);
    assert.equal(wrongWay.body.code, "migrate-not-configured");
    assert.match(wrongWay.body.error, /does not run on Redis/);

    // The same registry switched to Redis (as a user does in its dialog) holds the same twins.
    await helper.unload();
    await load(flow(server.port, [{ id: "reg", persistence: "redis", redis: "redis", redisName: "plant" }]));
    const shared = await opened();
    assert.deepEqual(everything(shared), before);
    await new Promise((resolve, reject) => {
      shared.report("valve-2", { temperature: 6 });
      shared.whenDurable((err) => (err ? reject(err) : resolve()));
    });
    const onRedis = everything(shared);

    // Its old local store is still there: refused, then replaced (and kept aside) when told.
    const held = await migrate("registry reg", { to: "local" }).expect(409);
    assert.equal(held.body.code, "target-not-empty");
    const down = await migrate("reg", { to: "local", replace: true }).expect(200);
    assert.deepEqual([down.body.to, down.body.twins, down.body.history, down.body.replaced], ["local", 2, 6, 2]);
    assert.equal(down.body.target, path.join(userDir, "twinwire", "reg"));
    assert.ok(fs.existsSync(down.body.setAside), "the replaced store is kept beside");
    assert.equal((await migrate("reg", { to: "redis" }).expect(409)).body.code, "migrate-not-configured");

    await helper.unload();
    await load(flow(server.port, [{ id: "reg", persistence: "strict" }]));
    assert.deepEqual(everything(await opened()), onRedis);
  });

  it("refuses to copy into a Redis registry an instance has open, even told to replace it", async function () {
    await load(flow(server.port, [
      { id: "reg", persistence: "memory", redis: "redis", redisName: "plant" },
      { id: "live", persistence: "redis", redis: "redis", redisName: "plant" },
    ]));
    (await opened("reg")).create("pump-1");
    await opened("live");
    const res = await migrate("reg", { to: "redis", replace: true }).expect(409);
    assert.equal(res.body.code, "target-in-use");
    assert.match(res.body.error, /^1 Node-RED instance\(s\) have twinwire:\{plant\} open: stop them/);
  });

  it("refuses a registry with no Redis connection to copy to, and a body that names no direction", async function () {
    await load(flow(server.port, [{ id: "reg", persistence: "memory" }]));
    await opened();
    const none = await migrate("reg", { to: "redis" }).expect(400);
    assert.equal(none.body.code, "migrate-no-redis");
    assert.match(none.body.error, /^twin registry "registry reg" has no Redis connection to copy to: choose a twin-redis node/);
    const bad = await migrate("reg", { to: "elsewhere" }).expect(400);
    assert.equal(bad.body.code, "invalid-body");
    // Named in the request instead, it is used.
    const named = await migrate("reg", { to: "redis", redis: "redis" }).expect(200);
    assert.equal(named.body.target, "twinwire:{reg}", "a blank Redis name is the registry's id");
  });

  it("refuses, in the registry's own words and before connecting, to copy to a Redis Cluster (not built for migration) or where the registry could not open (a Name in Redis with a space)", async function () {
    const cluster = { id: "rc", type: "twin-redis", name: "plant cluster", topology: "cluster", nodes: "127.0.0.1:1", prefix: "twinwire:" };
    await load([...flow(server.port, [{ id: "reg", persistence: "memory", redis: "rc" }, { id: "spaced", persistence: "memory", redis: "redis", redisName: "plant one" }]), cluster]);
    (await opened()).create("pump-1");
    const started = Date.now();
    const res = await migrate("reg", { to: "redis" }).expect(400);
    assert.equal(res.body.code, "invalid-option");
    assert.match(res.body.error, /^moving twins to or from a Redis Cluster is not supported yet .*: migrate through a single Redis server or Sentinel$/);
    assert.ok(Date.now() - started < 5000, "answered at once, not after waiting for the Cluster");
    (await opened("spaced")).create("pump-1");
    const spaced = await migrate("spaced", { to: "redis" }).expect(400);
    assert.equal(spaced.body.code, "invalid-option");
    assert.match(spaced.body.error, /^name in Redis "plant one" can not be used: no braces or spaces/);
  });
});
