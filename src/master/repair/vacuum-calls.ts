// The four gRPC calls of a vacuum on one volume server (SeaweedFS: weed/topology/topology_vacuum.go):
// VacuumVolumeCheck (the garbage ratio), VacuumVolumeCompact (a stream of progress that ends when
// the compacted copy is complete), VacuumVolumeCommit (swap it in) and VacuumVolumeCleanup (drop
// an uncommitted copy). Each has its own deadline; the compaction's grows with the volume's size.
import { ErrorCode, WeedError } from "../../common/errors.js";
import { VolumeServer } from "../../gen/volume_server_pb.js";
import { createClient } from "../../grpc/adapter.js";
import {
  vacuumCheckTimeoutMs,
  vacuumCleanupTimeoutMs,
  vacuumCommitTimeoutMs,
  vacuumCompactTimeoutMs,
} from "./limits.js";

/** What the leader's vacuum asks of volume servers (real gRPC, or a test's own). */
export interface VacuumCalls {
  /** The volume's garbage ratio on the server at `grpcAddress`. */
  check(grpcAddress: string, volumeId: number): Promise<number>;
  /** Compacts; resolves when the copy is complete; rejects on failure or when `signal` aborts. */
  compact(grpcAddress: string, volumeId: number, sizeBytes: number, signal: AbortSignal): Promise<void>;
  /** Swaps the compacted copy in: the volume's size after, and whether it is read-only. */
  commit(grpcAddress: string, volumeId: number): Promise<{ sizeBytes: number; readOnly: boolean }>;
  cleanup(grpcAddress: string, volumeId: number): Promise<void>;
}

function failure(what: string, err: unknown): WeedError {
  if (err instanceof WeedError) return err;
  return new WeedError(ErrorCode.UNAVAILABLE, `${what}: ${(err as Error).message}`, { cause: err });
}

async function withClient<T>(
  grpcAddress: string,
  what: string,
  fn: (c: ReturnType<typeof createClient<typeof VolumeServer>>) => Promise<T>,
): Promise<T> {
  const client = createClient(VolumeServer, grpcAddress);
  try {
    return await fn(client);
  } catch (err) {
    throw failure(what, err);
  } finally {
    client.close();
  }
}

export const grpcVacuumCalls: VacuumCalls = {
  check: (address, volumeId) =>
    withClient(address, `vacuum check of volume ${volumeId} on ${address}`, async (c) => {
      const r = await c.vacuumVolumeCheck({ volumeId }, { timeoutMs: vacuumCheckTimeoutMs });
      return r.garbageRatio;
    }),
  compact: (address, volumeId, sizeBytes, signal) =>
    withClient(address, `compaction of volume ${volumeId} on ${address}`, async (c) => {
      const call = c.vacuumVolumeCompact(
        { volumeId, preallocate: 0n },
        {
          timeoutMs: vacuumCompactTimeoutMs(sizeBytes),
          signal,
        },
      );
      for await (const _ of call as AsyncIterable<unknown>) {
        // Progress only: the stream's end is the compaction's.
      }
    }),
  commit: (address, volumeId) =>
    withClient(address, `vacuum commit of volume ${volumeId} on ${address}`, async (c) => {
      const r = await c.vacuumVolumeCommit({ volumeId }, { timeoutMs: vacuumCommitTimeoutMs });
      return { sizeBytes: Number(r.volumeSize), readOnly: r.isReadOnly };
    }),
  cleanup: (address, volumeId) =>
    withClient(address, `vacuum cleanup of volume ${volumeId} on ${address}`, async (c) => {
      await c.vacuumVolumeCleanup({ volumeId }, { timeoutMs: vacuumCleanupTimeoutMs });
    }),
};
