// volume.balance's plan (volume-balance.ts planBalance): moves from the server using the largest
// share of its slots to the one using the smallest, while that lowers the largest share; replicas
// keep their placement; -collection counts and moves only that collection.
import { describe, expect, it } from "vitest";
import { planBalance } from "../../../src/cli/shell/volume-balance.js";
import type { ClusterView, NodeView, ReplicaView } from "../../../src/cli/shell/cluster-topology.js";
import { replicaPlacementFromByte } from "../../../src/common/replica-placement.js";

function replica(id: number, collection = "", placement = 0): ReplicaView {
  return {
    ...{ id, size: 100, collection, fileCount: 1, deleteCount: 0, deletedByteCount: 0, readOnly: false },
    ...{ placement: replicaPlacementFromByte(placement), version: 3, modifiedAtSecond: 0, compactRevision: 0 },
  };
}

function node(url: string, rack: string, maxVolumes: number, volumes: ReplicaView[]): NodeView {
  return { url, dataCenter: "dc", rack, grpcAddress: `${url}0`, maxVolumes, volumes };
}

const moves = (c: ClusterView, collection = ""): string[] =>
  planBalance(c, collection).map((m) => `${m.volumeId} ${m.from.url}->${m.to.url}`);

describe("planBalance", () => {
  it("evens counts by share of slots and stops when a move would not lower the largest share", () => {
    const a = node(
      "a",
      "r1",
      10,
      [1, 2, 3, 4, 5, 6].map((i) => replica(i)),
    );
    const b = node("b", "r1", 10, []);
    const c = node("c", "r1", 20, []);
    // c has twice the slots: it ends with 3/20, b with 1/10, a with 2/10 (a fifth move would not
    // lower a's share: b or c would reach 2/10 too).
    expect(moves({ nodes: [a, b, c], full: new Set() })).toEqual(["1 a->c", "2 a->b", "3 a->c", "4 a->c"]);
    const even = node("d", "r1", 10, [replica(9)]);
    expect(moves({ nodes: [even, node("e", "r1", 10, [])], full: new Set() })).toEqual([]);
  });

  it("keeps placement (010: never both copies in one rack) and counts only -collection", () => {
    const a = node("a", "r1", 10, [replica(1, "x", 10), replica(2, "y"), replica(3, "y"), replica(4, "y")]);
    const b = node("b", "r2", 10, [replica(1, "x", 10)]);
    const c = node("c", "r2", 10, []);
    // Volume 1's other copy is in r2: it may not go to c (r2, and b holds it), so y volumes move.
    expect(moves({ nodes: [a, b, c], full: new Set() })).toEqual(["2 a->c", "3 a->c"]);
    expect(moves({ nodes: [a, b, c], full: new Set() }, "x")).toEqual([]);
    expect(moves({ nodes: [a, b, c], full: new Set() }, "y")).toEqual(["2 a->c", "3 a->b"]);
  });
});
