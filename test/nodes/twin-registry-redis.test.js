"use strict";
// A twin-registry with persistence "redis" through a twin-redis config node, against a real
// redis-server (test/support/redis-server.js; skipped, saying so, where it is not installed, and
// refused under CI=true): two registries of one name share their twins; a setting that cannot
// work, or a server out of reach, is an error a user reads and a red status, never a crash;
// Redis stopping turns the nodes red and refuses changes, and its return turns them green; the
// password is a credential; the admin API marks reads served while Redis is away as stale.
const { freePort } = require("../support/free-port");
const assert = require("node:assert/strict");
const { execFileSync, spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { helper, nodes, exchange, waitFor, renderCatalogs } = require("./support");
const { startRedis, requireRedis, redisBinary } = require("../support/redis-server");
const { ledBy, split } = require("../core/redis-support");
const { registerAdminApi } = require("../../nodes/lib/plugins/admin-api");
const Redis = require("ioredis").default;

const root = path.join(__dirname, "..", "..");
const redisNode = require(path.join(root, "nodes", "twin-redis.js"));
const watchNode = require(path.join(root, "nodes", "twin-watch.js"));
const tlsNode = require("@node-red/nodes/core/network/05-tls.js");
const mirrorNode = require(path.join(root, "nodes", "twin-mirror.js"));
const fleetNode = require(path.join(root, "nodes", "ui-twin-fleet.js"));
const dashboardDir = path.dirname(require.resolve("@flowfuse/node-red-dashboard/package.json"));
const dashboard = ["ui_base", "ui_page", "ui_group", "ui_theme"].map((n) => require(path.join(dashboardDir, "nodes", "config", `${n}.js`)));

/**
 * The helper's RED._ gives back catalog keys without their parameters; the registry's and the
 * Redis node's texts are rendered from the English catalogs here, so a test reads what a user
 * reads. The admin API is registered too (the helper stubs plugins).
 */
function withCatalog(RED) {
  renderCatalogs(RED, ["twin-registry", "twin-redis"]);
  registerAdminApi(RED);
  return nodes.registry(RED);
}

const load = (flow, credentials) => helper.load([withCatalog, redisNode, nodes.twin, watchNode, mirrorNode, fleetNode, ...dashboard, tlsNode, nodes.catch], flow, credentials);

/** A tab with a twin-redis node, the registries given (persistence redis on it), a twin node per registry and a catch node. */
function redisFlow(redisConfig, registries = [{ id: "reg", redisName: "plant" }]) {
  const out = [
    { id: "tab", type: "tab", label: "test" },
    { id: "redis", type: "twin-redis", name: "test redis", topology: "single", host: "127.0.0.1", prefix: "twinwire:", ...redisConfig },
  ];
  for (const r of registries) {
    // (a name equal to a config node's id would make Node-RED take it for a reference to it)
    out.push({ type: "twin-registry", name: `registry ${r.id}`, persistence: "redis", redis: "redis", redisDurability: "strict", historyLength: 10, ...r });
    out.push({ id: `t-${r.id}`, type: "twin", z: "tab", registry: r.id, operation: "msg", twinId: "", twinIdType: "str", wires: [[`out-${r.id}`]] });
    out.push({ id: `out-${r.id}`, type: "helper", z: "tab" });
  }
  out.push({ id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["errors"]] });
  out.push({ id: "errors", type: "helper", z: "tab" });
  return out;
}

/** Every status the registry gives the nodes that use it, from now on (a user of the registry). */
function statuses(registryId = "reg") {
  const seen = [];
  helper.getNode(registryId).addUser({ status: (s) => seen.push(s) });
  return seen;
}
const last = (seen) => seen[seen.length - 1];


/** What the registry node logged at a level. */
const logged = (level, type = "twin-registry") =>
  helper.log().args.map((a) => a[0]).filter((m) => m.type === type && m.level === helper.log()[level]).map((m) => String(m.msg));

/** The registry of a node, once open (use() throws store-unavailable until then). */
async function opened(registryId = "reg") {
  return waitFor(() => {
    try {
      return helper.getNode(registryId).use();
    } catch {
      return null;
    }
  }, `registry ${registryId} open on Redis`, 15000);
}

describe("twin-registry on Redis (twin-redis config node)", function () {
  let server = null;
  const servers = [];
  before(function () {
    requireRedis(this);
    // Leases of 1.5 s (renewed every 0.5 s): two registries split the partitions in about a second.
    process.env.TWINWIRE_REDIS_LEASE_MS = "1500";
  });
  after(function () {
    delete process.env.TWINWIRE_REDIS_LEASE_MS;
  });
  beforeEach(async function () {
    server = await startRedis();
    servers.push(server);
    await new Promise((resolve) => helper.startServer(resolve));
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    for (const s of servers.splice(0)) await s.stop();
  });

  it("shows connecting, then the twin count; a twin written through one registry is read through another of the same name in Redis", async function () {
    await load(redisFlow({ port: server.port }, [{ id: "a", redisName: "plant" }, { id: "b", redisName: "plant" }]));
    const seen = statuses("a");
    const a = await opened("a");
    const b = await opened("b");
    assert.deepEqual(seen[0], { fill: "yellow", shape: "ring", text: "connecting to Redis" }, "connecting until open");
    await waitFor(() => last(seen).fill === "green", "the twin count once open");
    assert.equal(last(seen).text, "0 twins");
    // Each writes the twins whose partition it leads (a change elsewhere goes through submit, not this test's subject).
    await split({ store: a.store }, { store: b.store });
    const fromA = ledBy(a.store, b.store, "pump");
    const fromB = ledBy(b.store, a.store, "valve");
    const created = await exchange("t-a", "out-a", { operation: "create", twinId: fromA, payload: { attributes: { site: "plant-1" } } });
    assert.equal(created.kind, "ok", JSON.stringify(created.msg.error));
    assert.equal((await exchange("t-b", "out-b", { operation: "create", twinId: fromB, payload: {} })).kind, "ok");
    await waitFor(() => b.has(fromA) && a.has(fromB), "each registry to read the other's twin");
    assert.deepEqual({ ...b.get(fromA).attributes }, { site: "plant-1" });
    // And through the second registry's twin node, as a flow reads it.
    const read = await exchange("t-b", "out-b", { operation: "get", twinId: fromA });
    assert.equal(read.kind, "ok");
    assert.equal(read.msg.payload.version, 1);
    await waitFor(() => last(seen).text === "2 twins", "the first registry's count to take both twins");
  });

  it("refuses a port out of range or a URL that is not redis://, naming the setting and the Redis node, with a red status and no crash", async function () {
    for (const [config, words] of [
      [{ port: "70000" }, /the settings of Redis node test redis can not work: invalid setting port: "70000" is not a port/],
      [{ url: "http://127.0.0.1:6379" }, /the settings of Redis node test redis can not work: invalid setting url: starts with redis:\/\/ or rediss:\/\//],
    ]) {
      await load(redisFlow(config));
      const seen = statuses();
      assert.deepEqual(last(seen), { fill: "red", shape: "ring", text: "registry failed" });
      await waitFor(() => logged("ERROR").some((m) => words.test(m)), `an error matching ${words}`);
      const r = await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} });
      assert.equal(r.kind, "error");
      assert.match(r.msg.error.message, words, "a change names the reason too");
      await helper.unload();
      helper.log().resetHistory();
    }
  });

  it("says when Redis is out of reach at deploy, keeps trying, and opens once the server is there", async function () {
    const port = server.port;
    await server.stop();
    await load(redisFlow({ port }));
    const seen = statuses();
    const words = `connect ECONNREFUSED 127.0.0.1:${port}`;
    await waitFor(() => logged("ERROR").includes(`twin registry could not open on Redis: ${words}; trying again every 5 s`), "the connection refused, in words");
    await waitFor(() => last(seen).text === "Redis unreachable, retrying", "a red status");
    assert.equal(last(seen).fill, "red");
    const r = await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, new RegExp(`twin store unavailable: Redis out of reach \\(${words}\\), trying again every 5 s$`));
    servers.push(await startRedis({ port }));
    await opened();
    await waitFor(() => last(seen).fill === "green", "green once Redis is there", 15000);
    assert.equal(logged("ERROR").filter((m) => /could not open on Redis/.test(m)).length, 1, "one error for one reason, not one per try");
    assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} })).kind, "ok");
  });

  it("refuses a change sent while the registry is still connecting, saying so, and takes it once the registry is open", async function () {
    // A server that accepts the connection and does not answer (stopped, not gone): open waits.
    server.child.kill("SIGSTOP");
    try {
      await load(redisFlow({ port: server.port }));
      const seen = statuses();
      assert.deepEqual(last(seen), { fill: "yellow", shape: "ring", text: "connecting to Redis" });
      const early = await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} });
      assert.equal(early.kind, "error");
      assert.match(early.msg.error.message, /twin store unavailable: the registry is still connecting to Redis; try again once its status shows the twin count$/);
    } finally {
      server.child.kill("SIGCONT");
    }
    await opened();
    assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} })).kind, "ok");
  });

  it("warns at deploy when the server cannot keep the durability chosen (strict on appendfsync everysec)", async function () {
    await server.stop();
    server = await startRedis({ appendfsync: "everysec" });
    servers.push(server);
    await load(redisFlow({ port: server.port }));
    await opened();
    const warnings = logged("WARN");
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^twin store on Redis: Redis syncs its append-only file "everysec", not "always": .*strict mode promises/);
  });

  it("turns red and refuses changes while Redis is stopped, serves reads marked stale, and turns green and writes again once it is back", async function () {
    await load(redisFlow({ port: server.port }));
    const seen = statuses();
    const reg = await opened();
    await waitFor(() => last(seen).fill === "green", "green once open");
    assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: { attributes: { site: "a" } } })).kind, "ok");
    const fresh = await helper.request().get("/twins/reg/pump-1").expect(200);
    assert.equal(fresh.headers["x-twinwire-stale"], undefined, "no mark while Redis answers");

    await server.kill();
    await waitFor(() => last(seen).fill === "red", "red once Redis is gone");
    assert.equal(last(seen).text, "Redis connection lost");
    assert.equal(reg.health().ok, false);
    const refused = await exchange("t-reg", "out-reg", { operation: "update", twinId: "pump-1", payload: { attributes: { site: "b" } } });
    assert.equal(refused.kind, "error");
    assert.match(refused.msg.error.message, /twin store unavailable: Redis connection lost/);
    const stale = await helper.request().get("/twins/reg/pump-1").expect(200);
    assert.equal(stale.headers["x-twinwire-stale"], "1");
    assert.deepEqual(stale.body.attributes, { site: "a" }, "the cached twin, as it was");
    const list = await helper.request().get("/twins/reg").expect(200);
    assert.equal(list.headers["x-twinwire-stale"], "1");
    assert.equal(list.body.total, 1);

    servers.push(await server.restart());
    await waitFor(() => last(seen).fill === "green", "green once Redis is back", 15000);
    await waitFor(() => reg.store.leads("pump-1"), "the twin's partition writable again", 15000);
    const again = await exchange("t-reg", "out-reg", { operation: "update", twinId: "pump-1", payload: { attributes: { site: "b" } } });
    assert.equal(again.kind, "ok", JSON.stringify(again.msg.error));
    assert.equal(again.msg.payload.attributes.site, "b");
    const after = await helper.request().get("/twins/reg/pump-1").expect(200);
    assert.equal(after.headers["x-twinwire-stale"], undefined);
  });

  it("connects with the password kept as a credential (never a flow property), and says so when it is wrong", async function () {
    await server.stop();
    server = await startRedis({ args: ["--requirepass", "s3cret"] });
    servers.push(server);
    await load(redisFlow({ port: server.port }), { redis: { password: "s3cret" } });
    // What Node-RED keeps out of the flow file, in the credentials file.
    const definition = helper._redNodes.getCredentialDefinition("twin-redis");
    assert.deepEqual(definition, { username: { type: "text" }, password: { type: "password" }, sentinelPassword: { type: "password" } });
    await opened();
    assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} })).kind, "ok");
    await helper.unload();
    helper.log().resetHistory();
    await load(redisFlow({ port: server.port }), { redis: { password: "wrong" } });
    await waitFor(() => logged("ERROR").some((m) => /could not open on Redis: .*(WRONGPASS|invalid password|NOAUTH)/i.test(m)), "the refused password, in words");
  });

  it("starts a node that follows the registry at deploy (twin-watch) once the registry is open, instead of failing it", async function () {
    const flow = redisFlow({ port: server.port });
    flow.push({ id: "w", type: "twin-watch", z: "tab", registry: "reg", twinIds: "", wires: [["watched"]] });
    flow.push({ id: "watched", type: "helper", z: "tab" });
    await load(flow);
    const events = [];
    helper.getNode("watched").on("input", (msg) => events.push(msg));
    await opened();
    assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} })).kind, "ok");
    await waitFor(() => events.some((m) => m.twinId === "pump-1"), "the watch to send the new twin");
    assert.equal(logged("ERROR", "twin-watch").length, 0, logged("ERROR", "twin-watch").join("\n"));
  });

  it("starts a follower node (twin-mirror) once the registry is open: a desired change made after it opened is sent to the device", async function () {
    const flow = redisFlow({ port: server.port });
    flow.push({ id: "m", type: "twin-mirror", z: "tab", registry: "reg", twinId: "", twinIdType: "str", scope: "all", topic: "devices/{twin}/set", timeout: 30, retries: 2, backoff: 2, wires: [["dev"], []] });
    flow.push({ id: "dev", type: "helper", z: "tab" });
    await load(flow);
    const commands = [];
    helper.getNode("dev").on("input", (msg) => commands.push(msg));
    const reg = await opened();
    assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "th-1", payload: { reported: { setpoint: 18 } } })).kind, "ok");
    reg.setDesired("th-1", { setpoint: 21 });
    await waitFor(() => commands.length === 1, "the command to the device");
    assert.equal(commands[0].topic, "devices/th-1/set");
    assert.deepEqual({ ...commands[0].payload }, { setpoint: 21 });
    assert.deepEqual(logged("ERROR", "twin-mirror"), []);
  });

  it("a Dashboard fleet widget says the registry is connecting, then shows its twins once open, with no error", async function () {
    const flow = redisFlow({ port: server.port });
    flow.push(
      { id: "base", type: "ui-base", name: "test", path: "/dashboard", includeClientData: true, acceptsClientConfig: ["ui-control"] },
      { id: "theme", type: "ui-theme", name: "light", colors: { surface: "#ffffff", primary: "#0094ce", bgPage: "#eeeeee", groupBg: "#ffffff", groupOutline: "#cccccc" } },
      { id: "page", type: "ui-page", name: "Fleet", ui: "base", path: "/fleet", layout: "grid", theme: "theme", order: 1, visible: "true", disabled: "false" },
      { id: "group", type: "ui-group", name: "Pumps", page: "page", width: "12", height: "1", order: 1, showTitle: true, visible: "true", disabled: "false" },
      { id: "fleet", type: "ui-twin-fleet", z: "tab", group: "group", registry: "reg", wires: [[]] },
    );
    const views = [];
    const conn = { id: "conn-1", connected: true, emit: (event, payload) => views.push(JSON.parse(JSON.stringify(payload))), once() {}, disconnect() {} };
    // A server that does not answer yet: the registry stays connecting.
    server.child.kill("SIGSTOP");
    try {
      await load(flow);
      helper.getNode("base").ui.widgets.get("fleet").hooks.onChange({}, { kind: "load", filter: {} }, conn, "fleet");
      assert.match(views[0].error, /twin store unavailable: the registry is still connecting to Redis/);
    } finally {
      server.child.kill("SIGCONT");
    }
    const hooks = helper.getNode("base").ui.widgets.get("fleet").hooks;
    const reg = await opened();
    reg.create("pump-1", { reported: { temperature: 20 } });
    hooks.onChange({}, { kind: "load", filter: {} }, conn, "fleet");
    await waitFor(() => views.length && views[views.length - 1].total === 1, "the fleet view with the twin");
    assert.deepEqual(logged("ERROR", "ui-twin-fleet"), []);
  });

  describe("over TLS", function () {
    let dir;
    before(function () {
      try {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-redis-tls-"));
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=localhost",
          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore" });
      } catch {
        console.log("      (skipped: openssl is not installed, so no self-signed certificate for a TLS Redis)");
        this.skip();
      }
    });
    after(function () {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("refuses a server whose certificate it cannot verify, and connects with the CA of a tls-config node", async function () {
      const tlsPort = await freePort();
      await server.stop();
      server = await startRedis({ args: ["--tls-port", String(tlsPort), "--tls-cert-file", path.join(dir, "cert.pem"), "--tls-key-file", path.join(dir, "key.pem"), "--tls-auth-clients", "no"] });
      servers.push(server);
      const tlsConfig = { id: "tls", type: "tls-config", cert: "", key: "", ca: "", certname: "", keyname: "", caname: "ca.pem", servername: "", verifyservercert: true };

      await load([...redisFlow({ port: tlsPort, usetls: true, tls: "tls" }), tlsConfig]);
      await waitFor(() => logged("ERROR").some((m) => /could not open on Redis: .*self-signed certificate/.test(m)), "the unverified certificate, in words");
      await helper.unload();

      await load([...redisFlow({ port: tlsPort, usetls: true, tls: "tls" }), tlsConfig], { tls: { cadata: fs.readFileSync(path.join(dir, "cert.pem"), "utf8") } });
      const reg = await opened();
      assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: {} })).kind, "ok");
      assert.ok(reg.store.health().ok);
    });

    it("refuses Use TLS without a TLS configuration node rather than connecting in plain text", async function () {
      await load(redisFlow({ port: server.port, usetls: true, tls: "" }));
      await waitFor(() => logged("ERROR").some((m) => m.includes("invalid setting tls: Use TLS is on but no TLS configuration node is chosen")), "the missing TLS node, in words");
      assert.deepEqual(last(statuses()), { fill: "red", shape: "ring", text: "registry failed" });
    });
  });

  it("finds the primary through Sentinel by its name, and keeps the twins there", async function () {
    const sentinelPort = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-sentinel-"));
    fs.writeFileSync(path.join(dir, "sentinel.conf"), `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor plant-primary 127.0.0.1 ${server.port} 1\n`);
    const sentinel = spawn(redisBinary(), [path.join(dir, "sentinel.conf"), "--sentinel"], { stdio: "ignore" });
    const killSentinel = () => sentinel.kill("SIGKILL");
    process.once("exit", killSentinel); // should this process end in the middle of the test
    try {
      await load(redisFlow({ topology: "sentinel", sentinels: `127.0.0.1:${sentinelPort}`, sentinelName: "plant-primary" }));
      const reg = await opened();
      assert.equal((await exchange("t-reg", "out-reg", { operation: "create", twinId: "pump-1", payload: { attributes: { site: "a" } } })).kind, "ok");
      const direct = new Redis(server.port, "127.0.0.1");
      try {
        assert.equal(await direct.hget("twinwire:{plant}:meta", "partitions"), String(reg.store.partitions), "the registry lives on the primary Sentinel named");
      } finally {
        direct.disconnect();
      }
    } finally {
      killSentinel();
      process.removeListener("exit", killSentinel);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
