// .idx entries and the superblock: byte layout (SeaweedFS) and round trips.
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import {
  idxEntryBytes,
  TOMBSTONE_FILE_SIZE,
  isLiveSize,
  readIdxEntry,
  walkIdx,
  writeIdxEntry,
} from "../../../src/volume/storage/idx.js";
import { decodeSuperBlockHeader, encodeSuperBlock } from "../../../src/volume/storage/superblock.js";
import { tempDir, type TempDir } from "../../helpers.js";

describe(".idx entries", () => {
  it("lays out key u64 | offset/8 u32 | size i32 big-endian; a delete is size FFFFFFFF", () => {
    const buf = Buffer.alloc(32);
    writeIdxEntry(buf, 0, 0x01020304, 0x05060708, 0x0a0b0c0d, 0x11);
    writeIdxEntry(buf, 16, 0, 1, 4, TOMBSTONE_FILE_SIZE);
    expect(buf.toString("hex")).toBe(
      "0102030405060708" + "0a0b0c0d" + "00000011" + "0000000000000001" + "00000004" + "ffffffff",
    );
    expect(isLiveSize(0x11)).toBe(true);
    expect(isLiveSize(TOMBSTONE_FILE_SIZE)).toBe(false);
    expect(isLiveSize(0)).toBe(false); // SeaweedFS's empty needle replays as a delete
  });

  it("round-trips any entry (fast-check)", () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(u32, u32, u32, u32, (hi, lo, off, size) => {
        const buf = Buffer.alloc(idxEntryBytes);
        writeIdxEntry(buf, 0, hi, lo, off, size);
        expect(readIdxEntry(buf, 0)).toEqual({ keyHi: hi, keyLo: lo, offset: off, size });
        expect(buf.readBigUInt64BE(0)).toBe((BigInt(hi) << 32n) | BigInt(lo));
      }),
      { numRuns: 500 },
    );
  });

  describe("walkIdx", () => {
    let tmp: TempDir;
    let dir = "";
    beforeEach(async () => {
      tmp = await tempDir("weed-idx-");
      dir = tmp.dir;
    });
    afterEach(async () => {
      await tmp.remove();
    });

    it("visits every entry in order across chunk boundaries, and only the range asked for", () => {
      const n = 1000;
      const buf = Buffer.alloc(n * idxEntryBytes);
      for (let i = 0; i < n; i++) writeIdxEntry(buf, i * idxEntryBytes, i >>> 3, i, i + 1, i * 2);
      const file = path.join(dir, "1.idx");
      fs.writeFileSync(file, buf);
      const fd = fs.openSync(file, "r");
      try {
        const seen: number[] = [];
        walkIdx(
          fd,
          0,
          n,
          (hi, lo, off, size) => {
            expect(hi).toBe(lo >>> 3);
            expect(off).toBe(lo + 1);
            expect(size).toBe(lo * 2);
            seen.push(lo);
          },
          7 * idxEntryBytes,
        ); // a chunk that does not divide n
        expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
        const part: number[] = [];
        walkIdx(fd, 10, 20, (_hi, lo) => part.push(lo), 3 * idxEntryBytes);
        expect(part).toEqual(Array.from({ length: 10 }, (_, i) => i + 10));
      } finally {
        fs.closeSync(fd);
      }
    });
  });
});

describe("superblock", () => {
  it("matches SeaweedFS bytes: version, decimal-packed placement, ttl count+unit, revision, extra size", () => {
    const sb = {
      version: 3,
      replicaPlacement: parseReplicaPlacement("001"),
      ttl: { count: 3, unit: 3 },
      compactRevision: 0,
      extra: Buffer.alloc(0),
    };
    expect(encodeSuperBlock(sb).toString("hex")).toBe("0301030300000000");
    const sb2 = {
      ...sb,
      replicaPlacement: parseReplicaPlacement("200"),
      ttl: { count: 0, unit: 0 },
      compactRevision: 0x0102,
    };
    expect(encodeSuperBlock(sb2).toString("hex")).toBe("03c8000001020000");
    const sb3 = { ...sb, replicaPlacement: parseReplicaPlacement("010") };
    expect(encodeSuperBlock(sb3)[1]).toBe(10);
  });

  it("decodes what it encodes, and reports the extra length", () => {
    const sb = {
      version: 3,
      replicaPlacement: parseReplicaPlacement("110"),
      ttl: { count: 5, unit: 6 },
      compactRevision: 9,
      extra: Buffer.from([1, 2, 3]),
    };
    const bytes = encodeSuperBlock(sb);
    expect(bytes.length).toBe(11);
    const { sb: back, extraLength } = decodeSuperBlockHeader(bytes.subarray(0, 8), "t");
    expect(extraLength).toBe(3);
    expect(back).toMatchObject({
      version: 3,
      replicaPlacement: { diffDataCenter: 1, diffRack: 1, sameRack: 0 },
      ttl: { count: 5, unit: 6 },
      compactRevision: 9,
    });
  });

  it("refuses versions other than 2 and 3, and short input", () => {
    const code = (b: Buffer): string | undefined => {
      try {
        decodeSuperBlockHeader(b, "t");
      } catch (err) {
        return (err as WeedError).code;
      }
      return undefined;
    };
    expect(code(Buffer.from("0100000000000000", "hex"))).toBe(ErrorCode.CORRUPT);
    expect(code(Buffer.from("0400000000000000", "hex"))).toBe(ErrorCode.CORRUPT);
    expect(code(Buffer.from("030000", "hex"))).toBe(ErrorCode.CORRUPT);
    expect(code(Buffer.from("0200000000000000", "hex"))).toBeUndefined();
  });
});
