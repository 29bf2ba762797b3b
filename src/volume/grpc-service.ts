// The VolumeServer gRPC service (master and shell -> volume server): allocate, inspect, delete and
// copy volumes, and the calls volume.check.disk makes replicas converge with. SeaweedFS:
// weed/server/volume_grpc_admin.go, volume_grpc_copy.go, volume_grpc_read_write.go.
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError, grpcStatusOf } from "../common/errors.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import { parseTtl } from "../common/ttl.js";
import { addService, type ServiceImpl } from "../grpc/adapter.js";
import { adminVolumeMethods, checkAdminCall } from "../grpc/admin-call.js";
import type { AdminCredential } from "../common/security/admin-credential.js";
import { VolumeServer as VolumeServerService } from "../gen/volume_server_pb.js";
import {
  VolumeCopyResponseSchema,
  VolumeNeedleListResponseSchema,
  type NeedleListEntrySchema,
  type VolumeCopyRequest,
  type VolumeCopyResponse,
  type VolumeNeedleListRequest,
  type VolumeNeedleListResponse,
} from "../gen/volume_server_pb.js";
import type { NeedleListEntry } from "./storage/store-api.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "../common/logger.js";
import { type CopyStore, sendVolumeFile, volumeFileStatus, writable } from "./copy/copy-source.js";
import { copiesInFlightMax, copyProgressBytes } from "./copy/limits.js";
import { copyVolume } from "./copy/volume-copy.js";
import { vacuumImpl } from "./vacuum-grpc.js";
import { failStream } from "./grpc-stream.js";
import { markAndCollectionImpl } from "./lifecycle-grpc.js";

/**
 * The largest needle record ReadNeedleBlob sends and WriteNeedleBlob takes: an upload of the
 * default -fileSizeLimitMB (256 MiB) with its name, mime and pairs (1 MiB left for those), so
 * volume.check.disk can copy any needle a default server accepted. It is one unary message, held
 * whole in memory while it moves; larger needles are refused with TOO_LARGE, never half-copied.
 */
export const needleBlobBytesMax = (256 + 1) * 1024 * 1024;
/** This server's gRPC receive limit: one WriteNeedleBlob of needleBlobBytesMax and its other fields. */
export const grpcReceiveBytesMax = needleBlobBytesMax + 64 * 1024;
/** Keys per VolumeNeedleList message: ~45 bytes each, so ~46 KB messages, well under any limit. */
export const needleListBatchEntries = 1024;
/**
 * Listings at once on one server: each holds the volume's keys in memory (up to ~400 MB for the
 * largest .idx a listing takes), so a second shell or repair waits its turn instead.
 */
export const needleListsInFlightMax = 2;

function volumeNotFound(id: number): WeedError {
  return new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${id} not found`);
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

function entryMessage(e: NeedleListEntry): MessageInitShape<typeof NeedleListEntrySchema> {
  return {
    needleId: e.key,
    cookie: e.cookie,
    offset: BigInt(e.offset),
    size: e.size,
    deleted: e.deleted,
    crc: e.crc,
    appendAtNs: e.appendAtNs,
  };
}

/** VolumeNeedleList: the volume's keys in batches, each sent once the stream drained the last. */
async function sendNeedleList(
  store: CopyStore,
  inFlight: { n: number },
  call: grpc.ServerWritableStream<VolumeNeedleListRequest, VolumeNeedleListResponse>,
): Promise<void> {
  if (inFlight.n >= needleListsInFlightMax) {
    throw new WeedError(ErrorCode.UNAVAILABLE, `${inFlight.n} needle listings under way here; try again later`);
  }
  inFlight.n++;
  const ac = new AbortController();
  call.on("cancelled", () => ac.abort());
  try {
    await store.listNeedles(
      call.request.volumeId,
      needleListBatchEntries,
      async (entries) => {
        if (call.cancelled || call.destroyed) ac.abort();
        ac.signal.throwIfAborted();
        const msg = create(VolumeNeedleListResponseSchema, { needles: entries.map(entryMessage) });
        if (!call.write(msg)) await writable(call);
      },
      ac.signal,
    );
  } finally {
    inFlight.n--;
  }
  call.end();
}

/** The calls of volume.check.disk: needle blobs, the needle set, the needs-check flag. */
function replicaCheckImpl(
  store: CopyStore,
  logger: Logger,
): Pick<
  ServiceImpl<typeof VolumeServerService>,
  "readNeedleBlob" | "writeNeedleBlob" | "volumeNeedleList" | "volumeCheckState" | "volumeCheckDone"
> {
  const listings = { n: 0 };
  return {
    async readNeedleBlob(req) {
      if (req.size > 0 && req.size > needleBlobBytesMax) {
        throw new WeedError(ErrorCode.TOO_LARGE, `needle of size ${req.size}: over ${needleBlobBytesMax} bytes`);
      }
      const needleBlob = store.readNeedleBlob(req.volumeId, Number(req.offset), req.size);
      if (needleBlob.length > needleBlobBytesMax) {
        throw new WeedError(
          ErrorCode.TOO_LARGE,
          `needle record of ${needleBlob.length} bytes: over ${needleBlobBytesMax}`,
        );
      }
      return { needleBlob };
    },
    async writeNeedleBlob(req) {
      if (req.needleBlob.length > needleBlobBytesMax) {
        throw new WeedError(
          ErrorCode.TOO_LARGE,
          `needle blob of ${req.needleBlob.length} bytes: over ${needleBlobBytesMax}`,
        );
      }
      // Synced whatever -fsync says: a repair append restores a needle a client was told about (or
      // told the outcome was unknown), repairs are few, and they share the store's fsync rounds.
      await store.writeNeedleBlob(req.volumeId, req.needleId, req.size, Buffer.from(req.needleBlob), { fsync: true });
      return {};
    },
    volumeNeedleList(call) {
      sendNeedleList(store, listings, call).catch((err: unknown) => failStream(call, err));
    },
    async volumeCheckState(req) {
      const s = store.checkState(req.volumeId);
      return { needsCheck: s.needsCheck, generation: BigInt(s.generation) };
    },
    async volumeCheckDone(req) {
      const cleared = store.checkDone(req.volumeId, Number(req.generation));
      const s = store.checkState(req.volumeId);
      logger.info({ volumeId: req.volumeId, generation: req.generation, cleared }, "volume check done");
      return { cleared, needsCheck: s.needsCheck, generation: BigInt(s.generation) };
    },
  };
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
    ...replicaCheckImpl(store, logger),
    ...vacuumImpl(store, logger),
    ...markAndCollectionImpl(store, logger),
  };
}

/**
 * `impl` with admin-call.ts's adminVolumeMethods behind `admin` (the [jwt.admin] key): a call
 * without a valid admin token ends UNAUTHENTICATED before the method runs.
 */
function withAdminCheck(
  impl: ServiceImpl<typeof VolumeServerService>,
  admin: AdminCredential,
): ServiceImpl<typeof VolumeServerService> {
  const out = { ...impl } as Record<string, (...args: never[]) => unknown>;
  for (const m of VolumeServerService.methods) {
    if (!adminVolumeMethods.has(m.name)) continue;
    const fn = out[m.localName]! as (...args: unknown[]) => unknown;
    if (m.methodKind === "unary") {
      out[m.localName] = async (req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>) => {
        await checkAdminCall(admin, call);
        return fn(req, call);
      };
    } else if (m.methodKind === "server_streaming") {
      out[m.localName] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
        checkAdminCall(admin, call).then(
          () => fn(call),
          (err: unknown) => failStream(call, err),
        );
      };
    } else {
      throw new Error(`VolumeServer.${m.name}: no admin check for a ${m.methodKind} method`);
    }
  }
  return out as unknown as ServiceImpl<typeof VolumeServerService>;
}

/** `admin`: the [jwt.admin] key; undefined = administrative methods need no token. */
export function addVolumeServerService(
  server: grpc.Server,
  store: CopyStore,
  logger: Logger,
  admin?: AdminCredential,
): void {
  const impl = volumeServerImpl(store, logger);
  addService(server, VolumeServerService, admin === undefined ? impl : withAdminCheck(impl, admin), grpcStatusOf);
}
