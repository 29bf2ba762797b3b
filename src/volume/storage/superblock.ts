// The superblock: the first 8 bytes of every .dat (plus an optional protobuf extra). See FORMAT.md.
import { ErrorCode, WeedError } from "../../common/errors.js";
import {
  replicaPlacementFromByte,
  replicaPlacementToByte,
  type ReplicaPlacement,
} from "../../common/replica-placement.js";
import type { Ttl } from "../../common/ttl.js";
import { superBlockExtraBytesMax } from "./limits.js";

export const superBlockBytes = 8;

/** Needle format versions. We write v3; v2 volumes (no AppendAtNs) are read and appended to as v2. */
export const VERSION_2 = 2;
export const VERSION_3 = 3;
export const CURRENT_VERSION = VERSION_3;

/** TTL unit byte values 0..6 (none, m, h, d, w, M, y). */
const ttlUnitMax = 6;

export interface SuperBlock {
  version: number;
  replicaPlacement: ReplicaPlacement;
  ttl: Ttl;
  compactRevision: number;
  /** Raw protobuf SuperBlockExtra bytes (normally empty); kept as-is, never interpreted. */
  extra: Buffer;
}

/** Bytes the superblock occupies in .dat: the first needle starts here. */
export function superBlockLength(sb: SuperBlock): number {
  return superBlockBytes + sb.extra.length;
}

export function encodeSuperBlock(sb: SuperBlock): Buffer {
  if (sb.extra.length > superBlockExtraBytesMax) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `superblock extra of ${sb.extra.length} bytes is over ${superBlockExtraBytesMax}`,
    );
  }
  const buf = Buffer.alloc(superBlockBytes + sb.extra.length);
  buf[0] = sb.version;
  buf[1] = replicaPlacementToByte(sb.replicaPlacement);
  buf[2] = sb.ttl.count;
  buf[3] = sb.ttl.unit;
  buf.writeUInt16BE(sb.compactRevision, 4);
  buf.writeUInt16BE(sb.extra.length, 6);
  sb.extra.copy(buf, superBlockBytes);
  return buf;
}

/**
 * Decodes the fixed 8 bytes; `extraLength` says how many bytes of extra follow, which the caller
 * reads and passes to `withExtra`. Throws CORRUPT for versions and values we cannot have written.
 */
export function decodeSuperBlockHeader(buf: Buffer, what: string): { sb: SuperBlock; extraLength: number } {
  if (buf.length < superBlockBytes) {
    throw new WeedError(ErrorCode.CORRUPT, `${what}: superblock is ${buf.length} bytes, expected ${superBlockBytes}`);
  }
  const version = buf[0] ?? 0;
  if (version !== VERSION_2 && version !== VERSION_3) {
    throw new WeedError(
      ErrorCode.CORRUPT,
      `${what}: unsupported needle version ${version} in superblock (only 2 and 3)`,
    );
  }
  const ttlUnit = buf[3] ?? 0;
  if (ttlUnit > ttlUnitMax)
    throw new WeedError(ErrorCode.CORRUPT, `${what}: superblock ttl unit ${ttlUnit} is unknown`);
  const extraLength = buf.readUInt16BE(6);
  if (extraLength > superBlockExtraBytesMax) {
    throw new WeedError(
      ErrorCode.CORRUPT,
      `${what}: superblock extra length ${extraLength} is over ${superBlockExtraBytesMax}`,
    );
  }
  const sb: SuperBlock = {
    version,
    replicaPlacement: replicaPlacementFromByte(buf[1] ?? 0),
    ttl: { count: buf[2] ?? 0, unit: ttlUnit },
    compactRevision: buf.readUInt16BE(4),
    extra: Buffer.alloc(0),
  };
  return { sb, extraLength };
}
