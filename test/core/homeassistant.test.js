"use strict";
// Home Assistant MQTT discovery: the configs a twin becomes, checked against what HA documents
// (https://www.home-assistant.io/integrations/mqtt/, "Discovery messages", and the pages of the
// sensor, binary_sensor, number, select, switch and text platforms), and the bridge that keeps
// them, the state, availability and commands in step with the registry.
const assert = require("node:assert/strict");
const { TwinRegistry } = require("../../nodes/lib/core/registry");
const { parseModels } = require("../../nodes/lib/core/models");
const { discoveryOf, haId, commandValue, parseCommandTopic, checkTopicPrefix, checkHaOptions, haUnit } = require("../../nodes/lib/core/homeassistant/discovery");
const { HomeAssistantBridge } = require("../../nodes/lib/core/homeassistant/bridge");
const { manualClock, throwsTwin } = require("./core-support");

const HA = { prefix: "homeassistant", base: "twinwire", id: "twinwire", origin: { name: "Twinwire", sw_version: "1.0.0" } };
const MODELS = parseModels(JSON.stringify({
  pump: {
    properties: {
      temperature: { type: "number", unit: "Cel", minimum: -40, maximum: 200 },
      energy: { type: "number", unit: "kWh" },
      humidity: { type: "number", unit: "%" },
      rpm: { type: "integer", minimum: 0, maximum: 3600, writable: true },
      setpoint: { type: "number", unit: "Cel", writable: true },
      mode: { type: "string", enum: ["auto", "manual", "off"], writable: true },
      fault: { type: "string", enum: ["none", "overheat"] },
      running: { type: "boolean" },
      enabled: { type: "boolean", writable: true },
      label: { type: "string", writable: true },
      note: { type: "string" },
      config: { type: "object" },
    },
  },
}));

/** HA's character class for the node id and object id levels of a discovery topic. */
const HA_ID = /^[a-zA-Z0-9_-]+$/;
/** What each platform needs besides a state topic, per HA's platform pages. */
const REQUIRED = {
  sensor: ["state_topic"],
  binary_sensor: ["state_topic"],
  number: ["command_topic", "state_topic", "min", "max", "step"],
  select: ["command_topic", "options"],
  switch: ["command_topic"],
  text: ["command_topic"],
};

function registry(clock = manualClock()) {
  const reg = new TwinRegistry({ models: MODELS, clock });
  reg.open();
  return reg;
}

function view(reg, id) {
  const twin = reg.twin(id);
  return { id: twin.id, modelName: twin.model, model: reg.modelOf(twin), attributes: twin.attributes, reported: twin.reported };
}

function byProperty(list) {
  return Object.fromEntries(list.map((d) => [d.property, d]));
}

describe("core/homeassistant: discovery configs", function () {
  it("makes one entity per property HA can show, on the platform its type and writability call for", function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump", attributes: { name: "Pump 7", manufacturer: "Acme", location: "Cellar" } });
    const d = byProperty(discoveryOf(view(reg, "pump-07"), HA));
    const platforms = Object.fromEntries(Object.entries(d).map(([p, x]) => [p, x.platform]));
    assert.deepEqual(platforms, {
      temperature: "sensor", energy: "sensor", humidity: "sensor", rpm: "number", setpoint: "number", mode: "select",
      fault: "sensor", running: "binary_sensor", enabled: "switch", label: "text", note: "sensor",
    }, "config (an object) has no entity");
    for (const x of Object.values(d)) {
      const [prefix, platform, node, object, last] = x.topic.split("/");
      assert.deepEqual([prefix, platform, last], ["homeassistant", x.platform, "config"]);
      assert.match(node, HA_ID);
      assert.match(object, HA_ID);
      for (const field of REQUIRED[x.platform]) assert.ok(x.config[field] !== undefined, `${x.property}: ${field}`);
      assert.equal(x.config.device.identifiers[0], node, "one HA device per twin");
      assert.equal(x.config.device.name, "Pump 7");
      assert.equal(x.config.device.model, "pump");
      assert.equal(x.config.device.manufacturer, "Acme");
      assert.equal(x.config.device.suggested_area, "Cellar");
      assert.equal(x.config.origin.name, "Twinwire");
      assert.deepEqual(x.config.availability.map((a) => a.topic), ["twinwire/status", "twinwire/pump-07/availability"]);
      assert.equal(x.config.availability_mode, "all");
      assert.equal(x.config.state_topic, "twinwire/pump-07/state");
      assert.equal(x.config.unique_id, `${node}-${x.property}`);
    }
    assert.equal(new Set(Object.values(d).map((x) => x.config.unique_id)).size, 11, "unique ids are unique");
  });

  it("shows units as HA does, with the device class HA allows for them, and a state class for statistics", function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump" });
    const d = byProperty(discoveryOf(view(reg, "pump-07"), HA));
    assert.deepEqual([d.temperature.config.unit_of_measurement, d.temperature.config.device_class, d.temperature.config.state_class], ["°C", "temperature", "measurement"]);
    assert.deepEqual([d.energy.config.unit_of_measurement, d.energy.config.device_class, d.energy.config.state_class], ["kWh", "energy", "total_increasing"]);
    assert.equal(d.humidity.config.device_class, "humidity", "a % is a humidity when the property says so");
    assert.deepEqual(haUnit("%"), { unit: "%", deviceClass: null }, "and only then");
    assert.deepEqual(haUnit("furlong"), { unit: "furlong", deviceClass: null }, "an unknown unit is shown as written, with no device class");
    assert.deepEqual(haUnit("degreeCelsius"), { unit: "°C", deviceClass: "temperature" });
    assert.deepEqual(haUnit("L"), { unit: "L", deviceClass: "volume_storage" }, "a stored volume: HA allows measurement for it, not for volume");
  });

  it("gives a writable number the model's range (HA's own 1 to 100 would refuse most values)", function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump" });
    const d = byProperty(discoveryOf(view(reg, "pump-07"), HA));
    assert.deepEqual([d.rpm.config.min, d.rpm.config.max, d.rpm.config.step, d.rpm.config.mode], [0, 3600, 1, "auto"]);
    assert.deepEqual([d.setpoint.config.min, d.setpoint.config.max, d.setpoint.config.mode], [-1e9, 1e9, "box"]);
    assert.equal(d.rpm.config.command_topic, "twinwire/pump-07/set/rpm");
    assert.deepEqual(d.mode.config.options, ["auto", "manual", "off"]);
    assert.deepEqual([d.fault.config.device_class, d.fault.config.options], ["enum", ["none", "overheat"]]);
    assert.equal(d.enabled.config.value_template, "{{ 'None' if value_json['enabled'] is none else ('ON' if value_json['enabled'] else 'OFF') }}", "not reported yet: unknown, not OFF");
    assert.equal(d.temperature.config.value_template, "{{ value_json['temperature'] }}");
  });

  it("makes read-only entities for a twin without a model, typed by what it reported", function () {
    const reg = registry();
    reg.create("sensor-1", { reported: { t: 21.5, door: true, state: "idle", blob: { a: 1 } } });
    const d = byProperty(discoveryOf(view(reg, "sensor-1"), HA));
    assert.deepEqual(Object.keys(d).sort(), ["door", "state", "t"]);
    assert.deepEqual([d.t.platform, d.door.platform, d.state.platform], ["sensor", "binary_sensor", "sensor"]);
    for (const x of Object.values(d)) assert.equal(x.config.command_topic, undefined);
  });

  it("maps twin ids HA's ids cannot hold, without letting two twins share one", function () {
    assert.equal(haId("pump-07"), "pump-07");
    assert.match(haId("plant.a:pump-7"), HA_ID);
    assert.notEqual(haId("a.b"), haId("a_b"));
    assert.notEqual(haId("a.b"), haId("a:b"));
    const reg = registry();
    reg.create("site.a:p1", { model: "pump" });
    for (const x of discoveryOf(view(reg, "site.a:p1"), HA)) assert.match(x.topic.split("/")[2], HA_ID);
  });

  it("reads HA's commands as the property's value, and names what it could not read", function () {
    const spec = (type, extra = {}) => ({ name: "x", type, writable: true, ...extra });
    assert.equal(commandValue("p", "x", spec("number"), "21.5"), 21.5);
    assert.equal(commandValue("p", "x", spec("integer"), " 1450 "), 1450);
    assert.equal(commandValue("p", "x", spec("boolean"), "ON"), true);
    assert.equal(commandValue("p", "x", spec("boolean"), "OFF"), false);
    assert.equal(commandValue("p", "x", spec("string"), "manual"), "manual");
    throwsTwin(() => commandValue("p", "x", spec("number"), "warm"), "invalid-value", { twinId: "p", property: "x", rule: "a number" });
    throwsTwin(() => commandValue("p", "x", spec("number"), ""), "invalid-value");
    throwsTwin(() => commandValue("p", "x", spec("integer"), "1.5"), "invalid-value", { rule: "a whole number" });
    throwsTwin(() => commandValue("p", "x", spec("boolean"), "yes"), "invalid-value", { rule: "ON or OFF" });
    throwsTwin(() => commandValue("p", "x", undefined, "1"), "invalid-value", { rule: "not in the twin's model" });
    assert.deepEqual(parseCommandTopic(HA, "twinwire/pump-07/set/rpm"), { twinId: "pump-07", property: "rpm" });
    assert.equal(parseCommandTopic(HA, "twinwire/pump-07/state"), null);
    assert.equal(parseCommandTopic(HA, "other/pump-07/set/rpm"), null);
    assert.equal(parseCommandTopic(HA, "twinwire/pump-07/set/rpm/extra"), null);
  });

  it("never gives two entities one unique id, whatever the twin ids and property names", function () {
    const reg = registry();
    reg.create("room", { reported: { a_temp: 1 } });
    reg.create("room_a", { reported: { temp: 1 } });
    const ids = [...discoveryOf(view(reg, "room"), HA), ...discoveryOf(view(reg, "room_a"), HA)].map((d) => d.config.unique_id);
    assert.equal(new Set(ids).size, 2, ids.join(" "));
  });

  it("keeps the bridge's topics apart from HA's discovery prefix, and its id to letters and digits", function () {
    const o = (base, prefix = "homeassistant", id = "twinwire") => ({ ...HA, base, prefix, id });
    assert.equal(checkHaOptions(o("twinwire")).base, "twinwire");
    throwsTwin(() => checkHaOptions(o("homeassistant")), "invalid-option", { option: "base" });
    throwsTwin(() => checkHaOptions(o("homeassistant/twins")), "invalid-option", { option: "base" });
    throwsTwin(() => checkHaOptions(o("ha", "ha/discovery")), "invalid-option", { option: "base" });
    throwsTwin(() => checkHaOptions(o("twinwire", "homeassistant", "a_b")), "invalid-option", { option: "haId" });
    throwsTwin(() => checkHaOptions(o("twinwire", "homeassistant", "a-b")), "invalid-option", { option: "haId" });
  });

  it("refuses topic prefixes with wildcards or empty levels", function () {
    assert.equal(checkTopicPrefix("base", " plant/twins "), "plant/twins");
    for (const bad of ["", "a/+/b", "a/#", "/a", "a/", "a//b", 12, null]) throwsTwin(() => checkTopicPrefix("base", bad), "invalid-option", { option: "base" });
  });
});

describe("core/homeassistant: the bridge follows the registry", function () {
  const timers = () => {
    const pending = [];
    return { pending, set: (fn, ms) => pending.push({ fn, ms }) && pending.length, clear: () => undefined };
  };

  function start(reg, options = {}) {
    const out = [];
    const errors = [];
    const bridge = new HomeAssistantBridge(reg, { ha: HA, emit: (p) => out.push(...p), onError: (e) => errors.push(e), defer: (fn) => fn(), timers: timers(), ...options });
    bridge.start();
    return { bridge, out, errors };
  }
  const tick = () => new Promise((r) => setImmediate(r));
  const topicsOf = (list) => list.map((p) => p.topic);

  it("announces every twin on start: configs, attributes, availability, state, all retained, and the bridge online", function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump", reported: { temperature: 61.5, running: true } });
    reg.create("pump-08", { model: "pump" });
    const { out, bridge } = start(reg);
    assert.equal(out[0].topic, "twinwire/status");
    assert.equal(out[0].payload, "online");
    assert.ok(out.every((p) => p.retain), "everything retained");
    const state = out.find((p) => p.topic === "twinwire/pump-07/state");
    const values = JSON.parse(state.payload);
    assert.equal(values.temperature, 61.5);
    assert.equal(values.running, true);
    assert.equal(values.rpm, null, "not reported yet: null, which HA shows as unknown");
    assert.equal(out.find((p) => p.topic === "twinwire/pump-07/availability").payload, "online");
    assert.equal(out.find((p) => p.topic === "twinwire/pump-08/availability").payload, "offline");
    assert.equal(out.filter((p) => p.topic.startsWith("homeassistant/")).length, 22);
    assert.equal(bridge.size, 2);
  });

  it("keeps to its twin-id globs", function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump" });
    reg.create("boiler-1", { model: "pump" });
    const { out } = start(reg, { handles: (id) => id.startsWith("pump-") });
    assert.ok(topicsOf(out).every((t) => !t.includes("boiler")));
  });

  it("announces a twin created later and sends state after a reading, at most once per interval", async function () {
    const clock = manualClock();
    const reg = registry(clock);
    const t = timers();
    const { out } = start(reg, { timers: t, clock, stateIntervalMs: 1000 });
    out.length = 0;
    reg.create("pump-07", { model: "pump" });
    await tick();
    assert.ok(topicsOf(out).includes("homeassistant/sensor/twinwire_pump-07/temperature/config"));
    out.length = 0;
    reg.report("pump-07", { temperature: 60 });
    await tick();
    reg.report("pump-07", { temperature: 61 });
    await tick();
    const states = out.filter((p) => p.topic === "twinwire/pump-07/state");
    assert.equal(states.length, 1, "the second reading waits for the interval");
    assert.equal(JSON.parse(states[0].payload).temperature, 60);
    clock.advance(1000);
    t.pending.shift().fn();
    const later = out.filter((p) => p.topic === "twinwire/pump-07/state");
    assert.equal(JSON.parse(later[1].payload).temperature, 61, "then the latest value");
  });

  it("removes a deleted twin's entities with empty retained configs, and clears its topics", async function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump" });
    const { out, bridge } = start(reg);
    const configs = topicsOf(out).filter((t) => t.startsWith("homeassistant/"));
    out.length = 0;
    reg.remove("pump-07");
    const cleared = out.filter((p) => p.payload === "" && p.retain);
    assert.deepEqual(topicsOf(cleared).filter((t) => t.startsWith("homeassistant/")).sort(), configs.sort());
    for (const topic of ["twinwire/pump-07/state", "twinwire/pump-07/availability", "twinwire/pump-07/attributes"]) assert.ok(topicsOf(cleared).includes(topic), topic);
    assert.equal(bridge.size, 0);
  });

  it("sends availability only when connectivity changes and attributes only when they change, not with every reading", async function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump" });
    const { out } = start(reg, { stateIntervalMs: 0 });
    out.length = 0;
    for (let i = 0; i < 3; i++) {
      reg.report("pump-07", { temperature: 60 + i });
      await tick();
    }
    assert.deepEqual(topicsOf(out), ["twinwire/pump-07/availability", "twinwire/pump-07/state", "twinwire/pump-07/state", "twinwire/pump-07/state"], "availability once: the twin came online with its first reading");
    out.length = 0;
    reg.updateAttributes("pump-07", { site: "north" });
    await tick();
    assert.deepEqual(topicsOf(out), ["twinwire/pump-07/attributes"]);
  });

  it("does not announce a twin without a model again for a property HA has no entity for", async function () {
    const reg = registry();
    reg.create("s1", { reported: { t: 1, meta: { a: 1 } } });
    const { out } = start(reg, { stateIntervalMs: 0 });
    out.length = 0;
    for (let i = 0; i < 3; i++) {
      reg.report("s1", { t: 2 + i, meta: { a: i } });
      await tick();
    }
    assert.equal(out.filter((p) => p.topic.startsWith("homeassistant/")).length, 0);
  });

  it("clears a retained config of its own that no twin stands for, with that twin's topics, and leaves the others alone", function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump" });
    const { out, bridge } = start(reg);
    const own = out.find((p) => p.topic === "homeassistant/sensor/twinwire_pump-07/temperature/config");
    out.length = 0;
    bridge.noticeConfig(own.topic, own.payload);
    bridge.noticeConfig("homeassistant/sensor/zigbee_lamp/power/config", JSON.stringify({ state_topic: "zigbee/lamp" }));
    bridge.noticeConfig("homeassistant/sensor/twinwire2_pump-07/temperature/config", JSON.stringify({ state_topic: "twinwire/pump-07/state" }));
    assert.deepEqual(out, [], "current configs, other bridges' and other programs' are left alone");
    bridge.noticeConfig("homeassistant/sensor/twinwire_ghost/temperature/config", JSON.stringify({ state_topic: "twinwire/ghost/state" }));
    bridge.noticeConfig("homeassistant/sensor/twinwire_pump-07/legacy/config", JSON.stringify({ state_topic: "twinwire/pump-07/state" }));
    assert.deepEqual(out.map((p) => [p.topic, p.payload, p.retain]), [
      ["homeassistant/sensor/twinwire_ghost/temperature/config", "", true],
      ["twinwire/ghost/state", "", true],
      ["twinwire/ghost/availability", "", true],
      ["twinwire/ghost/attributes", "", true],
      ["homeassistant/sensor/twinwire_pump-07/legacy/config", "", true],
    ], "a property the model lost loses its entity; the twin keeps its topics");
  });

  it("judges the configs the broker hands over during an announcement only once every twin is announced", function () {
    const reg = registry();
    for (let i = 0; i < 5; i++) reg.create(`pump-${i}`, { model: "pump" });
    const steps = [];
    const { out, bridge } = start(reg, { batch: 2, defer: (fn) => steps.push(fn) });
    // pump-4 is not announced yet: its config must not be taken for a ghost.
    bridge.noticeConfig("homeassistant/sensor/twinwire_pump-4/temperature/config", JSON.stringify({ state_topic: "twinwire/pump-4/state" }));
    bridge.noticeConfig("homeassistant/sensor/twinwire_gone/temperature/config", JSON.stringify({ state_topic: "twinwire/gone/state" }));
    while (steps.length) steps.shift()();
    const cleared = out.filter((p) => p.payload === "").map((p) => p.topic);
    assert.deepEqual(cleared, ["homeassistant/sensor/twinwire_gone/temperature/config", "twinwire/gone/state", "twinwire/gone/availability", "twinwire/gone/attributes"]);
  });

  it("turns a command into desired state checked by the model, audited as from Home Assistant", function () {
    const reg = registry();
    reg.create("pump-07", { model: "pump" });
    const { bridge } = start(reg);
    bridge.command("pump-07", "rpm", "1450");
    bridge.command("pump-07", "mode", "manual");
    bridge.command("pump-07", "enabled", "ON");
    const doc = reg.get("pump-07");
    assert.deepEqual({ ...doc.desired }, { rpm: 1450, mode: "manual", enabled: true });
    assert.equal(doc.meta.desired.rpm.by, "homeassistant");
    const version = doc.version;
    throwsTwin(() => bridge.command("pump-07", "rpm", "9000"), "invalid-value", { twinId: "pump-07", property: "rpm" });
    throwsTwin(() => bridge.command("pump-07", "mode", "turbo"), "invalid-value");
    throwsTwin(() => bridge.command("pump-07", "temperature", "20"), "not-writable");
    throwsTwin(() => bridge.command("pump-99", "rpm", "1"), "not-found", { twinId: "pump-99" });
    const narrow = start(reg, { handles: (id) => id === "pump-07" }).bridge;
    assert.equal(narrow.command("boiler-1", "rpm", "1"), null, "another bridge's twin: not this bridge's business, no error");
    assert.equal(reg.get("pump-07").version, version, "a refused command changes nothing");
  });

  it("announces a new property of a twin without a model when it first reports it", async function () {
    const reg = registry();
    reg.create("s1", { reported: { t: 1 } });
    const { out } = start(reg);
    out.length = 0;
    reg.report("s1", { t: 2, rh: 40 });
    await tick();
    assert.ok(topicsOf(out).includes("homeassistant/sensor/twinwire_s1/rh/config"));
  });
});

