"use strict";
/**
 * A twin registry driven over HTTP at real speed, shared by the persistence tests and the SIGKILL
 * benchmark:
 *
 *   POST /api/twin {operation, twinId, payload} -> change -> twin (operation from msg)
 *     -> change (header x-ack-at: the runtime's clock) -> http response
 *   catch -> change (statusCode 400, {error}) -> http response
 *
 * A 200 answer is an acknowledgement: the twin node completed the message.
 */
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
    { id: "a1f0000000000012", type: "twin", z, registry: REGISTRY, operation: "msg", twinId: "", twinIdType: "str", model: "", wires: [["a1f0000000000016"]] },
    {
      // The runtime's clock when the twin node acknowledged: a loaded machine delays answers
      // unevenly, so the batched window is checked against this, not against arrival times.
      id: "a1f0000000000016", type: "change", z, name: "stamp the acknowledgement",
      rules: [{ t: "set", p: "headers", pt: "msg", to: '{"x-ack-at": $string($millis())}', tot: "jsonata" }],
      wires: [["a1f0000000000013"]],
    },
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
          acks.push({ i, twinId: twinOf(i), version: res.body.version, at: Date.now(), ackAt: Number(res.headers["x-ack-at"]) });
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


module.exports = { REGISTRY, REGISTRY_NAME, TWINS, twinOf, httpTwinFlow, post, getTwin, send, stream, readTwins, missing };
