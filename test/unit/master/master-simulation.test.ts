// The master (RaftClusterState, Sequencer, Topology fed by simulated volume servers, VolumeGrowth,
// Assigner, MembershipManager) on the deterministic simulator's real runtimes and clock
// (test/sim/master-sim.ts): under crashes, power losses, partitions, leader changes and membership
// changes no file key and no volume id is handed out twice, across every leader history of a block
// of seeds, and no membership change the manager made leaves the group without a reachable majority.
// A failure names the seed; rerun it with a trace through runMasterSeed(seed, {}, console.log).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type MasterSimOptions, type MasterSimResult, runMasterSeed } from "../../sim/master-sim.js";

/** Seeds 1..SEED_BLOCK on every `npm test` (~50-100 ms each on the 2-core dev machine). */
const SEED_BLOCK = 100;

function why(r: MasterSimResult): string {
  const s = r.sim;
  return s.ok ? "" : `seed ${s.seed} at t=${s.tick}: ${s.property}: ${s.message}`;
}

describe("master state under the deterministic simulator", () => {
  it(`hands out no file key or volume id twice across every leader history, seeds 1..${SEED_BLOCK}`, async () => {
    const totals = {
      ...{ keysHandedOut: 0, slowAssigns: 0, volumeIds: 0, allocations: 0, raises: 0, heartbeats: 0 },
      ...{ multiIssuerSeeds: 0, leaders: 0, changesMade: 0, refused: 0, handedOff: 0, transfers: 0, joined: 0 },
    };
    for (let seed = 1; seed <= SEED_BLOCK; seed++) {
      const r = await runMasterSeed(seed);
      expect(why(r)).toBe("");
      totals.keysHandedOut += r.master.keysHandedOut;
      totals.volumeIds += r.master.volumeIds;
      totals.raises += r.master.raises;
      totals.heartbeats += r.master.heartbeats;
      totals.slowAssigns += r.master.slowAssigns;
      totals.allocations += r.master.allocations;
      totals.changesMade += r.master.operator.changesMade;
      totals.refused += r.master.operator.refused;
      totals.handedOff += r.master.operator.handedOff;
      totals.transfers += r.master.operator.transfers;
      totals.joined += r.sim.stats.promoted;
      totals.leaders += r.sim.stats.leaders;
      if (r.master.keyIssuers > 1) totals.multiIssuerSeeds++;
    }
    // The workload did what it claims: keys and ids flowed (through growth and slow assigns too)
    // while the lead moved between masters and the manager changed membership, refusing some.
    for (const [k, v] of Object.entries(totals)) expect(v, k).toBeGreaterThan(0);
    expect(totals.multiIssuerSeeds).toBeGreaterThan(SEED_BLOCK / 2);
  }, 120_000);

  it("replays a seed exactly: the same seed gives the same trace", async () => {
    const digest = async (seed: number): Promise<string> => {
      const hash = createHash("sha256");
      await runMasterSeed(seed, {}, (line) => hash.update(`${line}\n`));
      return hash.digest("hex");
    };
    const a = await digest(3);
    expect(await digest(3)).toBe(a);
    expect(await digest(4)).not.toBe(a);
  }, 60_000);

  it("catches a master handing out a key block before its reservation commits (SeaweedFS #1014, #6327)", async () => {
    const r = await firstFailure({ bug: "keys-before-commit" });
    expect(r?.sim.property).toBe("unique file keys");
  }, 60_000);

  it("catches a master that hands out a volume id before it commits", async () => {
    const r = await firstFailure({ bug: "volume-ids-before-commit" });
    expect(r?.sim.property).toBe("unique volume ids");
  }, 60_000);

  it("catches a membership manager that takes every member for alive (a removal that loses quorum)", async () => {
    const r = await firstFailure({ membershipBug: "members-always-alive" }, 30);
    expect(r?.sim.property).toBe("membership keeps a quorum");
  }, 60_000);
});

async function firstFailure(overrides: Partial<MasterSimOptions>, seeds = 10): Promise<MasterSimResult | null> {
  for (let seed = 1; seed <= seeds; seed++) {
    const r = await runMasterSeed(seed, overrides);
    if (!r.sim.ok) return r;
  }
  return null;
}
