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

  it("a redeploy that changes the method ends an anomaly already announced, and judges the next reading without another warm-up", function () {
    const p = new Predictor(readConfig({ method: "holt", horizon: "600" }).options);
    feed(p, 0, 1000);
    const fault = feed(p, 1000, 1005, (i) => signal(i) + 10);
    assert.deepEqual(fault.flatMap((x) => x.alerts.map((a) => `${a.type} ${a.state}`)), ["anomaly start"]);
    const { predictor: q } = Predictor.restore(readConfig({ method: "auto", horizon: "600" }).options, saved(p));
    assert.equal(q.anomalous, true, "the episode announced is still open");
    const back = feed(q, 1005, 1020);
    assert.deepEqual(back.flatMap((x) => x.alerts.map((a) => `${a.type} ${a.state}`)), ["anomaly end"], "the end of the episode announced before the redeploy");
    assert.equal(back[0].method, "auto");
    // Another fault a minute later is judged at once (a fresh detector waits out 30 min).
    const again = feed(q, 1020, 1022, (i) => signal(i) + 10);
    assert.equal(again[0].anomaly, true, `score ${again[0].score}`);
  });

  it("a redeploy that changes the horizon calibrates skill, coverage and interval anew for it, not with the old horizon's outcomes", function () {
    for (const method of ["holt", "ewma"]) {
      const p = new Predictor(readConfig({ method, horizon: "600" }).options);
      feed(p, 0, 4000);
      assert.ok(feed(p, 4000, 4001)[0].coverage > 0.9);
      const { predictor: q } = Predictor.restore(readConfig({ method, horizon: "3600" }).options, saved(p));
      const out = feed(q, 4001, 8001);
      assert.equal(out[0].horizon, 3600);
      assert.equal(out[0].coverage, null, `${method}: the coverage of 600 s forecasts is no figure of 3600 s ones`);
      assert.equal(out[0].skill, null, `${method}: nor their skill`);
      // Outcomes of the 3600 s forecasts (360 readings later) inside their published intervals.
      let inside = 0;
      for (let k = 0; k + 360 < out.length; k++) {
        const y = signal(out[k].i + 360);
        if (y >= out[k].lower && y <= out[k].upper) inside++;
      }
      const share = inside / (out.length - 360);
      assert.ok(share >= 0.9, `${method}: ${share.toFixed(3)} of the outcomes inside (the 600 s calibration held 0.76 for holt)`);
    }
  });

  it("a redeploy that turns the threshold's direction round starts its time to threshold afresh: no false warning", function () {
    const rising = (i) => 60 + 0.002 * i + (i % 5) * 0.05;
    const p = new Predictor(readConfig({ horizon: "600", threshold: "70", warning: "3600" }).options);
    feed(p, 0, 2000, rising);
    const options = readConfig({ horizon: "600", threshold: "50", direction: "below", warning: "3600" }).options;
    const { predictor: q } = Predictor.restore(options, saved(p));
    const out = feed(q, 2000, 2600, rising);
    // The value is at 64 and rising: 50 below is never reached.
    assert.deepEqual(out.flatMap((x) => x.alerts), [], "no warning");
    assert.ok(out.every((x) => x.timeToThreshold === null), `time to threshold ${out[0].timeToThreshold} (0: "past the limit")`);
    assert.equal(q.warned, false);
  });

  it("after a downtime of a day or a week, the readings resuming raise no drift alert, no threshold warning and no time to threshold", function () {
    // 11 hours of readings every 10 s (less than a daily period), then nothing, then the same signal again.
    for (const method of ["auto", "holt", "linear", "ewma"]) {
      for (const hours of [24, 168]) {
        const options = readConfig({ method, horizon: "600", threshold: "70", warning: "3600" }).options;
        const p = new Predictor(options);
        feed(p, 0, 4000);
        const { predictor: q } = Predictor.restore(options, saved(p));
        const from = 4000 + hours * 360;
        const out = feed(q, from, from + 1500);
        const alerts = out.flatMap((x) => x.alerts.map((a) => `${x.i - from}: ${a.type} ${a.state}${a.type === "drift" ? ` from ${a.from} to ${a.to}` : ""}`));
        assert.deepEqual(alerts, [], `${method}, ${hours} h down: the signal swings +-2 around 60 as before`);
        assert.equal(out.filter((x) => x.timeToThreshold !== null).length, 0, `${method}, ${hours} h down: a time to threshold of 70`);
        assert.equal(out.filter((x) => x.anomaly).length, 0, `${method}, ${hours} h down: anomalies`);
      }
    }
  });

  it("a hand-edited state whose numbers each pass restore's checks but can not go on starts afresh: no error on every reading, no NaN, no silence", function () {
    const configs = { auto: { horizon: "600", threshold: "70", warning: "3600" }, linear: { method: "linear", horizon: "300" }, holt: { method: "holt", horizon: "600" } };
    const edits = [
      // Each found by a fuzz of saved states; before, the first threw on every reading for good
      // (the node failed each message), the next two published a lower of -Infinity (null in the
      // twin) and a coverage of 2.49, the last was silent for good (every reading "not newer").
      ["linear", (s) => { s.s.m[0] = 1e308; s.a.rp[5] = -1e308; }],
      ["auto", (s) => { s.s.c[1] = 1e-308; s.s.a[1] = 1e-308; s.s.g[2] = 1e308; }],
      ["auto", (s) => { s.s.p[5][7] = 1e308; s.s.c[2] = 2.5; }],
      ["holt", (s) => { s.t = 1e308; }],
    ];
    for (const [method, edit] of edits) {
      const options = readConfig(configs[method]).options;
      const p = new Predictor(options);
      feed(p, 0, 3000);
      const state = saved(p);
      edit(state);
      const { predictor: q } = Predictor.restore(options, JSON.parse(JSON.stringify(state)));
      const out = feed(q, 3000, 3400);
      assert.equal(out.length, 400, `${method} ${edit}: a prediction for every reading`);
      for (const x of out) {
        const where = `${method} ${edit}, reading ${x.i}`;
        assert.ok([x.forecast, x.lower, x.upper, x.score].every(Number.isFinite), where);
        assert.ok(x.lower <= x.forecast && x.forecast <= x.upper, where);
        assert.ok(x.coverage === null || (x.coverage >= 0 && x.coverage <= 1), `${where}: coverage ${x.coverage}`);
      }
    }
  });

  it("a state that can not go on, restored during an anomaly and a warning, ends both at the reading it starts afresh", function () {
    const options = readConfig({ horizon: "600", threshold: "70", warning: "3600" }).options;
    const rising = (i) => 60 + 0.01 * i + (i % 5) * 0.05 + (i >= 1000 ? 10 : 0);
    const p = new Predictor(options);
    feed(p, 0, 1003, rising);
    assert.equal(p.anomalous && p.warned, true, "a step flagged, and past 70");
    const state = saved(p);
    state.s.c[2] = 2.5; // a coverage no prediction can publish
    const { predictor: q, restored } = Predictor.restore(options, state);
    assert.equal(restored, true);
    const [first] = feed(q, 1003, 1004, rising);
    const said = first.alerts.map((a) => `${a.type} ${a.state}`);
    assert.ok(said.includes("anomaly end") && said.includes("threshold end"), JSON.stringify(said));
    assert.ok(first.alerts.filter((a) => a.state === "end").every((a) => a.ts === at(1003)));

    // The reading it starts afresh at ends a stuck run: one end, as an intact state gives it. A
    // spike there, with no episode open before, begins none that would need an end.
    const short = readConfig({ horizon: "600" }).options;
    const quiet = (i) => (i >= 1500 && i < 1700 ? 60 : Math.round((60 + 0.6 * ((i * 7919) % 13) / 13 - 0.3) * 10) / 10);
    const s = new Predictor(short);
    let stuckAt = null;
    for (let i = 0; i < 1700 && stuckAt === null; i++) if (s.update(at(i), quiet(i)).alerts.some((a) => a.reason === "stuck")) stuckAt = i;
    assert.notEqual(stuckAt, null, "a stuck run reported");
    const stuckState = saved(s);
    const intact = Predictor.restore(short, JSON.parse(JSON.stringify(stuckState))).predictor.update(at(stuckAt + 1), 60.3).alerts;
    stuckState.s.c[2] = 2.5;
    const damaged = Predictor.restore(short, stuckState).predictor.update(at(stuckAt + 1), 60.3).alerts;
    assert.deepEqual(damaged.filter((a) => a.type === "anomaly").map((a) => a.state), ["end"]);
    assert.deepEqual(damaged.filter((a) => a.type === "anomaly"), intact.filter((a) => a.type === "anomaly"));
    const calm = new Predictor(short);
    feed(calm, 0, 1000);
    const calmState = saved(calm);
    calmState.s.c[2] = 2.5;
    const spiked = Predictor.restore(short, calmState).predictor.update(at(1000), 90).alerts;
    assert.deepEqual(spiked.filter((a) => a.type === "anomaly"), [], "no end without a start");
  });

  it("a redeploy that removes the threshold, turns its warning off or its direction round ends a warning already announced, once", function () {
    const rising = (i) => 60 + 0.01 * i + (i % 5) * 0.05;
    const p = new Predictor(readConfig({ horizon: "600", threshold: "70", warning: "3600" }).options);
    // Under a day of readings the tracker gives no time yet (a daily cycle could not be told from
    // a trend), but a level past the limit warns (time 0).
    const before = feed(p, 0, 1000, rising);
    assert.deepEqual(before.flatMap((x) => x.alerts.map((a) => `${a.type} ${a.state}`)), ["threshold start"], "past 70");
    assert.equal(p.warned, true);
    const state = saved(p);
    for (const config of [{ horizon: "600" }, { horizon: "600", threshold: "70", warning: "0" }, { horizon: "600", threshold: "50", direction: "below", warning: "3600" }]) {
      const { predictor: q } = Predictor.restore(readConfig(config).options, JSON.parse(JSON.stringify(state)));
      assert.equal(q.warned, false, `${JSON.stringify(config)}: no warning goes on (the node's status counted it for good)`);
      const out = feed(q, 1000, 1060, rising);
      const alerts = out.flatMap((x) => x.alerts);
      assert.deepEqual(alerts.map((a) => `${a.type} ${a.state} ${a.limit} ${a.direction}`), ["threshold end 70 above"], JSON.stringify(config));
      assert.equal(alerts[0].ts, at(1000));
    }
  });

  it("a redeploy that moves the limit ends a warning with the limit it was announced with, and warns of the new one if due", function () {
    const rising = (i) => 60 + 0.01 * i + (i % 5) * 0.05;
    const p = new Predictor(readConfig({ horizon: "600", threshold: "70", warning: "3600" }).options);
    feed(p, 0, 1000, rising);
    assert.equal(p.warned, true, "past 70");
    const state = saved(p);
    // Past 65 as well: the old warning ends first, then the new limit's starts, at the same reading.
    // Before, nothing was said, and the warning's end, later, named 65.
    const lower = Predictor.restore(readConfig({ horizon: "600", threshold: "65", warning: "3600" }).options, JSON.parse(JSON.stringify(state))).predictor;
    const first = feed(lower, 1000, 1060, rising).flatMap((x) => x.alerts.map((a) => `${a.type} ${a.state} ${a.limit} ${a.ts === at(1000) ? "now" : "later"}`));
    assert.deepEqual(first, ["threshold end 70 now", "threshold start 65 now"]);
    assert.equal(lower.warned, true);
    // Not past 90 and far from it: the old warning ends and none starts.
    const higher = Predictor.restore(readConfig({ horizon: "600", threshold: "90", warning: "3600" }).options, JSON.parse(JSON.stringify(state))).predictor;
    const second = feed(higher, 1000, 1060, rising).flatMap((x) => x.alerts.map((a) => `${a.type} ${a.state} ${a.limit}`));
    assert.deepEqual(second, ["threshold end 70"]);
    assert.equal(higher.warned, false);
    // The same limit: the warning goes on, nothing said.
    const same = Predictor.restore(readConfig({ horizon: "600", threshold: "70", warning: "3600" }).options, JSON.parse(JSON.stringify(state))).predictor;
    assert.deepEqual(feed(same, 1000, 1060, rising).flatMap((x) => x.alerts), []);
    assert.equal(same.warned, true);
  });
});

