/**
 * The Home Assistant bridge: a follower (src/core/follower.ts) that keeps HA's picture of the
 * twins it handles true. It announces each twin's entities (discovery.ts), publishes each twin's
 * state (at most once per `stateIntervalMs`), availability and attributes, takes HA's commands
 * as desired state, and removes a deleted twin's entities. Everything goes out through `emit`,
 * which the caller releases once the change behind it is durable; the caller also tells the
 * bridge when the broker connection came back (`announceAll`), as does HA's birth message.
 */
import { RegistryFollower } from "../follower";
import { TwinError } from "../errors";
import { Json, JsonObject } from "../json";
import { ChangeEvent, TwinRegistry } from "../registry";
import { Throttle, ThrottleTimers } from "../throttle";
import { Twin } from "../twin";
import { Discovery, HaOptions, TwinView, bridgeTopic, commandValue, discoveryOf, statePayload, topicsOf } from "./discovery";

/** One MQTT message; an empty payload with retain clears what the broker kept. */
export interface Publication { topic: string; payload: string; retain: boolean }

export interface BridgeOptions {
  ha: HaOptions;
  /** Whether the bridge handles a twin (the node's twin-id globs). */
  handles?: (twinId: string) => boolean;
  /** Publications to send once what they tell of is durable. */
  emit(publications: Publication[]): void;
  /** A failure outside any message (never thrown back into a writer). */
  onError?(err: unknown): void;
  /** Each twin's state goes out at most this often (0: with every change). */
  stateIntervalMs?: number;
  /** Twins announced per step when announcing all, so a large fleet does not block the loop. */
  batch?: number;
  clock?: () => number;
  timers?: ThrottleTimers;
  /** Runs the next announcement step (setImmediate by default). */
  defer?: (fn: () => void) => void;
}

export class HomeAssistantBridge extends RegistryFollower {
  private readonly o: BridgeOptions;
  private readonly handles: (twinId: string) => boolean;
  /** Per announced twin, its entities as last announced: what a deletion must clear. */
  private readonly announced = new Map<string, Discovery[]>();
  private readonly throttle: Throttle;
  private queued = new Set<string>();
  private flushQueued = false;
  private announcing: string[] | null = null;

  constructor(registry: TwinRegistry, options: BridgeOptions) {
    super(registry);
    this.o = options;
    this.handles = options.handles ?? (() => true);
    this.throttle = new Throttle(options.stateIntervalMs ?? 1000, (id) => this.sendState(id), options.clock, options.timers);
  }

  /** Twins whose entities HA has been told of. */
  get size(): number {
    return this.announced.size;
  }

  /** Announces every handled twin again, in steps (after a reconnect, or HA's birth message). */
  announceAll(): void {
    if (this.closed) return;
    this.emit([{ topic: bridgeTopic(this.o.ha), payload: "online", retain: true }]);
    const ids: string[] = [];
    for (const id of this.registry.ids()) if (this.handles(id)) ids.push(id);
    ids.sort();
    const fresh = this.announcing === null;
    this.announcing = ids;
    if (fresh) this.announceStep(0);
  }

  /**
   * Applies a command from HA (`<base>/<twinId>/set/<property>`) as desired state, checked by
   * the model like any other; throws a TwinError naming twin, property and value.
   */
  command(twinId: string, property: string, payload: string): ChangeEvent | null {
    if (!this.handles(twinId)) throw new TwinError("not-found", { twinId });
    const twin = this.registry.twin(twinId);
    if (!twin) throw new TwinError("not-found", { twinId });
    const spec = this.registry.modelOf(twin)?.properties.get(property);
    const value = commandValue(twinId, property, spec, payload);
    return this.registry.setDesired(twinId, { [property]: value }, { by: "homeassistant" });
  }

  protected override resume(): void {
    this.announceAll();
  }

  protected override stop(): void {
    this.throttle.close();
    this.queued.clear();
    this.announcing = null;
  }

  protected onChange(event: ChangeEvent): void {
    if (this.closed || !this.handles(event.twinId)) return;
    const id = event.twinId;
    if (event.section === "twin" && event.op === "deleted") {
      this.queued.delete(id);
      this.throttle.forget(id);
      this.emit(this.removal(id));
      this.announced.delete(id);
      return;
    }
    if (event.section === "twin" || event.section === "reported" || event.section === "connectivity" || event.section === "attributes") {
      this.queued.add(id);
      if (!this.flushQueued) {
        this.flushQueued = true;
        queueMicrotask(() => this.flush());
      }
    }
  }

  /** The twins touched this turn: announce new ones (and new properties of model-less ones), state for all. */
  private flush(): void {
    this.flushQueued = false;
    const ids = this.queued;
    this.queued = new Set();
    if (this.closed) return;
    for (const id of ids) {
      try {
        const twin = this.registry.twin(id);
        if (!twin) continue;
        const known = this.announced.get(id);
        if (!known || (twin.model === null && twin.reported.size > known.length)) this.announce(twin);
        else {
          this.emit([this.availability(twin), this.attributes(twin)]);
          this.throttle.touch(id);
        }
      } catch (err) {
        this.o.onError?.(err);
      }
    }
  }

  private announceStep(from: number): void {
    const ids = this.announcing;
    if (!ids || this.closed) return;
    const end = Math.min(from + (this.o.batch ?? 100), ids.length);
    for (let i = from; i < end; i++) {
      const twin = this.registry.twin(ids[i]);
      if (!twin) continue;
      try {
        this.announce(twin);
      } catch (err) {
        this.o.onError?.(err);
      }
    }
    if (end < ids.length) (this.o.defer ?? setImmediate)(() => this.announceStep(end));
    else this.announcing = null;
  }

  /** Discovery configs, then what they read: attributes, availability and state. */
  private announce(twin: Twin): void {
    const view = this.view(twin);
    const entities = discoveryOf(view, this.o.ha);
    const out: Publication[] = entities.map((d) => ({ topic: d.topic, payload: JSON.stringify(d.config), retain: true }));
    // A model-less twin that lost a property keeps its entity; one whose model changed cannot happen.
    this.announced.set(twin.id, entities);
    out.push(this.attributes(twin), this.availability(twin));
    out.push({ topic: topicsOf(this.o.ha, twin.id).state, payload: JSON.stringify(statePayload(view, entities)), retain: true });
    this.throttle.forget(twin.id);
    this.emit(out);
  }

  private sendState(twinId: string): void {
    if (this.closed) return;
    const twin = this.registry.twin(twinId);
    const entities = this.announced.get(twinId);
    if (!twin || !entities) return;
    this.emit([{ topic: topicsOf(this.o.ha, twinId).state, payload: JSON.stringify(statePayload(this.view(twin), entities)), retain: true }]);
  }

  private availability(twin: Twin): Publication {
    return { topic: topicsOf(this.o.ha, twin.id).availability, payload: twin.online ? "online" : "offline", retain: true };
  }

  private attributes(twin: Twin): Publication {
    const a: JsonObject = { twinId: twin.id, model: twin.model, ...twin.attributes };
    return { topic: topicsOf(this.o.ha, twin.id).attributes, payload: JSON.stringify(a), retain: true };
  }

  /** Empty retained payloads: HA removes the entities (and the device with its last one); the broker forgets our topics. */
  private removal(twinId: string): Publication[] {
    const topics = topicsOf(this.o.ha, twinId);
    const out: Publication[] = (this.announced.get(twinId) ?? []).map((d) => ({ topic: d.topic, payload: "", retain: true }));
    for (const topic of [topics.state, topics.availability, topics.attributes]) out.push({ topic, payload: "", retain: true });
    return out;
  }

  private view(twin: Twin): TwinView {
    return { id: twin.id, modelName: twin.model, model: this.registry.modelOf(twin), attributes: twin.attributes, reported: twin.reported as ReadonlyMap<string, { value: Json }> };
  }

  private emit(publications: Publication[]): void {
    if (publications.length) this.o.emit(publications);
  }
}
