/*
 * The Twins sidebar: every twin of every deployed twin-registry, live. This file builds the tab
 * from the list view (list.js) and the detail view (detail.js) and follows the live feed; the
 * plugin's .html registers it (TwinwireSidebar.init at onadd).
 *
 * Everything it shows comes from the admin API (GET /twins..., POST .../desired), which follows
 * adminAuth (twins.read, twins.write). The runtime's live feed (RED.comms topics twinwire/changes
 * and twinwire/registries, see src/runtime/live-feed.ts) only says which registry changed, since
 * every editor connected receives it: the sidebar then fetches again the page it shows of that
 * registry and the twin it shows, debounced, at most once a second each and never with two
 * requests in flight for one view. Where the feed is off (the registry's "Live updates" setting,
 * or settings.js twinwire.liveFeed), the refresh button updates it.
 * Every value a twin holds is put into the page with .text() / .attr() / createTextNode, never
 * as HTML. Every text comes from locales/<lang>/twin-admin-api.json.
 */
(function () {
  "use strict";

  var S = (window.TwinwireSidebar = window.TwinwireSidebar || {});

  var TAB = "twinwire-twins";

  S.init = function () {
    var el = S.util.el;
    var t = S.util.t;
    /** What the views share. list and twin are the views' functions, set below. */
    var app = {
      ui: {},
      detail: null,   // the twin shown in the detail view
      loaded: false,  // the registries were asked for
      stale: false,   // changes came while the tab was hidden: reload it all when shown
      list: null,
      twin: null,
      isShown: function () {
        return !!app.ui.content && app.ui.content.is(":visible");
      },
      /** The list of twins is on screen: the tab is shown and no twin is open. */
      listShown: function () {
        return app.isShown() && !app.detail;
      }
    };
    app.list = S.list(app);
    app.twin = S.detail(app);
    var ui = app.ui;

    // A notice names a registry and nothing else: what changed is read through the admin API.
    function onChanges(topic, msg) {
      if (!msg || typeof msg.registry !== "string") return;
      if (app.detail && app.detail.registry === msg.registry) app.detail.fetch.soon();
      if (!app.loaded) return;
      if (!app.isShown()) {
        app.stale = true;
        return;
      }
      app.list.twinsChanged(msg.registry);
    }

    function onRegistries(topic, msg) {
      var id = msg && typeof msg.registry === "string" ? msg.registry : null;
      S.util.forgetModels(id); // a registry (re)started: its models may have changed
      if (app.detail && app.detail.registry === id) app.detail.fetch.soon();
      if (app.loaded) app.list.scheduleRegistries(id);
    }

    var content = el("div", "twinwire-sidebar");
    ui.content = content;
    ui.listView = el("div", "twinwire-list-view").appendTo(content);
    app.list.build(ui.listView);
    app.twin.build(el("div", "twinwire-detail-view").hide().appendTo(content));

    RED.actions.add("twinwire:show-twins-tab", function () { RED.sidebar.show(TAB); });
    // Beside Node-RED's own ctrl-g i/d/c/x: the tab is often out of sight (under the sidebar's
    // menu on Node-RED 4 at common widths), and the Welcome tab of npm start names this key.
    RED.keyboard.add("*", "ctrl-g t", "twinwire:show-twins-tab");
    RED.sidebar.addTab({
      id: TAB,
      label: t("label"),
      name: t("name"),
      iconClass: "fa fa-clone",
      content: content,
      enableOnEdit: true,
      action: "twinwire:show-twins-tab",
      onchange: function () {
        // called just before the tab is shown
        setTimeout(function () {
          var wasStale = app.stale;
          if (!app.loaded || wasStale) app.list.loadRegistries();
          else if (!app.detail) app.list.reloadDirtyPages();
          if (app.detail && (wasStale || app.detail.dirty)) app.twin.reload();
        }, 0);
      }
    });
    RED.comms.subscribe("twinwire/changes", onChanges);
    RED.comms.subscribe("twinwire/registries", onRegistries);
  };
})();
