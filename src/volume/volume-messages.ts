// One VolumeInfo (storage's view) in the shapes the outside sees: the heartbeat's protobuf
// messages and the JSON of /status.
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
import { volumeInfoJson, type VolumeInfoJson } from "../common/volume-info-json.js";

/**
 * Built as a literal with every field rather than through create(), which walks the schema for each
 * message: a full beat holds one per volume, and a thousand servers send theirs at once after a
 * failover (the bench:scale fleet spent more on create() than on encoding).
 */
export function volumeInformationMessage(v: VolumeInfo): VolumeInformationMessage {
  return {
    $typeName: VolumeInformationMessageSchema.typeName,
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
    needsCheck: v.needsCheck,
  };
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

/** The JSON of /status for one volume. */
export function volumeStatusJson(v: VolumeInfo): VolumeInfoJson {
  return volumeInfoJson({ ...v, diskType: "" });
}
