// The master's directory lock and identity file (src/master/state/mdir.ts), on a real temp dir with real
// processes: a live holder is refused by pid, a dead or garbled one is replaced.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import {
  acquireMdirLock,
  MASTER_ID_FILE,
  MDIR_LOCK_FILE,
  readMasterId,
  recordMasterId,
  readMdirLockHolder,
} from "../../../src/master/state/mdir.js";
import { tempDir, type TempDir } from "../../helpers.js";

let tmp: TempDir;
const children: ChildProcess[] = [];

beforeEach(async () => {
  tmp = await tempDir("weed-ts-mdir-");
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await exited;
    }
  }
  await tmp.remove();
});

/** A child that lives until killed (bounded by its own 30 s sleep). */
function sleeper(): ChildProcess {
  const c = spawn("sleep", ["30"], { stdio: "ignore" });
  children.push(c);
  return c;
}

/** The pid of a process that has exited (and been reaped), so the OS reports it dead. */
async function deadPid(): Promise<number> {
  const c = spawn("true", [], { stdio: "ignore" });
  const pid = c.pid!;
  await new Promise((r) => c.once("exit", r));
  return pid;
}

async function writeLock(mdir: string, body: string): Promise<void> {
  await mkdir(mdir, { recursive: true });
  await writeFile(join(mdir, MDIR_LOCK_FILE), body);
}

describe("acquireMdirLock", () => {
  it("creates the directory and the lock file with this pid, and leaves master.id to the Raft state", async () => {
    const mdir = join(tmp.dir, "m1");
    const lock = await acquireMdirLock(mdir, { id: "127.0.0.1:9333" });
    expect(lock.replacedStale).toBeNull();
    const onDisk = JSON.parse(await readFile(join(mdir, MDIR_LOCK_FILE), "utf8"));
    expect(onDisk.pid).toBe(process.pid);
    expect(onDisk.id).toBe("127.0.0.1:9333");
    expect(Number.isNaN(Date.parse(onDisk.startedAt))).toBe(false);
    // master.id means "this directory has held Raft state": the lock alone does not write it.
    expect(await readMasterId(mdir)).toBeNull();
    expect(await readMdirLockHolder(mdir)).toEqual({
      pid: process.pid,
      id: "127.0.0.1:9333",
      startedAt: onDisk.startedAt,
    });
    await lock.release();
  });

  it("refuses while another live process holds the lock, naming the mdir and the pid", async () => {
    const mdir = join(tmp.dir, "m2");
    const child = sleeper();
    const holder = { pid: child.pid!, id: "127.0.0.1:9334", startedAt: new Date().toISOString() };
    await writeLock(mdir, JSON.stringify(holder));
    const err = await acquireMdirLock(mdir, { id: "127.0.0.1:9333" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.CONFLICT);
    expect((err as WeedError).message).toContain(mdir);
    expect((err as WeedError).message).toContain(`pid ${child.pid}`);
    // The holder's file is left alone, and master.id is not rewritten by the refused caller.
    expect(JSON.parse(await readFile(join(mdir, MDIR_LOCK_FILE), "utf8"))).toEqual(holder);
    expect(await readMasterId(mdir)).toBeNull();
    expect(await readMdirLockHolder(mdir)).toEqual(holder);
  });

  it("replaces a lock whose pid is dead, and says so", async () => {
    const mdir = join(tmp.dir, "m3");
    const stale = { pid: await deadPid(), id: "127.0.0.1:9333", startedAt: "2020-01-01T00:00:00.000Z" };
    await writeLock(mdir, JSON.stringify(stale));
    expect(await readMdirLockHolder(mdir)).toBeNull();
    const lock = await acquireMdirLock(mdir, { id: "127.0.0.1:9333" });
    expect(lock.replacedStale).toEqual(stale);
    expect((await readMdirLockHolder(mdir))?.pid).toBe(process.pid);
    await lock.release();
  });

  it("replaces an unparsable lock (a crash while writing it) and one naming pid 0", async () => {
    const mdir = join(tmp.dir, "m4");
    await writeLock(mdir, '{"pid": 12');
    const lock = await acquireMdirLock(mdir, { id: "a:1" });
    expect(lock.replacedStale).toBe("unparsable");
    await lock.release();
    // kill(0, 0) would signal our own process group and "succeed": pid 0 must never count as live.
    await writeLock(mdir, JSON.stringify({ pid: 0, id: "a:1", startedAt: "x" }));
    expect(await readMdirLockHolder(mdir)).toBeNull();
    const again = await acquireMdirLock(mdir, { id: "a:1" });
    expect(again.replacedStale).toBe("unparsable");
    await again.release();
  });

  it("release removes the lock, is idempotent, and leaves a lock that is no longer ours", async () => {
    const mdir = join(tmp.dir, "m5");
    const lock = await acquireMdirLock(mdir, { id: "a:1" });
    await lock.release();
    await expect(stat(join(mdir, MDIR_LOCK_FILE))).rejects.toMatchObject({ code: "ENOENT" });
    await lock.release();
    expect(await readMdirLockHolder(mdir)).toBeNull();
    // Taken again afterwards: the master.id file stays, the lock is new.
    const second = await acquireMdirLock(mdir, { id: "a:1" });
    expect(second.replacedStale).toBeNull();
    // Someone else's lock now (an operator removed ours, another master took the mdir).
    const child = sleeper();
    const other = JSON.stringify({ pid: child.pid!, id: "a:1", startedAt: "later" });
    await writeFile(join(mdir, MDIR_LOCK_FILE), other);
    await second.release();
    expect(await readFile(join(mdir, MDIR_LOCK_FILE), "utf8")).toBe(other);
  });
});

describe("master.id", () => {
  it("round-trips the recorded id, one line", async () => {
    const mdir = join(tmp.dir, "m6");
    await mkdir(mdir);
    expect(await readMasterId(mdir)).toBeNull();
    await recordMasterId(mdir, "127.0.0.1:9333");
    expect(await readMasterId(mdir)).toBe("127.0.0.1:9333");
    expect(await readFile(join(mdir, MASTER_ID_FILE), "utf8")).toBe("127.0.0.1:9333\n");
  });

  it("reads an empty file as no id", async () => {
    const mdir = join(tmp.dir, "m7");
    await mkdir(mdir);
    await writeFile(join(mdir, MASTER_ID_FILE), "\n");
    expect(await readMasterId(mdir)).toBeNull();
  });
});
