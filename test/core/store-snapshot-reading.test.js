"use strict";
/**
 * What a restart makes of each kind of snapshot it finds: the reason a damaged snapshot is named
 * with (the warning a user reads to know what happened to the file), what a salvage says it could
 * and could not read, snapshots of format 1, and the sequence number recovery continues from when
 * a snapshot holds changes newer than its header.
 */
const assert = require("assert");
const fs = require("fs");
const path = require("path");
const { createHash } = require("crypto");
const { NOW, useStoreDirs, freshDir, openRegistry, docs, durable, newestSnapshot, journalFiles } = require("./store-support");
const { FileStore } = require("../../nodes/lib/core/store/file-store");

/** A twin as a snapshot line holds it, last changed by sequence number `l`. */
function record(id, l) {
  return { i: id, m: null, c: NOW, u: NOW, v: 1, l, a: { site: "x" }, r: { t: [l, NOW] }, on: false, ls: null };
}

/** Snapshot text as the store writes it (header, twin lines, trailer with count and checksum). */
function snapshotText(lsn, records, { header } = {}) {
  const lines = records.map((r) => JSON.stringify(r));
  const hash = createHash("sha256");
  for (const line of lines) hash.update(line + "\n");
  const head = header ?? { format: "twinwire-snapshot", version: 2, lsn, created: NOW };
  const trailer = { format: "twinwire-snapshot-end", count: lines.length, sha256: hash.digest("hex") };
  return [JSON.stringify(head), ...lines, JSON.stringify(trailer)].join("\n") + "\n";
}

const snapshotName = (lsn) => `snapshot-${String(lsn).padStart(16, "0")}.jsonl`;
const journalName = (first) => `journal-${String(first).padStart(16, "0")}.log`;

describe("core/store: reading snapshots at a restart", function () {
  this.timeout(20000);
  useStoreDirs("store-snapshot-reading");

  describe("a damaged snapshot is named with what is wrong with it", function () {
    /** Four twins, a snapshot of them, and the journals from the start (which hold them all too). */
    async function stored(label) {
      const dir = freshDir(label);
      const { reg } = openRegistry(dir, { mode: "strict" });
      for (let k = 0; k < 4; k++) reg.create(`t-${k}`, { attributes: { k } });
      await reg.compact();
      reg.report("t-1", { temperature: 21 }, { ts: NOW });
      assert.ifError(await durable(reg));
      const expected = docs(reg);
      await reg.close();
      return { dir, expected, file: newestSnapshot(dir) };
    }

    // Each harm gets the snapshot's lines: [header, t-0, t-1, t-2, t-3, trailer, ""].
    const cases = [
      ["empty", () => [], "empty file"],
      ["cut in the middle of a line", (lines) => [lines.join("\n").slice(0, -40)], "it ends in a torn line"],
      ["cut after a whole line", (lines) => [...lines.slice(0, 3), ""], "no trailer: it was cut short"],
      ["missing a twin line", (lines) => [...lines.slice(0, 2), ...lines.slice(3)], "3 twins where its trailer says 4"],
      ["with a value changed", (lines) => [lines[0], lines[1].replace('"k":0', '"k":9'), ...lines.slice(2)], "checksum mismatch"],
      ["with two garbled lines", (lines) => [lines[0], lines[1], "{garbage", lines[3], "{more", ...lines.slice(5)], "line 3 is damaged"],
      ["with a line that is JSON but no twin", (lines) => [...lines.slice(0, 3), "42", ...lines.slice(4)], "line 4 is damaged"],
      ["with a line that is null", (lines) => [...lines.slice(0, 2), "null", ...lines.slice(3)], "line 3 is damaged"],
      ["with a line that is an array", (lines) => [...lines.slice(0, 2), "[1,2]", ...lines.slice(3)], "line 3 is damaged"],
      ["without its header", (lines) => lines.slice(1), "no valid header"],
      ["with the header of another format", (lines) => [JSON.stringify({ ...JSON.parse(lines[0]), format: "other" }), ...lines.slice(1)], "no valid header"],
      ["with a header that has no sequence number", (lines) => [JSON.stringify({ ...JSON.parse(lines[0]), lsn: "4" }), ...lines.slice(1)], "no valid header"],
      ["with a twin line after its trailer", (lines) => [...lines.slice(0, 6), lines[2], ""], "lines after the trailer"],
    ];
    for (const [kind, harm, reason] of cases) {
      it(`a snapshot ${kind}: "${reason}", and every twin comes back from the journals`, async function () {
        const { dir, expected, file } = await stored(`reason-${kind.split(" ").slice(-2).join("-")}`);
        fs.writeFileSync(file, harm(fs.readFileSync(file, "utf8").split("\n")).join("\n"));
        const { reg, warnings } = openRegistry(dir);
        assert.ok(warnings.includes(`snapshot ${path.basename(file)} is damaged (${reason})`), warnings.join("\n"));
        assert.deepStrictEqual(docs(reg), expected);
      });
    }

    it('a snapshot whose bytes were changed into others that decode to the same text: "checksum mismatch", and every twin comes back from the journals', async function () {
      const dir = freshDir("reason-same-text");
      const { reg } = openRegistry(dir, { mode: "strict" });
      reg.create("t-0", { attributes: { note: "\uFFFD" } });
      reg.create("t-1");
      await reg.compact();
      reg.report("t-1", { temperature: 21 }, { ts: NOW });
      assert.ifError(await durable(reg));
      const expected = docs(reg);
      await reg.close();
      const file = newestSnapshot(dir);
      const bytes = fs.readFileSync(file);
      const text = bytes.toString("utf8");
      // The written U+FFFD (EF BF BD) becomes a four-byte character cut short (F0 9F 98), which
      // decodes to one U+FFFD again: only a checksum over the bytes sees the harm.
      bytes.set([0xf0, 0x9f, 0x98], bytes.indexOf(Buffer.from("\uFFFD")));
      assert.strictEqual(bytes.toString("utf8"), text);
      fs.writeFileSync(file, bytes);
      const { reg: back, warnings } = openRegistry(dir);
      assert.ok(warnings.includes(`snapshot ${path.basename(file)} is damaged (checksum mismatch)`), warnings.join("\n"));
      assert.deepStrictEqual(docs(back), expected);
    });
  });

  describe("a twin line longer than one read (1 MB), its multi-byte characters cut across the reads", function () {
    // ~1.5 MB of two- to four-byte characters between two small twins.
    const text = "é€𝄞a".repeat(150000);
    const lines = () => {
      const big = { ...record("t-1", 2), a: { text } };
      return snapshotText(3, [record("t-0", 1), big, record("t-2", 3)]).split("\n");
    };
    const store = (label, snapshotLines) => {
      const dir = freshDir(label);
      fs.writeFileSync(path.join(dir, snapshotName(3)), snapshotLines.join("\n"));
      fs.writeFileSync(path.join(dir, journalName(4)), "");
      return dir;
    };

    it("is restored whole, and the snapshot verifies", function () {
      const { reg, warnings } = openRegistry(store("long-line", lines()));
      assert.deepStrictEqual(warnings, []);
      assert.deepStrictEqual([...reg.ids()].sort(), ["t-0", "t-1", "t-2"]);
      assert.strictEqual(reg.get("t-1").attributes.text, text);
    });

    it("with one character changed (same length in bytes), the checksum tells", function () {
      const harmed = lines();
      harmed[2] = harmed[2].replace(/€(?=[^€]*$)/, "¢a");
      const { warnings } = openRegistry(store("long-line-harmed", harmed));
      assert.ok(warnings.some((w) => w.startsWith(`snapshot ${snapshotName(3)} is damaged: 3 of the 3 twins it holds were read from it`) && w.endsWith("its checksum does not match, so a value read from it may be wrong")), warnings.join("\n"));
    });
  });

  describe("salvaging a damaged snapshot no journal from the start can replace", function () {
    /** A store of one snapshot (sequence number 3) and an empty journal after it. */
    function salvageDir(label, text) {
      const dir = freshDir(label);
      fs.writeFileSync(path.join(dir, snapshotName(3)), text);
      fs.writeFileSync(path.join(dir, journalName(4)), "");
      return dir;
    }
    const three = () => snapshotText(3, [record("t-0", 1), record("t-1", 2), record("t-2", 3)]).split("\n");

    it("names a damaged line by twin id, counts what was read against the trailer, and says the checksum does not match", function () {
      const lines = three();
      lines[2] = lines[2].slice(0, 30) + "\u0000";
      const { reg, warnings } = openRegistry(salvageDir("salvage-garbled", lines.join("\n")));
      assert.ok(warnings.includes(
        `snapshot ${snapshotName(3)} is damaged: 2 of the 3 twins it holds were read from it; 1 damaged line(s) were skipped: t-1; its checksum does not match, so a value read from it may be wrong`,
      ), warnings.join("\n"));
      assert.deepStrictEqual([...reg.ids()].sort(), ["t-0", "t-2"]);
    });

    it("a torn line after an intact trailer: every twin is read, the torn line is named by its line number, and no checksum is doubted", function () {
      const text = three().join("\n") + '{"format":"twin';
      const { reg, warnings } = openRegistry(salvageDir("salvage-tail", text));
      assert.ok(warnings.includes(
        `snapshot ${snapshotName(3)} is damaged: 3 of the 3 twins it holds were read from it; 1 damaged line(s) were skipped: line 6`,
      ), warnings.join("\n"));
      assert.strictEqual(reg.size, 3);
    });

    it("a trailer whose count is not a number is not believed: the count read is all it says", function () {
      const lines = three();
      const trailer = JSON.parse(lines[4]);
      lines[4] = JSON.stringify({ ...trailer, count: "3" });
      lines[3] = "{garbage";
      const { warnings } = openRegistry(salvageDir("salvage-count", lines.join("\n")));
      assert.ok(warnings.includes(
        `snapshot ${snapshotName(3)} is damaged: 2 twins (it was cut short: how many followed is unknown) were read from it; 1 damaged line(s) were skipped: line 4; its checksum does not match, so a value read from it may be wrong`,
      ), warnings.join("\n"));
    });

    for (const [kind, header] of [["lost", null], ["of another format", { format: "other", version: 2, lsn: 3 }]]) {
      it(`a header ${kind}: its twins are read anyway, and the warning says the header is not valid`, function () {
        const lines = three();
        if (header) lines[0] = JSON.stringify(header);
        else lines.shift();
        const { reg, warnings } = openRegistry(salvageDir(`salvage-header-${header ? "other" : "lost"}`, lines.join("\n")));
        assert.ok(warnings.includes(`snapshot ${snapshotName(3)} has no valid header; its twins were read anyway`), warnings.join("\n"));
        // With the header line gone, the first line is a twin: it is read, not taken for the header.
        assert.deepStrictEqual([...reg.ids()].sort(), ["t-0", "t-1", "t-2"]);
      });
    }

    it("an empty snapshot is named as empty", function () {
      const { warnings } = openRegistry(salvageDir("salvage-empty", ""));
      assert.ok(warnings.includes(`snapshot ${snapshotName(3)} is empty`), warnings.join("\n"));
    });
  });

  describe("format 1 (snapshot.jsonl, no trailer)", function () {
    const legacy = (header, lines) => [JSON.stringify(header), ...lines].join("\n") + "\n";

    it("a damaged line is skipped and named by its line number; the other twins are restored", function () {
      const dir = freshDir("v1-damaged");
      const header = { format: "twinwire-snapshot", version: 1, lsn: 3 };
      fs.writeFileSync(path.join(dir, "snapshot.jsonl"), legacy(header, [JSON.stringify(record("a", 1)), "{garbage", JSON.stringify(record("c", 3))]));
      const { reg, warnings } = openRegistry(dir);
      assert.deepStrictEqual(warnings, ["snapshot snapshot.jsonl is of format 1 (no checksum); 1 damaged line(s) were skipped: line 3"]);
      assert.deepStrictEqual([...reg.ids()].sort(), ["a", "c"]);
    });

    it("a header without a version is format 1 too", function () {
      const dir = freshDir("v1-unversioned");
      fs.writeFileSync(path.join(dir, "snapshot.jsonl"), legacy({ format: "twinwire-snapshot", lsn: 2 }, [JSON.stringify(record("a", 1)), JSON.stringify(record("b", 2))]));
      const { reg, warnings } = openRegistry(dir);
      assert.deepStrictEqual(warnings, []);
      assert.strictEqual(reg.size, 2);
    });
  });

  describe("the sequence number recovery continues from", function () {
    // A snapshot is written while changes go on: a twin in it can carry a number above the
    // header's. The next journal must start above that, or its first entries would be taken for
    // changes the snapshot already holds.
    for (const [format, write] of [
      ["format 2", (dir) => fs.writeFileSync(path.join(dir, snapshotName(5)), snapshotText(5, [record("a", 2), record("b", 9), record("c", 4)]))],
      ["format 1", (dir) => fs.writeFileSync(path.join(dir, "snapshot.jsonl"), [JSON.stringify({ format: "twinwire-snapshot", version: 1, lsn: 5 }), JSON.stringify(record("a", 2)), JSON.stringify(record("b", 9)), JSON.stringify(record("c", 4))].join("\n") + "\n")],
    ]) {
      it(`${format}: is the highest a twin in the snapshot carries, above its header's`, async function () {
        const dir = freshDir(`lsn-${format.replace(" ", "")}`);
        write(dir);
        const store = new FileStore({ dir, mode: "strict" });
        const recovered = store.recover();
        assert.deepStrictEqual(recovered.warnings, []);
        assert.strictEqual(recovered.lsn, 9);
        await store.close();
        assert.deepStrictEqual(journalFiles(dir), [journalName(10)], "the next journal starts after the twin's number");
      });
    }
  });
});
