"use strict";
/**
 * An entry from disk gives the twin its version (`v`) and time (`t`) as they are: the store checks
 * only `l`, `o` and `i`. A change whose `v` or `t` is not a number is passed over as an entry that
 * cannot be applied, as one with a bad `rt` is: a version "7" became "71" after one reading and
 * never matched an ifVersion again, and an object `t` became the document's `updated`. A creation
 * still creates its twin (version 1, time 0, both named): skipped, it lost every later entry too.
 */
const assert = require("assert");
const { T0, manualClock, plain } = require("./core-support");
const { restoreEntries } = require("./journal-store");

const restore = restoreEntries;

describe("core/journal: an entry from disk whose version or time is not a number", function () {
  it("is skipped and counted; the twin keeps a numeric version and times, and later writes step it as a number", function () {
    const { reg, warnings } = restore([
      { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null, rv: { flow: 1 } },
      { l: 2, o: "c", i: "pump-2", v: 1, t: T0, m: null },
      { l: 3, o: "u", i: "pump-1", v: "7", t: T0 + 1, rv: { flow: 2 } },
      { l: 4, o: "u", i: "pump-2", v: 2, t: { deep: [1] }, rv: { flow: 3 } },
      { l: 5, o: "n", i: "pump-2", t: "soon", on: true },
      { l: 6, o: "lc", i: "pump-2", v: 2, t: [T0], lc: { stage: "run" } },
      { l: 7, o: "c", i: "pump-3", v: "1", t: { at: T0 }, m: null, rv: { flow: 5 }, rt: T0 },
      { l: 8, o: "u", i: "pump-3", v: 2, t: T0 + 2, rv: { flow: 6 } },
    ]);
    assert.deepStrictEqual(warnings, [
      "4 journal entries that could not be applied were skipped",
      '2 name(s) or value(s) on disk that a write would have refused were skipped: pump-3 version (not a number), pump-3 time (not a number)',
    ]);
    const one = plain(reg.get("pump-1"));
    const two = plain(reg.get("pump-2"));
    assert.deepStrictEqual([one.version, one.reported.flow, one.updated], [1, 1, T0]);
    assert.deepStrictEqual([two.version, two.updated, two.lifecycle, typeof two.connectivity.lastSeen], [1, T0, null, typeof null]);
    const three = plain(reg.get("pump-3"));
    assert.deepStrictEqual([three.version, three.created, three.updated, three.reported.flow, reg.history("pump-3", "flow").length], [2, 0, T0 + 2, 6, 2]);
    reg.report("pump-1", { flow: 4 }, { ifVersion: 1 });
    assert.strictEqual(reg.get("pump-1").version, 2);
  });

  it("a creation whose model is not a name restores the twin without a model, as a snapshot line does, and the restart does not throw", function () {
    // JSON.parse reads nesting this deep; naming it in the warning for models no longer defined ran out of stack.
    let deep = 1;
    for (let k = 0; k < 100000; k++) deep = [deep];
    const { reg, warnings } = restore([
      { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: deep, rv: { flow: 1 } },
      { l: 2, o: "c", i: "pump-2", v: 1, t: T0, m: { name: "pump" } },
    ]);
    assert.deepStrictEqual(warnings, []);
    assert.deepStrictEqual([reg.get("pump-1").model, reg.get("pump-1").reported.flow, reg.get("pump-2").model], [null, 1, null]);
  });
});
