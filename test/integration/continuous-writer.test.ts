// The continuous writer (used by membership and restart tests, and npm run bench:membership)
// against a real `weed-ts server`: it writes without failures, everything it acked reads back,
// and a master that refuses connections is skipped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContinuousWriter } from "../../src/benchmark/continuous-writer.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { deadAddress, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

let tmp: TempDir;
let master: string;
let proc: WeedProcess;

// The writer runs for wall-clock windows: how much it writes in one, and how long it stalls, is
// what these tests measure.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  tmp = await tempDir("weed-ts-writer-");
  const masterPort = await freePortPair();
  const volumePort = await freePortPair();
  master = `127.0.0.1:${masterPort}`;
  proc = new WeedProcess([
    "server",
    `-dir=${tmp.dir}`,
    "-ip=127.0.0.1",
    `-master.port=${masterPort}`,
    `-volume.port=${volumePort}`,
    "-logLevel=warn",
  ]);
  await waitHttpOk(`http://${master}/cluster/healthz`, proc);
  // The writer counts a 503 as a failed write, so it starts once the cluster takes assigns.
  await waitFor(async () => (await getJson(`http://${master}/dir/assign`)).status === 200, {
    ...PROCESS_WAIT,
    what: "an assign to succeed",
  });
});

afterAll(async () => {
  await proc?.stop();
  await tmp?.remove();
});

describe("ContinuousWriter against weed-ts server", () => {
  it("writes for 2 s with no failed write; every acked blob reads back byte for byte", async () => {
    const w = new ContinuousWriter({ masters: [master], payloadBytes: 1024, concurrency: 2, requestTimeoutMs: 5_000 });
    try {
      w.start();
      await sleep(1_000);
      w.mark("second");
      await sleep(1_000);
    } finally {
      await w.stop();
    }
    const r = w.report();
    expect(r.totals.failed, JSON.stringify(r.totals.errors)).toBe(0);
    expect(r.totals.acked).toBeGreaterThan(20);
    expect(r.steps.map((s) => s.step)).toEqual(["start", "second"]);
    expect(r.steps[1]!.acked).toBeGreaterThan(0);
    expect(r.steps[1]!.longestStallMs).toBeLessThan(1_000);
    const v = await w.verify();
    expect(v).toEqual({ checked: r.totals.acked, lost: 0, wrong: 0, errors: [] });
  });

  it("skips a master that refuses connections and still writes with no failure", async () => {
    const w = new ContinuousWriter({
      masters: [await deadAddress(), master],
      payloadBytes: 100,
      concurrency: 1,
      requestTimeoutMs: 5_000,
    });
    try {
      w.start();
      await sleep(1_000);
    } finally {
      await w.stop();
    }
    const r = w.report();
    expect(r.totals.failed, JSON.stringify(r.totals.errors)).toBe(0);
    expect(r.totals.acked).toBeGreaterThan(10);
    const v = await w.verify();
    expect(v).toEqual({ checked: r.totals.acked, lost: 0, wrong: 0, errors: [] });
  });
});
