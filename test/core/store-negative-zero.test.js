"use strict";
/**
 * JSON has no -0 (JSON.stringify writes it as "0"), so a twin that kept a -0 in memory read
 * differently after a restart. A twin stores -0 as 0 wherever it enters, and the document and
 * every history point are the same before and after a restart, from the journal or from a
 * snapshot (short series written out, long ones as encoded blocks, which keep -0 bit-exact).
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { NOW, useStoreDirs, freshDir, openRegistry, durable, histories, snapshotText, snapshotName } = require("./store-support");
const { Series } = require("../../nodes/lib/core/history");

const isPositiveZero = (v) => Object.is(v, 0);

describe("core/store: a reading of -0 across a restart", function () {
  this.timeout(20000);
  useStoreDirs("store-negative-zero");

  async function stored(dir) {
    const { reg } = openRegistry(dir, { mode: "strict" });
    reg.create("pump-1", { attributes: { offset: -0, calibration: { zero: -0 } } });
    // A long series (encoded blocks in a snapshot) and a short one (written out) both end in -0.
    for (let k = 0; k < 12; k++) reg.report("pump-1", { flow: k % 3 === 2 ? -0 : k / 10 }, { ts: NOW - 20000 + k * 1000 });
    reg.report("pump-1", { level: -0, vector: [-0, 1], tilt: { x: -0 } }, { ts: NOW - 5000 });
    reg.setDesired("pump-1", { setpoint: -0 });
    reg.setState("pump-1", "mirror", { bias: -0 });
    assert.ifError(await durable(reg));
    return reg;
  }

  it("stores -0 as 0 in every section and history, so the journal restores the same twin", async function () {
    const dir = freshDir("journal");
    const reg = await stored(dir);
    const doc = reg.get("pump-1");
    for (const v of [doc.attributes.offset, doc.attributes.calibration.zero, doc.reported.flow, doc.reported.level, doc.reported.vector[0], doc.reported.tilt.x, doc.desired.setpoint, reg.getState("pump-1", "mirror").bias]) {
      assert.ok(isPositiveZero(v), "a -0 written is read as 0");
    }
    assert.ok(reg.history("pump-1", "flow").filter((p) => p.value === 0).every((p) => isPositiveZero(p.value)));
    const before = { doc: reg.get("pump-1"), histories: histories(reg), state: reg.getState("pump-1", "mirror") };
    await reg.close();
    const back = openRegistry(dir, { mode: "strict" }).reg;
    assert.deepStrictEqual({ doc: back.get("pump-1"), histories: histories(back), state: back.getState("pump-1", "mirror") }, before);
  });

  it("restores the same document and history points from a snapshot, the long series' blocks included", async function () {
    const dir = freshDir("snapshot");
    const reg = await stored(dir);
    // In memory as the live twin holds them: the comparison must see a -0 where one is kept.
    const before = { doc: reg.get("pump-1"), histories: histories(reg) };
    await reg.compact();
    await reg.close();
    const back = openRegistry(dir, { mode: "strict" }).reg;
    assert.deepStrictEqual(back.get("pump-1"), before.doc);
    assert.deepStrictEqual(histories(back), before.histories);
    assert.strictEqual(back.history("pump-1", "flow").length, 12);
  });

  it("reads a -0 in a snapshot's history written before -0 was stored as 0 (encoded blocks, or written out by hand) as 0", async function () {
    const dir = freshDir("old-snapshot");
    // The blocks as an older version encoded them, -0 kept bit-exact: pushed straight into a Series.
    const old = new Series(20);
    const flow = [];
    for (let k = 0; k < 12; k++) {
      const point = { ts: NOW - 20000 + k * 1000, value: k % 3 === 2 ? -0 : k / 10 };
      old.push(point.ts, point.value);
      flow.push({ ts: point.ts, value: point.value + 0 });
    }
    assert.ok(Object.is(Series.decode(20, old.encode()).range()[2].value, -0), "the block holds -0");
    // Raw text: JSON.stringify would write -0 as 0. 8 points or more written out are read at once.
    const level = [];
    for (let k = 0; k < 8; k++) level.push(NOW - 8000 + k * 1000, k % 2 ? "-0" : String(k));
    const line = `{"i":"pump-1","m":null,"c":${NOW},"u":${NOW},"v":20,"l":20,"on":false,"ls":null,"a":{},` +
      `"r":{"flow":[1.1,${NOW - 9000}],"level":[0,${NOW - 1000}]},"hb":{"flow":${JSON.stringify(old.encode())}},"h":{"level":[${level.join(",")}]}}`;
    fs.writeFileSync(path.join(dir, snapshotName(20)), snapshotText(20, [line]));

    const { reg, warnings } = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(warnings, []);
    const restored = histories(reg);
    for (const points of Object.values(restored)) for (const p of points) assert.ok(!Object.is(p.value, -0), "no -0 comes back");
    assert.deepStrictEqual(restored["pump-1/flow"], flow);
    assert.deepStrictEqual(restored["pump-1/level"].map((p) => p.value), [0, 0, 2, 0, 4, 0, 6, 0]);
    // New points go on from the restored ones, and a restart from the next snapshot reads the same.
    reg.report("pump-1", { flow: 2 }, { ts: NOW });
    const before = histories(reg);
    await reg.compact();
    await reg.close();
    assert.deepStrictEqual(histories(openRegistry(dir, { mode: "strict" }).reg), before);
  });
});
