"use strict";
/**
 * The registry on a RedisStore, one instance: what it writes is what a new registry reads back,
 * nothing acknowledged is lost when redis-server is killed, and the server's durability settings
 * are checked against the mode.
 */
const assert = require("assert");
const { useRedis } = require("./redis-support");
const { docs, durable, throwsTwin, waitFor } = require("./store-support");

describe("Redis store (one instance)", function () {
  this.timeout(30000);

  describe("with appendfsync always", function () {
    const ctx = useRedis({ appendfsync: "always" });

    it("gives a new registry every twin as the last one left it: created, reported, desired, attributes, removed, history", async function () {
      const { reg, warnings } = await ctx.open();
      assert.deepStrictEqual(warnings, []);
      reg.create("pump-1", { attributes: { site: "north" }, reported: { temperature: 20 } });
      reg.create("pump-2", { reported: { temperature: 5 } });
      reg.report("pump-1", { temperature: 21 });
      reg.report("pump-1", { temperature: 22, pressure: 1.5 });
      reg.setDesired("pump-1", { speed: 1200 });
      reg.updateAttributes("pump-1", { site: "south", line: 3 });
      reg.setState("pump-1", "mirror", { attempts: 2 });
      reg.remove("pump-2");
      reg.create("valve-9", { reported: { open: true } });
      assert.strictEqual(await durable(reg), undefined);
      const before = docs(reg);
      await reg.close();

      const { reg: again } = await ctx.open();
      assert.deepStrictEqual(docs(again), before);
      assert.deepStrictEqual(again.history("pump-1", "temperature").map((p) => p.value), [20, 21, 22]);
      assert.deepStrictEqual({ ...again.getState("pump-1", "mirror") }, { attempts: 2 });
      assert.strictEqual(again.has("pump-2"), false);
      // Numbering goes on above what was restored: the next change is applied, not "covered".
      again.report("pump-1", { temperature: 23 });
      assert.strictEqual(again.get("pump-1").reported.temperature, 23);
      assert.strictEqual(again.get("pump-1").version, before["pump-1"].version + 1);
    });

    it("reads a partition from its snapshot plus the stream after it, and trims what the snapshot covers", async function () {
      const { reg, store } = await ctx.open({ partitions: 4, snapshotEvery: 10, retentionMs: 0 });
      for (let i = 0; i < 40; i++) reg.report("m-" + (i % 8), { n: i }, { create: {} });
      assert.strictEqual(await durable(reg), undefined);
      assert.ok(store.wantsCompaction(), "40 changes over 4 partitions: every one wants a snapshot");
      // Retention 0 keeps the entries of the millisecond the compaction runs in (MINID is that
      // millisecond's first id): a compaction in the same millisecond as the last appends left two
      // of them before the entry the snapshot names. Let the clock move on first.
      const appended = Date.now();
      while (Date.now() <= appended) await new Promise((resolve) => setTimeout(resolve, 1));
      await reg.compact();
      const client = ctx.client();
      for (let p = 0; p < 4; p++) {
        const k = store.keys.partition(p);
        const covered = await client.hget(k.snap, "id");
        assert.ok(covered, `partition ${p} has a snapshot`);
        // Nothing the snapshot covers is left before the entry it names. (Not a count of what is
        // left: on a loaded machine a lease renewed late adds an entry of its own after it.)
        const older = await client.xrange(k.log, "-", "(" + covered);
        assert.deepStrictEqual(older.map(([id]) => id), [], `partition ${p}: entries before the one its snapshot names (${covered}) are trimmed`);
      }
      for (let i = 40; i < 44; i++) reg.report("m-" + (i % 8), { n: i });
      assert.strictEqual(await durable(reg), undefined);
      const before = docs(reg);
      await reg.close();
      const { reg: again } = await ctx.open();
      assert.deepStrictEqual(docs(again), before);
      assert.deepStrictEqual(again.history("m-0", "n").map((p) => p.value), [0, 8, 16, 24, 32, 40]);
    });

    it("restores exactly the state of a snapshot written while the same twins kept changing: no reading lost or doubled", async function () {
      const { reg } = await ctx.open({ partitions: 2, snapshotEvery: 1, retentionMs: 0 }, { historyLength: 1000 });
      const ids = Array.from({ length: 300 }, (_, i) => `m-${i}`);
      for (const id of ids) reg.create(id, { attributes: { big: "x".repeat(30000) }, reported: { n: 0 } });
      assert.strictEqual(await durable(reg), undefined);
      // The snapshot is serialised in slices: readings arrive between them.
      const compacting = reg.compact();
      let n = 0;
      let done = false;
      compacting.then(() => (done = true));
      // Every 20th round waits for Redis to take what was sent: on a loaded machine readings sent
      // without ever waiting outran a slow server and were refused at maxInFlight, which is not
      // what this tests.
      while (!done) {
        for (const id of ids.slice(0, 20)) reg.report(id, { n: ++n });
        if (n % 400 === 0) assert.strictEqual(await durable(reg), undefined);
        else await new Promise((resolve) => setImmediate(resolve));
      }
      await compacting;
      for (const id of ids.slice(0, 20)) reg.report(id, { n: ++n });
      assert.strictEqual(await durable(reg), undefined);
      assert.ok(reg.store.stats.compactions >= 1, "a snapshot was written");
      assert.ok(n > 20, `readings arrived while the snapshot was serialised (${n})`);
      const before = docs(reg);
      const historyBefore = reg.history("m-0", "n").map((p) => p.value);
      await reg.close();
      const { reg: again } = await ctx.open({}, { historyLength: 1000 });
      assert.deepStrictEqual(docs(again), before);
      assert.deepStrictEqual(again.history("m-0", "n").map((p) => p.value), historyBefore);
    });

    it("loses nothing acknowledged when redis-server is killed (SIGKILL) in the middle of a stream of readings", async function () {
      const { reg } = await ctx.open({}, { historyLength: 1000 });
      const acked = new Map(); // twin -> readings acknowledged
      let refused = 0;
      let n = 0;
      let killed = null;
      let ackedCount = 0;
      // Readings as fast as the server answers, each acknowledged on its own whenDurable.
      while (refused === 0 || !killed) {
        const id = "sensor-" + (n % 10);
        const value = n++;
        try {
          reg.report(id, { n: value }, { create: {} });
        } catch (err) {
          assert.strictEqual(err.code, "store-unavailable");
          refused++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        reg.whenDurable((err) => {
          if (err) return;
          (acked.get(id) || acked.set(id, []).get(id)).push(value);
          // Killed with changes still in flight: some acknowledged, some not yet answered.
          if (++ackedCount === 300) killed = ctx.server.kill("SIGKILL");
        });
        if (n % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (n > 200000) break;
      }
      await killed;
      await reg.close().catch(() => undefined);
      const total = [...acked.values()].reduce((a, b) => a + b.length, 0);
      assert.ok(total >= 300, `readings were acknowledged before the kill (${total})`);
      assert.ok(refused > 0, "changes are refused while Redis is down");

      ctx.server = await ctx.server.restart();
      ctx.servers.push(ctx.server);
      const { reg: again } = await ctx.open({}, { historyLength: 1000 });
      for (const [id, values] of acked) {
        const kept = new Set(again.history(id, "n").map((p) => p.value));
        const lost = values.filter((v) => !kept.has(v));
        assert.deepStrictEqual(lost, [], `${id}: acknowledged readings missing after the restart`);
      }
    });

    it("refuses changes with store-unavailable while Redis is down, and takes them again once it is back", async function () {
      const { reg, store } = await ctx.open();
      reg.create("pump-1", { reported: { t: 1 } });
      assert.strictEqual(await durable(reg), undefined);
      await ctx.server.kill("SIGKILL");
      await waitFor(() => !store.health().ok, "the store to see Redis gone");
      throwsTwin(() => reg.report("pump-1", { t: 2 }), "store-unavailable");
      assert.strictEqual(reg.get("pump-1").reported.t, 1, "a refused change is not applied");
      ctx.server = await ctx.server.restart();
      ctx.servers.push(ctx.server);
      await waitFor(() => {
        try {
          reg.report("pump-1", { t: 3 });
          return true;
        } catch {
          return false;
        }
      }, "a change accepted again", 15000);
      assert.strictEqual(await durable(reg), undefined);
      assert.strictEqual(reg.get("pump-1").reported.t, 3);
    });
  });

  describe("without a server", function () {
    const ctx = useRedis({ appendfsync: "always" });

    it("fails to open with store-unavailable when Redis cannot be reached, and closes without waiting for it", async function () {
      await ctx.server.kill("SIGKILL");
      const opening = ctx.open();
      await assert.rejects(opening, (err) => err.code === "store-unavailable" && /ECONNREFUSED/.test(err.message));
      const reg = ctx.registries[ctx.registries.length - 1];
      const started = Date.now();
      await reg.close();
      assert.ok(Date.now() - started < 2000, "close() does not wait for a server that is not there");
    });
  });

  describe("durability check", function () {
    const ctx = useRedis({ appendfsync: "everysec" });

    it("warns at open when strict mode is asked of a server that syncs its AOF every second, and not in batched mode", async function () {
      const strict = await ctx.open({ mode: "strict" });
      assert.strictEqual(strict.warnings.length, 1);
      assert.match(strict.warnings[0], /not "always"/);
      await strict.reg.close();
      const batched = await ctx.open({ mode: "batched" });
      assert.deepStrictEqual(batched.warnings, []);
    });
  });

  describe("durability check without an AOF", function () {
    const ctx = useRedis({ appendfsync: null });

    it("warns at open that a restart of Redis loses changes when the server runs without appendonly", async function () {
      const { warnings } = await ctx.open({ mode: "batched" });
      assert.strictEqual(warnings.length, 1);
      assert.match(warnings[0], /without its append-only file/);
    });
  });
});
