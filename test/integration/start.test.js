"use strict";
// `npm start` as the README describes it: Node-RED with the examples and an MQTT broker on the
// ports PORT and MQTT_PORT name, one clear line when a port is taken, and Ctrl-C (SIGINT)
// flushing every registry before it exits 0. Runs scripts/start.js for real, in a user directory
// of its own (TWINWIRE_USER_DIR).
const { freePort } = require("../support/free-port");
const assert = require("node:assert/strict");
const fs = require("fs");
const net = require("net");
const path = require("path");
const { spawn } = require("child_process");
const mqtt = require("mqtt");
const h = require("./harness");

const START = path.join(h.repoRoot, "scripts", "start.js");


/** Runs npm start's script; resolves its handle once the editor answers (or it exited). */
function start(env) {
  const child = spawn(process.execPath, [START], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  const exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

describe("npm start (scripts/start.js)", function () {
  this.timeout(90000);
  const children = [];
  afterEach(function () {
    for (const c of children.splice(0)) {
      if (this.currentTest.state === "failed") console.error(`--- npm start output ---\n${c.output()}--- end ---`);
      if (c.child.exitCode === null) c.child.kill("SIGKILL");
    }
  });

  it("serves the editor on PORT with the Welcome tab and every example deployed (only Twin basics on), the broker on MQTT_PORT, and Ctrl-C flushes every registry and exits 0", async function () {
    const userDir = h.tempUserDir("twinwire-start-");
    const [port, mqttPort] = [await freePort(), await freePort()];
    const env = { PORT: String(port), MQTT_PORT: String(mqttPort), TWINWIRE_USER_DIR: userDir };
    let run = start(env);
    children.push(run);
    const url = `http://127.0.0.1:${port}`;
    const registries = await h.waitFor(async () => {
      if (run.child.exitCode !== null) throw new Error(`npm start exited: ${run.output()}`);
      try {
        const res = await h.request(url, { path: "/twins" });
        return res.status === 200 && res.body.length >= 8 && res.body;
      } catch {
        return false;
      }
    }, 60000);
    assert.match(run.output(), new RegExp(`Node-RED editor\\s+http://127\\.0\\.0\\.1:${port}`));

    // First run: the Welcome tab, Twin basics next and running, every other example switched off
    // (quiet until the user enables it); no update-notification question over it all.
    const deployed = (await h.request(url, { path: "/flows" })).body;
    const tabs = deployed.filter((n) => n.type === "tab");
    assert.deepEqual(tabs.slice(0, 2).map((t) => [t.label, Boolean(t.disabled)]), [["Welcome", false], ["Twin basics", false]]);
    const examples = fs.readdirSync(path.join(h.repoRoot, "examples")).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
    assert.deepEqual(tabs.slice(1).map((t) => t.label).sort(), examples.sort(), "every example, once");
    assert.deepEqual(tabs.slice(2).filter((t) => !t.disabled).map((t) => t.label), [], "the other examples are off");
    const welcome = deployed.filter((n) => n.z === tabs[0].id).map((n) => n.name).join("\n");
    for (const label of examples) assert.ok(welcome.includes(`${label}: `), `the Welcome tab says what ${label} shows`);
    assert.match(welcome, /current flow/);
    assert.match(welcome, /Twins sidebar tab/);
    assert.equal((await h.request(url, { path: "/settings" })).body.telemetryEnabled, false, "no update-notification dialog");
    // What the Welcome tab tells the user to do: enable a tab (as its context menu does) and deploy.
    for (const label of ["MQTT device link", "Pump predictive maintenance"]) {
      const tab = tabs.find((t) => t.label === label);
      const flow = (await h.request(url, { path: `/flow/${tab.id}` })).body;
      const res = await h.request(url, { method: "PUT", path: `/flow/${tab.id}`, body: { ...flow, disabled: false } });
      assert.equal(res.status, 200, res.text);
    }
    assert.match(run.output(), new RegExp(`MQTT broker\\s+mqtt://127\\.0\\.0\\.1:${mqttPort}`));

    // The broker answers on MQTT_PORT, and the examples talk to it: the MQTT device link's twin appears.
    const client = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0, connectTimeout: 10000 });
    await new Promise((resolve, reject) => {
      client.once("connect", resolve);
      client.once("error", reject);
    });
    client.end(true);
    const devices = registries.find((r) => r.name === "devices");
    assert.ok(devices, `a "devices" registry: ${JSON.stringify(registries)}`);
    await h.waitFor(async () => (await h.request(url, { path: `/twins/${devices.id}/esp32-sim` })).status === 200, 30000);

    // The predictive-maintenance pumps keep changing in a batched registry: note every twin's
    // version, then Ctrl-C at once, with changes still inside the 100 ms window.
    const pumps = registries.find((r) => r.name === "pumps");
    assert.ok(pumps, `a "pumps" registry: ${JSON.stringify(registries)}`);
    const versions = async () => {
      const page = await h.request(url, { path: `/twins/${pumps.id}` });
      const out = {};
      for (const t of page.body.twins) out[t.id] = (await h.request(url, { path: `/twins/${pumps.id}/${t.id}` })).body.version;
      return out;
    };
    await h.waitFor(async () => Object.values(await versions()).some((v) => v > 2), 30000);
    const before = await versions();
    run.child.kill("SIGINT");
    const exit = await run.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, run.output());
    assert.match(run.output(), /twinwire: stopped/);

    run = start(env);
    children.push(run);
    await h.waitFor(async () => {
      if (run.child.exitCode !== null) throw new Error(`npm start exited: ${run.output()}`);
      try {
        return (await h.request(url, { path: "/twins" })).status === 200;
      } catch {
        return false;
      }
    }, 60000);
    const after = await versions();
    for (const [id, version] of Object.entries(before)) {
      assert.ok(after[id] >= version, `${id} at version ${version} before Ctrl-C, ${after[id]} after the restart`);
    }
    run.child.kill("SIGINT");
    assert.equal((await run.exited).code, 0);
  });

  it("says in one line which port is taken, and exits 1", async function () {
    const blocker = net.createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => blocker.once("listening", resolve));
    try {
      const taken = blocker.address().port;
      const run = start({ PORT: String(taken), MQTT_PORT: String(await freePort()), TWINWIRE_USER_DIR: h.tempUserDir("twinwire-start-") });
      children.push(run);
      const exit = await run.exited;
      assert.equal(exit.code, 1);
      assert.equal(run.output().trim(), `twinwire: port ${taken} is already in use; set PORT to another port`);
      const mqttRun = start({ PORT: String(await freePort()), MQTT_PORT: String(taken), TWINWIRE_USER_DIR: h.tempUserDir("twinwire-start-") });
      children.push(mqttRun);
      assert.equal((await mqttRun.exited).code, 1);
      assert.equal(mqttRun.output().trim(), `twinwire: port ${taken} is already in use; set MQTT_PORT to another port`);
    } finally {
      blocker.close();
    }
  });
});
