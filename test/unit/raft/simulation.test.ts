// The deterministic simulator (src/raft/sim) as a test: a fixed block of seeds must pass every
// checker (election safety, log matching, leader completeness, state-machine safety, linearizable
// ReadIndex, acknowledged writes applied exactly once, liveness after healing). A failure names
// the seed; replay it with `node scripts/sim.mjs --seed S` for a trace.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { runSeed, runSeeds } from "../../../src/raft/sim/run.js";

/** Seeds 1..SEED_BLOCK run on every `npm test` (about 25 ms each on the 2-core dev machine). */
const SEED_BLOCK = 400;

function traceDigest(seed: number): { digest: string; lines: number } {
  const hash = createHash("sha256");
  let lines = 0;
  runSeed(seed, {}, (line) => {
    hash.update(line);
    hash.update("\n");
    lines++;
  });
  return { digest: hash.digest("hex"), lines };
}

describe("raft deterministic simulation", () => {
  it(`passes seeds 1..${SEED_BLOCK} (3- and 5-node groups, faults, membership, transfers)`, () => {
    const block = runSeeds(1, SEED_BLOCK);
    const f = block.failure;
    const why =
      f === null
        ? ""
        : `seed ${f.seed} at t=${f.tick}: ${f.property}: ${f.message}\nreplay: node scripts/sim.mjs --seed ${f.seed}`;
    expect(why).toBe("");
    expect(block.passed).toBe(SEED_BLOCK);
  }, 300_000);

  it("replays a seed exactly: the same seed gives the same trace, line for line", () => {
    const a = traceDigest(7);
    const b = traceDigest(7);
    expect(a.lines).toBeGreaterThan(1000);
    expect(b).toEqual(a);
    expect(traceDigest(8).digest).not.toBe(a.digest);
  });

  it("its checkers catch a runtime that sends before persisting", () => {
    const block = runSeeds(1, 50, { runtimeBug: "send-before-persist" });
    expect(block.failure).not.toBeNull();
  });

  it("covers what it claims: elections, snapshots, membership changes, transfers, reads", () => {
    const totals = {
      leaders: 0,
      snapshotsSent: 0,
      learnersAdded: 0,
      promoted: 0,
      removed: 0,
      transfers: 0,
      readsServed: 0,
      crashes: 0,
      partitions: 0,
      acked: 0,
    };
    const block = runSeeds(1, 20, {}, (r) => {
      for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += r.stats[k];
    });
    expect(block.failure).toBeNull();
    for (const [k, v] of Object.entries(totals)) expect(v, k).toBeGreaterThan(0);
  });
});
