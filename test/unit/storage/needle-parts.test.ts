// The record in parts (head | data | tail, written with one writev) is encodeNeedle's record byte
// for byte, for any needle; its "unchanged" comparison agrees with sameContent; the sliced CRC is
// the CRC; the writev helpers write every byte whatever the number of buffers.
import fs from "node:fs";
import path from "node:path";
import { crc32c } from "@node-rs/crc32";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { needleDataBytesMax } from "../../../src/volume/storage/limits.js";
import { encodeNeedle, sameContent } from "../../../src/volume/storage/needle.js";
import {
  crc32cSliced,
  crcSliceBytes,
  encodeNeedleParts,
  encodeRecord,
  samePartsContent,
  wholeRecordDataBytesMax,
  writevFully,
  writevFullySync,
} from "../../../src/volume/storage/needle-parts.js";
import type { NeedleInput } from "../../../src/volume/storage/store-api.js";
import { tempDir, type TempDir } from "../../helpers.js";

const needleArb: fc.Arbitrary<NeedleInput> = fc.record(
  {
    key: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
    cookie: fc.nat({ max: 0xffffffff }),
    data: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    name: fc.string({ maxLength: 300 }),
    mime: fc.string({ maxLength: 40 }),
    lastModified: fc.nat({ max: 2 ** 40 - 1 }),
    ttl: fc.record({ count: fc.nat({ max: 255 }), unit: fc.nat({ max: 6 }) }),
    pairs: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    gzipped: fc.boolean(),
    chunkManifest: fc.boolean(),
  },
  { requiredKeys: ["key", "cookie", "data"] },
);

const joined = (parts: readonly Buffer[]): Buffer => Buffer.concat(parts);

describe("encodeNeedleParts", () => {
  it("is encodeNeedle's record, byte for byte, for any needle (v2 and v3)", () => {
    fc.assert(
      fc.property(needleArb, fc.constantFrom(2, 3), fc.bigInt({ min: 0n, max: 2n ** 63n }), (n, version, at) => {
        const whole = encodeNeedle(n, version, at, 1_700_000_000);
        const parts = encodeNeedleParts(n, crc32c(n.data), version, at, 1_700_000_000);
        expect(joined(parts.buffers).equals(whole.record)).toBe(true);
        expect(parts.length).toBe(whole.record.length);
        expect(parts).toMatchObject({
          size: whole.size,
          dataSize: whole.dataSize,
          crc: whole.crc,
          lastModifiedAt: whole.lastModifiedAt,
        });
        expect(parts.buffers[1]).toBe(n.data); // the data itself, not a copy
      }),
    );
  });

  it("agrees with sameContent on whether a stored record holds the same needle", () => {
    const base = fc.tuple(needleArb, needleArb, fc.boolean());
    fc.assert(
      fc.property(base, ([a, b, same]) => {
        const fresh = same ? { ...a, lastModified: (a.lastModified ?? 0) + 1 } : b;
        const stored = encodeNeedle(a, 3, 1n, 1_700_000_000);
        const wholeFresh = encodeNeedle(fresh, 3, 2n, 1_700_000_000);
        const partsFresh = encodeNeedleParts(fresh, crc32c(fresh.data), 3, 2n, 1_700_000_000);
        const expected = sameContent(stored.record, stored.lastModifiedAt, wholeFresh);
        expect(samePartsContent(stored.record, stored.lastModifiedAt, partsFresh)).toBe(expected);
      }),
    );
  });

  it("encodeRecord: a small needle whole (one buffer, then two empty), a large one in parts", () => {
    fc.assert(
      fc.property(needleArb, fc.constantFrom(2, 3), (n, version) => {
        const whole = encodeNeedle(n, version, 5n, 1_700_000_000);
        const rec = encodeRecord(n, crc32c(n.data), version, 5n, 1_700_000_000);
        expect(rec.buffers[0].equals(whole.record)).toBe(true);
        expect(rec.buffers[1].length + rec.buffers[2].length).toBe(0);
        expect(rec).toMatchObject({ length: whole.record.length, size: whole.size, crc: whole.crc });
        expect(rec.lastModifiedAt).toBe(whole.lastModifiedAt);
        const stored = encodeNeedle({ ...n, lastModified: 1 }, version, 1n, 1_700_000_000);
        expect(samePartsContent(stored.record, stored.lastModifiedAt, rec)).toBe(
          sameContent(stored.record, stored.lastModifiedAt, whole),
        );
      }),
    );
    const big: NeedleInput = { key: 7n, cookie: 9, data: Buffer.alloc(wholeRecordDataBytesMax + 1, 3) };
    const parts = encodeRecord(big, crc32c(big.data), 3, 5n, 1_700_000_000);
    expect(parts.buffers[1]).toBe(big.data); // a large upload is not copied
    expect(joined(parts.buffers).equals(encodeNeedle(big, 3, 5n, 1_700_000_000).record)).toBe(true);
  });

  it("refuses data over needleDataBytesMax with TOO_LARGE, as encodeNeedle does", () => {
    const data = Buffer.alloc(0);
    Object.defineProperty(data, "length", { value: needleDataBytesMax + 1 });
    let err: unknown;
    try {
      encodeNeedleParts({ key: 1n, cookie: 1, data }, 0, 3, 0n, 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.TOO_LARGE);
  });
});

describe("crc32cSliced", () => {
  it("equals crc32c of the whole, across slice boundaries", async () => {
    for (const bytes of [0, 1, crcSliceBytes - 1, crcSliceBytes, crcSliceBytes + 1, 2 * crcSliceBytes + 7]) {
      const data = Buffer.alloc(bytes);
      for (let i = 0; i < bytes; i += 4093) data[i] = i & 0xff;
      expect(await crc32cSliced(data)).toBe(crc32c(data) >>> 0);
    }
  });
});

describe("writevFully / writevFullySync", () => {
  let tmp: TempDir;
  beforeEach(async () => {
    tmp = await tempDir("weed-writev-");
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it("write every byte of many buffers (more than IOV_MAX) at the position", async () => {
    const parts = Array.from({ length: 3000 }, (_, i) => Buffer.alloc((i % 7) + 1, i & 0xff));
    const length = parts.reduce((n, p) => n + p.length, 0);
    const file = path.join(tmp.dir, "f");
    const fd = fs.openSync(file, "w+");
    try {
      await writevFully(fd, parts, 10, length);
      writevFullySync(fd, parts, 10 + length, length);
    } finally {
      fs.closeSync(fd);
    }
    const got = fs.readFileSync(file);
    expect(got.length).toBe(10 + 2 * length);
    expect(got.subarray(10, 10 + length).equals(joined(parts))).toBe(true);
    expect(got.subarray(10 + length).equals(joined(parts))).toBe(true);
  });
});
