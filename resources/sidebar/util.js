/*
 * The Twins sidebar (plugin twin-admin-api), shared helpers: elements, formatting, the models
 * as the registry parsed them, and the fetcher that keeps one request in flight
 * per view. Loaded before the plugin's inline script (Node-RED appends a module's HTML once every
 * <script src> of it has loaded, in any order), so nothing here may use another sidebar file when
 * it runs: each file only adds to window.TwinwireSidebar, and sidebar.js wires them at onadd.
 */
(function () {
  "use strict";

  var S = (window.TwinwireSidebar = window.TwinwireSidebar || {});

  var NS = "@twinwire/node-red-twins/twin-admin-api";
  /** A live refetch waits this long for more notices (the feed sends one per registry per 500 ms). */
  var DEBOUNCE_MS = 200;

  function t(key, params) {
    return RED._(NS + ":twin-admin-api.sidebar." + key, params);
  }

  function el(tag, cls, text) {
    var e = $("<" + tag + ">");
    if (cls) e.addClass(cls);
    if (text !== undefined && text !== null) e.text(text);
    return e;
  }

  function icon(name) {
    return $("<i>").addClass("fa " + name);
  }

  function api(path, params) {
    var query = params ? $.param(params) : "";
    return "twins" + path + (query ? "?" + query : "");
  }

  function seg(value) {
    return "/" + encodeURIComponent(value);
  }

  function errorText(xhr) {
    if (xhr && xhr.responseJSON && typeof xhr.responseJSON.error === "string") return xhr.responseJSON.error;
    if (xhr && xhr.status) return xhr.status + " " + (xhr.statusText || "");
    return (xhr && xhr.statusText && xhr.statusText !== "error" && xhr.statusText) || t("errors.network");
  }

  function formatNumber(n) {
    if (!isFinite(n)) return String(n);
    if (Number.isInteger(n)) return String(n);
    var a = Math.abs(n);
    if (a >= 1000) return n.toFixed(0);
    if (a >= 100) return n.toFixed(1);
    if (a >= 1) return String(+n.toFixed(2));
    return String(+n.toPrecision(3));
  }

  function formatValue(v) {
    if (v === null || v === undefined) return "null";
    if (typeof v === "number") return formatNumber(v);
    if (typeof v === "string") return v;
    if (typeof v === "boolean") return String(v);
    var text = JSON.stringify(v);
    return text.length > 200 ? text.slice(0, 199) + "…" : text;
  }

  function valueClass(v) {
    if (typeof v === "number") return "twinwire-v-number";
    if (typeof v === "boolean") return "twinwire-v-boolean";
    if (v === null) return "twinwire-v-null";
    if (typeof v === "string") return "twinwire-v-string";
    return "twinwire-v-object";
  }

  /**
   * How a person writes a model's unit: models hold UCUM codes (src/core/units.ts), which read
   * as codes ("Cel", "kW.h", "[psi]"). Codes not listed are shown as written.
   */
  var UNIT_SYMBOLS = {
    "Cel": "°C", "[degF]": "°F", "K": "K",
    "%RH": "% RH", "[psi]": "psi", "kW.h": "kWh", "W.h": "Wh", "MW.h": "MWh",
    "[mi_i]/h": "mph", "[kn_i]": "kn", "[ppm]": "ppm", "1": "",
    "mm/s": "mm/s", "m/s": "m/s", "km/h": "km/h", "kW": "kW", "W": "W", "%": "%",
    "h": "h", "min": "min", "s": "s", "d": "days", "m3/h": "m³/h", "m3": "m³", "mm": "mm", "m2": "m²",
    "L/min": "L/min", "l/min": "L/min", "1/min": "rpm", "/min": "rpm", "{rpm}": "rpm", "[rpm]": "rpm"
  };

  function unitSymbol(code) {
    if (typeof code !== "string") return "";
    return Object.prototype.hasOwnProperty.call(UNIT_SYMBOLS, code) ? UNIT_SYMBOLS[code] : code;
  }

  function valueEl(v, unit) {
    var span = el("span", "twinwire-v " + valueClass(v), formatValue(v));
    var symbol = unitSymbol(unit);
    if (symbol) span.append(el("span", "twinwire-unit", symbol).attr("title", unit !== symbol ? unit : null));
    return span;
  }

  /**
   * Whether a reading's own time (from the device, or a simulator's warped clock) should show as
   * a date rather than "… ago": when it is more than a minute from when the twin last heard from
   * its device, "15 d ago" beside "last seen just now" would read as a contradiction.
   */
  function readingTimeIsOwn(ts, lastSeen) {
    return typeof ts === "number" && typeof lastSeen === "number" && Math.abs(lastSeen - ts) > 60000;
  }

  /** A date and time in the browser's locale: today's as a time only. */
  function dateText(ts) {
    var d = new Date(ts);
    var today = new Date();
    if (d.toDateString() === today.toDateString()) return d.toLocaleTimeString();
    return d.toLocaleString();
  }

  function ago(ts) {
    if (typeof ts !== "number") return t("time.never");
    var s = Math.max(0, Math.round((Date.now() - ts) / 1000));
    if (s < 2) return t("time.now");
    if (s < 90) return t("time.seconds", { n: s });
    if (s < 90 * 60) return t("time.minutes", { n: Math.round(s / 60) });
    if (s < 36 * 3600) return t("time.hours", { n: Math.round(s / 3600) });
    return t("time.days", { n: Math.round(s / 86400) });
  }

  /** A span of time as people say it: 45 s, 20 min, 1 h, 1.5 h, 3 d (a forecast "in 1 h", not "in 60 min"). */
  function duration(seconds) {
    var s = Math.abs(seconds);
    var tenths = function (n) { return Math.round(n * 10) / 10; };
    if (s < 90) return t("time.inSeconds", { n: Math.round(s) });
    if (s < 3600) return t("time.inMinutes", { n: Math.round(s / 60) });
    if (s < 48 * 3600) return t("time.inHours", { n: tenths(s / 3600) });
    return t("time.inDays", { n: s < 10 * 86400 ? tenths(s / 86400) : Math.round(s / 86400) });
  }

  function timeEl(ts) {
    var span = el("span", "twinwire-time", ago(ts));
    if (typeof ts === "number") span.attr("title", new Date(ts).toLocaleString());
    return span;
  }

  function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  function has(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function keys(obj) {
    return isObject(obj) ? Object.keys(obj) : [];
  }

  /*
   * Models as the registry parsed them (GET twin-models/..., src/plugins/admin-api.ts), so WoT,
   * DTDL, arrays, Components and a models folder show the same units, ranges and writability the
   * registry checks by: the editor never parses the Models text itself. Kept per registry until it
   * restarts (forgetModels); a model is fetched once, when a view first needs it, and the views
   * are told (onModels) so they can draw it again.
   */
  var LOADING = {};
  var modelCache = new Map(); // registry id -> { names: null | LOADING | [name], models: Map(name -> properties | LOADING | null), unresolved: Map(name -> [link]) }
  var modelListeners = [];

  function modelEntry(registryId) {
    var entry = modelCache.get(registryId);
    if (!entry) modelCache.set(registryId, entry = { names: null, models: new Map(), unresolved: new Map() });
    return entry;
  }

  function modelsLoaded(registryId, model) {
    modelListeners.forEach(function (fn) { fn(registryId, model); });
  }

  /** The properties of a registry's model, by twin property name; null until fetched (or unknown). */
  function modelProperties(registryId, model) {
    if (!registryId || typeof model !== "string" || !model) return null;
    var entry = modelEntry(registryId);
    var props = entry.models.get(model);
    if (props === undefined) {
      entry.models.set(model, LOADING);
      $.getJSON("twin-models" + seg(registryId) + seg(model)).done(function (json) {
        if (modelCache.get(registryId) !== entry) return; // forgotten meanwhile
        entry.models.set(model, json && isObject(json.properties) ? json.properties : null);
        if (json && Array.isArray(json.unresolved)) entry.unresolved.set(model, json.unresolved.filter(isObject));
        modelsLoaded(registryId, model);
      }).fail(function () {
        if (modelCache.get(registryId) === entry) entry.models.set(model, null);
      });
      return null;
    }
    return props === LOADING ? null : props;
  }

  /**
   * The links of an incomplete Thing Model that the registry could not follow ({ link, href,
   * property?, instance? }), once its properties have arrived; empty for a complete model.
   */
  function modelUnresolved(registryId, model) {
    var entry = registryId ? modelCache.get(registryId) : null;
    return (entry && entry.unresolved.get(model)) || [];
  }

  function unitOf(props, name) {
    var p = props && has(props, name) ? props[name] : null;
    return p && typeof p.unit === "string" ? p.unit : "";
  }

  /** Fetches the model names of registries not asked yet; onModels listeners hear when they arrive. */
  function loadModelNames(registryIds) {
    registryIds.forEach(function (id) {
      var entry = modelEntry(id);
      if (entry.names !== null) return;
      entry.names = LOADING;
      $.getJSON("twin-models" + seg(id)).done(function (json) {
        if (modelCache.get(id) !== entry) return;
        entry.names = json && Array.isArray(json.models) ? json.models.filter(function (n) { return typeof n === "string"; }) : [];
        modelsLoaded(id, null);
      }).fail(function () {
        if (modelCache.get(id) === entry) entry.names = null;
      });
    });
  }

  /** Every model name of the registries whose names have arrived, sorted: names, never JSON keys. */
  function modelNames() {
    var names = new Set();
    modelCache.forEach(function (entry) {
      if (Array.isArray(entry.names)) entry.names.forEach(function (n) { names.add(n); });
    });
    return Array.from(names).sort();
  }

  /** A registry restarted (a deploy): its models may have changed. */
  function forgetModels(registryId) {
    if (registryId) modelCache.delete(registryId);
    else modelCache.clear();
  }

  /** fn(registryId, model) when a model's properties (model) or a registry's model names (null) arrive. */
  function onModels(fn) {
    modelListeners.push(fn);
  }

  function flash(element) {
    element.removeClass("twinwire-flash");
    void element[0].offsetWidth; // restart the animation
    element.addClass("twinwire-flash");
  }

  /**
   * The requests of one view (the registries, a registry's page, the open twin): never more than
   * one in flight. now() (the user asked) starts at once, or as soon as the request in flight has
   * answered, whose answer is then dropped as out of date. soon() (a live notice) starts after
   * DEBOUNCE_MS and no sooner than minMs after the previous start, however many notices come.
   * run(isCurrent, done, live) makes the request (or a chain of them), applies answers only while
   * isCurrent() and calls done() once, when nothing of it is in flight any more; `live` is true
   * when notices (not the user) asked for it.
   */
  function fetcher(minMs, run) {
    var busy = false;
    var want = 0; // 0 nothing, 1 soon, 2 now
    var timer = null;
    var last = 0;
    var current = 0;
    function start(live) {
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      want = 0;
      busy = true;
      last = Date.now();
      var id = ++current;
      var finished = false;
      run(function isCurrent() { return id === current; }, function done() {
        if (finished) return;
        finished = true;
        busy = false;
        if (want === 2) start(false);
        else if (want === 1) {
          want = 0;
          later();
        }
      }, !!live);
    }
    function later() {
      if (timer) return;
      timer = setTimeout(function () {
        timer = null;
        if (busy) want = Math.max(want, 1);
        else start(true);
      }, Math.max(DEBOUNCE_MS, last + minMs - Date.now()));
    }
    return {
      now: function () {
        if (!busy) return start(false);
        want = 2;
        current++; // the answer in flight is out of date
      },
      soon: function () {
        if (!busy) later();
        else if (!want) want = 1;
      },
      /** Drops what is due and the answer in flight (the view closed, or was shown from elsewhere). */
      cancel: function () {
        if (timer) clearTimeout(timer);
        timer = null;
        want = 0;
        current++;
      }
    };
  }

  S.util = {
    t: t,
    el: el,
    icon: icon,
    api: api,
    seg: seg,
    errorText: errorText,
    formatNumber: formatNumber,
    formatValue: formatValue,
    valueClass: valueClass,
    valueEl: valueEl,
    unitSymbol: unitSymbol,
    dateText: dateText,
    readingTimeIsOwn: readingTimeIsOwn,
    ago: ago,
    duration: duration,
    timeEl: timeEl,
    isObject: isObject,
    has: has,
    keys: keys,
    modelProperties: modelProperties,
    modelUnresolved: modelUnresolved,
    unitOf: unitOf,
    modelNames: modelNames,
    loadModelNames: loadModelNames,
    forgetModels: forgetModels,
    onModels: onModels,
    flash: flash,
    fetcher: fetcher
  };
})();
