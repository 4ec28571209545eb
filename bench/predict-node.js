// Throughput of twin-predict against the core change node, in ONE embedded Node-RED runtime
// (issue 4; reported, no target).
//
//   entry -> twin-predict (method m, property temperature, registry batched) -> counter   for m ewma|holt|linear
//   entry -> change (set msg.value to msg.payload)                            -> counter
//
// Messages are readings {twinId, payload: 60.3, ts} round-robin over `twins` twins (created
// beforehand), 10 ms apart, so each twin gets a reading every 10 s of reading time (1,000 twins).
// Every reading publishes (step 0, the default): the prediction and the predictor's state go to
// the twin in one journal entry, and the message leaves on output 1. Runs alternate change, ewma,
// holt, linear over `rounds` rounds; every twin-predict node has a registry of its own.
//
//   node --expose-gc bench/predict-node.js [messages=30000] [rounds=3] [warmup=10000] [twins=1000]
"use strict";
const { tempDir, removeDir, childMain, twinId, median } = require("./lib");
const { BATCH, WINDOW, startRuntime, alternate, changeNode } = require("./red");

const MESSAGES = Number(process.argv[2] || 30000);
const ROUNDS = Number(process.argv[3] || 3);
const WARMUP = Number(process.argv[4] || 10000);
const TWINS = Number(process.argv[5] || 1000);
const METHODS = ["ewma", "holt", "linear"];
// Reading times in the past (as sensors send), 10 ms apart.
const T0 = Date.now() - 24 * 3600 * 1000;

/** A noisy, quantised reading around 60 that a predictor can learn (k: message number). */
function value(k) {
  const twin = k % TWINS;
  const step = Math.floor(k / TWINS);
  let h = Math.imul(k + 1, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), h | 1) >>> 0;
  const noise = (h % 1000) / 1000 - 0.5;
  return Math.round((60 + (twin % 10) + 2 * Math.sin(step / 500) + noise) * 10) / 10;
}
const message = (k) => ({ twinId: twinId(k % TWINS), payload: value(k), ts: T0 + k * 10 });

function flows() {
  const nodes = [{ id: "tab", type: "tab", label: "bench" }];
  let y = 60;
  for (const method of METHODS) {
    nodes.push(
      { id: `reg-${method}`, type: "twin-registry", name: method, persistence: "batched", historyLength: 100, staleness: 0, maxDocumentKb: 64, models: "" },
      { id: `entry-${method}`, type: "bench-entry", z: "tab", x: 100, y, wires: [[`predict-${method}`]] },
      {
        id: `predict-${method}`, type: "twin-predict", z: "tab", x: 300, y, registry: `reg-${method}`, properties: "temperature", twinIds: "",
        watch: false, method, wires: [[`count-${method}`], []],
      },
      { id: `count-${method}`, type: "bench-counter", z: "tab", x: 500, y, wires: [] },
    );
    y += 60;
  }
  nodes.push(
    { id: "entry-change", type: "bench-entry", z: "tab", x: 100, y, wires: [["change"]] },
    { ...changeNode("change", "tab", [["count-change"]]), y },
    { id: "count-change", type: "bench-counter", z: "tab", x: 500, y, wires: [] },
    // Errors end a message too: count them apart so a failing node can not hang the run.
    { id: "catch", type: "catch", z: "tab", x: 100, y: y + 60, scope: null, uncaught: false, wires: [["count-errors"]] },
    { id: "count-errors", type: "bench-counter", z: "tab", x: 300, y: y + 60, wires: [] },
  );
  return nodes;
}

async function main() {
  const userDir = tempDir("predict-node");
  try {
    const { RED, get } = await startRuntime(userDir, flows());
    for (const method of METHODS) {
      const registry = get(`reg-${method}`).use();
      for (let k = 0; k < TWINS; k++) registry.create(twinId(k), { attributes: { site: "plant-1" } });
      await registry.store.flush();
    }
    const flowsUnderTest = [["change", "entry-change", "count-change", message], ...METHODS.map((m) => [m, `entry-${m}`, `count-${m}`, message])];
    const result = await alternate(get, flowsUnderTest, { messages: MESSAGES, rounds: ROUNDS, warmup: WARMUP }, median);
    // Every twin holds a prediction from its own method. What a published reading appends to the
    // journal: the prediction and the predictor's state, as registry.setPrediction writes them.
    const predicted = {};
    for (const method of METHODS) {
      const registry = get(`reg-${method}`).use();
      let n = 0;
      let entryBytes = 0;
      for (let k = 0; k < TWINS; k++) {
        const id = twinId(k);
        const p = registry.get(id).predictions;
        if (!p || !p.temperature || p.temperature.method !== method) continue;
        n++;
        const entry = { l: 1e6, o: "p", i: id, t: Date.now(), p: { temperature: p.temperature }, s: { "predict:temperature": registry.getState(id, "predict:temperature") } };
        entryBytes += JSON.stringify(entry).length + 1;
      }
      if (n !== TWINS) throw new Error(`${method}: ${n} of ${TWINS} twins have a prediction`);
      predicted[method] = { twins: n, entryBytes: entryBytes / n, compactions: registry.store.stats.compactions };
    }
    await RED.stop();
    return { messages: MESSAGES, rounds: ROUNDS, warmup: WARMUP, twins: TWINS, batch: BATCH, window: WINDOW, ...result, predicted };
  } finally {
    removeDir(userDir);
  }
}

childMain(main);
