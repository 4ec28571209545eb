/**
 * The device link: what `twin-link` does between a registry and the devices on a broker, with
 * the broker abstracted to two calls (messages in through `handle`, messages out through
 * `publish`), so every rule of the protocol is here and testable without MQTT.
 *
 * In: readings ({root}/{id}/reported) take the same path as a twin-sensor reading (coerce by model,
 * then one registry report) and are answered on /accepted or /rejected once durable; get requests
 * are answered with the document; status "online" touches the twin (a sign of life).
 * Out: the whole delta to {root}/{id}/delta when desired state is written, when the delta grows
 * (reported moved away from desired) and when the twin comes back online; the retained document
 * (or reported state) to {root}/{id}/state at most once per interval per twin, cleared when the
 * twin is deleted.
 *
 * On a registry shared by several instances (docs/redis.md) a twin's state goes out from the
 * instance leading it: one giving a twin up drops the state it has not sent yet (what it holds
 * may lag behind the new leader's), and one taking twins over publishes their state once
 * (paced), so a state the old leader throttled and never sent is not lost. A delta goes out from
 * the instance whose change it follows, once that change is durable, even if the twin changed
 * hands meanwhile (the new leader never saw that change as its own).
 */
import { RegistryFollower } from "../follower";
import { ChangeEvent, TwinRegistry } from "../registry";
import { TwinError } from "../errors";
import { deltaOf } from "../twin";
import { applyReading } from "../reading";
import { Throttle, ThrottleTimers } from "../throttle";
import {
  LinkTopics,
  ParsedTopic,
  RequestKind,
  acceptedReport,
  deltaMessage,
  documentReply,
  readBody,
  readGet,
  readReport,
  readStatus,
  rejection,
  tokenOf,
} from "./protocol";

export type StateMode = "document" | "reported" | "off";
export type ReplyMode = "all" | "errors";

/**
 * One message out; `key` marks the ones only the latest of which matters (queued while offline);
 * `atMost` caps its QoS (a reply goes at no higher QoS than the request it answers).
 */
export type Publish = (topic: string, payload: string, retain: boolean, key?: string, atMost?: 0 | 1 | 2) => void;

export interface Rejection {
  topic: string;
  twinId: string;
  request: RequestKind;
  code: string;
  message: string;
  clientToken?: string;
}

export interface DeviceLinkOptions {
  registry: TwinRegistry;
  topics: LinkTopics;
  publish: Publish;
  /** Unknown twins are created with this model (null: no model), or refused when undefined. */
  create?: { model: string | null };
  state?: StateMode;
  /** At most one state publish per twin per this many ms (0: every change). */
  stateIntervalMs?: number;
  /** "errors": /accepted only when the device sent a clientToken; /rejected always. */
  replies?: ReplyMode;
  /** Largest request payload read, in bytes. */
  maxPayloadBytes?: number;
  /** A core error (or any error) as the code and the text a device gets in /rejected. */
  describe(err: unknown): { code: string; message: string };
  onRejected?(rejection: Rejection): void;
  onHandled?(kind: RequestKind): void;
  /** Trouble outside any request (a store that fails to persist what was published about). */
  onError?(err: unknown): void;
  clock?: () => number;
  timers?: ThrottleTimers;
}

/** Twins whose state is republished per turn of the event loop after a fresh session. */
const REPUBLISH_CHUNK = 500;

export class DeviceLink extends RegistryFollower {
  private readonly topics: LinkTopics;
  private readonly publish: Publish;
  private readonly clock: () => number;
  private readonly state: StateMode;
  private readonly replies: ReplyMode;
  private readonly maxPayloadBytes: number;
  private readonly throttle: Throttle | null;
  /** Twins whose delta, and whose state, go out at the end of this turn. */
  private readonly deltas = new Set<string>();
  private readonly states = new Set<string>();
  private flushQueued = false;
  private republishing: NodeJS.Immediate | null = null;
  /** Twins whose state is to be published again, from `republishAt` on. */
  private republishIds: string[] = [];
  private republishAt = 0;
  /** The topic `accepts` parsed last: the broker node asks before it hands the message over. */
  private lastTopic = "";
  private lastParsed: ParsedTopic | null = null;

  constructor(private readonly options: DeviceLinkOptions) {
    super(options.registry);
    this.topics = options.topics;
    this.publish = options.publish;
    this.clock = options.clock ?? Date.now;
    this.state = options.state ?? "document";
    this.replies = options.replies ?? "all";
    this.maxPayloadBytes = options.maxPayloadBytes ?? this.registry.maxDocumentBytes + 4096;
    this.throttle = this.state === "off" ? null : new Throttle(options.stateIntervalMs ?? 1000, (id) => this.sendState(id), this.clock, options.timers);
  }

  protected override stop(): void {
    this.throttle?.close();
    if (this.republishing) clearImmediate(this.republishing);
    this.republishing = null;
    this.republishIds = [];
    this.deltas.clear();
    this.states.clear();
  }

  /** Twins this instance leads now: their state goes out once (the old leader may not have sent the last one). */
  protected override resumeTwins(twinIds: string[]): void {
    if (!this.throttle || this.closed || !twinIds.length) return;
    this.republish(twinIds, false);
  }

  /** Twins another instance leads now: a state not sent yet is dropped here, the new leader publishes it. */
  protected override leaveTwins(twinIds: string[]): void {
    if (!this.throttle) return;
    for (const id of twinIds) {
      this.throttle.forget(id);
      this.states.delete(id);
    }
  }

  /** Whether a topic is a request for this link. */
  accepts(topic: string): boolean {
    return this.parse(topic) !== null;
  }

  private parse(topic: string): ParsedTopic | null {
    if (topic !== this.lastTopic) {
      this.lastParsed = this.topics.parse(topic);
      this.lastTopic = topic;
    }
    return this.lastParsed;
  }

  /**
   * Handles one incoming message. `done` is called exactly once, when the message may be
   * acknowledged to the broker (for a reading: once its change is durable). The replies go at no
   * higher QoS than the message's own `qos`: a device that publishes at QoS 0 must already cope
   * with a request that never arrives, so a reply at QoS 1 assures it of nothing, and costs the
   * link a stored packet and an acknowledgement per reading. Never throws.
   */
  handle(topic: string, payload: Buffer | string, retain: boolean, done: () => void, qos?: 0 | 1 | 2): void {
    const parsed = this.parse(topic);
    if (!parsed || this.closed) return done();
    const { twinId, kind } = parsed;
    try {
      if (kind === "reported") this.report(topic, twinId, payload, retain, done, qos);
      else if (kind === "get") this.get(topic, twinId, payload, retain, done, qos);
      else this.status(topic, twinId, payload, done);
    } catch (err) {
      // A bug, not a bad request: still answered if possible, still acknowledged.
      try {
        this.reject(topic, twinId, kind, err, undefined, qos);
      } catch (e) {
        this.options.onError?.(e);
      }
      done();
    }
  }

  /** Publishes the state of every twin (led here) again (paced), e.g. when the broker lost our session. */
  republishAll(): void {
    if (!this.throttle || this.closed) return;
    this.republish([...this.registry.ids()], true);
  }

  /** Publishes these twins' state again, paced; `replace`: instead of what waits, else after it. */
  private republish(ids: string[], replace: boolean): void {
    if (replace) {
      this.republishIds = ids;
      this.republishAt = 0;
    } else {
      this.republishIds.push(...ids);
    }
    if (this.republishing) return;
    const step = () => {
      this.republishing = null;
      if (this.closed || !this.throttle) return;
      const ids = this.republishIds;
      const end = Math.min(ids.length, this.republishAt + REPUBLISH_CHUNK);
      for (; this.republishAt < end; this.republishAt++) {
        const id = ids[this.republishAt];
        if (this.registry.has(id) && this.leads(id)) this.throttle.touch(id);
      }
      if (this.republishAt < ids.length) this.republishing = setImmediate(step);
      else {
        this.republishIds = [];
        this.republishAt = 0;
      }
    };
    step();
  }

  // ---- requests --------------------------------------------------------------------------------

  private report(topic: string, twinId: string, payload: Buffer | string, retain: boolean, done: () => void, qos: 0 | 1 | 2 | undefined): void {
    // A retained reading comes again at every subscribe: applying it would replay old news.
    if (retain) return done();
    let token: string | undefined;
    let stale: string[];
    let version: number;
    try {
      const body = readBody(twinId, payload, this.maxPayloadBytes, false) as Record<string, unknown>;
      token = tokenOf(body);
      const request = readReport(twinId, body);
      const outcome = applyReading(this.registry, twinId, request.values, {
        ts: request.ts,
        ifVersion: request.ifVersion,
        source: topic,
        create: this.options.create,
      });
      stale = outcome.stale;
      // The version this reading made (or found, when it changed nothing): in strict mode later
      // readings may land before this one is durable, and a device that sends it back as
      // `version` must not be told a newer one.
      version = outcome.event ? outcome.event.version : (this.registry.twin(twinId)?.version ?? 0);
    } catch (err) {
      this.reject(topic, twinId, "reported", err, token, qos);
      return done();
    }
    this.options.onHandled?.("reported");
    this.registry.whenDurable((err) => {
      try {
        if (err) this.reject(topic, twinId, "reported", err, token, qos);
        else if (this.replies === "all" || token !== undefined) {
          this.publish(this.topics.reply(twinId, "reported", true), acceptedReport(version, this.clock(), token, stale), false, undefined, qos);
        }
      } catch (e) {
        this.options.onError?.(e);
      } finally {
        done();
      }
    });
  }

  private get(topic: string, twinId: string, payload: Buffer | string, retain: boolean, done: () => void, qos: 0 | 1 | 2 | undefined): void {
    if (retain) return done();
    let token: string | undefined;
    let reply: string;
    try {
      const body = readBody(twinId, payload, this.maxPayloadBytes, true);
      token = tokenOf(body);
      readGet(twinId, body);
      reply = documentReply(this.registry.get(twinId), token);
    } catch (err) {
      this.reject(topic, twinId, "get", err, token, qos);
      return done();
    }
    this.options.onHandled?.("get");
    this.publish(this.topics.reply(twinId, "get", true), reply, false, undefined, qos);
    done();
  }

  private status(topic: string, twinId: string, payload: Buffer | string, done: () => void): void {
    const status = readStatus(payload);
    if (status === null) {
      const text = (typeof payload === "string" ? payload : payload.toString("utf8")).slice(0, 40);
      this.reject(topic, twinId, "status", new TwinError("invalid-reading", { twinId, property: "status", value: JSON.stringify(text), rule: "online or offline" }), undefined);
      return done();
    }
    this.options.onHandled?.("status");
    // A twin this registry does not hold (another instance's, or not created yet) is not ours to track.
    if (!this.registry.has(twinId)) return done();
    if (status === "online") {
      // The device (re)connected: it may have missed deltas while away, so it gets the current one.
      this.registry.touch(twinId);
      this.queueDelta(twinId);
    }
    // A device's last will: offline now, not after the staleness timeout.
    else this.registry.setOnline(twinId, false);
    done();
  }

  /** Answers on /rejected (a status has no reply topic) and reports the rejection. */
  private reject(topic: string, twinId: string, request: RequestKind, err: unknown, clientToken: string | undefined, qos?: 0 | 1 | 2): void {
    const { code, message } = this.options.describe(err);
    if (request !== "status") {
      this.publish(this.topics.reply(twinId, request, false), rejection(code, message, this.clock(), clientToken), false, undefined, qos);
    }
    const r: Rejection = { topic, twinId, request, code, message };
    if (clientToken !== undefined) r.clientToken = clientToken;
    this.options.onRejected?.(r);
  }

  // ---- registry events -------------------------------------------------------------------------

  protected onChange(event: ChangeEvent): void {
    if (this.closed) return;
    const { section, twinId } = event;
    switch (section) {
      case "desired":
      case "delta":
        // Desired written, or the delta grew: values that became null only shrink it.
        if (Object.values(event.changes).some((c) => c.value !== null)) this.queueDelta(twinId);
        break;
      case "connectivity":
        if (event.changes.online?.value === true) this.queueDelta(twinId);
        break;
      case "twin":
        if (event.op === "deleted") this.deltas.delete(twinId);
        break;
    }
    if (this.throttle && (this.state === "document" || section === "reported" || section === "twin")) {
      this.states.add(twinId);
      this.queueFlush();
    }
  }

  private queueDelta(twinId: string): void {
    this.deltas.add(twinId);
    this.queueFlush();
  }

  /** One write emits several events (twin, reported, desired, delta): one message per twin and topic. */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (this.closed) return;
      const states = [...this.states];
      this.states.clear();
      for (const id of states) this.throttle?.touch(id);
      if (this.deltas.size === 0) return;
      const deltas = [...this.deltas];
      this.deltas.clear();
      // In strict mode what the delta asks for is on disk before the device hears of it.
      this.registry.whenDurable((err) => {
        if (err) return this.options.onError?.(err);
        for (const id of deltas) this.sendDelta(id);
      });
    });
  }

  private sendDelta(twinId: string): void {
    if (this.closed) return;
    const twin = this.registry.twin(twinId);
    if (!twin) return;
    const delta = deltaOf(twin, this.registry.modelOf(twin));
    if (Object.keys(delta).length === 0) return;
    this.publish(this.topics.delta(twinId), deltaMessage(delta, twin.version, this.clock()), false, `delta:${twinId}`);
  }

  private sendState(twinId: string): void {
    this.registry.whenDurable((err) => {
      if (this.closed) return;
      if (err) return this.options.onError?.(err);
      const twin = this.registry.twin(twinId);
      let payload = "";
      if (twin) {
        const doc = this.registry.get(twinId);
        payload = JSON.stringify(this.state === "reported" ? doc.reported : doc);
      } else {
        this.throttle?.forget(twinId);
      }
      // An empty retained message clears the state of a deleted twin.
      this.publish(this.topics.state(twinId), payload, true, `state:${twinId}`);
    });
  }
}
