/**
 * What `twin-watch` lets through, and how often. `Watch` is pure: no timers and no Node-RED; the
 * caller passes the time and arms one timer for `nextDue()`. `WatchFollower` (at the end) is that
 * caller: it follows a registry and keeps the timer.
 *
 * A filter has four parts, each optional (empty lets everything through):
 * - twin ids: glob patterns (`*` any run of characters, `?` one character), comma-separated;
 * - models: glob patterns over model names, comma-separated; a twin with no model never matches;
 * - sections: a list of the event sections;
 * - properties: names. Events of the property-keyed sections (attributes, reported, desired,
 *   delta, predictions) pass only when they change one of them, narrowed to those changes.
 *   Events about the twin as a whole (twin, connectivity, lifecycle) are not narrowed.
 *
 * Throttling, per twin and section, with an interval N: the first event goes out at once and
 * opens a window of N ms; events arriving inside the window are merged into one, which goes out
 * when the window ends and opens the next window. Merging keeps, per property, the oldest
 * `previous` and the newest `value` and `ts`; the merged event carries the newest version, ts
 * and op. So no changed property is lost, and a value that changed and came back shows with
 * `value` equal to `previous`. Section `twin` (created, deleted) is never held back; a deletion
 * first lets out what was held for that twin.
 */
import { TwinError } from "./errors";
import { dict } from "./json";
import { isPropertyName } from "./names";
import { RegistryFollower } from "./follower";
import { DERIVED, DERIVED_SECTIONS } from "./sections";
import { Change, ChangeEvent, Section, TwinRegistry } from "./registry";
import { ID_GLOB, globMatch } from "./glob";

export const SECTIONS: readonly Section[] = ["twin", "attributes", "reported", "desired", "delta", "connectivity", ...DERIVED_SECTIONS];
const SECTION_SET = new Set<string>(SECTIONS);
/** Sections whose changes are keyed by a name the property filter can choose. */
const NAMED_SECTIONS = new Set<Section>(["attributes", "reported", "desired", "delta", ...DERIVED_SECTIONS.filter((s) => DERIVED[s].shape === "keyed")]);
/** What a twin id glob may hold: the id characters and the two wildcards. */
const MAX_MODEL_PATTERN = 200;
/** Longest throttle interval: one day. */
export const MAX_THROTTLE_MS = 24 * 60 * 60 * 1000;

export interface WatchConfig {
  /** Comma-separated twin id globs. */
  twinIds?: unknown;
  /** Comma-separated model name globs. */
  models?: unknown;
  /** Comma-separated section names, or an array of them. */
  sections?: unknown;
  /** Comma-separated property names, or an array of them. */
  properties?: unknown;
  /** Milliseconds; 0 lets every event through at once. */
  throttleMs?: unknown;
}

/** A set of globs: exact names in a Set, the rest tried in turn. `null` matches everything. */
class GlobSet {
  private readonly exact = new Set<string>();
  private readonly wild: string[] = [];

  constructor(patterns: string[]) {
    for (const p of patterns) {
      if (p.includes("*") || p.includes("?")) this.wild.push(p);
      else this.exact.add(p);
    }
  }

  static of(patterns: string[]): GlobSet | null {
    if (patterns.length === 0 || patterns.some((p) => /^\*+$/.test(p))) return null;
    return new GlobSet(patterns);
  }

  has(text: string): boolean {
    if (this.exact.has(text)) return true;
    for (const p of this.wild) if (globMatch(p, text)) return true;
    return false;
  }
}

/** Splits a comma-separated setting (or takes an array of strings); blanks are dropped. */
export function splitList(value: unknown, option: string): string[] {
  if (value === undefined || value === null) return [];
  const parts = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : null;
  if (!parts) throw new TwinError("invalid-option", { option, value: typeof value });
  const out: string[] = [];
  for (const part of parts) {
    if (typeof part !== "string") throw new TwinError("invalid-option", { option, value: typeof part });
    const item = part.trim();
    if (item) out.push(item);
  }
  return out;
}

/**
 * A compiled filter. Throws TwinError("invalid-option", { option, value }) naming the first bad
 * setting: option is one of twinIds, models, sections, properties, throttle.
 */
export class WatchFilter {
  readonly ids: GlobSet | null;
  readonly models: GlobSet | null;
  readonly sections: Set<string> | null;
  readonly properties: Set<string> | null;
  readonly throttleMs: number;

  constructor(config: WatchConfig = {}) {
    const ids = splitList(config.twinIds, "twinIds");
    for (const p of ids) if (!ID_GLOB.test(p)) throw new TwinError("invalid-option", { option: "twinIds", value: p.slice(0, 140) });
    this.ids = GlobSet.of(ids);

    const models = splitList(config.models, "models");
    for (const p of models) if (p.length > MAX_MODEL_PATTERN) throw new TwinError("invalid-option", { option: "models", value: p.slice(0, 40) + "…" });
    this.models = GlobSet.of(models);

    const sections = splitList(config.sections, "sections");
    for (const s of sections) if (!SECTION_SET.has(s)) throw new TwinError("invalid-option", { option: "sections", value: s.slice(0, 140) });
    const chosen = new Set(sections);
    this.sections = chosen.size === 0 || chosen.size === SECTIONS.length ? null : chosen;

    const properties = splitList(config.properties, "properties");
    for (const p of properties) if (!isPropertyName(p as unknown)) throw new TwinError("invalid-option", { option: "properties", value: p.slice(0, 140) });
    this.properties = properties.length ? new Set(properties) : null;

    this.throttleMs = throttleOf(config.throttleMs);
  }

  /** Whether the twin itself is watched (id and model): what the state on start is sent for. */
  matchesTwin(id: string, model: string | null | undefined): boolean {
    if (this.ids && !this.ids.has(id)) return false;
    return this.matchesModel(model);
  }

  matchesModel(model: string | null | undefined): boolean {
    if (!this.models) return true;
    return typeof model === "string" && this.models.has(model);
  }

  wantsSection(section: string): boolean {
    return !this.sections || this.sections.has(section);
  }

  /**
   * The event as it should leave, or null when no chosen property changed. Returns the same
   * object when nothing is cut, else a shallow copy with its own `changes` (the registry's event
   * is shared by every listener and must not be changed).
   */
  narrow(event: ChangeEvent): ChangeEvent | null {
    const wanted = this.properties;
    if (!wanted || !NAMED_SECTIONS.has(event.section)) return event;
    const changes = event.changes;
    const names = Object.keys(changes);
    let kept = 0;
    for (const name of names) if (wanted.has(name)) kept++;
    if (kept === 0) return null;
    if (kept === names.length) return event;
    const narrowed = dict<Change>();
    for (const name of names) if (wanted.has(name)) narrowed[name] = changes[name];
    return { ...event, changes: narrowed };
  }
}

function throttleOf(value: unknown): number {
  if (value === undefined || value === null || value === "") return 0;
  const n = typeof value === "string" ? Number(value.trim()) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || n > MAX_THROTTLE_MS) {
    throw new TwinError("invalid-option", { option: "throttle", value: String(value).slice(0, 40) });
  }
  return Math.round(n);
}

/** One twin section's window: until when it is closed, and what is held for its end. */
interface Slot {
  until: number;
  held: ChangeEvent | null;
  /** Whether `held` is our own copy (it may be merged into), not the registry's shared event. */
  owned: boolean;
}

export interface WatchOptions {
  /** The model of a twin the registry holds now; undefined when it holds no such twin. */
  modelOf(twinId: string): string | null | undefined;
  emit(event: ChangeEvent): void;
}

/**
 * Filter, narrowing and throttle over a stream of change events. `handle` each event with the
 * current time; when `nextDue()` is not null, call `due(now)` at or after that time.
 */
export class Watch {
  readonly filter: WatchFilter;
  private readonly modelOf: (twinId: string) => string | null | undefined;
  private readonly emit: (event: ChangeEvent) => void;
  /**
   * Ids of twins whose model matches, so a deletion (sent once the twin is gone) can still be
   * matched. A twin's model never changes, so this can not go stale; kept only with a model filter.
   */
  private readonly modelMatches: Set<string> | null;
  /**
   * Open windows by `<twinId>/<section>`. Every window lasts the same time and is (re)inserted
   * when it opens, so the Map's order is the order of their ends: the front is always next due.
   */
  private readonly slots = new Map<string, Slot>();

  constructor(filter: WatchFilter, options: WatchOptions) {
    this.filter = filter;
    this.modelOf = options.modelOf;
    this.emit = options.emit;
    this.modelMatches = filter.models ? new Set() : null;
  }

  /** With a model filter: notes which of the registry's twins match (call once, on start). */
  prime(ids: Iterable<string>): void {
    if (!this.modelMatches) return;
    for (const id of ids) if (this.filter.matchesModel(this.modelOf(id))) this.modelMatches.add(id);
  }

  /** Whether a twin the registry holds now is watched (id and model). */
  matchesTwin(id: string): boolean {
    return this.filter.matchesTwin(id, this.filter.models ? this.modelOf(id) : null);
  }

  handle(event: ChangeEvent, now: number): void {
    const filter = this.filter;
    if (filter.ids && !filter.ids.has(event.twinId)) return;
    if (this.modelMatches && !this.modelMatch(event)) return;
    if (!filter.wantsSection(event.section)) return;
    const out = filter.narrow(event);
    if (!out) return;
    if (filter.throttleMs <= 0) return this.emit(out);
    if (out.section === "twin") {
      if (out.op === "deleted") this.release(out.twinId);
      return this.emit(out);
    }
    const key = `${out.twinId}/${out.section}`;
    const slot = this.slots.get(key);
    if (!slot) {
      this.slots.set(key, { until: now + filter.throttleMs, held: null, owned: false });
      return this.emit(out);
    }
    if (!slot.held) {
      slot.held = out;
      slot.owned = out !== event;
    } else {
      this.merge(slot, out);
    }
  }

  private modelMatch(event: ChangeEvent): boolean {
    const matches = this.modelMatches as Set<string>;
    const id = event.twinId;
    // A deletion comes once the twin is gone: only what was noted before can answer.
    if (event.section === "twin" && event.op === "deleted") return matches.delete(id);
    if (matches.has(id)) return true;
    if (!this.filter.matchesModel(this.modelOf(id))) return false;
    matches.add(id);
    return true;
  }

  /** Folds a later event into what a window holds: oldest `previous`, newest value, ts, version, op. */
  private merge(slot: Slot, later: ChangeEvent): void {
    let held = slot.held as ChangeEvent;
    if (!slot.owned) {
      held = { ...held, changes: copyChanges(held.changes) };
      slot.held = held;
      slot.owned = true;
    }
    const changes = held.changes;
    for (const name of Object.keys(later.changes)) {
      const next = later.changes[name];
      const before = changes[name];
      changes[name] = before ? { value: next.value, previous: before.previous, ts: next.ts } : next;
    }
    held.version = later.version;
    held.ts = later.ts;
    if (later.op !== undefined) held.op = later.op;
  }

  /** Lets out at once what is held for one twin and forgets its windows. */
  private release(twinId: string): void {
    for (const section of SECTIONS) {
      const key = `${twinId}/${section}`;
      const slot = this.slots.get(key);
      if (!slot) continue;
      this.slots.delete(key);
      if (slot.held) this.emit(slot.held);
    }
  }

  /** When the next window ends, or null when none is open. */
  nextDue(): number | null {
    for (const slot of this.slots.values()) return slot.until;
    return null;
  }

  /** Ends the windows due by `now`: what they held goes out and opens a new window; empty ones close. */
  due(now: number): void {
    for (const [key, slot] of this.slots) {
      if (slot.until > now) break;
      this.slots.delete(key);
      if (!slot.held) continue;
      const held = slot.held;
      this.slots.set(key, { until: now + this.filter.throttleMs, held: null, owned: false });
      this.emit(held);
    }
  }

  /** Events held back, waiting for their window to end. */
  get pending(): number {
    let n = 0;
    for (const slot of this.slots.values()) if (slot.held) n++;
    return n;
  }

  /** Drops every window and what it holds (the node is closing). */
  clear(): void {
    this.slots.clear();
    this.modelMatches?.clear();
  }
}

function copyChanges(changes: Record<string, Change>): Record<string, Change> {
  const out = dict<Change>();
  for (const name of Object.keys(changes)) out[name] = changes[name];
  return out;
}

export interface WatchFollowerOptions {
  filter: WatchFilter;
  /** Each event that passes, in order; the caller sends it once the registry says it is durable. */
  emit(event: ChangeEvent): void;
  /** A failure in the filter (never thrown back into the writer of the change). */
  onError(err: unknown): void;
  /** Milliseconds on a clock that does not jump (performance.now by default). */
  clock?: () => number;
  timers?: { set(fn: () => void, ms: number): unknown; clear(handle: unknown): void };
}

/** A Watch following a registry (src/core/follower.ts), with the one timer its throttle needs. */
export class WatchFollower extends RegistryFollower {
  readonly watch: Watch;
  private readonly options: WatchFollowerOptions;
  private readonly clock: () => number;
  private readonly timers: NonNullable<WatchFollowerOptions["timers"]>;
  private timer: unknown = null;

  constructor(registry: TwinRegistry, options: WatchFollowerOptions) {
    super(registry);
    this.options = options;
    this.clock = options.clock ?? (() => performance.now());
    this.timers = options.timers ?? { set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.watch = new Watch(options.filter, { modelOf: (id) => registry.twin(id)?.model, emit: options.emit });
  }

  /** Whether a twin the registry holds now is watched. */
  matchesTwin(id: string): boolean {
    return this.watch.matchesTwin(id);
  }

  /** A watch shows changes made on every instance of a shared registry. */
  protected override get isView(): boolean {
    return true;
  }

  protected override resume(): void {
    this.watch.prime(this.registry.ids());
  }

  protected onChange(event: ChangeEvent): void {
    if (this.closed) return;
    try {
      this.watch.handle(event, this.clock());
      if (this.watch.filter.throttleMs > 0) this.arm();
    } catch (err) {
      this.options.onError(err);
    }
  }

  protected override stop(): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    this.watch.clear();
  }

  private arm(): void {
    if (this.timer !== null) return;
    const at = this.watch.nextDue();
    if (at === null) return;
    this.timer = this.timers.set(() => this.due(), Math.max(1, Math.ceil(at - this.clock())));
  }

  private due(): void {
    this.timer = null;
    if (this.closed) return;
    try {
      this.watch.due(this.clock());
    } catch (err) {
      this.options.onError(err);
    }
    this.arm();
  }
}
