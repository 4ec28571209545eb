"use strict";
// The package as users get it: `npm pack` output installed into a separate Node-RED user
// directory the way the palette manager installs it (npm install <tarball>), then loaded by a
// real Node-RED with no link to the working tree.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { execFileSync, spawnSync } = require("child_process");
const h = require("./harness");
const { repoRoot, examplesAsFlows } = require("../../scripts/lib/nodered-runtime");

const npm = process.platform === "win32" ? "npm.cmd" : "npm";

describe("the packed package installed like the palette manager does", function () {
  this.timeout(180000);
  let nr;
  let files;
  let userDir;
  let installOutput = "";

  before(async function () {
    const out = h.tempUserDir("twinwire-pack-");
    // Packs the build the tests run on (`npm test` builds first, as every integration test loads
    // nodes/): `prepack`, the same build again, took a minute of this file on a loaded machine.
    const stdout = execFileSync(npm, ["pack", "--json", "--ignore-scripts", "--pack-destination", out], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const packed = JSON.parse(stdout.slice(stdout.search(/^\[/m)));
    files = packed[0].files.map((f) => f.path);
    userDir = h.tempUserDir("twinwire-palette-");
    fs.writeFileSync(path.join(userDir, "package.json"), JSON.stringify({ name: "node-red-project", version: "0.0.1", private: true }));
    const install = spawnSync(npm, ["install", "--no-audit", "--no-fund", "--prefer-offline", path.join(out, packed[0].filename)], { cwd: userDir, encoding: "utf8" });
    assert.equal(install.status, 0, install.stderr);
    installOutput = install.stdout + install.stderr;
    nr = await h.startNodeRed({ userDir, link: false, flows: examplesAsFlows() });
  });
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, nr);
  });
  after(() => h.stopAll());

  it("has no install script, so npm (11: allowScripts) warns about nothing when it is installed", function () {
    const installed = JSON.parse(fs.readFileSync(path.join(userDir, "node_modules", "@twinwire", "node-red-twins", "package.json"), "utf8"));
    const scripts = Object.keys(installed.scripts || {}).filter((s) => ["preinstall", "install", "postinstall", "prepare"].includes(s));
    assert.deepEqual(scripts, []);
    assert.doesNotMatch(installOutput, /install-scripts|prepare/, installOutput);
  });

  it("ships the built nodes, editor files, icons, locales and examples, and no sources or tests", function () {
    for (const f of ["nodes/twin.js", "nodes/twin.html", "nodes/twin-registry.js", "nodes/twin-admin-api.js", "nodes/icons/twin.svg", "nodes/locales/en-US/twin.json", "nodes/locales/en-US/twin.html", "nodes/lib/core/registry.js", "examples/Twin basics.json", "LICENSE", "README.md"]) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/") || f.startsWith("bench/")), "no sources, tests or benchmarks");
  });

  it("ships the editor code of resources/, and the installed Node-RED serves each file the .html load", async function () {
    const prefix = "resources/@twinwire/node-red-twins/";
    const wanted = new Set();
    for (const f of files.filter((f) => /^nodes\/[^/]+\.html$/.test(f))) {
      const html = fs.readFileSync(path.join(repoRoot, f), "utf8");
      for (const m of html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)) wanted.add(m[1]);
    }
    assert.ok(wanted.has(`${prefix}sidebar/sidebar.js`) && wanted.has(`${prefix}editor/dialogs.js`), [...wanted].join());
    for (const url of wanted) {
      assert.ok(files.includes(`resources/${url.slice(prefix.length)}`), `resources/${url.slice(prefix.length)} is in the package`);
      const res = await h.request(nr.url, { path: `/${url}` });
      assert.equal(res.status, 200, `GET /${url}`);
    }
  });

  it("is installed as a real directory and loaded by Node-RED with every node set and the plugin", async function () {
    const installed = path.join(userDir, "node_modules", "@twinwire", "node-red-twins");
    assert.equal(fs.lstatSync(installed).isSymbolicLink(), false);
    const res = await h.request(nr.url, { path: "/nodes", headers: { Accept: "application/json" } });
    const sets = res.body.filter((s) => s.module === "@twinwire/node-red-twins");
    const types = sets.flatMap((s) => s.types || []);
    for (const t of ["twin-registry", "twin"]) assert.ok(types.includes(t), `${t} is in the palette`);
    assert.ok(sets.every((s) => s.enabled && !s.err), JSON.stringify(sets.filter((s) => s.err)));
    const examples = await h.request(nr.url, { path: "/library/examples/flows/@twinwire/node-red-twins/Twin%20basics" });
    assert.equal(examples.status, 200, "the example is offered under Import > Examples");
  });

  it("runs the example flow and answers on the admin API", async function () {
    const twins = await h.request(nr.url, { path: "/twins" });
    assert.equal(twins.status, 200);
    assert.ok(twins.body.map((r) => r.name).includes("basics"));
  });
});
