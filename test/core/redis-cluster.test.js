"use strict";
/**
 * A registry shared on a real Redis Cluster (ioredis `Cluster` client): every partition is a slot
 * of its own, so no command may span two partitions (CROSSSLOT). Two instances share the twins,
 * follow each other's changes (polled reads in place of the single server's blocking one),
 * forward a submitted change to its leader and hand partitions over; with three nodes, the
 * partitions' slots lie on every node, and one node down stops only its own partitions.
 */
const assert = require("assert");
const { Cluster } = require("ioredis");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { RedisStore } = require("../../nodes/lib/core/store/redis-store");
const { startRedisCluster, requireRedisCluster } = require("../support/redis-cluster");
const { ledBy, split } = require("./redis-support");
const { docs, durable, waitFor } = require("./store-support");

// Three nodes for every behaviour; one node (what a one-shard Cluster looks like) for the first.
for (const [nodes, behaviours] of [[3, Infinity], [1, 1]]) {
  describe(`Registry shared on a Redis Cluster of ${nodes} node${nodes > 1 ? "s" : ""}`, function () {
    this.timeout(60000);
    const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100, pollMs: 20 };
    let cluster = null;
    const registries = [];
    const clients = [];

    let defined = 0;
    const behaviour = (title, fn) => {
      if (defined++ < behaviours) it(title, fn);
    };

    before(function () {
      requireRedisCluster(this);
    });
    beforeEach(async function () {
      cluster = await startRedisCluster({ nodes });
    });
    afterEach(async function () {
      for (const reg of registries.splice(0)) await reg.close().catch(() => undefined);
      for (const client of clients.splice(0)) client.disconnect();
      await cluster?.stop();
      cluster = null;
    });

    function client() {
      const c = new Cluster(cluster.startupNodes);
      c.on("error", () => undefined);
      clients.push(c);
      return c;
    }

    async function open(options = {}) {
      const store = new RedisStore({ redis: client(), registry: "plant", mode: "strict", ...lease, ...options });
      const reg = new TwinRegistry({ historyLength: 5000, store });
      registries.push(reg);
      const warnings = await reg.openAsync();
      return { reg, store, warnings };
    }

    behaviour("shares the twins between two instances and each follows the changes the other makes", async function () {
      const a = await open();
      const b = await open();
      await split(a, b);
      if (nodes > 1) {
        // The partitions' slots lie on every node: a read over them spans nodes, not only slots.
        const owners = new Set();
        const c = client();
        await c.ping();
        for (let p = 0; p < 64; p++) owners.add(c.slots[slotOf(a.store.keys.partition(p).log)][0]);
        assert.strictEqual(owners.size, nodes, "partitions on every node");
      }
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
      assert.deepStrictEqual(docs(a.reg), docs(b.reg));
      assert.deepStrictEqual(b.reg.history(onA, "temperature").map((p) => p.value), [20, 21]);

      // A third instance opening later reads every partition from its node.
      const c = await open();
      assert.deepStrictEqual(c.warnings, []);
      assert.deepStrictEqual(docs(c.reg), docs(a.reg));
    });

    behaviour("forwards a change submitted on the instance that does not lead the twin, and the submitter holds it when the promise resolves", async function () {
      const a = await open();
      const b = await open();
      await split(a, b);
      const id = ledBy(a.store, b.store, "meter");
      await a.reg.submit({ op: "create", id, input: { reported: { n: 0 } } });
      const result = await b.reg.submit({ op: "report", id, values: { n: 1 } });
      assert.strictEqual(result.event.version, 2);
      assert.strictEqual(b.reg.get(id).version, 2, "the submitter's state has the change at once");
      assert.deepStrictEqual(b.reg.history(id, "n").map((p) => p.value), [0, 1]);
      assert.deepStrictEqual(a.reg.history(id, "n").map((p) => p.value), [0, 1]);
      const refused = await b.reg.submit({ op: "create", id, input: {} }).then(() => null, (err) => err);
      assert.strictEqual(refused?.code, "exists", "the leader's error comes back");
    });

    behaviour("gives the submitter the answer to its change at once after a quiet spell, not after its poller's longest wait", async function () {
      // Following waits up to 3 s between polls when nothing comes (the leader's requests are polled every 100 ms at most).
      const quiet = { pollMs: 3000, blockMs: 3000 };
      const a = await open(quiet);
      const b = await open(quiet);
      await split(a, b);
      const id = ledBy(a.store, b.store, "quiet");
      await a.reg.submit({ op: "create", id, input: { reported: { n: 0 } } });
      await waitFor(() => b.reg.has(id), "the twin on the other instance", 10000);
      // The submitter's poller at its longest wait: only an entry on its reply stream wakes it.
      await waitFor(() => b.store.polls.follow.idleMs === 3000, "the submitter's poller to wait its longest", 20000);
      const started = Date.now();
      await b.reg.submit({ op: "report", id, values: { n: 1 } });
      const took = Date.now() - started;
      assert.ok(took < 1500, `answered in ${took} ms (the next poll at the longest wait is up to 3 s away)`);
      assert.strictEqual(b.reg.get(id).version, 2);
    });

    behaviour("hands the partitions of an instance that leaves over to the other, which goes on from the twins' last state", async function () {
      const a = await open();
      const b = await open();
      await split(a, b);
      const id = ledBy(b.store, a.store, "door");
      b.reg.create(id, { reported: { n: 0 } });
      for (let n = 1; n <= 5; n++) b.reg.report(id, { n });
      assert.strictEqual(await durable(b.reg), undefined);
      await waitFor(() => a.reg.has(id) && a.reg.get(id).version === 6, `${id} on the other instance`, 5000);
      await b.reg.close();
      await waitFor(() => a.store.leads(id) && a.store.writableCount() === 64, "the remaining instance to lead every partition", 10000);
      a.reg.report(id, { n: 6 });
      assert.strictEqual(await durable(a.reg), undefined);
      assert.deepStrictEqual(a.reg.history(id, "n").map((p) => p.value), [0, 1, 2, 3, 4, 5, 6]);
      // What the new leader wrote is in the Cluster: an instance opening now reads it.
      const c = await open();
      assert.deepStrictEqual(c.reg.history(id, "n").map((p) => p.value), [0, 1, 2, 3, 4, 5, 6]);
    });

    behaviour("keeps every submitted reading that resolved, once, on every instance while a third instance joins and partitions change hands", async function () {
      const all = [await open(), await open()];
      await split(all[0], all[1]);
      const [a, b] = all;
      const ids = Array.from({ length: 20 }, (_, i) => `meter-${i}`);
      for (const id of ids) await a.reg.submit({ op: "create", id, input: { reported: { n: -1 } } });
      const resolved = new Map(ids.map((id) => [id, []]));
      const refused = [];
      const submitted = [];
      let n = 0;
      let joined = null;
      const deadline = Date.now() + 3000;
      // Every instance submits readings for every twin, led here or elsewhere, as a node would.
      while (Date.now() < deadline) {
        for (const instance of [a, b]) {
          for (const id of ids) {
            const value = n++;
            submitted.push(instance.reg.submit({ op: "report", id, values: { n: value } }).then(
              () => resolved.get(id).push(value),
              (err) => refused.push(err.code),
            ));
          }
        }
        if (!joined && Date.now() > deadline - 2000) joined = open().then((c) => all.push(c));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await Promise.all(submitted);
      await joined;
      assert.ok(all[2].store.leases.heldPartitions().length > 0, "the instance that joined leads partitions");
      const total = [...resolved.values()].reduce((x, y) => x + y.length, 0);
      assert.ok(total > 300, `readings resolved (${total}, ${refused.length} refused)`);
      assert.deepStrictEqual(refused, [], "submitted readings refused");
      await waitFor(() => all.every((x) => ids.every((id) => x.reg.has(id) && x.reg.get(id).version === all[0].reg.get(id)?.version)), "every instance to hold the same versions", 10000);
      for (const instance of all) {
        for (const id of ids) {
          const history = instance.reg.history(id, "n").map((p) => p.value);
          assert.strictEqual(new Set(history).size, history.length, `${id}: a reading applied twice`);
          const kept = new Set(history);
          assert.deepStrictEqual(resolved.get(id).filter((v) => !kept.has(v)), [], `${id}: resolved readings missing on ${instance.store.instance}`);
        }
      }
    });

    behaviour("follows the partitions of the other nodes while one node is down, and writes the partitions of that node again once it is back", async function () {
      const a = await open();
      const b = await open();
      await split(a, b);
      const c = client();
      await c.ping();
      const nodeOf = (id) => c.slots[slotOf(a.store.keys.partition(partitionOf(a.store, id)).log)][0];
      const down = cluster.servers[0];
      const downAt = `127.0.0.1:${down.port}`;
      const onDown = twinWhere(a.store, b.store, "lost", (id) => nodeOf(id) === downAt);
      const onLive = twinWhere(a.store, b.store, "kept", (id) => nodeOf(id) !== downAt);
      a.reg.create(onDown, { reported: { n: 0 } });
      a.reg.create(onLive, { reported: { n: 0 } });
      assert.strictEqual(await durable(a.reg), undefined);
      await waitFor(() => b.reg.has(onDown) && b.reg.has(onLive), "both twins on the other instance", 5000);

      await down.kill("SIGKILL");
      await waitFor(() => !a.store.leads(onDown), "the lost node's partitions to stop being writable", 10000);
      a.reg.report(onLive, { n: 1 });
      assert.strictEqual(await durable(a.reg), undefined);
      await waitFor(() => b.reg.get(onLive).version === 2, "a change on a live node followed while another node is down", 5000);

      cluster.servers[0] = await down.restart();
      await waitFor(() => a.store.writableCount() + b.store.writableCount() === 64 && a.store.leads(onDown), "every partition writable again", 30000);
      a.reg.report(onDown, { n: 1 });
      assert.strictEqual(await durable(a.reg), undefined);
      await waitFor(() => b.reg.get(onDown).version === 2, "the change on the node that came back, on the other instance", 5000);
      assert.deepStrictEqual(docs(a.reg), docs(b.reg));
    });
  });
}

/** A twin id led by `store` and not by `other`, whose id passes `test`. */
function twinWhere(store, other, prefix, test) {
  for (let i = 0; i < 10000; i++) {
    const id = `${prefix}-${i}`;
    if (store.leads(id) && !other.leads(id) && test(id)) return id;
  }
  throw new Error(`no such id led by ${store.instance}`);
}

function partitionOf(store, id) {
  return require("../../nodes/lib/core/store/redis/partitions").partitionOf(id, store.partitions);
}

/** The Cluster hash slot of a key (CRC16 of its hash tag, modulo 16384), as Redis computes it. */
function slotOf(key) {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
