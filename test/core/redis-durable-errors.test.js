"use strict";
/**
 * Which changes a refused append fails on a RedisStore: the callers of the turn that made it, not
 * the callers of later turns whose own appends landed (an error there says "not made", so a flow
 * that retries on it would make the change twice).
 */
const assert = require("assert");
const { useRedis } = require("./redis-support");
const { durable } = require("./store-support");
const { partitionOf } = require("../../nodes/lib/core/store/redis/partitions");

describe("Redis store durability errors", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "everysec" });

  it("acknowledges a change whose append landed although an earlier turn's change of another twin, still unanswered, is refused", async function () {
    const { reg, store } = await ctx.open({ mode: "batched" });
    reg.create("pump-1", { reported: { temperature: 20 } });
    reg.create("pump-2", { reported: { temperature: 20 } });
    assert.strictEqual(await durable(reg), undefined);
    // Redis holds pump-1 at a version this instance never made (out of step): its next append is refused.
    const client = ctx.client();
    await client.hset(store.keys.partition(partitionOf("pump-1", store.partitions)).ver, "pump-1", 50);

    reg.report("pump-1", { temperature: 21 });
    const first = durable(reg);
    // The next turn: the append above is on its way, not answered (its reply needs a read of the socket).
    const second = await new Promise((resolve) => setImmediate(() => {
      reg.report("pump-2", { temperature: 22 });
      resolve(durable(reg));
    }));
    const refused = await first;
    assert.ok(refused, "the refused change is not acknowledged");
    assert.strictEqual(refused.code, "store-unavailable");
    assert.match(refused.message, /the change to twin "pump-1" was refused: Redis holds another version of it \(VERSION pump-1 is at 50, not 1\); the twin is read again from Redis, then the change can be sent again/);
    assert.strictEqual(await second, undefined, "the change that landed is acknowledged");
    assert.strictEqual((await client.hget(store.keys.partition(partitionOf("pump-2", store.partitions)).ver, "pump-2")), "2");
  });
});
