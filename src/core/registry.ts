/**
 * The twin registry: the single owner of twin state. Every change is checked in full first,
 * written to the store as one journal entry, then applied, so a change either lands whole or
 * not at all. Other parts react to changes by subscribing, never by keeping copies.
 */
import { TwinError, showValue, showNames } from "./errors";
import { Json, cloneJson, dict, isPlainObject, jsonEqual } from "./json";
import { checkPropertyName, checkTwinId, isPropertyName } from "./names";
import { ModelSet, PropertySpec, TwinModel, valuesMatch } from "./models";
import { isObject } from "./merge-patch";
import { Entry, Twin, TwinDocument, TwinSummary, toDocument, toSummary, stageOf, keyedOf, wholeOf } from "./twin";
import { DERIVED, DerivedSection, isDerivedSection, sectionOfCode } from "./sections";
import { JournalEntry, DerivedEntry, EntryTuple, ApplyContext, Applied, Refused, TwinRecord, applyEntry, entrySize, fromRecord, journalReadings, refusalText, refusedWarning, sizeChange, toRecord } from "./journal";
import { Point } from "./history";
import { MADE_EARLIER, Recovered, SharedRegistry, Store, StoreHealth, SnapshotSource } from "./store/store";
import { MemoryStore } from "./store/memory-store";
import { SKIP, Shaping, shaperOf } from "./shaping";
import { ChangeChecks, Parts, expectedVersion } from "./checks";

export { SKIP };

/** What a change event is about: a section every twin has, or a derived one (src/core/sections.ts). */
export type Section = "twin" | "attributes" | "reported" | "desired" | "delta" | "connectivity" | DerivedSection;

export interface Change { value: Json; previous: Json; ts: number }

export interface ChangeEvent {
  twinId: string;
  version: number;
  section: Section;
  ts: number;
  changes: Record<string, Change>;
  /** Only on section "twin". */
  op?: "created" | "deleted";
  /**
   * Only on a change another instance made to a registry shared by several (docs/redis.md),
   * applied here from its stream, or on what differed when a twin was read again from the shared
   * store (a refused change going back, changes missed meanwhile): views take it like any other;
   * a follower with an effect outside the registry leaves it to the instance that made it
   * (src/core/follower.ts).
   */
  origin?: "elsewhere";
}

/**
 * One change as data, for `submit`: the registry call of that name with its arguments. A
 * reading's shaper (a function) stays on the instance it was made on: a reading to shape on the
 * twin's leader carries its settings as data instead (`shaping`, core/shaping.ts), from which the
 * instance that runs it makes the shaper (and which it checks as input from elsewhere).
 */
export type SubmitOp =
  | { op: "report"; id: string; values: unknown; options?: ReportOptions; shaping?: Shaping }
  | { op: "create"; id: string; input?: CreateInput; options?: WriteOptions }
  | { op: "upsert"; id: string; input?: CreateInput; options?: WriteOptions }
  | { op: "setDesired"; id: string; values: unknown; options?: WriteOptions }
  | { op: "updateAttributes"; id: string; patch: unknown; options?: WriteOptions }
  | { op: "changeAttributes"; id: string; patch: unknown; options?: WriteOptions }
  | { op: "remove"; id: string; options?: WriteOptions }
  | { op: "setState"; id: string; key: string; value: Json | null }
  | { op: "setDerived"; id: string; section: DerivedSection; value: unknown; options?: WriteOptions; state?: Record<string, Json | null> };

/** Twins this instance now leads (true), or may no longer lead (false), on a shared registry. */
export type LeadershipListener = (twinIds: string[], leads: boolean) => void;

export interface RegistryOptions {
  models?: ModelSet;
  /** Points kept per numeric property; 0 turns history off. */
  historyLength?: number;
  maxDocumentBytes?: number;
  maxDepth?: number;
  /** Milliseconds without a reading before a twin goes offline; 0 never. */
  stalenessMs?: number;
  /** How far a source timestamp may lie ahead of this clock (device clocks drift). */
  maxFutureMs?: number;
  store?: Store;
  clock?: () => number;
}

export interface CreateInput { model?: unknown; attributes?: unknown; reported?: unknown; desired?: unknown }
export interface WriteOptions { ifVersion?: unknown; ts?: unknown; source?: string; by?: string }

export interface ReportOptions extends WriteOptions {
  /** Create the twin (with this model) when it does not exist yet, in the same change. */
  create?: { model?: string | null };
  /**
   * Shapes each value before it is checked (core/reading.ts: coercion, scale, units, deadband),
   * in the same pass over the properties, with the twin and model resolved once.
   */
  shape?: Shaper;
  /** A reading that keeps nothing (every value skipped) still marks an existing twin alive. */
  alive?: boolean;
}

/**
 * One reported value shaped for the twin's model: gets the property's spec (undefined without a
 * model or outside it) and its stored entry; returns the value to check, or SKIP to leave the
 * property out of the change.
 */
export type Shaper = (name: string, value: unknown, spec: PropertySpec | undefined, stored: Entry | undefined) => unknown;

export interface ReportResult {
  event: ChangeEvent | null;
  /** Properties whose reading was older than the stored one and was not applied. */
  stale: string[];
  created?: boolean;
}

export interface ListQuery { model?: string; stage?: string; online?: boolean; limit?: number; offset?: number }
export interface HistoryQuery { from?: number; to?: number; limit?: number }

export type ChangeListener = (event: ChangeEvent) => void;

export const DEFAULTS = {
  historyLength: 100,
  maxDocumentBytes: 64 * 1024,
  maxDepth: 6,
  stalenessMs: 0,
  maxFutureMs: 5 * 60 * 1000,
};

export class TwinRegistry {
  readonly models: ModelSet;
  readonly historyLength: number;
  readonly maxDocumentBytes: number;
  readonly maxDepth: number;
  readonly stalenessMs: number;
  readonly maxFutureMs: number;
  readonly store: Store;
  private readonly clock: () => number;
  private readonly twins = new Map<string, Twin>();
  private readonly ctx: ApplyContext;
  private readonly checks: ChangeChecks;
  private readonly listeners = new Set<ChangeListener>();
  private readonly listenerErrors = new Set<(err: unknown) => void>();
  private readonly aheadListeners = new Set<(twinId: string, properties: string[], storedTs: number) => void>();
  private readonly leadership = new Set<LeadershipListener>();
  /** Online twins in order of their last reading: the staleness check reads from the front. */
  private readonly seen = new Map<string, number>();
  private staleTimer: NodeJS.Timeout | null = null;
  private compactTimer: NodeJS.Timeout | null = null;
  private lsn = 0;
  private closed = false;

  constructor(options: RegistryOptions = {}) {
    this.models = options.models ?? new Map();
    this.historyLength = options.historyLength ?? DEFAULTS.historyLength;
    this.maxDocumentBytes = options.maxDocumentBytes ?? DEFAULTS.maxDocumentBytes;
    this.maxDepth = options.maxDepth ?? DEFAULTS.maxDepth;
    this.stalenessMs = options.stalenessMs ?? DEFAULTS.stalenessMs;
    this.maxFutureMs = options.maxFutureMs ?? DEFAULTS.maxFutureMs;
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? Date.now;
    this.ctx = { twins: this.twins, historyLength: this.historyLength, fromDisk: false };
    this.checks = new ChangeChecks({ clock: this.clock, maxDocumentBytes: this.maxDocumentBytes, maxDepth: this.maxDepth, maxFutureMs: this.maxFutureMs, modelOf: (twin) => this.modelOf(twin) });
  }

  /** Restores what the store holds and starts the timers. Returns recovery warnings. */
  open(): string[] {
    return this.restore();
  }

  /**
   * `open` for a store that reads over the network (`Store.open`, e.g. Redis): what it returns is
   * restored as `open` restores a local store, and changes made elsewhere keep arriving after.
   * On a local store this is `open`.
   */
  async openAsync(): Promise<string[]> {
    if (!this.store.open) return this.open();
    const visit = { record: () => undefined, entry: () => undefined };
    return this.restore(await this.store.open(visit, this.shared()));
  }

  private restore(prefetched?: Recovered): string[] {
    /**
     * Names and values read from the store (on disk, in Redis) that the write path would have
     * refused, passed over: "pump-1 attributes "__proto__"". Those of journal entries in a set: a
     * name refused in a reading is refused again in every later reading that carries it, and a
     * list per occurrence named one property twenty times and hid every other. Those of snapshot
     * records by twin, with the record restored: a record another replaces (salvage: a twin's
     * newest wins), or that a snapshot found damaged after it took back (`reset`), is not used,
     * and naming what it held named names the twins never had.
     */
    const refusedInEntries = new Set<string>();
    const refusedInRecords = new Map<string, string[]>();
    const refused: Refused = (twinId, section, name, why) => void refusedInEntries.add(refusalText(twinId, section, name, why));
    /** The refusals of the record being read. */
    const reading: string[] = [];
    const refusedInRecord: Refused = (twinId, section, name, why) => void reading.push(refusalText(twinId, section, name, why));
    const disk: ApplyContext = { twins: this.twins, historyLength: this.historyLength, fromDisk: true, refused };
    let notTwins = 0;
    let invalid = 0;
    /** Twins with journalled changes but no record to apply them to (a snapshot lost them). */
    const lost = new Map<string, number>();
    const restore = (rec: TwinRecord) => {
      let twin: Twin | null;
      reading.length = 0;
      try {
        twin = fromRecord(rec, this.historyLength, refusedInRecord);
      } catch {
        // As a journal entry that cannot be applied: the line is passed over, never the restart.
        twin = null;
      }
      if (!twin) return void notTwins++;
      // Salvage reads several snapshots: a twin's newest record wins.
      const known = this.twins.get(twin.id);
      if (known && known.lsn >= twin.lsn) return;
      this.twins.set(twin.id, twin);
      if (reading.length) refusedInRecords.set(twin.id, reading.slice());
      else if (refusedInRecords.size) refusedInRecords.delete(twin.id);
    };
    /** The records read so far are not used: the snapshot they came from did not verify. */
    const reset = () => {
      this.twins.clear();
      refusedInRecords.clear();
      notTwins = 0;
    };
    const replay = (e: JournalEntry) => {
      let outcome: Applied;
      try {
        outcome = applyEntry(e, disk);
      } catch {
        outcome = "invalid";
      }
      if (outcome === "invalid") invalid++;
      else if (e.o === "c" || e.o === "x") lost.delete(e.i); // created again, or deleted anyway: nothing lost
      else if (outcome === "unknown") lost.set(e.i, (lost.get(e.i) ?? 0) + 1);
    };
    // Twins are restored line by line as the store reads them; a store may also hand them back.
    const recovered = prefetched ?? this.store.recover({ record: restore, entry: replay, reset });
    for (const rec of recovered.records) restore(rec);
    for (const entry of recovered.entries) replay(entry);
    const warnings = recovered.warnings.slice();
    if (notTwins) warnings.push(`${notTwins} snapshot line(s) that are not twins were skipped`);
    if (invalid) warnings.push(`${invalid} journal entr${invalid === 1 ? "y" : "ies"} that could not be applied were skipped`);
    const refusedRead = new Set<string>();
    for (const names of refusedInRecords.values()) for (const name of names) refusedRead.add(name);
    for (const name of refusedInEntries) refusedRead.add(name);
    if (refusedRead.size) {
      warnings.push(refusedWarning(refusedRead.size, this.store.where ?? "on disk", [...refusedRead]));
    }
    if (lost.size) {
      const entries = [...lost.values()].reduce((a, b) => a + b, 0);
      warnings.push(`${lost.size} twin(s) could not be restored (${entries} journal entries name twins no snapshot or journal creates): ${showNames([...lost.keys()])}`);
    }
    // A snapshot is written while changes go on, so a twin can carry a later number than any the
    // journals kept; numbering must go on above every one of them, or later changes to that twin
    // would count as already applied.
    let lsn = recovered.lsn;
    for (const twin of this.twins.values()) if (twin.lsn > lsn) lsn = twin.lsn;
    this.lsn = lsn;
    const missing = new Set<string>();
    for (const twin of this.twins.values()) if (twin.model !== null && !this.models.has(twin.model)) missing.add(twin.model);
    for (const m of missing) warnings.push(`twins use model "${m}", which this registry no longer defines; their values are not checked`);
    const online = [...this.twins.values()].filter((t) => t.online && t.lastSeen !== null);
    online.sort((a, b) => (a.lastSeen as number) - (b.lastSeen as number));
    for (const t of online) this.markSeen(t.id, t.lastSeen as number);
    if (this.stalenessMs > 0) {
      this.staleTimer = setInterval(() => this.expire(), Math.max(50, Math.min(1000, this.stalenessMs / 4)));
      this.staleTimer.unref();
      this.expire();
    }
    if (this.store.mode !== "memory") {
      this.compactTimer = setInterval(() => this.maybeCompact(), 2000);
      this.compactTimer.unref();
      // A store that lost its files (its journal deleted while in use) refuses changes until a
      // snapshot of memory is written: at once, not at the next look.
      this.store.onHealth(() => setImmediate(() => this.maybeCompact()));
    }
    return warnings;
  }

  /**
   * The way in for a store shared by several instances (store.ts, SharedRegistry). Entries from
   * elsewhere carry their writer's numbers: here they are numbered after this instance's own, so
   * applying one never counts as "covered" by a number from another instance.
   */
  private shared(): SharedRegistry {
    /** What the entry being applied passed over: its events leave these out. */
    const passed: PassedOver = [];
    let report: Refused | undefined;
    const refused: Refused = (twinId, section, name, why) => {
      passed.push(section, name);
      report?.(twinId, section, name, why);
    };
    const disk: ApplyContext = { twins: this.twins, historyLength: this.historyLength, fromDisk: true, refused };
    return {
      historyLength: this.historyLength,
      apply: (entry, onRefused) => {
        passed.length = 0;
        report = onRefused;
        try {
          return this.applyElsewhere({ ...entry, l: ++this.lsn } as JournalEntry, disk, passed);
        } finally {
          report = undefined;
        }
      },
      run: (op) => this.runDurable(op),
      led: (twinIds, leads) => {
        for (const listener of this.leadership) {
          try {
            listener(twinIds, leads);
          } catch (err) {
            for (const h of this.listenerErrors) h(err);
          }
        }
      },
      replace: (id, rec) => this.replaceElsewhere(id, rec),
      record: (id) => {
        const twin = this.twins.get(id);
        return twin && toRecord(twin);
      },
    };
  }

  /**
   * A change another instance made, applied as read from disk, then told as the events the
   * writer's own call emitted there (same sections, changes, versions and times), marked
   * `origin: "elsewhere"`. Each event's previous values are taken from this instance's state
   * before the entry, which is the writer's: the stream applies a partition's changes in the
   * order its one leader made them.
   */
  private applyElsewhere(e: JournalEntry, disk: ApplyContext, passed: PassedOver): Applied {
    const twin = this.twins.get(e.i);
    const t = e.t;
    switch (e.o) {
      case "c": {
        const outcome = applyEntry(e, disk);
        const created = this.twins.get(e.i);
        if (outcome !== "applied" || !created) return outcome;
        this.emit({ twinId: e.i, version: created.version, section: "twin", ts: t, changes: dict(), op: "created", origin: ELSEWHERE });
        // Values as the twin holds them (the entry's were copied, and may hold what was refused),
        // copied again as a write's own events are: a listener may change its copy.
        const readings = readingsOf(e);
        if (readings.length) {
          const changes = dict<Change>();
          for (const [name] of readings) {
            const held = passedOver(passed, "reported", name) ? undefined : created.reported.get(name);
            if (held) changes[name] = { value: cloneJson(held.value), previous: null, ts: held.ts };
          }
          if (told(changes, passed, "reported")) this.emit({ twinId: e.i, version: created.version, section: "reported", ts: t, changes, origin: ELSEWHERE });
        }
        if (e.d && hasKeys(e.d)) {
          const changes = dict<Change>();
          for (const name of Object.keys(e.d)) {
            const held = isPropertyName(name) && !passedOver(passed, "desired", name) ? created.desired?.get(name) : undefined;
            if (held) changes[name] = { value: cloneJson(held.value), previous: null, ts: held.ts };
          }
          if (told(changes, passed, "desired")) this.emit({ twinId: e.i, version: created.version, section: "desired", ts: t, changes, origin: ELSEWHERE });
        }
        if (created.online) {
          this.markSeen(e.i, t);
          this.emitConnectivity(created, true, t, ELSEWHERE);
        }
        return outcome;
      }
      case "x": {
        const version = twin?.version;
        const outcome = applyEntry(e, disk);
        if (outcome !== "applied" || version === undefined) return outcome;
        this.seen.delete(e.i);
        this.emit({ twinId: e.i, version, section: "twin", ts: t, changes: dict(), op: "deleted", origin: ELSEWHERE });
        return outcome;
      }
      case "st":
        return applyEntry(e, disk);
      case "n": {
        const wasOnline = twin?.online;
        const outcome = applyEntry(e, disk);
        if (outcome !== "applied" || !twin) return outcome;
        if (e.on) {
          this.markSeen(e.i, t);
          if (!wasOnline) this.emitConnectivity(twin, true, t, ELSEWHERE);
        } else {
          this.seen.delete(e.i);
          if (wasOnline) this.emitConnectivity(twin, false, t, ELSEWHERE);
        }
        return outcome;
      }
      case "u":
        if (!twin) return applyEntry(e, disk);
        return this.updateElsewhere(twin, e, disk, passed);
      default:
        if (!twin) return applyEntry(e, disk);
        return this.derivedElsewhere(twin, e as DerivedEntry, disk, passed);
    }
  }

  /**
   * A twin put back as the shared store holds it (its partition read again: after a refused
   * change, Redis coming back, an entry this instance could not apply). What differs from the
   * twin held here is told as change events marked `origin: "elsewhere"`, in the order a write
   * emits them: views see the twin as it is now (a refused change going back, changes made
   * elsewhere meanwhile), and followers with an effect outside do not act on it (this instance
   * made none of it; they take the twin up through `resumeTwins` if it leads it).
   */
  private replaceElsewhere(id: string, rec: TwinRecord | null): void {
    const before = this.twins.get(id);
    const twin = rec && fromRecord(rec, this.historyLength);
    if (!twin) {
      if (!before) return;
      this.twins.delete(id);
      this.seen.delete(id);
      this.emit({ twinId: id, version: before.version, section: "twin", ts: this.clock(), changes: dict(), op: "deleted", origin: ELSEWHERE });
      return;
    }
    twin.lsn = ++this.lsn;
    this.twins.set(id, twin);
    if (twin.online && twin.lastSeen !== null) this.markSeen(id, twin.lastSeen);
    else this.seen.delete(id);
    const v = twin.version;
    const t = twin.updated;
    const emit = (section: Section, changes: Record<string, Change>): void => {
      if (hasKeys(changes)) this.emit({ twinId: id, version: v, section, ts: t, changes, origin: ELSEWHERE });
    };
    if (!before) this.emit({ twinId: id, version: v, section: "twin", ts: t, changes: dict(), op: "created", origin: ELSEWHERE });
    const attributes = dict<Change>();
    const was = before?.attributes ?? dict();
    for (const key of new Set([...Object.keys(was), ...Object.keys(twin.attributes)])) {
      const a = key in was ? was[key] : null;
      const b = key in twin.attributes ? twin.attributes[key] : null;
      if (!jsonEqual(a, b)) attributes[key] = { value: cloneJson(b), previous: cloneJson(a), ts: t };
    }
    emit("attributes", attributes);
    emit("reported", entryChanges(before?.reported, twin.reported, t));
    emit("desired", entryChanges(before?.desired ?? undefined, twin.desired ?? undefined, t));
    const names = new Set([...(before?.desired?.keys() ?? []), ...(twin.desired?.keys() ?? [])]);
    if (names.size) {
      const deltaBefore = before ? this.deltaFor(before, this.modelOf(before), names) : new Map([...names].map((name) => [name, undefined]));
      this.emitDelta(twin, this.modelOf(twin), deltaBefore, t, ELSEWHERE);
    }
    if ((before?.online ?? false) !== twin.online) this.emitConnectivity(twin, twin.online, t, ELSEWHERE);
    for (const section of Object.keys(DERIVED) as DerivedSection[]) {
      const changes = dict<Change>();
      if (DERIVED[section].shape === "keyed") {
        const a = before ? keyedOf(before, section) : undefined;
        const b = keyedOf(twin, section);
        for (const name of new Set([...(a?.keys() ?? []), ...(b?.keys() ?? [])])) {
          const x = a?.get(name) ?? null;
          const y = b?.get(name) ?? null;
          if (!jsonEqual(x, y)) changes[name] = { value: cloneJson(y), previous: cloneJson(x), ts: t };
        }
      } else {
        wholeChanges(changes, before ? wholeOf(before, section) : null, wholeOf(twin, section), t);
      }
      emit(section, changes);
    }
  }

  /** An update made elsewhere: events in the order `write` emits them. */
  private updateElsewhere(twin: Twin, e: Extract<JournalEntry, { o: "u" }>, disk: ApplyContext, passed: PassedOver): Applied {
    const t = e.t;
    const wasOnline = twin.online;
    const model = this.modelOf(twin);
    // Values are replaced, never changed in place, so holding the ones before is enough.
    const attributesBefore = twin.attributes;
    const attributeKeys = isObject(e.ap) ? Object.keys(e.ap) : isObject(e.a) ? [...new Set([...Object.keys(attributesBefore), ...Object.keys(e.a)])] : null;
    const readings = readingsOf(e);
    const reportedBefore = readings.map(([name]) => twin.reported.get(name)?.value ?? null);
    const desiredNames = e.d ? Object.keys(e.d).filter(isPropertyName) : [];
    const desiredBefore = desiredNames.map((name) => twin.desired?.get(name)?.value ?? null);
    const deltaMatters = desiredNames.length > 0 || (twin.desired !== null && twin.desired.size > 0);
    const touched = deltaMatters ? new Set([...readings.map(([name]) => name), ...desiredNames]) : null;
    const deltaBefore = touched ? this.deltaFor(twin, model, touched) : null;
    const outcome = applyEntry(e, disk);
    if (outcome !== "applied") return outcome;
    const v = twin.version;
    if (attributeKeys) {
      const changes = dict<Change>();
      const after = twin.attributes;
      for (const key of attributeKeys) {
        const before = key in attributesBefore ? attributesBefore[key] : null;
        const now = key in after ? after[key] : null;
        if (!jsonEqual(before, now)) changes[key] = { value: cloneJson(now), previous: cloneJson(before), ts: t };
      }
      if (told(changes, passed, "attributes")) this.emit({ twinId: twin.id, version: v, section: "attributes", ts: t, changes, origin: ELSEWHERE });
    }
    // Values as the twin holds them now (the entry's were copied, and may hold what was refused).
    if (readings.length) {
      const changes = dict<Change>();
      readings.forEach(([name], i) => {
        const held = passedOver(passed, "reported", name) ? undefined : twin.reported.get(name);
        if (held) changes[name] = { value: cloneJson(held.value), previous: reportedBefore[i], ts: held.ts };
      });
      if (told(changes, passed, "reported")) this.emit({ twinId: twin.id, version: v, section: "reported", ts: t, changes, origin: ELSEWHERE });
    }
    if (e.r || e.rv) this.markSeen(twin.id, t);
    if (e.d) {
      const changes = dict<Change>();
      desiredNames.forEach((name, i) => {
        if (passedOver(passed, "desired", name)) return;
        const held = twin.desired?.get(name);
        changes[name] = { value: held ? cloneJson(held.value) : null, previous: desiredBefore[i], ts: held ? held.ts : t };
      });
      if (told(changes, passed, "desired")) this.emit({ twinId: twin.id, version: v, section: "desired", ts: t, changes, origin: ELSEWHERE });
    }
    if (touched && deltaBefore && touched.size) this.emitDelta(twin, model, deltaBefore, t, ELSEWHERE);
    if (twin.online && !wasOnline) this.emitConnectivity(twin, true, t, ELSEWHERE);
    return outcome;
  }

  /** A derived section written elsewhere: the event `setDerived` emits. */
  private derivedElsewhere(twin: Twin, e: DerivedEntry, disk: ApplyContext, passed: PassedOver): Applied {
    const section = sectionOfCode(e.o);
    if (!section) return applyEntry(e as JournalEntry, disk);
    const keyed = DERIVED[section].shape === "keyed";
    const value = e[e.o] as Json;
    const names = keyed && isObject(value) ? Object.keys(value).filter(isPropertyName) : [];
    const before = keyedOf(twin, section);
    const keyedBefore = names.map((name) => before?.get(name) ?? null);
    const wholeBefore = keyed ? null : wholeOf(twin, section);
    const outcome = applyEntry(e as JournalEntry, disk);
    if (outcome !== "applied") return outcome;
    const changes = dict<Change>();
    const t = e.t;
    // Values as the twin holds them now (the entry's were copied, and may hold what was refused).
    if (keyed) {
      const after = keyedOf(twin, section);
      names.forEach((name, i) => {
        if (passedOver(passed, section, name)) return;
        const held = after?.get(name);
        changes[name] = { value: held === undefined ? null : cloneJson(held), previous: keyedBefore[i], ts: t };
      });
    } else {
      wholeChanges(changes, wholeBefore, wholeOf(twin, section), t);
    }
    if (told(changes, passed, section)) this.emit({ twinId: twin.id, version: twin.version, section, ts: t, changes, origin: ELSEWHERE });
    return outcome;
  }

  /**
   * Whether this instance does the work for a twin: always on a local store; on a store shared
   * by several instances, when it leads the twin's partition now (docs/redis.md).
   */
  leads(id: string): boolean {
    return this.store.leads ? this.store.leads(id) : true;
  }

  /** Calls listener when this instance starts or stops leading twins (a shared store's partitions change hands). */
  onLeadership(listener: LeadershipListener): () => void {
    this.leadership.add(listener);
    return () => this.leadership.delete(listener);
  }

  get size(): number {
    return this.twins.size;
  }

  has(id: string): boolean {
    return this.twins.has(id);
  }

  ids(): IterableIterator<string> {
    return this.twins.keys();
  }

  modelOf(twin: Twin): TwinModel | null {
    return twin.model === null ? null : this.models.get(twin.model) ?? null;
  }

  get(id: unknown): TwinDocument {
    const twin = this.require(id);
    return toDocument(twin, this.modelOf(twin));
  }

  find(id: string): TwinDocument | undefined {
    const twin = this.twins.get(id);
    return twin && toDocument(twin, this.modelOf(twin));
  }

  /** The internal record, for read-only use by other core modules. */
  twin(id: string): Twin | undefined {
    return this.twins.get(id);
  }

  private require(id: unknown): Twin {
    // Only valid ids are ever stored: a twin found by this id needs no second look at it.
    if (typeof id === "string") {
      const found = this.twins.get(id);
      if (found) return found;
    }
    const twinId = checkTwinId(id);
    const twin = this.twins.get(twinId);
    if (!twin) throw new TwinError("not-found", { twinId });
    return twin;
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Readings skipped because the stored reading of the property lies further ahead of this clock
   * than any new reading may (`maxFutureMs`): the stored one was timed by a clock that has since
   * gone back (NTP correcting a machine that ran ahead, a wrong RTC), and every reading is skipped
   * as older until the clock passes it. Told so that a person hears of it; `storedTs` is the
   * furthest-ahead stored time among `properties`.
   */
  onStoredAhead(listener: (twinId: string, properties: string[], storedTs: number) => void): () => void {
    this.aheadListeners.add(listener);
    return () => this.aheadListeners.delete(listener);
  }

  private noticeAhead(twin: Twin, stale: string[]): void {
    const bound = this.clock() + this.maxFutureMs;
    const ahead: string[] = [];
    let storedTs = 0;
    for (const name of stale) {
      const ts = twin.reported.get(name)?.ts;
      if (ts !== undefined && ts > bound) {
        ahead.push(name);
        storedTs = Math.max(storedTs, ts);
      }
    }
    if (!ahead.length) return;
    for (const listener of this.aheadListeners) {
      try {
        listener(twin.id, ahead, storedTs);
      } catch (err) {
        for (const handler of this.listenerErrors) handler(err);
      }
    }
  }

  /** Where a failing listener's error goes (a listener must never undo a change it observed). */
  onListenerError(handler: (err: unknown) => void): () => void {
    this.listenerErrors.add(handler);
    return () => this.listenerErrors.delete(handler);
  }

  private emit(event: ChangeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        for (const h of this.listenerErrors) h(err);
      }
    }
  }

  /** The store's `whenDurable` (store.ts): ask in the turn of the writes it stands for. */
  whenDurable(callback: (err?: Error) => void): void {
    this.store.whenDurable(callback);
  }

  /**
   * Makes one change and resolves with what the call returns once it is durable; rejects with
   * the call's error (the same TwinError) or the store's. On a store shared by several instances
   * a change to a twin led elsewhere goes to its leader, which runs it the same way and answers
   * (docs/redis.md); here it is the synchronous call followed by `whenDurable`.
   */
  submit(op: SubmitOp): Promise<unknown> {
    if (this.store.forward && op && typeof op.id === "string" && !this.leads(op.id)) {
      return this.store.forward(op).then((result) => (result === MADE_EARLIER ? this.madeEarlier(op) : result));
    }
    return this.runDurable(op);
  }

  /**
   * The result of a change its leader had made before it was delivered again (a claim after a
   * handover): made, and followed here before the answer, but what it changed is not known. A
   * reading changed nothing as far as the caller can tell (no event); a write gives the twin as
   * it is now.
   */
  private madeEarlier(op: SubmitOp): unknown {
    const now = (): TwinDocument | null => (this.twins.has(op.id) ? this.get(op.id) : null);
    switch (op.op) {
      case "report": return { event: null, stale: [], created: false } satisfies ReportResult;
      case "upsert": return { document: now(), created: false };
      case "create":
      case "setDesired":
      case "updateAttributes":
      case "remove": return now();
      // What it changed is not known here: the twin's version now, with no changes.
      case "changeAttributes": return this.twins.has(op.id) ? this.unchanged(this.twins.get(op.id) as Twin) : null;
      default: return undefined;
    }
  }

  private runDurable(op: SubmitOp): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let result: unknown;
      try {
        result = this.run(op);
      } catch (err) {
        return reject(err);
      }
      this.whenDurable((err) => (err ? reject(err) : resolve(result)));
    });
  }

  private run(op: SubmitOp): unknown {
    switch (op?.op) {
      case "report": return this.report(op.id, op.values, op.shaping === undefined ? op.options : { ...op.options, shape: shaperOf(op.shaping, String(op.id)) });
      case "create": return this.create(op.id, op.input, op.options);
      case "upsert": return this.upsert(op.id, op.input, op.options);
      case "setDesired": return this.setDesired(op.id, op.values, op.options);
      case "updateAttributes": return this.updateAttributes(op.id, op.patch, op.options);
      case "changeAttributes": return this.changeAttributes(op.id, op.patch, op.options);
      case "remove": return this.remove(op.id, op.options);
      case "setState": return this.setState(op.id, op.key, op.value);
      case "setDerived": return this.setDerived(op.id, op.section, op.value, op.options, op.state);
      default: throw new TypeError(`not a change to submit: ${showValue((op as { op?: unknown } | null)?.op)}`);
    }
  }

  health(): StoreHealth {
    return this.closed ? { ok: false, error: "closed" } : this.store.health();
  }

  // ---- changes -------------------------------------------------------------------------------

  create(id: unknown, input: CreateInput = {}, options: WriteOptions = {}): TwinDocument {
    return this.get(this.createTwin(id, input, options).twinId);
  }

  /** Creates a twin in one journal entry and emits what a watcher needs to see of it. */
  private createTwin(id: unknown, input: CreateInput, options: WriteOptions): { twinId: string; reported: ChangeEvent | null } {
    const twinId = checkTwinId(id);
    if (this.twins.has(twinId)) throw new TwinError("exists", { twinId });
    if (options.ifVersion !== undefined && expectedVersion(twinId, options.ifVersion) !== 0) {
      throw new TwinError("conflict", { twinId, expected: expectedVersion(twinId, options.ifVersion), current: 0 });
    }
    const entry = this.creation(twinId, input, options);
    this.commit(entry);
    const t = entry.t;
    this.emit({ twinId, version: 1, section: "twin", ts: t, changes: dict(), op: "created" });
    let reported: ChangeEvent | null = null;
    if (entry.rv) {
      const ts = entry.rt ?? t;
      const changes = dict<Change>();
      for (const name in entry.rv) changes[name] = { value: cloneJson(entry.rv[name]), previous: null, ts };
      this.emit((reported = { twinId, version: 1, section: "reported", ts: t, changes }));
    }
    if (entry.d && hasKeys(entry.d)) {
      const changes = dict<Change>();
      for (const name of Object.keys(entry.d)) {
        const tuple = entry.d[name];
        changes[name] = { value: cloneJson(tuple[0]), previous: null, ts: tuple[1] };
      }
      this.emit({ twinId, version: 1, section: "desired", ts: t, changes });
    }
    if (entry.rv) {
      this.markSeen(twinId, t);
      this.emitConnectivity(this.twins.get(twinId) as Twin, true, t);
    }
    return { twinId, reported };
  }

  /** Creates the twin, or merges attributes and state into the existing one as one change. */
  upsert(id: unknown, input: CreateInput = {}, options: WriteOptions = {}): { document: TwinDocument; created: boolean } {
    const twinId = checkTwinId(id);
    const twin = this.twins.get(twinId);
    if (!twin) return { document: this.create(twinId, input, options), created: true };
    this.checks.version(twin, options.ifVersion);
    const model = input.model === "" || input.model === null ? null : input.model;
    if (input.model !== undefined && model !== twin.model) {
      throw new TwinError("model-fixed", { twinId, model: String(twin.model), value: showValue(input.model) });
    }
    const parts: Parts = {};
    if (input.attributes !== undefined) parts.a = this.checks.attributes(twin, input.attributes);
    if (input.reported !== undefined) parts.r = this.checks.reported(twin, input.reported, options);
    if (input.desired !== undefined) parts.d = this.checks.desired(twin, input.desired, options);
    this.write(twin, parts);
    return { document: this.get(twinId), created: false };
  }

  updateAttributes(id: unknown, patch: unknown, options: WriteOptions = {}): TwinDocument {
    const twin = this.require(id);
    this.checks.version(twin, options.ifVersion);
    this.write(twin, { a: this.checks.attributes(twin, patch) });
    return toDocument(twin, this.modelOf(twin));
  }

  /**
   * updateAttributes answered with what changed instead of the whole document: the attributes
   * change event, its changes the caller's own copy (not the object listeners got). A patch that
   * changes nothing writes nothing: the event then has the twin's version and no changes.
   */
  changeAttributes(id: unknown, patch: unknown, options: WriteOptions = {}): ChangeEvent {
    const twin = this.require(id);
    this.checks.version(twin, options.ifVersion);
    // The event listeners got, with changes of the caller's own (a flow may change what it is
    // sent), made by write() beside the listeners' in its one comparison of the attributes.
    const changes = dict<Change>();
    const event = this.write(twin, { a: this.checks.attributes(twin, patch) }, "attributes", changes);
    if (!event) return this.unchanged(twin);
    // What goes back is made with `new` (here, and each change in write()), not object literals:
    // V8 counts how many objects of a literal outlive a young-generation collection, and these
    // travel with the message. When a collection found nearly all of them still in flight
    // (acknowledgements held behind a slow fsync, a strict store's), it allocated every later one
    // straight in the old generation, for good: about 200 bytes a message the young collections no
    // longer freed, and major collections in the middle of the traffic (twin update 6-7 -> 9-10 us
    // of CPU a message in bench/throughput.js).
    return new PlainEvent(event.twinId, event.version, "attributes", event.ts, changes);
  }

  private unchanged(twin: Twin): ChangeEvent {
    return new PlainEvent(twin.id, twin.version, "attributes", this.clock(), dict<Change>());
  }

  remove(id: unknown, options: WriteOptions = {}): TwinDocument {
    const twin = this.require(id);
    this.checks.version(twin, options.ifVersion);
    const last = toDocument(twin, this.modelOf(twin));
    const t = this.clock();
    this.commit({ l: this.lsn + 1, o: "x", i: twin.id, t });
    this.seen.delete(twin.id);
    this.emit({ twinId: twin.id, version: last.version, section: "twin", ts: t, changes: dict(), op: "deleted" });
    return last;
  }

  /** Applies readings to reported state as one change; older readings are skipped, not errors. */
  report(id: unknown, values: unknown, options: ReportOptions = {}): ReportResult {
    const found = typeof id === "string" ? this.twins.get(id) : undefined;
    if (!found && options.create && typeof id === "string") {
      const created = this.createTwin(id, { model: options.create.model, reported: values }, options);
      return { event: created.reported, stale: [], created: true };
    }
    const twin = found ?? this.require(id);
    this.checks.version(twin, options.ifVersion);
    // One clock reading serves the readings' arrival time and the change's time: Date.now()
    // costs about 60 ns here, and the two reads gave the same millisecond but for the few
    // readings that straddled one (which then journaled `rt` besides `t`).
    const now = this.clock();
    const checked = this.checks.reported(twin, values, options, now);
    if (checked.stale.length && this.aheadListeners.size) this.noticeAhead(twin, checked.stale);
    if (checked.kept === 0 && options.alive) {
      this.touchTwin(twin, now);
      return { event: null, stale: checked.stale };
    }
    return { event: this.write(twin, { r: checked }, "reported", undefined, now), stale: checked.stale };
  }

  /** A reading that changed nothing worth a version (a deadband): the device is still alive. */
  touch(id: unknown): void {
    this.touchTwin(this.require(id));
  }

  private touchTwin(twin: Twin, now?: number): void {
    const t = now ?? this.clock();
    if (!twin.online) {
      this.commitConnectivity(twin, true, t);
      this.emitConnectivity(twin, true, t);
    } else if (twin.storedSeen === null || t - twin.storedSeen >= this.seenEvery) {
      // A device that only repeats itself is still alive: say so in the store now and then, or
      // after a restart its twin would go offline at once and come back with its next reading.
      this.commitSeen(twin, t);
    }
    // Never backwards: a clock stepped back must not age a twin that was seen later.
    if (twin.lastSeen === null || t > twin.lastSeen) twin.lastSeen = t;
    this.markSeen(twin.id, t);
  }

  /**
   * What a device says of itself (an MQTT last will, a status topic): online counts as a sign of
   * life, offline takes the twin offline now instead of after the staleness timeout.
   */
  setOnline(id: unknown, online: boolean): void {
    if (online) return this.touch(id);
    const twin = this.require(id);
    this.seen.delete(twin.id);
    if (!twin.online) return;
    const t = this.clock();
    this.commitConnectivity(twin, false, t);
    this.emitConnectivity(twin, false, t);
  }

  /** Sets desired state; `null` clears a property. */
  setDesired(id: unknown, values: unknown, options: WriteOptions = {}): ChangeEvent | null {
    const twin = this.require(id);
    this.checks.version(twin, options.ifVersion);
    return this.write(twin, { d: this.checks.desired(twin, values, options) }, "desired");
  }

  // ---- checks --------------------------------------------------------------------------------

  private creation(twinId: string, input: CreateInput, options: WriteOptions): Extract<JournalEntry, { o: "c" }> {
    if (input === null || typeof input !== "object") throw new TwinError("invalid-json", { twinId, property: "payload", value: showValue(input) });
    let model: string | null = null;
    if (input.model !== undefined && input.model !== null && input.model !== "") {
      if (typeof input.model !== "string" || !this.models.has(input.model)) {
        throw new TwinError("unknown-model", { twinId, model: showValue(input.model), known: [...this.models.keys()].join(", ") || "none" });
      }
      model = input.model;
    }
    const t = this.clock();
    const shell = new Twin(twinId, model, t, t);
    const entry: Extract<JournalEntry, { o: "c" }> = { l: this.lsn + 1, o: "c", i: twinId, v: 1, t, m: model };
    const parts: Parts = {};
    if (input.attributes !== undefined) entry.a = (parts.a = this.checks.attributes(shell, input.attributes)).merged;
    if (input.reported !== undefined) journalReadings(entry, (parts.r = this.checks.reported(shell, input.reported, options)), t);
    if (input.desired !== undefined) {
      parts.d = this.checks.desired(shell, input.desired, options);
      entry.d = tupleDict(parts.d as Map<string, EntryTuple>);
    }
    this.checks.size(shell, parts);
    return entry;
  }

  // ---- writes (everything checked already) ---------------------------------------------------

  private commit(entry: JournalEntry): void {
    if (this.closed) throw new TwinError("store-closed");
    this.store.append(entry);
    this.lsn = entry.l;
    applyEntry(entry, this.ctx);
  }

  /**
   * Writes checked parts as one change (one journal entry, one version step) and emits an event
   * per section that changed. Nothing is written when nothing changed. `now`: the clock as the
   * caller read it already (report), else it is read here.
   */
  private write(twin: Twin, parts: Parts, want?: "attributes" | "reported" | "desired", ownAttributeChanges?: Record<string, Change>, now?: number): ChangeEvent | null {
    const t = now ?? this.clock();
    const entry: Extract<JournalEntry, { o: "u" }> = { l: this.lsn + 1, o: "u", i: twin.id, v: twin.version + 1, t };
    // A section's changes are made only when the change has that section: most are readings.
    let attributeChanges = EMPTY_CHANGES;
    if (parts.a) {
      attributeChanges = dict<Change>();
      const previous = twin.attributes;
      const next = parts.a.merged;
      for (const key of parts.a.keys) {
        const before = key in previous ? previous[key] : null;
        const after = key in next ? next[key] : null;
        if (jsonEqual(before, after)) continue;
        attributeChanges[key] = { value: cloneJson(after), previous: cloneJson(before), ts: t };
        // The caller's copy, made with new as it travels with a message (see changeAttributes).
        if (ownAttributeChanges) ownAttributeChanges[key] = new PlainChange(cloneJson(after), cloneJson(before), t);
      }
      // The journal keeps the patch, not the merged result: a 1 KB change costs about 1 KB of disk.
      if (hasKeys(attributeChanges)) entry.ap = parts.a.patch;
    }
    let reportedChanges = EMPTY_CHANGES;
    let reportedBytes = 0;
    if (parts.r && hasKeys(parts.r.values)) {
      reportedChanges = dict<Change>();
      const { values, ts, entries } = parts.r;
      let i = 0;
      for (const name in values) {
        const old = entries ? entries[i++] : twin.reported.get(name);
        // Most readings are numbers: a copy (the twin keeps the value) only of objects and arrays.
        const value = values[name];
        const previous = old ? old.value : null;
        reportedBytes += old ? sizeChange(value, previous as Json) : entrySize(name, value);
        // Made with new, not as a literal: a reading's event travels with its message (see PlainChange).
        reportedChanges[name] = new PlainChange(
          typeof value === "object" && value !== null ? cloneJson(value) : value,
          typeof previous === "object" && previous !== null ? cloneJson(previous) : previous,
          ts,
        );
      }
      journalReadings(entry, parts.r, t);
    }
    let desiredChanges = EMPTY_CHANGES;
    if (parts.d && parts.d.size) {
      desiredChanges = dict<Change>();
      const d = dict<EntryTuple | null>();
      for (const [name, tuple] of parts.d) {
        const old = twin.desired?.get(name);
        d[name] = tuple;
        desiredChanges[name] = { value: tuple ? cloneJson(tuple[0]) : null, previous: old ? cloneJson(old.value) : null, ts: tuple ? tuple[1] : t };
      }
      entry.d = d;
    }
    if (!entry.ap && !entry.rv && !entry.d) return null;
    // Readings alone (most changes) measure nothing besides themselves: no parts object per reading.
    // (checks.size takes the readings' bytes as measured here, not parts.r: parts itself serves
    // whenever its attributes are written or it has none.)
    this.checks.size(twin, entry.ap || parts.d ? (entry.ap || !parts.a ? parts : { d: parts.d }) : NO_PARTS, reportedBytes);

    const model = this.modelOf(twin);
    // A delta exists only where desired state does: most readings skip this work.
    const deltaMatters = (parts.d !== undefined && parts.d.size > 0) || (twin.desired !== null && twin.desired.size > 0);
    const touched = deltaMatters ? new Set([...Object.keys(parts.r?.values ?? {}), ...(parts.d?.keys() ?? [])]) : null;
    const deltaBefore = touched ? this.deltaFor(twin, model, touched) : null;
    const wasOnline = twin.online;
    // The patch was merged and measured for the checks: applying the entry takes that result.
    if (entry.ap && parts.a) this.ctx.merged = parts.a;
    // So are the readings' stored entries, looked up when they were checked.
    if (entry.rv && parts.r?.entries) this.ctx.stored = { values: entry.rv, entries: parts.r.entries };
    try {
      this.commit(entry);
    } finally {
      this.ctx.merged = undefined;
      this.ctx.stored = undefined;
    }
    if (entry.rv) this.markSeen(twin.id, t);
    // One event per section written, in this order (a plain sequence: every reading passes here).
    // The caller gets the one event it asked for, not an object of them.
    let attributes: ChangeEvent | null = null;
    let reported: ChangeEvent | null = null;
    let desired: ChangeEvent | null = null;
    if (entry.ap) this.emit((attributes = { twinId: twin.id, version: twin.version, section: "attributes", ts: t, changes: attributeChanges }));
    if (entry.rv) this.emit((reported = new PlainEvent(twin.id, twin.version, "reported", t, reportedChanges)));
    if (entry.d) this.emit((desired = { twinId: twin.id, version: twin.version, section: "desired", ts: t, changes: desiredChanges }));
    if (touched && deltaBefore && touched.size) this.emitDelta(twin, model, deltaBefore, t);
    if (entry.rv && !wasOnline) this.emitConnectivity(twin, true, t);
    return want === "attributes" ? attributes : want === "reported" ? reported : want === "desired" ? desired : null;
  }

  private deltaFor(twin: Twin, model: TwinModel | null, names: Iterable<string>): Map<string, Json | undefined> {
    const out = new Map<string, Json | undefined>();
    if (!twin.desired || twin.desired.size === 0) {
      for (const name of names) out.set(name, undefined);
      return out;
    }
    for (const name of names) {
      const want = twin.desired?.get(name);
      const have = twin.reported.get(name);
      const differs = want && (!have || !valuesMatch(model?.properties.get(name), want.value, have.value));
      out.set(name, differs ? (want as { value: Json }).value : undefined);
    }
    return out;
  }

  private emitDelta(twin: Twin, model: TwinModel | null, before: Map<string, Json | undefined>, t: number, origin?: "elsewhere"): void {
    const after = this.deltaFor(twin, model, before.keys());
    const changes = dict<Change>();
    for (const [name, was] of before) {
      const now = after.get(name);
      if (was === undefined && now === undefined) continue;
      if (was !== undefined && now !== undefined && jsonEqual(was, now)) continue;
      changes[name] = { value: now === undefined ? null : cloneJson(now), previous: was === undefined ? null : cloneJson(was), ts: t };
    }
    if (!Object.keys(changes).length) return;
    const event: ChangeEvent = { twinId: twin.id, version: twin.version, section: "delta", ts: t, changes };
    if (origin) event.origin = origin;
    this.emit(event);
  }

  private emitConnectivity(twin: Twin, online: boolean, t: number, origin?: "elsewhere"): void {
    const changes = dict<Change>();
    changes.online = { value: online, previous: !online, ts: t };
    const event: ChangeEvent = { twinId: twin.id, version: twin.version, section: "connectivity", ts: t, changes };
    if (origin) event.origin = origin;
    this.emit(event);
  }

  /**
   * Moves a twin to the back of the staleness order. Without a staleness timeout nothing reads
   * that order, and moving an entry in a Map was a tenth of a reading's time: nothing is kept.
   */
  private markSeen(id: string, t: number): void {
    if (this.stalenessMs <= 0) return;
    this.seen.delete(id);
    this.seen.set(id, t);
  }

  /** How far the stored sign of life may lag behind the last reading: half the staleness timeout, else five minutes. */
  private get seenEvery(): number {
    return this.stalenessMs > 0 ? this.stalenessMs / 2 : 5 * 60 * 1000;
  }

  private commitSeen(twin: Twin, t: number): void {
    try {
      this.commit({ l: this.lsn + 1, o: "n", i: twin.id, t, on: true });
    } catch {
      // The disk is down: the sign of life stays in memory; the write that failed reports the disk.
    }
  }

  private commitConnectivity(twin: Twin, online: boolean, t: number): void {
    try {
      this.commit({ l: this.lsn + 1, o: "n", i: twin.id, t, on: online });
    } catch {
      // The disk is down: connectivity is still told truthfully in memory.
      twin.online = online;
      if (online) twin.lastSeen = t;
    }
  }

  /** Marks twins offline whose last reading is older than the staleness timeout. */
  expire(): void {
    if (this.stalenessMs <= 0 || this.closed) return;
    const now = this.clock();
    const shared = this.store.leads !== undefined;
    for (const [id, last] of this.seen) {
      if (last + this.stalenessMs > now) break;
      // On a shared store the twin's leader says when it goes offline (its entry reaches every
      // instance); here it stays in the order, for the day this instance leads it.
      if (shared && !this.leads(id)) continue;
      this.seen.delete(id);
      const twin = this.twins.get(id);
      if (!twin || !twin.online) continue;
      this.commitConnectivity(twin, false, now);
      this.emitConnectivity(twin, false, now);
    }
  }

  /**
   * Private state another part keeps with a twin (a mirror's attempts, an estimator), persisted
   * with it but not part of its document and not a version step. `null` removes it.
   */
  setState(id: unknown, key: string, value: Json | null): void {
    const twin = this.require(id);
    this.commit({ l: this.lsn + 1, o: "st", i: twin.id, t: this.clock(), s: this.checks.state(twin, { [key]: value }) });
  }

  /**
   * Writes a derived section (src/core/sections.ts) with private state in the same journal entry,
   * so a restart resumes exactly where the feature stopped. A keyed section takes `{name: value}`
   * (null removes that name); a whole one takes its new value. A versioned section's write is a
   * version step that `ifVersion` guards; the others leave the version alone.
   */
  setDerived(id: unknown, section: DerivedSection, value: unknown, options: WriteOptions = {}, state?: Record<string, Json | null>): ChangeEvent {
    if (!isDerivedSection(section)) throw new RangeError(`not a derived section: ${showValue(section)}`);
    const spec = DERIVED[section];
    const twin = this.require(id);
    if (spec.versioned) this.checks.version(twin, options.ifVersion);
    const budget = spec.maxBytes === "document" ? this.maxDocumentBytes : spec.maxBytes;
    const t = this.clock();
    const entry: DerivedEntry = { l: this.lsn + 1, o: spec.code, i: twin.id, t };
    if (spec.versioned) entry.v = twin.version + 1;
    const changes = dict<Change>();
    if (spec.shape === "keyed") {
      if (!isPlainObject(value)) throw new TypeError(`${section}: a write names its keys ({name: value})`);
      const values = dict<Json | null>();
      const before = keyedOf(twin, section);
      for (const name of Object.keys(value)) {
        checkPropertyName(twin.id, name);
        const v = value[name];
        values[name] = v === null ? null : this.checks.derived(twin, name, v, budget);
        changes[name] = { value: cloneJson(values[name]), previous: cloneJson(before?.get(name) ?? null), ts: t };
      }
      entry[spec.code] = values;
    } else {
      const admitted = this.checks.derived(twin, section, value, budget);
      wholeChanges(changes, wholeOf(twin, section), admitted, t);
      entry[spec.code] = admitted;
    }
    if (state) entry.s = this.checks.state(twin, state);
    this.commit(entry as JournalEntry);
    const event: ChangeEvent = { twinId: twin.id, version: twin.version, section, ts: t, changes };
    this.emit(event);
    return event;
  }

  /** A property's prediction (null removes it), with the estimator state behind it. */
  setPrediction(id: unknown, property: string, prediction: Json | null, state?: Record<string, Json | null>): ChangeEvent {
    return this.setDerived(id, "predictions", { [property]: prediction }, {}, state);
  }

  /** The twin's lifecycle summary (a version step), with private state in the same entry. */
  setLifecycle(id: unknown, lifecycle: unknown, options: WriteOptions = {}, state?: Record<string, Json | null>): ChangeEvent {
    return this.setDerived(id, "lifecycle", lifecycle, options, state);
  }

  getState(id: string, key: string): Json | undefined {
    return this.twins.get(id)?.state?.get(key);
  }

  // ---- reads ---------------------------------------------------------------------------------

  list(query: ListQuery = {}): { total: number; twins: TwinSummary[] } {
    const matches: Twin[] = [];
    for (const twin of this.twins.values()) {
      if (query.model !== undefined && twin.model !== query.model) continue;
      if (query.online !== undefined && twin.online !== query.online) continue;
      if (query.stage !== undefined && stageOf(twin) !== query.stage) continue;
      matches.push(twin);
    }
    matches.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const offset = query.offset ?? 0;
    const limit = query.limit ?? matches.length;
    return {
      total: matches.length,
      twins: matches.slice(offset, offset + limit).map((t) => toSummary(t, this.modelOf(t))),
    };
  }

  history(id: unknown, property: string, query: HistoryQuery = {}): Point[] {
    const twin = this.require(id);
    checkPropertyName(twin.id, property);
    const series = twin.history?.get(property);
    if (!series) return [];
    return series.range(query.from, query.to, query.limit);
  }

  // ---- persistence ---------------------------------------------------------------------------

  snapshotSource(): SnapshotSource {
    const twins = this.twins.values();
    return {
      lsn: this.lsn,
      lines: function* () {
        for (const twin of twins) yield JSON.stringify(toRecord(twin, true));
      },
    };
  }

  private maybeCompact(): void {
    if (this.store.wantsCompaction()) this.store.compact(() => this.snapshotSource()).catch(() => undefined);
  }

  compact(): Promise<void> {
    return this.store.compact(() => this.snapshotSource());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.staleTimer) clearInterval(this.staleTimer);
    if (this.compactTimer) clearInterval(this.compactTimer);
    this.listeners.clear();
    this.leadership.clear();
    await this.store.close();
  }
}

const ELSEWHERE = "elsewhere";

/** Sections and names an entry from elsewhere passed over, flat: section, name, section, name, ... */
type PassedOver = Array<string | null>;

/** Whether the entry passed over this name (almost always none was: the list is empty). */
function passedOver(passed: PassedOver, section: string, name: string): boolean {
  for (let k = 0; k < passed.length; k += 2) if (passed[k] === section && passed[k + 1] === name) return true;
  return false;
}

/**
 * Whether a section's event from elsewhere is told: not when every change in it was passed over
 * (the twin took nothing of that section); otherwise as the writer told it, changes or none.
 */
function told(changes: Record<string, Change>, passed: PassedOver, section: string): boolean {
  if (passed.length === 0 || hasKeys(changes)) return true;
  for (let k = 0; k < passed.length; k += 2) if (passed[k] === section) return false;
  return true;
}

/** A reading's values in an entry from disk or another instance, either form, as [name, value, source time]. */
function readingsOf(e: { t: number; r?: Record<string, EntryTuple>; rv?: Record<string, Json>; rt?: number }): Array<[string, Json, number]> {
  const out: Array<[string, Json, number]> = [];
  if (e.rv && isObject(e.rv)) {
    const ts = e.rt ?? e.t;
    for (const name of Object.keys(e.rv)) if (isPropertyName(name)) out.push([name, e.rv[name], ts]);
  }
  if (e.r && isObject(e.r as Json)) {
    for (const name of Object.keys(e.r)) {
      const tuple = e.r[name];
      if (isPropertyName(name) && Array.isArray(tuple)) out.push([name, tuple[0], tuple[1]]);
    }
  }
  return out;
}

/** What differs between two sets of entries (reported or desired), as changes; a name gone is null. */
function entryChanges(before: Map<string, Entry> | undefined, after: Map<string, Entry> | undefined, t: number): Record<string, Change> {
  const changes = dict<Change>();
  for (const [name, entry] of after ?? []) {
    const was = before?.get(name);
    if (!was || was.ts !== entry.ts || !jsonEqual(was.value, entry.value)) changes[name] = { value: entry.value, previous: was ? was.value : null, ts: entry.ts };
  }
  for (const [name, was] of before ?? []) if (!after?.has(name)) changes[name] = { value: null, previous: was.value, ts: t };
  return changes;
}

/**
 * A change and a change event made as plain objects (their prototype is Object.prototype, as a
 * literal's) by constructors, so that V8 never decides to allocate them in the old generation:
 * for what travels with messages (see changeAttributes).
 */
const PlainChange = function PlainChange(this: Change, value: Json, previous: Json, ts: number) {
  this.value = value;
  this.previous = previous;
  this.ts = ts;
} as unknown as new (value: Json, previous: Json, ts: number) => Change;
PlainChange.prototype = Object.prototype;
const PlainEvent = function PlainEvent(this: ChangeEvent, twinId: string, version: number, section: Section, ts: number, changes: Record<string, Change>) {
  this.twinId = twinId;
  this.version = version;
  this.section = section;
  this.ts = ts;
  this.changes = changes;
} as unknown as new (twinId: string, version: number, section: Section, ts: number, changes: Record<string, Change>) => ChangeEvent;
PlainEvent.prototype = Object.prototype;

/** A section with no changes; never emitted (a section is emitted only when its entry field is written). */
const EMPTY_CHANGES: Record<string, Change> = Object.freeze(dict<Change>());
/** What checks.size measures for a change of readings alone: nothing besides them. */
const NO_PARTS: Parts = Object.freeze({});

/** Whether an object has an own key, without listing them. */
function hasKeys(value: object): boolean {
  for (const _ in value) return true;
  return false;
}

function tupleDict<T extends EntryTuple | null>(map: Map<string, T>): Record<string, T> {
  const out = dict<T>();
  for (const [name, tuple] of map) out[name] = tuple;
  return out;
}

/**
 * The changes of a whole derived section (lifecycle) key by key, for its event: written here
 * or applied from another instance's entry alike. Nothing when neither side is an object.
 */
function wholeChanges(changes: Record<string, Change>, previous: Json, value: Json, t: number): void {
  if (!isObject(previous) && !isObject(value)) return;
  const before = isObject(previous) ? previous : dict();
  const after = isObject(value) ? value : dict();
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = key in after ? after[key] : null;
    const b = key in before ? before[key] : null;
    if (!jsonEqual(a, b)) changes[key] = { value: cloneJson(a), previous: cloneJson(b), ts: t };
  }
}
