/*
 * The Twins sidebar, detail view: one twin's reported values with sparklines, desired values with
 * what is pending, delta, predictions, lifecycle, attributes and meta, and the form that sets a
 * desired value. Defines TwinwireSidebar.detail(app); sidebar.js calls it.
 */
(function () {
  "use strict";

  var S = (window.TwinwireSidebar = window.TwinwireSidebar || {});

  var HISTORY_POINTS = 60;
  var MAX_SPARKLINES = 8;
  /** Live notices refetch the open twin at most this often. */
  var DETAIL_MIN_MS = 1000;

  /** `app`: the state the views share (see sidebar.js); app.detail is the twin shown, or null. */
  S.detail = function (app) {
    var u = S.util;
    var t = u.t, el = u.el, icon = u.icon, api = u.api, seg = u.seg, errorText = u.errorText;
    var formatNumber = u.formatNumber, valueEl = u.valueEl, duration = u.duration, timeEl = u.timeEl;
    var isObject = u.isObject, has = u.has, keys = u.keys, modelProperties = u.modelProperties, unitOf = u.unitOf;
    var fetcher = u.fetcher;
    var ui = app.ui;

    // One fetcher for the view, whichever twin it shows: opening another twin while a request is
    // in flight waits for it (its answer dropped), so the view never has two requests at once.
    var detailFetch = fetcher(DETAIL_MIN_MS, function (isCurrent, done) {
      if (!app.detail) return done();
      runDetail(app.detail, isCurrent, done);
    });

    function open(entry, twinId) {
      var d = { registry: entry.id, twinId: twinId, text: null, sparks: new Map(), dirty: false, fetch: detailFetch };
      app.detail = d;
      ui.listView.hide();
      ui.detailView.show();
      ui.detailTitle.text(twinId);
      ui.detailRegistry.text(entry.name || entry.id);
      ui.detailDot.removeClass("twinwire-online");
      ui.detailTop.empty().append(el("div", "twinwire-empty", t("loading")));
      ui.detailBottom.empty();
      ui.setError.empty().hide();
      ui.setProperty.val("");
      ui.setValue.val("");
      ui.setForm.hide();
      ui.detailScroll.scrollTop(0);
      d.fetch.now();
    }

    function close() {
      detailFetch.cancel();
      app.detail = null;
      ui.detailView.hide();
      ui.listView.show();
      if (app.stale) app.list.loadRegistries();
      else app.list.reloadDirtyPages();
    }

    /** The open twin now: the refresh button, the tab shown again. */
    function reload() {
      if (app.detail) app.detail.fetch.now();
    }
    // The open twin's model arrived from the registry: draw the twin again with its units and
    // writable properties (the document is fetched again: the view keeps no copy of it).
    u.onModels(function (registryId, model) {
      var d = app.detail;
      if (!d || model === null || d.registry !== registryId || d.model !== model) return;
      d.text = null;
      d.fetch.now();
    });

    /** The twin's document, then the sparklines whose property has a new reading, one at a time. */
    function runDetail(d, isCurrent, done) {
      if (app.detail !== d) return done();
      if (!app.isShown()) {
        d.dirty = true; // fetched when the tab is shown again
        return done();
      }
      d.dirty = false;
      var sparks = null;
      $.getJSON(api(seg(d.registry) + seg(d.twinId))).done(function (doc, status, xhr) {
        if (app.detail !== d || !isCurrent()) return;
        if (xhr && typeof xhr.responseText === "string") {
          if (xhr.responseText === d.text) return; // the same as shown: nothing to redraw
          d.text = xhr.responseText;
        }
        sparks = renderDetail(d, doc);
      }).fail(function (xhr) {
        if (app.detail !== d || !isCurrent()) return;
        d.text = null;
        ui.detailTop.empty().append(el("div", "twinwire-empty twinwire-error",
          xhr.status === 404 ? t("detail.gone") : t("errors.twin", { error: errorText(xhr) })));
        ui.detailBottom.empty();
        ui.setForm.hide();
      }).always(function () {
        if (sparks && sparks.length) loadSparklines(d, sparks, isCurrent, done);
        else done();
      });
    }

    /** An info table (as the Info sidebar's); an empty section is just its title and "none". */
    function section(title, count, empty) {
      var table = el("table", "red-ui-info-table twinwire-info");
      $("<colgroup>").append($("<col>").addClass("twinwire-col-key")).append($("<col>")).appendTo(table);
      var head = el("tr", "blank").appendTo(table);
      var th = el("th").attr("colspan", "2").appendTo(head);
      th.append(el("span", "", title));
      if (empty) th.append(el("span", "twinwire-section-none", t("detail.none")));
      else if (count) th.append(el("span", "twinwire-section-count", String(count)));
      return table;
    }

    function infoRow(table, name, content, cls) {
      var tr = el("tr", cls).appendTo(table);
      el("td", "twinwire-key", name).attr("title", name).appendTo(tr);
      var td = el("td").appendTo(tr);
      if (content !== undefined) td.append(content);
      return td;
    }

    function renderDetail(d, doc) {
      var scroll = ui.detailScroll.scrollTop();
      d.model = doc.model;
      var props = modelProperties(d.registry, doc.model);
      var online = doc.connectivity && doc.connectivity.online;
      ui.detailDot.toggleClass("twinwire-online", !!online).attr("title", online ? t("row.online") : t("row.offline"));
      var top = $("<div>");
      var bottom = $("<div>");
      var oldSparks = d.sparks; // the last sparkline per property, shown until its history is fetched again
      d.sparks = new Map();
      var holders = 0;

      // Reported, with a sparkline per numeric property
      var reported = section(t("detail.reported"), keys(doc.reported).length, !keys(doc.reported).length).appendTo(top);
      var metaReported = (doc.meta && doc.meta.reported) || {};
      var lastSeen = doc.connectivity && typeof doc.connectivity.lastSeen === "number" ? doc.connectivity.lastSeen : null;
      var sparks = [];
      keys(doc.reported).forEach(function (name) {
        var value = doc.reported[name];
        var td = infoRow(reported, name);
        var line = el("div", "twinwire-line").appendTo(td);
        line.append(valueEl(value, unitOf(props, name)));
        var meta = has(metaReported, name) ? metaReported[name] : null;
        if (typeof value === "number" && holders++ < MAX_SPARKLINES) {
          var holder = el("span", "twinwire-spark").appendTo(line);
          var ts = meta && typeof meta.ts === "number" ? meta.ts : null;
          var old = oldSparks.get(name) || null;
          if (old) {
            holder.append(old.svg).attr("title", old.title);
            d.sparks.set(name, old);
          }
          // A history only changes with a new reading: fetch it again only then.
          if (!old || ts === null || old.ts !== ts) sparks.push({ name: name, holder: holder, ts: ts });
        }
        if (meta) {
          var sub = el("div", "twinwire-sub").appendTo(td).append(readingTimeEl(meta.ts, lastSeen));
          if (meta.source) sub.append(el("span", "twinwire-source", t("detail.source", { source: meta.source })).attr("title", meta.source));
        }
      });

      // Desired, with what is still pending
      var desired = section(t("detail.desired"), keys(doc.desired).length, !keys(doc.desired).length).appendTo(top);
      var metaDesired = (doc.meta && doc.meta.desired) || {};
      keys(doc.desired).forEach(function (name) {
        var td = infoRow(desired, name);
        var line = el("div", "twinwire-line").appendTo(td);
        line.append(valueEl(doc.desired[name], unitOf(props, name)));
        var pending = isObject(doc.delta) && has(doc.delta, name);
        line.append(el("span", "twinwire-badge " + (pending ? "twinwire-badge-pending" : "twinwire-badge-applied"),
          pending ? t("detail.pending") : t("detail.applied")));
        var meta = has(metaDesired, name) ? metaDesired[name] : null;
        if (meta) {
          var sub = el("div", "twinwire-sub").appendTo(td).append(timeEl(meta.ts));
          if (meta.by) sub.append(el("span", "twinwire-source", t("detail.by", { by: meta.by })));
        }
        td.prev().addClass("twinwire-pick").on("click", function () { pick(name, doc.desired[name]); });
      });

      // Delta
      var delta = section(t("detail.delta"), keys(doc.delta).length, !keys(doc.delta).length).appendTo(bottom);
      keys(doc.delta).forEach(function (name) {
        infoRow(delta, name, valueEl(doc.delta[name], unitOf(props, name)));
      });

      // Predictions
      var predictions = section(t("detail.predictions"), keys(doc.predictions).length, !keys(doc.predictions).length).appendTo(bottom);
      keys(doc.predictions).forEach(function (name) {
        renderPrediction(infoRow(predictions, name), doc.predictions[name], unitOf(props, name));
      });

      // Lifecycle, as a card: stage and since, counters with their units, what is due in words
      var hasLifecycle = isObject(doc.lifecycle) && keys(doc.lifecycle).length > 0;
      var lifecycle = section(t("detail.lifecycle"), 0, !hasLifecycle).addClass("twinwire-lifecycle").appendTo(bottom);
      if (hasLifecycle) renderLifecycle(lifecycle, doc.lifecycle);

      // Attributes
      var attributes = section(t("detail.attributes"), keys(doc.attributes).length, !keys(doc.attributes).length).appendTo(bottom);
      keys(doc.attributes).forEach(function (name) {
        infoRow(attributes, name, valueEl(doc.attributes[name]));
      });

      // The twin itself
      var meta = section(t("detail.meta")).appendTo(bottom);
      infoRow(meta, t("detail.model"), doc.model ? el("span", "", doc.model) : el("span", "twinwire-muted", t("detail.noModel")));
      // An incomplete Thing Model: each link the registry could not follow, with what it left out.
      u.modelUnresolved(d.registry, doc.model).forEach(function (m) {
        var what = String(m.link) + " " + String(m.href) + (m.property ? " (" + t("detail.leftOut", { property: String(m.property) }) + ")" : "");
        infoRow(meta, t("detail.unresolved"), el("span", "twinwire-warning", what).attr("title", t("detail.unresolvedHint")));
      });
      var conn = infoRow(meta, t("detail.online"));
      conn.append(el("span", "twinwire-dot" + (online ? " twinwire-online" : ""))).append(el("span", "", online ? t("row.online") : t("row.offline")));
      infoRow(meta, t("detail.lastSeen"), timeEl(doc.connectivity ? doc.connectivity.lastSeen : null));
      infoRow(meta, t("detail.updated"), timeEl(doc.updated));
      infoRow(meta, t("detail.created"), timeEl(doc.created));
      infoRow(meta, t("detail.version"), el("span", "", String(doc.version)));

      // Property suggestions for "set desired": writable model properties, else what the twin has
      var names = [];
      if (props) {
        Object.keys(props).forEach(function (n) { if (isObject(props[n]) && props[n].writable === true) names.push(n); });
      }
      if (!names.length) names = Array.from(new Set(keys(doc.desired).concat(keys(doc.reported))));
      ui.setList.empty();
      names.forEach(function (n) { ui.setList.append($("<option>").attr("value", n)); });

      ui.detailTop.empty().append(top.children());
      ui.detailBottom.empty().append(bottom.children());
      var writable = RED.user.hasPermission("twins.write");
      ui.setForm.show().toggleClass("twinwire-set-readonly", !writable);
      ui.detailScroll.scrollTop(scroll);
      return sparks;
    }

    /** A reading's time: "… ago", or its own time as a date where that would contradict "last seen". */
    function readingTimeEl(ts, lastSeen) {
      if (!u.readingTimeIsOwn(ts, lastSeen)) return timeEl(ts);
      return el("span", "twinwire-time", t("detail.readingTime", { at: u.dateText(ts) })).attr("title", t("detail.readingTimeHint"));
    }

    /** Stages of the default stage machine, named in the catalog; custom stages show as named. */
    var STAGE_NAMES = ["commissioned", "operating", "maintenance", "retired"];
    var HOURS_DUE_RULES = { operatingHours: "due.operatingHours", cycles: "due.cycles", days: "due.days" };

    /** What twin-lifecycle keeps in twin.lifecycle (src/core/lifecycle/tracker.ts LifecycleSummary), in words. */
    function renderLifecycle(table, lc) {
      var stage = typeof lc.stage === "string" ? lc.stage : null;
      infoRow(table, t("lifecycle.stage"), stage
        ? el("span", "twinwire-badge twinwire-badge-stage", STAGE_NAMES.indexOf(stage) >= 0 ? t("stage." + stage) : stage).attr("data-stage", stage)
        : el("span", "twinwire-muted", t("lifecycle.noStage")));
      if (typeof lc.since === "number") {
        // A date, not "ago": stages change at reading time, which may be a device's (or a warped) clock
        infoRow(table, t("lifecycle.since"), el("span", "", u.dateText(lc.since)));
      }
      if (typeof lc.operatingHours === "number") infoRow(table, t("lifecycle.operatingHours"), valueEl(lc.operatingHours, "h"));
      if (typeof lc.cycles === "number") infoRow(table, t("lifecycle.cycles"), valueEl(lc.cycles));
      var due = lc.maintenanceDue;
      var dueCell = infoRow(table, t("lifecycle.maintenance"));
      if (!isObject(due)) {
        dueCell.append(el("span", "twinwire-muted", t("lifecycle.notDue")));
      } else {
        var words;
        if (due.rule === "prediction") {
          words = t("lifecycle.due.prediction", { property: String(due.property), in: duration(Number(due.timeToThreshold) || 0), horizon: duration(Number(due.horizon) || 0) });
        } else if (has(HOURS_DUE_RULES, due.rule)) {
          words = t("lifecycle." + HOURS_DUE_RULES[due.rule], { limit: formatNumber(Number(due.limit)), value: formatNumber(Number(due.value)) });
        } else {
          words = t("lifecycle.due.other", { rule: String(due.rule) });
        }
        dueCell.append(el("span", "twinwire-badge twinwire-badge-pending", t("lifecycle.dueBadge"))).append(el("span", "twinwire-due-text", " " + words));
        if (typeof due.at === "number") el("div", "twinwire-sub", t("lifecycle.dueSince", { at: u.dateText(due.at) })).appendTo(dueCell);
      }
      // Anything else a later version keeps there: its name and value, dates as dates
      keys(lc).forEach(function (name) {
        if (["stage", "since", "operatingHours", "cycles", "maintenanceDue"].indexOf(name) >= 0) return;
        var v = lc[name];
        var timeLike = /At$|Ts$/.test(name) && typeof v === "number";
        infoRow(table, name, timeLike ? el("span", "", u.dateText(v)) : valueEl(v));
      });
    }

    function renderPrediction(td, p, unit) {
      if (!isObject(p)) {
        td.append(valueEl(p));
        return;
      }
      var line = el("div", "twinwire-line").appendTo(td);
      if (typeof p.forecast === "number") {
        var label = typeof p.horizon === "number" ? t("prediction.forecastIn", { in: duration(p.horizon) }) : t("prediction.forecast");
        line.append(el("span", "twinwire-sub-label", label)).append(valueEl(p.forecast, unit));
      }
      if (p.anomaly === true) {
        line.append(el("span", "twinwire-badge twinwire-badge-anomaly").append(icon("fa-exclamation-triangle")).append(el("span", "", " " + t("prediction.anomaly"))));
      }
      var sub = el("div", "twinwire-sub").appendTo(td);
      var parts = [];
      var symbol = u.unitSymbol(unit);
      var withUnit = function (n) { return formatNumber(n) + (symbol ? " " + symbol : ""); };
      if (typeof p.lower === "number" && typeof p.upper === "number") parts.push(t("prediction.range") + " " + formatNumber(p.lower) + " – " + withUnit(p.upper));
      if (typeof p.score === "number") parts.push(t("prediction.score") + " " + formatNumber(p.score));
      if (typeof p.timeToThreshold === "number") parts.push(t("prediction.threshold", { in: duration(p.timeToThreshold) }));
      if (typeof p.method === "string") parts.push(t("prediction.method") + " " + p.method);
      sub.text(parts.join(" · "));
      if (typeof p.ts === "number") sub.attr("title", t("prediction.madeAt", { at: u.dateText(p.ts) }));
    }

    /** Fetches the histories of `list` one after the other, then calls done(). */
    function loadSparklines(d, list, isCurrent, done) {
      var i = 0;
      (function next() {
        if (i >= list.length || app.detail !== d || !isCurrent()) return done();
        var s = list[i++];
        $.getJSON(api(seg(d.registry) + seg(d.twinId) + "/history" + seg(s.name), { limit: HISTORY_POINTS })).done(function (points) {
          if (app.detail !== d || !isCurrent() || !Array.isArray(points)) return;
          var values = points.filter(function (p) { return p && typeof p.value === "number" && isFinite(p.value); });
          if (values.length < 2) return;
          var svg = sparkline(values);
          var min = Infinity;
          var max = -Infinity;
          values.forEach(function (p) { min = Math.min(min, p.value); max = Math.max(max, p.value); });
          var title = t("detail.history", { count: values.length, min: formatNumber(min), max: formatNumber(max) });
          s.holder.empty().append(svg).attr("title", title);
          d.sparks.set(s.name, { svg: svg, title: title, ts: s.ts });
        }).always(next);
      })();
    }

    /** A plain SVG sparkline: the line, its last point, and a faint band from min to max. */
    function sparkline(points) {
      var W = 84;
      var H = 20;
      var P = 2;
      var svgNS = "http://www.w3.org/2000/svg";
      var t0 = points[0].ts;
      var t1 = points[points.length - 1].ts;
      var min = Infinity;
      var max = -Infinity;
      points.forEach(function (p) { min = Math.min(min, p.value); max = Math.max(max, p.value); });
      var span = max - min || 1;
      var tspan = t1 - t0 || 1;
      var coords = points.map(function (p, i) {
        var x = t1 > t0 ? P + (p.ts - t0) / tspan * (W - 2 * P) : P + i / (points.length - 1) * (W - 2 * P);
        var y = max === min ? H / 2 : H - P - (p.value - min) / span * (H - 2 * P);
        return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
      });
      var svg = document.createElementNS(svgNS, "svg");
      svg.setAttribute("width", W);
      svg.setAttribute("height", H);
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      svg.setAttribute("class", "twinwire-sparkline");
      var line = document.createElementNS(svgNS, "polyline");
      line.setAttribute("points", coords.map(function (c) { return c[0] + "," + c[1]; }).join(" "));
      line.setAttribute("class", "twinwire-sparkline-line");
      svg.appendChild(line);
      var last = coords[coords.length - 1];
      var dot = document.createElementNS(svgNS, "circle");
      dot.setAttribute("cx", last[0]);
      dot.setAttribute("cy", last[1]);
      dot.setAttribute("r", 2);
      dot.setAttribute("class", "twinwire-sparkline-dot");
      svg.appendChild(dot);
      return svg;
    }

    function pick(name, value) {
      ui.setProperty.val(name);
      ui.setValue.val(value === undefined ? "" : JSON.stringify(value)).trigger("focus");
    }

    function sendDesired() {
      var d = app.detail;
      if (!d) return;
      var name = $.trim(ui.setProperty.val());
      var text = $.trim(ui.setValue.val());
      ui.setError.empty().hide();
      if (!name) {
        ui.setError.text(t("errors.property")).show();
        return;
      }
      var value;
      try {
        value = JSON.parse(text);
      } catch (err) {
        value = text; // plain text is a string value
      }
      var body = {};
      body[name] = value;
      ui.setButton.prop("disabled", true);
      $.ajax({
        url: api(seg(d.registry) + seg(d.twinId) + "/desired"),
        method: "POST",
        contentType: "application/json",
        data: JSON.stringify(body),
        dataType: "json"
      }).done(function (doc) {
        if (app.detail !== d) return;
        // RED.notify puts a string in as HTML: hand it an element holding text
        RED.notify($("<p>").text(t("detail.setDone", { twinId: d.twinId, property: name })), { type: "success", timeout: 2500 });
        ui.setValue.val("");
        d.fetch.cancel(); // an answer in flight is older than this one
        d.text = null;
        renderDetail(d, doc);
      }).fail(function (xhr) {
        if (app.detail !== d) return;
        ui.setError.text(t("errors.set", { error: errorText(xhr) })).show();
      }).always(function () {
        ui.setButton.prop("disabled", false);
      });
    }

    function buildDetail(view) {
      var head = el("div", "red-ui-sidebar-header twinwire-detail-header").appendTo(view);
      var back = $('<button type="button" class="red-ui-sidebar-header-button twinwire-back"></button>')
        .attr("title", t("detail.back")).append(icon("fa-chevron-left")).appendTo(head);
      back.on("click", function (evt) {
        evt.preventDefault();
        close();
      });
      var title = el("div", "twinwire-detail-title").appendTo(head);
      ui.detailDot = el("span", "twinwire-dot").appendTo(title);
      ui.detailTitle = el("span", "twinwire-detail-id").appendTo(title);
      ui.detailRegistry = el("span", "twinwire-detail-registry").appendTo(title);
      $('<button type="button" class="red-ui-sidebar-header-button"></button>')
        .attr("title", t("refresh")).append(icon("fa-refresh")).appendTo(head)
        .on("click", function (evt) {
          evt.preventDefault();
          if (app.detail) reload();
        });

      var scroller = el("div", "twinwire-detail-scroll").appendTo(view);
      ui.detailTop = el("div", "twinwire-detail-body").appendTo(scroller);
      ui.setForm = el("div", "twinwire-set").hide().appendTo(scroller);
      el("div", "twinwire-set-title").append(icon("fa-pencil")).append(el("span", "", " " + t("detail.setTitle"))).appendTo(ui.setForm);
      var form = el("div", "twinwire-set-row").appendTo(ui.setForm);
      ui.setList = $("<datalist>").attr("id", "twinwire-set-properties").appendTo(ui.setForm);
      ui.setProperty = $('<input type="text" class="twinwire-set-property">').attr({ placeholder: t("detail.property"), list: "twinwire-set-properties", autocomplete: "off" }).appendTo(form);
      ui.setValue = $('<input type="text" class="twinwire-set-value">').attr({ placeholder: t("detail.value"), title: t("detail.valueHint") }).appendTo(form);
      ui.setButton = $('<button type="button" class="red-ui-button twinwire-set-button"></button>').text(t("detail.set")).appendTo(form);
      el("div", "twinwire-set-hint", t("detail.valueHint")).appendTo(ui.setForm);
      el("div", "twinwire-set-denied", t("detail.noWrite")).appendTo(ui.setForm);
      ui.setError = el("div", "twinwire-set-error").hide().appendTo(ui.setForm);
      ui.setButton.on("click", sendDesired);
      form.find("input").on("keydown", function (evt) {
        if (evt.key === "Enter") {
          evt.preventDefault();
          sendDesired();
        }
      });
      ui.detailBottom = el("div", "twinwire-detail-body").appendTo(scroller);
      ui.detailView = view;
      ui.detailScroll = scroller;
    }

    return {
      build: buildDetail,
      open: open,
      close: close,
      reload: reload
    };
  };
})();
