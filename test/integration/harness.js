// Integration-test harness: real Node-RED processes with this package loaded from the working
// tree, an in-process MQTT broker, and a small admin-API client.
//
//   const h = require("./harness");
//   const nr = await h.startNodeRed({ flows });          // temp userDir, free port
//   const res = await h.request(nr.url, { path: "/flows" });
//   await h.deployFlows(nr.url, flows);
//   await nr.kill("SIGKILL");                             // crash it
//   const again = await h.startNodeRed({ userDir: nr.userDir });
//   await again.stop();                                   // graceful SIGTERM, waits for exit
//   const later = h.prestart({ flows });                  // starts in the background now...
//   const nr2 = await later();                            // ...taken by a later test
//
// Admin auth: pass settings.adminAuth (h.adminAuth({ username, password }) builds one with a
// bcrypt hash), then h.getToken(url, username, password) does
//   POST /auth/token {client_id: "node-red-admin", grant_type: "password", scope: "*", username, password}
// and returns the access token to pass as `token` (Authorization: Bearer <token>).
//
// Every child is registered: when the test process exits, any still running is SIGKILLed, and a
// child whose parent dies stops itself (IPC disconnect). Temporary user directories from
// tempUserDir() are removed at exit unless TWINWIRE_KEEP_TMP=1. TWINWIRE_LOGS=1 streams the
// children's output live; otherwise call logs() or printLogsIfFailed() in afterEach.
"use strict";

const fs = require("fs");
const os = require("os");
const net = require("net");
const http = require("http");
const path = require("path");
const { spawn } = require("child_process");
const runtime = require("../../scripts/lib/nodered-runtime");

const RUNNER = path.join(__dirname, "run-node-red.js");
const MAX_LOG_CHARS = 4 * 1024 * 1024;

/** Children still running, and temp dirs to remove, cleaned up when this process exits. */
const liveChildren = new Set();
const tempDirs = new Set();
process.on("exit", () => {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  if (process.env.TWINWIRE_KEEP_TMP !== "1") {
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
});

/** True when the package is built (nodes/twin.js exists), i.e. Node-RED can load our nodes. */
function isBuilt() {
  return fs.existsSync(path.join(runtime.repoRoot, "nodes", "twin.js"));
}

/** A fresh empty directory under the OS temp dir, removed when the test process exits. */
function tempUserDir(prefix = "twinwire-it-") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A TCP port that was free a moment ago on host. */
function getFreePort(host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a separate Node-RED process.
 * @param {object} [options]
 * @param {string} [options.userDir] default: a new tempUserDir()
 * @param {Array} [options.flows] written to <userDir>/flows.json before start (else kept as is)
 * @param {object} [options.settings] JSON-able Node-RED settings overriding the defaults
 *   (telemetry off, console log level info, admin at /, HTTP-in nodes at /api/)
 * @param {number} [options.port] default 0: the runner picks a free port
 * @param {object} [options.env] extra environment variables for the child
 * @param {number} [options.startTimeout] ms to wait for the admin API, default 60000 (a loaded machine)
 * @returns {Promise<NodeRedProcess>}
 */
async function startNodeRed(options = {}) {
  const userDir = options.userDir || tempUserDir();
  // Always rewrite the settings file: each start uses exactly the settings it was given.
  runtime.prepareUserDir(userDir, {
    link: options.link,
    flows: options.flows,
    settings: { telemetry: { enabled: false }, ...(options.settings || {}) },
  });

  const nodeBin = process.env.TWINWIRE_NODE || process.execPath;
  const child = spawn(nodeBin, [RUNNER, userDir, String(options.port || 0)], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, ...(options.env || {}) },
  });
  liveChildren.add(child);

  let output = "";
  const streamLive = process.env.TWINWIRE_LOGS === "1";
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      output += chunk;
      if (output.length > MAX_LOG_CHARS) output = output.slice(-MAX_LOG_CHARS);
      if (streamLive) process.stderr.write(chunk.replace(/^(?=.)/gm, `[node-red ${child.pid}] `));
      checkLogWaiters();
    });
  }
  const logWaiters = new Set();
  function checkLogWaiters() {
    for (const waiter of logWaiters) waiter();
  }

  // "close" rather than "exit": it comes once the output pipes are drained too, so logs() is
  // complete when `exited` resolves.
  const exited = new Promise((resolve) => {
    child.once("close", (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });
  let exitInfo = null;
  exited.then((info) => (exitInfo = info));

  // Let the test process exit even if a test forgets to stop this child: the "exit" handler
  // above then kills it. Our own waits below hold timers, which keep the loop alive meanwhile.
  child.unref();
  child.stdout.unref();
  child.stderr.unref();
  if (child.channel) child.channel.unref();

  const startTimeout = options.startTimeout || 60000;
  let ready;
  try {
    ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Node-RED did not start within ${startTimeout} ms`)), startTimeout);
      child.on("message", (message) => {
        if (message && message.type === "ready") {
          clearTimeout(timer);
          resolve(message);
        }
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`Node-RED exited before it was ready (code ${code}, signal ${signal})`));
      });
    });
  } catch (err) {
    if (child.pid !== undefined) {
      // (no pid: spawn itself failed, there is nothing to wait for)
      child.kill("SIGKILL");
      await holdOpen(exited);
    }
    err.message += `\n--- Node-RED output ---\n${output}`;
    throw err;
  }

  const host = ready.host === "0.0.0.0" || ready.host === "::" ? "127.0.0.1" : ready.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${ready.port}`;
  // The runner listens only once the runtime has started, so this answers at once; any HTTP
  // status counts (401 when adminAuth is on).
  try {
    await waitFor(async () => (await request(url, { path: "/settings" })).status < 500, startTimeout);
  } catch (err) {
    child.kill("SIGKILL");
    await holdOpen(exited);
    err.message += `\n--- Node-RED output ---\n${output}`;
    throw err;
  }

  const handle = {
    url,
    port: ready.port,
    userDir,
    pid: child.pid,
    process: child,
    /** Resolves {code, signal} once the process has exited. */
    exited,
    /** Everything the process wrote to stdout and stderr so far. */
    logs: () => output,
    /**
     * Waits until the output matches pattern (RegExp or string), e.g. /Started flows/.
     * Only looks at output after `since` characters (default 0, the whole log).
     */
    waitForLog(pattern, timeoutMs = 10000, since = 0) {
      const test = (text) => (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text));
      return new Promise((resolve, reject) => {
        const waiter = () => {
          if (test(output.slice(since))) {
            logWaiters.delete(waiter);
            clearTimeout(timer);
            resolve(output);
          }
        };
        const timer = setTimeout(() => {
          logWaiters.delete(waiter);
          reject(new Error(`Node-RED output did not match ${pattern} within ${timeoutMs} ms\n${output}`));
        }, timeoutMs);
        logWaiters.add(waiter);
        waiter();
      });
    },
    /** Sends signal (default SIGKILL); resolves {code, signal} once the process has exited. */
    async kill(signal = "SIGKILL") {
      if (exitInfo) return exitInfo;
      child.kill(signal);
      return holdOpen(exited);
    },
    /**
     * Graceful stop: SIGTERM, then waits for the process to exit (Node-RED closes every node).
     * Rejects, after a SIGKILL, if it has not exited within timeoutMs.
     */
    async stop(timeoutMs = 20000) {
      if (exitInfo) return exitInfo;
      child.kill("SIGTERM");
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Node-RED did not stop within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } catch (err) {
        child.kill("SIGKILL");
        await holdOpen(exited);
        err.message += `\n--- Node-RED output ---\n${output}`;
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return handle;
}

/** The starts prestart() queued: one at a time, so each gets the CPU a test run leaves over. */
let prestarts = Promise.resolve();

/**
 * startNodeRed(options), begun now in the background for a test that comes later: its start
 * (seconds of loading on a loaded machine) overlaps the tests before it. Starts run one at a
 * time, in the order asked. Returns a function that resolves the process (or rejects as
 * startNodeRed would) when the test takes it.
 */
function prestart(options = {}) {
  const started = prestarts.then(() => startNodeRed(options));
  prestarts = started.catch(() => undefined);
  // A test that is skipped never takes its process: stopAll() stops it, and its failure to start
  // is no one's unhandled rejection.
  started.catch(() => undefined);
  return () => started;
}

/** Gracefully stops every Node-RED process the harness started that is still running. */
async function stopAll() {
  const pending = [];
  for (const child of liveChildren) {
    child.kill("SIGTERM");
    pending.push(new Promise((resolve) => child.once("exit", resolve)));
  }
  await holdOpen(Promise.all(pending));
}

/**
 * Awaits promise while holding a timer: children are unref'd, so waiting on their events alone
 * would let the event loop (and the test process) end before they report.
 */
async function holdOpen(promise) {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    return await promise;
  } finally {
    clearInterval(keepAlive);
  }
}

/**
 * For afterEach: prints the output of the given Node-RED processes when the test failed.
 *   afterEach(function () { printLogsIfFailed(this.currentTest, nr); });
 */
function printLogsIfFailed(test, ...handles) {
  if (!test || test.state !== "failed") return;
  for (const handle of handles) {
    if (!handle) continue;
    console.error(`\n--- Node-RED output (pid ${handle.pid}, ${handle.url}) ---\n${handle.logs()}--- end ---`);
  }
}

/**
 * A minimal HTTP client for the admin API.
 * @param {string} url base address, e.g. nr.url
 * @param {object} [options]
 * @param {string} [options.method] default GET
 * @param {string} [options.path] appended to url, e.g. "/flows"
 * @param {*} [options.body] object/array sent as JSON; string or Buffer sent as is
 * @param {object} [options.headers] Accept defaults to application/json
 * @param {string} [options.token] sent as Authorization: Bearer <token>
 * @returns {Promise<{status: number, headers: object, text: string, body: *}>} body is the parsed
 *   JSON when the response parses as JSON, else the text
 */
function request(url, options = {}) {
  const { method = "GET", path: urlPath = "", body, token } = options;
  const target = new URL(url.replace(/\/$/, "") + urlPath);
  const headers = { accept: "application/json" };
  for (const [k, v] of Object.entries(options.headers || {})) headers[k.toLowerCase()] = v;
  if (token) headers.authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === "string" || Buffer.isBuffer(body)) {
      payload = body;
      headers["content-type"] = headers["content-type"] || "text/plain";
    } else {
      payload = JSON.stringify(body);
      headers["content-type"] = headers["content-type"] || "application/json";
    }
    headers["content-length"] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    // agent: false, so no keep-alive socket outlives the request and holds the test process.
    const req = http.request(target, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode, headers: res.headers, text, body: parsed });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * Replaces all flows (POST /flows, full deployment). Resolves the response; rejects when
 * Node-RED refuses the flows.
 */
async function deployFlows(url, flows, token) {
  const res = await request(url, {
    method: "POST",
    path: "/flows",
    body: flows,
    token,
    headers: { "Node-RED-Deployment-Type": "full", "Node-RED-API-Version": "v1" },
  });
  if (res.status !== 200 && res.status !== 204) {
    throw new Error(`deploy failed: HTTP ${res.status} ${res.text}`);
  }
  return res;
}

/** Admin API access token for a user of settings.adminAuth (see the top of this file). */
/** Logs in; `scope` must be one the user has ("*" for admins, "read" for read-only users). */
async function getToken(url, username, password, scope = "*") {
  const res = await request(url, {
    method: "POST",
    path: "/auth/token",
    body: { client_id: "node-red-admin", grant_type: "password", scope, username, password },
  });
  if (res.status !== 200 || !res.body || !res.body.access_token) {
    throw new Error(`login as ${username} failed: HTTP ${res.status} ${res.text}`);
  }
  return res.body.access_token;
}

/** bcrypt hash as adminAuth expects, with the bcryptjs that Node-RED ships. */
function hashPassword(password, rounds = 8) {
  const nodeRedDir = path.dirname(require.resolve("node-red/package.json"));
  const bcrypt = require(require.resolve("bcryptjs", { paths: [nodeRedDir] }));
  return bcrypt.hashSync(password, rounds);
}

/**
 * settings.adminAuth with one user (all permissions unless given), and `others`
 * ([{ username, password, permissions }], passwords in plain text) after it.
 */
function adminAuth({ username = "admin", password = "password", permissions = "*" } = {}, others = []) {
  const users = [{ username, password, permissions }, ...others];
  return { type: "credentials", users: users.map((u) => ({ ...u, password: hashPassword(u.password) })) };
}

/**
 * Polls fn (may be async) every intervalMs until it returns a truthy value, which is returned.
 * Throws after timeoutMs, with the last error fn threw if any.
 */
async function waitFor(fn, timeoutMs = 10000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const err = new Error(`waitFor: condition not met within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ""}`);
      if (lastError) err.cause = lastError;
      throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * MQTT broker (aedes) in this process, on 127.0.0.1.
 * @param {number} [port] default 0: a free port
 * @returns {Promise<{port: number, url: string, broker: object, close: () => Promise<void>}>}
 */
async function startBroker(port = 0) {
  const { Aedes } = await import("aedes"); // aedes is an ES module
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const actual = server.address().port;
  let closing = null;
  return {
    port: actual,
    url: `mqtt://127.0.0.1:${actual}`,
    broker,
    close() {
      if (!closing) {
        closing = new Promise((resolve) => {
          broker.close(() => {
            server.close(() => resolve());
            for (const socket of sockets) socket.destroy();
          });
        });
      }
      return closing;
    },
  };
}

// ws comes with Node-RED (its editor comms use it); Node.js 20 has no WebSocket of its own.
const WebSocket = require(require.resolve("ws", { paths: [path.dirname(require.resolve("@node-red/editor-api/package.json"))] }));

/**
 * An editor comms client: ws://host:port/comms. Node-RED sends arrays of {topic, data}, at most
 * every 50 ms per connection, and every topic to every connection (subscribing only asks for
 * retained messages, e.g. node status). With adminAuth the first message must be {auth: <token>}.
 */
async function connectComms(url, token, subscribe = ["twinwire/#"]) {
  const ws = new WebSocket(url.replace(/^http/, "ws") + "/comms");
  const received = [];
  const waiters = new Set();
  ws.on("message", (data) => {
    const parsed = JSON.parse(String(data));
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) received.push({ ...m, at: Date.now() });
    for (const w of waiters) w();
  });
  const closed = new Promise((resolve) => ws.once("close", resolve));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  if (token) {
    // Anything sent before {auth: "ok"} arrives counts as unauthenticated and closes the socket.
    ws.send(JSON.stringify({ auth: token }));
    await new Promise((resolve, reject) => {
      const check = () => {
        const answer = received.find((m) => m.auth);
        if (!answer) return;
        waiters.delete(check);
        if (answer.auth === "ok") resolve();
        else reject(new Error(`comms auth: ${answer.auth}`));
      };
      waiters.add(check);
      check();
    });
  }
  for (const topic of subscribe) ws.send(JSON.stringify({ subscribe: topic }));
  return {
    ws,
    received,
    closed,
    /** Messages on `topic` (optionally matching `filter`) received since index `since`. */
    on(topic, filter = () => true, since = 0) {
      return received.slice(since).filter((m) => m.topic === topic && filter(m.data));
    },
    /** Waits until fn(received) is truthy. */
    until(fn, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const v = fn(received);
          if (v) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(v);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`comms: condition not met within ${timeoutMs} ms; got ${JSON.stringify(received.map((m) => m.topic))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      ws.close();
      return closed;
    },
  };
}

module.exports = {
  connectComms,
  startNodeRed,
  prestart,
  stopAll,
  printLogsIfFailed,
  request,
  deployFlows,
  getToken,
  hashPassword,
  adminAuth,
  waitFor,
  getFreePort,
  startBroker,
  tempUserDir,
  isBuilt,
  prepareUserDir: runtime.prepareUserDir,
  examplesAsFlows: runtime.examplesAsFlows,
  repoRoot: runtime.repoRoot,
  PACKAGE_NAME: runtime.PACKAGE_NAME,
};
