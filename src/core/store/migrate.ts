/**
 * Moving a registry between a local file store and Redis (docs/redis.md, "Migration"). What moves
 * is every twin as a snapshot record (TwinRecord): documents, history, desired values, derived
 * sections (lifecycle, predictions), private state, versions, connectivity. Nothing of the
 * source changes; the target must hold no twins unless `replace` is given (a local directory is
 * then set aside beside it, never deleted; a Redis registry's keys are deleted, but for its
 * partition count and epochs, which keep fencing its old leaders). After writing,
 * the target is read back as a registry opening it would read it, and its twins, history points
 * and versions are compared with what was written, twin by twin.
 *
 * The Redis side is written as one snapshot per partition (stream id "0-0", an empty stream) and
 * the twins' versions, the keys an instance opening the registry reads (src/core/store/redis-store.ts),
 * so it must not be open anywhere while this runs: a target with a live instance is refused.
 */
import * as fs from "fs";
import * as path from "path";
import type { Redis } from "ioredis";
import { TwinError } from "../errors";
import { ApplyContext, JournalEntry, Refused, TwinRecord, applyEntry, fromRecord, refusalText, refusedWarning, toRecord } from "../journal";
import { TwinRegistry } from "../registry";
import { Twin } from "../twin";
import { FileStore } from "./file-store";
import { REDIS_DEFAULTS } from "./redis-store";
import { RedisKeys } from "./redis/keys";
import { partitionOf } from "./redis/partitions";
import { LOAD } from "./redis/scripts";

/** A file store directory (the twin-registry node's `<userDir>/twinwire/<id>`). */
export interface LocalSide { kind: "local"; dir: string }

/** A registry on Redis, by key prefix and name; `partitions` is used only when it is created here. */
export interface RedisSide { kind: "redis"; redis: Redis; registry: string; prefix?: string; partitions?: number }

/** A registry open in this process: its twins as it holds them now (a source only). */
export interface RegistrySide { kind: "registry"; registry: TwinRegistry }

export type MigrationSource = LocalSide | RedisSide | RegistrySide;
export type MigrationTarget = LocalSide | RedisSide;

export interface MigrationOptions {
  /** Write into a target that holds twins: a local directory is moved aside, Redis keys deleted. */
  replace?: boolean;
  /**
   * History points kept per property when a store is read (a registry keeps its own
   * historyLength). Default: all of them.
   */
  historyLength?: number;
}

export interface MigrationCounts {
  twins: number;
  /** History points over every twin and property. */
  history: number;
  /** The sum of the twins' versions (each is compared twin by twin as well). */
  versions: number;
}

export interface MigrationResult extends MigrationCounts {
  from: MigrationSource["kind"];
  to: MigrationTarget["kind"];
  /** Twins the target held before, replaced (0 when it was empty). */
  replaced: number;
  /** Where a replaced local directory was moved to. */
  setAside?: string;
  /** What reading the source said (damaged lines skipped, ...). */
  warnings: string[];
}

export type MigrationErrorCode = "target-not-empty" | "target-in-use" | "counts-differ";

/** A migration refused or failed on its own terms (a store that cannot be reached is a TwinError). */
export class MigrationError extends Error {
  constructor(readonly code: MigrationErrorCode, readonly params: Record<string, string | number>) {
    super(`${code}: ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    this.name = "MigrationError";
  }
}

const ALL_HISTORY = Number.MAX_SAFE_INTEGER;

/** The twins a registry holds now, as records, taken in one synchronous pass (one point in time). */
export function recordsOf(registry: TwinRegistry): TwinRecord[] {
  const out: TwinRecord[] = [];
  for (const id of registry.ids()) {
    const twin = registry.twin(id);
    if (twin) out.push(toRecord(twin));
  }
  return out;
}

/** Counts of a set of records. */
export function countsOf(records: TwinRecord[]): MigrationCounts {
  let history = 0;
  let versions = 0;
  for (const rec of records) {
    versions += rec.v;
    history += pointsOf(rec);
  }
  return { twins: records.length, history, versions };
}

function pointsOf(rec: TwinRecord): number {
  let n = 0;
  // A series is stored flat: [ts, value, ts, value, ...].
  if (rec.h) for (const name of Object.keys(rec.h)) n += Math.floor((rec.h[name]?.length ?? 0) / 2);
  return n;
}

/**
 * A file store's twins, read as a registry opening the directory reads them (snapshot, then the
 * journals after it). The directory must not be open in a running registry meanwhile: reading
 * opens its journal as recovery does.
 */
export async function readLocal(dir: string, historyLength = ALL_HISTORY): Promise<{ records: TwinRecord[]; warnings: string[] }> {
  if (!fs.existsSync(dir)) return { records: [], warnings: [] };
  const registry = new TwinRegistry({ store: new FileStore({ dir, mode: "batched" }), historyLength });
  try {
    const warnings = registry.open().filter((w) => !/which this registry no longer defines/.test(w));
    return { records: recordsOf(registry), warnings };
  } finally {
    await registry.close();
  }
}

/** Partition count of a Redis registry, or 0 when it was never created. */
async function partitionsOf(redis: Redis, keys: RedisKeys): Promise<number> {
  const count = Number(await redis.hget(keys.meta, "partitions"));
  return Number.isSafeInteger(count) && count > 0 ? count : 0;
}

/**
 * A Redis registry's twins: each partition's snapshot and the stream entries after it, read in one
 * atomic step per partition (the LOAD script an opening instance runs) and applied as it applies
 * them. A registry in use keeps changing meanwhile: each twin is as it stood at its partition's read.
 */
export async function readRedis(side: RedisSide, historyLength = ALL_HISTORY): Promise<{ records: TwinRecord[]; warnings: string[] }> {
  const keys = new RedisKeys(side.prefix ?? REDIS_DEFAULTS.prefix, side.registry);
  const count = await partitionsOf(side.redis, keys);
  const records: TwinRecord[] = [];
  let skipped = 0;
  /**
   * Names and values a write would have refused, passed over as a registry opening it passes them
   * over (journal.ts, fromDisk). A set, as in the registry's restore: a name refused in one reading
   * is refused again in each later one, and a list named it over and over and hid every other.
   */
  const passedOver = new Set<string>();
  const refused: Refused = (twinId, section, name, why) => void passedOver.add(refusalText(twinId, section, name, why));
  for (let p = 0; p < count; p++) {
    const k = keys.partition(p);
    const [, data, stream] = (await side.redis.eval(LOAD, 2, k.snap, k.log)) as [string | null, string | null, Array<[string, string[]]>];
    const twins = new Map<string, Twin>();
    const ctx: ApplyContext = { twins, historyLength, fromDisk: true, refused };
    let l = 0;
    for (const line of (data ?? "").split("\n")) {
      if (!line) continue;
      let twin: Twin | null = null;
      try {
        twin = fromRecord({ ...(JSON.parse(line) as TwinRecord), l: ++l }, historyLength, refused);
      } catch {
        twin = null;
      }
      if (twin) twins.set(twin.id, twin);
      else skipped++;
    }
    for (const [, fields] of stream ?? []) {
      const at = fields.indexOf("e");
      let outcome = "invalid";
      try {
        if (at >= 0 && at % 2 === 0) outcome = applyEntry({ ...(JSON.parse(fields[at + 1]) as JournalEntry), l: ++l } as JournalEntry, ctx);
      } catch {
        outcome = "invalid";
      }
      if (outcome === "invalid") skipped++;
    }
    for (const twin of twins.values()) records.push(toRecord(twin));
  }
  const warnings = skipped ? [`${skipped} snapshot line(s) or stream entries in Redis that could not be applied were skipped`] : [];
  if (passedOver.size) warnings.push(refusedWarning(passedOver.size, "in Redis", [...passedOver]));
  return { records, warnings };
}

function readSide(side: MigrationSource, historyLength?: number): Promise<{ records: TwinRecord[]; warnings: string[] }> {
  if (side.kind === "registry") return Promise.resolve({ records: recordsOf(side.registry), warnings: [] });
  return side.kind === "local" ? readLocal(side.dir, historyLength) : readRedis(side, historyLength);
}

/** Store files of a directory that hold something (an empty journal is what opening leaves). */
function storeFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((name) => /^(snapshot|journal)/.test(name) && fs.statSync(path.join(dir, name)).size > 0);
}

/**
 * Writes the records as the directory's only snapshot. A directory holding a store already is
 * refused, or with `replace` renamed `<dir>.replaced-<time>` first (kept: the caller removes it).
 */
export async function writeLocal(dir: string, records: TwinRecord[], options: { replace?: boolean } = {}): Promise<{ replaced: number; setAside?: string }> {
  let replaced = 0;
  let setAside: string | undefined;
  const files = storeFiles(dir);
  if (files.length) {
    const held = (await readLocal(dir)).records.length;
    if (!options.replace) throw new MigrationError("target-not-empty", { target: dir, twins: held, files: files.length });
    replaced = held;
    setAside = `${dir}.replaced-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    fs.renameSync(dir, setAside);
  }
  const store = new FileStore({ dir, mode: "strict" });
  try {
    store.recover();
    // Numbered 1..n here: a record's number is its source's and means nothing in this store.
    const lines = records.map((rec, k) => JSON.stringify({ ...rec, l: k + 1 }));
    await store.compact(() => ({ lsn: lines.length, lines: () => lines[Symbol.iterator]() }));
  } finally {
    await store.close();
  }
  return { replaced, setAside };
}

/**
 * Writes the records as a Redis registry: its meta, then per partition the snapshot (covering
 * stream id 0-0) and the versions the append script checks, in one MULTI per partition (one slot).
 * Refused while an instance has the registry open, and when it holds twins unless `replace`
 * (then every key of the registry is deleted first).
 */
export async function writeRedis(side: RedisSide, records: TwinRecord[], options: { replace?: boolean } = {}): Promise<{ replaced: number }> {
  const redis = side.redis;
  const keys = new RedisKeys(side.prefix ?? REDIS_DEFAULTS.prefix, side.registry);
  // The heartbeats are on the server's clock (BEAT), and so is this look at them.
  const [seconds, micros] = await redis.time();
  const live = await redis.zcount(keys.instances, `(${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}`, "+inf");
  if (live > 0) throw new MigrationError("target-in-use", { target: `${keys.prefix}{${side.registry}}`, instances: live });
  let count = await partitionsOf(redis, keys);
  let replaced = 0;
  if (count) {
    let held = 0;
    let written = 0;
    for (let p = 0; p < count; p++) {
      const k = keys.partition(p);
      held += await redis.hlen(k.ver);
      written += (await redis.xlen(k.log)) + (await redis.exists(k.snap));
    }
    if (held || written) {
      if (!options.replace) throw new MigrationError("target-not-empty", { target: `${keys.prefix}{${side.registry}}`, twins: held, files: written });
      replaced = held;
      // The epochs stay: the next leader of a partition takes the one after, so an instance
      // paused on the old registry (its heartbeat lapsed, it still believes in its leases) is
      // fenced; deleted, the next leader would start at 1 again, and so might the paused one.
      // The partition count stays with them (an epoch is a partition's).
      for (let p = 0; p < count; p++) {
        const k = keys.partition(p);
        await redis.del(k.log, k.snap, k.ver, k.lease, k.req);
      }
      await redis.del(keys.instances, keys.bell);
    }
  }
  if (!count) {
    count = side.partitions ?? REDIS_DEFAULTS.partitions;
    await redis.hset(keys.meta, "partitions", count, "created", Date.now());
  }
  const parts: TwinRecord[][] = Array.from({ length: count }, () => []);
  for (const rec of records) parts[partitionOf(rec.i, count)].push(rec);
  for (let p = 0; p < count; p++) {
    if (!parts[p].length) continue;
    const k = keys.partition(p);
    const versions: Array<string | number> = [];
    for (const rec of parts[p]) versions.push(rec.i, rec.v);
    await redis.multi().hset(k.snap, "id", "0-0", "data", parts[p].map((rec) => JSON.stringify(rec)).join("\n")).hset(k.ver, ...versions).exec();
  }
  return { replaced };
}

/** Twins whose version or history points differ between what was written and what was read back. */
function differences(written: TwinRecord[], read: TwinRecord[]): string[] {
  const back = new Map(read.map((rec) => [rec.i, rec]));
  const out: string[] = [];
  for (const rec of written) {
    const got = back.get(rec.i);
    if (!got) out.push(`${rec.i} missing`);
    else if (got.v !== rec.v) out.push(`${rec.i} version ${got.v}, not ${rec.v}`);
    else if (pointsOf(got) !== pointsOf(rec)) out.push(`${rec.i} ${pointsOf(got)} history points, not ${pointsOf(rec)}`);
    back.delete(rec.i);
  }
  for (const id of back.keys()) out.push(`${id} not in the source`);
  return out;
}

/**
 * Copies every twin of `from` to `to` and checks, by reading the target back, that it holds the
 * same twins with the same versions and history points. Resolves with the counts; rejects with a
 * MigrationError (target not empty or in use, counts that differ) or the store's own error.
 */
export async function migrate(from: MigrationSource, to: MigrationTarget, options: MigrationOptions = {}): Promise<MigrationResult> {
  if (to.kind === "redis" && !to.registry.trim()) throw new TwinError("invalid-option", { option: "registry", reason: "a registry name in Redis is needed" });
  const historyLength = options.historyLength ?? ALL_HISTORY;
  const source = await readSide(from, historyLength);
  const records = source.records;
  let written: { replaced: number; setAside?: string };
  if (to.kind === "local") written = await writeLocal(to.dir, records, options);
  else written = await writeRedis(to, records, options);
  const back = await readSide(to, historyLength);
  const counts = countsOf(records);
  const found = countsOf(back.records);
  const differ = differences(records, back.records);
  if (differ.length || found.twins !== counts.twins || found.history !== counts.history || found.versions !== counts.versions) {
    throw new MigrationError("counts-differ", {
      twins: `${found.twins} of ${counts.twins}`,
      history: `${found.history} of ${counts.history}`,
      versions: `${found.versions} of ${counts.versions}`,
      first: differ.slice(0, 5).join("; "),
    });
  }
  return { from: from.kind, to: to.kind, ...counts, replaced: written.replaced, setAside: written.setAside, warnings: source.warnings };
}
