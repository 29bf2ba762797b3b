import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBenchmark } from "../../benchmark/benchmark.js";
import type { BenchmarkReport } from "../../benchmark/report-format.js";
import type { Command } from "../command.js";
import { replicationCheck } from "../common-flags.js";
import { bool, int, nonEmptyCheck, positiveCheck, str, UsageError, type FlagSpec } from "../flags.js";
import { securityFlag, securityFromFlags } from "../security-flags.js";

const benchmarkFlags: readonly FlagSpec[] = [
  { name: "master", type: "string", default: "localhost:9333", usage: "master host:port", check: nonEmptyCheck },
  { name: "c", type: "int", default: 16, usage: "number of concurrent requests", check: positiveCheck },
  { name: "n", type: "int", default: 1048576, usage: "number of files in all (not per thread)", check: positiveCheck },
  { name: "size", type: "int", default: 1024, usage: "file size in bytes (plus a random 0-63)", check: positiveCheck },
  { name: "collection", type: "string", default: "benchmark", usage: "collection to write into" },
  { name: "replication", type: "string", default: "000", usage: "replica placement", check: replicationCheck },
  { name: "writeOnly", type: "bool", default: false, usage: "only write" },
  { name: "readOnly", type: "bool", default: false, usage: "only read the files listed in -list" },
  {
    name: "list",
    type: "string",
    default: join(tmpdir(), "benchmark_list.txt"),
    usage: "file that keeps the written file ids",
  },
  { name: "fsync", type: "bool", default: false, usage: "ask the volume servers to fsync each write" },
  securityFlag,
];

export const benchmarkCommand: Command = {
  name: "benchmark",
  summary: "Writes then randomly reads many small files and prints throughput and latency percentiles.",
  flags: benchmarkFlags,
  async run(flags, io) {
    const v = flags.values;
    if (bool(v, "writeOnly") && bool(v, "readOnly"))
      throw new UsageError("flags -writeOnly and -readOnly exclude each other");
    const security = securityFromFlags(v, (w) => io.err.write(`warning: ${w}\n`));
    const ac = new AbortController();
    const onSignal = (): void => ac.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      const report = await runBenchmark(
        {
          master: str(v, "master"),
          concurrency: int(v, "c"),
          n: int(v, "n"),
          size: int(v, "size"),
          collection: str(v, "collection"),
          replication: str(v, "replication"),
          writeOnly: bool(v, "writeOnly"),
          readOnly: bool(v, "readOnly"),
          list: str(v, "list"),
          fsync: bool(v, "fsync"),
          security,
        },
        io.out,
        ac.signal,
      );
      return hasFailures(report) ? 1 : 0;
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};

function hasFailures(report: BenchmarkReport): boolean {
  return (report.write?.failed ?? 0) + (report.read?.failed ?? 0) > 0;
}
