// The Twins sidebar's live feed (src/runtime/live-feed.ts) against a real registry and a fake
// RED.comms: what it publishes may reach any editor user with status.read, so it names the
// registry's node id and nothing else (issue 10, row 2); one notice per flush window however many
// twins change; nothing at all when the registry's liveFeed or settings.js twinwire.liveFeed is off.
// Timers are captured and fired by hand, so nothing here waits on the clock.
"use strict";

const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const feed = require("../../nodes/lib/runtime/live-feed");

const NODE = { id: "c3f0000000000abc", type: "twin-registry", name: "secret-plant-name" };

function fakeRed(settings = {}) {
  const published = [];
  return {
    published,
    settings,
    comms: { publish: (topic, data, retain) => published.push({ topic, data: JSON.parse(JSON.stringify(data)), retain }) },
  };
}

describe("live feed (notices only)", function () {
  const realSetTimeout = global.setTimeout;
  const realClearTimeout = global.clearTimeout;
  let timers;
  let registry;

  beforeEach(function () {
    timers = new Set();
    global.setTimeout = (fn, ms) => {
      const timer = { fn, ms, unref() { return timer; }, ref() { return timer; } };
      timers.add(timer);
      return timer;
    };
    global.clearTimeout = (timer) => timers.delete(timer);
    registry = new TwinRegistry({});
    registry.open();
  });

  afterEach(async function () {
    global.setTimeout = realSetTimeout;
    global.clearTimeout = realClearTimeout;
    await registry.close();
  });

  /** Runs the timers due now, as the event loop would. */
  function fire() {
    const due = [...timers];
    timers.clear();
    for (const t of due) t.fn();
    return due;
  }

  it("publishes one {registry} notice per window for any number of changed twins, with no twin data", function () {
    const RED = fakeRed();
    const detach = feed.attachLiveFeed(RED, NODE, registry);
    assert.deepEqual(RED.published, [{ topic: feed.REGISTRIES_TOPIC, data: { registry: NODE.id, state: "open" }, retain: false }]);

    const ids = [];
    for (let i = 0; i < 300; i++) {
      const id = `pump-${String(i).padStart(3, "0")}`;
      ids.push(id);
      registry.upsert(id, { attributes: { serial: `S-${i}-xq` }, reported: { temperature: 61.5 + i / 1000, mode: "turbo-secret" } });
    }
    registry.remove("pump-007");
    assert.equal(timers.size, 1, "one flush timer for the whole burst");
    assert.equal([...timers][0].ms, feed.FLUSH_MS);
    fire();

    const changes = RED.published.filter((m) => m.topic === feed.CHANGES_TOPIC);
    assert.deepEqual(changes, [{ topic: feed.CHANGES_TOPIC, data: { registry: NODE.id }, retain: false }]);
    const text = JSON.stringify(RED.published);
    for (const secret of [NODE.name, "pump-", "61.5", "turbo-secret", "S-1-xq", "300", "299"]) {
      assert.ok(!text.includes(secret), `the feed carries "${secret}": ${text.slice(0, 300)}`);
    }

    // The next change opens the next window
    registry.upsert("pump-001", { reported: { temperature: 70 } });
    registry.upsert("pump-002", { reported: { temperature: 71 } });
    assert.equal(timers.size, 1);
    fire();
    assert.equal(RED.published.filter((m) => m.topic === feed.CHANGES_TOPIC).length, 2);
    assert.equal(timers.size, 0, "no timer while nothing changes");

    detach();
  });

  it("says closed on detach, dropping a pending notice, and publishes nothing after", function () {
    const RED = fakeRed();
    const detach = feed.attachLiveFeed(RED, NODE, registry);
    registry.create("pump-1", {});
    assert.equal(timers.size, 1);
    detach();
    assert.equal(timers.size, 0, "the pending flush was cleared");
    registry.create("pump-2", {});
    assert.equal(timers.size, 0);
    detach(); // twice is harmless
    assert.deepEqual(RED.published.map((m) => m.data), [
      { registry: NODE.id, state: "open" },
      { registry: NODE.id, state: "closed" },
    ]);
  });

  it("publishes nothing when the registry's liveFeed is false or settings.js says twinwire.liveFeed: false", function () {
    for (const [RED, liveFeed] of [
      [fakeRed(), false],
      [fakeRed({ twinwire: { liveFeed: false } }), true],
      [fakeRed({ twinwire: { liveFeed: false } }), undefined],
    ]) {
      const detach = feed.attachLiveFeed(RED, NODE, registry, liveFeed);
      registry.upsert("pump-1", { reported: { temperature: Math.random() } });
      assert.equal(timers.size, 0, "no timer: the feed is not attached");
      detach();
      assert.deepEqual(RED.published, []);
    }
    // On by default: a flow from before the setting (no liveFeed), settings.js without twinwire
    assert.equal(feed.liveFeedEnabled(fakeRed(), undefined), true);
    assert.equal(feed.liveFeedEnabled(fakeRed({ twinwire: {} }), true), true);
    assert.equal(feed.liveFeedEnabled(fakeRed({ twinwire: { liveFeed: true } }), undefined), true);
    // Without RED.comms (the test helper) it does nothing
    const detach = feed.attachLiveFeed({ settings: {} }, NODE, registry);
    registry.upsert("pump-1", { reported: { temperature: 1 } });
    assert.equal(timers.size, 0);
    detach();
  });
});
