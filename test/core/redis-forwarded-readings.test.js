"use strict";
/**
 * Readings arriving on an instance that does not lead their twin, on a registry shared on Redis:
 * twin-sensor's shaping settings travel with the reading as data and its leader shapes it
 * against the values it holds (the same stored values as a reading made on the leader), settings
 * that are not valid are refused as input from elsewhere, a twin not created yet is created by
 * its partition's leader, and twin-link answers a forwarded reading as it answers its own and
 * leaves a device's status (which every instance receives) to the twin's leader.
 */
const assert = require("assert");
const { parseModels } = require("../../nodes/lib/core/models");
const { readingPath } = require("../../nodes/lib/core/reading");
const { DeviceLink } = require("../../nodes/lib/core/link/link");
const { LinkTopics } = require("../../nodes/lib/core/link/protocol");
const { partitionOf } = require("../../nodes/lib/core/store/redis/partitions");
const { useRedis, ledBy, split } = require("./redis-support");
const { durable, waitFor } = require("./store-support");

const MODELS = parseModels({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel" },
      rpm: { type: "integer", minimum: 0, maximum: 3600 },
      running: { type: "boolean" },
    },
  },
});

describe("Readings forwarded to the leader of a registry shared on Redis", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "everysec" });
  const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };

  async function two() {
    const a = await ctx.open(lease, { historyLength: 100, models: MODELS });
    const b = await ctx.open(lease, { historyLength: 100, models: MODELS });
    await split(a, b);
    return { a, b };
  }

  /** A change event's values and previous values (times differ from twin to twin). */
  const valuesOf = (changes) => Object.entries(changes).map(([name, c]) => [name, c.value, c.previous]);

  /** The error a promise rejects with (fails when it resolves). */
  const refusal = (promise) => promise.then((value) => assert.fail(`resolved with ${JSON.stringify(value)}`), (err) => err);

  it("shapes a reading forwarded from another instance exactly as its leader shapes its own: coerced, scaled, converted, and deadbanded against the stored value", async function () {
    const { a, b } = await two();
    const here = ledBy(a.store, b.store, "here");
    const there = ledBy(a.store, b.store, "there");
    assert.ok(!a.reg.has(here) && !a.reg.has(there), "neither twin exists yet: the reading creates it");
    // A sensor in tenths of a degree Fahrenheit, sending text; the model keeps Celsius.
    const path = readingPath({ create: { model: "pump" }, parseNumbers: true, scale: 0.5, unit: "[degF]", deadband: { mode: "absolute", value: 1 } });
    const readings = [
      { temperature: "212", rpm: "3000", running: "on" },
      { temperature: "213" }, // 106.5 degF: 0.28 Cel from the stored value, inside the band
      { temperature: 216, running: "on" }, // 42.2 Cel: outside; running unchanged, inside
      { rpm: "3010", running: "false" },
      { temperature: "217" }, // inside the band of the last stored value, not of the first
    ];
    const kept = [];
    for (const values of readings) {
      const local = path.apply(a.reg, here, values);
      assert.strictEqual(await durable(a.reg), undefined);
      const forwarded = await path.submit(b.reg, there, values);
      kept.push(local.event && Object.keys(local.event.changes));
      assert.deepStrictEqual(forwarded.event && Object.keys(forwarded.event.changes), kept[kept.length - 1], `${JSON.stringify(values)}: the same values kept`);
      assert.strictEqual(forwarded.created, local.created);
      if (local.event) assert.deepStrictEqual(valuesOf(forwarded.event.changes), valuesOf(local.event.changes));
    }
    assert.deepStrictEqual(kept, [["temperature", "rpm", "running"], null, ["temperature"], ["rpm", "running"], null]);
    const stored = a.reg.get(here);
    assert.ok(Math.abs(stored.reported.temperature - 42.2222) < 1e-4, `108 degF in Celsius, got ${stored.reported.temperature}`);
    assert.deepStrictEqual([stored.reported.rpm, stored.reported.running], [1505, false]);
    for (const reg of [a.reg, b.reg]) {
      const doc = reg.get(there);
      assert.deepStrictEqual(doc.reported, stored.reported, "the forwarded twin holds what the local one holds");
      assert.strictEqual(doc.version, stored.version);
      for (const name of ["temperature", "rpm"]) {
        assert.deepStrictEqual(reg.history(there, name).map((p) => p.value), a.reg.history(here, name).map((p) => p.value));
      }
    }
  });

  it("refuses a forwarded reading whose shaping settings are not valid with invalid-option naming the setting, changes nothing, and goes on serving", async function () {
    const { a, b } = await two();
    const id = ledBy(a.store, b.store, "meter");
    a.reg.create(id, { model: "pump", reported: { rpm: 10 } });
    assert.strictEqual(await durable(a.reg), undefined);
    const bad = [
      [{ scale: "2" }, "shaping.scale"],
      [{ offset: null }, "shaping.offset"],
      [{ unit: "furlong" }, "shaping.unit"],
      [{ unit: "degF" }, "shaping.unit"], // a unit as people write it, not in canonical form: not from a node
      [{ deadband: { mode: "log", value: 1 } }, "shaping.deadband"],
      [{ deadband: { mode: "absolute", value: -1 } }, "shaping.deadband"],
      [{ deadband: { mode: "absolute", value: 1, extra: 1 } }, "shaping.deadband"],
      [{ parseNumbers: "yes" }, "shaping.parseNumbers"],
      [{ colour: "red" }, "shaping.colour"],
      ["fast", "shaping."],
      [[1], "shaping."],
      [null, "shaping."],
    ];
    for (const [shaping, option] of bad) {
      const err = await refusal(b.reg.submit({ op: "report", id, values: { rpm: 20 }, options: { alive: true }, shaping }));
      assert.strictEqual(err.name, "TwinError", `${JSON.stringify(shaping)}: ${err.stack}`);
      assert.strictEqual(err.code, "invalid-option");
      assert.strictEqual(err.params.option, option);
    }
    // Straight into the request stream: JSON's 1e999 is Infinity once parsed.
    const client = ctx.client();
    const req = a.store.keys.partition(partitionOf(id, a.store.partitions)).req;
    const replies = a.store.keys.reply("tester");
    await client.xadd(req, "*", "q", "tester:1", "f", "tester", "o", `{"op":"report","id":${JSON.stringify(id)},"values":{"rpm":30},"shaping":{"scale":1e999}}`);
    let answer;
    while (!answer) {
      const got = await client.xrange(replies, "-", "+");
      if (got.length) answer = JSON.parse(got[0][1][got[0][1].indexOf("v") + 1]);
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepStrictEqual({ ok: answer.ok, code: answer.code, option: answer.params.option }, { ok: false, code: "invalid-option", option: "shaping.scale" });
    assert.strictEqual(a.reg.get(id).version, 1, "nothing refused was applied");
    const good = await readingPath({ scale: 2 }).submit(b.reg, id, { rpm: "21" });
    assert.strictEqual(good.event.version, 2);
    assert.strictEqual(a.reg.get(id).reported.rpm, 42);
  });

  it("refuses a forwarded reading in a unit that cannot be converted naming its own twin, as the leader's own reading is", async function () {
    const { a, b } = await two();
    const ids = [ledBy(a.store, b.store, "one"), ledBy(a.store, b.store, "two")];
    for (const id of ids) a.reg.create(id, { model: "pump", reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    const path = readingPath({ unit: "m" });
    for (const id of ids) {
      let local;
      try {
        path.apply(a.reg, id, { temperature: 3 });
      } catch (err) {
        local = err;
      }
      const forwarded = await refusal(path.submit(b.reg, id, { temperature: 3 }));
      assert.strictEqual(forwarded.code, "no-conversion");
      assert.strictEqual(forwarded.params.twinId, id, "the shaper made once for these settings names the twin it shapes");
      assert.strictEqual(forwarded.message, local.message);
      assert.deepStrictEqual(forwarded.params, local.params);
      assert.strictEqual(a.reg.get(id).reported.temperature, 20);
    }
  });

  it("creates a twin that does not exist yet on the leader of its id's partition, and refuses a second create of it from either instance", async function () {
    const { a, b } = await two();
    const id = ledBy(a.store, b.store, "new");
    assert.ok(!a.reg.has(id) && !b.reg.leads(id) && a.reg.leads(id), "the partition of an unknown id has a leader");
    const doc = await b.reg.submit({ op: "create", id, input: { model: "pump", reported: { rpm: 5 } } });
    assert.strictEqual(doc.version, 1);
    assert.strictEqual(b.reg.get(id).reported.rpm, 5, "the submitter holds the twin once the promise resolves");
    assert.strictEqual(a.reg.get(id).reported.rpm, 5);
    const again = await refusal(b.reg.submit({ op: "create", id, input: { model: "pump" } }));
    const local = await refusal(a.reg.submit({ op: "create", id, input: { model: "pump" } }));
    assert.deepStrictEqual([again.code, again.message], [local.code, local.message]);
    assert.strictEqual(again.code, "exists");
  });

  it("answers a device's reading of a twin led elsewhere once its leader made it durable, rejects a bad one with the leader's error, and leaves the device's status to the leader", async function () {
    const { a, b } = await two();
    const id = ledBy(a.store, b.store, "pump");
    const links = [a, b].map(({ reg }) => {
      const sent = [];
      const rejected = [];
      const link = new DeviceLink({
        registry: reg,
        topics: new LinkTopics("twins"),
        publish: (topic, payload) => sent.push({ topic, payload: JSON.parse(payload) }),
        create: { model: "pump" },
        state: "off",
        describe: (err) => ({ code: err.code || "error", message: err.message }),
        onRejected: (r) => rejected.push(r),
      });
      link.start();
      return {
        link,
        sent,
        rejected,
        handle: (payload) => new Promise((resolve) => link.handle(`twins/${id}/reported`, JSON.stringify(payload), false, resolve)),
        status: (text) => new Promise((resolve) => link.handle(`twins/${id}/status`, text, false, resolve)),
      };
    });
    try {
      const [onLeader, elsewhere] = links;
      await elsewhere.handle({ temperature: "21.5", clientToken: "t1" }); // created by the reading, text coerced by the model
      assert.deepStrictEqual(elsewhere.sent.map((m) => [m.topic, m.payload.version, m.payload.clientToken]), [[`twins/${id}/reported/accepted`, 1, "t1"]]);
      assert.strictEqual(a.reg.get(id).reported.temperature, 21.5);
      await elsewhere.handle({ rpm: 5000, clientToken: "t2" });
      await onLeader.handle({ rpm: 5000, clientToken: "t2" });
      const [there, here] = [elsewhere, onLeader].map((l) => l.sent.find((m) => m.topic.endsWith("/rejected")).payload);
      assert.strictEqual(there.code, here.code);
      assert.strictEqual(there.message, here.message);
      assert.strictEqual(there.clientToken, "t2");
      assert.deepStrictEqual(elsewhere.rejected.map((r) => r.code), [here.code]);
      assert.strictEqual(a.reg.get(id).version, 1);
      // A last will reaches every instance (status topics are not shared): the leader acts on it,
      // and the other instance's copy follows the leader's change instead of going its own way.
      await elsewhere.status("offline");
      assert.strictEqual(b.reg.get(id).connectivity.online, true, "left to the leader");
      await onLeader.status("offline");
      assert.strictEqual(a.reg.get(id).connectivity.online, false);
      await waitFor(() => !b.reg.get(id).connectivity.online, "the leader's change on the other instance", 5000);
      assert.deepStrictEqual(elsewhere.rejected.map((r) => r.code), [here.code]);
    } finally {
      for (const l of links) l.link.close();
    }
  });
});
