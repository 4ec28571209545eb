"use strict";
/**
 * Work done once on a registry shared on Redis: a follower with an effect outside the registry
 * (here twin-mirror's commands to a device) acts only for the twins its instance leads, on the
 * changes made there; when the leader goes, the instance that takes the twin over resumes the
 * work it left (a delta still waiting for the device) from what the twin keeps. The Home
 * Assistant bridge speaks for the twins its instance leads, and only for them; twin-lifecycle
 * counts a reading on the instance leading its twin, also when the twin changes hands while the
 * reading's condition is being evaluated; twin-link's retained state goes out from the twin's
 * leader, and a state throttled and not sent when the twin changed hands is sent by the new one.
 */
const assert = require("assert");
const { Mirror } = require("../../nodes/lib/core/mirror");
const { HomeAssistantBridge } = require("../../nodes/lib/core/homeassistant/bridge");
const { Lifecycle } = require("../../nodes/lib/core/lifecycle/tracker");
const { DeviceLink } = require("../../nodes/lib/core/link/link");
const { LinkTopics } = require("../../nodes/lib/core/link/protocol");
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

  const HA = { prefix: "homeassistant", base: "twinwire", id: "twinwire", origin: { name: "Twinwire" } };

  function bridgeOn(instance, published) {
    const bridge = new HomeAssistantBridge(instance.reg, { ha: HA, stateIntervalMs: 0, emit: (pubs) => published.push(...pubs), onError: (err) => published.push({ topic: "error", payload: String(err), retain: false }) });
    bridge.start();
    return bridge;
  }

  /** The twins a bridge announced: its discovery configs name each one's state topic. */
  function announced(published) {
    const ids = new Set();
    for (const p of published) {
      if (!p.topic.endsWith("/config") || p.payload === "") continue;
      ids.add(JSON.parse(p.payload).state_topic.slice("twinwire/".length, -"/state".length));
    }
    return [...ids].sort();
  }

  const ledOn = (instance, ids) => ids.filter((id) => instance.store.leads(id)).sort();

  it("announces each twin to Home Assistant from the one instance leading it, and from the instance that takes it over when its leader goes", async function () {
    const a = await ctx.open(lease);
    const b = await ctx.open(lease);
    await split(a, b);
    const ids = Array.from({ length: 40 }, (_, i) => `sensor-${i}`);
    for (const id of ids) (a.store.leads(id) ? a : b).reg.create(id, { reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    assert.strictEqual(await durable(b.reg), undefined);
    await waitFor(() => ids.every((id) => a.reg.has(id) && b.reg.has(id)), "every twin on both instances", 5000);

    const onA = [];
    const onB = [];
    const bridgeA = bridgeOn(a, onA);
    const bridgeB = bridgeOn(b, onB);
    await waitFor(() => announced(onA).length + announced(onB).length >= ids.length, "the announcements", 5000);
    assert.deepStrictEqual(announced(onA), ledOn(a, ids));
    assert.deepStrictEqual(announced(onB), ledOn(b, ids));
    assert.ok(announced(onA).length > 0 && announced(onB).length > 0, "both instances lead some of the twins");
    assert.strictEqual(bridgeA.size + bridgeB.size, ids.length);

    // HA's command reaches every instance: the twin's leader applies it, the other leaves it.
    const target = announced(onA)[0];
    assert.strictEqual(bridgeB.command(target, "temperature", "30"), null);
    // A config the other instance published is not stale here: nothing is cleared.
    const published = onB.length;
    for (const p of onA.filter((x) => x.topic.endsWith("/config"))) bridgeB.noticeConfig(p.topic, p.payload);
    assert.strictEqual(onB.length, published, "configs of twins led elsewhere left alone");

    // The instance leading A's twins goes: B takes them over and announces them.
    const leftByA = announced(onA);
    onB.length = 0;
    bridgeA.close();
    await a.reg.close();
    await waitFor(() => ids.every((id) => b.store.leads(id)), "the remaining instance to lead every twin", 10000);
    await waitFor(() => announced(onB).length === leftByA.length, "the twins taken over announced", 5000);
    assert.deepStrictEqual(announced(onB), leftByA);
    assert.strictEqual(bridgeB.size, ids.length);
    assert.deepStrictEqual([...onA, ...onB].filter((p) => p.topic === "error"), []);
  });

  it("forgets in Home Assistant's count, and clears nothing for, the twins an instance joining takes over, and announces them there", async function () {
    const a = await ctx.open(lease);
    const ids = Array.from({ length: 40 }, (_, i) => `sensor-${i}`);
    for (const id of ids) a.reg.create(id, { reported: { temperature: 20 } });
    assert.strictEqual(await durable(a.reg), undefined);
    const onA = [];
    const bridgeA = bridgeOn(a, onA);
    await waitFor(() => bridgeA.size === ids.length, "every twin announced by the lone instance", 5000);

    const b = await ctx.open(lease);
    const onB = [];
    const bridgeB = bridgeOn(b, onB);
    await split(a, b);
    await waitFor(() => bridgeB.size === ledOn(b, ids).length && bridgeA.size === ledOn(a, ids).length, "each bridge to count the twins its instance leads", 5000);
    assert.ok(bridgeB.size > 0, "the joining instance leads some of the twins");
    assert.deepStrictEqual(announced(onB), ledOn(b, ids));
    assert.deepStrictEqual(onA.filter((p) => p.payload === ""), [], "nothing cleared by the instance that gave the twins up");
  });

  /** A running condition evaluated asynchronously (as JSONata is), held until `release` is called. */
  function heldCondition() {
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    return {
      condition: { properties: ["rpm"], source: "rpm > 0", evaluate: (twin) => {
        const on = twin.reported.get("rpm").value > 0;
        return gate.then(() => on);
      } },
      release: () => release(),
    };
  }

  it("counts a reading whose condition was still being evaluated when its twin changed hands on the instance taking the twin over, and not on the one giving it up", async function () {
    const a = await ctx.open(lease);
    const held = heldCondition();
    const errorsA = [];
    const lifecycleA = new Lifecycle({ registry: a.reg, running: held.condition, onError: (err, twinId) => errorsA.push(`${twinId}: ${err.message}`) });
    lifecycleA.start();
    const ids = Array.from({ length: 40 }, (_, i) => `motor-${i}`);
    for (const id of ids) a.reg.create(id, { reported: { rpm: 1200 } });
    assert.strictEqual(await durable(a.reg), undefined);

    // An instance joins and takes part of the twins while their readings wait for the condition.
    const b = await ctx.open(lease);
    const errorsB = [];
    const immediate = { properties: ["rpm"], source: "rpm > 0", evaluate: (twin) => Promise.resolve(twin.reported.get("rpm").value > 0) };
    new Lifecycle({ registry: b.reg, running: immediate, onError: (err, twinId) => errorsB.push(`${twinId}: ${err.message}`) }).start();
    await split(a, b);
    const movedToB = ledOn(b, ids);
    assert.ok(movedToB.length > 0 && movedToB.length < ids.length, `${movedToB.length} twins moved`);
    held.release();

    const running = (reg, id) => reg.getState(id, "lifecycle")?.run?.on === true;
    await waitFor(() => ids.every((id) => running(a.reg, id) && running(b.reg, id)), "every twin counted as running, on both instances", 5000);
    assert.deepStrictEqual(errorsA, [], "no count written for a twin another instance leads now");
    assert.deepStrictEqual(errorsB, []);
    for (const id of ids) assert.strictEqual(b.reg.getState(id, "lifecycle").run.from, a.reg.get(id).meta.reported.rpm.ts, `${id} counted from its reading`);
  });

  function linkOn(instance, published, time) {
    const link = new DeviceLink({
      registry: instance.reg,
      topics: new LinkTopics("twins"),
      publish: (topic, payload, retain) => published.push({ topic, payload, retain }),
      state: "reported",
      stateIntervalMs: 60000,
      describe: (err) => ({ code: err.code || "error", message: err.message }),
      ...(time ? { clock: time.clock, timers: time.timers } : {}),
    });
    link.start();
    return link;
  }

  /** The last retained state each twin got, by twin id. */
  function lastStates(published) {
    const out = {};
    for (const p of published) if (p.topic.endsWith("/state")) out[p.topic.split("/")[1]] = JSON.parse(p.payload);
    return out;
  }

  it("publishes a twin's retained state from its leader: the instance giving it up drops the state it throttled, and the one taking it over sends it", async function () {
    const a = await ctx.open(lease);
    // The leader's throttle runs on a clock the test moves: its second state waits for the interval.
    let now = Date.now();
    const due = [];
    const time = { clock: () => now, timers: { set: (fn) => (due.push(fn), due.length), clear: () => undefined } };
    const onA = [];
    linkOn(a, onA, time);
    const ids = Array.from({ length: 40 }, (_, i) => `meter-${i}`);
    for (const id of ids) a.reg.create(id, { reported: { kwh: 1 } });
    assert.strictEqual(await durable(a.reg), undefined);
    await waitFor(() => Object.keys(lastStates(onA)).length === ids.length, "the first state of every twin", 5000);
    for (const id of ids) a.reg.report(id, { kwh: 2 });
    assert.strictEqual(await durable(a.reg), undefined);
    assert.ok(Object.values(lastStates(onA)).every((state) => state.kwh === 1), "the second state waits for the interval");

    const b = await ctx.open(lease);
    const onB = [];
    linkOn(b, onB);
    await split(a, b);
    const movedToB = ledOn(b, ids);
    assert.ok(movedToB.length > 0 && movedToB.length < ids.length, `${movedToB.length} twins moved`);
    await waitFor(() => Object.keys(lastStates(onB)).length === movedToB.length, "the state of the twins taken over", 5000);
    assert.deepStrictEqual(Object.keys(lastStates(onB)).sort(), movedToB);
    assert.ok(Object.values(lastStates(onB)).every((state) => state.kwh === 2), "the state the old leader had not sent");

    // The interval ends on the instance that gave the twins up: it sends only those it still leads.
    onA.length = 0;
    now += 60000;
    for (const fn of due.splice(0)) fn();
    await waitFor(() => Object.keys(lastStates(onA)).length === ids.length - movedToB.length, "the throttled states of the twins still led", 5000);
    assert.deepStrictEqual(Object.keys(lastStates(onA)).sort(), ledOn(a, ids));
    assert.strictEqual(await durable(a.reg), undefined);
    assert.deepStrictEqual(Object.keys(lastStates(onA)).sort(), ledOn(a, ids));
  });
});
