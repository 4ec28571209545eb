"use strict";
// Work orders, due rules and reliability figures: src/core/lifecycle/maintenance.ts, reliability.ts.
const assert = require("node:assert/strict");
const m = require("../../nodes/lib/core/lifecycle/maintenance");
const { figures, fleetFigures } = require("../../nodes/lib/core/lifecycle/reliability");

const T0 = Date.UTC(2024, 0, 1);
const H = 3_600_000;
const D = 24 * H;
const code = (c) => (err) => {
  assert.equal(err.code, c, err.message);
  return true;
};

describe("core/lifecycle: work orders", function () {
  it("reads an order to open: type, description, by", function () {
    assert.deepEqual(m.readOpen("p1", { type: "corrective", description: "seal leaks", by: "ana" }), { type: "corrective", description: "seal leaks", by: "ana" });
    assert.deepEqual(m.readOpen("p1", { type: "preventive", description: "yearly" }).by, null);
    assert.throws(() => m.readOpen("p1", { type: "urgent", description: "x" }), code("payload.order-type"));
    assert.throws(() => m.readOpen("p1", { description: "x" }), (e) => e.code === "payload.missing" && e.params.field === "type");
    assert.throws(() => m.readOpen("p1", { type: "corrective" }), (e) => e.code === "payload.missing" && e.params.field === "description");
    assert.throws(() => m.readOpen("p1", { type: "corrective", description: 5 }), code("payload.text"));
    assert.throws(() => m.readOpen("p1", { type: "corrective", description: "x".repeat(2001) }), code("payload.too-long"));
    assert.throws(() => m.readOpen("p1", { type: "corrective", description: "x", priority: 1 }), (e) => e.code === "payload.unknown-field" && e.params.field === "priority");
    assert.throws(() => m.readOpen("p1", "corrective"), code("payload.object"));
    assert.throws(() => m.readOpen("p1", null), code("payload.object"));
    assert.throws(() => m.readOpen("p1", JSON.parse('{"type": "corrective", "description": "x", "__proto__": {"polluted": 1}}')), code("forbidden-key"));
    assert.equal({}.polluted, undefined);
  });

  it("reads notes and parts", function () {
    const n = m.readNote("p1", { id: "WO-2", note: "bearing worn", parts: ["bearing 6204", { name: "seal", qty: 2 }], by: "ben" });
    assert.deepEqual(n, { id: "WO-2", note: "bearing worn", parts: [{ name: "bearing 6204", qty: 1 }, { name: "seal", qty: 2 }], by: "ben" });
    assert.equal(m.readNote("p1", { id: 2, note: "x" }).id, "WO-2");
    assert.equal(m.readNote("p1", { note: "x" }).id, null, "no id: the one open order");
    assert.throws(() => m.readNote("p1", { id: "WO-2" }), code("payload.note"));
    assert.throws(() => m.readNote("p1", { id: "wo2", note: "x" }), code("payload.order-id"));
    assert.throws(() => m.readNote("p1", { id: "WO-1", parts: [{ name: "x", qty: -1 }] }), code("payload.parts"));
    assert.throws(() => m.readNote("p1", { id: "WO-1", parts: [{ name: "x", price: 3 }] }), code("payload.parts"));
    assert.throws(() => m.readNote("p1", { id: "WO-1", parts: [JSON.parse('{"__proto__": 1}')] }), code("forbidden-key"));
  });

  it("reads a close: the hours spent are required", function () {
    assert.deepEqual(m.readClose("p1", { id: "WO-1", hours: 2.5, by: "ben", notes: "done" }), { id: "WO-1", hours: 2.5, by: "ben", notes: "done" });
    assert.throws(() => m.readClose("p1", { id: "WO-1" }), (e) => e.code === "payload.missing" && e.params.field === "hours");
    for (const hours of [-1, "2", NaN, Infinity, 1e9]) assert.throws(() => m.readClose("p1", { id: "WO-1", hours }), code("payload.hours"));
  });

  it("builds, notes and closes orders without touching the stored one", function () {
    const order = m.newOrder("WO-1", { type: "corrective", description: "leak", by: "ana" }, T0);
    assert.deepEqual(order, { id: "WO-1", type: "corrective", description: "leak", by: "ana", opened: T0, status: "open", notes: [], parts: [], closed: null });
    const noted = m.noted("p1", order, { id: null, note: "seal", parts: [{ name: "seal", qty: 1 }], by: "ben" }, T0 + 1);
    assert.equal(order.notes.length, 0);
    assert.deepEqual(noted.notes, [{ ts: T0 + 1, by: "ben", text: "seal" }]);
    assert.deepEqual(noted.parts, [{ name: "seal", qty: 1, ts: T0 + 1, by: "ben" }]);
    const done = m.closed(noted, { id: null, hours: 1.5, by: "ben", notes: "ok" }, T0 + 2);
    assert.equal(done.status, "closed");
    assert.deepEqual(done.closed, { ts: T0 + 2, by: "ben", hours: 1.5, notes: "ok" });
    assert.equal(m.isOpen(done), false);
    assert.equal(m.isOpen(noted), true);
  });

  it("reads time ranges as epoch ms or ISO 8601", function () {
    assert.equal(m.time("p1", { from: T0 }, "from"), T0);
    assert.equal(m.time("p1", { from: "2024-01-01T00:00:00Z" }, "from"), T0);
    assert.equal(m.time("p1", {}, "from"), null);
    assert.throws(() => m.time("p1", { from: "yesterday" }, "from"), code("payload.time"));
  });
});

describe("core/lifecycle: due rules", function () {
  const rules = m.parseRules({ hours: "500", days: "30", cycles: 100, horizonHours: "48", property: "vibration" });
  const base = { hours: 1000, cycles: 20, ts: T0 };

  it("are read from the node's fields; blank is off", function () {
    assert.deepEqual(rules, { hours: 500, days: 30, cycles: 100, horizon: 48 * 3600, property: "vibration" });
    assert.deepEqual(m.parseRules({}), m.NO_RULES);
    assert.throws(() => m.parseRules({ hours: "0" }), code("config.number"));
    assert.throws(() => m.parseRules({ days: "soon" }), code("config.number"));
    assert.throws(() => m.parseRules({ property: "__proto__" }), code("config.property"));
  });

  it("every N operating hours since the last maintenance", function () {
    assert.equal(m.scheduleDue(rules, base, 1499.9, 20, T0 + D), null);
    assert.deepEqual(m.scheduleDue(rules, base, 1500, 20, T0 + D), { rule: "operatingHours", limit: 500, value: 500, at: T0 + D });
  });

  it("every N cycles", function () {
    assert.equal(m.scheduleDue(rules, base, 1000, 119, T0), null);
    assert.equal(m.scheduleDue(rules, base, 1000, 120, T0).rule, "cycles");
  });

  it("every D days of reading time", function () {
    assert.equal(m.scheduleDue(rules, base, 1000, 20, T0 + 30 * D - 1), null);
    assert.deepEqual(m.scheduleDue(rules, base, 1000, 20, T0 + 30 * D), { rule: "days", limit: 30, value: 30, at: T0 + 30 * D });
  });

  it("when twin-predict's time to threshold is within the horizon", function () {
    assert.equal(m.predictionDue(rules, "vibration", { timeToThreshold: 49 * 3600, ts: T0 }, T0 + 5), null);
    assert.equal(m.predictionDue(rules, "vibration", { timeToThreshold: null, ts: T0 }, T0 + 5), null);
    assert.equal(m.predictionDue(rules, "temperature", { timeToThreshold: 10, ts: T0 }, T0 + 5), null, "another property");
    assert.deepEqual(m.predictionDue(rules, "vibration", { timeToThreshold: 3600, ts: T0 }, T0 + 5), { rule: "prediction", property: "vibration", timeToThreshold: 3600, horizon: 48 * 3600, at: T0 });
    const any = m.parseRules({ horizonHours: 1 });
    assert.equal(m.predictionDue(any, "temperature", { timeToThreshold: 0 }, T0 + 5).at, T0 + 5);
  });
});

describe("core/lifecycle: reliability", function () {
  it("MTBF, MTTR and availability from operating hours and corrective orders", function () {
    assert.deepEqual(figures({ operatingHours: 1000, failures: 4, repairs: 4, repairHours: 10 }), { mtbf: 250, mttr: 2.5, availability: 0.990099 });
    assert.deepEqual(figures({ operatingHours: 100, failures: 0, repairs: 0, repairHours: 0 }), { mtbf: null, mttr: null, availability: 1 });
    assert.deepEqual(figures({ operatingHours: 0, failures: 0, repairs: 0, repairHours: 0 }), { mtbf: null, mttr: null, availability: null });
    assert.deepEqual(figures({ operatingHours: 100, failures: 1, repairs: 0, repairHours: 0 }), { mtbf: 100, mttr: null, availability: 1 });
  });

  it("a fleet sums first, then divides", function () {
    const f = fleetFigures([
      { operatingHours: 900, failures: 1, repairs: 1, repairHours: 9 },
      { operatingHours: 100, failures: 3, repairs: 3, repairHours: 1 },
    ]);
    assert.deepEqual(f, { operatingHours: 1000, failures: 4, repairs: 4, repairHours: 10, mtbf: 250, mttr: 2.5, availability: 0.990099 });
  });
});
