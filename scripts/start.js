#!/usr/bin/env node
// `npm start`: one process running an MQTT broker (aedes) and Node-RED with this package loaded
// from the working tree. User directory: <repo>/.run/node-red. On first run (no flows.json) a
// Welcome tab and every example flow are deployed, one tab per examples/*.json file, Twin basics
// first and the other examples disabled until the user enables one (scripts/lib/welcome.js).
//
//   PORT=1880       Node-RED editor and admin API (http://127.0.0.1:PORT), HTTP-in nodes under /api
//   MQTT_PORT=1883  MQTT broker (mqtt://127.0.0.1:MQTT_PORT)
//   TWINWIRE_USER_DIR=<dir>  another user directory (default <repo>/.run/node-red)
//   TWINWIRE_NODE_RED_DIR=<dir>  another node-red package to run (CI runs Node-RED 5 this way)
"use strict";

const fs = require("fs");
const net = require("net");
const path = require("path");
const { execFileSync } = require("child_process");
const {
  repoRoot,
  prepareUserDir,
  checkPort,
  baseSettings,
  startEmbedded,
} = require("./lib/nodered-runtime");
const { firstRunFlows } = require("./lib/welcome");

const HOST = "127.0.0.1";
const userDir = process.env.TWINWIRE_USER_DIR ? path.resolve(process.env.TWINWIRE_USER_DIR) : path.join(repoRoot, ".run", "node-red");

/** Prints one line and exits: for problems the user can fix, no stack trace. */
function fail(message) {
  console.error(`twinwire: ${message}`);
  process.exit(1);
}

function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${name}=${raw} is not a port number (1-65535)`);
  return port;
}

/** In-process MQTT broker. aedes is an ES module: loaded with import(). */
async function startBroker(port) {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, HOST, resolve);
  });
  return {
    close: () =>
      new Promise((resolve) => {
        // aedes.close() disconnects every client, so server.close() can complete.
        broker.close(() => server.close(() => resolve()));
      }),
  };
}

/**
 * The examples talk to the broker of a default `npm start` (127.0.0.1:1883); with another
 * MQTT_PORT they are pointed at it when they are first deployed.
 */
function pointAtBroker(flows, mqttPort) {
  if (mqttPort === 1883) return;
  for (const n of flows) {
    if (n.type === "mqtt-broker" && /^(127\.0\.0\.1|localhost)$/.test(n.broker) && String(n.port) === "1883") n.port = String(mqttPort);
    if (n.type === "twin-link-broker" && typeof n.url === "string") n.url = n.url.replace(/^(mqtt:\/\/(?:127\.0\.0\.1|localhost)):1883$/, `$1:${mqttPort}`);
  }
}

async function main() {
  const port = portFromEnv("PORT", 1880);
  const mqttPort = portFromEnv("MQTT_PORT", 1883);
  if (port === mqttPort) fail(`PORT and MQTT_PORT are both ${port}; set one to another port`);

  // A fresh clone: `npm install` does not build (the package has no install script, so that
  // installing it from npm or a tarball asks nothing of the user); the first start does.
  if (!fs.existsSync(path.join(repoRoot, "nodes", "twin.js"))) {
    console.log("twinwire: building the nodes (first start)");
    try {
      execFileSync(process.execPath, [path.join(repoRoot, "scripts", "build.js")], { stdio: "inherit" });
    } catch {
      fail("the build failed (see above); fix it, then `npm run build`");
    }
  }

  // Check both ports before starting anything, so a clash gives one clear line.
  for (const [name, value] of [["PORT", port], ["MQTT_PORT", mqttPort]]) {
    const { free, code } = await checkPort(value, HOST);
    if (!free) {
      if (code === "EADDRINUSE") fail(`port ${value} is already in use; set ${name} to another port`);
      fail(`cannot listen on ${HOST}:${value} (${code}); set ${name} to another port`);
    }
  }

  // First run: deploy the examples, one tab each. Later runs keep whatever the user deployed.
  let flows;
  if (!fs.existsSync(path.join(userDir, "flows.json"))) {
    try {
      flows = firstRunFlows();
    } catch (err) {
      fail(err.message);
    }
    if (flows.length === 0) flows = undefined; // no examples yet: start empty, try again next run
    else pointAtBroker(flows, mqttPort);
  }
  prepareUserDir(userDir, { flows });

  const broker = await startBroker(mqttPort);
  // Flows can reach the broker through environment variables (Node-RED substitutes
  // ${MQTT_HOST} and ${MQTT_PORT} in node properties), so a non-default MQTT_PORT still works.
  process.env.MQTT_HOST = process.env.MQTT_HOST || HOST;
  process.env.MQTT_PORT = String(mqttPort);
  const settings = baseSettings({ userDir, port, host: HOST });
  // No "Enable update notifications?" dialog and no Node-RED tour over the Welcome tab on the
  // first start: telemetry answered (off), tours off.
  settings.telemetry = { enabled: false };
  settings.editorTheme = { tours: false };

  let nodeRed;
  try {
    nodeRed = await startEmbedded(settings, { nodeRedDir: process.env.TWINWIRE_NODE_RED_DIR || undefined });
  } catch (err) {
    console.error(err && err.stack ? err.stack : err);
    await broker.close();
    fail("Node-RED failed to start (see above)");
  }

  console.log("");
  console.log(`twinwire: Node-RED editor   http://${HOST}:${nodeRed.port}`);
  console.log(`twinwire: MQTT broker       mqtt://${HOST}:${mqttPort}`);
  console.log(`twinwire: user directory    ${path.relative(process.cwd(), userDir) || "."}`);
  console.log("twinwire: press Ctrl-C to stop");
  console.log("");

  let stopping = false;
  async function shutdown(signal) {
    if (stopping) {
      console.error(`twinwire: ${signal} again, forcing exit`);
      process.exit(1);
    }
    stopping = true;
    console.log(`twinwire: ${signal} received, stopping (press Ctrl-C again to force)`);
    // Node-RED gives up on a node's close after 15 s; don't wait much longer than that.
    const guard = setTimeout(() => {
      console.error("twinwire: shutdown took too long, forcing exit");
      process.exit(1);
    }, 20000);
    guard.unref();
    try {
      await nodeRed.stop(); // closes every node: registries flush their stores
      await broker.close();
    } catch (err) {
      console.error(err && err.stack ? err.stack : err);
      process.exit(1);
    }
    console.log("twinwire: stopped");
    process.exit(0);
  }
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
