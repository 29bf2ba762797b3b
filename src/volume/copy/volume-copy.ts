// The target's side of a volume copy (VolumeCopy): pull .dat and .idx from the source with
// CopyFile into temporary names, catch up on what the source appended meanwhile, check the result
// (copy-verify.ts), rename it into place and mount it; the store's "volume-added" event makes the
// heartbeat tell the master. A copy that fails, or a crash, leaves no volume: only temporary files
// (".copying"), which the store never loads and the next copy of that volume removes.
// SeaweedFS: weed/server/volume_grpc_copy.go VolumeCopy (which copies once, with no catch-up).
import fs from "node:fs";
import path from "node:path";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { createClient, type ServiceClient } from "../../grpc/adapter.js";
import { VolumeServer, type ReadVolumeFileStatusResponse } from "../../gen/volume_server_pb.js";
import type { VolumeInfo } from "../storage/store-api.js";
import { type CopyStore, volumeFilePath } from "./copy-source.js";
import { verifyCopiedVolume } from "./copy-verify.js";
import {
  copyCatchUpRoundsMax,
  copyChunkBytes,
  copyFlowControlWindowBytes,
  copyIdleTimeoutMs,
  copyStatusTimeoutMs,
} from "./limits.js";

export interface CopyVolumeOptions {
  store: CopyStore;
  volumeId: number;
  /** The source volume server's gRPC address. */
  source: string;
  signal: AbortSignal;
  log: Logger;
  /** Bytes copied so far (every chunk). */
  onProgress?: (bytes: number) => void;
}

export interface CopyVolumeResult {
  info: VolumeInfo;
  bytes: number;
  /** Catch-up passes after the first. */
  catchUpRounds: number;
  records: number;
}

type Client = ServiceClient<typeof VolumeServer>;

interface Target {
  datTmp: string;
  idxTmp: string;
  dat: string;
  idx: string;
}

function targetPaths(store: CopyStore, collection: string, volumeId: number): Target {
  const dat = volumeFilePath(store.dir, collection, volumeId, ".dat");
  const idx = volumeFilePath(store.dir, collection, volumeId, ".idx");
  return { dat, idx, datTmp: `${dat}.copying`, idxTmp: `${idx}.copying` };
}

function removeQuietly(...files: string[]): void {
  for (const f of files) fs.rmSync(f, { force: true });
}

/** Copies volume `volumeId` from `source` and mounts it here. */
export async function copyVolume(o: CopyVolumeOptions): Promise<CopyVolumeResult> {
  if (o.store.hasVolume(o.volumeId)) {
    throw new WeedError(ErrorCode.VOLUME_EXISTS, `volume ${o.volumeId} already exists on this server`);
  }
  const client = createClient(VolumeServer, o.source, {
    "grpc-node.flow_control_window": copyFlowControlWindowBytes,
    // A chunk and its framing, with room to spare: grpc-js refuses messages over 4 MiB by default.
    "grpc.max_receive_message_length": 4 * copyChunkBytes,
  });
  try {
    const first = await status(client, o);
    const t = targetPaths(o.store, first.collection, o.volumeId);
    if (fs.existsSync(t.dat)) {
      throw new WeedError(ErrorCode.VOLUME_EXISTS, `${path.basename(t.dat)} exists here (not loaded); remove it first`);
    }
    // A lone .idx is what a crash between the two renames below leaves: it is ours to remove.
    removeQuietly(t.datTmp, t.idxTmp, t.idx);
    const t0 = performance.now();
    const copied = await pullAll(client, o, first, t);
    const t1 = performance.now();
    await installCopied(o, first, t, copied);
    const t2 = performance.now();
    let info: VolumeInfo;
    try {
      info = await o.store.mountVolume(o.volumeId, first.collection);
    } catch (err) {
      if (!o.store.hasVolume(o.volumeId)) removeQuietly(t.dat, t.idx);
      throw err;
    }
    const ms = {
      pullMs: Math.round(t1 - t0),
      verifyMs: Math.round(t2 - t1),
      mountMs: Math.round(performance.now() - t2),
    };
    o.log.info(
      { volumeId: o.volumeId, source: o.source, bytes: copied.bytes, rounds: copied.rounds, ...ms },
      "volume copied",
    );
    return { info, bytes: copied.bytes, catchUpRounds: copied.rounds, records: copied.records };
  } finally {
    client.close();
  }
}

function status(client: Client, o: CopyVolumeOptions): Promise<ReadVolumeFileStatusResponse> {
  return client
    .readVolumeFileStatus({ volumeId: o.volumeId }, { timeoutMs: copyStatusTimeoutMs, signal: o.signal })
    .catch((err: unknown) => {
      throw new WeedError(ErrorCode.UNAVAILABLE, `volume ${o.volumeId} on ${o.source}: ${(err as Error).message}`, {
        cause: err,
      });
    });
}

interface Copied {
  datBytes: number;
  idxBytes: number;
  bytes: number;
  rounds: number;
  records: number;
}

/** First pass, then catch-up passes until the source stops growing (or the pass limit). */
async function pullAll(
  client: Client,
  o: CopyVolumeOptions,
  first: ReadVolumeFileStatusResponse,
  t: Target,
): Promise<Copied> {
  const dat = await fs.promises.open(t.datTmp, "wx");
  const idx = await fs.promises.open(t.idxTmp, "wx");
  const c: Copied = { datBytes: 0, idxBytes: 0, bytes: 0, rounds: 0, records: 0 };
  try {
    let st = first;
    for (;;) {
      const datTo = Number(st.datFileSize);
      const idxTo = Number(st.idxFileSize);
      if (datTo < c.datBytes || idxTo < c.idxBytes) {
        throw new WeedError(ErrorCode.CONFLICT, `volume ${o.volumeId} shrank on ${o.source} during the copy`);
      }
      c.bytes += await pullRange(client, o, first, ".dat", dat, c.datBytes, datTo, c.bytes);
      c.bytes += await pullRange(client, o, first, ".idx", idx, c.idxBytes, idxTo, c.bytes);
      c.datBytes = datTo;
      c.idxBytes = idxTo;
      if (c.rounds >= copyCatchUpRoundsMax) break;
      st = await status(client, o);
      if (st.compactionRevision !== first.compactionRevision) {
        throw new WeedError(ErrorCode.CONFLICT, `volume ${o.volumeId} was compacted on ${o.source} during the copy`);
      }
      if (Number(st.datFileSize) === c.datBytes && Number(st.idxFileSize) === c.idxBytes) break;
      c.rounds++;
    }
    await Promise.all([dat.datasync(), idx.datasync()]);
  } catch (err) {
    await Promise.all([dat.close(), idx.close()]);
    removeQuietly(t.datTmp, t.idxTmp);
    throw err;
  }
  await Promise.all([dat.close(), idx.close()]);
  return c;
}

/** Streams [from, to) of the source's file into `fh` at the same offsets; returns the bytes. */
async function pullRange(
  client: Client,
  o: CopyVolumeOptions,
  st: ReadVolumeFileStatusResponse,
  ext: ".dat" | ".idx",
  fh: fs.promises.FileHandle,
  from: number,
  to: number,
  before: number,
): Promise<number> {
  if (from === to) return 0;
  const idle = new AbortController();
  const signal = AbortSignal.any([o.signal, idle.signal]);
  const call = client.copyFile(
    {
      volumeId: o.volumeId,
      ext,
      collection: st.collection,
      compactionRevision: st.compactionRevision,
      startOffset: BigInt(from),
      stopOffset: BigInt(to),
    },
    { signal },
  );
  let timer = setTimeout(() => idle.abort(), copyIdleTimeoutMs);
  let pos = from;
  try {
    for await (const msg of call as AsyncIterable<{ fileContent: Uint8Array }>) {
      clearTimeout(timer);
      const chunk = msg.fileContent;
      if (pos + chunk.length > to) throw new WeedError(ErrorCode.IO, `${o.source} sent past ${ext} offset ${to}`);
      await fh.write(chunk, 0, chunk.length, pos);
      pos += chunk.length;
      o.onProgress?.(before + pos - from);
      timer = setTimeout(() => idle.abort(), copyIdleTimeoutMs);
    }
  } catch (err) {
    if (err instanceof WeedError) throw err;
    const why = idle.signal.aborted ? `nothing for ${copyIdleTimeoutMs} ms` : (err as Error).message;
    const code = idle.signal.aborted ? ErrorCode.TIMEOUT : ErrorCode.UNAVAILABLE;
    throw new WeedError(code, `copying volume ${o.volumeId}${ext} from ${o.source}: ${why}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  if (pos !== to) {
    throw new WeedError(ErrorCode.IO, `copying volume ${o.volumeId}${ext} from ${o.source}: got ${pos} of ${to} bytes`);
  }
  return to - from;
}

/** Checks the temporary files and renames them into place (.idx first: the .dat makes the volume). */
async function installCopied(
  o: CopyVolumeOptions,
  st: ReadVolumeFileStatusResponse,
  t: Target,
  c: Copied,
): Promise<void> {
  try {
    c.records = await verifyCopiedVolume({
      volumeId: o.volumeId,
      datPath: t.datTmp,
      idxPath: t.idxTmp,
      datBytes: c.datBytes,
      idxBytes: c.idxBytes,
      version: st.version,
    });
    if (o.signal.aborted) throw new WeedError(ErrorCode.CLOSED, `copy of volume ${o.volumeId} cancelled`);
    fs.renameSync(t.idxTmp, t.idx);
    fs.renameSync(t.datTmp, t.dat);
    const dirFd = fs.openSync(path.dirname(t.dat), "r");
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  } catch (err) {
    removeQuietly(t.datTmp, t.idxTmp);
    if (!fs.existsSync(t.dat)) removeQuietly(t.idx);
    throw err;
  }
}
