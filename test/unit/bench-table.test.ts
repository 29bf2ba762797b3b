// scripts/bench-table.mjs: what `npm run bench:all` makes of the benchmarks' output (issue 15), on
// output captured from the scripts, and the table it prints.
import { describe, expect, it } from "vitest";
import {
  GOALS,
  blobFigures,
  failureLine,
  formatTable,
  parseFailoverKills,
  makeRow,
  median,
  parseBlobRows,
  parseResultLine,
  parseScale,
  percentile,
  selectParts,
  verdict,
} from "../../scripts/bench-table.mjs";

// bench-blob's table, two rounds (the order of bare and weed-ts swapped in the second).
const BLOB_OUTPUT = [
  "weed-ts volume server vs bare node:http, 1 KB bodies, wrk (load average of the run's start)",
  "round   case    server       req/s     p50 ms     p99 ms cpu us/req        err     non2xx       load",
  "1       get     bare         20000      1.000      5.000       40.0          0          0       2.10",
  "1       get     weed         10000      2.000      9.000       90.0          0          0       2.10",
  "1       put     bare         16000      1.000      5.000       50.0          0          0       2.20",
  "1       put     weed          8000      2.000      9.000      120.0          0          0       2.20",
  "2       get     weed         18000      1.000      4.000       60.0          0          0       1.90",
  "2       get     bare         24000      1.000      3.000       40.0          0          0       1.90",
  "2       put     weed         12000      1.500      6.000       80.0          0          0       1.80",
  "2       put     bare         16000      1.000      5.000       50.0          0          0       1.80",
  "",
  "ratio weed-ts / bare, per round (req/s; cpu per request bare / weed-ts)",
  "get weed  req/s 0.50 0.75  median 0.62 (goal >= 0.85: BELOW GOAL);  cpu 0.44 0.67",
].join("\n");

// bench-scale's report and failover lines, as it prints them.
const SCALE_OUTPUT = [
  "[12.0s] every server listed after 8.1 s; measuring 20 s (load 3.10 2.00 1.50)",
  "",
  "bench-scale results",
  "  servers 1000 x 100 volumes, pulse 5 s, 2 fleet processes",
  "  leader CPU 23.4% of a core over 20 s (goal < 50%: ok), RSS 310 MB",
  "  assign c1: 5000 in 900/s, p50 0.95 ms, p99 3.10 ms",
  "  assign c16: 5000 in 2500/s, p50 5.00 ms, p99 12.0 ms",
  "  lookup c1: 5000 in 1200/s, p50 0.70 ms, p99 2.00 ms",
  "  kill -9 leader: elected 850 ms, first assign 1234 ms (goal < 2000 ms: ok), all 1000 back 3100 ms",
].join("\n");

describe("bench-table", () => {
  it("takes the last RESULT line's JSON, ignoring other lines and a broken one", () => {
    const text = 'noise\nRESULT {"a":1}\nRESULT {"a":2}\nRESULT {broken\nmore';
    expect(parseResultLine(text)).toBeNull();
    expect(parseResultLine('x\nRESULT {"a":1}\n  RESULT {"a":2}\ny')).toEqual({ a: 2 });
    expect(parseResultLine("no result here")).toBeNull();
  });

  it("reads bench-blob's rows and pairs the rounds: median req/s, median of the per-round ratios", () => {
    const rows = parseBlobRows(BLOB_OUTPUT);
    expect(rows).toHaveLength(8);
    expect(rows[0]).toEqual({ round: 1, case: "get", server: "bare", rps: 20000, errors: 0 });
    expect(blobFigures(rows, "get")).toEqual({ weed: 14000, ceiling: 22000, ratio: 0.625, rounds: 2 });
    expect(blobFigures(rows, "put")).toEqual({ weed: 10000, ceiling: 16000, ratio: 0.625, rounds: 2 });
    expect(
      blobFigures(
        rows.filter((r) => r.server !== "bare"),
        "get",
      ),
    ).toBeNull();
  });

  it("reads bench-scale's figures from its lines, and from a RESULT line when there is one", () => {
    expect(parseScale(SCALE_OUTPUT)).toEqual({ cpuPercent: 23.4, assignP99Ms: 3.1, readyMs: 1234 });
    const result = 'RESULT {"leaderCpuPercent":40,"assignC1P99Ms":4.5,"firstAssignMs":900}';
    expect(parseScale(`${SCALE_OUTPUT}\n${result}`)).toEqual({ cpuPercent: 40, assignP99Ms: 4.5, readyMs: 900 });
    // A p99 the RESULT withholds (some assigns failed) is not taken from the printed line instead.
    const failed = 'RESULT {"leaderCpuPercent":40,"assignC1P99Ms":null,"assignsFailed":3,"firstAssignMs":900}';
    expect(parseScale(`${SCALE_OUTPUT}\n${failed}`)).toEqual({ cpuPercent: 40, assignP99Ms: undefined, readyMs: 900 });
    expect(parseScale("bench-scale failed: no leader")).toEqual({
      cpuPercent: undefined,
      assignP99Ms: undefined,
      readyMs: undefined,
    });
  });

  it("median and nearest-rank percentiles", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    const xs = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
    expect(percentile(xs, 50)).toBe(500);
    expect(percentile(xs, 90)).toBe(900);
    expect(percentile([491], 90)).toBe(491);
  });

  it("judges ratio goals on weed-ts / ceiling and absolute goals on the weed-ts figure", () => {
    expect(verdict(GOALS.blobGet, 0.85)).toBe("OK");
    expect(verdict(GOALS.blobGet, 0.84)).toBe("MISSED");
    expect(verdict(GOALS.failoverMedian, 300)).toBe("OK");
    expect(verdict(GOALS.scaleCpu, 50)).toBe("MISSED");
    expect(verdict(GOALS.scaleCpu, undefined)).toBeNull();
    const raft = makeRow({ name: "raft c=1", weed: 600, ceiling: 650, goal: GOALS.raftC1 });
    expect(raft).toEqual({
      name: "raft c=1",
      weed: "600",
      ceiling: "650",
      ratio: "0.92",
      goal: "ratio ≥ 1.2",
      result: "MISSED",
    });
    const failover = { name: "failover", weed: 250, ceiling: 1156, goal: GOALS.failoverMedian, unit: "ms" };
    expect(makeRow(failover)).toMatchObject({ weed: "250 ms", ceiling: "1,156 ms", ratio: "0.22", result: "OK" });
  });

  it("skips a ratio row without its ceiling, fails a row without a figure, keeps a given status", () => {
    const noEtcd = { name: "raft c=16", weed: 3181, goal: GOALS.raftC16, ceilingNote: "etcd not installed" };
    expect(makeRow(noEtcd)).toMatchObject({
      ceiling: "etcd not installed",
      ratio: "-",
      result: "SKIPPED (etcd not installed)",
    });
    expect(makeRow({ name: "cpu", goal: GOALS.scaleCpu, unit: "%" })).toMatchObject({
      weed: "-",
      result: "FAILED (no figure)",
    });
    const failed = makeRow({ name: "get", goal: GOALS.blobGet, status: "FAILED (blob: exit code 1)" });
    expect(failed.result).toBe("FAILED (blob: exit code 1)");
    expect(makeRow({ name: "get", weed: 1, ceiling: 2, ratio: 0.9, goal: GOALS.blobGet }).result).toBe("OK");
  });

  it("prints one Markdown table with aligned columns", () => {
    const rows = [
      makeRow({ name: "a", weed: 12345, ceiling: 20000, goal: GOALS.blobGet }),
      makeRow({ name: "leader CPU", weed: 23.4, goal: GOALS.scaleCpu, unit: "%", ceilingNote: "-" }),
    ];
    expect(formatTable(rows).split("\n")).toEqual([
      "| benchmark  | weed-ts | ceiling (same run) | ratio | goal         | result |",
      "| ---------- | ------- | ------------------ | ----- | ------------ | ------ |",
      "| a          | 12,345  | 20,000             | 0.62  | ratio ≥ 0.85 | MISSED |",
      "| leader CPU | 23.4%   | -                  | -     | < 50%        | OK     |",
    ]);
  });

  it("finds the line in which a script said why it failed", () => {
    const scale = "[188.1s]   CPU: m1 5%\nbench-scale failed: timed out after 180000 ms waiting for 1000 servers\nmore";
    expect(failureLine(scale)).toBe("timed out after 180000 ms waiting for 1000 servers");
    expect(failureLine("x\nbench-raft: Error: no agreed leader within the deadline\n    at waitLeader")).toBe(
      "Error: no agreed leader within the deadline",
    );
    expect(failureLine("[bench-blob] round 1\n[bench-blob] error: Error: wrk is not installed")).toBe(
      "Error: wrk is not installed",
    );
    expect(failureLine("bench-etcd: 3 etcd members on 127.0.0.1, data in /tmp/x")).toBeUndefined();
    expect(failureLine("bench-etcd: TypeError: x is undefined\nbench-etcd: Error: later")).toBe("Error: later");
    expect(failureLine("all fine")).toBeUndefined();
    expect(failureLine(`bench-failover: Error: ${"x".repeat(400)}`)).toHaveLength(160);
  });

  it("reads bench-failover's per-kill samples from its rounds' lines", () => {
    const text = [
      "  first ack (sent at) via | survivors agree on leader; it lists 1st / 2nd surviving volume server | restart",
      "kill  1 (m1):   4474 ms ( 3880) via m3 | elected m3  1141 ms, VS 1st  1186 2nd  1186 ms | 9126 / 10002 ms",
      "kill  2 (m3):    382 ms (  103) via m2 | elected m2   306 ms, VS 1st   357 2nd   388 ms | 8033 / 8542 ms",
      "bench-failover: Error: round 3: the restarted m1 became leader again",
    ].join("\n");
    expect(parseFailoverKills(text)).toEqual([4474, 382]);
    expect(parseFailoverKills("no kills")).toEqual([]);
  });

  it("selects the parts BENCH_ALL_ONLY names, in the run's order", () => {
    const all = ["blob", "raft", "failover", "scale"];
    expect(selectParts(all, undefined)).toEqual(all);
    expect(selectParts(all, "")).toEqual(all);
    expect(selectParts(all, "scale, blob")).toEqual(["blob", "scale"]);
    expect(() => selectParts(all, "blob,disk")).toThrow(/disk/);
  });
});
