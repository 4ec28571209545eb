"use strict";
/**
 * Writing a snapshot: a snapshot that does not read back as written is set aside and nothing is
 * let go; when the store asks for a compaction; two requests at once; the journal that follows a
 * snapshot; the event-loop stall it reports and the size of its slices; closing while it runs.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const {
  SNAPSHOT_TMP, useStoreDirs, freshDir, openRegistry, docs, durable, snapshotFiles, newestSnapshot, journalFiles, journalEntries, waitFor, faultyIO,
} = require("./store-support");
const { FileStore } = require("../../nodes/lib/core/store/file-store");

/** Runs `fn` with fs.rename replaced by one that first applies `harm` to a snapshot about to be renamed into place. */
async function withSnapshotHarm(harm, fn) {
  const rename = fs.rename;
  fs.rename = function (from, to, cb) {
    if (String(from).endsWith(SNAPSHOT_TMP)) harm(from);
    return rename.apply(this, arguments);
  };
  try {
    return await fn();
  } finally {
    fs.rename = rename;
  }
}

/** Rewrites the snapshot file's lines with `edit` ([header, twins..., trailer, ""]). */
const editLines = (edit) => (file) => fs.writeFileSync(file, edit(fs.readFileSync(file, "utf8").split("\n")).join("\n"));
const editTrailer = (change) => editLines((lines) => {
  const t = lines.length - 2;
  lines[t] = JSON.stringify({ ...JSON.parse(lines[t]), ...change });
  return lines;
});

/** A snapshot source of `n` small twins, as the registry hands one to compact(). */
function source(lsn, n, onLine = () => undefined) {
  return () => ({
    lsn,
    lines: function* () {
      for (let k = 0; k < n; k++) {
        onLine(k);
        yield JSON.stringify({ i: `s-${k}`, m: null, c: 1, u: 1, v: 1, l: 1, a: { k }, r: {}, on: false, ls: null });
      }
    },
  });
}

describe("core/store: writing snapshots", function () {
  this.timeout(20000);
  useStoreDirs("store-snapshot-writing");

  describe("a snapshot that does not read back as written", function () {
    const harms = {
      "ends in a torn line": (file) => fs.appendFileSync(file, '{"i":"t-'),
      "has a value changed": editLines((lines) => [lines[0], lines[1].replace('"k":0', '"k":7'), ...lines.slice(2)]),
      "lost a twin line": editLines((lines) => [lines[0], ...lines.slice(2)]),
      "has a trailer with the wrong count": editTrailer({ count: 99 }),
      "has a trailer with the wrong checksum": editTrailer({ sha256: "0".repeat(64) }),
      "lost its trailer": editLines((lines) => [...lines.slice(0, -2), ""]),
    };
    for (const [kind, harm] of Object.entries(harms)) {
      it(`${kind}: the compaction fails and says so, the file is set aside, every journal is kept, and a restart loses nothing`, async function () {
        const dir = freshDir("readback");
        const { reg, store } = openRegistry(dir, { mode: "strict" });
        for (let k = 0; k < 5; k++) reg.create(`t-${k}`, { attributes: { k } });
        assert.ifError(await durable(reg));
        const journals = journalFiles(dir);
        const journalBytes = store.stats.journalBytes;
        await withSnapshotHarm(harm, () => assert.rejects(reg.compact(), /snapshot snapshot-0000000000000005\.jsonl did not read back as written; it was set aside and every journal was kept/));
        assert.deepStrictEqual(snapshotFiles(dir), []);
        assert.ok(fs.existsSync(path.join(dir, "snapshot-0000000000000005.jsonl.damaged")), "set aside for inspection");
        for (const name of journals) assert.ok(journalFiles(dir).includes(name), `${name} is kept`);
        assert.strictEqual(store.stats.compactions, 0);
        assert.strictEqual(store.stats.journalBytes, journalBytes, "the journal still counts towards the next compaction");
        reg.create("after");
        assert.ifError(await durable(reg));
        const expected = docs(reg);
        await reg.close();
        const again = openRegistry(dir);
        assert.deepStrictEqual(again.warnings, []);
        assert.deepStrictEqual(docs(again.reg), expected);
      });
    }
  });

  describe("a snapshot larger than the read-back's 1 MB chunks (lines cut across them, multi-byte text)", function () {
    // Attributes of ~20 KB of text with two- to four-byte characters: ~3 MB of twins, so lines and
    // characters are cut at the chunk boundaries of the read-back.
    const text = (k) => `${k}:` + "é€𝄞a".repeat(2000);
    const big = (reg) => {
      for (let k = 0; k < 150; k++) reg.create(`t-${k}`, { attributes: { text: text(k) } });
    };
    it("verifies, and a restart has every twin as written", async function () {
      const dir = freshDir("bigread");
      const { reg, store } = openRegistry(dir, { mode: "strict" }, { maxDocumentBytes: 1024 * 1024 });
      big(reg);
      assert.ifError(await durable(reg));
      await reg.compact();
      assert.strictEqual(store.stats.compactions, 1);
      assert.ok(fs.statSync(newestSnapshot(dir)).size > 2 * 1024 * 1024, "the snapshot spans several chunks");
      const expected = docs(reg);
      await reg.close();
      const again = openRegistry(dir, {}, { maxDocumentBytes: 1024 * 1024 });
      assert.deepStrictEqual(again.warnings, []);
      assert.deepStrictEqual(docs(again.reg), expected);
    });
    it("with one character changed past the first chunk: the compaction fails and the file is set aside", async function () {
      const dir = freshDir("bigharm");
      const { reg, store } = openRegistry(dir, { mode: "strict" }, { maxDocumentBytes: 1024 * 1024 });
      big(reg);
      assert.ifError(await durable(reg));
      // Same length in bytes: only the checksum can tell.
      const harm = editLines((lines) => lines.map((line, n) => (n === 120 ? line.replace("€", "¢a") : line)));
      await withSnapshotHarm(harm, () => assert.rejects(reg.compact(), /did not read back as written; it was set aside and every journal was kept/));
      assert.deepStrictEqual(snapshotFiles(dir), []);
      assert.strictEqual(store.stats.compactions, 0);
      await reg.close();
    });
  });

  it("asks for a compaction once the journal outgrows the last snapshot, and not while one runs or the disk fails", async function () {
    const dir = freshDir("wants");
    const io = faultyIO();
    const store = new FileStore({ dir, mode: "strict", compactBytes: 1, retryMs: 10, io });
    store.recover();
    let l = 0;
    const change = () => store.append({ l: ++l, o: "u", i: "a", v: l, t: 1, r: { x: [l, 1] } });
    change();
    await store.flush();
    assert.strictEqual(store.wantsCompaction(), true, "a journal above compactBytes and no snapshot yet");
    await store.compact(source(l, 40));
    const snapshotSize = fs.statSync(path.join(dir, snapshotFiles(dir)[0])).size;
    assert.ok(snapshotSize > 2000, `a snapshot of ${snapshotSize} bytes`);
    assert.strictEqual(store.stats.journalBytes, 0);
    let before = 0;
    while (!store.wantsCompaction()) {
      before = store.stats.journalBytes;
      change();
      await store.flush();
      assert.ok(l < 1000, "a compaction is asked for in the end");
    }
    assert.ok(before <= snapshotSize && store.stats.journalBytes > snapshotSize, `asked at ${store.stats.journalBytes} bytes of journal (${before} before), the snapshot has ${snapshotSize}`);
    assert.strictEqual(store.stats.journalBytes, fs.statSync(path.join(dir, journalFiles(dir).at(-1))).size, "journalBytes is what the journal holds");

    io.failWrite = "EIO";
    change();
    await assert.rejects(store.flush(), /EIO/);
    assert.strictEqual(store.wantsCompaction(), false, "not on a failing disk");
    io.failWrite = null;
    await waitFor(() => store.health().ok, "the disk to heal");
    assert.strictEqual(store.wantsCompaction(), true);

    const running = store.compact(source(l, 40));
    assert.strictEqual(store.wantsCompaction(), false, "not while a compaction runs");
    await running;
    await store.close();
  });

  it("a compaction asked for while one runs joins it: one snapshot is written", async function () {
    const dir = freshDir("join");
    const { reg, store } = openRegistry(dir, { mode: "strict" });
    for (let k = 0; k < 50; k++) reg.create(`t-${k}`);
    assert.ifError(await durable(reg));
    await Promise.all([reg.compact(), reg.compact()]);
    assert.strictEqual(store.stats.compactions, 1);
    assert.strictEqual(snapshotFiles(dir).length, 1);
  });

  it("the journal after a snapshot is named by the first sequence number it holds, and the two snapshots after it let the older journals go", async function () {
    const dir = freshDir("next-journal");
    const { reg } = openRegistry(dir, { mode: "strict" });
    for (let k = 0; k < 3; k++) reg.create(`t-${k}`);
    await reg.compact();
    reg.create("t-3");
    assert.ifError(await durable(reg));
    const newest = journalFiles(dir).at(-1);
    assert.strictEqual(newest, "journal-0000000000000004.log");
    const first = fs.readFileSync(path.join(dir, newest), "utf8").split("\n")[0];
    assert.strictEqual(JSON.parse(first).l, 4);
    await reg.compact();
    reg.create("t-4");
    await reg.compact();
    assert.deepStrictEqual(journalFiles(dir), ["journal-0000000000000005.log", "journal-0000000000000006.log"]);
    const expected = docs(reg);
    await reg.close();
    assert.deepStrictEqual(docs(openRegistry(dir).reg), expected);
  });

  it("reports the longest synchronous step, which is no longer than the whole compaction", async function () {
    const dir = freshDir("slice-time");
    const { reg, store } = openRegistry(dir, { mode: "strict" });
    for (let k = 0; k < 200; k++) reg.create(`t-${k}`, { attributes: { k } });
    assert.ifError(await durable(reg));
    const started = performance.now();
    await reg.compact();
    const took = performance.now() - started;
    assert.ok(store.stats.longestSliceMs > 0 && store.stats.longestSliceMs <= took, `longest step ${store.stats.longestSliceMs} ms of ${took} ms`);
  });

  it("writes a snapshot in slices of at most about 1 MB, however long a slice may take", async function () {
    const dir = freshDir("slice-size");
    const { reg } = openRegistry(dir, { mode: "strict", sliceMs: 60000 });
    const blob = "x".repeat(4096);
    for (let k = 0; k < 800; k++) reg.create(`t-${k}`, { attributes: { blob } });
    assert.ifError(await durable(reg));
    const sizes = [];
    const write = fs.write;
    fs.write = function (fd, buffer, offset, length) {
      sizes.push(length);
      return write.apply(this, arguments);
    };
    try {
      await reg.compact();
    } finally {
      fs.write = write;
    }
    const line = 4096 + 200;
    assert.ok(sizes.length >= 4, `${sizes.length} writes`);
    assert.ok(Math.max(...sizes) <= 1024 * 1024 + line, `largest slice ${Math.max(...sizes)} bytes`);
  });

  it("closing while a snapshot is written stops it: no snapshot or temporary file is left, and a restart has every twin", async function () {
    const dir = freshDir("close-mid");
    const { reg } = openRegistry(dir, { mode: "strict", sliceMs: 0 });
    for (let k = 0; k < 3000; k++) reg.create(`t-${k}`);
    assert.ifError(await durable(reg));
    const expected = docs(reg);
    const compacting = reg.compact();
    await waitFor(() => fs.existsSync(path.join(dir, SNAPSHOT_TMP)), "the snapshot to be under way");
    await reg.close();
    await assert.rejects(compacting, /store closed during snapshot/);
    assert.deepStrictEqual(snapshotFiles(dir), []);
    await waitFor(() => !fs.existsSync(path.join(dir, SNAPSHOT_TMP)), "the temporary file to be removed");
    const again = openRegistry(dir);
    assert.deepStrictEqual(again.warnings, []);
    assert.deepStrictEqual(docs(again.reg), expected);
  });

  it("a compaction asked for just before close() does nothing once the store is closed: no snapshot, no new journal, no error", async function () {
    const dir = freshDir("close-before");
    const { reg } = openRegistry(dir, { mode: "batched", intervalMs: 50 });
    for (let k = 0; k < 5; k++) reg.create(`t-${k}`);
    const compacting = reg.compact();
    await reg.close();
    await compacting;
    assert.deepStrictEqual(snapshotFiles(dir), []);
    assert.deepStrictEqual(journalFiles(dir), ["journal-0000000000000001.log"]);
    assert.deepStrictEqual(journalEntries(dir).map((e) => e.i), ["t-0", "t-1", "t-2", "t-3", "t-4"]);
  });
});

describe("core/store: a compaction after a salvage", function () {
  this.timeout(20000);
  useStoreDirs("store-salvage-compaction");

  it("keeps the damaged snapshots and their journals until two whole snapshots exist: one new snapshot damaged too still loses nothing more", async function () {
    const dir = freshDir("salvage-keep");
    const first = openRegistry(dir, { mode: "strict" });
    for (let k = 0; k < 30; k++) first.reg.create(`m-${k}`, { attributes: { k } });
    await first.reg.compact();
    for (let k = 30; k < 40; k++) first.reg.create(`m-${k}`, { attributes: { k } });
    await first.reg.compact();
    await first.reg.close();
    // Both snapshots damaged, the older one less: twins m-3..m-19 are whole only in the older one.
    const [older, newer] = snapshotFiles(dir).map((n) => path.join(dir, n));
    const cut = (file, keep) => fs.writeFileSync(file, fs.readFileSync(file, "utf8").split("\n").slice(0, keep + 1).join("\n") + "\n");
    cut(older, 20);
    cut(newer, 3);
    const salvaged = openRegistry(dir, { mode: "strict" });
    assert.match(salvaged.warnings.join("\n"), /no snapshot is whole/);
    assert.ok(salvaged.reg.has("m-19") && salvaged.reg.has("m-39"));
    salvaged.reg.create("after");
    const expected = docs(salvaged.reg);
    await salvaged.reg.compact();
    await salvaged.reg.close();
    assert.strictEqual(snapshotFiles(dir).length, 3, "the damaged snapshots stay beside the one new whole snapshot");
    fs.writeFileSync(newestSnapshot(dir), "");
    const again = openRegistry(dir, { mode: "strict" });
    assert.deepStrictEqual(docs(again.reg), expected, again.warnings.join("\n"));
  });
});
