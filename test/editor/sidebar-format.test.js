"use strict";
// How the Twins sidebar words what it shows (resources/sidebar/util.js): units as symbols, spans of
// time as people say them, and which reading times show as dates. Run in a VM with RED._ answering
// its key and parameters; the browser test checks the views that use them.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const UTIL = path.join(__dirname, "..", "..", "resources", "sidebar", "util.js");

function load() {
  const context = {
    window: {},
    RED: { _: (key, params) => key.replace(/^.*twin-admin-api\.sidebar\./, "") + (params ? " " + JSON.stringify(params) : "") },
    $: () => ({}),
  };
  vm.runInNewContext(fs.readFileSync(UTIL, "utf8"), context, { filename: UTIL });
  return context.window.TwinwireSidebar.util;
}

describe("Twins sidebar wording (util.js)", function () {
  const u = load();

  it("shows a model's UCUM unit codes as the symbols people write, and any other unit as written", function () {
    assert.equal(u.unitSymbol("Cel"), "°C");
    assert.equal(u.unitSymbol("[degF]"), "°F");
    assert.equal(u.unitSymbol("kW.h"), "kWh");
    assert.equal(u.unitSymbol("mm/s"), "mm/s");
    assert.equal(u.unitSymbol("kW"), "kW");
    assert.equal(u.unitSymbol("%"), "%");
    assert.equal(u.unitSymbol("%RH"), "% RH");
    assert.equal(u.unitSymbol("1"), "", "a plain ratio has no unit to show");
    assert.equal(u.unitSymbol("furlongs"), "furlongs");
    assert.equal(u.unitSymbol(undefined), "");
  });

  it("says a forecast horizon of 3600 s as 1 h, not 60 min, and longer spans in hours or days", function () {
    assert.equal(u.duration(45), 'time.inSeconds {"n":45}');
    assert.equal(u.duration(1200), 'time.inMinutes {"n":20}');
    assert.equal(u.duration(3600), 'time.inHours {"n":1}');
    assert.equal(u.duration(5400), 'time.inHours {"n":1.5}');
    assert.equal(u.duration(3 * 86400), 'time.inDays {"n":3}');
  });

  it("shows a reading's own time as a date only when it is over a minute from when the twin last heard from its device", function () {
    const lastSeen = 1_800_000_000_000;
    assert.equal(u.readingTimeIsOwn(lastSeen - 15 * 86400000, lastSeen), true, "a warped or replayed reading, 15 days old by its clock");
    assert.equal(u.readingTimeIsOwn(lastSeen + 3600000, lastSeen), true, "a device clock an hour ahead");
    assert.equal(u.readingTimeIsOwn(lastSeen - 30000, lastSeen), false, "read half a minute before it arrived");
    assert.equal(u.readingTimeIsOwn(lastSeen, null), false, "never seen: as it was");
  });
});
