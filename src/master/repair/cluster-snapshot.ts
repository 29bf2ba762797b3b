// What the leader's repair needs of its topology, copied out in one pass: every server with its
// free slots, every volume with its placement and holders (and whether a holder reported that a
// replicated write failed part way). Plain data, so the schedule that reads it stays pure.
import { replicaPlacementFromByte, type ReplicaPlacement } from "../../common/replica-placement.js";
import type { DataNode } from "../topology/data-node.js";
import type { Topology } from "../topology/topology.js";
import type { Candidate, Holder } from "./plan.js";

/** A volume server; `node` is its id ("ip:port", also its HTTP address). */
export interface RepairNode extends Candidate {
  grpcAddress: string;
}

/** One replica of a volume on a server. */
export interface RepairReplica extends Holder {
  /** "" when the server has not told its gRPC port: it cannot be copied from. */
  grpcAddress: string;
  /** The server reported a replicated write or delete to this volume that failed part way. */
  needsCheck: boolean;
}

export interface RepairVolume {
  id: number;
  collection: string;
  placement: ReplicaPlacement;
  holders: RepairReplica[];
}

export interface ClusterSnapshot {
  nodes: RepairNode[];
  /** By ascending id. */
  volumes: RepairVolume[];
}

function nodeOf(n: DataNode): RepairNode {
  const place = { dataCenter: n.dataCenter.id, rack: n.rack.id, node: n.id };
  return { ...place, freeSlots: n.freeSlots, grpcAddress: n.grpcAddress };
}

/**
 * The topology as repair sees it. A server that has not told its gRPC port (0) can be neither a
 * source nor a target of a copy: it is left out of the candidates, and a volume it holds keeps it
 * as a holder (the copy count is what its heartbeat says).
 */
export function snapshotOf(topology: Topology): ClusterSnapshot {
  const nodes: RepairNode[] = [];
  const volumes = new Map<number, RepairVolume>();
  for (const n of topology.allNodes()) {
    const node = nodeOf(n);
    if (n.grpcPort !== 0) nodes.push(node);
    for (const r of n.volumes.values()) {
      let v = volumes.get(r.id);
      if (v === undefined) {
        const placement = replicaPlacementFromByte(r.replicaPlacement);
        v = { id: r.id, collection: r.collection, placement, holders: [] };
        volumes.set(r.id, v);
      }
      const { dataCenter, rack } = node;
      const grpcAddress = n.grpcPort === 0 ? "" : node.grpcAddress;
      const { fileCount, size, needsCheck } = r;
      v.holders.push({ dataCenter, rack, node: n.id, grpcAddress, fileCount, size, needsCheck });
    }
  }
  return { nodes, volumes: [...volumes.values()].sort((a, b) => a.id - b.id) };
}
