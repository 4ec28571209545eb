"use strict";
// The journal's waiting lines, held as bytes: what a write takes is every line queued, in order,
// each with its newline, whatever the characters and however many chunks they span; a batch that
// failed goes back in front; bytes taken for a write that is still running are never overwritten.
const assert = require("assert");
const { LineQueue } = require("../../nodes/lib/core/store/line-queue");

describe("Journal lines waiting to be written (LineQueue)", function () {
  it("gives every line queued, in order, with its newline, as UTF-8 bytes", function () {
    const q = new LineQueue();
    assert.strictEqual(q.empty, true);
    const lines = ['{"i":"pump-1","t":1}', '{"i":"Kessel-Ä","v":"°C"}', '{"i":"emoji","v":"🌡️"}'];
    for (const line of lines) q.push(line);
    assert.strictEqual(q.empty, false);
    assert.strictEqual(q.take().toString("utf8"), lines.join("\n") + "\n");
    assert.strictEqual(q.empty, true);
  });

  it("keeps the order across chunks, lines of any length among them", function () {
    const q = new LineQueue();
    const lines = [];
    // 2,000 lines of up to ~2 KB and a few of 600 KB: several 256 KB chunks and lines longer than one.
    for (let k = 0; k < 2000; k++) lines.push(JSON.stringify({ k, v: "é".repeat((k * 37) % 1000), big: k % 500 === 7 ? "x".repeat(600 * 1024) : undefined }));
    for (const line of lines) q.push(line);
    assert.strictEqual(q.take().toString("utf8"), lines.join("\n") + "\n");
  });

  it("never writes over the bytes of a batch taken for a write still running", function () {
    const q = new LineQueue();
    q.push('{"a":1}');
    const inflight = q.take();
    const copy = Buffer.from(inflight);
    for (let k = 0; k < 10000; k++) q.push(`{"b":${k}}`);
    assert.deepStrictEqual(inflight, copy);
    assert.strictEqual(q.take().toString("utf8").split("\n").length, 10001);
  });

  it("puts a batch that failed back in front of the lines queued since, so the journal keeps their order", function () {
    const q = new LineQueue();
    q.push('{"l":1}');
    q.push('{"l":2}');
    const failed = q.take();
    q.push('{"l":3}');
    q.putBack(failed);
    assert.strictEqual(q.take().toString("utf8"), '{"l":1}\n{"l":2}\n{"l":3}\n');
    assert.strictEqual(q.empty, true);
  });
});
