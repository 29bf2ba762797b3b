// What the leader's repair needs of its topology, copied out in one pass: every server with its
// free slots, every unhealthy volume with its placement and holders (and whether a holder
// reported that a replicated write failed part way). Plain data, so the schedule stays pure.
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
  /** The volumes short of copies or needing a check (healthy ones are left out), by ascending id. */
  volumes: RepairVolume[];
}

function nodeOf(n: DataNode): RepairNode {
  const place = { dataCenter: n.dataCenter.id, rack: n.rack.id, node: n.id };
  return { ...place, freeSlots: n.freeSlots, grpcAddress: n.grpcAddress };
}

/**
 * The topology as repair sees it: every server, and the volumes that are short of copies or need
 * a check (Topology.replicaHealth keeps those apart, so a scan costs O(unhealthy volumes), and
 * O(servers) more when there are any). A server that has not told its gRPC port (0) can be neither
 * a source nor a target of a copy: it is left out of the candidates, and stays a holder of what it
 * reports.
 */
export function snapshotOf(topology: Topology): ClusterSnapshot {
  const volumes: RepairVolume[] = [];
  for (const h of topology.replicaHealth()) {
    if (!h.underReplicated && !h.needsCheck) continue;
    const placement = replicaPlacementFromByte(h.replicaPlacement);
    const holders = h.holders.flatMap((n) => {
      const r = n.volumes.get(h.id);
      if (r === undefined) return [];
      const { fileCount, size, needsCheck } = r;
      const grpcAddress = n.grpcPort === 0 ? "" : n.grpcAddress;
      return [{ dataCenter: n.dataCenter.id, rack: n.rack.id, node: n.id, grpcAddress, fileCount, size, needsCheck }];
    });
    volumes.push({ id: h.id, collection: h.collection, placement, holders });
  }
  // Servers are candidates for copies only: with nothing to repair (the usual case) the list is not
  // built. The leader scans every second, and 1,000 servers made it a ~3 ms turn (bench:scale).
  const nodes: RepairNode[] = [];
  if (volumes.length === 0) return { nodes, volumes };
  for (const n of topology.allNodes()) if (n.grpcPort !== 0) nodes.push(nodeOf(n));
  return { nodes, volumes };
}
