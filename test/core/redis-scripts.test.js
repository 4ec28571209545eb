"use strict";
/**
 * The Lua scripts on a real redis-server, called as the store calls them: an append lands only
 * under the partition's current epoch and when the twin's version is the one it follows; a lease
 * has one holder and a new holder gets a new epoch; a snapshot is fenced like an append.
 */
const assert = require("assert");
const { useRedis } = require("./redis-support");
const { APPEND, ACQUIRE, RELEASE, SNAPSHOT } = require("../../nodes/lib/core/store/redis/scripts");
const { RedisKeys } = require("../../nodes/lib/core/store/redis/keys");

describe("Redis store scripts", function () {
  this.timeout(20000);
  const ctx = useRedis({ appendfsync: "always" });
  let redis;
  const k = new RedisKeys("t:", "plant").partition(3);

  beforeEach(function () {
    redis = ctx.client();
    redis.defineCommand("twAppend", { numberOfKeys: 3, lua: APPEND });
    redis.defineCommand("twAcquire", { numberOfKeys: 2, lua: ACQUIRE });
    redis.defineCommand("twRelease", { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand("twSnapshot", { numberOfKeys: 3, lua: SNAPSHOT });
  });

  const append = (epoch, id, check, version) => redis.twAppend(k.epoch, k.ver, k.log, String(epoch), id, check, version, JSON.stringify({ i: id, v: version }), "me");

  it("gives a lease to one instance at a time, with a new epoch for each new holder and the same one when renewed", async function () {
    assert.strictEqual(await redis.twAcquire(k.lease, k.epoch, "a", 5000), 1);
    assert.strictEqual(await redis.twAcquire(k.lease, k.epoch, "b", 5000), null, "held by a");
    assert.strictEqual(await redis.twAcquire(k.lease, k.epoch, "a", 5000), 1, "renewed: same epoch");
    assert.strictEqual(await redis.twRelease(k.lease, "b"), 0, "b cannot give up a's lease");
    assert.strictEqual(await redis.twRelease(k.lease, "a"), 1);
    assert.strictEqual(await redis.twAcquire(k.lease, k.epoch, "b", 5000), 2);
  });

  it("appends only under the partition's current epoch and when the twin's version is the one the entry follows", async function () {
    await redis.twAcquire(k.lease, k.epoch, "a", 5000); // epoch 1
    const id = await append(1, "pump-1", "new", 1);
    assert.match(id, /^\d+-\d+$/);
    await assert.rejects(append(1, "pump-1", "new", 1), /^ReplyError: VERSION pump-1 exists/);
    await assert.rejects(append(1, "pump-1", "next", 3), /VERSION pump-1 is at 1, not 2/);
    await append(1, "pump-1", "next", 2);
    await assert.rejects(append(1, "ghost", "exists", 0), /VERSION ghost does not exist/);
    await redis.twRelease(k.lease, "a");
    await redis.twAcquire(k.lease, k.epoch, "b", 5000); // epoch 2: a is fenced
    await assert.rejects(append(1, "pump-1", "next", 3), /FENCED/);
    assert.strictEqual(await redis.xlen(k.log), 2, "only the two accepted entries are in the stream");
    assert.strictEqual(await redis.hget(k.ver, "pump-1"), "2");
    await append(2, "pump-1", "delete", 0);
    assert.strictEqual(await redis.hget(k.ver, "pump-1"), null, "a removed twin has no version left");
  });

  it("writes a snapshot only under the current epoch, and trims the stream up to the id it is given", async function () {
    await redis.twAcquire(k.lease, k.epoch, "a", 5000);
    const first = await append(1, "pump-1", "new", 1);
    const second = await append(1, "pump-1", "next", 2);
    await assert.rejects(redis.twSnapshot(k.epoch, k.snap, k.log, "7", second, "{}", second), /FENCED/);
    assert.strictEqual(await redis.exists(k.snap), 0);
    await redis.twSnapshot(k.epoch, k.snap, k.log, "1", second, '{"i":"pump-1"}', second);
    assert.deepStrictEqual(await redis.hgetall(k.snap), { id: second, data: '{"i":"pump-1"}' });
    const left = (await redis.xrange(k.log, "-", "+")).map(([id]) => id);
    assert.deepStrictEqual(left, [second], `${first} trimmed`);
  });
});
