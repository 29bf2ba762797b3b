// Loading a volume: read the superblock, check the .idx tail against .dat, replay the .idx into a
// needle map, re-index complete records the .idx missed (skipping damaged ones: dat-scan.ts), and
// cut what holds no record off both files, each cut copied to a quarantine file first.
// The rules are written down in FORMAT.md ("Recovery"); this is the only code that repairs files.
import fs from "node:fs";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { idxEntryBytes, isLiveSize, readFully, walkIdx, writeFully } from "./idx.js";
import { idxTailDropEntriesMax, needleAlignBytes } from "./limits.js";
import { scanDat } from "./dat-scan.js";
import { headerKeyHi, headerKeyLo, headerSize, recordAppendAtNs, recordLength, whyNotDecoded } from "./needle.js";
import { NeedleMap } from "./needle-map.js";
import { keyHex } from "./needle-key.js";
import { truncateWithCopy } from "./quarantine.js";
import { superBlockBytes, VERSION_3, decodeSuperBlockHeader, superBlockLength, type SuperBlock } from "./superblock.js";

/** What a load found and repaired, for logs, metrics and tests. */
export interface LoadReport {
  idxEntries: number;
  /** Trailing .idx entries dropped (pointing past .dat or at bytes that are not their record). */
  idxEntriesDropped: number;
  /** Records found after the last indexed one and indexed now (written, but the .idx entry was lost). */
  recordsRecovered: number;
  /**
   * Complete records that fail their checks (CRC, fields, header): skipped in the middle of the
   * scan, moved to quarantine at the very end, or the last indexed one (kept: reads say CORRUPT).
   */
  damagedRecords: number;
  /** Bytes cut off the end of .dat (a torn or garbage tail), after copying them to quarantine. */
  datBytesTruncated: number;
  /** Bytes cut off the end of .idx (a torn entry or dropped entries), after copying them to quarantine. */
  idxBytesTruncated: number;
  /** The quarantine files written by this load (full paths). */
  quarantineFiles: string[];
}

export interface VolumeFiles {
  id: number;
  datPath: string;
  idxPath: string;
  datFd: number;
  idxFd: number;
  /** A child logger carrying volumeId. */
  log: Logger;
}

export interface LoadedVolume {
  sb: SuperBlock;
  map: NeedleMap;
  /** End of the last good record: where the next one is appended. */
  datEnd: number;
  idxEnd: number;
  /** The latest AppendAtNs seen (0n if unknown): new records must be later. */
  lastAppendAtNs: bigint;
  report: LoadReport;
}

/** Loads and repairs (in place) an open volume's files. Throws CORRUPT when it will not guess. */
export function loadVolumeFiles(files: VolumeFiles): LoadedVolume {
  return new VolumeLoader(files).run();
}

/** The record an .idx entry points at: its AppendAtNs and, when it fails its checks, why. */
interface EntryRecord {
  ns: bigint;
  /** True for a delete with offset 0 (SeaweedFS once wrote those): there is no record. */
  none: boolean;
  damage: string | undefined;
}

class VolumeLoader {
  private readonly f: VolumeFiles;
  private version = VERSION_3;
  private map = new NeedleMap();
  /** AppendAtNs a record found after the indexed ones must exceed (see trustedFloor). */
  private floorNs = 0n;
  private lastAppendAtNs = 0n;
  private damagedIndexed = 0;

  constructor(files: VolumeFiles) {
    this.f = files;
  }

  /** Everything is read and decided first; files change only once nothing can make the load refuse. */
  run(): LoadedVolume {
    const datSize = fs.fstatSync(this.f.datFd).size;
    const sb = this.readSuperBlock(datSize);
    this.version = sb.version;
    const start = superBlockLength(sb);
    const idxSize = fs.fstatSync(this.f.idxFd).size;
    const entries = Math.floor(idxSize / idxEntryBytes);

    const keep = this.validIdxPrefix(entries, datSize, start);
    const lastRecordEnd = this.replay(keep, start);
    const from = Math.min(lastRecordEnd, datSize);
    const scan = scanDat(
      {
        id: this.f.id,
        datFd: this.f.datFd,
        datSize,
        version: this.version,
        map: this.map,
        floorNs: this.floorNs,
        log: this.f.log,
      },
      from,
    );
    if (scan.maxAppendAtNs > this.lastAppendAtNs) this.lastAppendAtNs = scan.maxAppendAtNs;
    const report: LoadReport = {
      idxEntries: keep,
      idxEntriesDropped: entries - keep,
      recordsRecovered: scan.recordsRecovered,
      damagedRecords: this.damagedIndexed + scan.damagedRecords,
      datBytesTruncated: datSize - scan.end,
      idxBytesTruncated: idxSize - keep * idxEntryBytes,
      quarantineFiles: [],
    };
    const idxEnd = this.repair(report, keep * idxEntryBytes, idxSize, scan.entries, scan.end, datSize);
    return { sb, map: this.map, datEnd: scan.end, idxEnd, lastAppendAtNs: this.lastAppendAtNs, report };
  }

  /**
   * Applies the load's findings: cut .idx to the kept entries, append the scan's entries, cut the
   * .dat tail; each cut is copied to a quarantine file first. Synced when anything changed (a
   * crash part way leaves files the next load repairs the same way). Returns the .idx end.
   */
  private repair(report: LoadReport, idxKeep: number, idxSize: number, add: Buffer, datEnd: number, datSize: number) {
    const q = report.quarantineFiles;
    if (idxKeep < idxSize) q.push(truncateWithCopy(this.f.idxFd, this.f.idxPath, idxKeep, idxSize));
    if (add.length > 0) writeFully(this.f.idxFd, add, idxKeep);
    if (datEnd < datSize) q.push(truncateWithCopy(this.f.datFd, this.f.datPath, datEnd, datSize));
    if (q.length > 0 || add.length > 0) {
      fs.fdatasyncSync(this.f.datFd);
      fs.fdatasyncSync(this.f.idxFd);
    }
    for (const file of q) this.f.log.warn({ file }, "bytes cut from the volume are kept in a quarantine file");
    return idxKeep + add.length;
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
   * record is missing (past the end of .dat) or is not theirs (another key or size: bytes that
   * never reached the disk), until one is found. That one is kept even when its record fails its
   * checks: it is complete, so it is damage, not a torn append, and reads of it answer CORRUPT.
   */
  private validIdxPrefix(entries: number, datSize: number, start: number): number {
    for (let k = entries - 1; k >= 0; k--) {
      if (entries - 1 - k >= idxTailDropEntriesMax) {
        throw new WeedError(
          ErrorCode.CORRUPT,
          `volume ${this.f.id}: the last ${idxTailDropEntriesMax} index entries all point at missing or bad records; ` +
            "not dropping more",
        );
      }
      const found = this.entryRecord(k, datSize, start);
      if (found !== undefined) {
        if (found.damage !== undefined) this.reportIndexedDamage(k, found.damage);
        this.takeAppendTimes(k, found, datSize, start);
        return k + 1;
      }
      const [hi, lo, offset, size] = this.readEntry(k);
      this.f.log.warn({ entry: k, key: keyHex(hi, lo), offset, size }, "dropping index entry: its record is missing");
    }
    return 0;
  }

  private readEntry(k: number): [hi: number, lo: number, offset: number, size: number] {
    const buf = Buffer.alloc(idxEntryBytes);
    readFully(this.f.idxFd, buf, idxEntryBytes, k * idxEntryBytes);
    return [buf.readUInt32BE(0), buf.readUInt32BE(4), buf.readUInt32BE(8) * needleAlignBytes, buf.readUInt32BE(12)];
  }

  /** The record entry k points at, or undefined when it is missing or is not that entry's record. */
  private entryRecord(k: number, datSize: number, start: number): EntryRecord | undefined {
    const [hi, lo, offset, size] = this.readEntry(k);
    const live = isLiveSize(size);
    if (offset === 0) return live ? undefined : { ns: 0n, none: true, damage: undefined };
    const bodySize = live ? size : 0;
    const len = recordLength(bodySize, this.version);
    if (offset < start || offset + len > datSize) return undefined;
    const record = Buffer.allocUnsafe(len);
    if (readFully(this.f.datFd, record, len, offset) < len) return undefined;
    if (headerKeyHi(record) !== hi || headerKeyLo(record) !== lo || headerSize(record) !== bodySize) return undefined;
    const ns = recordAppendAtNs(record, bodySize, this.version);
    return { ns, none: false, damage: live ? whyNotDecoded(record, this.version) : undefined };
  }

  private reportIndexedDamage(k: number, reason: string): void {
    this.damagedIndexed++;
    const [hi, lo, offset, size] = this.readEntry(k);
    this.f.log.error(
      { entry: k, key: keyHex(hi, lo), offset, size: recordLength(size, this.version), reason },
      "the last indexed record is damaged: kept in place, reads of it answer CORRUPT",
    );
  }

  /**
   * The floor for records found after the index is the smaller AppendAtNs of the last two indexed
   * records: AppendAtNs is outside every checksum, and one flipped high byte in the last record's
   * must not make every later record look stale. New appends go after the larger one.
   */
  private takeAppendTimes(k: number, last: EntryRecord, datSize: number, start: number): void {
    const prev = k > 0 && !last.none ? this.entryRecord(k - 1, datSize, start) : undefined;
    const prevNs = prev === undefined || prev.none ? last.ns : prev.ns;
    this.floorNs = last.ns < prevNs ? last.ns : prevNs;
    this.lastAppendAtNs = last.ns > prevNs ? last.ns : prevNs;
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
}
