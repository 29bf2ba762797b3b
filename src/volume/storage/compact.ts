// Compaction, the first half of a vacuum (SeaweedFS: volume_vacuum.go CompactByIndex and
// copyDataBasedOnIndexFile): the needles live when it starts are copied, as their raw records, into
// <base>.cpd (a superblock with the compaction revision + 1, then the records) and <base>.cpx (their
// index entries). Tombstones, overwritten versions, TTL-expired needles and records that fail their
// checks are left behind. The old files are only read, so reads and writes carry on meanwhile;
// what they append after the snapshot is replayed by the commit (vacuum-commit.ts).
import fs from "node:fs";
import { promisify } from "node:util";
import { ErrorCode, WeedError, assert } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { crashPoint } from "./crash-points.js";
import { idxEntryBytes, writeFully, writeIdxEntry } from "./idx.js";
import {
  compactBucketBytes,
  compactIdxChunkBytes,
  compactReadChunkBytes,
  compactWriteChunkBytes,
  needleAlignBytes,
} from "./limits.js";
import { decodeNeedle, headerKeyHi, headerKeyLo, headerSize, recordLength, type DecodedNeedle } from "./needle.js";
import { keyHex } from "./needle-key.js";
import { NeedleMap } from "./needle-map.js";
import { encodeSuperBlock, superBlockLength, type SuperBlock } from "./superblock.js";
import { isExpired } from "./ttl-expiry.js";

const fsRead = promisify(fs.read);
const fsWrite = promisify(fs.write);

/** Words per live entry in a snapshot: keyHi, keyLo, offset / 8, size (as in NeedleMap). */
const WORDS = 4;

/** The live entries of a needle map, WORDS per entry: a snapshot taken in one synchronous step. */
export function snapshotLive(map: NeedleMap): Uint32Array {
  const out = new Uint32Array(map.count * WORDS);
  let at = 0;
  map.forEach((hi, lo, offset, size) => {
    out[at] = hi;
    out[at + 1] = lo;
    out[at + 2] = offset;
    out[at + 3] = size;
    at += WORDS;
  });
  assert(at === out.length, "needle map count matches its entries");
  return out;
}

export interface CompactSource {
  id: number;
  datFd: number;
  sb: SuperBlock;
  /** snapshotLive() of the map at the start. */
  live: Uint32Array;
  cpdPath: string;
  cpxPath: string;
  /** Needles expired at this time are dropped. */
  nowMs: number;
  log: Logger;
  signal: AbortSignal;
  /** Bytes of the old .dat passed so far (needles are visited in file order). */
  onProgress?: (processedBytes: number) => void;
  fdatasync: (fd: number) => Promise<void>;
}

/** The compacted files, open, synced, and the needle map of what they hold. */
export interface CompactedFiles {
  cpdFd: number;
  cpxFd: number;
  /** Append positions: the commit replays later writes here. */
  cpdEnd: number;
  cpxEnd: number;
  map: NeedleMap;
  sb: SuperBlock;
  copied: number;
  expired: number;
  damaged: number;
  /** Bytes of the old .dat read (live records and the garbage between them). */
  bytesRead: number;
}

/** Creates the .cpd/.cpx and copies the live needles; on any failure both files are removed. */
export async function compactFiles(src: CompactSource): Promise<CompactedFiles> {
  const sb: SuperBlock = { ...src.sb, compactRevision: (src.sb.compactRevision + 1) & 0xffff };
  const out: CompactedFiles = {
    cpdFd: -1,
    cpxFd: -1,
    cpdEnd: 0,
    cpxEnd: 0,
    map: new NeedleMap(src.live.length / WORDS),
    sb,
    copied: 0,
    expired: 0,
    damaged: 0,
    bytesRead: 0,
  };
  try {
    out.cpdFd = fs.openSync(src.cpdPath, "w+");
    out.cpxFd = fs.openSync(src.cpxPath, "w+");
    const head = encodeSuperBlock(sb);
    writeFully(out.cpdFd, head, 0);
    out.cpdEnd = superBlockLength(sb);
    await new Copier(src, out).run();
    src.signal.throwIfAborted();
    crashPoint("vacuum.compact.beforeSync");
    await Promise.all([src.fdatasync(out.cpdFd), src.fdatasync(out.cpxFd)]);
  } catch (err) {
    discardCompacted(out, src.cpdPath, src.cpxPath);
    throw err;
  }
  return out;
}

/** Closes and removes compacted files that will not be committed. Never throws. */
export function discardCompacted(out: Pick<CompactedFiles, "cpdFd" | "cpxFd">, cpdPath: string, cpxPath: string) {
  for (const fd of [out.cpdFd, out.cpxFd]) {
    if (fd >= 0) fs.closeSync(fd);
  }
  out.cpdFd = -1;
  out.cpxFd = -1;
  for (const file of [cpdPath, cpxPath]) fs.rmSync(file, { force: true });
}

/**
 * Entry indexes of `live` in file order, bucket by bucket: order[bucketStart[b]..bucketStart[b+1])
 * are the entries whose record starts in bucket b, not yet sorted within it (a counting sort).
 */
function bucketsByOffset(live: Uint32Array): { order: Uint32Array; bucketStart: Uint32Array } {
  const n = live.length / WORDS;
  const unitsPerBucket = compactBucketBytes / needleAlignBytes;
  let buckets = 1;
  for (let i = 0; i < n; i++) buckets = Math.max(buckets, Math.floor(live[i * WORDS + 2]! / unitsPerBucket) + 1);
  const bucketStart = new Uint32Array(buckets + 1);
  for (let i = 0; i < n; i++) bucketStart[Math.floor(live[i * WORDS + 2]! / unitsPerBucket) + 1]!++;
  for (let b = 0; b < buckets; b++) bucketStart[b + 1]! += bucketStart[b]!;
  const fill = bucketStart.slice(0, buckets);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[fill[Math.floor(live[i * WORDS + 2]! / unitsPerBucket)]!++] = i;
  return { order, bucketStart };
}

/** One compaction's copy loop: read windows of the old .dat, keep what is live, write in chunks. */
class Copier {
  private readonly src: CompactSource;
  private readonly out: CompactedFiles;
  private readonly version: number;
  private readonly readBuf = Buffer.allocUnsafe(compactReadChunkBytes);
  private readonly writeBuf = Buffer.allocUnsafe(compactWriteChunkBytes);
  private writeUsed = 0;
  private readonly idxBuf = Buffer.allocUnsafe(compactIdxChunkBytes);
  private idxUsed = 0;
  private windows = 0;

  constructor(src: CompactSource, out: CompactedFiles) {
    this.src = src;
    this.out = out;
    this.version = src.sb.version;
  }

  async run(): Promise<void> {
    const live = this.src.live;
    const { order, bucketStart } = bucketsByOffset(live);
    for (let b = 0; b + 1 < bucketStart.length; b++) {
      const bucket = order.subarray(bucketStart[b], bucketStart[b + 1]);
      bucket.sort((x, y) => live[x * WORDS + 2]! - live[y * WORDS + 2]!);
      for (let i = 0; i < bucket.length;) i = await this.copyWindow(bucket, i);
    }
    await this.flushData();
    await this.flushIdx();
  }

  /** Reads the records bucket[i..j) in one read (or one large record alone); returns j. */
  private async copyWindow(bucket: Uint32Array, i: number): Promise<number> {
    this.src.signal.throwIfAborted();
    const live = this.src.live;
    const start = live[bucket[i]! * WORDS + 2]! * needleAlignBytes;
    let end = start + recordLength(live[bucket[i]! * WORDS + 3]!, this.version);
    let j = i + 1;
    for (; j < bucket.length; j++) {
      const e = bucket[j]! * WORDS;
      const recEnd = live[e + 2]! * needleAlignBytes + recordLength(live[e + 3]!, this.version);
      if (recEnd - start > compactReadChunkBytes) break;
      end = recEnd;
    }
    const buf = end - start <= this.readBuf.length ? this.readBuf : Buffer.allocUnsafe(end - start);
    const got = await readUpTo(this.src.datFd, buf, end - start, start);
    this.out.bytesRead += got;
    for (let k = i; k < j; k++) await this.copyRecord(buf, got, start, bucket[k]! * WORDS);
    this.src.onProgress?.(end);
    if (++this.windows === 1) {
      await this.flushData();
      await this.flushIdx();
      crashPoint("vacuum.compact.midCopy");
    }
    return j;
  }

  /** Copies one live record out of the window read at `windowStart` (unless expired or damaged). */
  private async copyRecord(buf: Buffer, got: number, windowStart: number, e: number): Promise<void> {
    const live = this.src.live;
    const [hi, lo, offset, size] = [live[e]!, live[e + 1]!, live[e + 2]! * needleAlignBytes, live[e + 3]!];
    const at = offset - windowStart;
    const len = recordLength(size, this.version);
    const record = buf.subarray(at, at + len);
    const n = at + len > got ? `record cut short at ${offset}` : this.decoded(record, hi, lo, size);
    if (typeof n === "string") {
      this.out.damaged++;
      this.src.log.error(
        { key: keyHex(hi, lo), offset, size, reason: n },
        "compaction drops a needle whose record fails its checks",
      );
      return;
    }
    if (isExpired(n, this.src.sb.ttl, this.src.nowMs)) {
      this.out.expired++;
      return;
    }
    if (this.writeUsed + len > this.writeBuf.length) await this.flushData();
    const placed = this.out.cpdEnd + this.writeUsed;
    if (len > this.writeBuf.length) {
      await writeAt(this.out.cpdFd, record, placed);
      this.out.cpdEnd += len;
    } else {
      record.copy(this.writeBuf, this.writeUsed);
      this.writeUsed += len;
    }
    await this.index(hi, lo, placed, size);
  }

  /** The needle, checked to be the live one (key, size) and to decode; or why it is not. */
  private decoded(record: Buffer, hi: number, lo: number, size: number): DecodedNeedle | string {
    if (headerKeyHi(record) !== hi || headerKeyLo(record) !== lo || headerSize(record) !== size) {
      return `record holds key ${keyHex(headerKeyHi(record), headerKeyLo(record))} size ${headerSize(record)}`;
    }
    try {
      return decodeNeedle(record, this.version);
    } catch (err) {
      if (err instanceof WeedError && err.code === ErrorCode.CORRUPT) return err.message;
      throw err;
    }
  }

  private async index(hi: number, lo: number, offset: number, size: number): Promise<void> {
    if (this.idxUsed + idxEntryBytes > this.idxBuf.length) await this.flushIdx();
    writeIdxEntry(this.idxBuf, this.idxUsed, hi, lo, offset / needleAlignBytes, size);
    this.idxUsed += idxEntryBytes;
    this.out.map.put(hi, lo, offset / needleAlignBytes, size);
    this.out.copied++;
  }

  private async flushData(): Promise<void> {
    if (this.writeUsed === 0) return;
    await writeAt(this.out.cpdFd, this.writeBuf.subarray(0, this.writeUsed), this.out.cpdEnd);
    this.out.cpdEnd += this.writeUsed;
    this.writeUsed = 0;
  }

  private async flushIdx(): Promise<void> {
    if (this.idxUsed === 0) return;
    await writeAt(this.out.cpxFd, this.idxBuf.subarray(0, this.idxUsed), this.out.cpxEnd);
    this.out.cpxEnd += this.idxUsed;
    this.idxUsed = 0;
  }
}

/** pread on the thread pool until `length` bytes or the end of the file; returns the bytes read. */
async function readUpTo(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fsRead(fd, buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** pwrite on the thread pool, the whole buffer. */
export async function writeAt(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fsWrite(fd, buf, done, buf.length - done, position + done);
    if (bytesWritten === 0) throw new Error(`write made no progress at byte ${position + done}`);
    done += bytesWritten;
  }
}
