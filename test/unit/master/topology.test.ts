// Checks the topology tree and the layout writability rules in process (the topology is pure):
// registering and dropping servers, full and delta volume reports, and when a volume takes writes.
import { describe, expect, it } from "vitest";
import { Topology } from "../../../src/master/topology/topology.js";
import type { NodeSpec } from "../../../src/master/topology/data-node.js";
import { replicaInfo, rpByte, ttlU32 } from "./helpers.js";

const LIMIT = 1000;

function spec(port: number, o: Partial<NodeSpec> = {}): NodeSpec {
  return { ip: "10.0.0.1", port, publicUrl: "", grpcPort: port + 10000, dataCenter: "", rack: "", maxVolumes: 8, ...o };
}

const replica = replicaInfo;

describe("Topology", () => {
  it("registers nodes under default data center and rack names", () => {
    const t = new Topology(LIMIT);
    const n = t.registerNode(spec(8080));
    expect(n.id).toBe("10.0.0.1:8080");
    expect(n.publicUrl).toBe("10.0.0.1:8080");
    expect(n.dataCenter.id).toBe("DefaultDataCenter");
    expect(n.rack.id).toBe("DefaultRack");
    expect(n.location).toEqual({
      url: "10.0.0.1:8080",
      publicUrl: "10.0.0.1:8080",
      dataCenter: "DefaultDataCenter",
      grpcPort: 18080,
    });
    expect(t.maxSlots).toBe(8);
    expect(t.freeSlots).toBe(8);
  });

  it("unregistering a node drops its volumes and empty racks and data centers", () => {
    const t = new Topology(LIMIT);
    const a = t.registerNode(spec(8080, { dataCenter: "dc1", rack: "r1" }));
    const b = t.registerNode(spec(8081, { dataCenter: "dc1", rack: "r1" }));
    t.syncVolumes(a, [replica(1, { replication: "001" }), replica(2)]);
    t.syncVolumes(b, [replica(1, { replication: "001" })]);
    expect(t.lookup(1)?.map((n) => n.id)).toEqual([a.id, b.id]);
    expect(t.unregisterNode(a)).toBe(true);
    expect(t.lookup(1)?.map((n) => n.id)).toEqual([b.id]);
    expect(t.lookup(2)).toBeUndefined();
    expect(t.volumeCount).toBe(1);
    t.unregisterNode(b);
    expect([...t.dataCenters()]).toEqual([]);
    expect(t.nodeCount).toBe(0);
  });

  it("a re-registered node replaces the old one; the old one's late unregister is a no-op", () => {
    const t = new Topology(LIMIT);
    const old = t.registerNode(spec(8080));
    t.syncVolumes(old, [replica(3)]);
    const fresh = t.registerNode(spec(8080));
    expect(t.lookup(3)).toBeUndefined();
    t.syncVolumes(fresh, [replica(3)]);
    expect(t.unregisterNode(old)).toBe(false);
    expect(t.lookup(3)?.[0]).toBe(fresh);
  });

  it("full reports replace the set; deltas add and remove", () => {
    const t = new Topology(LIMIT);
    const n = t.registerNode(spec(8080));
    expect(t.syncVolumes(n, [replica(1), replica(2)])).toEqual({ added: [1, 2], removed: [], flagged: [] });
    expect(t.syncVolumes(n, [replica(2), replica(3)])).toEqual({ added: [3], removed: [1], flagged: [] });
    expect(n.freeSlots).toBe(6);
    t.upsertVolume(n, replica(9));
    expect(t.removeVolume(n, 2)).toBe(true);
    expect(t.removeVolume(n, 2)).toBe(false);
    expect([...n.volumes.keys()].sort()).toEqual([3, 9]);
  });

  it("keeps one layout per (collection, replication, ttl)", () => {
    const t = new Topology(LIMIT);
    const n = t.registerNode(spec(8080));
    t.syncVolumes(n, [replica(1), replica(2, { collection: "pics" }), replica(3, { ttl: ttlU32("3d") }), replica(4)]);
    expect(t.findLayout("", 0, 0)?.volumeIds()).toEqual([1, 4]);
    expect(t.findLayout("pics", 0, 0)?.volumeIds()).toEqual([2]);
    expect(t.findLayout("", 0, ttlU32("3d"))?.volumeIds()).toEqual([3]);
    expect(t.findLayout("", 0, ttlU32("3d"))?.ttlText).toBe("3d");
  });
});

describe("VolumeLayout writability", () => {
  it("is writable only once every replica of the placement has reported", () => {
    const t = new Topology(LIMIT);
    const a = t.registerNode(spec(8080));
    const b = t.registerNode(spec(8081));
    t.upsertVolume(a, replica(5, { replication: "001" }));
    const layout = t.findLayout("", rpByte("001"), 0)!;
    expect(layout.isWritable(5)).toBe(false);
    t.upsertVolume(b, replica(5, { replication: "001" }));
    expect(layout.isWritable(5)).toBe(true);
    expect(layout.pick(Math.random)).toBe(5);
    t.unregisterNode(b);
    expect(layout.isWritable(5)).toBe(false);
    expect(layout.pick(Math.random)).toBe(-1);
  });

  it("a full volume (size at the limit) is not writable; it becomes writable again if it shrinks", () => {
    const t = new Topology(LIMIT);
    const n = t.registerNode(spec(8080));
    t.syncVolumes(n, [replica(1, { size: LIMIT - 1 }), replica(2, { size: LIMIT })]);
    const layout = t.findLayout("", 0, 0)!;
    expect(layout.writableIds()).toEqual([1]);
    t.syncVolumes(n, [replica(1, { size: LIMIT + 5 }), replica(2, { size: 10 })]); // vacuumed
    expect(layout.writableIds()).toEqual([2]);
  });

  it("a read-only replica makes the whole volume read-only", () => {
    const t = new Topology(LIMIT);
    const a = t.registerNode(spec(8080));
    const b = t.registerNode(spec(8081));
    t.upsertVolume(a, replica(7, { replication: "001" }));
    t.upsertVolume(b, replica(7, { replication: "001", readOnly: true }));
    const layout = t.findLayout("", rpByte("001"), 0)!;
    expect(layout.isWritable(7)).toBe(false);
    t.upsertVolume(b, replica(7, { replication: "001" }));
    expect(layout.isWritable(7)).toBe(true);
  });

  it("pick spreads over every writable volume and removal keeps the set consistent", () => {
    const t = new Topology(LIMIT);
    const n = t.registerNode(spec(8080, { maxVolumes: 100 }));
    t.syncVolumes(
      n,
      Array.from({ length: 20 }, (_, i) => replica(i + 1)),
    );
    const layout = t.findLayout("", 0, 0)!;
    for (const vid of [3, 7, 20, 1]) t.removeVolume(n, vid);
    const seen = new Set<number>();
    let x = 0;
    const random = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2000; i++) seen.add(layout.pick(random));
    expect([...seen].sort((p, q) => p - q)).toEqual(layout.writableIds());
    expect(seen.size).toBe(16);
  });
});
