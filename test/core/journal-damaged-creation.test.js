"use strict";
/**
 * A creation entry read back from disk is applied whole or not at all: no twin may be left
 * behind half-built (version 0, part of its values) for later entries to build on.
 */
const assert = require("assert");
const { T0, manualClock, plain } = require("./core-support");
const { restoreEntries } = require("./journal-store");

const restore = restoreEntries;

describe("core/journal: a creation entry from disk is applied whole or not at all", function () {
  it("an older-form `r: null` beside compact readings restores the twin the entry describes, at its version", function () {
    // Entries in the older form were applied with `r: null` (nothing reported); the compact form must not change that.
    const { reg, warnings } = restore([
      { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null, a: { site: "a" }, r: null, rv: { temperature: 20 } },
      { l: 2, o: "u", i: "pump-1", v: 2, t: T0 + 10, rv: { rpm: 900 } },
    ]);
    assert.deepStrictEqual(warnings, []);
    const doc = plain(reg.get("pump-1"));
    assert.deepStrictEqual([doc.version, doc.attributes, doc.reported], [2, { site: "a" }, { temperature: 20, rpm: 900 }]);
    assert.strictEqual(doc.connectivity.online, true);
  });

  it("a value nested too deep to copy is passed over and named, and the rest of the creation applies", function () {
    // Nesting that parses but that no write admits: its copy recursed until the stack ran out,
    // and the creation was lost with every later entry of its twin.
    let deep = 1;
    for (let k = 0; k < 200000; k++) deep = [deep];
    const { reg, warnings } = restore([
      { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null, a: { site: "a" }, rv: { temperature: 20, trace: deep } },
      { l: 2, o: "u", i: "pump-1", v: 2, t: T0 + 10, rv: { rpm: 900 } },
    ]);
    assert.deepStrictEqual(warnings, ['1 name(s) or value(s) on disk that a write would have refused were skipped: pump-1 reported "trace" (nested deeper than 256 levels)']);
    const doc = plain(reg.get("pump-1"));
    assert.deepStrictEqual([doc.version, doc.attributes, doc.reported], [2, { site: "a" }, { temperature: 20, rpm: 900 }]);
  });
});

describe("core/journal: an older-form entry from disk with a damaged tuple", function () {
  // As a reading that is not a [value, ts] pair at all (registry-recovery.test.js): the damaged
  // reading is passed over and the rest of the entry applies, never half of it.
  const cases = [
    ["an empty tuple", [], { temperature: 20 }, { temperature: { ts: T0 } }],
    ["a source time that is text", [21, "soon"], { temperature: 20 }, { temperature: { ts: T0 } }],
    ["a source that is a number", [21, T0 + 5, 7], { temperature: 21 }, { temperature: { ts: T0 + 5 } }],
  ];
  for (const [what, tuple, reported, meta] of cases) {
    it(`passes over that reading (${what}) and applies the rest of the entry: its attributes and version`, function () {
      const { reg, warnings } = restore([
        { l: 1, o: "c", i: "pump-1", v: 1, t: T0, m: null, a: { site: "a" }, rv: { temperature: 20 } },
        { l: 2, o: "u", i: "pump-1", v: 2, t: T0 + 10, ap: { site: "b" }, r: { temperature: tuple, rpm: [900, T0 + 10] } },
      ]);
      assert.deepStrictEqual(warnings, []);
      const doc = plain(reg.get("pump-1"));
      assert.deepStrictEqual([doc.version, doc.attributes, doc.reported, doc.meta.reported], [2, { site: "b" }, { ...reported, rpm: 900 }, { ...meta, rpm: { ts: T0 + 10 } }]);
    });
  }
});
