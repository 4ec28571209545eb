/**
 * One process at a time writes a store directory.
 *
 * Two Node-RED processes on one user directory (a service, and `node-red` started again by hand,
 * which even when its port is taken starts its flows before it finds out) would both append to the same journal, numbering their entries from the same sequence
 * number. Recovery then reads the second writer's entries as out of sequence and skips them:
 * every change one of them acknowledged could be lost (20 of 40 acknowledged strict changes in
 * the run that found it), with no word while both ran.
 *
 * `<dir>/lock` names its holder. A holder this process can look up (this host name, this boot)
 * counts as live only when its process exists and, where /proc says, started when the lock says: a
 * lock left by a crash (kill -9, a container restarted) is taken over at once, so such a restart
 * never waits and never needs the user to delete anything. Stores of one process share the lock (a
 * redeploy, a migration reading the directory): it goes when the last one closes.
 *
 * A holder under another host name (a second container on the same volume: containers share the
 * boot id, not the host name nor the pids; another machine on a network share) cannot be looked up. Its
 * lock is a lease: the holder sets the file's mtime every LEASE.refreshMs, and another process takes
 * the lock over only once it has seen it unchanged for LEASE.expiryMs by its own monotonic clock
 * (the holder's clock and a network share's may be off: a change is trusted, a time is not), or at
 * once when its last refresh is older than LEASE.staleMs by this machine's clock (no clock that is
 * set at all is that far off). A start after a crash in a container made again (a new host name)
 * waits for that: about 20 s. A lock of this host name from before this boot is this machine's own,
 * left by a power cut, and taken over at once. A holder taken over all the same (its event loop held up, its machine
 * paused past the expiry) finds another token at its next refresh, or before its next write when
 * refreshes ran late (by the monotonic or the wall clock: only the wall clock counts a suspend), and
 * writes nothing more: its store refuses changes (file-store.ts, takenOver). A lock found gone
 * after refreshes ran late counts as taken over too: the other may have written and let it go.
 *
 * Still not covered: two machines of one host name on one network directory (each takes the other's
 * lock for its own from before a reboot); two containers on the host's network (one host name and
 * boot, pids of their own: the second finds the first's pid gone and takes its lock over, and the
 * first writes until its next refresh, up to LEASE.refreshMs, changes a restart then skips); two
 * machines whose clocks are more than LEASE.staleMs apart (a live lock looks abandoned); a holder
 * paused in the middle of a write, after its last check (its bytes land after the takeover); a
 * directory reached by two paths on one host name and boot (a bind mount), which counts as a
 * copy; network file systems that do not revalidate a file at open (NFS `nocto`). A host name that
 * changes with the network (macOS) makes a restart after a crash wait out the lease.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomBytes } from "crypto";
import { TwinError } from "../errors";

export const LOCK_FILE = "lock";

/**
 * The lease. A refresh costs an open, a read and a futimes per directory; the expiry is four
 * refreshes, so that timers held up by a busy event loop do not lose the lock, and short, for a
 * start after a crash in a new container waits for it. Tests shorten them, and time observations
 * by a clock of their own (`now`, monotonic).
 */
export const LEASE = { refreshMs: 5000, expiryMs: 20000, staleMs: 10 * 60000, now: () => performance.now() };

interface Holder {
  /** The directory's real path: a copy of it (a backup taken while running) is another directory. */
  dir?: string;
  pid: number;
  host: string;
  /** Linux: /proc/sys/kernel/random/boot_id. */
  boot?: string;
  /** Linux: the process's start time since boot, in clock ticks (field 22 of /proc/<pid>/stat). */
  started?: string;
  since: number;
  token: string;
}

/** A directory this process holds, shared by its stores. */
interface Held {
  me: Holder;
  count: number;
  timer: NodeJS.Timeout;
  /** When (LEASE.now) the lock was last found this process's and refreshed. */
  refreshed: number;
  /**
   * The same by the wall clock (Date.now): a monotonic clock stands still while the machine is
   * suspended (CLOCK_MONOTONIC, mach_absolute_time), and the lease of a suspended holder runs out.
   */
  refreshedWall: number;
  /** Why the lock is not this process's any more (another process took it over). */
  lostTo: string | null;
  listeners: Set<(reason: string) => void>;
}

/** Directories this process holds, by resolved path. */
const held = new Map<string, Held>();
/** The lock of a holder this process cannot look up, as first seen unchanged (LEASE.now), by directory. */
const seen = new Map<string, { mark: string; at: number }>();

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  return readText("/proc/sys/kernel/random/boot_id");
}

function startOf(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The holder of `dir`'s lock (`dir` a real path): "live", another process that runs now; "gone", a
 * process that stopped (a crash's leftover), or nobody (a copy of the directory, a torn lock);
 * "unknown", a holder on another host name, which only its lease tells of.
 */
function judge(holder: Partial<Holder>, dir: string): "live" | "gone" | "unknown" {
  if (!Number.isSafeInteger(holder.pid) || (holder.pid as number) <= 0) return "gone";
  // Before the path: another machine or container may mount the same directory elsewhere.
  if (holder.host !== os.hostname()) return "unknown";
  // This host name from before this boot: this machine's own lock, left by a power cut or a crash.
  // Two machines of one name on one network directory would take each other's over (see above):
  // a lease here would make every start after a power cut wait for it, the commonest restart there is.
  const boot = bootId();
  if (boot && holder.boot && boot !== holder.boot) return "gone";
  // Without a boot id: a lock from before this machine started.
  if (!boot && typeof holder.since === "number" && holder.since < Date.now() - os.uptime() * 1000 - 60000) return "gone";
  if (typeof holder.dir === "string" && holder.dir !== dir) return "gone";
  // This pid, yet not taken by this process: a container started again (as pid 1 again).
  if (holder.pid === process.pid || !alive(holder.pid as number)) return "gone";
  const started = startOf(holder.pid as number);
  if (started && holder.started && started !== holder.started) return "gone";
  return "live";
}

function parseHolder(text: string): Partial<Holder> {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Partial<Holder>) : {};
  } catch {
    return {}; // torn by a crash while it was written: nobody's
  }
}

interface Found {
  holder: Partial<Holder>;
  /** Changes whenever the lock is refreshed or replaced. */
  mark: string;
  mtimeMs: number;
}

/**
 * The lock file's holder and time, or null when there is none. Opened before it is looked at: an
 * NFS client revalidates a file at open (close-to-open), where a stat may answer from a cache up to
 * a minute old, and a lease seen unchanged in a cache would look expired.
 */
function readLock(file: string): Found | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const mtimeMs = fs.fstatSync(fd).mtimeMs;
    const text = fs.readFileSync(fd, "utf8").trim();
    return { holder: parseHolder(text), mark: `${mtimeMs} ${text}`, mtimeMs };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The lease of a holder this process cannot look up has run out: this process saw its lock
 * unchanged for the expiry, by its own clock, over the tries it made (the registry tries every
 * 5 s), or the lock's time is so old by this machine's clock that no clock is that wrong.
 */
function expired(key: string, found: Found): boolean {
  if (Date.now() - found.mtimeMs > LEASE.staleMs) return true;
  const now = LEASE.now();
  const last = seen.get(key);
  if (last?.mark !== found.mark) {
    seen.set(key, { mark: found.mark, at: now });
    return false;
  }
  return now - last.at >= LEASE.expiryMs;
}

function inUse(key: string, holder: Partial<Holder>, more = ""): TwinError {
  const since = Number.isFinite(holder.since) ? new Date(holder.since as number).toISOString() : "?";
  return new TwinError("store-unavailable", {
    reason: `${key} is in use by another process (pid ${holder.pid} on ${holder.host}, since ${since})${more}; two processes writing one registry lose each other's changes. Stop the other Node-RED, or give this one a user directory of its own`,
    holder: holder.pid as number,
  });
}

/** This process's lock on a directory, shared by the stores of the process that use it. */
export interface DirLock {
  /**
   * Whether the lock is still this process's. Free while refreshes run on time; after a late one
   * (the event loop was held up) the lock is read and refreshed first: another process may have
   * taken it over meanwhile, and then nothing may be written.
   */
  holds(): boolean;
  /** Lets the lock go once the last store of this process on the directory releases it. */
  release(): void;
}

/**
 * Takes the directory's lock for this process, or throws `store-unavailable` naming the process
 * that holds it. File-system errors (a read-only disk) are thrown as they are. `onLost` hears
 * when another process takes the lock over (this one looked gone to it).
 */
export function lockDir(dir: string, onLost: (reason: string) => void): DirLock {
  const key = path.resolve(dir);
  const file = path.join(key, LOCK_FILE);
  let entry = held.get(key);
  if (entry && readLock(file)?.holder.token !== entry.me.token) {
    // Made again, or found taken over: then the stores holding it are told, and this one starts anew.
    refresh(key, entry);
    if (entry.lostTo) entry = undefined;
    else if (readLock(file)?.holder.token !== entry.me.token) {
      // Its file went with the directory (deleted while in use) and could not be made again yet.
      entry.me = take(key, file);
      stamp(entry);
    }
  }
  if (!entry) {
    const me = take(key, file);
    const fresh: Held = { me, count: 0, refreshed: 0, refreshedWall: 0, lostTo: null, listeners: new Set(), timer: setInterval(() => refresh(key, fresh), LEASE.refreshMs) };
    // The lease must not keep Node-RED running once everything else has stopped.
    fresh.timer.unref();
    held.set(key, (entry = fresh));
    stamp(entry);
  }
  const mine = entry;
  mine.count++;
  const listener = (reason: string) => onLost(reason);
  mine.listeners.add(listener);
  let released = false;
  return {
    holds() {
      if (!mine.lostTo && late(mine)) refresh(key, mine);
      return !mine.lostTo;
    },
    release() {
      if (released) return;
      released = true;
      mine.listeners.delete(listener);
      if (--mine.count > 0 || held.get(key) !== mine) return;
      held.delete(key);
      clearInterval(mine.timer);
      // Taken over meanwhile (this process looked dead to another one): the file is theirs.
      if (readLock(file)?.holder.token !== mine.me.token) return;
      try {
        fs.rmSync(file, { force: true });
      } catch {
        // A read-only disk: the next start finds this process gone and takes it over.
      }
    },
  };
}

/** Makes the lock file naming this process, taking over a holder that is gone or whose lease ran out. */
function take(key: string, file: string): Holder {
  const real = fs.realpathSync(key);
  const me: Holder = { dir: real, pid: process.pid, host: os.hostname(), since: Date.now(), token: randomBytes(8).toString("hex") };
  const boot = bootId();
  if (boot) me.boot = boot;
  const started = startOf(process.pid);
  if (started) me.started = started;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(file, me)) {
      seen.delete(key);
      return me;
    }
    const found = readLock(file);
    if (found === null) continue; // gone meanwhile: try again
    const holder = found.holder;
    const state = judge(holder, real);
    if (state === "live") throw inUse(key, holder);
    if (state === "unknown" && !expired(key, found)) {
      throw inUse(key, holder, `, which this process cannot look up (another host name): it is taken over if its lock is not refreshed within ${LEASE.expiryMs / 1000} s`);
    }
    // Left by a process that is gone: removed, unless another process took it over or refreshed it meanwhile.
    if (readLock(file)?.mark === found.mark) fs.rmSync(file, { force: true });
  }
  throw new TwinError("store-unavailable", { reason: `${file} changed hands while this process tried to take it` });
}

/**
 * Every LEASE.refreshMs while held: a lock that still names this process gets the time now; one
 * deleted (with its directory, which the store makes again) is made again unless another process
 * was quicker; one naming another process was taken over, and the stores hear so.
 */
function refresh(key: string, entry: Held): void {
  const file = path.join(key, LOCK_FILE);
  let fd: number;
  try {
    fd = openToRefresh(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return;
    // Gone while refreshes ran late: another process may have taken it over, written and let it
    // go meanwhile; made again, this one would write after it, and recovery would skip one of
    // the two's changes as out of sequence.
    if (late(entry)) return lost(key, entry, {});
    try {
      if (create(file, entry.me)) stamp(entry);
    } catch {
      // The directory is gone too: the store makes it again, and the lock with it.
    }
    return;
  }
  let holder: Partial<Holder>;
  try {
    holder = parseHolder(fs.readFileSync(fd, "utf8"));
    if (holder.token === entry.me.token) {
      // The fd just read: a lock replaced meanwhile is not the one refreshed.
      const now = new Date();
      fs.futimesSync(fd, now, now);
      stamp(entry);
      return;
    }
  } catch {
    return; // the disk fails now: the journal's writes say so; the lease runs out only if this lasts
  } finally {
    fs.closeSync(fd);
  }
  lost(key, entry, holder);
}

/**
 * The lock file, open to be read and to have its time set: on Windows a descriptor opened for
 * reading alone cannot set times (SetFileTime needs write-attributes access), and a holder that
 * never refreshed was taken over, live, by another host after the expiry. For reading alone where
 * writing is refused (a read-only disk): a takeover is still seen.
 */
function openToRefresh(file: string): number {
  try {
    return fs.openSync(file, "r+");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM" && code !== "EROFS") throw err;
    return fs.openSync(file, "r");
  }
}

function stamp(entry: Held): void {
  entry.refreshed = LEASE.now();
  entry.refreshedWall = Date.now();
}

/**
 * The refreshes ran late, by either clock: two periods, where a takeover needs the lock unchanged
 * for the expiry, twice as long. A wall clock set forward only costs a refresh.
 */
function late(entry: Held): boolean {
  return LEASE.now() - entry.refreshed > 2 * LEASE.refreshMs || Date.now() - entry.refreshedWall > 2 * LEASE.refreshMs;
}

function lost(key: string, entry: Held, holder: Partial<Holder>): void {
  clearInterval(entry.timer);
  if (held.get(key) === entry) held.delete(key);
  entry.lostTo = `another process (pid ${holder.pid ?? "?"} on ${holder.host ?? "?"}) took ${key} over: to it this process looked gone (its lock not refreshed for ${LEASE.expiryMs / 1000} s: an event loop held up, a machine paused), or the lock file was deleted. Changes are refused here so that two processes do not write one registry; stop one of them, and restart this one to read what the other wrote`;
  for (const listener of [...entry.listeners]) listener(entry.lostTo);
}

/**
 * Creates the lock file with `holder` in it, whole, unless there is one (false). A link of a
 * finished file: a reader never sees half a lock. Where links are not supported, an exclusive create.
 */
function create(file: string, holder: Holder): boolean {
  const text = JSON.stringify(holder) + "\n";
  const tmp = `${file}.${process.pid}.${holder.token}.tmp`;
  fs.writeFileSync(tmp, text);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  try {
    fs.writeFileSync(file, text, { flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}
