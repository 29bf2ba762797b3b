// The VolumeServer gRPC service (master and shell -> volume server): allocate, inspect, delete and
// copy volumes. SeaweedFS: weed/server/volume_grpc_admin.go, volume_grpc_copy.go.
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError, grpcStatusOf } from "../common/errors.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import { parseTtl } from "../common/ttl.js";
import { addService, type ServiceImpl } from "../grpc/adapter.js";
import { VolumeServer as VolumeServerService } from "../gen/volume_server_pb.js";
import { VolumeCopyResponseSchema, type VolumeCopyRequest, type VolumeCopyResponse } from "../gen/volume_server_pb.js";
import { create } from "@bufbuild/protobuf";
import type { Logger } from "../common/logger.js";
import { type CopyStore, sendVolumeFile, volumeFileStatus } from "./copy/copy-source.js";
import { copiesInFlightMax, copyProgressBytes } from "./copy/limits.js";
import { copyVolume } from "./copy/volume-copy.js";

function volumeNotFound(id: number): WeedError {
  return new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${id} not found`);
}

/** Ends a server stream with the error's status. */
function failStream(call: grpc.ServerWritableStream<unknown, unknown>, err: unknown): void {
  const { code, details } = grpcStatusOf(err);
  call.emit("error", Object.assign(new Error(details), { code, details }));
}

/** Volume copies into this server under way: at most copiesInFlightMax, one per volume id. */
class CopiesInFlight {
  private readonly ids = new Set<number>();
  take(volumeId: number): void {
    if (this.ids.has(volumeId)) {
      throw new WeedError(ErrorCode.CONFLICT, `volume ${volumeId} is being copied here already`);
    }
    if (this.ids.size >= copiesInFlightMax) {
      throw new WeedError(ErrorCode.UNAVAILABLE, `${this.ids.size} volume copies under way here; try again later`);
    }
    this.ids.add(volumeId);
  }
  release(volumeId: number): void {
    this.ids.delete(volumeId);
  }
}

function checkCopyRequest(store: CopyStore, req: VolumeCopyRequest): void {
  if (req.volumeId === 0) throw new WeedError(ErrorCode.BAD_PARAM, "volume id 0 is not a valid volume id");
  if (!/^[^\s:]+:\d{1,5}$/.test(req.sourceDataNode)) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `source_data_node ${JSON.stringify(req.sourceDataNode)}: expected the source's gRPC host:port`,
    );
  }
  if (store.hasVolume(req.volumeId)) {
    throw new WeedError(ErrorCode.VOLUME_EXISTS, `volume ${req.volumeId} already exists on this server`);
  }
  if (store.volumeInfos().length >= store.maxVolumeCount) {
    throw new WeedError(ErrorCode.NO_FREE_SLOT, `no free volume slot: ${store.maxVolumeCount} in use`);
  }
}

/** VolumeCopy: progress messages every copyProgressBytes, then one with last_append_at_ns. */
async function runVolumeCopy(
  store: CopyStore,
  logger: Logger,
  inFlight: CopiesInFlight,
  call: grpc.ServerWritableStream<VolumeCopyRequest, VolumeCopyResponse>,
): Promise<void> {
  const req = call.request;
  checkCopyRequest(store, req);
  inFlight.take(req.volumeId);
  const ac = new AbortController();
  call.on("cancelled", () => ac.abort());
  try {
    let reported = 0;
    const result = await copyVolume({
      store,
      volumeId: req.volumeId,
      source: req.sourceDataNode,
      signal: ac.signal,
      log: logger,
      onProgress: (bytes) => {
        if (bytes - reported < copyProgressBytes) return;
        reported = bytes;
        call.write(create(VolumeCopyResponseSchema, { processedBytes: BigInt(bytes) }));
      },
    });
    call.write(
      create(VolumeCopyResponseSchema, { processedBytes: BigInt(result.bytes), catchUpRounds: result.catchUpRounds }),
    );
    call.end();
  } finally {
    inFlight.release(req.volumeId);
  }
}

export function volumeServerImpl(store: CopyStore, logger: Logger): ServiceImpl<typeof VolumeServerService> {
  const inFlight = new CopiesInFlight();
  return {
    async allocateVolume(req) {
      if (req.volumeId === 0) throw new WeedError(ErrorCode.BAD_PARAM, "volume id 0 is not a valid volume id");
      if (req.preallocate < 0n) throw new WeedError(ErrorCode.BAD_PARAM, `preallocate ${req.preallocate} is negative`);
      const replicaPlacement = parseReplicaPlacement(req.replication);
      const ttl = parseTtl(req.ttl);
      await store.allocateVolume(req.volumeId, {
        collection: req.collection,
        replicaPlacement,
        ttl,
        preallocate: Number(req.preallocate),
      });
      logger.info(
        { volumeId: req.volumeId, collection: req.collection, replication: req.replication, ttl: req.ttl },
        "volume allocated",
      );
      return {};
    },
    async volumeStatus(req) {
      const v = store.volumeInfo(req.volumeId);
      if (v === undefined) throw volumeNotFound(req.volumeId);
      return {
        isReadOnly: v.readOnly,
        volumeSize: BigInt(v.size),
        fileCount: BigInt(v.fileCount),
        fileDeletedCount: BigInt(v.deleteCount),
      };
    },
    async volumeDelete(req) {
      await store.deleteVolume(req.volumeId, req.onlyEmpty);
      logger.info({ volumeId: req.volumeId, onlyEmpty: req.onlyEmpty }, "volume deleted");
      return {};
    },
    async readVolumeFileStatus(req) {
      return volumeFileStatus(store, req.volumeId);
    },
    copyFile(call) {
      sendVolumeFile(store, call).catch((err: unknown) => failStream(call, err));
    },
    volumeCopy(call) {
      runVolumeCopy(store, logger, inFlight, call).catch((err: unknown) => {
        logger.warn(
          { err, volumeId: call.request.volumeId, source: call.request.sourceDataNode },
          "volume copy failed",
        );
        failStream(call, err);
      });
    },
  };
}

export function addVolumeServerService(server: grpc.Server, store: CopyStore, logger: Logger): void {
  addService(server, VolumeServerService, volumeServerImpl(store, logger), grpcStatusOf);
}
