// A volume's needle set as its .idx says it (the last entry per key, tombstones included), with
// what tells two replicas' versions of a key apart: cookie, Size, CRC and AppendAtNs read from each
// record. volume.check.disk compares these between replicas. SeaweedFS copies the whole .idx
// instead, which has no append times: it cannot tell a delete from a later re-write.
import { ErrorCode, WeedError } from "../../common/errors.js";
import { isLiveSize, readFully, walkIdx } from "./idx.js";
import { needleAlignBytes } from "./limits.js";
import { joinKey } from "./needle-key.js";
import {
  headerCookie,
  headerKeyHi,
  headerKeyLo,
  needleChecksumBytes,
  needleHeaderBytes,
  tailLength,
} from "./needle.js";
import type { NeedleListEntry } from "./store-api.js";
import { VERSION_3 } from "./superblock.js";

/**
 * Entries of the .idx one listing replays: 64 MiB of .idx, a 32 GiB volume of ~8 KiB needles, each
 * overwritten once. The keys are held in a Map while listing (~100 bytes each), so ~400 MB at most.
 */
export const needleListIdxEntriesMax = 4 * 1024 * 1024;

/**
 * .idx entries replayed between yields to the event loop: 64 Ki entries (1 MiB, one read) take a
 * few ms, so a listing of the largest .idx never holds up requests for longer than that.
 */
export const needleListReplayChunkEntries = 64 * 1024;

export interface NeedleListSource {
  idxFd: number;
  datFd: number;
  /** Entries of the .idx to replay: [0, idxEntries), all complete when the listing starts. */
  idxEntries: number;
  version: number;
  /** Whether the descriptors are still the volume's: checked before every batch of reads. */
  isOpen: () => boolean;
}

/** The last .idx entry per key: index into the parallel arrays. */
interface LastEntries {
  keys: Map<bigint, number>;
  offsets: Uint32Array;
  sizes: Uint32Array;
}

function checkOpen(src: NeedleListSource, signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
  if (!src.isOpen()) throw new WeedError(ErrorCode.CLOSED, "volume closed while listing its needles");
}

async function replayIdx(src: NeedleListSource, signal: AbortSignal | undefined): Promise<LastEntries> {
  if (src.idxEntries > needleListIdxEntriesMax) {
    throw new WeedError(
      ErrorCode.TOO_LARGE,
      `the .idx has ${src.idxEntries} entries, more than a listing replays (${needleListIdxEntriesMax})`,
    );
  }
  const keys = new Map<bigint, number>();
  const offsets = new Uint32Array(src.idxEntries);
  const sizes = new Uint32Array(src.idxEntries);
  let n = 0;
  const visit = (hi: number, lo: number, offset: number, size: number): void => {
    const key = joinKey(hi, lo);
    let at = keys.get(key);
    if (at === undefined) {
      at = n++;
      keys.set(key, at);
    }
    offsets[at] = offset;
    sizes[at] = size;
  };
  for (let from = 0; from < src.idxEntries; from += needleListReplayChunkEntries) {
    if (from > 0) await new Promise((resolve) => setImmediate(resolve));
    checkOpen(src, signal);
    walkIdx(src.idxFd, from, Math.min(src.idxEntries, from + needleListReplayChunkEntries), visit);
  }
  return { keys, offsets, sizes };
}

/** Reads one key's record fields; a record that is not the key's (damage) lists as deleted, time 0. */
function entryOf(src: NeedleListSource, key: bigint, offsetUnits: number, idxSize: number): NeedleListEntry {
  const offset = offsetUnits * needleAlignBytes;
  const live = isLiveSize(idxSize);
  const size = live ? idxSize : 0;
  const out: NeedleListEntry = { key, cookie: 0, offset, size, deleted: !live, crc: 0, appendAtNs: 0n };
  if (offset === 0) return out; // SeaweedFS's old delete entries point nowhere
  const head = Buffer.allocUnsafe(needleHeaderBytes);
  const tail = Buffer.allocUnsafe(tailLength(src.version));
  const got =
    readFully(src.datFd, head, head.length, offset) +
    readFully(src.datFd, tail, tail.length, offset + needleHeaderBytes + size);
  if (got < head.length + tail.length || joinKey(headerKeyHi(head), headerKeyLo(head)) !== key) {
    return { ...out, deleted: true, size: 0 };
  }
  out.cookie = headerCookie(head);
  out.crc = tail.readUInt32BE(0);
  if (src.version === VERSION_3) out.appendAtNs = tail.readBigUInt64BE(needleChecksumBytes);
  return out;
}

/**
 * Lists the keys in batches of `batchEntries`, each awaited (the caller's stream drains) before the
 * next is read, so a large volume neither blocks the event loop nor fills memory with messages.
 * Records never move (append-only), so reads after later appends still see the listing's state.
 */
export async function listNeedles(
  src: NeedleListSource,
  batchEntries: number,
  onBatch: (entries: NeedleListEntry[]) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const last = await replayIdx(src, signal);
  let batch: NeedleListEntry[] = [];
  for (const [key, at] of last.keys) {
    if (batch.length === 0) checkOpen(src, signal);
    batch.push(entryOf(src, key, last.offsets[at]!, last.sizes[at]!));
    if (batch.length >= batchEntries) {
      await onBatch(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await onBatch(batch);
}
