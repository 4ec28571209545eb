// Shared set-up for node tests: the test helper bound to the installed Node-RED, our node
// modules, and the core catch node so tests see errors the way a flow's Catch node does.
"use strict";
const path = require("path");
const helper = require("node-red-node-test-helper");

helper.init(require.resolve("node-red"));

const root = path.join(__dirname, "..", "..");
const nodes = {
  registry: require(path.join(root, "nodes", "twin-registry.js")),
  twin: require(path.join(root, "nodes", "twin.js")),
  catch: require("@node-red/nodes/core/common/25-catch.js"),
};

/** A flow: one tab, one registry, the nodes given, and a catch node wired to helper "errors". */
function flow(nodesOnTab, registryConfig = {}) {
  return [
    { id: "tab", type: "tab", label: "test" },
    { id: "reg", type: "twin-registry", name: "plant", persistence: "memory", historyLength: 100, ...registryConfig },
    ...nodesOnTab.map((n) => ({ z: "tab", x: 100, y: 100, ...n })),
    { id: "catcher", type: "catch", z: "tab", scope: null, uncaught: false, wires: [["errors"]] },
    { id: "errors", type: "helper", z: "tab" },
  ];
}

/** Sends each message in turn and resolves with what arrived at `outId` or at the catch node. */
function exchange(inId, outId, msg) {
  return new Promise((resolve) => {
    const out = helper.getNode(outId);
    const errors = helper.getNode("errors");
    const finish = (kind) => (m) => {
      out.removeAllListeners("input");
      errors.removeAllListeners("input");
      resolve({ kind, msg: m });
    };
    out.once("input", finish("ok"));
    errors.once("input", finish("error"));
    helper.getNode(inId).receive(msg);
  });
}

/**
 * Resolves with condition()'s value once it is truthy; the deadline is generous, for a loaded
 * machine (a wait on a condition, never a guess at how long something takes).
 */
async function waitFor(condition, what = String(condition), timeoutMs = 10000) {
  const started = Date.now();
  for (;;) {
    const value = condition();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Watches the timeouts that code in `file` (e.g. "twin-simulator.js") sets, until stop(). The
 * marker for "nothing more arrives" from a node's timers: `settled()` resolves once every
 * timeout set so far has fired or been cleared, and what a firing one sent has been delivered
 * (a message goes out in a later turn), so a check after it can not pass only because the
 * machine was slow. Each entry is { handle, delay, fired }.
 */
function timersOf(file) {
  const original = global.setTimeout;
  const made = [];
  global.setTimeout = function (callback, delay, ...args) {
    if (!new Error().stack.includes(file)) return original.call(this, callback, delay, ...args);
    const entry = { handle: null, delay, fired: false };
    entry.handle = original.call(
      this,
      function (...a) {
        entry.fired = true;
        return callback.apply(this, a);
      },
      delay,
      ...args,
    );
    made.push(entry);
    return entry.handle;
  };
  return {
    made,
    async settled(what = `the timers of ${file} to fire or be cleared`, timeoutMs = 15000) {
      const now = made.slice();
      await waitFor(() => now.every((t) => t.handle._destroyed), what, timeoutMs);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    },
    stop() {
      global.setTimeout = original;
    },
  };
}

/**
 * Holds back the fdatasync calls of a registry's FileStore until the test lets them go, to check
 * that nothing leaves a node before its change is on disk. `held` counts the waiting calls;
 * release() lets the oldest go; restore() lets all go and puts the store's own io back.
 */
function holdFsyncs(registry) {
  const store = registry.store;
  const io = store.io;
  const held = [];
  store.io = { write: io.write, ftruncate: io.ftruncate, fdatasync: (fd, cb) => held.push(() => io.fdatasync(fd, cb)) };
  return {
    get held() {
      return held.length;
    },
    release() {
      held.shift()();
    },
    restore() {
      store.io = io;
      while (held.length) held.shift()();
    },
  };
}

/**
 * Gives every test of the calling describe block a fresh Node-RED user directory (helper
 * settings), removed after it: for tests whose registry keeps its store on disk.
 */
function useUserDir(prefix) {
  const fs = require("fs");
  const os = require("os");
  const path = require("path");
  let userDir = null;
  beforeEach(function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    helper.settings({ userDir });
  });
  afterEach(function () {
    fs.rmSync(userDir, { recursive: true, force: true });
  });
}

/**
 * Makes RED._ render the English catalogs of node `types` (nodes/locales/en-US/<type>.json): the
 * helper's RED._ gives keys back without their parameters, and a test should read what a user
 * reads. Keys of other types come back as they are.
 */
function renderCatalogs(RED, types) {
  const catalogs = Object.fromEntries(types.map((type) => [type, require(path.join(root, "nodes", "locales", "en-US", `${type}.json`))[type]]));
  RED._ = (key, params = {}) => {
    const [type, ...rest] = key.split(".");
    const text = catalogs[type] ? rest.reduce((o, k) => (o ? o[k] : undefined), catalogs[type]) : undefined;
    return typeof text === "string" ? text.replace(/__([a-zA-Z]+)__/g, (_, name) => String(params[name])) : key;
  };
}

/** The registry node, its texts rendered from the English catalog (for helper.load). */
function registryWithCatalog(RED) {
  renderCatalogs(RED, ["twin-registry"]);
  return nodes.registry(RED);
}

module.exports = { helper, nodes, flow, exchange, waitFor, timersOf, holdFsyncs, useUserDir, renderCatalogs, registryWithCatalog };
