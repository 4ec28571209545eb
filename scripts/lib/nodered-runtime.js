// Shared helpers to run Node-RED with this package loaded straight from the working tree.
// Used by scripts/start.js (`npm start`) and by the integration-test runner
// (test/integration/run-node-red.js).
//
// How the package gets loaded: Node-RED scans <userDir>/node_modules for packages that have a
// "node-red" section in their package.json. prepareUserDir() makes
// <userDir>/node_modules/@twinwire/node-red-twins a symlink to the repository root. Node-RED 4.1
// follows it (it uses readdir/stat/require, which all follow symlinks), so the package is loaded
// like an installed module, with its nodes, plugins, locales, icons and examples. Node's
// `require` resolves the real path of each node file, so the nodes' own dependencies come from
// the repository's node_modules.
"use strict";

const fs = require("fs");
const path = require("path");
const net = require("net");
const http = require("http");
const crypto = require("crypto");

const repoRoot = path.resolve(__dirname, "..", "..");
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
const PACKAGE_NAME = pkg.name;

// File in the user directory where prepareUserDir() writes extra runtime settings (read by
// the integration-test runner). Plain JSON, so no functions in it.
const SETTINGS_FILE = "twinwire-settings.json";

/**
 * Creates (or refreshes) a Node-RED user directory that loads this package from the working tree.
 * @param {string} userDir
 * @param {object} [options]
 * @param {Array} [options.flows] written to <userDir>/flows.json (replacing it) when given
 * @param {object} [options.settings] JSON-able settings written to <userDir>/twinwire-settings.json
 * @param {string} [options.packageDir] directory to link as the package (default: the repo root)
 * @returns {{userDir: string, moduleLink: string, flowFile: string, settingsFile: string}}
 */
function prepareUserDir(userDir, options = {}) {
  const packageDir = path.resolve(options.packageDir || repoRoot);
  const packageName = options.packageDir ? readPackageName(packageDir) : PACKAGE_NAME;
  userDir = path.resolve(userDir);
  fs.mkdirSync(userDir, { recursive: true });

  // options.link === false: the package is installed in the user directory some other way
  // (e.g. from `npm pack` output, as the palette manager does).
  const moduleLink = path.join(userDir, "node_modules", ...packageName.split("/"));
  if (options.link !== false) linkPackage(userDir, packageDir, packageName, moduleLink);

  const flowFile = path.join(userDir, "flows.json");
  if (options.flows) {
    if (!Array.isArray(options.flows)) throw new TypeError("prepareUserDir: flows must be an array");
    fs.writeFileSync(flowFile, JSON.stringify(options.flows, null, 4) + "\n");
  }
  const settingsFile = path.join(userDir, SETTINGS_FILE);
  if (options.settings) {
    fs.writeFileSync(settingsFile, JSON.stringify(options.settings, null, 2) + "\n");
  }
  return { userDir, moduleLink, flowFile, settingsFile };
}

function linkPackage(userDir, packageDir, packageName, moduleLink) {
  // <userDir>/node_modules/@scope/name -> packageDir
  fs.mkdirSync(path.dirname(moduleLink), { recursive: true });
  let current = null;
  try {
    current = fs.readlinkSync(moduleLink);
  } catch (err) {
    if (err.code === "EINVAL") {
      // A real directory (e.g. an old `npm install` copy): replace it with the link.
      fs.rmSync(moduleLink, { recursive: true, force: true });
    } else if (err.code !== "ENOENT") {
      throw err;
    }
  }
  if (current === null || path.resolve(path.dirname(moduleLink), current) !== packageDir) {
    if (current !== null) fs.unlinkSync(moduleLink);
    // "junction" only matters on Windows, where it needs no admin rights; ignored elsewhere.
    fs.symlinkSync(packageDir, moduleLink, "junction");
  }

  // Node-RED does not need the package listed to load it, but listing it marks it as a
  // user-installed module (as `npm install` in the user directory would), and `file:` keeps an
  // `npm install` run in the user directory pointing at the working tree.
  const packageFile = path.join(userDir, "package.json");
  let userPkg = { name: "node-red-project", description: "A Node-RED Project", version: "0.0.1", private: true };
  if (fs.existsSync(packageFile)) {
    try {
      userPkg = JSON.parse(fs.readFileSync(packageFile, "utf8"));
    } catch {
      // Unreadable: rewrite it below.
    }
  }
  const spec = "file:" + packageDir;
  if (!userPkg.dependencies || userPkg.dependencies[packageName] !== spec) {
    userPkg.dependencies = { ...(userPkg.dependencies || {}), [packageName]: spec };
    fs.writeFileSync(packageFile, JSON.stringify(userPkg, null, 4) + "\n");
  }
}

function readPackageName(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).name;
}

/** A Node-RED style id: 16 hex characters. */
function newId() {
  return crypto.randomBytes(8).toString("hex");
}

// Properties that hold text, never a node id, even if the text happens to equal one.
const NOT_REFERENCES = new Set(["id", "type", "name", "label", "info", "topic", "payload"]);

/**
 * Reads every examples/*.json (each a flat array of nodes) and returns one flow array with one
 * tab per file, labelled with the file name without ".json", in file-name order (or options.order). Every node gets
 * a fresh unique id, so the examples can be deployed together (and the result deployed beside
 * flows already running). References are remapped consistently: `z`, `g`, `wires`, link nodes'
 * `links`, catch/status/complete `scope`, group `nodes`, subflow port wires and instance types
 * `subflow:<id>`,
 * and any other top-level property (string or array of strings) whose value is the id of a node
 * in the same file, which covers config-node references.
 * Nodes with no `z` that are not tabs (config nodes, subflow definitions) stay global; tabs in a
 * file are dropped and their nodes moved to the file's tab.
 * @param {object} [options]
 * @param {string} [options.examplesDir] default <repo>/examples
 * @param {string[]} [options.order] tab labels to put first, in this order (the rest follow by name)
 * @returns {Array<object>}
 */
function examplesAsFlows(options = {}) {
  const examplesDir = options.examplesDir || path.join(repoRoot, "examples");
  let files = [];
  try {
    files = fs.readdirSync(examplesDir).filter((f) => f.endsWith(".json")).sort();
    // options.order: these first, in this order; the rest after them by file name
    const order = (options.order || []).map((label) => `${label}.json`);
    const rank = (f) => (order.includes(f) ? order.indexOf(f) : order.length);
    files.sort((a, b) => rank(a) - rank(b));
  } catch (err) {
    if (err.code !== "ENOENT") throw err;
  }
  const result = [];
  for (const file of files) {
    const full = path.join(examplesDir, file);
    let nodes;
    try {
      nodes = JSON.parse(fs.readFileSync(full, "utf8"));
    } catch (err) {
      throw new Error(`examples/${file} is not valid JSON: ${err.message}`);
    }
    if (!Array.isArray(nodes)) throw new Error(`examples/${file} is not a flat JSON array of nodes`);
    result.push(...exampleAsTab(nodes, path.basename(file, ".json"), file));
  }
  return result;
}

function exampleAsTab(nodes, label, file) {
  const tabId = newId();
  const ids = new Map(); // old id -> new id
  const subflows = new Set();
  for (const node of nodes) {
    if (!node || typeof node !== "object" || typeof node.id !== "string" || typeof node.type !== "string") {
      throw new Error(`examples/${file}: every entry must be a node with a string id and type`);
    }
    if (ids.has(node.id)) throw new Error(`examples/${file}: duplicate node id ${node.id}`);
    if (node.type === "tab") {
      ids.set(node.id, tabId);
    } else {
      if (node.type === "subflow") subflows.add(node.id);
      ids.set(node.id, newId());
    }
  }
  const remap = (value) => (typeof value === "string" && ids.has(value) ? ids.get(value) : value);

  // The file's own tab (what Import > Examples creates) gives its description.
  const fileTab = nodes.find((node) => node.type === "tab");
  const out = [{ id: tabId, type: "tab", label, disabled: false, info: (fileTab && fileTab.info) || "" }];
  for (const node of nodes) {
    if (node.type === "tab") continue;
    const copy = JSON.parse(JSON.stringify(node));
    for (const key of Object.keys(copy)) {
      if (NOT_REFERENCES.has(key)) continue;
      const value = copy[key];
      if (key === "wires" && Array.isArray(value)) {
        copy.wires = value.map((port) => (Array.isArray(port) ? port.map(remap) : port));
      } else if (typeof value === "string") {
        copy[key] = remap(value);
      } else if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
        copy[key] = value.map(remap);
      }
    }
    if (copy.type === "subflow") {
      // A subflow's ports wire to its nodes as {id, port} objects: in[], out[] and status.
      const ports = [...(copy.in || []), ...(copy.out || []), ...(copy.status ? [copy.status] : [])];
      for (const port of ports) {
        for (const wire of (port && port.wires) || []) {
          if (wire && typeof wire === "object") wire.id = remap(wire.id);
        }
      }
    }
    copy.id = ids.get(node.id);
    if (copy.type.startsWith("subflow:") && ids.has(copy.type.slice(8))) {
      copy.type = "subflow:" + ids.get(copy.type.slice(8));
    }
    // Placement: inside a subflow of this file stays there; anything else on a canvas (on one of
    // the file's tabs, or on a tab the file does not contain) goes to the file's tab. A node
    // with a position but no z is a canvas node too (Node-RED would treat it as a config node).
    if (node.z !== undefined && node.z !== "") {
      copy.z = subflows.has(node.z) ? ids.get(node.z) : tabId;
    } else if (node.x !== undefined && node.y !== undefined) {
      copy.z = tabId;
    }
    out.push(copy);
  }
  return out;
}

/**
 * Resolves whether host:port can be listened on.
 * @returns {Promise<{free: boolean, code?: string}>}
 */
function checkPort(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", (err) => resolve({ free: false, code: err.code }));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve({ free: true })));
  });
}

/** Settings shared by `npm start` and the test runner; callers override what they need. */
function baseSettings({ userDir, port, host = "127.0.0.1" }) {
  return {
    userDir,
    flowFile: "flows.json",
    uiHost: host,
    uiPort: port,
    httpAdminRoot: "/",
    httpNodeRoot: "/api/",
    logging: { console: { level: "info", metrics: false, audit: false } },
  };
}

/**
 * Embeds Node-RED: RED.init on an http server, mounts the admin and node apps, starts the
 * runtime, waits for the flows to start, then listens (so the admin API only answers once the
 * runtime and the flows are up).
 * @param {object} settings Node-RED settings (userDir, uiHost, uiPort, httpAdminRoot, ...)
 * @param {object} [options]
 * @param {string} [options.nodeRedDir] directory of the node-red package to run (default: ours)
 * @param {number} [options.flowsTimeout] ms to wait for the flows to start, default 15000
 * @returns {Promise<{RED: object, server: http.Server, port: number, stop: () => Promise<void>}>}
 */
async function startEmbedded(settings, options = {}) {
  const nodeRedDir = options.nodeRedDir || path.dirname(require.resolve("node-red/package.json"));
  const RED = require(nodeRedDir);
  // express comes with node-red; take the copy that node-red itself uses.
  const express = require(require.resolve("express", { paths: [nodeRedDir] }));

  const app = express();
  const server = http.createServer(app);
  server.setMaxListeners(0);
  // Tracked so stop() can end keep-alive and websocket (editor comms) connections, which would
  // otherwise hold server.close() open.
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  RED.init(server, settings);
  // Dashboard 2.0 serves its pages under httpNodeRoot (/api/dashboard here), but /dashboard is
  // where its docs, and so its users, look for it.
  const nodeRoot = settings.httpNodeRoot;
  if (typeof nodeRoot === "string" && nodeRoot.replace(/\/+$/, "") !== "") {
    app.get(/^\/dashboard(\/.*)?$/, (req, res) => res.redirect(302, nodeRoot.replace(/\/+$/, "") + req.originalUrl));
  }
  if (settings.httpAdminRoot !== false) app.use(settings.httpAdminRoot, RED.httpAdmin);
  if (settings.httpNodeRoot !== false) app.use(settings.httpNodeRoot, RED.httpNode);

  // RED.start() resolves before the flows are loaded and started (that continues in the
  // background, and GET /flows fails until it is done). Wait for the flows to start, or to
  // settle stopped (missing node types, safe mode), before listening: once the admin API answers,
  // every node of the deployed flows exists.
  const flowsSettled = waitForFlowsToSettle(RED, options.flowsTimeout || 15000);
  await RED.start();
  const settled = await flowsSettled;
  if (settled === "timeout") RED.log.warn("twinwire: flows did not start in time; listening anyway");
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.uiPort, settings.uiHost, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  const port = server.address().port;
  // As Node-RED's own red.js does: some nodes read the actual port from settings.
  settings.serverPort = port;

  let stopping = null;
  function stop() {
    if (!stopping) {
      stopping = (async () => {
        // Closes every node (their close handlers run, stores flush), then the editor API.
        await RED.stop();
        await new Promise((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
      })();
    }
    return stopping;
  }
  return { RED, server, port, stop };
}

/** Resolves "started", "stop", "safe" (how the first flow start ended) or "timeout". */
function waitForFlowsToSettle(RED, timeoutMs) {
  return new Promise((resolve) => {
    const done = (result) => {
      clearTimeout(timer);
      RED.events.removeListener("flows:started", onStarted);
      RED.events.removeListener("runtime-event", onRuntimeEvent);
      resolve(result);
    };
    const onStarted = () => done("started");
    const onRuntimeEvent = (event) => {
      const state = event && event.id === "runtime-state" && event.payload && event.payload.state;
      if (state === "stop" || state === "safe") done(state);
    };
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    RED.events.on("flows:started", onStarted);
    RED.events.on("runtime-event", onRuntimeEvent);
  });
}

module.exports = {
  repoRoot,
  PACKAGE_NAME,
  SETTINGS_FILE,
  prepareUserDir,
  examplesAsFlows,
  checkPort,
  baseSettings,
  startEmbedded,
  newId,
};
