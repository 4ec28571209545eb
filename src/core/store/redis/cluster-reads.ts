/**
 * What the Redis store does differently on a Redis Cluster (docs/redis.md, "On a Redis Cluster").
 *
 * A Cluster refuses a command whose keys lie in more than one hash slot (CROSSSLOT, even when one
 * node serves them all), and every partition is a slot of its own. So where the store sends one
 * command over many partitions on a single server (one blocking XREAD of every stream, one
 * XREADGROUP over the request streams, one pipeline of lease scripts), on a Cluster it sends one
 * command per key, all at once: ioredis routes each to the node serving its slot and writes them
 * to that node's connection without waiting, which is a pipeline per node, and it follows a
 * MOVED or ASK of each on its own. A read cannot block over several slots, so the streams are
 * polled: again at once while entries come, then less and less often while none do (up to
 * `pollMs`), and a poller's wait ends at once when a stream of one slot it blocks on (a bell)
 * gets an entry. The single server keeps its blocking reads: nothing here runs for it.
 */
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";

export type Client = Redis | Cluster;

/** What an XREAD or XREADGROUP answers: per stream, its entries (id, fields). */
export type StreamReply = Array<[string, Array<[string, string[]]>]>;

export function isCluster(client: Client): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/**
 * A connection of the store's own, from the caller's client. `exactlyOnce`: a command is never
 * queued while disconnected nor sent again after its connection closed (it may have run: an
 * append sent twice would be written twice). A Cluster sends a command again after a lost
 * connection unless `retryDelayOnFailover` is 0; a MOVED, ASK, TRYAGAIN or CLUSTERDOWN answer
 * means the command did not run, and it is still sent again where the slot is now.
 */
export function duplicateOf(client: Client, exactlyOnce: boolean): Redis {
  const once: RedisOptions = { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 };
  if (!isCluster(client)) return exactlyOnce ? client.duplicate({ enableOfflineQueue: false, ...once }) : client.duplicate();
  // A command sent to a node as its connection comes back can wait for ever (seen with a node
  // restarted under the client): past COMMAND_TIMEOUT_MS it fails, and the store treats it as
  // any failed command (an append's partition is read again, a catch-up is tried again).
  const options: ClusterOptions = exactlyOnce
    ? { enableOfflineQueue: false, retryDelayOnFailover: 0, redisOptions: { ...once, commandTimeout: COMMAND_TIMEOUT_MS } }
    : { redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS } };
  // The store calls the commands both clients share; typed as one server's to keep it so.
  return client.duplicate([], options) as unknown as Redis;
}

/** The longest a command on a Cluster waits for its answer (a bell's blocking read waits 1 s at most). */
const COMMAND_TIMEOUT_MS = 5000;

type Reply = [Error | null, unknown];

/**
 * `client.pipeline()` on a single server. On a Cluster, commands recorded the same way and sent
 * at `exec` one by one, all at once (an ioredis Cluster pipeline must stay within one node's
 * slots, and leases span every partition): the replies come back in the order of the calls,
 * each `[error, value]`, as a pipeline's do.
 */
export function pipelineOf(client: Client): ReturnType<Redis["pipeline"]> {
  if (!isCluster(client)) return client.pipeline();
  const calls: Array<() => Promise<unknown>> = [];
  const send = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const recorder: object = new Proxy({}, {
    get(_target, name) {
      if (name === "exec") {
        return () => Promise.all(calls.map((call) => call().then((value): Reply => [null, value], (err: Error): Reply => [err, null])));
      }
      if (typeof name !== "string") return undefined;
      return (...args: unknown[]) => {
        calls.push(() => send[name](...args));
        return recorder;
      };
    },
  });
  return recorder as ReturnType<Redis["pipeline"]>;
}

/**
 * Waits after empty polls: 1 ms longer each time up to this, then doubled up to pollMs. Changes
 * come in bursts (a forwarded change is a request, then entries and an answer a few ms later):
 * polls stay close together for a few tens of ms after an entry, then thin out.
 */
const STEADY_MS = 8;

export interface PollOptions {
  /** The longest wait between two polls while nothing comes. */
  pollMs: number;
}

/**
 * A stream of one slot whose new entries end a poller's wait at once: read blocking, on a
 * connection of its own (the poller's owns it and closes it on stop). What it holds is read by
 * the poll itself; the bell only says when to poll.
 */
export interface Bell {
  client: Redis;
  key: string;
}

/**
 * Rings a bell (one entry, the stream trimmed to it), at most once per STEADY_MS from one ringer:
 * a ring that soon after the last one finds the pollers still polling every few ms, and
 * requests back to back would otherwise wake them for every one (measured slower).
 */
export class Ringer {
  private last = 0;

  constructor(private readonly client: Redis, private readonly key: string) {}

  ring(): void {
    const now = Date.now();
    if (now - this.last < STEADY_MS) return;
    this.last = now;
    this.client.xadd(this.key, "MAXLEN", 1, "*", "r", "1").catch(() => undefined);
  }
}

/**
 * Reads streams spread over a Cluster's slots in place of one blocking read over all of them:
 * `read` stands for `XREAD BLOCK`, `readGroup` for `XREADGROUP ... BLOCK`, each waiting up to
 * `waitMs` for an entry.
 */
export class StreamPoller {
  private idleMs = 0;
  private stopped = false;
  private wake: (() => void) | null = null;
  /** The last error of a key's read (what a read that failed for every key rejects with). */
  private failure: Error | null = null;
  /** The bell rang since the last poll began. */
  private rung = false;

  constructor(private readonly client: Redis, private readonly options: PollOptions, private readonly bell: Bell | null = null) {
    if (bell) {
      bell.client.on("error", () => undefined); // its trouble only delays a poll; the store reports health
      void this.listen(bell);
    }
  }

  /**
   * Entries after `ids[i]` of each of `keys[i]`. The last key is read before the others (its entry
   * is written after theirs: a leader answers a forwarded change once its entries are in): when
   * it has entries, the other keys are read once more afterwards, so what it says happened is in
   * the reply too. A key whose node cannot be reached is left out (the others go on: one node of
   * three down stops only its own partitions); the last key's entries are then left out too, to be
   * read again, as what they say happened may be in the key that failed. Fails if every key failed.
   */
  read(keys: string[], ids: string[], waitMs: number): Promise<StreamReply | null> {
    return this.poll(waitMs, async () => {
      const last = keys.length - 1;
      const first = await this.each(keys, (key, i) => this.xread(key, ids[i]));
      if (first.every((entries) => entries === null)) throw this.failure ?? new Error("no stream could be read");
      const answered = last >= 0 ? first[last] : null;
      if (!answered?.length) return this.reply(keys, first);
      const logs = keys.slice(0, last);
      const after = logs.map((_, i) => {
        const entries = first[i];
        return entries?.length ? entries[entries.length - 1][0] : ids[i];
      });
      const again = await this.each(logs, (key, i) => this.xread(key, after[i]));
      const merged = logs.map((_, i) => (first[i] === null || again[i] === null ? null : (first[i] as Array<[string, string[]]>).concat(again[i] as Array<[string, string[]]>)));
      const complete = merged.every((entries) => entries !== null);
      // A log that failed either time keeps its first entries (they are in order) but not the answers.
      return this.reply(keys, [...logs.map((_, i) => merged[i] ?? first[i]), complete ? answered : null]);
    });
  }

  /**
   * Up to `count` new entries of each stream for this consumer. Each key is read on its own: one
   * that fails (its node unreachable) leaves the others' entries, which the group has handed to
   * this consumer already, to be returned; it fails the read only if every key failed.
   */
  readGroup(group: string, consumer: string, count: number, keys: string[], waitMs: number): Promise<StreamReply | null> {
    return this.poll(waitMs, async () => {
      const read = await this.each(keys, async (key) => {
        const reply = (await this.client.xreadgroup("GROUP", group, consumer, "COUNT", count, "STREAMS", key, ">")) as StreamReply | null;
        return reply?.[0]?.[1] ?? [];
      });
      if (read.every((entries) => entries === null)) throw this.failure ?? new Error("no stream could be read");
      return this.reply(keys, read);
    });
  }

  /** Ends a wait in progress; every later read answers null at once. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.bell?.client.disconnect();
  }

  /** Waits on the bell, again and again, and ends the poller's wait when it rings. */
  private async listen(bell: Bell): Promise<void> {
    // From the start of the stream: an entry older than this poller wakes it once, for nothing.
    let last = "0-0";
    while (!this.stopped) {
      try {
        const reply = (await bell.client.xread("BLOCK", 1000, "STREAMS", bell.key, last)) as StreamReply | null;
        const entries = reply?.[0]?.[1];
        if (entries?.length) {
          last = entries[entries.length - 1][0];
          this.rung = true;
          this.wake?.();
        }
      } catch {
        // Unreachable: polls go on at their own pace meanwhile.
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async xread(key: string, id: string): Promise<Array<[string, string[]]>> {
    const reply = (await this.client.xread("STREAMS", key, id)) as StreamReply | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** One read per key, all at once: each key's entries, or null where its read failed. */
  private async each(keys: string[], read: (key: string, i: number) => Promise<Array<[string, string[]]>>): Promise<Array<Array<[string, string[]]> | null>> {
    return Promise.all(keys.map((key, i) => read(key, i).catch((err: Error) => {
      this.failure = err;
      return null;
    })));
  }

  private reply(keys: string[], entries: Array<Array<[string, string[]]> | null>): StreamReply {
    const out: StreamReply = [];
    entries.forEach((list, i) => {
      if (list?.length) out.push([keys[i], list]);
    });
    return out;
  }

  /** Polls until something comes or waitMs has passed (then null, as a blocking read that timed out). */
  private async poll(waitMs: number, once: () => Promise<StreamReply>): Promise<StreamReply | null> {
    const until = Date.now() + waitMs;
    for (;;) {
      if (this.stopped) return null;
      this.rung = false;
      const reply = await once();
      if (reply.length) {
        this.idleMs = 0;
        return reply;
      }
      this.idleMs = Math.min(this.options.pollMs, this.idleMs < STEADY_MS ? this.idleMs + 1 : this.idleMs * 2);
      const left = until - Date.now();
      if (left <= 0) return null;
      if (this.rung) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wake = null;
          resolve();
        }, Math.min(this.idleMs, left));
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }
}
