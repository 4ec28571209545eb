/**
 * One simulated device: the signal model of each of its properties.
 *
 *   value = level + offset + cycles(t) + drift(t) + couplings + step faults + noise
 *           (+ spikes, + bursts of noise), clamped to [min, max], quantised to the resolution;
 *   then a stuck sensor repeats its last value, and a dropout sends nothing.
 *
 * `level` is the property's setpoint seen through a first-order lag: after a command, it moves
 * from where it was toward the new setpoint with time constant `lag` (63 % of the way after one
 * time constant). Everything random comes from prng.ts, seeded per reading, so reading k of a
 * device is the same in every run with the same seed. Times `t` are simulated ms since the start.
 */
import { TwinError, showValue } from "../errors";
import { tidy } from "../units";
import { Fault, Profile, PropertySpec } from "./profile";
import { Rng, hashString } from "./prng";

/** Tags that keep the seeds of different kinds of draw apart. */
const TAG_CONSTANTS = 0x51a7e;
const TAG_DEVICE = 0xd0d0;
const TAG_FAULT = 0xfa17;

interface ActiveFault { fault: Fault; atMs: number }

interface PropState {
  spec: PropertySpec;
  hash: number;
  /** This device's offset from the base, and its drift rate factor. */
  offset: number;
  driftScale: number;
  /** Where the level started: couplings add factor x (level - start). */
  start: number;
  level: number;
  target: number;
  levelTime: number;
  /** The faults this device has, with the time each starts for it. */
  faults: ActiveFault[];
  stuckUntil: number;
  held: number | null;
  lastValue: number | null;
  lastTime: number;
  /** The property whose setpoint this one is, and this property's own setpoint property. */
  follower: PropState | null;
  setpoint: PropState | null;
  couplings: Array<{ state: PropState; factor: number }>;
}

export interface Reading { property: string; value: number }

export class SimDevice {
  readonly id: string;
  private readonly seed: number;
  private readonly hash: number;
  private readonly profile: Profile;
  private readonly props: PropState[];
  private readonly byName = new Map<string, PropState>();
  private readonly rng = new Rng();

  constructor(id: string, profile: Profile, seed: number) {
    this.id = id;
    this.seed = seed;
    this.hash = hashString(id);
    this.profile = profile;
    this.props = profile.properties.map((spec) => this.initial(spec));
    for (const p of this.props) this.byName.set(p.spec.name, p);
    for (const p of this.props) {
      p.couplings = p.spec.couple.map((c) => ({ state: this.byName.get(c.property) as PropState, factor: c.factor }));
      if (p.spec.setpointOf !== null) {
        const follower = this.byName.get(p.spec.setpointOf) as PropState;
        p.follower = follower;
        follower.setpoint = p;
        follower.target = p.target;
      }
    }
  }

  private initial(spec: PropertySpec): PropState {
    const hash = hashString(spec.name);
    const rng = this.rng.reseed(this.seed, this.hash, hash, TAG_CONSTANTS);
    const offset = spec.spread * rng.gaussian();
    const driftScale = spec.drift ? Math.max(0, 1 + spec.drift.spread * rng.gaussian()) : 0;
    const faults: ActiveFault[] = [];
    spec.faults.forEach((fault, i) => {
      if (fault.devices.length && !fault.devices.includes(this.id)) return;
      const key = fault.name !== "" ? `fault:${fault.name}` : `fault:${spec.name}#${i}`;
      const r = this.rng.reseed(this.seed, this.hash, hashString(key), TAG_FAULT);
      const has = r.next() < fault.probability;
      const atMs = fault.atMs + r.next() * (fault.atToMs - fault.atMs);
      if (has) faults.push({ fault, atMs });
    });
    return {
      spec, hash, offset, driftScale,
      start: spec.base, level: spec.base, target: spec.base, levelTime: 0,
      faults, stuckUntil: -Infinity, held: null, lastValue: null, lastTime: -Infinity,
      follower: null, setpoint: null, couplings: [],
    };
  }

  /**
   * Reading number k at simulated time t (t never goes back): the values sent, in profile
   * order, without the properties that drop out; an empty list when the whole device drops out.
   */
  sample(k: number, t: number): Reading[] {
    this.advance(t);
    const out: Reading[] = [];
    for (const p of this.props) {
      const value = this.sampleProperty(p, k, t);
      if (value !== null) out.push({ property: p.spec.name, value });
    }
    const deviceDrop = this.profile.dropout > 0 && this.rng.reseed(this.seed, this.hash, TAG_DEVICE, k).next() < this.profile.dropout;
    if (deviceDrop) return [];
    for (const r of out) (this.byName.get(r.property) as PropState).lastValue = r.value;
    return out;
  }

  private sampleProperty(p: PropState, k: number, t: number): number | null {
    const s = p.spec;
    const rng = this.rng.reseed(this.seed, this.hash, p.hash, k);
    // Always the same draws in the same order, used or not: the series never shifts.
    const gauss = rng.gaussian();
    const uSpike = rng.next();
    const uDrop = rng.next();
    const uStuck = rng.next();

    let v = p.level + p.offset;
    for (const c of s.cycles) v += c.amplitude * Math.sin(2 * Math.PI * (t / c.periodMs + c.phase));
    if (s.drift && t > s.drift.startMs) {
      v += s.drift.rate * p.driftScale * Math.pow((t - s.drift.startMs) / s.drift.perMs, s.drift.exponent);
    }
    for (const c of p.couplings) v += c.factor * (c.state.level - c.state.start);
    let stuckFault = false;
    let dropFault = false;
    for (const { fault, atMs } of p.faults) {
      const active = t >= atMs && t < atMs + fault.durationMs;
      if (fault.type === "step" && active) v += fault.size;
      else if (fault.type === "spike" && p.lastTime < atMs && atMs <= t) v += fault.size;
      else if (fault.type === "stuck" && active) stuckFault = true;
      else if (fault.type === "dropout" && active) dropFault = true;
      // Drawn only while a burst lasts, from this reading's own seed: other readings stay as they were.
      else if (fault.type === "noise" && active) v += fault.size * rng.gaussian();
    }
    v += s.noise * gauss;
    if (s.spikes && uSpike < s.spikes.probability) v += s.spikes.size;
    v = this.shape(s, v);

    if (s.stuck && t >= p.stuckUntil && uStuck < s.stuck.probability) p.stuckUntil = t + s.stuck.durationMs;
    if (stuckFault || t < p.stuckUntil) {
      if (p.held === null) p.held = p.lastValue ?? v;
      v = p.held;
    } else {
      p.held = null;
    }
    p.lastTime = t;
    if (dropFault || uDrop < s.dropout) return null;
    return v;
  }

  /** Clamp, then quantise to the resolution (staying within the bounds). */
  private shape(s: PropertySpec, value: number): number {
    let v = Math.min(s.max, Math.max(s.min, value));
    if (s.resolution > 0) {
      v = Math.round(v / s.resolution) * s.resolution;
      if (v > s.max) v -= s.resolution;
      if (v < s.min) v += s.resolution;
    }
    return tidy(v);
  }

  /** Moves every level to time t along its first-order response. */
  private advance(t: number): void {
    for (const p of this.props) {
      const lag = p.spec.lagMs;
      if (lag <= 0) p.level = p.target;
      else if (t > p.levelTime) p.level = p.target + (p.level - p.target) * Math.exp(-(t - p.levelTime) / lag);
      p.levelTime = Math.max(p.levelTime, t);
    }
  }

  /**
   * A command at simulated time t: each key names a writable property, a setpoint property, or
   * a property that has a setpoint; each value is a number (or text holding one). Every key is
   * checked before anything changes: the command applies whole or not at all. Returns the
   * properties whose setpoint changed.
   */
  command(values: Record<string, unknown>, t: number): string[] {
    const changes: Array<{ state: PropState; value: number }> = [];
    for (const name of Object.keys(values)) {
      const p = this.byName.get(name);
      if (!p) throw new TwinError("not-in-model", { twinId: this.id, property: name.slice(0, 140), model: "profile" });
      const target = p.setpoint ?? p; // commanding rpm sets its setpoint property, when it has one
      if (!target.spec.writable && target.follower === null && target.setpoint === null) {
        throw new TwinError("not-writable", { twinId: this.id, property: name, model: "profile" });
      }
      const raw = values[name];
      const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new TwinError("invalid-value", { twinId: this.id, property: name, value: showValue(raw), rule: "a number" });
      }
      changes.push({ state: target, value });
    }
    this.advance(t);
    for (const { state, value } of changes) {
      state.target = value;
      if (state.follower) state.follower.target = value;
    }
    return changes.map((c) => c.state.spec.name);
  }

  /** The level and setpoint of a property now (for tests and status). */
  state(name: string): { level: number; target: number } | null {
    const p = this.byName.get(name);
    return p ? { level: p.level, target: p.target } : null;
  }
}
