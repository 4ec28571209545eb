"use strict";
/**
 * The store under the faults a fault-injection run found (issue 10): damaged sequence numbers,
 * damaged snapshots, a batched window that slipped with the flush timer, a disk that fills up
 * (short writes), a read-only disk, and attribute updates that journalled far more than changed.
 * Each test fails on the code before the fix.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const {
  SNAPSHOT, NOW, snapshotFiles, newestSnapshot, useStoreDirs, mountTmpfs, freshDir, openRegistry, docs,
  journalFiles, journalText, lastJournal, waitFor, durable, throwsTwin, faultyIO,
} = require("./store-support");

/** Busy-waits: the event loop is blocked, as on a loaded machine, and no timer can fire. */
function block(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Appends one raw line to the last journal (as damage, or as an older version wrote it). */
function appendRaw(dir, line) {
  fs.appendFileSync(lastJournal(dir), line + "\n");
}

/** Twins m-0..m-(n-1), each with attributes and a reading. */
function fleet(reg, n, from = 0) {
  for (let k = from; k < from + n; k++) {
    reg.create(`m-${k}`, { attributes: { site: `s${k % 3}` } });
    reg.report(`m-${k}`, { temperature: k }, { ts: NOW - 10000 });
  }
}

describe("core/store: faults", function () {
  this.timeout(20000);
  useStoreDirs("store-faults");

  describe("sequence numbers", function () {
    for (const bad of ["11.5", "1e21", "-3", "\"12\"", "null"]) {
      it(`a journal line whose sequence number is ${bad} is skipped with a warning, and every later write survives restarts`, async function () {
        const dir = freshDir("seq");
        const first = openRegistry(dir, { mode: "strict" });
        fleet(first.reg, 5);
        assert.ifError(await durable(first.reg));
        await first.reg.close();
        appendRaw(dir, `{"l":${bad},"o":"u","i":"m-1","v":3,"t":${NOW},"r":{"temperature":[999,${NOW}]}}`);

        const second = openRegistry(dir, { mode: "strict" });
        assert.strictEqual(second.warnings.length, 1, JSON.stringify(second.warnings));
        assert.match(second.warnings[0], /1 damaged line\(s\) skipped/);
        assert.strictEqual(second.reg.get("m-1").reported.temperature, 1, "the damaged entry was not applied");
        for (let k = 0; k < 10; k++) second.reg.create(`late-${k}`, { attributes: { k } });
        assert.ifError(await durable(second.reg));
        await second.reg.close();
        for (const name of fs.readdirSync(dir).filter((n) => n.startsWith("journal-"))) {
          assert.match(name, /^journal-\d{16}\.log$/, `journal names stay whole numbers: ${name}`);
        }

        const third = openRegistry(dir, { mode: "strict" });
        for (let k = 0; k < 10; k++) assert.ok(third.reg.has(`late-${k}`), `late-${k} survived the restart`);
        assert.strictEqual(third.reg.size, 15);
        // And once more: a second restart finds them again (the damaged line warns, nothing else).
        await third.reg.close();
        const fourth = openRegistry(dir, { mode: "strict" });
        assert.strictEqual(fourth.reg.size, 15);
      });
    }

    it("reads a journal an older version named from a fractional sequence number, and says so", async function () {
      const dir = freshDir("seq-legacy");
      const first = openRegistry(dir, { mode: "strict" });
      fleet(first.reg, 2);
      assert.ifError(await durable(first.reg));
      await first.reg.close();
      fs.writeFileSync(path.join(dir, "journal-000000000000012.5.log"), `{"l":5,"o":"c","i":"odd","v":1,"t":${NOW},"m":null}\n`);
      const second = openRegistry(dir);
      assert.ok(second.reg.has("odd"), "the twin in the oddly named journal is restored");
      assert.ok(second.warnings.some((w) => /journal-000000000000012\.5\.log has a name this version never writes/.test(w)), JSON.stringify(second.warnings));
    });
  });

  describe("damaged snapshots", function () {
    /**
     * A store with two snapshots and changes after each: 45 twins in all, some of them created,
     * changed or deleted after the newest snapshot. Returns the documents a restart must show.
     */
    async function twoSnapshots(label) {
      const dir = freshDir(label);
      const { reg } = openRegistry(dir, { mode: "strict" });
      fleet(reg, 30);
      await reg.compact();
      fleet(reg, 10, 30);
      reg.report("m-3", { temperature: 333 }, { ts: NOW - 5000 });
      await reg.compact();
      fleet(reg, 5, 40);
      reg.report("m-4", { temperature: 444 }, { ts: NOW - 4000 });
      reg.remove("m-5");
      reg.updateAttributes("m-6", { site: "moved" });
      assert.ifError(await durable(reg));
      const expected = docs(reg);
      await reg.close();
      assert.strictEqual(snapshotFiles(dir).length, 2);
      return { dir, expected, newest: newestSnapshot(dir) };
    }

    const damage = {
      "truncated in the middle of a line": (file) => {
        const size = fs.statSync(file).size;
        fs.truncateSync(file, Math.floor(size * 0.6));
      },
      "empty": (file) => fs.writeFileSync(file, ""),
      "cut after a whole line (no trailer)": (file) => {
        const lines = fs.readFileSync(file, "utf8").split("\n");
        fs.writeFileSync(file, lines.slice(0, 20).join("\n") + "\n");
      },
      "a value changed on disk (valid JSON, wrong checksum)": (file) => {
        const text = fs.readFileSync(file, "utf8");
        fs.writeFileSync(file, text.replace('"site":"s1"', '"site":"s9"'));
      },
      "a garbled line": (file) => {
        const lines = fs.readFileSync(file, "utf8").split("\n");
        lines[7] = lines[7].slice(0, 10) + "\u0000garbage";
        fs.writeFileSync(file, lines.join("\n"));
      },
      "its header lost": (file) => {
        const lines = fs.readFileSync(file, "utf8").split("\n");
        fs.writeFileSync(file, lines.slice(1).join("\n"));
      },
    };

    for (const [kind, harm] of Object.entries(damage)) {
      it(`a newest snapshot ${kind}: falls back to the one before and the journals since it, loses nothing, and says so`, async function () {
        const { dir, expected, newest } = await twoSnapshots(`snap-${kind.split(" ")[0]}`);
        harm(newest);
        const second = openRegistry(dir, { mode: "strict" });
        assert.deepStrictEqual(docs(second.reg), expected, "every twin as it was");
        const text = second.warnings.join("\n");
        assert.match(text, new RegExp(`snapshot ${path.basename(newest).replace(/\./g, "\\.")} is damaged`));
        assert.match(text, /restored from snapshot-\d{16}\.jsonl and the journals since it instead/);
        assert.ok(fs.existsSync(newest + ".damaged"), "the damaged snapshot is set aside for inspection");
        // It stays usable: the next restart is clean, and a new snapshot works.
        second.reg.report("m-1", { temperature: 1 }, { ts: NOW });
        await second.reg.compact();
        const now = docs(second.reg);
        await second.reg.close();
        const third = openRegistry(dir);
        assert.deepStrictEqual(third.warnings, []);
        assert.deepStrictEqual(docs(third.reg), now);
      });
    }

    it("the only snapshot damaged: the journals from the start are still there and restore everything", async function () {
      const dir = freshDir("snap-only");
      const { reg } = openRegistry(dir, { mode: "strict" });
      fleet(reg, 45);
      await reg.compact();
      reg.report("m-2", { temperature: 222 }, { ts: NOW - 1000 });
      assert.ifError(await durable(reg));
      const expected = docs(reg);
      await reg.close();
      fs.writeFileSync(newestSnapshot(dir), "");
      const second = openRegistry(dir);
      assert.deepStrictEqual(docs(second.reg), expected);
      assert.match(second.warnings.join("\n"), /restored from the journals alone/);
    });

    it("every snapshot damaged and the early journals gone: what can be read is restored, and every twin lost is named with a count", async function () {
      const { dir, newest } = await twoSnapshots("snap-both");
      for (const name of snapshotFiles(dir)) {
        const file = path.join(dir, name);
        const lines = fs.readFileSync(file, "utf8").split("\n");
        // Keep the header and two twins, cut the third in half, lose the rest.
        fs.writeFileSync(file, lines.slice(0, 3).join("\n") + "\n" + lines[3].slice(0, 30));
      }
      const second = openRegistry(dir);
      const text = second.warnings.join("\n");
      assert.match(text, /no snapshot is whole: twins were salvaged from 2 damaged snapshot\(s\) and the journals since the oldest of them/);
      assert.match(text, new RegExp(`snapshot ${path.basename(newest).replace(/\./g, "\\.")} is damaged: 2 twins \\(it was cut short: how many followed is unknown\\) were read from it`));
      assert.match(text, /1 twin\(s\) on damaged snapshot lines could not be restored: m-2\b/, "the torn twin is named");
      // m-3, m-4 and m-6 changed after the older snapshot and sat in the lost part of both: named, with a count.
      const lost = /3 twin\(s\) could not be restored \(3 journal entries name twins no snapshot or journal creates\): (.*)/.exec(text);
      assert.ok(lost, text);
      assert.deepStrictEqual(lost[1].split(", ").sort(), ["m-3", "m-4", "m-6"]);
      assert.ok(second.reg.has("m-0") && second.reg.has("m-1"), "the whole lines were restored");
      for (let k = 30; k < 45; k++) assert.ok(second.reg.has(`m-${k}`), `m-${k}, created after the older snapshot, comes from the journals`);
      assert.ok(!second.reg.has("m-5"), "a twin deleted after the snapshot stays deleted");
      assert.strictEqual(second.reg.get("m-40").reported.temperature, 40);
    });

    it("every snapshot damaged in a different place: salvaging both (newest record wins) and the journals restores every twin", async function () {
      const { dir, expected } = await twoSnapshots("snap-both-merge");
      const [older, newer] = snapshotFiles(dir).map((n) => path.join(dir, n));
      // The newest loses its second half; the older one a line in the middle (and so its trailer's checksum).
      const newerLines = fs.readFileSync(newer, "utf8").split("\n");
      fs.writeFileSync(newer, newerLines.slice(0, 15).join("\n") + "\n" + newerLines[15].slice(0, 20));
      const olderLines = fs.readFileSync(older, "utf8").split("\n");
      olderLines[8] = "{garbage";
      fs.writeFileSync(older, olderLines.join("\n"));
      const second = openRegistry(dir, { mode: "strict" });
      const text = second.warnings.join("\n");
      assert.match(text, /no snapshot is whole/);
      // The twin on the older copy's garbled line (m-7, line 9) is whole in the newer copy.
      assert.deepStrictEqual(docs(second.reg), expected, text);
      assert.doesNotMatch(text, /could not be restored/);
    });

    it("a format 1 snapshot (snapshot.jsonl, no trailer) from an earlier version is still read", async function () {
      const dir = freshDir("snap-v1");
      const header = JSON.stringify({ format: "twinwire-snapshot", version: 1, lsn: 2 });
      const twin = JSON.stringify({ i: "old-1", m: null, c: NOW, u: NOW, v: 2, l: 2, a: { site: "x" }, r: { t: [5, NOW] }, on: true, ls: NOW });
      fs.writeFileSync(path.join(dir, "snapshot.jsonl"), `${header}\n${twin}\n`);
      fs.writeFileSync(path.join(dir, "journal-0000000000000003.log"), `{"l":3,"o":"u","i":"old-1","v":3,"t":${NOW},"r":{"t":[6,${NOW}]}}\n`);
      const { reg, warnings } = openRegistry(dir);
      assert.deepStrictEqual(warnings, []);
      assert.strictEqual(reg.get("old-1").reported.t, 6);
      assert.strictEqual(reg.get("old-1").version, 3);
      await reg.compact();
      assert.ok(fs.existsSync(path.join(dir, "snapshot.jsonl")), "kept while it is the older of two snapshots");
      reg.report("old-1", { t: 7 }, { ts: NOW });
      await reg.compact();
      assert.ok(!fs.existsSync(path.join(dir, "snapshot.jsonl")), "replaced by two newer snapshots");
      assert.ok(snapshotFiles(dir).every((n) => SNAPSHOT.test(n)));
    });
  });

  describe("batched window", function () {
    it("bounds the window by acknowledgement time: after the event loop stalled past the interval, the next change is acknowledged only once the older one is on disk", async function () {
      const dir = freshDir("window");
      const io = faultyIO();
      io.syncDelayMs = 200; // a slow disk
      const { reg } = openRegistry(dir, { mode: "batched", intervalMs: 100, io });
      reg.create("a", { attributes: { n: 1 } });
      let firstAck = false;
      reg.whenDurable(() => (firstAck = true));
      assert.ok(firstAck, "batched mode acknowledges a fresh change at once");
      block(150); // the flush timer cannot fire: the loop is busy (a loaded machine)
      reg.create("b", { attributes: { n: 2 } });
      let secondAck = false;
      reg.whenDurable((err) => {
        assert.ifError(err);
        assert.ok(io.syncsDone >= 1, "the first change was fsynced before the second was acknowledged");
        assert.match(journalText(dir), /"i":"a"/);
        secondAck = true;
      });
      assert.strictEqual(secondAck, false, "not acknowledged while a change acknowledged 150 ms ago is unwritten");
      await waitFor(() => secondAck, "the held acknowledgement", 10000);
    });

    it("acknowledges at once while every unwritten change is younger than the interval", async function () {
      const dir = freshDir("window-fresh");
      const io = faultyIO();
      const { reg } = openRegistry(dir, { mode: "batched", intervalMs: 60000, io });
      for (let k = 0; k < 50; k++) {
        reg.create(`t-${k}`);
        let acked = false;
        reg.whenDurable(() => (acked = true));
        assert.ok(acked, `change ${k} acknowledged at once`);
      }
      assert.strictEqual(io.writes, 0, "and nothing written yet");
    });

    it("a failing disk: acknowledged changes are held and retried, health says how many wait", async function () {
      const dir = freshDir("window-fail");
      const io = faultyIO();
      const { reg, store } = openRegistry(dir, { mode: "batched", intervalMs: 20, retryMs: 30, io });
      const health = [];
      store.onHealth((h) => health.push(h));
      io.failWrite = "ENOSPC";
      reg.create("a");
      reg.create("b");
      await waitFor(() => health.length > 0, "the failure to be reported");
      assert.strictEqual(health[0].ok, false);
      assert.match(health[0].error, /ENOSPC/);
      assert.strictEqual(health[0].unwritten, 2, "two acknowledged changes wait in memory");
      throwsTwin(() => reg.create("c"), "store-unavailable");
      io.failWrite = null;
      await waitFor(() => health.length > 1 && health[health.length - 1].ok, "the store to heal");
      const lines = journalText(dir).split("\n").filter(Boolean).map((l) => JSON.parse(l));
      assert.deepStrictEqual(lines.map((e) => e.i), ["a", "b"]);
    });
  });

  describe("a disk that fills up", function () {
    it("a short write is continued; the disk's own error (ENOSPC) is what the user sees, never ESHORTWRITE", async function () {
      const dir = freshDir("short");
      const io = faultyIO();
      const { reg, store } = openRegistry(dir, { mode: "strict", io, retryMs: 30 });
      reg.create("a", { attributes: { pad: "x".repeat(2000) } });
      assert.ifError(await durable(reg));
      io.shortWrites = 1;
      reg.create("b", { attributes: { pad: "y".repeat(2000) } });
      assert.ifError(await durable(reg), "a short write that the disk then completes is no error");
      io.shortWrites = 1;
      io.failWrite = null;
      const realWrite = io.write;
      let calls = 0;
      io.write = (fd, buffer, offset, length, position, cb) => {
        calls++;
        // First call: half written, no error; the next: the disk is full.
        if (calls === 2) return process.nextTick(cb, Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), 0);
        realWrite(fd, buffer, offset, length, position, cb);
      };
      reg.create("c", { attributes: { pad: "z".repeat(2000) } });
      const err = await durable(reg);
      assert.ok(err, "the change is not acknowledged");
      assert.match(err.message, /ENOSPC/);
      assert.doesNotMatch(err.message, /ESHORTWRITE|short write/);
      assert.match(store.health().error, /ENOSPC/);
      io.write = realWrite;
      await waitFor(() => store.health().ok, "the retry to succeed");
      const ids = journalText(dir).split("\n").filter(Boolean).map((l) => JSON.parse(l).i);
      assert.deepStrictEqual(ids, ["a", "b", "c"], "the journal holds whole lines only, each once");
    });

    it("a real full disk (tmpfs): ENOSPC is reported, nothing stored before is damaged, and it heals once space is freed", async function () {
      const disk = mountTmpfs("full", 256);
      if (!disk) return requireRoot(this);
      const dir = path.join(disk.dir, "store");
      const { reg, store } = openRegistry(dir, { mode: "strict", retryMs: 30 });
      const filler = path.join(disk.dir, "filler");
      reg.create("keep", { attributes: { site: "a" } });
      assert.ifError(await durable(reg));
      fs.writeFileSync(filler, Buffer.alloc(1024));
      try {
        for (;;) fs.appendFileSync(filler, Buffer.alloc(16 * 1024));
      } catch (err) {
        assert.strictEqual(err.code, "ENOSPC");
      }
      let error = null;
      for (let k = 0; k < 50 && !error; k++) {
        try {
          reg.report("keep", { pad: "p".repeat(4000) });
        } catch (err) {
          error = err;
          break;
        }
        error = (await durable(reg)) || null;
      }
      assert.ok(error, "the full disk was noticed");
      assert.match(error.message + " " + (store.health().error || ""), /ENOSPC/);
      assert.doesNotMatch(store.health().error || "", /ESHORTWRITE/);
      fs.rmSync(filler);
      await waitFor(() => store.health().ok, "the store to heal after space was freed", 10000);
      const live = docs(reg);
      await reg.close();
      const again = openRegistry(dir);
      assert.deepStrictEqual(again.warnings, []);
      assert.deepStrictEqual(docs(again.reg), live);
    });
  });

  describe("a read-only disk", function () {
    it("opens read-only: twins can be read, changes are refused with a clear error, and writes resume when the disk is writable again", async function () {
      const disk = mountTmpfs("ro", 1024);
      if (!disk) return requireRoot(this);
      const dir = path.join(disk.dir, "store");
      const first = openRegistry(dir, { mode: "strict" });
      fleet(first.reg, 3);
      assert.ifError(await durable(first.reg));
      const expected = docs(first.reg);
      await first.reg.close();
      // A torn line too: it can not be cut off while the disk is read-only.
      fs.appendFileSync(lastJournal(dir), '{"l":99,"o":"c","i":"to');
      disk.readOnly();

      const { reg, store, warnings } = openRegistry(dir, { mode: "strict", retryMs: 30 });
      assert.match(warnings.join("\n"), /cannot be written \(EROFS/);
      assert.match(warnings.join("\n"), /ends in a torn line/);
      assert.deepStrictEqual(docs(reg), expected, "reads work");
      assert.strictEqual(store.health().ok, false);
      throwsTwin(() => reg.create("new"), "store-unavailable");
      disk.writable();
      await waitFor(() => store.health().ok, "the store to notice the disk is writable", 10000);
      reg.create("new", { attributes: { x: 1 } });
      assert.ifError(await durable(reg));
      const live = docs(reg);
      await reg.close();
      const again = openRegistry(dir);
      assert.deepStrictEqual(docs(again.reg), live);
      assert.deepStrictEqual(again.warnings, [], "the torn tail was cut once the disk was writable");
    });
  });

  describe("a journal changed behind the store's back", function () {
    // Found against a real Node-RED: each change the store acknowledged after this was written
    // into a file that no start would read whole, and nothing was said.
    for (const [label, damage] of [
      ["deleted with its directory (to start over, Node-RED still running)", (dir) => fs.rmSync(dir, { recursive: true, force: true })],
      ["cut short in the middle of a line", (dir) => fs.truncateSync(lastJournal(dir), Math.floor(fs.statSync(lastJournal(dir)).size / 2) + 3)],
      ["emptied", (dir) => fs.truncateSync(lastJournal(dir), 0)],
    ]) {
      it(`${label}: every twin is written again from memory before the next change is acknowledged (strict)`, async function () {
        const dir = freshDir("changed");
        const { reg, store } = openRegistry(dir, { mode: "strict" });
        fleet(reg, 5);
        assert.ifError(await durable(reg));
        damage(dir);
        const warned = [];
        store.onHealth((h) => warned.push(h));
        fleet(reg, 5, 5);
        assert.ifError(await durable(reg), "acknowledged once the snapshot is on disk");
        assert.match(warned[0].error, /journal journal-\d+\.log (was deleted|was changed by something else) while in use/);
        assert.equal(store.health().ok, true, "healed once the snapshot is on disk");
        const before = docs(reg);
        // A crash: the directory opened again as it is now.
        const again = openRegistry(dir, { mode: "strict" });
        assert.deepEqual(docs(again.reg), before);
      });
    }

    for (const mode of ["strict", "batched"]) {
      it(`found by the flush a compaction starts with: that compaction writes memory again (${mode}), not a wait for itself`, async function () {
        // The compaction's flush waited for the snapshot of memory, which could not start while
        // the compaction ran: nothing was acknowledged again and close() never returned.
        const dir = freshDir("lost-compacting");
        const { reg, store } = openRegistry(dir, { mode });
        fleet(reg, 5);
        assert.ifError(await durable(reg));
        reg.create("late");
        fs.rmSync(lastJournal(dir));
        const compacted = reg.compact();
        const acked = durable(reg);
        await compacted;
        assert.ifError(await acked);
        assert.equal(store.health().ok, true);
        const before = docs(reg);
        assert.ok(before.late);
        const again = openRegistry(dir, { mode });
        assert.deepEqual(docs(again.reg), before);
      });
    }

    it("found by close's flush: memory is written before the store closes, and what waited is acknowledged", async function () {
      const dir = freshDir("lost-closing");
      const { reg } = openRegistry(dir, { mode: "strict" });
      fleet(reg, 5);
      assert.ifError(await durable(reg));
      reg.create("late");
      const before = docs(reg);
      fs.rmSync(dir, { recursive: true });
      const acked = durable(reg);
      await reg.close();
      assert.ifError(await acked);
      const again = openRegistry(dir, { mode: "strict" });
      assert.deepEqual(docs(again.reg), before);
    });

    it("found by close's flush where memory cannot be written: close ends, saying so, and what waited hears it", async function () {
      const dir = freshDir("lost-closing-refused");
      const { reg } = openRegistry(dir, { mode: "strict" });
      fleet(reg, 5);
      assert.ifError(await durable(reg));
      reg.create("late");
      fs.rmSync(dir, { recursive: true });
      fs.writeFileSync(dir, "a file where the directory was: it cannot be made again");
      const acked = durable(reg);
      await assert.rejects(reg.close(), (err) => err.code === "store-unavailable" && /was deleted while in use/.test(err.message));
      const err = await acked;
      assert.ok(err && err.code === "store-unavailable", "the held acknowledgement is told the change may be lost");
      fs.rmSync(dir);
    });
  });

  describe("attribute updates", function () {
    it("journal the patch, not the whole merged attributes: a 1 KB change costs about 1 KB on disk", async function () {
      const dir = freshDir("attr");
      const { reg } = openRegistry(dir, { mode: "strict" });
      const attributes = {};
      for (let k = 0; k < 20; k++) attributes[`a${k}`] = "v".repeat(200);
      reg.create("big", { attributes });
      assert.ifError(await durable(reg));
      const before = fs.statSync(lastJournal(dir)).size;
      reg.updateAttributes("big", { a3: "w".repeat(1000) });
      assert.ifError(await durable(reg));
      const grew = fs.statSync(lastJournal(dir)).size - before;
      assert.ok(grew < 1300, `the journal grew by ${grew} bytes for a 1 KB change`);
      reg.updateAttributes("big", { a4: null, nested: { x: { y: 1 } } });
      reg.updateAttributes("big", { nested: { x: { z: 2 } } });
      assert.ifError(await durable(reg));
      const live = docs(reg);
      await reg.close();
      const again = openRegistry(dir);
      assert.deepStrictEqual(docs(again.reg), live);
      assert.deepStrictEqual(JSON.parse(JSON.stringify(again.reg.get("big").attributes.nested)), { x: { y: 1, z: 2 } });
      assert.strictEqual("a4" in again.reg.get("big").attributes, false);
    });

    it("an attribute entry from disk with a forbidden key changes nothing it should not", async function () {
      const dir = freshDir("attr-proto");
      const first = openRegistry(dir, { mode: "strict" });
      first.reg.create("t", { attributes: { a: 1 } });
      assert.ifError(await durable(first.reg));
      await first.reg.close();
      appendRaw(dir, `{"l":2,"o":"u","i":"t","v":2,"t":${NOW},"ap":{"__proto__":{"polluted":true},"b":2}}`);
      const { reg } = openRegistry(dir);
      assert.deepStrictEqual(JSON.parse(JSON.stringify(reg.get("t").attributes)), { a: 1, b: 2 });
      assert.strictEqual({}.polluted, undefined);
    });
  });
});

/** Tests that mount a tmpfs need root: in CI that is a failure, elsewhere a visible skip. */
function requireRoot(ctx) {
  if (process.env.CI) throw new Error("mounting a tmpfs failed: CI runs as root and must run this test");
  ctx.skip();
}
