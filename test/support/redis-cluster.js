"use strict";
/**
 * A real Redis Cluster per test, made of redis-servers from ./redis-server.js started with
 * cluster-enabled. One node serving all 16384 slots already refuses a command over keys of two
 * slots (CROSSSLOT), as a bigger Cluster does; three nodes (`redis-cli --cluster create`) spread
 * the partitions' slots over them. Without redis-cli, `requireRedisCluster(this)` skips.
 */
const { execFile, execFileSync } = require("child_process");
const { promisify } = require("util");
const { startRedis, requireRedis } = require("./redis-server");
const { freePort } = require("./free-port");

const run = promisify(execFile);

let cli;
function redisCli() {
  if (cli !== undefined) return cli;
  try {
    cli = execFileSync("sh", ["-c", "command -v redis-cli"], { encoding: "utf8" }).trim() || null;
  } catch {
    cli = null;
  }
  return cli;
}

/** In a mocha `before`: skips the suite, saying why, without redis-server or redis-cli. */
function requireRedisCluster(context) {
  if (!requireRedis(context)) return false;
  if (redisCli()) return true;
  console.log("      skipped: redis-cli is not installed (it comes with redis-server); the Redis Cluster tests need it");
  context.skip();
  return false;
}

async function clusterInfo(port) {
  const { stdout } = await run(redisCli(), ["-p", String(port), "CLUSTER", "INFO"]);
  return stdout;
}

/**
 * Starts a Cluster of `nodes` primaries (no replicas) and waits until every node says its state
 * is ok. Returns { servers, nodes: "127.0.0.1:p1,127.0.0.1:p2", startupNodes, stop() }.
 */
async function startRedisCluster({ nodes = 1, appendfsync = "always" } = {}) {
  const servers = [];
  try {
    for (let i = 0; i < nodes; i++) {
      // The bus port is the client port + 10,000 unless given, which fails to start for a free
      // port above 55535 (Linux hands out up to 60999): the bus gets a free port of its own.
      const port = await freePort();
      let bus = await freePort();
      while (bus === port) bus = await freePort();
      servers.push(await startRedis({ appendfsync, port, args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
        "--cluster-port", String(bus),
        // A lone node knows no address of its own (CLUSTER SLOTS would name host ""), which a client cannot follow.
        "--cluster-announce-ip", "127.0.0.1"] }));
    }
    if (nodes === 1) {
      await run(redisCli(), ["-p", String(servers[0].port), "CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    } else {
      await run(redisCli(), ["--cluster", "create", ...servers.map((s) => `127.0.0.1:${s.port}`), "--cluster-replicas", "0", "--cluster-yes"]);
    }
    const deadline = Date.now() + 20000;
    for (const server of servers) {
      while (!(await clusterInfo(server.port)).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error(`the Redis Cluster on port ${server.port} did not reach cluster_state:ok`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (err) {
    for (const server of servers) await server.stop();
    throw err;
  }
  return {
    servers,
    nodes: servers.map((s) => `127.0.0.1:${s.port}`).join(","),
    startupNodes: servers.map((s) => ({ host: "127.0.0.1", port: s.port })),
    async stop() {
      for (const server of servers) await server.stop();
    },
  };
}

module.exports = { startRedisCluster, requireRedisCluster, redisCli };
