"use strict";
/**
 * Changes submitted on an instance that does not lead the twin (`registry.submit`): the store
 * forwards them to the leader through the partition's request stream, the leader runs them as a
 * local call and answers; errors come back as the same TwinError, and a request delivered again
 * (after a handover) is answered, not applied twice.
 */
const assert = require("assert");
const { useRedis, ledBy, split } = require("./redis-support");
const { durable, waitFor } = require("./store-support");

describe("Changes submitted to the leader of a registry shared on Redis", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "always" });
  const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };

  async function twoWithTwin(prefix, more = {}) {
    const a = await ctx.open({ ...lease, ...more }, { historyLength: 100 });
    const b = await ctx.open({ ...lease, ...more }, { historyLength: 100 });
    await split(a, b);
    const id = ledBy(a.store, b.store, prefix);
    a.reg.create(id, { reported: { n: 0 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id), "the twin on the other instance", 5000);
    return { a, b, id };
  }

  it("applies a reading submitted on the instance that does not lead the twin once, on its leader, and the submitter holds it when the promise resolves", async function () {
    const { a, b, id } = await twoWithTwin("meter");
    const result = await b.reg.submit({ op: "report", id, values: { n: 1 } });
    assert.strictEqual(result.event.version, 2);
    assert.deepStrictEqual(result.stale, []);
    assert.strictEqual(b.reg.get(id).version, 2, "the submitter's state has the change at once");
    assert.deepStrictEqual(b.reg.history(id, "n").map((p) => p.value), [0, 1]);
    assert.deepStrictEqual(a.reg.history(id, "n").map((p) => p.value), [0, 1]);
    // On the leader, submit is the local call followed by whenDurable: the same result.
    const local = await a.reg.submit({ op: "report", id, values: { n: 2 } });
    assert.strictEqual(local.event.version, 3);
  });

  it("refuses bad input submitted on another instance with the error the leader's own call gives, and changes nothing", async function () {
    const { a, b, id } = await twoWithTwin("valve");
    const attempts = [
      { op: "report", id, values: "open" },
      { op: "setDesired", id, values: { n: 1 }, options: { ifVersion: 7 } },
      { op: "updateAttributes", id, patch: { "bad name!": 1 } },
    ];
    for (const op of attempts) {
      const here = await a.reg.submit(op).then(() => null, (err) => err);
      const there = await b.reg.submit(op).then(() => null, (err) => err);
      assert.ok(here && there, `${op.op} is refused`);
      assert.strictEqual(there.name, "TwinError");
      assert.strictEqual(there.code, here.code);
      assert.strictEqual(there.message, here.message);
      assert.deepStrictEqual(there.params, here.params);
    }
    assert.strictEqual(a.reg.get(id).version, 1);
    assert.strictEqual(b.reg.get(id).version, 1);
  });

  it("settles each of many changes submitted in one turn on the other instance with its own result or error, answered together", async function () {
    const { a, b, id } = await twoWithTwin("boiler");
    const ops = Array.from({ length: 12 }, (_, i) => (i === 5 ? { op: "report", id, values: "open" } : { op: "report", id, values: { n: i + 1 } }));
    const expectedError = await a.reg.submit(ops[5]).then(() => null, (err) => err);
    const outcomes = await Promise.all(ops.map((op) => b.reg.submit(op).then((r) => r.event.version, (err) => err)));
    // Run in order on the leader: versions 2 to 12, the bad reading refused in its place.
    assert.deepStrictEqual(outcomes.filter((o) => typeof o === "number"), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.strictEqual(outcomes[5].code, expectedError.code);
    assert.strictEqual(outcomes[5].message, expectedError.message);
    assert.deepStrictEqual(b.reg.history(id, "n").map((p) => p.value), [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]);
    // The leader answered several of them in one reply-stream entry (r, v pairs in order).
    const entries = await ctx.client().xrange(a.store.keys.reply(b.store.instance), "-", "+");
    assert.ok(entries.length < ops.length, `${entries.length} reply entries for ${ops.length} answers`);
  });

  it("answers a request delivered again, on the same leader or on the next after a handover, without applying it twice", async function () {
    const { a, b, id } = await twoWithTwin("pump");
    const client = ctx.client();
    const k = a.store.keys.partition(partitionOf(a.store, id));
    const replies = a.store.keys.reply("tester");
    const op = JSON.stringify({ op: "report", id, values: { n: 1 } });
    const send = () => client.xadd(k.req, "*", "q", "tester:1", "f", "tester", "o", op);
    const answers = (count) => answersOn(client, replies, count);
    await send();
    assert.deepStrictEqual((await answers(1))[0].ok, true);
    await send(); // the same request again (a requester's retry, a claim after a handover)
    assert.deepStrictEqual((await answers(2))[1], { ok: true, again: true });
    await a.reg.close();
    await waitFor(() => b.store.leads(id), "the other instance to lead the twin", 10000);
    await send();
    assert.deepStrictEqual((await answers(3))[2], { ok: true, again: true });
    assert.strictEqual(b.reg.get(id).version, 2);
    assert.deepStrictEqual(b.reg.history(id, "n").map((p) => p.value), [0, 1]);
  });

  it("runs a request its old leader took and never answered once the next leader claims it", async function () {
    const { a, b, id } = await twoWithTwin("door");
    b.store.leases.freeze(); // takes no lease any more: once the leader goes, nobody leads the twin
    await a.reg.close();
    const client = ctx.client();
    const k = b.store.keys.partition(partitionOf(b.store, id));
    const replies = b.store.keys.reply("tester");
    await client.xadd(k.req, "*", "q", "tester:1", "f", "tester", "o", JSON.stringify({ op: "report", id, values: { n: 1 } }));
    // A leader that read the request and went before running it.
    const taken = await client.xreadgroup("GROUP", "leaders", "gone", "COUNT", 10, "STREAMS", k.req, ">");
    assert.strictEqual(taken[0][1].length, 1);
    const c = await ctx.open(lease, { historyLength: 100 });
    await waitFor(() => c.store.leads(id), "a new instance to lead the twin", 10000);
    const [answer] = await answersOn(client, replies, 1);
    assert.strictEqual(answer.ok, true);
    assert.strictEqual(answer.result.event.version, 2);
    assert.deepStrictEqual(c.reg.history(id, "n").map((p) => p.value), [0, 1]);
    assert.deepStrictEqual(await client.xpending(k.req, "leaders"), [0, null, null, null], "the request is acknowledged");
  });

  it("runs every request its old leader took and never answered, more than one claim's worth, in order", async function () {
    const { a, b, id } = await twoWithTwin("conveyor");
    b.store.leases.freeze();
    await a.reg.close();
    const client = ctx.client();
    const k = b.store.keys.partition(partitionOf(b.store, id));
    const replies = b.store.keys.reply("tester");
    // More than one XAUTOCLAIM's COUNT (1,000): a busy leader can have read that many before it went.
    const N = 1500;
    const adds = client.pipeline();
    for (let i = 1; i <= N; i++) adds.xadd(k.req, "*", "q", `tester:${i}`, "f", "tester", "o", JSON.stringify({ op: "report", id, values: { n: i } }));
    await adds.exec();
    const taken = await client.xreadgroup("GROUP", "leaders", "gone", "COUNT", N, "STREAMS", k.req, ">");
    assert.strictEqual(taken[0][1].length, N);
    const c = await ctx.open(lease, { historyLength: 2000 });
    await waitFor(() => c.store.leads(id), "a new instance to lead the twin", 10000);
    const answers = await answersOn(client, replies, N);
    assert.strictEqual(answers.filter((x) => x.ok).length, N);
    assert.deepStrictEqual(c.reg.history(id, "n").map((p) => p.value), Array.from({ length: N + 1 }, (_, i) => i));
    while ((await client.xpending(k.req, "leaders"))[0] !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
  });

  it("keeps every submitted reading that resolved, once, while a third instance joins and partitions change hands", async function () {
    const options = { historyLength: 5000 };
    const all = [await ctx.open(lease, options), await ctx.open(lease, options)];
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
      if (!joined && Date.now() > deadline - 2000) joined = ctx.open(lease, options).then((c) => all.push(c));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all(submitted);
    await joined;
    assert.ok(all[2].store.leases.heldPartitions().length > 0, "the instance that joined leads partitions");
    const total = [...resolved.values()].reduce((x, y) => x + y.length, 0);
    assert.ok(total > 500, `readings resolved (${total}, ${refused.length} refused)`);
    // A request the old leader read and left is claimed by the next one: a handover refuses nothing.
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

  it("fails a submitted change with store-unavailable when no leader answers in time", async function () {
    const { a, b, id } = await twoWithTwin("fan", { forwardTimeoutMs: 300 });
    // The other instance stops taking leases, then the leader goes: nobody leads the twin.
    b.store.leases.freeze();
    await a.reg.close();
    const err = await b.reg.submit({ op: "report", id, values: { n: 1 } }).then(() => null, (e) => e);
    assert.ok(err, "the submitted change fails");
    assert.strictEqual(err.code, "store-unavailable");
    assert.match(err.message, /no answer within 300 ms/);
    // A leader that comes later drops the request instead of making a change its caller was told failed.
    const c = await ctx.open(lease, { historyLength: 100 });
    await waitFor(() => c.store.leads(id), "a new instance to lead the twin", 10000);
    const client = ctx.client();
    const k = c.store.keys.partition(partitionOf(c.store, id));
    for (;;) {
      const read = await client.xinfo("GROUPS", k.req);
      const group = read.map((g) => Object.fromEntries(g.reduce((acc, v, i, all) => (i % 2 ? acc : [...acc, [v, all[i + 1]]]), []))).find((g) => g.name === "leaders");
      if (group && group.pending === 0 && group["entries-read"] >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.strictEqual(c.reg.get(id).version, 1);
    assert.strictEqual(b.reg.get(id).version, 1);
  });
});

/** The answers on a reply stream, once there are `count` of them (the test times out otherwise). */
async function answersOn(client, key, count) {
  for (;;) {
    const got = await client.xrange(key, "-", "+");
    // An entry holds one leader's answers of one turn: every v, in order.
    const answers = got.flatMap(([, fields]) => fields.filter((_, i) => i % 2 === 1 && fields[i - 1] === "v").map((v) => JSON.parse(v)));
    if (answers.length >= count) return answers;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function partitionOf(store, id) {
  return require("../../nodes/lib/core/store/redis/partitions").partitionOf(id, store.partitions);
}
