"use strict";
/**
 * A change forwarded to the instance that leads its twin comes back as that leader's answer, read
 * from this instance's reply stream in Redis, and its result goes on to a flow (twin-sensor's
 * msg.payload, twin's document). Anyone who can write that stream could answer with `__proto__`
 * keys, which JSON.parse makes own properties: copied into a plain object, one became that
 * object's prototype. No leader writes one (no name may be __proto__), so they are dropped.
 */
const assert = require("assert");
const { parseAnswer } = require("../../nodes/lib/core/store/redis-store");

describe("core/store/redis: a leader's answer as the forwarding caller gets it", function () {
  it("drops __proto__ keys at any depth, so a copy of the result keeps Object.prototype", function () {
    const hostile = JSON.stringify({ ok: true, result: { twinId: "pump-1", changes: { cfg: { value: { x: 1 }, previous: null } } } })
      .replace('"changes":{', '"changes":{"__proto__":{"polluted":true},')
      .replace('"value":{', '"value":{"__proto__":{"isAdmin":true},');
    assert.ok(hostile.includes('"__proto__"'));
    const answer = parseAnswer(hostile);
    const changes = answer.result.changes;
    assert.deepStrictEqual(Object.keys(changes), ["cfg"]);
    assert.deepStrictEqual(Object.keys(changes.cfg.value), ["x"]);
    assert.strictEqual({ ...changes }.polluted, undefined);
    assert.strictEqual(Object.assign({}, changes.cfg.value).isAdmin, undefined);
    assert.strictEqual(Object.getPrototypeOf(Object.assign({}, changes)), Object.prototype);
  });

  it("keeps every other key and value of an answer as the leader wrote it", function () {
    const answer = { ok: false, code: "conflict", params: { twinId: "pump-1", expected: 3, current: 4 }, result: { constructor: "a", list: [1, { b: null }] } };
    assert.deepStrictEqual(parseAnswer(JSON.stringify(answer)), answer);
  });
});
