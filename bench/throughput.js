// Throughput of the twin node against the core change node, in ONE embedded Node-RED runtime.
//
//   entry -> twin (operation update, registry <mode>) -> counter      for mode batched|strict|memory
//   entry -> change (set msg.payload.x)               -> counter
//
// The twin nodes are as the palette gives them (Output: what an update changed, the change
// event), but for twin-batched-document, which sends the whole twin document (Output: the whole
// twin, what a node saved before the setting existed sends) so the document's cost stays visible.
//
// Messages are driven by calling the entry node's receive() in batches, with setImmediate
// between batches so the event loop turns, and at most `window` messages in flight. Runs
// alternate (change, twin batched, twin memory, twin strict, ...) over `rounds` rounds.
//
//   node --expose-gc bench/throughput.js [messages=50000] [rounds=3] [warmup=10000] [twins=1000] [flows]
//
// `flows` (for profiling by hand) is a comma list out of change,twin-batched,twin-batched-document,twin-memory,twin-strict.
// Besides msgs/s (wall clock), each run's CPU time per message (process.cpuUsage, user + system,
// every thread of the process) is recorded: other processes slow the wall clock, not this.
"use strict";
const { tempDir, removeDir, childMain, readings, twinId, median } = require("./lib");
const { BATCH, WINDOW, startRuntime, alternate } = require("./red");

const MESSAGES = Number(process.argv[2] || 50000);
const ROUNDS = Number(process.argv[3] || 3);
const WARMUP = Number(process.argv[4] || 10000);
const TWINS = Number(process.argv[5] || 1000);
const ONLY = process.argv[6] ? process.argv[6].split(",") : null;
// Each twin flow has a registry of its own: [flow suffix, persistence, the twin node's output].
const TWIN_FLOWS = [["batched", "batched", "event"], ["batched-document", "batched", "twin"], ["memory", "memory", "event"], ["strict", "strict", "event"]];
const MODES = TWIN_FLOWS.map(([name]) => name);

function flows() {
  const nodes = [{ id: "tab", type: "tab", label: "bench" }];
  const y = (k) => 60 + k * 60;
  TWIN_FLOWS.forEach(([mode, persistence, output], k) => {
    nodes.push(
      { id: `reg-${mode}`, type: "twin-registry", name: mode, persistence, historyLength: 100, staleness: 0, maxDocumentKb: 64, models: "" },
      { id: `entry-${mode}`, type: "bench-entry", z: "tab", x: 100, y: y(k), wires: [[`twin-${mode}`]] },
      { id: `twin-${mode}`, type: "twin", z: "tab", x: 300, y: y(k), registry: `reg-${mode}`, operation: "update", twinId: "", twinIdType: "str", model: "", output, wires: [[`count-${mode}`]] },
      { id: `count-${mode}`, type: "bench-counter", z: "tab", x: 500, y: y(k), wires: [] },
    );
  });
  nodes.push(
    { id: "entry-change", type: "bench-entry", z: "tab", x: 100, y: y(5), wires: [["change"]] },
    {
      id: "change", type: "change", z: "tab", x: 300, y: y(5), name: "",
      rules: [{ t: "set", p: "payload.x", pt: "msg", to: "1", tot: "num" }],
      action: "", property: "", from: "", to: "", reg: false, wires: [["count-change"]],
    },
    { id: "count-change", type: "bench-counter", z: "tab", x: 500, y: y(5), wires: [] },
    // Errors end a message too: count them apart so a failing twin node can not hang the run.
    { id: "catch", type: "catch", z: "tab", x: 100, y: y(7), scope: null, uncaught: false, wires: [["count-errors"]] },
    { id: "count-errors", type: "bench-counter", z: "tab", x: 300, y: y(7), wires: [] },
  );
  return nodes;
}

/** Update k: round-robin over the twins, attribute x set to k (so every update adds a version). */
const message = (k) => ({ twinId: twinId(k % TWINS), payload: { x: k } });

async function main() {
  const userDir = tempDir("throughput");
  try {
    const { RED, get } = await startRuntime(userDir, flows());
    // The twins the updates go to: TWINS twins with attributes and 10 reported numbers each.
    for (const mode of MODES) {
      const registry = get(`reg-${mode}`).use();
      for (let k = 0; k < TWINS; k++) {
        registry.create(twinId(k), { attributes: { site: "plant-1", serial: `S-${k}` }, reported: readings(k) });
      }
      await registry.store.flush();
    }
    const flowsUnderTest = [["change", "entry-change", "count-change", message], ...MODES.map((m) => [`twin-${m}`, `entry-${m}`, `count-${m}`, message])]
      .filter(([name]) => !ONLY || ONLY.includes(name));
    // Before each run every store writes what it holds: a batched flow's last batch (its write
    // and fsync, or a compaction it started) is not left to run inside the next flow's run.
    const between = () => Promise.all(MODES.map((mode) => get(`reg-${mode}`).use().store.flush()));
    const timed = await alternate(get, flowsUnderTest, { messages: MESSAGES, rounds: ROUNDS, warmup: WARMUP, between }, median);
    // Every update must have landed: each one changes attribute x, so it adds one version.
    const stats = {};
    for (const mode of MODES) {
      const registry = get(`reg-${mode}`).use();
      const ran = flowsUnderTest.some(([name]) => name === `twin-${mode}`);
      const expected = TWINS + (ran ? WARMUP + ROUNDS * MESSAGES : 0);
      let versions = 0;
      for (let k = 0; k < TWINS; k++) versions += registry.get(twinId(k)).version;
      if (versions !== expected) throw new Error(`twin-${mode}: versions add up to ${versions}, expected ${expected}`);
      stats[mode] = { ...registry.store.stats };
    }
    await RED.stop();
    const { runs, cpuWaitMs, windowFull, oldGrowth, cpuUsPerMsg, median: med, medianCpuUsPerMsg } = timed;
    return { messages: MESSAGES, rounds: ROUNDS, warmup: WARMUP, twins: TWINS, batch: BATCH, window: WINDOW, runs, cpuWaitMs, windowFull, oldGrowth, cpuUsPerMsg, median: med, medianCpuUsPerMsg, storeStats: stats };
  } finally {
    removeDir(userDir);
  }
}

childMain(main);
