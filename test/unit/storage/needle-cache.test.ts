// The cache of small needles read (needle-cache.ts) behind Volume.read: a read after an
// overwrite, a delete, a replica's blob or a vacuum answers the new state, a wrong cookie is
// refused from the cache too, the TTL still expires, and the byte bound holds.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { NO_TTL, parseTtl, type Ttl } from "../../../src/common/ttl.js";
import type { NeedleListEntry } from "../../../src/volume/storage/store-api.js";
import { NeedleCache } from "../../../src/volume/storage/needle-cache.js";
import { Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { codeOf } from "./helpers.js";

let tmp: TempDir;
const open: Volume[] = [];

beforeEach(async () => {
  tmp = await tempDir("weed-needle-cache-");
});

afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
  await tmp.remove();
});

const COOKIE = 0x1234abcd;

async function cachedVolume(
  cache: NeedleCache,
  opts: { id?: number; ttl?: Ttl; wallClockMs?: () => number } = {},
): Promise<Volume> {
  const clock = opts.wallClockMs === undefined ? {} : { wallClockMs: opts.wallClockMs };
  const v = new Volume({
    dir: tmp.dir,
    id: opts.id ?? 1,
    collection: "",
    logger: silentLogger(),
    needleCache: cache,
    ...clock,
  });
  await v.create({ replicaPlacement: parseReplicaPlacement("000"), ttl: opts.ttl ?? NO_TTL });
  open.push(v);
  return v;
}

function blob(seed: number, bytes = 1024): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

async function put(v: Volume, key: number, data: Buffer, cookie = COOKIE): Promise<void> {
  await v.write({ key: BigInt(key), cookie, data, gzipped: false });
}

function read(v: Volume, key: number, cookie = COOKIE): Buffer {
  return v.read(BigInt(key), cookie).data;
}

describe("needle cache behind Volume.read", () => {
  it("serves the same bytes twice, and the new bytes after an overwrite of the same size", async () => {
    const cache = new NeedleCache(1024 * 1024, 64 * 1024);
    const v = await cachedVolume(cache);
    await put(v, 1, blob(1));
    expect(read(v, 1).equals(blob(1))).toBe(true);
    expect(cache.bytes).toBeGreaterThan(0); // the first read filled it
    expect(read(v, 1).equals(blob(1))).toBe(true);
    await put(v, 1, blob(2));
    expect(read(v, 1).equals(blob(2))).toBe(true);
    expect(read(v, 1).equals(blob(2))).toBe(true);
  });

  it("answers NOT_FOUND after a delete, and a cached needle refuses a wrong cookie", async () => {
    const v = await cachedVolume(new NeedleCache(1024 * 1024, 64 * 1024));
    await put(v, 7, blob(7));
    read(v, 7);
    expect(codeOf(() => v.read(7n, COOKIE + 1))).toBe(ErrorCode.COOKIE_MISMATCH);
    await v.delete(7n, COOKIE);
    expect(codeOf(() => read(v, 7))).toBe(ErrorCode.NOT_FOUND);
    await put(v, 7, blob(8));
    expect(read(v, 7).equals(blob(8))).toBe(true);
  });

  it("serves a replica's blob written over a cached needle", async () => {
    const cache = new NeedleCache(1024 * 1024, 64 * 1024);
    const src = await cachedVolume(cache, { id: 2 });
    const v = await cachedVolume(cache);
    await put(v, 3, blob(3));
    read(v, 3);
    await put(src, 3, blob(4));
    const listed: NeedleListEntry[] = [];
    await src.listNeedles(16, async (batch) => void listed.push(...batch));
    const e = listed.find((x) => x.key === 3n)!;
    await v.writeNeedleBlob(3n, e.size, src.readNeedleBlob(e.offset, e.size));
    expect(read(v, 3).equals(blob(4))).toBe(true);
  });

  it("answers every needle's current bytes after a vacuum moved them", async () => {
    const v = await cachedVolume(new NeedleCache(1024 * 1024, 64 * 1024));
    for (let k = 1; k <= 40; k++) await put(v, k, blob(k));
    for (let k = 1; k <= 40; k++) read(v, k);
    for (let k = 1; k <= 40; k += 2) await v.delete(BigInt(k), COOKIE);
    await v.compact();
    for (let k = 2; k <= 40; k += 4) await put(v, k, blob(k + 100)); // written during the vacuum
    await v.commitCompaction();
    for (let k = 1; k <= 40; k++) {
      if (k % 2 === 1) expect(codeOf(() => read(v, k))).toBe(ErrorCode.NOT_FOUND);
      else expect(read(v, k).equals(blob(k % 4 === 2 ? k + 100 : k))).toBe(true);
    }
  });

  it("still expires a cached needle of a TTL volume", async () => {
    let now = Date.UTC(2026, 0, 1);
    const v = await cachedVolume(new NeedleCache(1024 * 1024, 64 * 1024), {
      ttl: parseTtl("1m"),
      wallClockMs: () => now,
    });
    await put(v, 5, blob(5));
    expect(read(v, 5).equals(blob(5))).toBe(true);
    now += 2 * 60 * 1000;
    expect(codeOf(() => read(v, 5))).toBe(ErrorCode.NOT_FOUND);
  });

  it("holds at most its byte bound, keeps no record over its record bound, and reads stay right", async () => {
    const cache = new NeedleCache(16 * 1024, 4096);
    const v = await cachedVolume(cache);
    for (let k = 1; k <= 60; k++) await put(v, k, blob(k));
    await put(v, 100, blob(100, 8192));
    for (let round = 0; round < 2; round++) {
      for (let k = 1; k <= 60; k++) {
        expect(read(v, k).equals(blob(k))).toBe(true);
        expect(cache.bytes).toBeLessThanOrEqual(cache.bytesMax);
      }
    }
    const before = cache.bytes;
    expect(read(v, 100).equals(blob(100, 8192))).toBe(true);
    expect(cache.bytes).toBe(before);
  });

  it("two volumes sharing a cache keep their needles apart (same keys)", async () => {
    const cache = new NeedleCache(1024 * 1024, 64 * 1024);
    const a = await cachedVolume(cache, { id: 1 });
    const b = await cachedVolume(cache, { id: 2 });
    await put(a, 9, blob(1));
    await put(b, 9, blob(2));
    for (let i = 0; i < 2; i++) {
      expect(read(a, 9).equals(blob(1))).toBe(true);
      expect(read(b, 9).equals(blob(2))).toBe(true);
    }
  });
});
