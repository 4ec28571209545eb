"use strict";
// The registry dialog's "Models folder" field marks a path the runtime would refuse (one leading
// out of the user directory, or the user directory itself) before a deploy does. The validator is
// read out of nodes/twin-registry.html and run here with a stub RED._.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const HTML = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "twin-registry.html"), "utf8");

function validator() {
  const m = /modelsFolder: \{\s*value: "",[\s\S]*?validate: (function \(v\) \{[\s\S]*?\n {8}\})/.exec(HTML);
  assert.ok(m, "the modelsFolder default has a validate function");
  return vm.runInNewContext(`(${m[1]})`, { RED: { _: (key) => `text of ${key}` } });
}

describe("editor: the registry's Models folder field", function () {
  const validate = validator();

  it("accepts blank and folders inside the user directory", function () {
    for (const v of ["", "  ", "models", "models/tm", "./models", "a/./b", "models\\dtmi", "a/b/../c"]) assert.equal(validate(v), true, JSON.stringify(v));
  });

  it("marks a path out of the user directory, an absolute one, or the user directory itself, with the catalog's words", function () {
    for (const v of ["..", "../models", "a/../../b", "/etc", "\\\\server\\share", "C:\\models", "c:/models", ".", "models/..", "./"]) {
      assert.equal(validate(v), "text of @twinwire/node-red-twins/twin-registry:twin-registry.validation.modelsFolder", JSON.stringify(v));
    }
  });
});
