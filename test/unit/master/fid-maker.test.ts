// Checks that the BigInt-free fid formatter on the assign path prints exactly what the shared
// codec prints and parses back to the same parts (property-based over keys below 2^53).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { formatFid, parseFid } from "../../../src/common/fid.js";
import { CookieSource, formatFidNumber } from "../../../src/master/topology/fid-maker.js";

describe("formatFidNumber", () => {
  it("matches formatFid and round-trips through parseFid", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (vid, key, cookie) => {
          const text = formatFidNumber(vid, key, cookie);
          expect(text).toBe(formatFid({ volumeId: vid, key: BigInt(key), cookie }));
          expect(parseFid(text)).toEqual({ volumeId: vid, key: BigInt(key), cookie });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("prints SeaweedFS's example", () => {
    expect(formatFidNumber(3, 0x01, 0x637037d6)).toBe("3,01637037d6");
  });
});

describe("CookieSource", () => {
  it("yields uint32 values that vary across refills", () => {
    const c = new CookieSource(4);
    const values = Array.from({ length: 64 }, () => c.next());
    for (const v of values) expect(v >>> 0).toBe(v);
    expect(new Set(values).size).toBeGreaterThan(60);
  });
});
