"use strict";
/**
 * What a registry on Redis does with data in Redis that is not what it writes (a hand edit, a
 * damaged restore, another program's keys): it opens with the twins it can read and a warning
 * naming what it skipped, instead of failing to open on every instance.
 */
const assert = require("assert");
const { useRedis } = require("./redis-support");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { MemoryStore } = require("../../nodes/lib/core/store/memory-store");
const { migrate } = require("../../nodes/lib/core/store/migrate");

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
});
