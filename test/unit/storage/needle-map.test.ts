// The typed-array needle map, checked against a deliberately naive Map on random operations, plus
// its memory budget (1,000,000 needles in <= 40 MB).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NeedleMap } from "../../../src/volume/storage/needle-map.js";

type Op = { kind: "put"; hi: number; lo: number; size: number } | { kind: "remove"; hi: number; lo: number };

// A small hot range so puts overwrite and removes hit, and a wide one so the table grows past its
// 1024 initial slots; hi mostly 0 like real keys.
const LO_MAX = 5000;
const keyArb = fc.record({
  hi: fc.constantFrom(0, 0, 0, 1, 0xffffffff),
  lo: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: LO_MAX })),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("put" as const),
      hi: keyArb.map((k) => k.hi),
      lo: keyArb.map((k) => k.lo),
      size: fc.integer({ min: 1, max: 1 << 20 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("remove" as const),
      hi: keyArb.map((k) => k.hi),
      lo: keyArb.map((k) => k.lo),
    }),
  },
);

describe("NeedleMap", () => {
  it("behaves like a plain Map under random puts and removes, through growth and backward-shift deletes", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 4000, size: "max" }), (ops) => {
        const m = new NeedleMap();
        const model = new Map<string, { offset: number; size: number }>();
        const wrong: string[] = []; // plain checks in the loop: expect() per op is slow
        let deleted = 0;
        let deletedBytes = 0;
        let offset = 1;
        for (const op of ops) {
          const k = `${op.hi}:${op.lo}`;
          const before = model.get(k);
          const want = before === undefined ? -1 : before.size;
          const got = op.kind === "put" ? m.put(op.hi, op.lo, offset, op.size) : m.remove(op.hi, op.lo);
          if (got !== want) wrong.push(`${op.kind} ${k}: got ${got}, want ${want}`);
          if (before !== undefined) {
            deleted++;
            deletedBytes += before.size;
          }
          if (op.kind === "put") model.set(k, { offset: offset++, size: op.size });
          else model.delete(k);
        }
        for (const [k, v] of model) {
          const [hi, lo] = k.split(":").map(Number) as [number, number];
          const slot = m.find(hi, lo);
          if (slot < 0 || m.offsetAt(slot) !== v.offset || m.sizeAt(slot) !== v.size) wrong.push(`find ${k}`);
        }
        let visited = 0;
        m.forEach((hi, lo, off) => {
          visited++;
          if (model.get(`${hi}:${lo}`)?.offset !== off) wrong.push(`forEach ${hi}:${lo}`);
        });
        for (let lo = 0; lo <= LO_MAX; lo++) {
          if (!model.has(`0:${lo}`) && m.find(0, lo) !== -1) wrong.push(`absent 0:${lo} found`);
        }
        expect(wrong).toEqual([]);
        expect(m.count).toBe(model.size);
        expect(visited).toBe(model.size);
        expect(m.deleteCount).toBe(deleted);
        expect(m.deletedBytes).toBe(deletedBytes);
      }),
      { numRuns: 40 },
    );
  });

  it("tracks the largest key ever seen, deleted or not", () => {
    const m = new NeedleMap();
    m.put(0, 5, 1, 10);
    m.put(1, 0, 2, 10);
    m.remove(1, 0);
    m.remove(2, 7); // absent, but the key was used
    expect([m.maxKeyHi, m.maxKeyLo]).toEqual([2, 7]);
    expect(m.count).toBe(1);
  });

  it("holds 1,000,000 needles in at most 40 MB, grown from empty or pre-sized", () => {
    const n = 1_000_000;
    const before = process.memoryUsage().arrayBuffers;
    const grown = new NeedleMap();
    for (let i = 1; i <= n; i++) grown.put(0, i, i, 1024);
    const after = process.memoryUsage().arrayBuffers;
    expect(grown.count).toBe(n);
    expect(grown.byteLength).toBeLessThanOrEqual(40 * 1024 * 1024);
    // The old tables are garbage now; what is held is at most the final table and one predecessor.
    expect(after - before).toBeLessThanOrEqual(40 * 1024 * 1024 + grown.byteLength);
    const sized = new NeedleMap(n);
    for (let i = 1; i <= n; i++) sized.put(0, i, i, 1024);
    expect(sized.byteLength).toBeLessThanOrEqual(40 * 1024 * 1024);
    for (let i = 1; i <= n; i += 9973) expect(sized.sizeAt(sized.find(0, i))).toBe(1024);
    expect(sized.find(0, n + 1)).toBe(-1);
  });
});
