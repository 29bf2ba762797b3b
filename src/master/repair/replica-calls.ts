// The two gRPC calls that add and remove a replica, shared by `volume.fix.replication` and the
// leader's background repair: VolumeCopy on the target (which pulls .dat and .idx from the
// source, checks every CRC and catches up on writes that arrived meanwhile; src/volume/copy/) and
// VolumeDelete on the holder of an extra copy.
import { ErrorCode, WeedError } from "../../common/errors.js";
import { VolumeServer } from "../../gen/volume_server_pb.js";
import { createClient } from "../../grpc/adapter.js";
import { replicaDeleteTimeoutMs } from "./limits.js";

export interface CopyOptions {
  /** The whole copy's deadline. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Each progress message of the stream: bytes copied so far. */
  onProgress?: (bytes: number) => void;
}

export interface CopyOutcome {
  /** Bytes the target pulled (the last progress message). */
  bytes: number;
  /** Passes over what the source appended during the copy. */
  catchUpRounds: number;
  seconds: number;
}

/** Copies volume `volumeId` from the server at `sourceGrpc` onto the one at `targetGrpc`. */
export async function copyReplica(
  volumeId: number,
  sourceGrpc: string,
  targetGrpc: string,
  o: CopyOptions,
): Promise<CopyOutcome> {
  const started = performance.now();
  const client = createClient(VolumeServer, targetGrpc);
  let bytes = 0;
  let catchUpRounds = 0;
  try {
    const call = client.volumeCopy(
      { volumeId, sourceDataNode: sourceGrpc },
      { timeoutMs: o.timeoutMs, ...(o.signal === undefined ? {} : { signal: o.signal }) },
    );
    for await (const msg of call as AsyncIterable<{ processedBytes: bigint; catchUpRounds: number }>) {
      bytes = Number(msg.processedBytes);
      catchUpRounds = msg.catchUpRounds;
      o.onProgress?.(bytes);
    }
  } catch (err) {
    const what = `copy of volume ${volumeId} from ${sourceGrpc} to ${targetGrpc}`;
    if (o.signal?.aborted === true) throw new WeedError(ErrorCode.CLOSED, `${what} cancelled`, { cause: err });
    throw new WeedError(ErrorCode.UNAVAILABLE, `${what} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    client.close();
  }
  return { bytes, catchUpRounds, seconds: (performance.now() - started) / 1000 };
}

/** Deletes the replica of `volumeId` on the server at `grpcAddress` (whether empty or not). */
export async function deleteReplica(volumeId: number, grpcAddress: string): Promise<void> {
  const client = createClient(VolumeServer, grpcAddress);
  try {
    await client.volumeDelete({ volumeId, onlyEmpty: false }, { timeoutMs: replicaDeleteTimeoutMs });
  } finally {
    client.close();
  }
}
