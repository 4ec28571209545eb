"use strict";
// A registry whose store directory is held by a Node-RED this one cannot look up (another
// container on the same volume, another machine on a network share): it waits, saying who holds
// the directory and when it would be taken over, instead of writing beside it (dir-lock.ts).
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { helper, nodes, flow, exchange, waitFor, useUserDir, registryWithCatalog } = require("./support");


const withCatalog = registryWithCatalog;

const errors = () => helper.log().args.map((a) => a[0]).filter((m) => m.type === "twin-registry" && m.level === helper.log().ERROR).map((m) => String(m.msg));

describe("twin-registry: a store directory held from another host", function () {
  useUserDir("twinwire-lock-lease-");
  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await new Promise((r) => helper.stopServer(r));
  });

  it("waits and retries, naming the holder's host and the expiry, and refuses changes meanwhile; the holder's lock stays", async function () {
    const dir = path.join(helper.settings().userDir, "twinwire", "reg");
    fs.mkdirSync(dir, { recursive: true });
    const lock = JSON.stringify({ pid: 7, host: "node-red-2", since: Date.now(), token: "theirs" });
    fs.writeFileSync(path.join(dir, "lock"), lock);
    const f = flow([{ id: "t", type: "twin", registry: "reg", operation: "create", wires: [["out"]] }, { id: "out", type: "helper" }], { persistence: "strict" });
    await helper.load([withCatalog, nodes.twin, nodes.catch], f);

    const said = await waitFor(() => errors().find((m) => m.includes("could not start")), "the registry's error");
    assert.match(said, /is in use by another process \(pid 7 on node-red-2, .*it is taken over if its lock is not refreshed within 20 s.*; trying again every 5 s$/);
    const refused = await exchange("t", "out", { twinId: "pump-1", payload: {} });
    assert.equal(refused.kind, "error");
    assert.match(refused.msg.error.message, /in use by another process \(pid 7 on node-red-2/);
    assert.equal(fs.readFileSync(path.join(dir, "lock"), "utf8"), lock, "the holder's lock is left as it is");
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("journal")), [], "nothing written beside it");
  });
});
