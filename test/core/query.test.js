"use strict";
const { inheritsNothing } = require("../../nodes/lib/core/json");
const assert = require("node:assert/strict");
const {
  compileQuery, parseWhere, parseSort, parseAt, select, matches, arrange, figures, groups, aggregatePayload, reportedAt, stateAt, truthy,
} = require("../../nodes/lib/core/query");
const { TwinRegistry } = require("../../nodes/lib/core/registry");

const plain = (v) => JSON.parse(JSON.stringify(v));
const NOW = Date.UTC(2025, 10, 26, 12, 0, 0);
const q = (input = {}, now = NOW) => compileQuery(input, now);

function invalid(input, option, now = NOW) {
  assert.throws(
    () => compileQuery(input, now),
    (err) => err.code === "invalid-query" && err.params.option === option,
    `${JSON.stringify(input)} should fail with ${option}`,
  );
}

/** A registry whose clock is NOW, holding the twins given: [id, { model, attributes, reported, online, stage }]. */
function fleet(twins, options = {}) {
  const reg = new TwinRegistry({ clock: () => NOW, ...options });
  reg.open();
  for (const [id, t] of twins) {
    reg.create(id, { model: t.model, attributes: t.attributes });
    if (t.reported) reg.report(id, t.reported, { ts: t.ts ?? NOW - 1000 });
    if (t.online === false) reg.setOnline(id, false);
    if (t.stage) reg.setLifecycle(id, { stage: t.stage });
  }
  return reg;
}

const ids = (twins) => twins.map((t) => t.id);

describe("core/query: checking a query", function () {
  it("has defaults for everything: all twins, by id, no limit, current state", function () {
    const query = q();
    assert.equal(query.filter, null);
    assert.equal(query.stage, null);
    assert.equal(query.online, null);
    assert.deepEqual(query.where, []);
    assert.deepEqual(query.sort, { kind: "field", name: "id" });
    assert.equal(query.order, 1);
    assert.equal(query.limit, Infinity);
    assert.equal(query.offset, 0);
    assert.equal(query.property, null);
    assert.equal(query.aggregate, "all");
    assert.equal(query.groupBy, null);
    assert.equal(query.at, null);
    // blank text, as the editor stores empty fields, is the same as nothing
    const blank = q({ twinIds: "", models: " ", stage: "", online: "any", where: "", sort: "", order: "", limit: "", offset: "", property: "", aggregate: "", groupBy: "", at: "" });
    assert.deepEqual({ ...blank }, { ...query });
  });

  it("reads online, order, limit and offset from booleans, words and decimal text", function () {
    assert.equal(q({ online: true }).online, true);
    assert.equal(q({ online: "offline" }).online, false);
    assert.equal(q({ online: "false" }).online, false);
    assert.equal(q({ order: "DESC" }).order, -1);
    assert.equal(q({ order: "ascending" }).order, 1);
    assert.equal(q({ limit: "5" }).limit, 5);
    assert.equal(q({ limit: 0 }).limit, Infinity, "0 is no limit");
    assert.equal(q({ offset: 3 }).offset, 3);
    assert.equal(q({ property: "reported.power" }).property, "power");
    assert.equal(q({ stage: " operating " }).stage, "operating");
  });

  it("refuses bad settings, naming the setting", function () {
    invalid({ twinIds: "pump-[1]" }, "twinIds");
    invalid({ twinIds: 5 }, "twinIds");
    invalid({ models: "x".repeat(201) }, "models");
    invalid({ stage: 3 }, "stage");
    invalid({ online: "maybe" }, "online");
    invalid({ order: "up" }, "order");
    invalid({ limit: -1 }, "limit");
    invalid({ limit: 1.5 }, "limit");
    invalid({ limit: "ten" }, "limit");
    invalid({ limit: 1e12 }, "limit");
    invalid({ offset: "-2" }, "offset");
    invalid({ property: "1st" }, "property");
    invalid({ property: 7 }, "property");
    invalid({ aggregate: "median" }, "aggregate");
    invalid({ aggregate: "sum" }, "needs-property");
    invalid({ aggregate: "mean", property: "" }, "needs-property");
    invalid({ groupBy: "a..b" }, "groupBy");
    invalid({ groupBy: 3 }, "groupBy");
    invalid({ sort: "two words" }, "sort");
    invalid({ sort: "attributes." }, "sort");
    invalid({ sort: 1 }, "sort");
  });

  it("refuses __proto__, constructor and prototype in every path and name", function () {
    invalid({ property: "__proto__" }, "forbidden");
    invalid({ property: "reported.constructor" }, "forbidden");
    invalid({ sort: "__proto__" }, "forbidden");
    invalid({ sort: "reported.prototype" }, "forbidden");
    invalid({ sort: "attributes.a.__proto__" }, "forbidden");
    invalid({ sort: "attributes.constructor.name" }, "forbidden");
    invalid({ groupBy: "__proto__" }, "forbidden");
    invalid({ groupBy: "tags['constructor']" }, "forbidden");
    invalid({ where: JSON.parse('{"__proto__": "x"}') }, "forbidden");
    invalid({ where: { "a.__proto__.b": 1 } }, "forbidden");
    invalid({ where: [{ path: "prototype", value: 1 }] }, "forbidden");
    invalid({ where: { site: JSON.parse('{"__proto__": {"x": 1}, "y": 2}') } }, "forbidden");
  });

  it("checks and returns the sort key", function () {
    assert.deepEqual(parseSort("lastSeen"), { kind: "field", name: "lastSeen" });
    assert.deepEqual(parseSort("version"), { kind: "field", name: "version" });
    assert.deepEqual(parseSort("temperature"), { kind: "reported", name: "temperature" });
    assert.deepEqual(parseSort("reported.version"), { kind: "reported", name: "version" });
    assert.deepEqual(parseSort("attributes.tags.line"), { kind: "attribute", path: "tags.line" });
  });
});

describe("core/query: attribute conditions", function () {
  it("reads the object form: equality, and operator objects", function () {
    const where = parseWhere({ site: "plant-1", floor: { ">=": 2, "<": 5 }, location: { x: 1 } });
    assert.deepEqual(plain(where), [
      { path: "site", op: "=", value: "plant-1" },
      { path: "floor", op: ">=", value: 2 },
      { path: "floor", op: "<", value: 5 },
      { path: "location", op: "=", value: { x: 1 } },
    ]);
  });

  it("reads the editor's rows, with their value types", function () {
    const where = parseWhere([
      { path: "site", op: "=", value: "plant-1", type: "str" },
      { path: "floor", op: ">", value: "2", type: "num" },
      { path: "active", op: "!=", value: "false", type: "bool" },
      { path: "tags", op: "=", value: "[\"a\"]", type: "json" },
      { path: "serial", value: "P7" },
    ]);
    assert.deepEqual(plain(where), [
      { path: "site", op: "=", value: "plant-1" },
      { path: "floor", op: ">", value: 2 },
      { path: "active", op: "!=", value: false },
      { path: "tags", op: "=", value: ["a"] },
      { path: "serial", op: "=", value: "P7" },
    ]);
  });

  it("refuses bad conditions", function () {
    invalid({ where: "site = plant-1" }, "where");
    invalid({ where: [5] }, "condition");
    invalid({ where: [{ path: "a", op: "~", value: 1 }] }, "operator");
    invalid({ where: { a: { ">": true } } }, "compare");
    invalid({ where: [{ path: "a", op: "<", value: null }] }, "compare");
    invalid({ where: [{ path: "a", value: "x", type: "num" }] }, "value");
    invalid({ where: [{ path: "a", value: "yes", type: "bool" }] }, "value");
    invalid({ where: [{ path: "a", value: "{", type: "json" }] }, "value");
    invalid({ where: { a: NaN } }, "value");
    invalid({ where: { a: () => 1 } }, "value");
    invalid({ where: [{ path: "a.", value: 1 }] }, "path");
    invalid({ where: [{ value: 1 }] }, "path");
    invalid({ where: Array.from({ length: 101 }, () => ({ path: "a", value: 1 })) }, "where");
  });

  it("selects by id and model globs, stage, online and attributes", function () {
    const reg = fleet([
      ["pump-01", { attributes: { site: "plant-1", floor: 1, tags: { line: "A" }, zones: ["north"] }, reported: { t: 1 } }],
      ["pump-02", { attributes: { site: "plant-1", floor: 3, tags: { line: "B" } }, reported: { t: 1 }, online: false, stage: "maintenance" }],
      ["pump-03", { attributes: { site: "plant-2", floor: "3" }, reported: { t: 1 }, stage: "operating" }],
      ["boiler-1", { attributes: { site: "plant-2", installed: "2024-03-01" } }],
    ]);
    const sel = (input) => ids(arrange(select(reg, q(input)), q(input)).twins);
    assert.deepEqual(sel({}), ["boiler-1", "pump-01", "pump-02", "pump-03"]);
    assert.deepEqual(sel({ twinIds: "pump-*" }), ["pump-01", "pump-02", "pump-03"]);
    assert.deepEqual(sel({ twinIds: "pump-0?, boiler-1" }), ["boiler-1", "pump-01", "pump-02", "pump-03"]);
    assert.deepEqual(sel({ twinIds: ["pump-01", "pump-03"] }), ["pump-01", "pump-03"]);
    assert.deepEqual(sel({ stage: "operating" }), ["pump-03"]);
    assert.deepEqual(sel({ online: true }), ["pump-01", "pump-03"]);
    assert.deepEqual(sel({ online: false }), ["boiler-1", "pump-02"]);
    assert.deepEqual(sel({ where: { site: "plant-1" } }), ["pump-01", "pump-02"]);
    assert.deepEqual(sel({ where: { site: "plant-2" }, online: false }), ["boiler-1"]);
    assert.deepEqual(sel({ where: { "tags.line": "A" } }), ["pump-01"]);
    assert.deepEqual(sel({ where: { "zones[0]": "north" } }), ["pump-01"]);
    // != also matches twins without the attribute; ordering comparisons need the same type
    assert.deepEqual(sel({ where: { "tags.line": { "!=": "A" } } }), ["boiler-1", "pump-02", "pump-03"]);
    assert.deepEqual(sel({ where: { floor: { ">=": 2 } } }), ["pump-02"], "the text \"3\" is not a number");
    assert.deepEqual(sel({ where: { floor: 3 } }), ["pump-02"]);
    assert.deepEqual(sel({ where: { floor: "3" } }), ["pump-03"]);
    assert.deepEqual(sel({ where: { installed: { "<": "2025-01-01" } } }), ["boiler-1"], "ISO dates order as text");
    assert.deepEqual(sel({ where: [{ path: "floor", op: "<=", value: 1 }, { path: "site", value: "plant-1" }] }), ["pump-01"]);
  });

  it("never matches a twin with no model against a model filter", function () {
    const reg = new TwinRegistry({ clock: () => NOW, models: new Map([["pump", { properties: new Map() }]]) });
    reg.open();
    reg.create("a", { model: "pump" });
    reg.create("b");
    assert.deepEqual(ids(select(reg, q({ models: "*" }))).sort(), ["a", "b"], "* alone lets every twin through");
    assert.deepEqual(ids(select(reg, q({ models: "pu*" }))), ["a"]);
    assert.equal(matches(reg.twin("b"), q({ models: "pump" })), false);
  });
});

describe("core/query: order and limit", function () {
  const reg = fleet([
    ["a", { reported: { temperature: 50, mode: "auto" }, attributes: { site: "plant-2" } }],
    ["b", { reported: { temperature: 70 }, attributes: { site: "plant-1" } }],
    ["c", { reported: { temperature: "hot" } }],
    ["d", { reported: { rpm: 1 } }],
    ["e", { reported: { temperature: 60 }, attributes: { site: "plant-1" } }],
    ["f", { reported: { temperature: true } }],
  ]);
  const sorted = (input) => {
    const query = q(input);
    return ids(arrange(select(reg, query), query).twins);
  };

  it("sorts by a reported property, numbers before text, missing values last in either order", function () {
    assert.deepEqual(sorted({ sort: "temperature" }), ["a", "e", "b", "c", "d", "f"]);
    assert.deepEqual(sorted({ sort: "temperature", order: "desc" }), ["c", "b", "e", "a", "d", "f"]);
  });

  it("sorts by id, a twin field and an attribute path, ties by id", function () {
    assert.deepEqual(sorted({ order: "desc" }), ["f", "e", "d", "c", "b", "a"]);
    assert.deepEqual(sorted({ sort: "version" }), ["a", "b", "c", "d", "e", "f"], "all at version 2: by id");
    assert.deepEqual(sorted({ sort: "attributes.site" }), ["b", "e", "a", "c", "d", "f"]);
    assert.deepEqual(sorted({ sort: "lastSeen", order: "desc" }), ["a", "b", "c", "d", "e", "f"]);
  });

  it("limits and pages, and counts the total before them", function () {
    const query = q({ sort: "temperature", order: "desc", limit: 1 });
    const result = arrange(select(reg, query), query);
    assert.equal(result.total, 6);
    assert.deepEqual(ids(result.twins), ["c"]);
    assert.deepEqual(sorted({ sort: "temperature", limit: 2, offset: 1 }), ["e", "b"]);
    assert.deepEqual(sorted({ offset: 10 }), []);
  });

  it("gives the same top twins with a small limit over many twins as a full sort", function () {
    const big = new TwinRegistry({ clock: () => NOW });
    big.open();
    let seed = 7;
    const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let i = 0; i < 500; i++) {
      const r = rnd();
      big.create(`t-${i}`, { reported: r < 0.1 ? { other: 1 } : { x: Math.floor(r * 50) } });
    }
    for (const order of ["asc", "desc"]) {
      const full = q({ sort: "x", order });
      const all = ids(arrange(select(big, full), full).twins);
      for (const [limit, offset] of [[1, 0], [5, 0], [10, 7], [60, 3]]) {
        const part = q({ sort: "x", order, limit, offset });
        assert.deepEqual(ids(arrange(select(big, part), part).twins), all.slice(offset, offset + limit), `${order} ${limit}/${offset}`);
      }
    }
  });
});

describe("core/query: fleet figures", function () {
  const reg = fleet([
    ["p1", { reported: { power: 7.5, temperature: 55 }, attributes: { site: "plant-1" } }],
    ["p2", { reported: { power: 8.5, temperature: "n/a" }, attributes: { site: "plant-1" } }],
    ["p3", { reported: { power: 6, temperature: 61 }, attributes: { site: "plant-2" } }],
    ["p4", { reported: { temperature: 59 }, attributes: { site: "plant-2" } }],
    ["p5", { reported: { power: null, temperature: false } }],
  ]);
  const all = () => select(reg, q());

  it("counts, sums and averages the numeric values only", function () {
    assert.deepEqual(figures(all(), "power"), { twins: 5, count: 3, sum: 22, mean: 7.33333333333333, min: 6, max: 8.5 });
    assert.deepEqual(figures(all(), "temperature"), { twins: 5, count: 3, sum: 175, mean: 58.3333333333333, min: 55, max: 61 });
  });

  it("gives null figures when no twin has a numeric value, and counts twins without a property", function () {
    assert.deepEqual(figures(all(), "rpm"), { twins: 5, count: 0, sum: null, mean: null, min: null, max: null });
    assert.deepEqual(figures([], "power"), { twins: 0, count: 0, sum: null, mean: null, min: null, max: null });
    assert.deepEqual(figures(all(), null), { twins: 5, count: 5, sum: null, mean: null, min: null, max: null });
  });

  it("sums without the drift of plain floating point addition", function () {
    const tenths = fleet(Array.from({ length: 10 }, (_, i) => [`t${i}`, { reported: { v: 0.1 } }]));
    assert.equal(figures(select(tenths, q()), "v").sum, 1);
    const mixed = fleet([["a", { reported: { v: 1e16 } }], ["b", { reported: { v: 1 } }], ["c", { reported: { v: -1e16 } }]]);
    assert.equal(figures(select(mixed, q()), "v").sum, 1);
  });

  it("groups by an attribute path, twins without it last in group null", function () {
    const list = groups(all(), "site", "temperature");
    assert.deepEqual(plain(list), [
      { group: "plant-1", twins: 2, count: 1, sum: 55, mean: 55, min: 55, max: 55 },
      { group: "plant-2", twins: 2, count: 2, sum: 120, mean: 60, min: 59, max: 61 },
      { group: null, twins: 1, count: 0, sum: null, mean: null, min: null, max: null },
    ]);
  });

  it("sends all figures, one figure alone, or one per group", function () {
    const twins = all();
    assert.deepEqual(plain(aggregatePayload(twins, q({ property: "power" }))), { twins: 5, count: 3, sum: 22, mean: 7.33333333333333, min: 6, max: 8.5 });
    assert.equal(aggregatePayload(twins, q({ property: "power", aggregate: "sum" })), 22);
    assert.equal(aggregatePayload(twins, q({ property: "power", aggregate: "max" })), 8.5);
    assert.equal(aggregatePayload(twins, q({ property: "rpm", aggregate: "mean" })), null);
    assert.equal(aggregatePayload(twins, q({ aggregate: "count" })), 5);
    assert.equal(aggregatePayload(twins, q({ aggregate: "count", property: "power" })), 3);
    assert.deepEqual(plain(aggregatePayload(twins, q({ property: "power", aggregate: "sum", groupBy: "site" }))), [
      { group: "plant-1", twins: 2, value: 16 },
      { group: "plant-2", twins: 2, value: 6 },
      { group: null, twins: 1, value: null },
    ]);
  });
});

describe("core/query: state at a past time", function () {
  const T = NOW - 3_600_000;
  /** One twin with temperature read at T, T+10s, T+20s and a mode (text) read at T+20s. */
  function history(options = {}) {
    const reg = new TwinRegistry({ clock: () => NOW, ...options });
    reg.open();
    reg.create("p1");
    reg.report("p1", { temperature: 50 }, { ts: T });
    reg.report("p1", { temperature: 51 }, { ts: T + 10_000 });
    reg.report("p1", { temperature: 52, mode: "auto" }, { ts: T + 20_000 });
    return reg;
  }

  it("reads the latest point at or before the time; exactly at a point is that point", function () {
    const twin = history().twin("p1");
    assert.deepEqual(reportedAt(twin, "temperature", T), { value: 50, ts: T });
    assert.deepEqual(reportedAt(twin, "temperature", T + 9_999), { value: 50, ts: T });
    assert.deepEqual(reportedAt(twin, "temperature", T + 10_000), { value: 51, ts: T + 10_000 });
    assert.deepEqual(reportedAt(twin, "temperature", T + 20_000), { value: 52, ts: T + 20_000 }, "the current reading, exactly");
    assert.deepEqual(reportedAt(twin, "temperature", NOW), { value: 52, ts: T + 20_000 });
    assert.equal(reportedAt(twin, "rpm", NOW), undefined);
  });

  it("has null with a note before the first point", function () {
    const twin = history().twin("p1");
    assert.deepEqual(reportedAt(twin, "temperature", T - 1), { value: null, ts: null, note: "before-first" });
  });

  it("tells a time older than the history still holds apart from one before the first reading", function () {
    const twin = history({ historyLength: 2 }).twin("p1");
    assert.deepEqual(reportedAt(twin, "temperature", T + 10_000), { value: 51, ts: T + 10_000 });
    assert.deepEqual(reportedAt(twin, "temperature", T + 5_000), { value: null, ts: null, note: "beyond-history" });
  });

  it("has no past numbers with history off, but still the current value when it is old enough", function () {
    const twin = history({ historyLength: 0 }).twin("p1");
    assert.equal(twin.history, null);
    assert.deepEqual(reportedAt(twin, "temperature", T + 10_000), { value: null, ts: null, note: "no-history" });
    assert.deepEqual(reportedAt(twin, "temperature", T + 30_000), { value: 52, ts: T + 20_000 });
  });

  it("gives a non-numeric property its current value when read by then, else null with a note", function () {
    const twin = history().twin("p1");
    assert.deepEqual(reportedAt(twin, "mode", T + 20_000), { value: "auto", ts: T + 20_000 });
    assert.deepEqual(reportedAt(twin, "mode", T + 19_999), { value: null, ts: null, note: "not-numeric" });
  });

  it("builds the whole state: values, their times and notes", function () {
    const state = stateAt(history().twin("p1"), T + 15_000);
    assert.deepEqual(plain(state), {
      id: "p1", model: null, at: T + 15_000,
      reported: { temperature: 51, mode: null },
      ts: { temperature: T + 10_000, mode: null },
      notes: { mode: "not-numeric" },
    });
    assert.ok(inheritsNothing(state.reported), "property names are never keys of a plain object");
  });

  it("sorts and aggregates with the values as of then", function () {
    const reg = history();
    reg.create("p2");
    reg.report("p2", { temperature: 60 }, { ts: T + 12_000 });
    const early = q({ at: T + 11_000, sort: "temperature", order: "desc", property: "temperature" });
    assert.deepEqual(ids(arrange(select(reg, early), early).twins), ["p1", "p2"], "p2 had no reading yet");
    assert.deepEqual(plain(aggregatePayload(select(reg, early), early)), { twins: 2, count: 1, sum: 51, mean: 51, min: 51, max: 51 });
    const later = q({ at: T + 12_000, sort: "temperature", order: "desc" });
    assert.deepEqual(ids(arrange(select(reg, later), later).twins), ["p2", "p1"]);
  });

  it("reads the time as epoch ms, ISO 8601, or back from now", function () {
    assert.equal(parseAt(1764126400000, NOW), 1764126400000);
    assert.equal(parseAt("1764126400000", NOW), 1764126400000);
    assert.equal(parseAt(5000, NOW), 5000, "a small number is still milliseconds");
    assert.equal(parseAt("2025-11-26T08:00:00Z", NOW), Date.UTC(2025, 10, 26, 8));
    assert.equal(parseAt("2025-11-26T09:00:00+01:00", NOW), Date.UTC(2025, 10, 26, 8));
    assert.equal(parseAt("-1h", NOW), NOW - 3_600_000);
    assert.equal(parseAt("-30m", NOW), NOW - 1_800_000);
    assert.equal(parseAt("-90", NOW), NOW - 90_000, "a bare number back is seconds");
    assert.equal(parseAt(new Date(1000), NOW), 1000);
    assert.equal(parseAt("", NOW), null);
    assert.equal(q({ at: "-1h" }).at, NOW - 3_600_000);
  });

  it("refuses a time it can not read", function () {
    for (const at of ["yesterday", "-1 lightyear", "-", "2025-02-30", NaN, Infinity, -5, true, {}, [1], "-20y", new Date(NaN)]) {
      invalid({ at }, "at");
    }
  });
});

describe("core/query: JSONata truthiness", function () {
  it("reads results as $boolean() does", function () {
    for (const v of [true, 1, -2, "x", [true], [0, 1], { a: 1 }]) assert.equal(truthy(v), true, JSON.stringify(v));
    for (const v of [false, 0, NaN, "", [], [0], [false, ""], {}, null, undefined, () => true]) assert.equal(truthy(v), false, String(v));
  });
});
