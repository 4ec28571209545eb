#!/usr/bin/env node
// Runs one real Node-RED process for the integration tests (spawned by harness.js), with this
// package loaded from the working tree.
//
//   node test/integration/run-node-red.js <userDir> [port]
//
// Settings: Node-RED defaults from scripts/lib/nodered-runtime.js, overridden key by key by
// <userDir>/twinwire-settings.json when present (written by prepareUserDir / the harness).
// Port 0 (the default) picks a free port. When ready, prints "twinwire-runner: listening on <url>"
// and, when spawned with an IPC channel, sends {type: "ready", port} to the parent.
// SIGTERM or SIGINT stops Node-RED cleanly (nodes closed, stores flushed) and exits 0. If the
// parent goes away (IPC channel closed), it stops too, so no test leaves Node-RED running.
//
// TWINWIRE_NODE_RED_DIR may name another node-red package directory to run (e.g. Node-RED 5).
"use strict";

const fs = require("fs");
const path = require("path");
const { baseSettings, startEmbedded, SETTINGS_FILE } = require("../../scripts/lib/nodered-runtime");

async function main() {
  const [userDirArg, portArg = "0"] = process.argv.slice(2);
  if (!userDirArg) {
    console.error("usage: node run-node-red.js <userDir> [port]");
    process.exit(2);
  }
  const userDir = path.resolve(userDirArg);
  const port = Number(portArg);
  // The harness prepared the user directory (package link or a real install) before spawning.

  let extra = {};
  const settingsFile = path.join(userDir, SETTINGS_FILE);
  if (fs.existsSync(settingsFile)) extra = JSON.parse(fs.readFileSync(settingsFile, "utf8"));
  const settings = { ...baseSettings({ userDir, port }), ...extra, userDir, uiPort: port };

  const nodeRed = await startEmbedded(settings, {
    nodeRedDir: process.env.TWINWIRE_NODE_RED_DIR || undefined,
    // Loading the palette alone took 9 s of a 10 s limit on a loaded machine (Node-RED 5 on Node
    // 22, load 16), and the flows were then not started when the tests began: below the
    // harness's 60 s start timeout instead.
    flowsTimeout: 45000,
  });
  console.log(`twinwire-runner: listening on http://${settings.uiHost}:${nodeRed.port}`);
  if (process.send) process.send({ type: "ready", host: settings.uiHost, port: nodeRed.port });

  let stopping = false;
  async function shutdown(reason) {
    if (stopping) return;
    stopping = true;
    console.log(`twinwire-runner: ${reason}, stopping`);
    const guard = setTimeout(() => {
      console.error("twinwire-runner: stop took over 20 s, forcing exit");
      process.exit(1);
    }, 20000);
    try {
      await nodeRed.stop();
    } catch (err) {
      console.error(err && err.stack ? err.stack : err);
      process.exit(1);
    }
    clearTimeout(guard);
    console.log("twinwire-runner: stopped");
    process.exit(0);
  }
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("disconnect", () => shutdown("parent disconnected"));
}

// Only as a script: a test runner globbing test/**/*.js must be able to load this file harmlessly.
if (require.main === module) {
  main().catch((err) => {
    console.error("twinwire-runner: Node-RED failed to start");
    console.error(err && err.stack ? err.stack : err);
    process.exit(1);
  });
}
