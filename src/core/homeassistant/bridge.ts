/**
 * The Home Assistant bridge: a follower (src/core/follower.ts) that keeps HA's picture of the
 * twins it handles true. It announces each twin's entities (discovery.ts), publishes each twin's
 * state (at most once per `stateIntervalMs`), availability and attributes, takes HA's commands
 * as desired state, and removes a deleted twin's entities. Everything goes out through `emit`,
 * which the caller releases once the change behind it is durable; the caller also tells the
 * bridge when the broker connection came back (`announceAll`), as does HA's birth message.
 *
 * The caller also hands it every retained discovery config the broker holds (`noticeConfig`):
 * one of this bridge's that no twin stands for any more (deleted while the broker was away or the
 * flow was stopped, left out of the twin-id globs, a property the model lost) is cleared, so HA
 * keeps no ghost device.
 *
 * On a registry shared by several instances (docs/redis.md) each twin's leader speaks for it: an
 * instance announces only the twins it leads, announces the twins it takes over
 * (`resumeTwins`), forgets, without clearing anything, the ones another instance takes
 * (`leaveTwins`: their retained configs stay for the new leader, which publishes the same), applies
 * HA's commands (which every instance receives) only for the twins it leads, and clears a stale
 * config only for a twin whose partition it leads. On a local store every twin is led here.
 */
import { RegistryFollower } from "../follower";
import { TwinError } from "../errors";
import { Json, JsonObject } from "../json";
import { ChangeEvent, TwinRegistry } from "../registry";
import { Throttle, ThrottleTimers } from "../throttle";
import { Twin } from "../twin";
import { Discovery, HaOptions, TwinView, bridgeTopic, commandValue, discoveryOf, nodeIdOf, statePayload, topicsOf } from "./discovery";

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
  /** The number of twins in HA changed (for the node's status). */
  onChange?(): void;
  /** Each twin's state goes out at most this often (0: with every change). */
  stateIntervalMs?: number;
  /** Twins announced per step when announcing all, so a large fleet does not block the loop. */
  batch?: number;
  clock?: () => number;
  timers?: ThrottleTimers;
  /** Runs the next announcement step (setImmediate by default). */
  defer?: (fn: () => void) => void;
}

/** What the bridge told HA of one twin. */
interface Announced {
  entities: Discovery[];
  /** Reported names when announced (a twin without a model gets an entity per new name). */
  names: Set<string>;
}

/** What changed for a twin this turn. */
interface Touched { twin: boolean; reported: boolean; connectivity: boolean; attributes: boolean }

export class HomeAssistantBridge extends RegistryFollower {
  private readonly o: BridgeOptions;
  private readonly handles: (twinId: string) => boolean;
  private readonly announced = new Map<string, Announced>();
  /** Every discovery topic the announced twins stand for. */
  private readonly configTopics = new Set<string>();
  private readonly throttle: Throttle;
  private queued = new Map<string, Touched>();
  private flushQueued = false;
  private announcing: string[] | null = null;
  /** Retained configs of this bridge seen during an announcement round: judged once it is over. */
  private sweepLater: Array<[string, string]> = [];

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

  /** Announces every handled twin (led here) again, in steps (after a reconnect, or HA's birth message). */
  announceAll(): void {
    if (this.closed) return;
    this.emit([{ topic: bridgeTopic(this.o.ha), payload: "online", retain: true }]);
    const ids: string[] = [];
    for (const id of this.registry.ids()) if (this.handles(id) && this.leads(id)) ids.push(id);
    ids.sort();
    const fresh = this.announcing === null;
    this.announcing = ids;
    if (fresh) this.announceStep(0);
  }

  /**
   * Applies a command from HA (`<base>/<twinId>/set/<property>`) as desired state, checked by
   * the model like any other; throws a TwinError naming twin, property and value. A command for
   * a twin this bridge does not handle is another bridge's, and one for a twin another instance
   * leads is that instance's (null).
   */
  command(twinId: string, property: string, payload: string): ChangeEvent | null {
    // Every instance receives HA's commands: the one leading the twin applies it.
    if (!this.handles(twinId) || !this.leads(twinId)) return null;
    const twin = this.registry.twin(twinId);
    if (!twin) throw new TwinError("not-found", { twinId });
    const spec = this.registry.modelOf(twin)?.properties.get(property);
    const value = commandValue(twinId, property, spec, payload);
    return this.registry.setDesired(twinId, { [property]: value }, { by: "homeassistant" });
  }

  /** A retained discovery config the broker holds (any bridge's): this bridge's stale ones are cleared. */
  noticeConfig(topic: string, payload: string): void {
    if (this.closed || payload === "" || this.configTopics.has(topic)) return;
    const parts = topic.split("/");
    const levels = this.o.ha.prefix.split("/").length;
    if (parts.length !== levels + 4 || parts[parts.length - 1] !== "config" || !parts[levels + 1].startsWith(`${this.o.ha.id}_`)) return;
    if (this.announcing !== null) {
      this.sweepLater.push([topic, payload]);
      return;
    }
    this.clearStale(topic, payload);
  }

  protected override resume(): void {
    this.announceAll();
  }

  /** Twins this instance leads now: announced (in steps, with the round under way if there is one). */
  protected override resumeTwins(twinIds: string[]): void {
    if (this.closed) return;
    const ids = twinIds.filter((id) => this.handles(id) && this.leads(id)).sort();
    if (!ids.length) return;
    if (this.announcing !== null) return void this.announcing.push(...ids);
    this.announcing = ids;
    this.announceStep(0);
  }

  /**
   * Twins another instance leads now: it speaks for them (the same retained configs and state),
   * so they are forgotten here, nothing cleared, and a state not sent yet is the new leader's.
   */
  protected override leaveTwins(twinIds: string[]): void {
    let forgot = false;
    for (const id of twinIds) {
      this.queued.delete(id);
      this.throttle.forget(id);
      forgot = this.forget(id, false) || forgot;
    }
    if (forgot) this.o.onChange?.();
  }

  protected override stop(): void {
    this.throttle.close();
    this.queued.clear();
    this.announcing = null;
    this.sweepLater = [];
  }

  protected onChange(event: ChangeEvent): void {
    if (this.closed || !this.handles(event.twinId)) return;
    const id = event.twinId;
    if (event.section === "twin" && event.op === "deleted") {
      this.queued.delete(id);
      this.throttle.forget(id);
      this.emit(this.removal(id));
      this.forget(id);
      return;
    }
    const section = event.section;
    if (section !== "twin" && section !== "reported" && section !== "connectivity" && section !== "attributes") return;
    let touched = this.queued.get(id);
    if (!touched) this.queued.set(id, (touched = { twin: false, reported: false, connectivity: false, attributes: false }));
    touched[section] = true;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** The twins touched this turn: a new twin (or a new property of one without a model) is announced; else what changed goes out. */
  private flush(): void {
    this.flushQueued = false;
    const queued = this.queued;
    this.queued = new Map();
    if (this.closed) return;
    for (const [id, touched] of queued) {
      try {
        const twin = this.registry.twin(id);
        if (!twin) continue;
        const known = this.announced.get(id);
        if (!known || (twin.model === null && hasNewName(twin, known.names))) {
          this.announce(twin);
          continue;
        }
        const out: Publication[] = [];
        if (touched.connectivity) out.push(this.availability(twin));
        if (touched.attributes) out.push(this.attributes(twin));
        this.emit(out);
        if (touched.reported) this.throttle.touch(id);
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
      if (!twin || !this.leads(twin.id)) continue;
      try {
        this.announce(twin);
      } catch (err) {
        this.o.onError?.(err);
      }
    }
    if (end < ids.length) return void (this.o.defer ?? setImmediate)(() => this.announceStep(end));
    this.announcing = null;
    const later = this.sweepLater;
    this.sweepLater = [];
    for (const [topic, payload] of later) if (!this.configTopics.has(topic)) this.clearStale(topic, payload);
  }

  /** Discovery configs, then what they read: attributes, availability and state. */
  private announce(twin: Twin): void {
    const view = this.view(twin);
    const entities = discoveryOf(view, this.o.ha);
    const out: Publication[] = entities.map((d) => ({ topic: d.topic, payload: JSON.stringify(d.config), retain: true }));
    const before = this.announced.get(twin.id);
    // A property that no longer has an entity (another model since) is cleared, not left behind.
    for (const d of before?.entities ?? []) if (!entities.some((e) => e.topic === d.topic)) out.push({ topic: d.topic, payload: "", retain: true });
    this.forget(twin.id);
    this.announced.set(twin.id, { entities, names: new Set(twin.reported.keys()) });
    for (const d of entities) this.configTopics.add(d.topic);
    out.push(this.attributes(twin), this.availability(twin));
    out.push({ topic: topicsOf(this.o.ha, twin.id).state, payload: JSON.stringify(statePayload(view, entities)), retain: true });
    this.throttle.forget(twin.id);
    this.emit(out);
    if (!before) this.o.onChange?.();
  }

  private forget(twinId: string, tell = true): boolean {
    const known = this.announced.get(twinId);
    if (!known) return false;
    for (const d of known.entities) this.configTopics.delete(d.topic);
    this.announced.delete(twinId);
    if (tell) this.o.onChange?.();
    return true;
  }

  /**
   * Clears a retained config of this bridge that no twin stands for, and that twin's own topics.
   * A twin led by another instance is announced there: its configs are that instance's to judge.
   */
  private clearStale(topic: string, payload: string): void {
    const twinId = twinOfConfig(this.o.ha, topic, payload);
    if (twinId !== null && !this.leads(twinId)) return;
    const out: Publication[] = [{ topic, payload: "", retain: true }];
    if (twinId !== null && !this.announced.has(twinId)) {
      const topics = topicsOf(this.o.ha, twinId);
      for (const t of [topics.state, topics.availability, topics.attributes]) out.push({ topic: t, payload: "", retain: true });
    }
    this.emit(out);
  }

  private sendState(twinId: string): void {
    if (this.closed) return;
    const twin = this.registry.twin(twinId);
    const known = this.announced.get(twinId);
    if (!twin || !known) return;
    this.emit([{ topic: topicsOf(this.o.ha, twinId).state, payload: JSON.stringify(statePayload(this.view(twin), known.entities)), retain: true }]);
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
    const out: Publication[] = (this.announced.get(twinId)?.entities ?? []).map((d) => ({ topic: d.topic, payload: "", retain: true }));
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

function hasNewName(twin: Twin, names: Set<string>): boolean {
  for (const name of twin.reported.keys()) if (!names.has(name)) return true;
  return false;
}

/** The twin a config of this bridge was for, read from its state topic (`<base>/<twin id>/state`). */
function twinOfConfig(o: HaOptions, configTopic: string, payload: string): string | null {
  try {
    const topic = (JSON.parse(payload) as { state_topic?: unknown }).state_topic;
    if (typeof topic !== "string" || !topic.startsWith(`${o.base}/`) || !topic.endsWith("/state")) return null;
    const id = topic.slice(o.base.length + 1, -"/state".length);
    // Only when the config's own node id says the same twin: a config is never trusted to name another's topics.
    const node = configTopic.split("/").at(-3);
    return id && !id.includes("/") && node === nodeIdOf(o, id) ? id : null;
  } catch {
    return null;
  }
}
