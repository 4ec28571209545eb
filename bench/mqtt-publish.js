// CPU per QoS 0 message sent by twin-link's connection: its own one-buffer packet
// (LinkConnection.publish) against mqtt.js's publish, both held corked per turn as the link does,
// 200 messages of reply size per turn, to a TCP sink in a child process that only reads.
//
//   node --expose-gc bench/mqtt-publish.js [messages=200000] [rounds=4]
"use strict";
const net = require("net");
const path = require("path");
const { fork } = require("child_process");
const { packageDir } = require("./lib");

const MESSAGES = Number(process.argv[2] || 200000);
const ROUNDS = Number(process.argv[3] || 4);
const TURN = 200;

function sink() {
  const server = net.createServer((socket) => {
    let first = true;
    socket.on("data", () => {
      if (!first) return;
      first = false;
      socket.write(Buffer.from([0x20, 2, 0, 0])); // CONNACK, accepted
    });
  });
  server.listen(0, "127.0.0.1", () => process.send(server.address().port));
}

async function main() {
  const { LinkConnection } = require(path.join(packageDir(), "nodes", "lib", "core", "link", "connection"));
  const child = fork(__filename, ["sink"]);
  try {
    const port = await new Promise((resolve) => child.once("message", resolve));
    const conn = new LinkConnection(
      { url: `mqtt://127.0.0.1:${port}`, clientId: "bench-publish", protocolVersion: 4, keepalive: 60, sessionExpiry: 0, queueLimit: 10 },
      { onState() {}, onConnect() {}, onMessage() {} },
    );
    conn.start();
    while (!conn.connected) await new Promise((r) => setTimeout(r, 10));
    const client = conn.client;
    const options = { qos: 0, retain: false };
    const ways = {
      own: (topic, payload) => conn.publish({ topic, payload, qos: 0, retain: false }),
      "mqtt.js": (topic, payload) => {
        conn.holdTurn(client);
        client.publish(topic, payload, options);
      },
    };
    const out = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, send] of Object.entries(ways)) {
        if (global.gc) global.gc();
        const cpu0 = process.cpuUsage();
        for (let i = 0; i < MESSAGES; i += TURN) {
          for (let k = i; k < i + TURN; k++) send(`twins/twin-${k % 1000}/reported/accepted`, `{"version":${k},"ts":1764130000000}`);
          await new Promise((r) => setImmediate(r));
        }
        await new Promise((r) => setTimeout(r, 200)); // the socket writes of the last turns
        const cpu = process.cpuUsage(cpu0);
        (out[name] ??= []).push(Number(((cpu.user + cpu.system) / MESSAGES).toFixed(2)));
      }
    }
    await conn.end();
    console.log(JSON.stringify({ messages: MESSAGES, perTurn: TURN, cpuUsPerMessage: out }, null, 2));
  } finally {
    child.kill();
  }
}

if (process.argv[2] === "sink") sink();
else main().catch((err) => {
  console.error(err);
  process.exit(1);
});
