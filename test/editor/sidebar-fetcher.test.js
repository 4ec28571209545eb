"use strict";
// The Twins sidebar's fetcher (resources/sidebar/util.js): one request in flight per view, and a
// live notice that comes while a request is in flight is not lost. Run in a VM with a clock the
// test moves by hand, so it holds on a machine of any speed; the browser test checks the rest.
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const UTIL = path.join(__dirname, "..", "..", "resources", "sidebar", "util.js");

/** util.js loaded with a manual clock: { fetcher, advance(ms) }. */
function load() {
  let now = 1_000_000;
  let seq = 0;
  const timers = new Map();
  const context = {
    window: {},
    RED: { _: (key) => key },
    $: () => ({}),
    Date: { now: () => now },
    setTimeout: (fn, ms) => {
      const id = ++seq;
      timers.set(id, { fn, at: now + Math.max(0, ms) });
      return id;
    },
    clearTimeout: (id) => timers.delete(id),
  };
  vm.runInNewContext(fs.readFileSync(UTIL, "utf8"), context, { filename: UTIL });
  function advance(ms) {
    const target = now + ms;
    for (;;) {
      let next = null;
      for (const [id, t] of timers) if (t.at <= target && (!next || t.at < next[1].at)) next = [id, t];
      if (!next) break;
      timers.delete(next[0]);
      now = Math.max(now, next[1].at);
      next[1].fn();
    }
    now = target;
  }
  return { fetcher: context.window.TwinwireSidebar.util.fetcher, advance };
}

/** A view whose requests the test answers by hand. */
function view(fetcher, minMs = 1000) {
  const requests = [];
  let inFlight = 0;
  let most = 0;
  const f = fetcher(minMs, (isCurrent, done, live) => {
    inFlight++;
    most = Math.max(most, inFlight);
    requests.push({ isCurrent, live, answer: () => { inFlight--; done(); } });
  });
  return { f, requests, most: () => most };
}

describe("Twins sidebar: the fetcher of a view", function () {
  it("a notice that comes while a request is in flight brings one more request once it answers, never two at once", function () {
    const { fetcher, advance } = load();
    const v = view(fetcher);
    v.f.soon();
    advance(200); // the debounce
    assert.equal(v.requests.length, 1, "the first notice's request");
    assert.equal(v.requests[0].live, true);
    v.f.soon();
    v.f.soon();
    advance(5000);
    assert.equal(v.requests.length, 1, "nothing more while one is in flight");
    v.requests[0].answer();
    advance(5000);
    assert.equal(v.requests.length, 2, "the notices that came meanwhile are fetched, once");
    assert.equal(v.most(), 1);
    v.requests[1].answer();
    advance(5000);
    assert.equal(v.requests.length, 2, "and then nothing more");
  });

  it("a notice after the view was left (cancel) waits for the request still in flight, then is fetched", function () {
    const { fetcher, advance } = load();
    const v = view(fetcher);
    v.f.now();
    assert.equal(v.requests.length, 1);
    v.f.cancel(); // the user left: the answer in flight is out of date, but it is still in flight
    assert.equal(v.requests[0].isCurrent(), false);
    v.f.soon();
    advance(2000);
    assert.equal(v.requests.length, 1, "still one in flight");
    v.requests[0].answer();
    advance(2000);
    assert.equal(v.requests.length, 2);
  });

  it("notices start a request no sooner than minMs after the last one, however many come", function () {
    const { fetcher, advance } = load();
    const v = view(fetcher, 1000);
    v.f.now();
    v.requests[0].answer();
    for (let i = 0; i < 10; i++) {
      v.f.soon();
      advance(50);
    }
    assert.equal(v.requests.length, 1, "500 ms after the last start: not yet");
    advance(500);
    assert.equal(v.requests.length, 2, "1000 ms after the last start");
  });

  it("the user's now() while a request is in flight drops that answer and asks again when it has come", function () {
    const { fetcher, advance } = load();
    const v = view(fetcher);
    v.f.now();
    v.f.now();
    assert.equal(v.requests.length, 1, "one in flight");
    assert.equal(v.requests[0].isCurrent(), false, "its answer is out of date");
    v.requests[0].answer();
    assert.equal(v.requests.length, 2, "asked again at once");
    assert.equal(v.requests[1].live, false);
    assert.equal(v.requests[1].isCurrent(), true);
    advance(0);
  });
});
