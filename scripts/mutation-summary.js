#!/usr/bin/env node
// Turns the last `npm run mutate` report (reports/mutation/mutation.json) into the score table
// and the survivor list of docs/mutation-testing.md, between its two markers; prints the table.
//
//   node scripts/mutation-summary.js [--write]
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const report = JSON.parse(fs.readFileSync(path.join(root, "reports", "mutation", "mutation.json"), "utf8"));
const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);

function tally(mutants) {
  const t = { detected: 0, undetected: 0, ignored: 0 };
  for (const m of mutants) {
    if (DETECTED.has(m.status)) t.detected++;
    else if (UNDETECTED.has(m.status)) t.undetected++;
    else t.ignored++;
  }
  t.score = t.detected + t.undetected ? (100 * t.detected) / (t.detected + t.undetected) : 100;
  return t;
}

const files = Object.entries(report.files).map(([file, f]) => ({ file: path.relative(root, path.resolve(root, file)), mutants: f.mutants }));
files.sort((a, b) => a.file.localeCompare(b.file));
const lines = ["| file | mutants | killed or timed out | survived or not covered | score |", "|---|---|---|---|---|"];
for (const f of files) {
  const t = tally(f.mutants);
  lines.push(`| \`${f.file}\` | ${f.mutants.length} | ${t.detected} | ${t.undetected} | ${t.score.toFixed(1)} % |`);
}
const all = tally(files.flatMap((f) => f.mutants));
lines.push(`| **all** | ${files.reduce((n, f) => n + f.mutants.length, 0)} | ${all.detected} | ${all.undetected} | **${all.score.toFixed(1)} %** |`);

const survivors = [];
for (const f of files) {
  const left = f.mutants.filter((m) => UNDETECTED.has(m.status)).sort((a, b) => a.location.start.line - b.location.start.line);
  if (!left.length) continue;
  survivors.push("", `### \`${f.file}\` (${left.length})`, "");
  for (const m of left) {
    const replacement = String(m.replacement ?? "").replace(/\s+/g, " ").slice(0, 70).replace(/\|/g, "\\|");
    survivors.push(`- line ${m.location.start.line}: ${m.mutatorName}${m.status === "NoCoverage" ? " (no test runs it)" : ""} -> \`${replacement}\``);
  }
}

const table = lines.join("\n");
console.log(table);
if (process.argv.includes("--write")) {
  const doc = path.join(root, "docs", "mutation-testing.md");
  const text = fs.readFileSync(doc, "utf8");
  const between = (start, end, body) => {
    const a = text.indexOf(start);
    const b = text.indexOf(end);
    if (a === -1 || b === -1) throw new Error(`${doc}: markers ${start} / ${end} missing`);
    return (t) => t.slice(0, t.indexOf(start) + start.length) + "\n" + body + "\n" + t.slice(t.indexOf(end));
  };
  let out = between("<!-- scores -->", "<!-- /scores -->", table)(text);
  out = between("<!-- survivors -->", "<!-- /survivors -->", survivors.join("\n").trim())(out);
  fs.writeFileSync(doc, out);
}
