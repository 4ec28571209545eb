"use strict";
// One registry shared on Redis by three real Node-RED processes (issue 15, docs/redis.md), the
// scale-out layout of the README: devices publish to mosquitto, which deals the readings of a
// shared subscription round-robin to the three instances, so one device's readings reach all of
// them; every instance imported the same flow (mqtt in -> twin-sensor -> a twin-registry on
// Redis, strict, the server on appendfsync always; a twin-mirror to the devices). What a user
// relies on: one twin per device whichever instance a reading reached, every reading the flow
// acknowledged kept once, a desired change sent to the device once, and the flow going on when
// an instance or Redis dies.
//
// The flow acknowledges each reading twin-sensor completed (its output, after the change is
// durable) on the MQTT topic `acks`, and each one it refused on `nacks` (a catch node), with the
// instance that received it: the test counts on the broker what the flows did.
const assert = require("node:assert/strict");
const mqtt = require("mqtt");
const Redis = require("ioredis").default;
const h = require("./harness");
const { startRedis, requireRedis } = require("../support/redis-server");
const { startMosquitto, requireMosquitto } = require("../support/mosquitto");
const { partitionOf } = require("../../nodes/lib/core/store/redis/partitions");

const TWINS = 100;
/** Readings per second, all twins together (one twin every second), from the test's device client. */
const RATE = 100;
/** Short leases (TWINWIRE_REDIS_LEASE_MS), so a dead instance's partitions are taken over in 2-3 s. */
const LEASE_MS = 1500;
const PREFIX = "twinwire:";
/** The registry's name in Redis: its node id, the same in every instance's copy of the flow. */
const REGISTRY = "reg1";
const INSTANCES = ["a", "b", "c"];
const twinIds = Array.from({ length: TWINS }, (_, i) => `t-${String(i).padStart(3, "0")}`);

const clientIdOf = (name) => `it-shared-${name}-${process.pid}`;

function sharedFlow({ redisPort, mqttPort }) {
  const ack = '{"twin": twinId, "seq": seq, "version": payload.version, "by": $env("TWINWIRE_IT_INSTANCE")}';
  const nack = '{"twin": $substringAfter(topic, "readings/"), "seq": seq, "error": error.message, "by": $env("TWINWIRE_IT_INSTANCE")}';
  return [
    { id: "tab1", type: "tab", label: "shared registry" },
    { id: "redis1", type: "twin-redis", name: "redis", topology: "single", url: "", host: "127.0.0.1", port: String(redisPort), db: "0", prefix: PREFIX, usetls: false },
    { id: REGISTRY, type: "twin-registry", name: "plant", persistence: "redis", redis: "redis1", redisDurability: "strict", redisName: "",
      historyLength: "1000", staleness: "0", maxDocumentKb: "64", models: "" },
    // Each instance its own client id (an environment variable, the flow stays the same).
    { id: "broker1", type: "mqtt-broker", name: "mosquitto", broker: "127.0.0.1", port: String(mqttPort), clientid: "${TWINWIRE_IT_CLIENT}",
      autoConnect: true, usetls: false, protocolVersion: "5", keepalive: "15", cleansession: true },
    { id: "in1", type: "mqtt in", z: "tab1", topic: "$share/twinwire/readings/+", qos: "1", datatype: "json", broker: "broker1", nl: false, rap: true, rh: 0, inputs: 0, x: 100, y: 100, wires: [["keep1"]] },
    { id: "keep1", type: "change", z: "tab1", rules: [{ t: "set", p: "seq", pt: "msg", to: "payload.seq", tot: "msg" }], x: 250, y: 100, wires: [["sensor1"]] },
    { id: "sensor1", type: "twin-sensor", z: "tab1", registry: REGISTRY, pattern: "readings/{twin}", value: "payload", valueType: "msg", timestamp: "payload.ts", timestampType: "msg",
      unknown: "create", model: "", output: "event", x: 400, y: 100, wires: [["ack1"]] },
    { id: "ack1", type: "change", z: "tab1", rules: [{ t: "set", p: "payload", pt: "msg", to: ack, tot: "jsonata" }, { t: "set", p: "topic", pt: "msg", to: "acks", tot: "str" }], x: 550, y: 100, wires: [["out1"]] },
    { id: "catch1", type: "catch", z: "tab1", scope: ["sensor1"], uncaught: false, x: 400, y: 160, wires: [["nack1"]] },
    { id: "nack1", type: "change", z: "tab1", rules: [{ t: "set", p: "payload", pt: "msg", to: nack, tot: "jsonata" }, { t: "set", p: "topic", pt: "msg", to: "nacks", tot: "str" }], x: 550, y: 160, wires: [["out1"]] },
    // Commands wait far longer than the test for the device's answer: a second command is never a retry.
    { id: "mirror1", type: "twin-mirror", z: "tab1", registry: REGISTRY, twinId: "", twinIdType: "str", scope: "all", pattern: "", topic: "devices/{twin}/set",
      timeout: "300", retries: "0", backoff: "2", clearOnApplied: false, resendOnDeploy: false, x: 400, y: 220, wires: [["out1"], []] },
    { id: "out1", type: "mqtt out", z: "tab1", topic: "", qos: "1", retain: "false", broker: "broker1", x: 700, y: 160, wires: [] },
  ];
}

/**
 * The test's side of the broker: the devices' readings (per twin a sequence number and a source
 * time that only grows), the flows' acks and nacks, and the devices' command topic. A device
 * reports a commanded value back, as a device does, which settles the twin's delta.
 */
async function connectDevices(url) {
  const client = mqtt.connect(url, { clientId: `it-devices-${process.pid}`, protocolVersion: 5, reconnectPeriod: 100 });
  await new Promise((resolve, reject) => client.once("connect", resolve).once("error", reject));
  const acks = [];
  const nacks = [];
  const commands = [];
  const acked = new Set();
  const nacked = new Set();
  const lastTs = new Map();
  const published = [];
  const sequence = new Map(twinIds.map((id) => [id, 0]));
  let next = 0;
  let timer = null;

  function publish(twin, body) {
    const ts = Math.max(Date.now(), (lastTs.get(twin) || 0) + 1);
    lastTs.set(twin, ts);
    client.publish(`readings/${twin}`, JSON.stringify({ ...body, ts }), { qos: 1 });
  }
  client.on("message", (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic === "acks") {
      acks.push(body);
      if (body.seq !== undefined) acked.add(`${body.twin}#${body.seq}`);
    } else if (topic === "nacks") {
      nacks.push(body);
      if (body.seq !== undefined) nacked.add(`${body.twin}#${body.seq}`);
    } else {
      const twin = topic.split("/")[1];
      commands.push({ twin, delta: body });
      publish(twin, body);
    }
  });
  await client.subscribeAsync({ acks: { qos: 1 }, nacks: { qos: 1 }, "devices/+/set": { qos: 1 } });

  return {
    client,
    acks,
    nacks,
    commands,
    published,
    publish,
    isAcked: (r) => acked.has(`${r.twin}#${r.seq}`),
    isAnswered: (r) => acked.has(`${r.twin}#${r.seq}`) || nacked.has(`${r.twin}#${r.seq}`),
    /** Readings round-robin over the twins at RATE per second until stop(). */
    start() {
      const t0 = Date.now();
      let sent = 0;
      timer = setInterval(() => {
        const due = Math.floor(((Date.now() - t0) * RATE) / 1000);
        for (; sent < due; sent++) {
          const twin = twinIds[next++ % TWINS];
          const seq = sequence.get(twin) + 1;
          sequence.set(twin, seq);
          published.push({ twin, seq });
          publish(twin, { seq });
        }
      }, 10);
    },
    stop() {
      clearInterval(timer);
      timer = null;
    },
    /** Resolves once the flows acknowledged or refused every reading of `list`; says which they did not. */
    async answered(list, timeoutMs = 30000) {
      await h.waitFor(() => list.every((r) => this.isAnswered(r)), timeoutMs).catch((err) => {
        const open = list.filter((r) => !this.isAnswered(r));
        err.message += `; ${open.length} of ${list.length} readings neither acknowledged nor refused, e.g. ${open.slice(0, 8).map((r) => `${r.twin}#${r.seq}`).join(", ")}`;
        throw err;
      });
    },
    /** Resolves once n more readings were published (the stream runs by count, not by time). */
    publishedMore(n, timeoutMs = 30000) {
      const target = published.length + n;
      return h.waitFor(() => published.length >= target, timeoutMs);
    },
    close: () => client.endAsync(true),
  };
}

/** Runs fn over items, `width` at a time. */
async function inParallel(items, width, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}

async function versionsOn(nr) {
  const r = await h.request(nr.url, { path: "/twins/plant?limit=1000" });
  if (r.status !== 200) throw new Error(`GET /twins/plant on ${nr.url}: HTTP ${r.status} ${r.text}`);
  return new Map(r.body.twins.map((t) => [t.id, t.version]));
}

/** Sequence numbers in each twin's history of `seq` on one instance, in the order it keeps them. */
async function historiesOn(nr) {
  const out = new Map();
  await inParallel(twinIds, 6, async (id) => {
    const r = await h.request(nr.url, { path: `/twins/plant/${id}/history/seq` });
    out.set(id, r.status === 200 ? r.body.map((p) => p.value) : []);
  });
  return out;
}

/**
 * Waits until every instance shows the same version of every twin, twice in a row (nothing
 * left in flight), and returns those versions.
 */
async function quiet(instances, timeoutMs = 30000) {
  let previous = null;
  return h.waitFor(async () => {
    const all = await Promise.all(instances.map(versionsOn));
    const key = JSON.stringify([...all[0]].sort());
    const same = all.every((m) => JSON.stringify([...m].sort()) === key);
    const stable = same && key === previous;
    previous = same ? key : null;
    return stable && all[0];
  }, timeoutMs, 300).catch(async (err) => {
    const all = await Promise.all(instances.map((nr) => versionsOn(nr).catch(() => new Map())));
    const differ = [...all[0].keys()].filter((id) => all.some((m) => m.get(id) !== all[0].get(id)));
    err.message += `; twins whose version differs between instances: ${differ.slice(0, 10).map((id) => `${id} ${all.map((m) => m.get(id)).join("/")}`).join(", ")}`;
    throw err;
  });
}

/**
 * What one registry shared by every instance means, checked once the instances are quiet: every
 * instance holds every twin at the same version with the same history; in each twin's history
 * every sequence number is there at most once and in order; every reading acknowledged is there;
 * the versions the acknowledgements carry only grow with the readings of a twin.
 */
async function checkOneRegistry(instances, devices) {
  const versions = await quiet(instances);
  for (const id of twinIds) assert.ok(versions.has(id), `twin ${id} exists`);
  const histories = await Promise.all(instances.map(historiesOn));
  for (const id of twinIds) {
    const seqs = histories[0].get(id);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `${id}: history in order, each reading once: ${seqs.join(",")}`);
    for (let k = 1; k < instances.length; k++) assert.deepEqual(histories[k].get(id), seqs, `${id}: the same history on ${instances[k].url} as on ${instances[0].url}`);
  }
  const byTwin = new Map(twinIds.map((id) => [id, []]));
  for (const ack of devices.acks) if (ack.seq !== undefined && byTwin.has(ack.twin)) byTwin.get(ack.twin).push(ack);
  let acked = 0;
  for (const [id, acks] of byTwin) {
    const seqs = new Set(histories[0].get(id));
    const missing = acks.filter((a) => !seqs.has(a.seq)).map((a) => a.seq);
    assert.deepEqual(missing, [], `${id}: every acknowledged reading in the history`);
    acks.sort((x, y) => x.seq - y.seq);
    for (let i = 1; i < acks.length; i++) {
      assert.ok(acks[i].version > acks[i - 1].version, `${id}: reading ${acks[i].seq} acknowledged at version ${acks[i].version}, after ${acks[i - 1].seq} at ${acks[i - 1].version}`);
    }
    if (acks.length) assert.ok(acks[acks.length - 1].version <= versions.get(id), `${id}: acknowledged versions up to the twin's ${versions.get(id)}`);
    acked += acks.length;
  }
  return { acked, versions };
}

describe("One registry shared on Redis by three Node-RED processes behind mosquitto", function () {
  this.timeout(60000);
  let redisServer;
  let broker;
  let devices;
  let redis;
  let partitions;
  const instances = [];
  const live = () => instances.filter((nr) => nr.alive);

  /** The instance (its name on Redis, as its registry logged it) holding each partition's lease, from Redis. */
  async function leaseHolders() {
    const keys = Array.from({ length: partitions }, (_, p) => `${PREFIX}{${REGISTRY}:p${p}}:lease`);
    return (await redis.mget(keys)).map((holder) => (holder ? holder.split("#")[0] : null));
  }
  const leaderOf = async (twin) => {
    const name = (await leaseHolders())[partitionOf(twin, partitions)];
    return instances.find((nr) => nr.redisName === name);
  };

  before(async function () {
    this.timeout(120000);
    if (!requireRedis(this) || !requireMosquitto(this)) return;
    redisServer = await startRedis({ appendfsync: "always" });
    broker = await startMosquitto();
    devices = await connectDevices(broker.url);
    redis = new Redis(redisServer.port, "127.0.0.1");
    redis.on("error", () => undefined); // the Redis restart below
    const flows = sharedFlow({ redisPort: redisServer.port, mqttPort: broker.port });
    const started = await Promise.all(INSTANCES.map((name) => h.startNodeRed({
      flows,
      env: { TWINWIRE_REDIS_LEASE_MS: String(LEASE_MS), TWINWIRE_IT_INSTANCE: name, TWINWIRE_IT_CLIENT: clientIdOf(name) },
    })));
    started.forEach((nr, i) => instances.push(Object.assign(nr, { name: INSTANCES[i], alive: true })));
    // Each registry logs the name its leases carry (host and a hash of its user directory).
    for (const nr of instances) {
      await nr.waitForLog(/on Redis as instance \S+#/, 30000);
      nr.redisName = /on Redis as instance (\S+)#/.exec(nr.logs())[1];
    }
    assert.equal(new Set(instances.map((nr) => nr.redisName)).size, instances.length, "three instances, three names");

    // The registry exists in Redis, and its partitions are split between the three instances as
    // they will stay: every one held, by the same instance over a whole lease (several rounds).
    partitions = Number(await h.waitFor(() => redis.hget(`${PREFIX}{${REGISTRY}}:meta`, "partitions"), 30000));
    let previous = "";
    await h.waitFor(async () => {
      const holders = await leaseHolders();
      const key = holders.join(",");
      const settled = key === previous && holders.every((name) => name !== null) && instances.every((nr) => holders.includes(nr.redisName));
      previous = key;
      return settled;
    }, 30000, LEASE_MS);
    // Each instance is in the broker's group and its flow acknowledges readings.
    let n = 0;
    await h.waitFor(() => {
      devices.publish("probe", { n: n++ });
      return INSTANCES.every((name) => devices.acks.some((a) => a.by === name));
    }, 30000, 100);
  });

  afterEach(function () {
    h.printLogsIfFailed(this.currentTest, ...instances);
    if (this.currentTest.state === "failed") {
      if (broker) console.error(`--- mosquitto ---\n${broker.logs().slice(-5000)}--- end ---`);
      if (devices) {
        // The flows' refusals, by reason (the same reason for many twins is one cause).
        const reasons = new Map();
        for (const x of devices.nacks) {
          const reason = String(x.error).replace(/"[^"]*"/g, '"…"').replace(/\d+/g, "N");
          reasons.set(reason, [...(reasons.get(reason) || []), `${x.twin}#${x.seq} on ${x.by}`]);
        }
        console.error(`--- refused readings (${devices.nacks.length}) ---`);
        for (const [reason, which] of reasons) console.error(`${which.length} x ${reason} (e.g. ${which.slice(0, 4).join(", ")})`);
      }
    }
  });

  after(async function () {
    this.timeout(60000);
    if (devices) {
      devices.stop();
      await devices.close();
      const refused = devices.published.filter((r) => devices.isAnswered(r) && !devices.isAcked(r)).length;
      console.log(`      ${devices.published.length} readings published, ${devices.published.filter(devices.isAcked).length} acknowledged, ${refused} refused`);
    }
    await h.stopAll();
    if (redis) redis.disconnect();
    if (redisServer) await redisServer.stop();
    if (broker) await broker.stop();
  });

  it("keeps one twin per device while mosquitto deals its readings round-robin to three instances: the same version and history everywhere, each acknowledged reading once", async function () {
    devices.start();
    await devices.publishedMore(3 * TWINS);
    devices.stop();
    const sent = devices.published.slice();
    await devices.answered(sent);
    assert.deepEqual(devices.nacks.filter((x) => x.seq !== undefined), [], "no reading refused");
    // Round-robin: every instance received readings of the same twins.
    for (const name of INSTANCES) {
      assert.ok(devices.acks.filter((a) => a.by === name && a.seq !== undefined).length > TWINS / 2, `instance ${name} received its share`);
    }
    const { acked, versions } = await checkOneRegistry(instances, devices);
    assert.equal(acked, sent.length, "every reading acknowledged");
    for (const id of twinIds) {
      assert.equal(versions.get(id), sent.filter((r) => r.twin === id).length, `${id}: created by its first reading, one version per reading`);
    }
  });

  it("sends a desired change set through the admin API to the device once, from the instance that leads the twin, whichever instance it was set on", async function () {
    const twin = twinIds[7];
    const leader = await leaderOf(twin);
    const follower = instances.find((nr) => nr !== leader);
    for (const [nr, setpoint] of [[follower, 21], [leader, 22]]) {
      const r = await h.request(nr.url, { method: "POST", path: `/twins/plant/${twin}/desired`, body: { setpoint } });
      assert.equal(r.status, 200, `POST desired on ${nr === leader ? "the leader" : "an instance that does not lead the twin"}: ${r.text}`);
      assert.equal(r.body.desired.setpoint, setpoint, "the answer shows the change");
      // The device answers the command with the value: every instance then shows the delta settled.
      await h.waitFor(async () => {
        for (const other of instances) {
          const doc = (await h.request(other.url, { path: `/twins/plant/${twin}` })).body;
          if (doc.reported.setpoint !== setpoint || Object.keys(doc.delta).length !== 0) return false;
        }
        return true;
      }, 20000);
    }
    assert.deepEqual(devices.commands.filter((c) => c.twin === twin).map((c) => c.delta), [{ setpoint: 21 }, { setpoint: 22 }]);
    assert.deepEqual(devices.commands.filter((c) => c.twin !== twin), [], "no command for any other twin");
  });

  it("goes on when one instance is killed (SIGKILL) mid-stream: its twins are taken over and every reading published after it went lands once", async function () {
    const victim = instances[2];
    const holders = await leaseHolders();
    const itsPartitions = holders.map((name, p) => (name === victim.redisName ? p : -1)).filter((p) => p >= 0);
    assert.ok(itsPartitions.length > 0, "the instance killed leads partitions");

    devices.start();
    await devices.publishedMore(RATE);
    const logMark = broker.logs().length;
    await victim.kill("SIGKILL");
    victim.alive = false;
    // From the moment the broker has seen it go, the others get every reading.
    await broker.waitForLog(new RegExp(`Client ${clientIdOf(victim.name)} (closed its connection|disconnected)`), 10000, logMark);
    const from = devices.published.length;
    await devices.publishedMore(3 * TWINS);
    devices.stop();
    const after = devices.published.slice(from);
    await devices.answered(after);
    assert.deepEqual(after.filter((r) => !devices.isAcked(r)).map((r) => devices.nacks.find((x) => x.twin === r.twin && x.seq === r.seq)), [],
      "every reading published after the instance went is acknowledged");

    const now = await leaseHolders();
    const others = live().map((nr) => nr.redisName);
    assert.deepEqual(itsPartitions.filter((p) => !others.includes(now[p])), [], "its partitions led by the instances left");
    await checkOneRegistry(live(), devices);
  });

  it("loses nothing acknowledged when Redis is killed (SIGKILL) mid-stream and restarted on its append-only file (appendfsync always)", async function () {
    const start = devices.published.length;
    devices.start();
    // Killed while readings are being acknowledged (and others are in flight).
    await h.waitFor(() => devices.published.slice(start).filter(devices.isAcked).length >= RATE / 2, 20000);
    await redisServer.kill("SIGKILL");
    const down = devices.published.length;
    redisServer = await redisServer.restart();
    // Back once every twin has taken a reading published after the restart: every partition is
    // led and writable again.
    const back = () => new Set(devices.published.slice(down).filter(devices.isAcked).map((r) => r.twin));
    await h.waitFor(() => twinIds.every((id) => back().has(id)), 40000).catch((err) => {
      const since = devices.published.slice(down);
      const missing = twinIds.filter((id) => !back().has(id));
      err.message += `; since the restart ${since.filter(devices.isAcked).length} acknowledged, ${since.filter((r) => devices.isAnswered(r) && !devices.isAcked(r)).length} refused, ` +
        `${since.filter((r) => !devices.isAnswered(r)).length} neither of ${since.length}; twins with none acknowledged: ${missing.length} (${missing.slice(0, 10).join(", ")})`;
      throw err;
    });
    const from = devices.published.length;
    await devices.publishedMore(2 * TWINS);
    devices.stop();
    const after = devices.published.slice(from);
    await devices.answered(after);
    assert.deepEqual(after.filter((r) => !devices.isAcked(r)).map((r) => devices.nacks.find((x) => x.twin === r.twin && x.seq === r.seq)), [],
      "every reading published once Redis was back is acknowledged");

    await checkOneRegistry(live(), devices);
    // The desired changes of the test above were not sent again by any instance meanwhile.
    assert.equal(devices.commands.length, 2, "still one command per desired change");
  });
});
