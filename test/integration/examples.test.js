"use strict";
// The example flows deployed for real, as `npm start` and Import > Examples deploy them.
const assert = require("node:assert/strict");
const h = require("./harness");
const { examplesAsFlows } = require("../../scripts/lib/nodered-runtime");

describe("example flows in a real Node-RED", function () {
  this.timeout(60000);
  let nr;
  let flows;

  before(async function () {
    flows = examplesAsFlows();
    nr = await h.startNodeRed({ flows });
  });
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, nr);
  });
  after(() => h.stopAll());

  function injectNamed(name) {
    const node = flows.find((n) => n.type === "inject" && n.name === name);
    assert.ok(node, `an inject node named "${name}"`);
    return h.request(nr.url, { method: "POST", path: `/inject/${node.id}` });
  }

  const twin = (id) => h.request(nr.url, { path: `/twins/basics/${id}` });

  it("deploys every example with no node reporting an error", function () {
    const tabs = flows.filter((n) => n.type === "tab").map((n) => n.label);
    assert.ok(tabs.includes("Twin basics"));
    assert.doesNotMatch(nr.logs(), /\[error\]/);
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/);
  });

  it("Twin basics: each inject does what its comment says", async function () {
    assert.equal((await injectNamed("create pump-07")).status, 200);
    let r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.status === 200 && res;
    });
    assert.equal(r.body.version, 1);
    assert.equal(r.body.model, "pump");

    await injectNamed("update attributes");
    r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.body.version === 2 && res;
    });
    assert.deepEqual(r.body.attributes, { site: "plant-1", tags: { line: "A", zone: "north" } });

    await injectNamed("temperature 61.2, desired rpm 1500");
    r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.body.version === 3 && res;
    });
    assert.deepEqual(r.body.reported, { temperature: 61.2, rpm: 1480 });
    assert.deepEqual(r.body.delta, { rpm: 1500 });

    // The refusal goes to the example's catch node (so it is not logged); messages run in order,
    // so once the next inject's effect shows, the refused one has been handled.
    await injectNamed("temperature 500 (refused)");
    await injectNamed("temperature 61.2, desired rpm 1500");
    r = await h.waitFor(async () => {
      const res = await twin("pump-07");
      return res.body.version >= 4 && res;
    });
    assert.equal(r.body.version, 4, "the refused reading made no version");
    assert.equal(r.body.reported.temperature, 61.2);

    await injectNamed("list pumps");
    await injectNamed("delete pump-07");
    await h.waitFor(async () => (await twin("pump-07")).status === 404);
  });
});
