// The write path of one volume: a record larger than appendSyncBytesMax is written on the thread
// pool while other appends wait their turn (file order and .idx order kept); a disk that fills up
// (a real tmpfs) cuts the failed append back, answers VOLUME_FULL and leaves the volume read-only
// for space, every earlier needle intact, also after a reload.
import fs from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { NO_TTL } from "../../../src/common/ttl.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { idxEntryBytes, readIdxEntry } from "../../../src/volume/storage/idx.js";
import { appendSyncBytesMax, Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { fillUntil, mountTmpfs, tmpfsUnavailable, type Tmpfs } from "../volume/tmpfs.js";
import { asyncCodeOf, blob, fileSize, loadVolume } from "./helpers.js";

const mebibyte = 1024 * 1024;
const open: Volume[] = [];

async function create(dir: string, onNoSpace?: (bytes: number) => void): Promise<Volume> {
  const v = new Volume({ dir, id: 1, collection: "", logger: silentLogger(), ...(onNoSpace ? { onNoSpace } : {}) });
  await v.create({ replicaPlacement: parseReplicaPlacement("000"), ttl: NO_TTL });
  open.push(v);
  return v;
}

async function reload(v: Volume, dir: string): Promise<Volume> {
  await v.close();
  const again = await loadVolume(dir, v.id, v.collection);
  open.push(again);
  return again;
}

/** .idx entry offsets (8-byte units) in file order. */
function idxOffsets(v: Volume): number[] {
  v.flushIndex(); // entries are queued until the end of the turn (Volume.flushIdx)
  const idx = fs.readFileSync(v.idxPath);
  const out: number[] = [];
  for (let at = 0; at + idxEntryBytes <= idx.length; at += idxEntryBytes) out.push(readIdxEntry(idx, at).offset);
  return out;
}

afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
});

describe("large appends on the thread pool", () => {
  let tmp: TempDir;
  beforeEach(async () => {
    tmp = await tempDir("weed-append-");
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it("keep file order: writes and a delete issued behind a large one land after it, all readable", async () => {
    const v = await create(tmp.dir);
    await v.write({ key: 1n, cookie: 1, data: blob(1) });
    const big = blob(2, 3 * appendSyncBytesMax);
    const pending = [
      v.write({ key: 2n, cookie: 2, data: big }),
      ...[3, 4, 5].map((k) => v.write({ key: BigInt(k), cookie: k, data: blob(k) })),
      v.delete(1n, 1),
      v.write({ key: 6n, cookie: 6, data: blob(6, 2 * appendSyncBytesMax) }),
    ];
    await Promise.all(pending);
    const offsets = idxOffsets(v);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(offsets.length).toBe(7);
    const again = await reload(v, tmp.dir);
    expect(again.read(2n, 2).data.equals(big)).toBe(true);
    for (const k of [3, 4, 5]) expect(again.read(BigInt(k), k).data.equals(blob(k))).toBe(true);
    expect(again.read(6n, 6).data.length).toBe(2 * appendSyncBytesMax);
    expect(() => again.read(1n, 1)).toThrow(WeedError);
  });

  it("eight large writes at once (and their rewrites) each get their own place in the file", async () => {
    const v = await create(tmp.dir);
    const keys = [1, 2, 3, 4, 5, 6, 7, 8];
    const data = (k: number, round: number): Buffer => blob(k * 10 + round, appendSyncBytesMax + k * 4096);
    for (const round of [0, 1]) {
      await Promise.all(keys.map((k) => v.write({ key: BigInt(k), cookie: k, data: data(k, round) })));
      const offsets = idxOffsets(v);
      expect(new Set(offsets).size).toBe(offsets.length);
      for (const k of keys) expect(v.read(BigInt(k), k).data.equals(data(k, round))).toBe(true);
    }
    const again = await reload(v, tmp.dir);
    expect(again.needleCount).toBe(keys.length);
    for (const k of keys) expect(again.read(BigInt(k), k).data.equals(data(k, 1))).toBe(true);
  });

  it("close() while a large write runs: the write completes or fails CLOSED, and the files stay whole", async () => {
    for (let ticks = 0; ticks < 6; ticks++) {
      const dir = `${tmp.dir}/t${ticks}`;
      fs.mkdirSync(dir);
      const v = await create(dir);
      await v.write({ key: 1n, cookie: 1, data: blob(1) });
      const writing = asyncCodeOf(v.write({ key: 2n, cookie: 2, data: blob(2, 9 * mebibyte) }));
      for (let i = 0; i < ticks; i++) await tick();
      await v.close();
      const code = await writing;
      expect([undefined, ErrorCode.CLOSED]).toContain(code);
      const again = await loadVolume(dir, 1, "");
      open.push(again);
      expect(again.read(1n, 1).data.equals(blob(1))).toBe(true);
      if (code === undefined) expect(again.read(2n, 2).data.length).toBe(9 * mebibyte);
      else expect(() => again.read(2n, 2)).toThrow(WeedError);
    }
  });
});

describe("a full disk (a real tmpfs)", () => {
  let fsys: Tmpfs | undefined;
  afterEach(async () => {
    for (const v of open.splice(0)) await v.close();
    await fsys?.remove();
    fsys = undefined;
  });

  async function fullDiskCase(recordBytes: number): Promise<void> {
    fsys = await mountTmpfs(4 * mebibyte);
    const told: number[] = [];
    const v = await create(fsys.dir, (bytes) => told.push(bytes));
    for (let k = 1; k <= 3; k++) await v.write({ key: BigInt(k), cookie: k, data: blob(k, 1000) });
    v.flushIndex(); // entries are queued until the end of the turn (Volume.flushIdx)
    const datBefore = fileSize(v.datPath);
    const idxBefore = fileSize(v.idxPath);
    fillUntil(`${fsys.dir}/filler`, fsys.dir, recordBytes / 2);
    const err = await v.write({ key: 9n, cookie: 9, data: blob(9, recordBytes) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.VOLUME_FULL);
    expect((err as WeedError).httpStatus).toBe(507);
    expect((err as WeedError).message).toMatch(/no space left on the device.*read-only until space returns/);
    expect(v.readOnly).toBe(true);
    expect(v.noSpace).toBe(true);
    expect(v.info().readOnly).toBe(true);
    expect(told).toHaveLength(1);
    // Nothing of the failed append stays: files cut back, needle absent, earlier ones intact.
    expect(fileSize(v.datPath)).toBe(datBefore);
    expect(fileSize(v.idxPath)).toBe(idxBefore);
    expect(() => v.read(9n, 9)).toThrow(WeedError);
    for (let k = 1; k <= 3; k++) expect(v.read(BigInt(k), k).data.equals(blob(k, 1000))).toBe(true);
    // The next write is refused at once, read-only for space; an operator's "writable" does not lift that.
    expect(await asyncCodeOf(v.write({ key: 10n, cookie: 10, data: blob(10) }))).toBe(ErrorCode.VOLUME_FULL);
    v.setReadOnly(false);
    expect(v.readOnly).toBe(true);
    // Space back: the volume takes writes again, and a reload finds exactly what was acknowledged.
    fs.rmSync(`${fsys.dir}/filler`);
    expect(v.setNoSpace(false)).toBe(true);
    await v.write({ key: 9n, cookie: 9, data: blob(9, recordBytes) });
    const again = await reload(v, fsys.dir);
    for (let k = 1; k <= 3; k++) expect(again.read(BigInt(k), k).data.equals(blob(k, 1000))).toBe(true);
    expect(again.read(9n, 9).data.equals(blob(9, recordBytes))).toBe(true);
    expect(again.needleCount).toBe(4);
  }

  it("ENOSPC on a large (thread-pool) append: VOLUME_FULL 507, cut back, read-only for space", async (ctx) => {
    const why = tmpfsUnavailable();
    if (why !== undefined) return ctx.skip(why);
    await fullDiskCase(2 * appendSyncBytesMax);
  });

  it("ENOSPC on a small (synchronous) append: the same", async (ctx) => {
    const why = tmpfsUnavailable();
    if (why !== undefined) return ctx.skip(why);
    await fullDiskCase(64 * 1024);
  });
});
