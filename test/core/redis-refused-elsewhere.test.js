"use strict";
/**
 * A registry shared on Redis takes changes from other instances as it takes lines from disk: a
 * name or value a write would refuse (`__proto__` at any depth, a bad name) is passed over and the
 * rest applies. What it tells of such a change must be what it holds: its events never carry a
 * value it refused, and its user learns that something was dropped (a warning, never one per entry).
 * The entries here are written straight into the streams, as a buggy or hostile client could.
 */
const assert = require("assert");
const { useRedis, ledBy, split } = require("./redis-support");
const { durable, waitFor } = require("./store-support");
const { partitionOf } = require("../../nodes/lib/core/store/redis/partitions");

/** Appends raw entry text to the stream of twin `id`'s partition, as another writer. */
function inject(client, store, id, texts) {
  const log = store.keys.partition(partitionOf(id, 64)).log;
  const batch = client.multi();
  for (const text of texts) batch.xadd(log, "*", "e", text, "w", "hostile#1");
  return batch.exec();
}

/** Own keys of every object in a value, at any depth (JSON.parse makes "__proto__" an own key). */
function keysDeep(value, out = []) {
  if (value && typeof value === "object") {
    for (const key of Object.keys(value)) {
      out.push(key);
      keysDeep(value[key], out);
    }
  }
  return out;
}

describe("Changes from other instances that a write would refuse (Redis)", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "everysec" });
  const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };

  afterEach(function () {
    delete Object.prototype.polluted;
  });

  /**
   * Two instances; `id` and `other` led by a. A hostile writer appends to their streams, b takes
   * the entries. Resolves once b holds them, with b's events and warnings.
   */
  async function injected() {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const id = ledBy(a.store, b.store, "pump");
    const other = ledBy(a.store, b.store, "valve");
    a.reg.create(id, { attributes: { site: "north" }, reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id), "the twin on the other instance", 5000);
    const events = [];
    const warnings = [];
    b.reg.subscribe((event) => events.push(event));
    b.store.onWarning((message) => warnings.push(message));
    const t = Date.now();
    const started = Date.now();
    // Raw text: a JavaScript literal would make "__proto__" a prototype, not a key.
    await inject(ctx.client(), a.store, id, [
      `{"o":"u","i":"${id}","v":2,"t":${t},"ap":{"__proto__":{"polluted":true},"floor":3},"rv":{"cfg":{"a":{"__proto__":{"polluted":true}}},"rpm":900,"bad name":1,"z":-0}}`,
      `{"o":"u","i":"${id}","v":3,"t":${t},"d":{"mode":[{"constructor":{"prototype":{"polluted":true}}},${t}],"speed":[5,${t}]}}`,
      `{"o":"p","i":"${id}","t":${t},"p":{"temperature":{"__proto__":{"polluted":true}},"rpm":{"forecast":-0}}}`,
    ]);
    await inject(ctx.client(), a.store, other, [
      `{"o":"c","i":"${other}","v":1,"t":${t},"m":null,"a":{"ok":1},"rv":{"open":{"constructor":{}},"rate":2},"d":{"flow":[{"__proto__":{}},${t}],"rate":[3,${t}]}}`,
    ]);
    await waitFor(() => b.reg.has(other) && events.some((e) => e.section === "predictions"), "the injected changes on the other instance", 5000);
    return { a, b, id, other, t, events, warnings, started };
  }

  it("tells what the twin holds of a change from elsewhere, never a name or value it refused", async function () {
    const { b, id, other, t, events } = await injected();
    const pump = b.reg.get(id);
    assert.deepStrictEqual(JSON.parse(JSON.stringify([pump.attributes, pump.reported, pump.desired, pump.predictions])), [
      { site: "north", floor: 3 }, { temperature: 20, rpm: 900, z: 0 }, { speed: 5 }, { rpm: { forecast: 0 } },
    ]);
    const of = (twinId, section) => events.filter((e) => e.twinId === twinId && e.section === section).map((e) => e.changes);
    // Each event names only what was applied, with the value as the twin holds it.
    assert.deepStrictEqual(of(id, "attributes").map(Object.keys), [["floor"]]);
    assert.deepStrictEqual(of(id, "reported").map(Object.keys), [["rpm", "z"]]);
    assert.ok(Object.is(of(id, "reported")[0].z.value, 0), "-0 is told as the 0 the twin holds");
    assert.deepStrictEqual(of(id, "desired").map(Object.keys), [["speed"]]);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(of(id, "predictions"))), [{ rpm: { value: { forecast: 0 }, previous: null, ts: t } }]);
    assert.ok(Object.is(of(id, "predictions")[0].rpm.value.forecast, 0));
    assert.deepStrictEqual(of(other, "reported").map(Object.keys), [["rate"]]);
    assert.deepStrictEqual(of(other, "desired").map(Object.keys), [["rate"]]);
    const told = keysDeep(events.map((e) => e.changes));
    for (const key of ["__proto__", "constructor", "prototype", "bad name", "cfg", "mode", "temperature", "open", "flow"]) {
      assert.ok(!told.includes(key), `no event tells "${key}"`);
    }
    for (const e of events) assert.strictEqual(e.origin, "elsewhere");
    assert.strictEqual({}.polluted, undefined);
  });
});
