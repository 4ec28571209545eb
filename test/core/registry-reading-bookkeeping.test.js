"use strict";
/**
 * What a reading keeps besides its values, which the registry works out in the same pass as it
 * checks them: the document's size (its limit), each property's history, the previous value in
 * the change event, and the same twin again after a restart from the journal.
 */
const assert = require("assert");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { T0, manualClock, plain, throwsTwin } = require("./core-support");
const { JournalStore } = require("./journal-store");

const METER = parseModels({
  "@context": "https://www.w3.org/2022/wot/td/v1.1",
  title: "Meter",
  properties: { "7:Temperature": { type: "number" }, level: { type: "number" } },
});

describe("core/registry: what a reading keeps besides its values", function () {
  let opened;
  beforeEach(function () {
    opened = [];
  });
  afterEach(async function () {
    for (const r of opened) await r.close();
  });

  function open(options = {}) {
    const reg = new TwinRegistry({ clock: manualClock(), historyLength: 10, ...options });
    reg.open();
    opened.push(reg);
    return reg;
  }

  /** The twin as a user reads it back: document and the history of each reported property. */
  function state(reg, id) {
    const doc = plain(reg.get(id));
    return { doc, history: Object.keys(doc.reported).map((name) => [name, reg.history(id, name)]) };
  }

  it("a value that shrinks frees room under the document limit, and one that grows takes it", function () {
    const reg = open({ maxDocumentBytes: 2000 });
    reg.report("t", { a: "y".repeat(1200) }, { create: {} });
    throwsTwin(() => reg.report("t", { b: "z".repeat(900) }), "too-large", { twinId: "t", limit: 2000 });
    reg.report("t", { a: 1 }); // a string of 1,200 becomes a number
    reg.report("t", { b: "z".repeat(900) });
    throwsTwin(() => reg.report("t", { a: "y".repeat(1100) }), "too-large", { twinId: "t", limit: 2000 });
    reg.report("t", { b: true, c: 2.5 });
    reg.report("t", { a: "y".repeat(1100) });
    assert.deepStrictEqual(plain(reg.get("t").reported), { a: "y".repeat(1100), b: true, c: 2.5 });
  });

  it("a restarted registry measures the document as the live one did", function () {
    const store = new JournalStore();
    const reg = open({ maxDocumentBytes: 2000, store });
    reg.report("t", { a: "y".repeat(1200), n: 1 }, { create: {} });
    reg.report("t", { a: "short", n: 2 });
    reg.report("t", { b: "z".repeat(900), n: 3 }, { source: "plant/t" });
    const again = open({ maxDocumentBytes: 2000, store: new JournalStore(store.entries) });
    for (const r of [reg, again]) {
      throwsTwin(() => r.report("t", { c: "x".repeat(1000) }), "too-large", { twinId: "t", limit: 2000 });
      r.report("t", { c: "x".repeat(700) });
    }
    assert.deepStrictEqual(state(again, "t"), state(reg, "t"));
  });

  it("a property's history goes on in one series when its readings come with a source, then without, then with", function () {
    const store = new JournalStore();
    const reg = open({ store });
    reg.report("t", { level: 1 }, { create: {}, ts: T0 - 3000, source: "plant/a" });
    reg.report("t", { level: 2 }, { ts: T0 - 2000 });
    reg.report("t", { level: 3 }, { ts: T0 - 1000, source: "plant/b" });
    const points = [{ ts: T0 - 3000, value: 1 }, { ts: T0 - 2000, value: 2 }, { ts: T0 - 1000, value: 3 }];
    assert.deepStrictEqual(plain(reg.history("t", "level")), points);
    assert.deepStrictEqual(plain(reg.get("t").meta.reported.level), { ts: T0 - 1000, source: "plant/b" });
    const again = open({ store: new JournalStore(store.entries) });
    assert.deepStrictEqual(state(again, "t"), state(reg, "t"));
  });

  it("a reading that names one property twice, as the model's vendor spells it and as the twin does, keeps the last value", function () {
    const store = new JournalStore();
    const reg = open({ models: METER, store });
    reg.report("m1", { _7_Temperature: 20, level: 1 }, { create: { model: "Meter" } });
    const events = [];
    reg.subscribe((e) => e.section === "reported" && events.push(plain(e.changes)));
    reg.report("m1", { _7_Temperature: 21, "7:Temperature": 21.5, level: 2 });
    reg.report("m1", { level: 3 });
    assert.deepStrictEqual(events, [
      { _7_Temperature: { value: 21.5, previous: 20, ts: T0 }, level: { value: 2, previous: 1, ts: T0 } },
      { level: { value: 3, previous: 2, ts: T0 } },
    ]);
    assert.deepStrictEqual(plain(reg.get("m1").reported), { _7_Temperature: 21.5, level: 3 });
    assert.deepStrictEqual(plain(reg.history("m1", "level")).map((p) => p.value), [1, 2, 3]);
    const again = open({ models: METER, store: new JournalStore(store.entries) });
    assert.deepStrictEqual(state(again, "m1"), state(reg, "m1"));
  });
});
