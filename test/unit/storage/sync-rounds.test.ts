// Store-wide sync rounds (issue 11, "Durability under fsync"): fsync writers of every volume share
// one round of fdatasyncs; a volume whose sync fails fails its own writers only. Real files; the
// fdatasync the store is given wraps the real one, so the test can count, hold or fail syncs.
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, type WeedError } from "../../../src/common/errors.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { NO_TTL } from "../../../src/common/ttl.js";
import type { SyncRoundsOptions } from "../../../src/volume/storage/group-commit.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { asyncCodeOf, blob } from "./helpers.js";

const realFdatasync = promisify(fs.fdatasync);
const alloc = { collection: "", replicaPlacement: parseReplicaPlacement("000"), ttl: NO_TTL, preallocate: 0 };

/**
 * The fdatasync handed to the store: the real one, logged by file name ("2.dat"), which can be
 * held (every sync waits until release()), failed for one volume, or hung for one volume.
 */
class SyncSpy {
  log: string[] = [];
  failVolume: number | undefined;
  hangVolume: number | undefined;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  private readonly hung: Array<() => void> = [];

  readonly fdatasync = async (fd: number): Promise<void> => {
    const file = path.basename(fs.readlinkSync(`/proc/self/fd/${fd}`));
    const volume = Number(file.split(".")[0]);
    if (this.gate !== undefined) await this.gate;
    if (volume === this.hangVolume) await new Promise<void>((resolve) => this.hung.push(resolve));
    if (volume === this.failVolume) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    await realFdatasync(fd);
    this.log.push(file);
  };

  hold(): void {
    this.gate = new Promise<void>((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.open?.();
    for (const resolve of this.hung.splice(0)) resolve();
  }
}

let tmp: TempDir;
const stores: Store[] = [];
let spy: SyncSpy;

async function openStore(volumes: number, syncRounds?: SyncRoundsOptions): Promise<Store> {
  const s = new Store({
    dir: tmp.dir,
    maxVolumeCount: 8,
    fdatasync: spy.fdatasync,
    ...(syncRounds === undefined ? {} : { syncRounds }),
  });
  stores.push(s);
  await s.open();
  for (let id = 1; id <= volumes; id++) await s.allocateVolume(id, alloc);
  spy.log = [];
  return s;
}

/** The volume writer i writes to (1..volumes) and its needle. */
function write(s: Store, i: number, volumes: number, fsync = true): Promise<unknown> {
  return s.write((i % volumes) + 1, { key: BigInt(i + 1), cookie: i, data: blob(i, 1024) }, { fsync });
}

beforeEach(async () => {
  tmp = await tempDir("weed-sync-rounds-");
  spy = new SyncSpy();
});

afterEach(async () => {
  spy.release();
  for (const s of stores.splice(0)) await s.close();
  await tmp.remove();
});

describe("Store sync rounds", () => {
  it("fsync writers on four volumes share one round: two fdatasyncs per volume, not per writer", async () => {
    const s = await openStore(4);
    spy.hold(); // round 1 (writer 0's volume) stays in flight while everyone else writes
    const first = write(s, 0, 4);
    const resolved: number[] = [];
    const rest = Array.from({ length: 63 }, (_, k) => write(s, k + 1, 4).then(() => resolved.push(k + 1)));
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toEqual([]); // nobody is acknowledged before the fdatasync of its files
    expect(s.syncRoundCount()).toBe(1);
    spy.release();
    await Promise.all([first, ...rest]);
    expect(s.syncRoundCount()).toBe(2);
    // Round 1: volume 1's .dat and .idx. Round 2: every volume's, once.
    expect(spy.log.slice(0, 2).sort()).toEqual(["1.dat", "1.idx"]);
    expect(spy.log.slice(2).sort()).toEqual(["1.dat", "1.idx", "2.dat", "2.idx", "3.dat", "3.idx", "4.dat", "4.idx"]);
    for (let id = 1; id <= 4; id++) expect(s.syncCount(id)).toBe(id === 1 ? 2 : 1);
    // Everything acknowledged is in the files after a reopen.
    await s.close();
    const back = new Store({ dir: tmp.dir, maxVolumeCount: 8 });
    stores.push(back);
    await back.open();
    for (let i = 0; i < 64; i++) expect(back.read((i % 4) + 1, BigInt(i + 1), i).data.equals(blob(i, 1024))).toBe(true);
  });

  it("a failed fdatasync fails its volume's writers and makes it read-only; other volumes succeed", async () => {
    const s = await openStore(3);
    spy.hold();
    const first = write(s, 0, 3); // volume 1, round 1
    const writers = Array.from({ length: 30 }, (_, k) => write(s, k + 1, 3));
    spy.failVolume = 2;
    spy.release();
    const results = await Promise.allSettled([first, ...writers]);
    expect(s.syncRoundCount()).toBe(2); // volume 2 failed in the round volumes 1 and 3 passed
    results.forEach((r, i) => {
      if (i % 3 === 1) {
        expect(r.status).toBe("rejected");
        const err = (r as PromiseRejectedResult).reason as WeedError;
        expect(err.code).toBe(ErrorCode.IO);
        expect(err.message).toMatch(/fsync of volume 2 failed/);
      } else expect(r.status).toBe("fulfilled");
    });
    expect(s.volumeInfo(2)?.readOnly).toBe(true);
    expect(s.volumeInfo(1)?.readOnly).toBe(false);
    expect(s.volumeInfo(3)?.readOnly).toBe(false);
    expect(await asyncCodeOf(write(s, 100, 3))).toBe(ErrorCode.VOLUME_READ_ONLY); // 100 % 3 + 1 = 2
    expect(await asyncCodeOf(write(s, 99, 3))).toBeUndefined(); // volume 1 still takes fsync writes
    expect(() => s.setReadOnly(2, false)).toThrow(/failed fsync/);
  });

  it("writes without fsync are not held by a round in flight, on its volume or another", async () => {
    const s = await openStore(2);
    spy.hold();
    const durable = write(s, 0, 2);
    let durableDone = false;
    void durable.then(() => (durableDone = true));
    await write(s, 2, 2, false); // volume 1, the round's own
    await write(s, 1, 2, false); // volume 2
    expect(durableDone).toBe(false);
    expect(s.read(1, 3n, 2).data.equals(blob(2, 1024))).toBe(true);
    spy.release();
    await durable;
  });

  it("a volume whose fdatasync hangs is failed after the round's timeout; others' writers go on", async () => {
    const s = await openStore(2, { timeoutMs: 50 });
    spy.hangVolume = 2;
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => write(s, i, 2)));
    expect(performance.now() - started).toBeLessThan(2000);
    results.forEach((r, i) => expect(r.status).toBe(i % 2 === 0 ? "fulfilled" : "rejected"));
    expect(s.volumeInfo(2)?.readOnly).toBe(true);
    spy.hangVolume = undefined;
    expect(await asyncCodeOf(write(s, 10, 2))).toBeUndefined(); // volume 1, a fresh round
  });
});
