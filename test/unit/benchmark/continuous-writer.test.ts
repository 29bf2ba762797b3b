// The continuous writer against the benchmark's fake master + volume server on loopback: the
// counting rules (what is acked, what failed, what is skipped), step windows and read-back.
import { afterEach, describe, expect, it } from "vitest";
import { ContinuousWriter } from "../../../src/benchmark/continuous-writer.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { deadAddress } from "../../integration/harness.js";
import { startFakeCluster } from "./fake-cluster.js";
import { waitFor } from "../../helpers.js";
import type { FakeCluster, FakeHooks } from "./fake-cluster.js";

let cluster: FakeCluster | undefined;
let writer: ContinuousWriter | undefined;

afterEach(async () => {
  await writer?.stop();
  writer = undefined;
  await cluster?.close();
  cluster = undefined;
});

// The writer runs for wall-clock windows: what it counts in one (acks, failures, stalls, the
// window's length) is what these tests check, so the sleeps are the scenario, not a wait.
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runFor(
  ms: number,
  hooks: FakeHooks,
  masters?: (c: FakeCluster) => string[],
  concurrency = 2,
): Promise<ContinuousWriter> {
  cluster = await startFakeCluster(hooks);
  writer = new ContinuousWriter({
    masters: masters?.(cluster) ?? [cluster.master],
    payloadBytes: 200,
    concurrency,
    requestTimeoutMs: 2_000,
  });
  writer.start();
  await sleep(ms);
  await writer.stop();
  return writer;
}

describe("ContinuousWriter", () => {
  it("acks writes in named steps, every step's counts adding up to the totals, and reads them all back", async () => {
    cluster = await startFakeCluster();
    const w = (writer = new ContinuousWriter({ masters: [cluster.master], payloadBytes: 200, concurrency: 2 }));
    w.start();
    // Each window lasts 150 ms and, on a loaded machine where one write can take longer, until it
    // has an ack: the counts are what is checked, not the rate.
    const windowWithAck = async (): Promise<void> => {
      await sleep(150);
      await waitFor(() => (w.report().steps.at(-1)?.acked ?? 0) > 0, {
        what: "an ack in the window",
        timeoutMs: 10_000,
      });
    };
    await windowWithAck();
    w.mark("one");
    await windowWithAck();
    w.mark("two");
    await windowWithAck();
    await w.stop();

    const r = w.report();
    expect(r.steps.map((s) => s.step)).toEqual(["start", "one", "two"]);
    for (const s of r.steps) {
      expect(s.acked).toBeGreaterThan(0);
      expect(s.failed).toBe(0);
      expect(s.durationMs).toBeGreaterThanOrEqual(100);
      expect(s.longestStallMs).toBeLessThan(s.durationMs);
    }
    expect(r.totals.acked).toBe(r.steps.reduce((n, s) => n + s.acked, 0));
    expect(r.totals.failed).toBe(0);
    expect(r.notRemembered).toBe(0);
    expect(cluster.counts.put).toBe(r.totals.acked);
    // Every payload is distinct (sequence number and salt up front).
    const bodies = new Set([...cluster.stored.values()].map((v) => v.body.toString("hex")));
    expect(bodies.size).toBe(r.totals.acked);
    expect([...cluster.stored.values()].every((v) => v.body.length === 200)).toBe(true);

    const v = await w.verify();
    expect(v).toEqual({ checked: r.totals.acked, lost: 0, wrong: 0, errors: [] });
  });

  it("moves past a master that refuses connections, with no failed write and one assign per write", async () => {
    const dead = await deadAddress();
    const w = await runFor(300, {}, (c) => [dead, c.master]);
    const r = w.report();
    expect(r.totals.acked).toBeGreaterThan(0);
    expect(r.totals.failed).toBe(0);
    expect(cluster!.counts.assign).toBe(r.totals.acked);
    expect((await w.verify()).lost).toBe(0);
  });

  it("counts a master's 503 as a failed write with its message, and does not retry it", async () => {
    const w = await runFor(300, { failAssign: (n) => (n % 4 === 2 ? 503 : undefined) });
    const r = w.report();
    expect(r.totals.failed).toBeGreaterThan(0);
    expect(r.totals.acked + r.totals.failed).toBe(cluster!.counts.assign);
    expect(r.totals.errors[0]?.message).toMatch(/^assign via 127\.0\.0\.1:\d+: HTTP 503: no writable volumes$/);
    expect(r.totals.errors[0]?.count).toBe(r.totals.failed);
  });

  it("counts a failed upload as failed (outcome unknown) and leaves it out of verify", async () => {
    const w = await runFor(300, { failPut: (n) => (n === 3 ? 500 : undefined) });
    const r = w.report();
    expect(r.totals.failed).toBe(1);
    expect(r.totals.errors).toEqual([
      { message: expect.stringMatching(/^upload to 127\.0\.0\.1:\d+: HTTP 500: failed to write/), count: 1 },
    ]);
    expect(r.totals.acked).toBe(cluster!.counts.put - 1);
    const v = await w.verify();
    expect(v.checked).toBe(r.totals.acked);
    expect(v.lost + v.wrong).toBe(0);
  });

  it("verify finds a changed blob (wrong) and a missing one (lost)", async () => {
    let tampered = "";
    const flip = (body: Buffer): Buffer =>
      Buffer.concat([body.subarray(0, 10), Buffer.from([body[10]! ^ 1]), body.subarray(11)]);
    const w = await runFor(200, { tamperGet: (fid, body) => (fid === tampered ? flip(body) : body) });
    const fids = [...cluster!.stored.keys()];
    expect(fids.length).toBeGreaterThan(2);
    tampered = fids[0]!;
    cluster!.stored.delete(fids[1]!);
    const v = await w.verify();
    expect(v.checked).toBe(fids.length);
    expect(v.wrong).toBe(1);
    expect(v.lost).toBe(1);
    expect(v.errors).toHaveLength(2);
    expect(v.errors.join("\n")).toContain(`${fids[1]}: lost:`);
  });

  it("with every master down a write fails after two rounds; a step without acks stalls its whole window", async () => {
    const masters = [await deadAddress(), await deadAddress()];
    cluster = await startFakeCluster();
    const w = (writer = new ContinuousWriter({ masters, payloadBytes: 64, concurrency: 1, requestTimeoutMs: 1_000 }));
    w.start();
    await sleep(400);
    const started = performance.now();
    await w.stop();
    expect(performance.now() - started).toBeLessThan(2_000);
    const r = w.report();
    expect(r.totals.acked).toBe(0);
    expect(r.totals.failed).toBeGreaterThan(0);
    expect(r.totals.errors[0]?.message).toMatch(
      /^assign: no master reachable in 2 rounds over 2 \(last 127\.0\.0\.1:\d+: ECONNREFUSED\)$/,
    );
    expect(r.steps[0]!.longestStallMs).toBe(r.steps[0]!.durationMs);
    expect(await w.verify()).toEqual({ checked: 0, lost: 0, wrong: 0, errors: [] });
  });

  it("measures the longest stall inside a step, from the window's start", async () => {
    // Each upload takes ~120 ms, one at a time: no step of 400 ms goes more than ~130 ms without an
    // ack, but it is at least the time to the first ack.
    cluster = await startFakeCluster({ putDelayMs: 120 });
    const w = (writer = new ContinuousWriter({ masters: [cluster.master], payloadBytes: 64, concurrency: 1 }));
    w.start();
    await sleep(400);
    w.mark("slow");
    await sleep(400);
    await w.stop();
    const slow = w.report().steps[1]!;
    expect(slow.acked).toBeGreaterThanOrEqual(2);
    expect(slow.longestStallMs).toBeGreaterThanOrEqual(100);
    expect(slow.longestStallMs).toBeLessThan(300);
  });

  it("validates its options eagerly, naming the option", () => {
    const bad = (o: object): unknown => {
      try {
        new ContinuousWriter({ masters: ["127.0.0.1:1"], ...o });
      } catch (err) {
        return err;
      }
      return undefined;
    };
    for (const o of [
      { payloadBytes: 4 },
      { concurrency: 0 },
      { requestTimeoutMs: 1.5 },
      { masters: [] },
      { masters: ["http://x:1"] },
    ]) {
      const err = bad(o);
      expect(err).toBeInstanceOf(WeedError);
      expect((err as WeedError).code).toBe(ErrorCode.BAD_PARAM);
      expect((err as WeedError).message).toContain(Object.keys(o)[0]!);
    }
    const w = new ContinuousWriter({ masters: ["127.0.0.1:1"] });
    expect(() => w.mark("x")).toThrow(WeedError);
  });
});
