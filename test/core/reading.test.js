"use strict";
// applyReading, the path twin-sensor and twin-link share: what a reader is told back, and what a
// reading that keeps nothing still does for the twin.
const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { applyReading } = require("../../nodes/lib/core/reading");

const MODELS = parseModels({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel" },
      rpm: { type: "integer", minimum: 0, maximum: 3600 },
    },
  },
});

const T0 = 1764000000000;

describe("core/reading", function () {
  let now;
  let reg;

  beforeEach(function () {
    now = T0;
    reg = new TwinRegistry({ models: MODELS, clock: () => now, stalenessMs: 5000 });
    reg.open();
    reg.create("p1", { model: "pump", reported: { temperature: 20, rpm: 1500 } });
  });

  afterEach(async function () {
    await reg.close();
  });

  it("a reading inside the deadband brings an offline twin back online, with no new version", function () {
    now += 6000;
    reg.expire();
    assert.equal(reg.get("p1").connectivity.online, false);
    const outcome = applyReading(reg, "p1", { rpm: 1502 }, { deadband: { mode: "absolute", value: 5 } });
    assert.deepEqual(outcome, { event: null, stale: [], created: false });
    const doc = reg.get("p1");
    assert.equal(doc.connectivity.online, true);
    assert.equal(doc.version, 1);
    assert.equal(doc.reported.rpm, 1500);
  });

  it("a reading of a twin that exists creates nothing, even when creating was allowed", function () {
    const outcome = applyReading(reg, "p1", { rpm: 1600 }, { create: { model: "pump" } });
    assert.equal(outcome.created, false);
    assert.deepEqual(Object.keys(outcome.event.changes), ["rpm"]);
    assert.equal(reg.get("p1").version, 2);
  });

  it("a reading in a unit that cannot be converted is refused naming the twin and the property", function () {
    assert.throws(
      () => applyReading(reg, "p1", { temperature: 3 }, { unit: "m" }),
      (err) => err.name === "TwinError" && err.code === "no-conversion" && err.params.twinId === "p1" && err.params.property === "temperature",
    );
    assert.equal(reg.get("p1").reported.temperature, 20);
  });
});
