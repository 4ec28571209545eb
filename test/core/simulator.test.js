"use strict";
const assert = require("node:assert/strict");
const { SimDevice } = require("../../nodes/lib/core/simulator/device");
const { Fleet, deviceIds, fillTopic, checkTopicTemplate, MAX_BACKLOG, MAX_BACKLOG_READINGS } = require("../../nodes/lib/core/simulator/fleet");
const { parseProfile, PUMP_PROFILE } = require("../../nodes/lib/core/simulator/profile");
const { SimClock, defaultBack } = require("../../nodes/lib/core/simulator/clock");
const { parseDuration } = require("../../nodes/lib/core/duration");
const { Rng, seedOf, hashString } = require("../../nodes/lib/core/simulator/prng");

const T0 = 1764000000000;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** One device of a one-or-more-property profile. */
function device(properties, seed = 1, id = "dev-01", extra = {}) {
  return new SimDevice(id, parseProfile({ properties, ...extra }), seed);
}

/** n readings of one property, one every `step` ms of simulated time; null for a dropout. */
function series(dev, property, n, step = 1000, from = 0) {
  const out = [];
  for (let k = 0; k < n; k++) {
    const r = dev.sample(k, from + k * step).find((x) => x.property === property);
    out.push(r ? r.value : null);
  }
  return out;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
};

describe("simulator prng", function () {
  it("repeats for a seed, differs between seeds, and is uniform", function () {
    const a = new Rng().reseed(1, 2, 3);
    const b = new Rng().reseed(1, 2, 3);
    const c = new Rng().reseed(1, 2, 4);
    const xa = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(Array.from({ length: 5 }, () => b.next()), xa);
    assert.notDeepEqual(Array.from({ length: 5 }, () => c.next()), xa);
    const r = new Rng().reseed(7);
    const us = Array.from({ length: 50000 }, () => r.next());
    assert.ok(us.every((u) => u >= 0 && u < 1));
    assert.ok(Math.abs(mean(us) - 0.5) < 0.01);
    assert.ok(Math.abs(us.filter((u) => u < 0.1).length / us.length - 0.1) < 0.01);
  });

  it("reads seeds: whole numbers as they are, other text hashed, empty as none", function () {
    assert.equal(seedOf("42"), 42);
    assert.equal(seedOf(42), 42);
    assert.equal(seedOf(" demo "), hashString("demo"));
    assert.equal(seedOf(""), null);
    assert.equal(seedOf(undefined), null);
    assert.equal(seedOf(4294967296 + 5), 5);
  });
});

describe("simulator clock", function () {
  it("parses durations in seconds or with a unit", function () {
    assert.equal(parseDuration(30, "x"), 30000);
    assert.equal(parseDuration("30", "x"), 30000);
    assert.equal(parseDuration("500ms", "x"), 500);
    assert.equal(parseDuration("1.5h", "x"), 1.5 * HOUR);
    assert.equal(parseDuration("3d", "x"), 3 * DAY);
    assert.equal(parseDuration("1w", "x"), 7 * DAY);
    assert.equal(parseDuration("5 min", "x"), 5 * MIN);
    for (const bad of ["soon", "-5s", "3 parsecs", "", null, {}, "4000d"]) {
      assert.throws(() => parseDuration(bad, "lag"), (err) => err.code === "invalid-option" && err.params.option === "lag", String(bad));
    }
  });

  it("time warp: starts `back` in the past, runs warp times faster, never passes real time, then real speed", function () {
    const warp = 10080; // a week per minute
    const back = 7 * DAY;
    const clock = new SimClock({ intervalMs: 100, warp, backMs: back });
    assert.equal(clock.timestamp(T0, 0), T0 - back);
    assert.equal(clock.timestamp(T0, 1), T0 - back + 100 * warp);
    // After one real minute (600 readings) a week has passed and simulated time is real time.
    const catchUp = Math.ceil(back / (warp - 1) / 100);
    for (let k = 0; k <= catchUp + 50; k++) {
      const ts = clock.timestamp(T0, k);
      const sentAt = T0 + k * 100; // the reading is due then, and not before
      assert.ok(ts <= sentAt, `reading ${k}: ${ts} is after ${sentAt}`);
      if (k > 0) assert.ok(ts > clock.timestamp(T0, k - 1), "timestamps rise");
    }
    assert.equal(clock.caughtUp(59_000), false);
    assert.equal(clock.caughtUp(61_000), true);
    assert.equal(clock.timestamp(T0, catchUp + 10) - clock.timestamp(T0, catchUp + 9), 100, "real speed after catching up");
    assert.equal(clock.timestamp(T0, catchUp + 10), T0 + (catchUp + 10) * 100);
  });

  it("defaults `back` so a warped run catches up after one real minute; none without a warp", function () {
    assert.equal(defaultBack(1), 0);
    const clock = new SimClock({ intervalMs: 1000, warp: 1000, backMs: defaultBack(1000) });
    assert.equal(clock.caughtUp(59_999), false);
    assert.equal(clock.caughtUp(60_000), true);
    const plain = new SimClock({ intervalMs: 1000, warp: 1, backMs: 0 });
    assert.equal(plain.timestamp(T0, 5), T0 + 5000);
  });
});

describe("simulator signal model", function () {
  it("same seed gives the identical series; another seed another one", function () {
    const make = (seed) => new Fleet({ ids: deviceIds({ prefix: "pump-", count: 3 }), profile: parseProfile(""), seed, intervalMs: 1000, warp: 100, backMs: DAY });
    const run = (fleet, start) => {
      fleet.start(start);
      const out = [];
      for (let s = 0; s <= 300; s += 7) out.push(...fleet.tick(start + s * 1000));
      return out.map((r) => ({ id: r.twinId, k: r.k, offset: r.ts - start, values: r.values }));
    };
    const a = run(make(42), T0);
    const b = run(make(42), T0 + 12345); // another start time, another tick rhythm
    assert.ok(a.length > 600);
    assert.deepEqual(b, a);
    assert.notDeepEqual(run(make(43), T0), a);
  });

  it("gives each device its own series, independent of the fleet's size", function () {
    const profile = parseProfile("");
    const small = new Fleet({ ids: ["pump-02"], profile, seed: 9, intervalMs: 1000, warp: 1, backMs: 0 });
    const big = new Fleet({ ids: ["pump-01", "pump-02", "pump-03"], profile, seed: 9, intervalMs: 1000, warp: 1, backMs: 0 });
    small.start(T0);
    big.start(T0);
    const s = small.tick(T0 + 20000).map((r) => r.values);
    const all = big.tick(T0 + 20000);
    assert.deepEqual(all.filter((r) => r.twinId === "pump-02").map((r) => r.values), s);
    assert.notDeepEqual(all.filter((r) => r.twinId === "pump-01").map((r) => r.values), s);
  });

  it("Gaussian noise has the base as mean and the noise as standard deviation", function () {
    const xs = series(device({ x: { base: 10, noise: 2 } }), "x", 20000);
    assert.ok(Math.abs(mean(xs) - 10) < 0.06, `mean ${mean(xs)}`);
    assert.ok(Math.abs(std(xs) - 2) < 0.05, `std ${std(xs)}`);
    // about 68 % within one standard deviation, 95 % within two
    const within = (d) => xs.filter((x) => Math.abs(x - 10) < d).length / xs.length;
    assert.ok(Math.abs(within(2) - 0.6827) < 0.015);
    assert.ok(Math.abs(within(4) - 0.9545) < 0.01);
  });

  it("quantises to the resolution, with no floating-point residue", function () {
    const half = series(device({ x: { base: 3, noise: 1, resolution: 0.5 } }), "x", 2000);
    assert.ok(half.every((x) => Number.isInteger(x * 2)));
    const tenth = series(device({ x: { base: 21.5, noise: 0.37, resolution: 0.1 } }), "x", 2000);
    assert.ok(tenth.every((x) => /^-?\d+(\.\d)?$/.test(String(x))), "one decimal at most");
    assert.ok(new Set(tenth).size > 10);
  });

  it("clamps to min and max", function () {
    const xs = series(device({ x: { base: 0.1, noise: 1, min: 0, max: 0.5, resolution: 0.01 } }), "x", 2000);
    assert.ok(xs.every((x) => x >= 0 && x <= 0.5));
    assert.ok(xs.includes(0) && xs.includes(0.5));
  });

  it("drops readings at the dropout rate, per property and per device", function () {
    const dev = device({ x: { base: 1, dropout: 0.2 }, y: { base: 2 } });
    const xs = series(dev, "x", 20000);
    const rate = xs.filter((x) => x === null).length / xs.length;
    assert.ok(Math.abs(rate - 0.2) < 0.01, `dropout rate ${rate}`);
    const whole = device({ x: { base: 1 }, y: { base: 2 } }, 1, "dev-01", { dropout: 0.1 });
    let empty = 0;
    for (let k = 0; k < 20000; k++) if (whole.sample(k, k * 1000).length === 0) empty++;
    assert.ok(Math.abs(empty / 20000 - 0.1) < 0.008, `device dropout rate ${empty / 20000}`);
  });

  it("drifts linearly at the given slope, or faster and faster", function () {
    const lin = device({ x: { base: 10, drift: { rate: 0.5, per: "1d" } } });
    const xs = series(lin, "x", 11, DAY);
    xs.forEach((x, day) => assert.ok(Math.abs(x - (10 + 0.5 * day)) < 1e-9, `day ${day}: ${x}`));
    // With noise, the fitted slope matches too.
    const noisy = series(device({ x: { base: 10, noise: 1, drift: { rate: 2, per: "1d" } } }), "x", 2000, HOUR);
    const ts = noisy.map((_, i) => i / 24);
    const mt = mean(ts);
    const slope = ts.reduce((a, t, i) => a + (t - mt) * (noisy[i] - mean(noisy)), 0) / ts.reduce((a, t) => a + (t - mt) ** 2, 0);
    assert.ok(Math.abs(slope - 2) < 0.02, `slope ${slope}`);
    const acc = device({ x: { base: 0, drift: { rate: 1, per: "1d", shape: "accelerating", start: "1d" } } });
    const ys = series(acc, "x", 5, DAY);
    assert.deepEqual(ys, [0, 0, 1, 4, 9]);
  });

  it("spreads base and wear between devices, reproducibly", function () {
    const profile = parseProfile({ properties: { x: { base: 50, spread: 2, drift: { rate: 1, per: "1d", spread: 0.5 } } } });
    const bases = [];
    const rates = [];
    for (let i = 0; i < 400; i++) {
      const dev = new SimDevice(`d-${i}`, profile, 5);
      const [a] = dev.sample(0, 0);
      const [b] = dev.sample(1, DAY);
      bases.push(a.value);
      rates.push(b.value - a.value);
    }
    assert.ok(Math.abs(mean(bases) - 50) < 0.4 && Math.abs(std(bases) - 2) < 0.3, `bases ${mean(bases)} ± ${std(bases)}`);
    assert.ok(Math.abs(mean(rates) - 1) < 0.1 && Math.abs(std(rates) - 0.5) < 0.1, `rates ${mean(rates)} ± ${std(rates)}`);
    assert.equal(new SimDevice("d-7", profile, 5).sample(0, 0)[0].value, bases[7]);
  });

  it("adds a daily cycle", function () {
    const xs = series(device({ x: { base: 20, cycle: { amplitude: 5 } } }), "x", 5, 6 * HOUR);
    assert.deepEqual(xs.map((x) => Math.round(x * 1e9) / 1e9), [20, 25, 20, 15, 20]);
    const custom = series(device({ x: { base: 0, cycle: [{ amplitude: 1, period: "1h", phase: 0.25 }] } }), "x", 3, 30 * MIN);
    assert.deepEqual(custom.map((x) => Math.round(x * 1e9) / 1e9), [1, -1, 1]);
  });

  it("applies a step fault at the given simulated time, for its duration", function () {
    const dev = device({ x: { base: 10, faults: [{ type: "step", at: "3d", size: 5, duration: "1d" }] } });
    const xs = series(dev, "x", 24 * 5, HOUR);
    xs.forEach((x, h) => assert.equal(x, h >= 72 && h < 96 ? 15 : 10, `hour ${h}`));
  });

  it("draws a fault's time in a range, and whether a device has it, per device and the same for faults of one name", function () {
    const profile = parseProfile({
      properties: {
        a: { base: 0, faults: [{ name: "bearing", type: "step", at: ["2d", "6d"], size: 1, probability: 0.5 }] },
        b: { base: 0, faults: [{ name: "bearing", type: "step", at: ["2d", "6d"], size: 10, probability: 0.5 }] },
        c: { base: 0, faults: [{ type: "step", at: "1d", size: 1, devices: ["d-3"] }] },
      },
    });
    const onsets = [];
    for (let i = 0; i < 200; i++) {
      const dev = new SimDevice(`d-${i}`, profile, 11);
      let onset = null;
      for (let h = 0; h <= 24 * 7; h++) {
        const r = Object.fromEntries(dev.sample(h, h * HOUR).map((x) => [x.property, x.value]));
        assert.equal(r.b, r.a * 10, "faults of one name happen together");
        assert.equal(r.c, i === 3 && h >= 24 ? 1 : 0);
        if (onset === null && r.a === 1) onset = h;
      }
      onsets.push(onset);
    }
    const had = onsets.filter((h) => h !== null);
    assert.ok(had.length > 70 && had.length < 130, `${had.length} of 200 devices had the fault`);
    assert.ok(had.every((h) => h >= 48 && h <= 144));
    assert.ok(Math.max(...had) - Math.min(...had) > 72, "onsets spread over the range");
  });

  it("adds spikes at the given rate, and a single spike fault once", function () {
    const xs = series(device({ x: { base: 0, noise: 1, spikes: { probability: 0.05, size: 100 } } }), "x", 20000);
    const rate = xs.filter((x) => x > 50).length / xs.length;
    assert.ok(Math.abs(rate - 0.05) < 0.005, `spike rate ${rate}`);
    const once = series(device({ x: { base: 0, faults: [{ type: "spike", at: "90m", size: 7 }] } }), "x", 6, HOUR);
    assert.deepEqual(once, [0, 0, 7, 0, 0, 0]);
  });

  it("adds a burst of noise of the fault's size for its window, and leaves every other reading as it was", function () {
    const x = { base: 10, noise: 0.1, resolution: 0.001 };
    const plain = series(device({ x }), "x", 5 * 60, MIN);
    const noisy = series(device({ x: { ...x, faults: [{ type: "noise", at: "2h", duration: "1h", size: 2 }] } }), "x", 5 * 60, MIN);
    for (let m = 0; m < 5 * 60; m++) if (m < 120 || m >= 180) assert.equal(noisy[m], plain[m], `minute ${m}`);
    const extra = noisy.slice(120, 180).map((v, k) => v - plain[120 + k]);
    const sd = Math.sqrt(extra.reduce((a, e) => a + e * e, 0) / extra.length);
    assert.ok(sd > 1.5 && sd < 2.6, `the burst's extra noise has sd ${sd}`);
  });

  it("holds a stuck sensor at its last value, for a fault's window and for random episodes", function () {
    const dev = device({ x: { base: 10, noise: 1, resolution: 0.01, faults: [{ type: "stuck", at: "2h", duration: "1h" }] } });
    const xs = series(dev, "x", 5 * 60, MIN);
    const before = xs[119];
    for (let m = 120; m < 180; m++) assert.equal(xs[m], before, `minute ${m}`);
    assert.notEqual(xs[180], before);
    assert.ok(new Set(xs.slice(180)).size > 50, "moves again after the window");

    const rand = series(device({ x: { base: 10, noise: 1, resolution: 0.001, stuck: { probability: 0.01, duration: "10s" } } }), "x", 20000);
    let repeats = 0;
    for (let i = 1; i < rand.length; i++) if (rand[i] === rand[i - 1]) repeats++;
    // Each episode (about 1 per 100 readings, never overlapping) repeats the value for 10 readings.
    const share = repeats / rand.length;
    assert.ok(share > 0.07 && share < 0.12, `stuck share ${share}`);
  });

  it("follows a setpoint with a first-order lag: 63 % of the step after one time constant", function () {
    const dev = device({ rpm: { base: 1000, writable: true, lag: "10s" } });
    dev.sample(0, 0);
    dev.command({ rpm: 2000 }, 100_000);
    const at = (t) => dev.sample(Math.round(t / 1000), t)[0].value;
    assert.equal(at(100_000), 1000);
    assert.ok(Math.abs(at(110_000) - (1000 + 1000 * (1 - Math.exp(-1)))) < 1e-6, "one time constant");
    assert.ok(Math.abs(at(130_000) - (1000 + 1000 * (1 - Math.exp(-3)))) < 1e-6, "three time constants");
    assert.ok(Math.abs(at(200_000) - 2000) < 0.1, "settled after ten");
    // the response is exact however the readings are spaced
    const coarse = device({ rpm: { base: 1000, writable: true, lag: "10s" } });
    coarse.command({ rpm: 2000 }, 0);
    assert.ok(Math.abs(coarse.sample(1, 10_000)[0].value - 1632.1205588) < 1e-6);
  });

  it("a setpoint property: commands set it at once and the property it is the setpoint of follows", function () {
    const dev = device({
      speed: { base: 0, lag: "2s" },
      speedSetpoint: { setpointOf: "speed", base: 1500 },
      power: { base: 1, couple: { speed: 0.01 } },
    });
    const at = (k, t) => Object.fromEntries(dev.sample(k, t).map((r) => [r.property, r.value]));
    assert.deepEqual(at(0, 0), { speed: 0, speedSetpoint: 1500, power: 1 });
    const spinUp = at(1, 2000); // spins up toward its setpoint from the start
    assert.ok(Math.abs(spinUp.speed - 1500 * (1 - Math.exp(-1))) < 1e-6);
    assert.ok(Math.abs(spinUp.power - (1 + 0.01 * spinUp.speed)) < 1e-9, "power is coupled to speed");
    dev.command({ speed: 500 }, 60_000); // naming the followed property sets the setpoint
    const later = at(2, 60_000);
    assert.equal(later.speedSetpoint, 500);
    assert.ok(Math.abs(later.speed - 1500) < 0.01);
    assert.ok(Math.abs(at(3, 62_000).speed - (500 + 1000 * Math.exp(-1))) < 1e-6);
    dev.command({ speedSetpoint: "800" }, 62_000);
    assert.equal(at(4, 70_000).speedSetpoint, 800);
    assert.equal(dev.state("speed").target, 800);
  });

  it("refuses commands whole: unknown property, not writable, not a number", function () {
    const dev = device({ rpm: { base: 1000, writable: true }, temp: { base: 50 } });
    const refused = (values, code) => assert.throws(() => dev.command(values, 0), (err) => err.code === code && err.params.twinId === "dev-01");
    refused({ rpm: 1200, nope: 1 }, "not-in-model");
    refused({ rpm: 1200, temp: 60 }, "not-writable");
    refused({ rpm: "fast" }, "invalid-value");
    refused({ rpm: null }, "invalid-value");
    refused({ rpm: Infinity }, "invalid-value");
    assert.equal(dev.state("rpm").target, 1000, "nothing applied");
    assert.deepEqual(dev.command({ rpm: 1200 }, 0), ["rpm"]);
    assert.equal(dev.state("rpm").target, 1200);
  });
});

describe("simulator fleet", function () {
  const profile = parseProfile({ properties: { x: { base: 1, noise: 1 }, rpm: { base: 100, writable: true, lag: "1s" } } });
  const fleet = (options = {}) => new Fleet({ ids: ["a-1", "a-2"], profile, seed: 3, intervalMs: 1000, warp: 1, backMs: 0, ...options });

  it("emits the readings due, one per device per interval, and says when the next is due", function () {
    const f = fleet();
    assert.deepEqual(f.tick(T0), [], "nothing before start");
    assert.equal(f.nextDue(T0), null);
    f.start(T0);
    assert.deepEqual(f.tick(T0).map((r) => [r.twinId, r.k, r.ts]), [["a-1", 0, T0], ["a-2", 0, T0]]);
    assert.equal(f.nextDue(T0 + 200), 800);
    assert.equal(f.tick(T0 + 999).length, 0);
    assert.deepEqual(f.tick(T0 + 3500).map((r) => r.k), [1, 1, 2, 2, 3, 3]);
    assert.equal(f.nextDue(T0 + 3500), 500);
  });

  it("stop silences it; start resumes at the current time; reset repeats the run from the start", function () {
    const f = fleet();
    f.start(T0);
    const first = f.tick(T0 + 5000);
    f.stop();
    assert.deepEqual(f.tick(T0 + 9000), []);
    assert.equal(f.nextDue(T0 + 9000), null);
    f.start(T0 + 9500);
    assert.deepEqual(f.tick(T0 + 10_000).map((r) => r.k), [9, 9, 10, 10]);
    f.reset(T0 + 20_000);
    const again = f.tick(T0 + 25_000);
    assert.deepEqual(again.map((r) => r.values), first.map((r) => r.values));
    assert.equal(again[0].ts, T0 + 20_000);
  });

  it("a reset while stopped waits for the next start", function () {
    const f = fleet();
    f.start(T0);
    f.tick(T0 + 3000);
    f.stop();
    f.reset(T0 + 4000);
    assert.equal(f.running, false);
    f.start(T0 + 10_000);
    assert.deepEqual(f.tick(T0 + 10_000).map((r) => [r.k, r.ts]), [[0, T0 + 10_000], [0, T0 + 10_000]]);
  });

  it("catches up at most MAX_BACKLOG readings after a stall", function () {
    const f = fleet({ intervalMs: 10 });
    f.start(T0);
    const out = f.tick(T0 + 10 * (MAX_BACKLOG + 500));
    assert.equal(out.length, 2 * MAX_BACKLOG);
    assert.equal(out[out.length - 1].k, MAX_BACKLOG + 500);
    // a big fleet catches up fewer readings, so a tick stays short
    const big = new Fleet({ ids: deviceIds({ prefix: "b-", count: 1000 }), profile, seed: 3, intervalMs: 10, warp: 1, backMs: 0 });
    big.start(T0);
    const many = big.tick(T0 + 10 * 500);
    assert.equal(many.length, 1000 * (MAX_BACKLOG_READINGS / 1000));
  });

  it("commands a device at the current simulated time", function () {
    const f = fleet();
    f.start(T0);
    f.tick(T0);
    f.command("a-2", { rpm: 200 }, T0 + 1000);
    const r = f.tick(T0 + 2000).filter((x) => x.twinId === "a-2" && x.k === 2)[0];
    const rpm = r.values.find((v) => v.property === "rpm").value;
    assert.ok(Math.abs(rpm - (100 + 100 * (1 - Math.exp(-1)))) < 1e-6);
    assert.throws(() => f.command("a-9", { rpm: 1 }, T0), (err) => err.code === "not-found" && err.params.twinId === "a-9");
  });

  it("warped timestamps follow simulated time and never pass real time", function () {
    const f = fleet({ warp: 3600, backMs: 2 * DAY, intervalMs: 100 });
    f.start(T0);
    const out = [];
    for (let e = 0; e <= 60_000; e += 250) {
      for (const r of f.tick(T0 + e)) {
        assert.ok(r.ts <= T0 + e, "not in the future");
        out.push(r);
      }
    }
    const a1 = out.filter((r) => r.twinId === "a-1");
    assert.equal(a1[0].ts, T0 - 2 * DAY);
    assert.equal(a1[1].ts - a1[0].ts, 360_000, "6 simulated minutes per 100 ms reading");
    assert.equal(a1[a1.length - 1].ts, T0 + 60_000, "caught up, then real time");
    assert.equal(f.caughtUp(T0 + 60_000), true);
    assert.ok(Math.abs(f.simulated(T0 + 30_000) / DAY - 1.25) < 1e-9);
  });

  it("names devices from a prefix and count, or a list, and refuses bad ids", function () {
    assert.deepEqual(deviceIds({ prefix: "pump-", count: 5 }), ["pump-01", "pump-02", "pump-03", "pump-04", "pump-05"]);
    assert.equal(deviceIds({ prefix: "p", count: "120" })[119], "p120");
    assert.equal(deviceIds({ prefix: "p", count: 120 })[0], "p001");
    assert.deepEqual(deviceIds({ list: " boiler, pump-7\nfan.3 " }), ["boiler", "pump-7", "fan.3"]);
    const bad = (spec, option) => assert.throws(() => deviceIds(spec), (err) => err.code === "invalid-option" && err.params.option === option);
    bad({ prefix: "p", count: 0 }, "count");
    bad({ prefix: "p", count: 2.5 }, "count");
    bad({ prefix: "p", count: "" }, "count");
    bad({ prefix: "p", count: 20000 }, "count");
    bad({ prefix: "bad/", count: 2 }, "devices");
    bad({ list: "a, b, a" }, "devices");
    bad({ list: "   " }, "devices");
    bad({ list: "__proto__" }, "devices");
  });

  it("fills and checks topic templates", function () {
    assert.equal(fillTopic("sim/{twin}/{property}", "p-1", "rpm"), "sim/p-1/rpm");
    assert.equal(fillTopic("sim/{twin}", "p-1"), "sim/p-1");
    checkTopicTemplate("sim/{twin}/{property}", true);
    checkTopicTemplate("plant/{twin}", false);
    for (const [template, perProperty] of [["sim/+/x", true], ["sim/#", true], ["sim/{device}", true], ["sim/{twin}/{property}", false]]) {
      assert.throws(() => checkTopicTemplate(template, perProperty), (err) => err.code === "invalid-option" && err.params.option === "topic", template);
    }
  });
});

describe("simulator profiles", function () {
  it("the default is the pump: temperature, vibration, rpm, power", function () {
    const p = parseProfile("");
    assert.deepEqual(p.properties.map((s) => s.name), ["temperature", "vibration", "rpm", "power"]);
    assert.deepEqual(parseProfile(JSON.stringify(PUMP_PROFILE)), p);
    assert.deepEqual(parseProfile(undefined), p);
    const rpm = p.properties.find((s) => s.name === "rpm");
    assert.equal(rpm.writable, true);
    assert.equal(rpm.lagMs, 5000);
  });

  it("the pump's readings look like a pump", function () {
    const dev = new SimDevice("pump-01", parseProfile(""), 1);
    const rows = [];
    for (let k = 0; k < 2000; k++) rows.push(Object.fromEntries(dev.sample(k, k * MIN).map((r) => [r.property, r.value])));
    const col = (name) => rows.map((r) => r[name]).filter((v) => v !== undefined);
    assert.ok(Math.abs(mean(col("rpm")) - 1450) < 1);
    assert.ok(mean(col("temperature")) > 45 && mean(col("temperature")) < 65);
    assert.ok(col("vibration").every((v) => v >= 0));
    assert.ok(col("power").length < rows.length, "power has dropouts");
  });

  it("refuses bad profiles with the property and field named", function () {
    const refused = (profile, fragment) =>
      assert.throws(
        () => parseProfile(profile),
        (err) => {
          assert.equal(err.code, "invalid-option");
          assert.equal(err.params.option, "profile");
          assert.ok(err.params.reason.includes(fragment), `"${err.params.reason}" should mention "${fragment}"`);
          return true;
        },
      );
    const one = (spec) => ({ properties: { temp: spec } });
    refused("{ not json", "not JSON");
    refused("[1, 2]", "must be an object");
    refused({ properties: {} }, "at least one property");
    refused({ properties: { temp: {} }, extra: 1 }, "extra: unknown field");
    refused({ properties: { "bad name": {} } }, "not a valid property name");
    refused(JSON.parse('{"properties": {"__proto__": {}}}'), "not a valid property name");
    refused(one({ amplitud: 3 }), "temp.amplitud: unknown field");
    refused(one({ base: "hot" }), "temp.base: must be a number");
    refused(one({ noise: -1 }), "temp.noise: must not be negative");
    refused(one({ dropout: 1.5 }), "temp.dropout: a probability");
    refused(one({ min: 5, max: 1 }), "temp.min");
    refused(one({ cycle: { amplitude: 1, period: "often" } }), "temp.cycle.period");
    refused(one({ cycle: { amplitude: 1, period: 0 } }), "temp.cycle.period: must be above 0");
    refused(one({ cycle: [{ amplitude: 1, phase: 1.5 }] }), "temp.cycle[0].phase");
    refused(one({ drift: { rate: 1, shape: "wobbly" } }), "temp.drift.shape");
    refused(one({ drift: { rate: 1, exponent: 2 } }), "temp.drift.exponent");
    refused(one({ lag: "-3s" }), "temp.lag");
    refused(one({ stuck: { probability: 0.1 } }), "temp.stuck.duration");
    refused(one({ spikes: { probability: 2, size: 1 } }), "temp.spikes.probability");
    refused(one({ faults: { type: "step" } }), "temp.faults: must be a list");
    refused(one({ faults: [{ type: "melt", at: "1d" }] }), "temp.faults[0].type");
    refused(one({ faults: [{ type: "step", size: 1 }] }), "temp.faults[0].at");
    refused(one({ faults: [{ type: "step", at: "1d" }] }), "temp.faults[0].size");
    refused(one({ faults: [{ type: "step", at: ["3d", "1d"], size: 1 }] }), "temp.faults[0].at");
    refused(one({ faults: [{ type: "spike", at: "1d", size: 1, duration: "1h" }] }), "temp.faults[0].duration");
    refused(one({ faults: [{ type: "dropout", at: "1d", size: 1 }] }), "temp.faults[0].size");
    refused(one({ faults: [{ type: "noise", at: "1d" }] }), "temp.faults[0].size: a noise fault needs a size");
    refused(one({ faults: [{ type: "noise", at: "1d", size: -1 }] }), "temp.faults[0].size: a noise fault's size is the standard deviation");
    refused(one({ couple: { rpm: 1 } }), "temp.couple: no property \"rpm\"");
    refused(one({ couple: { temp: 1 } }), "coupled to itself");
    refused(one({ setpointOf: "rpm" }), "temp.setpointOf: no property \"rpm\"");
    refused({ properties: { a: {}, b: { setpointOf: "a" }, c: { setpointOf: "a" } } }, "already has the setpoint b");
    refused({ properties: { a: {}, b: { setpointOf: "a" }, c: { setpointOf: "b" } } }, "b is itself a setpoint");
    refused({ properties: { a: {}, b: { setpointOf: "a", lag: "2s" } } }, "b.lag");
  });
});
