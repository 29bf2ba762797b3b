// Vacuum on the volume server (SeaweedFS: weed/server/volume_grpc_vacuum.go): the garbage ratio,
// compaction into .cpd/.cpx with progress streamed, commit and cleanup. The storage side is
// src/volume/storage/compact.ts and vacuum-commit.ts. Issue 13.
import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import type { ServiceImpl } from "../grpc/adapter.js";
import {
  VacuumVolumeCompactResponseSchema,
  type VacuumVolumeCompactRequest,
  type VacuumVolumeCompactResponse,
  type VolumeServer as VolumeServerService,
} from "../gen/volume_server_pb.js";
import { ErrorCode, WeedError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { CopyStore } from "./copy/copy-source.js";
import { failStream } from "./grpc-stream.js";

type VacuumMethods = "vacuumVolumeCheck" | "vacuumVolumeCompact" | "vacuumVolumeCommit" | "vacuumVolumeCleanup";

/**
 * A progress message goes out at most every this many bytes of the old .dat: 64 MiB is a fraction
 * of a second of compaction, so a caller watching a 30 GB volume sees ~500 messages, not 7,500.
 */
export const vacuumProgressBytes = 64 * 1024 * 1024;

function volumeNotFound(id: number): WeedError {
  return new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${id} not found`);
}

/** VacuumVolumeCompact: progress messages, then one with the whole .dat's size once .cpd/.cpx are complete. */
async function runCompact(
  store: CopyStore,
  logger: Logger,
  call: grpc.ServerWritableStream<VacuumVolumeCompactRequest, VacuumVolumeCompactResponse>,
): Promise<void> {
  const volumeId = call.request.volumeId;
  if (!store.hasVolume(volumeId)) throw volumeNotFound(volumeId);
  // The caller gone (its deadline passed, the master lost leadership): the compaction stops and its
  // files are removed; a later vacuum starts over.
  const ac = new AbortController();
  const onCancel = (): void => ac.abort(new WeedError(ErrorCode.CLIENT_GONE, "VacuumVolumeCompact cancelled"));
  call.on("cancelled", onCancel);
  let reported = 0;
  try {
    const report = await store.compactVolume(volumeId, {
      signal: ac.signal,
      onProgress: (bytes) => {
        if (bytes - reported < vacuumProgressBytes) return;
        reported = bytes;
        call.write(create(VacuumVolumeCompactResponseSchema, { processedBytes: BigInt(bytes) }));
      },
    });
    logger.info({ volumeId, ...report }, "vacuum: volume compacted");
    call.write(create(VacuumVolumeCompactResponseSchema, { processedBytes: BigInt(report.processedBytes) }));
    call.end();
  } finally {
    call.off("cancelled", onCancel);
  }
}

export function vacuumImpl(
  store: CopyStore,
  logger: Logger,
): Pick<ServiceImpl<typeof VolumeServerService>, VacuumMethods> {
  return {
    async vacuumVolumeCheck(req) {
      return { garbageRatio: store.garbageRatio(req.volumeId) };
    },
    vacuumVolumeCompact(call) {
      runCompact(store, logger, call).catch((err: unknown) => {
        logger.warn({ err, volumeId: call.request.volumeId }, "vacuum: compaction failed");
        failStream(call, err);
      });
    },
    async vacuumVolumeCommit(req) {
      const { info, pauseMs, replayedEntries } = await store.commitCompaction(req.volumeId);
      logger.info(
        { volumeId: req.volumeId, size: info.size, pauseMs, replayedEntries, revision: info.compactRevision },
        "vacuum: volume committed",
      );
      return { isReadOnly: info.readOnly, volumeSize: BigInt(info.size) };
    },
    async vacuumVolumeCleanup(req) {
      await store.cleanupCompaction(req.volumeId);
      return {};
    },
  };
}
