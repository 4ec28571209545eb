"use strict";
// The bench and build scripts are not run by `npm test`, so a slip in one (an unclosed string in
// bench/run.js once) surfaced only when someone ran `npm run bench`. Each must at least parse.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

const ROOT = path.join(__dirname, "..", "..");
const DIRS = ["bench", path.join("bench", "nodes"), "scripts", path.join("scripts", "lib")];

describe("bench and build scripts", function () {
  this.timeout(60000);

  it("every one parses", function () {
    const files = DIRS.flatMap((d) => fs.readdirSync(path.join(ROOT, d)).filter((f) => f.endsWith(".js")).map((f) => path.join(d, f)));
    assert.ok(files.length >= 20, `${files.length} scripts found`);
    const broken = files.filter((f) => spawnSync(process.execPath, ["--check", path.join(ROOT, f)]).status !== 0);
    assert.deepEqual(broken, []);
  });
});
