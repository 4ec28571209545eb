"use strict";
/**
 * A registry shared on Redis takes changes from other instances as it takes lines from disk: a
 * name or value a write would refuse (`__proto__` at any depth, a bad name) is passed over and the
 * rest applies. What it tells of such a change must be what it holds: its events never carry a
 * value it refused, and its user learns that something was dropped (a warning, never one per entry).
 * The entries here are written straight into the streams, as a buggy or hostile client could.
 */
const assert = require("assert");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { useRedis, ledBy, split } = require("./redis-support");
const { durable, waitFor } = require("./store-support");
const { partitionOf } = require("../../nodes/lib/core/store/redis/partitions");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { MemoryStore } = require("../../nodes/lib/core/store/memory-store");
const { migrate, readLocal } = require("../../nodes/lib/core/store/migrate");

const REFUSED = /name\(s\) or value\(s\) in changes from other instances that a write would have refused were skipped: /;

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
   * Two instances, twin `id` (created with `input`) led by a and held by b too, b's events and
   * warnings collected from then on.
   */
  async function sharedTwin(input) {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const id = ledBy(a.store, b.store, "pump");
    a.reg.create(id, input);
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id), "the twin on the other instance", 5000);
    const events = [];
    const warnings = [];
    b.reg.subscribe((event) => events.push(event));
    b.store.onWarning((message) => warnings.push(message));
    return { a, b, id, events, warnings };
  }

  /**
   * sharedTwin, and `other`, led by a too. A hostile writer appends to their streams, b takes
   * the entries. Resolves once b holds them, with b's events and warnings.
   */
  async function injected() {
    const { a, b, id, events, warnings } = await sharedTwin({ attributes: { site: "north" }, reported: { temperature: 20 } });
    const other = ledBy(a.store, b.store, "valve");
    const t = Date.now();
    const started = Date.now();
    // Raw text: a JavaScript literal would make "__proto__" a prototype, not a key.
    await inject(ctx.client(), a.store, id, [
      `{"o":"u","i":"${id}","v":2,"t":${t},"ap":{"__proto__":{"polluted":true},"floor":3},"rv":{"cfg":{"a":{"__proto__":{"polluted":true}}},"rpm":900,"bad name":1,"z":-0}}`,
      `{"o":"u","i":"${id}","v":3,"t":${t},"d":{"mode":[{"constructor":{"prototype":{"polluted":true}}},${t}],"speed":[5,${t}]}}`,
      `{"o":"p","i":"${id}","t":${t},"p":{"temperature":{"__proto__":{"polluted":true}},"rpm":{"forecast":-0}}}`,
      // Nothing of it is taken: no reported event at all (the twin's version still steps).
      `{"o":"u","i":"${id}","v":4,"t":${t},"rv":{"cfg":{"__proto__":{}}}}`,
    ]);
    await inject(ctx.client(), a.store, other, [
      `{"o":"c","i":"${other}","v":1,"t":${t},"m":null,"a":{"ok":1},"rv":{"open":{"constructor":{}},"rate":2},"d":{"flow":[{"__proto__":{}},${t}],"rate":[3,${t}]}}`,
    ]);
    await waitFor(() => b.reg.has(other) && b.reg.get(id).version === 4, "the injected changes on the other instance", 5000);
    return { a, b, id, other, t, events, warnings, started };
  }

  /** The refusal warnings' counts added up, and every name they gave. */
  function counted(warnings) {
    const refused = warnings.filter((w) => REFUSED.test(w));
    return { refused, total: refused.reduce((n, w) => n + Number(w.split(" ")[0]), 0), text: refused.join("\n") };
  }

  it("tells what the twin holds of a change from elsewhere, never a name or value it refused", async function () {
    const { b, id, other, t, events } = await injected();
    const pump = b.reg.get(id);
    assert.deepStrictEqual(JSON.parse(JSON.stringify([pump.attributes, pump.reported, pump.desired, pump.predictions])), [
      { site: "north", floor: 3 }, { temperature: 20, rpm: 900, z: 0 }, { speed: 5 }, { rpm: { forecast: 0 } },
    ]);
    assert.strictEqual(pump.version, 4);
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

  it("warns that names and values from elsewhere were passed over, naming each with its twin", async function () {
    const { b, id, other, warnings, started } = await injected();
    await waitFor(() => warnings.some((w) => REFUSED.test(w)), "a warning before any is due by time", 5000);
    await b.reg.close(); // tells what is still counted
    const { refused, total, text } = counted(warnings);
    assert.strictEqual(total, 8, text);
    for (const part of [`${id} attributes "__proto__"`, `${id} reported "cfg" (the key "__proto__" in it)`, `${id} reported "bad name"`,
      `${id} desired "mode" (the key "constructor" in it)`, `${id} predictions "temperature" (the key "__proto__" in it)`,
      `${other} reported "open" (the key "constructor" in it)`, `${other} desired "flow" (the key "__proto__" in it)`]) {
      assert.ok(text.includes(part), `${text} names ${part}`);
    }
    // One as the first arrive, one at close, and at most one a minute between.
    assert.ok(refused.length <= 2 + Math.floor((Date.now() - started) / 60000), text);
  });

  it("warns about a stream of refused values a few times, not once per entry", async function () {
    const { a, b, warnings, started } = await injected();
    const id = ledBy(a.store, b.store, "meter");
    a.reg.create(id, { reported: { n: 0 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id), "the twin on the other instance", 5000);
    const N = 500;
    const texts = [];
    for (let i = 1; i <= N; i++) texts.push(`{"o":"u","i":"${id}","v":${i + 1},"t":${Date.now()},"rv":{"n":${i},"cfg":{"__proto__":{"k":${i}}}}}`);
    await inject(ctx.client(), a.store, id, texts);
    await waitFor(() => b.reg.get(id).reported.n === N, "every entry applied", 10000);
    await b.reg.close();
    const { refused, total, text } = counted(warnings);
    assert.strictEqual(total, 8 + N, text);
    assert.ok(refused.length <= 2 + Math.floor((Date.now() - started) / 60000), `${refused.length} warnings: ${text}`);
    assert.match(text, new RegExp(`and \\d+ more`));
  });

  it("warns about names and values a partition read again holds (after an entry it could not apply), as it warns about changes", async function () {
    const { a, b, id, events, warnings } = await sharedTwin({ reported: { temperature: 20 } });
    // Another tool rewrote the partition's snapshot (covering its stream) with a twin carrying a
    // refused attribute, then wrote an entry for a twin nobody has: b reads the partition again.
    const client = ctx.client();
    const k = a.store.keys.partition(partitionOf(id, 64));
    const [[last]] = await client.xrevrange(k.log, "+", "-", "COUNT", 1);
    const t = Date.now();
    const ghost = `{"i":"ghost-1","m":null,"c":${t},"u":${t},"v":1,"l":1,"on":false,"ls":null,"a":{"__proto__":{"polluted":true},"ok":1},"r":{}}`;
    const mine = JSON.stringify({ i: id, m: null, c: t, u: t, v: 1, l: 2, on: true, ls: t, a: {}, r: { temperature: [20, t] } });
    await client.hset(k.snap, "id", last, "data", [ghost, mine].join("\n"));
    await client.xadd(k.log, "*", "e", JSON.stringify({ o: "u", i: "nobody", v: 2, t, rv: { n: 1 } }), "w", "hostile#1");
    await waitFor(() => b.reg.has("ghost-1"), "the partition read again", 5000);
    await waitFor(() => warnings.some((w) => REFUSED.test(w)), "a warning", 5000);
    assert.match(counted(warnings).text, /ghost-1 attributes "__proto__"/);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(b.reg.get("ghost-1").attributes)), { ok: 1 });
    assert.ok(!keysDeep(events.map((e) => e.changes)).includes("__proto__"));
    assert.strictEqual({}.polluted, undefined);
  });

  it("a whole derived section from elsewhere holding a refused value is passed over, and the rest of its entry and the entries after it apply", async function () {
    const { a, b, id, events, warnings } = await sharedTwin({ reported: { temperature: 20 } });
    a.reg.setLifecycle(id, { stage: "install" }, {}, { lifecycle: { hours: 1 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.get(id).version === 2, "the lifecycle on the other instance", 5000);
    const t = Date.now();
    const told = events.length;
    await inject(ctx.client(), a.store, id, [
      `{"o":"lc","i":"${id}","v":3,"t":${t},"lc":{"stage":"run","hours":{"__proto__":{"polluted":true}}},"s":{"lifecycle":{"hours":5}}}`,
      `{"o":"u","i":"${id}","v":4,"t":${t},"rv":{"temperature":21}}`,
    ]);
    await waitFor(() => b.reg.get(id).version === 4, "the injected entries on the other instance", 5000);
    await b.reg.close(); // tells what is still counted
    const pump = b.reg.get(id);
    // The twin keeps the lifecycle it held, as a refused write leaves it; the entry's version step
    // and state apply, and so does the reading after it, in step with the writer.
    assert.deepStrictEqual(JSON.parse(JSON.stringify([pump.lifecycle, pump.reported, b.reg.getState(id, "lifecycle")])), [{ stage: "install" }, { temperature: 21 }, { hours: 5 }]);
    assert.deepStrictEqual(warnings.filter((w) => !REFUSED.test(w)), [], "the partition was not read again");
    assert.match(counted(warnings).text, new RegExp(`1 ${REFUSED.source}${id} lifecycle \\(the key "__proto__" in it\\)`));
    assert.deepStrictEqual(events.slice(told).map((e) => e.section), ["reported"]);
    assert.strictEqual({}.polluted, undefined);
  });

  it("an instance opening on Redis names the names and values it passed over as read from Redis, not from disk", async function () {
    const first = await ctx.open(lease);
    first.reg.create("pump-1", { attributes: { site: "north" } });
    assert.strictEqual(await durable(first.reg), undefined);
    await first.reg.close();
    const t = Date.now();
    await inject(ctx.client(), first.store, "pump-1", [`{"o":"u","i":"pump-1","v":2,"t":${t},"ap":{"__proto__":{"polluted":true},"floor":3}}`]);
    const { reg, warnings } = await ctx.open(lease);
    // (The other warning is of this server's appendfsync everysec under strict mode.)
    assert.deepStrictEqual(warnings.filter((w) => /refused/.test(w)), ['1 name(s) or value(s) in Redis that a write would have refused were skipped: pump-1 attributes "__proto__"']);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(reg.get("pump-1").attributes)), { site: "north", floor: 3 });
    assert.strictEqual({}.polluted, undefined);
  });

  /**
   * pump-1 (created with `input`) migrated into Redis, `entries` (raw text, `t` the time) then
   * appended to its stream by another writer, and the whole migrated out again into a local store:
   * `check(result, dir)` is given the migration's result and the store's directory.
   */
  async function migratedBack(input, entries, check) {
    const source = new TwinRegistry({ store: new MemoryStore() });
    source.open();
    source.create("pump-1", input);
    const client = ctx.client();
    await migrate({ kind: "registry", registry: source }, { kind: "redis", redis: client, registry: "plant", partitions: 1 });
    for (const text of entries(Date.now())) await client.xadd("twinwire:{plant:p0}:log", "*", "e", text, "w", "hostile#1");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "refused-migrate-"));
    try {
      await check(await migrate({ kind: "redis", redis: client, registry: "plant" }, { kind: "local", dir: path.join(dir, "plant") }), path.join(dir, "plant"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("a migration from Redis names the names and values it passed over in its warnings", async function () {
    const entries = (t) => [`{"o":"u","i":"pump-1","v":2,"t":${t},"ap":{"__proto__":{"polluted":true},"floor":2},"rv":{"cfg":{"constructor":{}},"rpm":900}}`];
    await migratedBack({ attributes: { site: "a" }, reported: { temperature: 20 } }, entries, async (result, dir) => {
      assert.deepStrictEqual(result.warnings, [
        '2 name(s) or value(s) in Redis that a write would have refused were skipped: pump-1 attributes "__proto__", pump-1 reported "cfg" (the key "constructor" in it)',
      ]);
      const { records } = await readLocal(dir);
      assert.deepStrictEqual(JSON.parse(JSON.stringify(records.map((r) => [r.i, r.v, r.a, Object.keys(r.r)]))), [["pump-1", 2, { site: "a", floor: 2 }, ["temperature", "rpm"]]]);
    });
  });

  it("a migration from Redis names a refused name once, however many entries carry it", async function () {
    const entries = (t) => [2, 3, 4].map((v) => `{"o":"u","i":"pump-1","v":${v},"t":${t + v},"rv":{"bad name":${v},"rpm":${v}}}`);
    await migratedBack({ reported: { temperature: 20 } }, entries, (result) => {
      assert.deepStrictEqual(result.warnings, ['1 name(s) or value(s) in Redis that a write would have refused were skipped: pump-1 reported "bad name"']);
    });
  });
});
