// The .idx log: 16-byte entries key u64 | offset u32 (bytes / 8) | size i32, big-endian, appended and
// never rewritten (SeaweedFS weed/storage/idx). Replayed in order on load: the last entry per key wins.
import fs from "node:fs";
import { idxReadChunkBytes } from "./limits.js";

export const idxEntryBytes = 16;

/** Size of a delete entry: -1 as i32 (SeaweedFS TombstoneFileSize). */
export const TOMBSTONE_FILE_SIZE = 0xffffffff;

/**
 * SeaweedFS's Size is an i32: an entry is a put only when 0 < size < 2^31. Size 0 (an empty needle
 * written by SeaweedFS) and negative sizes (tombstones) replay as deletes, as SeaweedFS does.
 */
export function isLiveSize(size: number): boolean {
  return size !== 0 && size < 0x8000_0000;
}

export function writeIdxEntry(buf: Buffer, at: number, hi: number, lo: number, offset: number, size: number): void {
  buf.writeUInt32BE(hi, at);
  buf.writeUInt32BE(lo, at + 4);
  buf.writeUInt32BE(offset, at + 8);
  buf.writeUInt32BE(size, at + 12);
}

export interface IdxEntry {
  keyHi: number;
  keyLo: number;
  /** In 8-byte units. */
  offset: number;
  /** Needle body size (u32 as stored; 0xFFFFFFFF is a tombstone). */
  size: number;
}

export function readIdxEntry(buf: Buffer, at: number): IdxEntry {
  return {
    keyHi: buf.readUInt32BE(at),
    keyLo: buf.readUInt32BE(at + 4),
    offset: buf.readUInt32BE(at + 8),
    size: buf.readUInt32BE(at + 12),
  };
}

export type IdxVisitor = (hi: number, lo: number, offset: number, size: number) => void;

/**
 * Calls `visit` for entries [fromEntry, toEntry) of an open .idx, reading `chunkBytes` at a time
 * (no syscall per entry: a million entries take 16 reads).
 */
export function walkIdx(
  fd: number,
  fromEntry: number,
  toEntry: number,
  visit: IdxVisitor,
  chunkBytes = idxReadChunkBytes,
): void {
  const perChunk = Math.max(1, Math.floor(chunkBytes / idxEntryBytes));
  const buf = Buffer.allocUnsafe(Math.min(perChunk, Math.max(1, toEntry - fromEntry)) * idxEntryBytes);
  let entry = fromEntry;
  while (entry < toEntry) {
    const want = Math.min(perChunk, toEntry - entry) * idxEntryBytes;
    const got = readFully(fd, buf, want, entry * idxEntryBytes);
    const n = Math.floor(got / idxEntryBytes);
    for (let i = 0, at = 0; i < n; i++, at += idxEntryBytes) {
      visit(buf.readUInt32BE(at), buf.readUInt32BE(at + 4), buf.readUInt32BE(at + 8), buf.readUInt32BE(at + 12));
    }
    if (got < want) return; // the file is shorter than the caller thought
    entry += n;
  }
}

/** pread until `length` bytes or end of file; returns the bytes read. */
export function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** pwrite the whole buffer (regular files may still return short writes near ENOSPC). */
export function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw new Error(`write made no progress at byte ${position + done}`);
    done += n;
  }
}
