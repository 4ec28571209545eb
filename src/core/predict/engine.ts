/**
 * The prediction engine: a follower (src/core/follower.ts) that keeps one Predictor per (twin,
 * property), fed readings by its node's messages (`apply`) and, in watch mode, by the registry's
 * reported changes. Each prediction goes to the twin with the estimator state that produced it
 * in one journal entry (registry.setPrediction), so a restart continues the learning where it
 * stopped; the state alone is saved at most once a minute of readings without a publication,
 * and when the engine closes.
 */
import { RegistryFollower } from "../follower";
import { TwinError, showValue } from "../errors";
import { Json } from "../json";
import { ChangeEvent, TwinRegistry } from "../registry";
import { globMatch } from "../glob";
import { checkPropertyName } from "../names";
import { Twin, keyedOf } from "../twin";
import { PredictConfig, PredictOptions } from "./options";
import { Alert, Prediction, Predictor } from "./predictor";

/** Without a publication, a predictor's state is still saved this often (reading time), and on close. */
export const SAVE_EVERY_MS = 60 * 1000;

export interface PredictReading { twinId: string; property: string; value: number; ts: number }

/** A published prediction with what it is about and the reading that made it. */
export type PredictionOut = Prediction & { twinId: string; property: string; value: number };

export interface AlertOut { twinId: string; property: string; value: number; alert: Alert }

/** What one batch of readings caused, in reading order. */
export interface PredictEffects { predictions: PredictionOut[]; alerts: AlertOut[] }

export interface PredictEngineOptions {
  config: PredictConfig;
  /** What other writers' readings caused (watch mode); the caller sends it once durable. */
  emit(effects: PredictEffects): void;
  /** A reported change the engine could not take (never thrown back into the writer). */
  onError(err: unknown, event: ChangeEvent): void;
  /** The counts behind a status changed. */
  onChange?(): void;
  /** The rule in a TwinError("invalid-reading") for a named property whose value is not a number. */
  notANumber?: string;
  /** The time of a reading that carries none (epoch ms). */
  clock?: () => number;
  /**
   * A reading older than the last one its predictor took, skipped (`last`, epoch ms): a device's
   * clock set back. One at the same time is not told: a reading delivered twice.
   */
  onOlder?(twinId: string, property: string, ts: number, last: number): void;
}

/** One (twin, property) being predicted. */
interface Tracked {
  predictor: Predictor;
  /** What was last written to the twin and sent, for the step option. */
  published: Prediction | null;
  /** Reading time of the last save, and whether the state moved on since. */
  savedAt: number;
  dirty: boolean;
}

export class PredictEngine extends RegistryFollower {
  readonly config: PredictConfig;
  private readonly explicit: Set<string>;
  private readonly options: PredictEngineOptions;
  private readonly clock: () => number;
  private readonly tracked = new Map<string, Map<string, Tracked>>();
  private readonly anomalous = new Set<string>();
  private readonly warned = new Set<string>();
  private pending: ChangeEvent[] = [];

  constructor(registry: TwinRegistry, options: PredictEngineOptions) {
    super(registry);
    this.options = options;
    this.config = options.config;
    this.explicit = new Set(options.config.properties);
    this.clock = options.clock ?? Date.now;
  }

  /** Properties predicted, and how many of them are in an anomaly or a threshold warning now. */
  counts(): { tracked: number; anomalous: number; warned: number } {
    let tracked = 0;
    for (const props of this.tracked.values()) tracked += props.size;
    return { tracked, anomalous: this.anomalous.size, warned: this.warned.size };
  }

  wantsTwin(twinId: string): boolean {
    const globs = this.config.twinIds;
    return globs.length === 0 || globs.some((g) => globMatch(g, twinId));
  }

  wantsProperty(property: string): boolean {
    return this.explicit.size === 0 || this.explicit.has(property);
  }

  /** The one property this engine predicts, when it names exactly one. */
  get onlyProperty(): string | null {
    return this.explicit.size === 1 ? [...this.explicit][0] : null;
  }

  /** Readings of wanted properties in a change's `changes`; throws on a non-number for a named property. */
  readingsOf(twinId: string, changes: unknown): PredictReading[] {
    if (!changes || typeof changes !== "object" || Array.isArray(changes)) {
      throw new TwinError("invalid-reading", { twinId, property: "changes", value: showValue(changes), rule: "not an object" });
    }
    const out: PredictReading[] = [];
    const c = changes as Record<string, unknown>;
    for (const property of Object.keys(c)) {
      if (!this.wantsProperty(property)) continue;
      const change = c[property] as { value?: unknown; ts?: unknown } | null;
      const value = change && typeof change === "object" ? change.value : change;
      const ts = change && typeof change === "object" && typeof change.ts === "number" && Number.isFinite(change.ts) ? change.ts : this.clock();
      const reading = this.reading(twinId, property, value, ts);
      if (reading) out.push(reading);
    }
    return out;
  }

  /** A reading, null to skip (a non-number of a property nobody named), or an error naming twin and property. */
  reading(twinId: string, property: string, value: unknown, ts: number): PredictReading | null {
    if (typeof value === "number" && Number.isFinite(value)) return { twinId, property, value, ts };
    if (!this.explicit.has(property)) return null;
    throw new TwinError("invalid-reading", { twinId, property, value: showValue(value), rule: this.options.notANumber ?? "not a number" });
  }

  /**
   * Updates the predictors of every reading and writes what is due to the twins. Every twin and
   * property name is checked first, so a message with an unknown twin or a name no twin property
   * can have ("battery-level") changes nothing: no predictor takes a reading of it, and no
   * prediction of the message's other properties is written before its error.
   */
  apply(readings: PredictReading[]): PredictEffects {
    const reg = this.registry;
    for (const r of readings) {
      if (!reg.has(r.twinId)) throw new TwinError("not-found", { twinId: r.twinId });
      checkPropertyName(r.twinId, r.property);
    }
    const effects: PredictEffects = { predictions: [], alerts: [] };
    const step = this.config.step;
    for (const r of readings) {
      const entry = this.trackedFor(r.twinId, r.property);
      const out = entry.predictor.update(r.ts, r.value);
      if (!out) {
        // Not newer than the last reading. Older is said: skipped until the clock passes the last
        // one, a device whose clock went back would otherwise leave the node silent for as long.
        const last = entry.predictor.lastTime;
        if (last !== null && r.ts < last) this.options.onOlder?.(r.twinId, r.property, r.ts, last);
        continue;
      }
      const p = out.prediction;
      const k = key(r.twinId, r.property);
      mark(this.anomalous, k, entry.predictor.anomalous);
      mark(this.warned, k, entry.predictor.warned);
      const last = entry.published;
      const publish = step === 0 || !last || out.alerts.length > 0 || Math.abs(p.forecast - last.forecast) >= step ||
        p.anomaly !== last.anomaly || (p.timeToThreshold === null) !== (last.timeToThreshold === null);
      if (publish) {
        // The estimator state (up to 2 KB for linear) goes with a prediction at most once a
        // minute of readings, and on close: a crash costs at most a minute of learning.
        const save = r.ts - entry.savedAt >= SAVE_EVERY_MS || out.alerts.length > 0 || !last;
        reg.setPrediction(r.twinId, r.property, p as unknown as Json, save ? { [stateKey(r.property)]: entry.predictor.toJSON() } : undefined);
        entry.published = p;
        if (save) entry.savedAt = r.ts;
        entry.dirty = !save;
        effects.predictions.push({ ...p, twinId: r.twinId, property: r.property, value: r.value });
      } else if (r.ts - entry.savedAt >= SAVE_EVERY_MS) {
        reg.setState(r.twinId, stateKey(r.property), entry.predictor.toJSON());
        entry.savedAt = r.ts;
        entry.dirty = false;
      } else {
        entry.dirty = true;
      }
      for (const alert of out.alerts) effects.alerts.push({ twinId: r.twinId, property: r.property, value: r.value, alert });
    }
    this.options.onChange?.();
    return effects;
  }

  protected onChange(event: ChangeEvent): void {
    if (event.section === "twin" && event.op === "deleted") return this.forget(event.twinId);
    if (!this.config.watch || event.section !== "reported" || !this.wantsTwin(event.twinId)) return;
    // Taken after the writer's change is complete, never inside it.
    if (this.pending.push(event) === 1) queueMicrotask(() => this.drain());
  }

  private drain(): void {
    const events = this.pending;
    this.pending = [];
    if (this.closed) return;
    for (const event of events) {
      try {
        const readings = this.readingsOf(event.twinId, event.changes);
        if (!readings.length) continue;
        const effects = this.apply(readings);
        if (effects.predictions.length || effects.alerts.length) this.options.emit(effects);
      } catch (err) {
        this.options.onError(err, event);
      }
    }
  }

  private trackedFor(twinId: string, property: string): Tracked {
    let props = this.tracked.get(twinId);
    if (!props) this.tracked.set(twinId, (props = new Map()));
    let entry = props.get(property);
    if (!entry) {
      const state = this.registry.getState(twinId, stateKey(property));
      const twin = this.registry.twin(twinId);
      const { predictor } = Predictor.restore(this.optionsFor(twin, property), state);
      const stored = twin ? keyedOf(twin, "predictions")?.get(property) : undefined;
      entry = { predictor, published: isPrediction(stored) ? (stored as unknown as Prediction) : null, savedAt: predictor.lastTime ?? -Infinity, dirty: false };
      props.set(property, entry);
    }
    return entry;
  }

  /**
   * The node's options with what the twin's model knows of the property: its range bounds the
   * forecast and interval (a humidity stays within 0-100 %), and a `multipleOf` is the sensor's
   * resolution, unless the node sets either itself.
   */
  private optionsFor(twin: Twin | undefined, property: string): PredictOptions {
    const options = this.config.options;
    const spec = twin ? this.registry.modelOf(twin)?.properties.get(property) : undefined;
    if (!spec) return options;
    const out: PredictOptions = { ...options };
    if (!options.bounds && (spec.minimum !== undefined || spec.maximum !== undefined)) {
      const bounds: { min?: number; max?: number } = {};
      if (spec.minimum !== undefined) bounds.min = spec.minimum;
      if (spec.maximum !== undefined) bounds.max = spec.maximum;
      out.bounds = bounds;
    }
    if (options.resolution === null && spec.multipleOf !== undefined && spec.multipleOf > 0) out.resolution = spec.multipleOf;
    return out;
  }

  /**
   * Another instance leads these twins now and continues their predictors from what the twins
   * keep; what was learnt here since the last save is not the latest any more.
   */
  protected override leaveTwins(twinIds: string[]): void {
    for (const twinId of twinIds) this.forget(twinId);
  }

  private forget(twinId: string): void {
    const props = this.tracked.get(twinId);
    if (!props) return;
    for (const property of props.keys()) {
      this.anomalous.delete(key(twinId, property));
      this.warned.delete(key(twinId, property));
    }
    this.tracked.delete(twinId);
    this.options.onChange?.();
  }

  /** Saves what was learnt since the last save (the registry closes after the nodes that use it). */
  protected override stop(): void {
    this.pending = [];
    for (const [twinId, props] of this.tracked) {
      for (const [property, entry] of props) {
        if (!entry.dirty) continue;
        try {
          this.registry.setState(twinId, stateKey(property), entry.predictor.toJSON());
        } catch {
          // The store is gone or the twin was deleted meanwhile: nothing left to save into.
        }
      }
    }
    this.tracked.clear();
    this.anomalous.clear();
    this.warned.clear();
  }
}

/** The key of a property's estimator state in the twin's private state. */
export function stateKey(property: string): string {
  return `predict:${property}`;
}

function key(twinId: string, property: string): string {
  return `${twinId}\u0000${property}`;
}

function mark(set: Set<string>, k: string, on: boolean): void {
  if (on) set.add(k);
  else set.delete(k);
}

function isPrediction(v: unknown): boolean {
  return !!v && typeof v === "object" && !Array.isArray(v) && typeof (v as { forecast?: unknown }).forecast === "number";
}
