"use strict";
const assert = require("assert");
const { Series } = require("../../nodes/lib/core/history");
const { mulberry32 } = require("./core-support");

/** A series holding points (ts, value) = (t0 + i*step, i) for i in [0, n). */
function filled(capacity, n, { t0 = 1000, step = 10 } = {}) {
  const s = new Series(capacity);
  for (let i = 0; i < n; i++) s.push(t0 + i * step, i);
  return s;
}

const values = (points) => points.map((p) => p.value);

describe("core/history Series", function () {
  describe("an empty series", function () {
    it("has no points, no range, no value at any time and an empty snapshot", function () {
      const s = new Series(10);
      assert.strictEqual(s.length, 0);
      assert.deepStrictEqual(s.range(), []);
      assert.strictEqual(s.valueAt(1e12), undefined);
      assert.deepStrictEqual(s.toJSON(), []);
    });
  });

  describe("push", function () {
    it("keeps points in arrival order with their timestamps", function () {
      const s = new Series(10);
      s.push(100, 1.5);
      s.push(200, -2);
      s.push(300, 0);
      assert.strictEqual(s.length, 3);
      assert.deepStrictEqual(s.range(), [{ ts: 100, value: 1.5 }, { ts: 200, value: -2 }, { ts: 300, value: 0 }]);
    });

    it("grows past its initial allocation up to the capacity without losing points", function () {
      const s = filled(100, 40); // crosses the 16 -> 32 -> 64 growth steps
      assert.strictEqual(s.length, 40);
      assert.deepStrictEqual(values(s.range()), Array.from({ length: 40 }, (_, i) => i));
    });

    it("wraps around at capacity, keeping the newest points oldest-first", function () {
      const s = filled(5, 12);
      assert.strictEqual(s.length, 5);
      assert.deepStrictEqual(values(s.range()), [7, 8, 9, 10, 11]);
      assert.deepStrictEqual(s.range()[0], { ts: 1070, value: 7 });
    });

    it("wraps correctly at a capacity that is not a power of two after growing", function () {
      const s = filled(20, 50);
      assert.strictEqual(s.length, 20);
      assert.deepStrictEqual(values(s.range()), Array.from({ length: 20 }, (_, i) => 30 + i));
    });

    it("with capacity 1 keeps only the latest point", function () {
      const s = filled(1, 3);
      assert.deepStrictEqual(s.range(), [{ ts: 1020, value: 2 }]);
    });
  });

  describe("range", function () {
    const s = filled(50, 10); // ts 1000..1090, values 0..9

    it("includes both ends of [from, to]", function () {
      assert.deepStrictEqual(values(s.range(1020, 1050)), [2, 3, 4, 5]);
    });

    it("treats from and to that fall between points as bounds", function () {
      assert.deepStrictEqual(values(s.range(1015, 1045)), [2, 3, 4]);
    });

    it("returns nothing for a window outside the data or with from > to", function () {
      assert.deepStrictEqual(s.range(2000, 3000), []);
      assert.deepStrictEqual(s.range(0, 999), []);
      assert.deepStrictEqual(s.range(1050, 1020), []);
    });

    it("with a limit returns the newest points of the window, oldest first", function () {
      assert.deepStrictEqual(values(s.range(undefined, undefined, 3)), [7, 8, 9]);
      assert.deepStrictEqual(values(s.range(1000, 1050, 2)), [4, 5]);
    });

    it("with limit 0 returns nothing", function () {
      assert.deepStrictEqual(s.range(undefined, undefined, 0), []);
    });

    it("includes every point that shares the `to` timestamp", function () {
      const d = new Series(10);
      d.push(1, 1);
      d.push(2, 2);
      d.push(2, 3);
      d.push(3, 4);
      assert.deepStrictEqual(values(d.range(2, 2)), [2, 3]);
    });

    it("works on a wrapped ring", function () {
      const w = filled(5, 12); // ts 1070..1110, values 7..11
      assert.deepStrictEqual(values(w.range(1080, 1100)), [8, 9, 10]);
      assert.deepStrictEqual(values(w.range(undefined, undefined, 2)), [10, 11]);
      assert.deepStrictEqual(w.range(1000, 1060), [], "points overwritten by the ring are gone");
    });
  });

  describe("valueAt (state at a past time)", function () {
    const s = filled(50, 5); // ts 1000..1040

    it("is undefined before the first point", function () {
      assert.strictEqual(s.valueAt(999), undefined);
    });

    it("is the point at exactly that time", function () {
      assert.deepStrictEqual(s.valueAt(1020), { ts: 1020, value: 2 });
    });

    it("is the latest point before a time between points", function () {
      assert.deepStrictEqual(s.valueAt(1029), { ts: 1020, value: 2 });
    });

    it("is the last point for any later time", function () {
      assert.deepStrictEqual(s.valueAt(1e15), { ts: 1040, value: 4 });
    });

    it("is the last of several points sharing that time", function () {
      const d = new Series(10);
      d.push(5, 1);
      d.push(5, 2);
      d.push(6, 3);
      assert.deepStrictEqual(d.valueAt(5), { ts: 5, value: 2 });
    });

    it("on a wrapped ring knows nothing older than the oldest kept point", function () {
      const w = filled(5, 12); // oldest kept: ts 1070
      assert.strictEqual(w.valueAt(1065), undefined);
      assert.deepStrictEqual(w.valueAt(1075), { ts: 1070, value: 7 });
    });
  });

  describe("toJSON / fromJSON (snapshot round trip)", function () {
    it("serialises as a flat [ts, value, ...] array, oldest first", function () {
      const s = filled(3, 4);
      assert.deepStrictEqual(s.toJSON(), [1010, 1, 1020, 2, 1030, 3]);
      assert.strictEqual(JSON.stringify(s), "[1010,1,1020,2,1030,3]");
    });

    it("restores the same points from a wrapped series", function () {
      const s = filled(7, 30);
      const back = Series.fromJSON(7, JSON.parse(JSON.stringify(s)));
      assert.strictEqual(back.length, 7);
      assert.deepStrictEqual(back.range(), s.range());
      assert.deepStrictEqual(back.valueAt(1255), s.valueAt(1255));
    });

    it("keeps pushing correctly after a restore", function () {
      const back = Series.fromJSON(4, filled(4, 4).toJSON());
      back.push(5000, 99);
      assert.deepStrictEqual(values(back.range()), [1, 2, 3, 99]);
    });

    it("keeps the newest points when restored into a smaller capacity", function () {
      const back = Series.fromJSON(3, filled(10, 10).toJSON());
      assert.deepStrictEqual(values(back.range()), [7, 8, 9]);
    });

    it("ignores what is not a series (a damaged snapshot line)", function () {
      assert.strictEqual(Series.fromJSON(5, null).length, 0);
      assert.strictEqual(Series.fromJSON(5, { 0: 1, 1: 2 }).length, 0);
      assert.deepStrictEqual(Series.fromJSON(5, [1, 2, "x", 4, 5, null, 7, 8, 9]).toJSON(), [1, 2, 7, 8]);
    });
  });

  describe("encode / decode (the file snapshot's form: the blocks as encoded)", function () {
    /** The encoded form's blocks: a format byte, the hidden count, then 60 bytes a block. */
    const BLOCK_BYTES = 60;

    it("restores the same points from a wrapped series, in fewer characters than the flat form", function () {
      let v = 20;
      const s = new Series(100);
      for (let i = 0; i < 350; i++) s.push(1.7e12 + i * 1000 + (i % 3), (v = Math.round((v + ((i * 7919) % 13) / 10 - 0.6) * 100) / 100));
      const text = s.encode();
      const back = Series.decode(100, text);
      assert.strictEqual(back.length, 100);
      assert.deepStrictEqual(back.range(), s.range());
      assert.ok(text.length * 2 < JSON.stringify(s).length, `${text.length} characters encoded, ${JSON.stringify(s).length} flat`);
    });

    it("keeps pushing correctly after a decode, and keeps the newest points in a smaller capacity", function () {
      const back = Series.decode(4, filled(4, 9).encode());
      back.push(5000, 99);
      assert.deepStrictEqual(values(back.range()), [6, 7, 8, 99]);
      assert.deepStrictEqual(values(Series.decode(3, filled(10, 10).encode()).range()), [7, 8, 9]);
      assert.strictEqual(Series.decode(5, new Series(5).encode()).length, 0);
    });

    it("gives an empty series for what is not the form (a damaged snapshot line)", function () {
      const good = filled(5, 5).encode();
      const bytes = Buffer.from(good, "base64");
      const other = Buffer.from(bytes);
      other[0] = 2; // a format byte this version does not know
      for (const bad of [null, 42, [1, 2], "", "not base64 at all", other.toString("base64"), bytes.subarray(0, bytes.length - 1).toString("base64")]) {
        assert.strictEqual(Series.decode(5, bad).length, 0, JSON.stringify(bad));
      }
    });

    it("ends the series at a block that claims more points than it holds, keeping the points before it", function () {
      // Full-precision values fill a block within a few points: several blocks.
      const s = new Series(100);
      for (let i = 0; i < 40; i++) s.push(1000 + i, Math.sin(i));
      const bytes = Buffer.from(s.encode(), "base64");
      const blocks = (bytes.length - 2) / BLOCK_BYTES;
      assert.ok(blocks >= 3, `${blocks} blocks`);
      const firstCount = bytes[2];
      bytes[2 + BLOCK_BYTES] = 255; // the second block's count
      const back = Series.decode(100, bytes.toString("base64"));
      assert.deepStrictEqual(back.range(), s.range().slice(0, firstCount));
      back.push(5000, 1);
      assert.strictEqual(back.valueAt(5000).value, 1, "a working series");
    });
  });

  describe("compact storage: every point comes back bit-exact", function () {
    /** A deterministic PRNG, so a failure names a reproducible case. */
    const rng = mulberry32;

    /** The behaviour the ring buffer had: the newest `capacity` points, searched linearly. */
    function model(capacity, points) {
      const kept = points.slice(Math.max(0, points.length - capacity));
      return {
        kept,
        range(from = -Infinity, to = Infinity, limit = Infinity) {
          const w = kept.filter((p) => p.ts >= from && p.ts <= to);
          return limit <= 0 ? [] : w.slice(Math.max(0, w.length - limit));
        },
        valueAt(t) {
          let found;
          for (const p of kept) if (p.ts <= t) found = p;
          return found;
        },
      };
    }

    /** Same values bit for bit: -0 is not 0, NaN is NaN. */
    function sameBits(actual, expected, label) {
      assert.strictEqual(actual.length, expected.length, `${label}: number of points`);
      for (let i = 0; i < expected.length; i++) {
        if (!Object.is(actual[i].ts, expected[i].ts) || !Object.is(actual[i].value, expected[i].value)) {
          assert.fail(`${label}: point ${i} is ${JSON.stringify([actual[i].ts, String(actual[i].value)])}, expected ${JSON.stringify([expected[i].ts, String(expected[i].value)])}`);
        }
      }
    }

    /** Pushes the points, then checks range, valueAt, toJSON and a restore against the model. */
    function check(label, capacity, points, r = rng(7)) {
      const s = new Series(capacity);
      for (const p of points) s.push(p.ts, p.value);
      const m = model(capacity, points);
      assert.strictEqual(s.length, m.kept.length, `${label}: length`);
      sameBits(s.range(), m.kept, `${label}: range()`);
      const back = Series.fromJSON(capacity, s.toJSON());
      sameBits(back.range(), m.kept, `${label}: after toJSON/fromJSON`);
      sameBits(Series.decode(capacity, s.encode()).range(), m.kept, `${label}: after encode/decode`);
      if (!m.kept.length) return s;
      const lo = m.kept[0].ts;
      const hi = m.kept[m.kept.length - 1].ts;
      const times = [lo - 1, lo, hi, hi + 1];
      for (const p of m.kept) times.push(p.ts, p.ts - 0.5, p.ts + 0.5); // every point, so every block border
      for (const t of times) {
        const got = s.valueAt(t);
        const want = m.valueAt(t);
        if (want === undefined) assert.strictEqual(got, undefined, `${label}: valueAt(${t})`);
        else sameBits([got], [want], `${label}: valueAt(${t})`);
      }
      for (let q = 0; q < 20; q++) {
        const a = lo + (hi - lo) * r() - 1;
        const b = a + (hi - lo) * r() * 0.5;
        const limit = r() < 0.3 ? Math.floor(r() * 10) : Infinity;
        sameBits(s.range(a, b, limit), m.range(a, b, limit), `${label}: range(${a}, ${b}, ${limit})`);
      }
      return s;
    }

    const series = (n, ts, value) => Array.from({ length: n }, (_, i) => ({ ts: ts(i), value: value(i) }));

    it("keeps random walks of two-decimal readings exact (what sensors send)", function () {
      for (let seed = 1; seed <= 20; seed++) {
        const r = rng(seed);
        let v = 20 + r() * 10;
        check(`walk ${seed}`, 100, series(250, (i) => 1.7e12 + i * 1000, () => (v = Math.round((v + r() - 0.5) * 100) / 100)), r);
      }
    });

    it("keeps full-precision floats exact (the XOR path)", function () {
      const r = rng(3);
      let v = 1;
      check("noise", 100, series(300, (i) => 1.7e12 + i * 997, () => (v += r() - 0.5)), r);
      check("0.1 + 0.2 style", 50, series(120, (i) => i, (i) => 0.1 * i + 0.2));
    });

    it("keeps a constant series exact in one 64-byte block (2 bits a point)", function () {
      const { arenaStats } = require("../../nodes/lib/core/history");
      const before = arenaStats().blocksInUse;
      const s = check("constant", 100, series(100, (i) => 1e12 + i * 60000, () => 21.53));
      // check() restores two copies too (flat and encoded): three series, one block each.
      assert.strictEqual(arenaStats().blocksInUse - before, 3);
      assert.deepStrictEqual(s.valueAt(1e12 + 50 * 60000), { ts: 1e12 + 50 * 60000, value: 21.53 });
    });

    it("keeps values that no decimal scale can hold: -0, NaN, infinities, huge, tiny, integers", function () {
      const specials = [0, -0, 0, NaN, NaN, Infinity, -Infinity, 1e308, -1e308, 5e-324, -5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60, 1, 2, 3, 21.53, 21.5, 21.534, 1e-7, 123456789.123, 0.1 + 0.2, -0];
      check("specials", 100, series(specials.length, (i) => 1000 + i, (i) => specials[i]));
      // And each special after a run of decimals, where the encoder has a scale in use.
      const mixed = [];
      for (const x of specials) mixed.push(20.25, 20.5, x, 20.75);
      check("specials among decimals", 200, series(mixed.length, (i) => 5000 + i * 10, (i) => mixed[i]));
    });

    it("keeps irregular and odd timestamps exact: jitter, gaps, equal, fractional, negative, huge", function () {
      const r = rng(11);
      let t = 1.7e12;
      check("jitter and gaps", 100, series(400, () => (t += r() < 0.05 ? Math.floor(r() * 1e9) : 1000 + Math.floor(r() * 40 - 20)), (i) => i / 4));
      let u = 0;
      check("equal timestamps", 30, series(100, () => (u += r() < 0.5 ? 0 : 7), (i) => i));
      const odd = [-5, -0, 0, 0.25, 0.5, 3, 2 ** 53, 2 ** 53 + 2, 1e20, 1e300];
      check("odd timestamps", 20, series(odd.length, (i) => odd[i], (i) => i));
    });

    it("keeps the newest `capacity` points exactly as the ring turns, at every capacity", function () {
      for (const capacity of [1, 2, 3, 7, 31, 64, 100, 257]) {
        for (const n of [capacity - 1, capacity, capacity + 1, 3 * capacity + 5]) {
          const r = rng(capacity * 1000 + n);
          let v = 100;
          check(`capacity ${capacity}, ${n} pushes`, capacity, series(Math.max(0, n), (i) => 1000 + i * 10, () => (v = Math.round((v + r() * 4 - 2) * 10) / 10)), r);
        }
      }
    });

    it("answers valueAt and range across a block border like the old ring did", function () {
      // Raw full-precision values fill a 64-byte block within a few points: many borders.
      const r = rng(5);
      const pts = series(60, (i) => 1000 + i * 10, () => r());
      const s = check("many blocks", 40, pts, r);
      for (let i = 21; i < 60; i++) {
        sameBits([s.valueAt(pts[i].ts)], [pts[i]], `valueAt at point ${i}`);
        sameBits(s.range(pts[i - 1].ts, pts[i].ts), [pts[i - 1], pts[i]], `range over points ${i - 1}..${i}`);
      }
      assert.strictEqual(s.valueAt(pts[19].ts), undefined, "a point the ring let go of is not answered");
    });

    it("restores a snapshot written by the Float64 ring (old format) unchanged", function () {
      // [ts, value, ...] as the previous Series wrote it, with a wrapped ring's oldest-first order.
      const old = [1700000000000, 21.53, 1700000001000, 21.6, 1700000002000, -0.5, 1700000002000, 1e-9, 1700000060000, 1450];
      const s = Series.fromJSON(100, JSON.parse(JSON.stringify(old)));
      assert.strictEqual(s.length, 5);
      assert.deepStrictEqual(s.toJSON(), old);
      assert.deepStrictEqual(s.valueAt(1700000002500), { ts: 1700000002000, value: 1e-9 });
    });

    it("stores simulator-like readings in well under 4 bytes a point", function () {
      // The arena reports blocks in use; 10,000 series of 100 two-decimal readings a second apart.
      const { arenaStats } = require("../../nodes/lib/core/history");
      const before = arenaStats().blocksInUse;
      const r = rng(9);
      const keep = [];
      for (let k = 0; k < 10000; k++) {
        const s = new Series(100);
        let v = 50;
        for (let i = 0; i < 100; i++) s.push(1.7e12 + i * 1000, (v = Math.round((v + r() * 0.6 - 0.3) * 100) / 100));
        keep.push(s);
      }
      const bytes = (arenaStats().blocksInUse - before) * arenaStats().blockBytes;
      assert.ok(bytes / (keep.length * 100) < 4, `${(bytes / (keep.length * 100)).toFixed(2)} B a point`);
    });
  });

  describe("SeriesMap (a twin's histories by property name)", function () {
    const { SeriesMap } = require("../../nodes/lib/core/history");

    it("finds each property's series, counts them and iterates in insertion order, like the Map it replaces", function () {
      const m = new SeriesMap();
      const a = new Series(3);
      const b = new Series(3);
      m.set("temperature", a).set("rpm", b).set("temperature", a);
      assert.strictEqual(m.size, 2);
      assert.strictEqual(m.get("temperature"), a);
      assert.strictEqual(m.get("rpm"), b);
      assert.deepStrictEqual([...m].map(([name]) => name), ["temperature", "rpm"]);
    });

    it("knows no property named like an Object.prototype member unless it was set", function () {
      const m = new SeriesMap();
      assert.strictEqual(m.get("toString"), undefined);
      assert.strictEqual(m.has("hasOwnProperty"), false);
      const s = new Series(2);
      m.set("toString", s);
      assert.strictEqual(m.get("toString"), s);
      assert.strictEqual(m.size, 1);
    });
  });

  describe("memory given back", function () {
    it("returns the blocks of a series nobody holds any more (a deleted twin's history) to the arena", function () {
      this.timeout(20000);
      // A child with --expose-gc: the series are dropped, collected, and their blocks reused.
      const { execFileSync } = require("child_process");
      const lib = require.resolve("../../nodes/lib/core/history");
      const script = `
        const { Series, arenaStats } = require(${JSON.stringify(lib)});
        const fill = () => { const all = []; for (let k = 0; k < 2000; k++) { const s = new Series(100); for (let i = 0; i < 100; i++) s.push(1e12 + i * 1000, Math.random()); all.push(s); } return all; };
        (async () => {
          let held = fill();
          const inUse = arenaStats().blocksInUse;
          const arena = arenaStats().chunkBytes;
          held = null;
          for (let i = 0; i < 100 && arenaStats().blocksInUse > 0; i++) { global.gc(); await new Promise((r) => setTimeout(r, 10)); }
          const afterDrop = arenaStats().blocksInUse;
          held = fill();
          console.log(JSON.stringify({ inUse, afterDrop, arena, arenaAgain: arenaStats().chunkBytes }));
        })();`;
      const out = JSON.parse(execFileSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" }));
      assert.ok(out.inUse > 2000, `the series used ${out.inUse} blocks`);
      assert.strictEqual(out.afterDrop, 0, "every block is free once the series are collected");
      assert.strictEqual(out.arenaAgain, out.arena, "the same history again fits in the blocks given back");
    });
  });
});
