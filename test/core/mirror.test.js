"use strict";
const assert = require("assert");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { Mirror, topicProblem, deviceMessages, STATE_KEY } = require("../../nodes/lib/core/mirror");
const { compileGlob } = require("../../nodes/lib/core/glob");

const THERMOSTAT = {
  thermostat: {
    properties: {
      temperature: { type: "number", unit: "Cel" },
      setpoint: { type: "number", minimum: 5, maximum: 30, writable: true, tolerance: 0.2 },
      mode: { type: "string", enum: ["heat", "cool", "off"], writable: true },
    },
  },
};

const T0 = 1764000000000;
const plain = (value) => JSON.parse(JSON.stringify(value));

/** A clock and a timer service the test moves by hand. */
function manualTime(start = T0) {
  let now = start;
  const timers = new Set();
  const clock = () => now;
  const service = {
    set(fn, ms) {
      const timer = { fn, at: now + ms };
      timers.add(timer);
      return timer;
    },
    clear(timer) {
      timers.delete(timer);
    },
  };
  /** Moves the clock by ms, firing each timer at its time. */
  function advance(ms) {
    const target = now + ms;
    for (;;) {
      let next = null;
      for (const t of timers) if (t.at <= target && (!next || t.at < next.at)) next = t;
      if (!next) break;
      timers.delete(next);
      now = Math.max(now, next.at);
      next.fn();
    }
    now = target;
  }
  return { clock, timers: service, advance, active: () => timers.size, now: () => now };
}

const { JournalStore } = require("./journal-store");

describe("core/mirror", function () {
  let time;
  let reg;
  let mirrors;
  let registries;

  function openRegistry(options = {}) {
    const r = new TwinRegistry({ models: parseModels(THERMOSTAT), clock: time.clock, ...options });
    r.open();
    registries.push(r);
    return r;
  }

  /** A started mirror on `registry` whose commands, sync events and errors are recorded. */
  function mirrorOn(registry, options = {}) {
    const seen = { commands: [], events: [], errors: [], changes: 0 };
    const m = new Mirror({
      registry,
      timeoutMs: 1000,
      retries: 2,
      backoff: 2,
      clock: time.clock,
      timers: time.timers,
      defer: () => {}, // the test settles with flush(), as the node does after its own writes
      onCommand: (c) => seen.commands.push(plain(c)),
      onSync: (e) => seen.events.push(plain(e)),
      onError: (err) => seen.errors.push(err),
      onChange: () => seen.changes++,
      ...options,
    });
    m.start();
    mirrors.push(m);
    m.seen = seen;
    return m;
  }

  /** Takes what was recorded so far. */
  function take(m) {
    const out = { commands: m.seen.commands.splice(0), events: m.seen.events.splice(0) };
    return out;
  }

  const statuses = (events) => events.map((e) => `${e.property}:${e.status}:${e.attempts}`);

  beforeEach(function () {
    time = manualTime();
    mirrors = [];
    registries = [];
    reg = openRegistry();
    reg.create("th-1", { model: "thermostat", reported: { temperature: 19, setpoint: 18, mode: "heat" } });
  });

  afterEach(async function () {
    for (const m of mirrors) {
      assert.deepStrictEqual(m.seen.errors, [], "the mirror reported errors");
      m.close();
    }
    for (const r of registries) await r.close();
    assert.strictEqual(time.active(), 0, "a timer is left after close");
  });

  describe("convergence", function () {
    it("sends the delta and goes pending -> applied once reported matches within tolerance", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      let got = take(m);
      assert.deepStrictEqual(got.commands, [{ twinId: "th-1", delta: { setpoint: 21 }, reason: "change", ts: T0 }]);
      assert.deepStrictEqual(got.events, [
        { twinId: "th-1", property: "setpoint", status: "pending", desired: 21, reported: 18, attempts: 1, ts: T0 },
      ]);
      assert.deepStrictEqual(m.counts(), { pending: 1, failed: 0 });

      time.advance(300);
      reg.report("th-1", { setpoint: 20.5 }); // on its way, not there yet
      m.flush();
      assert.deepStrictEqual(take(m), { commands: [], events: [] });

      reg.report("th-1", { setpoint: 21.15 }); // within the tolerance of 0.2
      m.flush();
      got = take(m);
      assert.deepStrictEqual(got.commands, []);
      assert.deepStrictEqual(got.events, [
        { twinId: "th-1", property: "setpoint", status: "applied", desired: 21, reported: 21.15, attempts: 1, ts: T0 + 300 },
      ]);
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
      assert.strictEqual(time.active(), 0, "no timer once nothing is outstanding");
      assert.deepStrictEqual(plain(reg.get("th-1").desired), { setpoint: 21 }, "desired stays by default");
    });

    it("sends one command per twin and change, with every property that changed", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 22, mode: "cool" });
      m.flush();
      const got = take(m);
      assert.strictEqual(got.commands.length, 1);
      assert.deepStrictEqual(got.commands[0].delta, { setpoint: 22, mode: "cool" });
      assert.deepStrictEqual(statuses(got.events), ["setpoint:pending:1", "mode:pending:1"]);
    });

    it("reports applied with 0 attempts when desired is set to what is already reported", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { mode: "heat", setpoint: 18.1 });
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands, []);
      assert.deepStrictEqual(statuses(got.events), ["mode:applied:0", "setpoint:applied:0"]);
    });

    it("compares values of a twin without a model exactly", function () {
      reg.create("free", { reported: { level: 3 } });
      const m = mirrorOn(reg);
      reg.setDesired("free", { level: 3.0001 });
      m.flush();
      assert.deepStrictEqual(statuses(take(m).events), ["level:pending:1"]);
      reg.report("free", { level: 3.0001 });
      m.flush();
      assert.deepStrictEqual(statuses(take(m).events), ["level:applied:1"]);
    });

    it("times out, resends with a growing wait (backoff), then fails", function () {
      const m = mirrorOn(reg, { timeoutMs: 1000, retries: 2, backoff: 2 });
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      take(m);
      assert.strictEqual(time.active(), 1);

      time.advance(999);
      assert.deepStrictEqual(take(m), { commands: [], events: [] });
      time.advance(1); // 1000 ms after the first send
      let got = take(m);
      assert.deepStrictEqual(got.commands, [{ twinId: "th-1", delta: { setpoint: 21 }, reason: "retry", ts: T0 + 1000 }]);
      assert.deepStrictEqual(got.events, [
        { twinId: "th-1", property: "setpoint", status: "timeout", desired: 21, reported: 18, attempts: 2, ts: T0 + 1000 },
      ]);

      time.advance(1999);
      assert.deepStrictEqual(take(m).commands, [], "the second wait is twice as long");
      time.advance(1); // 3000
      got = take(m);
      assert.deepStrictEqual(got.commands.map((c) => c.reason), ["retry"]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:timeout:3"]);

      time.advance(3999);
      assert.deepStrictEqual(take(m).events, []);
      time.advance(1); // 7000: no retry left
      got = take(m);
      assert.deepStrictEqual(got.commands, [], "nothing is sent on failure");
      assert.deepStrictEqual(statuses(got.events), ["setpoint:failed:3"]);
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 1 });
      assert.strictEqual(time.active(), 0);

      time.advance(60000);
      assert.deepStrictEqual(take(m), { commands: [], events: [] }, "a failed property stays quiet");

      reg.report("th-1", { setpoint: 21 }); // the device catches up late
      m.flush();
      assert.deepStrictEqual(statuses(take(m).events), ["setpoint:applied:3"]);
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
    });

    it("fails at once after the first timeout with 0 retries", function () {
      const m = mirrorOn(reg, { retries: 0 });
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      take(m);
      time.advance(1000);
      const got = take(m);
      assert.deepStrictEqual(got.commands, []);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:failed:1"]);
    });

    it("starts a new cycle when desired is set again, even to the same value", function () {
      const m = mirrorOn(reg, { retries: 0 });
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      time.advance(1000);
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 1 });
      take(m);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands.map((c) => [c.reason, c.delta]), [["change", { setpoint: 21 }]]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:pending:1"]);
      assert.deepStrictEqual(m.counts(), { pending: 1, failed: 0 });
    });

    it("a new desired value while pending restarts the cycle with the new value", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      time.advance(1000); // attempt 2
      take(m);
      reg.setDesired("th-1", { setpoint: 23 });
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands[0].delta, { setpoint: 23 });
      assert.deepStrictEqual(statuses(got.events), ["setpoint:pending:1"]);
      time.advance(999);
      assert.deepStrictEqual(take(m).commands, [], "the old deadline no longer fires");
      time.advance(1);
      assert.deepStrictEqual(take(m).commands.map((c) => c.delta), [{ setpoint: 23 }]);
    });

    it("sends the delta again when reported moves away from desired after it was applied", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { mode: "cool" });
      reg.report("th-1", { mode: "cool" });
      m.flush();
      take(m);
      reg.report("th-1", { mode: "off" }); // someone turned it off at the device
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands.map((c) => [c.reason, c.delta]), [["change", { mode: "cool" }]]);
      assert.deepStrictEqual(statuses(got.events), ["mode:pending:1"]);
    });

    it("reports cleared when desired is removed before the device applied it", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      assert.ok(reg.getState("th-1", STATE_KEY), "tracking is kept with the twin");
      take(m);
      reg.setDesired("th-1", { setpoint: null });
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands, []);
      assert.deepStrictEqual(got.events, [
        { twinId: "th-1", property: "setpoint", status: "cleared", desired: null, reported: 18, attempts: 1, ts: T0 },
      ]);
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
      assert.strictEqual(reg.getState("th-1", STATE_KEY), undefined, "no tracking left with the twin");
      assert.strictEqual(time.active(), 0);
    });

    it("clears desired once applied when asked to, as twin-mirror", async function () {
      const m = mirrorOn(reg, { clearOnApplied: true, defer: queueMicrotask });
      reg.setDesired("th-1", { setpoint: 21, mode: "cool" });
      m.flush();
      reg.report("th-1", { setpoint: 21.1 });
      m.flush();
      assert.deepStrictEqual(plain(reg.get("th-1").desired), { mode: "cool" });
      const got = take(m);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:pending:1", "mode:pending:1", "setpoint:applied:1"]);
      await null;
      assert.deepStrictEqual(take(m), { commands: [], events: [] }, "clearing is not a change to report");
      reg.report("th-1", { mode: "cool" });
      m.flush();
      const doc = reg.get("th-1");
      assert.deepStrictEqual(plain(doc.desired), {});
      assert.deepStrictEqual(plain(doc.delta), {});
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
    });

    it("tracks a twin created with desired state, and forgets a deleted one", function () {
      const m = mirrorOn(reg);
      reg.create("th-2", { model: "thermostat", desired: { setpoint: 20 } });
      m.flush();
      assert.deepStrictEqual(take(m).commands, [{ twinId: "th-2", delta: { setpoint: 20 }, reason: "change", ts: T0 }]);
      assert.deepStrictEqual(m.counts(), { pending: 1, failed: 0 });
      reg.remove("th-2");
      m.flush();
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
      time.advance(10000);
      assert.deepStrictEqual(take(m), { commands: [], events: [] });
    });

    it("settles a twin created with reported and desired state in one change", function () {
      const m = mirrorOn(reg);
      reg.create("th-3", { model: "thermostat", reported: { setpoint: 18 }, desired: { setpoint: 18.1, mode: "cool" } });
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands.map((c) => [c.twinId, c.reason, c.delta]), [["th-3", "change", { mode: "cool" }]]);
      assert.deepStrictEqual(statuses(got.events).sort(), ["mode:pending:1", "setpoint:applied:0"]);
    });

    it("does no work for readings of twins with nothing desired", function () {
      const m = mirrorOn(reg);
      for (let i = 0; i < 100; i++) reg.report("th-1", { temperature: 19 + i / 100 });
      assert.strictEqual(m.batch.size, 0, "nothing gathered");
      m.flush();
      assert.deepStrictEqual(take(m), { commands: [], events: [] });
      assert.strictEqual(reg.getState("th-1", STATE_KEY), undefined);
    });

    it("only handles the twins it is given", function () {
      reg.create("pump-1", { reported: { rpm: 1 } });
      const m = mirrorOn(reg, { handles: compileGlob("th-*") });
      reg.setDesired("pump-1", { rpm: 2 });
      reg.setDesired("th-1", { setpoint: 25 });
      m.flush();
      assert.deepStrictEqual(take(m).commands.map((c) => c.twinId), ["th-1"]);
      assert.strictEqual(reg.getState("pump-1", STATE_KEY), undefined);
    });

    it("settles each registry write on its own, once the write is done (no flush called)", async function () {
      const m = mirrorOn(reg, { defer: undefined });
      reg.setDesired("th-1", { setpoint: 21 });
      reg.setDesired("th-1", { mode: "cool" });
      assert.deepStrictEqual(take(m).commands, [], "nothing is sent in the middle of the writer's turn");
      await null;
      assert.deepStrictEqual(take(m).commands.map((c) => c.delta), [{ setpoint: 21, mode: "cool" }], "one command for the turn");
      reg.setDesired("th-1", { setpoint: 22 });
      await null;
      assert.deepStrictEqual(take(m).commands.map((c) => c.delta), [{ setpoint: 22 }], "a later write is settled too");
    });

    it("retries the properties of one twin that fall due together in one command", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21, mode: "cool" });
      m.flush();
      take(m);
      time.advance(1000);
      const got = take(m);
      assert.deepStrictEqual(got.commands, [{ twinId: "th-1", delta: { setpoint: 21, mode: "cool" }, reason: "retry", ts: T0 + 1000 }]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:timeout:2", "mode:timeout:2"]);
    });

    it("does not resend a delta the device applied when a deadline comes before the write is settled", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      take(m);
      time.advance(999);
      reg.report("th-1", { setpoint: 21 }); // gathered, not settled yet
      time.advance(1);
      const got = take(m);
      assert.deepStrictEqual(got.commands, []);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:applied:1"]);
      m.flush();
      assert.deepStrictEqual(take(m), { commands: [], events: [] }, "applied is told once");
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
    });

    it("tells of a change only when the pending or failed count changes", function () {
      const m = mirrorOn(reg, { retries: 1 });
      assert.strictEqual(m.seen.changes, 0, "nothing outstanding at start");
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      assert.strictEqual(m.seen.changes, 1);
      reg.report("th-1", { temperature: 20 });
      m.flush();
      time.advance(1000); // timeout: still pending
      assert.strictEqual(m.seen.changes, 1);
      time.advance(2000); // failed
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 1 });
      assert.strictEqual(m.seen.changes, 2);
      reg.setDesired("th-1", { mode: "cool" });
      m.flush();
      assert.strictEqual(m.seen.changes, 3);
    });

    it("forgets a twin deleted and created again in one turn, tracking only the new twin's delta", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { mode: "cool" });
      m.flush();
      take(m);
      reg.remove("th-1");
      reg.create("th-1", { model: "thermostat", reported: { setpoint: 18 }, desired: { setpoint: 21 } });
      m.flush();
      let got = take(m);
      assert.deepStrictEqual(got.commands.map((c) => c.delta), [{ setpoint: 21 }]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:pending:1"]);
      assert.deepStrictEqual(m.counts(), { pending: 1, failed: 0 });
      assert.deepStrictEqual(Object.keys(m.tracking("th-1")), ["setpoint"]);
      time.advance(1000);
      got = take(m);
      assert.deepStrictEqual(got.commands.map((c) => c.delta), [{ setpoint: 21 }], "the old twin's delta is not sent");
      assert.deepStrictEqual(statuses(got.events), ["setpoint:timeout:2"]);
    });

    it("gathers no work for attribute changes, reconnections and readings of twins with nothing outstanding", function () {
      const r = openRegistry({ stalenessMs: 5000 });
      r.create("quiet", { model: "thermostat", reported: { temperature: 19, setpoint: 18 } });
      const m = mirrorOn(r);
      r.setDesired("quiet", { setpoint: 21 });
      m.flush();
      r.report("quiet", { setpoint: 21 });
      m.flush();
      assert.deepStrictEqual(statuses(take(m).events), ["setpoint:pending:1", "setpoint:applied:1"]);
      r.setDesired("quiet", { setpoint: null });
      m.flush();
      r.updateAttributes("quiet", { room: "B12" });
      time.advance(6000);
      r.expire();
      assert.strictEqual(r.get("quiet").connectivity.online, false);
      r.report("quiet", { temperature: 19.5 }); // back online
      r.report("quiet", { temperature: 19.6 });
      assert.strictEqual(m.batch.size, 0, "nothing gathered");
      m.flush();
      assert.deepStrictEqual(take(m), { commands: [], events: [] });
    });

    it("falls back to the default 30 s timeout for a timeout of 0 or less", function () {
      for (const timeoutMs of [0, -5]) {
        const r = openRegistry();
        r.create("th-1", { model: "thermostat", reported: { setpoint: 18 } });
        const m = mirrorOn(r, { timeoutMs });
        r.setDesired("th-1", { setpoint: 21 });
        m.flush();
        take(m);
        time.advance(29999);
        assert.deepStrictEqual(take(m).commands, [], `timeoutMs ${timeoutMs}`);
        time.advance(1);
        assert.deepStrictEqual(take(m).commands.map((c) => c.reason), ["retry"], `timeoutMs ${timeoutMs}`);
        m.close();
      }
    });

    it("retries on real timers when no timer service is given", async function () {
      const m = mirrorOn(reg, { timers: undefined, clock: undefined, timeoutMs: 20 });
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      const deadline = Date.now() + 2000;
      while (!m.seen.commands.some((c) => c.reason === "retry") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.deepStrictEqual(take(m).commands.map((c) => c.reason).slice(0, 2), ["change", "retry"]);
    });

    it("reports a write the registry refuses through onError, and still sends the retry", async function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      take(m);
      await reg.close(); // the store is gone: keeping the next attempt with the twin fails
      time.advance(1000);
      assert.deepStrictEqual(take(m).commands.map((c) => c.reason), ["retry"]);
      const errors = m.seen.errors.splice(0);
      assert.deepStrictEqual(errors.map((e) => e.code), ["store-closed"]);
    });
  });

  describe("timers", function () {
    it("keeps one timer, set for the nearest deadline among many twins", function () {
      const m = mirrorOn(reg, { retries: 0 });
      for (let i = 0; i < 50; i++) reg.create(`t-${i}`, { model: "thermostat", reported: { setpoint: 10 } });
      for (let i = 49; i >= 0; i--) {
        reg.setDesired(`t-${i}`, { setpoint: 20 });
        m.flush();
        time.advance(10);
        assert.strictEqual(time.active(), 1);
      }
      take(m);
      // t-49 was sent first (at T0), t-0 last (at T0 + 490): they fail in that order.
      time.advance(1000 - 500);
      assert.deepStrictEqual(take(m).events.map((e) => e.twinId), ["t-49"]);
      time.advance(490);
      const failed = take(m).events.map((e) => e.twinId);
      assert.strictEqual(failed.length, 49);
      assert.strictEqual(failed[failed.length - 1], "t-0");
      assert.strictEqual(time.active(), 0);
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 50 });
    });

    it("does not let superseded deadlines pile up", function () {
      const m = mirrorOn(reg, { timeoutMs: 60000 });
      for (let i = 0; i < 2000; i++) {
        reg.setDesired("th-1", { setpoint: 20 + (i % 5) });
        m.flush();
      }
      assert.ok(m.heap.size <= 2 * 1 + 64, `heap holds ${m.heap.size} entries for one deadline`);
      assert.strictEqual(time.active(), 1);
      assert.deepStrictEqual(m.counts(), { pending: 1, failed: 0 });
    });

    it("stops its timer and its subscription on close", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      assert.strictEqual(time.active(), 1);
      m.close();
      assert.strictEqual(time.active(), 0);
      reg.setDesired("th-1", { setpoint: 22 });
      m.flush();
      time.advance(10000);
      assert.deepStrictEqual(take(m).commands.length, 1, "only the command from before close");
    });

    it("serves a deadline on time when other twins sent with it converged or were sent again", function () {
      reg.create("th-2", { model: "thermostat", reported: { setpoint: 18 } });
      reg.create("th-3", { model: "thermostat", reported: { setpoint: 18 } });
      const m = mirrorOn(reg);
      for (const id of ["th-1", "th-2", "th-3"]) reg.setDesired(id, { setpoint: 21 });
      m.flush();
      take(m);
      reg.report("th-2", { setpoint: 21 });
      time.advance(5);
      reg.setDesired("th-3", { setpoint: 22 });
      m.flush();
      take(m);
      time.advance(995); // T0 + 1000: th-1's first deadline
      assert.deepStrictEqual(take(m).commands.map((c) => [c.twinId, c.reason, c.ts]), [["th-1", "retry", T0 + 1000]]);
      time.advance(5);
      assert.deepStrictEqual(take(m).commands.map((c) => [c.twinId, c.delta, c.ts]), [["th-3", { setpoint: 22 }, T0 + 1005]]);
    });

    it("serves kept deadlines taken up in any order, each at its own time", function () {
      // A fixed shuffle of 40 deadlines, 10 ms apart, kept with twins created in id order.
      const offsets = [];
      for (let i = 0; i < 40; i++) offsets.push(100 + ((i * 17 + 5) % 40) * 10);
      offsets.forEach((offset, i) => {
        const id = `k-${String(i).padStart(2, "0")}`;
        reg.create(id, { model: "thermostat", reported: { setpoint: 18 }, desired: { setpoint: 21 } });
        reg.setState(id, STATE_KEY, { props: { setpoint: { value: 21, status: "pending", attempts: 1, deadline: T0 + offset } } });
      });
      const m = mirrorOn(reg, { timeoutMs: 60000 });
      // Sent again and again, th-1 leaves superseded deadlines behind (the heap is rebuilt).
      for (let i = 0; i < 150; i++) {
        reg.setDesired("th-1", { setpoint: 20 + (i % 3) });
        m.flush();
      }
      take(m);
      time.advance(1000);
      const served = take(m).commands.map((c) => [c.twinId, c.ts]);
      const expected = offsets.map((offset, i) => [`k-${String(i).padStart(2, "0")}`, T0 + offset]).sort((a, b) => a[1] - b[1]);
      assert.deepStrictEqual(served, expected);
      time.advance(59000);
      assert.deepStrictEqual(take(m).commands.map((c) => [c.twinId, c.ts]), [["th-1", T0 + 60000]]);
    });

    it("serves every retry at its own deadline while first sends and retries of other twins interleave", function () {
      // Nine twins sent at these times (ms after T0), each retried 100, 200 and 400 ms after its
      // sends: first deadlines and retries come in no order, and this order makes the deadline
      // heap take its right branch when it reorders (found by simulating the heap).
      const sentAt = [7, 110, 117, 124, 140, 180, 227, 711, 743];
      const m = mirrorOn(reg, { timeoutMs: 100, retries: 3, backoff: 2 });
      sentAt.forEach((_, i) => reg.create(`h-${i}`, { model: "thermostat", reported: { setpoint: 10 } }));
      sentAt.forEach((at, i) => {
        time.advance(T0 + at - time.now());
        reg.setDesired(`h-${i}`, { setpoint: 20 });
        m.flush();
      });
      time.advance(3000);
      const sends = new Map(sentAt.map((_, i) => [`h-${i}`, []]));
      for (const c of take(m).commands) sends.get(c.twinId).push(c.ts - T0);
      sentAt.forEach((at, i) => assert.deepStrictEqual(sends.get(`h-${i}`), [at, at + 100, at + 300, at + 700], `h-${i}`));
    });

    it("keeps the deadline heap small after many converged sends, retries and superseded sends", function () {
      const m = mirrorOn(reg);
      const ids = [];
      for (let i = 0; i < 100; i++) {
        ids.push(`c-${i}`);
        reg.create(`c-${i}`, { model: "thermostat", reported: { setpoint: 10 } });
        reg.setDesired(`c-${i}`, { setpoint: 20 });
      }
      m.flush();
      time.advance(1000); // every one is sent again
      for (const id of ids) reg.report(id, { setpoint: 20 });
      m.flush();
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
      reg.setDesired("c-0", { setpoint: 25 }); // the nearest deadline
      m.flush();
      time.advance(10);
      let largest = 0;
      for (let i = 0; i < 300; i++) {
        reg.setDesired("th-1", { setpoint: 20 + (i % 5) }); // each send supersedes the one before
        m.flush();
        largest = Math.max(largest, m.heap.size);
      }
      assert.ok(largest <= 2 * 2 + 64, `the heap held ${largest} entries for two deadlines`);
      take(m);
      time.advance(990);
      assert.deepStrictEqual(take(m).commands.map((c) => [c.twinId, c.ts]), [["c-0", T0 + 2000]]);
      time.advance(10);
      assert.deepStrictEqual(take(m).commands.map((c) => [c.twinId, c.delta, c.ts]), [["th-1", { setpoint: 24 }, T0 + 2010]]);
    });

    it("stays closed: resending or starting again sends, tracks and keeps nothing", function () {
      const m = mirrorOn(reg);
      reg.setDesired("th-1", { setpoint: 21 });
      m.flush();
      take(m);
      m.close();
      m.resendOutstanding("start");
      reg.setDesired("th-1", { mode: "cool" }); // nobody mirrors it now
      m.start();
      m.flush();
      time.advance(10000);
      assert.deepStrictEqual(take(m), { commands: [], events: [] });
      assert.deepStrictEqual(Object.keys(m.tracking("th-1")), ["setpoint"]);
      assert.deepStrictEqual(Object.keys(reg.getState("th-1", STATE_KEY).props), ["setpoint"]);
    });
  });

  describe("resync", function () {
    it("sends outstanding deltas again when the twin comes back online", function () {
      const r = openRegistry({ stalenessMs: 5000 });
      r.create("th-9", { model: "thermostat", reported: { setpoint: 18, temperature: 19 } });
      const m = mirrorOn(r, { timeoutMs: 60000 });
      r.setDesired("th-9", { setpoint: 22, mode: "heat" });
      m.flush();
      take(m);
      time.advance(6000);
      r.expire();
      assert.strictEqual(r.get("th-9").connectivity.online, false);
      m.flush();
      assert.deepStrictEqual(take(m), { commands: [], events: [] }, "going offline sends nothing");

      r.report("th-9", { temperature: 19.5 }); // back online, setpoint still not applied
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands, [{ twinId: "th-9", delta: { setpoint: 22, mode: "heat" }, reason: "resync", ts: T0 + 6000 }]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:pending:1", "mode:pending:1"]);
      time.advance(59999);
      assert.deepStrictEqual(take(m).commands, [], "resync restarted the wait");
      r.close();
    });

    it("on a twin's first reading, resends what is still outstanding and settles the rest", function () {
      const m = mirrorOn(reg, { retries: 0 });
      reg.create("new-1", { model: "thermostat", desired: { setpoint: 22, mode: "cool" } }); // offline: never heard from
      m.flush();
      time.advance(1000); // both fail: nobody listens yet
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 2 });
      take(m);
      reg.report("new-1", { setpoint: 22.1, temperature: 20 });
      m.flush();
      const got = take(m);
      assert.deepStrictEqual(got.commands, [{ twinId: "new-1", delta: { mode: "cool" }, reason: "resync", ts: T0 + 1000 }]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:applied:1", "mode:pending:1"]);
      assert.deepStrictEqual(m.counts(), { pending: 1, failed: 0 });
    });
  });

  describe("restart", function () {
    /** A registry and mirror that stop and start again from the same journal. */
    function restartable(options = {}) {
      const store = new JournalStore();
      const first = openRegistry({ store });
      first.create("th-1", { model: "thermostat", reported: { setpoint: 18 } });
      const m = mirrorOn(first, options);
      return {
        first,
        m,
        restart(moreOptions = {}) {
          m.close();
          const again = openRegistry({ store: new JournalStore(store.entries) });
          return { reg: again, m: mirrorOn(again, { ...options, ...moreOptions }) };
        },
      };
    }

    it("resumes attempts and deadlines kept with the twin, sending nothing at start", function () {
      const { first, m, restart } = restartable();
      first.setDesired("th-1", { setpoint: 21 });
      m.flush();
      time.advance(1000); // attempt 2, next deadline at +2000 (T0 + 3000)
      take(m);
      time.advance(500);
      const after = restart();
      assert.deepStrictEqual(take(after.m), { commands: [], events: [] }, "no flood on start");
      assert.deepStrictEqual(after.m.counts(), { pending: 1, failed: 0 });
      assert.deepStrictEqual(plain(after.m.tracking("th-1")), { setpoint: { status: "timeout", attempts: 2, desired: 21 } });
      time.advance(1499);
      assert.deepStrictEqual(take(after.m).commands, []);
      time.advance(1); // the kept deadline, T0 + 3000
      let got = take(after.m);
      assert.deepStrictEqual(got.commands.map((c) => c.reason), ["retry"]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:timeout:3"]);
      time.advance(4000);
      got = take(after.m);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:failed:3"]);
    });

    it("gives a full wait from start when the kept deadline passed while stopped", function () {
      const { first, m, restart } = restartable();
      first.setDesired("th-1", { setpoint: 21 });
      m.flush();
      take(m);
      m.close();
      time.advance(3600 * 1000); // stopped for an hour
      const after = restart();
      assert.deepStrictEqual(take(after.m), { commands: [], events: [] });
      time.advance(999);
      assert.deepStrictEqual(take(after.m).commands, []);
      time.advance(1);
      assert.deepStrictEqual(statuses(take(after.m).events), ["setpoint:timeout:2"]);
    });

    it("keeps failed properties quiet, and tracks afresh a delta set while it was stopped", function () {
      const { first, m, restart } = restartable({ retries: 0 });
      first.create("th-2", { model: "thermostat" });
      first.setDesired("th-1", { setpoint: 21 });
      m.flush();
      time.advance(1000);
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 1 });
      m.close();
      first.setDesired("th-2", { mode: "off" }); // nobody mirrors it now
      const after = restart();
      assert.deepStrictEqual(after.m.counts(), { pending: 1, failed: 1 });
      assert.deepStrictEqual(plain(after.m.tracking("th-2")), { mode: { status: "pending", attempts: 0, desired: "off" } });
      assert.ok(after.reg.getState("th-2", STATE_KEY), "the new tracking is kept");
      time.advance(1000);
      const got = take(after.m);
      assert.deepStrictEqual(got.commands.map((c) => [c.twinId, c.reason, c.delta]), [["th-2", "retry", { mode: "off" }]]);
      assert.deepStrictEqual(statuses(got.events), ["mode:timeout:1"]);
    });

    it("forgets tracking whose desired value changed or converged while it was stopped", function () {
      const { first, m, restart } = restartable();
      first.setDesired("th-1", { setpoint: 21, mode: "heat" });
      m.flush();
      time.advance(1000);
      m.close();
      first.report("th-1", { mode: "heat" });
      first.setDesired("th-1", { setpoint: 24 });
      const after = restart();
      assert.deepStrictEqual(plain(after.m.tracking("th-1")), { setpoint: { status: "pending", attempts: 0, desired: 24 } });
      const kept = plain(after.reg.getState("th-1", STATE_KEY));
      assert.deepStrictEqual(Object.keys(kept.props), ["setpoint"]);
    });

    it("sends every outstanding delta, failed ones too, when asked to at start", function () {
      const { first, m, restart } = restartable({ retries: 0 });
      first.setDesired("th-1", { setpoint: 21, mode: "cool" });
      m.flush();
      time.advance(1000);
      const after = restart();
      after.m.resendOutstanding("start");
      const got = take(after.m);
      assert.deepStrictEqual(got.commands, [{ twinId: "th-1", delta: { setpoint: 21, mode: "cool" }, reason: "start", ts: T0 + 1000 }]);
      assert.deepStrictEqual(statuses(got.events), ["setpoint:pending:1", "mode:pending:1"]);
      assert.deepStrictEqual(after.m.counts(), { pending: 2, failed: 0 });
    });

    it("ignores malformed kept state and tracks afresh", function () {
      reg.setDesired("th-1", { setpoint: 21 });
      reg.setState("th-1", STATE_KEY, { props: { setpoint: { value: 21, status: "exploded", attempts: -1, deadline: "soon" }, "bad name": {} } });
      const m = mirrorOn(reg);
      assert.deepStrictEqual(plain(m.tracking("th-1")), { setpoint: { status: "pending", attempts: 0, desired: 21 } });
    });

    it("gives a full wait from start when the kept deadline falls due exactly at start", function () {
      const { first, m, restart } = restartable();
      first.setDesired("th-1", { setpoint: 21 });
      m.flush();
      take(m);
      m.close();
      time.advance(1000); // the kept deadline is now
      const after = restart();
      time.advance(999);
      assert.deepStrictEqual(take(after.m), { commands: [], events: [] });
      time.advance(1);
      assert.deepStrictEqual(statuses(take(after.m).events), ["setpoint:timeout:2"]);
    });

    it("writes nothing to the journal at start when the kept tracking is taken up as it was", function () {
      const store = new JournalStore();
      const first = openRegistry({ store });
      first.create("th-1", { model: "thermostat", reported: { setpoint: 18 } });
      first.create("th-2", { model: "thermostat", reported: { mode: "heat" } });
      const m = mirrorOn(first);
      first.setDesired("th-1", { setpoint: 21 });
      first.setDesired("th-2", { mode: "heat" }); // applied at once: nothing to keep
      m.flush();
      m.close();
      const written = store.entries.length;
      const again = openRegistry({ store: new JournalStore(store.entries) });
      const after = mirrorOn(again);
      assert.deepStrictEqual(after.counts(), { pending: 1, failed: 0 });
      assert.strictEqual(store.entries.length, written, "a start rewrote kept state");
    });

    it("takes up kept tracking only for the twins it handles", function () {
      reg.create("pump-1", { reported: { rpm: 1 }, desired: { rpm: 2 } });
      reg.setState("pump-1", STATE_KEY, { props: { rpm: { value: 2, status: "pending", attempts: 1, deadline: T0 + 500 } } });
      const m = mirrorOn(reg, { handles: compileGlob("th-*") });
      assert.deepStrictEqual(m.counts(), { pending: 0, failed: 0 });
      assert.deepStrictEqual(plain(m.tracking("pump-1")), {});
      time.advance(10000);
      assert.deepStrictEqual(take(m), { commands: [], events: [] });
    });

    it("leaves out each malformed field of kept tracking on its own, and keeps a valid entry as it was", function () {
      reg.create("free", { reported: { a: 0, b: 0, c: 0, d: 0, e: 0, f: 0 }, desired: { a: 1, b: 1, c: 1, d: 1, e: 1, f: 1 } });
      const valid = { value: 1, status: "timeout", attempts: 2, deadline: null };
      reg.setState("free", STATE_KEY, {
        props: {
          a: { ...valid, status: "exploded" },
          b: { ...valid, attempts: -1 },
          c: { ...valid, deadline: "soon" },
          d: valid,
          e: { status: "timeout", attempts: 2, deadline: null },
          f: { value: 1, status: "pending", attempts: 0, deadline: T0 + 500 },
        },
      });
      const m = mirrorOn(reg);
      const afresh = { status: "pending", attempts: 0, desired: 1 };
      assert.deepStrictEqual(plain(m.tracking("free")), {
        a: afresh,
        b: afresh,
        c: afresh,
        d: { status: "timeout", attempts: 2, desired: 1 },
        e: afresh,
        f: afresh,
      });
      time.advance(500);
      assert.deepStrictEqual(take(m).commands.map((c) => c.delta), [{ f: 1 }], "f keeps its kept deadline");
      time.advance(500);
      assert.deepStrictEqual(take(m).commands.map((c) => c.delta), [{ a: 1, b: 1, c: 1, e: 1 }]);
    });
  });

  describe("device messages and twin selection", function () {
    const command = { twinId: "th-1", delta: { setpoint: 21, mode: "cool" }, reason: "change", ts: T0 };

    it("fills in {twin}, and gives one message per property with {property}", function () {
      assert.deepStrictEqual(plain(deviceMessages(command, "devices/{twin}/set")), [
        { topic: "devices/th-1/set", payload: { setpoint: 21, mode: "cool" }, twinId: "th-1" },
      ]);
      assert.deepStrictEqual(plain(deviceMessages(command, "{twin}/{property}/set")), [
        { topic: "th-1/setpoint/set", payload: 21, twinId: "th-1", property: "setpoint" },
        { topic: "th-1/mode/set", payload: "cool", twinId: "th-1", property: "mode" },
      ]);
    });

    it("refuses topics an mqtt out node can not publish to", function () {
      assert.strictEqual(topicProblem("devices/{twin}/set"), null);
      assert.strictEqual(topicProblem("a/{twin}/{property}"), null);
      assert.strictEqual(topicProblem(""), "empty");
      assert.strictEqual(topicProblem("devices/+/set"), "wildcard");
      assert.strictEqual(topicProblem("devices/#"), "wildcard");
      assert.strictEqual(topicProblem("devices/{id}/set"), "placeholder");
      assert.strictEqual(topicProblem("devices/{twin/set"), "placeholder");
    });

    it("matches twin ids against a list of globs", function () {
      const m = compileGlob("thermo-*, hvac-??");
      assert.ok(m("thermo-1") && m("thermo-") && m("hvac-12"));
      assert.ok(!m("hvac-123") && !m("pump-1") && !m("xthermo-1"));
      assert.ok(compileGlob("plant.1:*")("plant.1:pump"));
      assert.ok(!compileGlob("plant.1:*")("plantX1:pump"), "a dot is a dot");
      assert.strictEqual(compileGlob(""), null);
      assert.strictEqual(compileGlob("a/b"), null);
      assert.strictEqual(compileGlob("(.*)"), null);
    });
  });
});
