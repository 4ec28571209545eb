"use strict";
// The lifecycle tied to a registry: transitions and guards, counters fed by readings, work
// orders, due rules, history and KPIs: src/core/lifecycle/tracker.ts. Time is simulated: the
// registry and the tracker share a clock the test moves, readings carry their own timestamps.
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { FileStore } = require("../../nodes/lib/core/store/file-store");
const { Lifecycle } = require("../../nodes/lib/core/lifecycle/tracker");
const { compileComparison } = require("../../nodes/lib/core/lifecycle/conditions");
const { parseCounters } = require("../../nodes/lib/core/lifecycle/counters");
const { parseRules } = require("../../nodes/lib/core/lifecycle/maintenance");
const { parseStages } = require("../../nodes/lib/core/lifecycle/stages");

const H = 3_600_000;
const D = 24 * H;
const T0 = Date.UTC(2025, 0, 1);
const NOW = T0 + 365 * D; // the wall clock: readings below are all in its past
const plain = (v) => JSON.parse(JSON.stringify(v));

function manualClock(start = NOW) {
  let now = start;
  const clock = () => now;
  clock.advance = (ms) => (now += ms);
  return clock;
}

const code = (c) => (err) => {
  assert.equal(err.code, c, err.message);
  return true;
};

let open = [];
afterEach(async function () {
  for (const x of open) {
    x.lc.close();
    await x.reg.close();
  }
  open = [];
});

/** A registry and a tracker counting `rpm > 0`, sharing a manual clock; audit entries and errors recorded. */
function setup(options = {}, registryOptions = {}) {
  const clock = registryOptions.clock || manualClock();
  const reg = new TwinRegistry({ clock, ...registryOptions });
  reg.open();
  const audit = [];
  const errors = [];
  const lc = new Lifecycle({
    registry: reg,
    clock,
    running: compileComparison("rpm > 0"),
    onAudit: (twinId, entry) => audit.push({ twinId, ...plain(entry) }),
    onError: (err) => errors.push(err),
    ...options,
  });
  lc.start();
  open.push({ reg, lc });
  return { reg, lc, clock, audit, errors };
}

/** Readings [hoursAfterT0, values] into twin id. */
function readings(reg, id, list) {
  for (const [h, values] of list) reg.report(id, values, { ts: T0 + h * H, create: {} });
}

/** Everything a failed action must leave as it was. */
function snapshot(reg, id) {
  const twin = reg.twin(id);
  return plain({ doc: reg.get(id), state: twin.state ? [...twin.state] : [] });
}

describe("core/lifecycle: tracker", function () {
  describe("transitions", function () {
    it("moves a twin between stages, recording time, who and why in the log and twin.lifecycle", function () {
      const { reg, lc, clock, audit } = setup();
      reg.create("p1");
      const r = lc.transition("p1", { to: "commissioned", by: "ana", reason: "installed on line A" });
      assert.deepEqual(plain(r.lifecycle), { stage: "commissioned", since: NOW, operatingHours: 0, cycles: 0, maintenanceDue: null });
      assert.deepEqual(plain(reg.get("p1").lifecycle), plain(r.lifecycle));
      assert.equal(reg.get("p1").version, 2, "a version step");
      clock.advance(60_000);
      lc.transition("p1", { to: "operating", by: "ben" });
      const log = lc.history("p1").log;
      assert.deepEqual(plain(log), [
        { ts: NOW, type: "transition", from: null, to: "commissioned", by: "ana", reason: "installed on line A" },
        { ts: NOW + 60_000, type: "transition", from: "commissioned", to: "operating", by: "ben", reason: null },
      ]);
      assert.deepEqual(audit.map((a) => [a.twinId, a.type, a.to]), [["p1", "transition", "commissioned"], ["p1", "transition", "operating"]]);
      assert.equal(reg.list({ stage: "operating" }).total, 1);
    });

    it("refuses a transition that is not allowed and leaves the twin as it was", function () {
      const { reg, lc, audit } = setup();
      reg.create("p1");
      lc.transition("p1", { to: "operating", by: "ana" });
      const before = snapshot(reg, "p1");
      assert.throws(() => lc.transition("p1", { to: "retired", by: "ana" }), (err) => {
        assert.equal(err.code, "transition");
        assert.deepEqual(err.params, { twinId: "p1", from: "operating", to: "retired", allowed: "maintenance, decommissioned" });
        return true;
      });
      assert.throws(() => lc.transition("p1", { to: "operating" }), code("same-stage"));
      assert.throws(() => lc.transition("p1", { to: "scrapyard" }), code("stage-unknown"));
      assert.throws(() => lc.transition("p1", { by: "ana" }), code("payload.missing"));
      assert.throws(() => lc.transition("p1", { to: "maintenance", override: "yes" }), code("payload.boolean"));
      assert.throws(() => lc.transition("p1", { to: "maintenance", when: 1 }), code("payload.unknown-field"));
      assert.throws(() => lc.transition("p1", JSON.parse('{"to": "maintenance", "__proto__": {"x": 1}}')), code("forbidden-key"));
      assert.throws(() => lc.transition("p1", "maintenance"), code("payload.object"));
      assert.throws(() => lc.transition("nope", { to: "maintenance" }), code("not-found"));
      assert.throws(() => lc.transition("../etc", { to: "maintenance" }), code("invalid-id"));
      assert.throws(() => lc.transition("p1", { to: "maintenance" }, { ifVersion: 1 }), code("conflict"));
      assert.deepEqual(snapshot(reg, "p1"), before);
      assert.equal(audit.length, 1);
      assert.equal({}.x, undefined);
    });

    it("nothing leaves retired", function () {
      const { reg, lc } = setup();
      reg.create("p1");
      lc.transition("p1", { to: "retired", by: "ana", reason: "bought in used, never installed" });
      assert.throws(() => lc.transition("p1", { to: "commissioned" }), (err) => err.code === "transition" && err.params.allowed === "-");
    });

    it("uses the user's own stages", function () {
      const { reg, lc } = setup({ stages: parseStages({ transitions: { idle: ["running"], running: ["idle"] } }) });
      reg.create("m1");
      lc.transition("m1", { to: "idle" });
      lc.transition("m1", { to: "running" });
      assert.throws(() => lc.transition("m1", { to: "maintenance" }), (err) => err.code === "stage-unknown" && err.params.stages === "idle, running");
    });
  });

  describe("guards", function () {
    function inMaintenance() {
      const x = setup();
      x.reg.create("p1");
      x.lc.transition("p1", { to: "operating", by: "ana" });
      x.lc.transition("p1", { to: "maintenance", by: "ana", reason: "seal leaks" });
      x.lc.openOrder("p1", { type: "corrective", description: "replace seal", by: "ana" });
      return x;
    }

    it("leaving maintenance for operating needs the open work order closed", function () {
      const { reg, lc } = inMaintenance();
      const before = snapshot(reg, "p1");
      assert.throws(() => lc.transition("p1", { to: "operating", by: "ana" }), (err) => {
        assert.equal(err.code, "guard");
        assert.deepEqual(err.params, { twinId: "p1", from: "maintenance", to: "operating", orders: "WO-1" });
        return true;
      });
      assert.deepEqual(snapshot(reg, "p1"), before);
      lc.transition("p1", { to: "decommissioned", by: "ana", reason: "not worth repairing" }); // not guarded
    });

    it("passes once the order is closed", function () {
      const { lc } = inMaintenance();
      lc.closeOrder("p1", { id: "WO-1", hours: 3, by: "ben" });
      const r = lc.transition("p1", { to: "operating", by: "ben" });
      assert.equal(r.lifecycle.stage, "operating");
      assert.equal(r.entry.override, undefined);
      assert.equal(r.entry.maintenanceDone, true);
    });

    it("an override passes with a reason, and is recorded", function () {
      const { reg, lc, audit } = inMaintenance();
      assert.throws(() => lc.transition("p1", { to: "operating", by: "ana", override: true }), code("override-reason"));
      const r = lc.transition("p1", { to: "operating", by: "chief", reason: "production emergency, seal holds for now", override: true });
      assert.equal(r.lifecycle.stage, "operating");
      const entry = plain(lc.history("p1").log.pop());
      assert.deepEqual({ ...entry, ts: 0 }, {
        ts: 0, type: "transition", from: "maintenance", to: "operating", by: "chief", reason: "production emergency, seal holds for now",
        override: true, openOrders: ["WO-1"], maintenanceDone: true,
      });
      assert.equal(audit.pop().override, true);
      assert.equal(lc.kpi("p1").workOrders.open, 1, "the order stays open");
      assert.equal(reg.get("p1").lifecycle.stage, "operating");
    });
  });

  describe("usage counters", function () {
    it("count operating hours and cycles from reading timestamps, not the wall clock", function () {
      const { reg, lc } = setup();
      readings(reg, "p1", [
        [0, { rpm: 0 }],
        [1, { rpm: 1500 }], // start
        [2, { rpm: 1490 }],
        [3.5, { rpm: 0 }], // stop: 2.5 h
        [4, { temperature: 40 }],
        [5, { rpm: 1450 }], // start
        [6, { temperature: 60 }], // still running: 1 h more
      ]);
      const k = lc.kpi("p1");
      assert.equal(k.operatingHours, 3.5);
      assert.equal(k.cycles, 2);
      assert.equal(k.running, true);
      assert.equal(k.asOf, T0 + 6 * H);
      const lcDoc = reg.get("p1").lifecycle;
      assert.equal(lcDoc.cycles, 2);
      assert.equal(lcDoc.operatingHours, 3.5, "refreshed once it moved 0.1 h or more");
      assert.equal(lcDoc.stage, null, "counting needs no stage");
    });

    it("write on starts and stops and every 0.1 operating hours, not on every reading", function () {
      const { reg } = setup();
      const events = [];
      reg.subscribe((e) => e.section === "lifecycle" && events.push(e));
      readings(reg, "p1", [[0, { rpm: 1500 }]]);
      const state = [];
      reg.subscribe((e) => e.section === "lifecycle" && state.push(e));
      for (let m = 1; m <= 30; m++) readings(reg, "p1", [[m / 60, { rpm: 1500, temperature: 50 + m / 10 }]]);
      assert.equal(events.length, 5, "at 6, 12, 18, 24 and 30 minutes");
      assert.deepEqual(events.map((e) => e.changes.operatingHours.value), [0.1, 0.2, 0.3, 0.4, 0.5]);
    });

    it("count replayed, time-warped data by its timestamps", function () {
      const { reg, lc } = setup();
      // A week of simulated readings, one every 17 minutes, all arriving at the same wall-clock instant.
      let expected = 0;
      let prev = null;
      for (let i = 0; i <= 600; i++) {
        const running = i % 100 < 50;
        readings(reg, "p1", [[i * 17 / 60, { rpm: running ? 1450 : 0 }]]);
        if (prev) expected += 17 * 60_000;
        prev = running;
      }
      assert.equal(lc.kpi("p1").operatingHours, Math.round((expected / H) * 1e6) / 1e6);
      assert.equal(lc.kpi("p1").cycles, 6);
    });

    it("a reading again at the same time counts nothing twice", function () {
      const { reg, lc } = setup();
      readings(reg, "p1", [[0, { rpm: 0 }], [1, { rpm: 1500 }], [2, { rpm: 1500 }], [2, { rpm: 1500 }], [1, { rpm: 1500 }]]);
      assert.equal(lc.kpi("p1").operatingHours, 1);
      assert.equal(lc.kpi("p1").cycles, 1);
    });

    it("are exact across a restart, with nothing counted twice or lost", async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-lifecycle-"));
      try {
        const clock = manualClock();
        let x = setup({}, { clock, store: new FileStore({ dir, mode: "strict" }) });
        readings(x.reg, "p1", [[0, { rpm: 0 }], [1, { rpm: 1500 }], [2, { rpm: 1500 }], [2.5, { rpm: 1500 }]]);
        assert.equal(x.lc.kpi("p1").operatingHours, 1.5);
        await new Promise((resolve) => x.reg.whenDurable(resolve));
        x.lc.close();
        await x.reg.close();
        open = [];
        x = setup({}, { clock, store: new FileStore({ dir, mode: "strict" }) });
        assert.equal(x.lc.kpi("p1").operatingHours, 1.5, "the running time up to the last reading before the restart");
        readings(x.reg, "p1", [[2.5, { rpm: 1500 }], [3, { rpm: 0 }], [4, { rpm: 1200 }], [4.25, { rpm: 1200 }]]);
        const k = x.lc.kpi("p1");
        assert.equal(k.operatingHours, 2.25);
        assert.equal(k.cycles, 2);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("custom counters: starts under load, load peaks, hot hours", function () {
      const counters = parseCounters([
        { name: "loadedStarts", count: "starts", when: "power > 9" },
        { name: "peaks", count: "rises", when: "power > 9" },
        { name: "hotHours", count: "hours", when: "temperature > 70" },
      ], { running: true });
      const { reg, lc } = setup({ counters });
      readings(reg, "p1", [
        [0, { rpm: 0, power: 0, temperature: 20 }],
        [1, { rpm: 1500, power: 10, temperature: 60 }], // start under load, a peak
        [2, { rpm: 1500, power: 8, temperature: 75 }], // hot from here
        [3, { rpm: 0, power: 0, temperature: 72 }],
        [4, { rpm: 1500, power: 5, temperature: 65 }], // a start without load; not hot any more
        [5, { rpm: 1500, power: 12, temperature: 65 }], // a peak, no start
      ]);
      assert.deepEqual(plain(lc.kpi("p1").counters), { loadedStarts: 1, peaks: 2, hotHours: 2 });
    });

    it("conditions evaluated asynchronously (JSONata) are applied in reading order", async function () {
      let calls = 0;
      const slow = {
        properties: null,
        source: "slow",
        evaluate: (twin) => {
          const value = twin.reported.get("rpm").value > 0;
          const wait = [7, 1, 4, 0, 3][calls++ % 5];
          return new Promise((resolve) => setTimeout(() => resolve(value), wait));
        },
      };
      const { reg, lc, errors } = setup({ running: slow });
      readings(reg, "p1", [[0, { rpm: 0 }], [1, { rpm: 1500 }], [2, { rpm: 0 }], [3, { rpm: 1500 }], [4, { rpm: 1500 }], [6, { rpm: 0 }]]);
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.deepEqual(errors, []);
      assert.equal(lc.kpi("p1").operatingHours, 4);
      assert.equal(lc.kpi("p1").cycles, 2);
    });

    it("an asynchronous condition that fails is reported, and later readings still count", async function () {
      let calls = 0;
      const flaky = {
        properties: null,
        source: "flaky",
        evaluate: (twin) => {
          const n = calls++;
          const value = twin.reported.get("rpm").value > 0;
          if (n === 1) return Promise.reject(new Error("expression failed"));
          return new Promise((resolve) => setTimeout(() => resolve(value), n === 0 ? 20 : 0));
        },
      };
      const { reg, lc, errors } = setup({ running: flaky });
      readings(reg, "p1", [[0, { rpm: 0 }], [1, { rpm: 1500 }], [2, { rpm: 1500 }], [3, { rpm: 0 }]]);
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.deepEqual(errors.map((e) => e.message), ["expression failed"]);
      assert.deepEqual([lc.kpi("p1").operatingHours, lc.kpi("p1").cycles], [1, 1]);
    });

    it("counts only the twins it handles", function () {
      const { reg, lc } = setup({ handles: (id) => id.startsWith("pump-") });
      readings(reg, "pump-1", [[0, { rpm: 0 }], [1, { rpm: 1 }], [2, { rpm: 1 }]]);
      readings(reg, "fan-1", [[0, { rpm: 0 }], [1, { rpm: 1 }], [2, { rpm: 1 }]]);
      assert.equal(lc.kpi("pump-1").operatingHours, 1);
      assert.equal(reg.twin("fan-1").state, null);
      assert.equal(lc.fleet().twins, 1);
    });
  });

  describe("work orders", function () {
    it("open, note, close: part of the twin's record", function () {
      const { reg, lc, clock, audit } = setup();
      reg.create("p1");
      const opened = lc.openOrder("p1", { type: "corrective", description: "seal leaks", by: "ana" });
      assert.deepEqual(plain(opened.order), { id: "WO-1", type: "corrective", description: "seal leaks", by: "ana", opened: NOW, status: "open", notes: [], parts: [], closed: null });
      clock.advance(H);
      lc.noteOrder("p1", { id: "WO-1", note: "seal worn through", parts: [{ name: "seal kit", qty: 1 }], by: "ben" });
      lc.noteOrder("p1", { note: "pump realigned", by: "ben" }); // the one open order
      clock.advance(H);
      const done = lc.closeOrder("p1", { hours: 2.5, by: "ben", notes: "tested OK" });
      assert.equal(done.order.status, "closed");
      assert.deepEqual(plain(done.order.closed), { ts: NOW + 2 * H, by: "ben", hours: 2.5, notes: "tested OK" });
      assert.deepEqual(plain(done.order.notes).map((n) => n.text), ["seal worn through", "pump realigned"]);
      assert.deepEqual(plain(done.order.parts), [{ name: "seal kit", qty: 1, ts: NOW + H, by: "ben" }]);
      assert.deepEqual(audit.map((a) => a.type), ["workorder/open", "workorder/note", "workorder/note", "workorder/close"]);
      assert.deepEqual([audit[1].note, audit[1].parts], ["seal worn through", 1], "the log counts the parts; the order has them");
      const h = lc.history("p1");
      assert.equal(h.workOrders.length, 1);
      assert.equal(h.log.length, 4);
      const k = lc.kpi("p1");
      assert.deepEqual([k.failures, k.repairs, k.repairHours, k.workOrders.open, k.workOrders.closed], [1, 1, 2.5, 0, 1]);
      assert.ok(reg.get("p1").version >= 5, "each a version step");
    });

    it("refuses unknown orders, closing a closed one, and bad payloads, leaving the twin as it was", function () {
      const { reg, lc } = setup();
      reg.create("p1");
      lc.openOrder("p1", { type: "preventive", description: "yearly service" });
      lc.closeOrder("p1", { id: "WO-1", hours: 1 });
      lc.openOrder("p1", { type: "corrective", description: "a" });
      lc.openOrder("p1", { type: "corrective", description: "b" });
      const before = snapshot(reg, "p1");
      assert.throws(() => lc.closeOrder("p1", { id: "WO-9", hours: 1 }), (e) => e.code === "order-unknown" && e.params.open === "WO-2, WO-3");
      assert.throws(() => lc.closeOrder("p1", { id: "WO-1", hours: 1 }), (e) => e.code === "order-closed" && e.params.id === "WO-1");
      assert.throws(() => lc.noteOrder("p1", { id: "WO-1", note: "late" }), code("order-closed"));
      assert.throws(() => lc.closeOrder("p1", { hours: 1 }), (e) => e.code === "order-which" && e.params.open === "WO-2, WO-3");
      assert.throws(() => lc.closeOrder("p1", { id: "WO-2" }), code("payload.missing"));
      assert.throws(() => lc.openOrder("p1", { type: "urgent", description: "x" }), code("payload.order-type"));
      assert.throws(() => lc.openOrder("p1", JSON.parse('{"type": "corrective", "description": "x", "constructor": 1}')), code("forbidden-key"));
      assert.throws(() => lc.noteOrder("p1", { id: "WO-2", parts: [{ name: "x", qty: "many" }] }), code("payload.parts"));
      assert.throws(() => lc.openOrder("ghost", { type: "corrective", description: "x" }), code("not-found"));
      assert.deepEqual(snapshot(reg, "p1"), before);
    });

    it("keeps the last 200 closed orders; the reliability sums keep them all", function () {
      const { reg, lc } = setup();
      reg.create("p1");
      for (let i = 0; i < 205; i++) {
        lc.openOrder("p1", { type: "corrective", description: `failure ${i}` });
        lc.closeOrder("p1", { hours: 1 });
      }
      const h = lc.history("p1");
      assert.equal(h.workOrders.length, 200);
      assert.equal(h.workOrders[0].id, "WO-6");
      assert.equal(reg.getState("p1", "lifecycle:wo:5"), undefined, "dropped from the state too");
      const k = lc.kpi("p1");
      assert.deepEqual([k.failures, k.repairs, k.workOrders.closed], [205, 205, 205]);
    });
  });

  describe("maintenance due", function () {
    it("every N operating hours: alerts once per due period, opens an order, starts over after maintenance", function () {
      const { reg, lc, audit } = setup({
        rules: parseRules({ hours: 2 }),
        autoOrder: true,
        describeDue: (due) => `service after ${due.value} h`,
      });
      const list = [];
      for (let i = 0; i <= 12; i++) list.push([i * 0.5, { rpm: 1500 }]); // 6 h running
      readings(reg, "p1", list);
      const due = audit.filter((a) => a.type === "due");
      assert.equal(due.length, 1, "once, not on every reading");
      assert.deepEqual(due[0], { twinId: "p1", ts: NOW, type: "due", rule: "operatingHours", limit: 2, value: 2, at: T0 + 2 * H, order: "WO-1" });
      assert.deepEqual(plain(reg.get("p1").lifecycle.maintenanceDue), { rule: "operatingHours", limit: 2, value: 2, at: T0 + 2 * H });
      const order = lc.history("p1").workOrders[0];
      assert.deepEqual([order.type, order.description, order.by], ["preventive", "service after 2 h", "twin-lifecycle"]);

      // Maintenance done at 6 h: the next period starts there.
      lc.closeOrder("p1", { id: "WO-1", hours: 1, by: "ben" });
      assert.equal(reg.get("p1").lifecycle.maintenanceDue, null);
      readings(reg, "p1", [[7, { rpm: 1500 }]]);
      assert.equal(audit.filter((a) => a.type === "due").length, 1);
      readings(reg, "p1", [[8, { rpm: 1500 }], [9, { rpm: 1500 }]]);
      const again = audit.filter((a) => a.type === "due");
      assert.equal(again.length, 2);
      assert.equal(again[1].at, T0 + 8 * H);
      assert.equal(again[1].order, "WO-2");
    });

    it("every N cycles", function () {
      const { reg, audit } = setup({ rules: parseRules({ cycles: 3 }) });
      const list = [];
      for (let i = 0; i < 20; i++) list.push([i, { rpm: i % 2 ? 1500 : 0 }]);
      readings(reg, "p1", list);
      const due = audit.filter((a) => a.type === "due");
      assert.equal(due.length, 1);
      assert.deepEqual([due[0].rule, due[0].value, due[0].at], ["cycles", 3, T0 + 5 * H]);
    });

    it("every D days of reading time (counted without a running condition too)", function () {
      const { reg, audit } = setup({ running: null, rules: parseRules({ days: 7 }) });
      for (let d = 0; d <= 10; d++) readings(reg, "p1", [[d * 24, { temperature: 20 + d }]]);
      const due = audit.filter((a) => a.type === "due");
      assert.equal(due.length, 1);
      assert.deepEqual([due[0].rule, due[0].value, due[0].at], ["days", 7, T0 + 7 * D]);
    });

    it("a guarded return to operation counts as maintenance done", function () {
      const { reg, lc, audit } = setup({ rules: parseRules({ hours: 1 }) });
      reg.create("p1");
      lc.transition("p1", { to: "operating" });
      readings(reg, "p1", [[0, { rpm: 1 }], [1.5, { rpm: 1 }]]);
      assert.equal(reg.get("p1").lifecycle.maintenanceDue.rule, "operatingHours");
      lc.transition("p1", { to: "maintenance" });
      const r = lc.transition("p1", { to: "operating", by: "ben" });
      assert.equal(r.lifecycle.maintenanceDue, null);
      assert.deepEqual([r.entry.maintenanceDone, r.entry.dueEnded], [true, "operatingHours"]);
      readings(reg, "p1", [[2, { rpm: 1 }]]);
      assert.equal(audit.filter((a) => a.type === "due").length, 1);
      readings(reg, "p1", [[2.5, { rpm: 1 }]]);
      assert.equal(audit.filter((a) => a.type === "due").length, 2);
    });

    it("when twin-predict's time to threshold falls under the horizon: once, with a predictive order", function () {
      const { reg, lc, audit } = setup({ rules: parseRules({ horizonHours: 24, property: "vibration" }), autoOrder: true });
      readings(reg, "p1", [[0, { rpm: 1500, vibration: 2 }]]);
      reg.setPrediction("p1", "vibration", { method: "holt", timeToThreshold: 200000, ts: T0 });
      reg.setPrediction("p1", "temperature", { method: "holt", timeToThreshold: 10, ts: T0 });
      assert.equal(audit.filter((a) => a.type === "due").length, 0);
      reg.setPrediction("p1", "vibration", { method: "holt", timeToThreshold: 80000, ts: T0 + H });
      reg.setPrediction("p1", "vibration", { method: "holt", timeToThreshold: 70000, ts: T0 + 2 * H });
      reg.setPrediction("p1", "vibration", null);
      const due = audit.filter((a) => a.type === "due");
      assert.equal(due.length, 1);
      assert.deepEqual(due[0], { twinId: "p1", ts: NOW, type: "due", rule: "prediction", property: "vibration", timeToThreshold: 80000, horizon: 86400, at: T0 + H, order: "WO-1" });
      assert.equal(lc.history("p1").workOrders[0].type, "predictive");
    });

    it("does not open a second order of the same kind while one is open", function () {
      const { reg, lc, audit } = setup({ rules: parseRules({ hours: 1 }), autoOrder: true });
      reg.create("p1");
      lc.openOrder("p1", { type: "preventive", description: "planned" });
      readings(reg, "p1", [[0, { rpm: 1 }], [2, { rpm: 1 }]]);
      assert.equal(audit.find((a) => a.type === "due").order, "WO-1");
      assert.equal(lc.kpi("p1").workOrders.open, 1);
    });

    it("hours and cycles rules need a running condition", function () {
      const reg = new TwinRegistry();
      assert.throws(() => new Lifecycle({ registry: reg, rules: parseRules({ hours: 5 }) }), code("config.needs-running"));
    });
  });

  describe("history and kpi", function () {
    it("history: the log and the work orders within a time range", function () {
      const { reg, lc, clock } = setup();
      reg.create("p1");
      lc.transition("p1", { to: "operating" }); // NOW
      clock.advance(D);
      lc.openOrder("p1", { type: "corrective", description: "a" }); // NOW + 1 d
      clock.advance(D);
      lc.closeOrder("p1", { hours: 1 }); // NOW + 2 d
      clock.advance(D);
      lc.openOrder("p1", { type: "corrective", description: "b" }); // NOW + 3 d
      const h = lc.history("p1", { from: NOW + 2 * D, to: new Date(NOW + 2.5 * D).toISOString() });
      assert.deepEqual(h.log.map((e) => e.type), ["workorder/close"]);
      assert.deepEqual(h.workOrders.map((o) => o.id), ["WO-1"]);
      assert.equal(h.from, NOW + 2 * D);
      assert.equal(lc.history("p1").log.length, 4);
      assert.deepEqual(lc.history("p1", { from: NOW + 2.5 * D }).workOrders.map((o) => o.id), ["WO-2"]);
      assert.throws(() => lc.history("p1", { from: NOW, to: NOW - 1 }), code("payload.range"));
      assert.throws(() => lc.history("p1", { since: NOW }), code("payload.unknown-field"));
    });

    it("the audit log stays bounded", function () {
      const { reg, lc } = setup({ logSize: 100 });
      reg.create("p1");
      lc.openOrder("p1", { type: "corrective", description: "long job" });
      for (let i = 0; i < 150; i++) lc.noteOrder("p1", { note: `note ${i}` });
      const log = lc.history("p1").log;
      assert.ok(log.length <= 100);
      assert.equal(log[log.length - 1].note, "note 149");
    });

    it("stays writable with the longest notes and most parts allowed", function () {
      const { reg, lc } = setup();
      reg.create("p1");
      lc.openOrder("p1", { type: "corrective", description: "d".repeat(2000) });
      const parts = Array.from({ length: 200 }, (_, i) => ({ name: `${i}`.padEnd(200, "p"), qty: 1 }));
      lc.noteOrder("p1", { note: "n".repeat(2000), parts });
      for (let i = 0; i < 150; i++) lc.noteOrder("p1", { note: `${i}`.padEnd(2000, "n") });
      assert.throws(() => lc.noteOrder("p1", { parts: ["one more"] }), code("order-full"));
      assert.equal(lc.history("p1").workOrders[0].notes.length, 151);
    });

    it("kpi: counters and reliability per twin; fleet: summed over the twins handled", function () {
      const { reg, lc } = setup();
      readings(reg, "p1", [[0, { rpm: 0 }], [1, { rpm: 1 }], [101, { rpm: 0 }]]);
      readings(reg, "p2", [[0, { rpm: 1 }], [300, { rpm: 1 }]]);
      lc.openOrder("p1", { type: "corrective", description: "x" });
      lc.closeOrder("p1", { hours: 4 });
      lc.openOrder("p2", { type: "corrective", description: "y" });
      lc.closeOrder("p2", { hours: 2 });
      lc.openOrder("p2", { type: "corrective", description: "z" });
      const k = plain(lc.kpi("p1"));
      assert.deepEqual(k, {
        twinId: "p1", stage: null, since: null, counters: {}, operatingHours: 100, cycles: 1, running: false, maintenanceDue: null,
        workOrders: { open: 0, closed: 1 }, failures: 1, repairs: 1, repairHours: 4, mtbf: 100, mttr: 4, availability: 0.961538, asOf: T0 + 101 * H,
      });
      const f = plain(lc.fleet());
      assert.deepEqual({ ...f, byTwin: f.byTwin.map((t) => t.twinId) }, {
        twins: 2, operatingHours: 400, failures: 3, repairs: 2, repairHours: 6, mtbf: 133.333333, mttr: 3, availability: 0.985222,
        cycles: 1, openWorkOrders: 1, maintenanceDue: [], byTwin: ["p1", "p2"],
      });
    });
  });
});
