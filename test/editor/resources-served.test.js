"use strict";
// The files the editor .html load from resources/ (Node-RED serves the package's resources/ at
// resources/<module>/...): each one exists and ships in the package, each resource is loaded by
// some .html, and the URLs are relative, as Node-RED's docs ask: the editor prefixes such a
// <script src> with its admin root and runs the node's own script once it has loaded (an absolute
// /resources/... URL breaks under an httpAdminRoot such as /admin).
// That each one loads in a real editor, without a 404, is in test/browser/editor.test.js.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");

const root = path.join(__dirname, "..", "..");
const pkg = require(path.join(root, "package.json"));
const PREFIX = `resources/${pkg.name}/`;

function htmlFiles() {
  return fs.readdirSync(path.join(root, "nodes")).filter((f) => f.endsWith(".html")).map((f) => path.join(root, "nodes", f));
}

/** Every <script src> and <link href> of a .html. */
function referencesOf(file) {
  const html = fs.readFileSync(file, "utf8");
  return [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)].map((m) => m[1]);
}

function resourceFiles(dir = path.join(root, "resources")) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? resourceFiles(path.join(dir, e.name)) : [path.relative(path.join(root, "resources"), path.join(dir, e.name)).split(path.sep).join("/")]);
}

describe("editor resources: what the .html load", function () {
  it("every script and stylesheet a node .html loads is a file of resources/, named by the module's relative URL", function () {
    const refs = htmlFiles().flatMap((f) => referencesOf(f).map((url) => ({ file: path.basename(f), url })));
    assert.ok(refs.length > 0);
    for (const { file, url } of refs) {
      assert.ok(url.startsWith(PREFIX), `${file}: ${url} is not ${PREFIX}...`);
      assert.ok(fs.existsSync(path.join(root, "resources", url.slice(PREFIX.length))), `${file}: ${url} has no file in resources/`);
    }
  });

  it("every file in resources/ is loaded by some .html, and the sidebar and every dialog with twin ids use them", function () {
    const loaded = new Set(htmlFiles().flatMap(referencesOf).map((url) => url.slice(PREFIX.length)));
    // The Dashboard 2.0 widget bundles are loaded by the dashboard page, as package.json declares.
    for (const widget of Object.values(pkg["node-red-dashboard-2"].widgets)) loaded.add(widget.output);
    for (const f of resourceFiles()) assert.ok(loaded.has(f), `resources/${f} is loaded by no .html`);
    const uses = (name) => referencesOf(path.join(root, "nodes", `${name}.html`));
    for (const name of ["twin", "twin-sensor", "twin-mirror", "twin-watch", "twin-predict", "twin-simulator", "twin-lifecycle", "twin-query"]) {
      const html = fs.readFileSync(path.join(root, "nodes", `${name}.html`), "utf8");
      if (html.includes("TwinwireEditor.")) assert.ok(uses(name).includes(`${PREFIX}editor/dialogs.js`), `${name}.html uses TwinwireEditor without loading it`);
    }
    assert.ok(uses("twin-admin-api").includes(`${PREFIX}sidebar/sidebar.js`));
  });

  it("the package's files include resources/", function () {
    assert.ok(pkg.files.includes("resources/"), JSON.stringify(pkg.files));
  });
});
