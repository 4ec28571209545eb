"use strict";
// What twin-predict says after a restart, a redeploy with changed settings or a long downtime:
// found by an adversarial trial (kill -9 at random points, restore, continue the same stream),
// each case a user hits in a plant.
const assert = require("node:assert/strict");
const { readConfig } = require("../../nodes/lib/core/predict/options");
const { Predictor } = require("../../nodes/lib/core/predict/predictor");

const T0 = 1764000000000;
const at = (i, step = 10) => T0 + i * step * 1000;
/** Through JSON, as the twin keeps it. */
const saved = (p) => JSON.parse(JSON.stringify(p.toJSON()));
/** A quiet signal read to 0.1 with a slow daily swing (deterministic). */
const signal = (i) => Math.round((60 + 2 * Math.sin((2 * Math.PI * i) / 8640) + ((i * 7919) % 13) * 0.03) * 10) / 10;

function feed(p, from, to, f = signal, step = 10) {
  const out = [];
  for (let i = from; i < to; i++) {
    const o = p.update(at(i, step), f(i));
    if (o) out.push({ i, ...o.prediction, alerts: o.alerts });
  }
  return out;
}

describe("core/predict: restarts, redeploys and downtime", function () {
  it("settles its forecasts, and so reports skill and coverage, when a bucket rounds down to whole readings (300 s ahead at 10 s)", function () {
    // 300 s / 12 slots = 25 s buckets, issued every 2 readings (20 s): 14 pending forecasts span
    // 280 s, and dropping the oldest when full dropped every one before its outcome came.
    for (const [method, horizon, step] of [["ewma", "300", 10], ["auto", "300", 10], ["holt", "900", 60], ["linear", "150", 10]]) {
      const p = new Predictor(readConfig({ method, horizon }).options);
      const last = feed(p, 0, 2000, signal, step).pop();
      assert.equal(typeof last.skill, "number", `${method} ${horizon} s ahead at ${step} s: skill ${last.skill}`);
      assert.equal(typeof last.coverage, "number", `${method} ${horizon} s ahead at ${step} s: coverage ${last.coverage}`);
    }
  });
});
