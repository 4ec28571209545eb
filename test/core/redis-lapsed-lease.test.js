"use strict";
/**
 * A lease this instance stopped trusting but still holds on the server: Redis was away for less
 * than the lease's TTL but longer than the instance trusts a lease without a renewal. The
 * partition read again when Redis came back was left unwritable (its lease not trusted at that
 * moment); the next renewal, under the same epoch, must make it writable again. Found by the
 * three-process test (test/integration/redis-shared-registry.test.js): one instance kept its
 * partitions, wrote none of them and answered no forwarded change until it restarted. And a
 * change submitted from another instance while the leader's renewal is late must wait for it, not
 * be refused as "led by another instance" (the three-process test saw readings refused so on a
 * loaded machine).
 */
const assert = require("assert");
const { useRedis, ledBy, split } = require("./redis-support");
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

  it("runs a change submitted while the leader's renewal is late once the lease is renewed, instead of refusing it", async function () {
    // Renewals a second apart: the submitted change arrives well before the next one.
    const lease = { leaseMs: 3000, renewMs: 1000, blockMs: 100 };
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const id = ledBy(a.store, b.store, "pump");
    a.reg.create(id, { reported: { rpm: 1 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id), "the twin on the other instance", 5000);

    // The leader's trust in its lease ran out before its renewal came (a busy machine).
    a.store.leases.held.get(partitionOf(id, 64)).until = Date.now() - 1;
    const result = await b.reg.submit({ op: "report", id, values: { rpm: 2 } });
    assert.strictEqual(result.event.version, 2);
    assert.strictEqual(a.reg.get(id).reported.rpm, 2);
    await waitFor(() => b.reg.get(id).version === 2, "the change on the submitting instance", 5000);
  });
});
