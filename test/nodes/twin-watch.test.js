"use strict";
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { helper, nodes, flow, exchange, waitFor, holdFsyncs } = require("./support");

const watchNode = require(path.join(__dirname, "..", "..", "nodes", "twin-watch.js"));
// The same Node class the helper's Node-RED uses: its status and error calls are recorded per node.
const RuntimeNode = require("@node-red/runtime/lib/nodes/Node.js");

const SENSOR = JSON.stringify({
  sensor: { properties: { temperature: { type: "number" }, humidity: { type: "number" }, setpoint: { type: "number", writable: true } } },
});

const plain = (v) => JSON.parse(JSON.stringify(v));

/** A twin node (upsert, id from msg.twinId) to make changes, and a watch wired to helper "wout". */
function watchFlow(watchConfig = {}, registryConfig = {}) {
  return flow(
    [
      { id: "t", type: "twin", registry: "reg", operation: "msg", twinId: "", twinIdType: "str", wires: [["tout"]] },
      { id: "tout", type: "helper" },
      { id: "w", type: "twin-watch", registry: "reg", twinIds: "", models: "", sections: "", properties: "", throttle: 0, emitState: false, wires: [["wout"]], ...watchConfig },
      { id: "wout", type: "helper" },
    ],
    registryConfig,
  );
}

describe("twin-watch node", function () {
  let calls;
  let originalStatus;
  let originalError;

  before(function () {
    originalStatus = RuntimeNode.prototype.status;
    originalError = RuntimeNode.prototype.error;
    RuntimeNode.prototype.status = function (status) {
      calls.push({ id: this.id, status });
      return originalStatus.call(this, status);
    };
    RuntimeNode.prototype.error = function (err, msg) {
      calls.push({ id: this.id, error: err });
      return originalError.call(this, err, msg);
    };
  });
  after(function () {
    RuntimeNode.prototype.status = originalStatus;
    RuntimeNode.prototype.error = originalError;
  });

  beforeEach(function (done) {
    calls = [];
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
  });

  const load = (f) => helper.load([nodes.registry, nodes.twin, watchNode, nodes.catch], f);
  /**
   * Runs a twin operation and waits for it to finish. Also the marker for what the watch sent
   * about it: the registry tells its listeners before the twin node answers, and Node-RED
   * delivers messages in the order they were sent, so once the twin node's answer is here, so
   * is every message the watch sent at once about the change.
   */
  async function change(msg) {
    const r = await exchange("t", "tout", { operation: "upsert", ...msg });
    assert.equal(r.kind, "ok", r.msg && r.msg.error && r.msg.error.message);
  }
  /** Everything the watch sends, from now on. */
  function collect() {
    const got = [];
    helper.getNode("wout").on("input", (msg) => got.push(msg));
    return got;
  }
  /**
   * What node `id` sends, as it sends it, with the time on the node's own clock: the watch reads
   * performance.now() just before it sends, and that reading is kept (not when the message
   * arrives, which a loaded machine can delay or bunch up).
   */
  function recordSends(id) {
    const realNow = Performance.prototype.now;
    let lastNow = NaN;
    performance.now = function () {
      return (lastNow = realNow.call(performance));
    };
    const node = helper.getNode(id);
    const send = node.send;
    const sends = [];
    node.send = function (msg) {
      sends.push({ at: lastNow, topic: msg.topic, version: msg.payload.version, changes: plain(msg.payload.changes) });
      return send.call(this, msg);
    };
    sends.stop = () => {
      delete performance.now; // back to Performance.prototype.now
      node.send = send;
    };
    return sends;
  }
  const statusOf = (id) => calls.filter((c) => c.id === id && c.status).map((c) => c.status);
  const errorsOf = (id) => calls.filter((c) => c.id === id && c.error).map((c) => c.error);

  it("sends the change events of twins whose id matches a glob, with topic <twinId>/<section>", async function () {
    await load(watchFlow({ twinIds: "pump-*, boiler-?", sections: "reported" }));
    const got = collect();
    for (const id of ["pump-1", "tank-1", "boiler-2", "boiler-12", "pump-2"]) await change({ twinId: id, payload: { reported: { temperature: 20 } } });
    await change({ twinId: "pump-1", payload: { reported: { temperature: 21 } } }); // also the marker for the others
    assert.deepEqual(got.map((m) => m.topic), ["pump-1/reported", "boiler-2/reported", "pump-2/reported", "pump-1/reported"]);
    const last = got[3];
    assert.equal(last.twinId, "pump-1");
    assert.deepEqual(plain(last.payload), {
      twinId: "pump-1", version: 2, section: "reported", ts: last.payload.ts,
      changes: { temperature: { value: 21, previous: 20, ts: last.payload.ts } },
    });
    assert.ok(statusOf("w").some((s) => s.fill === "green" && s.text), "a status while watching");
  });

  it("keeps every status under 20 characters (the helper shows catalog keys, so the catalog is checked)", function () {
    const catalog = require("../../nodes/locales/en-US/twin-watch.json")["twin-watch"].status;
    for (const [key, text] of Object.entries(catalog)) {
      const shown = text.replace("__rate__", "1000000").replace("__twinId__", "");
      assert.ok(shown.length < 20, `${key}: "${text}"`);
    }
  });

  it("sends only twins of the chosen models, including their deletion", async function () {
    await load(watchFlow({ models: "sensor", sections: "twin" }, { models: SENSOR }));
    const got = collect();
    await change({ twinId: "s1", payload: { model: "sensor" } });
    await change({ twinId: "free", payload: { reported: { x: 1 } } });
    await exchange("t", "tout", { operation: "delete", twinId: "free" });
    await exchange("t", "tout", { operation: "delete", twinId: "s1" }); // the marker (see change)
    assert.deepEqual(got.map((m) => `${m.topic}:${m.payload.op}`), ["s1/twin:created", "s1/twin:deleted"]);
  });

  it("sends only the chosen sections, and narrows changes to the chosen properties", async function () {
    await load(watchFlow({ sections: "reported, delta, connectivity", properties: "temperature, setpoint" }, { models: SENSOR }));
    const got = collect();
    await change({ twinId: "s1", payload: { model: "sensor", reported: { temperature: 20, humidity: 40 } } });
    await change({ twinId: "s1", payload: { reported: { humidity: 41 } } });
    await change({ twinId: "s1", payload: { attributes: { room: "kitchen" }, desired: { setpoint: 21 } } }); // the marker
    assert.deepEqual(got.map((m) => m.topic), ["s1/reported", "s1/connectivity", "s1/delta"]);
    assert.deepEqual(Object.keys(got[0].payload.changes), ["temperature"], "humidity cut out");
    assert.equal(got[1].payload.changes.online.value, true, "connectivity is not filtered by property");
    assert.deepEqual(plain(got[2].payload.changes.setpoint), { value: 21, previous: null, ts: got[2].payload.ts });
  });

  it("sends the state of every matching twin on start, sorted by id, then changes", async function () {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-watch-"));
    helper.settings({ userDir });
    try {
      await load(watchFlow({}, { persistence: "batched", models: SENSOR }));
      for (const id of ["room-b", "room-a", "garage"]) await change({ twinId: id, payload: { model: "sensor", reported: { temperature: 19 } } });
      await change({ twinId: "room-c", payload: { reported: { temperature: 19 } } });
      await helper.unload();

      await load(watchFlow({ twinIds: "room-*", models: "sensor", sections: "reported", properties: "humidity", emitState: true }, { persistence: "batched", models: SENSOR }));
      const got = collect();
      await waitFor(() => got.length >= 2, "two state messages");
      assert.equal(got[0].twinId, "room-a");
      assert.equal(got[0].payload.id, "room-a");
      assert.equal(got[0].payload.reported.temperature, 19, "the whole document, not narrowed");
      // The marker that no other state message comes: a change sent after them arrives after them.
      await change({ twinId: "room-a", payload: { reported: { humidity: 50 } } });
      assert.deepEqual(got.map((m) => m.topic), ["room-a/state", "room-b/state", "room-a/reported"]);
    } finally {
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });

  it("in strict persistence sends a change only once it is on disk, whoever made it", async function () {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-watch-"));
    helper.settings({ userDir });
    try {
      await load(watchFlow({ sections: "reported" }, { persistence: "strict" }));
      await change({ twinId: "room-a", payload: { reported: { temperature: 19 } } });
      const got = collect();
      const fsyncs = holdFsyncs(helper.getNode("reg").use());
      helper.getNode("reg").use().report("room-a", { temperature: 20 });
      await waitFor(() => fsyncs.held > 0, "the reading's journal write to reach its fsync");
      await new Promise((r) => setImmediate(r));
      assert.equal(got.length, 0, "the watch told of a change before it was on disk");
      fsyncs.release();
      await waitFor(() => got.length === 1, "the change once the fsync completed");
      assert.equal(got[0].payload.changes.temperature.value, 20);
      fsyncs.restore();
    } finally {
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });

  it("throttles per twin and section: first at once, then the merged changes of the window", async function () {
    // Long enough that the three changes after the first fall in its window on a loaded machine
    // (checked below, on the node's clock, rather than assumed).
    const WINDOW = 1000;
    await load(watchFlow({ sections: "reported", throttle: WINDOW }));
    const got = collect();
    const sends = recordSends("w");
    try {
      const show = () => sends.map((m) => `${m.topic} v${m.version}`);
      await change({ twinId: "a", payload: { reported: { t: 1 } } });
      assert.deepEqual(show(), ["a/reported v1"], "the first at once");
      await change({ twinId: "a", payload: { reported: { t: 2, h: 10 } } });
      await change({ twinId: "a", payload: { reported: { t: 3 } } });
      await change({ twinId: "b", payload: { reported: { t: 1 } } });
      const madeWithin = performance.now() - sends[0].at;
      assert.ok(madeWithin < WINDOW, `precondition: the changes took ${Math.round(madeWithin)} ms, longer than the window`);
      assert.deepEqual(show(), ["a/reported v1", "b/reported v1"], "the rest is held back");
      assert.deepEqual(got.map((m) => m.topic), ["a/reported", "b/reported"], "what arrived (see change)");

      await waitFor(() => got.length >= 3, "the merged event", 15000);
      const merged = got[2];
      assert.equal(merged.topic, "a/reported");
      assert.equal(merged.payload.version, 3, "the newest version");
      assert.deepEqual(plain(merged.payload.changes).t.value, 3);
      assert.deepEqual(plain(merged.payload.changes).t.previous, 1, "the oldest previous of the window");
      assert.deepEqual(plain(merged.payload.changes).h.value, 10, "a property changed only early in the window is kept");
      assert.ok(sends[2].at - sends[0].at >= WINDOW, `at most one per window: sent ${sends[2].at - sends[0].at} ms after the first, on the node's clock`);

      // Nothing more about versions 1 to 3: the marker is the next change of a, which the window
      // that the merged event opened holds back and then lets out. Anything left over from the
      // first window (sent again, or merged in) would come before it or show in it.
      await change({ twinId: "a", payload: { reported: { t: 4 } } });
      await waitFor(() => got.length >= 4, "the next change of a", 15000);
      assert.deepEqual(show(), ["a/reported v1", "b/reported v1", "a/reported v3", "a/reported v4"], "nothing more");
      assert.deepEqual(got.map((m) => `${m.topic} v${m.payload.version}`), show(), "what arrived is what was sent");
      assert.deepEqual(sends[3].changes, { t: { value: 4, previous: 3, ts: sends[3].changes.t.ts } }, "the window after the merged event starts afresh");
      assert.ok(sends[3].at - sends[2].at >= WINDOW, `at most one per window: sent ${sends[3].at - sends[2].at} ms after the merged event, on the node's clock`);
    } finally {
      sends.stop();
    }
  });

  it("clears its timers and stops sending when closed", async function () {
    // Timers the watch node sets, tracked until they fire or are cleared.
    const live = new Map();
    const real = { setTimeout, clearTimeout, setImmediate, clearImmediate };
    const track = (set, clear) => [
      function (fn, ...args) {
        // The node's own timers, and its core WatchFollower's throttle timer.
        const ours = /twin-watch\.js|core[\\/]watch\.js/.test(new Error().stack);
        const handle = set((...a) => {
          live.delete(handle);
          fn(...a);
        }, ...args);
        if (ours) live.set(handle, set.name);
        return handle;
      },
      function (handle) {
        live.delete(handle);
        return clear(handle);
      },
    ];
    [global.setTimeout, global.clearTimeout] = track(real.setTimeout, real.clearTimeout);
    [global.setImmediate, global.clearImmediate] = track(real.setImmediate, real.clearImmediate);
    try {
      await load(watchFlow({ sections: "reported", throttle: 100, emitState: true }));
      collect();
      await change({ twinId: "a", payload: { reported: { t: 1 } } });
      await change({ twinId: "a", payload: { reported: { t: 2 } } });
      const w = helper.getNode("w");
      let sentAfterClose = 0;
      w.send = () => sentAfterClose++;
      const before = calls.length;
      assert.ok(live.size >= 3, `throttle, status and state timers running (${live.size})`);
      const running = [...live.keys()];
      await helper.unload();
      assert.deepEqual([...live.values()], [], "every timer cleared on close");
      // The marker: each timer that ran before the close has been cleared, or has fired.
      await waitFor(() => running.every((t) => t._destroyed), "the node's timers to be cleared or fire", 15000);
      assert.equal(sentAfterClose, 0, "the held event is dropped, not sent");
      assert.equal(calls.slice(before).filter((c) => c.id === "w").length, 0, "no status update after close");
    } finally {
      Object.assign(global, real);
    }
  });

  it("shows a bad filter as a red status and an error on start, without crashing", async function () {
    for (const [config, key] of [
      [{ twinIds: "plant1/*" }, "twinIds"],
      [{ sections: "reported, sensors" }, "sections"],
      [{ properties: "9lives" }, "properties"],
      [{ throttle: "soon" }, "throttle"],
    ]) {
      calls = [];
      await load(watchFlow(config));
      const status = statusOf("w").pop();
      assert.equal(status.fill, "red", JSON.stringify(config));
      assert.match(status.text, /bad-filter|bad filter/);
      const errors = errorsOf("w");
      assert.equal(errors.length, 1);
      assert.match(String(errors[0].message || errors[0]), new RegExp(`errors\\.${key}|${key}`));
      // The rest of the flow still works.
      await change({ twinId: "x", payload: { reported: { t: 1 } } });
      await helper.unload();
    }
  });

  it("reports a missing or failed registry on start", async function () {
    await load(watchFlow({ registry: "" }));
    assert.equal(statusOf("w").pop().fill, "red");
    assert.equal(errorsOf("w").length, 1);
    await helper.unload();
    calls = [];
    await load(watchFlow({}, { models: "{ not json" }));
    assert.equal(statusOf("w").pop().fill, "red");
    assert.match(String(errorsOf("w")[0].message), /store-unavailable/);
  });
});
