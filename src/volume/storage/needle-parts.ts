// A needle record as three buffers, head | data | tail, written with one writev: the upload's data
// is never copied into a record buffer (a 250 MB upload costs 250 MB, not 500 MB), and its CRC is
// computed in slices between which the event loop runs.
//
// The bytes are encodeNeedle's (needle.ts, the one codec; FORMAT.md has the layout): the metadata
// is encoded by it from the needle with empty data, then split around where the data goes:
//
//   head = Cookie Id Size | DataSize                     (needleHeaderBytes + 4, Size and DataSize set)
//   data = the upload, as is
//   tail = Flags Name Mime LastModified Ttl Pairs | Checksum [AppendAtNs] | Padding
//
// A test checks that head + data + tail equals encodeNeedle(n).record for any needle. Records with
// little data (wholeRecordDataBytesMax) are encoded whole instead: the copy is cheaper than the parts.
import fs from "node:fs";
import { crc32c } from "@node-rs/crc32";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { writeFully } from "./idx.js";
import { needleDataBytesMax } from "./limits.js";
import { encodeNeedle, headerCookie, headerSize, needleHeaderBytes, paddingLength, tailLength } from "./needle.js";
import type { NeedleInput } from "./store-api.js";

/** Bytes of the DataSize field that follows the header. */
const dataSizeBytes = 4;
/** Bytes of LastModified in the body (ignored when comparing contents). */
const lastModifiedBytes = 5;
const EMPTY = Buffer.alloc(0);

/**
 * CRC32-C is computed this many bytes at a time, the event loop running in between: ~0.7 ms each
 * at the ~6 GB/s the native crc32c does, so a 256 MB upload never holds the loop for 45 ms at once.
 */
export const crcSliceBytes = 4 * 1024 * 1024;

export interface NeedleParts {
  /**
   * head, data, tail: the record is their concatenation. A small record (encodeRecord) is one
   * buffer followed by two empty ones.
   */
  buffers: readonly [Buffer, Buffer, Buffer];
  /** Bytes of the whole record (recordLength(size)). */
  length: number;
  /** The header's Size (body bytes), which also goes into the .idx entry. */
  size: number;
  dataSize: number;
  crc: number;
  /** Offset of the 5 LastModified bytes in the record (-1 when absent). */
  lastModifiedAt: number;
}

/** CRC32-C of `data`, a slice at a time with the event loop running in between. */
export async function crc32cSliced(data: Buffer): Promise<number> {
  let crc = 0;
  for (let at = 0; at < data.length; at += crcSliceBytes) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    crc = crc32c(data.subarray(at, at + crcSliceBytes), crc);
  }
  return crc >>> 0;
}

/**
 * The record of `n` (its data's CRC32-C already computed: `crc`) as head | data | tail, the same
 * bytes encodeNeedle(n, version, appendAtNs, nowSec).record would hold.
 */
export function encodeNeedleParts(
  n: NeedleInput,
  crc: number,
  version: number,
  appendAtNs: bigint,
  nowSec: number,
): NeedleParts {
  const dataSize = n.data.length;
  if (dataSize > needleDataBytesMax) {
    throw new WeedError(
      ErrorCode.TOO_LARGE,
      `needle data of ${dataSize} bytes is over the limit of ${needleDataBytesMax} bytes`,
    );
  }
  const meta = encodeNeedle({ ...n, data: EMPTY }, version, appendAtNs, nowSec);
  const metaStart = needleHeaderBytes + dataSizeBytes;
  const metaEnd = needleHeaderBytes + meta.size; // where the checksum starts in `meta.record`
  const size = meta.size + dataSize;
  const head = Buffer.allocUnsafe(metaStart);
  meta.record.copy(head, 0, 0, metaStart);
  head.writeUInt32BE(size, 12);
  head.writeUInt32BE(dataSize, needleHeaderBytes);
  const tailBytes = metaEnd - metaStart + tailLength(version) + paddingLength(size, version);
  const tail = Buffer.alloc(tailBytes); // zeros: the padding
  meta.record.copy(tail, 0, metaStart, metaEnd + tailLength(version)); // metadata, checksum, AppendAtNs
  tail.writeUInt32BE(crc >>> 0, metaEnd - metaStart);
  return {
    buffers: [head, n.data, tail],
    length: head.length + dataSize + tail.length,
    size,
    dataSize,
    crc: crc >>> 0,
    lastModifiedAt: meta.lastModifiedAt < 0 ? -1 : meta.lastModifiedAt + dataSize,
  };
}

/**
 * Records with at most this much data are encoded whole, the data copied into the record and
 * written with one pwrite: for a few KiB the copy costs less than building head and tail around
 * the data and a three-part pwritev (a 1 KB upload's write path, measured by bench:blob).
 */
export const wholeRecordDataBytesMax = 64 * 1024;

/** The record of `n` (data CRC `crc`) as encodeNeedleParts's parts, or whole when its data is small. */
export function encodeRecord(
  n: NeedleInput,
  crc: number,
  version: number,
  appendAtNs: bigint,
  nowSec: number,
): NeedleParts {
  if (n.data.length > wholeRecordDataBytesMax) return encodeNeedleParts(n, crc, version, appendAtNs, nowSec);
  const enc = encodeNeedle(n, version, appendAtNs, nowSec, crc >>> 0);
  return {
    buffers: [enc.record, EMPTY, EMPTY],
    length: enc.record.length,
    size: enc.size,
    dataSize: enc.dataSize,
    crc: enc.crc,
    lastModifiedAt: enc.lastModifiedAt,
  };
}

/** stored[from, to) equals the same range of the record `parts` make. */
function rangeEquals(stored: Buffer, parts: readonly Buffer[], from: number, to: number): boolean {
  let base = 0;
  for (const p of parts) {
    const lo = Math.max(from, base);
    const hi = Math.min(to, base + p.length);
    if (lo < hi && p.compare(stored, lo, hi, lo - base, hi - base) !== 0) return false;
    base += p.length;
  }
  return true;
}

/**
 * needle.ts's sameContent for a record in parts: true when the stored record (whose LastModified is
 * at `storedLmAt`) reads back the same as `fresh` apart from LastModified and AppendAtNs.
 */
export function samePartsContent(stored: Buffer, storedLmAt: number, fresh: NeedleParts): boolean {
  const head = fresh.buffers[0];
  if (headerSize(stored) !== fresh.size || headerCookie(stored) !== headerCookie(head)) return false;
  if (storedLmAt !== fresh.lastModifiedAt) return false;
  const end = needleHeaderBytes + fresh.size;
  if (storedLmAt < 0) return rangeEquals(stored, fresh.buffers, needleHeaderBytes, end);
  const lmEnd = storedLmAt + lastModifiedBytes;
  return (
    rangeEquals(stored, fresh.buffers, needleHeaderBytes, storedLmAt) && rangeEquals(stored, fresh.buffers, lmEnd, end)
  );
}

/** The buffers after the first `written` bytes of `parts`. */
function remaining(parts: readonly Buffer[], written: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = written;
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    out.push(skip > 0 ? p.subarray(skip) : p);
    skip = 0;
  }
  return out;
}

/** pwritev of every byte of `parts` at `position`, on this thread (small records). */
export function writevFullySync(fd: number, parts: readonly Buffer[], position: number, length: number): void {
  const first = parts[0];
  if (first !== undefined && first.length === length) {
    writeFully(fd, first, position); // a whole record (encodeRecord): one pwrite, no iovec array
    return;
  }
  let done = 0;
  while (done < length) {
    const n = fs.writevSync(fd, remaining(parts, done), position + done);
    if (n === 0) throw new Error(`write made no progress at byte ${position + done}`);
    done += n;
  }
}

function writevOnce(fd: number, parts: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, parts, position, (err, n) => (err === null ? resolve(n) : reject(err)));
  });
}

/** pwritev of every byte of `parts` at `position` on the thread pool: the event loop keeps running. */
export async function writevFully(
  fd: number,
  parts: readonly Buffer[],
  position: number,
  length: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const n = await writevOnce(fd, remaining(parts, done), position + done);
    if (n === 0) throw new Error(`write made no progress at byte ${position + done}`);
    done += n;
  }
}
