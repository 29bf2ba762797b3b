// Bodies of /dir/status and /vol/status, in SeaweedFS's JSON shapes (weed/topology/topology_info.go,
// weed/storage/volume_info.go: Go field names as keys where it has no json tags).
import { volumeInfoJson } from "../../common/volume-info-json.js";
import { replicaPlacementFromByte } from "../../common/replica-placement.js";
import { ttlFromUint32 } from "../../common/ttl.js";
import type { DataNode, ReplicaInfo } from "../topology/data-node.js";
import { statusVolumeIdsMax } from "../limits.js";
import type { Topology } from "../topology/topology.js";
import { HEALTH_NEEDS_CHECK, HEALTH_READ_ONLY, HEALTH_UNDER_REPLICATED } from "../topology/volume-layout.js";

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** "1-3 5 7-10" (SeaweedFS util.HumanReadableIntsMax). */
export function humanReadableInts(ids: number[], max = statusVolumeIdsMax): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const shown = sorted.slice(0, max);
  const parts: string[] = [];
  let i = 0;
  while (i < shown.length) {
    const start = shown[i]!;
    let last = start;
    while (i + 1 < shown.length && shown[i + 1] === last + 1) last = shown[++i]!;
    parts.push(last > start ? `${start}-${last}` : `${start}`);
    i++;
  }
  return parts.join(" ") + (sorted.length > max ? " ..." : "");
}

function dataNodeInfo(n: DataNode): object {
  return {
    Url: n.url,
    PublicUrl: n.publicUrl,
    Volumes: n.volumes.size,
    EcShards: 0,
    Max: n.maxVolumes,
    VolumeIds: humanReadableInts([...n.volumes.keys()]),
    // Ours (SeaweedFS has it in the gRPC TopologyInfo): the shell reaches volume servers by gRPC.
    GrpcPort: n.grpcPort,
  };
}

export function topologyInfo(topology: Topology): object {
  const dcs = [...topology.dataCenters()].sort(byId).map((dc) => ({
    Id: dc.id,
    Racks: [...dc.racks.values()].sort(byId).map((rack) => ({
      Id: rack.id,
      DataNodes: [...rack.nodes.values()].sort(byId).map(dataNodeInfo),
    })),
  }));
  const layouts = [...topology.allLayouts()]
    .filter((l) => l.volumeCount > 0)
    .map((l) => ({
      replication: l.replicationText,
      ttl: l.ttlText,
      writables: l.writableIds(),
      collection: l.collection,
      diskType: "hdd",
      // Ours, beside SeaweedFS's writables: why the layout's other volumes take no writes (a
      // volume may be in several lists), and which writable ones are crowded (over 90% of the limit).
      underReplicated: l.idsWith(HEALTH_UNDER_REPLICATED),
      readOnly: l.idsWith(HEALTH_READ_ONLY),
      needsCheck: l.idsWith(HEALTH_NEEDS_CHECK),
      full: l.fullIds(),
      crowded: l.crowdedIds(),
    }));
  return { Max: topology.maxSlots, Free: topology.freeSlots, DataCenters: dcs, Layouts: layouts };
}

export function dirStatus(topology: Topology, version: string, topologyId: string): object {
  return { Version: version, TopologyId: topologyId, Topology: topologyInfo(topology) };
}

function volumeInfo(v: ReplicaInfo): object {
  return volumeInfoJson({
    ...v,
    replicaPlacement: replicaPlacementFromByte(v.replicaPlacement),
    ttl: ttlFromUint32(v.ttl),
  });
}

export function volStatus(topology: Topology, version: string): object {
  const dcs: Record<string, Record<string, Record<string, object[]>>> = {};
  for (const dc of topology.dataCenters()) {
    const racks: Record<string, Record<string, object[]>> = {};
    for (const rack of dc.racks.values()) {
      const nodes: Record<string, object[]> = {};
      for (const n of rack.nodes.values())
        nodes[n.url] = [...n.volumes.values()].sort((a, b) => a.id - b.id).map(volumeInfo);
      racks[rack.id] = nodes;
    }
    dcs[dc.id] = racks;
  }
  return { Version: version, Volumes: { Max: topology.maxSlots, Free: topology.freeSlots, DataCenters: dcs } };
}
