// twin-lifecycle in a real Node-RED process:
//
//   POST /reading   {twinId, ts, values}     -> change -> twin-sensor (timestamp msg.ts) -> http response
//   POST /lifecycle {topic, twinId, payload} -> change -> twin-lifecycle -> http response
//   GET  /kpi?twin=<id>                      -> change -> the same twin-lifecycle -> http response
//   catch -> change (statusCode 400, {error}) -> http response
//
// A 200 answer to a reading is an acknowledgement: with strict persistence, the reading (and any
// counter edge it caused) is on disk. The process is SIGKILLed with a reading in flight and
// restarted on the same user directory: operating hours and cycles must match what the readings
// that landed say, exactly (nothing counted twice or lost), before and after more readings; the
// due alert fires once across the restart. Then the example flow is deployed on its own and
// walked through as its comments describe.
"use strict";

const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const h = require("./harness");
const { examplesAsFlows } = require("../../scripts/lib/nodered-runtime");

const TAB = "b2f0000000000001";
const REGISTRY = "b2f0000000000002";
const REGISTRY_NAME = "durable-lc";
const H = 3_600_000;

function lifecycleFlow() {
  const z = TAB;
  const id = (n) => `b2f00000000001${String(n).padStart(2, "0")}`;
  return [
    { id: z, type: "tab", label: "lifecycle over http" },
    { id: REGISTRY, type: "twin-registry", name: REGISTRY_NAME, models: "", persistence: "strict", historyLength: "10", staleness: "0", maxDocumentKb: "64" },
    // readings
    { id: id(1), type: "http in", z, url: "/reading", method: "post", upload: false, swaggerDoc: "", wires: [[id(2)]] },
    {
      id: id(2), type: "change", z, name: "body to reading",
      rules: [
        { t: "set", p: "twinId", pt: "msg", to: "payload.twinId", tot: "msg" },
        { t: "set", p: "ts", pt: "msg", to: "payload.ts", tot: "msg" },
        { t: "set", p: "payload", pt: "msg", to: "payload.values", tot: "msg" },
      ],
      wires: [[id(3)]],
    },
    {
      id: id(3), type: "twin-sensor", z, registry: REGISTRY, pattern: "", twinId: "", twinIdType: "str", property: "", value: "payload", valueType: "msg",
      timestamp: "ts", timestampType: "msg", scale: 1, offset: 0, unit: "", deadband: "", unknown: "create", model: "", output: "event", parseNumbers: true,
      wires: [[id(9)]],
    },
    // lifecycle actions and queries
    { id: id(4), type: "http in", z, url: "/lifecycle", method: "post", upload: false, swaggerDoc: "", wires: [[id(5)]] },
    {
      id: id(5), type: "change", z, name: "body to action",
      rules: [
        { t: "set", p: "topic", pt: "msg", to: "payload.topic", tot: "msg" },
        { t: "set", p: "twinId", pt: "msg", to: "payload.twinId", tot: "msg" },
        { t: "set", p: "payload", pt: "msg", to: "payload.payload", tot: "msg" },
      ],
      wires: [[id(8)]],
    },
    { id: id(6), type: "http in", z, url: "/kpi", method: "get", upload: false, swaggerDoc: "", wires: [[id(7)]] },
    {
      id: id(7), type: "change", z, name: "kpi of ?twin",
      rules: [
        { t: "set", p: "topic", pt: "msg", to: "kpi", tot: "str" },
        { t: "set", p: "twinId", pt: "msg", to: "req.query.twin", tot: "msg" },
      ],
      wires: [[id(8)]],
    },
    {
      id: id(8), type: "twin-lifecycle", z, registry: REGISTRY, twinId: "", twinIdType: "str", scope: "all", pattern: "", stages: "",
      running: "rpm > 0", runningType: "cond", counters: '[{"name": "loadedStarts", "count": "starts", "when": "load > 50"}]',
      dueHours: "5", dueDays: "", dueCycles: "", dueHorizon: "", dueProperty: "", autoOrder: true, logSize: 1000,
      wires: [[id(9)], []],
    },
    { id: id(9), type: "http response", z, statusCode: "", headers: {}, wires: [] },
    { id: id(10), type: "catch", z, scope: null, uncaught: false, wires: [[id(11)]] },
    {
      id: id(11), type: "change", z, name: "error to 400",
      rules: [
        { t: "set", p: "statusCode", pt: "msg", to: "400", tot: "num" },
        { t: "set", p: "payload", pt: "msg", to: '{"error": error.message}', tot: "jsonata" },
      ],
      wires: [[id(9)]],
    },
  ];
}

/** The readings: per twin, one every 30 simulated minutes, running 3 h of every 4, with load. */
function plan(twinIds, count, t0) {
  const out = [];
  for (let i = 0; i < count; i++) {
    for (const [k, twinId] of twinIds.entries()) {
      const hour = i * 0.5;
      const phase = (Math.floor(hour) + k) % 4;
      const rpm = phase < 3 ? 1400 + k : 0;
      out.push({ twinId, ts: t0 + hour * H, values: { rpm, load: rpm && i % 3 === 0 ? 80 : 20 } });
    }
  }
  return out;
}

/** Operating hours, cycles and loaded starts, as the readings say (the first one only sets the state). */
function expected(readings, twinId) {
  let prev = null;
  let ms = 0;
  let cycles = 0;
  let loaded = 0;
  for (const r of readings.filter((x) => x.twinId === twinId).sort((a, b) => a.ts - b.ts)) {
    const running = r.values.rpm > 0;
    if (prev) {
      if (prev.running) ms += r.ts - prev.ts;
      if (running && !prev.running) {
        cycles++;
        if (r.values.load > 50) loaded++;
      }
    }
    prev = { ts: r.ts, running };
  }
  return { operatingHours: Math.round((ms / H) * 1e6) / 1e6, cycles, loadedStarts: loaded };
}

const EXAMPLE = "Asset lifecycle and maintenance.json";

describe("twin-lifecycle in a real Node-RED", function () {
  this.timeout(90000);
  const started = [];
  async function start(options) {
    const nr = await h.startNodeRed(options);
    started.push(nr);
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/, "this package's nodes did not load");
    return nr;
  }
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, ...started);
    started.length = 0;
  });
  after(() => h.stopAll());
  // The example test's Node-RED starts in the background while the first test runs.
  let exampleFlows;
  let takeExample;
  before(function () {
    if (!h.isBuilt()) this.skip();
    const dir = h.tempUserDir("twinwire-example-");
    fs.mkdirSync(path.join(dir, "examples"));
    fs.copyFileSync(path.join(h.repoRoot, "examples", EXAMPLE), path.join(dir, "examples", EXAMPLE));
    exampleFlows = examplesAsFlows({ examplesDir: path.join(dir, "examples") });
    takeExample = h.prestart({ flows: exampleFlows });
  });

  const post = (nr, urlPath, body) => h.request(nr.url, { method: "POST", path: urlPath, body });
  const kpi = (nr, twinId) => h.request(nr.url, { path: `/api/kpi?twin=${twinId}` });

  it("counts exactly across a SIGKILL and a restart (strict): nothing twice, nothing lost; the due alert fires once", async function () {
    const userDir = h.tempUserDir();
    let nr = await start({ userDir, flows: lifecycleFlow() });
    const twins = ["pump-a", "pump-b"];
    const t0 = Date.now() - 20 * 24 * H;
    const all = plan(twins, 40, t0); // 20 simulated hours per twin

    // Before the crash: a transition, then readings acknowledged one by one.
    for (const twinId of twins) {
      // The twins appear with their first reading.
      assert.equal((await post(nr, "/api/reading", all.find((r) => r.twinId === twinId))).status, 200);
      const res = await post(nr, "/api/lifecycle", { topic: "transition", twinId, payload: { to: "operating", by: "it", reason: "test" } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.stage, "operating");
    }
    const refused = await post(nr, "/api/lifecycle", { topic: "transition", twinId: "pump-a", payload: { to: "retired", by: "it" } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, "Error: twin pump-a can not go from operating to retired; from operating it may go to: maintenance, decommissioned");

    const cut = 50;
    for (let i = 2; i < cut; i++) {
      const res = await post(nr, "/api/reading", all[i]);
      assert.equal(res.status, 200, res.text);
    }
    // One more in flight, then the crash.
    const inFlight = post(nr, "/api/reading", all[cut]).catch(() => null);
    await nr.kill("SIGKILL");
    await inFlight;

    nr = await start({ userDir });
    // Which readings landed: every acknowledged one, and maybe the one in flight.
    const doc = (await h.request(nr.url, { path: `/twins/${REGISTRY_NAME}/${all[cut].twinId}` })).body;
    const landed = all.slice(0, doc.meta.reported.rpm.ts === all[cut].ts ? cut + 1 : cut);
    for (const twinId of twins) {
      const res = await kpi(nr, twinId);
      assert.equal(res.status, 200, res.text);
      const want = expected(landed, twinId);
      assert.deepEqual(
        { operatingHours: res.body.operatingHours, cycles: res.body.cycles, loadedStarts: res.body.counters.loadedStarts },
        want,
        `${twinId} right after the restart`,
      );
    }

    // After the restart, the last landed reading sent again, as a broker redelivers one whose
    // acknowledgement the crash cut off: the registry takes it as stale (its own time and value),
    // so the twin does not move, nothing counts it twice, and twin-sensor completes the message
    // without an output (this flow's HTTP answer comes from that output: none comes).
    const last = landed[landed.length - 1];
    const twinPath = { path: `/twins/${REGISTRY_NAME}/${last.twinId}` };
    const version = (await h.request(nr.url, twinPath)).body.version;
    post(nr, "/api/reading", last).catch(() => null);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await h.request(nr.url, twinPath)).body.version, version, "the reading sent again is not a new version");
    // Then the rest.
    for (const r of all.slice(landed.length)) {
      const res = await post(nr, "/api/reading", r);
      assert.equal(res.status, 200, res.text);
    }
    for (const twinId of twins) {
      const res = await kpi(nr, twinId);
      const want = expected(all, twinId);
      assert.deepEqual({ operatingHours: res.body.operatingHours, cycles: res.body.cycles, loadedStarts: res.body.counters.loadedStarts }, want, twinId);
      assert.ok(want.operatingHours > 10 && want.cycles >= 4, "the plan runs and stops");
      assert.equal(res.body.maintenanceDue.rule, "operatingHours");
      const history = (await post(nr, "/api/lifecycle", { topic: "history", twinId })).body;
      assert.equal(history.log.filter((e) => e.type === "due").length, 1, `${twinId}: one due alert across the restart`);
      assert.deepEqual(history.log.map((e) => e.type), ["transition", "due", "workorder/open"]);
      assert.equal(history.workOrders[0].type, "preventive");
      assert.equal(history.workOrders[0].description, "Preventive maintenance: 5 operating hours since the last one (due every 5 h)");
    }
    const fleet = (await post(nr, "/api/lifecycle", { topic: "kpi" })).body;
    assert.equal(fleet.twins, 2);
    assert.equal(fleet.operatingHours, expected(all, "pump-a").operatingHours + expected(all, "pump-b").operatingHours);

    // The twin document's summary agrees with the exact figures within its refresh step.
    const a = (await h.request(nr.url, { path: `/twins/${REGISTRY_NAME}/pump-a` })).body;
    assert.equal(a.lifecycle.stage, "operating");
    assert.ok(Math.abs(a.lifecycle.operatingHours - expected(all, "pump-a").operatingHours) < 0.1 + 1e-9);
    await nr.stop();
  });

  it("the example 'Asset lifecycle and maintenance' does what its comments say", async function () {
    const flows = exampleFlows;
    const raw = JSON.parse(fs.readFileSync(path.join(h.repoRoot, "examples", EXAMPLE), "utf8"));
    assert.deepEqual(raw.slice(0, 2).map((n) => n.type), ["tab", "comment"], "the example starts with its tab, then a comment");
    for (const n of raw) if (!["tab", "twin-registry"].includes(n.type)) assert.ok(n.z, `${n.id} sits on the canvas`);

    const nr = await takeExample();
    started.push(nr);
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/, "this package's nodes did not load");
    // What the example's debug nodes show (Node-RED publishes it to every editor): the answers
    // and refusals, so a step can wait for the one it caused.
    const comms = await h.connectComms(nr.url, undefined, ["debug"]);
    const debugId = (name) => {
      const node = flows.find((n) => n.type === "debug" && n.name === name);
      assert.ok(node, `a debug node named "${name}"`);
      return node.id;
    };
    const results = debugId("results (lifecycle, orders, history, kpi)");
    const refused = debugId("refused");
    const shown = (id, topic, since) => comms.on("debug", (d) => d.id === id && (topic === undefined || d.topic === topic), since);
    const inject = async (name) => {
      const node = flows.find((n) => n.type === "inject" && n.name === name);
      assert.ok(node, `an inject node named "${name}"`);
      assert.equal((await h.request(nr.url, { method: "POST", path: `/inject/${node.id}` })).status, 200);
    };
    const twin = async () => (await h.request(nr.url, { path: "/twins/lifecycle/pump-01" })).body;

    await h.waitFor(async () => (await h.request(nr.url, { path: "/twins/lifecycle/pump-01" })).status === 200, 10000);
    await inject("commission pump-01");
    await h.waitFor(async () => (await twin()).lifecycle?.stage === "commissioned");
    await inject("start operation");
    await h.waitFor(async () => (await twin()).lifecycle?.stage === "operating");

    // 150 operating hours at 10 simulated hours a second.
    const due = await h.waitFor(async () => {
      const t = await twin();
      return t.lifecycle && t.lifecycle.maintenanceDue && t;
    }, 40000, 250);
    assert.equal(due.lifecycle.maintenanceDue.rule, "operatingHours");
    assert.ok(due.lifecycle.operatingHours >= 150);

    await inject("stop pump");
    await h.waitFor(async () => (await twin()).reported.rpm === 0, 10000);
    await inject("to maintenance");
    await h.waitFor(async () => (await twin()).lifecycle.stage === "maintenance");
    let since = comms.received.length;
    await inject("note: bearings replaced");
    await inject("back to operation (refused: order open)");
    await inject("history"); // messages run in order: once this is answered, the refusal happened
    await comms.until(() => shown(results, "history", since).length, 20000);
    assert.equal(shown(refused, undefined, since).length, 1, "the early transition was refused, at the catch node");
    assert.equal((await twin()).lifecycle.stage, "maintenance", "the guard held");
    await inject("close the work order (2.5 h)");
    await h.waitFor(async () => (await twin()).lifecycle.maintenanceDue === null);
    await inject("back to operation");
    await h.waitFor(async () => (await twin()).lifecycle.stage === "operating");
    const before = (await twin()).lifecycle.cycles;
    await inject("start pump");
    await h.waitFor(async () => (await twin()).lifecycle.cycles === before + 1, 10000);
    since = comms.received.length;
    await inject("kpi");
    await comms.until(() => shown(results, "kpi", since).length, 20000); // the last message: everything before it has run
    assert.doesNotMatch(nr.logs(), /\[error\]/, "the refusal went to the catch node; nothing else failed");
    await comms.close();
    await nr.stop();
  });
});
