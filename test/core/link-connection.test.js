"use strict";
// LinkConnection against a real MQTT broker (aedes, in this process): persistent session,
// acknowledgement only when the handler is done, the bounded queue while the broker is away,
// reconnect with resubscribe after a broker restart.
const assert = require("node:assert/strict");
const net = require("net");
const mqtt = require("mqtt");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawn, execFileSync } = require("child_process");
const mqttPacket = require("mqtt-packet");
const { LinkConnection, qos0Publish } = require("../../nodes/lib/core/link/connection");

/** aedes on a port; `persistence` shared between restarts keeps sessions like a persistent broker. */
async function startBroker({ port = 0, persistence } = {}) {
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker(persistence ? { persistence } : {});
  const server = net.createServer(broker.handle);
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  return {
    broker,
    port: server.address().port,
    url: `mqtt://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        broker.close(() => server.close(() => resolve()));
      }),
  };
}

async function until(fn, timeout = 5000, what = "condition") {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let seq = 0;

function connection(url, handlers = {}, options = {}) {
  const events = { states: [], connects: [], messages: [], overflow: 0 };
  const conn = new LinkConnection(
    { url, clientId: `conn-test-${process.pid}-${++seq}`, protocolVersion: 4, keepalive: 5, sessionExpiry: 60, queueLimit: 100, minBackoffMs: 100, maxBackoffMs: 400, ...options },
    {
      onState: (state, failure) => events.states.push(failure ? `${state}:${failure.kind}` : state),
      onConnect: (info) => events.connects.push(info),
      onMessage: (topic, payload, retain, done) => {
        events.messages.push({ topic, text: payload.toString(), retain });
        (handlers.onMessage || ((_t, _p, _r, d) => d()))(topic, payload, retain, done);
      },
      onOverflow: () => events.overflow++,
    },
  );
  conn.events = events;
  return conn;
}

async function publisher(url) {
  const client = mqtt.connect(url, { clientId: `pub-${++seq}`, reconnectPeriod: 100 });
  await new Promise((resolve) => client.once("connect", resolve));
  return client;
}

describe("LinkConnection", function () {
  this.timeout(20000);
  const cleanup = [];
  afterEach(async function () {
    while (cleanup.length) await cleanup.pop()();
  });

  it("connects with a persistent session, subscribes and hands messages over", async function () {
    const b = await startBroker();
    cleanup.push(() => b.close());
    const conn = connection(b.url);
    cleanup.push(() => conn.end());
    conn.setSubscriptions(new Map([["t/+/in", 1]]));
    conn.start();
    await until(() => conn.connected, 5000, "connected");
    assert.deepEqual(conn.events.states, ["connected"]);
    assert.deepEqual(conn.events.connects, [{ sessionPresent: false, dropped: 0 }]);
    const pub = await publisher(b.url);
    cleanup.push(() => pub.endAsync());
    await until(async () => {
      await pub.publishAsync("t/a/in", "hello", { qos: 1 });
      return conn.events.messages.length > 0;
    });
    assert.deepEqual(conn.events.messages[0], { topic: "t/a/in", text: "hello", retain: false });

    // Replace the subscriptions: the old filter is unsubscribed.
    conn.setSubscriptions(new Map([["t/+/other", 1]]));
    await new Promise((r) => setTimeout(r, 100));
    const before = conn.events.messages.length;
    await pub.publishAsync("t/a/in", "ignored", { qos: 1 });
    await pub.publishAsync("t/a/other", "seen", { qos: 1 });
    await until(() => conn.events.messages.some((m) => m.text === "seen"));
    assert.deepEqual(conn.events.messages.slice(before).map((m) => m.text), ["seen"]);
  });

  it("leaves a message unacknowledged until the handler is done: the broker delivers it again to the resumed session", async function () {
    const b = await startBroker();
    cleanup.push(() => b.close());
    const clientId = `conn-test-held-${process.pid}`;
    const held = connection(b.url, { onMessage: () => undefined }, { clientId });
    held.setSubscriptions(new Map([["t/+/in", 1]]));
    held.start();
    await until(() => held.connected);
    const pub = await publisher(b.url);
    cleanup.push(() => pub.endAsync());
    await pub.publishAsync("t/a/in", "precious", { qos: 1 });
    await until(() => held.events.messages.length === 1);
    await held.end({ timeoutMs: 200 }); // Node-RED stops before the change was durable

    await pub.publishAsync("t/a/in", "while away", { qos: 1 });
    const again = connection(b.url, {}, { clientId });
    cleanup.push(() => again.end());
    again.setSubscriptions(new Map([["t/+/in", 1]]));
    again.start();
    await until(() => again.events.messages.length >= 2, 5000, "both messages");
    assert.deepEqual(again.events.connects[0].sessionPresent, true);
    assert.deepEqual(again.events.messages.map((m) => m.text), ["precious", "while away"]);
  });

  it("hands QoS 0 messages over one after another while earlier ones wait for their change to be durable", async function () {
    // A QoS 0 reading has nothing to acknowledge: waiting for each one's fsync before reading
    // the next would make a strict registry take one reading per disk write.
    const b = await startBroker();
    cleanup.push(() => b.close());
    const conn = connection(b.url, { onMessage: () => undefined }); // never done
    cleanup.push(() => conn.end({ timeoutMs: 200 }));
    conn.setSubscriptions(new Map([["t/+/in", 1]]));
    conn.start();
    await until(() => conn.connected);
    const pub = await publisher(b.url);
    cleanup.push(() => pub.endAsync());
    for (let i = 0; i < 5; i++) await pub.publishAsync("t/a/in", `r${i}`, { qos: 0 });
    await until(() => conn.events.messages.length === 5, 5000, "all five readings");
    assert.deepEqual(conn.events.messages.map((m) => m.text), ["r0", "r1", "r2", "r3", "r4"]);
  });

  it("sends the QoS 0 messages of one turn, more than one buffer's worth, in order, and acknowledges after them", async function () {
    const b = await startBroker();
    cleanup.push(() => b.close());
    // A QoS 1 message in is answered by a QoS 0 message out, then acknowledged.
    let conn = null;
    conn = connection(b.url, {
      onMessage: (_topic, payload, _retain, done) => {
        conn.publish({ topic: "t/x/out", payload: `reply ${payload}`, qos: 0, retain: false });
        done();
      },
    });
    cleanup.push(() => conn.end());
    conn.setSubscriptions(new Map([["t/+/in", 1]]));
    conn.start();
    await until(() => conn.connected);
    const watcher = await publisher(b.url);
    cleanup.push(() => watcher.endAsync());
    const seen = [];
    watcher.on("message", (_topic, payload) => seen.push(payload.toString()));
    await watcher.subscribeAsync("t/x/out", { qos: 1 });
    const expected = [];
    for (let i = 0; i < 1500; i++) {
      const payload = `${i} ${"x".repeat(100)}`;
      conn.publish({ topic: "t/x/out", payload, qos: 0, retain: false });
      expected.push(payload);
    }
    await until(() => seen.length === expected.length, 10000, "every message");
    assert.ok(seen.every((p, i) => p === expected[i]), "in the order published");
    await watcher.publishAsync("t/a/in", "m1", { qos: 1 }); // resolves on the acknowledgement
    await until(() => seen.includes("reply m1"), 5000, "the reply");
  });

  it("queues what is published while the broker is away (latest per key, bounded) and sends it on reconnect; resubscribes to a broker that lost everything", async function () {
    let b = await startBroker();
    const port = b.port;
    cleanup.push(() => b.close());
    const conn = connection(b.url, {}, { queueLimit: 5 });
    cleanup.push(() => conn.end());
    conn.setSubscriptions(new Map([["t/+/in", 1]]));
    conn.start();
    await until(() => conn.connected);

    await b.close();
    await until(() => conn.state === "reconnecting", 5000, "reconnecting");
    for (let i = 0; i < 6; i++) conn.publish({ topic: "t/x/reply", payload: `r${i}`, qos: 1, retain: false });
    for (let i = 0; i < 3; i++) conn.publish({ topic: "t/x/state", payload: `s${i}`, qos: 1, retain: true }, "state:x");
    assert.equal(conn.queued, 5);
    assert.equal(conn.events.overflow, 1);
    await new Promise((r) => setTimeout(r, 700)); // a few failed attempts: the backoff grows

    b = await startBroker({ port }); // a new broker: no session, no retained messages
    const watcher = await publisher(b.url);
    cleanup.push(() => watcher.endAsync());
    const seen = [];
    watcher.on("message", (topic, payload) => seen.push(`${topic}=${payload}`));
    await watcher.subscribeAsync("t/x/#", { qos: 1 });
    await until(() => conn.connected, 5000, "reconnected");
    assert.deepEqual(conn.events.connects[1], { sessionPresent: false, dropped: 2 });
    await until(() => seen.length === 5, 5000, "the queued messages");
    // r0 and r1 were pushed out by newer messages; s0 and s1 were replaced by s2.
    assert.deepEqual(seen, ["t/x/reply=r2", "t/x/reply=r3", "t/x/reply=r4", "t/x/reply=r5", "t/x/state=s2"]);
    assert.equal(conn.queued, 0);
    // Subscribed again on the new broker.
    await until(async () => {
      await watcher.publishAsync("t/y/in", "after", { qos: 1 });
      return conn.events.messages.some((m) => m.text === "after");
    });
    const states = conn.events.states.map((s) => s.split(":")[0]).filter((s, i, a) => s !== a[i - 1]);
    assert.deepEqual(states, ["connected", "reconnecting", "connected"]);
    assert.ok(conn.events.states.includes("reconnecting:network"), "the refused connects are told as a network failure");
    assert.equal(conn.failure, null, "cleared once connected");
  });

  it("tells a broker that goes down and comes back three times within seconds as unreachable, not as its session taken over", async function () {
    let b = await startBroker();
    const port = b.port;
    cleanup.push(() => b.close());
    const conn = connection(b.url);
    cleanup.push(() => conn.end());
    conn.start();
    await until(() => conn.connected, 5000, "connected");
    for (let crash = 1; crash <= 3; crash++) {
      // Each connection ends within a second of its start, as a takeover's do; but between them
      // the broker refused connections, which a broker taking the session over never does.
      await b.close();
      const told = conn.events.states.length;
      await until(() => conn.events.states.slice(told).includes("reconnecting:network"), 5000, `a refused connect after crash ${crash}`);
      b = await startBroker({ port });
      await until(() => conn.connected, 5000, `connected after crash ${crash}`);
    }
    await b.close();
    await until(() => conn.state === "reconnecting", 5000, "reconnecting");
    assert.ok(!conn.events.states.some((s) => s.endsWith(":taken-over")), `told: ${conn.events.states.join(", ")}`);
  });
});

/**
 * aedes behind a WebSocket server (the `ws` package Node-RED ships), over HTTP or, with `tls`
 * (key and cert), HTTPS: the broker a ws:// or wss:// broker URL reaches.
 */
async function startWsBroker(tlsOptions) {
  const http = require("http");
  const https = require("https");
  const WebSocket = require(require.resolve("ws", { paths: [path.dirname(require.resolve("@node-red/editor-api/package.json"))] }));
  const { Aedes } = await import("aedes");
  const broker = await Aedes.createBroker();
  const server = tlsOptions ? https.createServer(tlsOptions) : http.createServer();
  const wss = new WebSocket.Server({ server, handleProtocols: (protocols) => ([...protocols].includes("mqtt") ? "mqtt" : false) });
  wss.on("connection", (socket) => broker.handle(WebSocket.createWebSocketStream(socket)));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  return {
    url: `${tlsOptions ? "wss" : "ws"}://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        broker.close(() => wss.close(() => server.close(() => resolve())));
      }),
  };
}

describe("LinkConnection to a broker that drops every connection", function () {
  this.timeout(20000);

  it("stops for good when ended, whenever that comes: before the first attempt, during it, or between retries", async function () {
    // A port that accepts and closes at once: every attempt fails, and the link retries every 20 to 40 ms.
    let attempts = 0;
    const server = net.createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `mqtt://127.0.0.1:${server.address().port}`;
    try {
      for (const endAfter of [0, 1, 2, 3]) {
        attempts = 0;
        const conn = connection(url, {}, { minBackoffMs: 20, maxBackoffMs: 40 });
        conn.start();
        if (endAfter > 0) await until(() => attempts >= endAfter, 10000, `attempt ${endAfter}`);
        await conn.end();
        const atEnd = attempts;
        // Ten retry periods and more: an attempt still scheduled would have come by now.
        await new Promise((r) => setTimeout(r, 500));
        assert.ok(attempts <= Math.max(atEnd, 1), `ended after ${endAfter} attempt(s), yet ${attempts - atEnd} more came`);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("LinkConnection whose connection drops while a change is being made durable", function () {
  this.timeout(20000);

  it("acknowledges a message only on the connection it came on: the broker, which may have given its packet id to another message since, delivers it again instead", async function () {
    // A broker of our own (mqtt-packet over TCP), to choose the packet ids: after a crash, a broker
    // restores an older copy of the session and numbers its messages from there, so an id the link
    // held on the old connection can name a different message on the new one.
    const connections = [];
    const server = net.createServer((socket) => {
      const c = { socket, received: [] };
      connections.push(c);
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on("packet", (packet) => {
        c.received.push(packet);
        if (packet.cmd === "connect") socket.write(mqttPacket.generate({ cmd: "connack", returnCode: 0, sessionPresent: connections.length > 1 }));
        if (packet.cmd === "subscribe") socket.write(mqttPacket.generate({ cmd: "suback", messageId: packet.messageId, granted: packet.subscriptions.map((s) => s.qos) }));
      });
      socket.on("data", (chunk) => parser.parse(chunk));
      socket.on("error", () => undefined);
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const publish = (c, messageId, payload) => c.socket.write(mqttPacket.generate({ cmd: "publish", topic: "t/a/in", payload, qos: 1, messageId, retain: false, dup: false }));
    const held = new Map();
    const conn = connection(`mqtt://127.0.0.1:${server.address().port}`, {
      onMessage: (_t, payload, _r, done) => (String(payload) === "marker" ? done() : held.set(String(payload), done)),
    });
    try {
      conn.setSubscriptions(new Map([["t/+/in", 1]]));
      conn.start();
      await until(() => connections[0]?.received.some((p) => p.cmd === "subscribe"), 5000, "the first subscription");
      publish(connections[0], 7, "old");
      await until(() => held.has("old"), 5000, "the first message handed over");
      connections[0].socket.destroy(); // the broker crashed while the change was not durable yet

      await until(() => conn.events.connects.length === 2 && conn.connected, 5000, "the reconnect");
      held.get("old")(); // durable now, on a connection that is gone
      // Packets go out in order: once the broker has the marker's acknowledgement, an
      // acknowledgement of the old message would have come before it.
      publish(connections[1], 8, "marker");
      await until(() => connections[1].received.some((p) => p.cmd === "puback" && p.messageId === 8), 5000, "the marker's acknowledgement");
      assert.deepEqual(connections[1].received.filter((p) => p.cmd === "puback").map((p) => p.messageId), [8], "no acknowledgement with the old connection's packet id");
    } finally {
      await conn.end({ timeoutMs: 200 });
      for (const c of connections) c.socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("LinkConnection's own QoS 0 packets", function () {
  it("are byte for byte what mqtt.js would write, for MQTT 3.1.1 and 5, every length size, text and binary", function () {
    const payloads = ["", "{\"version\":3}", "ü€😀".repeat(20), "x".repeat(200), "y".repeat(20000), Buffer.from([0, 255, 1]), Buffer.alloc(2200000, 7)];
    for (const protocolVersion of [4, 5]) {
      for (const retain of [false, true]) {
        for (const topic of ["t", "twins/pump-7/reported/accepted", "zähler/ä€"]) {
          for (const payload of payloads) {
            const expected = mqttPacket.generate({ cmd: "publish", topic, payload, qos: 0, retain, dup: false }, { protocolVersion });
            const got = qos0Publish(topic, payload, retain, protocolVersion);
            assert.ok(got.equals(expected), `v${protocolVersion} retain ${retain} topic ${topic} payload of ${payload.length}`);
          }
        }
      }
    }
    assert.equal(qos0Publish("", "x", false, 4), null, "an empty topic is left to mqtt.js (which refuses it)");
    assert.equal(qos0Publish("x".repeat(70000), "x", false, 4), null);
  });
});

describe("LinkConnection over WebSocket (ws:// and wss://)", function () {
  this.timeout(20000);
  let dir;
  let certs = null;
  const open = [];
  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-wss-"));
    try {
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore" });
      certs = { key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(path.join(dir, "cert.pem")) };
    } catch {
      certs = null; // the wss:// test says so below
    }
  });
  afterEach(async function () {
    for (const x of open.splice(0).reverse()) await x.close();
  });
  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const secure of [false, true]) {
    it(`connects over ${secure ? "wss" : "ws"}://, subscribes and hands messages over${secure ? " (trusting the broker's certificate through tls.ca)" : ""}`, async function () {
      if (secure && !certs) {
        if (process.env.CI) throw new Error("openssl is missing: CI installs it and must run this test");
        console.log("      (skipped: openssl is not installed, so no certificate for the wss:// broker)");
        return this.skip();
      }
      const broker = await startWsBroker(secure ? certs : undefined);
      open.push(broker);
      const conn = connection(broker.url, {}, secure ? { tls: { ca: certs.cert, servername: "localhost" } } : {});
      open.push({ close: () => conn.end() });
      conn.setSubscriptions(new Map([["ws/+/in", 1]]));
      conn.start();
      await until(() => conn.connected, 10000, "the connection");
      const wsOptions = secure ? { ca: certs.cert } : {};
      const pub = mqtt.connect(broker.url, { clientId: `ws-pub-${++seq}`, reconnectPeriod: 100, ...wsOptions });
      open.push({ close: () => new Promise((r) => pub.end(true, {}, r)) });
      await new Promise((resolve) => pub.once("connect", resolve));
      await until(() => {
        pub.publish("ws/dev-1/in", "hello", { qos: 1 });
        return conn.events.messages.some((m) => m.topic === "ws/dev-1/in" && m.text === "hello");
      }, 10000, "the message over the WebSocket");
      // And the other way, a QoS 0 message included (the connection writes those itself).
      const got = [];
      pub.on("message", (topic, payload, packet) => got.push([topic, payload.toString(), packet.qos]));
      await pub.subscribeAsync("ws/+/out", { qos: 1 });
      conn.publish({ topic: "ws/dev-1/out", payload: "q0", qos: 0, retain: false });
      conn.publish({ topic: "ws/dev-1/out", payload: "q1", qos: 1, retain: false });
      await until(() => got.length === 2, 10000, "the link's messages over the WebSocket");
      assert.deepEqual(got, [["ws/dev-1/out", "q0", 0], ["ws/dev-1/out", "q1", 1]]);
    });
  }

  it("refuses a wss:// broker whose certificate it does not trust, with a TLS failure", async function () {
    if (!certs) {
      if (process.env.CI) throw new Error("openssl is missing: CI installs it and must run this test");
      return this.skip();
    }
    const broker = await startWsBroker(certs);
    open.push(broker);
    const conn = connection(broker.url);
    open.push({ close: () => conn.end() });
    conn.start();
    await until(() => conn.events.states.some((s) => /:tls$/.test(s)), 10000, "a TLS failure");
    assert.equal(conn.connected, false);
  });
});

// MQTT 5 specifics need a broker that speaks it (aedes does not): mosquitto, when installed.

const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"].find((p) => fs.existsSync(p));

describe("LinkConnection with MQTT 5 (mosquitto)", function () {
  this.timeout(20000);
  let dir;
  let child;
  let url;

  before(async function () {
    if (!MOSQUITTO) {
      console.log("      (skipped: mosquitto is not installed; `apt-get install mosquitto` runs these, CI installs it)");
      return this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "twinwire-mq5-"));
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    fs.writeFileSync(path.join(dir, "m.conf"), `listener ${port} 127.0.0.1\nallow_anonymous true\nuser ${os.userInfo().username}\nlog_dest none\n`);
    child = spawn(MOSQUITTO, ["-c", path.join(dir, "m.conf")], { stdio: "ignore" });
    url = `mqtt://127.0.0.1:${port}`;
    await until(
      () =>
        new Promise((resolve) => {
          const s = net.connect(port, "127.0.0.1", () => {
            s.destroy();
            resolve(true);
          });
          s.once("error", () => resolve(false));
        }),
      10000,
      "mosquitto",
    );
  });
  after(function () {
    if (child) child.kill("SIGKILL");
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the session for its expiry, and ends it when asked (the config node was deleted)", async function () {
    const clientId = `mq5-session-${process.pid}`;
    const first = connection(url, {}, { clientId, protocolVersion: 5, sessionExpiry: 3600 });
    first.setSubscriptions(new Map([["t/+/in", 1]]));
    first.start();
    await until(() => first.connected);
    assert.equal(first.events.connects[0].sessionPresent, false);
    await first.end();

    const second = connection(url, {}, { clientId, protocolVersion: 5, sessionExpiry: 3600 });
    second.start();
    await until(() => second.connected);
    assert.equal(second.events.connects[0].sessionPresent, true, "the broker kept the session");
    await second.end({ removeSession: true });

    const third = connection(url, {}, { clientId, protocolVersion: 5, sessionExpiry: 3600 });
    third.start();
    await until(() => third.connected);
    assert.equal(third.events.connects[0].sessionPresent, false, "the session was ended");
    await third.end({ removeSession: true });
  });

  it("publishes at QoS 0 and 1, retained or not, so an MQTT 5 broker delivers them in order", async function () {
    const conn = connection(url, {}, { protocolVersion: 5 });
    conn.start();
    await until(() => conn.connected);
    const sub = mqtt.connect(url, { clientId: `mq5-sub-${process.pid}-${++seq}`, protocolVersion: 5, reconnectPeriod: 0 });
    await new Promise((resolve, reject) => sub.once("connect", resolve).once("error", reject));
    const got = [];
    sub.on("message", (topic, payload, packet) => got.push([topic, payload.toString(), packet.qos, packet.retain]));
    try {
      await sub.subscribeAsync("mq5/+/out", { qos: 1 });
      // The QoS 0 ones of a turn leave in one buffer: a QoS 1 message among them keeps its place,
      // across the buffer's 64 KiB too.
      const burst = Array.from({ length: 800 }, (_, i) => ["e", `${i} ${"y".repeat(100)}`, i % 200 === 199 ? 1 : 0, false]);
      const messages = [["a", "ä€ 0", 0, false], ["b", "{\"v\":1}", 1, false], ["c", "x".repeat(300), 0, false], ["d", "retained", 0, true], ...burst];
      for (const [twin, payload, qos, retain] of messages) conn.publish({ topic: `mq5/${twin}/out`, payload, qos, retain });
      await until(() => got.length === messages.length, 5000, "the messages");
      // A retained message reaches a subscriber that is there already without the retain flag.
      assert.deepEqual(got, messages.map(([twin, payload, qos]) => [`mq5/${twin}/out`, payload, qos, false]));
      assert.equal(conn.connected, true, "the broker kept the connection (it closes it on a malformed packet)");
    } finally {
      conn.publish({ topic: "mq5/d/out", payload: "", qos: 0, retain: true });
      await sub.endAsync(true);
      await conn.end();
    }
  });

  it("says so when another client takes over its session (two instances with one client id)", async function () {
    const clientId = `mq5-twice-${process.pid}`;
    const a = connection(url, {}, { clientId, protocolVersion: 5 });
    a.start();
    await until(() => a.connected);
    const b = connection(url, {}, { clientId, protocolVersion: 5 });
    b.start();
    try {
      await until(() => a.failure && a.failure.kind === "taken-over" && b.failure && b.failure.kind === "taken-over", 10000, "taken-over on both");
    } finally {
      await a.end({ removeSession: true });
      await b.end({ removeSession: true });
    }
  });
});
