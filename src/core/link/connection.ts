/**
 * The physical link's own MQTT connection (the `mqtt` package): mqtt://, mqtts://, ws://, wss://,
 * MQTT 3.1.1 or 5, a persistent session (clean false; a session expiry with MQTT 5) so what
 * devices publish while Node-RED is away is delivered when it is back, reconnects with a growing
 * backoff, resubscribes on every connect, and a bounded outgoing queue while the broker is out of
 * reach.
 *
 * An incoming message is acknowledged (PUBACK) only when the handler calls `done`, which the
 * link does once the change it made is durable: in the registry's strict mode a QoS 1 reading
 * the broker saw acknowledged is on disk. Failures are classified (auth, tls, refused, network,
 * subscribe, taken-over) for the adapter to word; nothing here writes text for people.
 */
import * as mqtt from "mqtt";
import { BACKOFF_DEFAULTS, backoffDelay } from "./backoff";
import { Outgoing, OutgoingQueue } from "./queue";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";
export type FailureKind = "auth" | "tls" | "refused" | "network" | "subscribe" | "taken-over";

export interface Failure {
  kind: FailureKind;
  /** The error code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, 134, ...) or the refused filter. */
  code: string;
  /** The underlying error's own message, for the log. */
  detail: string;
}

export interface TlsOptions {
  ca?: string | Buffer | string[] | Buffer[];
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
  ALPNProtocols?: string[];
}

export interface ConnectionOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** 4: MQTT 3.1.1, 5: MQTT 5. */
  protocolVersion: 4 | 5;
  /** Seconds. */
  keepalive: number;
  /** Seconds the broker keeps the session after a disconnect (MQTT 5; 3.1.1 keeps it until the broker expires it). */
  sessionExpiry: number;
  tls?: TlsOptions;
  /** Messages kept while disconnected (0: none). */
  queueLimit: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  connectTimeoutMs?: number;
}

export interface ConnectionHandlers {
  /** The state or the failure changed. A failure stays until the next successful connect. */
  onState(state: ConnectionState, failure: Failure | null): void;
  /** Connected (again): subscriptions are renewed and the queue is sent. */
  onConnect(info: { sessionPresent: boolean; dropped: number }): void;
  /**
   * An incoming message; `done` acknowledges it (the broker's next messages wait for that, but
   * for a QoS 0 message, which has nothing to acknowledge); `qos` is the QoS it was delivered with.
   */
  onMessage(topic: string, payload: Buffer, retain: boolean, done: () => void, qos: 0 | 1 | 2): void;
  /** The outgoing queue overflowed (once per outage). */
  onOverflow?(): void;
  /** A handler threw (a bug): the message was acknowledged anyway so the link keeps going. */
  onError?(err: unknown): void;
}

/** A connection that lasts this long is stable. */
const STABLE_MS = 10000;
/** Short-lived connections in a row that mean another client takes the session over. */
const TAKEOVER_AFTER = 3;

export const URL_PROTOCOLS = ["mqtt:", "mqtts:", "ws:", "wss:"];

/** Why a broker URL can not be used ("invalid", "protocol"), or null. */
export function urlProblem(url: unknown): string | null {
  if (typeof url !== "string" || url.trim() === "") return "invalid";
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return "invalid";
  }
  if (!URL_PROTOCOLS.includes(parsed.protocol)) return "protocol";
  if (!parsed.hostname) return "invalid";
  return null;
}

export function isSecure(url: string): boolean {
  return /^(mqtts|wss):/i.test(url.trim());
}

const AUTH_CODES = new Set([4, 5, 134, 135, 140]);

function noTrace(): void {}

/**
 * mqtt.js's publish options, one object per QoS and retain flag: mqtt.js copies them, so a
 * shared one saves an allocation per message.
 */
const PUBLISH_OPTIONS: Record<string, mqtt.IClientPublishOptions> = {};
for (const qos of [0, 1, 2] as const) {
  for (const retain of [false, true]) PUBLISH_OPTIONS[`${qos}${retain}`] = Object.freeze({ qos, retain });
}

function publishOptions(message: Outgoing): mqtt.IClientPublishOptions {
  return PUBLISH_OPTIONS[`${message.qos}${message.retain}`] ?? { qos: message.qos, retain: message.retain };
}

/** What kind of trouble an error from the mqtt client is. */
export function classify(err: unknown): Failure {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  const detail = typeof e.message === "string" ? e.message : String(err);
  if (typeof e.code === "number") {
    if (AUTH_CODES.has(e.code)) return { kind: "auth", code: String(e.code), detail };
    if (e.code === 142) return { kind: "taken-over", code: "142", detail };
    return { kind: "refused", code: String(e.code), detail };
  }
  const code = typeof e.code === "string" ? e.code : "";
  // A TLS client meeting a plain port is reset "before secure TLS connection was established".
  if (/CERT|SSL|TLS|EPROTO|HANDSHAKE/i.test(code) || /\bTLS\b|\bSSL\b|certificate/i.test(detail)) return { kind: "tls", code: code || "error", detail };
  return { kind: "network", code: code || "error", detail };
}

export class LinkConnection {
  private client: mqtt.MqttClient | null = null;
  private readonly queue: OutgoingQueue;
  /** Filter -> QoS: what every connect subscribes to. */
  private wanted = new Map<string, 0 | 1 | 2>();
  /** Filters to unsubscribe at the next chance. */
  private readonly unwanted = new Set<string>();
  private current: ConnectionState = "connecting";
  private problem: Failure | null = null;
  private attempt = 0;
  /** When the current connection was acknowledged (0: not connected), and whether it failed. */
  private connectedAt = 0;
  private erred = false;
  /** Connections in a row the broker closed soon after accepting them, with no error. */
  private shortLived = 0;
  private stableTimer: NodeJS.Timeout | null = null;
  private overflowed = false;
  private ending: Promise<void> | null = null;
  /** The end of this turn of the event loop, when held packets leave (see holdTurn). */
  private turnEnd: NodeJS.Immediate | null = null;
  /** The stream held corked until then. */
  private corked: { uncork(): void } | null = null;
  /**
   * This turn's QoS 0 packets, encoded back to back into `out` ([outStart, outUsed) not written
   * yet) for `outStream`, the stream they were encoded for (see writeQos0).
   */
  private out: Buffer | null = null;
  private outStart = 0;
  private outUsed = 0;
  private outStream: PacketStream | null = null;

  constructor(private readonly options: ConnectionOptions, private readonly handlers: ConnectionHandlers) {
    this.queue = new OutgoingQueue(options.queueLimit);
  }

  get state(): ConnectionState {
    return this.current;
  }

  get failure(): Failure | null {
    return this.problem;
  }

  get connected(): boolean {
    return this.current === "connected";
  }

  /** Messages waiting for the connection. */
  get queued(): number {
    return this.queue.size;
  }

  private get backoff() {
    return {
      minMs: this.options.minBackoffMs ?? BACKOFF_DEFAULTS.minMs,
      maxMs: this.options.maxBackoffMs ?? BACKOFF_DEFAULTS.maxMs,
    };
  }

  start(): void {
    if (this.client || this.ending) return;
    const o = this.options;
    const clientOptions: mqtt.IClientOptions = {
      clientId: o.clientId,
      clean: false,
      protocolVersion: o.protocolVersion,
      keepalive: o.keepalive,
      reconnectPeriod: backoffDelay(0, this.backoff),
      reconnectOnConnackError: true,
      connectTimeout: o.connectTimeoutMs ?? 10000,
      resubscribe: false,
      manualConnect: true,
      ...(o.tls ?? {}),
    };
    // mqtt.js traces each packet through the debug package, which builds an array of arguments per
    // call even while tracing is off: a quarter of what twin-link allocated per reading. Off
    // unless DEBUG is set (DEBUG=mqttjs* turns the trace back on).
    if (!process.env.DEBUG) clientOptions.log = noTrace;
    if (o.username) clientOptions.username = o.username;
    if (o.password) clientOptions.password = o.password;
    if (o.protocolVersion === 5) clientOptions.properties = { sessionExpiryInterval: Math.max(0, Math.min(0xffffffff, Math.round(o.sessionExpiry))) };
    const client = mqtt.connect(o.url.trim(), clientOptions);
    this.client = client;
    // Acknowledge a message only once the link is done with it.
    client.handleMessage = (packet, callback) => this.receive(packet, callback);
    client.on("connect", (connack) => this.connected_(connack.sessionPresent === true));
    client.on("reconnect", () => {
      // An attempt mqtt.js had scheduled before end(): it must be the last (see end()).
      if (this.ending) return void client.end(true);
      // The wait after this attempt, if it fails, grows (mqtt.js reads it when it schedules).
      this.attempt++;
      client.options.reconnectPeriod = backoffDelay(this.attempt, this.backoff);
    });
    client.on("close", () => {
      if (this.ending) return;
      this.closed_();
    });
    client.on("error", (err) => {
      if (this.ending) return;
      this.erred = true;
      const failure = classify(err);
      // The broker could not be reached: it went down (a crash, a restart), which a client taking
      // the session over never makes it do, so the short connections before this one say nothing.
      if (failure.kind === "network") this.shortLived = 0;
      this.setState(this.current === "connected" ? "reconnecting" : this.current, failure);
    });
    client.on("disconnect", (packet) => {
      // MQTT 5: the broker says why it ends the connection (142: another client took the session).
      const code = packet.reasonCode ?? 0;
      if (code !== 0 && !this.ending) this.setState("reconnecting", classify({ code, message: reasonText(code) }));
    });
    client.connect();
  }

  /** Replaces the subscriptions (filter -> QoS); applied now when connected, else at connect. */
  setSubscriptions(wanted: Map<string, 0 | 1 | 2>): void {
    const added: Record<string, { qos: 0 | 1 | 2 }> = {};
    let any = false;
    for (const [filter, qos] of wanted) {
      this.unwanted.delete(filter);
      if (this.wanted.get(filter) !== qos) {
        added[filter] = { qos };
        any = true;
      }
    }
    for (const filter of this.wanted.keys()) if (!wanted.has(filter)) this.unwanted.add(filter);
    this.wanted = new Map(wanted);
    if (!this.connected) return;
    if (any) this.subscribe(added);
    this.sendUnsubscribes();
  }

  publish(message: Outgoing, key?: string): void {
    if (this.ending) return;
    const client = this.client;
    if (client && this.connected && client.connected) {
      this.holdTurn(client);
      if (message.qos === 0 && this.writeQos0(client, message)) return;
      // What was published before goes first.
      this.flushOut();
      // No callback: with one, mqtt.js adds a "drain" listener per QoS 0 message once the
      // corked stream holds more than its high-water mark.
      client.publish(message.topic, message.payload, publishOptions(message));
      return;
    }
    if (this.queue.push(message, key) > 0 && !this.overflowed) {
      this.overflowed = true;
      this.handlers.onOverflow?.();
    }
  }

  /**
   * A QoS 0 message leaves no state in the client (no message id, no store, no acknowledgement
   * to wait for), so it is written as the bytes it is. mqtt.js writes each packet in five
   * pieces, behind a cork of its own released on a process.nextTick per packet: 3 to 4 µs of CPU
   * per reply-sized message against about 1 µs as one buffer (a QoS 0 reply goes out per
   * reading). The packets of a turn are encoded back to back into one buffer and written to the
   * stream once (holdTurn): one chunk in the stream's queue per turn instead of one per packet,
   * whose bookkeeping objects outlived young-generation collections whenever the socket lagged
   * behind. Not while mqtt.js is still sending its stored packets after a connect or is
   * disconnecting (then it keeps the order).
   */
  private writeQos0(client: mqtt.MqttClient, message: Outgoing): boolean {
    const c = client as unknown as { disconnecting?: boolean; _storeProcessing?: boolean; _storeProcessingQueue?: unknown[]; stream?: PacketStream };
    const stream = c.stream;
    if (!stream || c.disconnecting || c._storeProcessing || (c._storeProcessingQueue?.length ?? 0) > 0 || stream.destroyed || stream.writable === false) return false;
    const { topic, payload } = message;
    const topicBytes = Buffer.byteLength(topic);
    const payloadBytes = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
    const size = qos0Size(topicBytes, payloadBytes, this.options.protocolVersion);
    if (size < 0) return false;
    if (stream !== this.outStream) {
      this.flushOut();
      this.outStream = stream;
    }
    if (this.out === null || this.outUsed + size > this.out.length) {
      this.flushOut();
      // A chunk is written in views and never written to again where a view was taken.
      this.out = Buffer.allocUnsafe(Math.max(OUT_CHUNK, size));
      this.outStart = this.outUsed = 0;
    }
    this.outUsed = encodeQos0(this.out, this.outUsed, topic, topicBytes, payload, payloadBytes, message.retain, this.options.protocolVersion);
    return true;
  }

  /** Writes the QoS 0 packets encoded so far to their stream (dropped if it is gone, as its own queue would be). */
  private flushOut(): void {
    if (this.out === null || this.outUsed === this.outStart) return;
    const bytes = this.out.subarray(this.outStart, this.outUsed);
    this.outStart = this.outUsed;
    const stream = this.outStream;
    if (stream && !stream.destroyed && stream.writable !== false) stream.write(bytes);
  }

  /**
   * mqtt.js handles each received packet on a tick of its own and writes each packet it sends as
   * soon as that tick ends, so a reply per reading costs a socket write per reading. Held corked
   * until the turn of the event loop is over, every reply of the turn leaves in one write.
   */
  private holdTurn(client: mqtt.MqttClient): void {
    if (this.turnEnd) return;
    const stream = (client as unknown as { stream?: { cork?(): void; uncork(): void } }).stream;
    if (stream && typeof stream.cork === "function") {
      stream.cork();
      this.corked = stream;
    }
    this.turnEnd = setImmediate(() => this.endTurn());
  }

  private endTurn(): void {
    this.turnEnd = null;
    this.flushOut();
    const corked = this.corked;
    this.corked = null;
    corked?.uncork();
  }

  /**
   * Ends the connection: pending acknowledgements go out first when connected (at most
   * `timeoutMs`). `removeSession` (MQTT 5) tells the broker to drop the session now.
   */
  end(options: { removeSession?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.ending) return this.ending;
    const client = this.client;
    this.current = "closed";
    this.queue.clear();
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = null;
    if (!client) return (this.ending = Promise.resolve());
    this.ending = new Promise<void>((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        resolve();
      };
      // mqtt.js ignores a second end() while it disconnects: on timeout the socket is destroyed.
      const timer = setTimeout(() => {
        (client as unknown as { stream?: { destroy(): void } }).stream?.destroy();
        finish();
      }, options.timeoutMs ?? 3000);
      // mqtt.js schedules its next attempt when a connection closes, and an end() that comes while
      // a refused attempt is closing leaves that timer running: the client would connect on, and
      // go on reconnecting, after the link was closed. A period of 0 stops it scheduling any.
      client.options.reconnectPeriod = 0;
      const removeSession = options.removeSession && this.options.protocolVersion === 5;
      const disconnect = removeSession ? { properties: { sessionExpiryInterval: 0 } } : {};
      // A graceful end waits for every unacknowledged publish, and mqtt.js rescans them all on
      // each acknowledgement: after a burst of replies that freezes the event loop for seconds.
      // Readings are acknowledged as they are handled, so only our own replies and states are
      // outstanding here: they are dropped. Only a session removal needs the DISCONNECT sent.
      this.flushOut();
      try {
        client.end(!(client.connected && removeSession), disconnect, finish);
      } catch {
        client.end(true, {}, finish);
      }
    });
    return this.ending;
  }

  // ---- internals -------------------------------------------------------------------------------

  private setState(state: ConnectionState, failure: Failure | null): void {
    const same = state === this.current && sameFailure(failure, this.problem);
    this.current = state;
    this.problem = failure;
    if (!same) this.handlers.onState(state, failure);
  }

  private connected_(sessionPresent: boolean): void {
    if (this.ending || !this.client) return;
    this.connectedAt = Date.now();
    this.erred = false;
    if (this.shortLived === 0) {
      this.attempt = 0;
      this.client.options.reconnectPeriod = backoffDelay(0, this.backoff);
    }
    // A connection that lasts is a healthy one: the count of short ones starts again.
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.shortLived = 0;
      this.attempt = 0;
      if (this.client) this.client.options.reconnectPeriod = backoffDelay(0, this.backoff);
      if (this.problem?.kind === "taken-over" && this.connected) this.setState("connected", null);
    }, STABLE_MS);
    this.stableTimer.unref?.();
    this.overflowed = false;
    this.setState("connected", this.problem?.kind === "taken-over" ? this.problem : null);
    const all: Record<string, { qos: 0 | 1 | 2 }> = {};
    for (const [filter, qos] of this.wanted) all[filter] = { qos };
    if (Object.keys(all).length) this.subscribe(all);
    this.sendUnsubscribes();
    for (const message of this.queue.drain()) this.client.publish(message.topic, message.payload, publishOptions(message));
    this.handlers.onConnect({ sessionPresent, dropped: this.queue.takeDropped() });
  }

  /**
   * The connection closed. When the broker keeps closing connections it just accepted, with no
   * error, another client with the same client id is taking the session over each time (MQTT
   * 3.1.1 says nothing; MQTT 5 brokers may send reason 142, handled on "disconnect").
   */
  private closed_(): void {
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = null;
    let problem = this.problem;
    if (this.connectedAt && !this.erred && Date.now() - this.connectedAt < STABLE_MS) {
      this.shortLived++;
      if (this.shortLived >= TAKEOVER_AFTER && problem?.kind !== "taken-over") {
        problem = { kind: "taken-over", code: "closed", detail: `the broker closed ${this.shortLived} connections in a row soon after accepting them` };
      }
    }
    this.connectedAt = 0;
    this.setState("reconnecting", problem);
  }

  private subscribe(filters: Record<string, { qos: 0 | 1 | 2 }>): void {
    const client = this.client;
    if (!client) return;
    client.subscribe(filters, (err, granted) => {
      if (this.ending) return;
      if (err) {
        // Unless the connection went down meanwhile (then the next connect subscribes again).
        if (client.connected) this.setState(this.current, { kind: "subscribe", code: Object.keys(filters).join(", "), detail: err.message });
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos >= 128).map((g) => g.topic);
      if (refused.length) {
        const code = (granted ?? []).find((g) => g.qos >= 128)?.qos ?? 128;
        this.setState(this.current, { kind: "subscribe", code: refused.join(", "), detail: reasonText(code) });
      }
    });
  }

  private sendUnsubscribes(): void {
    const client = this.client;
    if (!client || this.unwanted.size === 0) return;
    const filters = [...this.unwanted];
    this.unwanted.clear();
    client.unsubscribe(filters, () => undefined);
  }

  private receive(packet: mqtt.IPublishPacket, callback: (err?: Error) => void): void {
    if (packet.qos === 0) return this.receiveQos0(packet, callback);
    const client = this.client as (mqtt.MqttClient & { stream?: unknown }) | null;
    const stream = client?.stream;
    let called = false;
    const done = () => {
      if (called) return;
      called = true;
      // Ended meanwhile: mqtt.js would go on with the packets received after this one on a
      // client whose stores are closed (a TypeError that ends the process). Unacknowledged, the
      // message comes again to the next session.
      if (this.ending) return;
      // The connection it came on is gone: mqtt.js would keep the acknowledgement for the next
      // one, where its packet id may name another message (a broker that crashed numbers from
      // its last save), which the broker would then drop unread. Unacknowledged, this one comes
      // again with the session.
      if (!client || client.stream !== stream || !client.connected) return;
      // The acknowledgement goes after what the handler published before it (its reply).
      this.flushOut();
      callback();
    };
    try {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      this.handlers.onMessage(String(packet.topic), payload, packet.retain === true, done, packet.qos);
    } catch (err) {
      this.handlers.onError?.(err);
      done();
    }
  }

  /**
   * A QoS 0 message has no acknowledgement, but mqtt.js handles the next received packet only
   * once this one's callback is called: held until the reading is durable, it stopped the whole
   * connection for every fsync (strict) or every write a batched store makes acknowledgements
   * wait for. Released at once; the handler's `done` then has nothing left to do.
   */
  private receiveQos0(packet: mqtt.IPublishPacket, callback: (err?: Error) => void): void {
    try {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      this.handlers.onMessage(String(packet.topic), payload, packet.retain === true, noop, 0);
    } catch (err) {
      this.handlers.onError?.(err);
    }
    if (!this.ending) callback();
  }
}

function noop(): void {}

/** The largest remaining length MQTT's four-byte variable length can say. */
const MAX_REMAINING = 268435455;
/** Bytes of QoS 0 packets encoded per buffer (several hundred replies). */
const OUT_CHUNK = 64 * 1024;

/** What writeQos0 needs of mqtt.js's stream (a socket, a TLS socket or a WebSocket stream). */
interface PacketStream {
  write(chunk: Buffer): boolean;
  writable?: boolean;
  destroyed?: boolean;
}

/** The size of a QoS 0 PUBLISH packet, or -1 when the topic or the payload is too long for MQTT. */
function qos0Size(topicBytes: number, payloadBytes: number, protocolVersion: 4 | 5): number {
  if (topicBytes === 0 || topicBytes > 0xffff) return -1;
  const remaining = 2 + topicBytes + (protocolVersion === 5 ? 1 : 0) + payloadBytes;
  if (remaining > MAX_REMAINING) return -1;
  return 1 + (remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4) + remaining;
}

/** Encodes a QoS 0 PUBLISH packet (its size checked by qos0Size) at `at`; returns where it ends. */
function encodeQos0(packet: Buffer, at: number, topic: string, topicBytes: number, payload: string | Buffer, payloadBytes: number, retain: boolean, protocolVersion: 4 | 5): number {
  packet[at++] = retain ? 0x31 : 0x30;
  let rest = 2 + topicBytes + (protocolVersion === 5 ? 1 : 0) + payloadBytes;
  do {
    const digit = rest % 0x80;
    rest = Math.floor(rest / 0x80);
    packet[at++] = rest > 0 ? digit | 0x80 : digit;
  } while (rest > 0);
  packet[at++] = topicBytes >>> 8;
  packet[at++] = topicBytes & 0xff;
  at += packet.write(topic, at, "utf8");
  if (protocolVersion === 5) packet[at++] = 0; // property length
  if (typeof payload === "string") at += packet.write(payload, at, "utf8");
  else at += payload.copy(packet, at);
  return at;
}

/**
 * A QoS 0 PUBLISH packet (MQTT 3.1.1, or 5 with no properties) as the bytes mqtt-packet writes
 * for it, in one buffer; null when the topic or the payload is too long for MQTT. The encoding
 * writeQos0 batches, one packet at a time: what the tests compare with mqtt-packet's.
 */
export function qos0Publish(topic: string, payload: string | Buffer, retain: boolean, protocolVersion: 4 | 5): Buffer | null {
  const topicBytes = Buffer.byteLength(topic);
  const payloadBytes = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  const size = qos0Size(topicBytes, payloadBytes, protocolVersion);
  if (size < 0) return null;
  const packet = Buffer.allocUnsafe(size);
  encodeQos0(packet, 0, topic, topicBytes, payload, payloadBytes, retain, protocolVersion);
  return packet;
}

function reasonText(code: number): string {
  return (mqtt.ReasonCodes as Record<number, string>)[code] ?? `reason code ${code}`;
}

function sameFailure(a: Failure | null, b: Failure | null): boolean {
  if (a === null || b === null) return a === b;
  return a.kind === b.kind && a.code === b.code;
}
