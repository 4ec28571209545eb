"use strict";
// A model's `pattern` runs on every value it checks, in JavaScript's backtracking engine that
// cannot be interrupted: a pattern that can take exponential time is refused when the model
// loads, and a pattern is tried on at most MAX_PATTERN_INPUT characters.
const assert = require("node:assert/strict");
const { parseModels, checkValue, MAX_PATTERN_INPUT } = require("../../nodes/lib/core/models");
const { throwsTwin } = require("./core-support");

const td = (pattern) => ({
  "@context": "https://www.w3.org/2022/wot/td/v1.1",
  title: "Tagged",
  properties: { tag: { type: "string", pattern }, nested: { type: "object", properties: { code: { type: "string", pattern } } } },
});

describe("core/models: patterns that could stall Node-RED", function () {
  for (const pattern of ["^(a+)+$", "(\\w+\\s?)*$", "^(a|ab)*c$", "(x|x)*y", "^(\\d{1,3})+$", "(.*a){12}", "(a)\\1+"]) {
    it(`refuses the model at load when a pattern can backtrack exponentially: ${pattern}`, function () {
      throwsTwin(() => parseModels(td(pattern)), "model-invalid", { model: "Tagged", reason: /property "tag": pattern .* could take exponential time/ });
    });
  }

  it("refuses such a pattern inside an object property too", function () {
    const model = td("^[a-z]+$");
    model.properties.nested.properties.code.pattern = "^([a-z]+)*$";
    throwsTwin(() => parseModels(model), "model-invalid", { reason: /field "code": pattern .* could take exponential time/ });
  });

  it("keeps patterns real models use: fixed repeats, single-character alternatives, classes", function () {
    for (const pattern of ["^[A-Z]{2}-[0-9]{4}$", "^([0-9a-f]{2}(:|-)){5}[0-9a-f]{2}$", "^(on|auto)$", "^[a-z\\_]+$", "^\\d+(\\.\\d+)?$", "[(a+)]+"]) {
      assert.ok(parseModels(td(pattern)).get("Tagged"), pattern);
    }
  });

  it("answers at once for a long value a slow-but-allowed pattern would grind on, refusing text beyond the cap", function () {
    const model = parseModels(td("^\\d+\\d+\\d+x$")).get("Tagged");
    const long = "1".repeat(MAX_PATTERN_INPUT + 1);
    const started = process.hrtime.bigint();
    throwsTwin(() => checkValue(model, "t1", "tag", long, false), "invalid-value", { rule: /tested on at most 1024 characters/ });
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 50, "no matching was tried");
    assert.equal(checkValue(model, "t1", "tag", "123x", false), "123x");
    throwsTwin(() => checkValue(model, "t1", "nested", { code: long }, false), "invalid-value", { rule: /^code: pattern .*tested on at most/ });
  });
});
