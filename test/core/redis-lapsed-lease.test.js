"use strict";
/**
 * A lease this instance stopped trusting but still holds on the server: Redis was away for less
 * than the lease's TTL but longer than the instance trusts a lease without a renewal. The
 * partition read again when Redis came back was left unwritable (its lease not trusted at that
 * moment); the next renewal, under the same epoch, must make it writable again. Found by the
 * three-process test (test/integration/redis-shared-registry.test.js): one instance kept its
 * partitions, wrote none of them and answered no forwarded change until it restarted.
 */
const assert = require("assert");
const { useRedis } = require("./redis-support");
const { durable, waitFor } = require("./store-support");
const { partitionOf } = require("../../nodes/lib/core/store/redis/partitions");

describe("Redis store: a lease renewed after this instance stopped trusting it", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "always" });

  it("writes the partition again once the lease is renewed under the same epoch", async function () {
    const { reg, store } = await ctx.open({ leaseMs: 3000, renewMs: 200, blockMs: 100 });
    reg.create("pump-1", { reported: { rpm: 1 } });
    assert.strictEqual(await durable(reg), undefined);
    await waitFor(() => store.leads("pump-1"), "the lone instance leading the twin", 5000);
    const p = partitionOf("pump-1", 64);
    const epoch = store.leases.epochOf(p);

    // What a short outage leaves behind (internals set directly: the timing of a real one is not
    // repeatable): the rounds failed until the trust in the lease ran out, and the partition,
    // read again meanwhile, was not made writable.
    store.leases.held.get(p).until = Date.now() - 1;
    store.unlead(p);
    assert.strictEqual(store.leads("pump-1"), false);

    await waitFor(() => store.leads("pump-1"), "the partition led again after the renewal", 5000);
    assert.strictEqual(store.leases.epochOf(p), epoch, "the same lease, renewed");
    reg.report("pump-1", { rpm: 2 });
    assert.strictEqual(await durable(reg), undefined);
    assert.strictEqual(reg.get("pump-1").version, 2);
  });
});
