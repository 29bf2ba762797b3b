// One volume: <base>.dat (superblock + needle records) and <base>.idx (16-byte entries), plus the
// in-memory needle map. Writes are synchronous pwrites at tracked end offsets (record, then index
// entry, then map), so a write that returned survives kill -9; fsync is group-committed.
// Load replays the .idx and repairs the tail (FORMAT.md, "Recovery").
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ErrorCode, WeedError, assert } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { GroupCommit } from "./group-commit.js";
import { idxEntryBytes, TOMBSTONE_FILE_SIZE, readFully, writeFully, writeIdxEntry } from "./idx.js";
import { needleAlignBytes, volumeFileBytesMax } from "./limits.js";
import {
  needleHeaderBytes,
  decodeNeedle,
  encodeNeedle,
  encodeTombstone,
  headerCookie,
  headerKeyHi,
  headerKeyLo,
  headerSize,
  recordLength,
  sameContent,
  type DecodedNeedle,
  type EncodedNeedle,
} from "./needle.js";
import { NeedleMap } from "./needle-map.js";
import { checkKey, joinKey, keyHex, keyHi, keyLo } from "./needle-key.js";
import type { AllocateOptions, NeedleInput, NeedleRecord, VolumeInfo, WriteOptions, WriteResult } from "./store-api.js";
import { CURRENT_VERSION, encodeSuperBlock, type SuperBlock } from "./superblock.js";
import { loadVolumeFiles, type LoadReport } from "./volume-load.js";

export type { LoadReport } from "./volume-load.js";

const fdatasync = promisify(fs.fdatasync);

export interface VolumeOptions {
  dir: string;
  id: number;
  /** "" for the default collection. */
  collection: string;
  logger: Logger;
  /**
   * Milliseconds since the epoch. Needles record wall-clock times (last-modified seconds, append
   * nanoseconds), as SeaweedFS's do. Default: Date.now.
   */
  wallClockMs?: () => number;
}

type State = "new" | "open" | "closing" | "closed";

/** The file name without extension: "<collection>_<id>" or "<id>" (SeaweedFS volume.FileName). */
export function volumeBaseName(collection: string, id: number): string {
  return collection === "" ? String(id) : `${collection}_${id}`;
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, "0");
}

function ioError(what: string, err: unknown): WeedError {
  const msg = err instanceof Error ? err.message : String(err);
  return new WeedError(ErrorCode.IO, `${what}: ${msg}`, { cause: err });
}

export class Volume {
  readonly id: number;
  readonly collection: string;
  readonly datPath: string;
  readonly idxPath: string;
  private readonly log: Logger;
  private readonly wallClockMs: () => number;
  /** Wall clock minus the monotonic clock, in ns, taken once: append times then have sub-ms resolution. */
  private epochMinusHrtimeNs: bigint | undefined;

  private state: State = "new";
  private closing: Promise<void> | undefined;
  private sb: SuperBlock | undefined;
  private datFd = -1;
  private idxFd = -1;
  /** Append position in .dat: always 8-aligned, always the end of the last complete record. */
  private datEnd = 0;
  private idxEnd = 0;
  private map = new NeedleMap();
  private lastAppendAtNs = 0n;
  private modifiedAtSec = 0;
  private readOnlyFlag = false;
  private readonly idxEntry = Buffer.alloc(idxEntryBytes);
  private readonly commit: GroupCommit;

  constructor(opts: VolumeOptions) {
    assert(Number.isInteger(opts.id) && opts.id >= 0 && opts.id <= 0xffffffff, `volume id ${opts.id} is a uint32`);
    this.id = opts.id;
    this.collection = opts.collection;
    const base = path.join(opts.dir, volumeBaseName(opts.collection, opts.id));
    this.datPath = `${base}.dat`;
    this.idxPath = `${base}.idx`;
    this.log = opts.logger.child({ volumeId: opts.id });
    this.wallClockMs = opts.wallClockMs ?? Date.now;
    this.commit = new GroupCommit({
      what: `volume ${opts.id}`,
      sync: () => this.syncFiles(),
      onFailure: (err) => {
        this.readOnlyFlag = true;
        this.log.error({ err }, "fsync failed, volume is read-only");
      },
    });
  }

  /** Syncs started by group commit (for tests: fewer than the writers that asked). */
  get syncCount(): number {
    return this.commit.syncCount;
  }

  get superBlock(): SuperBlock {
    assert(this.sb !== undefined, "volume is open");
    return this.sb;
  }

  /** Live needles. */
  get needleCount(): number {
    return this.map.count;
  }

  /** Bytes of the in-memory needle map. */
  get mapBytes(): number {
    return this.map.byteLength;
  }

  get readOnly(): boolean {
    return this.readOnlyFlag;
  }

  /** Marks the volume read-only or writable again; a volume whose fsync failed stays read-only. */
  setReadOnly(readOnly: boolean): void {
    if (!readOnly && this.commit.failed !== undefined) {
      throw new WeedError(ErrorCode.VOLUME_READ_ONLY, `volume ${this.id} had a failed fsync and stays read only`);
    }
    this.readOnlyFlag = readOnly;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Creates the .dat (superblock only) and an empty .idx. Throws VOLUME_EXISTS if either exists. */
  async create(opts: Pick<AllocateOptions, "replicaPlacement" | "ttl">): Promise<void> {
    assert(this.state === "new", "create() on a fresh Volume");
    const sb: SuperBlock = {
      version: CURRENT_VERSION,
      replicaPlacement: opts.replicaPlacement,
      ttl: opts.ttl,
      compactRevision: 0,
      extra: Buffer.alloc(0),
    };
    const sbBytes = encodeSuperBlock(sb);
    this.datFd = this.openExclusive(this.datPath);
    try {
      this.idxFd = this.openExclusive(this.idxPath);
    } catch (err) {
      fs.closeSync(this.datFd);
      fs.unlinkSync(this.datPath);
      throw err;
    }
    try {
      writeFully(this.datFd, sbBytes, 0);
      await Promise.all([fdatasync(this.datFd), fdatasync(this.idxFd)]);
      await syncDir(path.dirname(this.datPath));
    } catch (err) {
      this.closeFds();
      throw ioError(`creating volume ${this.id}`, err);
    }
    this.sb = sb;
    this.datEnd = sbBytes.length;
    this.idxEnd = 0;
    this.map = new NeedleMap();
    this.modifiedAtSec = this.nowSec();
    this.state = "open";
    this.log.info({ path: this.datPath }, "volume created");
  }

  private openExclusive(file: string): number {
    try {
      return fs.openSync(file, "wx+");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") {
        throw new WeedError(ErrorCode.VOLUME_EXISTS, `volume ${this.id}: ${path.basename(file)} already exists`);
      }
      throw ioError(`creating ${file}`, err);
    }
  }

  /** Opens existing files, replays the .idx and repairs a torn tail. */
  async load(): Promise<LoadReport> {
    assert(this.state === "new", "load() on a fresh Volume");
    const started = performance.now();
    try {
      this.datFd = fs.openSync(this.datPath, "r+");
      // A missing .idx is rebuilt from .dat by the tail scan below.
      this.idxFd = fs.openSync(this.idxPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch (err) {
      this.closeFds();
      throw ioError(`opening volume ${this.id}`, err);
    }
    let report: LoadReport;
    try {
      const loaded = loadVolumeFiles({
        id: this.id,
        datPath: this.datPath,
        datFd: this.datFd,
        idxFd: this.idxFd,
        log: this.log,
      });
      report = loaded.report;
      if (report.datBytesTruncated > 0 || report.idxBytesTruncated > 0 || report.recordsRecovered > 0) {
        await Promise.all([fdatasync(this.datFd), fdatasync(this.idxFd)]);
      }
      this.sb = loaded.sb;
      this.map = loaded.map;
      this.datEnd = loaded.datEnd;
      this.idxEnd = loaded.idxEnd;
      this.lastAppendAtNs = loaded.lastAppendAtNs;
    } catch (err) {
      this.closeFds();
      if (err instanceof WeedError) throw err;
      throw ioError(`loading volume ${this.id}`, err);
    }
    this.modifiedAtSec = Math.floor(fs.fstatSync(this.datFd).mtimeMs / 1000);
    this.state = "open";
    const ms = Math.round(performance.now() - started);
    const repaired =
      report.idxEntriesDropped + report.recordsRecovered + report.datBytesTruncated + report.idxBytesTruncated > 0;
    this.log[repaired ? "warn" : "info"](
      { ...report, needles: this.map.count, ms },
      repaired ? "volume loaded, tail repaired" : "volume loaded",
    );
    return report;
  }

  /** Waits for pending syncs, syncs once more and closes the files. Idempotent. */
  close(): Promise<void> {
    if (this.state === "new") this.state = "closed";
    if (this.state === "closed") return Promise.resolve();
    this.closing ??= this.closeOpen();
    return this.closing;
  }

  private async closeOpen(): Promise<void> {
    this.state = "closing";
    await this.commit.drain();
    if (this.commit.failed === undefined) {
      try {
        await Promise.all([fdatasync(this.datFd), fdatasync(this.idxFd)]);
      } catch (err) {
        this.log.error({ err }, "final fsync failed while closing");
      }
    }
    this.closeFds();
    this.state = "closed";
  }

  /** Closes and removes the .dat and .idx. */
  async destroy(): Promise<void> {
    await this.close();
    for (const file of [this.datPath, this.idxPath]) {
      try {
        fs.unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`removing ${file}`, err);
      }
    }
    await syncDir(path.dirname(this.datPath));
    this.log.info("volume deleted");
  }

  private closeFds(): void {
    for (const fd of [this.datFd, this.idxFd]) {
      if (fd >= 0) fs.closeSync(fd);
    }
    this.datFd = -1;
    this.idxFd = -1;
  }

  info(): VolumeInfo {
    const sb = this.superBlock;
    return {
      id: this.id,
      collection: this.collection,
      replicaPlacement: sb.replicaPlacement,
      ttl: sb.ttl,
      size: this.datEnd,
      fileCount: this.map.fileCount,
      deleteCount: this.map.deleteCount,
      deletedByteCount: this.map.deletedBytes,
      readOnly: this.readOnlyFlag,
      version: sb.version,
      compactRevision: sb.compactRevision,
      modifiedAtSecond: this.modifiedAtSec,
      maxFileKey: joinKey(this.map.maxKeyHi, this.map.maxKeyLo),
    };
  }

  /** Largest key ever written, as two u32 halves (no BigInt for the store's max over volumes). */
  maxKeyHalves(): [number, number] {
    return [this.map.maxKeyHi, this.map.maxKeyLo];
  }

  // ---- write, read, delete -----------------------------------------------------------------

  async write(n: NeedleInput, opts?: WriteOptions): Promise<WriteResult> {
    this.checkWritable();
    const sb = this.superBlock;
    const enc = encodeNeedle(n, sb.version, this.nextAppendAtNs(), this.nowSec());
    const hi = keyHi(n.key);
    const lo = keyLo(n.key);
    // Check what crosses the disk boundary (the read path checks it again, with the CRC).
    assert(headerKeyHi(enc.record) === hi && headerKeyLo(enc.record) === lo, "encoded key");
    assert(
      headerSize(enc.record) === enc.size && enc.record.length === recordLength(enc.size, sb.version),
      "encoded size",
    );
    const slot = this.map.find(hi, lo);
    if (slot >= 0 && this.isUnchanged(slot, hi, lo, n.cookie, enc)) {
      if (opts?.fsync === true) await this.commit.sync();
      return { size: enc.dataSize, crc: enc.crc, unchanged: true };
    }
    const offset = this.appendRecord(enc.record);
    this.appendIdxEntry(hi, lo, offset, enc.size, enc.record.length);
    this.map.put(hi, lo, offset / needleAlignBytes, enc.size);
    this.modifiedAtSec = this.nowSec();
    if (opts?.fsync === true) await this.commit.sync();
    return { size: enc.dataSize, crc: enc.crc, unchanged: false };
  }

  /**
   * Checks the cookie of the stored needle (COOKIE_MISMATCH) and says whether the new one is
   * identical (SeaweedFS skips the append then; not for TTL volumes, where a rewrite renews the TTL).
   */
  private isUnchanged(slot: number, hi: number, lo: number, cookie: number, enc: EncodedNeedle): boolean {
    const size = this.map.sizeAt(slot);
    const offset = this.map.offsetAt(slot) * needleAlignBytes;
    const sameSize = size === enc.size && !this.isTtlVolume();
    const stored = this.pread(offset, sameSize ? recordLength(size, this.superBlock.version) : needleHeaderBytes);
    this.checkHeader(stored, hi, lo, size, offset);
    if (headerCookie(stored) !== cookie) {
      throw new WeedError(ErrorCode.COOKIE_MISMATCH, `mismatching cookie ${hex8(cookie)}`);
    }
    if (!sameSize) return false;
    let old: DecodedNeedle;
    try {
      old = decodeNeedle(stored, this.superBlock.version);
    } catch {
      return false; // a corrupt needle is simply replaced
    }
    return sameContent(stored, old.lastModifiedAt, enc);
  }

  private isTtlVolume(): boolean {
    const ttl = this.superBlock.ttl;
    return ttl.count > 0 && ttl.unit > 0;
  }

  /** Reads and checks a needle: NOT_FOUND, COOKIE_MISMATCH, CORRUPT (logged; the bytes are never returned). */
  read(key: bigint, cookie: number): NeedleRecord {
    this.checkReadable();
    const version = this.superBlock.version;
    const { record, offset } = this.locate(key, cookie, (size) => recordLength(size, version));
    try {
      return decodeNeedle(record, version);
    } catch (err) {
      throw this.corrupt(err instanceof Error ? err.message : String(err), offset, err);
    }
  }

  /**
   * Finds the live needle `key` and reads the first `bytes(size)` bytes of its record, checked to
   * be that needle's (key and size) and to carry `cookie`: NOT_FOUND, CORRUPT, COOKIE_MISMATCH.
   */
  private locate(
    key: bigint,
    cookie: number,
    bytes: (size: number) => number,
  ): { hi: number; lo: number; size: number; offset: number; record: Buffer } {
    checkKey(key);
    const hi = keyHi(key);
    const lo = keyLo(key);
    const slot = this.map.find(hi, lo);
    if (slot < 0) throw new WeedError(ErrorCode.NOT_FOUND, `needle ${keyHex(hi, lo)} not found in volume ${this.id}`);
    const size = this.map.sizeAt(slot);
    const offset = this.map.offsetAt(slot) * needleAlignBytes;
    const record = this.pread(offset, bytes(size));
    this.checkHeader(record, hi, lo, size, offset);
    if (headerCookie(record) !== cookie) {
      throw new WeedError(ErrorCode.COOKIE_MISMATCH, `needle ${keyHex(hi, lo)}: cookie ${hex8(cookie)} does not match`);
    }
    return { hi, lo, size, offset, record };
  }

  /** Appends a tombstone; resolves with the deleted needle's data size. */
  async delete(key: bigint, cookie: number, opts?: WriteOptions): Promise<number> {
    this.checkWritable();
    // The header and the DataSize field: enough to check the needle and answer its size.
    const { hi, lo, size, record: head } = this.locate(key, cookie, () => needleHeaderBytes + 4);
    const dataSize = Math.min(head.readUInt32BE(needleHeaderBytes), size);
    const tomb = encodeTombstone(hi, lo, cookie, this.superBlock.version, this.nextAppendAtNs());
    const at = this.appendRecord(tomb);
    this.appendIdxEntry(hi, lo, at, TOMBSTONE_FILE_SIZE, tomb.length);
    this.map.remove(hi, lo);
    this.modifiedAtSec = this.nowSec();
    if (opts?.fsync === true) await this.commit.sync();
    return dataSize;
  }

  private checkReadable(): void {
    if (this.state !== "open") throw new WeedError(ErrorCode.CLOSED, `volume ${this.id} is closed`);
  }

  private checkWritable(): void {
    this.checkReadable();
    if (this.readOnlyFlag) throw new WeedError(ErrorCode.VOLUME_READ_ONLY, `volume ${this.id} is read only`);
  }

  private nowSec(): number {
    return Math.floor(this.wallClockMs() / 1000);
  }

  private nextAppendAtNs(): bigint {
    this.epochMinusHrtimeNs ??= BigInt(Math.floor(this.wallClockMs())) * 1_000_000n - process.hrtime.bigint();
    let ns = this.epochMinusHrtimeNs + process.hrtime.bigint();
    if (ns <= this.lastAppendAtNs) ns = this.lastAppendAtNs + 1n;
    this.lastAppendAtNs = ns;
    return ns;
  }

  private pread(offset: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let got: number;
    try {
      got = readFully(this.datFd, buf, length, offset);
    } catch (err) {
      throw ioError(`reading volume ${this.id} at ${offset}`, err);
    }
    if (got < length) throw this.corrupt(`record at ${offset} is cut short (${got} of ${length} bytes)`, offset);
    return buf;
  }

  /** The record must be the one the map points at: same key, same size. */
  private checkHeader(record: Buffer, hi: number, lo: number, size: number, offset: number): void {
    if (headerKeyHi(record) !== hi || headerKeyLo(record) !== lo) {
      const found = keyHex(headerKeyHi(record), headerKeyLo(record));
      throw this.corrupt(`needle ${keyHex(hi, lo)}: record at ${offset} holds key ${found}`, offset);
    }
    if (headerSize(record) !== size) {
      throw this.corrupt(
        `needle ${keyHex(hi, lo)}: record at ${offset} has size ${headerSize(record)}, index says ${size}`,
        offset,
      );
    }
  }

  private corrupt(message: string, offset: number, cause?: unknown): WeedError {
    const err = new WeedError(ErrorCode.CORRUPT, `volume ${this.id}: ${message}`, cause === undefined ? {} : { cause });
    this.log.error({ offset, path: this.datPath }, err.message);
    return err;
  }

  /** pwrite at the tracked end; on failure the file is cut back so the next record starts clean. */
  private appendRecord(record: Buffer): number {
    const at = this.datEnd;
    if (at + record.length > volumeFileBytesMax) {
      throw new WeedError(
        ErrorCode.VOLUME_FULL,
        `Volume Size ${at} Exceeded ${volumeFileBytesMax}: volume ${this.id} is full`,
      );
    }
    try {
      writeFully(this.datFd, record, at);
    } catch (err) {
      this.cutBack(this.datFd, at, "dat");
      throw ioError(`writing volume ${this.id}`, err);
    }
    this.datEnd = at + record.length;
    return at;
  }

  private appendIdxEntry(hi: number, lo: number, datOffset: number, size: number, recordBytes: number): void {
    writeIdxEntry(this.idxEntry, 0, hi, lo, datOffset / needleAlignBytes, size);
    const at = this.idxEnd;
    try {
      writeFully(this.idxFd, this.idxEntry, at);
    } catch (err) {
      this.cutBack(this.idxFd, at, "idx");
      this.cutBack(this.datFd, datOffset, "dat");
      this.datEnd = datOffset;
      throw ioError(`writing index of volume ${this.id}`, err);
    }
    assert(this.datEnd === datOffset + recordBytes, "index entry follows its record");
    this.idxEnd = at + idxEntryBytes;
  }

  private cutBack(fd: number, length: number, what: string): void {
    try {
      fs.ftruncateSync(fd, length);
    } catch (err) {
      // The file now ends in bytes we did not mean to keep: stop writing until an operator looks.
      this.readOnlyFlag = true;
      this.log.error({ err, length, file: what }, "cannot cut back a failed append, volume is read-only");
    }
  }

  private async syncFiles(): Promise<void> {
    await Promise.all([fdatasync(this.datFd), fdatasync(this.idxFd)]);
  }
}

/** fsync a directory so a created or removed file name survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fd = fs.openSync(dir, "r");
  try {
    await promisify(fs.fsync)(fd);
  } finally {
    fs.closeSync(fd);
  }
}
