#!/usr/bin/env node
// A device that talks to its digital twin through twin-link, written with the mqtt package: what
// an ESP32 sketch (or a PLC gateway, or Tasmota-style firmware) does, in a few lines.
//
//   npm start                                  # broker on 127.0.0.1:1883, example flows deployed
//   node examples/device-client.js [id]        # id: esp32-01 by default
//
// MQTT_PORT (as given to npm start), or MQTT_URL (default mqtt://127.0.0.1:1883), and TWIN_ROOT
// (default "twins") point it elsewhere.
// With the "MQTT device link" example deployed, click "esp32-01: LED on" and watch this console.
//
// The device:
//   - sets a last will: "offline", retained, on twins/{id}/status, and says "online" there itself;
//   - asks for its twin on twins/{id}/get, and applies the delta it finds (set while it was away);
//   - reports readings every 5 s on twins/{id}/reported, each with a clientToken, and reads the
//     answer on twins/{id}/reported/accepted or /rejected;
//   - applies every delta from twins/{id}/delta and reports the new values back.
"use strict";

const mqtt = require("mqtt");

const id = process.argv[2] || "esp32-01";
const url = process.env.MQTT_URL || `mqtt://127.0.0.1:${process.env.MQTT_PORT || 1883}`;
const root = process.env.TWIN_ROOT || "twins";
const topic = (suffix) => `${root}/${id}/${suffix}`;

// The device's own state: what it measures and what it can be told to change.
const state = { temperature: 21, humidity: 45, led: false, brightness: 50 };
let sent = 0;

const client = mqtt.connect(url, {
  clientId: `device-${id}`,
  will: { topic: topic("status"), payload: "offline", qos: 1, retain: true },
  reconnectPeriod: 2000,
});

client.on("connect", () => {
  console.log(`${id}: connected to ${url}`);
  client.subscribe([topic("delta"), topic("reported/+"), topic("get/+")], { qos: 1 }, (err) => {
    if (err) return console.error(`${id}: subscribe failed: ${err.message}`);
    client.publish(topic("status"), "online", { qos: 1, retain: true });
    client.publish(topic("get"), JSON.stringify({ clientToken: "boot" }), { qos: 1 });
  });
});
client.on("reconnect", () => console.log(`${id}: reconnecting to ${url}`));
client.on("error", (err) => console.error(`${id}: ${err.message}`));

client.on("message", (t, payload) => {
  let body;
  try {
    body = JSON.parse(payload.toString());
  } catch {
    return;
  }
  if (t === topic("delta")) {
    console.log(`${id}: delta ${JSON.stringify(body.state)} (twin version ${body.version})`);
    apply(body.state);
  } else if (t === topic("get/accepted")) {
    console.log(`${id}: my twin is at version ${body.version}; still to do: ${JSON.stringify(body.delta)}`);
    apply(body.delta);
  } else if (t === topic("get/rejected")) {
    console.log(`${id}: no twin yet (${body.code}); my first reading creates it`);
    report();
  } else if (t === topic("reported/accepted")) {
    console.log(`${id}: reading ${body.clientToken} accepted, twin version ${body.version}`);
  } else if (t === topic("reported/rejected")) {
    console.log(`${id}: reading ${body.clientToken} rejected: ${body.message}`);
  }
});

/** Does what the twin asks, as far as it can, and reports the result (which clears the delta). */
function apply(delta) {
  if (!delta || Object.keys(delta).length === 0) return;
  if (typeof delta.led === "boolean") state.led = delta.led;
  if (Number.isInteger(delta.brightness) && delta.brightness >= 0 && delta.brightness <= 100) state.brightness = delta.brightness;
  console.log(`${id}: LED ${state.led ? "on" : "off"}, brightness ${state.brightness}`);
  report();
}

function report() {
  state.temperature = Math.round((state.temperature + (Math.random() - 0.5) * 0.4) * 10) / 10;
  state.humidity = Math.round(Math.min(100, Math.max(0, state.humidity + (Math.random() - 0.5) * 2)));
  const reading = { ...state, clientToken: `r${++sent}` };
  client.publish(topic("reported"), JSON.stringify(reading), { qos: 1 });
}

const timer = setInterval(() => client.connected && report(), 5000);

function stop() {
  clearInterval(timer);
  console.log(`${id}: going offline`);
  client.publish(topic("status"), "offline", { qos: 1, retain: true }, () => client.end());
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
