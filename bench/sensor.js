// Throughput of twin-sensor against the core change node, in ONE embedded Node-RED runtime
// (issue 3), for readings of one property and of ten properties per message.
//
//   entry -> twin-sensor (registry batched, twin from msg.twinId, unknown: create) -> counter
//   entry -> change (set msg.value to msg.payload)                                 -> counter
//
// One property: {twinId, payload: 21.53} with the sensor's property set to "temperature".
// Ten properties: {twinId, payload: {p0: ..., p9: ...}} with no property set (the object's keys
// are the properties). The change node gets the very same messages. Twins are created by the
// first readings (unknown: create), during the warm-up. Runs alternate change-1, sensor-1,
// change-10, sensor-10 over `rounds` rounds.
//
//   node --expose-gc bench/sensor.js [messages=50000] [rounds=3] [warmup=10000] [twins=1000] [flows]
//
// `flows` (for profiling by hand) is a comma list out of change-1,sensor-1,change-10,sensor-10.
//
// Besides msgs/s (wall clock), each run's CPU time per message (process.cpuUsage, user + system,
// whole process) is recorded: on a machine shared with other work it moves far less than the
// wall clock, so a change of a few per cent shows in it.
//
// Besides msgs/s (wall clock), each run's CPU time per message (process.cpuUsage, user + system,
// of the whole process) is recorded: on a shared machine it moves far less than the wall clock.
"use strict";
const { tempDir, removeDir, childMain, readings, twinId, median } = require("./lib");
const { BATCH, WINDOW, startRuntime, alternate, changeNode } = require("./red");

const MESSAGES = Number(process.argv[2] || 50000);
const ROUNDS = Number(process.argv[3] || 3);
const WARMUP = Number(process.argv[4] || 10000);
const TWINS = Number(process.argv[5] || 1000);
const ONLY = process.argv[6] ? process.argv[6].split(",") : null;

/** A reading with two decimals that moves from one message to the next. */
const value = (k) => (2001 + ((k * 37) % 1000) * 3) / 100;

const SHAPES = {
  1: (k) => ({ twinId: twinId(k % TWINS), payload: value(k) }),
  10: (k) => ({ twinId: twinId(k % TWINS), payload: readings(k) }),
};

function flows() {
  const nodes = [{ id: "tab", type: "tab", label: "bench" }];
  let y = 60;
  for (const props of Object.keys(SHAPES)) {
    nodes.push(
      { id: `reg-${props}`, type: "twin-registry", name: `sensor-${props}`, persistence: "batched", historyLength: 100, staleness: 0, maxDocumentKb: 64, models: "" },
      { id: `entry-sensor-${props}`, type: "bench-entry", z: "tab", x: 100, y, wires: [[`sensor-${props}`]] },
      {
        id: `sensor-${props}`, type: "twin-sensor", z: "tab", x: 300, y, registry: `reg-${props}`, pattern: "", twinId: "", twinIdType: "str",
        property: props === "1" ? "temperature" : "", value: "payload", valueType: "msg", timestamp: "", timestampType: "msg",
        scale: 1, offset: 0, unit: "", deadband: "", unknown: "create", model: "", output: "event", parseNumbers: true,
        wires: [[`count-sensor-${props}`]],
      },
      { id: `count-sensor-${props}`, type: "bench-counter", z: "tab", x: 500, y, wires: [] },
      { id: `entry-change-${props}`, type: "bench-entry", z: "tab", x: 100, y: y + 40, wires: [[`change-${props}`]] },
      { ...changeNode(`change-${props}`, "tab", [[`count-change-${props}`]]), y: y + 40 },
      { id: `count-change-${props}`, type: "bench-counter", z: "tab", x: 500, y: y + 40, wires: [] },
    );
    y += 100;
  }
  nodes.push(
    // Errors end a message too: count them apart so a failing node can not hang the run.
    { id: "catch", type: "catch", z: "tab", x: 100, y, scope: null, uncaught: false, wires: [["count-errors"]] },
    { id: "count-errors", type: "bench-counter", z: "tab", x: 300, y, wires: [] },
  );
  return nodes;
}

async function main() {
  const userDir = tempDir("sensor");
  try {
    const { RED, get } = await startRuntime(userDir, flows());
    const flowsUnderTest = [];
    for (const props of Object.keys(SHAPES)) {
      flowsUnderTest.push([`change-${props}`, `entry-change-${props}`, `count-change-${props}`, SHAPES[props]]);
      flowsUnderTest.push([`sensor-${props}`, `entry-sensor-${props}`, `count-sensor-${props}`, SHAPES[props]]);
    }
    const chosen = flowsUnderTest.filter(([name]) => !ONLY || ONLY.includes(name));
    const result = await alternate(get, chosen, { messages: MESSAGES, rounds: ROUNDS, warmup: WARMUP }, median);
    // Every reading must have landed: each adds one version (the first one creates the twin).
    const stats = {};
    for (const props of Object.keys(SHAPES)) {
      const registry = get(`reg-${props}`).use();
      if (!chosen.some(([name]) => name === `sensor-${props}`)) continue;
      const expected = WARMUP + ROUNDS * MESSAGES;
      let versions = 0;
      for (let k = 0; k < TWINS; k++) versions += registry.get(twinId(k)).version;
      if (registry.size !== TWINS || versions !== expected) throw new Error(`sensor-${props}: ${registry.size} twins, versions add up to ${versions}, expected ${TWINS} and ${expected}`);
      stats[props] = { ...registry.store.stats };
    }
    await RED.stop();
    return { messages: MESSAGES, rounds: ROUNDS, warmup: WARMUP, twins: TWINS, batch: BATCH, window: WINDOW, ...result, storeStats: stats };
  } finally {
    removeDir(userDir);
  }
}

childMain(main);
