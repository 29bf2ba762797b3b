// The source's side of a volume copy: ReadVolumeFileStatus (sizes taken together, so the copy is
// of a consistent prefix) and CopyFile (a byte range of .dat or .idx, streamed in chunks).
// SeaweedFS: weed/server/volume_grpc_copy.go ReadVolumeFileStatus, CopyFile.
import fs from "node:fs";
import path from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { CopyFileRequest, CopyFileResponse, ReadVolumeFileStatusResponse } from "../../gen/volume_server_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { CopyFileResponseSchema, type ReadVolumeFileStatusResponseSchema } from "../../gen/volume_server_pb.js";
import type { StoreApi, VolumeInfo } from "../storage/store-api.js";
import { volumeBaseName } from "../storage/volume.js";
import { copyChunkBytes, copyFileBytesMax } from "./limits.js";

/** What copies need of the store beyond StoreApi: where its files are, and loading copied ones. */
export interface CopyStore extends StoreApi {
  readonly dir: string;
  mountVolume(volumeId: number, collection: string): Promise<VolumeInfo>;
}

export function volumeFilePath(dir: string, collection: string, volumeId: number, ext: ".dat" | ".idx"): string {
  return path.join(dir, volumeBaseName(collection, volumeId) + ext);
}

function mustHave(store: StoreApi, volumeId: number): VolumeInfo {
  const info = store.volumeInfo(volumeId);
  if (info === undefined) throw new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${volumeId} not found`);
  return info;
}

/**
 * The volume's sizes, read in one synchronous step: appends gather their records for one pwritev
 * at the end of the event loop's turn and queue their .idx entries until then; both queues are
 * written first here (before the .dat size is read: the batch moves it), so every .idx entry
 * below idx_file_size points at a record below dat_file_size (the volume's append end, always a
 * whole record), and every record below it has its entry, as before.
 */
export function volumeFileStatus(
  store: CopyStore,
  volumeId: number,
): MessageInitShape<typeof ReadVolumeFileStatusResponseSchema> {
  mustHave(store, volumeId);
  store.flushIndex(volumeId);
  const info = mustHave(store, volumeId);
  const idxPath = volumeFilePath(store.dir, info.collection, volumeId, ".idx");
  const idx = fs.statSync(idxPath);
  return {
    volumeId,
    idxFileSize: BigInt(idx.size),
    idxFileTimestampSeconds: BigInt(Math.floor(idx.mtimeMs / 1000)),
    datFileSize: BigInt(info.size),
    datFileTimestampSeconds: BigInt(info.modifiedAtSecond),
    fileCount: BigInt(info.fileCount),
    compactionRevision: info.compactRevision,
    collection: info.collection,
    diskType: "hdd",
    version: info.version,
  };
}

export type StatusReply = ReadVolumeFileStatusResponse;

function checkRange(req: CopyFileRequest): { start: number; stop: number } {
  if (req.startOffset > req.stopOffset) {
    throw new WeedError(ErrorCode.BAD_PARAM, `start_offset ${req.startOffset} is past stop_offset ${req.stopOffset}`);
  }
  if (req.stopOffset - req.startOffset > BigInt(copyFileBytesMax)) {
    throw new WeedError(
      ErrorCode.BAD_PARAM,
      `CopyFile of ${req.stopOffset - req.startOffset} bytes: over ${copyFileBytesMax}`,
    );
  }
  return { start: Number(req.startOffset), stop: Number(req.stopOffset) };
}

/** Resolves when the stream can take more (or the call ended: the caller checks). */
export function writable<Req, Res>(call: grpc.ServerWritableStream<Req, Res>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off("drain", done);
      call.off("cancelled", done);
      call.off("close", done);
      resolve();
    };
    call.on("drain", done);
    call.on("cancelled", done);
    call.on("close", done);
  });
}

/** Bytes [pos, min(pos + copyChunkBytes, stop)) of the file; throws IO when it ends before. */
async function readChunk(fh: fs.promises.FileHandle, pos: number, stop: number, req: CopyFileRequest): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(Math.min(copyChunkBytes, stop - pos));
  const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
  if (bytesRead === 0) {
    throw new WeedError(ErrorCode.IO, `volume ${req.volumeId}${req.ext} ends at ${pos}, before ${stop}`);
  }
  return buf.subarray(0, bytesRead);
}

/** readChunk started now and awaited later: a failure meanwhile is not an unhandled rejection. */
function readAhead(fh: fs.promises.FileHandle, pos: number, stop: number, req: CopyFileRequest): Promise<Buffer> {
  const p = readChunk(fh, pos, stop, req);
  p.catch(() => undefined);
  return p;
}

/** Streams bytes [start, stop) of the volume's .dat or .idx; ends the call. */
export async function sendVolumeFile(
  store: CopyStore,
  call: grpc.ServerWritableStream<CopyFileRequest, CopyFileResponse>,
): Promise<void> {
  const req = call.request;
  if (req.isEcVolume) throw new WeedError(ErrorCode.BAD_PARAM, "erasure-coded volumes are not supported");
  if (req.ext !== ".dat" && req.ext !== ".idx") {
    throw new WeedError(ErrorCode.BAD_PARAM, `CopyFile ext ${JSON.stringify(req.ext)}: expected ".dat" or ".idx"`);
  }
  const info = mustHave(store, req.volumeId);
  if (req.compactionRevision !== info.compactRevision) {
    throw new WeedError(
      ErrorCode.BAD_REQUEST,
      `volume ${req.volumeId} is at compaction revision ${info.compactRevision}, ` +
        `the copy asked for ${req.compactionRevision}`,
    );
  }
  const { start, stop } = checkRange(req);
  const fh = await fs.promises.open(volumeFilePath(store.dir, info.collection, req.volumeId, req.ext), "r");
  // Double buffered: the next chunk is read on the thread pool while this one is encoded and sent.
  let next: Promise<Buffer> | undefined;
  try {
    let pos = start;
    next = readAhead(fh, pos, stop, req);
    while (next !== undefined) {
      const chunk = await next;
      pos += chunk.length;
      next = pos < stop ? readAhead(fh, pos, stop, req) : undefined;
      if (call.cancelled || call.destroyed) return;
      if (!call.write(create(CopyFileResponseSchema, { fileContent: chunk }))) await writable(call);
    }
  } finally {
    await next?.catch(() => undefined); // a read still running when the call ended: let it finish
    await fh.close();
  }
  call.end();
}
