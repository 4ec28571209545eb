"use strict";
/**
 * A reading's journal entry is written into the batch as bytes (writeReadingLine) rather than
 * through JSON.stringify: the line must be the one JSON.stringify writes, byte for byte, for every
 * entry it takes, and leave every other one to JSON.stringify; what it wrote must come back after
 * a restart.
 */
const assert = require("assert");
const { writeReadingLine } = require("../../nodes/lib/core/journal");
const { dict } = require("../../nodes/lib/core/json");
const { LineQueue } = require("../../nodes/lib/core/store/line-queue");
const { useStoreDirs, freshDir, openRegistry, docs, durable, journalText, histories } = require("./store-support");

/** A small deterministic generator, so a failure can be run again. */
function generator(seed) {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const EDGES = [0, -0, 1, -1, 0.5, -0.05, 0.0001, 0.00001, 1e-7, 21.53, 1e15, 1e15 - 1, -999999999999999, 1e21, 2 ** 53, 0.1 + 0.2,
  123456789012.3456, 5e-324, Number.MAX_VALUE, 1765000000000, 1765000000000.5, 99.99, 100, 0.3, 1e-5 * 3];

function numberOf(rnd) {
  const r = rnd();
  if (r < 0.1) return EDGES[Math.floor(rnd() * EDGES.length)];
  const decimals = Math.floor(rnd() * 7);
  if (r < 0.8) return Math.round((rnd() - 0.5) * 10 ** Math.floor(rnd() * 17)) / 10 ** decimals;
  return (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20);
}

const NAMES = ["p0", "temperature", "a b", 'q"t', "back\\slash", "ünï", "1", "22", "tab\tname", "emoji😀", "__proto__", "~", "del\u007f"];
const TEXTS = ["ok", "é", 'a"b', "x\\y", "", "line\nbreak", "ctl\u0001"];

function entryOf(rnd, k) {
  const rv = dict();
  const count = 1 + Math.floor(rnd() * 10);
  for (let j = 0; j < count; j++) {
    const name = rnd() < 0.8 ? `p${j}` : NAMES[Math.floor(rnd() * NAMES.length)];
    const t = rnd();
    rv[name] = t < 0.85 ? numberOf(rnd) : t < 0.9 ? t < 0.87 : t < 0.96 ? TEXTS[Math.floor(rnd() * TEXTS.length)] : t < 0.98 ? null : { a: [1] };
  }
  const e = { l: 1 + Math.floor(rnd() * 1e9), o: rnd() < 0.95 ? "u" : "c", i: rnd() < 0.95 ? `twin-${k}` : `twïn-${k}`, v: Math.floor(rnd() * 1e6), t: 1765000000000 + Math.floor(rnd() * 1e6) };
  if (rnd() < 0.02) e.ap = { a: 1 };
  e.rv = rv;
  if (rnd() < 0.3) e.rt = numberOf(rnd);
  if (rnd() < 0.3) e.rs = rnd() < 0.9 ? `sensors/${k}/temperature` : "tøpic";
  if (rnd() < 0.02) e.d = { x: [1, 2] };
  return e;
}

describe("core/journal: a reading's line written as bytes", function () {
  it("is JSON.stringify's line byte for byte wherever it writes one, and leaves every other entry to JSON.stringify", function () {
    const rnd = generator(20261206);
    const buffer = Buffer.alloc(1 << 16);
    let written = 0;
    for (let k = 0; k < 100000; k++) {
      const e = entryOf(rnd, k);
      const offset = Math.floor(rnd() * 64);
      const end = writeReadingLine(e, buffer, offset);
      if (end < 0) continue;
      written++;
      assert.strictEqual(buffer.toString("utf8", offset, end), JSON.stringify(e) + "\n", JSON.stringify(e));
    }
    // Most entries here have a value it leaves to JSON.stringify; enough are written to judge it.
    assert.ok(written > 5000, `${written} lines written`);
  });

  it("gives up instead of writing past the end of the buffer, whatever room is left", function () {
    const e = { l: 5, o: "u", i: "twin-1", v: 2, t: 1765000000000, rv: Object.assign(dict(), { p0: 21.53, p1: 0.05, p2: -3, p3: true, p4: "on" }), rt: 1764999999999, rs: "a/b" };
    const line = JSON.stringify(e) + "\n";
    // It asks for room to spare before each part, so it gives up a little before the line's own length.
    for (let size = 0; size <= line.length + 64; size++) {
      const buffer = Buffer.alloc(size + 8, 0x2a);
      const end = writeReadingLine(e, buffer.subarray(0, size), 0);
      if (end >= 0) assert.strictEqual(buffer.toString("utf8", 0, end), line);
      else assert.ok(size < line.length + 64, `gave up with room for ${size} bytes`);
      assert.strictEqual(buffer.toString("latin1", size), "********", `wrote past ${size} bytes`);
    }
  });

  it("leaves readings whose object inherits something to JSON.stringify, which lists own keys only", function () {
    const rv = Object.create({ inherited: 1 });
    rv.p0 = 1.5;
    assert.strictEqual(writeReadingLine({ l: 1, o: "u", i: "t", v: 2, t: 3, rv }, Buffer.alloc(256), 0), -1);
  });

  it("a LineQueue takes the line it wrote, or the fallback's, in order among plain lines", function () {
    const queue = new LineQueue();
    const e = (p0) => ({ l: 1, o: "u", i: "t", v: 2, t: 3, rv: Object.assign(dict(), { p0 }) });
    queue.push("first");
    queue.pushWritten(e(1.25), writeReadingLine, (x) => JSON.stringify(x));
    queue.pushWritten(e(0.1 + 0.2), writeReadingLine, (x) => JSON.stringify(x));
    queue.push("last");
    assert.strictEqual(queue.take().toString("utf8"), `first\n${JSON.stringify(e(1.25))}\n${JSON.stringify(e(0.1 + 0.2))}\nlast\n`);
  });

  describe("on disk", function () {
    this.timeout(20000);
    useStoreDirs("journal-reading-lines");

    it("readings of every kind come back the same after a restart, and the journal holds JSON.stringify's lines", async function () {
      const dir = freshDir("reading-lines");
      const first = openRegistry(dir);
      const rnd = generator(7);
      const written = [];
      for (let k = 0; k < 400; k++) {
        const values = dict();
        for (let j = 0; j < 5; j++) values[rnd() < 0.9 ? `p${j}` : rnd() < 0.5 ? "temperature" : "_x9"] = rnd() < 0.9 ? numberOf(rnd) : TEXTS[Math.floor(rnd() * TEXTS.length)];
        const id = `t-${k % 7}`;
        if (!first.reg.has(id)) first.reg.create(id);
        first.reg.report(id, values, { source: k % 2 ? `s/${k}` : undefined });
      }
      assert.ifError(await durable(first.reg));
      const before = docs(first.reg);
      // JSON has no -0 (it writes 0, as it always did): the live history keeps -0, a restart reads 0.
      const history = histories(first.reg, "p0");
      for (const id of Object.keys(history)) history[id] = history[id].map((p) => (Object.is(p.value, -0) ? { ...p, value: 0 } : p));
      await first.reg.close();
      for (const line of journalText(dir).split("\n").filter(Boolean)) written.push(line);
      // Each line is what JSON.stringify makes of what it parses to.
      for (const line of written) assert.strictEqual(JSON.stringify(JSON.parse(line)), line);
      const { reg, warnings } = openRegistry(dir);
      assert.deepStrictEqual(warnings, []);
      assert.deepStrictEqual(docs(reg), before);
      assert.deepStrictEqual(histories(reg, "p0"), history);
    });
  });
});
