"use strict";
// A change forwarded to the instance leading its twin can be answered "made earlier" (the request
// was delivered again after a handover and its leader had made it before): the caller's promise
// resolves with a result it can use, not undefined, so a twin-sensor or twin node completes its
// message instead of failing a reading that is saved (it used to throw a TypeError reading
// `event` of undefined). A store that forwards everything stands for the other instance.
const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { MemoryStore } = require("../../nodes/lib/core/store/memory-store");
const { MADE_EARLIER } = require("../../nodes/lib/core/store/store");
const { readingPath, submitReading } = require("../../nodes/lib/core/reading");

/** Leads no twin; every forwarded change was made before by "the leader" (here: the local call). */
class AnsweredAgain extends MemoryStore {
  leads() {
    return false;
  }
  forward() {
    return Promise.resolve(MADE_EARLIER);
  }
}

describe("a forwarded change answered as made earlier", function () {
  let reg;
  beforeEach(() => {
    reg = new TwinRegistry({ store: new AnsweredAgain(), historyLength: 10 });
    reg.open();
    reg.create("pump-1", { attributes: { site: "a" }, reported: { rpm: 1000 } });
  });

  it("resolves a reading with no event and nothing stale, through the path twin-sensor takes", async function () {
    const outcome = await readingPath({ unknown: "reject" }).submit(reg, "pump-1", { rpm: 1200 });
    assert.deepEqual({ event: outcome.event, stale: outcome.stale, created: outcome.created }, { event: null, stale: [], created: false });
    const direct = await submitReading(reg, "pump-1", { rpm: 1300 });
    assert.equal(direct.event, null);
  });

  it("resolves a write with the twin as this instance holds it, and an upsert as not created here", async function () {
    const doc = await reg.submit({ op: "setDesired", id: "pump-1", values: { rpm: 1500 } });
    assert.equal(doc.id, "pump-1");
    assert.equal(doc.attributes.site, "a");
    const up = await reg.submit({ op: "upsert", id: "pump-1", input: {} });
    assert.equal(up.created, false);
    assert.equal(up.document.id, "pump-1");
    assert.equal(await reg.submit({ op: "remove", id: "gone" }), null, "a twin no longer here: null, not a throw");
  });
});
