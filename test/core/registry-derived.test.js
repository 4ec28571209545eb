"use strict";
// Predictions, lifecycle records and private per-twin state: what prediction and lifecycle
// tracking rely on the registry for.
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { FileStore } = require("../../nodes/lib/core/store/file-store");

const plain = (v) => JSON.parse(JSON.stringify(v));

describe("core/registry: predictions, lifecycle and private state", function () {
  let dir;
  let registries = [];
  const open = () => {
    const reg = new TwinRegistry({ store: new FileStore({ dir, mode: "strict" }) });
    reg.open();
    registries.push(reg);
    return reg;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "twin-derived-"));
  });
  afterEach(async () => {
    for (const r of registries) await r.close().catch(() => undefined);
    registries = [];
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes a prediction without a version step and emits a predictions event", function () {
    const reg = open();
    reg.create("p1");
    const events = [];
    reg.subscribe((e) => events.push(e));
    const ev = reg.setPrediction("p1", "temperature", { method: "holt", forecast: 63 }, { "predict:temperature": { level: 61 } });
    assert.equal(ev.section, "predictions");
    assert.deepEqual(plain(ev.changes.temperature.value), { method: "holt", forecast: 63 });
    assert.equal(reg.get("p1").version, 1);
    assert.deepEqual(plain(reg.get("p1").predictions), { temperature: { method: "holt", forecast: 63 } });
    assert.deepEqual(plain(reg.getState("p1", "predict:temperature")), { level: 61 });
    assert.equal(events.length, 1);
  });

  it("writes a lifecycle record as a version step with per-key changes", function () {
    const reg = open();
    reg.create("p1");
    const ev = reg.setLifecycle("p1", { stage: "operating", since: 1000 }, {}, { lifecycle: { log: [1] } });
    assert.equal(ev.section, "lifecycle");
    assert.equal(ev.version, 2);
    assert.deepEqual(plain(ev.changes.stage), { value: "operating", previous: null, ts: ev.ts });
    assert.throws(() => reg.setLifecycle("p1", { stage: "x" }, { ifVersion: 1 }), (e) => e.code === "conflict");
    assert.equal(reg.list({ stage: "operating" }).total, 1);
  });

  it("restores predictions, lifecycle and state after a restart", async function () {
    let reg = open();
    reg.create("p1");
    reg.setPrediction("p1", "t", { forecast: 1 }, { "predict:t": { n: 5 } });
    reg.setLifecycle("p1", { stage: "maintenance" }, {}, { lifecycle: { orders: [] } });
    reg.setState("p1", "mirror", { attempts: 2 });
    await new Promise((r) => reg.whenDurable(r));
    const live = plain(reg.get("p1"));
    await reg.close();
    reg = open();
    assert.deepEqual(plain(reg.get("p1")), live);
    assert.deepEqual(plain(reg.getState("p1", "predict:t")), { n: 5 });
    assert.deepEqual(plain(reg.getState("p1", "mirror")), { attempts: 2 });
    assert.deepEqual(plain(reg.getState("p1", "lifecycle")), { orders: [] });
    await reg.compact();
    await reg.close();
    reg = open();
    assert.deepEqual(plain(reg.get("p1")), live);
    assert.deepEqual(plain(reg.getState("p1", "predict:t")), { n: 5 });
  });

  it("refuses bad state keys and predictions for bad property names", function () {
    const reg = open();
    reg.create("p1");
    assert.throws(() => reg.setState("p1", "__proto__", 1), (e) => e.code === "invalid-property");
    assert.throws(() => reg.setPrediction("p1", "constructor", { a: 1 }), (e) => e.code === "forbidden-key");
    assert.throws(() => reg.setPrediction("p1", "t", { a: NaN }), (e) => e.code === "invalid-value");
    assert.equal({}.polluted, undefined);
  });

  it("checks a whole derived write before any of it lands: one bad name leaves every prediction as it was", function () {
    const reg = open();
    reg.create("p1");
    reg.setDerived("p1", "predictions", { t: { forecast: 1 } });
    const bad = JSON.parse('{"t":{"forecast":2},"u":{"forecast":3},"constructor":{"forecast":4}}');
    assert.throws(() => reg.setDerived("p1", "predictions", bad), (e) => e.code === "forbidden-key");
    assert.deepEqual(plain(reg.get("p1").predictions), { t: { forecast: 1 } });
    const ev = reg.setDerived("p1", "predictions", { t: null, u: { forecast: 3 } });
    assert.deepEqual(Object.keys(ev.changes).sort(), ["t", "u"]);
    assert.deepEqual(plain(reg.get("p1").predictions), { u: { forecast: 3 } }, "null removed t");
  });

  it("refuses a section no feature declared, and a keyed write that does not name its keys", function () {
    const reg = open();
    reg.create("p1");
    assert.throws(() => reg.setDerived("p1", "reported", { t: 1 }), RangeError);
    assert.throws(() => reg.setDerived("p1", "__proto__", {}), RangeError);
    assert.throws(() => reg.setDerived("p1", "predictions", [1, 2]), TypeError);
    assert.equal(reg.get("p1").version, 1);
  });

  it("takes a twin offline when its device says so, and back online on its next sign of life", async function () {
    let reg = open();
    reg.create("d1");
    reg.report("d1", { t: 1 });
    const events = [];
    reg.subscribe((e) => events.push(e));
    reg.setOnline("d1", false);
    assert.equal(reg.get("d1").connectivity.online, false);
    reg.setOnline("d1", false);
    assert.equal(events.length, 1, "no second event for a twin already offline");
    assert.equal(events[0].section, "connectivity");
    await new Promise((r) => reg.whenDurable(r));
    await reg.close();
    reg = open();
    assert.equal(reg.get("d1").connectivity.online, false);
    reg.setOnline("d1", true);
    assert.equal(reg.get("d1").connectivity.online, true);
  });
});

