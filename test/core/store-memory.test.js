"use strict";
/** `memory` mode: a registry on it is healthy, whatever it holds (nodes show the store's health). */
const assert = require("assert");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { MemoryStore } = require("../../nodes/lib/core/store/memory-store");

describe("core/store: memory mode health", function () {
  it("a registry in memory mode reports a healthy store, before and after changes", async function () {
    const reg = new TwinRegistry({ store: new MemoryStore() });
    reg.open();
    assert.deepStrictEqual(reg.health(), { ok: true });
    reg.create("a");
    reg.report("a", { x: 1 });
    assert.deepStrictEqual(reg.health(), { ok: true });
    await reg.close();
  });
});
