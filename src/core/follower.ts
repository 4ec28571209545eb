/**
 * The follower contract (docs/architecture.md, "Followers"): the one way a feature follows a
 * registry. Mirror, Lifecycle, DeviceLink, WatchFollower and PredictEngine are followers.
 *
 * - The registry hands a follower each change after it is committed, in commit order, inside the
 *   writer's call (`onChange`). A follower never writes to the registry from there: the writer's
 *   change is not complete yet from its caller's view. It notes what to do and does it on a
 *   microtask (or a timer), as a new change of its own.
 * - What a follower causes (messages, commands, alerts) goes to an `Outbox`, which releases it
 *   only once the registry says the changes so far are durable in its persistence mode (strict:
 *   after the fsync), so nothing outside learns of a change a crash could still lose.
 * - What a follower must remember per twin lives in the twin itself (`registry.setState`, or a
 *   derived section such as predictions or lifecycle), never in a file of its own: a restart
 *   resumes in `resume()`, and a deleted twin takes it along.
 * - `start()` subscribes, then resumes; `close()` unsubscribes and stops every timer. Both are
 *   safe to call twice; a closed follower does not start again (make a new one).
 * - On a registry shared by several instances (docs/redis.md) each twin is led by one instance,
 *   and work with an effect outside the registry (a command, a work order, an alert, a publish)
 *   is done there only, once: such a follower gets only the changes made on its instance (never
 *   one marked `origin: "elsewhere"`), takes up only the twins its instance leads (`leads`), and
 *   is told when its instance takes twins over (`resumeTwins`: their kept state is complete)
 *   or lets them go (`leaveTwins`). A view (a watch) says so (`isView`) and gets every change.
 *   On a local store every twin is led here and nothing of this shows.
 */
import { ChangeEvent, ChangeListener, TwinRegistry } from "./registry";

export abstract class RegistryFollower {
  private unsubscribe: (() => void) | null = null;
  private stopped = false;

  constructor(protected readonly registry: TwinRegistry) {}

  /** Closed: it has stopped following and will not start again. */
  protected get closed(): boolean {
    return this.stopped;
  }

  start(): void {
    if (this.unsubscribe || this.stopped) return;
    const listener: ChangeListener = this.isView
      ? (event) => this.onChange(event)
      : (event) => {
          if (event.origin === undefined) this.onChange(event);
        };
    const unsubscribe = this.registry.subscribe(listener);
    const unlead = this.isView ? () => undefined : this.registry.onLeadership((twinIds, leads) => {
      if (this.stopped) return;
      if (leads) this.resumeTwins(twinIds);
      else this.leaveTwins(twinIds);
    });
    this.unsubscribe = () => {
      unsubscribe();
      unlead();
    };
    this.resume();
  }

  /** A view (a watch) takes the changes made on every instance; the default is work with an effect outside. */
  protected get isView(): boolean {
    return false;
  }

  /** Whether this instance does the work for a twin (always, on a local store). */
  protected leads(twinId: string): boolean {
    return this.registry.leads(twinId);
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.stop();
  }

  /** One committed change. Runs inside the writer's call: note, don't write (see above). */
  protected abstract onChange(event: ChangeEvent): void;

  /** Takes up what the follower kept in the registry (right after subscribing). */
  protected resume(): void {}

  /** Twins this instance has just taken over, their state complete: take up what was kept for them. */
  protected resumeTwins(_twinIds: string[]): void {}

  /** Twins this instance may no longer lead: drop work held for them (their kept state stays with them). */
  protected leaveTwins(_twinIds: string[]): void {}

  /** Stops timers and drops what is held (after unsubscribing). */
  protected stop(): void {}
}

/** Where an outbox releases what it gathered, and where it reports a change that cannot be made durable. */
export interface OutboxTarget<B> {
  /** An empty box. */
  empty(): B;
  /** Whether a box holds anything to release. */
  hasAny(box: B): boolean;
  /** Sends a box gathered outside any input, once durable. */
  release(box: B): void;
  /** The registry could not make the turn's changes durable: the box is dropped. */
  failed(err: Error): void;
  /**
   * A box that leaves only once the changes behind it are written, not merely acknowledged (a
   * batched store acknowledges before its write, and a crash loses up to its interval): what
   * would be said again after a restart if lost, such as an alert.
   */
  written?(box: B): boolean;
}

/**
 * What a follower causes, held until durable. Effects go into one of two boxes:
 * - an input's own box (inside `during`), which the caller sends with that input's answer once
 *   `whenDurable` says so, keeping an input's messages together and in order;
 * - otherwise the turn's box (another node's write, a timer, a device coming online), released
 *   on a microtask once the registry's changes so far are durable.
 */
export class Outbox<B> {
  private capture: B | null = null;
  private turn: B | null = null;
  private shut = false;
  /** The latest release waiting for a write (see after), while it waits. */
  private behind: Promise<void> | null = null;

  constructor(private readonly registry: TwinRegistry, private readonly target: OutboxTarget<B>) {}

  /** The box for what is caused right now; null once closed (nothing more goes out). */
  box(): B | null {
    if (this.shut) return null;
    if (this.capture) return this.capture;
    if (!this.turn) {
      this.turn = this.target.empty();
      queueMicrotask(() => this.releaseTurn());
    }
    return this.turn;
  }

  /** Runs an input's write with what it causes gathered into the input's own box. */
  during<T>(box: B, write: () => T): T {
    const outer = this.capture;
    this.capture = box;
    try {
      return write();
    } finally {
      this.capture = outer;
    }
  }

  /** Drops everything held, even what waits to become durable. */
  close(): void {
    this.shut = true;
    this.turn = this.capture = null;
  }

  /**
   * Calls `then` once the registry's changes so far are durable, or, `written`, once they are
   * written too (OutboxTarget.written); `failed` instead when they cannot be. In the order asked:
   * while one waits for its write, those asked after it wait behind it, so that a later input's
   * answer or turn's box never leaves before an earlier alert.
   */
  after(written: boolean, then: () => void, failed: (err: Error) => void): void {
    this.registry.whenDurable((err) => {
      if (err) return failed(err);
      if (!written && !this.behind) return then();
      // The flush is asked for in its turn: asked at once, one that failed while an earlier one
      // still waited would be a rejection nobody handles yet, which stops Node-RED.
      const turn = (this.behind ?? Promise.resolve())
        .then(() => (written ? this.registry.store.flush() : undefined))
        .then(then, (e: unknown) => failed(asError(e)))
        .catch((e: unknown) => {
          // `then` threw (a send): said as its failure, not lost in a promise nobody awaits.
          try {
            failed(asError(e));
          } catch {
            // Nothing left to tell.
          }
        });
      this.behind = turn;
      void turn.then(() => {
        if (this.behind === turn) this.behind = null;
      });
    });
  }

  private releaseTurn(): void {
    const box = this.turn;
    this.turn = null;
    if (!box || this.shut || !this.target.hasAny(box)) return;
    this.after(
      this.target.written?.(box) ?? false,
      () => {
        if (!this.shut) this.target.release(box);
      },
      (err) => {
        if (!this.shut) this.target.failed(err);
      },
    );
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
