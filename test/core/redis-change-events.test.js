"use strict";
/**
 * Changes made on another instance of a registry shared on Redis: each instance tells its
 * subscribers (twin-watch, the live feed, dashboards) the same change events the writer's own
 * call emitted there, marked `origin: "elsewhere"`, and only the twin's leader decides that a
 * silent twin has gone offline.
 */
const assert = require("assert");
const { useRedis, ledBy, split } = require("./redis-support");
const { durable, waitFor } = require("./store-support");

const plain = (value) => JSON.parse(JSON.stringify(value));

describe("Change events of a registry shared on Redis", function () {
  this.timeout(30000);
  const ctx = useRedis({ appendfsync: "always" });
  const lease = { leaseMs: 1000, renewMs: 100, blockMs: 100 };

  it("tells the other instance every change as the events the writer emitted, marked as made elsewhere, and leaves the writer's own events unmarked", async function () {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const id = ledBy(a.store, b.store, "pump");
    const onA = [];
    const onB = [];
    a.reg.subscribe((event) => onA.push(plain(event)));
    b.reg.subscribe((event) => onB.push(plain(event)));

    a.reg.create(id, { attributes: { site: "north", rack: { row: 1 } }, reported: { temperature: 20 }, desired: { speed: 3 } });
    a.reg.report(id, { temperature: 21, speed: 3 }, { source: "plc" }); // the delta closes
    a.reg.updateAttributes(id, { site: "south", rack: { row: 2 }, floor: 2 });
    a.reg.setDesired(id, { speed: 5, mode: "eco" }, { by: "operator" });
    a.reg.setDesired(id, { mode: null });
    a.reg.setPrediction(id, "temperature", { forecast: 22.5 }, { "predict:temperature": { n: 1 } });
    a.reg.setLifecycle(id, { stage: "running" });
    a.reg.setState(id, "mirror", { props: {} }); // private state: no event here, none there
    a.reg.setOnline(id, false);
    a.reg.report(id, { temperature: 19 }, { ts: Date.now() + 1000 }); // its own source time (rt)
    a.reg.remove(id);
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => onB.some((e) => e.op === "deleted"), "the removal on the other instance", 5000);

    const sections = onA.map((e) => e.section);
    for (const s of ["twin", "attributes", "reported", "desired", "delta", "connectivity", "predictions", "lifecycle"]) {
      assert.ok(sections.includes(s), `the writer emitted a ${s} event`);
    }
    assert.ok(onA.every((e) => !("origin" in e)), "events of changes made here carry no origin");
    assert.deepStrictEqual(onB, onA.map((e) => ({ ...e, origin: "elsewhere" })));
  });

  it("leaves a twin led elsewhere online however long this instance has not heard of it, and marks it offline once it leads the twin", async function () {
    const start = Date.now();
    let nowA = start;
    let nowB = start;
    const a = await ctx.open(lease, { stalenessMs: 60000, clock: () => nowA });
    const b = await ctx.open(lease, { stalenessMs: 60000, clock: () => nowB });
    await split(a, b);
    const id = ledBy(a.store, b.store, "meter");
    const onB = [];
    b.reg.subscribe((event) => onB.push(plain(event)));
    a.reg.create(id, { reported: { n: 1 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => b.reg.has(id), "the twin on the other instance", 5000);

    nowB = start + 120000;
    b.reg.expire();
    assert.strictEqual(b.reg.get(id).connectivity.online, true, "a twin led elsewhere is not marked offline here");
    assert.deepStrictEqual(onB.filter((e) => e.section === "connectivity" && e.changes.online.value === false), []);

    // The leader goes; this instance takes the twin with the sign of life the stream told it.
    await a.reg.close();
    await waitFor(() => b.store.leads(id), "the remaining instance to lead the twin", 10000);
    b.reg.expire();
    assert.strictEqual(b.reg.get(id).connectivity.online, false);
    const offline = onB.filter((e) => e.section === "connectivity" && e.changes.online.value === false);
    assert.strictEqual(offline.length, 1);
    assert.ok(!("origin" in offline[0]), "the new leader marked it offline itself");
    assert.strictEqual(await durable(b.reg), undefined);
  });

  it("tells a twin going offline on its leader to the other instance", async function () {
    const start = Date.now();
    let nowA = start;
    const a = await ctx.open(lease, { stalenessMs: 60000, clock: () => nowA });
    const b = await ctx.open(lease, { stalenessMs: 60000 });
    await split(a, b);
    const id = ledBy(a.store, b.store, "meter");
    const onB = [];
    b.reg.subscribe((event) => onB.push(plain(event)));
    a.reg.create(id, { reported: { n: 1 } });
    nowA = start + 120000;
    a.reg.expire();
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => onB.some((e) => e.section === "connectivity" && e.changes.online.value === false), "the twin offline on the other instance", 5000);
    assert.strictEqual(b.reg.get(id).connectivity.online, false);
    const offline = onB.find((e) => e.section === "connectivity" && e.changes.online.value === false);
    assert.deepStrictEqual(offline, { twinId: id, version: 1, section: "connectivity", ts: start + 120000, changes: { online: { value: false, previous: true, ts: start + 120000 } }, origin: "elsewhere" });
  });
});
