// Vacuum of one volume on the real disk (compact.ts, vacuum-commit.ts): garbage ratio, compaction
// and commit with a writer and a deleter running throughout, the commit marker and what a start-up
// does with the files each crash point leaves (the points throw here; test/integration/
// vacuum-volume.test.ts kills a real process at them), and TTL expiry with an injected clock.
import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { NO_TTL, parseTtl, type Ttl } from "../../../src/common/ttl.js";
import { crashPointNames, setCrashHook, type CrashPoint } from "../../../src/volume/storage/crash-points.js";
import { recordLength } from "../../../src/volume/storage/needle.js";
import { Store } from "../../../src/volume/storage/store.js";
import { Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { asyncCodeOf, codeOf, createVolume, fileSize, loadVolume, variedBlob } from "./helpers.js";

let tmp: TempDir;
const open: Volume[] = [];

beforeEach(async () => {
  tmp = await tempDir("weed-vacuum-");
});

afterEach(async () => {
  setCrashHook(undefined);
  for (const v of open.splice(0)) await v.close();
  await tmp.remove();
});

async function fresh(ttl: Ttl = NO_TTL): Promise<Volume> {
  const v = await createVolume(tmp.dir, 1, "", ttl);
  open.push(v);
  return v;
}

async function reload(id = 1): Promise<Volume> {
  const v = await loadVolume(tmp.dir, id);
  open.push(v);
  return v;
}

/** Key -> data of every needle that must read back; deleted keys must answer NOT_FOUND. */
interface Expected {
  live: Map<number, Buffer>;
  deleted: Set<number>;
}

function checkAll(v: Volume, e: Expected): void {
  for (const [k, data] of e.live) {
    const got = v.read(BigInt(k), k).data;
    if (!got.equals(data)) throw new Error(`needle ${k}: ${got.length} bytes differ from the ${data.length} written`);
  }
  for (const k of e.deleted) expect(codeOf(() => v.read(BigInt(k), k))).toBe(ErrorCode.NOT_FOUND);
}

/** Needles 1..n, then every third deleted and every fifth overwritten (garbage of both kinds). */
async function filled(v: Volume, n: number): Promise<Expected> {
  const e: Expected = { live: new Map(), deleted: new Set() };
  for (let i = 1; i <= n; i++) {
    await v.write({ key: BigInt(i), cookie: i, data: variedBlob(i) });
    e.live.set(i, variedBlob(i));
  }
  for (let i = 3; i <= n; i += 3) {
    await v.delete(BigInt(i), i);
    e.live.delete(i);
    e.deleted.add(i);
  }
  for (let i = 5; i <= n; i += 5) {
    if (e.deleted.has(i)) continue;
    const data = variedBlob(i + 7919);
    await v.write({ key: BigInt(i), cookie: i, data });
    e.live.set(i, data);
  }
  return e;
}

/**
 * A writer (new keys from `firstKey`), a deleter (keys of `e.live` below `firstKey`) and a reader running
 * until stop() is awaited; every write and delete they finish is recorded in `e`.
 */
function churn(v: Volume, e: Expected, firstKey: number): { stop: () => Promise<number> } {
  let stopped = false;
  let ops = 0;
  // A write or delete refused (the volume turned read-only when a commit failed part way) ends that
  // loop; only the ones acknowledged are expected.
  const writer = (async () => {
    for (let k = firstKey; !stopped && k < firstKey + 100_000; k++) {
      const data = variedBlob(k);
      if ((await asyncCodeOf(v.write({ key: BigInt(k), cookie: k, data }))) !== undefined) break;
      e.live.set(k, data);
      ops++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const victims = [...e.live.keys()].filter((k) => k < firstKey && k % 7 === 1);
  const deleter = (async () => {
    for (const k of victims) {
      if (stopped || (await asyncCodeOf(v.delete(BigInt(k), k))) !== undefined) break;
      e.live.delete(k);
      e.deleted.add(k);
      ops++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  // And a reader: every needle it picks reads back whole while the vacuum runs.
  const reader = (async () => {
    let keys = [...e.live.keys()];
    for (let i = 0; !stopped && i < 100_000; i++) {
      if (i % 256 === 255) keys = [...e.live.keys()];
      const k = keys[(i * 7919) % keys.length]!;
      const want = e.live.get(k)!;
      let got: Buffer | undefined;
      try {
        got = v.read(BigInt(k), k).data;
      } catch {
        got = undefined; // deleted meanwhile, or the volume closed: the checks after the vacuum decide
      }
      if (got !== undefined && e.live.get(k) === want && !got.equals(want)) throw new Error(`needle ${k} read wrong`);
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await Promise.all([writer, deleter, reader]);
      return ops;
    },
  };
}

function liveDatBytes(e: Expected, v: Volume): number {
  let sum = 8;
  for (const k of e.live.keys()) sum += recordLength(v.read(BigInt(k), k).data.length + 1 + 4 + 5, 3);
  return sum;
}

describe("garbage ratio", () => {
  it("is 0 for an empty volume and deleted bytes / content bytes after deletes and overwrites", async () => {
    const v = await fresh();
    expect(v.garbageRatio()).toBe(0);
    await v.write({ key: 1n, cookie: 1, data: Buffer.alloc(100) });
    await v.write({ key: 2n, cookie: 2, data: Buffer.alloc(300) });
    expect(v.garbageRatio()).toBe(0);
    await v.delete(1n, 1);
    const info = v.info();
    // Sizes are needle body sizes (data + DataSize + flags + LastModified), as SeaweedFS counts them.
    expect(v.garbageRatio()).toBeCloseTo(110 / (110 + 310), 10);
    expect(info.deletedByteCount).toBe(110);
  });
});

describe("compact and commit", () => {
  it("keeps exactly the live needles: .dat shrinks by the garbage, revision + 1, reload agrees", async () => {
    const v = await fresh();
    const e = await filled(v, 600);
    const before = v.info();
    const progress: number[] = [];
    const report = await v.compact({ onProgress: (b) => progress.push(b) });
    expect(report.liveNeedles).toBe(e.live.size);
    expect(fs.existsSync(v.datPath.replace(/\.dat$/, ".cpd"))).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const commit = await v.commitCompaction();
    const after = v.info();
    expect(after.compactRevision).toBe(before.compactRevision + 1);
    expect(after.size).toBe(liveDatBytes(e, v));
    expect(fileSize(v.datPath)).toBe(after.size);
    expect(before.size - after.size).toBeGreaterThanOrEqual(before.deletedByteCount);
    expect(after).toMatchObject({ fileCount: e.live.size, deleteCount: 0, deletedByteCount: 0 });
    expect(v.garbageRatio()).toBe(0);
    expect(commit.replayedEntries).toBe(0);
    checkAll(v, e);
    for (const ext of [".cpd", ".cpx", ".cpc"]) expect(fs.existsSync(v.datPath.replace(/\.dat$/, ext))).toBe(false);
    await v.close();
    const again = await reload();
    expect(again.info()).toMatchObject({ size: after.size, fileCount: e.live.size, compactRevision: 1 });
    // In memory the largest key stays; a reload knows only the keys left (SeaweedFS's too).
    expect(after.maxFileKey).toBe(600n);
    checkAll(again, e);
  });

  it("keeps every write and delete made during compaction and commit (a writer and a deleter throughout)", async () => {
    const v = await fresh();
    const e = await filled(v, 3000);
    const load = churn(v, e, 10_000);
    const report = await v.compact();
    const commit = await v.commitCompaction();
    const ops = await load.stop();
    expect(ops).toBeGreaterThan(0);
    expect(commit.replayedEntries).toBeGreaterThan(0);
    expect(report.liveNeedles).toBeGreaterThan(0);
    expect(v.info().compactRevision).toBe(1);
    checkAll(v, e);
    // Writes after the commit go to the new files.
    await v.write({ key: 99_999n, cookie: 1, data: Buffer.from("after") });
    e.live.set(99_999, Buffer.from("after"));
    for (const [k, data] of e.live) if (k === 99_999) expect(v.read(BigInt(k), 1).data).toEqual(data);
    e.live.delete(99_999);
    await v.close();
    const again = await reload();
    checkAll(again, e);
    expect(again.read(99_999n, 1).data.toString()).toBe("after");
  });

  it("refuses a second compaction or a commit while one runs (CONFLICT), a commit with nothing compacted", async () => {
    const v = await fresh();
    await filled(v, 400);
    expect(await asyncCodeOf(v.commitCompaction())).toBe(ErrorCode.CONFLICT);
    const first = v.compact();
    expect(await asyncCodeOf(v.compact())).toBe(ErrorCode.CONFLICT);
    expect(await asyncCodeOf(v.commitCompaction())).toBe(ErrorCode.CONFLICT);
    await first;
    const committing = v.commitCompaction();
    expect(await asyncCodeOf(v.compact())).toBe(ErrorCode.CONFLICT);
    expect(await asyncCodeOf(v.cleanupCompaction())).toBe(ErrorCode.CONFLICT);
    await committing;
  });

  it("cleanup drops a finished or running compaction and its files; the volume is as before", async () => {
    const v = await fresh();
    const e = await filled(v, 400);
    const cpd = v.datPath.replace(/\.dat$/, ".cpd");
    await v.compact();
    await v.cleanupCompaction();
    expect(fs.existsSync(cpd)).toBe(false);
    const running = asyncCodeOf(v.compact());
    await v.cleanupCompaction();
    expect(await running).toBe(ErrorCode.CONFLICT);
    expect(fs.existsSync(cpd)).toBe(false);
    expect(v.info().compactRevision).toBe(0);
    expect(await asyncCodeOf(v.commitCompaction())).toBe(ErrorCode.CONFLICT);
    checkAll(v, e);
  });

  it("closing during a compaction stops it and removes its files", async () => {
    const v = await createVolume(tmp.dir);
    await filled(v, 400);
    const running = asyncCodeOf(v.compact());
    await v.close();
    expect(await running).toBe(ErrorCode.CLOSED);
    expect(fs.existsSync(v.datPath.replace(/\.dat$/, ".cpd"))).toBe(false);
  });
});

describe("during a commit", () => {
  it("a needle listing begun before the commit finishes on the old files (kept open until it ends)", async () => {
    const v = await fresh();
    const e = await filled(v, 3000);
    await v.compact();
    const listed: bigint[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let batches = 0;
    const listing = v.listNeedles(256, async (entries) => {
      for (const x of entries) if (!x.deleted) listed.push(x.key);
      if (++batches === 1) await gate; // held here until the commit is done
    });
    await v.commitCompaction();
    release();
    await listing;
    expect(listed.length).toBe(e.live.size);
    checkAll(v, e);
  });

  it("a start-up refuses a marker with a .cpd but no .cpx rather than pair a new .dat with the old .idx", async () => {
    const v = await fresh();
    await filled(v, 50);
    await v.close();
    const base = v.datPath.replace(/\.dat$/, "");
    fs.writeFileSync(`${base}.cpc`, "compaction revision 1\n");
    fs.copyFileSync(v.datPath, `${base}.cpd`);
    const again = new Volume({ dir: tmp.dir, id: 1, collection: "", logger: silentLogger() });
    expect(await asyncCodeOf(again.load())).toBe(ErrorCode.CORRUPT);
    expect(fs.existsSync(`${base}.cpd`)).toBe(true);
  });
});

describe("crash points (the hook throws where a real crash would stop the process)", () => {
  class Crash extends Error {}

  for (const point of crashPointNames) {
    it(`${point}: a start-up has either the old volume or the new one, every acknowledged needle`, async () => {
      const v = await fresh();
      const e = await filled(v, 800);
      // 8 MiB more: more than one compaction read window, so midCopy stops with records left to copy.
      for (let k = 5001; k <= 5008; k++) {
        const data = Buffer.alloc(1024 * 1024, k);
        await v.write({ key: BigInt(k), cookie: k, data });
        e.live.set(k, data);
      }
      const load = churn(v, e, 10_000);
      setCrashHook((p: CrashPoint) => {
        if (p === point) throw new Crash(p);
      });
      let crashed = false;
      try {
        await v.compact();
        await v.commitCompaction();
      } catch (err) {
        // A crash inside a step comes back wrapped as the step's IO error.
        if (!(err instanceof Crash) && !(err instanceof Error && err.cause instanceof Crash)) throw err;
        crashed = true;
      }
      await load.stop();
      setCrashHook(undefined);
      expect(crashed).toBe(true);
      // The crashed process's files as they are, loaded by a new Volume (the old one is left open).
      const again = await new Volume({ dir: tmp.dir, id: 1, collection: "", logger: silentLogger() });
      await again.load();
      open.push(again);
      const newer = point.startsWith("vacuum.commit.after") && point !== "vacuum.commit.afterCatchUp";
      expect(again.info().compactRevision).toBe(newer ? 1 : 0);
      checkAll(again, e);
      for (const ext of [".cpd", ".cpx", ".cpc"]) {
        expect(fs.existsSync(again.datPath.replace(/\.dat$/, ext))).toBe(false);
      }
    });
  }
});

describe("TTL", () => {
  const minuteMs = 60_000;

  function clocked(ttl: Ttl = NO_TTL): { v: Volume; now: { ms: number }; create: () => Promise<void> } {
    const now = { ms: Date.UTC(2026, 0, 1) };
    const v = new Volume({ dir: tmp.dir, id: 1, collection: "", logger: silentLogger(), wallClockMs: () => now.ms });
    open.push(v);
    return { v, now, create: () => v.create({ replicaPlacement: parseReplicaPlacement("000"), ttl }) };
  }

  it("a needle written with ttl=1m reads until a minute after it was appended, then NOT_FOUND", async () => {
    const { v, now, create } = clocked();
    await create();
    await v.write({ key: 1n, cookie: 1, data: Buffer.from("short-lived"), ttl: parseTtl("1m") });
    await v.write({ key: 2n, cookie: 2, data: Buffer.from("forever") });
    now.ms += minuteMs - 1000;
    expect(v.read(1n, 1).data.toString()).toBe("short-lived");
    now.ms += 1000;
    expect(codeOf(() => v.read(1n, 1))).toBe(ErrorCode.NOT_FOUND);
    now.ms += 365 * 24 * 60 * minuteMs;
    expect(v.read(2n, 2).data.toString()).toBe("forever");
  });

  it("a needle without its own TTL in a TTL volume lives as long as the volume's TTL", async () => {
    const { v, now, create } = clocked(parseTtl("3m"));
    await create();
    await v.write({ key: 1n, cookie: 1, data: Buffer.from("a") });
    await v.write({ key: 2n, cookie: 2, data: Buffer.from("b"), ttl: parseTtl("1h") });
    now.ms += 3 * minuteMs - 1;
    expect(v.read(1n, 1).data.toString()).toBe("a");
    now.ms += 1;
    expect(codeOf(() => v.read(1n, 1))).toBe(ErrorCode.NOT_FOUND);
    expect(v.read(2n, 2).data.toString()).toBe("b");
  });

  it("compaction leaves expired needles behind", async () => {
    const { v, now, create } = clocked();
    await create();
    for (let i = 1; i <= 20; i++) {
      await v.write({
        key: BigInt(i),
        cookie: i,
        data: variedBlob(i),
        ...(i % 2 === 0 ? { ttl: parseTtl("1m") } : {}),
      });
    }
    now.ms += 2 * minuteMs;
    const report = await v.compact();
    expect(report).toMatchObject({ liveNeedles: 10, expiredNeedles: 10 });
    await v.commitCompaction();
    expect(v.info().fileCount).toBe(10);
    for (let i = 1; i <= 20; i++) {
      if (i % 2 === 0) expect(codeOf(() => v.read(BigInt(i), i))).toBe(ErrorCode.NOT_FOUND);
      else expect(v.read(BigInt(i), i).data.equals(variedBlob(i))).toBe(true);
    }
  });
});

describe("Store", () => {
  it("vacuums by volume id and has the heartbeat report the committed size at once", async () => {
    let beats = 0;
    const store = new Store({ dir: tmp.dir, maxVolumeCount: 2, onReadOnlyChange: () => beats++ });
    await store.open();
    try {
      const alloc = { collection: "", replicaPlacement: parseReplicaPlacement("000"), ttl: NO_TTL, preallocate: 0 };
      await store.allocateVolume(3, alloc);
      for (let i = 1; i <= 20; i++) await store.write(3, { key: BigInt(i), cookie: i, data: variedBlob(i) });
      for (let i = 1; i <= 20; i += 2) await store.delete(3, BigInt(i), i);
      expect(store.garbageRatio(3)).toBeGreaterThan(0.3);
      const before = store.volumeInfo(3)!.size;
      await store.compactVolume(3);
      const seen = beats;
      const { info } = await store.commitCompaction(3);
      expect(beats).toBe(seen + 1);
      expect(info.size).toBeLessThan(before);
      expect(store.volumeInfo(3)).toMatchObject({ size: info.size, compactRevision: 1, fileCount: 10 });
      expect(store.garbageRatio(3)).toBe(0);
      expect(codeOf(() => store.garbageRatio(9))).toBe(ErrorCode.VOLUME_NOT_FOUND);
      expect(await asyncCodeOf(store.compactVolume(9))).toBe(ErrorCode.VOLUME_NOT_FOUND);
      expect(await asyncCodeOf(store.commitCompaction(9))).toBe(ErrorCode.VOLUME_NOT_FOUND);
      expect(await asyncCodeOf(store.cleanupCompaction(9))).toBe(ErrorCode.VOLUME_NOT_FOUND);
    } finally {
      await store.close();
    }
  });

  it("a volume deleted during its compaction leaves no compaction file", async () => {
    const store = new Store({ dir: tmp.dir, maxVolumeCount: 2 });
    await store.open();
    try {
      await store.allocateVolume(4, {
        collection: "c",
        replicaPlacement: parseReplicaPlacement("000"),
        ttl: NO_TTL,
        preallocate: 0,
      });
      for (let i = 1; i <= 50; i++) await store.write(4, { key: BigInt(i), cookie: i, data: variedBlob(i) });
      const running = asyncCodeOf(store.compactVolume(4));
      await store.deleteVolume(4);
      expect(await running).toBe(ErrorCode.CLOSED);
      expect(fs.readdirSync(tmp.dir)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
