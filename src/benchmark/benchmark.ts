// `weed-ts benchmark`: SeaweedFS's `weed benchmark` (weed/command/benchmark.go). Writes -n files
// of -size (+0..63) bytes with -c workers, saves their fids to -list, then reads -n random fids
// back; prints ab-style stats per phase. Differences from SeaweedFS: assign goes over HTTP
// /dir/assign (not gRPC), file bytes and padding are derived from the fid so reads are verified,
// and only completed requests are timed.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode, WeedError } from "../common/errors.js";
import { httpAddress, parseServerAddress } from "../common/server-address.js";
import { FidListWriter, readFidList } from "./fid-list.js";
import { HttpPools } from "./http-pools.js";
import { concurrencyMax, filesMax, fileBytesMax, progressIntervalMsDefault } from "./limits.js";
import { runPhase } from "./phase-runner.js";
import { readRequests } from "./read-phase.js";
import { buildPhaseReport, formatPhaseHeader, formatPhaseReport } from "./report-format.js";
import type { BenchmarkReport, PhaseReport } from "./report-format.js";
import { LatencyHistogram } from "./latency-histogram.js";
import { writeRequests } from "./write-phase.js";
import type { SecurityConfig } from "../common/security/config.js";

export type { BenchmarkReport, PhaseReport } from "./report-format.js";

export interface BenchmarkOptions {
  /** Master HTTP "host:port" (a comma list is accepted; the first is used). */
  master: string;
  /** -c: concurrent workers, default 16. */
  concurrency: number;
  /** -n: total files written, and random reads made, default 1048576. */
  n: number;
  /** -size: bytes per file, plus 0..63 padding bytes chosen by the fid; default 1024. */
  size: number;
  collection: string;
  replication: string;
  writeOnly: boolean;
  readOnly: boolean;
  /** -list: file of written fids, default os.tmpdir()/benchmark_list.txt. */
  list: string;
  /** -fsync: uploads ask the volume server to fsync before answering. */
  fsync: boolean;
  progressIntervalMs?: number;
  /** Uniform in [0, 1): which fid each read picks. Default: Math.random. */
  random?: () => number;
  /** security.toml as loaded by the CLI (-security); absent = an open cluster. */
  security?: SecurityConfig;
}

export const benchmarkDefaults = {
  master: "localhost:9333",
  concurrency: 16,
  n: 1024 * 1024,
  size: 1024,
  collection: "benchmark",
  replication: "000",
  writeOnly: false,
  readOnly: false,
  list: join(tmpdir(), "benchmark_list.txt"),
  fsync: false,
} as const satisfies BenchmarkOptions;

export const BENCHMARK_USAGE = `Usage: weed-ts benchmark -master=localhost:9333 -c=16 -n=100000

  Benchmark by writing many small files and reading them back at random.
  1) write: each file is one /dir/assign on the master plus one upload to the assigned volume
     server; the written file ids are saved to -list
  2) read: -n random file ids from -list, located with /dir/lookup (cached per volume) and read
     with GET; each read's length is checked, and every 16th read's content
  File contents are pseudo-random bytes derived from the file id (not compressible).
  Tip: grow the benchmark volumes first, e.g. http://localhost:9333/vol/grow?collection=benchmark&count=4
  and clean up afterwards with http://localhost:9333/col/delete?collection=benchmark

Flags:
  -master string       master HTTP address host:port (default "localhost:9333")
  -c int               number of concurrent write or read workers (default 16)
  -n int               total number of files to write, and of random reads (default 1048576)
  -size int            file size in bytes, plus 0..63 padding bytes (default 1024);
                       a -readOnly run must use the -size the files were written with
  -collection string   write data to this collection (default "benchmark")
  -replication string  replication type (default "000")
  -writeOnly           only benchmark writes
  -readOnly            only benchmark reads, of the file ids in -list
  -list string         file of written file ids, one a line (default "${benchmarkDefaults.list}")
  -fsync               ask the volume server to fsync each upload before answering
`;

function badOption(name: string, value: unknown, why: string, cause?: unknown): WeedError {
  return new WeedError(ErrorCode.BAD_PARAM, `benchmark option -${name}=${JSON.stringify(value)}: ${why}`, { cause });
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw badOption(name, value, `must be an integer from ${min} to ${max}`);
  }
}

/** Validates the options once and returns the master's "host:port". */
function validate(opts: BenchmarkOptions): string {
  checkInt("c", opts.concurrency, 1, concurrencyMax);
  checkInt("n", opts.n, 1, filesMax);
  checkInt("size", opts.size, 0, fileBytesMax);
  if (opts.progressIntervalMs !== undefined) checkInt("progressIntervalMs", opts.progressIntervalMs, 1, 3_600_000);
  if (opts.writeOnly && opts.readOnly) throw badOption("readOnly", true, "-writeOnly and -readOnly exclude each other");
  if (opts.list === "") throw badOption("list", opts.list, "must name a file");
  // "" lets the master apply its -defaultReplication, as in SeaweedFS.
  if (!/^([0-9]{3})?$/.test(opts.replication))
    throw badOption("replication", opts.replication, "must be three digits like 000");
  const first = opts.master
    .split(",")[0]!
    .trim()
    .replace(/^http:\/\//, "");
  try {
    return httpAddress(parseServerAddress(first));
  } catch (err) {
    throw badOption("master", opts.master, "expected host:port", err);
  }
}

function emptyReadReport(concurrency: number, planned: number): PhaseReport {
  return buildPhaseReport(
    { phase: "read", concurrency, planned, completed: 0, failed: 0, transferredBytes: 0, elapsedMs: 0, aborted: false },
    new LatencyHistogram(),
    [],
  );
}

/**
 * Runs the benchmark, printing progress and the report to `out`. Failed requests are counted in
 * the report, never thrown; this throws only for bad options and an unusable -list file.
 */
export async function runBenchmark(
  opts: BenchmarkOptions,
  out: NodeJS.WritableStream,
  signal?: AbortSignal,
): Promise<BenchmarkReport> {
  const master = validate(opts);
  const stop = signal ?? new AbortController().signal;
  const progressIntervalMs = opts.progressIntervalMs ?? progressIntervalMsDefault;
  const pools = new HttpPools(opts.concurrency);
  const report: BenchmarkReport = { write: undefined, read: undefined, aborted: false };
  const phase = { concurrency: opts.concurrency, planned: opts.n, progressIntervalMs, out, signal: stop };
  // Requests in flight are cut short by destroying their sockets (see RequestFn).
  const onAbort = (): void => void pools.close();
  stop.addEventListener("abort", onAbort, { once: true });
  try {
    if (!opts.readOnly) {
      const list = await FidListWriter.create(opts.list);
      try {
        report.write = await runPhase({ ...phase, phase: "write" }, writeRequests({ ...opts, master }, pools, list));
      } finally {
        await list.close();
      }
      out.write(formatPhaseReport(report.write));
    }
    if (!opts.writeOnly && !stop.aborted) {
      const fids = await readFidList(opts.list);
      if (fids.length === 0) {
        out.write(formatPhaseHeader("read") + `No file ids in ${opts.list}: nothing to read.\n`);
        report.read = emptyReadReport(opts.concurrency, opts.n);
      } else {
        const random = opts.random ?? Math.random;
        const signedReads = opts.security?.jwtSigningRead !== undefined;
        report.read = await runPhase(
          { ...phase, phase: "read" },
          readRequests({ ...opts, master, random, signedReads }, pools, fids),
        );
        out.write(formatPhaseReport(report.read));
      }
    }
  } finally {
    stop.removeEventListener("abort", onAbort);
    await pools.close();
  }
  report.aborted = stop.aborted;
  return report;
}
