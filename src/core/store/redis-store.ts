/**
 * A registry shared on Redis by several instances (docs/redis.md). Twins are split into
 * partitions (a stable hash of the id); each partition is one hash slot holding its journal
 * (a stream of the same JournalEntry the file store writes), its snapshot, its twins' versions
 * and its lease. One live instance leads each partition and is the only one that writes to it:
 * its registry checks a change against current state and applies it at once, as on a local
 * store, while the append script writes it on the server only if the lease epoch is still the
 * writer's (fencing) and the twin's version is the one the change follows. Every instance follows
 * every partition's stream, so each one's registry holds every twin.
 *
 * `whenDurable` calls back once the server has answered every append made before the call: after
 * the AOF fsync with `appendfsync always` (strict), within a second of it with `everysec`
 * (batched). `open` checks the server's settings and warns where it cannot keep the promise.
 */
import { randomBytes } from "crypto";
import type { Redis } from "ioredis";
import type { Duplex } from "stream";
import { ErrorCode, ErrorParams, TwinError, isTwinError } from "../errors";
import type { SubmitOp } from "../registry";
import { JournalEntry, TwinRecord, ApplyContext, applyEntry, fromRecord, toRecord } from "../journal";
import { RefusalWarnings } from "./refusals";
import { Twin } from "../twin";
import { MADE_EARLIER, Recovered, RecoveryVisitor, SharedRegistry, SnapshotSource, Store, StoreHealth } from "./store";
import { RedisKeys } from "./redis/keys";
import { LeaseManager } from "./redis/lease";
import { compareIds, partitionOf } from "./redis/partitions";
import { APPEND, LOAD, SNAPSHOT } from "./redis/scripts";
import { Client, Ringer, StreamPoller, duplicateOf, isCluster } from "./redis/cluster-reads";

export interface RedisStoreOptions {
  /**
   * A client for the server (single or Sentinel). The store makes its own connections from it
   * (`duplicate`): one for writes, which never queues or resends a command (an append whose
   * answer was lost is found out by reading the partition again, not written twice), and one
   * for blocking reads of the streams. The caller's client stays the caller's. A Cluster client
   * (ioredis `Cluster`) works too: the streams are then polled (redis/cluster-reads.ts).
   */
  redis: Client;
  /** The registry's name in Redis: instances with the same prefix and name share its twins. */
  registry: string;
  prefix?: string;
  mode: "strict" | "batched";
  /** Partitions of a new registry (an existing one keeps the count it was created with). */
  partitions?: number;
  /**
   * This instance's name among the live ones (partitions are shared out by name, so a process
   * restarted with the same name takes back the same ones); a fresh random one by default. Each
   * start adds a random incarnation (`instance` of the store: `name#incarnation`), which holds the
   * leases and marks the entries: a restart never writes under the epoch of the process before.
   */
  instance?: string;
  leaseMs?: number;
  renewMs?: number;
  /** How long one blocking read of the streams waits before it is made again. */
  blockMs?: number;
  /** On a Redis Cluster only: the longest wait between two polls of the streams while nothing comes. */
  pollMs?: number;
  /** Entries in a partition's stream, since its snapshot, after which a new snapshot pays off. */
  snapshotEvery?: number;
  /** Stream entries are kept at least this long, even once a snapshot covers them. */
  retentionMs?: number;
  /** How long a change submitted here waits for the leader's answer before it fails (store-unavailable). */
  forwardTimeoutMs?: number;
  /**
   * Backpressure: appends sent and not answered yet, and changes forwarded to a leader and not
   * answered yet, at most (each counted on its own). Beyond it a change is refused at once with
   * store-unavailable, before anything is applied, instead of queueing without bound while Redis
   * (an fsync per append in strict) is slower than the changes coming in.
   */
  maxInFlight?: number;
}

export const REDIS_DEFAULTS = {
  prefix: "twinwire:",
  partitions: 64,
  leaseMs: 10000,
  blockMs: 1000,
  pollMs: 100,
  snapshotEvery: 1000,
  retentionMs: 60 * 60 * 1000,
  forwardTimeoutMs: 5000,
  /**
   * Under a second of appends at the rate one instance reached in the benchmark (docs/redis.md,
   * "Benchmarks": about 14,000 a second with appendfsync everysec on a busy 2-core machine): a
   * burst of a few thousand readings passes, a Redis stalled for seconds does not pile up
   * without end (each waiting append holds its entry's JSON).
   */
  maxInFlight: 10000,
};

/** The consumer group the leaders of a partition read its submitted changes through. */
const GROUP = "leaders";
/** Submitted changes read from the request streams at once. */
const REQUESTS_PER_READ = 1000;
/** Requests an earlier leader left pending, claimed per XAUTOCLAIM (the claim goes on until its cursor ends). */
const CLAIM_COUNT = 1000;
/** Request ids remembered per partition (answered from memory if delivered again). */
const REMEMBERED = 10000;

interface Forwarded { resolve(result: unknown): void; reject(err: Error): void; timer: NodeJS.Timeout }

/** An answer on the reply stream: a result, or an error as its code and params. */
export interface Answer { ok: boolean; result?: unknown; code?: string; params?: ErrorParams; message?: string; again?: boolean }

type Scripted = Redis & {
  twAppend(epoch: string, ver: string, log: string, ...args: Array<string | number>): Promise<string>;
  twLoad(snap: string, log: string): Promise<[string | null, string | null, Array<[string, string[]]>]>;
  twSnapshot(epoch: string, snap: string, log: string, ...args: Array<string | number>): Promise<number>;
};

/** Which check the append script makes for an entry (scripts.ts, APPEND). */
function checkOf(entry: JournalEntry): [string, number] {
  switch (entry.o) {
    case "c": return ["new", entry.v];
    case "x": return ["delete", 0];
    case "u": return ["next", entry.v];
    case "st":
    case "n": return ["exists", 0];
    default: return typeof entry.v === "number" ? ["next", entry.v] : ["exists", 0];
  }
}

interface Waiter { from: number; upTo: number; callback: (err?: Error) => void }

/** Resolves once the connection is ready; its first error fails it (Redis not reachable). */
function whenReady(client: Redis): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      client.off("ready", ok);
      reject(new TwinError("store-unavailable", { reason: err.message }));
    };
    const ok = () => {
      client.off("error", fail);
      resolve();
    };
    client.once("ready", ok);
    client.once("error", fail);
  });
}

export class RedisStore implements Store {
  readonly mode: "strict" | "batched";
  readonly where = "in Redis";
  /** `refused`: changes refused by the bound on those in flight (maxInFlight). */
  readonly stats = { compactions: 0, longestSliceMs: 0, journalBytes: 0, refused: 0 };
  /** `name#incarnation`: this process's store among the live ones (leases, entries, requests, replies). */
  readonly instance: string;
  /** The name partitions are shared out by (options.instance). */
  readonly name: string;
  readonly keys: RedisKeys;
  partitions = 0;
  leases: LeaseManager | null = null;
  private readonly options: RedisStoreOptions;
  private readonly writer: Scripted;
  private readonly reader: Redis;
  private readonly control: Redis;
  /** Blocking reads of the submitted changes of the partitions this instance leads. */
  private readonly requests: Redis;
  /** On a Cluster, what stands for the blocking reads of `reader` and `requests`; null on one server. */
  private readonly polls: { follow: StreamPoller; serve: StreamPoller; bell: Ringer } | null;
  private shared: SharedRegistry | null = null;
  private requestSeq = 0;
  private readonly forwarded = new Map<string, Forwarded>();
  private replyId = "0-0";
  /** Per partition: ids of submitted changes already in its stream (recent ones). */
  private answered: Array<Map<string, true>> = [];
  /** Partitions whose group exists and whose pending requests were claimed since this instance led them. */
  private readonly claimed = new Set<number>();
  /**
   * Writable partitions whose request stream was read to its end since this instance took them:
   * the changes submitted while nobody led them have run (in the order they were sent), and only
   * now does this instance lead their twins (`leads`) and make changes to them directly, after
   * those. Before, a reading made here just after a takeover could overtake an older one still
   * waiting in the stream, which was then refused as stale.
   */
  private readonly drained = new Set<number>();
  /** The submitted change being run now: its entries carry its id. */
  private currentRequest = "";
  private serving: Promise<void> | null = null;
  /** Per partition: the last stream id this instance's state covers. */
  private lastId: string[] = [];
  /** Per partition: the twins in it (kept here so a snapshot or a resync needs no scan). */
  private members: Array<Set<string>> = [];
  private sinceSnapshot: number[] = [];
  private pendingIn: number[] = [];
  /** Partitions this instance holds and has caught up on: the ones it may write. */
  private readonly writable = new Set<number>();
  private readonly resyncing = new Set<number>();
  private appendSeq = 0;
  /** The first append of this turn of the event loop (0: none yet). */
  private turnFirst = 0;
  /** The lowest append not answered yet (appendSeq + 1 when none is). */
  private lowest = 1;
  private readonly outstanding = new Set<number>();
  private readonly failures = new Map<number, Error>();
  private waiters: Waiter[] = [];
  private healthState: StoreHealth = { ok: true };
  private readonly healthListeners = new Set<(health: StoreHealth) => void>();
  private readonly warningListeners = new Set<(message: string) => void>();
  /** What changes from elsewhere, and partitions read again, passed over (a write would refuse it): told rate-limited. */
  private readonly refusals = new RefusalWarnings((message) => this.warn(message));
  private following: Promise<void> | null = null;
  private wasDown = false;
  /** Between the first lease round and the registry's restore: catch-ups wait for the restore. */
  private opening = false;
  private closed = false;
  /** The write connection's socket while it holds this turn's commands (see hold). */
  private corked: Duplex | null = null;
  /** This turn's answers to submitted changes, per requester's reply stream: r, v, r, v, ... */
  private answersOut = new Map<string, string[]>();
  /** This turn's requests answered, per request stream: their ids, acknowledged at once. */
  private acksOut = new Map<string, string[]>();
  private stop: () => void = () => undefined;
  private readonly stopping = new Promise<null>((resolve) => (this.stop = () => resolve(null)));

  constructor(options: RedisStoreOptions) {
    this.options = options;
    this.mode = options.mode;
    this.name = options.instance ?? `${process.pid}-${randomBytes(6).toString("hex")}`;
    this.instance = `${this.name}#${randomBytes(4).toString("hex")}`;
    this.keys = new RedisKeys(options.prefix ?? REDIS_DEFAULTS.prefix, options.registry);
    this.writer = duplicateOf(options.redis, true) as Scripted;
    this.writer.defineCommand("twAppend", { numberOfKeys: 3, lua: APPEND });
    this.writer.defineCommand("twLoad", { numberOfKeys: 2, lua: LOAD });
    this.writer.defineCommand("twSnapshot", { numberOfKeys: 3, lua: SNAPSHOT });
    this.reader = duplicateOf(options.redis, false);
    // Leases on a connection of their own: a renewal queued behind thousands of appends (a busy
    // leader, an fsync per append) would lapse while waiting, and the leader would refuse writes.
    this.control = duplicateOf(options.redis, true);
    this.control.on("error", () => undefined);
    this.requests = duplicateOf(options.redis, false);
    const poll = { pollMs: options.pollMs ?? REDIS_DEFAULTS.pollMs };
    // On a Cluster, an answer to this instance (its reply stream) and a change submitted anywhere
    // (the bell) end a poller's wait at once, each read blocking on a connection of its own.
    this.polls = isCluster(options.redis)
      ? {
        follow: new StreamPoller(this.reader, poll, { client: duplicateOf(options.redis, false), key: this.keys.reply(this.instance) }),
        serve: new StreamPoller(this.requests, poll, { client: duplicateOf(options.redis, false), key: this.keys.bell }),
        bell: new Ringer(this.writer, this.keys.bell),
      }
      : null;
    this.requests.on("error", () => undefined);
    // Connection errors are reported through health; without a listener ioredis would print them.
    this.writer.on("error", () => undefined);
    this.reader.on("error", () => undefined);
    this.writer.on("close", () => this.down("Redis connection lost"));
    this.writer.on("ready", () => this.up());
  }

  recover(): Recovered {
    throw new Error("a Redis store is read over the network: open its registry with openAsync()");
  }

  async open(_visit: RecoveryVisitor, shared: SharedRegistry): Promise<Recovered> {
    this.shared = shared;
    await whenReady(this.writer);
    const warnings = await this.checkDurability();
    // The first instance fixes the partition count; every later one reads it.
    await this.writer.hsetnx(this.keys.meta, "partitions", this.options.partitions ?? REDIS_DEFAULTS.partitions);
    await this.writer.hsetnx(this.keys.meta, "created", Date.now());
    const count = Number(await this.writer.hget(this.keys.meta, "partitions"));
    if (!Number.isSafeInteger(count) || count < 1) throw new TwinError("store-unavailable", { reason: `${this.keys.meta} names no partition count` });
    this.partitions = count;
    this.lastId = new Array(count).fill("0-0");
    this.members = Array.from({ length: count }, () => new Set<string>());
    this.sinceSnapshot = new Array(count).fill(0);
    this.pendingIn = new Array(count).fill(0);
    this.answered = Array.from({ length: count }, () => new Map<string, true>());
    // Leases first, then the read: a partition held from here on was written by nobody else
    // after the read (the old holder is fenced by the new epoch), so it is writable at once.
    await whenReady(this.control);
    this.leases = new LeaseManager(this.control, this.keys, count, this.instance,
      { ttlMs: this.options.leaseMs ?? REDIS_DEFAULTS.leaseMs, renewMs: this.options.renewMs }, {
        acquired: (p) => this.acquired(p),
        lost: (p) => this.unlead(p),
        drained: () => this.flush(),
      });
    this.opening = true;
    await this.leases.start();
    const heldBefore = new Map(this.leases.heldPartitions().map((p) => [p, this.leases?.epochOf(p)]));
    const records: TwinRecord[] = [];
    const entries: JournalEntry[] = [];
    // Numbers are this instance's: a record or entry carries its writer's, which mean nothing here.
    let l = 0;
    let skipped = 0;
    for (let p = 0; p < count; p++) {
      const part = await this.load(p);
      for (const rec of part.records) {
        rec.l = ++l;
        records.push(rec);
      }
      for (const entry of part.entries) {
        const numbered = { ...entry, l: ++l } as JournalEntry & { w?: string };
        delete numbered.w;
        delete (numbered as { q?: string }).q;
        entries.push(numbered);
      }
      skipped += part.skipped;
    }
    if (skipped) warnings.push(`${skipped} snapshot line(s) or stream entries in Redis that are neither a twin nor a journal entry (not JSON, or JSON of something else) were skipped`);
    // Held since before the read, under the same epoch: nothing was written there since.
    const heldAtRead = this.leases.heldPartitions().filter((p) => heldBefore.get(p) === this.leases?.epochOf(p));
    // The stream reader, and catch-ups of partitions leased during the read, start once the
    // registry has restored what this returns (it does so synchronously on resolution).
    setImmediate(() => {
      this.opening = false;
      if (this.closed) return;
      for (const p of this.leases?.heldPartitions() ?? []) {
        if (!heldAtRead.includes(p)) this.catchUp(p);
      }
      this.following = this.follow();
      this.serving = this.serve();
    });
    for (const p of heldAtRead) this.writable.add(p);
    return { records, entries, lsn: l, warnings };
  }

  /** A partition's snapshot and the entries after it, in one atomic read. */
  private async load(p: number): Promise<{ records: TwinRecord[]; entries: JournalEntry[]; skipped: number }> {
    const k = this.keys.partition(p);
    const [covered, data, stream] = await this.writer.twLoad(k.snap, k.log);
    const records: TwinRecord[] = [];
    const entries: JournalEntry[] = [];
    let skipped = 0;
    const members = this.members[p];
    members.clear();
    if (data) {
      for (const line of data.split("\n")) {
        if (!line) continue;
        let rec: TwinRecord | null = null;
        try {
          rec = JSON.parse(line) as TwinRecord;
        } catch {
          rec = null;
        }
        // JSON that is no twin (null, a number, a list) would stop the registry opening, here and
        // on every instance: skipped, and said, as a line that is not JSON.
        if (!rec || typeof rec !== "object" || Array.isArray(rec) || typeof rec.i !== "string") {
          skipped++;
          continue;
        }
        records.push(rec);
        members.add(rec.i);
      }
    }
    let last = covered ?? "0-0";
    for (const [id, fields] of stream ?? []) {
      last = id;
      const entry = this.parse(fields);
      if (!entry) {
        skipped++;
        continue;
      }
      entries.push(entry);
      this.track(p, entry);
      this.remember(p, entry.q);
    }
    this.lastId[p] = last;
    this.sinceSnapshot[p] = entries.length;
    return { records, entries, skipped };
  }

  private parse(fields: string[]): (JournalEntry & { w?: string; q?: string }) | null {
    let json: string | undefined;
    let writer: string | undefined;
    let request: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "e") json = fields[i + 1];
      else if (fields[i] === "w") writer = fields[i + 1];
      else if (fields[i] === "q") request = fields[i + 1];
    }
    if (json === undefined) return null;
    try {
      const entry = JSON.parse(json) as JournalEntry & { w?: string; q?: string };
      if (!entry || typeof entry !== "object" || typeof entry.i !== "string") return null;
      entry.w = writer;
      if (request !== undefined) entry.q = request;
      return entry;
    } catch {
      return null;
    }
  }

  /** A submitted change's id seen in partition p's stream: delivered again, it is answered, not run. */
  private remember(p: number, request: string | undefined): void {
    if (!request) return;
    const answered = this.answered[p];
    answered.set(request, true);
    if (answered.size > REMEMBERED) answered.delete(answered.keys().next().value as string);
  }

  private track(p: number, entry: JournalEntry): void {
    if (entry.o === "c") this.members[p].add(entry.i);
    else if (entry.o === "x") this.members[p].delete(entry.i);
  }

  /** Where the server cannot keep the promise of this mode, say so (and when it will not tell). */
  private async checkDurability(): Promise<string[]> {
    let aof: string | undefined;
    let fsync: string | undefined;
    try {
      const a = (await this.writer.config("GET", "appendonly")) as string[];
      const f = (await this.writer.config("GET", "appendfsync")) as string[];
      aof = a[1];
      fsync = f[1];
    } catch (err) {
      return [`Redis refused CONFIG GET (${(err as Error).message}), so whether it keeps ${this.mode} durability (appendonly yes, appendfsync ${this.mode === "strict" ? "always" : "everysec"}) is not checked`];
    }
    if (aof !== "yes") return [`Redis runs without its append-only file (appendonly ${aof}): a restart of Redis loses every change since its last RDB save, whatever this registry's mode (${this.mode}) promises`];
    if (this.mode === "strict" && fsync !== "always") return [`Redis syncs its append-only file "${fsync}", not "always": an acknowledged change can be lost if Redis's machine fails, which strict mode promises never happens`];
    if (fsync === "no") return [`Redis leaves syncing its append-only file to the OS (appendfsync no): batched mode's bound of about a second of changes lost does not hold`];
    return [];
  }

  // ---- writes --------------------------------------------------------------------------------

  /** Whether this instance may write the twin now (it leads the twin's partition and is caught up). */
  leads(twinId: string): boolean {
    if (!this.healthState.ok || this.partitions <= 0) return false;
    const p = partitionOf(twinId, this.partitions);
    return this.writable.has(p) && this.drained.has(p) && (this.leases?.holds(p) ?? false);
  }

  /** Whether this instance may append to partition p now: writable here, under a lease it trusts. */
  private holdsWritable(p: number): boolean {
    return this.writable.has(p) && (this.leases?.holds(p) ?? false);
  }

  /** Partitions whose twins this instance leads now (writable, and the changes that waited for a leader run). */
  leadingCount(): number {
    return this.drained.size;
  }

  peers(): number {
    return this.leases ? this.leases.live.filter((i) => i !== this.instance).length : 0;
  }

  /** Partitions this instance may write now (held and caught up). */
  writableCount(): number {
    return this.writable.size;
  }

  /**
   * Holds what the write connection is sent in this turn and writes it at once on the next
   * (one write(2), one wake-up of the server, its answers in one read here) instead of a
   * write per command: appends, forwarded changes and answers come many to a turn under load.
   * The commands stay in the socket's own buffer, in the order they were issued, behind anything
   * sent before: ordering, and the connection's never queueing or resending, are unchanged.
   */
  private hold(): void {
    if (this.corked) return;
    const socket = (this.writer as unknown as { stream?: Duplex }).stream;
    if (!socket || !socket.writable) return;
    socket.cork();
    this.corked = socket;
    setImmediate(() => {
      this.corked = null;
      this.sendAnswers();
      socket.uncork();
    });
  }

  /**
   * A leader's answers of this turn: one stream entry per requester holding each answer as an
   * `r`, `v` pair (answers() reads them in order), and one XACK per request stream, instead of a
   * MULTI, XADD, PEXPIRE, EXEC and XACK per answer. Sent on the next turn with the appends.
   */
  private answerLater(from: string, request: string, answer: Answer, req: string, id: string): void {
    if (!this.answersOut.size && !this.acksOut.size) this.hold();
    if (!this.corked) setImmediate(() => this.sendAnswers()); // no socket to hold: sent (or failed) alone
    const pairs = this.answersOut.get(from);
    if (pairs) pairs.push("r", request, "v", JSON.stringify(answer));
    else this.answersOut.set(from, ["r", request, "v", JSON.stringify(answer)]);
    const acks = this.acksOut.get(req);
    if (acks) acks.push(id);
    else this.acksOut.set(req, [id]);
  }

  private sendAnswers(): void {
    if (!this.answersOut.size && !this.acksOut.size) return;
    const answers = this.answersOut;
    const acks = this.acksOut;
    this.answersOut = new Map();
    this.acksOut = new Map();
    // An answer lost with the connection is the requester's timeout; its request stays pending
    // (not acknowledged) for the next leader to claim, which answers it from the stream.
    for (const [from, pairs] of answers) {
      const key = this.keys.reply(from);
      this.writer.xadd(key, "MAXLEN", "~", 1000, "*", ...pairs).catch(() => undefined);
      this.writer.pexpire(key, 60 * 60 * 1000).catch(() => undefined);
    }
    for (const [req, ids] of acks) this.writer.xack(req, GROUP, ...ids).catch(() => undefined);
  }

  append(entry: JournalEntry): void {
    if (this.closed) throw new TwinError("store-closed");
    if (!this.healthState.ok) throw new TwinError("store-unavailable", { reason: this.healthState.error ?? "Redis unreachable" });
    const p = partitionOf(entry.i, this.partitions);
    const epoch = this.leases?.epochOf(p);
    if (!this.writable.has(p) || epoch === undefined || !this.leases?.holds(p)) {
      // Held but not writable: taken over, or Redis came back, and the partition is still being
      // read; "led by another instance" would send a lone instance's user looking for one.
      const reason = this.leases?.holds(p)
        ? `twin "${entry.i}" is being caught up from Redis (partition ${p}); try again in a moment`
        : `twin "${entry.i}" is led by another instance (partition ${p})`;
      throw new TwinError("store-unavailable", { reason });
    }
    const most = this.options.maxInFlight ?? REDIS_DEFAULTS.maxInFlight;
    if (this.outstanding.size >= most) {
      this.stats.refused++;
      throw new TwinError("store-unavailable", { reason: `${this.outstanding.size} changes are waiting for Redis to answer (at most ${most}): Redis is slower than the changes coming in` });
    }
    const [check, version] = checkOf(entry);
    const seq = ++this.appendSeq;
    if (!this.turnFirst) {
      this.turnFirst = seq;
      setImmediate(() => (this.turnFirst = 0));
    }
    this.outstanding.add(seq);
    this.pendingIn[p]++;
    this.track(p, entry);
    this.sinceSnapshot[p]++;
    const k = this.keys.partition(p);
    const json = JSON.stringify(entry);
    this.stats.journalBytes += json.length;
    const request = this.currentRequest;
    this.remember(p, request);
    this.hold();
    this.writer.twAppend(k.epoch, k.ver, k.log, String(epoch), entry.i, check, version, json, this.instance, request).then(
      (id) => {
        if (compareIds(id, this.lastId[p]) > 0) this.lastId[p] = id;
        this.settle(seq, p);
      },
      (err: Error) => {
        const message = String(err?.message ?? err);
        // Not made (or not known to be): delivered again, the request runs again (read again
        // from the stream first, where it is if the append did land).
        if (request) this.answered[p].delete(request);
        if (message.startsWith("FENCED")) {
          // Another instance leads this partition now: forget the lease and take the partition's
          // state from the server, where this change never landed.
          this.leases?.drop(p);
          this.resync(p);
          this.settle(seq, p, new TwinError("store-unavailable", { reason: `twin "${entry.i}" is led by another instance now (partition ${p}): the change was refused` }));
        } else if (message.startsWith("VERSION")) {
          // Redis holds another version of the twin: this instance is out of step, and reads it again.
          this.resync(p);
          this.settle(seq, p, new TwinError("store-unavailable", { reason: `the change to twin "${entry.i}" was refused: Redis holds another version of it (${message}); the twin is read again from Redis, then the change can be sent again` }));
        } else {
          // No answer: the change may or may not have landed, so what the server holds is read again.
          this.resync(p);
          this.settle(seq, p, new TwinError("store-unavailable", { reason: `no answer from Redis to the change to twin "${entry.i}" (${message}): it may or may not have been made; the twin is read again from Redis` }));
        }
      },
    );
  }

  private settle(seq: number, p: number, err?: Error): void {
    this.outstanding.delete(seq);
    this.pendingIn[p]--;
    if (err) this.failures.set(seq, err);
    // Replies come in order on one connection, so the lowest unanswered append moves forward
    // and each waiter is looked at once: no pass over everything in flight per reply.
    while (this.lowest <= this.appendSeq && !this.outstanding.has(this.lowest)) this.lowest++;
    const frontier = this.lowest - 1;
    let done = 0;
    while (done < this.waiters.length && this.waiters[done].upTo <= frontier) done++;
    if (done === 0) return;
    const ready = this.waiters.splice(0, done);
    for (const w of ready) {
      let failed: Error | undefined;
      if (this.failures.size) for (const [s, e] of this.failures) if (s >= w.from && s <= w.upTo) failed = e;
      w.callback(failed);
    }
    const oldest = this.waiters.length ? this.waiters[0].from : frontier + 1;
    if (this.failures.size) for (const s of this.failures.keys()) if (s < oldest) this.failures.delete(s);
  }

  whenDurable(callback: (err?: Error) => void): void {
    if (this.outstanding.size === 0) return callback();
    // Waiters are kept in the order of upTo (appendSeq only grows), which settle relies on. A
    // caller asks in the turn of its writes (Store.whenDurable): it waits for every append before,
    // and is failed only by this turn's. An earlier turn's refused append is its own callers' to
    // report: told here too, a change that landed would read as not made (and be made again).
    this.waiters.push({ from: this.turnFirst || this.appendSeq + 1, upTo: this.appendSeq, callback });
  }

  // ---- following the other instances ---------------------------------------------------------

  /**
   * Partition p is writable here, its state complete: the changes submitted to it run here from
   * now on; once those waiting are run (`serve`), this instance leads its twins.
   */
  private lead(p: number): void {
    if (this.closed) return;
    this.writable.add(p);
  }

  /** Partition p's waiting requests have run: the registry's followers take up its twins. */
  private drain(p: number): void {
    if (this.closed || !this.writable.has(p) || !this.claimed.has(p) || this.drained.has(p)) return;
    this.drained.add(p);
    this.shared?.led([...this.members[p]], true);
  }

  /** Partition p is not writable here any more: followers drop their work for its twins. */
  private unlead(p: number): void {
    this.claimed.delete(p);
    this.drained.delete(p);
    if (this.writable.delete(p)) this.shared?.led([...this.members[p]], false);
  }

  /** A partition just leased: what its stream holds beyond this instance's state comes first. */
  private acquired(p: number): void {
    this.unlead(p);
    if (!this.opening) this.catchUp(p);
  }

  private catchUp(p: number): void {
    const k = this.keys.partition(p);
    const epoch = this.leases?.epochOf(p);
    this.writer.xrange(k.log, `(${this.lastId[p]}`, "+").then(
      (entries) => {
        this.take(p, entries as Array<[string, string[]]>);
        if (this.leases?.holds(p) && !this.resyncing.has(p)) this.lead(p);
        // Held under the same epoch but not trusted yet (the round that took it outlasted 80% of
        // the TTL: Redis slow or a node coming back): later renewals keep the epoch and raise no
        // event, so without another try the partition would stay unwritable for good.
        else if (!this.closed && epoch !== undefined && this.leases?.epochOf(p) === epoch && !this.writable.has(p) && !this.resyncing.has(p)) {
          setTimeout(() => {
            if (!this.closed && this.leases?.epochOf(p) === epoch && !this.writable.has(p)) this.catchUp(p);
          }, this.options.renewMs ?? Math.max(10, Math.floor((this.options.leaseMs ?? REDIS_DEFAULTS.leaseMs) / 3))).unref();
        }
      },
      () => this.leases?.drop(p), // unreachable: the lease is left to lapse and taken again later
    );
  }

  /** Entries of partition p read from the server, in stream order; those already here are skipped. */
  private take(p: number, entries: Array<[string, string[]]>): void {
    for (const [id, fields] of entries) {
      // Being read again (from an entry before this one, or before the call): the read covers
      // these, or they follow it and are read from where it ends. Taken now, one the read does not
      // cover would be undone by it and taken again: told three times.
      if (this.resyncing.has(p)) return;
      if (compareIds(id, this.lastId[p]) <= 0) continue;
      this.lastId[p] = id;
      const entry = this.parse(fields);
      if (!entry) {
        // Reading the partition again would skip it the same way: said once, and passed over.
        this.warn(`stream entry ${id} of partition ${p} in Redis is not a journal entry; it was skipped`);
        continue;
      }
      // This instance's own entries were applied (and counted) when they were made.
      this.remember(p, entry.q);
      if (entry.w === this.instance) continue;
      this.sinceSnapshot[p]++;
      delete entry.w;
      delete entry.q;
      this.track(p, entry);
      const shared = this.shared;
      if (!shared) continue;
      let outcome: string;
      try {
        outcome = shared.apply(entry, this.refusals.add);
      } catch (err) {
        outcome = `invalid (${(err as Error)?.message ?? err})`;
      }
      if (outcome === "applied") continue;
      // This instance is out of step with the writer (a twin it does not hold, an entry its state
      // cannot take): what Redis holds for the partition replaces what is here.
      this.warn(`the change ${id} to twin "${entry.i}" made by another instance could not be applied here (${outcome}): partition ${p} is read again from Redis`);
      this.resync(p);
    }
  }

  /**
   * One blocking read of every partition's stream after the last id seen, again and again, with
   * this instance's reply stream last: an answer to a change submitted here is taken after the
   * entries the leader wrote before answering, so the change is here when its promise resolves.
   */
  private async follow(): Promise<void> {
    const logs = Array.from({ length: this.partitions }, (_, p) => this.keys.partition(p).log);
    const index = new Map(logs.map((log, p) => [log, p]));
    const replies = this.keys.reply(this.instance);
    const blockMs = this.options.blockMs ?? REDIS_DEFAULTS.blockMs;
    let backoff = 50;
    while (!this.closed) {
      // Partitions this instance writes are not read back: nobody else can write them (fencing),
      // and its own entries were applied when made. That halves a lone leader's traffic.
      const followed: number[] = [];
      // Nor are partitions being read again: the read ends where following them goes on.
      for (let p = 0; p < this.partitions; p++) if (!this.writable.has(p) && !this.resyncing.has(p)) followed.push(p);
      try {
        const read = this.polls
          ? this.polls.follow.read([...followed.map((p) => logs[p]), replies], [...followed.map((p) => this.lastId[p]), this.replyId], blockMs)
          : this.reader.xread("BLOCK", blockMs, "STREAMS", ...followed.map((p) => logs[p]), replies, ...followed.map((p) => this.lastId[p]), this.replyId) as Promise<Array<[string, Array<[string, string[]]>]> | null>;
        read.catch(() => undefined);
        // A read caught by a reconnection may never settle once the connection is closed: close()
        // does not wait for it.
        const reply = await Promise.race([read, this.stopping]);
        if (this.closed) break;
        backoff = 50;
        for (const [log, entries] of reply ?? []) {
          const p = index.get(log);
          if (p !== undefined) this.take(p, entries);
          else if (log === replies) this.answers(entries);
        }
      } catch {
        if (this.closed) break;
        await Promise.race([new Promise((resolve) => setTimeout(resolve, backoff)), this.stopping]);
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  // ---- changes submitted on other instances ---------------------------------------------------

  /**
   * Sends a change to the leader of its twin's partition (its request stream) and waits for the
   * answer on this instance's reply stream. No answer in `forwardTimeoutMs`: store-unavailable.
   * The request carries that deadline: a leader that reads it later (none led the partition, or
   * it was slow) drops it instead of making a change the caller was told failed. Only one that
   * was running as the time ran out can still land (and clocks of the two machines a little apart
   * move the deadline by their difference).
   */
  forward(op: SubmitOp): Promise<unknown> {
    if (this.closed) return Promise.reject(new TwinError("store-closed"));
    if (!this.healthState.ok || !this.partitions) return Promise.reject(new TwinError("store-unavailable", { reason: this.healthState.error ?? "Redis unreachable" }));
    if (op.op === "report" && op.options?.shape) return Promise.reject(new RangeError(`a shaped reading of twin "${op.id}" is made on the instance leading it only`));
    const most = this.options.maxInFlight ?? REDIS_DEFAULTS.maxInFlight;
    if (this.forwarded.size >= most) {
      this.stats.refused++;
      return Promise.reject(new TwinError("store-unavailable", { reason: `${this.forwarded.size} changes sent to the instances leading their twins are waiting for an answer (at most ${most})` }));
    }
    const p = partitionOf(op.id, this.partitions);
    const request = `${this.instance}:${++this.requestSeq}`;
    const ms = this.options.forwardTimeoutMs ?? REDIS_DEFAULTS.forwardTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.forwarded.delete(request);
        reject(new TwinError("store-unavailable", { reason: `no answer within ${ms} ms from the instance leading twin "${op.id}" (partition ${p})` }));
      }, ms);
      this.forwarded.set(request, { resolve, reject, timer });
      this.hold();
      this.writer.xadd(this.keys.partition(p).req, "MAXLEN", "~", 10000, "*", "q", request, "f", this.instance, "d", Date.now() + ms, "o", JSON.stringify(op)).catch((err: Error) => {
        clearTimeout(timer);
        this.forwarded.delete(request);
        reject(new TwinError("store-unavailable", { reason: err.message }));
      }).then(() => {
        // On a Cluster the leader polls its request streams: once the request is in (still waited
        // for: not refused by Redis), it reads them now.
        if (this.forwarded.has(request)) this.polls?.bell.ring();
      });
    });
  }

  /** Answers read from this instance's reply stream. */
  private answers(entries: Array<[string, string[]]>): void {
    for (const [id, fields] of entries) {
      if (compareIds(id, this.replyId) > 0) this.replyId = id;
      // One entry holds a leader's answers of one turn to this instance: r, v, r, v, ...
      let request: string | undefined;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === "r") request = fields[i + 1];
        else if (fields[i] === "v" && request !== undefined) {
          this.settleForwarded(request, fields[i + 1]);
          request = undefined;
        }
      }
    }
  }

  /** A forwarded change's answer: its promise settles as the leader's call did. */
  private settleForwarded(request: string, json: string): void {
    const waiting = this.forwarded.get(request);
    if (!waiting) return;
    this.forwarded.delete(request);
    clearTimeout(waiting.timer);
    let answer: Answer | null;
    try {
      answer = parseAnswer(json);
    } catch {
      waiting.reject(new TwinError("store-unavailable", { reason: "the leader's answer is not JSON" }));
      return;
    }
    // Thrown here, the stream reader would pass over it and its caller, its timer cleared, would wait for ever.
    if (!answer || typeof answer !== "object") {
      waiting.reject(new TwinError("store-unavailable", { reason: "the leader's answer is not an answer" }));
      return;
    }
    if (answer.ok) waiting.resolve(answer.again ? MADE_EARLIER : answer.result);
    else if (answer.code) waiting.reject(new TwinError(answer.code as ErrorCode, answer.params ?? {}));
    else waiting.reject(new Error(answer.message ?? "the leader refused the change"));
  }

  /**
   * The leader's side: reads the request streams of the partitions it leads through the group,
   * first claiming what an earlier leader left pending, and runs each change as `submit` does.
   */
  private async serve(): Promise<void> {
    const blockMs = this.options.blockMs ?? REDIS_DEFAULTS.blockMs;
    let backoff = 50;
    while (!this.closed) {
      const led = [...this.writable].sort((a, b) => a - b);
      try {
        for (const p of led) {
          if (this.claimed.has(p)) continue;
          const req = this.keys.partition(p).req;
          await this.writer.xgroup("CREATE", req, GROUP, "0", "MKSTREAM").catch((err: Error) => {
            if (!String(err.message).startsWith("BUSYGROUP")) throw err;
          });
          // What the previous leader read and did not answer (it went): answered here, once, in
          // order, however many it had read (a claim takes at most CLAIM_COUNT; the cursor goes on).
          let cursor = "0-0";
          let lost = false;
          do {
            const [next, pending] = (await this.writer.xautoclaim(req, GROUP, this.instance, 0, cursor, "COUNT", CLAIM_COUNT)) as [string, Array<[string, string[]] | null>];
            if (!this.writable.has(p)) {
              lost = true;
              break;
            }
            for (const entry of pending ?? []) if (entry) this.request(p, entry[0], entry[1]);
            cursor = next;
          } while (cursor !== "0-0");
          if (!lost) this.claimed.add(p);
        }
        const ready = led.filter((p) => this.claimed.has(p) && this.writable.has(p));
        if (!ready.length) {
          await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.min(blockMs, 100))), this.stopping]);
          continue;
        }
        const keys = ready.map((p) => this.keys.partition(p).req);
        const read = this.polls
          ? this.polls.serve.readGroup(GROUP, this.instance, REQUESTS_PER_READ, keys, Math.min(blockMs, 100))
          : this.requests.xreadgroup("GROUP", GROUP, this.instance, "COUNT", REQUESTS_PER_READ, "BLOCK", Math.min(blockMs, 100), "STREAMS", ...keys, ...keys.map(() => ">")) as Promise<Array<[string, Array<[string, string[]]>]> | null>;
        read.catch(() => undefined);
        const reply = await Promise.race([read, this.stopping]);
        if (this.closed) break;
        backoff = 50;
        const full = new Set<number>();
        for (const [key, entries] of reply ?? []) {
          const p = ready[keys.indexOf(key)];
          for (const [id, fields] of entries) this.request(p, id, fields);
          if (entries.length >= REQUESTS_PER_READ) full.add(p);
        }
        // Read to the end (fewer than a full read): what waited has run, in order.
        for (const p of ready) if (!full.has(p)) this.drain(p);
      } catch {
        if (this.closed) break;
        await Promise.race([new Promise((resolve) => setTimeout(resolve, backoff)), this.stopping]);
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  /** Runs one submitted change of partition p and answers it (unless the partition was lost meanwhile). */
  private request(p: number, id: string, fields: string[]): void {
    let request: string | undefined;
    let from: string | undefined;
    let json: string | undefined;
    let deadline = Infinity;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "q") request = fields[i + 1];
      else if (fields[i] === "f") from = fields[i + 1];
      else if (fields[i] === "o") json = fields[i + 1];
      else if (fields[i] === "d") deadline = Number(fields[i + 1]);
    }
    const req = this.keys.partition(p).req;
    const done = (answer: Answer): void => {
      if (from !== undefined) this.answerLater(from, request ?? "", answer, req, id);
      else {
        this.hold();
        this.writer.xack(req, GROUP, id).catch(() => undefined);
      }
    };
    if (request === undefined || from === undefined || json === undefined) return done({ ok: false, message: "not a submitted change" });
    // Already in the stream (made, then delivered again after a handover): answered, not run again.
    if (this.answered[p].has(request)) return done({ ok: true, again: true });
    const shared = this.shared;
    // Not writable here, or its lease not trusted this moment (a renewal late on a busy machine):
    // left pending, for the next leader or for this one once the lease is renewed (either claims
    // it: a lapsed lease renewed counts as newly acquired). Run now, the append would be refused.
    if (!shared || !this.holdsWritable(p)) return;
    // Its caller was told it failed (store-unavailable): made now, it would surprise them.
    if (Date.now() > deadline) return done({ ok: false, code: "store-unavailable", params: { reason: "the change waited longer than its caller" } });
    let op: SubmitOp;
    try {
      op = JSON.parse(json) as SubmitOp;
    } catch {
      return done({ ok: false, message: "a submitted change that is not JSON" });
    }
    let result: Promise<unknown>;
    this.currentRequest = request;
    try {
      result = shared.run(op);
    } finally {
      this.currentRequest = "";
    }
    result.then(
      (value) => done({ ok: true, result: value }),
      (err: unknown) => {
        // Refused because the partition changed hands meanwhile (or its lease lapsed here): left
        // for the next leader.
        if (isTwinError(err) && err.code === "store-unavailable" && !this.holdsWritable(p) && !this.answered[p].has(request as string)) return;
        done(isTwinError(err) ? { ok: false, code: err.code, params: err.params } : { ok: false, message: String((err as Error)?.message ?? err) });
      },
    );
  }

  /**
   * Takes partition p's state from the server again (after a refused or unanswered append): its
   * twins are rebuilt from the snapshot and stream and replace what this instance holds.
   */
  private resync(p: number): void {
    if (this.resyncing.has(p) || this.closed) return;
    this.resyncing.add(p);
    this.unlead(p);
    const run = async (): Promise<void> => {
      const before = new Set(this.members[p]);
      const part = await this.load(p);
      const shared = this.shared;
      if (!shared) return;
      const twins = new Map<string, Twin>();
      // A refused name or value in the stream was told when it arrived, and is told again here
      // (rate-limited): this read is what the twins are rebuilt from.
      const refused = this.refusals.add;
      const ctx: ApplyContext = { twins, historyLength: shared.historyLength, fromDisk: true, refused };
      let l = 0;
      for (const rec of part.records) {
        const twin = fromRecord({ ...rec, l: ++l }, shared.historyLength, refused);
        if (twin) twins.set(twin.id, twin);
      }
      for (const entry of part.entries) applyEntry({ ...entry, l: ++l } as JournalEntry, ctx);
      for (const id of new Set([...before, ...twins.keys()])) {
        const twin = twins.get(id);
        shared.replace(id, twin ? toRecord(twin) : null);
      }
      this.members[p] = new Set(twins.keys());
    };
    const attempt = (): void => {
      run().then(
        () => {
          this.resyncing.delete(p);
          if (this.leases?.holds(p)) this.lead(p);
        },
        () => {
          if (this.closed) return;
          setTimeout(attempt, 500).unref();
        },
      );
    };
    attempt();
  }

  // ---- health --------------------------------------------------------------------------------

  private down(error: string): void {
    if (this.closed) return;
    this.wasDown = true;
    // Nothing is writable until the server is read again (up()).
    for (const p of [...this.writable]) this.unlead(p);
    this.setHealth({ ok: false, error });
  }

  private up(): void {
    if (this.closed || !this.wasDown) return;
    this.wasDown = false;
    this.setHealth({ ok: true });
    // Appends unanswered when the connection went may or may not have landed: held partitions
    // are read again; the others go on from the last id seen (their stream keeps every entry
    // after its snapshot, so a snapshot newer than that id is the only gap, read again too).
    for (const p of this.leases?.heldPartitions() ?? []) this.resync(p);
    for (let p = 0; p < this.partitions; p++) {
      if (this.leases?.heldPartitions().includes(p)) continue;
      const k = this.keys.partition(p);
      this.writer.hget(k.snap, "id").then((covered) => {
        if (covered && compareIds(covered, this.lastId[p]) > 0) this.resync(p);
      }, () => undefined);
    }
  }

  private setHealth(health: StoreHealth): void {
    if (health.ok === this.healthState.ok && health.error === this.healthState.error) return;
    this.healthState = health;
    for (const listener of this.healthListeners) listener(health);
  }

  health(): StoreHealth {
    return this.healthState;
  }

  onWarning(listener: (message: string) => void): () => void {
    this.warningListeners.add(listener);
    return () => this.warningListeners.delete(listener);
  }

  private warn(message: string): void {
    for (const listener of this.warningListeners) {
      try {
        listener(message);
      } catch {
        // a listener's trouble is its own; the store goes on
      }
    }
  }

  onHealth(listener: (health: StoreHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  // ---- snapshots -----------------------------------------------------------------------------

  private due(): number[] {
    const every = this.options.snapshotEvery ?? REDIS_DEFAULTS.snapshotEvery;
    return [...this.writable].filter((p) => this.sinceSnapshot[p] >= every);
  }

  wantsCompaction(): boolean {
    return this.due().length > 0;
  }

  /**
   * Writes a snapshot of each partition this instance leads whose stream has grown, and trims
   * what it covers (keeping `retentionMs` of entries). A partition's twins are taken as records in
   * one synchronous pass, with no append of it in flight, so the snapshot is exactly its state at
   * the stream id it names; records are fresh objects over values the registry replaces and never
   * changes in place, so they are serialised afterwards in slices of at most `sliceMs` (JSON is
   * most of the cost: about 25 to 90 ms for the 1,560 twins of a partition at 100,000 twins).
   * The registry's whole-registry source is not used.
   */
  async compact(_source?: () => SnapshotSource): Promise<void> {
    const sliceMs = 10;
    for (const p of this.due()) {
      if (this.closed) return;
      if (this.pendingIn[p] > 0 || !this.writable.has(p) || !this.shared) continue;
      const epoch = this.leases?.epochOf(p);
      if (epoch === undefined) continue;
      let started = Date.now();
      const records: TwinRecord[] = [];
      for (const id of this.members[p]) {
        const rec = this.shared.record(id);
        if (rec) records.push(rec);
      }
      const covered = this.lastId[p];
      const counted = this.sinceSnapshot[p];
      const lines: string[] = [];
      for (const rec of records) {
        lines.push(JSON.stringify(rec));
        if (Date.now() - started >= sliceMs) {
          this.stats.longestSliceMs = Math.max(this.stats.longestSliceMs, Date.now() - started);
          await new Promise((resolve) => setImmediate(resolve));
          if (this.closed) return;
          started = Date.now();
        }
      }
      this.stats.longestSliceMs = Math.max(this.stats.longestSliceMs, Date.now() - started);
      const retained = `${Math.max(0, Date.now() - (this.options.retentionMs ?? REDIS_DEFAULTS.retentionMs))}-0`;
      const minId = compareIds(retained, covered) < 0 ? retained : covered;
      const k = this.keys.partition(p);
      await this.writer.twSnapshot(k.epoch, k.snap, k.log, String(epoch), covered, lines.join("\n"), minId);
      this.sinceSnapshot[p] = Math.max(0, this.sinceSnapshot[p] - counted);
      this.stats.compactions++;
    }
  }

  /** Waits for every append made so far to be answered (errors are the waiting writers' to report). */
  flush(): Promise<void> {
    return new Promise((resolve) => this.whenDurable(() => resolve()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // A server that hangs (stopped, a network cut without a reset) would hold close, and with it a
    // deploy, until it answers: after CLOSE_MS the connections are dropped instead. An append not
    // answered by then fails as the connection goes (never acknowledged), and the leases not given
    // up lapse after their TTL.
    const deadline = Date.now() + CLOSE_MS;
    await within(this.flush(), deadline);
    this.closed = true;
    this.stop();
    await within(this.leases?.stop().catch(() => undefined), deadline);
    for (const waiting of this.forwarded.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new TwinError("store-closed"));
    }
    this.forwarded.clear();
    this.polls?.follow.stop();
    this.polls?.serve.stop();
    this.reader.disconnect();
    this.requests.disconnect();
    // The leader's loop may wait for the write connection (claiming requests): it ends once that goes.
    await within(this.following, deadline);
    await within(this.serving, deadline);
    await within(this.writer.quit().catch(() => undefined), deadline);
    this.writer.disconnect();
    await within(this.control.quit().catch(() => undefined), deadline);
    this.control.disconnect();
    // Nothing is applied any more: what was passed over since the last warning is told now.
    this.refusals.flush();
  }
}

/** How long close waits for Redis to answer (appends in flight, the leases' release, QUIT). */
const CLOSE_MS = 2000;

/** The promise, or undefined once the deadline has passed. */
function within<T>(promise: Promise<T> | null | undefined, deadline: number): Promise<T | null | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()))));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A leader's answer as the forwarding caller gets it (its result goes on to a flow). JSON.parse
 * makes a "__proto__" key an own property, which a spread or Object.assign into a plain object
 * then takes as that object's prototype. No leader writes one (no name may be __proto__), so only
 * a broken or hostile writer of this instance's reply stream could: it is dropped, at any depth.
 */
export function parseAnswer(json: string): Answer | null {
  return JSON.parse(json, (key, value) => (key === "__proto__" ? undefined : value)) as Answer | null;
}
