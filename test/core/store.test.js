"use strict";
/**
 * Persistence as a user relies on it (design.md, "Persistence"): the journal + snapshot store
 * under a TwinRegistry, in batched and strict mode, through restarts, torn writes, compaction
 * (also while writes go on, and cut short by a crash) and disk failures; and memory mode.
 *
 * A "crash" here is: stop using a registry without close() and open a new one on the same
 * directory (only after what it wrote is known to be on disk).
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { FileStore } = require("../../nodes/lib/core/store/file-store");
const { MemoryStore } = require("../../nodes/lib/core/store/memory-store");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const {
  SNAPSHOT_TMP, NOW, snapshotFiles, newestSnapshot, useStoreDirs, track, freshDir, openRegistry, docs, histories,
  journalFiles, journalText, journalEntries, lastJournal, immediate, sleep, waitFor, durable, throwsTwin, faultyIO, populate,
} = require("./store-support");

// ---- tests --------------------------------------------------------------------------------------

describe("core/store: persistence", function () {
  this.timeout(20000);

  useStoreDirs("store-test");

  describe("batched mode", function () {
    it("puts a batch of changes on disk by itself, half the interval (default 100 ms) after the first, and a new registry recovers every twin", async function () {
      const dir = freshDir("batched");
      // The default interval, on purpose: that is the promise design.md makes.
      const io = faultyIO();
      let firstWriteAt = null;
      const write = io.write;
      io.write = (...args) => {
        if (firstWriteAt === null) firstWriteAt = Date.now();
        write(...args);
      };
      const { reg, store } = openRegistry(dir, { intervalMs: undefined, io });
      assert.strictEqual(store.mode, "batched");
      const changedAt = Date.now();
      populate(reg);
      const populateMs = Date.now() - changedAt;
      const written = 1 + 5 + 1 + 1 + 2 + 3 + 1; // entries populate() journals
      let immediateCallback = false;
      reg.whenDurable((err) => {
        assert.ifError(err);
        immediateCallback = true;
      });
      // At once, unless populate() itself outlasted the window (a loaded machine): then the oldest
      // change is already older than the window allows, and the message waits for the write.
      if (populateMs < 100) assert.ok(immediateCallback, "batched mode completes a message at once");
      else await waitFor(() => immediateCallback, "the held message, once its changes are written");

      await waitFor(() => journalText(dir).split("\n").length - 1 >= written, "the journal to hold every change");
      await waitFor(() => io.syncs >= 1, "the fsync");
      // The changes are batched: written together, half the interval (50 ms) after the first.
      // How late a busy machine runs the timer is not asserted: the window's promise is kept by
      // holding acknowledgements (tested in store-faults.test.js), not by the timer.
      const waited = firstWriteAt - changedAt;
      assert.ok(waited >= 45, `the batch was written ${waited} ms after the change`);
      assert.strictEqual(io.writes, 1, "one write for the whole batch");
      const entries = journalEntries(dir);
      assert.strictEqual(entries.length, written);
      assert.deepStrictEqual(entries.map((e) => e.l), entries.map((_, k) => k + 1), "log sequence numbers 1..n in order");

      const before = docs(reg);
      const history = histories(reg, "temperature");
      // Crash: no close(). A new registry on the same directory.
      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.deepStrictEqual(docs(second.reg), before);
      assert.deepStrictEqual(histories(second.reg, "temperature"), history);

      // Spot checks of what a user reads, so a shared mistake in both views cannot hide.
      const pump = docs(second.reg)["pump-07"];
      assert.deepStrictEqual(pump.attributes, { site: "plant-1", serial: "P7-2231", room: { floor: 2, name: "B" } });
      assert.deepStrictEqual(pump.reported, { temperature: 60.4, rpm: 1484 });
      assert.deepStrictEqual(pump.meta.reported.temperature, { ts: NOW - 6000, source: "plant-1/pump-07/temperature" });
      assert.deepStrictEqual(pump.desired, { rpm: 1500, mode: "auto" });
      assert.deepStrictEqual(pump.meta.desired.rpm.by, "dashboard");
      assert.deepStrictEqual(pump.meta.desired.mode.by, "ui");
      assert.deepStrictEqual(pump.delta, { rpm: 1500, mode: "auto" });
      assert.strictEqual(pump.version, 8);
      assert.strictEqual(pump.connectivity.online, true);
      assert.strictEqual(typeof pump.connectivity.lastSeen, "number");
      assert.strictEqual(second.reg.history("pump-07", "temperature").length, 5);
      assert.deepStrictEqual(second.reg.history("pump-07", "rpm").map((p) => p.value), [1480, 1481, 1482, 1483, 1484]);
      assert.strictEqual(second.reg.has("gone"), false);
      assert.strictEqual(second.reg.get("quiet").connectivity.online, false);
      assert.strictEqual(second.reg.size, 3);

      // The recovered registry continues the sequence: its changes survive another restart.
      second.reg.report("valve-1", { pressure: 3.3 }, { ts: NOW });
      await second.reg.close();
      const third = openRegistry(dir);
      assert.deepStrictEqual(third.warnings, []);
      assert.strictEqual(third.reg.get("valve-1").reported.pressure, 3.3);
      assert.strictEqual(third.reg.get("valve-1").version, 3);
      assert.deepStrictEqual(third.reg.history("valve-1", "pressure").map((p) => p.value), [3.2, 3.3]);
    });

    it("close() flushes what is still waiting for the interval", async function () {
      const dir = freshDir("batched-close");
      const { reg } = openRegistry(dir, { intervalMs: 60000 });
      populate(reg);
      const before = docs(reg);
      assert.strictEqual(journalText(dir), "", "nothing written before the interval");
      await reg.close();
      const second = openRegistry(dir);
      assert.deepStrictEqual(docs(second.reg), before);
    });
  });

  describe("connectivity", function () {
    it("a twin brought back online by a deadband reading is online after a restart", async function () {
      let now = NOW;
      const clock = () => now;
      const dir = freshDir("touch");
      const { reg } = openRegistry(dir, {}, { clock, stalenessMs: 1000 });
      reg.create("a");
      reg.report("a", { x: 1 }, { ts: now });
      now += 5000;
      reg.expire(); // journals "offline"
      assert.strictEqual(reg.get("a").connectivity.online, false);
      now += 100;
      reg.touch("a"); // a reading inside the deadband: the device is alive again
      const live = reg.get("a").connectivity;
      assert.deepStrictEqual(live, { online: true, lastSeen: now });
      await reg.close();
      // No staleness in the second registry: look at exactly what was stored.
      const second = openRegistry(dir, {}, { clock });
      assert.deepStrictEqual(second.reg.get("a").connectivity, live);
    });
  });

  describe("strict mode", function () {
    it("calls whenDurable back only once the change is in the journal file", async function () {
      const dir = freshDir("strict");
      const { reg } = openRegistry(dir, { mode: "strict" });
      reg.create("a", { attributes: { site: "s" } });
      reg.report("a", { x: 1 }, { ts: NOW });
      let called = false;
      let onDisk = null;
      const done = new Promise((resolve, reject) =>
        reg.whenDurable((err) => {
          called = true;
          if (err) return reject(err);
          onDisk = journalEntries(dir);
          resolve();
        }),
      );
      assert.strictEqual(called, false, "not completed before the write");
      await done;
      assert.deepStrictEqual(onDisk.map((e) => [e.l, e.o, e.i]), [[1, "c", "a"], [2, "u", "a"]]);
      assert.deepStrictEqual([onDisk[1].rv, onDisk[1].rt ?? onDisk[1].t], [{ x: 1 }, NOW]);
    });

    it("group commit: many changes in one tick share one write and one fdatasync", async function () {
      const dir = freshDir("group");
      const io = faultyIO();
      const { reg } = openRegistry(dir, { mode: "strict", io });
      for (let k = 0; k < 50; k++) reg.create(`t-${k}`);
      assert.ifError(await durable(reg));
      io.writes = 0;
      io.syncs = 0;

      const callbacks = [];
      for (let n = 0; n < 500; n++) {
        reg.report(`t-${n % 50}`, { v: n }, { ts: NOW + n });
        callbacks.push(durable(reg));
      }
      const errors = await Promise.all(callbacks);
      assert.deepStrictEqual(errors.filter(Boolean), []);
      assert.strictEqual(io.writes, 1, "one write for the whole tick");
      assert.strictEqual(io.syncs, 1, "one fdatasync for the whole tick");
      assert.strictEqual(journalEntries(dir).length, 550);
    });

    it("group commit: changes that arrive during an fsync share the next one", async function () {
      const dir = freshDir("group2");
      const io = faultyIO();
      const { reg } = openRegistry(dir, { mode: "strict", io });
      reg.create("a");
      assert.ifError(await durable(reg));
      io.writes = 0;
      io.syncs = 0;
      io.syncDelayMs = 40;

      const callbacks = [];
      reg.report("a", { v: 0 }, { ts: NOW });
      callbacks.push(durable(reg));
      await waitFor(() => io.syncs === 1, "the first fsync to start");
      for (let n = 1; n <= 10; n++) {
        reg.report("a", { v: n }, { ts: NOW + n });
        callbacks.push(durable(reg));
        await immediate(); // each change in its own turn of the event loop
      }
      const errors = await Promise.all(callbacks);
      assert.deepStrictEqual(errors.filter(Boolean), []);
      assert.strictEqual(io.writes, 2);
      assert.strictEqual(io.syncs, 2);
    });
  });

  describe("recovery", function () {
    it("skips a torn last journal line with a warning, truncates it, and keeps working", async function () {
      const dir = freshDir("torn");
      const { reg } = openRegistry(dir);
      populate(reg);
      const before = docs(reg);
      await reg.close();
      const file = lastJournal(dir);
      const whole = fs.readFileSync(file);
      // A crash in the middle of an append: half a line, no newline.
      const torn = JSON.stringify({ l: 99, o: "r", i: "valve-1", v: 9, t: NOW, r: { pressure: [9, NOW] } });
      fs.appendFileSync(file, torn.slice(0, Math.floor(torn.length / 2)));

      const second = openRegistry(dir);
      assert.strictEqual(second.warnings.length, 1, `warnings: ${JSON.stringify(second.warnings)}`);
      assert.match(second.warnings[0], /torn/);
      assert.deepStrictEqual(docs(second.reg), before, "the state of the complete entries");
      assert.deepStrictEqual(fs.readFileSync(file), whole, "cut back to the last whole line");

      second.reg.report("valve-1", { pressure: 4 }, { ts: NOW });
      second.reg.create("new-one", { attributes: { k: 1 } });
      const after = docs(second.reg);
      await second.reg.close();

      const third = openRegistry(dir);
      assert.deepStrictEqual(third.warnings, []);
      assert.deepStrictEqual(docs(third.reg), after);
      assert.strictEqual(third.reg.get("valve-1").reported.pressure, 4);
    });

    it("skips a torn line that cut a multi-byte character in half", async function () {
      const dir = freshDir("torn-utf8");
      const { reg } = openRegistry(dir);
      reg.create("a", { attributes: { name: "Pumpe Süd ✓" } });
      const before = docs(reg);
      await reg.close();
      const file = lastJournal(dir);
      const whole = fs.readFileSync(file);
      const line = Buffer.from(JSON.stringify({ l: 2, o: "a", i: "a", v: 2, t: NOW, a: { name: "✓✓✓" } }) + "\n");
      const cut = line.indexOf(Buffer.from("✓")) + 1; // inside the 3-byte character
      fs.appendFileSync(file, line.subarray(0, cut));

      const second = openRegistry(dir);
      assert.strictEqual(second.warnings.length, 1);
      assert.deepStrictEqual(docs(second.reg), before);
      assert.deepStrictEqual(fs.readFileSync(file), whole);
    });

    it("skips a damaged line in the middle of the journal with a warning and applies the rest", async function () {
      const dir = freshDir("damaged");
      const { reg } = openRegistry(dir);
      reg.create("a", { attributes: { site: "s" } }); // l1
      reg.create("b"); // l2
      reg.report("b", { z: 5 }, { ts: NOW - 100 }); // l3: damaged below
      reg.report("a", { x: 1 }, { ts: NOW }); // l4
      reg.report("b", { y: 2 }, { ts: NOW }); // l5
      const before = docs(reg);
      await reg.close();
      const file = lastJournal(dir);
      const lines = fs.readFileSync(file, "utf8").split("\n");
      assert.strictEqual(JSON.parse(lines[2]).l, 3);
      lines[2] = lines[2].slice(0, 20) + "\u0000#garbage";
      fs.writeFileSync(file, lines.join("\n"));

      const second = openRegistry(dir);
      assert.strictEqual(second.warnings.length, 1, `warnings: ${JSON.stringify(second.warnings)}`);
      assert.match(second.warnings[0], /line 3/);
      const now = docs(second.reg);
      assert.deepStrictEqual(now.a, before.a);
      assert.deepStrictEqual(now.b.reported, { y: 2 });
      assert.deepStrictEqual(Object.keys(now.b.meta.reported), ["y"]);
      assert.strictEqual(now.b.version, 3, "versions come from the entries that were read");
      assert.deepStrictEqual(second.reg.history("b", "z"), []);
      assert.deepStrictEqual(second.reg.history("b", "y").map((p) => p.value), [2]);
      // Later writes do not reuse a sequence number that replay would then skip.
      second.reg.report("b", { z: 6 }, { ts: NOW });
      const after = docs(second.reg);
      await second.reg.close();
      const third = openRegistry(dir);
      assert.deepStrictEqual(docs(third.reg), after);
    });

    it("ignores and removes a leftover snapshot.jsonl.tmp", async function () {
      const dir = freshDir("tmp");
      const { reg } = openRegistry(dir);
      populate(reg);
      const before = docs(reg);
      await reg.close();
      const header = JSON.stringify({ format: "twinwire-snapshot", version: 1, lsn: 1000 });
      const ghost = JSON.stringify({ i: "ghost", m: null, c: NOW, u: NOW, v: 1, l: 999, a: {}, r: {}, on: false, ls: null });
      fs.writeFileSync(path.join(dir, SNAPSHOT_TMP), `${header}\n${ghost}\n{"i":"half`);

      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.deepStrictEqual(docs(second.reg), before);
      assert.strictEqual(second.reg.has("ghost"), false);
      assert.strictEqual(fs.existsSync(path.join(dir, SNAPSHOT_TMP)), false);
      // Numbering continues from the journal, not from the leftover's lsn.
      second.reg.create("next");
      await second.reg.close();
      const last = journalEntries(dir).pop();
      assert.strictEqual(last.i, "next");
      assert.ok(last.l < 999, `lsn ${last.l}`);
    });

    it("throws from open()/recover() when the directory cannot be created (ENOTDIR)", function () {
      const file = path.join(freshDir("notdir"), "plain-file");
      fs.writeFileSync(file, "x");
      const dir = path.join(file, "store");
      assert.throws(() => new FileStore({ dir, mode: "batched" }).recover(), (err) => err.code === "ENOTDIR");
      const reg = new TwinRegistry({ store: new FileStore({ dir, mode: "strict" }) });
      assert.throws(() => reg.open(), (err) => err.code === "ENOTDIR");
    });
  });

  describe("compaction", function () {
    /** Twins with attributes, readings (history), desired state; some deleted. */
    function fleet(reg, n) {
      for (let k = 0; k < n; k++) {
        const id = `m-${k}`;
        reg.create(id, { attributes: { site: `s${k % 7}`, n: k }, desired: k % 3 === 0 ? { rpm: k } : undefined }, { by: "seed" });
        reg.report(id, { temperature: k / 10, rpm: k }, { ts: NOW - 5000, source: `plant/${id}` });
      }
      for (let k = 0; k < n; k += 10) reg.report(`m-${k}`, { temperature: k / 10 + 1 }, { ts: NOW - 4000 });
      for (let k = 5; k < n; k += 50) reg.remove(`m-${k}`);
    }

    it("writes a snapshot, keeps the one before it and the journals since that, deletes the rest, and recovers identical documents", async function () {
      const dir = freshDir("compact");
      const { reg, store } = openRegistry(dir);
      fleet(reg, 300);
      const first = journalFiles(dir);
      await reg.compact();
      assert.strictEqual(snapshotFiles(dir).length, 1, "one snapshot");
      assert.strictEqual(fs.existsSync(path.join(dir, SNAPSHOT_TMP)), false);
      for (const name of first) assert.ok(journalFiles(dir).includes(name), `${name} is kept: it is the fallback of the only snapshot`);
      reg.report("m-1", { rpm: 1 }, { ts: NOW - 3000 });
      const between = journalFiles(dir);
      await reg.compact();
      const older = snapshotFiles(dir);
      assert.strictEqual(older.length, 2, "two snapshots");
      for (const name of first) assert.ok(!journalFiles(dir).includes(name), `${name} was deleted`);
      for (const name of between.filter((n) => !first.includes(n))) assert.ok(journalFiles(dir).includes(name), `${name} is kept for the older snapshot`);
      reg.report("m-1", { rpm: 2 }, { ts: NOW - 2000 });
      await reg.compact();
      assert.deepStrictEqual(snapshotFiles(dir).slice(0, 1), older.slice(1), "the oldest of three snapshots was deleted");
      assert.strictEqual(snapshotFiles(dir).length, 2);
      assert.strictEqual(store.stats.compactions, 3);
      assert.ok(store.stats.longestSliceMs > 0, "longestSliceMs reported");

      const header = JSON.parse(fs.readFileSync(newestSnapshot(dir), "utf8").split("\n")[0]);
      assert.strictEqual(header.format, "twinwire-snapshot");
      const before = docs(reg);
      const history = histories(reg, "temperature");
      await reg.close();

      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.strictEqual(second.reg.size, 294);
      assert.deepStrictEqual(docs(second.reg), before);
      assert.deepStrictEqual(histories(second.reg, "temperature"), history);

      // Changes after the snapshot land in the new journal and survive with it.
      second.reg.report("m-1", { temperature: 99 }, { ts: NOW });
      second.reg.remove("m-2");
      const after = docs(second.reg);
      await second.reg.close();
      const third = openRegistry(dir);
      assert.deepStrictEqual(docs(third.reg), after);
      assert.deepStrictEqual(third.reg.history("m-1", "temperature").map((p) => p.value), [0.1, 99]);
    });

    it("keeps every change made while a snapshot is written, deletes and re-creates included", async function () {
      const dir = freshDir("compact-live");
      const { reg, store } = openRegistry(dir, { mode: "strict", sliceMs: 1 });
      const N = 3000;
      fleet(reg, N);
      assert.ifError(await durable(reg));

      let settled = false;
      let failure = null;
      const compaction = reg.compact().then(
        () => (settled = true),
        (err) => ((settled = true), (failure = err)),
      );
      let n = 0;
      let turns = 0;
      const pending = [];
      while (!settled) {
        turns++;
        for (let j = 0; j < 20; j++, n++) {
          const id = `m-${(n * 7919) % N}`;
          if (!reg.has(id)) continue;
          reg.report(id, { temperature: n, rpm: n % 3000 }, { ts: NOW + n, source: "live" });
        }
        // Delete some, re-create some (a re-created twin moves to the end of the Map being iterated).
        const victim = `m-${(turns * 131) % N}`;
        if (reg.has(victim)) reg.remove(victim);
        reg.create(victim, { attributes: { reborn: turns } });
        reg.report(victim, { temperature: -turns }, { ts: NOW + turns });
        if (turns % 3 === 0 && reg.has(`m-${(turns * 17) % N}`)) reg.remove(`m-${(turns * 17) % N}`);
        pending.push(durable(reg));
        await immediate();
        if (turns % 2) await sleep(0);
      }
      await compaction;
      assert.ifError(failure);
      assert.ok(turns > 3, `writes interleaved with the compaction (${turns} turns)`);
      // More after it, into the new journal.
      reg.report("m-1", { temperature: 1234 }, { ts: NOW + 10 * n });
      pending.push(durable(reg));
      const errors = await Promise.all(pending);
      assert.deepStrictEqual(errors.filter(Boolean), []);
      assert.strictEqual(store.stats.compactions, 1);

      const live = docs(reg);
      const history = histories(reg, "temperature");
      // Crash: everything is durable (strict mode), no close().
      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.strictEqual(second.reg.size, reg.size);
      assert.deepStrictEqual(docs(second.reg), live);
      assert.deepStrictEqual(histories(second.reg, "temperature"), history);
    });

    it("recovers correctly from a crash in the middle of a compaction (old snapshot, tmp, both journals)", async function () {
      const dir = freshDir("compact-crash");
      const { reg } = openRegistry(dir, { mode: "strict", sliceMs: 1 });
      const N = 3000;
      fleet(reg, N);
      await reg.compact(); // the "old" snapshot
      for (let k = 0; k < N; k += 3) if (reg.has(`m-${k}`)) reg.report(`m-${k}`, { rpm: k + 1 }, { ts: NOW - 1000 });
      reg.remove("m-1");
      reg.create("m-1", { attributes: { again: true } });
      assert.ifError(await durable(reg));

      // Second compaction; take a copy of the directory (a crash image) while it is half done.
      const image = freshDir("compact-crash-image");
      let expected = null;
      let settled = false;
      const compaction = reg.compact().finally(() => (settled = true));
      let n = 0;
      while (!settled) {
        const id = `m-${(n * 37) % N}`;
        if (reg.has(id)) reg.report(id, { temperature: 1000 + n }, { ts: NOW + n });
        n++;
        const err = await durable(reg);
        assert.ifError(err);
        // Everything written so far is durable; nothing is in flight in the journal.
        if (!expected && fs.existsSync(path.join(dir, SNAPSHOT_TMP))) {
          fs.cpSync(dir, image, { recursive: true });
          expected = { docs: docs(reg), history: histories(reg, "temperature") };
        }
        await immediate();
      }
      await compaction;
      assert.ok(expected, "caught the compaction half done");
      const files = fs.readdirSync(image).sort();
      assert.ok(snapshotFiles(image).length === 1 && files.includes(SNAPSHOT_TMP), `image: ${files}`);
      assert.ok(journalFiles(image).length >= 2, `image journals: ${files}`);

      const fromImage = openRegistry(image);
      assert.deepStrictEqual(fromImage.warnings, []);
      assert.deepStrictEqual(docs(fromImage.reg), expected.docs);
      assert.deepStrictEqual(histories(fromImage.reg, "temperature"), expected.history);
      assert.strictEqual(fs.existsSync(path.join(image, SNAPSHOT_TMP)), false);

      // And the finished compaction recovers the live state too.
      const live = docs(reg);
      const second = openRegistry(dir);
      assert.deepStrictEqual(docs(second.reg), live);
    });

    it("recovers correctly from a crash after the rename but before the old journals were deleted", async function () {
      const dir = freshDir("compact-crash2");
      const { reg } = openRegistry(dir, { mode: "strict" });
      fleet(reg, 200);
      await reg.compact();
      reg.report("m-3", { rpm: 7 }, { ts: NOW });
      reg.remove("m-4");
      reg.create("fresh", { attributes: { a: 1 } });
      reg.remove("fresh");
      reg.create("fresh", { attributes: { a: 2 } });
      assert.ifError(await durable(reg));
      const saved = journalFiles(dir).map((name) => [name, fs.readFileSync(path.join(dir, name))]);
      await reg.compact();
      reg.report("m-6", { rpm: 8 }, { ts: NOW });
      assert.ifError(await durable(reg));
      const live = docs(reg);
      const history = histories(reg, "temperature");
      const rpm = histories(reg, "rpm");
      // Put the journals the compaction deleted back, as if it had crashed before deleting them.
      for (const [name, data] of saved) if (!fs.existsSync(path.join(dir, name))) fs.writeFileSync(path.join(dir, name), data);
      assert.ok(journalFiles(dir).length >= 2);

      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.deepStrictEqual(docs(second.reg), live);
      assert.deepStrictEqual(histories(second.reg, "temperature"), history, "old entries are not applied twice");
      assert.deepStrictEqual(histories(second.reg, "rpm"), rpm);
    });

    it("reports the longest synchronous slice with 20,000 twins (measured, not asserted)", async function () {
      const dir = freshDir("compact-20k");
      const { reg, store } = openRegistry(dir, { intervalMs: 50 });
      for (let k = 0; k < 20000; k++) {
        reg.create(`dev-${k}`, { attributes: { site: `site-${k % 20}`, line: k % 7 } });
        reg.report(`dev-${k}`, { temperature: 20 + (k % 10), humidity: 40 + (k % 5) }, { ts: NOW - 1000, source: `site-${k % 20}/dev-${k}` });
      }
      await reg.compact();
      const ms = store.stats.longestSliceMs;
      assert.strictEqual(typeof ms, "number");
      assert.ok(Number.isFinite(ms) && ms > 0, `longestSliceMs = ${ms}`);
      const lines = fs.readFileSync(newestSnapshot(dir), "utf8").split("\n").filter(Boolean);
      assert.strictEqual(lines.length, 20002, "header + one line per twin + trailer");
      const sample = ["dev-0", "dev-12345", "dev-19999"].map((id) => JSON.parse(JSON.stringify(reg.get(id))));
      await reg.close();
      const second = openRegistry(dir);
      assert.strictEqual(second.reg.size, 20000);
      assert.deepStrictEqual(["dev-0", "dev-12345", "dev-19999"].map((id) => JSON.parse(JSON.stringify(second.reg.get(id)))), sample);
    });
  });

  describe("disk failure", function () {
    /** Strict-mode store with a faulty io and one durable twin. */
    async function setup(label) {
      const dir = freshDir(label);
      const io = faultyIO();
      const { reg, store } = openRegistry(dir, { mode: "strict", io, retryMs: 30 });
      const health = [];
      store.onHealth((h) => health.push(h));
      reg.create("a", { attributes: { site: "s" } });
      reg.report("a", { x: 1 }, { ts: NOW - 1000 });
      assert.ifError(await durable(reg));
      return { dir, io, reg, store, health, clean: journalText(dir) };
    }

    async function failAndHeal(ctx, code, arm, disarm) {
      const { dir, io, reg, store, health, clean } = ctx;
      io.writes = io.syncs = io.truncates = io.truncatesDone = 0; // count the failing attempts only
      arm(io);
      reg.report("a", { x: 2 }, { ts: NOW });
      const err = await durable(reg);
      assert.ok(err, "whenDurable reports the failure");
      assert.strictEqual(err.name, "TwinError");
      assert.strictEqual(err.code, "store-unavailable");
      assert.match(String(err.params.reason), new RegExp(code));

      assert.strictEqual(store.health().ok, false);
      assert.match(String(store.health().error), new RegExp(code));
      assert.strictEqual(reg.health().ok, false);
      assert.strictEqual(health.length, 1, "onHealth fired once");
      assert.strictEqual(health[0].ok, false);
      assert.match(String(health[0].error), new RegExp(code));

      // Nothing half-written stays in the journal.
      // Read the file only between attempts: every failed attempt so far has been cut back.
      const between = (n) => () => io.truncatesDone >= n && io.truncatesDone === io.truncates && io.writes === io.truncates;
      await waitFor(between(1), "the journal to be cut back");
      assert.strictEqual(journalText(dir), clean, "the journal holds exactly the earlier complete lines");

      // Further writes are refused and change nothing.
      const before = docs(reg);
      throwsTwin(() => reg.report("a", { x: 3 }, { ts: NOW + 1 }), "store-unavailable");
      throwsTwin(() => reg.updateAttributes("a", { site: "t" }), "store-unavailable");
      throwsTwin(() => reg.setDesired("a", { x: 3 }), "store-unavailable");
      throwsTwin(() => reg.create("b"), "store-unavailable");
      throwsTwin(() => reg.remove("a"), "store-unavailable");
      assert.deepStrictEqual(docs(reg), before);
      assert.strictEqual(reg.has("b"), false);

      // Still failing after a few retries: still nothing on disk beyond the clean lines.
      await waitFor(between(io.truncates + 2), "two more failed retries");
      assert.strictEqual(journalText(dir), clean);
      assert.strictEqual(store.health().ok, false);

      // The disk recovers: the kept batch is written and health returns.
      disarm(io);
      await waitFor(() => health.length >= 2, "health to return");
      assert.deepStrictEqual(health[1], { ok: true });
      assert.deepStrictEqual(store.health(), { ok: true });
      const entries = journalEntries(dir);
      assert.deepStrictEqual(entries.map((e) => [e.l, e.o]), [[1, "c"], [2, "u"], [3, "u"]]);
      assert.deepStrictEqual([entries[2].rv, entries[2].rt ?? entries[2].t], [{ x: 2 }, NOW]);

      // Writes work again, and a restart recovers everything including the kept batch.
      reg.report("a", { y: 5 }, { ts: NOW + 2 });
      assert.ifError(await durable(reg));
      const live = docs(reg);
      assert.strictEqual(live.a.reported.x, 2);
      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.deepStrictEqual(docs(second.reg), live);
    }

    it("write fails with ENOSPC after a partial write: error, unhealthy, refuses writes, clean journal, heals on retry", async function () {
      const ctx = await setup("enospc");
      await failAndHeal(
        ctx,
        "ENOSPC",
        (io) => {
          io.failWrite = "ENOSPC";
          io.partial = true;
        },
        (io) => {
          io.failWrite = null;
          io.partial = false;
        },
      );
    });

    it("fdatasync fails with EIO: error, unhealthy, refuses writes, clean journal, heals on retry", async function () {
      const ctx = await setup("eio");
      await failAndHeal(
        ctx,
        "EIO",
        (io) => (io.failSync = "EIO"),
        (io) => (io.failSync = null),
      );
    });

    it("batched mode: a failing disk turns health off and refuses writes until it heals", async function () {
      const dir = freshDir("batched-fail");
      const io = faultyIO();
      const { reg, store } = openRegistry(dir, { mode: "batched", io, intervalMs: 5, retryMs: 20 });
      const health = [];
      store.onHealth((h) => health.push(h));
      reg.create("a");
      await waitFor(() => journalEntries(dir).length === 1, "the create on disk");
      io.failWrite = "ENOSPC";
      io.partial = true;
      reg.report("a", { x: 1 }, { ts: NOW });
      await waitFor(() => health.length === 1, "health to go bad");
      assert.strictEqual(health[0].ok, false);
      throwsTwin(() => reg.report("a", { x: 2 }, { ts: NOW + 1 }), "store-unavailable");
      io.failWrite = null;
      await waitFor(() => health.length === 2, "health to return");
      assert.strictEqual(health[1].ok, true);
      await reg.close();
      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.strictEqual(second.reg.get("a").reported.x, 1);
    });

    // Double faults on the cut-back path: the cut-back must finish (and succeed) before the
    // retried batch is written after it.
    it("a retry never runs before the cut-back of a torn write has finished", async function () {
      const dir = freshDir("slow-truncate");
      const io = faultyIO();
      const { reg, store } = openRegistry(dir, { mode: "strict", io, retryMs: 5 });
      const health = [];
      store.onHealth((h) => health.push(h));
      reg.create("a");
      assert.ifError(await durable(reg));
      io.failWrite = "ENOSPC";
      io.partial = true;
      io.truncateDelayMs = 60; // a slow disk: the ftruncate is still queued when the retry fires
      reg.report("a", { x: 2 }, { ts: NOW });
      const err = await durable(reg);
      assert.strictEqual(err && err.code, "store-unavailable");
      io.failWrite = null; // space again at once
      io.partial = false;
      await waitFor(() => health.length >= 2, "health to return");
      await waitFor(() => io.truncatesDone >= io.truncates, "the cut-back to finish");
      reg.report("a", { y: 3 }, { ts: NOW + 1 });
      assert.ifError(await durable(reg));
      const live = docs(reg);
      assert.strictEqual(live.a.reported.x, 2);
      const second = openRegistry(dir);
      assert.deepStrictEqual(docs(second.reg), live, "the retried batch must survive a restart");
      assert.deepStrictEqual(second.warnings, []);
    });

    it("a torn write that could not be cut back is not followed by the retried batch", async function () {
      const dir = freshDir("failed-truncate");
      const io = faultyIO();
      const { reg, store } = openRegistry(dir, { mode: "strict", io, retryMs: 10 });
      const health = [];
      store.onHealth((h) => health.push(h));
      reg.create("a");
      assert.ifError(await durable(reg));
      io.failWrite = "EIO";
      io.partial = true;
      io.failTruncate = "EIO"; // the device fails the cut-back too
      reg.report("a", { x: 2 }, { ts: NOW });
      const err = await durable(reg);
      assert.strictEqual(err && err.code, "store-unavailable");
      io.partial = false;
      // Nothing may be written after the torn line until the cut-back succeeds: the store keeps
      // retrying the cut-back alone.
      const attempts = io.truncates;
      await waitFor(() => io.truncates >= attempts + 1, "a retry of the cut-back");
      io.failWrite = null; // the device comes back
      io.failTruncate = null;
      await waitFor(() => health.length >= 2, "health to return");
      reg.report("a", { y: 3 }, { ts: NOW + 1 });
      assert.ifError(await durable(reg));
      const live = docs(reg);
      const second = openRegistry(dir);
      assert.deepStrictEqual(second.warnings, []);
      assert.deepStrictEqual(docs(second.reg), live);
    });
  });

  describe("memory mode", function () {
    it("keeps nothing across registries", async function () {
      const store = new MemoryStore();
      assert.strictEqual(store.mode, "memory");
      const reg = new TwinRegistry({ store });
      track(reg);
      assert.deepStrictEqual(reg.open(), []);
      populate(reg);
      assert.strictEqual(reg.size, 3);
      let durableNow = false;
      reg.whenDurable((err) => {
        assert.ifError(err);
        durableNow = true;
      });
      assert.ok(durableNow, "memory mode completes at once");
      await reg.compact();
      await reg.close();

      const again = new TwinRegistry({ store: new MemoryStore() });
      track(again);
      again.open();
      assert.strictEqual(again.size, 0);
      // Not even the same store instance brings anything back.
      const same = new TwinRegistry({ store });
      track(same);
      same.open();
      assert.strictEqual(same.size, 0);
      // The default store is memory.
      const plain = new TwinRegistry();
      track(plain);
      plain.open();
      assert.strictEqual(plain.store.mode, "memory");
      assert.strictEqual(plain.size, 0);
    });
  });
});
