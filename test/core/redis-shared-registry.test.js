"use strict";
/**
 * Several registries (instances, each with its own connections, in this process) on one Redis:
 * the partitions' leases are split between them, each sees what the others write through the
 * streams (and catches up from the last id it saw after Redis comes back), a joining instance
 * takes partitions over under load without losing or refusing an accepted change, and an instance
 * that lost a lease while paused cannot write: the server refuses it (fencing).
 */
const assert = require("assert");
const { useRedis, ledBy, split } = require("./redis-support");
const { docs, durable, throwsTwin, waitFor } = require("./store-support");

const plain = (value) => JSON.parse(JSON.stringify(value));

describe("Redis store shared by several instances", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "always" });
  const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };

  it("splits the partitions' leases between the instances, and each sees the changes the other makes", async function () {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const held = [...a.store.leases.heldPartitions(), ...b.store.leases.heldPartitions()].sort((x, y) => x - y);
    assert.deepStrictEqual(held, Array.from({ length: 64 }, (_, p) => p), "every partition has exactly one holder");

    const onA = ledBy(a.store, b.store, "pump");
    const onB = ledBy(b.store, a.store, "valve");
    a.reg.create(onA, { reported: { temperature: 20 } });
    a.reg.report(onA, { temperature: 21 });
    b.reg.create(onB, { reported: { open: true } });
    b.reg.setDesired(onB, { open: false });
    assert.strictEqual(await durable(a.reg), undefined);
    assert.strictEqual(await durable(b.reg), undefined);
    await waitFor(() => b.reg.has(onA) && b.reg.get(onA).version === 2, `${onA} on the other instance`, 5000);
    await waitFor(() => a.reg.has(onB) && a.reg.get(onB).version === 2, `${onB} on the other instance`, 5000);
    assert.deepStrictEqual(plain(b.reg.get(onA)), plain(a.reg.get(onA)));
    assert.deepStrictEqual(plain(a.reg.get(onB)), plain(b.reg.get(onB)));
    assert.deepStrictEqual(b.reg.history(onA, "temperature").map((p) => p.value), [20, 21]);

    // A change on the instance that does not lead the twin is refused there, and changes nothing.
    throwsTwin(() => b.reg.report(onA, { temperature: 99 }), "store-unavailable");
    assert.strictEqual(b.reg.get(onA).reported.temperature, 21);
  });

  it("keeps an instance whose clock runs an hour ahead from taking the others for gone: who is alive is on Redis's clock", async function () {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const realNow = Date.now;
    try {
      // b's machine clock jumps an hour ahead (a host without NTP, a VM resumed) for its next rounds.
      Date.now = () => realNow() + 3600 * 1000;
      for (let i = 0; i < 3; i++) await b.store.leases.round();
    } finally {
      Date.now = realNow;
    }
    assert.strictEqual(b.store.leases.live.length, 2, `b sees ${b.store.leases.live.join(", ")}`);
    await a.store.leases.round();
    assert.strictEqual(a.store.leases.live.length, 2, `a sees ${a.store.leases.live.join(", ")}`);
    assert.ok(a.store.leases.heldPartitions().length > 0 && b.store.leases.heldPartitions().length > 0, "both still lead partitions");
  });

  it("takes over the partitions of an instance that leaves: the twins it led stay writable, and a reading older than the last one it took is still refused", async function () {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const onB = ledBy(b.store, a.store, "valve");
    const now = Date.now();
    b.reg.create(onB, { reported: { open: true } }, { ts: now - 1000 });
    b.reg.report(onB, { position: 40 }, { ts: now });
    assert.strictEqual(await durable(b.reg), undefined);
    await waitFor(() => a.reg.has(onB) && a.reg.get(onB).version === 2, `${onB} on the other instance`, 5000);
    await b.reg.close();
    await waitFor(() => a.store.leads(onB), "the remaining instance to lead every partition", 10000);
    const late = a.reg.report(onB, { position: 10 }, { ts: now - 500 });
    assert.deepStrictEqual(late.stale, ["position"], "a reading older than the one the other instance took");
    a.reg.report(onB, { open: false }, { ts: now + 1 });
    assert.strictEqual(await durable(a.reg), undefined);
    assert.strictEqual(a.reg.get(onB).version, 3);
    assert.strictEqual(a.reg.get(onB).reported.position, 40);
  });

  it("catches up from the last stream id it saw once Redis comes back after a SIGKILL, with no change twice or missing", async function () {
    const a = await ctx.open(lease, { historyLength: 100 });
    const b = await ctx.open(lease, { historyLength: 100 });
    await split(a, b);
    const id = ledBy(a.store, b.store, "meter");
    a.reg.create(id, { reported: { n: 0 } });
    for (let n = 1; n <= 10; n++) a.reg.report(id, { n });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id) && b.reg.get(id).reported.n === 10, "the first readings on the other instance", 5000);

    await ctx.server.kill("SIGKILL");
    await waitFor(() => !a.store.health().ok && !b.store.health().ok, "both instances to see Redis gone", 5000);
    ctx.server = await ctx.server.restart();
    ctx.servers.push(ctx.server);
    // Whoever leads the twin once both are back writes the next readings; the other follows.
    let writer;
    await waitFor(() => (writer = [a, b].find((x) => x.store.leads(id))), "an instance leading the twin again", 15000);
    const other = writer === a ? b : a;
    for (let n = 11; n <= 30; n++) writer.reg.report(id, { n });
    assert.strictEqual(await durable(writer.reg), undefined);
    await waitFor(() => other.reg.get(id).reported.n === 30, "the readings made after the restart on the other instance", 10000);
    assert.deepStrictEqual(other.reg.history(id, "n").map((p) => p.value), Array.from({ length: 31 }, (_, n) => n));
    assert.deepStrictEqual(docs(other.reg), docs(writer.reg));
  });

  it("keeps every acknowledged reading, once, on every instance while a third instance joins and partitions change hands under load", async function () {
    const options = { historyLength: 5000 };
    const all = [await ctx.open(lease, options), await ctx.open(lease, options)];
    await split(all[0], all[1]);
    const ids = Array.from({ length: 40 }, (_, i) => `meter-${i}`);
    const acked = new Map(ids.map((id) => [id, []]));
    let n = 0;
    let refused = 0;
    const failed = [];
    let joined = null;
    const deadline = Date.now() + 4000;
    // Each instance writes the twins it leads now; a reading for a twin led elsewhere is refused
    // (the forwarding path is not built yet) and simply not counted.
    while (Date.now() < deadline) {
      for (const instance of all) {
        for (const id of ids) {
          if (!instance.store.leads(id)) continue;
          const value = n++;
          try {
            instance.reg.report(id, { n: value }, { create: {} });
          } catch (err) {
            assert.strictEqual(err.code, "store-unavailable");
            refused++;
            continue;
          }
          instance.reg.whenDurable((err) => {
            if (err) failed.push(err.message);
            else acked.get(id).push(value);
          });
        }
      }
      if (!joined && Date.now() > deadline - 3000) joined = ctx.open(lease, options).then((c) => all.push(c));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await joined;
    for (const instance of all) await durable(instance.reg);
    const third = all[2];
    assert.ok(third.store.leases.heldPartitions().length > 0, "the instance that joined leads partitions");
    const total = [...acked.values()].reduce((a, b) => a + b.length, 0);
    assert.ok(total > 200, `readings acknowledged (${total}, ${refused} refused)`);
    // A leader stops writing before it gives a partition up, and a new one reads the stream to its
    // end before it writes: a handover refuses nothing already accepted.
    assert.deepStrictEqual(failed, [], "changes accepted by an instance and then refused by the server");
    // Every instance ends with the same twins, and each acknowledged reading once in each history.
    await waitFor(() => all.every((x) => ids.every((id) => x.reg.has(id) && x.reg.get(id).version === all[0].reg.get(id)?.version)), "every instance to hold the same versions", 10000);
    const expected = docs(all[0].reg);
    for (const instance of all.slice(1)) assert.deepStrictEqual(docs(instance.reg), expected);
    for (const instance of all) {
      for (const id of ids) {
        const history = instance.reg.history(id, "n").map((p) => p.value);
        assert.strictEqual(new Set(history).size, history.length, `${id}: a reading twice in the history`);
        const kept = new Set(history);
        const lost = acked.get(id).filter((v) => !kept.has(v));
        assert.deepStrictEqual(lost, [], `${id} on ${instance.store.instance}: acknowledged readings missing`);
      }
    }
  });

  it("tells what changed when a paused instance reads its twin again from Redis: its refused change goes back, and the new leader's changes it missed arrive, as events marked elsewhere", async function () {
    const a = await ctx.open(lease);
    a.reg.create("pump-1", { reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    a.store.leases.freeze();
    const b = await ctx.open(lease);
    await waitFor(() => b.store.leads("pump-1"), "the other instance to take the lapsed lease", 10000);
    // The paused instance believes it writes the partition, so it does not follow it: it misses these.
    b.reg.report("pump-1", { temperature: 21 });
    b.reg.setDesired("pump-1", { temperature: 25 });
    assert.strictEqual(await durable(b.reg), undefined);
    const events = [];
    a.reg.subscribe((event) => events.push(plain(event)));

    a.reg.report("pump-1", { temperature: 99 });
    assert.ok(await durable(a.reg), "the paused instance's change is refused");
    await waitFor(() => a.reg.get("pump-1").reported.temperature === 21, "the twin read again from Redis", 5000);
    assert.deepStrictEqual(plain(a.reg.get("pump-1")), plain(b.reg.get("pump-1")));
    const made = events.filter((e) => !e.origin);
    assert.deepStrictEqual(made.map((e) => e.section), ["reported"], "the paused instance's own change, before it was refused");
    const back = events.filter((e) => e.origin === "elsewhere");
    const version = b.reg.get("pump-1").version;
    const ts = b.reg.get("pump-1").updated;
    assert.deepStrictEqual(back.map((e) => [e.section, e.version, e.changes]), [
      ["reported", version, { temperature: { value: 21, previous: 99, ts: b.reg.get("pump-1").meta.reported.temperature.ts } }],
      ["desired", version, { temperature: { value: 25, previous: null, ts: b.reg.get("pump-1").meta.desired.temperature.ts } }],
      ["delta", version, { temperature: { value: 25, previous: null, ts } }],
    ]);
  });

  it("tells each change once on an instance reading its twin again from Redis while the new leader goes on writing it", async function () {
    const a = await ctx.open(lease);
    a.reg.create("pump-1", { reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    a.store.leases.freeze();
    const b = await ctx.open(lease);
    await waitFor(() => b.store.leads("pump-1"), "the other instance to take the lapsed lease", 10000);
    b.reg.report("pump-1", { temperature: 21 });
    assert.strictEqual(await durable(b.reg), undefined);
    // The paused instance's read of the partition is answered by Redis, then held here, while the
    // new leader writes again; its stream reader's turns are counted.
    let loaded = false;
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    const load = a.store.writer.twLoad.bind(a.store.writer);
    a.store.writer.twLoad = async (...args) => {
      const part = await load(...args);
      loaded = true;
      await gate;
      return part;
    };
    let reads = 0;
    const xread = a.store.reader.xread.bind(a.store.reader);
    a.store.reader.xread = (...args) => (reads++, xread(...args));
    const values = [];
    a.reg.subscribe((event) => {
      if (event.section === "reported" && event.origin === "elsewhere") values.push(event.changes.temperature.value);
    });

    a.reg.report("pump-1", { temperature: 99 });
    assert.ok(await durable(a.reg), "the paused instance's change is refused");
    await waitFor(() => loaded, "the partition read from Redis", 5000);
    b.reg.report("pump-1", { temperature: 22 });
    assert.strictEqual(await durable(b.reg), undefined);
    const after = reads;
    await waitFor(() => reads >= after + 2, "a whole turn of the stream reader after the new change", 5000);
    release();
    const history = (x) => x.reg.history("pump-1", "temperature").map((point) => point.value);
    await waitFor(() => history(a).join() === "20,21,22", "the twin as Redis holds it, with the new leader's change, on the paused instance", 5000);
    assert.deepStrictEqual(plain(a.reg.get("pump-1")), plain(b.reg.get("pump-1")));
    assert.deepStrictEqual(values, [21, 22], "each change told once, in order");
  });

  it("reads a partition again, with a warning, when a change from another instance names a twin this instance does not hold, so it holds that twin again", async function () {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const warnings = [];
    b.store.onWarning((message) => warnings.push(message));
    const id = ledBy(a.store, b.store, "pump");
    a.reg.create(id, { reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id), "the twin on the other instance", 5000);
    // The other instance falls out of step: it no longer holds the twin (as if it had missed its creation).
    b.store.shared.replace(id, null);
    assert.strictEqual(b.reg.has(id), false);

    a.reg.report(id, { temperature: 21 });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id) && b.reg.get(id).reported.temperature === 21, "the twin read again from Redis", 5000);
    assert.deepStrictEqual(plain(b.reg.get(id)), plain(a.reg.get(id)));
    assert.strictEqual(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], new RegExp(`twin "${id}" made by another instance could not be applied here \\(unknown\\): partition \\d+ is read again from Redis`));

    // A stream entry that is no journal entry is said, and passed over.
    const client = ctx.client();
    const k = a.store.keys.partition(partitionOf(a.store, id));
    await client.xadd(k.log, "*", "e", "not json", "w", "elsewhere");
    a.reg.report(id, { temperature: 22 });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.get(id).reported.temperature === 22, "the next change on the other instance", 5000);
    assert.strictEqual(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings[1], /is not a journal entry; it was skipped/);
  });

  it("refuses the change of an instance that lost its lease while paused: it never reaches Redis or the other instance, and the paused one takes the twin back from Redis", async function () {
    const a = await ctx.open(lease);
    a.reg.create("pump-1", { reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    // A stops (no renewals, its clock stands still): it still believes it leads every partition.
    a.store.leases.freeze();
    const b = await ctx.open(lease);
    await waitFor(() => b.store.leads("pump-1"), "the other instance to take the lapsed lease", 10000);
    assert.ok(a.store.leads("pump-1"), "the paused instance still believes it leads the twin");

    a.reg.report("pump-1", { temperature: 99 });
    const err = await durable(a.reg);
    assert.ok(err, "the paused instance's change is not acknowledged");
    assert.strictEqual(err.code, "store-unavailable");
    assert.match(err.message, /refused/);

    const client = ctx.client();
    const k = a.store.keys.partition(partitionOf(a.store, "pump-1"));
    const written = (await client.xrange(k.log, "-", "+")).map(([, fields]) => JSON.parse(fields[1]));
    assert.ok(written.every((e) => !(e.r && e.r.temperature && e.r.temperature[0] === 99)), "the refused change is not in the stream");
    assert.strictEqual(b.reg.get("pump-1").reported.temperature, 20);
    await waitFor(() => a.reg.get("pump-1").reported.temperature === 20, "the paused instance to take the twin back from Redis", 5000);
    assert.strictEqual(a.store.leads("pump-1"), false);

    b.reg.report("pump-1", { temperature: 21 });
    assert.strictEqual(await durable(b.reg), undefined);
    await waitFor(() => a.reg.get("pump-1").reported.temperature === 21, "the new leader's change on the paused instance", 5000);
    assert.strictEqual(a.reg.get("pump-1").version, b.reg.get("pump-1").version);
  });

  it("fences a paused process once a process restarted with the same instance name takes the twin: the restart leads under a new epoch, and the paused one's change is refused", async function () {
    const old = await ctx.open({ ...lease, instance: "node-red-1" });
    old.reg.create("pump-1", { reported: { temperature: 20 } });
    assert.strictEqual(await durable(old.reg), undefined);
    const p = partitionOf(old.store, "pump-1");
    const oldEpoch = old.store.leases.epochOf(p);
    // The old process stops (its clock stands still) and a new one starts with the same name.
    old.store.leases.freeze();
    const restarted = await ctx.open({ ...lease, instance: "node-red-1" });
    await waitFor(() => restarted.store.leads("pump-1"), "the restarted process to lead the twin", 10000);
    assert.ok(restarted.store.leases.epochOf(p) > oldEpoch, `epoch ${restarted.store.leases.epochOf(p)} after ${oldEpoch}`);
    assert.ok(old.store.leads("pump-1"), "the paused process still believes it leads the twin");

    old.reg.report("pump-1", { temperature: 99 });
    const err = await durable(old.reg);
    assert.ok(err, "the paused process's change is not acknowledged");
    assert.strictEqual(err.code, "store-unavailable");
    assert.match(err.message, /refused/);

    restarted.reg.report("pump-1", { temperature: 21 });
    assert.strictEqual(await durable(restarted.reg), undefined);
    await waitFor(() => old.reg.get("pump-1").reported.temperature === 21, "the restarted process's change on the paused one", 5000);
    assert.deepStrictEqual(restarted.reg.history("pump-1", "temperature").map((x) => x.value), [20, 21]);
    assert.deepStrictEqual(old.reg.history("pump-1", "temperature").map((x) => x.value), [20, 21]);
  });
});

function partitionOf(store, id) {
  return require("../../nodes/lib/core/store/redis/partitions").partitionOf(id, store.partitions);
}
