// The master's directory: who holds it and whose it is.
//
//   <mdir>/master.lock   JSON {pid, id, startedAt}, created with O_EXCL by the running master and
//                        removed when it stops. Offline tools (`weed-ts master.raft`) refuse to
//                        touch an mdir whose lock names a live process. LevelDB's own LOCK on
//                        <mdir>/raft stays as the second guard: it cannot name the holder, this can.
//   <mdir>/master.id     the master's Raft node id ("host:port" as -peers spells it), one line,
//                        written once its Raft state exists: offline tools know which member
//                        the directory belongs to, and a start knows the directory has been a
//                        member (so a lost Raft log is refused, never replaced by a new cluster).
//
// A lock whose pid is dead, or that cannot be parsed (a crash while writing it), is stale and is
// replaced. A pid that a dead master left behind and the OS has since reused for some other
// process looks live: the error says how to clear it by hand.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, WeedError } from "../../common/errors.js";

export const MDIR_LOCK_FILE = "master.lock";
export const MASTER_ID_FILE = "master.id";

/**
 * Attempts at creating the lock file: each stale lock found costs one. Two is enough for one stale
 * file; a third covers another process replacing the same stale lock at the same moment (it then
 * holds the lock and the next attempt reports it).
 */
const lockAttemptsMax = 3;
/** A lock file larger than this is not ours (it holds ~100 bytes): read no more than this. */
const lockFileBytesMax = 4096;

export interface MdirLockHolder {
  pid: number;
  id: string;
  /** ISO-8601 time the holder took the lock. */
  startedAt: string;
}

export interface MdirLock {
  readonly mdir: string;
  readonly holder: MdirLockHolder;
  /** A stale lock (dead pid or unreadable file) was found and replaced: worth a log line. */
  readonly replacedStale: MdirLockHolder | "unparsable" | null;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

function lockPath(mdir: string): string {
  return join(mdir, MDIR_LOCK_FILE);
}

/** An "mdir is in use" refusal; `pid` when the lock file names the holder (LevelDB's lock does not). */
export function mdirInUseError(mdir: string, pid: number | null, cause?: unknown): WeedError {
  const who = pid === null ? "another process (its Raft LevelDB is locked)" : `a running process, pid ${pid}`;
  const hint =
    pid === null
      ? "stop the master first"
      : `stop the master first; if pid ${pid} is not a weed-ts master, remove ${lockPath(mdir)}`;
  return new WeedError(
    ErrorCode.CONFLICT,
    `master directory ${mdir} is in use by ${who}: ${hint}`,
    cause === undefined ? {} : { cause },
  );
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** Is `pid` a live process? EPERM means it lives but belongs to someone else. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, "ESRCH");
  }
}

function parseHolder(text: string): MdirLockHolder | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const { pid, id, startedAt } = v as Record<string, unknown>;
  // pid 0 and negative pids would signal process groups in kill(): never a holder.
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) return null;
  if (typeof id !== "string" || typeof startedAt !== "string") return null;
  return { pid, id, startedAt };
}

/** The lock file's holder as written, "unparsable", or null when there is no lock file. */
async function readLockFile(mdir: string): Promise<MdirLockHolder | "unparsable" | null> {
  let text: string;
  try {
    const fh = await open(lockPath(mdir), "r");
    try {
      const buf = Buffer.alloc(lockFileBytesMax);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString("utf8");
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    throw new WeedError(ErrorCode.IO, `reading ${lockPath(mdir)}: ${(err as Error).message}`, { cause: err });
  }
  return parseHolder(text) ?? "unparsable";
}

/** The live process holding `mdir`, or null (no lock file, a stale one, or an unparsable one). */
export async function readMdirLockHolder(mdir: string): Promise<MdirLockHolder | null> {
  const h = await readLockFile(mdir);
  if (h === null || h === "unparsable") return null;
  return pidAlive(h.pid) ? h : null;
}

/** The node id recorded in `<mdir>/master.id`, or null when none was recorded. */
export async function readMasterId(mdir: string): Promise<string | null> {
  try {
    const id = (await readFile(join(mdir, MASTER_ID_FILE), "utf8")).trim();
    return id === "" ? null : id;
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    throw new WeedError(ErrorCode.IO, `reading ${join(mdir, MASTER_ID_FILE)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Records `id` in master.id once this master's Raft state exists. Write-then-rename: never half an id. */
export async function recordMasterId(mdir: string, id: string): Promise<void> {
  const path = join(mdir, MASTER_ID_FILE);
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, `${id}\n`);
  await rename(tmp, path);
}

/** O_EXCL create; false when the file already exists. */
async function tryCreateLock(mdir: string, holder: MdirLockHolder): Promise<boolean> {
  let fh;
  try {
    fh = await open(lockPath(mdir), "wx");
  } catch (err) {
    if (isErrno(err, "EEXIST")) return false;
    throw new WeedError(ErrorCode.IO, `creating ${lockPath(mdir)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await fh.writeFile(`${JSON.stringify(holder)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/**
 * Takes `<mdir>` for this process (creating the directory if missing) for the master `info.id`.
 * Rejects with an "in use" WeedError naming the pid while another live process
 * holds the lock.
 */
export async function acquireMdirLock(mdir: string, info: { id: string }): Promise<MdirLock> {
  try {
    await mkdir(mdir, { recursive: true });
  } catch (err) {
    throw new WeedError(ErrorCode.IO, `creating master directory ${mdir}: ${(err as Error).message}`, { cause: err });
  }
  const holder: MdirLockHolder = { pid: process.pid, id: info.id, startedAt: new Date().toISOString() };
  let replacedStale: MdirLockHolder | "unparsable" | null = null;
  for (let attempt = 0; attempt < lockAttemptsMax; attempt++) {
    if (await tryCreateLock(mdir, holder)) return { mdir, holder, replacedStale, release: releaser(mdir, holder) };
    const found = await readLockFile(mdir);
    if (found === null) continue; // Removed between our create and our read: try again.
    if (found !== "unparsable" && found.pid !== process.pid && pidAlive(found.pid))
      throw mdirInUseError(mdir, found.pid);
    // Stale (or a leftover of this very process): replace it. Racing another process doing the
    // same, the loser's next O_EXCL create fails and it then reads the winner's live pid.
    replacedStale = found;
    try {
      await unlink(lockPath(mdir));
    } catch (err) {
      if (!isErrno(err, "ENOENT"))
        throw new WeedError(ErrorCode.IO, `removing stale ${lockPath(mdir)}: ${(err as Error).message}`, {
          cause: err,
        });
    }
  }
  throw new WeedError(
    ErrorCode.UNAVAILABLE,
    `master directory ${mdir}: could not take ${lockPath(mdir)} in ${lockAttemptsMax} attempts ` +
      "(another process keeps replacing it)",
  );
}

function releaser(mdir: string, holder: MdirLockHolder): () => Promise<void> {
  let released: Promise<void> | null = null;
  return () => {
    released ??= (async () => {
      // Only our own lock: an operator may have removed it and another master taken the mdir since.
      const found = await readLockFile(mdir).catch(() => null);
      if (found === null || found === "unparsable" || found.pid !== holder.pid || found.startedAt !== holder.startedAt)
        return;
      await unlink(lockPath(mdir)).catch((err: unknown) => {
        if (!isErrno(err, "ENOENT")) throw err;
      });
    })();
    return released;
  };
}

/**
 * A start on a directory recorded as another master's: its Raft log names that master, so under
 * this id it would never find itself in the membership (and wait for a leader forever).
 */
export function mdirOfAnotherMasterError(mdir: string, recorded: string, self: string): WeedError {
  return new WeedError(
    ErrorCode.CONFLICT,
    `master directory ${mdir} belongs to master ${recorded} (${join(mdir, MASTER_ID_FILE)}), not to ${self}: ` +
      `start it as ${recorded} (the same -ip and -port), or re-address it: remove ${recorded} from the ` +
      `cluster (cluster.raft.remove), empty ${mdir} and start this master with -peers naming a member`,
  );
}

/** A directory recorded as a member's whose Raft log is gone: never start a new cluster over it. */
export function mdirLostStateError(mdir: string, recorded: string): WeedError {
  return new WeedError(
    ErrorCode.CONFLICT,
    `master directory ${mdir} has no Raft state in ${join(mdir, "raft")}, but ${join(mdir, MASTER_ID_FILE)} ` +
      `says ${recorded} has been a cluster member: refusing to start a new cluster over a lost log. ` +
      `Restore ${join(mdir, "raft")} from a backup; or empty ${mdir} and start with -peers naming a running ` +
      "member to rejoin; or, if the other masters are gone for good, see weed-ts master.raft rewrite",
  );
}

/** The Raft store could not be opened or read: the one line names the path and the cause. */
export function mdirUnreadableError(mdir: string, cause: unknown): WeedError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const inner = cause instanceof Error && cause.cause instanceof Error ? `: ${cause.cause.message}` : "";
  return new WeedError(
    ErrorCode.CORRUPT,
    `master directory ${mdir}: the Raft state in ${join(mdir, "raft")} cannot be read (${why}${inner}); ` +
      `restore it from a backup, or empty ${mdir} and start with -peers naming a running member to rejoin`,
    { cause },
  );
}
