// Full beats repeat every volume every pulse; the leader re-evaluates a volume only when a replica's
// report can change its writability (flags, or its size crossing the crowded or the full mark:
// VolumeLayout.replicaStateChanged, issue 15). These pin that every such crossing still moves the
// volume, for a volume with one replica and with two, whatever the order of the reports.
import { describe, expect, it } from "vitest";
import { Topology } from "../../../src/master/topology/topology.js";
import type { NodeSpec, ReplicaInfo } from "../../../src/master/topology/data-node.js";
import { rpByte } from "./helpers.js";

const LIMIT = 1000;
/** Over crowdedFraction (0.9) of LIMIT, under LIMIT. */
const CROWDED = 950;

function spec(port: number): NodeSpec {
  return { ip: "10.0.0.1", port, publicUrl: "", grpcPort: port + 10000, dataCenter: "", rack: "", maxVolumes: 8 };
}

function replica(id: number, o: Partial<ReplicaInfo> & { replication?: string } = {}): ReplicaInfo {
  const { replication, ...rest } = o;
  return {
    ...{ id, collection: "", replicaPlacement: rpByte(replication ?? "000"), ttl: 0, size: 0, fileCount: 0 },
    ...{ deleteCount: 0, deletedByteCount: 0, readOnly: false, version: 3, compactRevision: 0 },
    ...{ modifiedAtSecond: 0, diskType: "", needsCheck: false },
    ...rest,
  };
}

describe("repeated full beats", () => {
  it("move a volume across crowded, full, read-only and needs-check and back", () => {
    const t = new Topology(LIMIT);
    const n = t.registerNode(spec(8080));
    const layout = (): ReturnType<Topology["findLayout"]> => t.findLayout("", 0, 0);
    const beat = (o: Partial<ReplicaInfo>): void => void t.syncVolumes(n, [replica(1, o), replica(2)]);
    beat({ size: 10 });
    beat({ size: 20 });
    expect(layout()!.writableIds()).toEqual([1, 2]);
    beat({ size: CROWDED });
    expect(layout()!.crowdedIds()).toEqual([1]);
    beat({ size: CROWDED + 1 });
    expect(layout()!.crowdedIds()).toEqual([1]);
    beat({ size: LIMIT });
    expect(layout()!.writableIds()).toEqual([2]);
    expect(layout()!.fullIds()).toEqual([1]);
    beat({ size: 10 });
    expect(layout()!.writableIds()).toEqual([1, 2]);
    expect(layout()!.crowdedIds()).toEqual([]);
    beat({ size: 10, readOnly: true });
    expect(layout()!.writableIds()).toEqual([2]);
    beat({ size: 11 });
    beat({ size: 12, needsCheck: true });
    expect(layout()!.writableIds()).toEqual([2]);
    beat({ size: 13 });
    expect(layout()!.writableIds()).toEqual([1, 2]);
  });

  it("go by the fullest replica: the other replica's reports below the mark leave it full", () => {
    const t = new Topology(LIMIT);
    const a = t.registerNode(spec(8080));
    const b = t.registerNode(spec(8081));
    const report = (node: typeof a, size: number): void =>
      void t.syncVolumes(node, [replica(1, { replication: "001", size })]);
    report(a, 10);
    report(b, 10);
    expect(t.findLayout("", rpByte("001"), 0)!.writableIds()).toEqual([1]);
    report(a, LIMIT);
    report(b, 20);
    report(b, 30);
    expect(t.findLayout("", rpByte("001"), 0)!.writableIds()).toEqual([]);
    report(a, 40);
    expect(t.findLayout("", rpByte("001"), 0)!.writableIds()).toEqual([1]);
  });
});
