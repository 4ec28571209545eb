"use strict";
// The device link's pure parts: topics and payloads, the state throttle, the outgoing queue,
// reconnect delays, the shared reading path, and the DeviceLink rules with a fake broker.
const assert = require("node:assert/strict");
const lib = (p) => require(`../../nodes/lib/core/${p}`);
const { TwinRegistry } = lib("registry");
const { parseModels } = lib("models");
const { applyReading } = lib("reading");
const protocol = lib("link/protocol");
const { LinkTopics, rootProblem, isGroupName, readBody, readReport, readGet, readStatus, tokenOf } = protocol;
const { Throttle } = lib("throttle");
const { OutgoingQueue } = lib("link/queue");
const { backoffDelay } = lib("link/backoff");
const { DeviceLink } = lib("link/link");
const { classify, urlProblem } = lib("link/connection");

const PUMP = parseModels({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 5 },
      mode: { type: "string", enum: ["auto", "manual", "off"], writable: true },
    },
  },
});

const plain = (v) => JSON.parse(JSON.stringify(v));

function throwsTwin(fn, code, params = {}) {
  assert.throws(fn, (err) => {
    assert.equal(err.name, "TwinError", err && err.stack);
    assert.equal(err.code, code, err.message);
    for (const [k, v] of Object.entries(params)) assert.equal(err.params[k], v, `param ${k}`);
    return true;
  });
}

/** Timers the test fires by hand: set() returns a handle, run() fires what is due. */
function manualTime(start = 1000) {
  let now = start;
  const timers = new Map();
  let seq = 0;
  return {
    clock: () => now,
    timers: {
      set: (fn, ms) => {
        timers.set(++seq, { fn, at: now + ms });
        return seq;
      },
      clear: (h) => timers.delete(h),
    },
    pending: () => timers.size,
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = end;
    },
  };
}

describe("link protocol", function () {
  it("checks the topic root", function () {
    assert.equal(rootProblem("twins"), null);
    assert.equal(rootProblem("site-a/twins"), null);
    assert.equal(rootProblem(""), "empty");
    assert.equal(rootProblem(undefined), "empty");
    assert.equal(rootProblem("a/+/b"), "wildcard");
    assert.equal(rootProblem("a/#"), "wildcard");
    assert.equal(rootProblem("$aws/things"), "dollar");
    assert.equal(rootProblem("/twins"), "empty-level");
    assert.equal(rootProblem("twins/"), "empty-level");
    assert.equal(rootProblem("a//b"), "empty-level");
    assert.equal(rootProblem("x".repeat(201)), "too-long");
    assert.equal(rootProblem("a\u0000b"), "nul");
    throwsTwin(() => new LinkTopics("a/+"), "invalid-option");
    assert.ok(isGroupName("nodered-1"));
    assert.ok(!isGroupName("a/b"));
    assert.ok(!isGroupName(""));
    assert.ok(!isGroupName("a+"));
  });

  it("names and parses topics under a root", function () {
    const t = new LinkTopics("plant/twins");
    assert.deepEqual(t.parse("plant/twins/pump-07/reported"), { twinId: "pump-07", kind: "reported" });
    assert.deepEqual(t.parse("plant/twins/pump-07/get"), { twinId: "pump-07", kind: "get" });
    assert.deepEqual(t.parse("plant/twins/pump-07/status"), { twinId: "pump-07", kind: "status" });
    for (const topic of ["plant/twins/pump-07/reported/accepted", "plant/twins/pump-07/delta", "plant/twins/pump-07/state",
      "plant/twins//reported", "plant/twins/reported", "plant/twinsx/p/reported", "other/p/reported", "plant/twins/p/reported/"]) {
      assert.equal(t.parse(topic), null, topic);
    }
    assert.equal(t.reply("p", "reported", true), "plant/twins/p/reported/accepted");
    assert.equal(t.reply("p", "get", false), "plant/twins/p/get/rejected");
    assert.equal(t.delta("p"), "plant/twins/p/delta");
    assert.equal(t.state("p"), "plant/twins/p/state");
    assert.deepEqual(t.subscriptions(), [
      { filter: "plant/twins/+/reported", shared: false },
      { filter: "plant/twins/+/get", shared: false },
      { filter: "plant/twins/+/status", shared: false },
    ]);
    assert.deepEqual(t.subscriptions("g1").map((s) => s.filter), ["$share/g1/plant/twins/+/reported", "$share/g1/plant/twins/+/get", "plant/twins/+/status"]);
    // A topic arriving through a shared subscription carries no $share prefix.
    assert.equal(t.parse("$share/g1/plant/twins/p/reported"), null);
  });

  it("reads request bodies: a JSON object, empty only where allowed, bounded", function () {
    assert.deepEqual(readBody("p", Buffer.from(' {"a":1} '), 100, false), { a: 1 });
    assert.equal(readBody("p", Buffer.from("  "), 100, true), null);
    throwsTwin(() => readBody("p", Buffer.from(""), 100, false), "invalid-reading", { twinId: "p", property: "payload" });
    throwsTwin(() => readBody("p", "{nope", 100, false), "invalid-reading", { rule: "not JSON" });
    throwsTwin(() => readBody("p", "[1]", 100, false), "invalid-reading", { rule: "a JSON object" });
    throwsTwin(() => readBody("p", "null", 100, false), "invalid-reading");
    throwsTwin(() => readBody("p", "7", 100, false), "invalid-reading");
    throwsTwin(() => readBody("p", JSON.stringify({ a: "x".repeat(200) }), 100, false), "too-large", { limit: 100 });
  });

  it("reads a report: properties apart from ts, version and clientToken", function () {
    const r = readReport("p", { temperature: 20, ts: 1764130000, version: 3, clientToken: "c" });
    assert.deepEqual(plain(r.values), { temperature: 20 });
    assert.ok(lib("json").inheritsNothing(r.values), "the values inherit nothing: a property named like an Object method is just a property");
    assert.equal(r.ts, 1764130000000, "epoch seconds");
    assert.equal(r.ifVersion, 3);
    assert.equal(r.clientToken, "c");
    assert.equal(readReport("p", { a: 1, ts: "2025-11-26T04:26:40Z" }).ts, Date.UTC(2025, 10, 26, 4, 26, 40));
    const none = readReport("p", { a: 1, ts: null, version: null });
    assert.equal(none.ts, undefined);
    assert.equal(none.ifVersion, undefined);
    throwsTwin(() => readReport("p", { a: 1, ts: "soon" }), "invalid-time");
    throwsTwin(() => readReport("p", { a: 1, clientToken: 5 }), "invalid-reading", { property: "clientToken" });
    throwsTwin(() => readReport("p", { a: 1, clientToken: "" }), "invalid-reading");
    const evil = readReport("p", JSON.parse('{"__proto__": {"x": 1}}'));
    assert.deepEqual(Object.keys(evil.values), ["__proto__"], "kept as a name for the registry to refuse");
    assert.equal({}.x, undefined);
    assert.equal(tokenOf({ clientToken: "x".repeat(64) }), "x".repeat(64));
    assert.equal(tokenOf({ clientToken: "x".repeat(65) }), undefined);
    assert.equal(tokenOf(null), undefined);
    assert.deepEqual(readGet("p", null), { clientToken: undefined });
    assert.deepEqual(readGet("p", { clientToken: "g" }), { clientToken: "g" });
  });

  it("reads status words the way firmware writes them", function () {
    for (const w of ["online", "Online", " ONLINE ", "true", "1", '"online"', "connected"]) assert.equal(readStatus(w), "online", w);
    for (const w of ["offline", "Offline", "false", "0", '"offline"', "lost"]) assert.equal(readStatus(Buffer.from(w)), "offline", w);
    for (const w of ["", "maybe", "{}", "x".repeat(100)]) assert.equal(readStatus(w), null, w);
  });

  it("writes replies", function () {
    assert.deepEqual(JSON.parse(protocol.acceptedReport(4, 9, "c", [])), { version: 4, ts: 9, clientToken: "c" });
    assert.deepEqual(JSON.parse(protocol.acceptedReport(4, 9, undefined, ["t"])), { version: 4, ts: 9, stale: ["t"] });
    assert.deepEqual(JSON.parse(protocol.acceptedReport(4, 9, 'say "hi"\\', ["t\"x"])), { version: 4, ts: 9, clientToken: 'say "hi"\\', stale: ['t"x'] });
    assert.deepEqual(JSON.parse(protocol.rejection("not-found", "no", 9, "c")), { code: "not-found", message: "no", ts: 9, clientToken: "c" });
    assert.deepEqual(JSON.parse(protocol.documentReply({ id: "p" }, "c")), { id: "p", clientToken: "c" });
    assert.deepEqual(JSON.parse(protocol.deltaMessage({ rpm: 1 }, 2, 9)), { state: { rpm: 1 }, version: 2, ts: 9 });
  });
});

describe("link throttle", function () {
  it("emits at once, then at most once per interval with the last touch, per key", function () {
    const time = manualTime();
    const out = [];
    const th = new Throttle(1000, (k) => out.push([k, time.clock()]), time.clock, time.timers);
    th.touch("a");
    th.touch("a");
    th.touch("a");
    th.touch("b");
    assert.deepEqual(out, [["a", 1000], ["b", 1000]]);
    time.advance(400);
    th.touch("a");
    assert.equal(th.waiting, 1);
    time.advance(599);
    assert.equal(out.length, 2);
    time.advance(1);
    assert.deepEqual(out.slice(2), [["a", 2000]]);
    time.advance(5000);
    assert.equal(out.length, 3, "nothing waits, nothing goes out");
    assert.equal(time.pending(), 0, "no timer when nothing waits");
    th.touch("a");
    assert.deepEqual(out.slice(3), [["a", 7000]], "an old key goes out at once");
  });

  it("serves many keys with one timer and forgets keys", function () {
    const time = manualTime();
    const out = [];
    const th = new Throttle(100, (k) => out.push(k), time.clock, time.timers);
    for (let i = 0; i < 1000; i++) th.touch(`k${i}`);
    for (let i = 0; i < 1000; i++) th.touch(`k${i}`);
    assert.equal(out.length, 1000);
    assert.equal(time.pending(), 1);
    time.advance(100);
    assert.equal(out.length, 2000);
    th.touch("k1");
    th.forget("k1");
    time.advance(1000);
    assert.equal(out.length, 2000, "a forgotten key's wait is dropped");
    th.touch("k1");
    assert.equal(out.length, 2001);
    th.close();
    th.touch("k2");
    assert.equal(out.length, 2001);
  });

  it("sends a thousand twins' states that come due together over several turns, each once, so the event loop is not held", function () {
    const time = manualTime();
    const turns = [];
    const timers = { set: (fn, ms) => time.timers.set(() => turns.push([]) && fn(), ms), clear: time.timers.clear };
    const th = new Throttle(100, (k) => turns[turns.length - 1].push(k), time.clock, timers);
    turns.push([]);
    for (let i = 0; i < 1000; i++) th.touch(`k${i}`);
    for (let i = 0; i < 1000; i++) th.touch(`k${i}`);
    time.advance(100);
    const later = turns.slice(1);
    assert.ok(later.length > 1 && later.every((keys) => keys.length <= 64), `emitted per turn: ${later.map((k) => k.length).join(", ")}`);
    assert.deepEqual(later.flat(), Array.from({ length: 1000 }, (_, i) => `k${i}`), "every key once, in the order they came due");
  });

  it("emits every touch with an interval of 0", function () {
    const out = [];
    const th = new Throttle(0, (k) => out.push(k));
    th.touch("a");
    th.touch("a");
    assert.deepEqual(out, ["a", "a"]);
  });
});

describe("link outgoing queue", function () {
  const msg = (topic, payload = "x") => ({ topic, payload, qos: 1, retain: false });

  it("keeps order, replaces keyed messages, drops the oldest when full", function () {
    const q = new OutgoingQueue(3);
    q.push(msg("a"));
    q.push(msg("s", "1"), "state:p");
    q.push(msg("b"));
    q.push(msg("s", "2"), "state:p");
    assert.deepEqual(q.drain().map((m) => `${m.topic}${m.payload}`), ["ax", "bx", "s2"]);
    assert.equal(q.size, 0);
    for (const t of ["1", "2", "3", "4", "5"]) q.push(msg(t));
    assert.equal(q.size, 3);
    assert.equal(q.takeDropped(), 2);
    assert.equal(q.takeDropped(), 0);
    assert.deepEqual(q.drain().map((m) => m.topic), ["3", "4", "5"]);
    const none = new OutgoingQueue(0);
    assert.equal(none.push(msg("a")), 1);
    assert.equal(none.size, 0);
  });
});

describe("link backoff and failures", function () {
  it("doubles from the minimum to the maximum, spread by +-20%", function () {
    const mid = () => 0.5;
    assert.deepEqual([0, 1, 2, 3, 4, 5, 10, 100].map((a) => backoffDelay(a, { minMs: 1000, maxMs: 30000, random: mid })), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    assert.equal(backoffDelay(0, { minMs: 1000, maxMs: 30000, random: () => 0 }), 800);
    assert.equal(backoffDelay(10, { minMs: 1000, maxMs: 30000, random: () => 0.999 }), 30000, "never above the maximum");
  });

  it("classifies connection errors", function () {
    assert.equal(classify({ code: 4, message: "Connection refused: Bad username or password" }).kind, "auth");
    assert.equal(classify({ code: 135 }).kind, "auth");
    assert.equal(classify({ code: 142 }).kind, "taken-over");
    assert.equal(classify({ code: 2 }).kind, "refused");
    assert.equal(classify({ code: "DEPTH_ZERO_SELF_SIGNED_CERT", message: "self-signed certificate" }).kind, "tls");
    assert.equal(classify({ code: "ERR_SSL_WRONG_VERSION_NUMBER" }).kind, "tls");
    assert.equal(classify({ code: "ECONNRESET", message: "Client network socket disconnected before secure TLS connection was established" }).kind, "tls");
    assert.equal(classify({ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" }).kind, "network");
    assert.equal(classify(new Error("odd")).kind, "network");
  });

  it("checks broker URLs", function () {
    for (const u of ["mqtt://127.0.0.1:1883", "mqtts://broker.example:8883", "ws://h:9001/mqtt", "wss://h/mqtt"]) assert.equal(urlProblem(u), null, u);
    assert.equal(urlProblem("http://h:1883"), "protocol");
    assert.equal(urlProblem("tcp://h:1883"), "protocol");
    assert.notEqual(urlProblem("127.0.0.1:1883"), null);
    assert.equal(urlProblem(""), "invalid");
    assert.equal(urlProblem("not a url"), "invalid");
  });
});

describe("applyReading (the path twin-sensor and twin-link share)", function () {
  it("coerces by the model, converts, filters by deadband, creates or refuses unknown twins", function () {
    const reg = new TwinRegistry({ models: PUMP });
    reg.open();
    throwsTwin(() => applyReading(reg, "p1", { temperature: 1 }), "not-found");
    let r = applyReading(reg, "p1", { temperature: "68", rpm: "1500" }, { create: { model: "pump" }, unit: "degF" });
    assert.equal(r.created, true);
    assert.deepEqual(plain(reg.get("p1").reported), { temperature: 20, rpm: 1500 });
    r = applyReading(reg, "p1", { rpm: 1502 }, { deadband: { mode: "absolute", value: 5 } });
    assert.equal(r.event, null, "inside the deadband");
    assert.equal(reg.get("p1").version, 1);
    throwsTwin(() => applyReading(reg, "p1", {}, { ifVersion: 7 }), "conflict");
    r = applyReading(reg, "p1", { temperature: 21 }, { scale: 2, offset: 1, source: "s" });
    assert.equal(reg.get("p1").reported.temperature, 43);
    assert.equal(reg.get("p1").meta.reported.temperature.source, "s");
    r = applyReading(reg, "p1", { temperature: 30 }, { ts: Date.now() - 60000 });
    assert.deepEqual(r.stale, ["temperature"]);
    throwsTwin(() => applyReading(reg, "p1", { temperature: "hot" }), "invalid-value");
    const bare = applyReading(reg, "x1", { a: "12", b: "true", c: "on" }, { create: { model: null }, parseNumbers: true });
    assert.equal(bare.created, true);
    assert.deepEqual(plain(reg.get("x1").reported), { a: 12, b: true, c: "on" });
    applyReading(reg, "x2", { a: "12" }, { create: {} });
    assert.deepEqual(plain(reg.get("x2").reported), { a: "12" }, "no number parsing unless asked");
  });
});

describe("DeviceLink (rules, with a fake broker)", function () {
  let reg;
  let link;
  let sent;
  let rejected;

  function make(options = {}) {
    reg = new TwinRegistry({ models: PUMP });
    reg.open();
    sent = [];
    rejected = [];
    link = new DeviceLink({
      registry: reg,
      topics: new LinkTopics("twins"),
      publish: (topic, payload, retain, key, atMost) => sent.push({ topic, payload, retain, key, atMost }),
      create: { model: "pump" },
      state: "off",
      describe: (err) => ({ code: err.code || "error", message: err.message }),
      onRejected: (r) => rejected.push(r),
      ...options,
    });
    link.start();
    return link;
  }

  afterEach(async function () {
    link.close();
    await reg.close();
  });

  const handle = (topic, payload, retain = false) =>
    new Promise((resolve) => link.handle(topic, typeof payload === "string" ? payload : JSON.stringify(payload), retain, resolve));
  const tick = () => new Promise((r) => setImmediate(r));
  const on = (topic) => sent.filter((m) => m.topic === topic).map((m) => (m.payload === "" ? "" : JSON.parse(m.payload)));

  it("answers readings and get requests, and leaves other topics alone", async function () {
    make();
    assert.equal(link.accepts("twins/p/reported"), true);
    assert.equal(link.accepts("other/p/reported"), false);
    await handle("other/p/reported", { temperature: 1 });
    await handle("twins/p/reported", { temperature: 1, clientToken: "a" });
    assert.deepEqual(on("twins/p/reported/accepted").map((m) => [m.version, m.clientToken]), [[1, "a"]]);
    await handle("twins/p/get", "");
    assert.equal(on("twins/p/get/accepted")[0].reported.temperature, 1);
    await handle("twins/p/reported", { temperature: 500 });
    assert.equal(on("twins/p/reported/rejected")[0].code, "invalid-value");
    assert.equal(rejected.length, 1);
    assert.equal(sent.some((m) => m.topic.startsWith("other")), false);
  });

  it("caps a reply's QoS at the request's, and leaves the delta at the link's", async function () {
    make();
    reg.create("p", { model: "pump" });
    const qos0 = (topic, payload) => new Promise((resolve) => link.handle(topic, JSON.stringify(payload), false, resolve, 0));
    await qos0("twins/p/reported", { temperature: 1 });
    await qos0("twins/p/reported", { temperature: 500 });
    await qos0("twins/p/get", {});
    await handle("twins/p/reported", { temperature: 2 });
    reg.setDesired("p", { rpm: 10 });
    await tick();
    assert.deepEqual(sent.map((m) => [m.topic, m.atMost]), [
      ["twins/p/reported/accepted", 0],
      ["twins/p/reported/rejected", 0],
      ["twins/p/get/accepted", 0],
      ["twins/p/reported/accepted", undefined],
      ["twins/p/delta", undefined],
    ]);
  });

  it("publishes the delta once per write, with a key so only the latest waits in a queue", async function () {
    make();
    reg.create("p", { model: "pump", reported: { rpm: 100 } });
    reg.setDesired("p", { rpm: 1500, mode: "auto" });
    await tick();
    assert.deepEqual(on("twins/p/delta").map((d) => d.state), [{ rpm: 1500, mode: "auto" }]);
    assert.equal(sent.find((m) => m.topic === "twins/p/delta").key, "delta:p");
    reg.report("p", { rpm: 1500, mode: "auto" });
    reg.setDesired("p", { mode: null });
    await tick();
    assert.equal(on("twins/p/delta").length, 1, "a converging reading and a cleared property send nothing");
  });

  it("takes a twin offline on its device's last will and sends the delta when it is back online", async function () {
    make();
    reg.create("p", { model: "pump", reported: { rpm: 100 } });
    reg.setDesired("p", { rpm: 1500 });
    await tick();
    assert.equal(reg.get("p").connectivity.online, true);
    await handle("twins/p/status", "offline");
    assert.equal(reg.get("p").connectivity.online, false);
    sent.length = 0;
    await handle("twins/p/status", "online");
    await tick();
    assert.equal(reg.get("p").connectivity.online, true);
    assert.deepEqual(on("twins/p/delta").map((d) => d.state), [{ rpm: 1500 }]);
  });

  it("stops handling and publishing when closed", async function () {
    make({ state: "document", stateIntervalMs: 0 });
    link.close();
    let called = false;
    link.handle("twins/p/reported", "{}", false, () => (called = true));
    assert.equal(called, true, "done is still called");
    reg.create("p", { model: "pump", desired: { rpm: 1 } });
    await tick();
    assert.deepEqual(sent, []);
  });

  it("acknowledges a strict-mode reading only once it is durable", async function () {
    let release;
    make();
    reg.whenDurable = (cb) => (release = cb);
    let acked = false;
    link.handle("twins/p/reported", '{"temperature": 3}', false, () => (acked = true));
    assert.equal(acked, false);
    assert.equal(on("twins/p/reported/accepted").length, 0);
    release();
    assert.equal(acked, true);
    assert.equal(on("twins/p/reported/accepted").length, 1);
  });

  it("tells each strict-mode reading the version it made, though later readings landed before it was durable", async function () {
    const pending = [];
    make();
    reg.whenDurable = (cb) => pending.push(cb);
    link.handle("twins/p/reported", '{"temperature": 3, "clientToken": "a"}', false, () => undefined);
    link.handle("twins/p/reported", '{"temperature": 4, "clientToken": "b"}', false, () => undefined);
    link.handle("twins/p/reported", '{"clientToken": "c"}', false, () => undefined);
    assert.equal(reg.get("p").version, 2);
    for (const cb of pending.splice(0)) cb();
    // A device that sends `version` next relies on it: the twin's version when the reply left would make it conflict.
    assert.deepEqual(on("twins/p/reported/accepted").map((m) => [m.clientToken, m.version]), [["a", 1], ["b", 2], ["c", 2]]);
  });
});
