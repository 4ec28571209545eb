"use strict";
/**
 * The twin document every twin node answers with (toDocument): its sections in a fixed order (a
 * user reads it as JSON), and every value a copy of its own, so a flow that changes the document
 * it got never changes the twin or the next document.
 */
const assert = require("assert");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { manualClock, plain, T0 } = require("./core-support");

describe("core/twin: the document", function () {
  function registry() {
    const reg = new TwinRegistry({ clock: manualClock() });
    reg.open();
    reg.create("pump-1", { attributes: { site: "a", tags: ["x"] }, reported: { temperature: 20.5, mode: { auto: true } } });
    reg.setDesired("pump-1", { rpm: 1500 }, { by: "operator" });
    reg.report("pump-1", { rpm: 1400 }, { source: "plant/pump-1" });
    reg.setPrediction("pump-1", "temperature", { value: 21 });
    return reg;
  }

  it("lists its sections in one order, as JSON shows them", function () {
    const doc = registry().get("pump-1");
    assert.deepStrictEqual(Object.keys(doc), ["id", "model", "attributes", "reported", "desired", "delta", "predictions", "lifecycle", "connectivity", "meta", "version", "created", "updated"]);
    assert.strictEqual(
      JSON.stringify(doc),
      JSON.stringify({
        id: "pump-1", model: null, attributes: { site: "a", tags: ["x"] }, reported: { temperature: 20.5, mode: { auto: true }, rpm: 1400 },
        desired: { rpm: 1500 }, delta: { rpm: 1500 }, predictions: { temperature: { value: 21 } }, lifecycle: null,
        connectivity: { online: true, lastSeen: T0 },
        meta: { reported: { temperature: { ts: T0 }, mode: { ts: T0 }, rpm: { ts: T0, source: "plant/pump-1" } }, desired: { rpm: { ts: T0, by: "operator" } } },
        version: 3, created: T0, updated: T0,
      }),
    );
  });

  it("is a copy: changing one document changes neither the twin nor the next document", function () {
    const reg = registry();
    const first = reg.get("pump-1");
    const before = plain(first);
    first.attributes.tags.push("y");
    first.reported.mode.auto = false;
    first.reported.temperature = 99;
    first.meta.reported.rpm.source = "changed";
    first.predictions.temperature.value = 0;
    first.connectivity.online = false;
    assert.deepStrictEqual(plain(reg.get("pump-1")), before);
  });

  it("holds every section, empty or not, in objects that inherit nothing, that a flow can fill like any other", function () {
    const reg = new TwinRegistry({ clock: manualClock() });
    reg.open();
    reg.create("bare-1", { reported: { temperature: 20 } });
    const doc = reg.get("bare-1");
    for (const name of ["attributes", "reported", "desired", "delta", "predictions"]) {
      assert.strictEqual(Object.getPrototypeOf(Object.getPrototypeOf(doc[name])), null, name);
      assert.strictEqual("toString" in doc[name], false, name);
    }
    for (const name of ["desired", "delta", "predictions"]) {
      for (let k = 0; k < 12; k++) doc[name]["p" + k] = k;
      assert.strictEqual(JSON.stringify(doc[name]), JSON.stringify(Object.fromEntries(Array.from({ length: 12 }, (_, k) => ["p" + k, k]))), name);
    }
    doc.meta.desired.rpm = { ts: 1 };
    assert.deepStrictEqual(plain(reg.get("bare-1").desired), {}, "the twin is unchanged");
  });
});
