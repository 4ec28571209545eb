"use strict";
/**
 * The document limit against attribute patches: what counts is the attributes after the merge
 * (a nested key deleted frees its room), measured the same way live and after a restart.
 */
const assert = require("assert");
const { useStoreDirs, freshDir, openRegistry, durable, throwsTwin } = require("./store-support");

describe("core/registry attribute patches and the document limit", function () {
  useStoreDirs("attr-size");
  const LIMIT = { maxDocumentBytes: 1000 };

  it("counts the attributes after the merge: a nested patch that deletes one key and adds another of the same size fits a full twin", async function () {
    const { reg } = openRegistry(freshDir(), {}, LIMIT);
    reg.create("t", { attributes: { loc: { a: "x".repeat(600), keep: 1 } } });
    const event = reg.changeAttributes("t", { loc: { a: null, b: "y".repeat(600) } });
    assert.deepStrictEqual(JSON.parse(JSON.stringify(event.changes.loc.value)), { keep: 1, b: "y".repeat(600) });
    // The room the deleted key freed is taken: one more such value does not fit.
    throwsTwin(() => reg.changeAttributes("t", { loc: { c: "z".repeat(600) } }), "too-large");
    assert.deepStrictEqual(Object.keys(reg.get("t").attributes.loc).sort(), ["b", "keep"]);
    await durable(reg);
  });

  it("refuses and accepts the same next patch after a restart as before it, whatever the patches merged", async function () {
    const dir = freshDir();
    const first = openRegistry(dir, {}, LIMIT).reg;
    first.create("t", { attributes: { site: "plant-1", loc: { a: "x".repeat(300), n: [1, 2] } } });
    first.changeAttributes("t", { loc: { a: null, b: "y".repeat(400) }, site: null, owner: "ops" });
    first.changeAttributes("t", { loc: { n: null, b: "w".repeat(350) }, tag: { k: true } });
    // Room left now, counted live: one patch just fits, one a byte more does not.
    const room = findRoom(first);
    await durable(first);
    await first.close();

    const again = openRegistry(dir, {}, LIMIT).reg;
    assert.deepStrictEqual(JSON.parse(JSON.stringify(again.get("t").attributes)), { loc: { b: "w".repeat(350) }, owner: "ops", tag: { k: true } });
    assert.strictEqual(findRoom(again), room);
  });
});

/** The longest string value attribute `pad` may take in twin t without passing the limit (the patch is refused beyond it). */
function findRoom(reg) {
  let lo = 0;
  let hi = 2000;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    let fits = true;
    const before = reg.get("t").version;
    try {
      reg.changeAttributes("t", { pad: "p".repeat(mid) });
    } catch (err) {
      if (err.code !== "too-large") throw err;
      fits = false;
    }
    // Undo a patch that fitted, so every probe starts from the same twin.
    if (fits) {
      assert.strictEqual(reg.get("t").version, before + 1);
      reg.changeAttributes("t", { pad: null });
      lo = mid;
    } else hi = mid - 1;
  }
  return lo;
}
