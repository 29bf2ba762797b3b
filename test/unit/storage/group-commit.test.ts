// Group commit: concurrent fsync writers share syncs; a failed sync rejects every waiter.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { GroupCommit } from "../../../src/volume/storage/group-commit.js";
import type { Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { asyncCodeOf, blob, createVolume, loadVolume } from "./helpers.js";

/** A sync the test finishes by hand, so it can line writers up while one is in flight. */
function manualSync(): { sync: () => Promise<void>; started: number; finish: (err?: Error) => void } {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const self = {
    started: 0,
    sync: (): Promise<void> => {
      self.started++;
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
    finish: (err?: Error): void => {
      const p = pending.shift();
      if (p === undefined) throw new Error("no sync in flight");
      if (err === undefined) p.resolve();
      else p.reject(err);
    },
  };
  return self;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("GroupCommit", () => {
  it("runs one sync at a time; everyone who asked meanwhile shares the next one", async () => {
    const s = manualSync();
    const gc = new GroupCommit({ sync: s.sync, onFailure: () => undefined, what: "t" });
    const done: number[] = [];
    const first = gc.sync().then(() => done.push(0));
    const waiting = Array.from({ length: 10 }, (_, i) => gc.sync().then(() => done.push(i + 1)));
    expect(s.started).toBe(1);
    s.finish();
    await first;
    await tick(); // the round ends (its volume's writers are released as soon as its sync is done)
    await tick(); // and the next one starts a macrotask later
    expect(done).toEqual([0]); // the others wrote after sync 1 started: not covered by it
    expect(s.started).toBe(2);
    s.finish();
    await Promise.all(waiting);
    expect(done.length).toBe(11);
    expect(gc.syncCount).toBe(2);
  });

  it("a failed sync rejects the writers it covered and the ones queued behind it, and stays failed", async () => {
    const s = manualSync();
    const failures: WeedError[] = [];
    const gc = new GroupCommit({ sync: s.sync, onFailure: (e) => failures.push(e), what: "volume 9" });
    const covered = gc.sync();
    const queued = [gc.sync(), gc.sync()];
    s.finish(new Error("EIO: i/o error"));
    const results = await Promise.allSettled([covered, ...queued]);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      const reason = (r as PromiseRejectedResult).reason as WeedError;
      expect(reason.code).toBe(ErrorCode.IO);
      expect(reason.message).toMatch(/fsync of volume 9 failed/);
    }
    expect(failures.length).toBe(1);
    expect(await asyncCodeOf(gc.sync())).toBe(ErrorCode.IO);
    expect(s.started).toBe(1); // nothing retried a sync whose outcome is unknown
    await gc.drain();
  });
});

describe("Volume fsync writes", () => {
  let tmp: TempDir;
  let dir = "";
  const open: Volume[] = [];
  beforeEach(async () => {
    tmp = await tempDir("weed-group-commit-");
    dir = tmp.dir;
  });
  afterEach(async () => {
    for (const v of open.splice(0)) await v.close();
    await tmp.remove();
  });

  it("64 concurrent fsync writers all resolve with fewer fdatasyncs than writers", async () => {
    const v = await createVolume(dir);
    open.push(v);
    const writers = 64;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        v.write({ key: BigInt(i + 1), cookie: i, data: blob(i, 1024) }, { fsync: true }),
      ),
    );
    expect(results.every((r) => !r.unchanged)).toBe(true);
    expect(v.syncCount).toBeGreaterThanOrEqual(1);
    expect(v.syncCount).toBeLessThan(writers);
    expect(await v.delete(1n, 0, { fsync: true })).toBe(1024);
    await v.close();
    const back = await loadVolume(dir);
    open.push(back);
    for (let i = 1; i < writers; i++) expect(back.read(BigInt(i + 1), i).data.equals(blob(i, 1024))).toBe(true);
  });

  it("a failed fdatasync rejects its waiters and makes the volume read-only", async () => {
    const v = await createVolume(dir);
    open.push(v);
    await v.write({ key: 1n, cookie: 1, data: blob(1) });
    // A real fdatasync failure (EBADF): writer A's sync is in flight (its batch was written at the
    // end of the first turn); writer B's batch is written with the real descriptors at the end of
    // the next and B queues for the next sync; then that sync is handed a descriptor number
    // nothing has open.
    const fds = v as unknown as { datFd: number };
    const realFd = fds.datFd;
    const a = v.write({ key: 2n, cookie: 2, data: blob(2) }, { fsync: true });
    await tick();
    const b = v.write({ key: 3n, cookie: 3, data: blob(3) }, { fsync: true });
    await tick();
    fds.datFd = 0x3fffffff;
    const [ra, rb] = await Promise.allSettled([a, b]);
    fds.datFd = realFd;
    expect(ra.status).toBe("fulfilled");
    expect(rb.status).toBe("rejected");
    expect(((rb as PromiseRejectedResult).reason as WeedError).code).toBe(ErrorCode.IO);
    expect(v.readOnly).toBe(true);
    expect(v.info().readOnly).toBe(true);
    expect(await asyncCodeOf(v.write({ key: 4n, cookie: 4, data: blob(4) }))).toBe(ErrorCode.VOLUME_READ_ONLY);
    expect(await asyncCodeOf(v.write({ key: 5n, cookie: 5, data: blob(5) }, { fsync: true }))).toBe(
      ErrorCode.VOLUME_READ_ONLY,
    );
    expect(() => v.setReadOnly(false)).toThrow(WeedError);
    expect(v.read(1n, 1).data.equals(blob(1))).toBe(true);
  });
});
