/**
 * A fleet of simulated devices sharing one profile, one seed and one clock. The caller (the
 * node) owns the only timer: it asks `tick(now)` for the readings that are due and `nextDue(now)`
 * for when to call again. Start, stop, reset and commands are plain method calls with the real
 * time passed in, so tests drive a fleet with a hand-moved clock.
 *
 * - start: the first start starts the clock; after a stop, readings resume at the current
 *   simulated time (the clock kept running while stopped: the devices were only silent).
 * - reset: devices back to their initial state and the clock to the simulated start; the run
 *   that follows repeats the first one exactly (same seed, same readings).
 */
import { TwinError } from "../errors";
import { isTwinId } from "../names";
import { SimClock, ClockOptions } from "./clock";
import { SimDevice, Reading } from "./device";
import { Profile } from "./profile";

export const MAX_DEVICES = 10000;
/** After a long stall (a blocked event loop), at most this many readings per device catch up... */
export const MAX_BACKLOG = 1000;
/** ...and at most this many device readings in all, so catching up never blocks for long. */
export const MAX_BACKLOG_READINGS = 50_000;

export interface DeviceReadings {
  twinId: string;
  /** Simulated timestamp, epoch ms. */
  ts: number;
  /** Reading number since the start or reset. */
  k: number;
  values: Reading[];
}

export interface FleetOptions extends ClockOptions {
  ids: string[];
  profile: Profile;
  seed: number;
}

export class Fleet {
  readonly clock: SimClock;
  readonly ids: readonly string[];
  private readonly profile: Profile;
  private readonly seed: number;
  private devices = new Map<string, SimDevice>();
  /** Real time the run (re)started, or null before the first start. */
  private t0: number | null = null;
  /** The last reading number processed. */
  private k = -1;
  private on = false;

  constructor(options: FleetOptions) {
    this.clock = new SimClock(options);
    this.ids = options.ids;
    this.profile = options.profile;
    this.seed = options.seed;
    this.build();
  }

  private build(): void {
    this.devices = new Map(this.ids.map((id) => [id, new SimDevice(id, this.profile, this.seed)]));
  }

  get running(): boolean {
    return this.on;
  }

  get size(): number {
    return this.ids.length;
  }

  start(now: number): void {
    if (this.on) return;
    this.on = true;
    if (this.t0 === null) {
      this.t0 = now;
      this.k = -1;
    } else {
      // Silent while stopped: what was due then is skipped, not sent late.
      this.k = Math.max(this.k, this.clock.dueStep(now - this.t0) - 1);
    }
  }

  stop(): void {
    this.on = false;
  }

  /** Back to the simulated start; keeps running (from `now`) if it was running. */
  reset(now: number): void {
    this.build();
    this.t0 = this.on ? now : null;
    this.k = -1;
  }

  /** Simulated ms since the simulated start, at real time `now`. */
  simulated(now: number): number {
    return this.t0 === null ? 0 : this.clock.simulated(now - this.t0);
  }

  /** Simulated epoch ms at real time `now` (never later than now). */
  simulatedNow(now: number): number {
    return this.t0 === null ? now - this.clock.backMs : Math.floor(this.t0 - this.clock.backMs + this.simulated(now));
  }

  caughtUp(now: number): boolean {
    return this.t0 === null ? this.clock.warp <= 1 : this.clock.caughtUp(now - this.t0);
  }

  /** The readings due at real time `now`, oldest first, each device's in id order. */
  tick(now: number): DeviceReadings[] {
    if (!this.on || this.t0 === null) return [];
    const due = this.clock.dueStep(now - this.t0);
    const backlog = Math.max(1, Math.min(MAX_BACKLOG, Math.floor(MAX_BACKLOG_READINGS / this.ids.length)));
    if (due - this.k > backlog) this.k = due - backlog;
    const out: DeviceReadings[] = [];
    for (let k = this.k + 1; k <= due; k++) {
      const t = this.clock.stepTime(k);
      const ts = this.clock.timestamp(this.t0, k);
      for (const id of this.ids) {
        const values = (this.devices.get(id) as SimDevice).sample(k, t);
        if (values.length) out.push({ twinId: id, ts, k, values });
      }
    }
    this.k = Math.max(this.k, due);
    return out;
  }

  /** Real ms from `now` until the next reading is due (0 if one is due), or null when stopped. */
  nextDue(now: number): number | null {
    if (!this.on || this.t0 === null) return null;
    const at = this.t0 + (this.k + 1) * this.clock.intervalMs;
    return Math.max(0, Math.ceil(at - now));
  }

  /** Applies a command to one device at the current simulated time; see SimDevice.command. */
  command(twinId: string, values: Record<string, unknown>, now: number): string[] {
    const device = this.devices.get(twinId);
    if (!device) throw new TwinError("not-found", { twinId: twinId.slice(0, 140) });
    return device.command(values, this.simulated(now));
  }

  device(twinId: string): SimDevice | undefined {
    return this.devices.get(twinId);
  }
}

/**
 * Device ids: `prefix` + a number from 1 to `count`, zero-padded to at least two digits
 * ("pump-01".."pump-05"), or an explicit list (commas, spaces or new lines between ids).
 * Throws TwinError("invalid-option") on a bad count, an invalid or repeated id.
 */
export function deviceIds(spec: { prefix?: string; count?: unknown; list?: string }): string[] {
  let ids: string[];
  if (spec.list !== undefined) {
    ids = spec.list.split(/[\s,]+/).filter(Boolean);
    if (ids.length === 0) throw new TwinError("invalid-option", { option: "devices", reason: "the list of device ids is empty" });
    if (ids.length > MAX_DEVICES) throw new TwinError("invalid-option", { option: "devices", reason: `at most ${MAX_DEVICES} devices` });
  } else {
    const count = Number(spec.count);
    if (spec.count === "" || !Number.isInteger(count) || count < 1 || count > MAX_DEVICES) {
      throw new TwinError("invalid-option", { option: "count", reason: `a whole number from 1 to ${MAX_DEVICES}, not ${String(spec.count).slice(0, 40)}` });
    }
    const width = Math.max(2, String(count).length);
    const prefix = spec.prefix ?? "";
    ids = Array.from({ length: count }, (_, i) => prefix + String(i + 1).padStart(width, "0"));
  }
  const seen = new Set<string>();
  for (const id of ids) {
    if (!isTwinId(id as unknown)) {
      throw new TwinError("invalid-option", { option: "devices", reason: `"${id.slice(0, 140)}" is not a valid twin id (1 to 128 letters, digits, _ . : - starting with a letter or digit)` });
    }
    if (seen.has(id)) throw new TwinError("invalid-option", { option: "devices", reason: `"${id}" appears twice` });
    seen.add(id);
  }
  return ids;
}

/** A topic from a template with {twin} and {property}. */
export function fillTopic(template: string, twinId: string, property?: string): string {
  const topic = template.split("{twin}").join(twinId);
  return property === undefined ? topic : topic.split("{property}").join(property);
}

/** Checks a reading topic template; throws TwinError("invalid-option", {option: "topic"}). */
export function checkTopicTemplate(template: string, perProperty: boolean): void {
  const fail = (reason: string): never => {
    throw new TwinError("invalid-option", { option: "topic", reason: `"${template.slice(0, 200)}": ${reason}` });
  };
  if (/[+#\u0000]/.test(template)) fail("a topic to publish to has no + or #");
  if (/[{}]/.test(template.replace(/\{twin\}|\{property\}/g, ""))) fail("only {twin} and {property} are filled in");
  if (!perProperty && template.includes("{property}")) fail("one message per twin has no {property}; choose one message per property");
}
