// Loading a volume: read the superblock, check the .idx tail against .dat, replay the .idx into a
// needle map, re-index complete records the .idx missed, and cut a torn tail off both files.
// The rules are written down in FORMAT.md ("Recovery"); this is the only code that repairs files.
import fs from "node:fs";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import {
  idxEntryBytes,
  TOMBSTONE_FILE_SIZE,
  isLiveSize,
  readFully,
  walkIdx,
  writeFully,
  writeIdxEntry,
} from "./idx.js";
import { datScanChunkBytes, idxTailDropEntriesMax, needleAlignBytes } from "./limits.js";
import {
  needleBodyBytesMax,
  needleChecksumBytes,
  needleHeaderBytes,
  decodeNeedle,
  headerCookie,
  headerKeyHi,
  headerKeyLo,
  headerSize,
  recordAppendAtNs,
  recordLength,
  tailLength,
} from "./needle.js";
import { NeedleMap } from "./needle-map.js";
import { keyHex } from "./needle-key.js";
import { superBlockBytes, VERSION_3, decodeSuperBlockHeader, superBlockLength, type SuperBlock } from "./superblock.js";

/** What a load found and repaired, for logs and tests. */
export interface LoadReport {
  idxEntries: number;
  /** Trailing .idx entries dropped (pointing past .dat or at a record that does not check). */
  idxEntriesDropped: number;
  /** Records found after the last indexed one and indexed now (written, but the .idx entry was lost). */
  recordsRecovered: number;
  /** Bytes cut off the end of .dat (a torn or garbage tail). */
  datBytesTruncated: number;
  /** Bytes cut off the end of .idx (a torn entry or dropped entries). */
  idxBytesTruncated: number;
}

export interface VolumeFiles {
  id: number;
  datPath: string;
  datFd: number;
  idxFd: number;
  log: Logger;
}

export interface LoadedVolume {
  sb: SuperBlock;
  map: NeedleMap;
  /** End of the last good record: where the next one is appended. */
  datEnd: number;
  idxEnd: number;
  /** AppendAtNs of the last record (0n if unknown): new records must be later. */
  lastAppendAtNs: bigint;
  report: LoadReport;
}

/** Loads and repairs (in place) an open volume's files. Throws CORRUPT when it will not guess. */
export function loadVolumeFiles(files: VolumeFiles): LoadedVolume {
  return new VolumeLoader(files).run();
}

class VolumeLoader {
  private readonly f: VolumeFiles;
  private version = VERSION_3;
  private map = new NeedleMap();
  private lastAppendAtNs = 0n;
  private idxEnd = 0;

  constructor(files: VolumeFiles) {
    this.f = files;
  }

  run(): LoadedVolume {
    const datSize = fs.fstatSync(this.f.datFd).size;
    const sb = this.readSuperBlock(datSize);
    this.version = sb.version;
    const start = superBlockLength(sb);
    const idxSize = fs.fstatSync(this.f.idxFd).size;
    const entries = Math.floor(idxSize / idxEntryBytes);

    const keep = this.validIdxPrefix(entries, datSize, start);
    const report: LoadReport = {
      idxEntries: keep,
      idxEntriesDropped: entries - keep,
      recordsRecovered: 0,
      datBytesTruncated: 0,
      idxBytesTruncated: idxSize - keep * idxEntryBytes,
    };
    if (report.idxBytesTruncated > 0) fs.ftruncateSync(this.f.idxFd, keep * idxEntryBytes);
    this.idxEnd = keep * idxEntryBytes;

    const lastRecordEnd = this.replay(keep, start);
    const end = this.recoverUnindexed(Math.min(lastRecordEnd, datSize), datSize, report);
    if (end < datSize) {
      fs.ftruncateSync(this.f.datFd, end);
      report.datBytesTruncated = datSize - end;
    }
    return { sb, map: this.map, datEnd: end, idxEnd: this.idxEnd, lastAppendAtNs: this.lastAppendAtNs, report };
  }

  private readSuperBlock(datSize: number): SuperBlock {
    const what = `volume ${this.f.id} (${this.f.datPath})`;
    const head = Buffer.alloc(superBlockBytes);
    const got = readFully(this.f.datFd, head, superBlockBytes, 0);
    const { sb, extraLength } = decodeSuperBlockHeader(head.subarray(0, got), what);
    if (extraLength > 0) {
      const extra = Buffer.alloc(extraLength);
      if (readFully(this.f.datFd, extra, extraLength, superBlockBytes) < extraLength) {
        throw new WeedError(ErrorCode.CORRUPT, `${what}: superblock extra is cut short`);
      }
      sb.extra = extra;
    }
    if (datSize < superBlockLength(sb)) throw new WeedError(ErrorCode.CORRUPT, `${what}: shorter than its superblock`);
    return sb;
  }

  /**
   * How many leading .idx entries to keep: walking back from the last one, drop entries whose
   * record is past the end of .dat or does not decode and CRC-check, until one is good.
   */
  private validIdxPrefix(entries: number, datSize: number, start: number): number {
    const buf = Buffer.alloc(idxEntryBytes);
    for (let k = entries - 1; k >= 0; k--) {
      if (entries - 1 - k >= idxTailDropEntriesMax) {
        throw new WeedError(
          ErrorCode.CORRUPT,
          `volume ${this.f.id}: the last ${idxTailDropEntriesMax} index entries all point at missing or bad records; ` +
            "not dropping more",
        );
      }
      readFully(this.f.idxFd, buf, idxEntryBytes, k * idxEntryBytes);
      const hi = buf.readUInt32BE(0);
      const lo = buf.readUInt32BE(4);
      const offset = buf.readUInt32BE(8) * needleAlignBytes;
      const size = buf.readUInt32BE(12);
      if (this.tailEntryIsGood(hi, lo, offset, size, datSize, start)) return k + 1;
      this.f.log.warn(
        { entry: k, key: keyHex(hi, lo), offset, size },
        "dropping index entry: its record is missing or bad",
      );
    }
    return 0;
  }

  /** Also takes the record's AppendAtNs as the latest known. */
  private tailEntryIsGood(
    hi: number,
    lo: number,
    offset: number,
    size: number,
    datSize: number,
    start: number,
  ): boolean {
    const live = isLiveSize(size);
    if (offset === 0) return !live; // SeaweedFS once wrote deletes with offset 0: nothing to check
    const bodySize = live ? size : 0;
    const len = recordLength(bodySize, this.version);
    if (offset < start || offset + len > datSize) return false;
    const record = Buffer.allocUnsafe(len);
    if (readFully(this.f.datFd, record, len, offset) < len) return false;
    if (headerKeyHi(record) !== hi || headerKeyLo(record) !== lo || headerSize(record) !== bodySize) return false;
    if (live && !decodes(record, this.version)) return false;
    this.lastAppendAtNs = recordAppendAtNs(record, bodySize, this.version);
    return true;
  }

  /** Replays entries [0, count) into the map; returns the end of the last entry's record. */
  private replay(count: number, start: number): number {
    const map = new NeedleMap(count);
    const version = this.version;
    let lastRecordEnd = start;
    let unusable = 0;
    walkIdx(this.f.idxFd, 0, count, (hi, lo, offset, size) => {
      const live = isLiveSize(size);
      if (live && offset === 0) {
        unusable++; // a put at offset 0 would be the superblock: bit rot in the index
        return;
      }
      if (live) map.put(hi, lo, offset, size);
      else map.remove(hi, lo);
      if (offset !== 0) lastRecordEnd = offset * needleAlignBytes + recordLength(live ? size : 0, version);
    });
    if (unusable > 0) this.f.log.error({ entries: unusable }, "index entries with offset 0 ignored");
    this.map = map;
    return lastRecordEnd;
  }

  /**
   * Scans .dat from the end of the last indexed record and indexes every complete record found
   * there (written, but the process died before its .idx entry). Stops at the first bytes that
   * are not a plausible record (isPlausibleTail, indexRecovered). Returns where valid data ends.
   */
  private recoverUnindexed(from: number, datSize: number, report: LoadReport): number {
    let pos = from;
    if (pos % needleAlignBytes !== 0) return pos;
    let window: Buffer = Buffer.alloc(0);
    let windowAt = 0;
    const pending: Buffer[] = [];
    while (pos + needleHeaderBytes <= datSize) {
      if (pos + needleHeaderBytes > windowAt + window.length) {
        window = this.read(pos, Math.min(datScanChunkBytes, datSize - pos));
        windowAt = pos;
      }
      const size = window.readUInt32BE(pos - windowAt + 12);
      if (size > needleBodyBytesMax) break; // we never write such a record: garbage
      const len = recordLength(size, this.version);
      if (pos + len > datSize) break;
      if (pos + len > windowAt + window.length) {
        // Check the small tail first, so garbage claiming a huge size costs one short read.
        const tailAt = needleHeaderBytes + size;
        if (!this.isPlausibleTail(this.read(pos + tailAt, len - tailAt))) break;
        window = this.read(pos, Math.max(len, Math.min(datScanChunkBytes, datSize - pos)));
        windowAt = pos;
      }
      const record = window.subarray(pos - windowAt, pos - windowAt + len);
      if (!this.indexRecovered(record, size, pos, pending)) break;
      pos += len;
      report.recordsRecovered++;
    }
    if (pending.length > 0) {
      const entries = Buffer.concat(pending);
      writeFully(this.f.idxFd, entries, this.idxEnd);
      this.idxEnd += entries.length;
    }
    return pos;
  }

  private read(at: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    return buf.subarray(0, readFully(this.f.datFd, buf, length, at));
  }

  /**
   * `tail` = CRC, AppendAtNs (v3) and padding of a candidate record. AppendAtNs is strictly
   * increasing within a volume (SeaweedFS enforces it too), so an older or equal one is not a
   * record written after the last indexed one. Padding is not checked: SeaweedFS's is arbitrary.
   */
  private isPlausibleTail(tail: Buffer): boolean {
    if (tail.length <= tailLength(this.version)) return false;
    return this.version !== VERSION_3 || tail.readBigUInt64BE(needleChecksumBytes) > this.lastAppendAtNs;
  }

  /** Checks one unindexed record and, if plausible, applies it to the map and queues its .idx entry. */
  private indexRecovered(record: Buffer, size: number, pos: number, pending: Buffer[]): boolean {
    if (!this.isPlausibleTail(record.subarray(needleHeaderBytes + size))) return false;
    const ns = recordAppendAtNs(record, size, this.version);
    const hi = headerKeyHi(record);
    const lo = headerKeyLo(record);
    const offset = pos / needleAlignBytes;
    const entry = Buffer.allocUnsafe(idxEntryBytes);
    if (size === 0) {
      if (!this.isLiveWithCookie(hi, lo, headerCookie(record))) return false;
      this.map.remove(hi, lo);
      writeIdxEntry(entry, 0, hi, lo, offset, TOMBSTONE_FILE_SIZE);
    } else {
      if (!decodes(record, this.version)) return false;
      this.map.put(hi, lo, offset, size);
      writeIdxEntry(entry, 0, hi, lo, offset, size);
    }
    this.lastAppendAtNs = ns;
    pending.push(entry);
    this.f.log.warn({ key: keyHex(hi, lo), offset: pos, size }, "indexed a record the index had missed");
    return true;
  }

  private isLiveWithCookie(hi: number, lo: number, cookie: number): boolean {
    const slot = this.map.find(hi, lo);
    if (slot < 0) return false;
    const head = this.read(this.map.offsetAt(slot) * needleAlignBytes, needleHeaderBytes);
    return head.length === needleHeaderBytes && headerCookie(head) === cookie;
  }
}

function decodes(record: Buffer, version: number): boolean {
  try {
    decodeNeedle(record, version);
    return true;
  } catch {
    return false;
  }
}
