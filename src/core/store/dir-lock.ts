/**
 * One process at a time writes a store directory.
 *
 * Two Node-RED processes on one user directory (a service, and `node-red` started again by hand,
 * which even when its port is taken starts its flows before it finds out) would both append to the same journal, numbering their entries from the same sequence
 * number. Recovery then reads the second writer's entries as out of sequence and skips them:
 * every change one of them acknowledged could be lost (20 of 40 acknowledged strict changes in
 * the run that found it), with no word while both ran.
 *
 * `<dir>/lock` names its holder. A holder counts as live only when it is this host (same name,
 * same boot), its process exists, and, where /proc says, that process started when the lock says:
 * a lock left by a crash (kill -9, power cut, a container recreated) is taken over at once, so a
 * restart never waits and never needs the user to delete anything. Stores of one process share
 * the lock (a redeploy, a migration reading the directory): it goes when the last one closes.
 *
 * Not covered: a holder under another host name (a second container on the same volume, another
 * machine on a network share) cannot be looked up, so its lock counts as a crash's and is taken
 * over; both then write, each into a journal of its own, and recovery skips one's entries. Telling
 * such a holder apart from a crash needs a lock it refreshes (a heartbeat), at the cost of a wait
 * after a crash in a container made again.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomBytes } from "crypto";
import { TwinError } from "../errors";

export const LOCK_FILE = "lock";

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

/** Directories this process holds, by resolved path: how many stores share each. */
const held = new Map<string, { token: string; count: number }>();

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

/** Another process that is running now holds the lock of `dir` (a real path). */
function liveOther(holder: Partial<Holder>, dir: string): holder is Holder {
  if (typeof holder.dir === "string" && holder.dir !== dir) return false;
  if (!Number.isSafeInteger(holder.pid) || (holder.pid as number) <= 0 || holder.pid === process.pid) return false;
  if (holder.host !== os.hostname()) return false;
  const boot = bootId();
  if (boot && holder.boot && boot !== holder.boot) return false;
  // Without a boot id: a lock from before this machine started is a reboot's leftover.
  if (!boot && typeof holder.since === "number" && holder.since < Date.now() - os.uptime() * 1000 - 60000) return false;
  if (!alive(holder.pid as number)) return false;
  const started = startOf(holder.pid as number);
  if (started && holder.started && started !== holder.started) return false;
  return true;
}

function readHolder(file: string): Partial<Holder> | null {
  const text = readText(file);
  if (text === undefined) return null;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Partial<Holder>) : {};
  } catch {
    return {}; // torn by a crash while it was written: nobody's
  }
}

/**
 * Takes the directory's lock for this process, or throws `store-unavailable` naming the live
 * process that holds it. File-system errors (a read-only disk) are thrown as they are.
 */
export function lockDir(dir: string): void {
  const key = path.resolve(dir);
  const mine = held.get(key);
  const file = path.join(key, LOCK_FILE);
  if (mine && readHolder(file)?.token === mine.token) {
    mine.count++;
    return;
  }
  const real = fs.realpathSync(key);
  const me: Holder = { dir: real, pid: process.pid, host: os.hostname(), since: Date.now(), token: randomBytes(8).toString("hex") };
  const boot = bootId();
  if (boot) me.boot = boot;
  const started = startOf(process.pid);
  if (started) me.started = started;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(file, me)) {
      held.set(key, { token: me.token, count: (mine?.count ?? 0) + 1 });
      return;
    }
    const holder = readHolder(file);
    if (holder === null) continue; // gone meanwhile: try again
    if (liveOther(holder, real)) {
      const since = Number.isFinite(holder.since) ? new Date(holder.since).toISOString() : "?";
      throw new TwinError("store-unavailable", {
        reason: `${key} is in use by another process (pid ${holder.pid} on ${holder.host}, since ${since}); two processes writing one registry lose each other's changes. Stop the other Node-RED, or give this one a user directory of its own`,
        holder: holder.pid,
      });
    }
    // Left by a process that is gone: removed, unless another process took it over meanwhile.
    if (readHolder(file)?.token === holder.token) fs.rmSync(file, { force: true });
  }
  throw new TwinError("store-unavailable", { reason: `${file} changed hands while this process tried to take it` });
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

/** Lets the lock go once the last store of this process on the directory closes. */
export function unlockDir(dir: string): void {
  const key = path.resolve(dir);
  const mine = held.get(key);
  if (!mine) return;
  if (--mine.count > 0) return;
  held.delete(key);
  const file = path.join(key, LOCK_FILE);
  // Taken over meanwhile (this process looked dead to another one): the file is theirs.
  if (readHolder(file)?.token !== mine.token) return;
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // A read-only disk: the next start finds this process gone and takes it over.
  }
}
