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

/** Resolves once condition() holds; the deadline is generous, for a loaded machine. */
async function waitFor(condition, what, timeoutMs = 10000) {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

module.exports = { helper, nodes, flow, exchange, waitFor };
