"use strict";
// The prediction engine as a registry follower: what it takes from the twin's model.
const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { PredictEngine } = require("../../nodes/lib/core/predict/engine");
const { readConfig } = require("../../nodes/lib/core/predict/options");
const { T0 } = require("./core-support");

const MODELS = parseModels(JSON.stringify({
  room: { properties: { humidity: { type: "number", unit: "%RH", minimum: 0, maximum: 100 } } },
}));

function engineOn(reg, config = {}) {
  const engine = new PredictEngine(reg, { config: readConfig({ horizon: "3600", ...config }), emit: () => undefined, onError: (e) => { throw e; } });
  engine.start();
  return engine;
}

describe("core/predict engine: what the twin's model tells the predictor", function () {
  it("keeps forecasts and intervals of a bounded property inside the model's range (a humidity never above 100 %)", function () {
    const reg = new TwinRegistry({ models: MODELS, clock: () => T0 + 10 * 86400 * 1000 });
    reg.open();
    reg.create("bath", { model: "room" });
    const engine = engineOn(reg);
    let last = null;
    // Steam: humidity climbing fast to saturation, 10 s apart.
    for (let i = 0; i < 400; i++) {
      const value = Math.min(100, 60 + i * 0.2 + (i % 3) * 0.1);
      const out = engine.apply([{ twinId: "bath", property: "humidity", value, ts: T0 + i * 10000 }]);
      if (out.predictions.length) last = out.predictions[0];
      if (last) {
        assert.ok(last.forecast <= 100 && last.upper <= 100, `reading ${i}: forecast ${last.forecast}, upper ${last.upper}`);
        assert.ok(last.lower >= 0, `reading ${i}: lower ${last.lower}`);
      }
    }
    engine.close();
    return reg.close();
  });

  it("a node's own bounds win over the model's", function () {
    const reg = new TwinRegistry({ models: MODELS, clock: () => T0 + 10 * 86400 * 1000 });
    reg.open();
    reg.create("bath", { model: "room" });
    const engine = engineOn(reg, { bounds: { max: 90 } });
    let last = null;
    for (let i = 0; i < 200; i++) {
      const out = engine.apply([{ twinId: "bath", property: "humidity", value: 70 + i * 0.1, ts: T0 + i * 10000 }]);
      if (out.predictions.length) last = out.predictions[0];
    }
    assert.ok(last.upper <= 90, `upper ${last.upper}`);
    engine.close();
    return reg.close();
  });
});
