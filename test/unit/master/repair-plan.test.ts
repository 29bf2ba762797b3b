// The shared repair planner (src/master/repair/plan.ts): where a missing copy goes, where it comes
// from, which extra copy goes; and the leader's snapshot of its topology that feeds it.
import { describe, expect, it } from "vitest";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { snapshotOf } from "../../../src/master/repair/cluster-snapshot.js";
import { missingCopies, pickSource, pickTarget, pickToTrim } from "../../../src/master/repair/plan.js";
import type { ReplicaInfo } from "../../../src/master/topology/data-node.js";
import { Topology } from "../../../src/master/topology/topology.js";

const rp010 = parseReplicaPlacement("010");
const place = (node: string, rack: string, dataCenter = "dc1") => ({ node, rack, dataCenter });

describe("pickTarget", () => {
  const holders = [place("a", "r1")];
  it("takes the server with the most free slots that keeps the placement", () => {
    const candidates = [
      { ...place("b", "r2"), freeSlots: 3 },
      { ...place("c", "r3"), freeSlots: 5 },
      { ...place("d", "r1"), freeSlots: 9 }, // same rack as the holder: not for 010
      { ...place("e", "r9", "dc2"), freeSlots: 9 }, // another data center: not for 010
    ];
    expect(pickTarget(rp010, holders, candidates)?.node).toBe("c");
  });
  it("never a server without a free slot; ties go to the lowest id; none fits: undefined", () => {
    expect(pickTarget(rp010, holders, [{ ...place("c", "r3"), freeSlots: 0 }])).toBeUndefined();
    const tie = [
      { ...place("c", "r3"), freeSlots: 2 },
      { ...place("b", "r2"), freeSlots: 2 },
    ];
    expect(pickTarget(rp010, holders, tie)?.node).toBe("b");
    expect(pickTarget(rp010, holders, [{ ...place("d", "r1"), freeSlots: 9 }])).toBeUndefined();
  });
});

describe("pickSource and pickToTrim", () => {
  const holders = [
    { ...place("a", "r1"), fileCount: 10, size: 500 },
    { ...place("b", "r2"), fileCount: 12, size: 400 },
    { ...place("c", "r3"), fileCount: 12, size: 450 },
  ];
  it("copies from the fullest replica (files, then bytes) and trims the emptiest", () => {
    expect(pickSource(holders)?.node).toBe("c");
    expect(pickToTrim(holders)?.node).toBe("a");
    expect(pickSource([])).toBeUndefined();
  });
  it("counts missing copies against the placement", () => {
    expect(missingCopies(rp010, 1)).toBe(1);
    expect(missingCopies(rp010, 3)).toBe(-1);
    expect(missingCopies(parseReplicaPlacement("110"), 1)).toBe(2);
  });
});

function replica(id: number, over: Partial<ReplicaInfo> = {}): ReplicaInfo {
  return {
    ...{ id, collection: "", replicaPlacement: 10, ttl: 0, size: 100, fileCount: 1, deleteCount: 0 },
    ...{ deletedByteCount: 0, readOnly: false, version: 3, compactRevision: 0, modifiedAtSecond: 0 },
    ...{ diskType: "", needsCheck: false, ...over },
  };
}

describe("snapshotOf", () => {
  it("lists servers with their free slots and gRPC address, and unhealthy volumes with their holders", () => {
    const t = new Topology(1 << 30);
    const spec = { publicUrl: "", dataCenter: "dc1", maxVolumes: 4 };
    const a = t.registerNode({ ...spec, ip: "127.0.0.1", port: 8080, grpcPort: 18080, rack: "r1" });
    const b = t.registerNode({ ...spec, ip: "127.0.0.1", port: 8081, grpcPort: 0, rack: "r2" });
    t.upsertVolume(a, replica(7, { fileCount: 3 }));
    t.upsertVolume(a, replica(2));
    t.upsertVolume(b, replica(7, { needsCheck: true }));
    t.upsertVolume(b, replica(9, { replicaPlacement: 0 })); // healthy: left out
    const s = snapshotOf(t);
    // b has not told its gRPC port: no candidate for copies, but still a holder of 7.
    expect(s.nodes).toEqual([
      { node: "127.0.0.1:8080", dataCenter: "dc1", rack: "r1", freeSlots: 2, grpcAddress: "127.0.0.1:18080" },
    ]);
    expect(s.volumes.map((v) => v.id)).toEqual([2, 7]);
    const v7 = s.volumes[1]!;
    expect(v7.placement).toEqual(rp010);
    expect(v7.holders).toEqual([
      { ...place("127.0.0.1:8080", "r1"), grpcAddress: "127.0.0.1:18080", fileCount: 3, size: 100, needsCheck: false },
      { ...place("127.0.0.1:8081", "r2"), grpcAddress: "", fileCount: 1, size: 100, needsCheck: true },
    ]);
  });

  it("lists no servers when no volume needs repair (the leader's scan every second stays cheap)", () => {
    const t = new Topology(1 << 30);
    const spec = { publicUrl: "", dataCenter: "dc1", maxVolumes: 4, ip: "127.0.0.1", grpcPort: 18080 };
    const a = t.registerNode({ ...spec, port: 8080, rack: "r1" });
    const b = t.registerNode({ ...spec, port: 8081, rack: "r2" });
    t.upsertVolume(a, replica(7));
    t.upsertVolume(b, replica(7));
    expect(snapshotOf(t)).toEqual({ nodes: [], volumes: [] });
    t.upsertVolume(a, replica(8)); // 010 with one copy: short, and the servers are candidates again
    expect(snapshotOf(t).nodes.map((n) => n.node)).toEqual(["127.0.0.1:8080", "127.0.0.1:8081"]);
  });
});
