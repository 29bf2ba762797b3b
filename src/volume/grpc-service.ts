// The VolumeServer gRPC service (master -> volume server): allocate, inspect and delete volumes.
// SeaweedFS: weed/server/volume_grpc_admin.go.
import type * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError, grpcStatusOf } from "../common/errors.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import { parseTtl } from "../common/ttl.js";
import { addService, type ServiceImpl } from "../grpc/adapter.js";
import { VolumeServer as VolumeServerService } from "../gen/volume_server_pb.js";
import type { Logger } from "../common/logger.js";
import type { StoreApi } from "./storage/store-api.js";

function volumeNotFound(id: number): WeedError {
  return new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${id} not found`);
}

export function volumeServerImpl(store: StoreApi, logger: Logger): ServiceImpl<typeof VolumeServerService> {
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
  };
}

export function addVolumeServerService(server: grpc.Server, store: StoreApi, logger: Logger): void {
  addService(server, VolumeServerService, volumeServerImpl(store, logger), grpcStatusOf);
}
