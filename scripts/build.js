#!/usr/bin/env node
// Builds the package in place: TypeScript from src/ into nodes/lib/, one loader per node type
// beside its .html (Node-RED loads <type>.html from beside <type>.js), and icons/ copied into
// nodes/icons/ (Node-RED only scans an icons folder next to the node files), and the Dashboard 2.0
// widgets from ui/ into resources/ (scripts/build-ui.js).
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const root = path.resolve(__dirname, "..");
const pkg = require(path.join(root, "package.json"));

// Compile into a fresh folder, then swap it in: a test run reading nodes/lib never sees it half
// built, and files of deleted sources do not linger.
const lib = path.join(root, "nodes", "lib");
const fresh = path.join(root, "nodes", `.lib-${process.pid}`);
fs.rmSync(fresh, { recursive: true, force: true });
const tsc = require.resolve("typescript/bin/tsc", { paths: [root] });
try {
  execFileSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.json"), "--outDir", fresh], { stdio: "inherit" });
} catch {
  fs.rmSync(fresh, { recursive: true, force: true });
  console.error("build: TypeScript compilation failed");
  process.exit(1);
}
const stale = path.join(root, "nodes", `.lib-old-${process.pid}`);
if (fs.existsSync(lib)) fs.renameSync(lib, stale);
fs.renameSync(fresh, lib);
fs.rmSync(stale, { recursive: true, force: true });

const kinds = [["nodes", pkg["node-red"].nodes || {}], ["plugins", pkg["node-red"].plugins || {}]];
let count = 0;
for (const [dir, entries] of kinds) {
  for (const file of Object.values(entries)) {
    const base = path.basename(file, ".js");
    const src = path.join(root, "src", dir, base + ".ts");
    if (!fs.existsSync(src)) throw new Error(`build: ${file} has no source src/${dir}/${base}.ts`);
    fs.writeFileSync(path.join(root, file), `// built by scripts/build.js\nmodule.exports = require("./lib/${dir}/${base}.js");\n`);
    count++;
  }
}

const iconsOut = path.join(root, "nodes", "icons");
fs.rmSync(iconsOut, { recursive: true, force: true });
fs.mkdirSync(iconsOut, { recursive: true });
for (const icon of fs.readdirSync(path.join(root, "icons"))) {
  fs.copyFileSync(path.join(root, "icons", icon), path.join(iconsOut, icon));
}
console.log(`build: ${count} node files, ${fs.readdirSync(iconsOut).length} icons`);

// The Dashboard 2.0 widgets' Vue components (ui/) into resources/*.umd.js.
require("./build-ui")
  .buildUi({ quiet: true })
  .then((n) => console.log(`build: ${n} dashboard widgets`))
  .catch((err) => {
    console.error(err && err.message ? err.message : err);
    process.exit(1);
  });
