"use strict";
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { helper, nodes, flow, exchange, waitFor, holdFsyncs } = require("./support");

const PUMP = JSON.stringify({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 5 },
    },
  },
});

const plain = (v) => JSON.parse(JSON.stringify(v));

function twinFlow(config = {}, registryConfig = {}) {
  return flow([{ id: "t", type: "twin", registry: "reg", operation: "msg", twinId: "", twinIdType: "str", wires: [["out"]], ...config }, { id: "out", type: "helper" }], registryConfig);
}

const load = (f) => helper.load([nodes.registry, nodes.twin, nodes.catch], f);
const send = (msg) => exchange("t", "out", msg);

describe("twin node", function () {
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
  });

  beforeEach(function (done) {
    helper.startServer(done);
  });

  it("creates a twin and emits its document, keeping the message's other properties", async function () {
    await load(twinFlow());
    const r = await send({ operation: "create", twinId: "pump-07", payload: { attributes: { site: "plant-1" } }, correlation: "abc" });
    assert.equal(r.kind, "ok");
    assert.equal(r.msg.correlation, "abc");
    assert.equal(r.msg.twinId, "pump-07");
    const doc = plain(r.msg.payload);
    assert.equal(doc.id, "pump-07");
    assert.equal(doc.version, 1);
    assert.deepEqual(doc.attributes, { site: "plant-1" });
    assert.deepEqual(doc.connectivity, { online: false, lastSeen: null });
  });

  it("shows its own last result in its status (what it did, or the error code), not the registry's size, and never a twin id", async function () {
    await load(twinFlow());
    const t = helper.getNode("t");
    const shown = [];
    const status = t.status;
    t.status = function (s) {
      shown.push(s);
      return status.call(this, s);
    };
    assert.equal((await send({ operation: "create", twinId: "pump-07", payload: {} })).kind, "ok");
    await waitFor(() => shown.some((s) => s.text === "twin.status.create"), "the create shown");
    assert.equal((await send({ operation: "create", twinId: "pump-07", payload: {} })).kind, "error");
    await waitFor(() => shown.length && shown[shown.length - 1].fill === "red", "the refused create shown");
    assert.equal(shown[shown.length - 1].text, "exists");
    assert.ok(!shown.some((s) => /twin-registry\.status/.test(s.text || "")), JSON.stringify(shown));
    assert.ok(!JSON.stringify(shown).includes("pump-07"), "a status reaches users who may not read twins");
  });

  it("takes the twin id from the node, then msg.twinId, then msg.payload.id", async function () {
    await load(twinFlow({ operation: "upsert", twinId: "device.name", twinIdType: "msg" }));
    let r = await send({ device: { name: "from-typed-input" }, twinId: "ignored" });
    assert.equal(r.msg.payload.id, "from-typed-input");
    await helper.unload();
    await load(twinFlow({ operation: "upsert" }));
    r = await send({ twinId: "from-msg", payload: { id: "from-payload" } });
    assert.equal(r.msg.payload.id, "from-msg");
    r = await send({ payload: { id: "from-payload" } });
    assert.equal(r.msg.payload.id, "from-payload");
    assert.equal(r.msg.created, true);
  });

  it("fails create when the twin exists, and the twin is unchanged", async function () {
    await load(twinFlow());
    await send({ operation: "create", twinId: "a", payload: { attributes: { x: 1 } } });
    const r = await send({ operation: "create", twinId: "a", payload: { attributes: { x: 2 } } });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /errors\.exists/);
    const got = await send({ operation: "get", twinId: "a" });
    assert.deepEqual(plain(got.msg.payload.attributes), { x: 1 });
  });

  it("updates attributes as a JSON merge patch and steps the version", async function () {
    await load(twinFlow());
    await send({ operation: "create", twinId: "a", payload: { attributes: { site: "p1", tags: { a: 1, b: 2 } } } });
    const r = await send({ operation: "update", twinId: "a", payload: { site: null, tags: { b: null, c: 3 } } });
    assert.equal(r.kind, "ok");
    assert.deepEqual(plain(r.msg.payload.attributes), { tags: { a: 1, c: 3 } });
    assert.equal(r.msg.payload.version, 2);
  });

  it("refuses a change made against an old version (msg.ifVersion) and names the current one", async function () {
    await load(twinFlow());
    await send({ operation: "create", twinId: "a" });
    await send({ operation: "update", twinId: "a", payload: { n: 1 } });
    const r = await send({ operation: "update", twinId: "a", ifVersion: 1, payload: { n: 2 } });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /errors\.conflict/);
    const ok = await send({ operation: "update", twinId: "a", ifVersion: 2, payload: { n: 3 } });
    assert.equal(ok.kind, "ok");
    assert.equal(ok.msg.payload.attributes.n, 3);
  });

  it("deletes a twin, emitting its last document; a later get fails with not found", async function () {
    await load(twinFlow());
    await send({ operation: "create", twinId: "a" });
    const r = await send({ operation: "delete", twinId: "a" });
    assert.equal(r.msg.payload.id, "a");
    const got = await send({ operation: "get", twinId: "a" });
    assert.equal(got.kind, "error");
    assert.match(got.msg.error.message, /errors\.not-found/);
  });

  it("lists twins sorted by id with a filter and paging", async function () {
    await load(twinFlow({}, { models: PUMP }));
    for (const id of ["c", "a", "b"]) await send({ operation: "create", twinId: id, payload: { model: "pump" } });
    await send({ operation: "create", twinId: "free" });
    const r = await send({ operation: "list", payload: { model: "pump", limit: 2, offset: 1 } });
    assert.equal(r.msg.total, 3);
    assert.deepEqual(r.msg.payload.map((t) => t.id), ["b", "c"]);
    assert.equal(r.msg.payload[0].model, "pump");
  });

  it("checks values against the twin's model and names twin, property and rule", async function () {
    await load(twinFlow({ model: "pump" }, { models: PUMP }));
    let r = await send({ operation: "create", twinId: "p1", payload: { reported: { temperature: 500 } } });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /errors\.invalid-value/);
    r = await send({ operation: "create", twinId: "p1", payload: { reported: { temperature: 50 }, desired: { rpm: 1500 } } });
    assert.equal(r.kind, "ok");
    assert.equal(r.msg.payload.model, "pump");
    assert.deepEqual(plain(r.msg.payload.delta), { rpm: 1500 });
    r = await send({ operation: "create", twinId: "p2", payload: { model: "nope" } });
    assert.match(r.msg.error.message, /errors\.unknown-model/);
  });

  it("accepts objects built in a Function node (another JavaScript realm)", async function () {
    await load(twinFlow());
    const payload = require("vm").runInNewContext('({ attributes: { site: "p1", tags: { a: 1 } }, reported: { t: 21.5 } })');
    const r = await send({ operation: "create", twinId: "fn", payload });
    assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
    assert.deepEqual(plain(r.msg.payload.attributes), { site: "p1", tags: { a: 1 } });
    const date = require("vm").runInNewContext("({ when: new Date(0) })");
    const bad = await send({ operation: "update", twinId: "fn", payload: date });
    assert.equal(bad.kind, "error", "a Date from another realm is still not JSON data");
  });

  it("fails bad input with an error and never pollutes Object.prototype", async function () {
    await load(twinFlow());
    await send({ operation: "create", twinId: "a", payload: { attributes: { ok: 1 } } });
    let deep = 1;
    for (let i = 0; i < 10000; i++) deep = { d: deep };
    const cases = [
      { operation: "update", twinId: "a", payload: deep },
      { operation: "create", twinId: "bad id/with slash" },
      { operation: "create", twinId: "__proto__" },
      { operation: "update", twinId: "a", payload: "not an object" },
      { operation: "update", twinId: "a", payload: JSON.parse('{"__proto__": {"polluted": true}}') },
      { operation: "update", twinId: "a", payload: { deep: JSON.parse('{"x": {"constructor": {"prototype": {"polluted": true}}}}') } },
      { operation: "update", twinId: "a", payload: { n: NaN } },
      { operation: "update", twinId: "a", payload: { big: "x".repeat(1024 * 1024) } },
      { operation: "create", twinId: "b", payload: { attributes: { d: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } } },
      { operation: "explode", twinId: "a" },
      { operation: "get" },
    ];
    for (const msg of cases) {
      const r = await send(msg);
      assert.equal(r.kind, "error", `expected an error for ${JSON.stringify(msg).slice(0, 80)}`);
    }
    assert.equal({}.polluted, undefined);
    const got = await send({ operation: "get", twinId: "a" });
    assert.deepEqual(plain(got.msg.payload.attributes), { ok: 1 });
    assert.equal(got.msg.payload.version, 1);
  });

  it("refuses every message clearly when its registry could not start", async function () {
    await load(twinFlow({}, { models: "{ not json" }));
    const r = await send({ operation: "get", twinId: "a" });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /errors\.store-unavailable/);
  });

  it("keeps twins across a redeploy in batched mode under the user directory", async function () {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-node-"));
    helper.settings({ userDir });
    try {
      await load(twinFlow({}, { persistence: "batched" }));
      await send({ operation: "create", twinId: "kept", payload: { attributes: { n: 1 } } });
      await helper.unload();
      assert.ok(fs.existsSync(path.join(userDir, "twinwire", "reg")), "store directory under the user directory");
      await load(twinFlow({}, { persistence: "batched" }));
      const r = await send({ operation: "get", twinId: "kept" });
      assert.equal(r.kind, "ok");
      assert.equal(r.msg.payload.attributes.n, 1);
    } finally {
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });

  it("completes a message in strict mode only after its change is on disk: nothing is sent while the fsync is held back", async function () {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-node-"));
    helper.settings({ userDir });
    try {
      await load(twinFlow({}, { persistence: "strict" }));
      // Hold the store's fdatasync until the test lets it go.
      const fsyncs = holdFsyncs(helper.getNode("reg").use());
      const out = [];
      helper.getNode("out").on("input", (m) => out.push(m));
      helper.getNode("t").receive({ operation: "create", twinId: "durable" });
      await waitFor(() => fsyncs.held > 0, "the journal write to reach its fsync");
      assert.equal(out.length, 0, "the message was sent before its change was fsynced");
      const dir = path.join(userDir, "twinwire", "reg");
      const journal = fs.readdirSync(dir).filter((f) => f.startsWith("journal-")).map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("");
      assert.match(journal, /"i":"durable"/, "written, waiting for its fsync");
      fsyncs.release();
      await waitFor(() => out.length === 1, "the message once the fsync completed");
      assert.equal(out[0].payload.id, "durable");
    } finally {
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });

  it("shows a red 'store error' on every node of the registry while the disk refuses writes, and green again once it heals", async function () {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-node-"));
    helper.settings({ userDir });
    try {
      await load(twinFlow({}, { persistence: "strict" }));
      const t = helper.getNode("t");
      const shown = [];
      const status = t.status;
      t.status = function (s) {
        shown.push(s);
        return status.call(this, s);
      };
      const store = helper.getNode("reg").use().store;
      store.retryMs = 20;
      const io = store.io;
      let full = true;
      store.io = {
        write: (fd, buffer, offset, length, position, cb) =>
          full ? process.nextTick(cb, Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), 0) : io.write(fd, buffer, offset, length, position, cb),
        fdatasync: io.fdatasync,
        ftruncate: io.ftruncate,
      };
      const r = await send({ operation: "create", twinId: "a" });
      assert.equal(r.kind, "error");
      assert.match(r.msg.error.message, /store-unavailable/);
      await waitFor(() => shown.some((s) => s.fill === "red" && /store-error/.test(s.text)), "a red store error status");
      full = false;
      await waitFor(() => shown.length && shown[shown.length - 1].fill === "green", "the status to turn green once the disk heals");
    } finally {
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });
});
