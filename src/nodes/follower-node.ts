/**
 * The adapter side of a node whose core class follows a registry (src/core/follower.ts): start
 * the follower once the registry is there, send what it causes through the core Outbox (only
 * once the registry says the change behind it is durable), and stop both with the node.
 *
 * What the node's own input causes is gathered inside `during` into that input's box and sent
 * with the input's answer after `afterDurable`; anything else goes out with the turn's box.
 */
import { Outbox } from "../core/follower";
import { TwinRegistry } from "../core/registry";
import { Done, Node, NodeMessage, NodeStatus } from "../runtime/red";
import { RegistryNode, failWith } from "../runtime/registry-node";

/** What the node needs of its core follower (a RegistryFollower). */
export interface Follower {
  start(): void;
  close(): void;
}

export interface FollowerSetup<F extends Follower, B> {
  node: Node;
  registryNode: RegistryNode | null;
  /** The node's configuration problem: the follower never starts, every message fails with it. */
  problem: string | null;
  /** A text of the node's own catalog ("errors.no-registry", "status.config", ...). */
  t(key: string): string;
  /** A core error in the node's words. */
  describe(err: unknown): Error;
  /** Builds the core follower on the registry (it is started right after). */
  create(registry: TwinRegistry): F;
  /** Runs once the follower has started (first status, a resend timer...). */
  started?(follower: F): void;
  /** An empty box of what the follower causes. */
  emptyBox(): B;
  /** Whether a box holds anything to send. */
  hasAny(box: B): boolean;
  /** Sends a box gathered outside the node's inputs. */
  send(box: B): void;
  /** A box that leaves only once written, not merely acknowledged (see OutboxTarget.written). */
  written?(box: B): boolean;
  /**
   * The node's status while the follower runs. Pushed, never polled: when the node calls
   * `statusChanged()` (at most four times a second) and when the store's health changes.
   */
  status?(follower: F, registry: TwinRegistry): NodeStatus;
}

/** Counts move in bursts: a status at most this often. */
const STATUS_INTERVAL_MS = 250;

export class FollowerNode<F extends Follower, B> {
  private registryOf: TwinRegistry | null = null;
  private followerOf: F | null = null;
  private closed = false;
  private outbox: Outbox<B> | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private statusDirty = false;
  private stopHealth: (() => void) | null = null;
  private shownStatus = "";

  constructor(private readonly setup: FollowerSetup<F, B>) {}

  get registry(): TwinRegistry | null {
    return this.registryOf;
  }

  get follower(): F | null {
    return this.followerOf;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The running follower, started on first use; throws (in the node's words) when it cannot start. */
  use(): { registry: TwinRegistry; follower: F } {
    if (this.registryOf && this.followerOf) return { registry: this.registryOf, follower: this.followerOf };
    const { registryNode, problem, t } = this.setup;
    if (problem !== null) throw new Error(problem);
    if (!registryNode) throw new Error(t("errors.no-registry"));
    const registry = registryNode.use();
    const { node, describe, emptyBox, hasAny, send } = this.setup;
    this.outbox = new Outbox(registry, {
      empty: emptyBox,
      hasAny,
      release: send,
      failed: (err) => node.error(describe(err)),
      written: this.setup.written,
    });
    const follower = this.setup.create(registry);
    this.registryOf = registry;
    this.followerOf = follower;
    follower.start();
    if (this.setup.status) {
      this.stopHealth = registry.store.onHealth(() => this.statusChanged());
      this.statusChanged();
    }
    this.setup.started?.(follower);
    return { registry, follower };
  }

  /** Shows the node's status again soon: at once, or at the end of the current interval. */
  statusChanged(): void {
    if (this.closed || !this.setup.status) return;
    if (this.statusTimer) {
      this.statusDirty = true;
      return;
    }
    this.showStatus();
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      if (this.statusDirty) {
        this.statusDirty = false;
        this.statusChanged();
      }
    }, STATUS_INTERVAL_MS);
  }

  private showStatus(): void {
    const { registryOf: registry, followerOf: follower } = this;
    if (!registry || !follower || !this.setup.status) return;
    const status = this.setup.status(follower, registry);
    const key = `${status.fill}/${status.shape}/${status.text}`;
    if (key === this.shownStatus) return;
    this.shownStatus = key;
    this.setup.node.status(status);
  }

  /**
   * Where what the follower causes right now goes: the running input's box, or the turn's (sent
   * once durable at the end of the turn); null once the node is closed.
   */
  box(): B | null {
    return this.closed ? null : (this.outbox?.box() ?? null);
  }

  /** Runs an input's write with what it causes gathered into the input's own box. */
  during<T>(box: B, write: () => T): T {
    return this.outbox ? this.outbox.during(box, write) : write();
  }

  /**
   * Calls then() once the registry's changes so far are durable; fails the message if they cannot
   * be. `written`: once they are written, not merely acknowledged (see OutboxTarget.written).
   */
  afterDurable(msg: NodeMessage, done: Done, then: () => void, written = false): void {
    if (!this.outbox) return then();
    this.outbox.after(written, then, (err) => failWith(msg, done, this.setup.describe(err)));
  }

  /** At deploy: a red status for a configuration problem or a missing registry, else start following. */
  begin(): void {
    const { node, registryNode, problem, t } = this.setup;
    if (problem !== null) {
      node.error(problem);
      node.status({ fill: "red", shape: "ring", text: t("status.config") });
    } else if (!registryNode) {
      node.status({ fill: "red", shape: "ring", text: t("status.no-registry") });
    } else {
      // A registry on Redis opens after deploy; its followers start then.
      registryNode.whenOpen(() => {
        if (this.closed) return;
        try {
          this.use();
        } catch (err) {
          node.error(this.setup.describe(err));
          node.status({ fill: "red", shape: "ring", text: t("status.registry-failed") });
        }
      });
    }
  }

  /** Stops following: nothing more is sent, not even what was waiting to become durable. */
  close(): void {
    this.closed = true;
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
    this.stopHealth?.();
    this.stopHealth = null;
    this.followerOf?.close();
    this.followerOf = null;
    this.registryOf = null;
    this.outbox?.close();
    this.outbox = null;
  }
}
