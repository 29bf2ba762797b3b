import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "../../../src/benchmark/latency-histogram.js";
import {
  buildPhaseReport,
  formatPhaseHeader,
  formatPhaseReport,
  formatProgressLine,
} from "../../../src/benchmark/report-format.js";
import type { PhaseReport } from "../../../src/benchmark/report-format.js";

function histogramOf(samples: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const s of samples) h.record(s);
  return h;
}

describe("report format", () => {
  it("prints SeaweedFS's ab-style report", () => {
    const report: PhaseReport = {
      phase: "write",
      concurrency: 16,
      planned: 102,
      timeTakenSec: 2,
      completed: 100,
      failed: 2,
      transferredBytes: 105_000,
      requestsPerSec: 50,
      transferKBPerSec: 105_000 / 1024 / 2,
      latencyMs: { min: 1, avg: 50.5, max: 100, std: 28.866 },
      percentilesMs: [50, 66, 75, 80, 90, 95, 98, 99, 100].map((percent) => ({ percent, ms: percent })),
      errors: [{ message: "upload: HTTP 500: boom", count: 2 }],
      aborted: false,
    };
    expect(formatPhaseReport(report)).toBe(
      [
        "",
        "Concurrency Level:      16",
        "Time taken for tests:   2.000 seconds",
        "Completed requests:     100",
        "Failed requests:        2",
        "Total transferred:      105000 bytes",
        "Requests per second:    50.00 [#/sec]",
        "Transfer rate:          51.27 [Kbytes/sec]",
        "",
        "Connection Times (ms)",
        "              min      avg        max      std",
        "Total:        1.0      50.5       100.0    28.9",
        "",
        "Percentage of the requests served within a certain time (ms)",
        "   50%     50.0 ms",
        "   66%     66.0 ms",
        "   75%     75.0 ms",
        "   80%     80.0 ms",
        "   90%     90.0 ms",
        "   95%     95.0 ms",
        "   98%     98.0 ms",
        "   99%     99.0 ms",
        "  100%    100.0 ms",
        "",
        "Errors (first distinct reasons):",
        "         2 x upload: HTTP 500: boom",
        "",
      ].join("\n"),
    );
  });

  it("builds a report's rates and latency figures from counts and a histogram", () => {
    // 1..100 ms, one each: the p-th percentile is p ms (within the histogram's half bucket).
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    const report = buildPhaseReport(
      {
        phase: "write",
        concurrency: 16,
        planned: 102,
        completed: 100,
        failed: 2,
        transferredBytes: 105_000,
        elapsedMs: 2_000,
        aborted: false,
      },
      histogramOf(samples),
      [],
    );
    expect(report.timeTakenSec).toBe(2);
    expect(report.requestsPerSec).toBe(50);
    expect(report.transferKBPerSec).toBeCloseTo(105_000 / 1024 / 2, 9);
    expect(report.latencyMs.min).toBe(1);
    expect(report.latencyMs.max).toBe(100);
    expect(report.latencyMs.avg).toBeCloseTo(50.5, 9);
    expect(report.latencyMs.std).toBeCloseTo(Math.sqrt((100 * 100 - 1) / 12), 6);
    expect(report.percentilesMs.map((p) => p.percent)).toEqual([50, 66, 75, 80, 90, 95, 98, 99, 100]);
    for (const { percent, ms } of report.percentilesMs)
      expect(Math.abs(ms - percent)).toBeLessThanOrEqual(percent / 256);
  });

  it("says when a phase stopped early and prints zeros for an empty one", () => {
    const report = buildPhaseReport(
      {
        phase: "read",
        concurrency: 4,
        planned: 10,
        completed: 0,
        failed: 0,
        transferredBytes: 0,
        elapsedMs: 0,
        aborted: true,
      },
      new LatencyHistogram(),
      [],
    );
    const text = formatPhaseReport(report);
    expect(report.requestsPerSec).toBe(0);
    expect(text).toContain("Stopped early:          0 of 10 requests made\n");
    expect(text).toContain("Total:        0.0      0.0        0.0      0.0\n");
    expect(text).not.toContain("Errors");
  });

  it("prints SeaweedFS's phase headers and progress line", () => {
    expect(formatPhaseHeader("write")).toBe("\n------------ Writing Benchmark ----------\n");
    expect(formatPhaseHeader("read")).toBe("\n------------ Randomly Reading Benchmark ----------\n");
    expect(formatProgressLine(1200, 100_000, 600, 600 * 1024 * 1024, 500)).toBe(
      "Completed 1200 of 100000 requests, 1.2% 1200.0/s 1200.0MB/s\n",
    );
  });
});
