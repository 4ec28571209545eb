"use strict";
/**
 * A restored history stays in the form the snapshot held it until it is first read
 * (SeriesMap.restore). The first compaction after a restart writes a series still held as encoded
 * blocks as it was read, instead of decoding every one of them to encode it again: the history
 * points a later restart gives back must be the very ones, and the compaction must leave the
 * restored series undecoded (the memory a lazy restore saves is not spent by the next snapshot).
 */
const assert = require("assert");
const { NOW, useStoreDirs, freshDir, openRegistry, durable, histories } = require("./store-support");
const { arenaStats } = require("../../nodes/lib/core/history");

const TWINS = 6;

/** Twins with a long series whose ring has let old points go (45 readings, 20 kept), one of 10 and one of 3 (written out). */
async function stored(dir) {
  const { reg } = openRegistry(dir, { mode: "strict" }, { historyLength: 20 });
  for (let k = 0; k < TWINS; k++) reg.create(`pump-${k}`);
  for (let n = 0; n < 45; n++) {
    for (let k = 0; k < TWINS; k++) {
      const values = { flow: Math.round((10 + k + Math.sin(n / 3)) * 100) / 100 };
      if (n >= 35) values.temperature = 20 + n / 10 + k;
      if (n >= 42) values.level = n % 2 === 0 ? -0.5 : 1e-9 * n;
      reg.report(`pump-${k}`, values, { ts: NOW - 100000 + n * 1000 });
    }
  }
  assert.ifError(await durable(reg));
  await reg.compact();
  const expected = histories(reg);
  await reg.close();
  return expected;
}

describe("core/store: the first compaction after a restart and the restored histories", function () {
  this.timeout(20000);
  useStoreDirs("store-restored-history-compaction");

  it("restart, compaction, restart: every history point comes back as it was, a series read and added to in between included", async function () {
    const dir = freshDir("points");
    const expected = await stored(dir);
    const first = openRegistry(dir, { mode: "strict" }, { historyLength: 20 }).reg;
    // One series is read (decoded) and one added to before the compaction; the rest are not touched.
    first.history("pump-1", "flow");
    first.report("pump-2", { flow: 99.5 }, { ts: NOW });
    assert.ifError(await durable(first));
    await first.compact();
    await first.close();
    const second = openRegistry(dir, { mode: "strict" }, { historyLength: 20 }).reg;
    const after = histories(second);
    const added = expected["pump-2/flow"].slice(1).concat([{ ts: NOW, value: 99.5 }]);
    assert.deepStrictEqual(after, { ...expected, "pump-2/flow": added });
    assert.strictEqual(after["pump-0/flow"].length, 20);
  });

  it("a restart with a shorter history length keeps the newest points through the compaction, and only those come back when it grows again", async function () {
    const dir = freshDir("shorter");
    const expected = await stored(dir);
    const short = openRegistry(dir, { mode: "strict" }, { historyLength: 5 }).reg;
    await short.compact();
    await short.close();
    const back = openRegistry(dir, { mode: "strict" }, { historyLength: 20 }).reg;
    const newest = {};
    for (const [key, points] of Object.entries(expected)) newest[key] = points.slice(-5);
    assert.deepStrictEqual(histories(back), newest);
  });

  it("leaves the restored series undecoded: the compaction takes no history blocks", async function () {
    const dir = freshDir("undecoded");
    await stored(dir);
    const reg = openRegistry(dir, { mode: "strict" }, { historyLength: 20 }).reg;
    const before = arenaStats().blocksInUse;
    await reg.compact();
    // Decoding them would take a block or more for each of the 2 x TWINS series of 10 points or more.
    assert.ok(arenaStats().blocksInUse - before < TWINS, `${arenaStats().blocksInUse - before} blocks taken`);
    await reg.close();
  });
});
