/*
 * The Twins sidebar, list view: a section per registry with one page of its twins, the search,
 * filter and sort toolbar, and paging. Defines TwinwireSidebar.list(app); sidebar.js calls it.
 */
(function () {
  "use strict";

  var S = (window.TwinwireSidebar = window.TwinwireSidebar || {});

  var PAGE = 50;
  var PREVIEW = 3;
  /** Live notices refetch a registry's page, or the registries, at most this often. */
  var PAGE_REFETCH_MS = 1000;
  var REGISTRIES_MIN_MS = 1000;
  var STAGES = ["commissioned", "operating", "maintenance", "retired"];
  var SORTS = ["id", "updated", "lastSeen", "delta", "anomaly", "model", "stage", "online"];
  /** Sorts that start with the largest first: newest, most pending, anomalies, online. */
  var DESC_FIRST = ["updated", "lastSeen", "delta", "anomaly", "online"];

  /** `app`: the state the views share (see sidebar.js). */
  S.list = function (app) {
    var u = S.util;
    var t = u.t, el = u.el, icon = u.icon, api = u.api, seg = u.seg, errorText = u.errorText;
    var formatValue = u.formatValue, valueClass = u.valueClass, keys = u.keys, modelNames = u.modelNames, flash = u.flash;
    var ui = app.ui;
    var filters = { q: "", model: "", stage: "", online: "", sort: "id", order: "asc" };
    var entries = [];              // one per registry, in display order
    var entryById = new Map();     // registry id -> entry
    var reloadAll = false;         // the next answer of GET /twins reloads every page...
    var reloadIds = new Set();     // ...or the pages of these registries (they restarted)
    var registriesFetch = u.fetcher(REGISTRIES_MIN_MS, runRegistries);

    // Model names fill the filter; a model's properties give its rows their units.
    u.onModels(function (registryId, model) {
      if (model === null) return refreshModelFilter();
      var entry = entryById.get(registryId);
      if (!entry) return;
      entry.rows.forEach(function (row) {
        var s = row.data("summary");
        if (s && s.model === model) updateRow(row, s, false, registryId);
      });
    });

    function filtersActive() {
      return !!(filters.q || filters.model || filters.stage || filters.online);
    }

    function listParams(entry) {
      var p = { limit: PAGE, offset: entry.offset, reported: PREVIEW };
      if (filters.q) p.q = filters.q;
      if (filters.model) p.model = filters.model;
      if (filters.stage) p.stage = filters.stage;
      if (filters.online) p.online = filters.online;
      if (filters.sort !== "id") p.sort = filters.sort;
      if (filters.order !== "asc") p.order = filters.order;
      return p;
    }

    /** Reads the registries and every page again: the refresh button, the tab shown after changes. */
    function loadRegistries() {
      u.forgetModels(); // the refresh button: models too, for a deploy the live feed did not tell
      app.loaded = true;
      app.stale = false;
      reloadAll = true;
      registriesFetch.now();
    }

    /** A registry opened or closed (`id`), or changed but is not listed yet: read the registries again. */
    function scheduleRegistries(id) {
      if (id) reloadIds.add(id);
      registriesFetch.soon();
    }

    function runRegistries(isCurrent, done) {
      if (!app.isShown()) {
        app.stale = true;
        return done();
      }
      var all = reloadAll;
      var ids = reloadIds;
      reloadAll = false;
      reloadIds = new Set();
      $.getJSON(api("")).done(function (list) {
        if (!isCurrent()) return;
        ui.message.hide();
        list = Array.isArray(list) ? list.slice() : [];
        u.loadModelNames(list.map(function (r) { return r.id; }));
        refreshModelFilter();
        list.sort(function (a, b) {
          var x = (a.name || a.id).toLowerCase();
          var y = (b.name || b.id).toLowerCase();
          return x < y ? -1 : x > y ? 1 : 0;
        });
        var next = [];
        var reload = [];
        var seen = new Set();
        list.forEach(function (r) {
          seen.add(r.id);
          var entry = entryById.get(r.id);
          if (!entry) reload.push(entry = createEntry(r));
          else if (all || ids.has(r.id) || entry.dirty) reload.push(entry);
          entry.name = r.name;
          entry.count = r.count;
          updateRegistryHeader(entry);
          next.push(entry);
        });
        entries.forEach(function (entry) {
          if (!seen.has(entry.id)) {
            entry.fetch.cancel();
            entry.section.remove();
            entryById.delete(entry.id);
          }
        });
        entries = next;
        entries.forEach(function (entry) { entry.section.appendTo(ui.sections); });
        reload.forEach(function (entry) { entry.fetch.now(); });
        if (!entries.length) showMessage(t("empty.registries"), "fa-info-circle");
        if (app.detail && !entryById.has(app.detail.registry)) app.twin.close();
      }).fail(function (xhr) {
        if (!isCurrent()) return;
        if (all) reloadAll = true;
        ids.forEach(function (id) { reloadIds.add(id); });
        showMessage(t("errors.load", { error: errorText(xhr) }), "fa-warning");
      }).always(function () { done(); });
    }

    function showMessage(text, iconName) {
      ui.message.empty().append(icon(iconName)).append(el("span", "", text)).show();
    }

    function createEntry(r) {
      var entry = {
        id: r.id, name: r.name, count: r.count, expanded: true, offset: 0, total: 0,
        rows: new Map(), dirty: false, afterLoad: null
      };
      entry.fetch = u.fetcher(PAGE_REFETCH_MS, function (isCurrent, done, live) { runPage(entry, isCurrent, done, live); });
      entry.section = el("div", "twinwire-registry").attr("data-registry", r.id);
      entry.header = el("div", "twinwire-registry-header").attr("tabindex", "0").appendTo(entry.section);
      entry.caret = icon("fa-angle-down twinwire-caret").appendTo(entry.header);
      icon("fa-database twinwire-registry-icon").appendTo(entry.header);
      entry.title = el("span", "twinwire-registry-name").appendTo(entry.header);
      entry.countEl = el("span", "twinwire-registry-count").appendTo(entry.header);
      entry.body = el("div", "twinwire-registry-body").appendTo(entry.section);
      entry.liveOff = el("div", "twinwire-live-off").append(icon("fa-pause-circle-o")).append(el("span", "", " " + t("registry.liveOff"))).hide().appendTo(entry.body);
      entry.rowsEl = el("div", "twinwire-rows").appendTo(entry.body);
      entry.empty = el("div", "twinwire-empty").hide().appendTo(entry.body);
      entry.pager = el("div", "twinwire-pager").hide().appendTo(entry.body);
      entry.prev = $('<button type="button" class="red-ui-button red-ui-button-small"></button>')
        .append(icon("fa-chevron-left")).attr("title", t("pager.previous")).appendTo(entry.pager);
      entry.range = el("span", "twinwire-pager-range").appendTo(entry.pager);
      entry.next = $('<button type="button" class="red-ui-button red-ui-button-small"></button>')
        .append(icon("fa-chevron-right")).attr("title", t("pager.next")).appendTo(entry.pager);
      entry.prev.on("click", function () { turn(entry, -1); });
      entry.next.on("click", function () { turn(entry, 1); });
      entry.header.on("click keydown", function (evt) {
        if (evt.type === "keydown" && evt.key !== "Enter" && evt.key !== " ") return;
        evt.preventDefault();
        entry.expanded = !entry.expanded;
        entry.body.toggle(entry.expanded);
        entry.caret.toggleClass("twinwire-collapsed", !entry.expanded);
        if (entry.expanded) loadPage(entry);
      });
      entryById.set(r.id, entry);
      return entry;
    }

    function updateRegistryHeader(entry) {
      entry.title.text(entry.name || t("registry.unnamed", { id: entry.id }));
      if (typeof entry.count === "number") {
        entry.countEl.text(t("registry.count", { count: entry.count })).removeClass("twinwire-error");
      } else {
        entry.countEl.text(t("registry.unavailable")).addClass("twinwire-error");
      }
      // The registry's config node as this editor has it: its "Live updates in the Twins sidebar".
      var node = RED.nodes.node(entry.id);
      entry.liveOff.toggle(!!node && node.liveFeed === false);
    }

    function turn(entry, direction) {
      var offset = entry.offset + direction * PAGE;
      if (offset < 0 || offset >= entry.total) return;
      entry.offset = offset;
      loadPage(entry, function () { entry.body[0].scrollIntoView({ block: "nearest" }); });
    }

    /** Fetches a registry's page now (the user turned it, filtered, expanded the registry); then() once shown. */
    function loadPage(entry, then) {
      if (then) entry.afterLoad = then;
      entry.fetch.now();
    }

    function runPage(entry, isCurrent, done, live) {
      if (!entry.expanded || !app.listShown()) {
        entry.dirty = true; // fetched when it is shown again
        return done();
      }
      entry.dirty = false;
      var again = false;
      $.getJSON(api(seg(entry.id), listParams(entry))).done(function (res) {
        if (!isCurrent()) return;
        entry.total = res.total;
        if (!filtersActive() && entry.count !== res.total) {
          entry.count = res.total; // unfiltered, the page's total is the registry's count
          updateRegistryHeader(entry);
        }
        if (entry.offset > 0 && entry.offset >= res.total) {
          entry.offset = Math.max(0, Math.floor((res.total - 1) / PAGE) * PAGE);
          again = true;
          return;
        }
        renderRows(entry, res.twins, live);
        var then = entry.afterLoad;
        entry.afterLoad = null;
        if (then) then();
      }).fail(function (xhr) {
        if (!isCurrent()) return;
        renderRows(entry, []);
        entry.empty.text(t("errors.load", { error: errorText(xhr) })).addClass("twinwire-error").show();
      }).always(function () {
        done();
        if (again) entry.fetch.now();
      });
    }

    /** `live`: the page was fetched for a notice; a row whose twin changed then flashes. */
    function renderRows(entry, twins, live) {
      var keep = new Set();
      var before = null;
      twins.forEach(function (s) {
        keep.add(s.id);
        var row = entry.rows.get(s.id);
        if (!row) {
          row = createRow(entry, s.id);
          entry.rows.set(s.id, row);
        }
        updateRow(row, s, !!live, entry.id);
        if (before) row.insertAfter(before);
        else row.prependTo(entry.rowsEl);
        before = row;
      });
      entry.rows.forEach(function (row, id) {
        if (!keep.has(id)) {
          row.remove();
          entry.rows.delete(id);
        }
      });
      entry.empty.removeClass("twinwire-error");
      if (!twins.length) {
        entry.empty.text(entry.count ? t("empty.match") : t("empty.twins")).show();
      } else {
        entry.empty.hide();
      }
      if (entry.total > PAGE) {
        var from = entry.offset + 1;
        var to = Math.min(entry.total, entry.offset + PAGE);
        entry.range.text(t("pager.range", { from: from.toLocaleString(), to: to.toLocaleString(), total: entry.total.toLocaleString() }));
        entry.prev.prop("disabled", entry.offset === 0);
        entry.next.prop("disabled", to >= entry.total);
        entry.pager.show();
      } else {
        entry.pager.hide();
      }
    }

    function createRow(entry, id) {
      var row = el("div", "twinwire-row").attr({ tabindex: "0", "data-twin-id": id, "aria-label": t("row.open") + ": " + id });
      var main = el("div", "twinwire-row-main").appendTo(row);
      row.data("dot", el("span", "twinwire-dot").appendTo(main));
      row.data("id", el("span", "twinwire-row-id", id).appendTo(main));
      var badges = el("span", "twinwire-row-badges").appendTo(main);
      row.data("stage", el("span", "twinwire-badge twinwire-badge-stage").attr("title", t("row.stage")).appendTo(badges));
      row.data("pending", el("span", "twinwire-badge twinwire-badge-pending").append(icon("fa-hourglass-half")).append(el("span")).appendTo(badges));
      row.data("anomaly", el("span", "twinwire-badge twinwire-badge-anomaly").attr("title", t("row.anomaly")).append(icon("fa-exclamation-triangle")).appendTo(badges));
      var sub = el("div", "twinwire-row-sub").appendTo(row);
      row.data("model", el("span", "twinwire-row-model").appendTo(sub));
      row.data("values", el("span", "twinwire-row-values").appendTo(sub));
      row.on("click keydown", function (evt) {
        if (evt.type === "keydown" && evt.key !== "Enter") return;
        evt.preventDefault();
        app.twin.open(entry, id);
      });
      return row;
    }

    function updateRow(row, s, live, registryId) {
      row.data("summary", s);
      var previous = row.data("version");
      row.data("version", s.version);
      row.data("dot").toggleClass("twinwire-online", !!s.online).attr("title", s.online ? t("row.online") : t("row.offline"));
      row.data("stage").text(s.stage || "").toggle(!!s.stage).attr("data-stage", s.stage || "");
      var pending = row.data("pending");
      pending.find("span").text(s.delta);
      pending.attr("title", t("row.pending", { count: s.delta })).toggle(s.delta > 0);
      row.data("anomaly").toggle(!!s.anomaly);
      row.toggleClass("twinwire-row-anomaly", !!s.anomaly);
      row.data("model").text(s.model || t("row.noModel")).toggleClass("twinwire-muted", !s.model);
      var values = row.data("values").empty();
      var props = u.modelProperties(registryId, s.model);
      keys(s.reported).forEach(function (name) {
        var value = el("span", valueClass(s.reported[name]), formatValue(s.reported[name]));
        var unit = u.unitSymbol(u.unitOf(props, name));
        if (unit) value.append(el("span", "twinwire-unit", unit));
        values.append(el("span", "twinwire-row-value")
          .append(el("span", "twinwire-row-value-name", name))
          .append(value));
      });
      // A short highlight on change; twins fed many times a second do not blink all the time.
      if (live && previous !== undefined && previous !== s.version && Date.now() - (row.data("flashed") || 0) > 3000) {
        row.data("flashed", Date.now());
        flash(row);
      }
    }

    function buildFilters(bar) {
      var row1 = el("div", "twinwire-toolbar-row").appendTo(bar);
      var search = $('<input type="text">').attr("placeholder", t("search")).appendTo(el("div", "twinwire-search").appendTo(row1));
      search.searchBox({
        delay: 300,
        change: function () {
          filters.q = $.trim($(this).val());
          resetPages();
        }
      });
      ui.search = search;
      ui.filterButton = $('<button type="button" class="red-ui-sidebar-header-button twinwire-filter-button"></button>')
        .attr("title", t("filter.title")).append(icon("fa-filter")).append(el("span", "twinwire-filter-count"))
        .append(icon("fa-caret-down twinwire-filter-caret")).appendTo(row1);
      $('<button type="button" class="red-ui-sidebar-header-button twinwire-refresh"></button>')
        .attr("title", t("refresh")).append(icon("fa-refresh")).appendTo(row1)
        .on("click", function (evt) {
          evt.preventDefault();
          loadRegistries();
        });

      // The filter panel, opened by the filter button (as the debug sidebar's filter)
      var panel = el("div", "twinwire-filter-panel").hide().appendTo(bar);
      function field(label) {
        var r = el("div", "twinwire-filter-row").appendTo(panel);
        el("label", "", label).appendTo(r);
        return r;
      }
      ui.model = el("select", "twinwire-filter").attr("data-filter", "model").appendTo(field(t("filter.model")));
      ui.model.append($("<option>").val("").text(t("filter.anyModel")));
      ui.stage = el("select", "twinwire-filter").attr("data-filter", "stage").appendTo(field(t("filter.stage")));
      ui.stage.append($("<option>").val("").text(t("filter.anyStage")));
      STAGES.forEach(function (s) { ui.stage.append($("<option>").val(s).text(t("stage." + s))); });
      ui.online = el("select", "twinwire-filter").attr("data-filter", "online").appendTo(field(t("filter.connectivity")));
      ui.online.append($("<option>").val("").text(t("filter.anyOnline")));
      ui.online.append($("<option>").val("true").text(t("filter.online")));
      ui.online.append($("<option>").val("false").text(t("filter.offline")));
      var sortRow = field(t("sort.label"));
      ui.sort = el("select", "twinwire-filter").attr("data-filter", "sort").appendTo(sortRow);
      SORTS.forEach(function (s) { ui.sort.append($("<option>").val(s).text(t("sort." + s))); });
      ui.order = $('<button type="button" class="red-ui-button twinwire-order"></button>')
        .attr("title", t("sort.asc")).append(icon("fa-sort-amount-asc")).appendTo(sortRow);
      var reset = el("div", "twinwire-filter-reset").appendTo(panel);
      ui.reset = $('<button type="button" class="red-ui-button red-ui-button-small"></button>').text(t("filter.reset")).appendTo(reset);

      function changed() {
        filters.model = ui.model.val();
        filters.stage = ui.stage.val();
        filters.online = ui.online.val();
        if (ui.sort.val() !== filters.sort) {
          filters.sort = ui.sort.val();
          filters.order = DESC_FIRST.indexOf(filters.sort) >= 0 ? "desc" : "asc";
        }
        ui.order.attr("title", t("sort." + filters.order));
        ui.order.find("i").attr("class", "fa fa-sort-amount-" + filters.order);
        var active = (filters.model ? 1 : 0) + (filters.stage ? 1 : 0) + (filters.online ? 1 : 0);
        var sorted = filters.sort !== "id" || filters.order !== "asc";
        ui.filterButton.toggleClass("twinwire-active", active > 0 || sorted);
        ui.filterButton.find(".twinwire-filter-count").text(active ? String(active) : "");
        resetPages();
      }
      panel.find("select").on("change", changed);
      ui.order.on("click", function (evt) {
        evt.preventDefault();
        filters.order = filters.order === "asc" ? "desc" : "asc";
        changed();
      });
      ui.reset.on("click", function (evt) {
        evt.preventDefault();
        panel.find("select").val("");
        ui.sort.val("id");
        filters.order = "asc";
        changed();
      });
      ui.filterButton.on("click", function (evt) {
        evt.preventDefault();
        panel.toggle();
        ui.filterButton.toggleClass("selected", panel.is(":visible"));
      });
    }

    function refreshModelFilter() {
      var current = ui.model.val();
      ui.model.find("option:not(:first)").remove();
      modelNames().forEach(function (m) { ui.model.append($("<option>").val(m).text(m)); });
      if (current && !ui.model.find("option").filter(function () { return this.value === current; }).length) {
        ui.model.append($("<option>").val(current).text(current));
      }
      ui.model.val(current);
    }

    function resetPages() {
      entries.forEach(function (entry) {
        entry.offset = 0;
        loadPage(entry);
      });
    }


    /** Pages that changed while hidden (behind a twin, or the tab not shown). */
    function reloadDirtyPages() {
      entries.forEach(function (entry) {
        if (entry.dirty && entry.expanded) entry.fetch.now();
      });
    }

    /** A registry's twins changed (a live notice while the list is shown). */
    function twinsChanged(registryId) {
      var entry = entryById.get(registryId);
      if (!entry) return scheduleRegistries(); // a registry this list does not show yet
      entry.fetch.soon();
      // Filtered, the page's total is not the registry's count: the header reads it from GET /twins.
      if (filtersActive()) registriesFetch.soon();
    }

    /** The toolbar, then the registries' sections, into `view`. */
    function build(view) {
      var bar = el("div", "red-ui-sidebar-header twinwire-toolbar").appendTo(view);
      buildFilters(bar);
      var scroll = el("div", "twinwire-scroll").appendTo(view);
      ui.message = el("div", "twinwire-message").hide().appendTo(scroll);
      ui.sections = el("div", "twinwire-sections").appendTo(scroll);
    }

    return {
      build: build,
      loadRegistries: loadRegistries,
      scheduleRegistries: scheduleRegistries,
      reloadDirtyPages: reloadDirtyPages,
      twinsChanged: twinsChanged
    };
  };
})();
