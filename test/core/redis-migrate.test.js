"use strict";
/**
 * Migration of a registry between a local file store and Redis (src/core/store/migrate.ts): every
 * twin arrives whole (documents, history, desired, lifecycle, private state, versions), a
 * registry opened on the target goes on writing it, and a target holding twins or in use is
 * refused unless the caller says to replace it.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { useRedis } = require("./redis-support");
const { NOW, useStoreDirs, freshDir, openRegistry, docs, durable, populate, waitFor } = require("./store-support");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { MemoryStore } = require("../../nodes/lib/core/store/memory-store");
const { partitionOf } = require("../../nodes/lib/core/store/redis/partitions");
const { migrate, MigrationError } = require("../../nodes/lib/core/store/migrate");

/** What a user reads of a registry: documents, every history, private state. */
function everything(reg) {
  const histories = {};
  for (const id of [...reg.ids()].sort()) {
    histories[id] = {};
    for (const name of ["temperature", "rpm", "pressure"]) histories[id][name] = reg.history(id, name);
  }
  return { docs: docs(reg), histories, mirror: reg.getState("pump-07", "mirror") };
}

/** A closed local store with twins of every kind; returns what a registry reads of it. */
async function localStore(dir) {
  const { reg } = openRegistry(dir, { mode: "strict" });
  populate(reg);
  reg.setLifecycle("pump-07", { stage: "operating", since: NOW - 1000, operatingHours: 12.5, cycles: 3 });
  reg.setPrediction("valve-1", "pressure", { method: "holt", forecast: 3.3, lower: 3, upper: 3.6, horizon: 60, anomaly: false });
  reg.setState("pump-07", "mirror", { attempts: 2, due: NOW });
  for (let i = 0; i < 30; i++) reg.report(`m-${i}`, { temperature: i, rpm: 1000 + i }, { create: {}, ts: NOW + i });
  assert.strictEqual(await durable(reg), undefined);
  const seen = everything(reg);
  await reg.close();
  return seen;
}

function rejectsWith(promise, code) {
  return assert.rejects(promise, (err) => {
    assert.ok(err instanceof MigrationError, `a MigrationError, got ${err && err.stack}`);
    assert.strictEqual(err.code, code);
    return true;
  });
}

describe("Migration between a local store and Redis", function () {
  this.timeout(30000);
  useStoreDirs("migrate");
  const ctx = useRedis({ appendfsync: "everysec" });

  it("moves every twin from a local store to Redis and back whole: documents, history, desired, lifecycle, prediction, private state, versions", async function () {
    const dir = freshDir("from");
    const before = await localStore(dir);
    const redis = { kind: "redis", redis: ctx.client(), registry: "plant", partitions: 8 };

    const up = await migrate({ kind: "local", dir }, redis);
    assert.strictEqual(up.twins, 33);
    assert.strictEqual(up.history, 5 * 2 + 1 + 30 * 2, "every history point counted: pump-07's 10, valve-1's pressure, two per m-<n>");
    assert.strictEqual(up.replaced, 0);

    const { reg: shared } = await ctx.open({ partitions: 8, mode: "batched" }, { historyLength: 20 });
    assert.deepStrictEqual(everything(shared), before);
    // The versions in Redis are the twins': the next change is appended, not refused by the version check.
    shared.report("pump-07", { temperature: 70 }, { ts: NOW + 100 });
    assert.strictEqual(await durable(shared), undefined);
    assert.strictEqual(shared.get("pump-07").version, before.docs["pump-07"].version + 1);
    const onRedis = everything(shared);
    await shared.close();

    const back = freshDir("back");
    const down = await migrate(redis, { kind: "local", dir: back });
    assert.strictEqual(down.twins, 33);
    assert.strictEqual(down.history, up.history + 1);
    const { reg: local } = openRegistry(back, { mode: "strict" });
    assert.deepStrictEqual(everything(local), onRedis);
    local.report("valve-1", { pressure: 3.4 }, { ts: NOW + 200 });
    assert.strictEqual(await durable(local), undefined);
    assert.strictEqual(local.get("valve-1").version, onRedis.docs["valve-1"].version + 1);
  });

  it("refuses to write over twins already in the target, and replaces them only when told (a local directory is set aside, not deleted)", async function () {
    const dir = freshDir("src");
    await localStore(dir);
    const redis = { kind: "redis", redis: ctx.client(), registry: "plant", partitions: 4 };
    await migrate({ kind: "local", dir }, redis);
    await rejectsWith(migrate({ kind: "local", dir }, redis), "target-not-empty");

    const other = freshDir("other");
    const { reg } = openRegistry(other);
    reg.create("only-one", { reported: { temperature: 1 } });
    assert.strictEqual(await durable(reg), undefined);
    await reg.close();
    const replaced = await migrate({ kind: "local", dir: other }, redis, { replace: true });
    assert.deepStrictEqual([replaced.twins, replaced.replaced], [1, 33]);
    const { reg: shared } = await ctx.open({ partitions: 4 });
    assert.deepStrictEqual([...shared.ids()], ["only-one"]);
    await shared.close();

    await rejectsWith(migrate(redis, { kind: "local", dir }), "target-not-empty");
    const result = await migrate(redis, { kind: "local", dir }, { replace: true });
    assert.strictEqual(result.replaced, 33);
    assert.ok(result.setAside && fs.existsSync(result.setAside), "the replaced store is kept beside the directory");
    assert.strictEqual(path.dirname(result.setAside), path.dirname(dir));
    const { reg: local } = openRegistry(dir);
    assert.deepStrictEqual([...local.ids()], ["only-one"]);
  });

  it("refuses to write a Redis registry that an instance has open", async function () {
    const dir = freshDir("src");
    await localStore(dir);
    await ctx.open({ registry: "busy" });
    await rejectsWith(migrate({ kind: "local", dir }, { kind: "redis", redis: ctx.client(), registry: "busy" }, { replace: true }), "target-in-use");
  });

  it("keeps fencing an instance paused on a registry that a migration replaced: its change is refused, not written over the migrated twins", async function () {
    const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };
    const paused = await ctx.open({ ...lease, instance: "a" });
    paused.reg.create("pump-1", { reported: { temperature: 20 } });
    assert.strictEqual(await durable(paused.reg), undefined);
    // A stops (its clock stands still): it still believes it leads every partition, under its epochs.
    paused.store.leases.freeze();
    const client = ctx.client();
    let live = 1;
    const count = () => client.zcount(paused.store.keys.instances, Date.now(), "+inf").then((n) => (live = n));
    await count();
    await waitFor(() => (count(), live === 0), "the paused instance's heartbeat to lapse", 5000);

    const source = new TwinRegistry({ store: new MemoryStore() });
    source.open();
    source.create("pump-1", { reported: { temperature: 30 } });
    const result = await migrate({ kind: "registry", registry: source }, { kind: "redis", redis: client, registry: "plant" }, { replace: true });
    assert.strictEqual(result.replaced, 1);
    const next = await ctx.open({ ...lease, instance: "b" });
    await waitFor(() => next.store.leads("pump-1"), "the new instance to lead the migrated twin", 5000);
    assert.ok(paused.store.leads("pump-1"), "the paused instance still believes it leads the twin");

    paused.reg.report("pump-1", { temperature: 99 });
    const err = await durable(paused.reg);
    assert.ok(err, "the paused instance's change is not acknowledged");
    assert.match(err.message, /led by another instance now .* the change was refused/);
    next.reg.report("pump-1", { temperature: 31 });
    assert.strictEqual(await durable(next.reg), undefined, "the new leader's change follows the migrated twin's version");
    const k = next.store.keys.partition(partitionOf("pump-1", next.store.partitions)).log;
    const written = (await client.xrange(k, "-", "+")).map(([, fields]) => JSON.parse(fields[1]));
    assert.deepStrictEqual(written.map((e) => e.r?.temperature?.[0] ?? e.rv?.temperature), [31], "only the new leader's change is in the stream");
  });
});
