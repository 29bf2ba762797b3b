// The leader's vacuum orchestration in process, against a real Topology and scripted volume-server
// answers (the calls themselves run against real volume servers in the integration test): which
// volumes it vacuums, all replicas compacted before any commit, cleanup everywhere when one
// compaction fails, the volume held off the writable list meanwhile and put back after, passes
// one after another, and the threshold's bounds.
import { describe, expect, it } from "vitest";
import { Topology } from "../../../src/master/topology/topology.js";
import type { DataNode, NodeSpec, ReplicaInfo } from "../../../src/master/topology/data-node.js";
import { checkGarbageThreshold, Vacuumer } from "../../../src/master/repair/vacuum.js";
import type { VacuumCalls } from "../../../src/master/repair/vacuum-calls.js";
import { realRepairClock } from "../../../src/master/repair/repairer.js";
import { silentLogger } from "../../../src/common/logger.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { replicaInfo, rpByte } from "./helpers.js";
import { waitFor } from "../../helpers.js";

const LIMIT = 1 << 30;
const RP010 = rpByte("010");

function setup(ratios: Record<number, number[]>): { t: Topology; nodes: DataNode[] } {
  const t = new Topology(LIMIT);
  const nodes = ["r1", "r2"].map((rack, i) => {
    const spec: NodeSpec = {
      ip: "10.0.0.1",
      port: 8080 + i,
      publicUrl: "",
      grpcPort: 18080 + i,
      dataCenter: "dc1",
      rack,
      maxVolumes: 20,
    };
    return t.registerNode(spec);
  });
  for (const vid of Object.keys(ratios).map(Number)) {
    for (const n of nodes) t.upsertVolume(n, replica(vid, { size: 1000 }));
  }
  return { t, nodes };
}

const replica = (id: number, o: Partial<ReplicaInfo> = {}): ReplicaInfo =>
  replicaInfo(id, { replicaPlacement: RP010, ...o });

/** Scripted answers: per volume, each replica's ratio (in node order); a log of every call. */
class Script implements VacuumCalls {
  readonly log: string[] = [];
  failCompactOn = "";
  failCommitOn = "";
  /** Checked while the compaction runs: was the volume writable then? */
  writableDuringCompact: boolean[] = [];
  constructor(
    private readonly ratios: Record<number, number[]>,
    private readonly nodes: DataNode[],
    private readonly t: Topology,
  ) {}
  async check(address: string, vid: number): Promise<number> {
    this.log.push(`check ${vid} ${address}`);
    return this.ratios[vid]![this.nodes.findIndex((n) => n.grpcAddress === address)]!;
  }
  async compact(address: string, vid: number): Promise<void> {
    this.log.push(`compact ${vid} ${address}`);
    this.writableDuringCompact.push(this.t.layoutOfVolume(vid)!.isWritable(vid));
    await new Promise((r) => setTimeout(r, 5));
    if (address === this.failCompactOn) throw new WeedError(ErrorCode.UNAVAILABLE, "disk on fire");
  }
  async commit(address: string, vid: number): Promise<{ sizeBytes: number; readOnly: boolean }> {
    this.log.push(`commit ${vid} ${address}`);
    if (address === this.failCommitOn) throw new WeedError(ErrorCode.UNAVAILABLE, "commit failed");
    return { sizeBytes: 400, readOnly: false };
  }
  async cleanup(address: string, vid: number): Promise<void> {
    this.log.push(`cleanup ${vid} ${address}`);
  }
}

function vacuumer(t: Topology, calls: VacuumCalls): Vacuumer {
  const deps = { topology: t, calls, ready: () => true, clock: realRepairClock, logger: silentLogger() };
  return new Vacuumer(deps, { garbageThreshold: 0.3, periodMs: 0 });
}

describe("Vacuumer", () => {
  it("vacuums every replica of a volume over the threshold on one of them; leaves the others", async () => {
    const ratios = { 1: [0.5, 0.1], 2: [0.1, 0.2], 3: [0.3, 0.3] };
    const { t, nodes } = setup(ratios);
    const s = new Script(ratios, nodes, t);
    const out = await vacuumer(t, s).run({ garbageThreshold: 0.3 });
    expect(out.map((o) => [o.volumeId, o.result])).toEqual([
      [1, "vacuumed"],
      [3, "vacuumed"],
    ]);
    expect(out[0]).toMatchObject({ garbageRatio: 0.5, bytesBefore: 2000, bytesAfter: 800 });
    const [a, b] = nodes.map((n) => n.grpcAddress);
    // Every compaction before any commit; volume 2 only checked.
    expect(s.log.filter((l) => l.includes(" 1 "))).toEqual([
      `check 1 ${a}`,
      `check 1 ${b}`,
      `compact 1 ${a}`,
      `compact 1 ${b}`,
      `commit 1 ${a}`,
      `commit 1 ${b}`,
    ]);
    expect(s.log.filter((l) => l.startsWith("compact 2"))).toEqual([]);
    // Held off the writable list while compacting, writable again after.
    expect(s.writableDuringCompact).toEqual([false, false, false, false]);
    expect(t.layoutOfVolume(1)!.isWritable(1)).toBe(true);
    expect(t.layoutOfVolume(3)!.isWritable(3)).toBe(true);
  });

  it("one failed compaction: nothing committed, every replica cleaned up, the volume writable again", async () => {
    const ratios = { 7: [0.9, 0.9] };
    const { t, nodes } = setup(ratios);
    const s = new Script(ratios, nodes, t);
    s.failCompactOn = nodes[1]!.grpcAddress;
    const [o] = await vacuumer(t, s).run({ garbageThreshold: 0.3 });
    expect(o).toMatchObject({ volumeId: 7, result: "failed" });
    expect(o!.error).toContain("disk on fire");
    expect(s.log.filter((l) => l.startsWith("commit"))).toEqual([]);
    expect(s.log.filter((l) => l.startsWith("cleanup")).sort()).toEqual(
      nodes.map((n) => `cleanup 7 ${n.grpcAddress}`).sort(),
    );
    expect(t.layoutOfVolume(7)!.isWritable(7)).toBe(true);
  });

  it("a failed commit is reported, the others committed; volumeId and collection narrow the pass", async () => {
    const ratios = { 4: [0.8, 0.8], 5: [0.8, 0.8] };
    const { t, nodes } = setup(ratios);
    const s = new Script(ratios, nodes, t);
    s.failCommitOn = nodes[0]!.grpcAddress;
    const v = vacuumer(t, s);
    const [o] = await v.run({ garbageThreshold: 0.3, volumeId: 5 });
    expect(o).toMatchObject({ volumeId: 5, result: "failed" });
    expect(s.log.some((l) => l.includes(" 4 "))).toBe(false);
    expect(s.log.filter((l) => l.startsWith("commit 5"))).toHaveLength(2);
    expect(await v.run({ garbageThreshold: 0.3, collection: "other" })).toEqual([]);
  });

  it("passes run one after another, never interleaved", async () => {
    const ratios = { 1: [0.9, 0.9], 2: [0.9, 0.9] };
    const { t, nodes } = setup(ratios);
    const s = new Script(ratios, nodes, t);
    const v = vacuumer(t, s);
    await Promise.all([v.run({ garbageThreshold: 0.3 }), v.run({ garbageThreshold: 0.3 })]);
    const commits = s.log.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith("commit"));
    // The second pass's first check comes after the first pass's last commit.
    const lastCommitOfFirst = commits[3]![1];
    const checks = s.log.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith("check"));
    expect(checks[4]![1]).toBeGreaterThan(lastCommitOfFirst);
  });

  it("automatic passes every period while leading and enabled; none when disabled or after stepDown", async () => {
    const ratios = { 1: [0.9, 0.9] };
    const { t, nodes } = setup(ratios);
    const s = new Script(ratios, nodes, t);
    const deps = { topology: t, calls: s, ready: () => true, clock: realRepairClock, logger: silentLogger() };
    const v = new Vacuumer(deps, { garbageThreshold: 0.3, periodMs: 20 });
    const checks = (): number => s.log.filter((l) => l.startsWith("check")).length;
    v.lead();
    await waitFor(() => checks() >= 4, { what: "two automatic passes", timeoutMs: 5_000 });
    v.setEnabled(false);
    await new Promise((r) => setTimeout(r, 60)); // a pass under way ends
    const whileDisabled = checks();
    await new Promise((r) => setTimeout(r, 100));
    expect(checks()).toBe(whileDisabled);
    v.setEnabled(true);
    await waitFor(() => checks() > whileDisabled, { what: "passes again once enabled", timeoutMs: 5_000 });
    await v.stepDown();
    const after = checks();
    await new Promise((r) => setTimeout(r, 100));
    expect(checks()).toBe(after);
    await v.close();
  });

  it("garbageThreshold must be in (0, 1]", () => {
    expect(checkGarbageThreshold(0.3)).toBe(0.3);
    expect(checkGarbageThreshold(1)).toBe(1);
    for (const bad of [0, -0.1, 1.5, Number.NaN]) expect(() => checkGarbageThreshold(bad)).toThrow(WeedError);
  });
});
