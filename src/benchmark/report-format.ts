// The ab-style text SeaweedFS's `weed benchmark` prints (weed/command/benchmark.go printStats and
// checkProgress), built from plain report data so it can be tested without running anything.
import type { ErrorCount } from "./error-tally.js";
import type { LatencyHistogram } from "./latency-histogram.js";

/** The percentiles SeaweedFS prints. */
export const REPORT_PERCENTS: readonly number[] = [50, 66, 75, 80, 90, 95, 98, 99, 100];

export type PhaseName = "write" | "read";

export interface PhaseReport {
  phase: PhaseName;
  concurrency: number;
  /** Requests the phase meant to make (-n). */
  planned: number;
  timeTakenSec: number;
  completed: number;
  failed: number;
  transferredBytes: number;
  requestsPerSec: number;
  transferKBPerSec: number;
  latencyMs: { min: number; avg: number; max: number; std: number };
  percentilesMs: Array<{ percent: number; ms: number }>;
  errors: ErrorCount[];
  /** True when the signal stopped the phase before `planned` requests were made. */
  aborted: boolean;
}

export interface BenchmarkReport {
  write: PhaseReport | undefined;
  read: PhaseReport | undefined;
  aborted: boolean;
}

export interface PhaseCounts {
  phase: PhaseName;
  concurrency: number;
  planned: number;
  completed: number;
  failed: number;
  transferredBytes: number;
  elapsedMs: number;
  aborted: boolean;
}

export function buildPhaseReport(c: PhaseCounts, hist: LatencyHistogram, errors: ErrorCount[]): PhaseReport {
  const sec = c.elapsedMs / 1000;
  const perSec = (x: number): number => (sec > 0 ? x / sec : 0);
  return {
    phase: c.phase,
    concurrency: c.concurrency,
    planned: c.planned,
    timeTakenSec: sec,
    completed: c.completed,
    failed: c.failed,
    transferredBytes: c.transferredBytes,
    requestsPerSec: perSec(c.completed),
    transferKBPerSec: perSec(c.transferredBytes / 1024),
    latencyMs: { min: hist.min, avg: hist.mean, max: hist.max, std: hist.std },
    percentilesMs: REPORT_PERCENTS.map((percent) => ({ percent, ms: hist.percentile(percent) })),
    errors,
    aborted: c.aborted,
  };
}

export function phaseTitle(phase: PhaseName): string {
  return phase === "write" ? "Writing Benchmark" : "Randomly Reading Benchmark";
}

export function formatPhaseHeader(phase: PhaseName): string {
  return `\n------------ ${phaseTitle(phase)} ----------\n`;
}

/** "Completed 1200 of 100000 requests, 1.2% 1198.3/s 1.2MB/s" */
export function formatProgressLine(
  completed: number,
  planned: number,
  deltaCompleted: number,
  deltaBytes: number,
  deltaMs: number,
): string {
  const pct = planned > 0 ? (completed * 100) / planned : 0;
  const sec = deltaMs > 0 ? deltaMs / 1000 : 1;
  const mbPerSec = deltaBytes / sec / (1024 * 1024);
  const rates = `${(deltaCompleted / sec).toFixed(1)}/s ${mbPerSec.toFixed(1)}MB/s`;
  return `Completed ${completed} of ${planned} requests, ${pct.toFixed(1)}% ${rates}\n`;
}

const ms1 = (x: number): string => x.toFixed(1);

export function formatPhaseReport(r: PhaseReport): string {
  const lines = [
    "",
    `Concurrency Level:      ${r.concurrency}`,
    `Time taken for tests:   ${r.timeTakenSec.toFixed(3)} seconds`,
    `Completed requests:     ${r.completed}`,
    `Failed requests:        ${r.failed}`,
    `Total transferred:      ${r.transferredBytes} bytes`,
    `Requests per second:    ${r.requestsPerSec.toFixed(2)} [#/sec]`,
    `Transfer rate:          ${r.transferKBPerSec.toFixed(2)} [Kbytes/sec]`,
  ];
  if (r.aborted) lines.push(`Stopped early:          ${r.completed + r.failed} of ${r.planned} requests made`);
  const l = r.latencyMs;
  lines.push(
    "",
    "Connection Times (ms)",
    "              min      avg        max      std",
    `Total:        ${ms1(l.min).padEnd(9)}${ms1(l.avg).padEnd(11)}${ms1(l.max).padEnd(9)}${ms1(l.std)}`,
    "",
    "Percentage of the requests served within a certain time (ms)",
  );
  for (const { percent, ms } of r.percentilesMs) {
    lines.push(`  ${String(percent).padStart(3)}%    ${ms1(ms).padStart(5)} ms`);
  }
  if (r.errors.length > 0) {
    lines.push("", "Errors (first distinct reasons):");
    for (const e of r.errors) lines.push(`  ${String(e.count).padStart(8)} x ${e.message}`);
  }
  return lines.join("\n") + "\n";
}
