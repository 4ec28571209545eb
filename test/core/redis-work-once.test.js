"use strict";
/**
 * Work done once on a registry shared on Redis: a follower with an effect outside the registry
 * (here twin-mirror's commands to a device) acts only for the twins its instance leads, on the
 * changes made there; when the leader goes, the instance that takes the twin over resumes the
 * work it left (a delta still waiting for the device) from what the twin keeps.
 */
const assert = require("assert");
const { Mirror } = require("../../nodes/lib/core/mirror");
const { useRedis, ledBy, split } = require("./redis-support");
const { durable, waitFor } = require("./store-support");

describe("Work done once on a registry shared on Redis", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "always" });
  const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };

  function mirrorOn(instance, commands, syncs, errors) {
    const mirror = new Mirror({
      registry: instance.reg,
      timeoutMs: 1500,
      retries: 1,
      onCommand: (command) => commands.push({ on: instance.store.instance, reason: command.reason, twinId: command.twinId, delta: { ...command.delta } }),
      onSync: (event) => syncs.push({ on: instance.store.instance, status: event.status, attempts: event.attempts }),
      onError: (err) => errors.push(err),
    });
    mirror.start();
    return mirror;
  }

  it("sends a desired change to the device once across both instances, and the instance that takes the twin over resends the pending delta once", async function () {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const id = ledBy(a.store, b.store, "valve");
    const commands = [];
    const syncs = [];
    const errors = [];
    const mirrorA = mirrorOn(a, commands, syncs, errors);
    mirrorOn(b, commands, syncs, errors);

    a.reg.create(id, { reported: { position: 10 } });
    a.reg.setDesired(id, { position: 50 });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => commands.length === 1, "the command for the desired change", 5000);
    // The mirror's tracking (pending, attempt 1, its deadline) travels with the twin.
    await waitFor(() => b.reg.getState(id, "mirror") !== undefined, "the leader's tracking on the other instance", 5000);
    assert.deepStrictEqual(commands, [{ on: a.store.instance, reason: "change", twinId: id, delta: { position: 50 } }]);

    // A mirror that starts on the instance that does not lead the twin takes nothing up.
    const late = [];
    const mirrorLate = mirrorOn(b, late, [], errors);
    assert.deepStrictEqual(mirrorLate.counts(), { pending: 0, failed: 0 });
    mirrorLate.close();

    // The leader goes before the device answered: the other instance takes the twin, and sends
    // the delta again once its wait is over (a retry, attempt 2), not at once and not twice.
    mirrorA.close();
    await a.reg.close();
    await waitFor(() => b.store.leads(id), "the remaining instance to lead the twin", 10000);
    await waitFor(() => commands.length === 2, "the pending delta sent again by the new leader", 10000);
    assert.deepStrictEqual(commands[1], { on: b.store.instance, reason: "retry", twinId: id, delta: { position: 50 } });

    b.reg.report(id, { position: 50 });
    await waitFor(() => syncs.some((s) => s.status === "applied"), "the device's answer settling the delta", 5000);
    assert.deepStrictEqual(syncs.filter((s) => s.status === "applied"), [{ on: b.store.instance, status: "applied", attempts: 2 }]);
    assert.strictEqual(commands.length, 2);
    assert.deepStrictEqual(late, []);
    assert.deepStrictEqual(errors, []);
    assert.strictEqual(await durable(b.reg), undefined);
  });
});
