// Runs one benchmark phase: `concurrency` workers share a counter of `planned` requests, each
// request timed into one histogram; a timer prints progress. A request that throws is a failed
// request (its reason tallied), never an error of the phase. The signal stops the phase: no new
// requests start, and requests cut short by it are neither completed nor failed.
import { performance } from "node:perf_hooks";
import { ErrorTally, describeError } from "./error-tally.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { buildPhaseReport, formatPhaseHeader, formatProgressLine } from "./report-format.js";
import type { PhaseName, PhaseReport } from "./report-format.js";

/**
 * Makes request number `index` on behalf of `worker`; resolves with the bytes moved, throws on
 * failure. HTTP requests do not take the signal (an abort listener per request costs on the hot
 * path): runBenchmark destroys the connection pools on abort instead, which fails them at once.
 */
export type RequestFn = (worker: number, index: number, signal: AbortSignal) => Promise<number>;

export interface PhaseParams {
  phase: PhaseName;
  concurrency: number;
  planned: number;
  progressIntervalMs: number;
  out: NodeJS.WritableStream;
  signal: AbortSignal;
}

export async function runPhase(p: PhaseParams, request: RequestFn): Promise<PhaseReport> {
  const hist = new LatencyHistogram();
  const errors = new ErrorTally();
  let next = 0;
  let completed = 0;
  let failed = 0;
  let transferred = 0;

  p.out.write(formatPhaseHeader(p.phase));
  const start = performance.now();
  let last = { at: start, completed: 0, transferred: 0 };
  const progress = setInterval(() => {
    const now = performance.now();
    p.out.write(
      formatProgressLine(
        completed,
        p.planned,
        completed - last.completed,
        transferred - last.transferred,
        now - last.at,
      ),
    );
    last = { at: now, completed, transferred };
  }, p.progressIntervalMs);
  progress.unref();

  const worker = async (w: number): Promise<void> => {
    while (!p.signal.aborted && next < p.planned) {
      const index = next++;
      const t0 = performance.now();
      try {
        const bytes = await request(w, index, p.signal);
        hist.record(performance.now() - t0);
        completed++;
        transferred += bytes;
      } catch (err) {
        if (p.signal.aborted) break;
        failed++;
        errors.add(describeError(err));
      }
    }
  };

  try {
    const workers: Array<Promise<void>> = [];
    for (let w = 0; w < p.concurrency; w++) workers.push(worker(w));
    await Promise.all(workers);
  } finally {
    clearInterval(progress);
  }
  const elapsedMs = performance.now() - start;
  return buildPhaseReport(
    {
      phase: p.phase,
      concurrency: p.concurrency,
      planned: p.planned,
      completed,
      failed,
      transferredBytes: transferred,
      elapsedMs,
      aborted: completed + failed < p.planned,
    },
    hist,
    errors.list(),
  );
}
