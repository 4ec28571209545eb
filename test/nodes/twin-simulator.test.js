"use strict";
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { helper, nodes, flow, exchange, waitFor, timersOf } = require("./support");

const root = path.join(__dirname, "..", "..");
const simulatorNode = require(path.join(root, "nodes", "twin-simulator.js"));
const sensorNode = require(path.join(root, "nodes", "twin-sensor.js"));
const completeNode = require("@node-red/nodes/core/common/24-complete.js");
const { PUMP_PROFILE } = require(path.join(root, "nodes", "lib", "core", "simulator", "profile"));
// The same Node class the helper's Node-RED uses: status, error and send calls are recorded per node.
const RuntimeNode = require("@node-red/runtime/lib/nodes/Node.js");

const plain = (v) => JSON.parse(JSON.stringify(v));
/** The simulator's own timers (its auto-start and the wait for the next reading). */
const SIMULATOR = `${path.sep}nodes${path.sep}twin-simulator.js`;

/** A small, quiet profile: exact values make the assertions simple. */
const MOTOR = JSON.stringify({
  properties: {
    temperature: { base: 40, noise: 0.5, resolution: 0.1 },
    rpm: { base: 1000, writable: true, lag: "0.1s", resolution: 1 },
  },
});

function simFlow(config = {}) {
  return flow([
    { id: "sim", type: "twin-simulator", devices: "numbered", prefix: "m-", count: 2, profile: MOTOR, interval: 0.02, output: "property", topic: "", seed: "7", warp: 1, start: "", autoStart: true, wires: [["out"]], ...config },
    { id: "out", type: "helper" },
    { id: "completer", type: "complete", scope: ["sim"], uncaught: false, wires: [["completed"]] },
    { id: "completed", type: "helper" },
  ]);
}

describe("twin-simulator node", function () {
  let calls;
  const originals = {};

  before(function () {
    for (const name of ["status", "error", "send"]) {
      originals[name] = RuntimeNode.prototype[name];
      RuntimeNode.prototype[name] = function (arg, msg) {
        calls.push({ id: this.id, [name]: arg });
        return originals[name].call(this, arg, msg);
      };
    }
  });
  after(function () {
    for (const name of Object.keys(originals)) RuntimeNode.prototype[name] = originals[name];
  });

  beforeEach(function (done) {
    calls = [];
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
  });

  const load = (f) => helper.load([nodes.registry, nodes.twin, simulatorNode, sensorNode, nodes.catch, completeNode], f);
  function collect() {
    const got = [];
    helper.getNode("out").on("input", (msg) => got.push(msg));
    return got;
  }
  const statusOf = (id) => calls.filter((c) => c.id === id && c.status).map((c) => c.status);
  const lastStatus = (id) => statusOf(id).slice(-1)[0];
  const errorsOf = (id) => calls.filter((c) => c.id === id && c.error).map((c) => c.error);
  const sendsOf = (id) => calls.filter((c) => c.id === id && c.send).length;
  /** Sends a message to the simulator and waits for it to complete (ok, at the complete node) or fail (error at the catch node). */
  function command(msg) {
    return new Promise((resolve) => {
      const errors = helper.getNode("errors");
      const completed = helper.getNode("completed");
      const finish = (kind) => (m) => {
        errors.removeAllListeners("input");
        completed.removeAllListeners("input");
        resolve({ kind, msg: m });
      };
      completed.once("input", finish("ok"));
      errors.once("input", finish("error"));
      helper.getNode("sim").receive(msg);
    });
  }

  it("sends one message per twin and property, with the default topic template, msg.ts and msg.twinId", async function () {
    const before = Date.now();
    await load(simFlow());
    const got = collect();
    await waitFor(() => got.length >= 12, "readings");
    const first = got.slice(0, 4);
    assert.deepEqual(first.map((m) => m.topic), ["sim/m-01/temperature", "sim/m-01/rpm", "sim/m-02/temperature", "sim/m-02/rpm"]);
    assert.deepEqual(first.map((m) => [m.twinId, m.property]), [["m-01", "temperature"], ["m-01", "rpm"], ["m-02", "temperature"], ["m-02", "rpm"]]);
    assert.equal(first[1].payload, 1000);
    assert.equal(typeof first[0].payload, "number");
    for (const m of got) assert.ok(m.ts >= before && m.ts <= Date.now(), "a timestamp in real time, never in the future");
    const m1 = got.filter((m) => m.twinId === "m-01" && m.property === "rpm");
    assert.equal(m1[1].ts - m1[0].ts, 20, "one reading per interval");
    assert.deepEqual(lastStatus("sim"), { fill: "green", shape: "dot", text: "twin-simulator.status.running" });
  });

  it("fills a custom topic template", async function () {
    await load(simFlow({ topic: "plant/{twin}/{property}/value" }));
    const got = collect();
    await waitFor(() => got.length >= 2, "readings");
    assert.equal(got[0].topic, "plant/m-01/temperature/value");
  });

  it("sends one object per twin, optionally with the timestamp in the payload", async function () {
    await load(simFlow({ output: "twin", tsInPayload: true, devices: "list", ids: "alpha, beta" }));
    const got = collect();
    await waitFor(() => got.length >= 4, "readings");
    assert.deepEqual(got.slice(0, 2).map((m) => m.topic), ["sim/alpha", "sim/beta"]);
    const p = plain(got[0].payload);
    assert.deepEqual(Object.keys(p), ["temperature", "rpm", "ts"]);
    assert.equal(p.rpm, 1000);
    assert.equal(p.ts, got[0].ts);
    assert.equal(got[0].twinId, "alpha");
  });

  it("repeats the same series for the same seed", async function () {
    await load(simFlow());
    let got = collect();
    await waitFor(() => got.length >= 20, "readings");
    const series1 = got.slice(0, 20).map((m) => [m.topic, m.payload]);
    await helper.unload();
    await load(simFlow());
    got = collect();
    await waitFor(() => got.length >= 20, "readings");
    assert.deepEqual(got.slice(0, 20).map((m) => [m.topic, m.payload]), series1);
  });

  it("waits for start without auto-start; stops and resets by message", async function () {
    const deployTimers = timersOf(SIMULATOR);
    try {
      await load(simFlow({ autoStart: false }));
    } finally {
      deployTimers.stop();
    }
    const got = collect();
    // The marker: whatever the simulator set a timer for at deploy (an auto-start) has run.
    await deployTimers.settled();
    assert.equal(sendsOf("sim"), 0, "nothing before start");
    assert.equal(got.length, 0, "nothing before start");
    assert.equal(lastStatus("sim").text, "twin-simulator.status.stopped");

    assert.equal((await command({ payload: "start" })).kind, "ok");
    await waitFor(() => got.length >= 8, "readings after start");
    const firstRun = got.slice(0, 8).map((m) => [m.topic, m.payload]);
    assert.equal(lastStatus("sim").text, "twin-simulator.status.running");

    const timers = timersOf(SIMULATOR);
    let stoppedAt;
    let stopCall;
    const sendsSinceStop = () => calls.slice(stopCall).filter((c) => c.id === "sim" && c.send).length;
    try {
      assert.equal((await command({ topic: "stop" })).kind, "ok");
      assert.equal(lastStatus("sim").text, "twin-simulator.status.stopped");
      // Where the stop happened: the "stopped" status is set as it is handled.
      stopCall = calls.findLastIndex((c) => c.id === "sim" && c.status && c.status.text === "twin-simulator.status.stopped");
      // The marker: the wait for the next reading, set before the stop, was cleared or has run
      // (and what it sent has landed); readings sent before the stop are delivered by then too.
      await timers.settled();
      assert.equal(sendsSinceStop(), 0, "silent while stopped");
      stoppedAt = got.length;
      assert.equal((await command({ payload: "reset" })).kind, "ok");
      await timers.settled(); // the marker: a timer the reset set (none should) has run
    } finally {
      timers.stop();
    }
    assert.equal(sendsSinceStop(), 0, "a reset does not start a stopped simulator");
    assert.equal(got.length, stoppedAt, "a reset does not start a stopped simulator");
    // A later marker for both: the readings after the next start come first, and from the start.
    await command({ payload: "start" });
    await waitFor(() => got.length >= stoppedAt + 8, "readings after reset");
    assert.deepEqual(got.slice(stoppedAt, stoppedAt + 8).map((m) => [m.topic, m.payload]), firstRun, "the run repeats from the start");

    const before = got.length;
    await command({ payload: "reset" }); // while running: starts over at once
    await waitFor(() => got.length >= before + 4, "readings after a running reset");
    assert.deepEqual(got.slice(before, before + 4).map((m) => [m.topic, m.payload]), firstRun.slice(0, 4));
  });

  it("moves a device toward a commanded setpoint with its lag", async function () {
    await load(simFlow());
    const got = collect();
    await waitFor(() => got.length >= 4, "readings");
    const rpm = (id) => got.filter((m) => m.twinId === id && m.property === "rpm").map((m) => m.payload);

    assert.equal((await command({ twinId: "m-02", payload: { rpm: 1500 } })).kind, "ok");
    await waitFor(() => rpm("m-02").slice(-1)[0] >= 1495, "m-02 at its setpoint");
    const path2 = rpm("m-02");
    const between = path2.filter((v) => v > 1000 && v < 1495);
    assert.ok(between.length >= 2, `moves gradually, not in one jump: ${path2.join(",")}`);
    assert.equal(rpm("m-01").slice(-1)[0], 1000, "the other device is unchanged");

    // From MQTT: the topic names the device, the payload is JSON text; or one property per topic.
    await command({ topic: "devices/m-01/set", payload: Buffer.from('{"rpm": 800}') });
    await waitFor(() => rpm("m-01").slice(-1)[0] <= 805, "m-01 at 800");
    await command({ twinId: "m-01", property: "rpm", payload: "1200" });
    await waitFor(() => rpm("m-01").slice(-1)[0] >= 1195, "m-01 at 1200");
  });

  it("fails bad commands whole, so a catch node sees them", async function () {
    await load(simFlow());
    const failed = async (msg, key) => {
      const r = await command(msg);
      assert.equal(r.kind, "error", JSON.stringify(msg));
      assert.match(r.msg.error.message, new RegExp(key.replace(/\./g, "\\.")));
    };
    await failed({ twinId: "m-09", payload: { rpm: 1 } }, "errors.not-found");
    await failed({ twinId: "m-01", payload: { rpm: 1200, temperature: 5 } }, "errors.not-writable");
    await failed({ twinId: "m-01", payload: { torque: 5 } }, "errors.not-in-model");
    await failed({ twinId: "m-01", payload: { rpm: "fast" } }, "errors.invalid-value");
    await failed({ payload: { rpm: 1 } }, "errors.no-twin");
    await failed({ topic: "other/m-01", payload: { rpm: 1 } }, "errors.no-twin");
    await failed({ twinId: "m-01", payload: [1, 2] }, "errors.payload");
    await failed({ twinId: "m-01", payload: "{bad json" }, "errors.payload");
    await failed({ twinId: "m-01", payload: 5 }, "errors.payload");
    const got = collect();
    await waitFor(() => got.length >= 4, "still running");
    assert.ok(got.filter((m) => m.property === "rpm").every((m) => m.payload === 1000), "nothing was applied");
  });

  for (const [what, config, option] of [
    ["an invalid profile", { profile: '{"properties": {"temp": {"base": 1, "amplitud": 3}}}' }, "profile"],
    ["a profile that is not JSON", { profile: "{oops" }, "profile"],
    ["a zero count", { count: 0 }, "count"],
    ["an invalid device id", { devices: "list", ids: "ok-1, bad/id" }, "devices"],
    ["a too short interval", { interval: 0.001 }, "interval"],
    ["a warp below 1", { warp: 0.5 }, "warp"],
    ["a bad start", { warp: 100, start: "yesterday" }, "start"],
    ["a topic with {property} in object mode", { output: "twin", topic: "sim/{twin}/{property}" }, "topic"],
  ]) {
    it(`reports ${what} at deploy with a red status, and keeps running Node-RED`, async function () {
      await load(simFlow(config));
      const errors = errorsOf("sim");
      assert.equal(errors.length, 1);
      assert.equal(errors[0].code, "invalid-option");
      assert.equal(errors[0].params.option, option);
      assert.deepEqual(lastStatus("sim"), { fill: "red", shape: "ring", text: "twin-simulator.status.config-error" });
      const got = collect();
      const timers = timersOf(SIMULATOR);
      try {
        const r = await command({ payload: "start" });
        assert.equal(r.kind, "error", "every message fails while the settings are wrong");
      } finally {
        timers.stop();
      }
      await timers.settled(); // the marker: a timer the failed start set (none should) has run
      assert.equal(sendsOf("sim"), 0);
      assert.equal(got.length, 0);
    });
  }

  it("clears its timer on close: nothing is sent after a redeploy", async function () {
    const timers = timersOf(SIMULATOR);
    try {
      await load(simFlow({ interval: 0.01 }));
      const got = collect();
      await waitFor(() => got.length >= 4, "readings");
      await helper.unload();
    } finally {
      timers.stop();
    }
    const sent = sendsOf("sim");
    assert.deepEqual(statusOf("sim").slice(-1)[0], {}, "status cleared on close");
    await timers.settled(); // the marker: the wait for the next reading was cleared or has run
    assert.equal(sendsOf("sim"), sent, "no sends after close");
  });

  it("clears a pending auto-start on close", async function () {
    // The flow must stop within the auto-start delay (100 ms): a machine too busy to do that in
    // one try gets a few more, and the check is made only on a try that did.
    for (let attempt = 1; ; attempt++) {
      calls = [];
      const timers = timersOf(SIMULATOR);
      let autoStart;
      try {
        await load(simFlow());
        autoStart = timers.made.find((t) => t.delay === 100);
        assert.ok(autoStart, "the auto-start timer was set");
        await helper.unload();
      } finally {
        timers.stop();
      }
      if (autoStart.fired) {
        assert.ok(attempt < 5, "the flow never stopped within the auto-start delay in 5 tries");
        continue;
      }
      await timers.settled(); // the marker: the auto-start was cleared, or has run
      assert.equal(autoStart.fired, false, "the pending auto-start was cleared, not run");
      assert.equal(sendsOf("sim"), 0);
      return;
    }
  });

  /**
   * Runs fn with setTimeout watched: returns the timers it made with a delay of at least
   * `minDelay` ms (the simulator's own: nothing else in a test runtime waits that long).
   */
  async function watchTimers(minDelay, fn) {
    const made = [];
    const original = global.setTimeout;
    global.setTimeout = function (callback, delay, ...args) {
      const handle = original.call(this, callback, delay, ...args);
      if (delay >= minDelay) made.push(handle);
      return handle;
    };
    try {
      await fn();
    } finally {
      global.setTimeout = original;
    }
    return made;
  }

  it("leaves no timer behind on close: neither a pending auto-start nor the wait for the next reading", async function () {
    // Auto-start pending (100 ms) when the flow stops.
    let timers = await watchTimers(100, async () => {
      await load(simFlow({ interval: 3600 }));
      await helper.unload();
    });
    assert.ok(timers.length >= 1, "the auto-start timer was seen");
    assert.deepEqual(timers.map((t) => t._destroyed), timers.map(() => true), "every timer the simulator set is cleared");
    // Running, an hour before its next reading.
    timers = await watchTimers(60000, async () => {
      await load(simFlow({ interval: 3600 }));
      const got = collect();
      await waitFor(() => got.length >= 1, "the first readings");
      await helper.unload();
    });
    assert.ok(timers.length >= 1, "the hour-long wait was seen");
    assert.deepEqual(timers.map((t) => t._destroyed), timers.map(() => true), "the wait for the next reading is cleared on close");
  });

  it("with a time warp, timestamps follow simulated time from the past and the status shows the day", async function () {
    const start = Date.now();
    await load(simFlow({ warp: 100000, start: "7d", interval: 0.02 }));
    const got = collect();
    await waitFor(() => got.length >= 10, "readings");
    const ts = got.filter((m) => m.twinId === "m-01" && m.property === "rpm").map((m) => m.ts);
    assert.ok(ts[0] >= start - 7 * 86400000 && ts[0] < start - 7 * 86400000 + 5000, "starts a week back");
    assert.equal(ts[1] - ts[0], 2000000, "0.02 s x 100000 per reading");
    for (const m of got) assert.ok(m.ts <= Date.now());
    assert.deepEqual(lastStatus("sim").fill, "blue");
    assert.equal(lastStatus("sim").text, "twin-simulator.status.warp");
  });

  it("keeps every status under 20 characters (the helper shows catalog keys, so the catalog is checked)", function () {
    const catalog = require("../../nodes/locales/en-US/twin-simulator.json")["twin-simulator"].status;
    for (const [key, text] of Object.entries(catalog)) {
      const shown = text.replace("__count__", "10000").replace("__day__", "3650");
      assert.ok(shown.length < 20, `${key}: "${shown}"`);
    }
  });

  it("feeds a twin sensor: twins fill up with the simulated readings and their timestamps", async function () {
    const f = flow([
      { id: "sim", type: "twin-simulator", prefix: "pump-", count: 3, profile: "", interval: 0.02, seed: "1", warp: 1000, start: "1h", autoStart: true, wires: [["s"]] },
      { id: "s", type: "twin-sensor", registry: "reg", pattern: "sim/{twin}/{property}", timestamp: "ts", timestampType: "msg", unknown: "create", wires: [["out"]] },
      { id: "out", type: "helper" },
      { id: "t", type: "twin", registry: "reg", operation: "get", wires: [["doc"]] },
      { id: "doc", type: "helper" },
    ]);
    await load(f);
    const got = collect();
    await waitFor(() => new Set(got.map((m) => m.twinId)).size === 3 && got.length >= 40, "sensor events for every pump");
    const r = await exchange("t", "doc", { twinId: "pump-02" });
    assert.equal(r.kind, "ok");
    const doc = plain(r.msg.payload);
    assert.deepEqual(Object.keys(doc.reported).sort(), ["power", "rpm", "temperature", "vibration"]);
    const ts = doc.meta.reported.rpm.ts;
    assert.ok(ts < Date.now() - 3_000_000, "a simulated timestamp in the past, stored as the reading's time");
    assert.equal(errorsOf("s").length, 0);
  });

  it("object mode with the timestamp in the payload: the twin sensor recipe of the help keeps ts out of the properties", async function () {
    const f = flow([
      { id: "sim", type: "twin-simulator", prefix: "m-", count: 1, profile: MOTOR, interval: 0.02, output: "twin", tsInPayload: true, seed: "1", warp: 1000, start: "1h", wires: [["s"]] },
      { id: "s", type: "twin-sensor", registry: "reg", pattern: "sim/{twin}", value: '$sift(payload, function($v, $k) { $k != "ts" })', valueType: "jsonata", timestamp: "payload.ts", timestampType: "msg", unknown: "create", wires: [["out"]] },
      { id: "out", type: "helper" },
      { id: "t", type: "twin", registry: "reg", operation: "get", wires: [["doc"]] },
      { id: "doc", type: "helper" },
    ]);
    await load(f);
    const got = collect();
    await waitFor(() => got.length >= 3, "sensor events");
    const doc = plain((await exchange("t", "doc", { twinId: "m-01" })).msg.payload);
    assert.deepEqual(Object.keys(doc.reported).sort(), ["rpm", "temperature"]);
    assert.ok(doc.meta.reported.rpm.ts < Date.now() - 3_000_000, "the simulated time");
  });

  it("closes the loop with a twin mirror: desired rpm goes to the device, which reports it back", async function () {
    const mirrorNode = require(path.join(root, "nodes", "twin-mirror.js"));
    const models = JSON.stringify({ pump: { properties: { temperature: { type: "number" }, rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 10 } } } });
    const profile = JSON.stringify({ properties: { temperature: { base: 50, noise: 0.2, resolution: 0.1 }, rpm: { base: 1450, noise: 2, resolution: 1, writable: true, lag: "0.2s" } } });
    const f = flow(
      [
        { id: "sim", type: "twin-simulator", prefix: "pump-", count: 2, profile, interval: 0.02, seed: "1", autoStart: true, wires: [["s"]] },
        { id: "s", type: "twin-sensor", registry: "reg", pattern: "sim/{twin}/{property}", timestamp: "ts", timestampType: "msg", unknown: "create", model: "pump", wires: [[]] },
        { id: "m", type: "twin-mirror", registry: "reg", scope: "all", topic: "devices/{twin}/set", timeout: 30, retries: 2, backoff: 2, wires: [["sim"], ["sync"]] },
        { id: "sync", type: "helper" },
        { id: "t", type: "twin", registry: "reg", operation: "upsert", wires: [["doc"]] },
        { id: "doc", type: "helper" },
      ],
      { models },
    );
    await helper.load([nodes.registry, nodes.twin, simulatorNode, sensorNode, mirrorNode, nodes.catch], f);
    const events = [];
    helper.getNode("sync").on("input", (m) => events.push(m.payload));
    const reg = helper.getNode("reg").use();
    await waitFor(() => reg.has("pump-01") && reg.get("pump-01").model === "pump", "the sensor to create pump-01 with its model");
    const r = await exchange("t", "doc", { twinId: "pump-01", payload: { desired: { rpm: 1800 } } });
    assert.equal(r.kind, "ok", r.msg.error && r.msg.error.message);
    await waitFor(() => events.some((e) => e.status === "applied"), "the mirror sees the device apply the setpoint", 15000);
    const applied = events.find((e) => e.status === "applied");
    assert.equal(applied.twinId, "pump-01");
    assert.ok(Math.abs(applied.reported - 1800) <= 10);
    assert.equal(errorsOf("sim").length, 0);
  });

  it("the editor's pump profile is the runtime's", function () {
    const html = fs.readFileSync(path.join(root, "nodes", "twin-simulator.html"), "utf8");
    const m = /var PUMP_PROFILE = (\{[\s\S]*?\n {6}\});/.exec(html);
    assert.ok(m, "PUMP_PROFILE in the editor");
    assert.deepEqual(JSON.parse(m[1]), plain(PUMP_PROFILE));
  });
});
