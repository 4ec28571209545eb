"use strict";
// applyReading, the path twin-sensor and twin-link share: what a reader is told back, and what a
// reading that keeps nothing still does for the twin.
const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { applyReading, readingPath } = require("../../nodes/lib/core/reading");

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
  it("a reading older than the stored one is not applied and comes back as stale, beside the values that were", function () {
    applyReading(reg, "p1", { rpm: 1600 }, { ts: T0 + 1000 });
    const outcome = applyReading(reg, "p1", { rpm: "1700", temperature: "21.5" }, { ts: T0 + 500, parseNumbers: true });
    assert.deepEqual(outcome.stale, ["rpm"]);
    assert.deepEqual(Object.keys(outcome.event.changes), ["temperature"]);
    const doc = reg.get("p1");
    assert.equal(doc.reported.rpm, 1600);
    assert.equal(doc.reported.temperature, 21.5);
  });

  it("a reading wholly inside the deadband still checks the version the sender expects", function () {
    assert.throws(
      () => applyReading(reg, "p1", { rpm: 1501 }, { ifVersion: 7, deadband: { mode: "absolute", value: 5 } }),
      (err) => err.name === "TwinError" && err.code === "conflict" && err.params.expected === 7 && err.params.current === 1,
    );
    assert.equal(reg.get("p1").version, 1);
  });

  it("a value the model refuses once scaled is refused as invalid-value, and no other value of the reading lands", function () {
    assert.throws(
      () => applyReading(reg, "p1", { temperature: 25, rpm: 400 }, { scale: 10 }),
      (err) => err.name === "TwinError" && err.code === "invalid-value" && err.params.property === "rpm" && /maximum 3600/.test(err.params.rule),
    );
    const doc = reg.get("p1");
    assert.deepEqual([doc.reported.temperature, doc.reported.rpm, doc.version], [20, 1500, 1]);
  });

  it("a path prepared once (a twin-sensor's) converts and names each reading's own twin, also for a reading made from a change listener", function () {
    reg.create("p2", { model: "pump" });
    const fahrenheit = readingPath({ unit: "[degF]" });
    const stop = reg.subscribe((event) => {
      if (event.twinId === "p1" && event.section === "reported") fahrenheit.apply(reg, "p2", { temperature: 212 });
    });
    const outcome = fahrenheit.apply(reg, "p1", { temperature: 32 });
    stop();
    assert.deepEqual(outcome.event.changes.temperature.value, 0);
    assert.equal(reg.get("p1").reported.temperature, 0);
    assert.equal(reg.get("p2").reported.temperature, 100);
    const metres = readingPath({ unit: "m" });
    for (const twinId of ["p1", "p2", "p1"]) {
      assert.throws(
        () => metres.apply(reg, twinId, { temperature: 3 }),
        (err) => err.code === "no-conversion" && err.params.twinId === twinId && err.params.property === "temperature",
      );
    }
  });
});
