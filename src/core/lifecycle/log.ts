/**
 * The audit log: what happened to a twin (transitions, work orders, due periods), newest last,
 * kept as private registry state in blocks of 100 entries (`lifecycle:log:<n>`), so adding an
 * entry rewrites one block, never the whole log. It is bounded: once it holds more than the
 * limit (1000 by default), the oldest block goes, so between limit - 99 and limit entries stay.
 */
import { Json, JsonObject } from "../json";

export const LOG_BLOCK = 100;
export const DEFAULT_LOG_SIZE = 1000;
export const MIN_LOG_SIZE = 100;
export const MAX_LOG_SIZE = 100_000;

/** Which blocks exist (first..last) and how many entries they hold together. */
export interface LogPointer { first: number; last: number; count: number }

export const EMPTY_LOG: LogPointer = { first: 0, last: 0, count: 0 };

export function blockKey(n: number): string {
  return `lifecycle:log:${n}`;
}

export type StateReader = (key: string) => Json | undefined;

/** Adds entries; returns the new pointer and the state keys to write (null deletes a block). */
export function appendLog(pointer: LogPointer, read: StateReader, entries: JsonObject[], limit: number): { pointer: LogPointer; writes: Record<string, Json | null> } {
  const p = { ...pointer };
  const blocks = new Map<number, Json[]>();
  const writes: Record<string, Json | null> = Object.create(null);
  const block = (n: number): Json[] => {
    let b = blocks.get(n);
    if (!b) {
      const stored = read(blockKey(n));
      b = Array.isArray(stored) ? stored.slice() : [];
      blocks.set(n, b);
    }
    return b;
  };
  for (const entry of entries) {
    if (block(p.last).length >= LOG_BLOCK) p.last++;
    block(p.last).push(entry);
    p.count++;
    while (p.count > limit && p.first < p.last) {
      p.count -= block(p.first).length;
      blocks.delete(p.first);
      writes[blockKey(p.first)] = null;
      p.first++;
    }
  }
  for (const [n, b] of blocks) writes[blockKey(n)] = b;
  return { pointer: p, writes };
}

/** Entries with `ts` in [from, to], oldest first. */
export function readLog(pointer: LogPointer, read: StateReader, from = -Infinity, to = Infinity): JsonObject[] {
  const out: JsonObject[] = [];
  for (let n = pointer.first; n <= pointer.last; n++) {
    const b = read(blockKey(n));
    if (!Array.isArray(b)) continue;
    for (const e of b) {
      if (e && typeof e === "object" && !Array.isArray(e) && typeof e.ts === "number" && e.ts >= from && e.ts <= to) out.push(e);
    }
  }
  return out;
}
