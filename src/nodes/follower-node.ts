/**
 * The adapter side of a node whose core class follows a registry (twin-mirror's Mirror,
 * twin-lifecycle's Lifecycle): start the follower once the registry is there, send what it
 * causes only once the registry says the change behind it is durable, and stop it with the node.
 *
 * What a follower causes goes out in one of two ways, keeping today's message order:
 * - caused by the node's own input (inside `during`): gathered into that input's box, sent with
 *   the input's answer after `afterDurable`;
 * - caused by anything else (another node's write, a timer, a device coming online): gathered
 *   for the rest of the turn, then sent once the registry's changes so far are durable (in
 *   strict persistence, after the fsync), so no device is told about a change a crash could lose.
 */
import { TwinRegistry } from "../core/registry";
import { Done, Node, NodeMessage } from "../runtime/red";
import { RegistryNode, failWith } from "../runtime/registry-node";

/** What the core classes that follow a registry have in common. */
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
}

export class FollowerNode<F extends Follower, B> {
  private registryOf: TwinRegistry | null = null;
  private followerOf: F | null = null;
  private closed = false;
  private capture: B | null = null;
  private turn: B | null = null;

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
    const follower = this.setup.create(registry);
    this.registryOf = registry;
    this.followerOf = follower;
    follower.start();
    this.setup.started?.(follower);
    return { registry, follower };
  }

  /**
   * Where what the follower causes right now goes: the running input's box, or the turn's (sent
   * once durable at the end of the turn); null once the node is closed.
   */
  box(): B | null {
    if (this.closed) return null;
    if (this.capture) return this.capture;
    if (!this.turn) {
      this.turn = this.setup.emptyBox();
      queueMicrotask(() => this.sendTurn());
    }
    return this.turn;
  }

  /** Runs an input's write with what it causes gathered into the input's own box. */
  during<T>(box: B, write: () => T): T {
    this.capture = box;
    try {
      return write();
    } finally {
      this.capture = null;
    }
  }

  /** Calls then() once the registry's changes so far are durable; fails the message if they cannot be. */
  afterDurable(msg: NodeMessage, done: Done, then: () => void): void {
    const registry = this.registryOf;
    if (!registry) return then();
    registry.whenDurable((err) => {
      if (err) return failWith(msg, done, this.setup.describe(err));
      then();
    });
  }

  /** Sends the turn's box once the registry's changes so far are durable. */
  private sendTurn(): void {
    const box = this.turn;
    this.turn = null;
    const registry = this.registryOf;
    if (!box || this.closed || !registry || !this.setup.hasAny(box)) return;
    registry.whenDurable((err) => {
      if (this.closed) return;
      if (err) return this.setup.node.error(this.setup.describe(err));
      this.setup.send(box);
    });
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
      try {
        this.use();
      } catch (err) {
        node.error(this.setup.describe(err));
        node.status({ fill: "red", shape: "ring", text: t("status.registry-failed") });
      }
    }
  }

  /** Stops following: nothing more is sent, not even what was waiting to become durable. */
  close(): void {
    this.closed = true;
    this.followerOf?.close();
    this.followerOf = null;
    this.registryOf = null;
    this.turn = this.capture = null;
  }
}
