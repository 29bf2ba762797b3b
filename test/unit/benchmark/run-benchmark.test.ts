import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContentBuffer, contentLength, fidSeed } from "../../../src/benchmark/bench-content.js";
import { benchmarkDefaults, BENCHMARK_USAGE, runBenchmark } from "../../../src/benchmark/benchmark.js";
import type { BenchmarkOptions } from "../../../src/benchmark/benchmark.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { startFakeCluster } from "./fake-cluster.js";
import type { FakeCluster, FakeHooks } from "./fake-cluster.js";
import { tempDir, type TempDir } from "../../helpers.js";

let tmp: TempDir;
let dir = "";
let cluster: FakeCluster | undefined;

beforeEach(async () => {
  tmp = await tempDir("weed-bench-test-");
  dir = tmp.dir;
});

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
  await tmp.remove();
});

/** Collects what the benchmark prints. */
function sink(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  return { out, text: () => Buffer.concat(chunks).toString("utf8") };
}

async function setup(hooks: FakeHooks = {}): Promise<BenchmarkOptions> {
  cluster = await startFakeCluster(hooks);
  return {
    ...benchmarkDefaults,
    master: cluster.master,
    concurrency: 4,
    n: 200,
    size: 100,
    list: join(dir, "list.txt"),
  };
}

async function listLines(path: string): Promise<string[]> {
  return (await readFile(path, "utf8")).split("\n").filter((l) => l !== "");
}

describe("runBenchmark against a fake master and volume server", () => {
  it("writes n files, lists their fids and reads n back with no failures", async () => {
    const opts = await setup();
    const { out, text } = sink();
    const report = await runBenchmark(opts, out);
    const c = cluster!;

    expect(report.aborted).toBe(false);
    expect(report.write).toMatchObject({ completed: 200, failed: 0, planned: 200, concurrency: 4, aborted: false });
    expect(report.read).toMatchObject({ completed: 200, failed: 0, planned: 200, aborted: false });
    expect(c.counts).toMatchObject({ assign: 200, put: 200, get: 200 });
    // One lookup per volume id (3 volumes), not per read.
    expect(c.counts.lookup).toBe(3);

    const fids = await listLines(opts.list);
    expect(fids.length).toBe(200);
    expect(new Set(fids)).toEqual(new Set(c.stored.keys()));

    let bytes = 0;
    const gen = new ContentBuffer(opts.size + 64);
    for (const [fid, { body, mime, query }] of c.stored) {
      const seed = fidSeed(fid);
      expect(body.length).toBe(contentLength(opts.size, seed));
      expect(body.length).toBeGreaterThanOrEqual(100);
      expect(body.length).toBeLessThan(164);
      expect(body.equals(gen.fill(seed, body.length))).toBe(true);
      expect(mime).toBe("image/bench");
      expect(query).toBe("");
      bytes += body.length;
    }
    expect(report.write!.transferredBytes).toBe(bytes);
    expect(report.write!.latencyMs.max).toBeGreaterThan(0);
    expect(report.write!.percentilesMs.find((p) => p.percent === 99)!.ms).toBeLessThanOrEqual(
      report.write!.latencyMs.max,
    );

    const printed = text();
    expect(printed).toContain("------------ Writing Benchmark ----------");
    expect(printed).toContain("------------ Randomly Reading Benchmark ----------");
    expect(printed.match(/Completed requests: {5}200\n/g)?.length).toBe(2);
    expect(printed.match(/Failed requests: {8}0\n/g)?.length).toBe(2);
    expect(printed).toContain("  100%");
  });

  it("counts failing uploads as failed requests and keeps their fids out of the list", async () => {
    const opts = await setup({ failPut: (n) => (n % 5 === 0 ? 500 : undefined) });
    const { out, text } = sink();
    const report = await runBenchmark({ ...opts, writeOnly: true }, out);

    expect(report.write).toMatchObject({ completed: 160, failed: 40 });
    expect(report.read).toBeUndefined();
    expect(report.write!.errors).toEqual([
      { message: "upload: HTTP 500: failed to write to local disk: boom", count: 40 },
    ]);
    expect((await listLines(opts.list)).length).toBe(160);
    expect(cluster!.counts.get).toBe(0);
    expect(text()).toContain("        40 x upload: HTTP 500: failed to write to local disk: boom");
  });

  it("counts reads with the wrong length as failed", async () => {
    const opts = await setup({ tamperGet: (_fid, stored) => stored.subarray(1) });
    const report = await runBenchmark({ ...opts, n: 64 }, sink().out);
    expect(report.write).toMatchObject({ completed: 64, failed: 0 });
    expect(report.read).toMatchObject({ completed: 0, failed: 64 });
    const errors = report.read!.errors;
    // Lengths differ from fid to fid: the first 8 distinct reasons are kept, the rest only counted.
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.length).toBeLessThanOrEqual(9);
    expect(errors.reduce((sum, e) => sum + e.count, 0)).toBe(64);
    for (const e of errors) expect(e.message).toMatch(/^read: got \d+ bytes, want \d+ |^\(other errors\)$/);
  });

  it("checks the content of every 16th read and counts a difference as failed", async () => {
    const opts = await setup({
      tamperGet: (_fid, stored) => {
        const flipped = Buffer.from(stored);
        flipped[7] = flipped[7]! ^ 0x01;
        return flipped;
      },
    });
    const report = await runBenchmark({ ...opts, n: 64 }, sink().out);
    // Reads 0, 16, 32 and 48 are the sampled ones.
    expect(report.read).toMatchObject({ completed: 60, failed: 4 });
    expect(report.read!.errors).toEqual([{ message: "read: content differs from what was written", count: 4 }]);
  });

  it("retries an assign answered 503 with Retry-After", async () => {
    const opts = await setup({ failAssign: (n) => (n <= 2 ? 503 : undefined) });
    const report = await runBenchmark({ ...opts, n: 20, concurrency: 1, writeOnly: true }, sink().out);
    expect(report.write).toMatchObject({ completed: 20, failed: 0 });
    expect(cluster!.counts.assign).toBe(22);
  });

  it("counts every request as failed when the master is not there", async () => {
    const opts = await setup();
    const deadMaster = cluster!.master;
    await cluster!.close();
    cluster = undefined;
    const report = await runBenchmark({ ...opts, master: deadMaster, n: 20 }, sink().out);
    expect(report.write).toMatchObject({ completed: 0, failed: 20 });
    expect(report.write!.errors.length).toBeGreaterThan(0);
    expect(report.read).toMatchObject({ completed: 0, failed: 0 });
  });

  it("stops early on the signal without throwing, printing progress meanwhile", async () => {
    const controller = new AbortController();
    const opts = await setup({ putDelayMs: 5 });
    const { out, text } = sink();
    const stopAt = setTimeout(() => controller.abort(), 150);
    const report = await runBenchmark(
      { ...opts, n: 10_000, concurrency: 2, progressIntervalMs: 20 },
      out,
      controller.signal,
    );
    clearTimeout(stopAt);

    expect(report.aborted).toBe(true);
    expect(report.write!.aborted).toBe(true);
    expect(report.write!.completed).toBeGreaterThan(0);
    expect(report.write!.completed).toBeLessThan(10_000);
    expect(report.write!.failed).toBe(0);
    expect(report.read).toBeUndefined();
    expect((await listLines(opts.list)).length).toBe(report.write!.completed);
    expect(text()).toMatch(/Completed \d+ of 10000 requests, \d+\.\d% \d+\.\d\/s/);
  });

  it("reads an existing list with -readOnly and asks ?fsync=true with -fsync", async () => {
    const opts = await setup();
    await runBenchmark({ ...opts, n: 30, writeOnly: true, fsync: true }, sink().out);
    for (const { query } of cluster!.stored.values()) expect(query).toBe("?fsync=true");
    await writeFile(opts.list, "# comment line\n\n" + (await readFile(opts.list, "utf8")));
    const report = await runBenchmark({ ...opts, n: 50, readOnly: true }, sink().out);
    expect(report.write).toBeUndefined();
    expect(report.read).toMatchObject({ completed: 50, failed: 0 });
  });

  it("refuses bad options and a missing -readOnly list before any request", async () => {
    const opts = await setup();
    const bad: Array<Partial<BenchmarkOptions>> = [
      { concurrency: 0 },
      { n: 1.5 },
      { size: -1 },
      { master: "nohost" },
      { replication: "1" },
      { writeOnly: true, readOnly: true },
    ];
    for (const b of bad) {
      const err = await runBenchmark({ ...opts, ...b }, sink().out).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WeedError);
      expect((err as WeedError).code).toBe(ErrorCode.BAD_PARAM);
    }
    await expect(runBenchmark({ ...opts, readOnly: true, list: join(dir, "missing.txt") }, sink().out)).rejects.toThrow(
      /ENOENT/,
    );
    expect(cluster!.counts.assign + cluster!.counts.lookup).toBe(0);
    expect(BENCHMARK_USAGE).toMatch(/-master[\s\S]*-c [\s\S]*-n [\s\S]*-size[\s\S]*-collection[\s\S]*-replication/);
    expect(BENCHMARK_USAGE).toMatch(/-writeOnly[\s\S]*-readOnly[\s\S]*-list[\s\S]*-fsync/);
  });
});
