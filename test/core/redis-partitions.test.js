"use strict";
/**
 * Partitions and their owners: every instance, and every later release, must put a twin in the
 * same partition (a changed hash would leave a registry's twins where no instance looks), and the
 * live instances must agree on who leads what, with a joining instance taking only its share.
 */
const assert = require("assert");
const { partitionOf, ownerOf, compareIds } = require("../../nodes/lib/core/store/redis/partitions");

describe("Redis store partitions", function () {
  it("puts a twin in the partition FNV-1a (32 bit) of its id names: fixed values, as any other implementation computes them", function () {
    // FNV-1a("a") = 0xe40c292c is the algorithm's published test vector.
    assert.strictEqual(partitionOf("a", 2 ** 32), 0xe40c292c);
    assert.strictEqual(partitionOf("a", 64), 0xe40c292c % 64);
    assert.strictEqual(partitionOf("pump-1", 64), 57);
    assert.strictEqual(partitionOf("ns:line-2.pump_7", 64), 1);
  });

  it("gives every partition one owner among the live instances, about evenly, whatever order each instance lists them in", function () {
    const live = ["101-a1b2c3", "102-d4e5f6", "103-0a0b0c"];
    const counts = {};
    for (let p = 0; p < 64; p++) {
      const owner = ownerOf(p, live);
      assert.strictEqual(ownerOf(p, [...live].reverse()), owner);
      counts[owner] = (counts[owner] || 0) + 1;
    }
    for (const instance of live) assert.ok(counts[instance] >= 10, `${instance} leads ${counts[instance]} of 64`);
  });

  it("moves only the partitions a joining instance takes: no partition changes hands between the ones already there", function () {
    const before = ["101-a1b2c3", "102-d4e5f6"];
    const after = [...before, "103-0a0b0c"];
    let moved = 0;
    for (let p = 0; p < 64; p++) {
      const was = ownerOf(p, before);
      const now = ownerOf(p, after);
      if (was !== now) {
        assert.strictEqual(now, "103-0a0b0c", `partition ${p} went from ${was} to ${now}`);
        moved++;
      }
    }
    assert.ok(moved > 0 && moved < 40, `${moved} partitions moved to the new instance`);
  });

  it("orders stream ids by time, then by sequence, as numbers", function () {
    assert.ok(compareIds("1700000000000-10", "1700000000000-9") > 0);
    assert.ok(compareIds("999-5", "1000-0") < 0);
    assert.strictEqual(compareIds("5-1", "5-1"), 0);
  });
});
