"use strict";
// The journal's waiting lines, held as bytes: what a write takes is every line queued, in order,
// each with its newline, whatever the characters and however many chunks they span; a batch that
// failed goes back in front; bytes taken for a write that is still running are never overwritten,
// also when the memory of batches written before is used again.
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

  it("reuses a written batch's memory without ever writing over a batch that is still being written", function () {
    const q = new LineQueue();
    const line = (k) => JSON.stringify({ l: k, v: "ü".repeat(k % 300) });
    let k = 0;
    let expected = 0;
    const queued = [];
    const writing = []; // batches taken, with a copy of their bytes when taken
    const check = (batch) => {
      const lines = batch.bytes.toString("utf8").split("\n");
      assert.strictEqual(lines.pop(), "");
      for (const got of lines) assert.strictEqual(got, line(expected++));
    };
    const finish = (done) => {
      assert.deepStrictEqual(done.buffer, done.bytes, "a batch being written was written over");
      check(done);
      q.written(done.buffer);
    };
    // Batches are taken while the two before are still being written (a slow disk), and written in order.
    for (let round = 0; round < 120; round++) {
      const n = 1 + ((round * 7919) % 1500);
      for (let j = 0; j < n; j++) queued.push(line(k++));
      for (const text of queued.splice(0)) q.push(text);
      if (writing.length && round % 13 === 5) {
        // The last write fails once the ones before it are done: its batch goes back in front.
        while (writing.length > 1) finish(writing.pop());
        const failed = writing.pop();
        assert.deepStrictEqual(failed.buffer, failed.bytes, "a batch being written was written over");
        q.putBack(failed.buffer);
      }
      const buffer = q.take();
      writing.unshift({ buffer, bytes: Buffer.from(buffer) });
      if (writing.length > 2) finish(writing.pop());
    }
    while (writing.length) finish(writing.pop());
    assert.strictEqual(expected, k);
  });
});
