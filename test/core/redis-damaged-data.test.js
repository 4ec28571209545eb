"use strict";
/**
 * What a registry on Redis does with data in Redis that is not what it writes (a hand edit, a
 * damaged restore, another program's keys): it opens with the twins it can read and a warning
 * naming what it skipped, instead of failing to open on every instance; a forwarded change whose
 * answer is not one is refused, not left waiting.
 */
const assert = require("assert");
const { useRedis } = require("./redis-support");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { MemoryStore } = require("../../nodes/lib/core/store/memory-store");
const { migrate } = require("../../nodes/lib/core/store/migrate");
const { waitFor } = require("./store-support");

describe("Redis store with damaged data in Redis", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "everysec" });

  it("opens with the twins it can read, and a warning, when snapshot lines in Redis are JSON but not twins (null, a number, a list)", async function () {
    const source = new TwinRegistry({ store: new MemoryStore() });
    source.open();
    source.create("pump-1", { reported: { temperature: 20 } });
    source.create("pump-2", { reported: { temperature: 21 } });
    const client = ctx.client();
    await migrate({ kind: "registry", registry: source }, { kind: "redis", redis: client, registry: "plant", partitions: 1 });
    const snap = "twinwire:{plant:p0}:snap";
    const data = await client.hget(snap, "data");
    await client.hset(snap, "data", ["null", "42", "[]", data].join("\n"));

    const { reg, warnings } = await ctx.open({ partitions: 1 });
    assert.deepStrictEqual([...reg.ids()].sort(), ["pump-1", "pump-2"]);
    assert.ok(warnings.some((w) => /3 snapshot line\(s\) or stream entries in Redis .* skipped/.test(w)), JSON.stringify(warnings));
    reg.report("pump-1", { temperature: 22 });
    assert.strictEqual(reg.get("pump-1").reported.temperature, 22);
  });

  it("settles a forwarded change, refused, when the answer in Redis is JSON but no answer (null), instead of leaving its caller waiting for ever", async function () {
    const a = await ctx.open({ instance: "a", leaseMs: 1000, renewMs: 100 });
    // An instance that is alive by its heartbeat and never answers: the partitions it owns have no leader here.
    const client = ctx.client();
    await client.zadd(a.store.keys.instances, Date.now() + 600000, "silent#1");
    await waitFor(() => a.store.writableCount() > 0 && a.store.writableCount() < 64, "the silent instance's share given up", 5000);
    let id = null;
    for (let i = 0; !id; i++) if (!a.store.leads(`pump-${i}`)) id = `pump-${i}`;
    const submitted = a.reg.submit({ op: "report", id, values: { temperature: 1 } }).then(() => "resolved", (err) => err);
    await client.xadd(a.store.keys.reply(a.store.instance), "*", "r", `${a.store.instance}:1`, "v", "null");
    let timer;
    const outcome = await Promise.race([submitted, new Promise((resolve) => (timer = setTimeout(() => resolve("still waiting"), 3000)))]);
    clearTimeout(timer);
    assert.ok(outcome instanceof Error, `the caller is answered, not left waiting: ${outcome}`);
    assert.strictEqual(outcome.code, "store-unavailable");
    assert.match(outcome.message, /the leader's answer is not an answer/);
  });
});
