"use strict";
// A models folder is read file by file: a file whose nesting is too deep to be walked is left
// out with its reason like any other bad file, and the registry's other models still load.
const assert = require("node:assert/strict");
const { loadModels } = require("../../nodes/lib/core/models");

const DEEP = 200000;
const deep = "[".repeat(DEEP) + "]".repeat(DEEP);
const iface = (extra) => `{"@context":"dtmi:dtdl:context;2","@id":"dtmi:example:pump;1","@type":"Interface","contents":[]${extra}}`;
const good = JSON.stringify({ "@context": "https://www.w3.org/2022/wot/td/v1.1", "@type": "tm:ThingModel", title: "valve", properties: { open: { type: "boolean" } } });

describe("core/models: a models-folder file nested too deeply to walk", function () {
  it("is left out, named with its reason, while every other file loads (a copied Interface compared by its text)", function () {
    const { models, problems } = loadModels([
      { file: "valve.tm.json", input: good },
      { file: "a/pump.json", input: iface("") },
      { file: "b/pump.json", input: iface(`,"description":${deep}`) },
    ]);
    assert.deepEqual([...models.keys()].sort(), ["dtmi:example:pump;1", "valve"]);
    assert.deepEqual(problems.map((p) => [p.file, p.error.code]), [["b/pump.json", "model-invalid"]]);
    assert.match(String(problems[0].error.params.reason), /too deep/);
  });
});
