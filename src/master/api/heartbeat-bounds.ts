// What a heartbeat may claim, checked before anything of it is applied (issue 12): a heartbeat
// stream is not authenticated unless mutual TLS is on, and what it says raises replicated state
// (MaxVolumeId, through the Raft log) and answers lookups. So:
// - a stream naming another cluster is refused whole (its volumes belong to another namespace);
// - a server listing far more volumes than the capacity it reports is refused whole (broken or
//   lying: nothing it says can be trusted);
// - a volume whose id is 0, too far above the replicated maximum (heartbeatVolumeIdAheadMax, wider
//   for a server that names this cluster: heartbeatMemberVolumeIdAheadMax), or
//   whose size no volume can have is left out, and the rest of the beat is applied: one absurd
//   volume must not take a server's good volumes out of the cluster, and a master that lost its
//   state gets the volumes back in steps (see limits.ts).
import { ErrorCode, WeedError } from "../../common/errors.js";
import {
  heartbeatMemberVolumeIdAheadMax,
  heartbeatVolumeBytesMax,
  heartbeatVolumeIdAheadMax,
  heartbeatVolumesOverCountMax,
} from "../limits.js";

/** heartbeatVolumeBytesMax as the bigint a beat's sizes are compared with: made once, not per volume. */
const volumeBytesMax = BigInt(heartbeatVolumeBytesMax);

/** Refuses a heartbeat of another cluster ("" on either side: not known yet, accepted). */
export function checkHeartbeatCluster(theirs: string, ours: string): void {
  if (theirs === "" || ours === "" || theirs === ours) return;
  throw new WeedError(
    ErrorCode.CONFLICT,
    `this volume server belongs to cluster ${theirs}, this master to cluster ${ours}: refused. ` +
      "Point it at its own cluster's masters; if this cluster's masters were reset on purpose, remove " +
      "cluster.id from the volume server's -dir",
  );
}

/** Refuses a full beat listing far more volumes than the server says it can hold. */
export function checkVolumeCount(listed: number, maxVolumes: number): void {
  if (listed <= maxVolumes + heartbeatVolumesOverCountMax) return;
  throw new WeedError(
    ErrorCode.BAD_REQUEST,
    `heartbeat lists ${listed} volumes for a server of ${maxVolumes} slots ` +
      `(at most ${heartbeatVolumesOverCountMax} over is accepted)`,
  );
}

/**
 * How far ahead of the maximum a beat's volume ids may be: wider for a server that names this
 * cluster than for one that names none (limits.ts says why).
 */
export function volumeIdAheadMax(theirs: string, ours: string): number {
  return theirs !== "" && theirs === ours ? heartbeatMemberVolumeIdAheadMax : heartbeatVolumeIdAheadMax;
}

/** Why a volume of a heartbeat is left out, or null when it is sane. */
export function insaneVolume(
  id: number,
  sizeBytes: bigint | undefined,
  maxVolumeId: number,
  aheadMax: number = heartbeatVolumeIdAheadMax,
): string | null {
  if (id === 0) return "volume id 0";
  if (id > maxVolumeId + aheadMax)
    return `volume id ${id} is more than ${aheadMax} above the cluster's maximum ${maxVolumeId}`;
  if (sizeBytes !== undefined && sizeBytes > volumeBytesMax)
    return `volume ${id} claims ${sizeBytes} bytes, over ${heartbeatVolumeBytesMax}`;
  return null;
}

/** `volumes` split into the sane ones and the reasons for the others. */
export function saneVolumes<T extends { id: number; size?: bigint }>(
  volumes: readonly T[],
  maxVolumeId: number,
  aheadMax: number = heartbeatVolumeIdAheadMax,
): { sane: T[]; refused: string[] } {
  const sane: T[] = [];
  const refused: string[] = [];
  for (const v of volumes) {
    const why = insaneVolume(v.id, v.size, maxVolumeId, aheadMax);
    if (why === null) sane.push(v);
    else refused.push(why);
  }
  return { sane, refused };
}
