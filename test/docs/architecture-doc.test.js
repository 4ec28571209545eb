"use strict";
/**
 * Keeps docs/architecture.md true where that is mechanical: what the code knows (journal ops and
 * their fields, admin routes and permissions, the fields of the twin document, the summary and the
 * snapshot record, the change event sections) is read from the source or the build and compared
 * with the document's tables, both ways, so a new op or route fails here until it is documented.
 */
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { toRecord } = require("../../nodes/lib/core/journal");
const { SECTIONS } = require("../../nodes/lib/core/watch");
const { DERIVED } = require("../../nodes/lib/core/sections");
const { ENTRY_OPS } = require("../../nodes/lib/core/store/file-store");
const { registerAdminApi } = require("../../nodes/lib/plugins/admin-api");

const ROOT = path.join(__dirname, "..", "..");
const DOC = fs.readFileSync(path.join(ROOT, "docs", "architecture.md"), "utf8");

/** The text under a heading (any level), up to the next heading of the same or a higher level. */
function section(title) {
  const lines = DOC.split("\n");
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, "") === title);
  assert.notEqual(start, -1, `docs/architecture.md has no heading "${title}"`);
  const level = lines[start].match(/^#+/)[0].length;
  const out = [];
  for (const line of lines.slice(start + 1)) {
    const m = line.match(/^(#+) /);
    if (m && m[1].length <= level) break;
    out.push(line);
  }
  return out.join("\n");
}

/** Rows of the first table in a text, as arrays of cells (header and rule dropped). */
function table(text, which = 0) {
  const tables = [];
  let current = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("|")) {
      if (!current) tables.push((current = []));
      current.push(line.replace(/\\\|/g, "\u0000").split("|").slice(1, -1).map((c) => c.trim().replace(/\u0000/g, "|")));
    } else current = null;
  }
  assert.ok(tables[which], `no table ${which + 1} in that section`);
  return tables[which].slice(2);
}

/** The code names in backticks at the start of a cell (`a`, or `a` followed by words). */
const code = (cell) => (cell.match(/^`([^`]+)`/) || [])[1];

function sorted(values) {
  return [...values].sort();
}

describe("docs/architecture.md", function () {
  it("documents every journal op the registry writes, with every field, and nothing the code does not know", function () {
    const source = fs.readFileSync(path.join(ROOT, "src", "core", "journal.ts"), "utf8");
    const union = source.match(/export type JournalEntry =([\s\S]*?);\n\n/);
    assert.ok(union, "JournalEntry union not found in src/core/journal.ts");
    const ops = new Map();
    for (const member of union[1].split(/\n\s*\|/)) {
      const op = (member.match(/\bo: "(\w+)"/) || [])[1];
      if (!op) continue;
      ops.set(op, [...member.matchAll(/(\w+)\??:/g)].map((m) => m[1]));
    }
    // A derived section's op is its code; its value sits under the same key (src/core/sections.ts).
    for (const name of Object.keys(DERIVED)) {
      const spec = DERIVED[name];
      ops.set(spec.code, ["l", "o", "i", "t", ...(spec.versioned ? ["v"] : []), spec.code, "s"]);
    }
    assert.ok(ops.size >= 7, `only ${ops.size} ops read from the union and the derived sections`);

    const rows = table(section("Journal entries"));
    const documented = new Map(rows.map((r) => [code(r[0]), r[2]]));
    assert.deepEqual(sorted(documented.keys()), sorted(ops.keys()));
    for (const [op, fields] of ops) {
      for (const field of fields) {
        assert.ok(documented.get(op).includes(`\`${field}\``), `op ${op}: field ${field} is not documented`);
      }
    }
  });

  it("lists exactly the ops the file store accepts when it reads a journal back (an op it refused would be lost at restart)", function () {
    const accepted = [...ENTRY_OPS];
    const documented = table(section("Journal entries")).map((r) => code(r[0]));
    assert.deepEqual(sorted(accepted), sorted(documented));
  });

  it("documents every admin API route with its method and permission, and no route that is not registered", function () {
    const routes = [];
    const RED = {
      auth: { needsPermission: (permission) => Object.assign(() => undefined, { permission }) },
      httpAdmin: {
        get: (route, guard) => routes.push(["GET", route, guard.permission]),
        post: (route, guard) => routes.push(["POST", route, guard.permission]),
        use: () => undefined, // an error handler, not a route
      },
      nodes: { eachNode() {}, getNode: () => null },
      log: { error() {} },
      _: (key) => key,
    };
    registerAdminApi(RED);
    assert.ok(routes.length >= 5, `only ${routes.length} routes registered`);
    const documented = table(section("Admin HTTP API")).map((r) => [r[0], code(r[1]), code(r[2])]);
    const key = (r) => r.join(" ");
    assert.deepEqual(sorted(documented.map(key)), sorted(routes.map(key)));
  });

  describe("fields, read from a twin with every section filled", function () {
    let registry;
    before(function () {
      const models = parseModels({ pump: { properties: { temperature: { type: "number" }, rpm: { type: "integer", writable: true } } } });
      registry = new TwinRegistry({ models });
      registry.open();
      registry.create("pump-07", { model: "pump", attributes: { site: "plant-1" }, reported: { temperature: 61.2, rpm: 1480 } }, { source: "plant-1/pump-07" });
      registry.setDesired("pump-07", { rpm: 1500 }, { by: "dashboard" });
      registry.setPrediction("pump-07", "temperature", { method: "holt", forecast: 63 }, { "predict:temperature": { n: 1 } });
      registry.setLifecycle("pump-07", { stage: "operating" });
      // Enough temperature readings for a file snapshot to write them as encoded blocks (`hb`); rpm keeps one point (`h`).
      for (let k = 1; k <= 10; k++) registry.report("pump-07", { temperature: 61.2 + k / 10 });
    });
    after(function () {
      return registry.close();
    });

    it("documents every top-level field of the twin document, and the keys of connectivity and meta", function () {
      const document = registry.get("pump-07");
      const rows = table(section("The twin document"));
      assert.deepEqual(sorted(rows.map((r) => code(r[0]))), sorted(Object.keys(document)));
      const typeOf = new Map(rows.map((r) => [code(r[0]), r[1]]));
      for (const part of ["connectivity", "meta"]) {
        for (const key of Object.keys(document[part])) assert.match(typeOf.get(part), new RegExp(`\\b${key}\\b`), `${part}.${key} is not documented`);
      }
    });

    it("documents every field of the summary the twin list answers", function () {
      const [summary] = registry.list().twins;
      assert.deepEqual(sorted(table(section("Summary")).map((r) => code(r[0]))), sorted(Object.keys(summary)));
    });

    it("documents every field of a snapshot record, so a maintainer can read a snapshot by hand", function () {
      // As a file snapshot writes it (encoded history for the long series), with the flat form beside.
      const record = { ...toRecord(registry.twin("pump-07")), ...toRecord(registry.twin("pump-07"), true) };
      assert.ok("h" in record && "hb" in record && "st" in record && "p" in record && "d" in record && "lc" in record, "the twin should fill every optional field");
      const rows = table(section("Store files"), 1);
      assert.deepEqual(sorted(rows.map((r) => code(r[0]))), sorted(Object.keys(record)));
    });

    it("documents every change event section", function () {
      const rows = table(section("Change events"));
      assert.deepEqual(sorted(rows.map((r) => code(r[0]))), sorted(SECTIONS));
    });
  });

  it("has a heading for every section the source cites", function () {
    const cited = [];
    const walk = (dir) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith(".ts")) {
          const text = fs.readFileSync(full, "utf8").replace(/\n\s*\* /g, " ");
          for (const m of text.matchAll(/docs\/architecture\.md, "([^"]+)"/g)) cited.push([path.relative(ROOT, full), m[1]]);
        }
      }
    };
    walk(path.join(ROOT, "src"));
    assert.ok(cited.length >= 5, `only ${cited.length} citations found`);
    const headings = new Set(DOC.split("\n").filter((l) => /^#+ /.test(l)).map((l) => l.replace(/^#+ /, "")));
    for (const [file, title] of cited) assert.ok(headings.has(title), `${file} cites "${title}", which docs/architecture.md has no heading for`);
  });
});
