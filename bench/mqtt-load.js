// The other end of the MQTT benchmark (bench/mqtt.js forks it): an aedes broker and the
// publishing devices, in one process of their own, so they do not take the CPU of the Node-RED
// process being measured. Driven over IPC:
//
//   -> {type: "ready", port}                               once the broker listens (127.0.0.1)
//   <- {type: "connect", clients}                          connects that many publisher clients (MQTT 3.1.1)
//   -> {type: "connected"}
//   <- {type: "publish", id, kind, prefix, offset, n, qos, twins}
//   -> {type: "published", id, ms, cpuMs}                  every message written (QoS 0) or acknowledged (QoS 1)
//   <- {type: "stop"}                                      closes everything and exits
//
// A publish order with `rate` (readings per second) paces the devices instead: every 10 ms they
// publish what the rate allows by then (bench/mqtt-lag.js, sustained load).
//
// Reading k goes out from client k % clients, for twin k % twins, as fast as the broker takes
// it: each client keeps at most WINDOW messages not yet written to its socket (QoS 0) or not
// yet acknowledged (QoS 1), and the loop yields to the event loop every BATCH messages so the
// broker, in the same process, gets its turn. Kinds:
//   value  {prefix}/{twin}/temperature   "21.53"                          (one property, text)
//   json   {prefix}/{twin}/reported      {"temperature":21.53,"humidity":40.2}
"use strict";
const net = require("net");
const { performance } = require("perf_hooks");
const mqtt = require("mqtt");
const { twinId } = require("./lib");

const BATCH = 100;
const WINDOW = { 0: 1000, 1: 200 };

const value = (k) => (2001 + ((k * 37) % 1000) * 3) / 100;
const humidity = (k) => (3001 + ((k * 53) % 1000) * 2) / 100;

function message(kind, prefix, twins, k) {
  const id = twinId(k % twins);
  if (kind === "value") return [`${prefix}/${id}/temperature`, String(value(k))];
  return [`${prefix}/${id}/reported`, JSON.stringify({ temperature: value(k), humidity: humidity(k) })];
}

async function startBroker() {
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
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        broker.close(() => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        });
      }),
  };
}

function connectClients(port, count) {
  return Promise.all(
    Array.from({ length: count }, (_, c) =>
      new Promise((resolve, reject) => {
        const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `bench-device-${c}`, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
        client.once("connect", () => resolve(client));
        client.once("error", reject);
      }),
    ),
  );
}

function publish(clients, { kind, prefix, offset, n, qos, twins, rate }) {
  if (rate) return paced(clients, { kind, prefix, offset, n, qos, twins, rate });
  return new Promise((resolve, reject) => {
    const inflight = clients.map(() => 0);
    const window = WINDOW[qos];
    let sent = 0;
    let acked = 0;
    let blocked = false;
    let failed = false;
    const onDone = (c) => (err) => {
      if (failed) return;
      if (err) {
        failed = true;
        return reject(err);
      }
      inflight[c]--;
      acked++;
      if (acked === n) return resolve();
      if (blocked && inflight[c] < window) {
        blocked = false;
        setImmediate(pump);
      }
    };
    const callbacks = clients.map((_, c) => onDone(c));
    function pump() {
      if (failed) return;
      for (let b = 0; b < BATCH && sent < n; b++) {
        const k = offset + sent;
        const c = k % clients.length;
        if (inflight[c] >= window) {
          blocked = true;
          return;
        }
        const [topic, payload] = message(kind, prefix, twins, k);
        inflight[c]++;
        sent++;
        clients[c].publish(topic, payload, { qos }, callbacks[c]);
      }
      if (sent < n) setImmediate(pump);
    }
    pump();
  });
}

/** n readings at `rate` per second, spread evenly: what is due is published every 10 ms. */
function paced(clients, { kind, prefix, offset, n, qos, twins, rate }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sent = 0;
    let acked = 0;
    let failed = false;
    const onDone = (err) => {
      if (failed) return;
      if (err) {
        failed = true;
        clearInterval(timer);
        return reject(err);
      }
      if (++acked === n) resolve();
    };
    const timer = setInterval(() => {
      const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent < due; sent++) {
        const k = offset + sent;
        const [topic, payload] = message(kind, prefix, twins, k);
        clients[k % clients.length].publish(topic, payload, { qos }, onDone);
      }
      if (sent >= n) clearInterval(timer);
    }, 10);
  });
}

async function main() {
  const broker = await startBroker();
  let clients = [];
  process.on("message", async (m) => {
    try {
      if (m.type === "connect") {
        clients = await connectClients(broker.port, m.clients);
        process.send({ type: "connected" });
      } else if (m.type === "publish") {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await publish(clients, m);
        const cpu = process.cpuUsage(cpu0);
        process.send({ type: "published", id: m.id, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 });
      } else if (m.type === "stop") {
        await Promise.all(clients.map((c) => new Promise((r) => c.end(true, {}, r))));
        await broker.close();
        process.exit(0);
      }
    } catch (err) {
      process.send({ type: "error", error: err && err.stack ? err.stack : String(err) });
    }
  });
  // The parent went away: nothing left to serve.
  process.on("disconnect", () => process.exit(0));
  process.send({ type: "ready", port: broker.port });
}

main().catch((err) => {
  if (process.send) process.send({ type: "error", error: err && err.stack ? err.stack : String(err) });
  process.exit(1);
});
