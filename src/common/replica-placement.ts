// Replica placement "xyz" (SeaweedFS): x = copies in other data centers, y = copies on other racks
// in the same data center, z = copies on other servers in the same rack. Copy count = x+y+z+1.
// Stored in the superblock as one byte, decimal-packed: x*100 + y*10 + z.
import { ErrorCode, WeedError } from "./errors.js";

export interface ReplicaPlacement {
  diffDataCenter: number;
  diffRack: number;
  sameRack: number;
}

export function parseReplicaPlacement(text: string): ReplicaPlacement {
  const t = text === "" ? "000" : text.padStart(3, "0");
  if (!/^[0-9]{3}$/.test(t))
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `invalid replication ${JSON.stringify(text)}: expected three digits like "001"`,
    );
  const rp = { diffDataCenter: Number(t[0]), diffRack: Number(t[1]), sameRack: Number(t[2]) };
  if (toByte(rp) > 255)
    throw new WeedError(ErrorCode.BAD_PARAM, `invalid replication ${JSON.stringify(text)}: over 255 when packed`);
  return rp;
}

function toByte(rp: ReplicaPlacement): number {
  return rp.diffDataCenter * 100 + rp.diffRack * 10 + rp.sameRack;
}

export function replicaPlacementToByte(rp: ReplicaPlacement): number {
  return toByte(rp);
}

export function replicaPlacementFromByte(b: number): ReplicaPlacement {
  return { diffDataCenter: Math.floor(b / 100), diffRack: Math.floor(b / 10) % 10, sameRack: b % 10 };
}

export function formatReplicaPlacement(rp: ReplicaPlacement): string {
  return `${rp.diffDataCenter}${rp.diffRack}${rp.sameRack}`;
}

export function copyCount(rp: ReplicaPlacement): number {
  return rp.diffDataCenter + rp.diffRack + rp.sameRack + 1;
}
