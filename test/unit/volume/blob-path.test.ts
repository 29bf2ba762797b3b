// parseBlobPath (the GET and PUT hot path's fid parser) answers exactly what parseFidPath answers:
// the same fid for the plain "/<vid>,<key><cookie>" form, and every other path handed to parseFidPath.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFidPath } from "../../../src/common/fid.js";
import { parseBlobPath, parsePlainFid } from "../../../src/volume/handlers-read.js";

function outcome(parse: (p: string) => unknown, path: string): unknown {
  try {
    return { ok: parse(path) };
  } catch (err) {
    return { err: (err as Error).message };
  }
}

const hex = fc.stringMatching(/^[0-9a-fA-F]{1,26}$/);
const plain = fc.tuple(fc.nat({ max: 2 ** 33 }), hex).map(([vid, h]) => `/${vid},${h}`);
const other = fc.oneof(
  fc.string({ maxLength: 30 }).map((s) => `/${s}`),
  fc.tuple(plain, fc.constantFrom(".jpg", "_3", "/name.txt", "_", ".")).map(([p, tail]) => p + tail),
  fc.tuple(fc.nat({ max: 99 }), hex).map(([vid, h]) => `/${vid}/${h}`),
);

describe("parseBlobPath", () => {
  it("agrees with parseFidPath on plain fids, other forms and junk", () => {
    fc.assert(
      fc.property(fc.oneof(plain, other), (path) => {
        expect(outcome(parseBlobPath, path)).toEqual(outcome(parseFidPath, path));
      }),
      { numRuns: 2000 },
    );
  });

  it("parses the plain form itself", () => {
    expect(parseBlobPath("/3,01637037d6")).toEqual({
      fid: { volumeId: 3, key: 0x01n, cookie: 0x637037d6 },
      fileName: undefined,
      ext: "",
    });
  });
});

describe("parsePlainFid", () => {
  it("reads every plain fid parseBlobPath reads, to the same numbers, and nothing else", () => {
    fc.assert(
      fc.property(fc.oneof(plain, other), (path) => {
        const split = parsePlainFid(path);
        const full = outcome(parseBlobPath, path) as {
          ok?: { fid: { volumeId: number; key: bigint; cookie: number } };
        };
        const isPlain = /^\/(\d{1,10}),([0-9a-fA-F]{9,24})$/.test(path) && full.ok !== undefined;
        if (!isPlain) {
          expect(split).toBeUndefined();
          return;
        }
        const { volumeId, key, cookie } = full.ok!.fid;
        expect(split).toEqual({ volumeId, keyHi: Number(key >> 32n), keyLo: Number(key & 0xffffffffn), cookie });
      }),
      { numRuns: 3000 },
    );
  });

  it("splits a 16-digit key into its halves", () => {
    expect(parsePlainFid("/7,0123456789abcdefDEADBEEF")).toEqual({
      volumeId: 7,
      keyHi: 0x01234567,
      keyLo: 0x89abcdef,
      cookie: 0xdeadbeef,
    });
    expect(parsePlainFid("/4294967296,01deadbeef")).toBeUndefined(); // over 2^32-1: parseFidPath refuses it
  });
});
