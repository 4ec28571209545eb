/**
 * State mirroring: desired state versus reported state, the delta that goes to the device, and
 * convergence tracking per property.
 *
 * A Mirror watches the registry (it never keeps a copy of twin state) and, for every twin it
 * handles, tracks each property of the delta:
 *
 *   pending  -- sent, waiting for reported to match desired (numbers within the model's tolerance)
 *   applied  -- reported matches: tracking ends (desired may then be cleared)
 *   timeout  -- no match in time: the delta was sent again (waits grow by `backoff` each time)
 *   failed   -- no match after the last retry: tracking stays, nothing more is sent until
 *               desired changes, the twin comes back online (resync) or the device catches up
 *   cleared  -- desired was removed before the device applied it
 *
 * Changes arrive as registry events; the events of one write are gathered and settled together
 * (on a microtask, or at once by `flush()`), so one write gives at most one command per twin.
 * Deadlines sit in one min-heap, served by a single timer. Tracking is kept with each twin as
 * private registry state (key "mirror"), so a restart resumes where it stopped.
 */
import { RegistryFollower } from "./follower";
import { ChangeEvent, TwinRegistry } from "./registry";
import { Json, JsonObject, cloneJson, dict, jsonEqual } from "./json";
import { valuesMatch } from "./models";
import { isPropertyName } from "./names";
import { Twin } from "./twin";

export type TrackStatus = "pending" | "timeout" | "failed";
export type SyncStatus = TrackStatus | "applied" | "cleared";
/** Why a command was sent: desired or reported changed, a timeout, the twin came back online, a (re)deploy. */
export type SendReason = "change" | "retry" | "resync" | "start";

/** What output 2 of twin-mirror carries. `attempts`: how often the delta was sent in this cycle. */
export interface SyncEvent {
  twinId: string;
  property: string;
  status: SyncStatus;
  desired: Json;
  reported: Json;
  attempts: number;
  ts: number;
}

/** Properties to send to one twin's device, with their desired values. */
export interface Command {
  twinId: string;
  delta: JsonObject;
  reason: SendReason;
  ts: number;
}

/** The one timer a mirror uses (injected in tests). */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface MirrorOptions {
  registry: TwinRegistry;
  /** Which twins this mirror handles; all by default. */
  handles?: (twinId: string) => boolean;
  /** Wait after the first send; each retry waits `backoff` times longer than the one before. */
  timeoutMs?: number;
  /** Sends after the first before a property is `failed`. */
  retries?: number;
  backoff?: number;
  /** Clears the desired property once the device applied it. */
  clearOnApplied?: boolean;
  /** Who clears desired state (meta.desired.by). */
  by?: string;
  onCommand: (command: Command) => void;
  onSync: (event: SyncEvent) => void;
  /** A failure outside any message (a write refused by a closed store, ...). */
  onError?: (err: unknown) => void;
  /** The pending or failed count changed. */
  onChange?: () => void;
  clock?: () => number;
  timers?: Timers;
  /** How settling is postponed to the end of the registry write; queueMicrotask by default. */
  defer?: (fn: () => void) => void;
}

export const MIRROR_DEFAULTS = { timeoutMs: 30000, retries: 2, backoff: 2 };
export const STATE_KEY = "mirror";
/** Longest single wait: setTimeout's limit (about 24.8 days). */
const MAX_WAIT = 2 ** 31 - 1;

interface Tracked {
  value: Json;
  status: TrackStatus;
  attempts: number;
  deadline: number | null;
  /** Identifies this property's current heap entry; older entries are skipped. */
  seq: number;
}

interface Deadline { at: number; twinId: string; property: string; seq: number }

/** Events of one registry write (or several, in one turn) for one twin. */
interface Touch {
  names: Set<string>;
  desired: Set<string>;
  deleted: boolean;
  resync: boolean;
}

/** What settling one twin produced, emitted together at the end. */
interface Outcome {
  twinId: string;
  now: number;
  reason: SendReason;
  sends: Map<string, Json>;
  events: SyncEvent[];
  clears: string[];
  dirty: boolean;
}

export class Mirror extends RegistryFollower {
  private readonly handles: (twinId: string) => boolean;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoff: number;
  private readonly clearOnApplied: boolean;
  private readonly by: string;
  private readonly clock: () => number;
  private readonly timers: Timers;
  private readonly defer: (fn: () => void) => void;
  private readonly out: Pick<MirrorOptions, "onCommand" | "onSync" | "onError" | "onChange">;

  private readonly tracks = new Map<string, Map<string, Tracked>>();
  private batch = new Map<string, Touch>();
  private flushQueued = false;
  private readonly heap = new DeadlineHeap();
  /** Tracked properties with a deadline: the heap's live entries. */
  private live = 0;
  private seq = 0;
  private timer: unknown = null;
  private timerAt = Infinity;
  private pending = 0;
  private failed = 0;
  private shown = "0/0";

  constructor(options: MirrorOptions) {
    super(options.registry);
    this.handles = options.handles ?? (() => true);
    this.timeoutMs = positive(options.timeoutMs, MIRROR_DEFAULTS.timeoutMs);
    this.retries = Math.max(0, Math.floor(options.retries ?? MIRROR_DEFAULTS.retries));
    this.backoff = Math.max(1, options.backoff ?? MIRROR_DEFAULTS.backoff);
    this.clearOnApplied = options.clearOnApplied === true;
    this.by = options.by ?? "twin-mirror";
    this.clock = options.clock ?? Date.now;
    this.timers = options.timers ?? {
      set: (fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref?.();
        return t;
      },
      clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
    };
    this.defer = options.defer ?? queueMicrotask;
    this.out = options;
  }

  /**
   * Takes up the tracking kept with the handled twins: every outstanding delta is re-armed with
   * its timeout, and nothing is sent (see resendOutstanding).
   */
  protected override resume(): void {
    this.resumeTwins([...this.registry.ids()]);
  }

  /** Twins whose leader this instance became (a shared registry): their tracking is taken up as at a start. */
  protected override resumeTwins(twinIds: string[]): void {
    const now = this.clock();
    for (const twinId of twinIds) {
      if (!this.handles(twinId) || !this.leads(twinId)) continue;
      // What was held from an earlier lead is older than what the twin keeps.
      this.dropTwin(twinId);
      this.guard(() => this.restore(twinId, now));
    }
    this.arm();
    this.changed();
  }

  /** Another instance leads these twins now: it sends their deltas; the tracking stays with the twin. */
  protected override leaveTwins(twinIds: string[]): void {
    for (const twinId of twinIds) {
      this.dropTwin(twinId);
      this.batch.delete(twinId);
    }
    this.arm();
    this.changed();
  }

  /** Sends every outstanding delta again, each property starting a new cycle. */
  resendOutstanding(reason: SendReason = "start"): void {
    if (this.closed) return;
    const now = this.clock();
    for (const twinId of [...this.tracks.keys()]) {
      const twin = this.registry.twin(twinId);
      if (!twin) {
        this.dropTwin(twinId);
        continue;
      }
      const out = outcome(twinId, now, reason);
      for (const name of [...(this.tracks.get(twinId)?.keys() ?? [])]) this.resendOne(twin, name, out);
      this.finish(twin, out);
    }
    this.arm();
    this.changed();
  }

  /** Settles the registry events gathered so far (normally done on a microtask). */
  flush(): void {
    this.flushQueued = false;
    if (this.closed || this.batch.size === 0) return;
    const batch = this.batch;
    this.batch = new Map();
    const now = this.clock();
    for (const [twinId, touch] of batch) this.guard(() => this.settle(twinId, touch, now));
    this.arm();
    this.changed();
  }

  /** Serves every deadline that is due (the timer calls it). */
  tick(): void {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = this.clock();
    const due = new Map<string, Outcome>();
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      const t = this.tracks.get(top.twinId)?.get(top.property);
      if (!t || t.seq !== top.seq || t.deadline === null) continue;
      t.deadline = null;
      this.live--;
      let out = due.get(top.twinId);
      if (!out) due.set(top.twinId, (out = outcome(top.twinId, now, "retry")));
      this.expire(top.twinId, top.property, t, out);
    }
    for (const out of due.values()) {
      const twin = this.registry.twin(out.twinId);
      // Led elsewhere now (a shared registry): the leader resends; the tracking stays with the twin.
      if (twin && this.leads(out.twinId)) this.guard(() => this.finish(twin, out));
      else this.dropTwin(out.twinId);
    }
    this.arm();
    this.changed();
  }

  /** Properties waiting for the device (pending or retrying) and properties that failed. */
  counts(): { pending: number; failed: number } {
    return { pending: this.pending, failed: this.failed };
  }

  /** The tracking of one twin: property -> { status, attempts, desired }. */
  tracking(twinId: string): Record<string, { status: TrackStatus; attempts: number; desired: Json }> {
    const out = dict<{ status: TrackStatus; attempts: number; desired: Json }>();
    for (const [name, t] of this.tracks.get(twinId) ?? []) out[name] = { status: t.status, attempts: t.attempts, desired: cloneJson(t.value) };
    return out;
  }

  /** Stops the timer. Tracking stays in the registry for the next start. */
  protected override stop(): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    this.batch.clear();
    this.heap.clear();
  }

  // ---- registry events -----------------------------------------------------------------------

  protected onChange(event: ChangeEvent): void {
    if (this.closed) return;
    const { section } = event;
    if (section !== "reported" && section !== "desired" && section !== "connectivity" && section !== "twin") return;
    if (section === "connectivity" && event.changes.online?.value !== true) return;
    if (section === "reported" || section === "connectivity") {
      // The hot path: readings of twins with nothing desired and nothing tracked need no work.
      if (!this.registry.twin(event.twinId)?.desired?.size && !this.tracks.has(event.twinId)) return;
    }
    if (!this.handles(event.twinId)) return;
    let touch = this.batch.get(event.twinId);
    if (!touch) {
      touch = { names: new Set(), desired: new Set(), deleted: false, resync: false };
      this.batch.set(event.twinId, touch);
    }
    switch (section) {
      case "reported":
        for (const name of Object.keys(event.changes)) touch.names.add(name);
        break;
      case "desired":
        for (const name of Object.keys(event.changes)) {
          touch.names.add(name);
          touch.desired.add(name);
        }
        break;
      case "connectivity":
        touch.resync = true;
        break;
      case "twin":
        // A new twin's desired state comes as a "desired" event of its own.
        if (event.op === "deleted") {
          // Whatever came before belongs to the twin that is gone.
          touch.deleted = true;
          touch.resync = false;
          touch.names.clear();
          touch.desired.clear();
        }
        break;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.defer(() => this.flush());
    }
  }

  private settle(twinId: string, touch: Touch, now: number): void {
    const twin = this.registry.twin(twinId);
    if (touch.deleted || !twin) this.dropTwin(twinId);
    if (!twin) return;
    const out = outcome(twinId, now, "change");
    for (const name of touch.names) this.reconcile(twin, name, touch.desired.has(name), out);
    if (touch.resync) {
      if (out.sends.size === 0) out.reason = "resync";
      const names = new Set([...(twin.desired?.keys() ?? []), ...(this.tracks.get(twinId)?.keys() ?? [])]);
      for (const name of names) if (!out.sends.has(name)) this.resendOne(twin, name, out);
    }
    this.finish(twin, out);
  }

  /**
   * Brings one property's tracking in line with the twin. `desiredWritten`: desired was just
   * written (even to the value it had), which always starts a new cycle.
   */
  private reconcile(twin: Twin, name: string, desiredWritten: boolean, out: Outcome): void {
    const want = twin.desired?.get(name);
    const t = this.tracks.get(twin.id)?.get(name);
    if (!want) {
      if (t) {
        this.untrack(twin.id, name);
        this.event(out, twin, name, "cleared", null, t.attempts);
      }
      return;
    }
    if (this.matches(twin, name, want.value)) {
      if (t) this.untrack(twin.id, name);
      if (t || desiredWritten) {
        this.event(out, twin, name, "applied", want.value, t ? t.attempts : 0);
        if (this.clearOnApplied) out.clears.push(name);
      }
      return;
    }
    if (t && !desiredWritten && jsonEqual(t.value, want.value)) return;
    this.begin(twin, name, want.value, out);
  }

  /** Resync and resend: a property still in the delta starts a new cycle; others settle. */
  private resendOne(twin: Twin, name: string, out: Outcome): void {
    const want = twin.desired?.get(name);
    if (want && !this.matches(twin, name, want.value)) this.begin(twin, name, want.value, out);
    else this.reconcile(twin, name, false, out);
  }

  /** A new cycle: sent now, attempt 1, waiting for the first timeout. */
  private begin(twin: Twin, name: string, value: Json, out: Outcome): void {
    const t = this.track(twin.id, name, value, "pending", 1);
    this.schedule(twin.id, name, t, out.now + this.wait(1));
    out.sends.set(name, value);
    this.event(out, twin, name, "pending", value, 1);
  }

  private expire(twinId: string, name: string, t: Tracked, out: Outcome): void {
    const twin = this.registry.twin(twinId);
    if (!twin) return;
    const want = twin.desired?.get(name);
    // Events settle this normally; a change that slipped through is settled here instead.
    if (!want || !jsonEqual(want.value, t.value) || this.matches(twin, name, want.value)) {
      this.reconcile(twin, name, false, out);
      return;
    }
    out.dirty = true;
    if (t.attempts < 1 + this.retries) {
      t.attempts++;
      this.setStatus(t, "timeout");
      this.schedule(twinId, name, t, out.now + this.wait(t.attempts));
      out.sends.set(name, t.value);
      this.event(out, twin, name, "timeout", t.value, t.attempts);
    } else {
      this.setStatus(t, "failed");
      this.event(out, twin, name, "failed", t.value, t.attempts);
    }
  }

  /** Persists, then emits the command, the sync events, and clears what was applied. */
  private finish(twin: Twin, out: Outcome): void {
    if (out.dirty) this.guard(() => this.persist(twin.id));
    if (out.sends.size) {
      const delta = dict();
      for (const [name, value] of out.sends) delta[name] = cloneJson(value);
      this.out.onCommand({ twinId: twin.id, delta, reason: out.reason, ts: out.now });
    }
    for (const event of out.events) this.out.onSync(event);
    if (out.clears.length) {
      const clear = dict();
      for (const name of out.clears) clear[name] = null;
      this.guard(() => this.registry.setDesired(twin.id, clear, { by: this.by }));
    }
  }

  private event(out: Outcome, twin: Twin, name: string, status: SyncStatus, desired: Json, attempts: number): void {
    const have = twin.reported.get(name);
    out.dirty = true;
    out.events.push({
      twinId: twin.id,
      property: name,
      status,
      desired: cloneJson(desired),
      reported: have ? cloneJson(have.value) : null,
      attempts,
      ts: out.now,
    });
  }

  private matches(twin: Twin, name: string, want: Json): boolean {
    const have = twin.reported.get(name);
    return have !== undefined && valuesMatch(this.registry.modelOf(twin)?.properties.get(name), want, have.value);
  }

  /** Wait after the n-th send of a cycle. */
  private wait(attempt: number): number {
    return Math.min(MAX_WAIT, this.timeoutMs * this.backoff ** Math.max(0, attempt - 1));
  }

  // ---- tracking and its counts ---------------------------------------------------------------

  private track(twinId: string, name: string, value: Json, status: TrackStatus, attempts: number): Tracked {
    let props = this.tracks.get(twinId);
    if (!props) this.tracks.set(twinId, (props = new Map()));
    let t = props.get(name);
    if (t) {
      t.value = value;
      t.attempts = attempts;
      this.setStatus(t, status);
    } else {
      t = { value, status, attempts, deadline: null, seq: 0 };
      props.set(name, t);
      this.count(status, 1);
    }
    return t;
  }

  private untrack(twinId: string, name: string): void {
    const props = this.tracks.get(twinId);
    const t = props?.get(name);
    if (!props || !t) return;
    this.schedule(twinId, name, t, null);
    this.count(t.status, -1);
    props.delete(name);
    if (props.size === 0) this.tracks.delete(twinId);
  }

  private dropTwin(twinId: string): void {
    for (const name of [...(this.tracks.get(twinId)?.keys() ?? [])]) this.untrack(twinId, name);
  }

  private setStatus(t: Tracked, status: TrackStatus): void {
    if (t.status === status) return;
    this.count(t.status, -1);
    t.status = status;
    this.count(status, 1);
  }

  private count(status: TrackStatus, n: number): void {
    if (status === "failed") this.failed += n;
    else this.pending += n;
  }

  private schedule(twinId: string, name: string, t: Tracked, at: number | null): void {
    if (at === null) {
      // Stryker disable next-line all: `live` only decides when arm() compacts the heap; counted too low, it compacts sooner (deadlines still right); too high is caught by the heap-size tests
      if (t.deadline !== null) this.live--;
      t.deadline = null;
      return;
    }
    // Stryker disable next-line all: as above, `live` only paces the heap compaction
    if (t.deadline === null) this.live++;
    t.deadline = at;
    // Stryker disable next-line UpdateOperator: seq only needs to differ from entry to entry, in either direction
    t.seq = ++this.seq;
    this.heap.push({ at, twinId, property: name, seq: t.seq });
  }

  /** One timer, for the nearest live deadline. */
  private arm(): void {
    if (this.closed) return;
    for (let top = this.heap.peek(); top && !this.isLive(top); top = this.heap.peek()) this.heap.pop();
    // Stryker disable next-line all: when to compact is a cost, not an answer: any threshold serves the same deadlines; the heap-size tests catch one that never compacts
    if (this.heap.size > 2 * this.live + 64) this.rebuildHeap();
    const top = this.heap.peek();
    const at = top ? top.at : Infinity;
    // Stryker disable next-line all: re-arming a timer for the time it is already set to changes nothing that can be seen
    if (at === this.timerAt && this.timer !== null) return;
    // Stryker disable next-line ConditionalExpression: clearing no timer is a no-op
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    if (at === Infinity) return;
    this.timerAt = at;
    this.timer = this.timers.set(() => this.tick(), Math.min(MAX_WAIT, Math.max(0, at - this.clock())));
  }

  private isLive(d: Deadline): boolean {
    const t = this.tracks.get(d.twinId)?.get(d.property);
    return t !== undefined && t.seq === d.seq && t.deadline !== null;
  }

  private rebuildHeap(): void {
    const items: Deadline[] = [];
    for (const [twinId, props] of this.tracks) {
      for (const [property, t] of props) if (t.deadline !== null) items.push({ at: t.deadline, twinId, property, seq: t.seq });
    }
    this.heap.reset(items);
  }

  private changed(): void {
    const shown = `${this.pending}/${this.failed}`;
    if (shown === this.shown) return;
    this.shown = shown;
    this.out.onChange?.();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.out.onError?.(err);
    }
  }

  // ---- persistence ---------------------------------------------------------------------------

  /** Tracking as kept with the twin: { props: { name: { value, status, attempts, deadline } } }. */
  private persist(twinId: string): void {
    if (!this.registry.twin(twinId)) return;
    const props = this.tracks.get(twinId);
    if (!props || props.size === 0) {
      if (this.registry.getState(twinId, STATE_KEY) !== undefined) this.registry.setState(twinId, STATE_KEY, null);
      return;
    }
    const saved = dict();
    for (const [name, t] of props) {
      const entry = dict();
      entry.value = t.value;
      entry.status = t.status;
      entry.attempts = t.attempts;
      entry.deadline = t.deadline;
      saved[name] = entry;
    }
    const state = dict();
    state.props = saved;
    if (!jsonEqual(state, this.registry.getState(twinId, STATE_KEY) ?? null)) this.registry.setState(twinId, STATE_KEY, state);
  }

  /**
   * Takes up one twin's tracking after a (re)start. A property still in the delta keeps its
   * attempts and status when its desired value is the one tracked; its deadline is kept while
   * in the future, else it gets a full wait from now (no burst of retries after a long stop).
   * A delta nobody tracked yet (set while the mirror was not running) waits one timeout, and
   * is then sent as a retry.
   */
  private restore(twinId: string, now: number): void {
    const twin = this.registry.twin(twinId);
    if (!twin) return;
    const saved = readState(this.registry.getState(twinId, STATE_KEY));
    if (!twin.desired && saved.size === 0) return;
    for (const [name, want] of twin.desired ?? []) {
      if (this.matches(twin, name, want.value)) continue;
      const s = saved.get(name);
      if (s && jsonEqual(s.value, want.value)) {
        const t = this.track(twinId, name, want.value, s.status, s.attempts);
        if (s.status !== "failed") {
          const at = s.deadline !== null && s.deadline > now ? s.deadline : now + this.wait(s.attempts);
          this.schedule(twinId, name, t, at);
        }
      } else {
        const t = this.track(twinId, name, want.value, "pending", 0);
        this.schedule(twinId, name, t, now + this.wait(1));
      }
    }
    this.persist(twinId);
  }
}

// ---- kept state ------------------------------------------------------------------------------

interface Saved { value: Json; status: TrackStatus; attempts: number; deadline: number | null }

const TRACK_STATUSES = new Set<string>(["pending", "timeout", "failed"]);

/** Reads kept tracking; anything malformed is left out (the property is then tracked afresh). */
function readState(raw: Json | undefined): Map<string, Saved> {
  const out = new Map<string, Saved>();
  if (!isObject(raw) || !own(raw, "props") || !isObject(raw.props)) return out;
  const props = raw.props;
  for (const name of Object.keys(props)) {
    const entry = props[name];
    if (!isPropertyName(name) || !isObject(entry) || !own(entry, "value")) continue;
    const { status, attempts, deadline } = entry;
    if (typeof status !== "string" || !TRACK_STATUSES.has(status)) continue;
    if (typeof attempts !== "number" || !Number.isSafeInteger(attempts) || attempts < 0) continue;
    if (deadline !== null && (typeof deadline !== "number" || !Number.isFinite(deadline))) continue;
    out.set(name, { value: entry.value, status: status as TrackStatus, attempts, deadline });
  }
  return out;
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function own(obj: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function outcome(twinId: string, now: number, reason: SendReason): Outcome {
  return { twinId, now, reason, sends: new Map(), events: [], clears: [], dirty: false };
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

// ---- deadlines -------------------------------------------------------------------------------

/** A binary min-heap of deadlines. Superseded entries stay until they surface (or a rebuild). */
class DeadlineHeap {
  private items: Deadline[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Deadline | undefined {
    return this.items[0];
  }

  push(item: Deadline): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent].at <= a[i].at) break;
      [a[parent], a[i]] = [a[i], a[parent]];
      i = parent;
    }
  }

  pop(): Deadline | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }

  reset(items: Deadline[]): void {
    this.items = items;
    // Stryker disable next-line ArithmeticOperator: starting one node lower only sifts a leaf, which does nothing
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  clear(): void {
    this.items = [];
  }

  private down(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      // Stryker disable next-line EqualityOperator: only equal deadlines would swap, and their order does not matter
      if (l < a.length && a[l].at < a[m].at) m = l;
      // Stryker disable next-line EqualityOperator: as above
      if (r < a.length && a[r].at < a[m].at) m = r;
      if (m === i) return;
      [a[m], a[i]] = [a[i], a[m]];
      i = m;
    }
  }
}

// ---- twin selection and device messages --------------------------------------------------------


export type TopicProblem = "empty" | "wildcard" | "placeholder";

/** Why a device topic template cannot work, or null. Placeholders: {twin} and {property}. */
export function topicProblem(template: string): TopicProblem | null {
  if (!template) return "empty";
  if (/[+#\u0000]/.test(template)) return "wildcard";
  // Stryker disable next-line StringLiteral: any text without a brace would do in place of the placeholders
  if (/[{}]/.test(template.replace(/\{twin\}|\{property\}/g, ""))) return "placeholder";
  return null;
}

export interface DeviceMessage { topic: string; payload: Json; twinId: string; property?: string }

/**
 * The messages for the device: one with the delta object, or, when the template names
 * {property}, one per property with its value alone.
 */
export function deviceMessages(command: Command, template: string): DeviceMessage[] {
  const topic = template.split("{twin}").join(command.twinId);
  if (!topic.includes("{property}")) return [{ topic, payload: command.delta, twinId: command.twinId }];
  return Object.keys(command.delta).map((property) => ({
    topic: topic.split("{property}").join(property),
    payload: command.delta[property],
    twinId: command.twinId,
    property,
  }));
}
