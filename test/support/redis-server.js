"use strict";
/**
 * A real redis-server per test: a free port, its own temporary directory (AOF files live there, so
 * a restart on the same directory is a recovery), the append-only settings the test asks for, and
 * killed when the test process ends if a test forgot. Where redis-server is not installed,
 * `requireRedis(this)` in a `before` prints why and skips (CI installs it, and refuses skips).
 */
const { freePort } = require("./free-port");
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");

const running = new Set();
process.on("exit", () => {
  for (const server of running) server.child.kill("SIGKILL");
});

let binary;
function redisBinary() {
  if (binary !== undefined) return binary;
  try {
    binary = execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || null;
  } catch {
    binary = null;
  }
  return binary;
}

/** In a mocha `before`: skips the suite, with a line that says what is missing, without redis-server. */
function requireRedis(context) {
  if (redisBinary()) return true;
  console.log("      skipped: redis-server is not installed (apt-get install redis-server); the Redis store tests need it");
  context.skip();
  return false;
}


function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    socket.setTimeout(500, () => socket.destroy());
    socket.on("data", (chunk) => {
      data += chunk;
      if (data.includes("\r\n")) socket.end();
    });
    socket.on("error", () => resolve(false));
    // Up: it answers PONG, or asks for the password it was started with (not -LOADING: still reading its AOF).
    socket.on("close", () => resolve(data.startsWith("+PONG") || data.startsWith("-NOAUTH")));
    socket.on("connect", () => socket.write("PING\r\n"));
  });
}

/**
 * Starts redis-server.
 * @param {object} [options]
 * @param {"always"|"everysec"|"no"|null} [options.appendfsync] "always" by default; null: no AOF at all
 * @param {string} [options.dir] reuse a directory (a restart); default a new one
 * @param {number} [options.port] reuse a port (a restart); default a free one
 * @param {string[]} [options.args] more redis-server arguments
 * @returns {Promise<RedisServer>} { port, dir, url, kill(signal), stop(), restart() }
 */
async function startRedis(options = {}) {
  const appendfsync = options.appendfsync === undefined ? "always" : options.appendfsync;
  const dir = options.dir || fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-redis-"));
  const port = options.port || (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no",
    "--logfile", path.join(dir, "redis.log")];
  if (appendfsync === null) args.push("--appendonly", "no");
  else args.push("--appendonly", "yes", "--appendfsync", appendfsync);
  args.push(...(options.args || []));
  const child = spawn(redisBinary(), args, { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const server = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    child,
    /** Ends the server now (SIGKILL by default: nothing gets to be flushed on the way out). */
    async kill(signal = "SIGKILL") {
      running.delete(server);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    /** Ends it and removes its directory. */
    async stop() {
      await server.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    /** A new server on the same port and directory, so it loads what the old one wrote. */
    restart(more = {}) {
      return startRedis({ ...options, ...more, dir, port });
    },
  };
  running.add(server);
  const deadline = Date.now() + 10000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await server.kill();
      const log = fs.existsSync(path.join(dir, "redis.log")) ? fs.readFileSync(path.join(dir, "redis.log"), "utf8").slice(-2000) : "";
      throw new Error(`redis-server did not start on port ${port}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return server;
}

module.exports = { startRedis, requireRedis, redisBinary };
