"use strict";
const { inheritsNothing } = require("../../nodes/lib/core/json");
const assert = require("assert");
const { mergePatch } = require("../../nodes/lib/core/merge-patch");

/** Plain-object view of a result (mergePatch builds null-prototype objects). */
const plain = (value) => JSON.parse(JSON.stringify(value));

describe("core/merge-patch (RFC 7396)", function () {
  describe("the examples of RFC 7396 appendix A", function () {
    // [original, patch, result], verbatim from the RFC's table.
    const table = [
      ['{"a":"b"}', '{"a":"c"}', '{"a":"c"}'],
      ['{"a":"b"}', '{"b":"c"}', '{"a":"b","b":"c"}'],
      ['{"a":"b"}', '{"a":null}', "{}"],
      ['{"a":"b","b":"c"}', '{"a":null}', '{"b":"c"}'],
      ['{"a":["b"]}', '{"a":"c"}', '{"a":"c"}'],
      ['{"a":"c"}', '{"a":["b"]}', '{"a":["b"]}'],
      ['{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}', '{"a":{"b":"d"}}'],
      ['{"a":[{"b":"c"}]}', '{"a":[1]}', '{"a":[1]}'],
      ['["a","b"]', '["c","d"]', '["c","d"]'],
      ['{"a":"b"}', '["c"]', '["c"]'],
      ['{"a":"foo"}', "null", "null"],
      ['{"a":"foo"}', '"bar"', '"bar"'],
      ['{"e":null}', '{"a":1}', '{"e":null,"a":1}'],
      ['[1,2]', '{"a":"b","c":null}', '{"a":"b"}'],
      ["{}", '{"a":{"bb":{"ccc":null}}}', '{"a":{"bb":{}}}'],
    ];
    for (const [original, patch, result] of table) {
      it(`${original} + ${patch} = ${result}`, function () {
        assert.deepStrictEqual(plain(mergePatch(JSON.parse(original), JSON.parse(patch))), JSON.parse(result));
      });
    }
  });

  it("applies the worked example of RFC 7396 section 3", function () {
    const target = {
      title: "Goodbye!",
      author: { givenName: "John", familyName: "Doe" },
      tags: ["example", "sample"],
      content: "This will be unchanged",
    };
    const patch = { title: "Hello!", phoneNumber: "+01-123-456-7890", author: { familyName: null }, tags: ["example"] };
    assert.deepStrictEqual(plain(mergePatch(target, patch)), {
      title: "Hello!",
      author: { givenName: "John" },
      tags: ["example"],
      content: "This will be unchanged",
      phoneNumber: "+01-123-456-7890",
    });
  });

  it("patches a missing target as if it were an empty object", function () {
    assert.deepStrictEqual(plain(mergePatch(undefined, { a: 1, b: null })), { a: 1 });
  });

  it("leaves the target and the patch untouched (the twin's old attributes stay valid)", function () {
    const target = { a: { b: 1, c: 2 }, d: [1] };
    const patch = { a: { b: null, e: 3 }, d: null };
    const targetBefore = JSON.stringify(target);
    const patchBefore = JSON.stringify(patch);
    mergePatch(target, patch);
    assert.strictEqual(JSON.stringify(target), targetBefore);
    assert.strictEqual(JSON.stringify(patch), patchBefore);
  });

  it("builds null-prototype objects at every merged level", function () {
    const out = mergePatch({ a: { b: 1 } }, { a: { c: 2 }, n: { m: 1 } });
    assert.ok(inheritsNothing(out));
    assert.ok(inheritsNothing(out.a));
    assert.ok(inheritsNothing(out.n));
  });

  it("keeps a __proto__ key as plain data and never touches Object.prototype", function () {
    const out = mergePatch({}, JSON.parse('{"__proto__": {"polluted": 1}}'));
    assert.ok(Object.prototype.hasOwnProperty.call(out, "__proto__"));
    assert.strictEqual(({}).polluted, undefined);
    assert.strictEqual(Object.prototype.polluted, undefined);
  });
});
