// Two tiny node types for the throughput benchmark, loaded through settings.nodesDir:
//   bench-entry   passes every message on (the benchmark calls its receive())
//   bench-counter counts what arrives and calls done(); keeps no message
"use strict";
module.exports = function (RED) {
  function BenchEntry(config) {
    RED.nodes.createNode(this, config);
    this.on("input", (msg, send, done) => {
      send(msg);
      done();
    });
  }
  RED.nodes.registerType("bench-entry", BenchEntry);

  function BenchCounter(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.count = 0;
    node.onCount = null;
    node.on("input", (msg, send, done) => {
      node.count++;
      done();
      if (node.onCount) node.onCount(node.count);
    });
  }
  RED.nodes.registerType("bench-counter", BenchCounter);
};
