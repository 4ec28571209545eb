"use strict";
// The registry dialog's "Name in Redis" field marks, before a deploy, a name the runtime refuses
// (braces or spaces) and one that is a node's id: Node-RED takes a property equal to a config
// node's id for a link to it, so the registry's own id there would stop the flows from starting
// ("circular config node dependency"). The validator is read out of nodes/twin-registry.html and
// run here with a stub RED.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const HTML = fs.readFileSync(path.join(__dirname, "..", "..", "nodes", "twin-registry.html"), "utf8");
const KEY = "@twinwire/node-red-twins/twin-registry:twin-registry.validation.";

function validator(ids) {
  const m = /redisName: \{\s*value: "",[\s\S]*?validate: (function \(v\) \{[\s\S]*?\n {8}\})/.exec(HTML);
  assert.ok(m, "the redisName default has a validate function");
  const RED = { _: (key) => `text of ${key}`, nodes: { node: (id) => (ids.includes(id) ? { id } : null) } };
  return vm.runInNewContext(`(${m[1]})`, { RED });
}

describe("editor: the registry's Name in Redis field", function () {
  const validate = validator(["3f2a9c1d5e6b7a80", "9a8b7c6d5e4f3a21"]);

  it("accepts blank (the node's id) and a plain name", function () {
    for (const v of ["", "  ", "plant", "plant-a:twins", "site_1.registry"]) assert.equal(validate(v), true, JSON.stringify(v));
  });

  it("marks braces, spaces and names over 200 characters", function () {
    for (const v of ["{plant}", "pl{ant", "two words", "x".repeat(201)]) assert.equal(validate(v), `text of ${KEY}redisName`, JSON.stringify(v));
  });

  it("marks the id of a node, which Node-RED would take for a link to it", function () {
    assert.equal(validate("3f2a9c1d5e6b7a80"), `text of ${KEY}redisNameId`);
  });
});
