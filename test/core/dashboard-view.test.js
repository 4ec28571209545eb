"use strict";
// What the Dashboard 2.0 widgets show an operator (core/dashboard.ts): values in the units people
// write, the fleet filtered as the operator chose, one twin's card with its trend, prediction,
// lifecycle and due maintenance, and a typed desired value made into what the model wants.
const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { unitSymbol, formatValue, formatSeconds, fleetView, readFleetFilter, cardView, desiredFromInput } = require("../../nodes/lib/core/dashboard");
const { T0, manualClock, throwsTwin } = require("./core-support");

const MODELS = parseModels({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel" },
      pressure: { type: "number", unit: "psi" },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true, tolerance: 10 },
      mode: { type: "string", enum: ["auto", "manual"], writable: true },
      enabled: { type: "boolean", writable: true },
      serial: { type: "string" },
    },
  },
});

function plant() {
  const clock = manualClock();
  const reg = new TwinRegistry({ clock, models: MODELS, historyLength: 100 });
  reg.open();
  return { reg, clock };
}

describe("core/dashboard: what the dashboard widgets show", function () {
  describe("values in human units", function () {
    it("shows a model's UCUM code as people write it, and a unit it does not know as written", function () {
      assert.deepEqual(["Cel", "[degF]", "kW.h", "[psi]", "%", "1", "mm/s", "", undefined].map(unitSymbol), ["°C", "°F", "kWh", "psi", "%", "", "mm/s", "", ""]);
    });

    it("rounds readings to what a person reads, keeps whole numbers, and words booleans and missing values", function () {
      assert.equal(formatValue(72.4449, "Cel"), "72.44 °C");
      assert.equal(formatValue(0.1 + 0.2, "%"), "0.3 %");
      assert.equal(formatValue(1234.56, "kW"), "1235 kW");
      assert.equal(formatValue(1800), "1800");
      assert.equal(formatValue(true), "on");
      assert.equal(formatValue(null, "Cel"), "—");
      assert.equal(formatValue("x".repeat(100)).length, 60);
    });

    it("says a horizon in the largest unit that keeps it readable", function () {
      assert.deepEqual([45, 600, 3600, 5400, 86400 * 2.5].map(formatSeconds), ["45 s", "10 min", "1 h", "1.5 h", "2.5 d"]);
    });
  });

  describe("the fleet", function () {
    function fleet() {
      const { reg } = plant();
      reg.create("pump-02", { model: "pump", reported: { temperature: 61.25, pressure: 30 } });
      reg.create("pump-01", { model: "pump", reported: { temperature: 40 } });
      reg.create("valve-1", { reported: { open: true } });
      reg.setOnline("pump-02", false); // a reading makes a twin online
      reg.setLifecycle("pump-02", { stage: "maintenance" });
      reg.setDesired("pump-01", { rpm: 1800 });
      reg.setPrediction("pump-02", "temperature", { forecast: 70, lower: 65, upper: 75, horizon: 600, anomaly: true });
      return reg;
    }

    it("lists every twin by id with its status, pending desired values and first values in units", function () {
      const view = fleetView(fleet());
      assert.deepEqual(view.rows.map((r) => [r.id, r.online, r.stage, r.delta, r.anomaly, r.values]), [
        ["pump-01", true, null, 1, false, [["temperature", "40 °C"]]],
        ["pump-02", false, "maintenance", 0, true, [["temperature", "61.25 °C"], ["pressure", "30 psi"]]],
        ["valve-1", true, null, 0, false, [["open", "on"]]],
      ]);
      assert.deepEqual([view.count, view.total, view.models, view.stages], [3, 3, ["pump"], ["maintenance"]]);
    });

    it("keeps only the twins of the operator's model, stage, online and anomaly choice", function () {
      const reg = fleet();
      const ids = (filter) => fleetView(reg, filter).rows.map((r) => r.id);
      assert.deepEqual(ids({ model: "pump" }), ["pump-01", "pump-02"]);
      assert.deepEqual(ids({ stage: "maintenance" }), ["pump-02"]);
      assert.deepEqual(ids({ online: false }), ["pump-02"]);
      assert.deepEqual(ids({ anomaly: true }), ["pump-02"]);
      assert.deepEqual(ids({ model: "pump", online: true, anomaly: true }), []);
    });

    it("sends at most the row limit but counts every match", function () {
      const view = fleetView(fleet(), {}, 2, 1);
      assert.deepEqual([view.rows.length, view.total, view.rows[1].values.length], [2, 3, 1]);
    });

    it("reads a browser's filter defensively: unknown keys and wrong types are dropped", function () {
      assert.deepEqual(readFleetFilter({ model: "pump", online: "yes", anomaly: true, stage: 3, __proto__: { x: 1 } }), { model: "pump", anomaly: true });
      assert.deepEqual(readFleetFilter("pump"), {});
      assert.deepEqual(readFleetFilter(null), {});
    });
  });

  describe("the card of one twin", function () {
    it("shows the model's properties in order with values in units, the trend, and the prediction with horizon and interval", function () {
      const { reg, clock } = plant();
      reg.create("pump-01", { model: "pump" });
      for (let i = 0; i < 5; i++) {
        clock.advance(1000);
        reg.report("pump-01", { temperature: 60 + i, serial: "A1" }, { ts: clock() });
      }
      reg.setPrediction("pump-01", "temperature", { method: "holt", forecast: 74.14, lower: 70.2, upper: 78, horizon: 3600, trend: 0.1, score: 1, anomaly: false, timeToThreshold: 5400, ts: clock() });
      const card = cardView(reg, "pump-01");
      // rpm, mode and enabled are never reported but writable: each gets a row for its control.
      assert.deepEqual(card.properties.map((p) => p.name), ["temperature", "rpm", "mode", "enabled", "serial"]);
      const t = card.properties[0];
      assert.deepEqual([t.text, t.unit, t.history, t.writable], ["64 °C", "°C", [60, 61, 62, 63, 64], false]);
      assert.equal(t.prediction.text, "74.14 °C in 1 h (70.2–78 °C)");
      assert.equal(t.prediction.timeToThreshold, "1.5 h");
      const rpm = card.properties[1];
      assert.deepEqual([rpm.writable, rpm.minimum, rpm.maximum, rpm.text, rpm.history], [true, 0, 3600, "—", []]);
      assert.deepEqual(card.properties[2].enum, ["auto", "manual"]);
      assert.equal(cardView(reg, "pump-09"), null);
    });

    it("shows the lifecycle stage, operating hours and due maintenance in words, and desired values still pending", function () {
      const { reg } = plant();
      reg.create("pump-01", { model: "pump", reported: { rpm: 1500 } });
      reg.setLifecycle("pump-01", { stage: "operating", since: T0, operatingHours: 512.25, cycles: 3, maintenanceDue: { rule: "operatingHours", limit: 500, value: 512.25, at: T0 } });
      reg.setDesired("pump-01", { rpm: 1800 });
      let card = cardView(reg, "pump-01");
      assert.deepEqual([card.stage, card.operatingHours, card.maintenance, card.pending], ["operating", 512.25, "operating hours: 512.3 of 500", 1]);
      const rpm = card.properties.find((p) => p.name === "rpm");
      assert.deepEqual([rpm.desired, rpm.desiredText, rpm.pending], [1800, "1800", true]);

      reg.report("pump-01", { rpm: 1795 }); // within the model's tolerance of 10
      reg.setLifecycle("pump-01", { stage: "operating", maintenanceDue: { rule: "prediction", property: "temperature", timeToThreshold: 7200, horizon: 86400, at: T0 } });
      card = cardView(reg, "pump-01");
      assert.equal(card.properties.find((p) => p.name === "rpm").pending, false);
      assert.equal(card.maintenance, "temperature reaches its limit in 2 h");
    });
  });

  describe("a desired value typed on the dashboard", function () {
    it("becomes the number or boolean the model wants; anything else is left for the registry to judge", function () {
      const { reg } = plant();
      reg.create("pump-01", { model: "pump" });
      assert.deepEqual(desiredFromInput(reg, "pump-01", "rpm", " 1800 "), { property: "rpm", value: 1800 });
      assert.deepEqual(desiredFromInput(reg, "pump-01", "enabled", "false"), { property: "enabled", value: false });
      assert.deepEqual(desiredFromInput(reg, "pump-01", "rpm", "fast"), { property: "rpm", value: "fast" });
      assert.deepEqual(desiredFromInput(reg, "pump-01", "mode", "auto"), { property: "mode", value: "auto" });
      throwsTwin(() => reg.setDesired("pump-01", { rpm: desiredFromInput(reg, "pump-01", "rpm", "fast").value }), "invalid-value", { property: "rpm" });
    });

    it("is refused for a twin that does not exist or a property that is no name", function () {
      const { reg } = plant();
      throwsTwin(() => desiredFromInput(reg, "pump-09", "rpm", 1), "not-found", { twinId: "pump-09" });
      reg.create("pump-01", { model: "pump" });
      throwsTwin(() => desiredFromInput(reg, "pump-01", 42, 1), "invalid-property");
    });
  });
});
