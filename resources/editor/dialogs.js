/*
 * What every Twinwire node's edit dialog shares: the naming rules of the runtime (twin ids,
 * property names, twin id globs), validators built on them for `defaults`, and the behaviour of
 * the common form rows (the twin id typedInput, the scope select with its pattern row).
 * Each node's .html loads this file before its own script runs (Node-RED appends a node set's
 * HTML once its <script src> files have loaded), and uses it as TwinwireEditor.
 *
 * The rules must be the runtime's, or a dialog accepts what a deploy then rejects:
 * test/editor/dialog-rules.test.js checks them against src/core/names.ts and src/core/watch.ts.
 */
(function () {
  "use strict";

  if (window.TwinwireEditor) return; // every node set loads this file: the first one wins

  /** src/core/names.ts: ids safe in an MQTT topic, a file name and a URL. */
  var TWIN_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
  var PROPERTY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
  var FORBIDDEN = ["__proto__", "constructor", "prototype"];
  /** src/core/watch.ts: what a twin id glob may hold, the id characters and the two wildcards. */
  var ID_GLOB = /^[A-Za-z0-9_.:*?-]{1,128}$/;
  /** Where a node's twin id may come from. */
  var TWIN_ID_TYPES = ["str", "msg", "flow", "global", "env", "jsonata"];
  var MODULE = "@twinwire/node-red-twins/";

  function isForbiddenKey(key) {
    return FORBIDDEN.indexOf(key) >= 0;
  }

  function isTwinId(id) {
    return typeof id === "string" && TWIN_ID.test(id) && !isForbiddenKey(id);
  }

  function isPropertyName(name) {
    return typeof name === "string" && PROPERTY.test(name) && !isForbiddenKey(name);
  }

  function isIdGlob(pattern) {
    return typeof pattern === "string" && ID_GLOB.test(pattern);
  }

  /** A comma-separated setting as the runtime reads it (src/core/watch.ts splitList): blanks dropped. */
  function commaList(value) {
    return String(value === undefined || value === null ? "" : value).split(",")
      .map(function (p) { return p.trim(); })
      .filter(function (p) { return p !== ""; });
  }

  /** A list separated by commas or spaces ("pump-*, fan-??"), as src/core/watch.ts compileGlob reads it. */
  function wordList(value) {
    return String(value || "").split(/[\s,]+/).filter(Boolean);
  }

  /**
   * A validator's answer: true, or the message of `key` in the node's catalog ("twin-mirror:
   * twin-mirror.validation.twinId"); false (the field marked, no text) without a key.
   */
  function answer(ok, key) {
    if (ok) return true;
    return key ? RED._(MODULE + key) : false;
  }

  var validators = {
    /**
     * The twin id of a node whose `scope` is "twin": a valid id, or an env variable (read at
     * deploy); msg, flow, global and JSONata ids have no scope of one twin.
     */
    scopedTwinId: function (key) {
      return function (v) {
        if (v !== "twin") return true;
        var type = this.twinIdType || "str";
        return answer((type === "str" && isTwinId(this.twinId || "")) || (type === "env" && !!this.twinId), key);
      };
    },
    /** The globs of a node whose `scope` is "glob": at least one, separated by commas or spaces. */
    scopePattern: function (key) {
      return function (v) {
        if (this.scope !== "glob") return true;
        var parts = wordList(v);
        return answer(parts.length > 0 && parts.every(isIdGlob), key);
      };
    },
    /** Comma-separated twin id globs; empty is all twins. */
    idGlobList: function (key) {
      return function (v) {
        return answer(commaList(v).every(isIdGlob), key);
      };
    },
    /** Comma-separated property names; empty is every property. */
    propertyList: function (key) {
      return function (v) {
        return answer(commaList(v).every(isPropertyName), key);
      };
    },
    /** One property name, or empty. */
    optionalProperty: function (key) {
      return function (v) {
        return answer(!v || isPropertyName(String(v)), key);
      };
    }
  };

  /** The twin id field: a typedInput over #node-input-twinId with its type in #node-input-twinIdType. */
  function twinIdInput() {
    $("#node-input-twinId").typedInput({
      default: "str",
      typeField: "#node-input-twinIdType",
      types: TWIN_ID_TYPES
    });
  }

  /**
   * A Dashboard 2.0 widget's size row: the size picker Dashboard 2.0 brings, over the hidden
   * width and height fields and the group select; without Dashboard 2.0 the row is hidden, and
   * the dialog still opens and saves.
   */
  function dashboardSize() {
    if ($.fn.elementSizer) {
      $("#node-input-size").elementSizer({ width: "#node-input-width", height: "#node-input-height", group: "#node-input-group" });
    } else {
      $("#node-input-size").closest(".form-row").hide();
    }
  }

  /**
   * The scope rows (twin id, scope select, glob pattern): the twin id field, and the pattern row
   * (`patternRow`, a selector) shown only for the scope "glob".
   */
  function scopeRows(patternRow) {
    twinIdInput();
    function showPattern() {
      $(patternRow).toggle($("#node-input-scope").val() === "glob");
    }
    $("#node-input-scope").on("change", showPattern);
    showPattern();
  }

  /**
   * What the model field says under it: nothing while it is blank or names one of the registry's
   * models; that the registry's models show once it is deployed (`names` null: not deployed, or
   * not reachable); that a typed name is not among them (free text stays allowed: the model may
   * come with the next deploy, and until then a twin created with it is refused).
   */
  function modelHint(names, value, registryChosen) {
    if (!registryChosen) return null;
    if (names === null) return "modelHint.notDeployed";
    var typed = String(value || "").trim();
    if (!typed || names.indexOf(typed) >= 0) return null;
    return names.length ? "modelHint.notInRegistry" : "modelHint.noModels";
  }

  /**
   * The model field (`input`, a selector) of the twin and twin-sensor dialogs: suggests the model
   * names of the registry chosen in `registrySelect` as that registry parsed them (GET
   * twin-models/:registry, the Twins sidebar's source too), in a datalist, so any text can still
   * be typed; `hint` (a selector) shows modelHint's words from `catalog` ("twin" or "twin-sensor").
   * Asks again when the registry changes; an answer for a registry no longer chosen is dropped.
   */
  function modelSuggestions(input, registrySelect, hint, catalog) {
    var field = $(input);
    var listId = field.attr("id") + "-suggestions";
    var list = $("<datalist>").attr("id", listId);
    list.insertAfter(field);
    field.attr("list", listId).attr("autocomplete", "off");
    var names = null;
    var asked = null;
    function chosen() {
      var id = $(registrySelect).val();
      return id && id !== "_ADD_" ? String(id) : "";
    }
    function showHint() {
      var key = modelHint(names, field.val(), !!chosen());
      $(hint).text(key ? RED._(MODULE + catalog + ":" + catalog + "." + key) : "").toggle(!!key);
    }
    function load() {
      var id = chosen();
      if (id === asked) return;
      asked = id;
      names = null;
      list.empty();
      showHint();
      if (!id) return;
      $.getJSON("twin-models/" + encodeURIComponent(id)).done(function (json) {
        if (asked !== id) return;
        names = json && Array.isArray(json.models) ? json.models.filter(function (n) { return typeof n === "string"; }) : [];
        names.forEach(function (n) { list.append($("<option>").attr("value", n)); });
        showHint();
      });
    }
    $(registrySelect).on("change", load);
    field.on("input change", showHint);
    load();
  }

  window.TwinwireEditor = {
    TWIN_ID: TWIN_ID,
    PROPERTY: PROPERTY,
    ID_GLOB: ID_GLOB,
    isForbiddenKey: isForbiddenKey,
    isTwinId: isTwinId,
    isPropertyName: isPropertyName,
    isIdGlob: isIdGlob,
    commaList: commaList,
    wordList: wordList,
    validators: validators,
    twinIdInput: twinIdInput,
    scopeRows: scopeRows,
    dashboardSize: dashboardSize,
    modelHint: modelHint,
    modelSuggestions: modelSuggestions
  };
})();
