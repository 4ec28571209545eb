/** `memory` mode: nothing on disk; every change is "durable" at once. */
import { Store, Recovered, StoreHealth } from "./store";

export class MemoryStore implements Store {
  readonly mode = "memory" as const;
  readonly where = "in memory";
  readonly stats = { compactions: 0, longestSliceMs: 0, journalBytes: 0 };

  recover(): Recovered {
    return { records: [], entries: [], lsn: 0, warnings: [] };
  }
  append(): void {}
  whenDurable(callback: (err?: Error) => void): void {
    callback();
  }
  wantsCompaction(): boolean {
    return false;
  }
  async compact(): Promise<void> {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  health(): StoreHealth {
    return { ok: true };
  }
  onHealth(): () => void {
    return () => undefined; // never unhealthy
  }
}
