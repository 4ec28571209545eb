"use strict";
// The twin node's Output setting: an update sends what changed (the attributes change event) or
// the whole twin document; a node saved without the setting sends the document, as before it existed.
const assert = require("node:assert/strict");
const { helper, nodes, flow, exchange } = require("./support");

const plain = (v) => JSON.parse(JSON.stringify(v));

function twinFlow(config = {}) {
  return flow([{ id: "t", type: "twin", registry: "reg", operation: "msg", twinId: "", twinIdType: "str", wires: [["out"]], ...config }, { id: "out", type: "helper" }]);
}

const load = (f) => helper.load([nodes.registry, nodes.twin, nodes.catch], f);
const send = (msg) => exchange("t", "out", msg);
const registry = () => helper.getNode("reg").use();

describe("twin node: what an update sends (Output)", function () {
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  beforeEach(function (done) {
    helper.startServer(done);
  });

  it("output event: an update sends the attributes that changed, each with its value and the one before, and keeps the message's other properties", async function () {
    await load(twinFlow({ output: "event" }));
    await send({ operation: "create", twinId: "pump-07", payload: { attributes: { site: "plant-1", loc: { bay: 1, row: 2 }, serial: "S1", owner: "ops" } } });
    const r = await send({ operation: "update", twinId: "pump-07", payload: { site: "plant-2", loc: { bay: 3 }, serial: null, owner: "ops", note: "new" }, correlation: "c1" });
    assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
    assert.equal(r.msg.correlation, "c1");
    assert.equal(r.msg.twinId, "pump-07");
    const event = plain(r.msg.payload);
    const ts = event.ts;
    assert.equal(typeof ts, "number");
    assert.deepEqual(event, {
      twinId: "pump-07",
      version: 2,
      section: "attributes",
      ts,
      // owner was set to what it was: not a change
      changes: {
        site: { value: "plant-2", previous: "plant-1", ts },
        loc: { value: { bay: 3, row: 2 }, previous: { bay: 1, row: 2 }, ts },
        serial: { value: null, previous: "S1", ts },
        note: { value: "new", previous: null, ts },
      },
    });
    assert.equal(registry().get("pump-07").updated, ts, "the event's time is the change's");
  });

  it("output event: the event is the message's own copy, so a flow that changes it changes neither the twin nor what a watcher of the registry got", async function () {
    await load(twinFlow({ output: "event" }));
    await send({ operation: "create", twinId: "a", payload: { attributes: { loc: { bay: 1 } } } });
    const watched = [];
    registry().subscribe((e) => watched.push(e));
    const r = await send({ operation: "update", twinId: "a", payload: { loc: { bay: 2, tags: ["x"] } } });
    assert.equal(r.kind, "ok");
    const change = r.msg.payload.changes.loc;
    change.value.bay = 99;
    change.value.tags.push("y");
    change.previous.bay = 98;
    r.msg.payload.changes.extra = { value: 1, previous: null, ts: 0 };
    assert.deepEqual(plain(registry().get("a").attributes), { loc: { bay: 2, tags: ["x"] } });
    assert.equal(watched.length, 1);
    assert.deepEqual(plain(watched[0].changes), { loc: { value: { bay: 2, tags: ["x"] }, previous: { bay: 1 }, ts: watched[0].ts } });
    const again = await send({ operation: "update", twinId: "a", payload: { loc: { bay: 3 } } });
    assert.deepEqual(plain(again.msg.payload.changes.loc.previous), { bay: 2, tags: ["x"] }, "the twin kept what the update made, not the flow's edit");
  });

  it("output event: the event and each change in it are plain objects, as a JSON object is (a function node that checks for one, or copies it, sees no class)", async function () {
    await load(twinFlow({ output: "event" }));
    await send({ operation: "create", twinId: "a", payload: { attributes: { site: "plant-1" } } });
    for (const payload of [{ site: "plant-2" }, { site: "plant-2" }]) {
      // The second update changes nothing: its event comes from another path.
      const r = await send({ operation: "update", twinId: "a", payload });
      assert.equal(r.kind, "ok");
      assert.equal(Object.getPrototypeOf(r.msg.payload), Object.prototype);
      assert.equal(r.msg.payload.constructor, Object);
      assert.deepEqual(Object.keys(r.msg.payload), ["twinId", "version", "section", "ts", "changes"]);
      for (const change of Object.values(r.msg.payload.changes)) {
        assert.equal(Object.getPrototypeOf(change), Object.prototype);
        assert.deepEqual(Object.keys(change), ["value", "previous", "ts"]);
      }
    }
  });

  it("output event: an update that changes nothing writes nothing and sends the twin's version with no changes", async function () {
    await load(twinFlow({ output: "event" }));
    await send({ operation: "create", twinId: "a", payload: { attributes: { site: "p1" } } });
    const r = await send({ operation: "update", twinId: "a", payload: { site: "p1", gone: null } });
    assert.equal(r.kind, "ok");
    assert.equal(r.msg.payload.version, 1);
    assert.equal(r.msg.payload.section, "attributes");
    assert.deepEqual(plain(r.msg.payload.changes), {});
    assert.equal(registry().get("a").version, 1);
  });

  it("output event: a refused update fails the message as before (a version conflict names the current version)", async function () {
    await load(twinFlow({ output: "event" }));
    await send({ operation: "create", twinId: "a" });
    const r = await send({ operation: "update", twinId: "a", ifVersion: 5, payload: { n: 1 } });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /errors\.conflict/);
    const bad = await send({ operation: "update", twinId: "a", payload: "text" });
    assert.equal(bad.kind, "error");
    assert.match(bad.msg.error.message, /errors\.invalid-patch/);
    assert.equal(registry().get("a").version, 1);
  });

  it("output event: create, upsert, get and delete still send the twin document", async function () {
    await load(twinFlow({ output: "event" }));
    let r = await send({ operation: "create", twinId: "a", payload: { attributes: { site: "p1" } } });
    assert.equal(r.msg.payload.id, "a");
    assert.deepEqual(plain(r.msg.payload.attributes), { site: "p1" });
    r = await send({ operation: "upsert", twinId: "a", payload: { attributes: { site: "p2" } } });
    assert.equal(r.msg.created, false);
    assert.deepEqual(plain(r.msg.payload.attributes), { site: "p2" });
    assert.equal(r.msg.payload.version, 2);
    r = await send({ operation: "upsert", twinId: "b", payload: { attributes: { site: "p3" } } });
    assert.equal(r.msg.created, true);
    assert.equal(r.msg.payload.id, "b");
    r = await send({ operation: "get", twinId: "a" });
    assert.deepEqual(plain(r.msg.payload.attributes), { site: "p2" });
    r = await send({ operation: "delete", twinId: "a" });
    assert.equal(r.msg.payload.id, "a");
    assert.equal(r.msg.payload.version, 2);
  });

  it("a node saved without Output sends the whole twin document on update, as it did before the setting existed", async function () {
    await load(twinFlow({ operation: "update" }));
    registry().create("a", { attributes: { site: "p1" }, reported: { t: 20 } });
    const r = await send({ twinId: "a", payload: { site: "p2" } });
    assert.equal(r.kind, "ok");
    const doc = plain(r.msg.payload);
    assert.equal(doc.id, "a");
    assert.equal(doc.version, 2);
    assert.deepEqual(doc.attributes, { site: "p2" });
    assert.deepEqual(doc.reported, { t: 20 });
  });

  it("output twin: an update sends the whole twin document", async function () {
    await load(twinFlow({ operation: "update", output: "twin" }));
    registry().create("a", { attributes: { site: "p1" } });
    const r = await send({ twinId: "a", payload: { site: "p2" } });
    assert.equal(r.msg.payload.id, "a");
    assert.deepEqual(plain(r.msg.payload.attributes), { site: "p2" });
  });

  it("the document limit counts the attributes the twin has after each update: deleted attributes free their room, and a patch past the limit is still refused", async function () {
    await load(flow([{ id: "t", type: "twin", registry: "reg", operation: "update", twinId: "", twinIdType: "str", output: "event", wires: [["out"]] }, { id: "out", type: "helper" }], { maxDocumentKb: 1 }));
    registry().create("a", { attributes: { site: "p1", loc: { bay: 1 } } });
    const update = (payload) => send({ twinId: "a", payload });
    assert.equal((await update({ big: "x".repeat(900) })).kind, "ok");
    assert.equal((await update({ more: "y".repeat(200) })).kind, "error", "900 + 200 characters are past 1 KB");
    assert.equal((await update({ big: null, loc: { shelf: "s".repeat(100) } })).kind, "ok");
    assert.equal((await update({ loc: { shelf: null }, more: "y".repeat(800) })).kind, "ok", "the room the deleted attributes took is free again");
    const r = await update({ loc: { shelf: "s".repeat(200) } });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /errors\.too-large/);
    assert.deepEqual(Object.keys(registry().get("a").attributes).sort(), ["loc", "more", "site"]);
  });

  it("output event on a twin another instance leads: the update is made by the leader and the message gets the event it answers with", async function () {
    await load(twinFlow({ operation: "update", output: "event" }));
    const reg = registry();
    reg.create("a", { attributes: { site: "p1" } });
    // Stands in for a shared store: every twin is led elsewhere, and the leader (this same
    // registry, as data over the wire) runs what it is sent.
    const sent = [];
    reg.leads = () => false;
    reg.store.forward = (op) => {
      sent.push(op.op);
      return reg.runDurable(JSON.parse(JSON.stringify(op))).then((result) => JSON.parse(JSON.stringify(result)));
    };
    const r = await send({ twinId: "a", payload: { site: "p2" } });
    assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
    assert.deepEqual(sent, ["changeAttributes"]);
    assert.equal(r.msg.twinId, "a");
    assert.deepEqual(plain(r.msg.payload.changes), { site: { value: "p2", previous: "p1", ts: r.msg.payload.ts } });
    assert.equal(r.msg.payload.version, 2);
  });
});
