/**
 * Where a registry's changes go. The registry appends each journal entry before applying it,
 * and completes a message once `whenDurable` says so: at once in `batched` and `memory`
 * modes, after the fsync that covers it in `strict` mode.
 */
import { Applied, JournalEntry, Refused, TwinRecord } from "../journal";
import type { SubmitOp } from "../registry";


/** What `forward` resolves with for a change its leader had made before (see `forward`). */
export const MADE_EARLIER: unique symbol = Symbol("made earlier");
export type PersistenceMode = "strict" | "batched" | "memory";

/** Receives what is on disk as it is read, so a large store is never held in memory twice. */
export interface RecoveryVisitor {
  record(rec: TwinRecord): void;
  entry(entry: JournalEntry): void;
  /** Forget every record given so far: the snapshot they came from did not verify. */
  reset?(): void;
}

export interface Recovered {
  /** Snapshot lines in file order, then journal entries in log order. */
  records: TwinRecord[];
  entries: JournalEntry[];
  lsn: number;
  warnings: string[];
}

export interface StoreHealth {
  ok: boolean;
  error?: string;
  /** Changes already acknowledged (batched mode) that wait in memory for the disk to recover. */
  unwritten?: number;
}

export interface SnapshotSource {
  /** Serialised twins, each as one JSON line; iterated in slices so the event loop keeps turning. */
  lines(): Iterator<string>;
  lsn: number;
}

/**
 * What a store shared by several instances (src/core/store/redis-store.ts) needs of its registry
 * once open: changes made elsewhere arrive after recovery, and a write the server refused must
 * be undone here.
 */
export interface SharedRegistry {
  readonly historyLength: number;
  /**
   * A change another instance made: applied as read from disk, numbered after this instance's
   * own, and told to subscribers as the events the writer emitted, marked `origin: "elsewhere"`,
   * less what was passed over: each name or value a write would have refused is told to
   * `refused`, so the store can tell its user.
   */
  apply(entry: JournalEntry, refused?: Refused): Applied;
  /**
   * This instance leads these twins now, with their state complete (true: a partition taken over
   * and caught up, or read again), or may no longer (false): followers with an effect outside
   * take up, or drop, their work for them.
   */
  led(twinIds: string[], leads: boolean): void;
  /** Runs a change submitted on another instance as `submit` runs it here: resolves once durable. */
  run(op: SubmitOp): Promise<unknown>;
  /**
   * Puts a twin back as the shared store has it (null: it does not exist), telling what differs
   * from the twin held here as change events marked `origin: "elsewhere"` (views see it;
   * followers with an effect outside take the twin up through `led` instead).
   */
  replace(id: string, rec: TwinRecord | null): void;
  /** The twin as a snapshot record, or undefined. */
  record(id: string): TwinRecord | undefined;
}

export interface Store {
  readonly mode: PersistenceMode;
  /**
   * Where what `recover` or `open` reads is held, as warnings name it: "on disk", "in Redis".
   * A store without it is read as on disk.
   */
  readonly where?: string;
  /**
   * Reads what is on disk. Synchronous: a registry is usable as soon as it is constructed. With a
   * visitor, snapshot lines and journal entries go to it as they are read (in order) instead of
   * being returned.
   */
  recover(visit?: RecoveryVisitor): Recovered;
  /**
   * Reads what the store holds over the network (a store shared by several instances): the
   * registry's `openAsync` calls this instead of `recover`, and hands it the way in for changes
   * made elsewhere. Local stores leave it out, so their open stays synchronous.
   */
  open?(visit: RecoveryVisitor, shared: SharedRegistry): Promise<Recovered>;
  /**
   * Whether this instance may write the twin now. Only stores shared by several instances have
   * it (one instance leads each twin); a registry on a local store leads every twin.
   */
  leads?(twinId: string): boolean;
  /**
   * Sends a change to the instance leading its twin (a shared store), which runs it and answers:
   * its result, or its error thrown again here. Only stores with `leads` have it. A change the
   * leader had made already (delivered again: a claim after a handover) resolves with
   * MADE_EARLIER: it is made, its result is not known.
   */
  forward?(op: SubmitOp): Promise<unknown>;
  /** Throws TwinError("store-unavailable") when the disk failed and has not recovered. */
  append(entry: JournalEntry): void;
  /**
   * Calls back once every append made before the call is durable in this store's mode, or has
   * failed: then with the error of one that failed (a shared store refused it, the disk did not
   * take it). Only appends still waiting at the call are looked at: one that failed before it is
   * not reported to it, and no error does not mean every earlier append landed. So a caller asks
   * in the turn of the event loop that made the writes it stands for (or a microtask of that
   * turn, as the Outbox does), before any reply can arrive: every caller does.
   */
  whenDurable(callback: (err?: Error) => void): void;
  /** Whether the journal has grown enough that a snapshot would pay off. */
  wantsCompaction(): boolean;
  compact(source: () => SnapshotSource): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  health(): StoreHealth;
  /** Calls listener at each change of health; returns the way to stop. */
  onHealth(listener: (health: StoreHealth) => void): () => void;
  /**
   * Calls listener with what a store found wrong after open and put right itself (a store shared
   * by several instances: an entry from another instance that could not be applied here, so the
   * partition was read again). For a person to read; returns the way to stop. Local stores
   * report everything at open (`Recovered.warnings`) and leave this out.
   */
  onWarning?(listener: (message: string) => void): () => void;
  /**
   * Other instances sharing this store alive at the last look (a store shared by several
   * instances; local stores leave it out). A part that speaks for the whole registry (Home
   * Assistant's bridge availability) must not say "offline" while others serve it.
   */
  peers?(): number;
  /** Longest synchronous slice of the last compaction, in ms (for the benchmark). */
  readonly stats: { compactions: number; longestSliceMs: number; journalBytes: number };
}
