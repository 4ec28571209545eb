"use strict";
/**
 * Backpressure on a RedisStore: with as many changes waiting for Redis as the bound allows, the
 * next one is refused at once (store-unavailable, saying why) and not applied; once Redis has
 * answered, changes are taken again. The same for changes forwarded to another instance's leader.
 */
const assert = require("assert");
const { useRedis, ledBy, split } = require("./redis-support");
const { durable } = require("./store-support");

function refusedForLoad(fn) {
  assert.throws(fn, (err) => {
    assert.strictEqual(err.code, "store-unavailable", err.stack);
    assert.match(err.params.reason, /waiting for Redis to answer \(at most 5\)/);
    return true;
  });
}

describe("Redis store backpressure", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "always" });

  it("refuses a change beyond the appends in flight it allows, applies none of it, and takes changes again once Redis answers", async function () {
    const { reg, store } = await ctx.open({ maxInFlight: 5 });
    reg.create("pump-1", { reported: { temperature: 0 } });
    assert.strictEqual(await durable(reg), undefined);
    // One turn of the event loop: none of these appends can have been answered yet.
    for (let i = 1; i <= 5; i++) reg.report("pump-1", { temperature: i });
    refusedForLoad(() => reg.report("pump-1", { temperature: 6 }));
    assert.strictEqual(reg.get("pump-1").reported.temperature, 5, "the refused reading is not applied");
    assert.strictEqual(store.stats.refused, 1);
    assert.strictEqual(await durable(reg), undefined, "the readings within the bound are acknowledged");

    reg.report("pump-1", { temperature: 7 });
    assert.strictEqual(await durable(reg), undefined);
    await reg.close();
    const { reg: again } = await ctx.open();
    assert.deepStrictEqual(again.history("pump-1", "temperature").map((p) => p.value), [0, 1, 2, 3, 4, 5, 7]);
  });

  it("refuses a change forwarded to another instance's leader beyond the bound, and forwards again once answered", async function () {
    const a = await ctx.open({ maxInFlight: 5, instance: "a" });
    const b = await ctx.open({ maxInFlight: 5, instance: "b" });
    await split(a, b);
    const id = ledBy(b.store, a.store, "pump");
    b.reg.create(id, { reported: { temperature: 0 } });
    assert.strictEqual(await durable(b.reg), undefined);
    const sent = [];
    for (let i = 1; i <= 5; i++) sent.push(a.reg.submit({ op: "report", id, values: { temperature: i } }));
    await assert.rejects(a.reg.submit({ op: "report", id, values: { temperature: 6 } }), (err) => {
      assert.strictEqual(err.code, "store-unavailable");
      assert.match(err.params.reason, /waiting for an answer \(at most 5\)/);
      return true;
    });
    await Promise.all(sent);
    await a.reg.submit({ op: "report", id, values: { temperature: 7 } });
    assert.deepStrictEqual(a.reg.history(id, "temperature").map((p) => p.value), [0, 1, 2, 3, 4, 5, 7]);
  });
});
