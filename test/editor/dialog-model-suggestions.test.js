"use strict";
// The twin and twin-sensor dialogs suggest the chosen registry's model names, as the registry
// parsed them (GET twin-models/:registry, the Twins sidebar's source too), while the field stays
// free text for a model the next deploy brings; a typed name the deployed registry lacks is
// pointed out under the field. resources/editor/dialogs.js is plain browser code: it runs here in
// a vm, with a small stand-in for the jQuery calls it makes and requests the test answers by hand.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const root = path.join(__dirname, "..", "..");
const DIALOGS = path.join(root, "resources", "editor", "dialogs.js");

/** A DOM element as far as dialogs.js uses it. */
function element(tag, id) {
  return { tag, id, attrs: id ? { id } : {}, value: "", text: "", shown: true, children: [], handlers: {}, after: null };
}

/** TwinwireEditor with a jQuery stand-in over `elements` (by "#id"); requests[i] = { url, answer(json), refuse() }. */
function load(elements) {
  const requests = [];
  const wrap = (el) => {
    const w = {
      el,
      attr(k, v) {
        if (v === undefined) return el.attrs[k];
        el.attrs[k] = v;
        return w;
      },
      val(v) {
        if (v === undefined) return el.value;
        el.value = v;
        return w;
      },
      text(t) {
        el.text = t;
        return w;
      },
      toggle(on) {
        el.shown = on;
        return w;
      },
      on(events, fn) {
        for (const e of events.split(" ")) (el.handlers[e] ??= []).push(fn);
        return w;
      },
      insertAfter(other) {
        other.el.after = el;
        return w;
      },
      append(child) {
        el.children.push(child.el);
        return w;
      },
      empty() {
        el.children = [];
        return w;
      },
    };
    return w;
  };
  const $ = (sel) => {
    const made = /^<(\w+)>$/.exec(sel);
    if (made) return wrap(element(made[1]));
    const el = elements[sel.slice(1)];
    assert.ok(el, `no element ${sel}`);
    return wrap(el);
  };
  $.getJSON = (url) => {
    const request = { url, ok: [], bad: [] };
    request.answer = (json) => request.ok.forEach((fn) => fn(json));
    request.refuse = (status = 404) => request.bad.forEach((fn) => fn({ status }));
    const promise = {
      done: (fn) => (request.ok.push(fn), promise),
      fail: (fn) => (request.bad.push(fn), promise),
    };
    requests.push(request);
    return promise;
  };
  const window = {};
  const RED = { _: (key) => `text of ${key}` };
  vm.runInNewContext(fs.readFileSync(DIALOGS, "utf8"), { window, RED, $ }, { filename: DIALOGS });
  return { E: window.TwinwireEditor, requests };
}

/** The model field, the registry select and the hint of a dialog, as oneditprepare finds them. */
function dialog(registry) {
  const elements = {
    "node-input-model": element("input", "node-input-model"),
    "node-input-registry": element("select", "node-input-registry"),
    "twin-model-hint": element("div", "twin-model-hint"),
  };
  elements["node-input-registry"].value = registry;
  elements["twin-model-hint"].shown = false;
  return elements;
}

const fire = (el, event) => (el.handlers[event] ?? []).forEach((fn) => fn());
const suggested = (input) => input.after.children.map((o) => o.attrs.value);

describe("editor dialogs: model names suggested from the registry", function () {
  it("says nothing under the field for a blank or listed model, and names what is wrong otherwise", function () {
    const { E } = load({});
    assert.equal(E.modelHint(["pump", "fan"], "pump", true), null);
    assert.equal(E.modelHint(["pump", "fan"], " fan ", true), null, "as the runtime trims it");
    assert.equal(E.modelHint(["pump"], "", true), null);
    assert.equal(E.modelHint(["pump"], "Pump", true), "modelHint.notInRegistry", "model names are case-sensitive");
    assert.equal(E.modelHint([], "pump", true), "modelHint.noModels");
    assert.equal(E.modelHint(null, "pump", true), "modelHint.notDeployed");
    assert.equal(E.modelHint(null, "pump", false), null, "no registry chosen yet: nothing to say");
  });

  it("offers the deployed registry's model names in a datalist, keeping the field free text", function () {
    const el = dialog("reg:1");
    const { requests: asked, E } = load(el);
    E.modelSuggestions("#node-input-model", "#node-input-registry", "#twin-model-hint", "twin");
    assert.deepEqual(asked.map((r) => r.url), ["twin-models/reg%3A1"]);
    const input = el["node-input-model"];
    assert.equal(input.tag, "input", "still a text field");
    assert.equal(input.attrs.list, input.after.attrs.id);
    assert.equal(input.after.tag, "datalist");
    assert.equal(el["twin-model-hint"].text, "text of @twinwire/node-red-twins/twin:twin.modelHint.notDeployed", "until the names arrive");
    asked[0].answer({ models: ["dtmi:com:example:Thermostat;1", "pump", 7] });
    assert.deepEqual(suggested(input), ["dtmi:com:example:Thermostat;1", "pump"]);
    assert.equal(el["twin-model-hint"].shown, false, "a blank field needs no words");

    input.value = "fan";
    fire(input, "input");
    assert.deepEqual([el["twin-model-hint"].shown, el["twin-model-hint"].text], [true, "text of @twinwire/node-red-twins/twin:twin.modelHint.notInRegistry"]);
    input.value = "pump";
    fire(input, "change");
    assert.equal(el["twin-model-hint"].shown, false);
  });

  it("asks again when another registry is chosen, dropping the first one's late answer", function () {
    const el = dialog("reg-1");
    const { E, requests } = load(el);
    E.modelSuggestions("#node-input-model", "#node-input-registry", "#twin-model-hint", "twin-sensor");
    el["node-input-registry"].value = "reg-2";
    fire(el["node-input-registry"], "change");
    fire(el["node-input-registry"], "change");
    assert.deepEqual(requests.map((r) => r.url), ["twin-models/reg-1", "twin-models/reg-2"], "once per registry chosen");
    requests[1].answer({ models: ["fan"] });
    requests[0].answer({ models: ["pump"] });
    assert.deepEqual(suggested(el["node-input-model"]), ["fan"]);
    el["node-input-model"].value = "pump";
    fire(el["node-input-model"], "input");
    assert.equal(el["twin-model-hint"].text, "text of @twinwire/node-red-twins/twin-sensor:twin-sensor.modelHint.notInRegistry");
  });

  it("asks nothing while no registry is chosen, and says the names come with a deploy when the registry is not running", function () {
    const el = dialog("_ADD_");
    const { E, requests } = load(el);
    E.modelSuggestions("#node-input-model", "#node-input-registry", "#twin-model-hint", "twin");
    assert.deepEqual(requests, []);
    assert.equal(el["twin-model-hint"].shown, false);
    el["node-input-registry"].value = "new-registry";
    fire(el["node-input-registry"], "change");
    requests[0].refuse(404);
    assert.deepEqual(suggested(el["node-input-model"]), []);
    assert.deepEqual([el["twin-model-hint"].shown, el["twin-model-hint"].text], [true, "text of @twinwire/node-red-twins/twin:twin.modelHint.notDeployed"]);
  });

  it("both dialogs use it with a hint element of their own and the catalog words it names", function () {
    for (const [file, hint, catalog] of [["twin.html", "twin-model-hint", "twin"], ["twin-sensor.html", "twin-sensor-model-hint", "twin-sensor"]]) {
      const html = fs.readFileSync(path.join(root, "nodes", file), "utf8");
      assert.ok(html.includes(`TwinwireEditor.modelSuggestions("#node-input-model", "#node-input-registry", "#${hint}", "${catalog}")`), file);
      assert.ok(html.includes(`id="${hint}"`), `${file} has the hint element`);
      const words = require(path.join(root, "nodes", "locales", "en-US", `${catalog}.json`))[catalog].modelHint;
      for (const key of ["notDeployed", "notInRegistry", "noModels"]) assert.equal(typeof words[key], "string", `${catalog}.modelHint.${key}`);
    }
  });
});
