"use strict";
/**
 * A real mosquitto per suite: a free port, its own temporary directory, its log (connections and
 * disconnections included) kept for `waitForLog`. No persistence unless asked: with it, sessions
 * and queues are saved every second, so a SIGKILL (`kill`) and a `start` on the same port act as
 * a broker that crashed and came back. Where mosquitto is not installed, `requireMosquitto(this)`
 * in a `before` prints why and skips (CI installs it, and refuses skips).
 */
const { freePort } = require("./free-port");
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const net = require("net");
const path = require("path");

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

let binary;
function mosquittoBinary() {
  if (binary !== undefined) return binary;
  binary = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"].find((p) => fs.existsSync(p)) || null;
  if (!binary) {
    try {
      binary = execFileSync("sh", ["-c", "command -v mosquitto"], { encoding: "utf8" }).trim() || null;
    } catch {
      binary = null;
    }
  }
  return binary;
}

/** In a mocha `before`: skips the suite, with a line that says what is missing, without mosquitto. */
function requireMosquitto(context) {
  if (mosquittoBinary()) return true;
  console.log("      skipped: mosquitto is not installed (apt-get install mosquitto runs these; CI installs it)");
  context.skip();
  return false;
}


function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts mosquitto on 127.0.0.1.
 * @param {{persistence?: boolean, maxInflight?: number}} [options] persistence: saved every second
 *   (`saved()` waits for the next save); maxInflight: QoS 1/2 messages in flight per client.
 * @returns {Promise<{port, url, logs(), waitForLog(pattern, timeoutMs, since), saved(), subscribed(clientId, since, timeoutMs), kill(), start(), stop()}>}
 */
async function startMosquitto({ persistence = false, maxInflight } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-mosquitto-"));
  const port = await freePort();
  const conf = path.join(dir, "mosquitto.conf");
  fs.writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    ...(persistence ? ["persistence true", `persistence_location ${dir}/`, "autosave_interval 1"] : ["persistence false"]),
    "max_queued_messages 100000",
    ...(maxInflight ? [`max_inflight_messages ${maxInflight}`] : []),
    // Run as root (CI), mosquitto would drop to user "mosquitto": stay the user running the tests.
    `user ${os.userInfo().username}`,
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    // "<client id> <qos> <filter>" per subscription: how a test knows a client subscribed again.
    "log_type subscribe",
    "",
  ].join("\n"));
  let output = "";
  let child = null;
  let exited = null;

  async function start() {
    child = spawn(mosquittoBinary(), ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    running.add(child);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => (output += chunk));
    exited = new Promise((resolve) => child.once("exit", resolve));
    const deadline = Date.now() + 10000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`mosquitto did not start on port ${port}:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Ends the process with `signal`; resolves once it has exited. */
  async function end(signal) {
    if (!child) return;
    const c = child;
    child = null;
    running.delete(c);
    if (c.exitCode === null && c.signalCode === null) c.kill(signal);
    await exited;
  }

  async function waitForLog(pattern, timeoutMs = 10000, since = 0) {
    const until = Date.now() + timeoutMs;
    while (!pattern.test(output.slice(since))) {
      if (Date.now() > until) throw new Error(`mosquitto's log did not match ${pattern} within ${timeoutMs} ms:\n${output.slice(since).slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    logs: () => output,
    /** Resolves once the log, from character `since` on, matches pattern (a RegExp). */
    waitForLog,
    /**
     * With persistence: resolves once a save that began after the call is on disk, so a `kill`
     * then loses nothing from before the call. (mosquitto logs "Saving in-memory database" as it
     * begins; it writes mosquitto.db.new and renames it over mosquitto.db when done.)
     */
    async saved() {
      const file = path.join(dir, "mosquitto.db");
      const inode = () => (fs.existsSync(file) ? fs.statSync(file).ino : 0);
      await waitForLog(/Saving in-memory database/, 10000, output.length);
      const from = output.length;
      const before = inode();
      // Done when the file was replaced, or when the next save begins (mosquitto saves one at a
      // time; the replacement may also have come before the first look).
      const until = Date.now() + 10000;
      while (inode() === before && !/Saving in-memory database/.test(output.slice(from))) {
        if (Date.now() > until) throw new Error(`mosquitto did not finish saving ${file} within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    /** Resolves once `clientId` subscribes to anything (after character `since` of the log). */
    subscribed: (clientId, since = 0, timeoutMs = 10000) => waitForLog(new RegExp(`^\\S+: ${clientId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\d `, "m"), timeoutMs, since),
    /** As if the broker crashed: SIGKILL, its directory (and saved sessions) kept for `start`. */
    kill: () => end("SIGKILL"),
    /** Starts it again after `kill`, on the same port with the same configuration. */
    start,
    async stop() {
      await end("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startMosquitto, requireMosquitto, mosquittoBinary };
