"use strict";
// A registry switched from strict (or batched) to memory: the twins it stored on disk are not
// loaded, and stay there; the registry says so once, at deploy, rather than letting them look lost.
const assert = require("node:assert/strict");
const path = require("path");
const { helper, nodes, flow, exchange, useUserDir, registryWithCatalog } = require("./support");


const withCatalog = registryWithCatalog;

const load = (f) => helper.load([withCatalog, nodes.twin, nodes.catch], f);
const warnings = () => helper.log().args.map((a) => a[0]).filter((m) => m.type === "twin-registry" && m.level === helper.log().WARN).map((m) => String(m.msg));
const twinFlow = (persistence) => flow([{ id: "t", type: "twin", registry: "reg", operation: "create", wires: [["out"]] }, { id: "out", type: "helper" }], { persistence });

describe("twin-registry: switched to memory", function () {
  useUserDir("twinwire-memory-switch-");
  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await new Promise((r) => helper.stopServer(r));
  });

  it("says once, at deploy, that the twins stored on disk are not loaded, and they are there again when switched back", async function () {
    await load(twinFlow("strict"));
    const created = await exchange("t", "out", { twinId: "pump-1", payload: { attributes: { site: "north" } } });
    assert.equal(created.kind, "ok", JSON.stringify(created.msg.error));
    await helper.unload();

    await load(twinFlow("memory"));
    const dir = path.join(helper.settings().userDir, "twinwire", "reg");
    assert.deepEqual(warnings(), [
      `persistence is memory: the twins this registry stored on disk in ${dir} are not loaded and stay there as they were; set persistence back to strict or batched to have them again (delete that directory to drop them)`,
    ]);
    assert.throws(() => helper.getNode("reg").use().get("pump-1"), /not-found/);
    await helper.unload();

    await load(twinFlow("strict"));
    assert.equal(helper.getNode("reg").use().get("pump-1").attributes.site, "north");
  });

  it("opens in memory under an id that could not name a store directory (an imported flow's), saying nothing", async function () {
    const f = twinFlow("memory").map((n) => (n.id === "reg" ? { ...n, id: "odd..id" } : n.registry === "reg" ? { ...n, registry: "odd..id" } : n));
    await load(f);
    const created = await exchange("t", "out", { twinId: "pump-1", payload: {} });
    assert.equal(created.kind, "ok", JSON.stringify(created.msg.error));
    assert.deepEqual(warnings(), []);
  });

  it("says nothing when there is nothing on disk", async function () {
    await load(twinFlow("memory"));
    helper.getNode("reg").use();
    assert.deepEqual(warnings(), []);
  });
});
