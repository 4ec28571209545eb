"use strict";
// The edit dialogs' naming rules (resources/editor/dialogs.js) against the runtime's: a dialog
// that accepts what a deploy then rejects (or the other way round) shows a user a valid node that
// does not run. The editor file is plain browser code, so it runs here in a vm with a stub window.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const vm = require("vm");
const names = require("../../nodes/lib/core/names");
const { WatchFilter } = require("../../nodes/lib/core/watch");
const compileGlobModule = require("../../nodes/lib/core/glob");
const { compileGlob } = compileGlobModule;
const { deviceIds } = require("../../nodes/lib/core/simulator/fleet");

const root = path.join(__dirname, "..", "..");
const DIALOGS = path.join(root, "resources", "editor", "dialogs.js");

/** TwinwireEditor as a dialog sees it; RED._ answers the catalog key it was asked for. */
function loadEditor() {
  const window = {};
  const RED = { _: (key) => `text of ${key}` };
  vm.runInNewContext(fs.readFileSync(DIALOGS, "utf8"), { window, RED }, { filename: DIALOGS });
  assert.ok(window.TwinwireEditor, "dialogs.js defines window.TwinwireEditor");
  return window.TwinwireEditor;
}

const E = loadEditor();

// Ids at every edge of the rule: length 1/128/129, first character, each allowed and some refused
// characters, the keys that would reach Object.prototype.
const IDS = [
  "", "a", "A", "0", "-a", "_a", ".a", ":a", "a-b", "a_b", "a.b", "a:b", "pump-01", "ns:line-2.pump_7",
  "a".repeat(128), "a".repeat(129), "1".repeat(128), "a b", "a/b", "a+b", "a#b", "a*b", "a?b", "a$", "é", "a\n",
  "__proto__", "constructor", "prototype", "Constructor", "constructor1", "toString",
];
const PROPERTIES = [
  "", "t", "_t", "T1", "temperature", "a_b", "1a", "a-b", "a.b", "a b", "a".repeat(128), "a".repeat(129),
  "__proto__", "constructor", "prototype", "hasOwnProperty",
];
const GLOBS = ["*", "pump-*", "pump-??", "a:b.c_d", "a".repeat(128), "a".repeat(129), "a/b", "a b", "{a}", "a+", "[a]"];

describe("editor dialogs: naming rules are the runtime's", function () {
  it("the twin id pattern is the one in src/core/names.ts, and no node .html keeps its own copy", function () {
    const ts = fs.readFileSync(path.join(root, "src", "core", "names.ts"), "utf8");
    const m = /const TWIN_ID = \/(.+)\/;/.exec(ts);
    assert.ok(m, "TWIN_ID in names.ts");
    assert.equal(E.TWIN_ID.source, m[1]);
    for (const file of fs.readdirSync(path.join(root, "nodes")).filter((f) => f.endsWith(".html"))) {
      const html = fs.readFileSync(path.join(root, "nodes", file), "utf8");
      assert.ok(!html.includes(m[1]), `${file} has a copy of the twin id pattern; use TwinwireEditor.isTwinId`);
    }
  });

  it("the twin id glob pattern is the runtime's (src/core/glob.ts)", function () {
    assert.equal(E.ID_GLOB.source, compileGlobModule.ID_GLOB.source);
  });

  it("accepts exactly the twin ids the registry accepts (constructor and prototype refused, as at deploy)", function () {
    for (const id of IDS) assert.equal(E.isTwinId(id), names.isTwinId(id), JSON.stringify(id));
    assert.equal(E.isTwinId(42), false);
  });

  it("accepts exactly the property names the registry accepts", function () {
    for (const p of PROPERTIES) assert.equal(E.isPropertyName(p), names.isPropertyName(p), JSON.stringify(p));
  });

  it("a comma list of twin id globs (twin-watch, twin-query, twin-predict) passes when twin-watch accepts it", function () {
    const validate = E.validators.idGlobList("twin-watch:twin-watch.validation.twinIds");
    const lists = GLOBS.concat(["", " ", "a, b", "a,,b", " pump-* , fan-? ", "a,b c", "a, {b}"]);
    for (const list of lists) {
      let runtime = true;
      try {
        new WatchFilter({ twinIds: list });
      } catch (err) {
        if (err.code !== "invalid-option") throw err;
        runtime = false;
      }
      const editor = validate(list);
      assert.equal(editor === true, runtime, JSON.stringify(list));
      if (!runtime) assert.equal(editor, "text of @twinwire/node-red-twins/twin-watch:twin-watch.validation.twinIds", "the reason from the node's catalog");
    }
  });

  it("a scope of matching twins (twin-mirror, twin-lifecycle) needs globs the runtime compiles, only when that scope is chosen", function () {
    const validate = E.validators.scopePattern("twin-mirror:twin-mirror.validation.pattern");
    for (const list of GLOBS.concat(["", " ", "a b", "a,b", "pump-* fan-?", "a, {b}"])) {
      assert.equal(validate.call({ scope: "glob" }, list) === true, compileGlob(list) !== null, JSON.stringify(list));
      assert.equal(validate.call({ scope: "all" }, list), true, "no pattern needed for all twins");
    }
  });

  it("a scope of one twin needs a valid id typed in, or an environment variable", function () {
    const validate = E.validators.scopedTwinId("twin-mirror:twin-mirror.validation.twinId");
    for (const id of IDS) {
      assert.equal(validate.call({ twinId: id, twinIdType: "str" }, "twin") === true, names.isTwinId(id), JSON.stringify(id));
    }
    assert.equal(validate.call({ twinId: "PUMP_ID", twinIdType: "env" }, "twin"), true);
    assert.equal(validate.call({ twinId: "", twinIdType: "env" }, "twin"), "text of @twinwire/node-red-twins/twin-mirror:twin-mirror.validation.twinId");
    assert.equal(validate.call({ twinId: "payload.id", twinIdType: "msg" }, "twin") === true, false, "a message has no scope of one twin");
    assert.equal(validate.call({ twinId: "", twinIdType: "str" }, "all"), true, "other scopes need no id");
  });

  it("a property list (twin-watch, twin-predict) refuses what the runtime refuses", function () {
    const validate = E.validators.propertyList();
    for (const p of PROPERTIES) assert.equal(validate(p) === true, p === "" || names.isPropertyName(p), JSON.stringify(p));
    assert.equal(validate("temperature, rpm"), true);
    assert.equal(validate("temperature, constructor"), false, "no message without a catalog key: the field is marked");
  });

  it("a simulator prefix passes when every device id it makes is a twin id", function () {
    // the validator is in twin-simulator.html: take it from there, run against deviceIds
    const html = fs.readFileSync(path.join(root, "nodes", "twin-simulator.html"), "utf8");
    const m = /prefix: \{\s*value: "pump-",\s*validate: (function \(v\) \{[\s\S]*?\n {8}\})/.exec(html);
    assert.ok(m, "the prefix validator in twin-simulator.html");
    const validate = vm.runInNewContext(`(${m[1]})`, { TwinwireEditor: E, RED: { _: (key) => `text of ${key}` } });
    for (const prefix of ["pump-", "", "a".repeat(120), "a".repeat(123), "a".repeat(124), "a".repeat(126), "-pump", "pump/", "ns:pump."]) {
      for (const count of [5, 100, 10000]) {
        let runtime = true;
        try {
          deviceIds({ prefix, count });
        } catch (err) {
          if (err.code !== "invalid-option") throw err;
          runtime = false;
        }
        assert.equal(validate.call({ devices: "numbered", count }, prefix) === true, runtime, `${JSON.stringify(prefix)} x ${count}`);
      }
    }
  });
});
