"use strict";
/**
 * Journal and snapshot lines typed by hand or written by another tool can carry names a write
 * refuses (`__proto__`, `constructor`, "bad name") at the top of a section or deep inside a value,
 * or nesting no write admits. A restart must pass over exactly those, restore the rest of the
 * twin, name each one with its twin, and never write them back; nothing may inherit from them.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { NOW, useStoreDirs, freshDir, openRegistry, docs, durable, lastJournal, journalEntries, snapshotFiles, snapshotText, snapshotName } = require("./store-support");

/** What a user's code downstream may do with a document's section: a copy by assignment. */
function inheritsPlainly(section) {
  return Object.getPrototypeOf(Object.assign({}, section)) === Object.prototype;
}

const WARNING = "name(s) or value(s) on disk that a write would have refused were skipped: ";

describe("core/store: names and values on disk that a write would refuse", function () {
  this.timeout(20000);
  useStoreDirs("store-refused-on-disk");

  afterEach(function () {
    delete Object.prototype.polluted;
  });

  it("journal lines: passes over exactly the refused names and values, names each with its twin, restores the rest and never writes them back", async function () {
    const dir = freshDir("journal");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("pump-1", { attributes: { site: "a" } });
    first.reg.report("pump-1", { temperature: 20 }, { ts: NOW });
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    assert.deepStrictEqual(journalEntries(dir).map((e) => e.l), [1, 2]);
    // Raw text: a JavaScript literal would turn "__proto__" into a prototype, not a key.
    const typed = [
      `{"l":3,"o":"u","i":"pump-1","v":3,"t":${NOW},"ap":{"__proto__":{"polluted":true},"constructor":"x","floor":3,"loc":{"geo":{"__proto__":{"polluted":true}}}}}`,
      `{"l":4,"o":"u","i":"pump-1","v":4,"t":${NOW},"rv":{"cfg":{"constructor":{"prototype":{"polluted":true}}},"rpm":900}}`,
      `{"l":5,"o":"c","i":"valve-1","v":1,"t":${NOW},"m":null,"a":{"__proto__":{"polluted":true},"bad name":1,"ok":1},"d":{"open":[{"__proto__":{}},${NOW}],"rate":[2,${NOW}]}}`,
    ];
    fs.appendFileSync(lastJournal(dir), typed.join("\n") + "\n");

    const { reg, warnings } = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(warnings, [
      `7 ${WARNING}pump-1 attributes "__proto__", pump-1 attributes "constructor", pump-1 attributes "loc" (the key "__proto__" in it), ` +
        `pump-1 reported "cfg" (the key "constructor" in it), valve-1 attributes "__proto__", valve-1 attributes "bad name", valve-1 desired "open" (the key "__proto__" in it)`,
    ]);
    const pump = reg.get("pump-1");
    assert.deepStrictEqual(JSON.parse(JSON.stringify([pump.attributes, pump.reported, pump.version])), [{ site: "a", floor: 3 }, { temperature: 20, rpm: 900 }, 4]);
    const valve = reg.get("valve-1");
    assert.deepStrictEqual(JSON.parse(JSON.stringify([valve.attributes, valve.desired])), [{ ok: 1 }, { rate: 2 }]);
    for (const section of [pump.attributes, pump.reported, valve.attributes, valve.desired]) assert.ok(inheritsPlainly(section), "a copy of the section has an ordinary prototype");
    assert.strictEqual({}.polluted, undefined);

    // The next snapshot holds the twins as restored: a restart from it has nothing to pass over.
    const expected = docs(reg);
    await reg.compact();
    await reg.close();
    const again = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(again.warnings, []);
    assert.deepStrictEqual(docs(again.reg), expected);
  });

  it("a name refused in many journal entries is named once, and the names after it are still shown", async function () {
    const dir = freshDir("repeated");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("pump-1");
    first.reg.create("pump-2");
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    // A tool that kept writing a property the naming rules refuse: every one of its readings carries it.
    const typed = [];
    for (let k = 0; k < 30; k++) typed.push(JSON.stringify({ l: 3 + k, o: "u", i: "pump-1", v: 2 + k, t: NOW + k, rv: { "flow-rate": k, flow: k } }));
    typed.push(JSON.stringify({ l: 33, o: "u", i: "pump-2", v: 2, t: NOW, rv: { "bad name": 1, level: 2 } }));
    fs.appendFileSync(lastJournal(dir), typed.join("\n") + "\n");

    const { reg, warnings } = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(warnings, [`2 ${WARNING}pump-1 reported "flow-rate", pump-2 reported "bad name"`]);
    assert.deepStrictEqual(JSON.parse(JSON.stringify([reg.get("pump-1").reported, reg.get("pump-2").reported])), [{ flow: 29 }, { level: 2 }]);
  });

  it("a journal entry whose whole derived section holds a refused value: that value is passed over, the rest of the entry applies", async function () {
    const dir = freshDir("derived");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("pump-1");
    first.reg.setLifecycle("pump-1", { stage: "install" }, {}, { lifecycle: { hours: 1 } });
    assert.ifError(await durable(first.reg));
    await first.reg.close();
    fs.appendFileSync(lastJournal(dir), [
      `{"l":3,"o":"lc","i":"pump-1","v":3,"t":${NOW},"lc":{"stage":"run","hours":{"__proto__":{"polluted":true}}},"s":{"lifecycle":{"hours":5}}}`,
      `{"l":4,"o":"u","i":"pump-1","v":4,"t":${NOW},"rv":{"temperature":21}}`,
    ].join("\n") + "\n");

    const { reg, warnings } = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(warnings, [`1 ${WARNING}pump-1 lifecycle (the key "__proto__" in it)`]);
    const pump = reg.get("pump-1");
    // The lifecycle as a refused write leaves it; the entry's version step and state apply.
    assert.deepStrictEqual(JSON.parse(JSON.stringify([pump.lifecycle, pump.reported, pump.version, reg.getState("pump-1", "lifecycle")])),
      [{ stage: "install" }, { temperature: 21 }, 4, { hours: 5 }]);
    assert.strictEqual({}.polluted, undefined);
  });

  it("a damaged newer snapshot's refused names and other lines are not named when the twins come from an older one", async function () {
    const dir = freshDir("fallback");
    const first = openRegistry(dir, { mode: "strict" });
    first.reg.create("pump-1", { attributes: { site: "a" } });
    first.reg.report("pump-1", { temperature: 20 }, { ts: NOW });
    await first.reg.compact();
    first.reg.report("pump-1", { temperature: 21 }, { ts: NOW + 1000 });
    await first.reg.compact();
    const expected = docs(first.reg);
    await first.reg.close();
    const [older, newer] = snapshotFiles(dir);
    // The newer one rewritten with a refused name and a line that is no twin, its trailer's count then wrong: damaged.
    const lsn = Number(newer.match(/\d+/)[0]);
    const lines = [
      `{"i":"pump-1","m":null,"c":${NOW},"u":${NOW},"v":3,"l":${lsn},"on":true,"ls":${NOW + 1000},"a":{"__proto__":{"polluted":true},"site":"b"},"r":{"temperature":[21,${NOW + 1000}]}}`,
      `{"x":1}`,
    ];
    fs.writeFileSync(path.join(dir, newer), snapshotText(lsn, lines).replace(`"count":2`, `"count":3`));

    const { reg, warnings } = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(warnings, [`snapshot ${newer} is damaged (2 twins where its trailer says 3)`, `restored from ${older} and the journals since it instead`]);
    assert.deepStrictEqual(docs(reg), expected);
    assert.strictEqual({}.polluted, undefined);
  });

  it("salvaging damaged snapshots names what the records restored held, not what an older record of the same twin held", function () {
    const dir = freshDir("salvage");
    const line = (l, attributes) => `{"i":"pump-1","m":null,"c":${NOW},"u":${NOW},"v":${l},"l":${l},"on":false,"ls":null,"a":${attributes},"r":{}}`;
    // Both damaged (a trailer's count one too high) and no journal from the start: each is salvaged, a twin's newest record wins.
    fs.writeFileSync(path.join(dir, snapshotName(2)), snapshotText(2, [line(2, `{"__proto__":{"polluted":true},"site":"a"}`)]).replace(`"count":1`, `"count":2`));
    fs.writeFileSync(path.join(dir, snapshotName(4)), snapshotText(4, [line(4, `{"site":"b","bad name":1}`), `{"x":1}`]).replace(`"count":2`, `"count":3`));

    const { reg, warnings } = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(warnings.slice(4), [
      "no snapshot is whole: twins were salvaged from 2 damaged snapshot(s) and the journals since the oldest of them",
      "1 snapshot line(s) that are not twins were skipped",
      `1 ${WARNING}pump-1 attributes "bad name"`,
    ]);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(reg.get("pump-1").attributes)), { site: "b" });
  });

  it("a snapshot another tool wrote (its checksum matches): the restart neither throws on nesting no write admits nor keeps a refused name", async function () {
    const dir = freshDir("snapshot");
    let deep = "1";
    for (let k = 0; k < 100000; k++) deep = "[" + deep;
    deep += "]".repeat(100000);
    const line =
      `{"i":"pump-1","m":null,"c":${NOW},"u":${NOW},"v":3,"l":3,"on":false,"ls":null,` +
      `"a":{"__proto__":{"polluted":true},"site":"b","trace":${deep}},` +
      `"r":{"temperature":[21,${NOW}],"prototype":[1,${NOW}]},` +
      `"lc":{"stage":"run","constructor":{"prototype":{"polluted":true}}},` +
      `"st":{"mirror":{"ok":true},"bad key!":1}}`;
    const other = `{"i":"pump-2","m":null,"c":${NOW},"u":${NOW},"v":1,"l":4,"on":false,"ls":null,"a":{"site":"c"},"r":{}}`;
    fs.writeFileSync(path.join(dir, snapshotName(4)), snapshotText(4, [line, other]));

    const { reg, warnings } = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(warnings, [
      `5 ${WARNING}pump-1 attributes "__proto__", pump-1 attributes "trace" (nested deeper than 256 levels), pump-1 reported "prototype", ` +
        `pump-1 lifecycle (the key "constructor" in it), pump-1 state "bad key!"`,
    ]);
    const doc = reg.get("pump-1");
    assert.deepStrictEqual(JSON.parse(JSON.stringify([doc.attributes, doc.reported, doc.lifecycle, doc.version])), [{ site: "b" }, { temperature: 21 }, null, 3]);
    assert.ok(inheritsPlainly(doc.attributes));
    assert.deepStrictEqual(JSON.parse(JSON.stringify(reg.getState("pump-1", "mirror"))), { ok: true });
    assert.strictEqual(reg.get("pump-2").attributes.site, "c");
    assert.strictEqual({}.polluted, undefined);
  });
});
