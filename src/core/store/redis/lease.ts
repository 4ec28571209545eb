/**
 * Partition leases: each live instance announces itself (a heartbeat in a sorted set), every
 * instance computes the same owner for each partition from the live set (rendezvous hashing),
 * and an owner takes its partitions' leases (a key with a TTL, renewed). Each new holder
 * increments the partition's epoch, which every append carries and the append script checks:
 * a holder that lost its lease without knowing (a paused process, a partition of the network)
 * is refused by the server, never written.
 *
 * An instance is its name and an incarnation (`name#incarnation`, random per start): partitions
 * are owned by name (a restarted process with a fixed name takes back the same share), leases
 * are held by incarnation, so a restarted process is a new holder with a new epoch, and a paused
 * old process of the same name is fenced instead of writing under the new one's epoch.
 */
import type { Redis } from "ioredis";
import { RedisKeys } from "./keys";
import { ownerOf } from "./partitions";
import { ACQUIRE, BEAT, RELEASE } from "./scripts";
import { pipelineOf } from "./cluster-reads";

export interface LeaseOptions {
  /** A lease's (and a heartbeat's) time to live on the server. */
  ttlMs: number;
  /** How often leases are renewed and the live set read again; default a third of the TTL. */
  renewMs?: number;
}

export interface LeaseEvents {
  /** This instance holds the partition now, under a new epoch. */
  acquired(partition: number, epoch: number): void;
  /** This instance no longer holds it (given up to its new owner, or taken over). */
  lost(partition: number): void;
  /** Resolves once every append sent so far is answered (before a lease is given up). */
  drained?(): Promise<void>;
}

interface Held { epoch: number; until: number }

type Scripted = Redis & {
  twAcquire(lease: string, epoch: string, instance: string, ttl: number): Promise<number | null>;
  twRelease(lease: string, instance: string): Promise<number>;
  twBeat(instances: string, instance: string, ttl: number): Promise<string[]>;
};

export class LeaseManager {
  private readonly held = new Map<number, Held>();
  private readonly redis: Scripted;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private frozenAt: number | null = null;
  private running: Promise<void> | null = null;
  /** Instances (name#incarnation) seen alive at the last round, sorted. */
  live: string[] = [];

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
    private readonly partitions: number,
    readonly instance: string,
    private readonly options: LeaseOptions,
    private readonly events: LeaseEvents,
  ) {
    if (!("twAcquire" in redis)) {
      redis.defineCommand("twAcquire", { numberOfKeys: 2, lua: ACQUIRE });
      redis.defineCommand("twRelease", { numberOfKeys: 1, lua: RELEASE });
      redis.defineCommand("twBeat", { numberOfKeys: 1, lua: BEAT });
    }
    this.redis = redis as Scripted;
  }

  private now(): number {
    return this.frozenAt ?? Date.now();
  }

  /** Whether this instance may write to the partition now, by its own clock (the server fences the rest). */
  holds(partition: number): boolean {
    const lease = this.held.get(partition);
    return lease !== undefined && this.now() < lease.until;
  }

  epochOf(partition: number): number | undefined {
    return this.held.get(partition)?.epoch;
  }

  heldPartitions(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Forgets a lease the server says is gone (an append was fenced). */
  drop(partition: number): void {
    if (this.held.delete(partition)) this.events.lost(partition);
  }

  /** The first round (so a lone instance holds every partition once it resolves), then one every renewMs. */
  async start(): Promise<void> {
    await this.round();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.frozenAt !== null) return;
    this.timer = setTimeout(() => {
      this.round().catch(() => undefined).then(() => this.schedule());
    }, this.options.renewMs ?? Math.max(10, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
  }

  /** One heartbeat and one pass over the partitions; rounds never overlap. */
  round(): Promise<void> {
    if (!this.running) this.running = this.doRound().finally(() => (this.running = null));
    return this.running;
  }

  private async doRound(): Promise<void> {
    if (this.stopped || this.frozenAt !== null) return;
    // Local time only measures how long a lease is trusted here; who is alive is the server's call.
    const started = Date.now();
    const ttl = this.options.ttlMs;
    const live = await this.redis.twBeat(this.keys.instances, this.instance, ttl);
    if (!Array.isArray(live)) return;
    this.live = (live as string[]).slice().sort();
    const names = [...new Set(this.live.map(nameOf))].sort();
    const own = nameOf(this.instance);
    const pipeline = pipelineOf(this.redis);
    const asked: number[] = [];
    const giving: number[] = [];
    for (let p = 0; p < this.partitions; p++) {
      const k = this.keys.partition(p);
      if (ownerOf(p, names) === own) {
        (pipeline as unknown as Scripted).twAcquire(k.lease, k.epoch, this.instance, ttl);
        asked.push(p);
      } else if (this.held.has(p)) {
        // Stop writing first: nothing may be accepted here that the next holder's epoch refuses.
        this.drop(p);
        giving.push(p);
      }
    }
    if (giving.length) this.release(giving);
    const replies = (await pipeline.exec()) ?? [];
    if (this.stopped || this.frozenAt !== null) return;
    // A lease is trusted for 80% of its TTL from before it was asked for: the server's clock and
    // ours may drift a little, and a late renewal must never look valid here after it lapsed there.
    const until = started + ttl * 0.8;
    asked.forEach((partition, i) => {
      const [err, value] = replies[i] ?? [new Error("no reply"), null];
      if (err || value === null || value === undefined) {
        this.drop(partition);
        return;
      }
      const epoch = Number(value);
      const before = this.held.get(partition);
      // Renewed under the same epoch after this instance had stopped trusting it (rounds failed
      // while Redis was away, or came late): what was decided meanwhile (a partition read again
      // and left unwritable because the lease was not trusted then) is decided again, as for a
      // new lease. Before, such a partition stayed held and unwritable until the process restarted.
      const lapsed = before !== undefined && before.epoch === epoch && before.until <= Date.now();
      this.held.set(partition, { epoch, until });
      if (!before || before.epoch !== epoch || lapsed) {
        if (before && !lapsed) this.events.lost(partition);
        this.events.acquired(partition, epoch);
      }
    });
  }

  /**
   * Gives leases up once the appends already sent to them are answered (they travel on another
   * connection, so the server could otherwise see the release, and the next holder's epoch,
   * first). Outside the round: renewals of the other partitions do not wait for it.
   */
  private release(partitions: number[]): void {
    (this.events.drained?.() ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        const pipeline = pipelineOf(this.redis);
        for (const p of partitions) (pipeline as unknown as Scripted).twRelease(this.keys.partition(p).lease, this.instance);
        return pipeline.exec();
      })
      .catch(() => undefined); // unreachable: the lease lapses after its TTL instead
  }

  /**
   * What a paused process sees (tests): no more renewals, and its clock stands still, so it
   * goes on believing in leases the server lets expire.
   */
  freeze(): void {
    this.frozenAt = Date.now();
    if (this.timer) clearTimeout(this.timer);
  }

  /** Stops renewing and gives every lease up, so the other instances take them at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    const held = this.frozenAt === null ? this.heldPartitions() : [];
    this.held.clear();
    const pipeline = pipelineOf(this.redis);
    for (const p of held) (pipeline as unknown as Scripted).twRelease(this.keys.partition(p).lease, this.instance);
    pipeline.zrem(this.keys.instances, this.instance);
    await pipeline.exec().catch(() => undefined);
  }
}

/** The name of an instance id (`name#incarnation`): what partitions are owned by. */
export function nameOf(instance: string): string {
  const at = instance.lastIndexOf("#");
  return at < 0 ? instance : instance.slice(0, at);
}
