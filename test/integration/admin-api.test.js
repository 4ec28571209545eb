// The admin HTTP API of design.md against a real Node-RED process: route shapes, query filters,
// errors (with the English text of the locale catalog, not message keys), ids with ':' and '.',
// history ranges, and adminAuth (401 without a token, 200 with one, "read" users may read).
// Twins are made through an HTTP flow (POST /api/twin/<registry>), which also shows that the
// translated error text reaches a Catch node in the real runtime.
"use strict";

const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const h = require("./harness");

const TAB = "b2f0000000000001";
const PLANT = "b2f0000000000002";
const LAB = "b2f0000000000003";

const MODELS = JSON.stringify({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 5 },
    },
  },
});

const catalog = (name) => JSON.parse(fs.readFileSync(path.join(h.repoRoot, "nodes", "locales", "en-US", `${name}.json`), "utf8"));
const REGISTRY_TEXT = catalog("twin-registry")["twin-registry"];
const TWIN_TEXT = catalog("twin").twin;

/** A catalog message with its __params__ filled in, as RED._ renders it. */
function text(template, params) {
  return template.replace(/__(\w+)__/g, (whole, key) => (key in params ? String(params[key]) : whole));
}

const SUMMARY_KEYS = ["anomaly", "delta", "id", "lastSeen", "model", "online", "stage", "updated", "version"];

/** Two registries and one HTTP endpoint per registry: POST /api/twin/<name> {operation, twinId, payload}. */
function flows() {
  const z = TAB;
  const endpoint = (n, registry, url) => [
    { id: `b2f00000000001${n}0`, type: "http in", z, url, method: "post", upload: false, swaggerDoc: "", wires: [[`b2f00000000001${n}1`]] },
    {
      id: `b2f00000000001${n}1`, type: "change", z,
      rules: [
        { t: "set", p: "operation", pt: "msg", to: "payload.operation", tot: "msg" },
        { t: "set", p: "twinId", pt: "msg", to: "payload.twinId", tot: "msg" },
        { t: "set", p: "payload", pt: "msg", to: "payload.payload", tot: "msg" },
      ],
      wires: [[`b2f00000000001${n}2`]],
    },
    { id: `b2f00000000001${n}2`, type: "twin", z, registry, operation: "msg", twinId: "", twinIdType: "str", model: "", wires: [["b2f0000000000200"]] },
  ];
  return [
    { id: z, type: "tab", label: "admin api" },
    { id: PLANT, type: "twin-registry", name: "plant", models: MODELS, persistence: "memory", historyLength: "50", staleness: "0", maxDocumentKb: "64" },
    { id: LAB, type: "twin-registry", name: "lab", models: "", persistence: "batched", historyLength: "50", staleness: "0", maxDocumentKb: "64" },
    ...endpoint(1, PLANT, "/twin/plant"),
    ...endpoint(2, LAB, "/twin/lab"),
    { id: "b2f0000000000200", type: "http response", z, statusCode: "", headers: {}, wires: [] },
    { id: "b2f0000000000201", type: "catch", z, scope: null, uncaught: false, wires: [["b2f0000000000202"]] },
    {
      id: "b2f0000000000202", type: "change", z,
      rules: [
        { t: "set", p: "statusCode", pt: "msg", to: "400", tot: "num" },
        { t: "set", p: "payload", pt: "msg", to: '{"error": error.message}', tot: "jsonata" },
      ],
      wires: [["b2f0000000000200"]],
    },
  ];
}

const SENSOR = "sensor:hall.b-1"; // ':' and '.' are allowed in twin ids and must work in URLs
const READINGS = [18.5, 19, 19.25, 20, 21.5, 21, 22.75];

/** Twins: plant has pump-1 (online, delta 1), pump-2, SENSOR (online, history), valve-9; lab has bench-1 (online). */
async function populate(url) {
  const post = async (registry, operation, twinId, payload) => {
    const res = await h.request(url, { method: "POST", path: `/api/twin/${registry}`, body: { operation, twinId, payload } });
    assert.equal(res.status, 200, `${operation} ${twinId}: ${res.text}`);
    return res.body;
  };
  await post("plant", "create", "pump-1", { model: "pump", attributes: { site: "north" }, desired: { rpm: 1500 } });
  await post("plant", "upsert", "pump-1", { reported: { temperature: 61.5 } }); // a reading: online
  await post("plant", "create", "pump-2", { model: "pump", attributes: { site: "south" } });
  await post("plant", "create", "valve-9", { attributes: { size: "DN50" } });
  await post("plant", "create", SENSOR, { attributes: { hall: "b" } });
  for (const temperature of READINGS) {
    await post("plant", "upsert", SENSOR, { reported: { temperature } });
    await new Promise((r) => setTimeout(r, 3)); // a lower bound, not a wait: distinct timestamps, so from/to can split them
  }
  await post("lab", "create", "bench-1", { attributes: { owner: "qa" }, reported: { load: 3 } });
}

/** An access token limited to `scope` (which must lie within the user's permissions). */
async function tokenFor(url, username, password, scope) {
  const res = await h.request(url, {
    method: "POST",
    path: "/auth/token",
    body: { client_id: "node-red-admin", grant_type: "password", scope, username, password },
  });
  assert.equal(res.status, 200, `login as ${username} (scope ${scope}): ${res.text}`);
  return res.body.access_token;
}

/**
 * Starts Node-RED with flows() and the twins of populate(); the error carries the process's
 * output (a failing before-hook gets no afterEach to print it).
 */
async function startPopulated(settings, take = () => h.startNodeRed({ flows: flows(), settings })) {
  const nr = await take();
  try {
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/, "this package's nodes did not load (nodes/ rebuilt meanwhile?)");
    await populate(nr.url);
  } catch (err) {
    err.message += `\n--- Node-RED output ---\n${nr.logs()}`;
    await nr.kill();
    throw err;
  }
  return nr;
}

function assertError(res, status, includes) {
  assert.equal(res.status, status, res.text);
  assert.equal(typeof res.body, "object", `not JSON: ${res.text}`);
  assert.equal(typeof res.body.error, "string", `no error text: ${res.text}`);
  // { error, code } (docs/architecture.md, "Admin API"): words for a person, a code for a program.
  assert.deepEqual(Object.keys(res.body).sort(), ["code", "error"], res.text);
  assert.match(res.body.code, /^[a-z]+(-[a-z]+)*$/, `code ${res.body.code}`);
  assert.doesNotMatch(res.body.error, /twin-registry\.|twin-admin-api\.|twin\.errors/, `an untranslated key: ${res.body.error}`);
  for (const part of [].concat(includes || [])) assert.ok(res.body.error.includes(part), `"${res.body.error}" lacks "${part}"`);
}

/** settings.adminAuth with an admin and three users of narrower permissions. */
function adminAuthSettings() {
  return h.adminAuth({ username: "admin", password: "admin-pw" }, [
    { username: "viewer", password: "viewer-pw", permissions: "read" },
    { username: "flowsonly", password: "flows-pw", permissions: ["flows.read"] },
    { username: "operator", password: "operator-pw", permissions: ["read", "twins.write"] },
  ]);
}

describe("admin HTTP API (real Node-RED)", function () {
  this.timeout(20000);
  // The adminAuth Node-RED starts in the background while the first describe's tests run.
  let withAuth;
  before(function () {
    if (h.isBuilt()) withAuth = h.prestart({ flows: flows(), settings: { adminAuth: adminAuthSettings() } });
  });
  after(() => h.stopAll());

  describe("without adminAuth", function () {
    let nr;
    const get = (p) => h.request(nr.url, { path: p });

    before(async function () {
      if (!h.isBuilt()) this.skip();
      nr = await startPopulated();
    });
    afterEach(function () {
      h.printLogsIfFailed(this.currentTest, nr);
    });
    after(() => nr && nr.stop());

    it("GET /twins lists every registry as {id, name, count}", async () => {
      const res = await get("/twins");
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(res.body), res.text);
      const byName = [...res.body].sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(byName, [
        { id: LAB, name: "lab", count: 1 },
        { id: PLANT, name: "plant", count: 4 },
      ]);
      for (const r of res.body) assert.deepEqual(Object.keys(r).sort(), ["count", "id", "name"]);
    });

    it("GET /twins/:registry by name and by id gives {total, twins: [summary]} sorted by id", async () => {
      const byName = await get("/twins/plant");
      assert.equal(byName.status, 200, byName.text);
      assert.deepEqual(Object.keys(byName.body).sort(), ["total", "twins"]);
      assert.equal(byName.body.total, 4);
      assert.deepEqual(byName.body.twins.map((t) => t.id), ["pump-1", "pump-2", SENSOR, "valve-9"]);
      for (const t of byName.body.twins) assert.deepEqual(Object.keys(t).sort(), SUMMARY_KEYS, JSON.stringify(t));

      const pump1 = byName.body.twins[0];
      assert.equal(pump1.model, "pump");
      assert.equal(pump1.online, true);
      assert.equal(typeof pump1.lastSeen, "number");
      assert.equal(pump1.version, 2);
      assert.equal(pump1.delta, 1, "desired rpm 1500 was never reported");
      assert.equal(pump1.stage, null);
      assert.equal(pump1.anomaly, false);
      const pump2 = byName.body.twins[1];
      assert.deepEqual({ online: pump2.online, lastSeen: pump2.lastSeen, delta: pump2.delta }, { online: false, lastSeen: null, delta: 0 });
      assert.equal(byName.body.twins[2].version, 1 + READINGS.length);

      const byId = await get(`/twins/${PLANT}`);
      assert.equal(byId.status, 200);
      assert.deepEqual(byId.body, byName.body);

      const lab = await get(`/twins/lab`);
      assert.deepEqual(lab.body.twins.map((t) => t.id), ["bench-1"]);
      assert.equal(lab.body.total, 1);
      // Created with a reading: the device has been seen.
      assert.equal(lab.body.twins[0].online, true);
      assert.equal(typeof lab.body.twins[0].lastSeen, "number");
    });

    it("filters by model, online, stage, limit and offset", async () => {
      const ids = async (query) => {
        const res = await get(`/twins/plant?${query}`);
        assert.equal(res.status, 200, `${query}: ${res.text}`);
        return { total: res.body.total, ids: res.body.twins.map((t) => t.id) };
      };
      assert.deepEqual(await ids("model=pump"), { total: 2, ids: ["pump-1", "pump-2"] });
      assert.deepEqual(await ids("model=valve"), { total: 0, ids: [] });
      assert.deepEqual(await ids("online=true"), { total: 2, ids: ["pump-1", SENSOR] });
      assert.deepEqual(await ids("online=false"), { total: 2, ids: ["pump-2", "valve-9"] });
      assert.deepEqual(await ids("model=pump&online=false"), { total: 1, ids: ["pump-2"] });
      assert.deepEqual(await ids("stage=operating"), { total: 0, ids: [] });
      assert.deepEqual(await ids("limit=2"), { total: 4, ids: ["pump-1", "pump-2"] });
      assert.deepEqual(await ids("limit=2&offset=1"), { total: 4, ids: ["pump-2", SENSOR] });
      assert.deepEqual(await ids("offset=3"), { total: 4, ids: ["valve-9"] });
      assert.deepEqual(await ids("offset=10"), { total: 4, ids: [] });
      assert.deepEqual(await ids("limit=0"), { total: 4, ids: [] });
    });

    it("refuses a bad query with 400 {error}", async () => {
      assertError(await get("/twins/plant?limit=abc"), 400, ["limit", "abc"]);
      assertError(await get("/twins/plant?online=maybe"), 400, ["online", "maybe"]);
      assertError(await get("/twins/plant?offset=-1"), 400, ["offset"]);
      assertError(await get("/twins/plant?limit=1.5"), 400, ["limit"]);
      assertError(await get(`/twins/plant/${encodeURIComponent(SENSOR)}/history/temperature?from=yesterday`), 400, ["from", "yesterday"]);
      assertError(await get(`/twins/plant/${encodeURIComponent(SENSOR)}/history/temperature?limit=x`), 400, ["limit"]);
    });

    it("answers 404 {error} for an unknown registry", async () => {
      const expected = text(catalog("twin-admin-api")["twin-admin-api"].errors["no-registry"], { registry: "nowhere" });
      for (const p of ["/twins/nowhere", "/twins/nowhere/pump-1", "/twins/nowhere/pump-1/history/temperature"]) {
        const res = await get(p);
        assertError(res, 404, ["nowhere"]);
        assert.equal(res.body.error, expected);
      }
    });

    it("GET /twins/:registry/:twinId gives the twin document", async () => {
      const res = await get("/twins/plant/pump-1");
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), [
        "attributes", "connectivity", "created", "delta", "desired", "id", "lifecycle", "meta",
        "model", "predictions", "reported", "updated", "version",
      ]);
      const doc = res.body;
      assert.equal(doc.id, "pump-1");
      assert.equal(doc.model, "pump");
      assert.deepEqual(doc.attributes, { site: "north" });
      assert.deepEqual(doc.reported, { temperature: 61.5 });
      assert.deepEqual(doc.desired, { rpm: 1500 });
      assert.deepEqual(doc.delta, { rpm: 1500 });
      assert.deepEqual(Object.keys(doc.connectivity).sort(), ["lastSeen", "online"]);
      assert.equal(doc.connectivity.online, true);
      assert.deepEqual(Object.keys(doc.meta).sort(), ["desired", "reported"]);
      assert.equal(typeof doc.meta.reported.temperature.ts, "number");
      assert.equal(doc.version, 2);
      assert.ok(doc.created <= doc.updated);

      const byId = await get(`/twins/${PLANT}/pump-1`);
      assert.deepEqual(byId.body, doc);
    });

    it("answers 404 with the translated text for an unknown twin", async () => {
      const res = await get("/twins/plant/ghost-7");
      assertError(res, 404, ["not found", "ghost-7"]);
      assert.equal(res.body.error, text(REGISTRY_TEXT.errors["not-found"], { twinId: "ghost-7" }));
      const history = await get("/twins/plant/ghost-7/history/temperature");
      assertError(history, 404, ["not found", "ghost-7"]);
      // A twin of another registry is not found here.
      assertError(await get("/twins/plant/bench-1"), 404, ["bench-1"]);
    });

    it("answers 400 for an invalid twin id or property name", async () => {
      const res = await get("/twins/plant/-pump");
      assertError(res, 400, ["-pump"]);
      assert.equal(res.body.error, text(REGISTRY_TEXT.errors["invalid-id"], { id: "-pump" }));
      assertError(await get(`/twins/plant/${encodeURIComponent("pump 1")}`), 400, ["pump 1"]);
      assertError(await get(`/twins/plant/${"x".repeat(129)}`), 400);
      assertError(await get("/twins/plant/-pump/history/temperature"), 400, ["-pump"]);
      const property = await get(`/twins/plant/${encodeURIComponent(SENSOR)}/history/9lives`);
      assertError(property, 400, ["9lives", SENSOR]);
      assert.equal(property.body.error, text(REGISTRY_TEXT.errors["invalid-property"], { twinId: SENSOR, property: "9lives" }));
      assertError(await get(`/twins/plant/${encodeURIComponent(SENSOR)}/history/__proto__`), 400, ["__proto__"]);
    });

    it("serves a twin whose id holds ':' and '.', raw or percent-encoded", async () => {
      const raw = await get(`/twins/plant/${SENSOR}`);
      assert.equal(raw.status, 200, raw.text);
      assert.equal(raw.body.id, SENSOR);
      assert.deepEqual(raw.body.attributes, { hall: "b" });
      assert.equal(raw.body.reported.temperature, READINGS.at(-1));
      const encoded = await get(`/twins/plant/${encodeURIComponent(SENSOR)}`);
      assert.deepEqual(encoded.body, raw.body);
      const history = await get(`/twins/plant/${SENSOR}/history/temperature`);
      assert.equal(history.status, 200, history.text);
      assert.equal(history.body.length, READINGS.length);
    });

    it("GET .../history/:property gives [{ts, value}] with from, to and limit", async () => {
      const base = `/twins/plant/${encodeURIComponent(SENSOR)}/history/temperature`;
      const all = await get(base);
      assert.equal(all.status, 200, all.text);
      assert.ok(Array.isArray(all.body));
      assert.deepEqual(all.body.map((p) => p.value), READINGS);
      for (const p of all.body) {
        assert.deepEqual(Object.keys(p).sort(), ["ts", "value"]);
        assert.equal(typeof p.ts, "number");
      }
      for (let k = 1; k < all.body.length; k++) assert.ok(all.body[k].ts >= all.body[k - 1].ts, "not oldest first");

      const from = all.body[2].ts;
      const to = all.body[5].ts;
      const inRange = all.body.filter((p) => p.ts >= from && p.ts <= to);
      const q = async (query) => {
        const res = await get(`${base}?${query}`);
        assert.equal(res.status, 200, `${query}: ${res.text}`);
        return res.body;
      };
      assert.deepEqual(await q(`from=${from}`), all.body.filter((p) => p.ts >= from));
      assert.deepEqual(await q(`to=${to}`), all.body.filter((p) => p.ts <= to));
      assert.deepEqual(await q(`from=${from}&to=${to}`), inRange);
      assert.deepEqual(await q(`from=${from}&to=${to}&limit=2`), inRange.slice(-2), "limit keeps the newest points");
      assert.deepEqual(await q("limit=3"), all.body.slice(-3));
      assert.deepEqual(await q("limit=0"), []);
      assert.deepEqual(await q(`from=${encodeURIComponent(new Date(from).toISOString())}`), all.body.filter((p) => p.ts >= from));
      assert.deepEqual(await q(`from=${all.body.at(-1).ts + 1}`), []);
      assert.deepEqual(await q(`to=${all.body[0].ts - 1}`), []);

      // A twin that exists but never reported this property has an empty history.
      assert.deepEqual((await get("/twins/plant/valve-9/history/temperature")).body, []);
    });

    it("a Catch node receives the translated error text", async () => {
      const post = (registry, body) => h.request(nr.url, { method: "POST", path: `/api/twin/${registry}`, body });
      const notFound = await post("plant", { operation: "get", twinId: "ghost-7" });
      assert.equal(notFound.status, 400, notFound.text);
      assert.match(notFound.body.error, /not found/);
      assert.ok(notFound.body.error.includes(text(REGISTRY_TEXT.errors["not-found"], { twinId: "ghost-7" })), notFound.body.error);
      assert.doesNotMatch(notFound.body.error, /twin-registry\.errors/);

      const exists = await post("plant", { operation: "create", twinId: "pump-1", payload: {} });
      assert.equal(exists.status, 400);
      assert.ok(exists.body.error.includes(text(REGISTRY_TEXT.errors.exists, { twinId: "pump-1" })), exists.body.error);

      const range = await post("plant", { operation: "upsert", twinId: "pump-2", payload: { reported: { temperature: 500 } } });
      assert.equal(range.status, 400);
      assert.match(range.body.error, /pump-2/);
      assert.match(range.body.error, /temperature/);
      assert.doesNotMatch(range.body.error, /twin-registry\.errors/);
      assert.equal((await h.request(nr.url, { path: "/twins/plant/pump-2" })).body.version, 1, "a refused change left the twin changed");

      // The twin node's own catalog (twin.json) is translated too.
      const operation = await post("plant", { operation: "explode", twinId: "pump-1" });
      assert.equal(operation.status, 400);
      assert.ok(operation.body.error.includes(text(TWIN_TEXT.errors.operation, { operation: "explode" })), operation.body.error);
    });
  });

  describe("with adminAuth", function () {
    let nr;
    const tokens = {};
    const ROUTES = ["/twins", "/twins/plant", `/twins/${PLANT}`, "/twins/plant/pump-1", `/twins/plant/${SENSOR}/history/temperature`];

    before(async function () {
      if (!h.isBuilt()) this.skip();
      nr = await startPopulated(undefined, withAuth); // HTTP-in routes are not behind adminAuth
      tokens.admin = await h.getToken(nr.url, "admin", "admin-pw");
      // h.getToken asks for scope "*", which Node-RED only grants to users holding "*".
      tokens.viewer = await tokenFor(nr.url, "viewer", "viewer-pw", "read");
      tokens.flowsonly = await tokenFor(nr.url, "flowsonly", "flows-pw", "flows.read");
      // An empty scope asks for all of the user's permissions (a scope is one string).
      tokens.operator = await tokenFor(nr.url, "operator", "operator-pw", "");
    });
    afterEach(function () {
      h.printLogsIfFailed(this.currentTest, nr);
    });
    after(() => nr && nr.stop());

    it("refuses every /twins route without a token (401)", async () => {
      for (const p of ROUTES) {
        const res = await h.request(nr.url, { path: p });
        assert.equal(res.status, 401, `${p}: ${res.status} ${res.text}`);
      }
      const bad = await h.request(nr.url, { path: "/twins", token: "not-a-token" });
      assert.equal(bad.status, 401);
    });

    it("answers every /twins route with an admin token (200)", async () => {
      for (const p of ROUTES) {
        const res = await h.request(nr.url, { path: p, token: tokens.admin });
        assert.equal(res.status, 200, `${p}: ${res.status} ${res.text}`);
      }
      const list = await h.request(nr.url, { path: "/twins/plant", token: tokens.admin });
      assert.equal(list.body.total, 4);
    });

    it("lets a user with permission \"read\" read", async () => {
      for (const p of ROUTES) {
        const res = await h.request(nr.url, { path: p, token: tokens.viewer });
        assert.equal(res.status, 200, `${p}: ${res.status} ${res.text}`);
      }
      const doc = await h.request(nr.url, { path: "/twins/plant/pump-1", token: tokens.viewer });
      assert.equal(doc.body.id, "pump-1");
    });

    it("lets twins.write set desired values but not migrate the registry, which takes twins.admin", async () => {
      const desired = await h.request(nr.url, { method: "POST", path: "/twins/plant/pump-1/desired", body: { speed: 900 }, token: tokens.operator });
      assert.notEqual(desired.status, 401, `desired as operator: ${desired.status} ${desired.text}`);
      // With replace, a migration deletes what its target holds: more than setting a value.
      const migrate = await h.request(nr.url, { method: "POST", path: "/twin-registry/plant/migrate", body: { to: "redis", replace: true }, token: tokens.operator });
      assert.equal(migrate.status, 401, `migrate as operator: ${migrate.status} ${migrate.text}`);
      const asAdmin = await h.request(nr.url, { method: "POST", path: "/twin-registry/plant/migrate", body: {}, token: tokens.admin });
      assert.equal(asAdmin.status, 400, `migrate as admin, no target: ${asAdmin.status} ${asAdmin.text}`);
      assert.equal(asAdmin.body.code, "invalid-body");
    });

    it("refuses a user whose permissions lack twins.read", async () => {
      const flowsRes = await h.request(nr.url, { path: "/flows", token: tokens.flowsonly });
      assert.equal(flowsRes.status, 200, "the token itself is valid");
      for (const p of ROUTES) {
        const res = await h.request(nr.url, { path: p, token: tokens.flowsonly });
        // Node-RED's needsPermission answers 401 (not 403) when the scope lacks the permission.
        assert.equal(res.status, 401, `${p}: ${res.status} ${res.text}`);
      }
    });
  });
});
