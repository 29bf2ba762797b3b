import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LatencyHistogram, percentileRank } from "../../../src/benchmark/latency-histogram.js";
import { REPORT_PERCENTS } from "../../../src/benchmark/report-format.js";

/** The deliberately naive version: sort everything, take the nearest-rank element. */
function naivePercentile(samples: readonly number[], percent: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((percent * sorted.length) / 100)) - 1]!;
}

function naiveStd(samples: readonly number[]): number {
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length);
}

/** The documented bound: half a bucket, i.e. 0.5 µs below 256 µs, else 1/256 of the value. */
function tolerance(exactMs: number): number {
  return Math.max(0.0005, exactMs / 256) + 1e-9;
}

// Latencies as a benchmark sees them: mostly sub-millisecond, some tens of ms, rare seconds-long.
const latencyMs = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.double({ min: 0, max: 100, noNaN: true }),
  fc.double({ min: 0, max: 100_000, noNaN: true }),
  fc.integer({ min: 0, max: 5000 }).map((us) => us / 1000),
);

describe("LatencyHistogram", () => {
  it("percentiles stay within half a bucket of a naive sort", () => {
    fc.assert(
      fc.property(
        fc.array(latencyMs, { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 1, max: 100 }),
        (samples, extraPercent) => {
          const h = new LatencyHistogram();
          for (const s of samples) h.record(s);
          for (const p of [...REPORT_PERCENTS, extraPercent]) {
            const exact = naivePercentile(samples, p);
            const got = h.percentile(p);
            if (Math.abs(got - exact) > tolerance(exact)) {
              throw new Error(`p${p}: histogram ${got} vs exact ${exact}`);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("min, max, mean and std are exact", () => {
    fc.assert(
      fc.property(fc.array(latencyMs, { minLength: 1, maxLength: 300 }), (samples) => {
        const h = new LatencyHistogram();
        for (const s of samples) h.record(s);
        expect(h.count).toBe(samples.length);
        expect(h.min).toBe(Math.min(...samples));
        expect(h.max).toBe(Math.max(...samples));
        expect(h.percentile(100)).toBe(Math.max(...samples));
        const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
        expect(Math.abs(h.mean - mean)).toBeLessThanOrEqual(1e-9 * Math.max(1, mean));
        const std = naiveStd(samples);
        expect(Math.abs(h.std - std)).toBeLessThanOrEqual(1e-6 * Math.max(1, std));
      }),
      { numRuns: 200 },
    );
  });

  it("reports zeros with no samples", () => {
    const h = new LatencyHistogram();
    expect([h.count, h.min, h.max, h.mean, h.std, h.percentile(50), h.percentile(100)]).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it("keeps samples past its range in the last bucket without losing max", () => {
    const h = new LatencyHistogram();
    h.record(1);
    h.record(5e9); // 58 days
    expect(h.percentile(100)).toBe(5e9);
    expect(h.percentile(50)).toBe(1);
    expect(h.percentile(99)).toBeLessThanOrEqual(5e9);
    expect(h.percentile(99)).toBeGreaterThan(2e6);
  });

  it("uses the nearest-rank definition", () => {
    expect(percentileRank(50, 1)).toBe(1);
    expect(percentileRank(50, 10)).toBe(5);
    expect(percentileRank(66, 10)).toBe(7);
    expect(percentileRank(99, 1000)).toBe(990);
    expect(percentileRank(100, 7)).toBe(7);
    expect(percentileRank(0, 7)).toBe(1);
  });
});
