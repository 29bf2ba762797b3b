// One VolumeInfo (storage's view) in the shapes the outside sees: the heartbeat's protobuf
// messages and the JSON of /status (SeaweedFS's storage.VolumeInfo as Go marshals it).
import { create } from "@bufbuild/protobuf";
import {
  VolumeInformationMessageSchema,
  VolumeShortInformationMessageSchema,
  type VolumeInformationMessage,
  type VolumeShortInformationMessage,
} from "../gen/master_pb.js";
import { replicaPlacementToByte } from "../common/replica-placement.js";
import { ttlToUint32 } from "../common/ttl.js";
import type { VolumeInfo } from "./storage/store-api.js";

export function volumeInformationMessage(v: VolumeInfo): VolumeInformationMessage {
  return create(VolumeInformationMessageSchema, {
    id: v.id,
    size: BigInt(v.size),
    collection: v.collection,
    fileCount: BigInt(v.fileCount),
    deleteCount: BigInt(v.deleteCount),
    deletedByteCount: BigInt(v.deletedByteCount),
    readOnly: v.readOnly,
    replicaPlacement: replicaPlacementToByte(v.replicaPlacement),
    version: v.version,
    ttl: ttlToUint32(v.ttl),
    compactRevision: v.compactRevision,
    modifiedAtSecond: BigInt(v.modifiedAtSecond),
    diskType: "",
  });
}

export function volumeShortInformationMessage(v: VolumeInfo): VolumeShortInformationMessage {
  return create(VolumeShortInformationMessageSchema, {
    id: v.id,
    collection: v.collection,
    replicaPlacement: replicaPlacementToByte(v.replicaPlacement),
    version: v.version,
    ttl: ttlToUint32(v.ttl),
    diskType: "",
  });
}

/** Go's super_block.ReplicaPlacement: json tags node/rack/dc with omitempty. */
interface ReplicaPlacementJson {
  node?: number;
  rack?: number;
  dc?: number;
}

export interface VolumeStatusJson {
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
}

export function volumeStatusJson(v: VolumeInfo): VolumeStatusJson {
  const rp: ReplicaPlacementJson = {};
  if (v.replicaPlacement.sameRack !== 0) rp.node = v.replicaPlacement.sameRack;
  if (v.replicaPlacement.diffRack !== 0) rp.rack = v.replicaPlacement.diffRack;
  if (v.replicaPlacement.diffDataCenter !== 0) rp.dc = v.replicaPlacement.diffDataCenter;
  return {
    Id: v.id,
    Size: v.size,
    ReplicaPlacement: rp,
    Ttl: { Count: v.ttl.count, Unit: v.ttl.unit },
    DiskType: "",
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
}
