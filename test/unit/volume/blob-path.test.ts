// parseBlobPath (the GET and PUT hot path's fid parser) answers exactly what parseFidPath answers:
// the same fid for the plain "/<vid>,<key><cookie>" form, and every other path handed to parseFidPath.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFidPath } from "../../../src/common/fid.js";
import { parseBlobPath } from "../../../src/volume/handlers-read.js";

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
