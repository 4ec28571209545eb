"use strict";
const assert = require("node:assert/strict");
const { Watch, WatchFilter, splitList } = require("../../nodes/lib/core/watch");
const { globMatch } = require("../../nodes/lib/core/glob");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");

const plain = (value) => JSON.parse(JSON.stringify(value));

/** A change event as the registry sends it. */
function ev(twinId, section, changes = {}, extra = {}) {
  const c = Object.create(null);
  for (const [name, [value, previous, ts]] of Object.entries(changes)) c[name] = { value, previous, ts: ts ?? 0 };
  return { twinId, version: extra.version ?? 1, section, ts: extra.ts ?? 0, changes: c, ...(extra.op ? { op: extra.op } : {}) };
}

/** A Watch whose output is collected, over a fixed id -> model table. */
function watcher(config, models = {}) {
  const out = [];
  const watch = new Watch(new WatchFilter(config), {
    modelOf: (id) => (Object.prototype.hasOwnProperty.call(models, id) ? models[id] : undefined),
    emit: (e) => out.push(e),
  });
  return { watch, out };
}

function invalid(config, option) {
  assert.throws(() => new WatchFilter(config), (err) => err.code === "invalid-option" && err.params.option === option, JSON.stringify(config));
}

describe("watch: globs", function () {
  it("matches * as any run and ? as one character", function () {
    assert.ok(globMatch("pump-*", "pump-07"));
    assert.ok(globMatch("pump-*", "pump-"));
    assert.ok(!globMatch("pump-*", "pum-07"));
    assert.ok(globMatch("*-07", "pump-07"));
    assert.ok(globMatch("p*p-*7", "pump-07"));
    assert.ok(globMatch("boiler-?", "boiler-1"));
    assert.ok(!globMatch("boiler-?", "boiler-12"));
    assert.ok(!globMatch("boiler-?", "boiler-"));
    assert.ok(globMatch("*", ""));
    assert.ok(globMatch("a**b", "ab"));
    assert.ok(globMatch("exact", "exact"));
    assert.ok(!globMatch("exact", "exactly"));
    assert.ok(globMatch("a.b", "a.b"), "a dot is a dot, not any character");
    assert.ok(!globMatch("a.b", "axb"));
  });

  it("stays fast on patterns that make a regular expression backtrack", function () {
    const pattern = "*a".repeat(60) + "b";
    const text = "a".repeat(128);
    const start = process.hrtime.bigint();
    assert.ok(!globMatch(pattern, text));
    assert.ok(Number(process.hrtime.bigint() - start) < 50e6, "well under 50 ms");
  });

  it("splits comma-separated settings and arrays, dropping blanks", function () {
    assert.deepEqual(splitList(" pump-* , ,boiler-1,", "twinIds"), ["pump-*", "boiler-1"]);
    assert.deepEqual(splitList(["reported", " delta "], "sections"), ["reported", "delta"]);
    assert.deepEqual(splitList(undefined, "x"), []);
    assert.deepEqual(splitList("", "x"), []);
  });
});

describe("watch: filter settings", function () {
  it("refuses a bad glob, an unknown section, a bad property name and a bad throttle, naming the setting", function () {
    invalid({ twinIds: "plant1/*" }, "twinIds");
    invalid({ twinIds: "pump-*, bad id" }, "twinIds");
    invalid({ twinIds: "x".repeat(129) }, "twinIds");
    invalid({ sections: "reported, sensors" }, "sections");
    invalid({ sections: ["reported", 3] }, "sections");
    invalid({ properties: "temperature, 9lives" }, "properties");
    invalid({ properties: "__proto__" }, "properties");
    invalid({ throttleMs: -1 }, "throttle");
    invalid({ throttleMs: "soon" }, "throttle");
    invalid({ throttleMs: Infinity }, "throttle");
    invalid({ throttleMs: 2 * 86400000 }, "throttle");
    invalid({ models: "m".repeat(201) }, "models");
  });

  it("takes empty settings as everything, and the throttle as whole milliseconds", function () {
    const f = new WatchFilter({ twinIds: "", models: " ", sections: "", properties: "", throttleMs: "" });
    assert.equal(f.ids, null);
    assert.equal(f.models, null);
    assert.equal(f.sections, null);
    assert.equal(f.properties, null);
    assert.equal(f.throttleMs, 0);
    assert.equal(new WatchFilter({ throttleMs: "250" }).throttleMs, 250);
    assert.equal(new WatchFilter({ twinIds: "a, *" }).ids, null, "a bare * takes every twin");
    assert.equal(new WatchFilter({ sections: "twin,attributes,reported,desired,delta,connectivity,lifecycle,predictions" }).sections, null);
  });
});

describe("watch: filtering", function () {
  it("passes events by twin id glob, several patterns", function () {
    const { watch, out } = watcher({ twinIds: "pump-*, boiler-?" });
    for (const id of ["pump-07", "pump-", "boiler-1", "boiler-12", "pumps", "tank-1"]) watch.handle(ev(id, "reported", { t: [1, 0] }), 0);
    assert.deepEqual(out.map((e) => e.twinId), ["pump-07", "pump-", "boiler-1"]);
  });

  it("passes events by model, and twins with no model never match a model filter", function () {
    const { watch, out } = watcher({ models: "pump, dtmi:acme:Tank;*" }, { p1: "pump", t1: "dtmi:acme:Tank;2", f1: "fan", n1: null });
    for (const id of ["p1", "t1", "f1", "n1", "gone"]) watch.handle(ev(id, "reported", { t: [1, 0] }), 0);
    assert.deepEqual(out.map((e) => e.twinId), ["p1", "t1"]);
  });

  it("still matches a deletion by model once the twin is gone, if the twin was known before", function () {
    const models = { p1: "pump", p2: "pump", f1: "fan" };
    const { watch, out } = watcher({ models: "pump" }, models);
    watch.prime(Object.keys(models));
    delete models.p1;
    delete models.f1;
    watch.handle(ev("p1", "twin", {}, { op: "deleted" }), 0);
    watch.handle(ev("f1", "twin", {}, { op: "deleted" }), 0);
    // Created after priming: noted on its first event.
    models.p3 = "pump";
    watch.handle(ev("p3", "twin", {}, { op: "created" }), 0);
    delete models.p3;
    watch.handle(ev("p3", "twin", {}, { op: "deleted" }), 0);
    // The same id again, now of another model.
    models.p3 = "fan";
    watch.handle(ev("p3", "twin", {}, { op: "created" }), 0);
    assert.deepEqual(out.map((e) => `${e.twinId}:${e.op}`), ["p1:deleted", "p3:created", "p3:deleted"]);
  });

  it("passes only the chosen sections", function () {
    const { watch, out } = watcher({ sections: "reported, connectivity" });
    for (const s of ["twin", "attributes", "reported", "desired", "delta", "connectivity", "lifecycle", "predictions"]) watch.handle(ev("a", s), 0);
    assert.deepEqual(out.map((e) => e.section), ["reported", "connectivity"]);
  });

  it("passes property-keyed events that touch a chosen property, narrowed to them, without changing the shared event", function () {
    const { watch, out } = watcher({ properties: "temperature, humidity" });
    const both = ev("a", "reported", { temperature: [21, 20], rpm: [5, 4] });
    const only = ev("a", "reported", { temperature: [22, 21], humidity: [40, 41] });
    const none = ev("a", "desired", { rpm: [5, 4] });
    const online = ev("a", "connectivity", { online: [true, false] });
    const created = ev("a", "twin", {}, { op: "created" });
    for (const e of [both, only, none, online, created]) watch.handle(e, 0);
    assert.equal(out.length, 4);
    assert.deepEqual(plain(out[0].changes), { temperature: { value: 21, previous: 20, ts: 0 } });
    assert.notEqual(out[0], both, "a narrowed event is a copy");
    assert.equal(out[0].changes.temperature, both.changes.temperature, "a shallow one");
    assert.deepEqual(Object.keys(both.changes), ["temperature", "rpm"], "the registry's event is untouched");
    assert.equal(out[1], only, "an event that needs no cut is sent as it is");
    assert.equal(out[2], online, "connectivity is about the whole twin: not filtered by property");
    assert.equal(out[3], created);
  });

  it("tells which twins the state on start is for, by id and model only", function () {
    const { watch } = watcher({ twinIds: "p*", models: "pump", sections: "delta", properties: "x" }, { p1: "pump", p2: "fan", q1: "pump" });
    assert.deepEqual(["p1", "p2", "q1"].filter((id) => watch.matchesTwin(id)), ["p1"]);
  });
});

describe("watch: throttle", function () {
  it("sends the first event at once and the merged rest when the window ends: oldest previous, newest value", function () {
    const { watch, out } = watcher({ throttleMs: 1000 });
    watch.handle(ev("a", "reported", { t: [20, 19, 1] }, { version: 2, ts: 1 }), 0);
    assert.equal(out.length, 1);
    assert.equal(watch.nextDue(), 1000);
    const second = ev("a", "reported", { t: [21, 20, 2], h: [50, null, 2] }, { version: 3, ts: 2 });
    watch.handle(second, 100);
    watch.handle(ev("a", "reported", { t: [22, 21, 3] }, { version: 4, ts: 3 }), 200);
    assert.equal(out.length, 1, "held back inside the window");
    assert.equal(watch.pending, 1);
    watch.due(999);
    assert.equal(out.length, 1, "not before the window ends");
    watch.due(1000);
    assert.equal(out.length, 2);
    assert.deepEqual(plain(out[1]), {
      twinId: "a", version: 4, section: "reported", ts: 3,
      changes: { t: { value: 22, previous: 20, ts: 3 }, h: { value: 50, previous: null, ts: 2 } },
    });
    assert.deepEqual(plain(second.changes), { t: { value: 21, previous: 20, ts: 2 }, h: { value: 50, previous: null, ts: 2 } }, "merging never changes a received event");
    // The send at 1000 opened a new window.
    assert.equal(watch.nextDue(), 2000);
    watch.handle(ev("a", "reported", { t: [23, 22, 4] }), 1500);
    assert.equal(out.length, 2);
    watch.due(2000);
    assert.equal(out.length, 3);
    watch.due(3000);
    assert.equal(watch.nextDue(), null, "an empty window closes");
    watch.handle(ev("a", "reported", { t: [24, 23, 5] }), 5000);
    assert.equal(out.length, 4, "after a quiet window the next event goes at once");
  });

  it("keeps one window per twin and section", function () {
    const { watch, out } = watcher({ throttleMs: 100 });
    watch.handle(ev("a", "reported", { t: [1, 0] }), 0);
    watch.handle(ev("a", "delta", { t: [null, 2] }), 0);
    watch.handle(ev("b", "reported", { t: [1, 0] }), 10);
    watch.handle(ev("a", "reported", { t: [2, 1] }), 20);
    watch.handle(ev("b", "reported", { t: [2, 1] }), 30);
    assert.deepEqual(out.map((e) => `${e.twinId}/${e.section}`), ["a/reported", "a/delta", "b/reported"]);
    assert.equal(watch.nextDue(), 100);
    watch.due(100);
    assert.deepEqual(out.slice(3).map((e) => `${e.twinId}/${e.section}`), ["a/reported"]);
    assert.equal(watch.nextDue(), 110, "windows end in the order they opened");
    watch.due(110);
    assert.deepEqual(out.slice(4).map((e) => `${e.twinId}/${e.section}`), ["b/reported"]);
  });

  it("a value that changed and came back inside the window shows value equal to previous", function () {
    const { watch, out } = watcher({ throttleMs: 100 });
    watch.handle(ev("a", "connectivity", { online: [true, false] }), 0);
    watch.handle(ev("a", "connectivity", { online: [false, true] }), 10);
    watch.handle(ev("a", "connectivity", { online: [true, false] }), 20);
    watch.due(100);
    assert.deepEqual(plain(out[1].changes.online), { value: true, previous: true, ts: 0 });
  });

  it("never holds back creation and deletion; a deletion first sends what was held for that twin", function () {
    const { watch, out } = watcher({ throttleMs: 1000 });
    watch.handle(ev("a", "twin", {}, { op: "created" }), 0);
    watch.handle(ev("a", "reported", { t: [1, null] }), 0);
    watch.handle(ev("a", "reported", { t: [2, 1] }), 10);
    watch.handle(ev("b", "reported", { t: [1, null] }), 10);
    watch.handle(ev("b", "reported", { t: [2, 1] }), 20);
    watch.handle(ev("a", "twin", {}, { op: "deleted" }), 20);
    assert.deepEqual(out.map((e) => `${e.twinId}/${e.section}${e.op ? ":" + e.op : ""}`), ["a/twin:created", "a/reported", "b/reported", "a/reported", "a/twin:deleted"]);
    watch.due(1000);
    assert.equal(out.length, 5, "a's windows are gone");
    watch.due(1010);
    assert.deepEqual(plain(out[5].changes), { t: { value: 2, previous: 1, ts: 0 } });
  });

  it("merges after narrowing, and clear drops everything held", function () {
    const { watch, out } = watcher({ throttleMs: 100, properties: "t" });
    watch.handle(ev("a", "reported", { t: [1, 0], x: [1, 0] }), 0);
    watch.handle(ev("a", "reported", { t: [2, 1], x: [2, 1] }), 10);
    watch.handle(ev("a", "reported", { x: [3, 2] }), 20);
    watch.due(100);
    assert.deepEqual(plain(out.map((e) => e.changes)), [{ t: { value: 1, previous: 0, ts: 0 } }, { t: { value: 2, previous: 1, ts: 0 } }]);
    watch.handle(ev("a", "reported", { t: [3, 2] }), 150);
    assert.equal(watch.pending, 1);
    watch.clear();
    assert.equal(watch.pending, 0);
    assert.equal(watch.nextDue(), null);
  });

  it("works on a real registry's events with an injected clock", function () {
    let now = 1000;
    const registry = new TwinRegistry({ clock: () => now, models: parseModels(JSON.stringify({ sensor: { properties: { t: { type: "number" }, h: { type: "number" } } } })) });
    registry.open();
    const out = [];
    const watch = new Watch(new WatchFilter({ models: "sensor", sections: "reported", properties: "t", throttleMs: 500 }), {
      modelOf: (id) => registry.twin(id)?.model,
      emit: (e) => out.push(e),
    });
    watch.prime(registry.ids());
    registry.subscribe((e) => watch.handle(e, now));
    registry.create("s1", { model: "sensor", reported: { t: 20, h: 40 } });
    registry.create("free", { reported: { t: 1 } });
    now += 100;
    registry.report("s1", { t: 21, h: 41 });
    now += 100;
    registry.report("s1", { h: 42 });
    now += 100;
    registry.report("s1", { t: 22 });
    watch.due(now);
    assert.equal(out.length, 1);
    now = 1500;
    watch.due(now);
    assert.deepEqual(plain(out), [
      { twinId: "s1", version: 1, section: "reported", ts: 1000, changes: { t: { value: 20, previous: null, ts: 1000 } } },
      { twinId: "s1", version: 4, section: "reported", ts: 1300, changes: { t: { value: 22, previous: 20, ts: 1300 } } },
    ]);
    return registry.close();
  });
});
