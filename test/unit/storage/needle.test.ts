// The needle codec against SeaweedFS's v3 layout (FORMAT.md): hand-made byte vectors, the padding
// rule, and fast-check round trips of every optional field.
import { crc32c } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { needleDataBytesMax } from "../../../src/volume/storage/limits.js";
import {
  decodeNeedle,
  encodeNeedle,
  encodeTombstone,
  legacyCrc,
  paddingLength,
  recordLength,
  sameContent,
} from "../../../src/volume/storage/needle.js";
import type { NeedleInput } from "../../../src/volume/storage/store-api.js";

const hex = (b: Buffer): string => b.toString("hex");

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof WeedError ? err.code : `not a WeedError: ${String(err)}`;
  }
  return undefined;
}

describe("needle record layout (SeaweedFS v3)", () => {
  it("encodes a needle byte for byte as SeaweedFS lays it out", () => {
    // fid 3,01637037d6: key 0x01, cookie 0x637037d6.
    const enc = encodeNeedle(
      {
        key: 1n,
        cookie: 0x637037d6,
        data: Buffer.from("hello"),
        name: "a.txt",
        mime: "text/plain",
        lastModified: 1_600_000_000,
      },
      3,
      0x0102030405060708n,
      0,
    );
    const expected = [
      "637037d6", // cookie
      "0000000000000001", // key
      "00000020", // Size = 4 + 5 + 1 + (1+5) + (1+10) + 5 = 32
      "00000005", // DataSize
      "68656c6c6f", // "hello"
      "0e", // flags: name | mime | last-modified
      "05",
      "612e747874", // name
      "0a",
      "746578742f706c61696e", // mime
      "005f5e1000", // 1600000000 in 5 bytes
      "9a71bb4c", // CRC32-C("hello")
      "0102030405060708", // AppendAtNs
      "00000000", // 16 + 32 + 12 = 60: padding 4
    ].join("");
    expect(hex(enc.record)).toBe(expected);
    expect(enc.size).toBe(32);
    expect(enc.dataSize).toBe(5);
    expect(enc.crc).toBe(0x9a71bb4c);
    expect(enc.record.length % 8).toBe(0);

    const dec = decodeNeedle(enc.record, 3);
    expect(dec).toMatchObject({
      key: 1n,
      cookie: 0x637037d6,
      name: "a.txt",
      mime: "text/plain",
      lastModified: 1_600_000_000,
    });
    expect(dec.appendAtNs).toBe(0x0102030405060708n);
    expect(dec.data.toString()).toBe("hello");
  });

  it("encodes a tombstone as 32 bytes: header with Size 0, CRC 0, AppendAtNs, 4 bytes padding", () => {
    const t = encodeTombstone(0, 1, 0x637037d6, 3, 0x10n);
    expect(hex(t)).toBe("637037d6" + "0000000000000001" + "00000000" + "00000000" + "0000000000000010" + "00000000");
  });

  it("writes gzip, ttl, pairs and chunk-manifest flags where SeaweedFS reads them", () => {
    const enc = encodeNeedle(
      {
        key: 0xabn,
        cookie: 7,
        data: Buffer.from([1]),
        gzipped: true,
        chunkManifest: true,
        ttl: { count: 3, unit: 3 },
        pairs: { a: "b" },
        lastModified: 1,
      },
      3,
      1n,
      0,
    );
    const r = enc.record;
    // body: DataSize(4) data(1) flags(1) lm(5) ttl(2) pairsSize(2) pairs(9: {"a":"b"})
    expect(r.readUInt32BE(12)).toBe(4 + 1 + 1 + 5 + 2 + 2 + 9);
    expect(r[21]).toBe(0x01 | 0x08 | 0x10 | 0x20 | 0x80);
    expect(hex(r.subarray(27, 29))).toBe("0303");
    expect(r.readUInt16BE(29)).toBe(9);
    expect(r.toString("utf8", 31, 40)).toBe('{"a":"b"}');
    const dec = decodeNeedle(r, 3);
    expect(dec).toMatchObject({ gzipped: true, chunkManifest: true, ttl: { count: 3, unit: 3 }, pairs: { a: "b" } });
  });

  it("v2 records have no AppendAtNs and pad to 8 the same way", () => {
    const enc = encodeNeedle({ key: 5n, cookie: 9, data: Buffer.from("xyz"), lastModified: 2 }, 2, 123n, 0);
    // Size = 4 + 3 + 1 + 5 = 13; 16 + 13 + 4 = 33: padding 7, 40 bytes.
    expect(enc.record.length).toBe(40);
    const dec = decodeNeedle(enc.record, 2);
    expect(dec.appendAtNs).toBe(0n);
    expect(dec.data.toString()).toBe("xyz");
  });
});

describe("padding", () => {
  it("is 1..8 bytes, never 0, and aligns every record to 8", () => {
    for (let size = 0; size < 200; size++) {
      for (const version of [2, 3]) {
        const pad = paddingLength(size, version);
        expect(pad).toBeGreaterThanOrEqual(1);
        expect(pad).toBeLessThanOrEqual(8);
        expect(recordLength(size, version) % 8).toBe(0);
      }
    }
  });

  it("is a full 8 bytes when the record is already aligned", () => {
    expect(paddingLength(4, 3)).toBe(8); // 16 + 4 + 12 = 32
    expect(paddingLength(0, 3)).toBe(4); // 28
    expect(paddingLength(4, 2)).toBe(8); // 16 + 4 + 4 = 24
    expect(recordLength(1034, 3)).toBe(1064);
  });
});

const needleArb: fc.Arbitrary<NeedleInput> = fc.record(
  {
    key: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    cookie: fc.integer({ min: 0, max: 0xffffffff }),
    data: fc.uint8Array({ minLength: 0, maxLength: 4096 }).map((a) => Buffer.from(a)),
    name: fc.string({ unit: "binary", maxLength: 120 }),
    mime: fc.string({ maxLength: 60 }),
    lastModified: fc.integer({ min: 0, max: 2 ** 40 - 1 }),
    ttl: fc.record({ count: fc.integer({ min: 0, max: 255 }), unit: fc.integer({ min: 0, max: 6 }) }),
    pairs: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), { maxKeys: 5 }),
    gzipped: fc.boolean(),
    chunkManifest: fc.boolean(),
  },
  { requiredKeys: ["key", "cookie", "data"] },
);

describe("codec round trip (fast-check)", () => {
  it("decode(encode(n)) gives n back, with SeaweedFS's drop rules for empty/over-long fields", () => {
    fc.assert(
      fc.property(needleArb, fc.bigInt({ min: 0n, max: (1n << 64n) - 2n }), fc.constantFrom(2, 3), (n, ns, version) => {
        const enc = encodeNeedle(n, version, ns, 42);
        expect(enc.record.length).toBe(recordLength(enc.size, version));
        expect(enc.record.length % 8).toBe(0);
        const d = decodeNeedle(enc.record, version);
        expect(d.key).toBe(n.key);
        expect(d.cookie).toBe(n.cookie);
        expect(d.data.equals(n.data)).toBe(true);
        expect(d.crc).toBe(crc32c(n.data));
        expect(d.size).toBe(enc.size);
        const nameOk = n.name !== undefined && n.name !== "" && Buffer.byteLength(n.name) <= 255;
        expect(d.name).toBe(nameOk ? n.name : undefined);
        expect(d.mime).toBe(n.mime !== undefined && n.mime !== "" ? n.mime : undefined);
        expect(d.lastModified).toBe(n.lastModified ?? 42);
        const ttlOk = n.ttl !== undefined && n.ttl.count > 0 && n.ttl.unit > 0;
        expect(d.ttl).toEqual(ttlOk ? n.ttl : undefined);
        const pairsOk = n.pairs !== undefined && Object.keys(n.pairs).length > 0;
        expect(d.pairs).toEqual(pairsOk ? n.pairs : undefined);
        expect(d.gzipped).toBe(n.gzipped === true);
        expect(d.chunkManifest).toBe(n.chunkManifest === true);
        expect(d.appendAtNs).toBe(version === 3 ? ns : 0n);
        // Any record is "the same content" as itself, whatever its LastModified.
        const again = encodeNeedle({ ...n, lastModified: 7 }, version, ns + 1n, 0);
        expect(sameContent(enc.record, d.lastModifiedAt, again)).toBe(true);
      }),
      {
        numRuns: 300,
        // Once found by a CI run: a pair named "__proto__" must stay a pair.
        examples: [
          [
            {
              key: 0n,
              cookie: 0,
              data: Buffer.alloc(0),
              pairs: JSON.parse('{"__proto__":""}') as Record<string, string>,
            },
            0n,
            2,
          ],
        ],
      },
    );
  });

  it("detects any single flipped data byte by CRC (CORRUPT), and differing content in sameContent", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, xor) => {
          const data = Buffer.from(bytes);
          const enc = encodeNeedle({ key: 9n, cookie: 1, data, lastModified: 1 }, 3, 1n, 0);
          const i = 20 + (at % data.length); // data starts after header (16) and DataSize (4)
          const bad = Buffer.from(enc.record);
          bad[i] = (bad[i] ?? 0) ^ xor;
          expect(codeOf(() => decodeNeedle(bad, 3))).toBe(ErrorCode.CORRUPT);
          const changed = Buffer.from(data);
          changed[at % data.length] = (changed[at % data.length] ?? 0) ^ xor;
          const other = encodeNeedle({ key: 9n, cookie: 1, data: changed, lastModified: 1 }, 3, 2n, 0);
          expect(sameContent(enc.record, decodeNeedle(enc.record, 3).lastModifiedAt, other)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("decode checks and input limits", () => {
  it("accepts the legacy transformed CRC that SeaweedFS < 3.09 wrote", () => {
    const enc = encodeNeedle({ key: 1n, cookie: 1, data: Buffer.from("legacy"), lastModified: 1 }, 3, 1n, 0);
    const at = 16 + enc.size;
    enc.record.writeUInt32BE(legacyCrc(enc.crc), at);
    expect(decodeNeedle(enc.record, 3).data.toString()).toBe("legacy");
  });

  it("rejects a record shorter than its Size, and lengths running past the body", () => {
    const enc = encodeNeedle({ key: 1n, cookie: 1, data: Buffer.from("abcdef"), name: "n", lastModified: 1 }, 3, 1n, 0);
    expect(codeOf(() => decodeNeedle(enc.record.subarray(0, enc.record.length - 8), 3))).toBe(ErrorCode.CORRUPT);
    const bad = Buffer.from(enc.record);
    bad.writeUInt32BE(1000, 16); // DataSize larger than the body
    expect(codeOf(() => decodeNeedle(bad, 3))).toBe(ErrorCode.CORRUPT);
  });

  it("drops a name or mime of 256+ bytes (SeaweedFS), keeps 255", () => {
    const n255 = "x".repeat(255);
    const n256 = "y".repeat(256);
    const d1 = decodeNeedle(
      encodeNeedle({ key: 1n, cookie: 1, data: Buffer.from("a"), name: n255, mime: n256 }, 3, 1n, 0).record,
      3,
    );
    expect(d1.name).toBe(n255);
    expect(d1.mime).toBeUndefined();
  });

  it("keeps an empty blob's name: empty data still gets a body, so it is not a tombstone", () => {
    const enc = encodeNeedle({ key: 1n, cookie: 1, data: Buffer.alloc(0), name: "empty.txt" }, 3, 1n, 0);
    expect(enc.size).toBeGreaterThan(0);
    expect(decodeNeedle(enc.record, 3).name).toBe("empty.txt");
  });

  it("refuses data over the limit (TOO_LARGE) and out-of-range fields (BAD_REQUEST)", () => {
    // Buffer.alloc is lazily backed by zero pages: this does not touch 1 GiB of memory.
    const huge = Buffer.alloc(needleDataBytesMax + 1);
    expect(codeOf(() => encodeNeedle({ key: 1n, cookie: 1, data: huge }, 3, 1n, 0))).toBe(ErrorCode.TOO_LARGE);
    const small = Buffer.from("a");
    expect(codeOf(() => encodeNeedle({ key: -1n, cookie: 1, data: small }, 3, 1n, 0))).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf(() => encodeNeedle({ key: 1n << 64n, cookie: 1, data: small }, 3, 1n, 0))).toBe(
      ErrorCode.BAD_REQUEST,
    );
    expect(codeOf(() => encodeNeedle({ key: 1n, cookie: 2 ** 32, data: small }, 3, 1n, 0))).toBe(ErrorCode.BAD_REQUEST);
    expect(codeOf(() => encodeNeedle({ key: 1n, cookie: 1, data: small, lastModified: 2 ** 40 }, 3, 1n, 0))).toBe(
      ErrorCode.BAD_REQUEST,
    );
    expect(codeOf(() => encodeNeedle({ key: 1n, cookie: 1, data: small, ttl: { count: 1, unit: 7 } }, 3, 1n, 0))).toBe(
      ErrorCode.BAD_REQUEST,
    );
  });
});
