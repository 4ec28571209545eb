/**
 * A twin's life, tied to the registry: guarded stage transitions, usage counters fed by the
 * registry's reported changes, maintenance work orders, due rules (schedule and prediction),
 * the audit log, and the history and KPI queries.
 *
 * The registry stays the only owner of state. `twin.lifecycle` holds the summary
 * ({stage, since, operatingHours, cycles, maintenanceDue}; docs/architecture.md, "The twin
 * document"); everything else (counters' internals, work orders, log) is the twin's private
 * state (docs/architecture.md, "Private state keys"). Every change is checked in full,
 * then written as one registry call: `setLifecycle` (a version step, the summary and any state
 * keys in one journal entry), or `setState` of the one key "lifecycle" when only counters'
 * internals moved. A change that fails leaves the twin as it was.
 *
 * The summary's operatingHours is refreshed on every start and stop, every lifecycle change and
 * every 0.1 operating hours; `kpi()` gives the exact figure at the latest reading.
 *
 * On a registry shared by several instances (docs/redis.md) a twin's readings are counted by its
 * leader. A reading whose conditions are still being evaluated (JSONata) when its twin changes
 * hands is not applied here (the write would be refused); the instance taking the twin over
 * samples it once as it stands (`resumeTwins`), so its latest reading counts there. Samples are
 * idempotent at the same reading, so a reading the old leader did count changes nothing. What
 * several readings queued at the handover would have counted between them (a start and a stop
 * in quick succession) is lost; a prediction that fell due during the handover counts at the
 * next prediction.
 */
import { RegistryFollower } from "../follower";
import { ChangeEvent, TwinRegistry } from "../registry";
import { Json, JsonObject, cloneJson } from "../json";
import { TwinError } from "../errors";
import { checkTwinId } from "../names";
import { Twin, wholeOf } from "../twin";
import { Condition } from "./conditions";
import { CounterSpec, Edge, advanceCustom, advanceRun, hoursOf, runningMs, settleRun, shownValue } from "./counters";
import { LifecycleError } from "./errors";
import { DEFAULT_LOG_SIZE, appendLog, readLog } from "./log";
import {
  DueRules, NO_RULES, OrderType, closed, fields, flag, isOpen, newOrder, noted, orderId, predictionDue,
  readClose, readNote, readOpen, scheduleDue, text, time, LIMITS,
} from "./maintenance";
import { Usage, figures, fleetFigures } from "./reliability";
import { MainState, STATE_KEY, orderKey, readState, stateToJson } from "./state";
import { StageMachine, parseStages } from "./stages";

/** Closed work orders kept per twin (older ones go; the reliability sums keep counting them). */
export const KEPT_CLOSED_ORDERS = 200;
/** The summary's operatingHours is rewritten once the exact figure moved this far. */
export const HOURS_STEP = 0.1;

export interface LifecycleSummary extends JsonObject {
  stage: string | null;
  since: number | null;
  operatingHours: number;
  cycles: number;
  maintenanceDue: JsonObject | null;
}

export interface LifecycleOptions {
  registry: TwinRegistry;
  stages?: StageMachine;
  /** When the twin runs (operating hours, cycles); null: no usage counting. */
  running?: Condition | null;
  counters?: CounterSpec[];
  rules?: DueRules;
  /** Open a work order when maintenance falls due (preventive by schedule, predictive by prediction). */
  autoOrder?: boolean;
  /** Audit log entries kept per twin. */
  logSize?: number;
  /** Which twins this tracker counts and accepts actions for; all by default. */
  handles?: (twinId: string) => boolean;
  clock?: () => number;
  /** Who automatic actions are by. */
  by?: string;
  /** The description of a work order opened for a due period. */
  describeDue?: (due: JsonObject) => string;
  /** Every audit entry, just after it is written (transitions, orders, due periods). */
  onAudit?: (twinId: string, entry: JsonObject) => void;
  /** A failure outside any action (counting a reading, a prediction). */
  onError?: (err: unknown, twinId: string) => void;
}

export interface WriteOptions { ifVersion?: unknown }

/** One change being prepared: checked in full before anything is written. */
interface Draft {
  twin: Twin;
  main: MainState;
  /** Reading time the counters are read at. */
  t: number;
  /** State keys to write besides "lifecycle". */
  writes: Record<string, Json | null>;
  entries: JsonObject[];
  /** The summary (twin.lifecycle) is to be written. */
  summary: boolean;
  stage?: { stage: string; since: number };
}

export class Lifecycle extends RegistryFollower {
  readonly stages: StageMachine;
  readonly rules: DueRules;
  private readonly running: Condition | null;
  private readonly counters: CounterSpec[];
  private readonly autoOrder: boolean;
  private readonly logSize: number;
  private readonly clock: () => number;
  private readonly by: string;
  private readonly options: LifecycleOptions;
  readonly handles: (twinId: string) => boolean;
  /** Per twin, readings whose conditions are still being evaluated (JSONata), in order. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(options: LifecycleOptions) {
    super(options.registry);
    this.options = options;
    this.stages = options.stages ?? parseStages(null);
    this.running = options.running ?? null;
    this.counters = options.counters ?? [];
    this.rules = options.rules ?? NO_RULES;
    this.autoOrder = options.autoOrder === true;
    this.logSize = options.logSize ?? DEFAULT_LOG_SIZE;
    this.clock = options.clock ?? Date.now;
    this.by = options.by ?? "twin-lifecycle";
    this.handles = options.handles ?? (() => true);
    if (!this.running && (this.rules.hours !== null || this.rules.cycles !== null)) throw new LifecycleError("config.needs-running");
    if (!this.running && this.counters.some((c) => c.count === "starts")) throw new LifecycleError("config.needs-running");
  }

  protected override stop(): void {
    this.queues.clear();
  }

  /** Twins this instance leads now: each is sampled as it stands, so a reading its old leader had not counted counts here. */
  protected override resumeTwins(twinIds: string[]): void {
    if (this.closed || !this.watching) return;
    for (const id of twinIds) if (this.handles(id) && this.leads(id)) this.sample(id);
  }

  /** Whether a twin's readings are worth looking at (something counts or falls due). */
  private get watching(): boolean {
    return this.running !== null || this.counters.length > 0 || this.rules.days !== null;
  }

  // ---- actions -----------------------------------------------------------------------------

  /** Moves the twin to payload.to: {to, by, reason, override}. */
  transition(id: unknown, payload: unknown, options: WriteOptions = {}): { lifecycle: LifecycleSummary; entry: JsonObject } {
    const twin = this.twinOf(id);
    const f = fields(twin.id, payload, ["to", "by", "reason", "override"]);
    if (f.to === undefined) throw new LifecycleError("payload.missing", { twinId: twin.id, field: "to" });
    const by = text(twin.id, f, "by", false, LIMITS.by);
    const reason = text(twin.id, f, "reason", false);
    const override = flag(twin.id, f, "override");
    const from = summaryOf(twin).stage;
    const to = this.stages.check(twin.id, from, f.to);
    const draft = this.draft(twin);
    const now = this.clock();
    const entry: JsonObject = { ts: now, type: "transition", from, to, by, reason };
    if (this.stages.guarded(from, to)) {
      if (draft.main.open.length) {
        if (!override) {
          throw new LifecycleError("guard", { twinId: twin.id, from: String(from), to, orders: draft.main.open.join(", ") });
        }
        if (reason === null) throw new LifecycleError("override-reason", { twinId: twin.id, from: String(from), to });
        entry.override = true;
        entry.openOrders = draft.main.open.slice();
      }
      this.maintenanceDone(draft, entry);
    }
    draft.stage = { stage: to, since: now };
    draft.entries.push(entry);
    draft.summary = true;
    this.write(draft, options);
    return { lifecycle: this.summary(twin.id), entry };
  }

  /** Opens a work order: {type, description, by}. */
  openOrder(id: unknown, payload: unknown, options: WriteOptions = {}): { order: JsonObject; lifecycle: LifecycleSummary } {
    const twin = this.twinOf(id);
    const input = readOpen(twin.id, payload);
    const draft = this.draft(twin);
    const order = this.open(draft, input.type, input.description, input.by);
    this.write(draft, options);
    return { order: this.order(twin.id, String(order.id)), lifecycle: this.summary(twin.id) };
  }

  /** Adds a note and/or parts to an open order: {id, note, parts, by}. */
  noteOrder(id: unknown, payload: unknown, options: WriteOptions = {}): { order: JsonObject; lifecycle: LifecycleSummary } {
    const twin = this.twinOf(id);
    const input = readNote(twin.id, payload);
    const draft = this.draft(twin);
    const current = this.openOrderOf(draft, input.id);
    const now = this.clock();
    const next = noted(twin.id, current, input, now);
    draft.writes[orderKey(String(current.id))] = next;
    const entry: JsonObject = { ts: now, type: "workorder/note", order: current.id, by: input.by };
    if (input.note !== null) entry.note = input.note;
    if (input.parts) entry.parts = input.parts.length; // the parts themselves are in the order
    draft.entries.push(entry);
    this.write(draft, options);
    return { order: this.order(twin.id, String(current.id)), lifecycle: this.summary(twin.id) };
  }

  /** Closes an open order with the time spent: {id, hours, by, notes}. */
  closeOrder(id: unknown, payload: unknown, options: WriteOptions = {}): { order: JsonObject; lifecycle: LifecycleSummary } {
    const twin = this.twinOf(id);
    const input = readClose(twin.id, payload);
    const draft = this.draft(twin);
    const current = this.openOrderOf(draft, input.id);
    const orderIdValue = String(current.id);
    const now = this.clock();
    const main = draft.main;
    draft.writes[orderKey(orderIdValue)] = closed(current, input, now);
    main.open = main.open.filter((o) => o !== orderIdValue);
    // The state's lists are shared with its parsed copy: replaced, never changed in place.
    const kept = [...main.kept, orderIdValue];
    const drop = Math.max(0, kept.length - KEPT_CLOSED_ORDERS);
    for (const old of kept.slice(0, drop)) draft.writes[orderKey(old)] = null;
    main.kept = kept.slice(drop);
    main.closedTotal++;
    const entry: JsonObject = { ts: now, type: "workorder/close", order: orderIdValue, orderType: current.type, by: input.by, hours: input.hours, notes: input.notes };
    if (current.type === "corrective") {
      main.repairs++;
      main.repairHours += input.hours;
    } else {
      this.maintenanceDone(draft, entry);
    }
    draft.entries.push(entry);
    this.write(draft, options);
    return { order: this.order(twin.id, orderIdValue), lifecycle: this.summary(twin.id) };
  }

  /** The audit log and work orders of a twin within {from, to} (epoch ms or ISO 8601; both optional). */
  history(id: unknown, payload?: unknown): JsonObject {
    const twin = this.twinOf(id);
    const f = fields(twin.id, payload, ["from", "to"], true);
    const from = time(twin.id, f, "from") ?? -Infinity;
    const to = time(twin.id, f, "to") ?? Infinity;
    if (from > to) throw new LifecycleError("payload.range", { twinId: twin.id, from, to });
    const main = readState(twin.state?.get(STATE_KEY));
    const read = (key: string) => twin.state?.get(key);
    const log = readLog(main.log, read, from, to).map((e) => cloneJson(e));
    const orders: JsonObject[] = [];
    for (const oid of [...main.kept, ...main.open]) {
      const o = read(orderKey(oid));
      if (!o || typeof o !== "object" || Array.isArray(o)) continue;
      const opened = typeof o.opened === "number" ? o.opened : 0;
      const c = o.closed;
      const end = c && typeof c === "object" && !Array.isArray(c) && typeof c.ts === "number" ? c.ts : Infinity;
      if (opened <= to && end >= from) orders.push(cloneJson(o));
    }
    orders.sort((a, b) => num(a.opened) - num(b.opened));
    return {
      twinId: twin.id,
      from: Number.isFinite(from) ? from : null,
      to: Number.isFinite(to) ? to : null,
      lifecycle: this.summary(twin.id),
      log,
      workOrders: orders,
      logLimit: this.logSize,
    };
  }

  /** Counters and reliability figures of one twin, exact at its latest reading. */
  kpi(id: unknown): JsonObject {
    const twin = this.twinOf(id);
    return this.kpiOf(twin);
  }

  /** The same over every twin this tracker handles, summed, with each twin's figures. */
  fleet(): JsonObject {
    const twins: JsonObject[] = [];
    const ids = [...this.registry.ids()].filter((id) => this.handles(id)).sort();
    for (const id of ids) {
      const twin = this.registry.twin(id);
      if (twin) twins.push(this.kpiOf(twin));
    }
    const usage = fleetFigures(twins.map((k) => k as unknown as Usage));
    const due = twins.filter((k) => k.maintenanceDue !== null).map((k) => k.twinId as string);
    let cycles = 0;
    let open = 0;
    for (const k of twins) {
      cycles += num(k.cycles);
      open += num((k.workOrders as JsonObject).open);
    }
    return { twins: twins.length, ...usage, cycles, openWorkOrders: open, maintenanceDue: due, byTwin: twins };
  }

  /** The twin's lifecycle summary, a copy (null fields when it has none yet). */
  summary(id: string): LifecycleSummary {
    const twin = this.registry.twin(id);
    return cloneJson(summaryOf(twin)) as LifecycleSummary;
  }

  // ---- readings ----------------------------------------------------------------------------

  /** Readings feed the counters, predictions the due rule. */
  protected onChange(event: ChangeEvent): void {
    if (this.closed || !this.handles(event.twinId)) return;
    if (event.section === "reported") this.sample(event.twinId);
    else if (event.section === "predictions") this.predicted(event);
  }

  /** Evaluates the conditions on the twin as it is now; applies them now or, when async, in turn. */
  private sample(twinId: string): void {
    if (!this.watching) return;
    const twin = this.registry.twin(twinId);
    if (!twin) return;
    const t = latestReading(twin);
    if (t === null) return;
    const values: Array<boolean | Promise<boolean>> = [];
    try {
      if (this.running) values.push(this.running.evaluate(twin));
      for (const c of this.counters) values.push(c.when.evaluate(twin));
    } catch (err) {
      this.options.onError?.(err, twinId);
      return;
    }
    const pending = this.queues.get(twinId);
    if (!pending && values.every((v) => typeof v === "boolean")) {
      this.applySample(twinId, t, values as boolean[]);
      return;
    }
    // Handled now, so a failure while an earlier reading is still queued is no unhandled rejection.
    const results = Promise.all(values);
    results.catch(() => undefined);
    const next: Promise<void> = (pending ?? Promise.resolve())
      .then(() => results)
      .then((results) => {
        // The twin may have changed hands meanwhile: its new leader samples it (resumeTwins).
        if (!this.closed && this.leads(twinId)) this.applySample(twinId, t, results);
      })
      .catch((err: unknown) => {
        if (!this.closed) this.options.onError?.(err, twinId);
      })
      .finally(() => {
        if (this.queues.get(twinId) === next) this.queues.delete(twinId);
      });
    this.queues.set(twinId, next);
  }

  private applySample(twinId: string, t: number, values: boolean[]): void {
    try {
      this.observe(twinId, t, this.running ? values[0] : null, this.running ? values.slice(1) : values);
    } catch (err) {
      this.options.onError?.(err, twinId);
    }
  }

  /**
   * A reading at time t: `running` is the running condition (null: none), `when` the custom
   * counters' conditions in their order. Writes only what changed.
   */
  observe(twinId: string, t: number, running: boolean | null, when: boolean[] = []): void {
    const twin = this.registry.twin(twinId);
    if (!twin) return;
    const draft = this.draft(twin, t);
    const main = draft.main;
    let stateChanged = false;
    let edge: Edge = null;
    if (running !== null) {
      const r = advanceRun(main.run, t, running);
      main.run = r.counter;
      edge = r.edge;
      if (r.changed) stateChanged = true;
      if (edge) draft.summary = true;
    }
    this.counters.forEach((spec, i) => {
      const r = advanceCustom(spec, main.custom.get(spec.name), t, when[i] === true, edge);
      if (r.changed) {
        main.custom.set(spec.name, r.counter);
        stateChanged = true;
      }
    });
    if (!main.base) {
      main.base = { hours: hoursOf(runningMs(main.run, t)), cycles: main.run?.cycles ?? 0, ts: t };
      stateChanged = true;
    }
    if (!main.due) {
      const due = scheduleDue(this.rules, main.base, hoursOf(runningMs(main.run, t)), main.run?.cycles ?? 0, t);
      if (due) this.fallDue(draft, due);
    }
    const shown = summaryOf(twin).operatingHours;
    if (hoursOf(runningMs(main.run, t)) - shown >= HOURS_STEP - 1e-9) draft.summary = true;
    if (draft.summary || draft.entries.length) this.write(draft);
    else if (stateChanged) this.registry.setState(twin.id, STATE_KEY, stateToJson(main));
  }

  /** A prediction event: maintenance falls due when a time to threshold is within the horizon. */
  private predicted(event: ChangeEvent): void {
    if (this.rules.horizon === null) return;
    try {
      const twin = this.registry.twin(event.twinId);
      if (!twin) return;
      for (const property of Object.keys(event.changes)) {
        const due = predictionDue(this.rules, property, event.changes[property].value, event.ts);
        if (!due) continue;
        const draft = this.draft(twin);
        if (draft.main.due) return;
        this.fallDue(draft, due);
        this.write(draft);
        return;
      }
    } catch (err) {
      this.options.onError?.(err, event.twinId);
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  private twinOf(id: unknown): Twin {
    const twinId = checkTwinId(id);
    const twin = this.registry.twin(twinId);
    if (!twin) throw new TwinError("not-found", { twinId });
    return twin;
  }

  /** Reading time for a draft: the twin's latest reading, else the counters' own, else now. */
  private draft(twin: Twin, t?: number): Draft {
    const main = readState(twin.state?.get(STATE_KEY));
    const at = t ?? latestReading(twin) ?? main.run?.from ?? this.clock();
    return { twin, main, t: at, writes: Object.create(null), entries: [], summary: false };
  }

  private open(draft: Draft, type: OrderType, description: string, by: string | null): JsonObject {
    const main = draft.main;
    if (main.open.length >= LIMITS.notes) throw new LifecycleError("order-full", { twinId: draft.twin.id, id: "-", limit: LIMITS.notes });
    main.seq++;
    const id = orderId(main.seq);
    const now = this.clock();
    const order = newOrder(id, { type, description, by }, now);
    main.open = [...main.open, id];
    if (type === "corrective") main.failures++;
    draft.writes[orderKey(id)] = order;
    draft.entries.push({ ts: now, type: "workorder/open", order: id, orderType: type, by, description });
    return order;
  }

  private openOrderOf(draft: Draft, id: string | null): JsonObject {
    const twinId = draft.twin.id;
    const main = draft.main;
    if (id === null) {
      if (main.open.length !== 1) throw new LifecycleError("order-which", { twinId, open: main.open.join(", ") || "-" });
      id = main.open[0];
    }
    const stored = draft.twin.state?.get(orderKey(id));
    if (!stored || typeof stored !== "object" || Array.isArray(stored) || stored.id !== id) {
      throw new LifecycleError("order-unknown", { twinId, id, open: main.open.join(", ") || "-" });
    }
    if (stored.status !== "open") {
      const c = stored.closed;
      const at = c && typeof c === "object" && !Array.isArray(c) && typeof c.ts === "number" ? new Date(c.ts).toISOString() : "?";
      throw new LifecycleError("order-closed", { twinId, id, closed: at });
    }
    return stored;
  }

  /** Starts a due period: the summary says so, the log has it, and maybe an order is opened. */
  private fallDue(draft: Draft, due: JsonObject): void {
    const main = draft.main;
    main.due = due;
    draft.summary = true;
    const entry: JsonObject = { ts: this.clock(), type: "due", ...due };
    if (this.autoOrder) {
      const type: OrderType = due.rule === "prediction" ? "predictive" : "preventive";
      const already = main.open.find((oid) => {
        const o = draft.twin.state?.get(orderKey(oid));
        return isOpen(o) && o.type === type;
      });
      if (already) entry.order = already;
      else {
        const description = this.options.describeDue ? this.options.describeDue(due) : String(due.rule);
        draft.entries.push(entry);
        const order = this.open(draft, type, description.slice(0, LIMITS.text), this.by);
        entry.order = order.id;
        return;
      }
    }
    draft.entries.push(entry);
  }

  /** Maintenance was done: the due period ends and the schedule counts from here. */
  private maintenanceDone(draft: Draft, entry: JsonObject): void {
    const main = draft.main;
    const t = draft.t;
    main.base = { hours: hoursOf(runningMs(main.run, t)), cycles: main.run?.cycles ?? 0, ts: t };
    if (main.due) entry.dueEnded = main.due.rule as Json;
    main.due = null;
    draft.summary = true;
    entry.maintenanceDone = true;
  }

  /** One registry write for the whole draft, then the audit entries are told. */
  private write(draft: Draft, options: WriteOptions = {}): void {
    const { twin, main } = draft;
    if (draft.entries.length) {
      const log = appendLog(main.log, (key) => twin.state?.get(key), draft.entries, this.logSize);
      main.log = log.pointer;
      Object.assign(draft.writes, log.writes);
    }
    if (main.run) main.run = settleRun(main.run, draft.t);
    const state: Record<string, Json | null> = Object.create(null);
    state[STATE_KEY] = stateToJson(main);
    Object.assign(state, draft.writes);
    const current = summaryOf(twin);
    const summary: LifecycleSummary = {
      stage: draft.stage ? draft.stage.stage : current.stage,
      since: draft.stage ? draft.stage.since : current.since,
      operatingHours: main.run ? hoursOf(runningMs(main.run, draft.t)) : current.operatingHours,
      cycles: main.run ? main.run.cycles : current.cycles,
      maintenanceDue: main.due,
    };
    this.registry.setLifecycle(twin.id, summary, { ifVersion: options.ifVersion }, state);
    for (const entry of draft.entries) this.options.onAudit?.(twin.id, entry);
  }

  private order(twinId: string, id: string): JsonObject {
    return cloneJson(this.registry.getState(twinId, orderKey(id)) as JsonObject);
  }

  private kpiOf(twin: Twin): JsonObject {
    const main = readState(twin.state?.get(STATE_KEY));
    const t = latestReading(twin) ?? main.run?.from ?? null;
    const at = t ?? 0;
    const s = summaryOf(twin);
    const operatingHours = main.run ? hoursOf(runningMs(main.run, at)) : s.operatingHours;
    const counters: JsonObject = {};
    for (const spec of this.counters) counters[spec.name] = shownValue(spec, main.custom.get(spec.name), at);
    const usage: Usage = { operatingHours, failures: main.failures, repairs: main.repairs, repairHours: main.repairHours };
    return {
      twinId: twin.id,
      stage: s.stage,
      since: s.since,
      operatingHours,
      cycles: main.run ? main.run.cycles : s.cycles,
      running: main.run ? main.run.on : null,
      counters,
      maintenanceDue: main.due ? cloneJson(main.due) : null,
      workOrders: { open: main.open.length, closed: main.closedTotal },
      failures: main.failures,
      repairs: main.repairs,
      repairHours: Math.round(main.repairHours * 1e6) / 1e6,
      ...figures(usage),
      asOf: t,
    };
  }
}

/** The twin's summary as stored, with defaults for a twin that has none yet. */
function summaryOf(twin: Twin | undefined): LifecycleSummary {
  const lc = twin ? wholeOf(twin, "lifecycle") : null;
  const o = lc && typeof lc === "object" && !Array.isArray(lc) ? lc : null;
  const due = o?.maintenanceDue;
  return {
    stage: typeof o?.stage === "string" ? o.stage : null,
    since: typeof o?.since === "number" ? o.since : null,
    operatingHours: typeof o?.operatingHours === "number" ? o.operatingHours : 0,
    cycles: typeof o?.cycles === "number" ? o.cycles : 0,
    maintenanceDue: due && typeof due === "object" && !Array.isArray(due) ? due : null,
  };
}

/** The source time of the twin's latest reading (any property), or null before the first. */
export function latestReading(twin: Twin): number | null {
  let latest: number | null = null;
  for (const entry of twin.reported.values()) if (latest === null || entry.ts > latest) latest = entry.ts;
  return latest;
}

function num(value: Json | undefined): number {
  return typeof value === "number" ? value : 0;
}
