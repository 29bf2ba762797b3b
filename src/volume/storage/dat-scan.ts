// The forward scan of a volume's .dat past its last indexed record (FORMAT.md "Recovery", step 5):
// index every complete record the .idx missed, skip and report a damaged record in the middle
// (the records after it are kept), and say where the tail that holds no record begins. It only
// reads; volume-load.ts applies what it found (idx entries, the cut with its quarantine copy).
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { TOMBSTONE_FILE_SIZE, idxEntryBytes, readFully, writeIdxEntry } from "./idx.js";
import { datScanChunkBytes, needleAlignBytes } from "./limits.js";
import {
  headerCookie,
  headerKeyHi,
  headerKeyLo,
  headerSize,
  needleBodyBytesMax,
  needleChecksumBytes,
  needleFieldsBytesMax,
  needleHeaderBytes,
  recordAppendAtNs,
  recordLength,
  tailLength,
  whyNotDecoded,
} from "./needle.js";
import type { NeedleMap } from "./needle-map.js";
import { keyHex } from "./needle-key.js";
import { VERSION_3 } from "./superblock.js";

/**
 * How far past the start of a damaged record the scan looks for the next record that checks. A
 * record is never longer than recordLength(needleBodyBytesMax) (~1 GiB: the largest body we
 * write), so whatever a damaged header claims, the record after it starts within this many bytes;
 * a run of damaged small records fits too. Past this with file still left, the load stops with
 * CORRUPT and touches nothing rather than cut or skip more than one record could hold. At 8-byte
 * steps with a cheap header test per step, a full window is a read of 1 GiB and ~3 s (a 256 MiB
 * record with a flipped Size: 0.7 s), once per damaged record, only at load.
 */
export const resyncScanBytesMax = recordLength(needleBodyBytesMax, VERSION_3);

/** DataSize: the first body field. */
const dataSizeBytes = 4;

export interface DatScanInput {
  id: number;
  datFd: number;
  datSize: number;
  version: number;
  map: NeedleMap;
  /**
   * A record after the indexed ones must have a later AppendAtNs than this (v3; SeaweedFS and we
   * keep it strictly increasing), so stale bytes are not taken for new records. 0n: no floor.
   */
  floorNs: bigint;
  /** The volume's logger (a child carrying volumeId): damage is logged with offset, size and reason. */
  log: Logger;
}

export interface DatScanResult {
  /** Where the last record kept ends: everything after it is the tail to cut. */
  end: number;
  /** .idx entries for what the scan indexed, pinned or dropped, in file order. */
  entries: Buffer;
  recordsRecovered: number;
  damagedRecords: number;
  /** The largest AppendAtNs among the records indexed (0n if none). */
  maxAppendAtNs: bigint;
}

/** What the record at an offset turned out to be. `len`: its length per its header when it fits in the file. */
type Verdict = { ok: true; len: number } | { ok: false; reason: string; torn: boolean; len: number | undefined };

export function scanDat(input: DatScanInput, from: number): DatScanResult {
  return new DatScanner(input).run(from);
}

class DatScanner {
  private readonly in: DatScanInput;
  private readonly win: DatWindow;
  /** The shortest record there is (a tombstone): no record starts later than datSize minus this. */
  private readonly recordBytesMin: number;
  private readonly entries: Buffer[] = [];
  private recovered = 0;
  private damaged = 0;
  private maxNs = 0n;

  constructor(input: DatScanInput) {
    this.in = input;
    this.win = new DatWindow(input.datFd, input.datSize);
    this.recordBytesMin = recordLength(0, input.version);
  }

  run(from: number): DatScanResult {
    const size = this.in.datSize;
    let pos = from;
    while (pos < size) {
      const v = this.examine(pos);
      if (v.ok) {
        this.accept(pos);
        pos += v.len;
        continue;
      }
      const next = this.resync(pos);
      if (next === undefined) {
        this.tail(pos, v);
        break;
      }
      this.skipDamaged(pos, next, v);
      pos = next;
    }
    return {
      end: Math.min(pos, size),
      entries: Buffer.concat(this.entries),
      recordsRecovered: this.recovered,
      damagedRecords: this.damaged,
      maxAppendAtNs: this.maxNs,
    };
  }

  /** Whether a record that can be indexed starts at `at` (no side effects). */
  private examine(at: number): Verdict {
    if (at + needleHeaderBytes > this.in.datSize) {
      return { ok: false, reason: "the file ends inside the header", torn: true, len: undefined };
    }
    const size = headerSize(this.win.view(at, needleHeaderBytes));
    if (size > needleBodyBytesMax) {
      return { ok: false, reason: `size ${size} is over the largest body written`, torn: false, len: undefined };
    }
    const len = recordLength(size, this.in.version);
    if (at + len > this.in.datSize) {
      return { ok: false, reason: `the file ends inside the ${len}-byte record`, torn: true, len: undefined };
    }
    const why = this.whyNot(at, size, len);
    return why === undefined ? { ok: true, len } : { ok: false, reason: why, torn: false, len };
  }

  /** Why the complete record at `at` is not one to index, or undefined when it is. */
  private whyNot(at: number, size: number, len: number): string | undefined {
    const version = this.in.version;
    if (version === VERSION_3 && len > datScanChunkBytes) {
      // Check the small tail first, so garbage claiming a huge size costs one short read.
      const tail = this.win.readApart(at + needleHeaderBytes + size, tailLength(version));
      const why = this.whyNotAfterFloor(tail.readBigUInt64BE(needleChecksumBytes));
      if (why !== undefined) return why;
    }
    const record = this.win.view(at, len);
    const why = this.whyNotAfterFloor(recordAppendAtNs(record, size, version));
    if (why !== undefined) return why;
    if (size === 0) {
      // Zeros (a file extended but never written) and stale tombstones stop here.
      return this.in.map.find(headerKeyHi(record), headerKeyLo(record)) >= 0
        ? undefined
        : "a tombstone of a needle that is not live";
    }
    return whyNotDecoded(record, version);
  }

  private whyNotAfterFloor(ns: bigint): string | undefined {
    if (this.in.version !== VERSION_3 || ns > this.in.floorNs) return undefined;
    return `AppendAtNs ${ns} is not after the last indexed record's ${this.in.floorNs}`;
  }

  /** Indexes the good record at `at`: the later record of a key wins, as in .idx replay. */
  private accept(at: number): void {
    const head = this.win.view(at, needleHeaderBytes);
    const hi = headerKeyHi(head);
    const lo = headerKeyLo(head);
    const size = headerSize(head);
    const live = this.liveCookie(hi, lo);
    const cookie = headerCookie(head);
    if (live !== undefined && live !== cookie) this.cookieConflict(at, hi, lo, live, cookie);
    if (size === 0) {
      this.in.map.remove(hi, lo);
      this.queueEntry(hi, lo, at / needleAlignBytes, TOMBSTONE_FILE_SIZE);
    } else {
      this.in.map.put(hi, lo, at / needleAlignBytes, size);
      this.queueEntry(hi, lo, at / needleAlignBytes, size);
    }
    const ns = recordAppendAtNs(this.win.view(at, recordLength(size, this.in.version)), size, this.in.version);
    if (ns > this.maxNs) this.maxNs = ns;
    this.recovered++;
    this.in.log.warn({ key: keyHex(hi, lo), offset: at, size }, "indexed a record the index had missed");
  }

  /**
   * SeaweedFS and we refuse to overwrite or delete a needle with another cookie, so two records of
   * one key with different cookies mean one header is damaged (key or cookie are outside every
   * checksum). The later one wins, as it would in the index: a cookie flipped in the older record
   * or a damaged newer one then costs nothing healthy; a key flipped in the newer one hides the
   * older needle (its bytes stay in .dat). Counted as damage either way.
   */
  private cookieConflict(at: number, hi: number, lo: number, was: number, now: number): void {
    this.damaged++;
    const cookies = { was: hex8(was), now: hex8(now) };
    this.in.log.error(
      { offset: at, key: keyHex(hi, lo), cookies, reason: "cookie differs from the live needle's" },
      "record overwrites a needle with another cookie: one of the two headers is damaged",
    );
  }

  /**
   * The next offset after the failed record at `at` where a record that checks starts, or
   * undefined when none does before the end of the file. Walks the 8-byte alignment from the
   * first slot after `at`, never trusting the failed header's Size (it may be the damaged field),
   * so no healthy record between is jumped over. Bounded by resyncScanBytesMax.
   */
  private resync(at: number): number | undefined {
    const lastStart = this.in.datSize - this.recordBytesMin;
    const limit = Math.min(lastStart, at + resyncScanBytesMax);
    for (let q = at + needleAlignBytes; q <= limit; q += needleAlignBytes) {
      if (this.mayStartRecord(q) && this.examine(q).ok) return q;
    }
    if (limit < lastStart) {
      throw new WeedError(
        ErrorCode.CORRUPT,
        `volume ${this.in.id}: no record checks in the ${resyncScanBytesMax} bytes after the damaged one at ${at}, ` +
          `and ${lastStart - limit} bytes are left; not skipping or cutting more than one record could hold`,
      );
    }
    return undefined;
  }

  /**
   * A cheap test on the header and DataSize in the scan window: Size within what we write, the
   * record inside the file, DataSize leaving room for no more than the optional fields (random
   * bytes pass this in fewer than one slot in 60,000), or a tombstone of a live key.
   */
  private mayStartRecord(q: number): boolean {
    const w = this.win;
    w.ensure(q, needleHeaderBytes + dataSizeBytes);
    const i = q - w.at;
    const size = w.buf.readUInt32BE(i + 12);
    if (size > needleBodyBytesMax || q + recordLength(size, this.in.version) > this.in.datSize) return false;
    if (size === 0) return this.in.map.find(w.buf.readUInt32BE(i + 4), w.buf.readUInt32BE(i + 8)) >= 0;
    if (size < dataSizeBytes) return false;
    const fields = size - dataSizeBytes - w.buf.readUInt32BE(i + 16);
    return fields >= 0 && fields <= needleFieldsBytesMax;
  }

  /** A damaged region [at, next) between two good records: left in place, reported, not indexed. */
  private skipDamaged(at: number, next: number, v: Verdict & { ok: false }): void {
    this.damaged++;
    this.in.log.error(
      { offset: at, size: next - at, reason: v.reason },
      "damaged record skipped: left in place in .dat, not indexed; the records after it are kept",
    );
    this.settleNeedleOf(at, v.len !== undefined && at + v.len === next);
  }

  /**
   * Nothing that checks follows `at`: the bytes from there are the tail volume-load cuts (with a
   * quarantine copy). A torn record (the file ends inside it: a crash mid-append) or an unwritten
   * header (zeros) is what a crash leaves; anything else is a damaged record and counted.
   */
  private tail(at: number, v: Verdict & { ok: false }): void {
    const bytes = this.in.datSize - at;
    if (this.isZeroHeader(at) || (v.torn && !this.completeDespiteSize(at))) {
      this.in.log.warn({ offset: at, size: bytes, reason: v.reason }, "torn tail found");
      return;
    }
    this.damaged++;
    this.in.log.error(
      { offset: at, size: bytes, reason: v.reason },
      "damaged record at the end of the volume: moved to quarantine",
    );
    this.settleNeedleOf(at, false);
  }

  /**
   * A damaged record whose header names a live needle with that needle's cookie is a newer
   * version of it (a flip cannot make both match another needle), written after the one the map
   * holds: the older one must not be served in its place. With its length confirmed (the next
   * good record starts where it ends) it is indexed, so reads answer CORRUPT; otherwise the needle
   * is dropped (a delete entry with offset 0, as old SeaweedFS wrote: it points at no record).
   */
  private settleNeedleOf(at: number, lengthConfirmed: boolean): void {
    if (at + needleHeaderBytes > this.in.datSize) return;
    const head = this.win.view(at, needleHeaderBytes);
    const hi = headerKeyHi(head);
    const lo = headerKeyLo(head);
    if (this.liveCookie(hi, lo) !== headerCookie(head)) return;
    const size = headerSize(head);
    if (lengthConfirmed && size > 0) {
      this.in.map.put(hi, lo, at / needleAlignBytes, size);
      this.queueEntry(hi, lo, at / needleAlignBytes, size);
      this.in.log.error(
        { key: keyHex(hi, lo), offset: at },
        "needle indexed at its damaged record: reads answer CORRUPT",
      );
    } else {
      this.in.map.remove(hi, lo);
      this.queueEntry(hi, lo, 0, TOMBSTONE_FILE_SIZE);
      this.in.log.error({ key: keyHex(hi, lo), offset: at }, "needle dropped: its newer record is damaged");
    }
  }

  /**
   * A last header whose Size runs past the end of the file is a torn append, or a complete record
   * whose Size field is the damaged byte: it is the latter when the bytes to the end decode and
   * CRC-check as a record of exactly their length (one Size gives each 8-aligned length).
   */
  private completeDespiteSize(at: number): boolean {
    const len = this.in.datSize - at;
    const version = this.in.version;
    if (len % needleAlignBytes !== 0 || len < this.recordBytesMin || len > resyncScanBytesMax) return false;
    const record = Buffer.from(this.win.view(at, len));
    const sizeMax = len - needleHeaderBytes - tailLength(version) - 1; // padding is 1..8 bytes
    for (let size = Math.max(1, sizeMax - needleAlignBytes + 1); size <= sizeMax; size++) {
      if (recordLength(size, version) !== len) continue;
      record.writeUInt32BE(size, 12);
      return whyNotDecoded(record, version) === undefined;
    }
    return false;
  }

  private isZeroHeader(at: number): boolean {
    if (at + needleHeaderBytes > this.in.datSize) return false;
    const head = this.win.view(at, needleHeaderBytes);
    return head.every((b) => b === 0);
  }

  /** The cookie of the live needle `hi:lo` as its record's header says, or undefined when not live. */
  private liveCookie(hi: number, lo: number): number | undefined {
    const slot = this.in.map.find(hi, lo);
    if (slot < 0) return undefined;
    const head = this.win.readApart(this.in.map.offsetAt(slot) * needleAlignBytes, needleHeaderBytes);
    return head.length === needleHeaderBytes ? headerCookie(head) : undefined;
  }

  private queueEntry(hi: number, lo: number, offset: number, size: number): void {
    const entry = Buffer.allocUnsafe(idxEntryBytes);
    writeIdxEntry(entry, 0, hi, lo, offset, size);
    this.entries.push(entry);
  }
}

/** A read window over .dat: one datScanChunkBytes read serves many records. */
class DatWindow {
  buf: Buffer = Buffer.alloc(0);
  at = 0;
  private readonly fd: number;
  private readonly size: number;

  constructor(fd: number, size: number) {
    this.fd = fd;
    this.size = size;
  }

  /** Bytes [pos, pos + len), which the caller knows are inside the file. */
  view(pos: number, len: number): Buffer {
    this.ensure(pos, len);
    const i = pos - this.at;
    return this.buf.subarray(i, i + len);
  }

  /** Makes [pos, pos + len) part of `buf`, reading at least datScanChunkBytes from `pos` if it is not. */
  ensure(pos: number, len: number): void {
    if (pos >= this.at && pos + len <= this.at + this.buf.length) return;
    const want = Math.max(len, Math.min(datScanChunkBytes, this.size - pos));
    const buf = Buffer.allocUnsafe(want);
    const got = readFully(this.fd, buf, want, pos);
    if (got < len) {
      throw new WeedError(ErrorCode.IO, `.dat shrank while loading: ${got} of ${len} bytes at ${pos}`);
    }
    this.buf = buf.subarray(0, got);
    this.at = pos;
  }

  /** A short read that leaves the window alone (may return fewer bytes at the end of the file). */
  readApart(pos: number, len: number): Buffer {
    const buf = Buffer.allocUnsafe(len);
    return buf.subarray(0, readFully(this.fd, buf, len, pos));
  }
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, "0");
}
