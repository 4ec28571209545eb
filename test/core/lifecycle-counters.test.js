"use strict";
// Usage counters from reading timestamps, custom counters, and the bounded audit log:
// src/core/lifecycle/counters.ts and log.ts.
const assert = require("node:assert/strict");
const c = require("../../nodes/lib/core/lifecycle/counters");
const { compileComparison } = require("../../nodes/lib/core/lifecycle/conditions");
const { appendLog, readLog, blockKey, EMPTY_LOG } = require("../../nodes/lib/core/lifecycle/log");

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** Feeds [t, running] readings and returns the counter. */
function feed(samples, start = null) {
  let counter = start;
  const edges = [];
  for (const [t, running] of samples) {
    const r = c.advanceRun(counter, t, running);
    counter = r.counter;
    if (r.edge) edges.push(r.edge);
  }
  return { counter, edges };
}

describe("core/lifecycle: usage counters", function () {
  it("counts operating time between readings while the condition holds, from their timestamps", function () {
    const { counter, edges } = feed([
      [T0, false],
      [T0 + 1 * H, true], // start
      [T0 + 2 * H, true],
      [T0 + 3.5 * H, false], // stop: 2.5 h
      [T0 + 4 * H, false],
      [T0 + 5 * H, true], // start
    ]);
    assert.deepEqual(edges, ["start", "stop", "start"]);
    assert.equal(counter.cycles, 2);
    assert.equal(c.runningMs(counter, T0 + 5 * H), 2.5 * H);
    // Still running: the time up to the latest reading counts, whenever it is asked.
    assert.equal(c.hoursOf(c.runningMs(counter, T0 + 6.25 * H)), 3.75);
  });

  it("needs no write while a machine keeps running", function () {
    let counter = c.advanceRun(null, T0, true).counter;
    for (let i = 1; i <= 100; i++) {
      const r = c.advanceRun(counter, T0 + i * 60_000, true);
      assert.equal(r.changed, false);
      counter = r.counter;
    }
    assert.equal(c.runningMs(counter, T0 + 100 * 60_000), 100 * 60_000);
  });

  it("does not count the first reading as a start", function () {
    const { counter, edges } = feed([[T0, true], [T0 + H, true]]);
    assert.deepEqual(edges, []);
    assert.equal(counter.cycles, 0);
    assert.equal(c.runningMs(counter, T0 + H), H);
  });

  it("counts replayed or time-warped data by its timestamps, not by when it arrives", function () {
    // A week of readings, one every simulated 17 minutes, arriving within a second.
    const samples = [];
    for (let i = 0; i <= 600; i++) samples.push([T0 - 7 * 24 * H + i * 17 * 60_000, i % 100 < 50]);
    const { counter } = feed(samples);
    let expected = 0;
    for (let i = 1; i <= 600; i++) if (samples[i - 1][1]) expected += 17 * 60_000;
    assert.equal(c.runningMs(counter, samples[600][0]), expected);
    assert.equal(counter.cycles, 6);
  });

  it("never runs time backwards: an older reading counts at the last edge", function () {
    let { counter } = feed([[T0, false], [T0 + 2 * H, true]]);
    counter = c.advanceRun(counter, T0 + H, false).counter; // older than the start
    assert.equal(counter.from, T0 + 2 * H);
    assert.equal(c.runningMs(counter, T0 + 5 * H), 0);
  });

  it("settling moves time into the base without changing any total", function () {
    const { counter } = feed([[T0, false], [T0 + H, true]]);
    const settled = c.settleRun(counter, T0 + 3 * H);
    assert.equal(settled.base, 2 * H);
    assert.equal(c.runningMs(settled, T0 + 4 * H), c.runningMs(counter, T0 + 4 * H));
    assert.deepEqual(c.settleRun(settled, T0), settled, "a settle into the past changes nothing");
  });

  it("round-trips through state JSON and ignores what is not a counter", function () {
    const { counter } = feed([[T0, false], [T0 + H, true]]);
    assert.deepEqual(c.runFromJson(JSON.parse(JSON.stringify(c.runToJson(counter)))), counter);
    assert.equal(c.runFromJson({ on: "yes" }), null);
    assert.equal(c.runFromJson(null), null);
    const custom = new Map([["hot", { on: true, from: T0, value: 5 }]]);
    assert.deepEqual([...c.customFromJson(JSON.parse(JSON.stringify(c.customToJson(custom))))], [...custom]);
    assert.equal(c.customFromJson(JSON.parse('{"__proto__": [1, 2, 3], "bad": "x"}')).size, 0);
  });

  describe("custom counters", function () {
    const spec = (count, when = "power > 9") => ({ name: "x", count, when: compileComparison(when) });

    it("rises: rising edges of their own condition", function () {
      const s = spec("rises");
      let k;
      for (const [t, holds] of [[T0, true], [T0 + 1, false], [T0 + 2, true], [T0 + 3, true], [T0 + 4, false], [T0 + 5, true]]) {
        k = c.advanceCustom(s, k, t, holds, null).counter;
      }
      assert.equal(k.value, 2, "the first reading is no rise");
    });

    it("hours: time while their condition holds", function () {
      const s = spec("hours");
      let k;
      for (const [t, holds] of [[T0, false], [T0 + H, true], [T0 + 3 * H, false], [T0 + 4 * H, true]]) {
        k = c.advanceCustom(s, k, t, holds, null).counter;
      }
      assert.equal(c.shownValue(s, k, T0 + 4.5 * H), 2.5);
    });

    it("starts: starts of the running condition at which their condition holds", function () {
      const s = spec("starts");
      let k = c.advanceCustom(s, undefined, T0, false, null).counter;
      k = c.advanceCustom(s, k, T0 + 1, true, "start").counter; // a start under load
      k = c.advanceCustom(s, k, T0 + 2, true, null).counter; // load, no start
      k = c.advanceCustom(s, k, T0 + 3, false, "start").counter; // a start without load
      k = c.advanceCustom(s, k, T0 + 4, true, "start").counter;
      assert.equal(k.value, 2);
    });

    it("are configured as a JSON list, checked field by field", function () {
      const list = c.parseCounters('[{"name": "loadedStarts", "count": "starts", "when": "power > 9"}, {"name": "hot", "count": "hours", "when": "temperature > 70"}]', { running: true });
      assert.deepEqual(list.map((s) => [s.name, s.count, s.when.source]), [["loadedStarts", "starts", "power > 9"], ["hot", "hours", "temperature > 70"]]);
      assert.deepEqual(c.parseCounters("", { running: false }), []);
      const jsonata = c.parseCounters([{ name: "j", count: "rises", jsonata: "reported.a > 1" }], { running: false, jsonata: (e) => ({ properties: null, source: e, evaluate: () => true }) });
      assert.equal(jsonata[0].when.source, "reported.a > 1");
      const bad = (v, running = true) => assert.throws(() => c.parseCounters(v, { running }), (e) => e.code.startsWith("config.counter"), JSON.stringify(v));
      bad("{");
      bad("{}");
      bad([1]);
      bad([{ name: "__proto__", count: "rises", when: "a" }]);
      bad([{ name: "a", count: "rises", when: "a" }, { name: "a", count: "rises", when: "b" }]);
      bad([{ name: "a", count: "often", when: "a" }]);
      bad([{ name: "a", count: "starts", when: "a" }], false);
      bad([{ name: "a", count: "rises" }]);
      bad([{ name: "a", count: "rises", when: "a", extra: 1 }]);
      bad([{ name: "a", count: "rises", jsonata: "x" }]); // no JSONata compiler given
      bad(Array.from({ length: 21 }, (_, i) => ({ name: `c${i}`, count: "rises", when: "a" })));
    });
  });
});

describe("core/lifecycle: audit log", function () {
  function run(n, limit) {
    const state = new Map();
    let pointer = { ...EMPTY_LOG };
    for (let i = 0; i < n; i++) {
      const r = appendLog(pointer, (k) => state.get(k), [{ ts: i, type: "x" }], limit);
      pointer = r.pointer;
      for (const [k, v] of Object.entries(r.writes)) {
        if (v === null) state.delete(k);
        else state.set(k, v);
      }
    }
    return { state, pointer };
  }

  it("keeps the newest entries, at most the limit, dropping the oldest block of 100", function () {
    const { state, pointer } = run(1234, 1000);
    const log = readLog(pointer, (k) => state.get(k));
    assert.ok(log.length <= 1000 && log.length > 900, `${log.length} entries`);
    assert.equal(log[log.length - 1].ts, 1233);
    assert.equal(log[0].ts, 1234 - log.length);
    assert.equal(pointer.count, log.length);
    assert.ok(state.size <= 10, "blocks no longer used are deleted");
    assert.equal(state.has(blockKey(0)), false);
  });

  it("writes one block per entry (two when a block is dropped)", function () {
    const state = new Map();
    const r = appendLog({ ...EMPTY_LOG }, (k) => state.get(k), [{ ts: 1 }], 1000);
    assert.deepEqual(Object.keys(r.writes), ["lifecycle:log:0"]);
  });

  it("reads a time range", function () {
    const { state, pointer } = run(50, 1000);
    assert.deepEqual(readLog(pointer, (k) => state.get(k), 10, 12).map((e) => e.ts), [10, 11, 12]);
  });
});
