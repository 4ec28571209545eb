"use strict";
const assert = require("assert");
const { Series } = require("../../nodes/lib/core/history");

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
});
