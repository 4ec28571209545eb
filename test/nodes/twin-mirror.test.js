"use strict";
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { helper, nodes, flow, waitFor, holdFsyncs, useUserDir } = require("./support");

const mirrorNode = require(path.join(__dirname, "..", "..", "nodes", "twin-mirror.js"));
const completeNode = require("@node-red/nodes/core/common/24-complete.js");

const MODELS = JSON.stringify({
  thermostat: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 80 },
      setpoint: { type: "number", minimum: 5, maximum: 30, writable: true, tolerance: 0.2 },
      mode: { type: "string", enum: ["heat", "cool", "off"], writable: true },
    },
  },
});

const plain = (v) => JSON.parse(JSON.stringify(v));

/** A registry, the mirror "m" wired to helpers "dev" (output 1) and "sync" (output 2), and a complete node. */
function mirrorFlow(config = {}, registryConfig = {}, more = []) {
  return flow(
    [
      { id: "m", type: "twin-mirror", registry: "reg", twinId: "", twinIdType: "str", scope: "all", topic: "devices/{twin}/set", timeout: 30, retries: 2, backoff: 2, wires: [["dev"], ["sync"]], ...config },
      { id: "dev", type: "helper" },
      { id: "sync", type: "helper" },
      { id: "completer", type: "complete", scope: ["m"], uncaught: false, wires: [["completed"]] },
      { id: "completed", type: "helper" },
      ...more,
    ],
    { models: MODELS, ...registryConfig },
  );
}

let seen;

/** Loads the flow and records what reaches the two outputs. */
async function load(f) {
  await helper.load([nodes.registry, nodes.twin, mirrorNode, nodes.catch, completeNode], f);
  seen = { dev: [], sync: [], status: [] };
  helper.getNode("dev").on("input", (msg) => seen.dev.push(msg));
  helper.getNode("sync").on("input", (msg) => seen.sync.push(msg));
  const m = helper.getNode("m");
  const status = m.status;
  m.status = function (s) {
    seen.status.push(s);
    return status.call(this, s);
  };
  return helper.getNode("reg").use();
}

/** Sends a message to the mirror; resolves once it completed or failed. */
function send(msg) {
  return new Promise((resolve) => {
    const completed = helper.getNode("completed");
    const errors = helper.getNode("errors");
    const finish = (kind) => (m) => {
      completed.removeAllListeners("input");
      errors.removeAllListeners("input");
      // Outputs sent before done() arrive in the same turn; let them land.
      setImmediate(() => resolve({ kind, msg: m }));
    };
    completed.once("input", finish("ok"));
    errors.once("input", finish("error"));
    helper.getNode("m").receive(msg);
  });
}

const take = (name) => seen[name].splice(0);
const statusOf = (events) => events.map((m) => `${m.payload.twinId}/${m.payload.property}:${m.payload.status}:${m.payload.attempts}`);

function thermostat(registry, id = "th-1", reported = { temperature: 19, setpoint: 18, mode: "heat" }) {
  registry.create(id, { model: "thermostat", reported });
}

describe("twin-mirror node", function () {
  beforeEach(function (done) {
    helper.startServer(done);
  });

  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    assert.equal({}.polluted, undefined);
  });

  describe("setting desired state", function () {
    it("sends the delta to the device, reports pending, then applied once reported matches", async function () {
      const reg = await load(mirrorFlow());
      thermostat(reg);
      const r = await send({ twinId: "th-1", payload: { setpoint: 21.5, mode: "cool" } });
      assert.equal(r.kind, "ok");
      const dev = take("dev");
      assert.equal(dev.length, 1);
      assert.equal(dev[0].topic, "devices/th-1/set");
      assert.deepEqual(plain(dev[0].payload), { setpoint: 21.5, mode: "cool" });
      assert.equal(dev[0].twinId, "th-1");
      assert.equal(dev[0].reason, "change");
      const sync = take("sync");
      assert.deepEqual(statusOf(sync), ["th-1/setpoint:pending:1", "th-1/mode:pending:1"]);
      assert.equal(sync[0].topic, "sync");
      assert.deepEqual(Object.keys(sync[0].payload).sort(), ["attempts", "desired", "property", "reported", "status", "ts", "twinId"]);
      assert.equal(sync[0].payload.reported, 18);
      assert.deepEqual(plain(reg.get("th-1").desired), { setpoint: 21.5, mode: "cool" });
      await waitFor(() => seen.status.some((s) => s.text === "twin-mirror.status.pending"));

      reg.report("th-1", { setpoint: 21.6, mode: "cool" }); // within the tolerance of 0.2
      await waitFor(() => seen.sync.length === 2);
      assert.deepEqual(statusOf(take("sync")), ["th-1/setpoint:applied:1", "th-1/mode:applied:1"]);
      assert.deepEqual(take("dev"), []);
      await waitFor(() => seen.status.length && seen.status[seen.status.length - 1].text === "twin-mirror.status.in-sync");
    });

    it("takes the twin id from the node's typedInput, else from msg.twinId", async function () {
      let reg = await load(mirrorFlow({ twinId: "device.name", twinIdType: "msg" }));
      thermostat(reg, "th-a");
      let r = await send({ device: { name: "th-a" }, twinId: "ignored", payload: { setpoint: 20 } });
      assert.equal(r.kind, "ok");
      assert.equal(take("dev")[0].topic, "devices/th-a/set");
      await helper.unload();

      reg = await load(mirrorFlow({ twinId: "th-b", twinIdType: "str" }));
      thermostat(reg, "th-b");
      r = await send({ twinId: "ignored", payload: { setpoint: 20 } });
      assert.equal(take("dev")[0].twinId, "th-b");
      await helper.unload();

      reg = await load(mirrorFlow({ twinId: "$string(room) & '-1'", twinIdType: "jsonata" }));
      thermostat(reg, "kitchen-1");
      r = await send({ room: "kitchen", payload: { setpoint: 20 } });
      assert.equal(r.kind, "ok");
      assert.equal(take("dev")[0].twinId, "kitchen-1");
    });

    it("sends one message per property when the topic names {property}", async function () {
      const reg = await load(mirrorFlow({ topic: "home/{twin}/{property}/set" }));
      thermostat(reg);
      await send({ twinId: "th-1", payload: { setpoint: 22, mode: "off" } });
      const dev = take("dev");
      assert.deepEqual(dev.map((m) => [m.topic, m.payload, m.property]), [
        ["home/th-1/setpoint/set", 22, "setpoint"],
        ["home/th-1/mode/set", "off", "mode"],
      ]);
    });

    it("honours msg.ifVersion, and null clears a desired property", async function () {
      const reg = await load(mirrorFlow());
      thermostat(reg);
      const version = reg.get("th-1").version;
      let r = await send({ twinId: "th-1", ifVersion: version, payload: { setpoint: 22 } });
      assert.equal(r.kind, "ok");
      take("sync");
      r = await send({ twinId: "th-1", ifVersion: version, payload: { setpoint: 23 } });
      assert.equal(r.kind, "error");
      assert.match(r.msg.error.message, /errors\.conflict/);
      assert.equal(reg.get("th-1").desired.setpoint, 22);

      r = await send({ twinId: "th-1", payload: { setpoint: null } });
      assert.equal(r.kind, "ok");
      assert.deepEqual(plain(reg.get("th-1").desired), {});
      assert.deepEqual(statusOf(take("sync")), ["th-1/setpoint:cleared:1"]);
    });

    it("says applied with 0 attempts, and sends nothing, when the device is already there", async function () {
      const reg = await load(mirrorFlow());
      thermostat(reg);
      await send({ twinId: "th-1", payload: { mode: "heat" } });
      assert.deepEqual(take("dev"), []);
      assert.deepEqual(statusOf(take("sync")), ["th-1/mode:applied:0"]);
    });

    it("fails bad input with a translated error; the twin is unchanged and nothing is sent", async function () {
      const reg = await load(mirrorFlow());
      thermostat(reg);
      await send({ twinId: "th-1", payload: { setpoint: 20 } });
      take("dev");
      take("sync");
      const before = JSON.stringify(reg.get("th-1"));
      const cases = [
        [{ twinId: "th-1", payload: { temperature: 25 } }, /twin-registry\.errors\.not-writable/],
        [{ twinId: "th-1", payload: { setpoint: 50 } }, /twin-registry\.errors\.invalid-value/],
        [{ twinId: "th-1", payload: { setpoint: "warm" } }, /twin-registry\.errors\.invalid-value/],
        [{ twinId: "th-1", payload: { mode: "turbo", setpoint: 21 } }, /twin-registry\.errors\.invalid-value/],
        [{ twinId: "th-1", payload: { humidity: 40 } }, /twin-registry\.errors\.not-in-model/],
        [{ twinId: "nobody", payload: { setpoint: 20 } }, /twin-registry\.errors\.not-found/],
        [{ twinId: "bad id/slash", payload: { setpoint: 20 } }, /twin-registry\.errors\.invalid-id/],
        [{ twinId: "__proto__", payload: { setpoint: 20 } }, /twin-registry\.errors\.invalid-id/],
        [{ twinId: "th-1", payload: "21" }, /twin-mirror\.errors\.payload/],
        [{ twinId: "th-1", payload: [21] }, /twin-mirror\.errors\.payload/],
        [{ twinId: "th-1", payload: null }, /twin-mirror\.errors\.payload/],
        [{ twinId: "th-1" }, /twin-mirror\.errors\.payload/],
        [{ twinId: "th-1", payload: JSON.parse('{"__proto__": {"polluted": true}}') }, /twin-registry\.errors\.forbidden-key/],
        [{ twinId: "th-1", payload: { setpoint: 21, constructor: 1 } }, /twin-registry\.errors\.forbidden-key/],
        [{ twinId: "th-1", payload: { setpoint: NaN } }, /twin-registry\.errors\.invalid-value/],
        [{ twinId: "th-1", ifVersion: "soon", payload: { setpoint: 21 } }, /twin-registry\.errors\.invalid-version/],
        [{ payload: { setpoint: 21 } }, /twin-mirror\.errors\.no-id/],
        [{ twinId: "nobody", topic: "get" }, /twin-registry\.errors\.not-found/],
      ];
      for (const [msg, pattern] of cases) {
        const r = await send(msg);
        assert.equal(r.kind, "error", `expected an error for ${JSON.stringify(msg)}`);
        assert.match(r.msg.error.message, pattern);
      }
      assert.equal(JSON.stringify(reg.get("th-1")), before, "the twin changed");
      assert.deepEqual(take("dev"), []);
      assert.deepEqual(take("sync"), []);
      assert.equal({}.polluted, undefined);
    });

    it("answers msg.topic \"get\" on output 2 with desired, reported, delta and tracking", async function () {
      const reg = await load(mirrorFlow());
      thermostat(reg);
      await send({ twinId: "th-1", payload: { setpoint: 24 } });
      take("dev");
      take("sync");
      const r = await send({ twinId: "th-1", topic: "get", correlation: 7 });
      assert.equal(r.kind, "ok");
      assert.deepEqual(take("dev"), []);
      const [reply] = take("sync");
      assert.equal(reply.topic, "get");
      assert.equal(reply.correlation, 7);
      assert.deepEqual(plain(reply.payload), {
        twinId: "th-1",
        desired: { setpoint: 24 },
        reported: { temperature: 19, setpoint: 18, mode: "heat" },
        delta: { setpoint: 24 },
        sync: { setpoint: { status: "pending", attempts: 1, desired: 24 } },
      });
    });
  });

  describe("convergence over time", function () {
    it("times out, resends with backoff, then fails; the status counts failures", async function () {
      const reg = await load(mirrorFlow({ timeout: 0.1, retries: 1, backoff: 2 }));
      thermostat(reg);
      const start = Date.now();
      await send({ twinId: "th-1", payload: { setpoint: 25 } });
      take("dev");
      take("sync");
      await waitFor(() => seen.sync.length >= 1, "the first timeout");
      const retry = take("dev");
      assert.deepEqual(retry.map((m) => [m.reason, plain(m.payload)]), [["retry", { setpoint: 25 }]]);
      assert.deepEqual(statusOf(seen.sync.splice(0, 1)), ["th-1/setpoint:timeout:2"]);
      await waitFor(() => seen.sync.length >= 1, "the failure");
      assert.ok(Date.now() - start >= 280, "the second wait is twice the first"); // a lower bound: load only adds to it
      assert.deepEqual(statusOf(take("sync")), ["th-1/setpoint:failed:2"]);
      assert.deepEqual(take("dev"), []);
      await waitFor(() => seen.status.length && seen.status[seen.status.length - 1].text === "twin-mirror.status.failed");
      assert.equal(seen.status[seen.status.length - 1].fill, "red");
    });

    it("clears desired once applied when set to", async function () {
      const reg = await load(mirrorFlow({ clearOnApplied: true }));
      thermostat(reg);
      await send({ twinId: "th-1", payload: { setpoint: 22 } });
      reg.report("th-1", { setpoint: 22 });
      await waitFor(() => seen.sync.length >= 2, "pending, then applied");
      await waitFor(() => Object.keys(reg.get("th-1").desired).length === 0, "desired cleared once applied");
      const doc = reg.get("th-1");
      assert.deepEqual(plain(doc.desired), {});
      assert.deepEqual(plain(doc.meta.desired), {});
      // The marker that no other sync event comes: the answer to a later "get" on the same output.
      const r = await send({ twinId: "th-1", topic: "get" });
      assert.equal(r.kind, "ok");
      const sync = take("sync");
      assert.deepEqual(sync.map((m) => m.topic), ["sync", "sync", "get"], "nothing more");
      assert.deepEqual(statusOf(sync.slice(0, 2)), ["th-1/setpoint:pending:1", "th-1/setpoint:applied:1"]);
      assert.deepEqual(plain(sync[2].payload.desired), {});
    });

    it("reacts to desired state set elsewhere and to reported moving away from desired", async function () {
      const reg = await load(mirrorFlow({}, {}, [{ id: "t", type: "twin", registry: "reg", operation: "upsert", twinId: "", twinIdType: "str", wires: [[]] }]));
      thermostat(reg);
      helper.getNode("t").receive({ twinId: "th-1", payload: { desired: { mode: "cool" } } });
      await waitFor(() => seen.dev.length === 1);
      assert.deepEqual(plain(take("dev")[0].payload), { mode: "cool" });
      reg.report("th-1", { mode: "cool" });
      await waitFor(() => seen.sync.some((m) => m.payload.status === "applied"));
      reg.report("th-1", { mode: "off" }); // someone at the device
      await waitFor(() => seen.dev.length === 1);
      const [again] = take("dev");
      assert.deepEqual([again.reason, plain(again.payload)], ["change", { mode: "cool" }]);
    });

    it("resends outstanding deltas when a twin comes back online", async function () {
      const reg = await load(mirrorFlow({ timeout: 60 }, { staleness: 1 }));
      thermostat(reg);
      await send({ twinId: "th-1", payload: { setpoint: 26, mode: "off" } });
      take("dev");
      take("sync");
      await waitFor(() => reg.get("th-1").connectivity.online === false, "th-1 offline after staleness");
      assert.deepEqual(take("dev"), []);
      reg.report("th-1", { temperature: 19.5, mode: "off" });
      await waitFor(() => seen.dev.length === 1);
      const [resync] = take("dev");
      assert.equal(resync.reason, "resync");
      assert.deepEqual(plain(resync.payload), { setpoint: 26 });
      assert.deepEqual(statusOf(take("sync")), ["th-1/mode:applied:1", "th-1/setpoint:pending:1"]);
    });
  });

  describe("which twins", function () {
    async function changeBoth(config) {
      const reg = await load(mirrorFlow(config));
      thermostat(reg, "th-1");
      thermostat(reg, "hall-2");
      reg.setDesired("th-1", { setpoint: 21 });
      reg.setDesired("hall-2", { setpoint: 21 });
      // The marker: a message through the mirror (answered or refused) after the two writes; what
      // the mirror sent about them was sent before, and Node-RED delivers in order.
      await send({ twinId: "th-1", topic: "get" });
      return take("dev").map((m) => m.twinId);
    }

    it("handles every twin of the registry by default", async function () {
      assert.deepEqual((await changeBoth({})).sort(), ["hall-2", "th-1"]);
    });

    it("handles only the node's twin id when set to, and refuses messages for others", async function () {
      assert.deepEqual(await changeBoth({ scope: "twin", twinId: "hall-2" }), ["hall-2"]);
      const r = await send({ payload: { setpoint: 22 } });
      assert.equal(r.kind, "ok");
      assert.equal(take("dev")[0].twinId, "hall-2");
    });

    it("takes the one twin from an environment variable", async function () {
      process.env.TWIN_MIRROR_TEST_ID = "th-1";
      try {
        assert.deepEqual(await changeBoth({ scope: "twin", twinId: "TWIN_MIRROR_TEST_ID", twinIdType: "env" }), ["th-1"]);
      } finally {
        delete process.env.TWIN_MIRROR_TEST_ID;
      }
    });

    it("handles twins whose id matches a glob, and refuses messages for others", async function () {
      assert.deepEqual(await changeBoth({ scope: "glob", pattern: "th-*, x-?" }), ["th-1"]);
      const r = await send({ twinId: "hall-2", payload: { setpoint: 22 } });
      assert.equal(r.kind, "error");
      assert.match(r.msg.error.message, /twin-mirror\.errors\.not-handled/);
    });

    it("refuses to start with settings that can not work, and says so on every message", async function () {
      const bad = [
        [{ topic: "devices/+/set" }, /errors\.topic-wildcard/],
        [{ topic: "devices/{id}/set" }, /errors\.topic-placeholder/],
        [{ scope: "glob", pattern: "th/*" }, /errors\.pattern/],
        [{ scope: "twin", twinId: "path", twinIdType: "msg" }, /errors\.scope-id/],
        [{ timeout: "0" }, /errors\.timeout/],
        [{ retries: "1.5" }, /errors\.retries/],
        [{ backoff: "0.5" }, /errors\.backoff/],
      ];
      for (const [config, pattern] of bad) {
        await load(mirrorFlow(config));
        const r = await send({ twinId: "th-1", payload: { setpoint: 20 } });
        assert.equal(r.kind, "error", JSON.stringify(config));
        assert.match(r.msg.error.message, pattern);
        await helper.unload();
      }
    });

    it("fails every message clearly when its registry could not start", async function () {
      await helper.load([nodes.registry, mirrorNode, nodes.catch, completeNode], mirrorFlow({}, { models: "{ not json" }));
      const r = await send({ twinId: "th-1", payload: { setpoint: 20 } });
      assert.equal(r.kind, "error");
      assert.match(r.msg.error.message, /errors\.store-unavailable/);
    });
  });

  describe("restart", function () {
    useUserDir("twin-mirror-");

    it("keeps desired state and attempts across a redeploy, sending nothing at start", async function () {
      // A timeout of a second: the redeploy must come between the second attempt and the third,
      // which leaves it a second on a loaded machine.
      const config = { timeout: 1, retries: 2, backoff: 1 };
      let reg = await load(mirrorFlow(config, { persistence: "batched" }));
      thermostat(reg);
      await send({ twinId: "th-1", payload: { setpoint: 27 } });
      await waitFor(() => seen.sync.length >= 2, "pending, then timeout (attempt 2)");
      await helper.unload();
      assert.deepEqual(statusOf(take("sync")), ["th-1/setpoint:pending:1", "th-1/setpoint:timeout:2"], "redeployed between the second attempt and the third");

      reg = await load(mirrorFlow(config, { persistence: "batched" }));
      assert.deepEqual(plain(reg.get("th-1").desired), { setpoint: 27 });
      await waitFor(() => seen.status.some((s) => s.text === "twin-mirror.status.pending") || seen.sync.length > 0);
      // The marker for "no flood at start": the next timeout comes a whole timeout after the start,
      // with its retry; anything sent at start would be in front of it.
      await waitFor(() => seen.sync.length >= 1, "the next timeout");
      assert.deepEqual(statusOf(take("sync")).slice(0, 1), ["th-1/setpoint:timeout:3"], "attempts go on from where they were");
      assert.deepEqual(take("dev").map((m) => m.reason), ["retry"], "no flood at start: the retry is the only message");
    });

    it("sends outstanding deltas at start when 'resend on deploy' is set", async function () {
      const config = { timeout: 30, resendOnDeploy: true };
      let reg = await load(mirrorFlow({ timeout: 30 }, { persistence: "batched" }));
      thermostat(reg);
      await send({ twinId: "th-1", payload: { setpoint: 12 } });
      await helper.unload();
      reg = await load(mirrorFlow(config, { persistence: "batched" }));
      await waitFor(() => seen.dev.length === 1);
      const [msg] = take("dev");
      assert.equal(msg.reason, "start");
      assert.deepEqual(plain(msg.payload), { setpoint: 12 });
      assert.deepEqual(statusOf(take("sync")), ["th-1/setpoint:pending:1"]);
    });
  });

  describe("strict persistence", function () {
    useUserDir("twin-mirror-");

    /** A strict registry with th-1 on disk, and its fsyncs held back from now on. */
    async function strictWithHeldFsyncs() {
      const reg = await load(mirrorFlow({}, { persistence: "strict" }));
      thermostat(reg);
      await new Promise((resolve, reject) => reg.whenDurable((err) => (err ? reject(err) : resolve())));
      return { reg, fsyncs: holdFsyncs(reg) };
    }

    it("sends the delta for its own input only once the desired state is on disk", async function () {
      const { fsyncs } = await strictWithHeldFsyncs();
      const answered = send({ twinId: "th-1", payload: { setpoint: 22 } });
      await waitFor(() => fsyncs.held > 0, "the desired state's journal write to reach its fsync");
      assert.equal(seen.dev.length + seen.sync.length, 0, "the device was told before the change was on disk");
      fsyncs.release();
      assert.equal((await answered).kind, "ok");
      assert.deepEqual(plain(take("dev")[0].payload), { setpoint: 22 });
      fsyncs.restore();
    });

    it("sends the delta for another writer's desired state only once it is on disk", async function () {
      const { reg, fsyncs } = await strictWithHeldFsyncs();
      reg.setDesired("th-1", { mode: "off" }, { by: "admin-api" });
      await waitFor(() => fsyncs.held > 0, "the desired state's journal write to reach its fsync");
      // The mirror has gathered its command for the turn; let the turn end before looking.
      await new Promise((r) => setImmediate(r));
      assert.equal(seen.dev.length + seen.sync.length, 0, "the device was told before the change was on disk");
      fsyncs.release();
      await waitFor(() => seen.dev.length === 1, "the delta once the fsync completed");
      assert.deepEqual(plain(take("dev")[0].payload), { mode: "off" });
      fsyncs.restore();
    });
  });

  describe("catalog", function () {
    const catalog = require("../../nodes/locales/en-US/twin-mirror.json")["twin-mirror"];
    // The node's own keys, and those of the scope reader it shares with twin-lifecycle.
    const source = ["twin-mirror.ts", "scope.ts"].map((f) => fs.readFileSync(path.join(__dirname, "..", "..", "src", "nodes", f), "utf8")).join("\n");

    it("has every message the node uses", function () {
      const keys = new Set();
      for (const m of source.matchAll(/\bt\(`?"?([a-z]+\.[a-z-]+)/g)) if (!m[1].endsWith("-")) keys.add(m[1]);
      for (const problem of ["empty", "wildcard", "placeholder"]) keys.add(`errors.topic-${problem}`);
      assert.ok(keys.size > 10);
      for (const key of keys) {
        const [group, name] = key.split(".");
        assert.equal(typeof catalog[group]?.[name], "string", `twin-mirror.${key} is missing`);
      }
    });

    it("keeps status texts under 20 characters", function () {
      for (const [name, text] of Object.entries(catalog.status)) {
        const shown = text.replace("__count__", "99999");
        assert.ok(shown.length < 20, `status.${name}: "${shown}"`);
      }
    });
  });
});
