// Restart persistence against a real Node-RED process, driven over HTTP at real speed:
//
//   POST /api/twin {operation, twinId, payload} -> change -> twin (operation from msg) -> http response
//   catch -> change (statusCode 400, {error}) -> http response
//
// A 200 answer is an acknowledgement: the twin node completed the message. The tests crash the
// process (SIGKILL) while requests are still in flight, restart it on the same user directory
// and read every twin back through the admin API (GET /twins/<registry name>/<id>):
//   - strict: every acknowledged change is there;
//   - batched: everything acknowledged before the last fsync window is there;
//   - a graceful stop (SIGTERM) in batched mode loses nothing;
//   - the history of a numeric property survives a restart;
//   - a torn last journal line is skipped with a warning and the rest starts normally.
"use strict";

const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const h = require("./harness");

const TAB = "a1f0000000000001";
const REGISTRY = "a1f0000000000002"; // store files: <userDir>/twinwire/<REGISTRY>/
const REGISTRY_NAME = "durable";

/** The HTTP flow above, with one registry in the given persistence mode. */
function httpTwinFlow(persistence) {
  const z = TAB;
  return [
    { id: z, type: "tab", label: "twins over http" },
    {
      id: REGISTRY, type: "twin-registry", name: REGISTRY_NAME, models: "", persistence,
      historyLength: "100", staleness: "0", maxDocumentKb: "64",
    },
    { id: "a1f0000000000010", type: "http in", z, url: "/twin", method: "post", upload: false, swaggerDoc: "", wires: [["a1f0000000000011"]] },
    {
      id: "a1f0000000000011", type: "change", z, name: "body to msg",
      rules: [
        { t: "set", p: "operation", pt: "msg", to: "payload.operation", tot: "msg" },
        { t: "set", p: "twinId", pt: "msg", to: "payload.twinId", tot: "msg" },
        { t: "set", p: "payload", pt: "msg", to: "payload.payload", tot: "msg" },
      ],
      wires: [["a1f0000000000012"]],
    },
    { id: "a1f0000000000012", type: "twin", z, registry: REGISTRY, operation: "msg", twinId: "", twinIdType: "str", model: "", wires: [["a1f0000000000013"]] },
    { id: "a1f0000000000013", type: "http response", z, statusCode: "", headers: {}, wires: [] },
    { id: "a1f0000000000014", type: "catch", z, scope: null, uncaught: false, wires: [["a1f0000000000015"]] },
    {
      id: "a1f0000000000015", type: "change", z, name: "error to 400",
      rules: [
        { t: "set", p: "statusCode", pt: "msg", to: "400", tot: "num" },
        { t: "set", p: "payload", pt: "msg", to: '{"error": error.message}', tot: "jsonata" },
      ],
      wires: [["a1f0000000000013"]],
    },
  ];
}

function post(nr, operation, twinId, payload) {
  return h.request(nr.url, { method: "POST", path: "/api/twin", body: { operation, twinId, payload } });
}

function getTwin(nr, id) {
  return h.request(nr.url, { path: `/twins/${REGISTRY_NAME}/${encodeURIComponent(id)}` });
}

const TWINS = 30;
const twinOf = (i) => `t-${String(i % TWINS).padStart(2, "0")}`;

/**
 * Request i: the first TWINS requests create the twins, the rest update them. Each request adds
 * its own attribute r<i> = i (a merge patch), so every acknowledged change stays visible in the
 * final document even when later changes to the same twin follow it.
 */
function send(nr, i) {
  const key = `r${i}`;
  return i < TWINS
    ? post(nr, "create", twinOf(i), { attributes: { [key]: i } })
    : post(nr, "update", twinOf(i), { [key]: i });
}

/**
 * Fires requests 0..total-1 with at most `concurrency` in flight. After each answer, asks
 * killWhen({acks, elapsed}) whether to crash the process now; once it says yes, the process gets
 * a SIGKILL while the other requests are still in flight, and no new request starts.
 * Every 200 answer is recorded as {i, twinId, version, at} (at: when the answer arrived).
 */
async function stream(nr, { total, concurrency = 20, killWhen }) {
  const acks = [];
  const failures = { refused: 0, errors: 0 };
  let next = 0;
  let inFlight = 0;
  let killAt = null;
  let inFlightAtKill = null;
  let killed = null;
  const started = Date.now();

  async function worker() {
    while (killAt === null && next < total) {
      const i = next++;
      inFlight++;
      try {
        const res = await send(nr, i);
        if (res.status === 200) {
          acks.push({ i, twinId: twinOf(i), version: res.body.version, at: Date.now() });
        } else {
          failures.refused++; // e.g. an update that overtook its twin's create: 400, not acknowledged
        }
      } catch {
        failures.errors++; // connection reset by the kill: not acknowledged
      } finally {
        inFlight--;
      }
      if (killAt === null && killWhen && killWhen({ acks: acks.length, elapsed: Date.now() - started })) {
        killAt = Date.now();
        inFlightAtKill = inFlight;
        killed = nr.kill("SIGKILL");
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (killed) await killed;
  return { acks, failures, killAt, inFlightAtKill, sent: next };
}

/** Reads every twin the acknowledgements name, once each. */
async function readTwins(nr, acks) {
  const docs = new Map();
  for (const id of new Set(acks.map((a) => a.twinId))) {
    const res = await getTwin(nr, id);
    docs.set(id, res.status === 200 ? res.body : null);
  }
  return docs;
}

/** The acknowledgements whose change is missing (or older) in the restarted registry. */
function missing(acks, docs) {
  return acks.filter((a) => {
    const doc = docs.get(a.twinId);
    return !doc || doc.attributes[`r${a.i}`] !== a.i || !(doc.version >= a.version);
  });
}

function storeDir(userDir) {
  return path.join(userDir, "twinwire", REGISTRY);
}

describe("persistence across restarts (real Node-RED)", function () {
  this.timeout(30000);
  const started = [];
  async function start(options) {
    const nr = await h.startNodeRed(options);
    started.push(nr);
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/, "this package's nodes did not load (nodes/ rebuilt meanwhile?)");
    return nr;
  }
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, ...started);
    started.length = 0;
  });
  after(() => h.stopAll());

  before(function () {
    if (!h.isBuilt()) this.skip();
  });

  it("strict: every acknowledged change survives a SIGKILL in the middle of a burst", async () => {
    const userDir = h.tempUserDir();
    let nr = await start({ userDir, flows: httpTwinFlow("strict") });

    const run = await stream(nr, { total: 300, concurrency: 20, killWhen: ({ acks }) => acks >= 150 });
    assert.ok(run.killAt !== null, "the process was never killed");
    assert.ok(run.inFlightAtKill > 0, "no request was in flight at the kill: not a crash mid-stream");
    assert.ok(run.acks.length >= 150, `only ${run.acks.length} acknowledged`);
    assert.ok(run.sent < 300, `all 300 requests were sent before the kill landed`);

    nr = await start({ userDir });
    const docs = await readTwins(nr, run.acks);
    const lost = missing(run.acks, docs);
    assert.deepEqual(
      lost.map((a) => `r${a.i} on ${a.twinId} (v${a.version}): ${JSON.stringify(docs.get(a.twinId) && docs.get(a.twinId).version)}`),
      [],
      `${lost.length} of ${run.acks.length} acknowledged changes lost in strict mode`,
    );
    await nr.stop();
  });

  it("batched: a SIGKILL loses only changes acknowledged in the last fsync window", async () => {
    const userDir = h.tempUserDir();
    let nr = await start({ userDir, flows: httpTwinFlow("batched") });

    // Run long enough that most acknowledgements are well older than the fsync window.
    const run = await stream(nr, { total: 5000, concurrency: 20, killWhen: ({ elapsed }) => elapsed >= 800 });
    assert.ok(run.killAt !== null, "the process was never killed (the burst ended before 800 ms)");
    assert.ok(run.inFlightAtKill > 0, "no request was in flight at the kill: not a crash mid-stream");

    // The store fsyncs pending changes 100 ms after the first of them; a change that arrives
    // while a write+fsync is in progress waits for it to finish and then for the next 100 ms
    // timer. The kill also takes a moment to land after `killAt`. 250 ms leaves room for one
    // 100 ms window, one fsync in progress (a few ms to tens of ms on a busy disk) and the kill,
    // and still catches a store that never syncs on its own (everything would be lost).
    const SLACK_MS = 250;
    const old = run.acks.filter((a) => a.at <= run.killAt - SLACK_MS);
    assert.ok(old.length >= 100, `only ${old.length} changes acknowledged more than ${SLACK_MS} ms before the kill`);

    nr = await start({ userDir });
    const docs = await readTwins(nr, run.acks);
    const lost = missing(old, docs);
    assert.deepEqual(
      lost.map((a) => `r${a.i} on ${a.twinId}, acknowledged ${run.killAt - a.at} ms before the kill`),
      [],
      `${lost.length} of ${old.length} changes acknowledged over ${SLACK_MS} ms before the kill were lost`,
    );
    await nr.stop();
  });

  it("batched: a graceful stop (SIGTERM) right after a burst loses nothing", async () => {
    const userDir = h.tempUserDir();
    let nr = await start({ userDir, flows: httpTwinFlow("batched") });

    const run = await stream(nr, { total: 300, concurrency: 20 });
    assert.equal(run.acks.length + run.failures.refused, 300);
    assert.equal(run.failures.errors, 0);
    // Stop at once: the last changes are still waiting for their 100 ms fsync.
    const exit = await nr.stop();
    assert.deepEqual(exit, { code: 0, signal: null });

    nr = await start({ userDir });
    const docs = await readTwins(nr, run.acks);
    const lost = missing(run.acks, docs);
    assert.deepEqual(lost.map((a) => `r${a.i} on ${a.twinId}`), [], `${lost.length} changes lost by a graceful stop`);
    const list = await h.request(nr.url, { path: `/twins/${REGISTRY_NAME}` });
    assert.equal(list.status, 200);
    assert.equal(list.body.total, TWINS);
    await nr.stop();
  });

  it("keeps the history of a numeric property across a restart", async () => {
    const userDir = h.tempUserDir();
    let nr = await start({ userDir, flows: httpTwinFlow("strict") });

    const res = await post(nr, "create", "boiler-1", { attributes: { site: "north" } });
    assert.equal(res.status, 200, res.text);
    const readings = [20.5, 21, 21.75, 23, 22.25, 24.5, 26, 25.125];
    for (const temperature of readings) {
      const r = await post(nr, "upsert", "boiler-1", { reported: { temperature, label: "not numeric" } });
      assert.equal(r.status, 200, r.text);
    }
    const historyPath = `/twins/${REGISTRY_NAME}/boiler-1/history/temperature`;
    const before = await h.request(nr.url, { path: historyPath });
    assert.equal(before.status, 200, before.text);
    assert.deepEqual(before.body.map((p) => p.value), readings);
    const beforeDoc = (await getTwin(nr, "boiler-1")).body;
    await nr.kill("SIGKILL");

    nr = await start({ userDir });
    const after = await h.request(nr.url, { path: historyPath });
    assert.equal(after.status, 200, after.text);
    assert.deepEqual(after.body, before.body);
    for (const p of after.body) assert.deepEqual(Object.keys(p).sort(), ["ts", "value"]);
    const latest = await h.request(nr.url, { path: `${historyPath}?limit=3` });
    assert.deepEqual(latest.body, before.body.slice(-3));
    const labels = await h.request(nr.url, { path: `/twins/${REGISTRY_NAME}/boiler-1/history/label` });
    assert.deepEqual(labels.body, [], "a string property has no history");

    const doc = (await getTwin(nr, "boiler-1")).body;
    assert.deepEqual(doc, beforeDoc);
    assert.equal(doc.reported.temperature, 25.125);
    assert.equal(doc.version, 1 + readings.length);

    // Readings after the restart extend the same series.
    const r = await post(nr, "upsert", "boiler-1", { reported: { temperature: 27 } });
    assert.equal(r.status, 200, r.text);
    const extended = await h.request(nr.url, { path: historyPath });
    assert.deepEqual(extended.body.map((p) => p.value), [...readings, 27]);
    await nr.stop();
  });

  it("skips a torn last journal line with a warning and starts with the other twins", async () => {
    const userDir = h.tempUserDir();
    let nr = await start({ userDir, flows: httpTwinFlow("strict") });
    const ids = ["m-1", "m-2", "m-3", "m-4", "m-5"];
    for (const id of ids) {
      const res = await post(nr, "create", id, { attributes: { n: Number(id.slice(2)) } });
      assert.equal(res.status, 200, res.text);
    }
    await post(nr, "update", "m-2", { n: 20 });
    await nr.stop();

    // A crash in the middle of an append: half a journal line, no newline.
    const journals = fs.readdirSync(storeDir(userDir)).filter((f) => /^journal-\d+\.log$/.test(f)).sort();
    assert.ok(journals.length > 0, `no journal in ${storeDir(userDir)}`);
    const withData = journals.filter((f) => fs.statSync(path.join(storeDir(userDir), f)).size > 0);
    const journal = path.join(storeDir(userDir), (withData.length ? withData : journals).at(-1));
    fs.appendFileSync(journal, '{"l":99,"o":"u","i":"m-1","v":2,"t":1764130000000,"a":{"n":');

    nr = await start({ userDir });
    await nr.waitForLog(/\[warn\].*torn line/, 5000);
    assert.doesNotMatch(nr.logs(), /\[error\]/, "the torn line must not make the registry fail");
    const registries = await h.request(nr.url, { path: "/twins" });
    assert.deepEqual(registries.body, [{ id: REGISTRY, name: REGISTRY_NAME, count: ids.length }]);
    for (const id of ids) {
      const res = await getTwin(nr, id);
      assert.equal(res.status, 200, `${id}: ${res.text}`);
      assert.equal(res.body.attributes.n, id === "m-2" ? 20 : Number(id.slice(2)));
      assert.equal(res.body.version, id === "m-2" ? 2 : 1);
    }

    // The store keeps working, and the next start finds a clean journal.
    const res = await post(nr, "update", "m-1", { n: 10 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.version, 2);
    await nr.kill("SIGKILL");
    nr = await start({ userDir });
    assert.doesNotMatch(nr.logs(), /torn line|damaged/);
    const m1 = await getTwin(nr, "m-1");
    assert.equal(m1.body.attributes.n, 10);
    await nr.stop();
  });
});
