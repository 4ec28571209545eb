// Restart persistence against a real Node-RED process, driven over HTTP at real speed:
//
//   POST /api/twin {operation, twinId, payload} -> change -> twin (operation from msg) -> http response
//   catch -> change (statusCode 400, {error}) -> http response
//
// A 200 answer is an acknowledgement: the twin node completed the message. The tests crash the
// process (SIGKILL) while requests are still in flight, restart it on the same user directory
// and read every twin back through the admin API (GET /twins/<registry name>/<id>):
//   - strict: every acknowledged change is there;
//   - batched: everything acknowledged over one window (100 ms) before the last acknowledgement is there;
//   - strict: a desired value the admin API answered 200 for is there;
//   - a graceful stop (SIGTERM) in batched mode loses nothing;
//   - the history of a numeric property survives a restart;
//   - a torn last journal line is skipped with a warning and the rest starts normally;
//   - a second Node-RED on the same user directory waits for the first to let the registry go;
//   - the store directory deleted while running is written again from memory.
"use strict";

const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const h = require("./harness");

const { REGISTRY, REGISTRY_NAME, TWINS, twinOf, httpTwinFlow, post, getTwin, send, stream, readTwins, missing } = require("./http-twin");

/** A registry id that would name a directory outside the user directory. */
const ESCAPE = `../../twinwire-escape-${process.pid}`;

function storeDir(userDir) {
  return path.join(userDir, "twinwire", REGISTRY);
}

describe("persistence across restarts (real Node-RED)", function () {
  this.timeout(90000); // each test starts Node-RED two or three times
  const started = [];
  function check(nr) {
    started.push(nr);
    assert.doesNotMatch(nr.logs(), /Waiting for missing types/, "this package's nodes did not load (nodes/ rebuilt meanwhile?)");
    return nr;
  }
  async function start(options) {
    return check(await h.startNodeRed(options));
  }
  // Each test's first Node-RED, on a user directory of its own, starts in the background while
  // the tests before it run (h.prestart): the starts were a third of this file's time. The
  // restarts a test is about stay in the test.
  const first = new Map();
  function prestart(name, flows) {
    const userDir = h.tempUserDir();
    first.set(name, { userDir, take: h.prestart({ userDir, flows }) });
  }
  /** The prestarted Node-RED of this test, and its user directory. */
  async function startFirst(name) {
    const { userDir, take } = first.get(name);
    return { userDir, nr: check(await take()) };
  }
  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, ...started);
    started.length = 0;
  });
  after(() => h.stopAll());

  before(function () {
    if (!h.isBuilt()) this.skip();
    prestart("strict burst", httpTwinFlow("strict"));
    prestart("batched burst", httpTwinFlow("batched"));
    prestart("strict desired", httpTwinFlow("strict"));
    prestart("batched stop", httpTwinFlow("batched"));
    prestart("history", httpTwinFlow("strict"));
    prestart("torn line", httpTwinFlow("strict"));
    prestart("two processes", httpTwinFlow("strict"));
    prestart("deleted", httpTwinFlow("strict"));
    prestart("escape", httpTwinFlow("batched").map((n) => (n.id === REGISTRY ? { ...n, id: ESCAPE } : n.registry === REGISTRY ? { ...n, registry: ESCAPE } : n)));
  });

  it("strict: every acknowledged change survives a SIGKILL in the middle of a burst", async () => {
    let { userDir, nr } = await startFirst("strict burst");

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

  it("batched: a SIGKILL loses only changes acknowledged within the window (100 ms) before the last acknowledgement", async () => {
    let { userDir, nr } = await startFirst("batched burst");

    // Run long enough that most acknowledgements are well older than the window.
    const run = await stream(nr, { total: 20000, concurrency: 20, killWhen: ({ acks, elapsed }) => acks >= 300 && elapsed >= 800 });
    assert.ok(run.killAt !== null, "the process was never killed (the burst ended first)");
    assert.ok(run.inFlightAtKill > 0, "no request was in flight at the kill: not a crash mid-stream");

    // The promise is bound to acknowledgements, not to the kill: while a change acknowledged
    // more than 100 ms ago is unwritten, nothing more is acknowledged. So every change
    // acknowledged over 100 ms before the last acknowledgement is on disk, however busy the
    // machine. The times are the runtime's own (stamped just after the twin node), with 50 ms
    // for the hop from the twin node to the stamp.
    const WINDOW_MS = 100 + 50;
    const last = Math.max(...run.acks.map((a) => a.ackAt));
    const old = run.acks.filter((a) => a.ackAt <= last - WINDOW_MS);
    assert.ok(old.length >= 50, `only ${old.length} of ${run.acks.length} changes acknowledged over ${WINDOW_MS} ms before the last one`);

    nr = await start({ userDir });
    const docs = await readTwins(nr, run.acks);
    const lost = missing(old, docs);
    assert.deepEqual(
      lost.map((a) => `r${a.i} on ${a.twinId}, acknowledged ${last - a.ackAt} ms before the last acknowledgement`),
      [],
      `${lost.length} of ${old.length} changes acknowledged over ${WINDOW_MS} ms before the last acknowledgement were lost`,
    );
    await nr.stop();
  });

  it("strict: every desired value the admin API answered 200 for survives a SIGKILL right after the answers", async () => {
    let { userDir, nr } = await startFirst("strict desired");
    for (let i = 0; i < TWINS; i++) assert.equal((await send(nr, i)).status, 200);

    const answered = [];
    let killed = null;
    await Promise.all(
      Array.from({ length: 60 }, async (_, k) => {
        const twinId = twinOf(k);
        try {
          const res = await h.request(nr.url, { method: "POST", path: `/twins/${REGISTRY_NAME}/${twinId}/desired`, body: { [`w${k}`]: k } });
          if (res.status === 200) answered.push({ k, twinId });
        } catch {
          return; // cut off by the kill: not acknowledged
        }
        if (answered.length >= 10 && !killed) killed = nr.kill("SIGKILL");
      }),
    );
    assert.ok(killed, "the process was killed");
    await killed;
    assert.ok(answered.length >= 10);

    nr = await start({ userDir });
    const lost = [];
    for (const { k, twinId } of answered) {
      const res = await getTwin(nr, twinId);
      if (res.status !== 200 || res.body.desired[`w${k}`] !== k) lost.push(`w${k} on ${twinId}`);
    }
    assert.deepEqual(lost, [], `${lost.length} of ${answered.length} answered desired values lost`);
    await nr.stop();
  });

  it("batched: a graceful stop (SIGTERM) right after a burst loses nothing", async () => {
    let { userDir, nr } = await startFirst("batched stop");

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
    let { userDir, nr } = await startFirst("history");

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
    let { userDir, nr } = await startFirst("torn line");
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
    await nr.waitForLog(/\[warn\].*torn line/, 15000);
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

  it("a second Node-RED started on the same user directory: its registry waits, naming the first, and opens once the first is gone; nothing acknowledged is lost", async function () {
    this.timeout(150000); // three starts of Node-RED
    let { userDir, nr: first } = await startFirst("two processes");
    // Both ran with the same journal before: each numbered its entries from the same sequence
    // number, and the restart skipped one's as out of sequence (20 of 40 acknowledged changes).
    const second = await start({ userDir });
    await second.waitForLog(/twin registry could not start: .*in use by another process \(pid \d+.*trying again every 5 s/, 15000);
    assert.match(second.logs(), new RegExp(`pid ${first.pid} `), "the error names the process that holds the registry");
    const acks = [];
    for (let i = 0; i < 20; i++) {
      const res = await send(first, i);
      assert.equal(res.status, 200, res.text);
      acks.push({ i, twinId: twinOf(i), version: res.body.version });
      const refused = await post(second, "create", `b-${i}`, { attributes: { b: i } });
      assert.equal(refused.status, 400, "the second process's registry takes no change");
      assert.match(refused.body.error, /in use by another process/);
    }
    assert.equal((second.logs().match(/could not start/g) || []).length, 1, "said once, not at every try");

    // The first one crashes: the lock it left is taken over, by the second and by any restart.
    await first.kill("SIGKILL");
    await second.waitForLog(/twin registry open: the other process let its store directory go/, 20000);
    for (let i = 20; i < 30; i++) {
      const res = await send(second, i);
      assert.equal(res.status, 200, res.text);
      acks.push({ i, twinId: twinOf(i), version: res.body.version });
    }
    await second.kill("SIGKILL");
    const nr = await start({ userDir });
    assert.doesNotMatch(nr.logs(), /damaged|in use by another/);
    const docs = await readTwins(nr, acks);
    assert.deepEqual(missing(acks, docs).map((a) => `r${a.i} on ${a.twinId}`), []);
    await nr.stop();
  });

  it("strict: the store directory deleted while Node-RED runs: the next change writes every twin again from memory, and nothing acknowledged is lost", async () => {
    let { userDir, nr } = await startFirst("deleted");
    const acks = [];
    for (let i = 0; i < 10; i++) {
      const res = await send(nr, i);
      assert.equal(res.status, 200, res.text);
      acks.push({ i, twinId: twinOf(i), version: res.body.version });
    }
    // "To start over, delete it", done before stopping Node-RED. The journal it kept appending to
    // had no name left: every change acknowledged after this was lost at the next start, and so
    // was every twin before it, with no word.
    fs.rmSync(storeDir(userDir), { recursive: true, force: true });
    const run = await stream(nr, { total: 60, concurrency: 10 });
    const after = run.acks.filter((a) => a.i >= 10);
    assert.ok(after.length >= 40, `only ${after.length} of 50 changes acknowledged: ${JSON.stringify(run.failures)}`);
    await nr.kill("SIGKILL");

    nr = await start({ userDir });
    const all = [...acks, ...after];
    const docs = await readTwins(nr, all);
    assert.deepEqual(missing(all, docs).map((a) => `r${a.i} on ${a.twinId}`), []);
    await nr.stop();
  });

  it("a registry whose id is not a plain file name (an imported flow) is refused with a clear error and stores nothing outside the user directory", async () => {
    const escape = ESCAPE;
    const { userDir, nr } = await startFirst("escape");
    await nr.waitForLog(/can not name its store directory/, 10000);
    const res = await post(nr, "create", "x-1", { attributes: { a: 1 } });
    assert.equal(res.status, 400, "the twin node fails the message through the catch node");
    assert.match(res.body.error, /unavailable|can not name/);
    assert.equal(fs.existsSync(path.resolve(userDir, "twinwire", escape)), false, "no directory outside <userDir>/twinwire");
    assert.equal(fs.existsSync(path.resolve(userDir, "twinwire")) && fs.readdirSync(path.resolve(userDir, "twinwire")).length > 0, false);
    await nr.stop();
  });

  it("a read-only store: twins are still read over the admin API, writes get 503 with the disk's error, and work again once the disk is writable", async function () {
    this.timeout(150000); // three starts of Node-RED, each up to 60 s on a loaded machine
    const { execFileSync } = require("child_process");
    const userDir = h.tempUserDir();
    const dir = storeDir(userDir);
    fs.mkdirSync(dir, { recursive: true });
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { stdio: "ignore" });
    } catch {
      if (process.env.CI) throw new Error("mounting a tmpfs failed: CI runs as root and must run this test");
      return this.skip();
    }
    try {
      let nr = await start({ userDir, flows: httpTwinFlow("strict") });
      for (let i = 0; i < 3; i++) assert.equal((await send(nr, i)).status, 200);
      await nr.stop();
      execFileSync("mount", ["-o", "remount,ro", dir]);

      nr = await start({ userDir });
      await nr.waitForLog(/cannot be written \(EROFS/, 10000);
      const twin = await getTwin(nr, twinOf(1));
      assert.equal(twin.status, 200, twin.text);
      assert.equal(twin.body.attributes.r1, 1);
      const list = await h.request(nr.url, { path: `/twins/${REGISTRY_NAME}` });
      assert.equal(list.body.total, 3);
      const refused = await h.request(nr.url, { method: "POST", path: `/twins/${REGISTRY_NAME}/${twinOf(1)}/desired`, body: { mode: "auto" } });
      assert.equal(refused.status, 503);
      assert.match(refused.body.error, /EROFS/);

      execFileSync("mount", ["-o", "remount,rw", dir]);
      await nr.waitForLog(/twin store writable again/, 10000);
      const accepted = await h.request(nr.url, { method: "POST", path: `/twins/${REGISTRY_NAME}/${twinOf(1)}/desired`, body: { mode: "auto" } });
      assert.equal(accepted.status, 200, accepted.text);
      await nr.kill("SIGKILL");
      nr = await start({ userDir });
      assert.equal((await getTwin(nr, twinOf(1))).body.desired.mode, "auto");
      await nr.stop();
    } finally {
      execFileSync("umount", ["-l", dir], { stdio: "ignore" });
    }
  });
});
