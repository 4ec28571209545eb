"use strict";
// What a follower causes leaves once durable (src/core/follower.ts, Outbox): an alert once it is
// written too (twin-predict: batched acknowledges before its write, and an alert lost with its
// state in a crash was announced again), and nothing asked after it overtakes it.
const assert = require("node:assert/strict");
const { Outbox } = require("../../nodes/lib/core/follower");

/** A registry whose changes are durable at once and whose flushes settle when the test says. */
function fakeRegistry() {
  const flushes = [];
  return {
    flushes,
    whenDurable: (cb) => cb(),
    store: {
      flush: () =>
        new Promise((resolve, reject) => {
          flushes.push({ resolve, reject });
        }),
    },
  };
}

const target = { empty: () => [], hasAny: () => true, release() {}, failed() {} };
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("core/follower: Outbox.after", function () {
  let unhandled;
  const onUnhandled = (err) => unhandled.push(err);
  beforeEach(() => {
    unhandled = [];
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => process.removeListener("unhandledRejection", onUnhandled));

  it("keeps the order asked: what needs no write waits behind an alert waiting for its write", async () => {
    const reg = fakeRegistry();
    const box = new Outbox(reg, target);
    const said = [];
    box.after(false, () => said.push("a"), (e) => said.push(`a failed ${e.message}`));
    box.after(true, () => said.push("alert"), (e) => said.push(`alert failed ${e.message}`));
    box.after(false, () => said.push("b"), (e) => said.push(`b failed ${e.message}`));
    await turns();
    assert.deepEqual(said, ["a"], "b waits behind the alert's write");
    assert.equal(reg.flushes.length, 1);
    reg.flushes[0].resolve();
    await turns();
    assert.deepEqual(said, ["a", "alert", "b"]);
    box.after(false, () => said.push("c"), () => said.push("c failed"));
    assert.deepEqual(said, ["a", "alert", "b", "c"], "with nothing waiting, at once");
  });

  it("a write that fails fails its own release only; one asked after an alert still waiting is asked for in its turn, never left unhandled", async () => {
    const reg = fakeRegistry();
    const box = new Outbox(reg, target);
    const said = [];
    box.after(true, () => said.push("first"), (e) => said.push(`first failed: ${e.message}`));
    box.after(true, () => said.push("second"), (e) => said.push(`second failed: ${e.message}`));
    await turns();
    assert.equal(reg.flushes.length, 1, "the second write is asked for once the first is done");
    reg.flushes[0].resolve();
    await turns();
    assert.equal(reg.flushes.length, 2);
    reg.flushes[1].reject(new Error("disk full"));
    await turns();
    assert.deepEqual(said, ["first", "second failed: disk full"]);
    assert.deepEqual(unhandled, []);
  });

  it("a release that throws is told as its failure, and those after it still leave", async () => {
    const reg = fakeRegistry();
    const box = new Outbox(reg, target);
    const said = [];
    box.after(true, () => {
      throw new Error("send broke");
    }, (e) => said.push(`failed: ${e.message}`));
    box.after(false, () => said.push("next"), () => said.push("next failed"));
    await turns();
    reg.flushes[0].resolve();
    await turns();
    assert.deepEqual(said, ["failed: send broke", "next"]);
    assert.deepEqual(unhandled, []);
  });
});
