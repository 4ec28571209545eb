"use strict";
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { helper, nodes, flow, exchange } = require("./support");

const sensorNode = require(path.join(__dirname, "..", "..", "nodes", "twin-sensor.js"));
const completeNode = require("@node-red/nodes/core/common/24-complete.js");
const PUMP = JSON.stringify({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      pressure: { type: "number", unit: "bar", minimum: 0, maximum: 50 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true },
      mode: { type: "string", enum: ["auto", "manual", "off"] },
    },
  },
});
const plain = (v) => JSON.parse(JSON.stringify(v));

function sensorFlow(config = {}, registryConfig = {}) {
  return flow(
    [
      { id: "s", type: "twin-sensor", registry: "reg", unknown: "create", model: "", wires: [["out"]], ...config },
      { id: "out", type: "helper" },
      { id: "t", type: "twin", registry: "reg", operation: "get", wires: [["doc"]] },
      { id: "doc", type: "helper" },
      { id: "completer", type: "complete", scope: ["s"], uncaught: false, wires: [["completed"]] },
      { id: "completed", type: "helper" },
    ],
    registryConfig,
  );
}

const load = (f) => helper.load([nodes.registry, nodes.twin, sensorNode, nodes.catch, completeNode], f);
let marks = 0;
/**
 * Sends a reading and resolves with what came of it (output or error). Each message is marked, so
 * an output or error of an earlier message (one quiet() expected none of) arriving first fails.
 */
async function read(msg) {
  const mark = `read-${++marks}`;
  const r = await exchange("s", "out", { ...msg, mark });
  assert.equal(r.msg.mark, mark, `the ${r.kind === "ok" ? "output" : "error"} of an earlier message came first`);
  return r;
}
const twin = async (id) => (await exchange("t", "doc", { twinId: id })).msg.payload;

/**
 * Sends a message the node should swallow (no output, no error) and waits for it to complete:
 * the complete node's message is the marker (an output would have been sent before done(), and
 * is delivered first; a failure goes to the catch node instead).
 */
function quiet(msg) {
  const mark = `quiet-${++marks}`; // tells its completion from that of an earlier message
  return new Promise((resolve, reject) => {
    const out = helper.getNode("out");
    const errors = helper.getNode("errors");
    const completed = helper.getNode("completed");
    const stop = () => [out, errors, completed].forEach((n) => n.removeAllListeners("input"));
    const fail = (what) => (m) => {
      stop();
      reject(new Error(`expected no ${what}, got ${JSON.stringify(m.payload || m.error).slice(0, 200)}`));
    };
    out.on("input", fail("output"));
    errors.on("input", fail("error"));
    completed.on("input", (m) => {
      if (m.mark !== mark) return;
      stop();
      resolve();
    });
    helper.getNode("s").receive({ ...msg, mark });
  });
}

describe("twin-sensor node", function () {
  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  it("takes twin and property from a topic pattern and emits the change event, keeping the message", async function () {
    await load(sensorFlow({ pattern: "plant/{site}/{twin}/{property}" }));
    const r = await read({ topic: "plant/p1/pump-07/temperature", payload: 61.2, req: { id: 7 } });
    assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
    assert.equal(r.msg.twinId, "pump-07");
    assert.deepEqual(r.msg.req, { id: 7 });
    const ev = plain(r.msg.payload);
    assert.equal(ev.twinId, "pump-07");
    assert.equal(ev.section, "reported");
    assert.equal(ev.changes.temperature.value, 61.2);
    assert.equal(ev.changes.temperature.previous, null);
    const doc = await twin("pump-07");
    assert.equal(doc.reported.temperature, 61.2);
    assert.equal(doc.meta.reported.temperature.source, "plant/p1/pump-07/temperature");
    assert.equal(doc.connectivity.online, true);
  });

  it("applies an object payload as one change with one version step", async function () {
    await load(sensorFlow({ pattern: "home/+/{twin}/#" }));
    await read({ topic: "home/kitchen/th-1/state", payload: { temperature: 21.5, humidity: 40 } });
    const r = await read({ topic: "home/kitchen/th-1", payload: '{"temperature": 22, "humidity": 41}' });
    assert.equal(r.kind, "ok");
    assert.deepEqual(Object.keys(r.msg.payload.changes).sort(), ["humidity", "temperature"]);
    const doc = await twin("th-1");
    assert.equal(doc.version, 2);
    assert.deepEqual(plain(doc.reported), { temperature: 22, humidity: 41 });
  });

  it("reads the twin from config or msg.twinId, the value from a path, and a named property", async function () {
    await load(sensorFlow({ twinId: "meter-1", property: "power", value: "payload.reading.v", valueType: "msg" }));
    const r = await read({ payload: { reading: { v: 1500 } } });
    assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
    assert.equal((await twin("meter-1")).reported.power, 1500);
    await helper.unload();
    await load(sensorFlow({ property: "level" }));
    await read({ twinId: "tank-2", payload: 0.7 });
    assert.equal((await twin("tank-2")).reported.level, 0.7);
  });

  it("reads and refuses alike whether twin, value and time come from message paths and fixed text or from JSONata", async function () {
    const base = Date.now() - 60000;
    const messages = [
      { id: "pump-1", payload: { v: 1.5, ts: base } },
      { id: "pump-1", payload: { v: '{"rpm": 5, "t": 2}', ts: base + 1000 } },
      { id: "pump-1", payload: { v: "[1, 2", ts: base + 2000 } }, // not JSON
      { id: "pump-1", payload: { v: 3, ts: "yesterday" } }, // not a time
      { id: "", payload: { v: 4, ts: base + 3000 } }, // no twin
      { id: "pump-1", payload: { v: { a: 7 }, ts: "" } }, // no time: now
      { id: "pump-2", payload: { v: "21.5", ts: base } },
    ];
    const outcomes = async (config, ids) => {
      await load(sensorFlow(config));
      const out = [];
      for (const m of messages) {
        const r = await read(m);
        out.push(r.kind === "ok" ? { changes: Object.keys(r.msg.payload.changes), twinId: r.msg.twinId } : { error: r.msg.error && r.msg.error.code });
      }
      const docs = [];
      for (const id of ids) docs.push({ ...plain(await twin(id)), connectivity: null, meta: null, created: null, updated: null });
      await helper.unload();
      return { out, docs };
    };
    const fromPaths = await outcomes({ twinId: "id", twinIdType: "msg", value: "payload.v", valueType: "msg", timestamp: "payload.ts", timestampType: "msg" }, ["pump-1", "pump-2"]);
    const fromJsonata = await outcomes({ twinId: "id", twinIdType: "jsonata", value: "payload.v", valueType: "jsonata", timestamp: "payload.ts", timestampType: "jsonata" }, ["pump-1", "pump-2"]);
    assert.deepEqual(fromPaths, fromJsonata);
    assert.deepEqual(fromPaths.out.map((o) => o.error || o.changes.join(",")), ["value", "rpm,t", "invalid-reading", "invalid-time", "invalid-id", "a", "value"]);
    const fixed = await outcomes({ twinId: "pump-9", twinIdType: "str", value: "payload.v", valueType: "msg" }, ["pump-9"]);
    const fixedJsonata = await outcomes({ twinId: '"pump-9"', twinIdType: "jsonata", value: "payload.v", valueType: "msg" }, ["pump-9"]);
    assert.deepEqual(fixed, fixedJsonata);
    assert.deepEqual(fixed.out.map((o) => o.twinId || o.error), ["pump-9", "pump-9", "invalid-reading", "pump-9", "pump-9", "pump-9", "pump-9"]);
  });

  it("evaluates a JSONata value expression", async function () {
    await load(sensorFlow({ twinId: "dev", property: "t", value: "payload.sensors[name='t'].value", valueType: "jsonata" }));
    await read({ payload: { sensors: [{ name: "h", value: 1 }, { name: "t", value: 19.5 }] } });
    assert.equal((await twin("dev")).reported.t, 19.5);
  });

  it("uses the source timestamp (ms, s, ISO) and skips a reading older than the stored one", async function () {
    await load(sensorFlow({ twinId: "dev", property: "t", value: "payload.v", timestamp: "payload.ts" }));
    const base = Date.now() - 60000;
    await read({ payload: { v: 1, ts: base } });
    let doc = await twin("dev");
    assert.equal(doc.meta.reported.t.ts, base);
    await read({ payload: { v: 2, ts: Math.floor((base + 10000) / 1000) } });
    doc = await twin("dev");
    assert.equal(doc.meta.reported.t.ts, Math.floor((base + 10000) / 1000) * 1000);
    await read({ payload: { v: 3, ts: new Date(base + 20000).toISOString() } });
    await quiet({ payload: { v: 99, ts: base } });
    doc = await twin("dev");
    assert.equal(doc.reported.t, 3, "the older reading was not applied");
    assert.equal(doc.version, 3);
    await read({ payload: { v: 4, ts: new Date(base + 30000).toISOString() } }); // the marker: its own output comes first
  });

  it("says in the log, once a minute at most, when readings are skipped behind a stored reading from the future (the clock went back)", async function () {
    // A twin whose reading was stored while this machine's clock ran a day ahead (journalled then).
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-sensor-"));
    helper.settings({ userDir });
    const tomorrow = Date.now() + 24 * 3600 * 1000;
    fs.mkdirSync(path.join(userDir, "twinwire", "reg"), { recursive: true });
    const entry = { l: 1, o: "c", i: "dev", v: 1, t: tomorrow, m: null, a: {}, rv: { t: 20 }, rt: tomorrow, rs: "before" };
    fs.writeFileSync(path.join(userDir, "twinwire", "reg", "journal-0000000000000001.log"), JSON.stringify(entry) + "\n");
    try {
      await load(sensorFlow({ twinId: "dev", property: "t" }, { persistence: "strict" }));
      // Every reading now (no source time: this clock) is older than the stored one: skipped, and
      // nothing said anywhere, so the twin froze for a day with every node green.
      for (let v = 1; v <= 3; v++) await quiet({ payload: v });
      assert.equal((await twin("dev")).reported.t, 20);
      const warned = helper.log().args.map((a) => a[0]).filter((m) => m && m.level === helper.log().WARN && m.id === "reg" && /stored-ahead/.test(String(m.msg)));
      assert.equal(warned.length, 1, "one warning, not one per reading");
    } finally {
      await helper.unload();
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });

  it("does not take the timestamp inside a reading object for a property", async function () {
    await load(sensorFlow({ twinId: "dev", timestamp: "payload.ts" }));
    const ts = Date.now() - 1000;
    await read({ payload: { t: 1, h: 2, ts } });
    const doc = await twin("dev");
    assert.deepEqual(plain(doc.reported), { t: 1, h: 2 });
    assert.equal(doc.meta.reported.t.ts, ts);
  });

  it("refuses timestamps in the future, before 1970 or unreadable, and the twin is unchanged", async function () {
    await load(sensorFlow({ twinId: "dev", property: "t", value: "payload.v", timestamp: "payload.ts" }));
    await read({ payload: { v: 1 } });
    for (const ts of [Date.now() + 24 * 3600e3, -5, "yesterday", true]) {
      const r = await read({ payload: { v: 2, ts } });
      assert.equal(r.kind, "error", `ts ${ts}`);
      assert.match(r.msg.error.message, /invalid-time/);
    }
    assert.equal((await twin("dev")).reported.t, 1);
  });

  it("reads numeric text as numbers by the model, scales, offsets and converts units", async function () {
    await load(sensorFlow({ pattern: "{twin}/{property}", unknown: "create", model: "pump", unit: "degF" }, { models: PUMP }));
    await read({ topic: "p1/temperature", payload: "212" });
    assert.equal((await twin("p1")).reported.temperature, 100);
    await helper.unload();
    await load(sensorFlow({ pattern: "{twin}/{property}", model: "pump", unit: "psi", scale: 10, offset: 0 }, { models: PUMP }));
    await read({ topic: "p2/pressure", payload: 1.450377 });
    const bar = (await twin("p2")).reported.pressure;
    assert.ok(Math.abs(bar - 1) < 1e-4, `14.50377 psi is 1 bar, got ${bar}`);
  });

  it("keeps text as text for twins without a model when asked to", async function () {
    await load(sensorFlow({ twinId: "free", property: "code", parseNumbers: false }));
    await read({ payload: "0042" });
    assert.equal((await twin("free")).reported.code, "0042");
    await helper.unload();
    await load(sensorFlow({ twinId: "free2", property: "n" }));
    await read({ payload: "21.5" });
    assert.equal((await twin("free2")).reported.n, 21.5);
  });

  it("ignores readings inside the deadband but keeps the twin alive", async function () {
    await load(sensorFlow({ twinId: "dev", property: "t", deadband: "0.5" }));
    await read({ payload: 20 });
    let doc = await twin("dev");
    const firstSeen = doc.connectivity.lastSeen;
    // The device said it went away; a reading inside the deadband proves it is back.
    helper.getNode("reg").use().setOnline("dev", false);
    assert.equal((await twin("dev")).connectivity.online, false);
    while (Date.now() <= firstSeen) await new Promise((r) => setTimeout(r, 2));
    await quiet({ payload: 20.3 });
    doc = await twin("dev");
    assert.equal(doc.version, 1, "no version step inside the deadband");
    assert.equal(doc.reported.t, 20);
    assert.equal(doc.connectivity.online, true, "the twin is alive again");
    assert.ok(doc.connectivity.lastSeen > firstSeen, `lastSeen moved on (${firstSeen} -> ${doc.connectivity.lastSeen})`);
    const r = await read({ payload: 20.6 });
    assert.equal(r.kind, "ok");
    doc = await twin("dev");
    assert.equal(doc.version, 2);
    await helper.unload();
    await load(sensorFlow({ twinId: "pct", property: "p", deadband: "10%" }));
    await read({ payload: 100 });
    await quiet({ payload: 109 });
    assert.equal((await read({ payload: 111 })).kind, "ok");
  });

  it("rejects readings for unknown twins unless told to create them with a model", async function () {
    await load(sensorFlow({ pattern: "{twin}/{property}", unknown: "reject" }, { models: PUMP }));
    const r = await read({ topic: "ghost/temperature", payload: 1 });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /errors\.not-found/);
    await helper.unload();
    await load(sensorFlow({ pattern: "{twin}/{property}", unknown: "create", model: "pump" }, { models: PUMP }));
    const bad = await read({ topic: "newpump/temperature", payload: 900 });
    assert.equal(bad.kind, "error");
    assert.match(bad.msg.error.message, /invalid-value/);
    const missing = await exchange("t", "doc", { twinId: "newpump" });
    assert.equal(missing.kind, "error", "a refused first reading creates no twin");
    await read({ topic: "newpump/temperature", payload: 90 });
    const doc = await twin("newpump");
    assert.equal(doc.model, "pump");
  });

  it("emits the whole twin when asked", async function () {
    await load(sensorFlow({ twinId: "dev", property: "t", output: "twin" }));
    const r = await read({ payload: 5 });
    assert.equal(r.msg.payload.id, "dev");
    assert.equal(r.msg.payload.reported.t, 5);
  });

  it("fails every kind of bad input with a clear error and leaves stored state unchanged", async function () {
    await load(sensorFlow({ pattern: "plant/{twin}/{property}", unknown: "create", model: "pump" }, { models: PUMP }));
    await read({ topic: "plant/p1/temperature", payload: 50 });
    let deep = 1;
    for (let i = 0; i < 10000; i++) deep = { d: deep };
    const cases = [
      [{ topic: "plant/p1/temperature", payload: "{not json" }, /invalid-reading/],
      [{ topic: "plant/p1/temperature", payload: NaN }, /invalid-value/],
      [{ topic: "plant/p1/temperature", payload: Infinity }, /invalid-value/],
      [{ topic: "plant/p1/temperature", payload: "warm" }, /invalid-value/],
      [{ topic: "plant/p1/temperature", payload: 500 }, /invalid-value/],
      [{ topic: "plant/p1/mode", payload: "turbo" }, /invalid-value/],
      [{ topic: "plant/p1/unknownprop", payload: 1 }, /not-in-model/],
      [{ topic: "plant/p1/temperature", payload: "x".repeat(1024 * 1024) }, /invalid-value|too-large/],
      [{ topic: "plant/p1/temperature", payload: deep }, /too-deep|invalid-value/],
      [{ topic: "plant/__proto__/temperature", payload: 1 }, /invalid-id/],
      [{ topic: "plant/p1/__proto__", payload: 1 }, /forbidden-key/],
      [{ topic: "plant/p1/constructor", payload: 1 }, /forbidden-key/],
      [{ topic: "plant/p1", payload: JSON.parse('{"__proto__": {"polluted": 1}}') }, /topic-mismatch/],
      [{ topic: "other/p1/temperature", payload: 1 }, /topic-mismatch/],
      [{ topic: "plant/bad id!/temperature", payload: 1 }, /invalid-id/],
      [{ topic: "plant/p1/temperature" }, /invalid-reading/],
    ];
    for (const [msg, expected] of cases) {
      const r = await read(msg);
      assert.equal(r.kind, "error", `expected an error for ${String(msg.topic)} ${String(msg.payload).slice(0, 30)}`);
      assert.match(r.msg.error.message, expected);
    }
    assert.equal({}.polluted, undefined);
    const doc = await twin("p1");
    assert.equal(doc.version, 1);
    assert.deepEqual(plain(doc.reported), { temperature: 50 });
  });

  it("refuses a multi-property reading whole when one property is invalid", async function () {
    await load(sensorFlow({ twinId: "p", unknown: "create", model: "pump" }, { models: PUMP }));
    await read({ payload: { temperature: 20, rpm: 100 } });
    const r = await read({ payload: { temperature: 21, rpm: -1 } });
    assert.equal(r.kind, "error");
    const doc = await twin("p");
    assert.deepEqual(plain(doc.reported), { temperature: 20, rpm: 100 });
  });

  it("shows a configuration error as a red status instead of crashing", async function () {
    await load(sensorFlow({ pattern: "a/#/b" }));
    const r = await read({ topic: "a/x/b", payload: 1 });
    assert.equal(r.kind, "error");
    assert.match(r.msg.error.message, /invalid-pattern/);
  });
});
