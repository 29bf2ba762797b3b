// SeaweedFS's storage.VolumeInfo as Go marshals it (no JSON tags, so Go field names), used by the
// volume server's /status and the master's /vol/status.
import type { ReplicaPlacement } from "./replica-placement.js";
import type { Ttl } from "./ttl.js";

export interface VolumeInfoFields {
  id: number;
  size: number;
  collection: string;
  replicaPlacement: ReplicaPlacement;
  ttl: Ttl;
  version: number;
  fileCount: number;
  deleteCount: number;
  deletedByteCount: number;
  readOnly: boolean;
  compactRevision: number;
  modifiedAtSecond: number;
  diskType: string;
  /** weed-ts: a replicated write or delete failed part way; the replicas may differ until checked. */
  needsCheck: boolean;
}

/** Go's super_block.ReplicaPlacement: json tags node/rack/dc with omitempty ("000" prints as {}). */
export interface ReplicaPlacementJson {
  node?: number;
  rack?: number;
  dc?: number;
}

export interface VolumeInfoJson {
  Id: number;
  Size: number;
  ReplicaPlacement: ReplicaPlacementJson;
  Ttl: { Count: number; Unit: number };
  DiskType: string;
  Collection: string;
  Version: number;
  FileCount: number;
  DeleteCount: number;
  DeletedByteCount: number;
  ReadOnly: boolean;
  CompactRevision: number;
  ModifiedAtSecond: number;
  RemoteStorageName: string;
  RemoteStorageKey: string;
  /** weed-ts, present (true) only on a volume that needs a replica check: SeaweedFS's shape otherwise. */
  NeedsCheck?: true;
}

export function volumeInfoJson(v: VolumeInfoFields): VolumeInfoJson {
  const rp: ReplicaPlacementJson = {};
  if (v.replicaPlacement.sameRack !== 0) rp.node = v.replicaPlacement.sameRack;
  if (v.replicaPlacement.diffRack !== 0) rp.rack = v.replicaPlacement.diffRack;
  if (v.replicaPlacement.diffDataCenter !== 0) rp.dc = v.replicaPlacement.diffDataCenter;
  const out: VolumeInfoJson = {
    Id: v.id,
    Size: v.size,
    ReplicaPlacement: rp,
    Ttl: { Count: v.ttl.count, Unit: v.ttl.unit },
    DiskType: v.diskType,
    Collection: v.collection,
    Version: v.version,
    FileCount: v.fileCount,
    DeleteCount: v.deleteCount,
    DeletedByteCount: v.deletedByteCount,
    ReadOnly: v.readOnly,
    CompactRevision: v.compactRevision,
    ModifiedAtSecond: v.modifiedAtSecond,
    RemoteStorageName: "",
    RemoteStorageKey: "",
  };
  if (v.needsCheck) out.NeedsCheck = true;
  return out;
}
