// One volume on the real disk: write/read/overwrite/delete, cookies, CRC on read, reopen.
import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { idxEntryBytes, readIdxEntry, TOMBSTONE_FILE_SIZE, writeIdxEntry } from "../../../src/volume/storage/idx.js";
import { encodeNeedle, recordLength } from "../../../src/volume/storage/needle.js";
import type { Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { asyncCodeOf, blob, codeOf, createVolume, fileSize, loadVolume } from "./helpers.js";

let tmp: TempDir;

let dir = "";
const open: Volume[] = [];

async function fresh(ttl?: { count: number; unit: number }): Promise<Volume> {
  const v = await createVolume(dir, 1, "", ttl);
  open.push(v);
  return v;
}

async function reopen(v: Volume): Promise<Volume> {
  await v.close();
  const again = await loadVolume(dir, v.id, v.collection);
  open.push(again);
  return again;
}

beforeEach(async () => {
  tmp = await tempDir("weed-volume-");
  dir = tmp.dir;
});

afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
  await tmp.remove();
});

describe("Volume write and read", () => {
  it("creates a superblock-only .dat and an empty .idx, then appends record and entry in step", async () => {
    const v = await fresh();
    expect(fs.readFileSync(v.datPath).toString("hex")).toBe("0300000000000000");
    expect(fileSize(v.idxPath)).toBe(0);
    const r = await v.write({ key: 0x1234n, cookie: 0xdeadbeef, data: Buffer.from("hello"), lastModified: 5 });
    expect(r).toEqual({ size: 5, crc: 0x9a71bb4c, unchanged: false });
    v.flushIndex(); // .idx entries are queued until the end of the turn (Volume.flushIdx)
    const idx = fs.readFileSync(v.idxPath);
    expect(idx.length).toBe(idxEntryBytes);
    expect(readIdxEntry(idx, 0)).toEqual({ keyHi: 0, keyLo: 0x1234, offset: 1, size: 4 + 5 + 1 + 5 });
    expect(fileSize(v.datPath)).toBe(8 + recordLength(15, 3));
    expect(v.info()).toMatchObject({
      size: 8 + recordLength(15, 3),
      fileCount: 1,
      deleteCount: 0,
      maxFileKey: 0x1234n,
      version: 3,
    });
  });

  it("reads back what was written; wrong cookie is COOKIE_MISMATCH, unknown key NOT_FOUND", async () => {
    const v = await fresh();
    await v.write({ key: 7n, cookie: 1, data: blob(7), name: "f.bin", mime: "application/x-test", pairs: { a: "1" } });
    const rec = v.read(7n, 1);
    expect(rec.data.equals(blob(7))).toBe(true);
    expect(rec).toMatchObject({ name: "f.bin", mime: "application/x-test", pairs: { a: "1" } });
    expect(codeOf(() => v.read(7n, 2))).toBe(ErrorCode.COOKIE_MISMATCH);
    expect(codeOf(() => v.read(8n, 1))).toBe(ErrorCode.NOT_FOUND);
  });

  it("refuses the same key with another cookie with SeaweedFS's 'mismatching cookie' message", async () => {
    const v = await fresh();
    await v.write({ key: 7n, cookie: 0xaabbccdd, data: blob(1) });
    const err = await v.write({ key: 7n, cookie: 0x11223344, data: blob(2) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.COOKIE_MISMATCH);
    expect((err as WeedError).message).toBe("mismatching cookie 11223344");
    expect(v.read(7n, 0xaabbccdd).data.equals(blob(1))).toBe(true);
  });

  it("appends nothing for an identical needle (unchanged), and appends an overwrite that differs", async () => {
    const v = await fresh();
    await v.write({ key: 3n, cookie: 9, data: blob(3), name: "a", lastModified: 100 });
    const size1 = fileSize(v.datPath);
    const same = await v.write({ key: 3n, cookie: 9, data: blob(3), name: "a", lastModified: 200 });
    expect(same.unchanged).toBe(true);
    expect(fileSize(v.datPath)).toBe(size1);
    v.flushIndex(); // .idx entries are queued until the end of the turn (Volume.flushIdx)
    expect(fileSize(v.idxPath)).toBe(idxEntryBytes);
    const renamed = await v.write({ key: 3n, cookie: 9, data: blob(3), name: "b", lastModified: 200 });
    expect(renamed.unchanged).toBe(false);
    const changed = await v.write({ key: 3n, cookie: 9, data: blob(4), name: "b" });
    expect(changed.unchanged).toBe(false);
    v.flushIndex(); // .idx entries are queued until the end of the turn (Volume.flushIdx)
    expect(fileSize(v.idxPath)).toBe(3 * idxEntryBytes);
    expect(v.read(3n, 9).data.equals(blob(4))).toBe(true);
    expect(v.info()).toMatchObject({ fileCount: 3, deleteCount: 2 });
    expect(v.needleCount).toBe(1);
  });

  it("always appends on a TTL volume (a rewrite renews the TTL, as in SeaweedFS)", async () => {
    const v = await fresh({ count: 3, unit: 3 });
    await v.write({ key: 3n, cookie: 9, data: blob(3) });
    const again = await v.write({ key: 3n, cookie: 9, data: blob(3) });
    expect(again.unchanged).toBe(false);
    v.flushIndex(); // .idx entries are queued until the end of the turn (Volume.flushIdx)
    expect(fileSize(v.idxPath)).toBe(2 * idxEntryBytes);
  });

  it("stores an empty blob that keeps its name and survives reopen", async () => {
    const v = await fresh();
    await v.write({ key: 1n, cookie: 1, data: Buffer.alloc(0), name: "empty" });
    const back = await reopen(v);
    const rec = back.read(1n, 1);
    expect(rec.data.length).toBe(0);
    expect(rec.name).toBe("empty");
  });
});

describe("Volume delete", () => {
  it("appends a 32-byte tombstone and a size -1 entry, returns the data size, then NOT_FOUND", async () => {
    const v = await fresh();
    await v.write({ key: 5n, cookie: 0x55, data: blob(5, 321) });
    const datBefore = fileSize(v.datPath);
    expect(codeOf(() => v.read(5n, 0x55))).toBeUndefined();
    expect(await asyncCodeOf(v.delete(5n, 0x66))).toBe(ErrorCode.COOKIE_MISMATCH);
    expect(await v.delete(5n, 0x55)).toBe(321);
    expect(fileSize(v.datPath)).toBe(datBefore + 32);
    v.flushIndex(); // .idx entries are queued until the end of the turn (Volume.flushIdx)
    const idx = fs.readFileSync(v.idxPath);
    const last = readIdxEntry(idx, idx.length - idxEntryBytes);
    expect(last).toEqual({ keyHi: 0, keyLo: 5, offset: datBefore / 8, size: TOMBSTONE_FILE_SIZE });
    const tomb = fs.readFileSync(v.datPath).subarray(datBefore);
    expect(tomb.readUInt32BE(0)).toBe(0x55);
    expect(tomb.readUInt32BE(12)).toBe(0);
    expect(codeOf(() => v.read(5n, 0x55))).toBe(ErrorCode.NOT_FOUND);
    expect(await asyncCodeOf(v.delete(5n, 0x55))).toBe(ErrorCode.NOT_FOUND);
    expect(v.info()).toMatchObject({ deleteCount: 1, deletedByteCount: 4 + 321 + 1 + 5 });
  });

  it("lets a deleted key be written again with any cookie", async () => {
    const v = await fresh();
    await v.write({ key: 5n, cookie: 1, data: blob(1) });
    await v.delete(5n, 1);
    await v.write({ key: 5n, cookie: 2, data: blob(2) });
    expect(v.read(5n, 2).data.equals(blob(2))).toBe(true);
  });
});

describe("Volume reopen", () => {
  it("keeps every write, overwrite and delete, the counters and the max key", async () => {
    const v = await fresh();
    for (let i = 1; i <= 200; i++) await v.write({ key: BigInt(i), cookie: i, data: blob(i, i), lastModified: i });
    for (let i = 1; i <= 200; i += 3) await v.write({ key: BigInt(i), cookie: i, data: blob(i + 1000, 50) });
    for (let i = 2; i <= 200; i += 5) await v.delete(BigInt(i), i);
    await v.write({ key: 1n << 40n, cookie: 77, data: blob(77) });
    await v.delete(1n << 40n, 77);
    const info = v.info();
    const back = await reopen(v);
    expect(back.info()).toEqual({ ...info, modifiedAtSecond: back.info().modifiedAtSecond });
    expect(back.info().maxFileKey).toBe(1n << 40n);
    for (let i = 1; i <= 200; i++) {
      const key = BigInt(i);
      if (i % 5 === 2) {
        expect(codeOf(() => back.read(key, i))).toBe(ErrorCode.NOT_FOUND);
        continue;
      }
      const want = i % 3 === 1 ? blob(i + 1000, 50) : blob(i, i);
      expect(back.read(key, i).data.equals(want)).toBe(true);
    }
    // The append position survived too: a new write after reopen lands at the end and reads back.
    await back.write({ key: 999n, cookie: 1, data: blob(999) });
    const third = await reopen(back);
    expect(third.read(999n, 1).data.equals(blob(999))).toBe(true);
  });
});

describe("CRC on read", () => {
  it("answers CORRUPT for a flipped data byte on disk and never returns the bytes", async () => {
    const v = await fresh();
    await v.write({ key: 1n, cookie: 1, data: blob(1, 64) });
    await v.write({ key: 2n, cookie: 2, data: blob(2, 64) });
    await v.write({ key: 3n, cookie: 3, data: blob(3, 64) });
    // Needle 2 starts right after needle 1; its data starts 20 bytes in (header 16 + DataSize 4).
    const rec1 = recordLength(4 + 64 + 1 + 5, 3);
    const fd = fs.openSync(v.datPath, "r+");
    const at = 8 + rec1 + 20 + 10;
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] = (b[0] ?? 0) ^ 0x40;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
    let got: unknown;
    let returned: unknown;
    try {
      returned = v.read(2n, 2);
    } catch (err) {
      got = err;
    }
    expect(returned).toBeUndefined();
    expect(got).toBeInstanceOf(WeedError);
    expect((got as WeedError).code).toBe(ErrorCode.CORRUPT);
    expect((got as WeedError).message).toMatch(/volume 1: needle 2: invalid CRC/);
    expect(v.read(1n, 1).data.equals(blob(1, 64))).toBe(true);
    expect(v.read(3n, 3).data.equals(blob(3, 64))).toBe(true);
  });
});

describe("lifecycle", () => {
  it("refuses to create over existing files (VOLUME_EXISTS) and rejects use after close (CLOSED)", async () => {
    const v = await fresh();
    expect(await asyncCodeOf(createVolume(dir, 1))).toBe(ErrorCode.VOLUME_EXISTS);
    await v.close();
    await v.close(); // idempotent
    expect(codeOf(() => v.read(1n, 1))).toBe(ErrorCode.CLOSED);
    expect(await asyncCodeOf(v.write({ key: 1n, cookie: 1, data: blob(1) }))).toBe(ErrorCode.CLOSED);
  });

  it("read-only volumes refuse writes and deletes but serve reads", async () => {
    const v = await fresh();
    await v.write({ key: 1n, cookie: 1, data: blob(1) });
    v.setReadOnly(true);
    expect(await asyncCodeOf(v.write({ key: 2n, cookie: 1, data: blob(2) }))).toBe(ErrorCode.VOLUME_READ_ONLY);
    expect(await asyncCodeOf(v.delete(1n, 1))).toBe(ErrorCode.VOLUME_READ_ONLY);
    expect(v.read(1n, 1).data.equals(blob(1))).toBe(true);
    expect(v.info().readOnly).toBe(true);
  });

  it("reads a SeaweedFS v2 volume and appends v2 records to it", async () => {
    const sb = Buffer.from("0200000000000000", "hex");
    const a = encodeNeedle({ key: 1n, cookie: 11, data: blob(1), name: "one" }, 2, 0n, 0);
    const b = encodeNeedle({ key: 2n, cookie: 22, data: blob(2) }, 2, 0n, 0);
    const idx = Buffer.alloc(2 * idxEntryBytes);
    writeIdxEntry(idx, 0, 0, 1, 1, a.size);
    writeIdxEntry(idx, 16, 0, 2, (8 + a.record.length) / 8, b.size);
    fs.writeFileSync(`${dir}/1.dat`, Buffer.concat([sb, a.record, b.record]));
    fs.writeFileSync(`${dir}/1.idx`, idx);
    const v = await loadVolume(dir);
    open.push(v);
    expect(v.info().version).toBe(2);
    expect(v.read(1n, 11).name).toBe("one");
    expect(v.read(2n, 22).data.equals(blob(2))).toBe(true);
    await v.write({ key: 3n, cookie: 33, data: blob(3) });
    const back = await reopen(v);
    expect(back.read(3n, 33).data.equals(blob(3))).toBe(true);
    expect(back.read(3n, 33).appendAtNs).toBe(0n);
  });
});
