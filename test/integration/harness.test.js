// Checks the integration harness itself: a real Node-RED process starts with this package,
// answers its admin API, survives a SIGKILL and restarts on the same user directory, stops
// cleanly, and honours adminAuth. Also checks examplesAsFlows() remaps ids consistently.
"use strict";

const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const h = require("./harness");

describe("integration harness", function () {
  // Every Node-RED process started in this file, so a failing test prints their output.
  const started = [];
  async function start(options) {
    const nr = await h.startNodeRed(options);
    started.push(nr);
    return nr;
  }
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, ...started);
  });
  after(() => h.stopAll());
  // The adminAuth Node-RED starts in the background while the first describe's tests run.
  let withAuth;
  before(() => {
    withAuth = h.prestart({ settings: { adminAuth: h.adminAuth({ username: "admin", password: "s3cret" }) } });
  });

  describe("Node-RED with an empty flow", function () {
    const userDir = h.tempUserDir();
    let nr;
    before(async () => {
      nr = await start({ userDir, flows: [] });
    });

    it("answers the admin API", async () => {
      const settings = await h.request(nr.url, { path: "/settings" });
      assert.equal(settings.status, 200);
      assert.match(settings.body.version, /^\d+\.\d+\.\d+/);
      const flows = await h.request(nr.url, { path: "/flows" });
      assert.equal(flows.status, 200);
      assert.deepEqual(flows.body, []);
    });

    it("runs the Node-RED and the Node.js that CI asks for (TWINWIRE_NODE_RED_DIR, TWINWIRE_NODE), so a Node-RED 5 run tests Node-RED 5", async () => {
      const { execFileSync } = require("child_process");
      const nodeRedDir = process.env.TWINWIRE_NODE_RED_DIR || path.dirname(require.resolve("node-red/package.json"));
      const wanted = JSON.parse(fs.readFileSync(path.join(nodeRedDir, "package.json"), "utf8")).version;
      const settings = await h.request(nr.url, { path: "/settings" });
      // ("-git": Node-RED adds it when it finds a .git directory above its own, as in this clone)
      assert.equal(settings.body.version.replace(/-git$/, ""), wanted);
      const nodeVersion = process.env.TWINWIRE_NODE ? execFileSync(process.env.TWINWIRE_NODE, ["--version"], { encoding: "utf8" }).trim() : process.version;
      assert.match(nr.logs(), new RegExp(`Node\\.js\\s+version: ${nodeVersion.replace(/\./g, "\\.")}\\b`));
    });

    it("has this package's nodes in the palette", async function () {
      if (!h.isBuilt()) {
        this.test.title += " (skipped: nodes/twin.js is missing, run `npm run build`)";
        this.skip();
      }
      const res = await h.request(nr.url, { path: "/nodes" });
      assert.equal(res.status, 200);
      const sets = res.body.filter((set) => set.module === h.PACKAGE_NAME);
      assert.ok(sets.length > 0, `no node set of ${h.PACKAGE_NAME} in GET /nodes`);
      const types = sets.flatMap((set) => set.types);
      assert.ok(types.includes("twin"), `types: ${types.join(", ")}`);
      assert.ok(types.includes("twin-registry"), `types: ${types.join(", ")}`);
      for (const set of sets) assert.equal(set.err, undefined, `${set.id} failed to load: ${set.err}`);
    });

    it("restarts on the same user directory after a SIGKILL", async () => {
      const comment = { id: "a1b2c3d4e5f60718", type: "comment", z: "f0e1d2c3b4a59687", name: "kept", wires: [] };
      const tab = { id: "f0e1d2c3b4a59687", type: "tab", label: "Harness" };
      await h.deployFlows(nr.url, [tab, comment]);

      const exit = await nr.kill("SIGKILL");
      assert.equal(exit.signal, "SIGKILL");
      const gone = await h.request(nr.url, { path: "/settings" }).catch((err) => err);
      assert.ok(gone instanceof Error, "the killed process still answers");

      nr = await start({ userDir });
      const flows = await h.request(nr.url, { path: "/flows" });
      assert.equal(flows.status, 200);
      assert.ok(flows.body.some((n) => n.id === comment.id && n.name === "kept"), "deployed flow not restored");
    });

    it("stops cleanly on SIGTERM", async () => {
      const exit = await nr.stop();
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.match(nr.logs(), /Stopped flows/);
    });
  });

  describe("Node-RED with adminAuth", function () {
    let nr;
    before(async () => {
      nr = await withAuth();
      started.push(nr);
    });
    after(() => nr && nr.stop());

    it("refuses GET /flows without a token", async () => {
      const res = await h.request(nr.url, { path: "/flows" });
      assert.equal(res.status, 401);
    });

    it("refuses a wrong password", async () => {
      await assert.rejects(h.getToken(nr.url, "admin", "wrong"), /login as admin failed/);
    });

    it("answers GET /flows and deploys with a token", async () => {
      const token = await h.getToken(nr.url, "admin", "s3cret");
      const res = await h.request(nr.url, { path: "/flows", token });
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(res.body));
      await h.deployFlows(nr.url, [{ id: "0123456789abcdef", type: "tab", label: "t" }], token);
    });
  });

  describe("examplesAsFlows", function () {
    it("gives each example its own tab with fresh, consistently remapped ids", () => {
      const dir = h.tempUserDir("twinwire-examples-");
      const example = [
        { id: "t1", type: "tab", label: "original" },
        { id: "in", type: "inject", z: "t1", wires: [["tw"]] },
        { id: "tw", type: "twin", z: "t1", registry: "reg", wires: [["lo"], []] },
        { id: "lo", type: "link out", z: "t1", links: ["li"], wires: [] },
        { id: "li", type: "link in", z: "t1", links: ["lo"], wires: [["ca"]] },
        { id: "ca", type: "catch", z: "t1", scope: ["tw"], name: "tw", wires: [[]] },
        { id: "reg", type: "twin-registry", name: "plant" },
      ];
      fs.writeFileSync(path.join(dir, "A first.json"), JSON.stringify(example));
      fs.writeFileSync(path.join(dir, "B second.json"), JSON.stringify(example.slice(1)));
      fs.writeFileSync(path.join(dir, "notes.txt"), "not an example");

      const flows = h.examplesAsFlows({ examplesDir: dir });
      const tabs = flows.filter((n) => n.type === "tab");
      assert.deepEqual(tabs.map((t) => t.label), ["A first", "B second"]);
      const ids = flows.map((n) => n.id);
      assert.equal(new Set(ids).size, ids.length, "ids are not unique");
      for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);

      for (const tab of tabs) {
        const onTab = flows.filter((n) => n.z === tab.id);
        const byType = (type) => onTab.find((n) => n.type === type);
        const twin = byType("twin");
        const registry = flows.find((n) => n.id === twin.registry);
        assert.equal(registry.type, "twin-registry");
        assert.equal(registry.z, undefined, "config node should stay global");
        assert.deepEqual(byType("inject").wires, [[twin.id]]);
        assert.deepEqual(twin.wires, [[byType("link out").id], []]);
        assert.deepEqual(byType("link out").links, [byType("link in").id]);
        assert.deepEqual(byType("link in").links, [byType("link out").id]);
        assert.deepEqual(byType("catch").scope, [twin.id]);
        assert.equal(byType("catch").name, "tw", "names are text, not references");
      }
      // Each tab has its own registry.
      const registries = flows.filter((n) => n.type === "twin-registry");
      assert.equal(registries.length, 2);
    });

    it("converts this package's examples", () => {
      const flows = h.examplesAsFlows();
      const ids = flows.map((n) => n.id);
      assert.equal(new Set(ids).size, ids.length);
      const dir = path.join(h.repoRoot, "examples");
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
      assert.equal(flows.filter((n) => n.type === "tab").length, files.length);
    });
  });
});
