// Volume.writeSoon: the small appends of one turn are written by one pwritev at its end. Nobody is
// told before the write, nothing queued is readable before it, every other operation (write,
// delete, close, read-only) sees the batch written first, the batch bounds hold, and a write that
// finds the disk full (a real tmpfs) fails every record of the batch and leaves none of it.
import fs from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { idxEntryBytes, readIdxEntry } from "../../../src/volume/storage/idx.js";
import { appendBatchRecordsMax } from "../../../src/volume/storage/limits.js";
import type { NeedleInput, WriteResult } from "../../../src/volume/storage/store-api.js";
import type { Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { fillUntil, mountTmpfs, tmpfsUnavailable, type Tmpfs } from "../volume/tmpfs.js";
import { blob, codeOf, createVolume, fileSize, loadVolume } from "./helpers.js";

interface Told {
  err: Error | undefined;
  result: WriteResult | undefined;
}

/** writeSoon, recording what its writer is told (and that it is told once). */
function soon(v: Volume, n: NeedleInput): Told[] {
  const told: Told[] = [];
  expect(v.writeSoon(n, (err, result) => told.push({ err, result }))).toBe(true);
  return told;
}

function needle(k: number, bytes = 1000, cookie = k): NeedleInput {
  return { key: BigInt(k), cookie, data: blob(k, bytes) };
}

/** The needle keys (all under 2^32 here) of the .idx entries, in file order, after the queued ones are written. */
function idxKeys(v: Volume): number[] {
  v.flushIndex();
  return idxKeysOf(v.idxPath);
}

function idxKeysOf(file: string): number[] {
  const idx = fs.readFileSync(file);
  const out: number[] = [];
  for (let at = 0; at + idxEntryBytes <= idx.length; at += idxEntryBytes) {
    const e = readIdxEntry(idx, at);
    expect(e.keyHi).toBe(0);
    out.push(e.keyLo);
  }
  return out;
}

const open: Volume[] = [];
afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
});

describe("Volume.writeSoon", () => {
  let tmp: TempDir;
  let v: Volume;
  beforeEach(async () => {
    tmp = await tempDir("weed-batch-");
    v = await createVolume(tmp.dir);
    open.push(v);
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it("writes a turn's appends with one pwritev at its end, and only then tells and shows them", async () => {
    const datBefore = fileSize(v.datPath);
    const told = [1, 2, 3, 4, 5].map((k) => soon(v, needle(k, 900 + k)));
    expect(told.every((t) => t.length === 0)).toBe(true);
    expect(fileSize(v.datPath)).toBe(datBefore);
    expect(codeOf(() => v.read(3n, 3))).toBe(ErrorCode.NOT_FOUND);
    await tick();
    expect(told.map((t) => t.length)).toEqual([1, 1, 1, 1, 1]);
    for (const [i, t] of told.entries()) {
      expect(t[0]!.err).toBeUndefined();
      expect(t[0]!.result).toMatchObject({ size: 901 + i, unchanged: false });
      expect(v.read(BigInt(i + 1), i + 1).data.equals(blob(i + 1, 901 + i))).toBe(true);
    }
    expect(v.batchStats).toEqual({ batches: 1, records: 5 });
    expect(idxKeys(v)).toEqual([1, 2, 3, 4, 5]);
    await v.close(); // what a restart finds: the same five
    const reloaded = await loadVolume(tmp.dir);
    open.push(reloaded);
    for (let k = 1; k <= 5; k++) expect(reloaded.read(BigInt(k), k).data.equals(blob(k, 900 + k))).toBe(true);
  });

  it("a key already queued is written first: another cookie is refused, the same bytes answer unchanged", async () => {
    const first = soon(v, needle(7));
    expect(codeOf(() => v.writeSoon(needle(7, 1000, 99), () => undefined))).toBe(ErrorCode.COOKIE_MISMATCH);
    expect(first).toHaveLength(1); // written (and told) before the check
    expect(first[0]!.err).toBeUndefined();
    const same = soon(v, needle(7));
    expect(same).toHaveLength(0);
    await tick();
    expect(same[0]!.result).toMatchObject({ unchanged: true, size: 1000 });
    expect(v.batchStats).toEqual({ batches: 1, records: 1 }); // the unchanged one wrote nothing
    expect(idxKeys(v)).toEqual([7]);
  });

  it("write, delete, read-only and close each see the queued records written first", async () => {
    const a = soon(v, needle(1));
    await v.write(needle(2)); // goes after the batch in the file
    expect(a).toHaveLength(1);
    const b = soon(v, needle(3));
    expect(await v.delete(3n, 3)).toBe(1000); // the queued needle is there to delete
    expect(b[0]!.err).toBeUndefined();
    expect(codeOf(() => v.read(3n, 3))).toBe(ErrorCode.NOT_FOUND);
    const c = soon(v, needle(4));
    v.setReadOnly(true); // admitted while writable: written, then no more
    expect(c[0]!.err).toBeUndefined();
    expect(codeOf(() => v.writeSoon(needle(5), () => undefined))).toBe(ErrorCode.VOLUME_READ_ONLY);
    v.setReadOnly(false);
    const d = soon(v, needle(6));
    await v.close();
    expect(d[0]!.err).toBeUndefined();
    expect(idxKeysOf(v.idxPath)).toEqual([1, 2, 3, 3, 4, 6]); // 3 twice: the record, then its tombstone
    const again = await loadVolume(tmp.dir);
    open.push(again);
    for (const k of [1, 2, 4, 6]) expect(again.read(BigInt(k), k).data.equals(blob(k, 1000))).toBe(true);
    expect(codeOf(() => again.read(3n, 3))).toBe(ErrorCode.NOT_FOUND);
  });

  it(`holds at most ${appendBatchRecordsMax} records: a full batch is written before the next joins`, async () => {
    const count = appendBatchRecordsMax + 10;
    const told = Array.from({ length: count }, (_, i) => soon(v, needle(i + 1, 200)));
    expect(told.slice(0, appendBatchRecordsMax).every((t) => t.length === 1)).toBe(true);
    expect(told.slice(appendBatchRecordsMax).every((t) => t.length === 0)).toBe(true);
    await tick();
    expect(v.batchStats).toEqual({ batches: 2, records: count });
    expect(idxKeys(v)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    for (let k = 1; k <= count; k++) expect(v.read(BigInt(k), k).data.equals(blob(k, 200))).toBe(true);
  });

  it("is refused for a record too large to write synchronously, and while a large append runs", async () => {
    expect(v.writeSoon(needle(1, 2 * 1024 * 1024), () => undefined)).toBe(false);
    const big = v.write(needle(2, 3 * 1024 * 1024)); // on the thread pool
    await tick();
    expect(v.writeSoon(needle(3), () => undefined)).toBe(false);
    await big;
    expect(soon(v, needle(3))).toHaveLength(0);
    await tick();
    expect(idxKeys(v)).toEqual([2, 3]);
  });
});

describe("Volume.writeSoon on a full disk (tmpfs)", () => {
  let fsys: Tmpfs | undefined;
  afterEach(async () => {
    for (const v of open.splice(0)) await v.close();
    await fsys?.remove();
    fsys = undefined;
  });

  it("a batch that does not fit fails every record with VOLUME_FULL, cut back, earlier needles intact", async (ctx) => {
    const why = tmpfsUnavailable();
    if (why !== undefined) return ctx.skip(why);
    fsys = await mountTmpfs(4 * 1024 * 1024);
    const v = await createVolume(fsys.dir);
    open.push(v);
    for (let k = 1; k <= 3; k++) await v.write(needle(k));
    v.flushIndex();
    const datBefore = fileSize(v.datPath);
    fillUntil(`${fsys.dir}/filler`, fsys.dir, 16 * 1024);
    const told = [10, 11, 12, 13].map((k) => soon(v, needle(k, 8 * 1024)));
    await tick();
    for (const t of told) {
      expect(t).toHaveLength(1);
      expect(t[0]!.err).toBeInstanceOf(WeedError);
      expect((t[0]!.err as WeedError).code).toBe(ErrorCode.VOLUME_FULL);
    }
    expect(fileSize(v.datPath)).toBe(datBefore);
    expect(v.noSpace).toBe(true);
    for (const k of [10, 11, 12, 13]) expect(codeOf(() => v.read(BigInt(k), k))).toBe(ErrorCode.NOT_FOUND);
    for (let k = 1; k <= 3; k++) expect(v.read(BigInt(k), k).data.equals(blob(k, 1000))).toBe(true);
    expect(codeOf(() => v.writeSoon(needle(14), () => undefined))).toBe(ErrorCode.VOLUME_FULL);
    await v.close();
    const again = await loadVolume(fsys.dir);
    open.push(again);
    expect(again.needleCount).toBe(3);
  });
});
