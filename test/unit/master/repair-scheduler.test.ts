// The leader's background repair (src/master/repair/repairer.ts and repair-schedule.ts), driven
// by an injected clock and a fake copier: the grace, the per-server and global bounds, the
// backoff after a failure, the settle after a copy, checks, and stopping on step-down. No timer
// here depends on wall time: the fake clock's sleeps end only when the test advances it.
import { setImmediate as macrotask } from "node:timers/promises";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { silentLogger } from "../../../src/common/logger.js";
import type { ClusterSnapshot, RepairReplica } from "../../../src/master/repair/cluster-snapshot.js";
import type { CheckJob, CopyJob } from "../../../src/master/repair/repair-schedule.js";
import {
  Repairer,
  type CheckDone,
  type CopyDone,
  type RepairClock,
  type RepairerOptions,
} from "../../../src/master/repair/repairer.js";

class FakeClock implements RepairClock {
  t = 0;
  private sleepers: { at: number; wake: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.sleepers = this.sleepers.filter((x) => x !== s);
        reject(signal.reason);
      };
      const s = {
        at: this.t + ms,
        wake: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.sleepers.push(s);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
  /** Moves time to `to`, waking every sleep due on the way in order and letting it run. */
  async advanceTo(to: number): Promise<void> {
    await settle(); // what the test just did (a copy resolved) happens at the present time
    for (;;) {
      this.sleepers.sort((a, b) => a.at - b.at);
      const next = this.sleepers[0];
      if (next === undefined || next.at > to) break;
      this.sleepers.shift();
      this.t = next.at;
      next.wake();
      await settle();
    }
    this.t = to;
    await settle();
  }
}

/** Lets promise chains and the loop's next step run (a few macrotasks; no wall-clock wait). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await macrotask();
}

interface Pending<T> {
  job: T;
  signal: AbortSignal;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Servers a-f on racks r1-r6 of one data center; `free` slots each unless told. */
function cluster(volumes: Record<number, string[]>, free: Record<string, number> = {}): ClusterSnapshot {
  const names = ["a", "b", "c", "d", "e", "f"];
  const rackOf = (n: string): string => `r${names.indexOf(n) + 1}`;
  const holder = (n: string): RepairReplica => ({
    ...{ node: n, rack: rackOf(n), dataCenter: "dc1", grpcAddress: `${n}:1` },
    ...{ fileCount: 1, size: 1, needsCheck: false },
  });
  return {
    nodes: names.map((n) => ({
      node: n,
      rack: rackOf(n),
      dataCenter: "dc1",
      freeSlots: free[n] ?? 5,
      grpcAddress: `${n}:1`,
    })),
    volumes: Object.entries(volumes).map(([id, hs]) => ({
      id: Number(id),
      collection: "",
      placement: parseReplicaPlacement("010"),
      holders: hs.map(holder),
    })),
  };
}

function harness(opts: Partial<RepairerOptions> = {}, withChecks = false, withLog = false) {
  const clock = new FakeClock();
  const h = {
    clock,
    snap: cluster({}),
    ready: true,
    scans: 0,
    /** A copy that ends only when the test ends it, cancelled or not (a slow cancel). */
    slowCancel: false,
    /** The repairer's log lines, when the test reads them. */
    logLines: withLog ? ([] as Record<string, unknown>[]) : undefined,
    copies: [] as Pending<CopyJob>[],
    checks: [] as Pending<CheckJob>[],
    repairer: undefined as unknown as Repairer,
  };
  const deps = {
    snapshot: () => {
      h.scans++;
      return h.snap;
    },
    ready: () => h.ready,
    copy: (job: CopyJob, signal: AbortSignal) =>
      new Promise<CopyDone>((resolve, reject) => {
        h.copies.push({ job, signal, resolve: resolve as (v: unknown) => void, reject });
        if (!h.slowCancel) signal.addEventListener("abort", () => reject(new Error("cancelled")));
      }),
    ...(withChecks
      ? {
          check: (job: CheckJob, signal: AbortSignal) =>
            new Promise<CheckDone>((resolve, reject) => {
              h.checks.push({ job, signal, resolve: resolve as (v: unknown) => void, reject });
              signal.addEventListener("abort", () => reject(new Error("cancelled")));
            }),
        }
      : {}),
    clock,
    random: () => 0, // the shortest jitter: half the backoff
    logger:
      h.logLines === undefined
        ? silentLogger()
        : pino({ level: "info" }, { write: (l: string) => h.logLines!.push(JSON.parse(l)) }),
  };
  h.repairer = new Repairer(deps, {
    ...{ graceMs: 2_000, scanIntervalMs: 1_000, jobsMax: 4, settleMs: 3_000 },
    ...{ retryBaseMs: 4_000, retryMaxMs: 10_000, ...opts },
  });
  return h;
}

const copied = (h: ReturnType<typeof harness>): string[] =>
  h.copies.map((c) => `${c.job.volumeId}:${c.job.source.node}->${c.job.target.node}`);

describe("leader repair: grace", () => {
  it("copies a volume only once it has been short for the whole grace, counted from the first scan", async () => {
    const h = harness();
    h.snap = cluster({ 1: ["a"] }, { c: 9 });
    h.repairer.lead(); // scan at t=0: volume 1 short since 0
    await settle();
    await h.clock.advanceTo(1_000);
    expect(h.copies).toEqual([]);
    await h.clock.advanceTo(2_000);
    expect(copied(h)).toEqual(["1:a->c"]); // the most free slots on another rack
    await h.repairer.close();
  });

  it("a volume whose holder comes back within the grace is never copied; a new absence restarts it", async () => {
    const h = harness();
    h.snap = cluster({ 1: ["a"] });
    h.repairer.lead();
    await h.clock.advanceTo(1_000);
    h.snap = cluster({ 1: ["a", "b"] }); // b restarted and reported
    await h.clock.advanceTo(3_000);
    h.snap = cluster({ 1: ["a"] }); // gone again, seen by the scan at 4 s
    await h.clock.advanceTo(5_000);
    expect(h.copies).toEqual([]);
    await h.clock.advanceTo(6_000);
    expect(copied(h)).toHaveLength(1);
    await h.repairer.close();
  });

  it("does not scan while the warm-up runs, and a new term (leader) starts the grace over", async () => {
    const h = harness();
    h.snap = cluster({ 1: ["a"] });
    h.ready = false;
    h.repairer.lead();
    await h.clock.advanceTo(5_000);
    expect(h.scans).toBe(0);
    h.ready = true;
    await h.clock.advanceTo(6_000); // first seen short at 6 s
    await h.repairer.stepDown();
    h.repairer.lead(); // elected again at 6 s: short since 6 s in this term's eyes
    await h.clock.advanceTo(7_000);
    expect(h.copies).toEqual([]);
    await h.clock.advanceTo(8_000);
    expect(copied(h)).toHaveLength(1);
    await h.repairer.close();
  });
});

describe("leader repair: bounds", () => {
  it("runs at most one job per server, as source or target", async () => {
    const h = harness({ graceMs: 0 });
    h.snap = cluster({ 1: ["a"], 2: ["a"], 3: ["b"] }, { a: 0, b: 0, c: 9, d: 0, e: 0, f: 0 });
    h.repairer.lead();
    await settle();
    // 1 takes a (source) and c (target); 2 needs a, 3 needs c (the only room): both wait.
    expect(copied(h)).toEqual(["1:a->c"]);
    h.copies[0]!.resolve({ bytes: 10 });
    await h.clock.advanceTo(1_000);
    expect(copied(h)).toEqual(["1:a->c", "2:a->c"]);
    await h.repairer.close();
  });

  it("runs at most jobsMax jobs over the cluster", async () => {
    const h = harness({ graceMs: 0, jobsMax: 2 });
    h.snap = cluster({ 1: ["a"], 2: ["b"], 3: ["c"] }, { a: 0, b: 0, c: 0 });
    h.repairer.lead();
    await settle();
    expect(h.copies).toHaveLength(2);
    expect(new Set(h.copies.flatMap((c) => [c.job.source.node, c.job.target.node])).size).toBe(4);
    h.copies[0]!.reject(new Error("target gone"));
    await h.clock.advanceTo(1_000);
    expect(h.copies).toHaveLength(3);
    await h.repairer.close();
  });

  it("leaves a finished copy's volume alone while the new replica is reported, and counts its slot", async () => {
    const h = harness({ graceMs: 0 });
    h.snap = cluster({ 1: ["a"], 2: ["b"] }, { a: 0, b: 0, c: 1, d: 0, e: 0, f: 0 });
    h.repairer.lead();
    await settle();
    expect(copied(h)).toEqual(["1:a->c"]);
    h.copies[0]!.resolve({ bytes: 10 });
    // The topology still shows 1 short and c with a free slot (no heartbeat yet).
    await h.clock.advanceTo(2_000);
    expect(copied(h)).toEqual(["1:a->c"]);
    h.snap = cluster({ 1: ["a", "c"], 2: ["b"] }, { a: 0, b: 0, c: 0, d: 1, e: 0, f: 0 });
    await h.clock.advanceTo(3_000);
    expect(copied(h)).toEqual(["1:a->c", "2:b->d"]);
    await h.repairer.close();
  });
});

describe("leader repair: failures", () => {
  it("retries a failed copy after a doubling backoff, capped", async () => {
    const h = harness({ graceMs: 0 });
    h.snap = cluster({ 1: ["a"] });
    h.repairer.lead();
    await settle();
    h.copies[0]!.reject(new Error("boom")); // at 0: retry after 4 s x 0.5 = 2 s
    await h.clock.advanceTo(1_000);
    expect(h.copies).toHaveLength(1);
    await h.clock.advanceTo(2_000);
    expect(h.copies).toHaveLength(2);
    h.copies[1]!.reject(new Error("boom")); // at 2 s: 8 s x 0.5 = 4 s
    await h.clock.advanceTo(5_000);
    expect(h.copies).toHaveLength(2);
    await h.clock.advanceTo(6_000);
    expect(h.copies).toHaveLength(3);
    h.copies[2]!.reject(new Error("boom")); // at 6 s: min(16 s, 10 s) x 0.5 = 5 s
    await h.clock.advanceTo(10_000);
    expect(h.copies).toHaveLength(3);
    await h.clock.advanceTo(11_000);
    expect(h.copies).toHaveLength(4);
    await h.repairer.close();
  });

  it("a volume no server keeps the placement for is retried with the backoff, never copied wrongly", async () => {
    const h = harness({ graceMs: 0 });
    h.snap = cluster({ 1: ["a"] }, { a: 0, b: 0, c: 0, d: 0, e: 0, f: 0 });
    h.repairer.lead();
    await settle(); // no room at 0: retried after 4 s x 0.5
    h.snap = cluster({ 1: ["a"] }, { a: 0, b: 0, c: 0, d: 0, e: 0, f: 1 });
    await h.clock.advanceTo(1_000);
    expect(h.copies).toEqual([]);
    await h.clock.advanceTo(2_000);
    expect(copied(h)).toEqual(["1:a->f"]);
    await h.repairer.close();
  });

  it("step-down cancels the jobs under way and stops scanning", async () => {
    const h = harness({ graceMs: 0 });
    h.snap = cluster({ 1: ["a"] });
    h.repairer.lead();
    await settle();
    const running = h.copies[0]!;
    const stopped = h.repairer.stepDown();
    expect(running.signal.aborted).toBe(true);
    running.reject(new Error("cancelled"));
    await stopped;
    const scans = h.scans;
    await h.clock.advanceTo(10_000);
    expect(h.scans).toBe(scans);
    expect(h.copies).toHaveLength(1);
  });
});

describe("leader repair: log", () => {
  it("logs each repair as it starts and ends: bytes and seconds, or the error and the retry", async () => {
    const h = harness({ graceMs: 0 }, false, true);
    h.snap = cluster({ 1: ["a"], 2: ["b"] }, { c: 9, d: 8 });
    h.repairer.lead();
    await settle();
    await h.clock.advanceTo(1_500);
    h.copies[0]!.resolve({ bytes: 4096 });
    h.copies[1]!.reject(new Error("source gone"));
    await h.clock.advanceTo(1_600);
    const lines = h.logLines!.filter((l) => l.volumeId !== undefined);
    const pick = (l: Record<string, unknown>) => {
      const { msg, volumeId, job, from, to, bytes, seconds, err, retryInSec } = l;
      return { msg, volumeId, job, from, to, bytes, seconds, err, retryInSec };
    };
    expect(lines.map(pick)).toEqual([
      { msg: "repair started", volumeId: 1, job: "copy", from: "a", to: "c" },
      { msg: "repair started", volumeId: 2, job: "copy", from: "b", to: "d" },
      { msg: "repair finished", volumeId: 1, job: "copy", from: "a", to: "c", bytes: 4096, seconds: 1.5 },
      {
        msg: "repair failed",
        volumeId: 2,
        job: "copy",
        from: "b",
        to: "d",
        seconds: 1.5,
        err: "source gone",
        retryInSec: 2,
      },
    ]);
    await h.repairer.close();
  });
});

describe("leader repair: terms", () => {
  it("a master elected again scans only once the jobs of its previous term have ended", async () => {
    const h = harness({ graceMs: 0 });
    h.slowCancel = true;
    h.snap = cluster({ 1: ["a"] }, { c: 9 });
    h.repairer.lead();
    await settle();
    expect(copied(h)).toEqual(["1:a->c"]);
    void h.repairer.stepDown();
    h.repairer.lead();
    const scans = h.scans;
    await h.clock.advanceTo(5_000);
    expect(h.scans).toBe(scans); // the cancelled copy still runs: no scan, no second copy onto c
    h.slowCancel = false;
    h.copies[0]!.reject(new Error("cancelled"));
    await h.clock.advanceTo(6_000);
    expect(copied(h)).toEqual(["1:a->c", "1:a->c"]);
    await h.repairer.close();
  });
});

describe("leader repair: checks", () => {
  it("checks a volume a holder reports as needing it, once it has its copies; none without a checker", async () => {
    for (const withChecks of [true, false]) {
      const h = harness({ graceMs: 0 }, withChecks);
      const snap = cluster({ 1: ["a", "b"], 2: ["c"] }, { d: 9 });
      snap.volumes[0]!.holders[1]!.needsCheck = true;
      snap.volumes[1]!.holders[0]!.needsCheck = true; // short: copied first, checked later
      h.snap = snap;
      h.repairer.lead();
      await settle();
      expect(h.checks.map((c) => [c.job.volumeId, c.job.replicas.map((r) => r.node)])).toEqual(
        withChecks ? [[1, ["a", "b"]]] : [],
      );
      expect(copied(h)).toEqual(["2:c->d"]);
      await h.repairer.close();
    }
  });

  it("checks a copied volume as soon as the new replica is reported, not after the whole settle", async () => {
    const h = harness({ graceMs: 0, settleMs: 10_000 }, true);
    const short = cluster({ 1: ["a"] }, { c: 9 });
    short.volumes[0]!.holders[0]!.needsCheck = true; // a write failed part way when b died
    h.snap = short;
    h.repairer.lead();
    await settle();
    expect(copied(h)).toEqual(["1:a->c"]);
    h.copies[0]!.resolve({ bytes: 10 });
    await h.clock.advanceTo(1_000);
    expect(h.checks).toEqual([]); // not reported yet: settling
    const copiedSnap = cluster({ 1: ["a", "c"] });
    copiedSnap.volumes[0]!.holders[0]!.needsCheck = true;
    h.snap = copiedSnap;
    await h.clock.advanceTo(2_000);
    expect(h.checks.map((c) => c.job.replicas.map((r) => r.node))).toEqual([["a", "c"]]);
    await h.repairer.close();
  });
});
