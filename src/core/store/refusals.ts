/**
 * Names and values a store shared by several instances passed over after open because a write
 * would have refused them (`__proto__` at any depth, a name outside the naming rules: journal.ts,
 * fromDisk), told to its user. They arrive with changes from other instances, one stream entry
 * at a time and at any rate (a buggy or hostile writer may send thousands a second), so they are
 * counted and told together: the first warning once the turn that found them ends, later ones at
 * most once every `everyMs`, each with the count since the last and the first names.
 */
import { Refused, refusalText, refusedWarning } from "../journal";

/** Names kept for one warning: the count says how many more there were. */
const NAMED = 20;

export class RefusalWarnings {
  private count = 0;
  private names: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last = -Infinity;

  constructor(private readonly warn: (message: string) => void, private readonly everyMs = 60_000) {}

  /** Takes one name or value passed over (ApplyContext.refused). */
  readonly add: Refused = (twinId, section, name, why) => {
    this.count++;
    if (this.names.length < NAMED) this.names.push(refusalText(twinId, section, name, why));
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.last + this.everyMs - Date.now()));
    this.timer.unref();
  };

  /** Tells what was counted since the last warning, if anything. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.count) return;
    this.last = Date.now();
    const more = this.count - this.names.length;
    const message = refusedWarning(this.count, "in changes from other instances", this.names) + (more > 0 ? ` and ${more} more` : "");
    this.count = 0;
    this.names = [];
    this.warn(message);
  }
}
