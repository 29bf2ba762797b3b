import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseRange } from "../../../src/volume/http-range.js";
import { rangesMax } from "../../../src/volume/limits.js";

describe("parseRange", () => {
  it("reads the RFC 9110 forms", () => {
    expect(parseRange(undefined, 10)).toEqual({ kind: "full" });
    expect(parseRange("bytes=0-4", 10)).toEqual({ kind: "partial", ranges: [{ start: 0, end: 4 }] });
    expect(parseRange("bytes=5-", 10)).toEqual({ kind: "partial", ranges: [{ start: 5, end: 9 }] });
    expect(parseRange("bytes=-3", 10)).toEqual({ kind: "partial", ranges: [{ start: 7, end: 9 }] });
    expect(parseRange("bytes=-30", 10)).toEqual({ kind: "partial", ranges: [{ start: 0, end: 9 }] });
    expect(parseRange("bytes=8-100", 10)).toEqual({ kind: "partial", ranges: [{ start: 8, end: 9 }] });
    expect(parseRange("bytes=0-1, 4-5", 10)).toEqual({
      kind: "partial",
      ranges: [
        { start: 0, end: 1 },
        { start: 4, end: 5 },
      ],
    });
  });

  it("is 416 when nothing overlaps, and ignores what it cannot or should not honour", () => {
    expect(parseRange("bytes=10-", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-0", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=20-30,40-", 10)).toEqual({ kind: "unsatisfiable" });
    // Overlapping ranges summing past the body (amplification), malformed, other units: whole body.
    expect(parseRange("bytes=0-9,0-9", 10)).toEqual({ kind: "full" });
    expect(parseRange("bytes=5-2", 10)).toEqual({ kind: "full" });
    expect(parseRange("bytes=a-b", 10)).toEqual({ kind: "full" });
    expect(parseRange("bytes=1", 10)).toEqual({ kind: "full" });
    expect(parseRange("items=0-1", 10)).toEqual({ kind: "full" });
    expect(parseRange("bytes=0-0", 0)).toEqual({ kind: "full" });
    const many = "bytes=" + Array.from({ length: rangesMax + 1 }, (_, i) => `${i}-${i}`).join(",");
    expect(parseRange(many, 1000)).toEqual({ kind: "full" });
  });

  it("only ever yields ranges inside the body whose lengths sum to at most its size", () => {
    const spec = fc.oneof(
      fc.tuple(fc.nat(2000), fc.nat(2000)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
      fc.nat(2000).map((a) => `${a}-`),
      fc.nat(2000).map((n) => `-${n}`),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1500 }), fc.array(spec, { minLength: 1, maxLength: 5 }), (size, specs) => {
        const r = parseRange(`bytes=${specs.join(",")}`, size);
        if (r.kind !== "partial") return;
        let total = 0;
        for (const { start, end } of r.ranges) {
          expect(start).toBeGreaterThanOrEqual(0);
          expect(end).toBeGreaterThanOrEqual(start);
          expect(end).toBeLessThan(size);
          total += end - start + 1;
        }
        expect(total).toBeLessThanOrEqual(size);
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with a naive reading for one range", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.nat(600), fc.nat(600), (size, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const r = parseRange(`bytes=${lo}-${hi}`, size);
        if (lo >= size) expect(r).toEqual({ kind: "unsatisfiable" });
        else expect(r).toEqual({ kind: "partial", ranges: [{ start: lo, end: Math.min(hi, size - 1) }] });
      }),
      { numRuns: 500 },
    );
  });
});
