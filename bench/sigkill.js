// What a crash loses, per persistence mode: a real Node-RED process takes twin changes over HTTP
// from 20 concurrent clients while every core is kept busy by CPU burners (the loaded 2-core
// machine CI and plants run on), is killed with SIGKILL mid-stream, restarts on the same user
// directory, and every acknowledged change is looked for.
//
//   node bench/sigkill.js <rounds> <killAfterMs>
//
// Reports per mode: changes acknowledged, lost, and for the lost ones how long before the last
// acknowledgement (the runtime's own clock, stamped just after the twin node) and before the kill
// (the client's clock) they were acknowledged. Strict promises 0 lost; batched promises nothing
// acknowledged over 100 ms before the last acknowledgement is lost.
"use strict";
const { spawn } = require("child_process");
const os = require("os");
const { childMain } = require("./lib");
const h = require("../test/integration/harness");
const { httpTwinFlow, stream, readTwins, missing } = require("../test/integration/http-twin");

function burners() {
  const procs = [];
  for (let k = 0; k < os.cpus().length; k++) procs.push(spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
  return () => procs.forEach((p) => p.kill("SIGKILL"));
}

async function round(mode, killAfterMs) {
  const userDir = h.tempUserDir();
  let nr = await h.startNodeRed({ userDir, flows: httpTwinFlow(mode), startTimeout: 60000 });
  const run = await stream(nr, { total: 1e6, concurrency: 20, killWhen: ({ acks, elapsed }) => acks >= 100 && elapsed >= killAfterMs });
  nr = await h.startNodeRed({ userDir, startTimeout: 60000 });
  const docs = await readTwins(nr, run.acks);
  const lost = missing(run.acks, docs);
  await nr.stop();
  const lastAck = Math.max(...run.acks.map((a) => a.ackAt));
  return {
    acknowledged: run.acks.length,
    inFlightAtKill: run.inFlightAtKill,
    lost: lost.length,
    lostBeforeLastAckMs: lost.map((a) => lastAck - a.ackAt),
    lostBeforeKillMs: lost.map((a) => run.killAt - a.at),
  };
}

async function main() {
  const rounds = Number(process.argv[2] || 5);
  const killAfterMs = Number(process.argv[3] || 1500);
  const stop = burners();
  const out = { rounds, killAfterMs, burners: os.cpus().length, strict: [], batched: [] };
  try {
    for (let k = 0; k < rounds; k++) {
      for (const mode of ["strict", "batched"]) {
        process.stderr.write(`bench: sigkill: ${mode}, round ${k + 1} of ${rounds}\n`);
        out[mode].push(await round(mode, killAfterMs));
      }
    }
  } finally {
    stop();
    await h.stopAll();
  }
  return out;
}

childMain(main);
