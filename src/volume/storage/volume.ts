// One volume: <base>.dat (superblock + needle records) and <base>.idx (16-byte entries), plus the
// in-memory needle map. Writes are synchronous pwrites of the records at the tracked end offset,
// then the map: the small records of a turn are gathered and written by one pwritev at its end
// (append-batch.ts), a large one on the thread pool; the index entries of a turn's writes are
// written together at its end (flushIdx),
// and a load indexes records the .idx missed, so a write that returned survives kill -9; fsync is
// group-committed, in rounds shared with the store's other volumes (group-commit.ts).
// Load replays the .idx and repairs the tail (FORMAT.md, "Recovery").
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ErrorCode, WeedError, assert } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { crc32c } from "@node-rs/crc32";
import { GroupCommit, type SyncRounds } from "./group-commit.js";
import { AppendBatch, type AppendBatchStats, type AppendDone } from "./append-batch.js";
import { idxEntryBytes, TOMBSTONE_FILE_SIZE, readFully, writeFully, writeIdxEntry } from "./idx.js";
import { idxPendingBytesInitial, idxPendingBytesMax, needleAlignBytes, volumeFileBytesMax } from "./limits.js";
import { isNoSpaceError } from "./disk-space.js";
import {
  needleHeaderBytes,
  decodeNeedle,
  encodeTombstone,
  headerCookie,
  headerKeyHi,
  headerKeyLo,
  headerSize,
  recordAppendAtNs,
  recordLength,
  type DecodedNeedle,
} from "./needle.js";
import {
  crc32cSliced,
  crcSliceBytes,
  encodeRecord,
  samePartsContent,
  writevFully,
  writevFullySync,
  type NeedleParts,
} from "./needle-parts.js";
import { NeedleMap } from "./needle-map.js";
import type { NeedleCache, VolumeNeedleCache } from "./needle-cache.js";
import { checkKey, joinKey, keyHex, keyHi, keyLo } from "./needle-key.js";
import type {
  AllocateOptions,
  CheckState,
  NeedleInput,
  NeedleListEntry,
  NeedleRecord,
  VolumeInfo,
  WriteOptions,
  WriteResult,
} from "./store-api.js";
import { blobLength, checkNeedleBlob } from "./needle-blob.js";
import { listNeedles } from "./needle-list.js";
import { NeedsCheckFlag } from "./needs-check.js";
import { CURRENT_VERSION, encodeSuperBlock, type SuperBlock } from "./superblock.js";
import { loadVolumeFiles, type LoadReport } from "./volume-load.js";
import { compactFiles, discardCompacted, snapshotLive, type CompactedFiles } from "./compact.js";
import { crashPoint, idxFlushCrashPoint } from "./crash-points.js";
import { needleExpiresAtMs } from "./ttl-expiry.js";
import { commitCatchUpRoundsMax, commitHeldEntriesMax } from "./limits.js";
import {
  removeCommitMarker,
  removeUncommitted,
  renameCompacted,
  replayEntries,
  settleCompaction,
  syncDir,
  vacuumPaths,
  writeCommitMarker,
  type VacuumPaths,
} from "./vacuum-commit.js";
import type { CommitReport, CompactOptions, CompactReport } from "./store-api.js";

export type { LoadReport } from "./volume-load.js";

const fdatasync = promisify(fs.fdatasync);

/**
 * A record up to this size is written with a synchronous pwritev (a page-cache copy of ~0.1 ms,
 * cheaper than a trip to the thread pool); a larger one on the thread pool, so that a 256 MB
 * upload (~0.7 s to write) never stalls the event loop. Appends stay in file order either way.
 */
export const appendSyncBytesMax = 1024 * 1024;

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
  /**
   * Called when an append failed for want of space (ENOSPC, EDQUOT) and was cut back; the volume
   * is read-only "for space" from then on, until setNoSpace(false). `recordBytes` did not fit.
   */
  onNoSpace?: (recordBytes: number) => void;
  /** The store's shared fsync rounds. Default: rounds of this volume's own. */
  syncRounds?: SyncRounds;
  /** fdatasync of one descriptor; injected by tests (count or fail syncs). Default: fs.fdatasync. */
  fdatasync?: (fd: number) => Promise<void>;
  /** The store's cache of small needles read (needle-cache.ts). Default: none. */
  needleCache?: NeedleCache;
  /** The store's sum of append batches over its volumes (for /metrics). Default: none. */
  storeBatchStats?: AppendBatchStats;
}

type State = "new" | "open" | "closing" | "closed";

/** A vacuum of this volume under way, or compacted and waiting for its commit. */
interface Vacuum {
  phase: "compacting" | "compacted" | "committing";
  abort: AbortController;
  /** The compaction or commit running now (settles, never rejects). */
  running: Promise<void>;
  /** Once compacted. */
  files: CompactedFiles | undefined;
  /** Old .idx entries the compacted files reflect: [0, replayedTo). */
  replayedTo: number;
}

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
  /** The needs-check flag and its marker file, <base>.chk. */
  private readonly checkFlag: NeedsCheckFlag;
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
  /** Read-only for want of disk space (-minFreeSpace, or an ENOSPC): lifted when space returns. */
  private noSpaceFlag = false;
  /** The append on the thread pool, if any: every other append and close() waits for it. */
  private appending: Promise<unknown> | undefined;
  private readonly onNoSpace: ((recordBytes: number) => void) | undefined;
  private readonly idxEntry = Buffer.alloc(idxEntryBytes);
  /**
   * .idx entries of appends made this turn of the event loop, written with one pwrite at its end
   * (flushIdx): one syscall for a batch of writes instead of one each. The records themselves are
   * in .dat before a write is answered, and a load indexes the records after the last indexed one
   * (FORMAT.md "Recovery"), so a kill -9 before the flush loses no acknowledged write.
   */
  private idxPending = Buffer.alloc(idxPendingBytesInitial);
  private idxPendingBytes = 0;
  private idxFlush: NodeJS.Immediate | undefined;
  /** Small appends of this turn, not written yet (writeSoon); flushAppends writes them. */
  private batch: AppendBatch | undefined;
  private batchFlush: NodeJS.Immediate | undefined;
  /** Batches written and the records they held (tests compare the two). */
  readonly batchStats: AppendBatchStats = { batches: 0, records: 0 };
  private readonly storeBatchStats: AppendBatchStats | undefined;
  private readonly commit: GroupCommit;
  private readonly fdatasync: (fd: number) => Promise<void>;
  private readonly vacuumFiles: VacuumPaths;
  private vacuum: Vacuum | undefined;
  /** Small needles read lately, checked (needle-cache.ts); undefined when the store has no cache. */
  private readonly cache: VolumeNeedleCache | undefined;
  /** needle listings running (they read the descriptors they started with). */
  private readonly listings = new Set<Promise<void>>();
  /** The old files' descriptors after a commit, closed once no sync or listing uses them. */
  private retiring: Promise<void> = Promise.resolve();

  constructor(opts: VolumeOptions) {
    assert(Number.isInteger(opts.id) && opts.id >= 0 && opts.id <= 0xffffffff, `volume id ${opts.id} is a uint32`);
    this.id = opts.id;
    this.collection = opts.collection;
    const base = path.join(opts.dir, volumeBaseName(opts.collection, opts.id));
    this.datPath = `${base}.dat`;
    this.idxPath = `${base}.idx`;
    this.log = opts.logger.child({ volumeId: opts.id });
    this.wallClockMs = opts.wallClockMs ?? Date.now;
    this.onNoSpace = opts.onNoSpace;
    this.fdatasync = opts.fdatasync ?? fdatasync;
    this.cache = opts.needleCache?.enabled === true ? opts.needleCache.forVolume() : undefined;
    this.storeBatchStats = opts.storeBatchStats;
    this.checkFlag = new NeedsCheckFlag(`${base}.chk`, this.log, this.wallClockMs);
    this.vacuumFiles = vacuumPaths(this.datPath, this.idxPath);
    this.commit = new GroupCommit({
      what: `volume ${opts.id}`,
      ...(opts.syncRounds === undefined ? {} : { rounds: opts.syncRounds }),
      sync: () => this.syncFiles(),
      onFailure: (err) => {
        this.readOnlyFlag = true;
        this.log.error({ err }, "fsync failed, volume is read-only");
      },
    });
  }

  /** Sync rounds that synced this volume (for tests: fewer than the writers that asked). */
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

  /** Refuses writes: marked read-only (operator, failed fsync or cut-back) or short of disk space. */
  get readOnly(): boolean {
    return this.readOnlyFlag || this.noSpaceFlag;
  }

  /** Read-only for want of space only: the store lifts it when space returns. */
  get noSpace(): boolean {
    return this.noSpaceFlag;
  }

  /**
   * Read-only for want of space, or not. Apart from setReadOnly: space returning never makes a
   * volume writable that was read-only for another reason. Returns whether `readOnly` changed.
   */
  setNoSpace(noSpace: boolean): boolean {
    if (noSpace) this.flushAppends(); // admitted while there was room; a full disk fails them
    const before = this.readOnly;
    this.noSpaceFlag = noSpace;
    return this.readOnly !== before;
  }

  /**
   * Marks the volume read-only or writable again; a volume whose fsync failed stays read-only, and
   * one short of disk space stays so until space returns.
   */
  setReadOnly(readOnly: boolean): void {
    if (!readOnly && this.commit.failed !== undefined) {
      throw new WeedError(ErrorCode.VOLUME_READ_ONLY, `volume ${this.id} had a failed fsync and stays read only`);
    }
    if (readOnly) this.flushAppends(); // admitted while writable, as a write already running
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
      this.checkFlag.discardStale();
      this.discardStaleVacuumFiles();
    } catch (err) {
      fs.closeSync(this.datFd);
      fs.unlinkSync(this.datPath);
      throw ioError(`removing ${this.checkFlag.path}`, err);
    }
    try {
      this.idxFd = this.openExclusive(this.idxPath);
    } catch (err) {
      fs.closeSync(this.datFd);
      fs.unlinkSync(this.datPath);
      throw err;
    }
    try {
      writeFully(this.datFd, sbBytes, 0);
      await this.syncFiles();
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
      settleCompaction(this.vacuumFiles, this.log);
    } catch (err) {
      if (err instanceof WeedError) throw err;
      throw ioError(`finishing or discarding a vacuum of volume ${this.id}`, err);
    }
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
        idxPath: this.idxPath,
        datFd: this.datFd,
        idxFd: this.idxFd,
        log: this.log,
      });
      report = loaded.report;
      if (report.datBytesTruncated > 0 || report.idxBytesTruncated > 0 || report.recordsRecovered > 0) {
        await this.syncFiles();
      }
      this.sb = loaded.sb;
      this.map = loaded.map;
      this.datEnd = loaded.datEnd;
      this.idxEnd = loaded.idxEnd;
      this.lastAppendAtNs = loaded.lastAppendAtNs;
      this.checkFlag.load();
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
    this.flushAppends(); // the batch's writers were admitted while open
    this.state = "closing";
    await this.stopVacuum();
    await this.appendsDone();
    await this.commit.drain();
    try {
      this.flushIdx();
    } catch (err) {
      // The records are in .dat: the next load indexes them (FORMAT.md "Recovery").
      this.log.error({ err }, "writing the last .idx entries failed while closing");
    }
    if (this.commit.failed === undefined) {
      try {
        await this.syncFiles();
      } catch (err) {
        this.log.error({ err }, "final fsync failed while closing");
      }
    }
    await this.checkFlag.settled();
    await this.retiring;
    this.closeFds();
    this.cache?.clear();
    this.state = "closed";
  }

  /** Closes and removes the .dat and .idx. */
  async destroy(): Promise<void> {
    await this.close();
    const v = this.vacuumFiles;
    for (const file of [this.datPath, this.idxPath, this.checkFlag.path, v.cpd, v.cpx, v.cpc]) {
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
      readOnly: this.readOnly,
      version: sb.version,
      compactRevision: sb.compactRevision,
      modifiedAtSecond: this.modifiedAtSec,
      maxFileKey: joinKey(this.map.maxKeyHi, this.map.maxKeyLo),
      needsCheck: this.checkFlag.state.needsCheck,
    };
  }

  // ---- replica checks (volume.check.disk) --------------------------------------------------

  /** Sets the needs-check flag (a new generation); true when it was clear before. */
  markNeedsCheck(): boolean {
    return this.checkFlag.mark();
  }

  get checkState(): CheckState {
    return this.checkFlag.state;
  }

  /** Clears the flag if `generation` is still current; true when it did. */
  checkDone(generation: number): boolean {
    return this.checkFlag.clear(generation);
  }

  /** Resolves once the needs-check marker on disk matches the flag (tests). */
  checkFlagSettled(): Promise<void> {
    return this.checkFlag.settled();
  }

  /** The record at `offset` with body `size`, as stored, checked (header: key and size; CRC). */
  readNeedleBlob(offset: number, size: number): Buffer {
    this.checkReadable();
    const version = this.superBlock.version;
    const blob = this.pread(offset, blobLength(offset, size, version, this.datEnd));
    if (headerSize(blob) !== size) {
      throw this.corrupt(`record at ${offset} has size ${headerSize(blob)}, asked for ${size}`, offset);
    }
    try {
      decodeNeedle(blob, version);
    } catch (err) {
      throw this.corrupt(err instanceof Error ? err.message : String(err), offset, err);
    }
    return blob;
  }

  /**
   * Appends another replica's record as-is (AppendAtNs included: it says when the needle was
   * written, which volume.check.disk compares with tombstones), then its .idx entry and the map.
   * Later appends here stay after it in time (lastAppendAtNs is raised to it).
   */
  async writeNeedleBlob(key: bigint, size: number, blob: Buffer, opts?: WriteOptions): Promise<void> {
    this.checkWritable();
    checkKey(key);
    const version = this.superBlock.version;
    checkNeedleBlob(blob, key, size, version);
    while (this.appending !== undefined) await this.appending.catch(() => undefined); // as in write()
    this.checkWritable();
    // Its AppendAtNs may be older than the records before it, and a load indexes only later ones
    // past the last .idx entry: its entry is written at once, behind the entries waiting.
    this.flushIdx();
    const hi = keyHi(key);
    const lo = keyLo(key);
    const rec = { buffers: [blob], length: blob.length };
    const index = (at: number): void => {
      this.appendIdxEntryNow(hi, lo, at, size, blob.length);
      this.map.put(hi, lo, at / needleAlignBytes, size);
      this.cache?.drop(hi, lo);
      this.modifiedAtSec = this.nowSec();
      const appendAtNs = recordAppendAtNs(blob, size, version);
      if (appendAtNs > this.lastAppendAtNs) this.lastAppendAtNs = appendAtNs;
    };
    if (blob.length <= appendSyncBytesMax) index(this.appendRecord(rec));
    else await this.holdingAppends(async () => index(await this.appendLarge(rec)));
    if (opts?.fsync === true) await this.commit.sync();
  }

  /** Every key of the .idx as of now, tombstones included (needle-list.ts). */
  listNeedles(
    batchEntries: number,
    onBatch: (entries: NeedleListEntry[]) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    this.checkReadable();
    this.flushIdx();
    const src = {
      idxFd: this.idxFd,
      datFd: this.datFd,
      idxEntries: this.idxEnd / idxEntryBytes,
      version: this.superBlock.version,
      isOpen: () => this.state === "open",
    };
    const running = listNeedles(src, batchEntries, onBatch, signal);
    const settled = running.catch(() => undefined);
    this.listings.add(settled);
    void settled.then(() => this.listings.delete(settled));
    return running;
  }

  /** Largest key ever written, as two u32 halves (no BigInt for the store's max over volumes). */
  maxKeyHalves(): [number, number] {
    return [this.map.maxKeyHi, this.map.maxKeyLo];
  }

  // ---- write, read, delete -----------------------------------------------------------------

  /**
   * Appends a needle. Its CRC is computed in slices first; then, in file order behind any append
   * on the thread pool, the cookie and "unchanged" checks, the record (head | data | tail, the data
   * not copied), its .idx entry and the map. A record up to appendSyncBytesMax joins this turn's
   * batch (writeSoon); a larger one is written on its own, on the thread pool. A failed append is
   * cut back: nothing of it is visible.
   */
  async write(n: NeedleInput, opts?: WriteOptions): Promise<WriteResult> {
    this.checkWritable();
    const crc = n.data.length > crcSliceBytes ? await crc32cSliced(n.data) : crc32c(n.data);
    // The wait loops here, not in an awaited helper: an extra await between the last check and the
    // append would let two waiters both see the way clear and take the same offset.
    while (this.appending !== undefined) await this.appending.catch(() => undefined);
    this.checkWritable(); // closed or made read-only meanwhile
    const hi = keyHi(n.key);
    const lo = keyLo(n.key);
    const enc = this.encodeChecked(n, hi, lo, crc);
    let result: WriteResult;
    if (enc.length <= appendSyncBytesMax) {
      result = await new Promise<WriteResult>((resolve, reject) => {
        this.enqueue(n, hi, lo, enc, (err, r) => (err === undefined ? resolve(r!) : reject(err)));
      });
    } else {
      this.flushAppends(); // its checks read the map, and its record goes after the batch's
      this.checkWritable();
      const unchanged = this.isUnchangedInput(n, hi, lo, enc);
      if (!unchanged) await this.holdingAppends(async () => this.indexNeedle(hi, lo, await this.appendLarge(enc), enc));
      result = { size: enc.dataSize, crc: enc.crc, unchanged };
    }
    if (opts?.fsync === true) await this.commit.sync();
    return result;
  }

  /**
   * write() without fsync and without a promise for a small record, gathered with the other small
   * appends of this turn and written by one pwritev at its end (append-batch.ts). Returns false,
   * having done nothing, when it cannot (an append running on the thread pool, a record over
   * appendSyncBytesMax): then write() it. Else `done` is told once, never before this returns:
   * after the batch's write, with the needle in the .dat, its .idx entry queued and the map
   * updated exactly as write() leaves them, or with what write() would reject with. Throws what
   * write() rejects with before it queues.
   */
  writeSoon(n: NeedleInput, done: AppendDone): boolean {
    if (this.appending !== undefined || n.data.length > crcSliceBytes) return false;
    this.checkWritable();
    const hi = keyHi(n.key);
    const lo = keyLo(n.key);
    const enc = this.encodeChecked(n, hi, lo, crc32c(n.data));
    if (enc.length > appendSyncBytesMax) return false;
    this.enqueue(n, hi, lo, enc, done);
    return true;
  }

  /** Queues a small record in this turn's batch after its checks (which may throw); `done` is told at the write. */
  private enqueue(n: NeedleInput, hi: number, lo: number, enc: NeedleParts, done: AppendDone): void {
    let b = this.batch;
    // The cookie and "unchanged" checks read the map: a queued record of this key must be in it first.
    if (b !== undefined && (b.holds(hi, lo) || !b.fits(enc.length))) {
      this.flushAppends();
      this.checkWritable(); // that write may have found the disk full
      b = undefined;
    }
    const unchanged = this.isUnchangedInput(n, hi, lo, enc);
    if (!unchanged) this.appendOffset(enc.length, b?.end ?? this.datEnd); // VOLUME_FULL before anything is queued
    if (b === undefined) {
      b = new AppendBatch(this.datEnd);
      this.batch = b;
      this.batchFlush = setImmediate(this.flushAppendsLater);
    }
    if (unchanged) b.addUnchanged(hi, lo, enc, done);
    else b.add(hi, lo, enc, done);
  }

  private readonly flushAppendsLater = (): void => {
    this.batchFlush = undefined;
    this.flushAppends();
  };

  /**
   * Writes the batch of small appends (one pwritev), indexes its records and tells their writers.
   * Every other append, and whatever needs the .dat whole (the .idx flush, close, vacuum), calls
   * it first. A failed write is cut back and fails every record of the batch: none is visible.
   */
  private flushAppends(): void {
    const b = this.batch;
    if (b === undefined) return;
    this.batch = undefined;
    if (this.batchFlush !== undefined) {
      clearImmediate(this.batchFlush);
      this.batchFlush = undefined;
    }
    let err: Error | undefined;
    try {
      this.writeBatch(b);
      for (const it of b.items) if (it.offset >= 0) this.indexNeedle(it.hi, it.lo, it.offset, it.enc);
    } catch (e) {
      err = e as Error;
    }
    for (const it of b.items) {
      const result =
        err === undefined ? { size: it.enc.dataSize, crc: it.enc.crc, unchanged: it.offset < 0 } : undefined;
      try {
        it.done(err, result);
      } catch (cbErr) {
        this.log.error({ err: cbErr }, "a batched append's writer threw when told");
      }
    }
  }

  /** The batch's records at the end of the .dat, in one pwritev (appendRecord: cut back on failure). */
  private writeBatch(b: AppendBatch): void {
    if (b.bytes === 0) return; // only unchanged needles
    assert(this.datEnd === b.start, "a batch starts at the end of the .dat");
    this.appendRecord({ buffers: b.buffers, length: b.bytes });
    for (const stats of [this.batchStats, this.storeBatchStats]) {
      if (stats === undefined) continue;
      stats.batches++;
      stats.records += b.items.length;
    }
  }

  /** The record of `n`, checked before it crosses the disk boundary (reads check it again, with the CRC). */
  private encodeChecked(n: NeedleInput, hi: number, lo: number, crc: number): NeedleParts {
    const sb = this.superBlock;
    const enc = encodeRecord(n, crc, sb.version, this.nextAppendAtNs(), this.nowSec());
    const head = enc.buffers[0];
    assert(headerKeyHi(head) === hi && headerKeyLo(head) === lo, "encoded key");
    assert(headerSize(head) === enc.size && enc.length === recordLength(enc.size, sb.version), "encoded size");
    return enc;
  }

  /** A needle stored under `n`'s key: its cookie checked (COOKIE_MISMATCH), and whether `enc` is the same. */
  private isUnchangedInput(n: NeedleInput, hi: number, lo: number, enc: NeedleParts): boolean {
    const slot = this.map.find(hi, lo);
    return slot >= 0 && this.isUnchanged(slot, hi, lo, n.cookie, enc);
  }

  /** The .idx entry and the map entry of a record just appended at `offset`: now it can be read. */
  private indexNeedle(hi: number, lo: number, offset: number, enc: NeedleParts): void {
    this.appendIdxEntry(hi, lo, offset, enc.size, enc.length);
    this.map.put(hi, lo, offset / needleAlignBytes, enc.size);
    this.cache?.drop(hi, lo);
    this.modifiedAtSec = this.nowSec();
  }

  /**
   * Runs an append that awaits the thread pool, every other append (and close) held back until it
   * ended, its .idx entry included: records and entries stay in file order.
   */
  private async holdingAppends(append: () => Promise<void>): Promise<void> {
    const running = append();
    this.appending = running;
    try {
      await running;
    } finally {
      this.appending = undefined;
    }
  }

  /** Resolves once no append runs on the thread pool (for close; appends wait inline, see write()). */
  private async appendsDone(): Promise<void> {
    while (this.appending !== undefined) await this.appending.catch(() => undefined);
  }

  /**
   * Checks the cookie of the stored needle (COOKIE_MISMATCH) and says whether the new one is
   * identical (SeaweedFS skips the append then; not for TTL volumes, where a rewrite renews the TTL).
   */
  private isUnchanged(slot: number, hi: number, lo: number, cookie: number, enc: NeedleParts): boolean {
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
    return samePartsContent(stored, old.lastModifiedAt, enc);
  }

  private isTtlVolume(): boolean {
    const ttl = this.superBlock.ttl;
    return ttl.count > 0 && ttl.unit > 0;
  }

  /** Reads and checks a needle: NOT_FOUND, COOKIE_MISMATCH, CORRUPT (logged; the bytes are never returned). */
  read(key: bigint, cookie: number): NeedleRecord {
    checkKey(key);
    return this.readSplit(keyHi(key), keyLo(key), cookie);
  }

  /**
   * read() with the key as its two u32 halves (each in [0, 2^32), the caller's to check): the GET
   * path parses them from the fid's hex and never builds a BigInt.
   */
  readSplit(hi: number, lo: number, cookie: number): NeedleRecord {
    this.checkReadable();
    const n = this.cachedNeedle(hi, lo, cookie) ?? this.readNeedle(hi, lo, cookie);
    const expiresAtMs = needleExpiresAtMs(n, this.superBlock.ttl);
    if (expiresAtMs !== undefined && this.wallClockMs() >= expiresAtMs) {
      throw new WeedError(ErrorCode.NOT_FOUND, `needle ${keyHex(hi, lo)} has expired (TTL)`);
    }
    return n;
  }

  /** The needle as read and checked before, while the map still points at that record (needle-cache.ts). */
  private cachedNeedle(hi: number, lo: number, cookie: number): DecodedNeedle | undefined {
    const cache = this.cache;
    if (cache === undefined) return undefined;
    const slot = this.map.find(hi, lo);
    if (slot < 0) return undefined; // locate answers NOT_FOUND
    const n = cache.get(hi, lo, this.map.offsetAt(slot) * needleAlignBytes, this.map.sizeAt(slot));
    if (n !== undefined && n.cookie !== cookie) throw cookieMismatch(hi, lo, cookie);
    return n;
  }

  /** Reads, decodes and checks (CRC included) the live needle `key` from the .dat; cached when small. */
  private readNeedle(hi: number, lo: number, cookie: number): DecodedNeedle {
    const version = this.superBlock.version;
    const own = this.cache !== undefined; // a cached record must not pin a slab of Node's shared pool
    const { size, offset, record } = this.locate(hi, lo, cookie, (sz) => recordLength(sz, version), own);
    let n: DecodedNeedle;
    try {
      n = decodeNeedle(record, version);
    } catch (err) {
      throw this.corrupt(err instanceof Error ? err.message : String(err), offset, err);
    }
    this.cache?.put(hi, lo, offset, size, n, record.length);
    return n;
  }

  /**
   * Finds the live needle `key` and reads the first `bytes(size)` bytes of its record, checked to
   * be that needle's (key and size) and to carry `cookie`: NOT_FOUND, CORRUPT, COOKIE_MISMATCH.
   */
  private locate(
    hi: number,
    lo: number,
    cookie: number,
    bytes: (size: number) => number,
    own = false,
  ): { size: number; offset: number; record: Buffer } {
    const slot = this.map.find(hi, lo);
    if (slot < 0) throw new WeedError(ErrorCode.NOT_FOUND, `needle ${keyHex(hi, lo)} not found in volume ${this.id}`);
    const size = this.map.sizeAt(slot);
    const offset = this.map.offsetAt(slot) * needleAlignBytes;
    const record = this.pread(offset, bytes(size), own);
    this.checkHeader(record, hi, lo, size, offset);
    if (headerCookie(record) !== cookie) throw cookieMismatch(hi, lo, cookie);
    return { size, offset, record };
  }

  /** Appends a tombstone; resolves with the deleted needle's data size. */
  async delete(key: bigint, cookie: number, opts?: WriteOptions): Promise<number> {
    this.checkWritable();
    if (this.appending !== undefined) {
      while (this.appending !== undefined) await this.appending.catch(() => undefined); // as in write()
      this.checkWritable();
    }
    this.flushAppends(); // the needle may wait in the batch
    this.checkWritable();
    // The header and the DataSize field: enough to check the needle and answer its size.
    checkKey(key);
    const hi = keyHi(key);
    const lo = keyLo(key);
    const { size, record: head } = this.locate(hi, lo, cookie, () => needleHeaderBytes + 4);
    const dataSize = Math.min(head.readUInt32BE(needleHeaderBytes), size);
    const tomb = encodeTombstone(hi, lo, cookie, this.superBlock.version, this.nextAppendAtNs());
    const at = this.appendRecord({ buffers: [tomb], length: tomb.length });
    this.appendIdxEntry(hi, lo, at, TOMBSTONE_FILE_SIZE, tomb.length);
    this.map.remove(hi, lo);
    this.cache?.drop(hi, lo);
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
    if (this.noSpaceFlag) {
      throw new WeedError(
        ErrorCode.VOLUME_FULL,
        `volume ${this.id} is read only: its disk is short of space (-minFreeSpace, or a write found it full)`,
      );
    }
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

  /** `own`: in a buffer of its own, not a slice of Node's shared pool (it will be kept). */
  private pread(offset: number, length: number, own = false): Buffer {
    const buf = own ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length);
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

  /** Where the next record goes (`at`); VOLUME_FULL when it would pass the largest addressable .dat. */
  private appendOffset(recordBytes: number, at = this.datEnd): number {
    if (at + recordBytes > volumeFileBytesMax) {
      throw new WeedError(
        ErrorCode.VOLUME_FULL,
        `Volume Size ${at} Exceeded ${volumeFileBytesMax}: volume ${this.id} is full`,
      );
    }
    return at;
  }

  /** pwritev of a record (or a batch) at the tracked end; on failure the file is cut back so the next starts clean. */
  private appendRecord(rec: { buffers: readonly Buffer[]; length: number }): number {
    assert(this.batch === undefined, "a direct append goes after the batch's records");
    const at = this.appendOffset(rec.length);
    try {
      writevFullySync(this.datFd, rec.buffers, at, rec.length);
    } catch (err) {
      this.cutBack(this.datFd, at, "dat");
      throw this.appendError(err, rec.length, `writing volume ${this.id}`);
    }
    this.datEnd = at + rec.length;
    return at;
  }

  /** appendRecord on the thread pool; only ever run inside holdingAppends. */
  private async appendLarge(rec: { buffers: readonly Buffer[]; length: number }): Promise<number> {
    assert(this.batch === undefined, "a direct append goes after the batch's records");
    const at = this.appendOffset(rec.length);
    try {
      await writevFully(this.datFd, rec.buffers, at, rec.length);
    } catch (err) {
      this.cutBack(this.datFd, at, "dat");
      throw this.appendError(err, rec.length, `writing volume ${this.id}`);
    }
    this.datEnd = at + rec.length;
    return at;
  }

  /**
   * The error an append that was cut back answers with. Out of space (ENOSPC, EDQUOT): the volume
   * turns read-only for space at once, the store is told, and the client gets VOLUME_FULL (507).
   */
  private appendError(err: unknown, recordBytes: number, what: string): WeedError {
    if (!isNoSpaceError(err)) return ioError(what, err);
    this.noSpaceFlag = true;
    this.log.warn({ recordBytes }, "disk full: append cut back, volume is read-only until space returns");
    this.onNoSpace?.(recordBytes);
    return new WeedError(
      ErrorCode.VOLUME_FULL,
      `volume ${this.id}: no space left on the device for a ${recordBytes}-byte record; ` +
        "the volume is read-only until space returns",
      { cause: err },
    );
  }

  /** Queues the .idx entry of the record just appended at `datOffset`; written at the end of this turn. */
  private appendIdxEntry(hi: number, lo: number, datOffset: number, size: number, recordBytes: number): void {
    // The record is the .dat's last, or one of the batch just written (flushAppends, in file order).
    assert(datOffset + recordBytes <= this.datEnd, "index entry follows its record");
    if (this.idxPendingBytes === this.idxPending.length) {
      const grown = Buffer.alloc(this.idxPending.length * 2);
      this.idxPending.copy(grown);
      this.idxPending = grown;
    }
    writeIdxEntry(this.idxPending, this.idxPendingBytes, hi, lo, datOffset / needleAlignBytes, size);
    this.idxPendingBytes += idxEntryBytes;
    if (this.idxPendingBytes >= idxPendingBytesMax) this.flushIdx();
    else this.idxFlush ??= setImmediate(this.flushLater);
  }

  private readonly flushLater = (): void => {
    this.idxFlush = undefined;
    try {
      this.flushIdx();
    } catch (err) {
      this.log.error({ err }, "writing .idx entries failed: the volume takes no more writes");
    }
  };

  /** flushIdx for the store (a copy's file status wants every record of .dat indexed on disk). */
  flushIndex(): void {
    this.checkReadable();
    this.flushIdx();
  }

  /**
   * Writes the queued .idx entries (one pwrite). On failure they stay queued, in order, the file
   * is cut back to its last whole entry and the volume takes no more writes (read-only, or for
   * space on ENOSPC: a later flush writes them once space returns); the records are in .dat.
   */
  private flushIdx(): void {
    this.flushAppends(); // the entries follow their records
    if (this.idxFlush !== undefined) {
      clearImmediate(this.idxFlush);
      this.idxFlush = undefined;
    }
    const n = this.idxPendingBytes;
    if (n === 0) return;
    crashPoint(idxFlushCrashPoint);
    const at = this.idxEnd;
    try {
      writeFully(this.idxFd, this.idxPending.subarray(0, n), at);
    } catch (err) {
      this.cutBack(this.idxFd, at, "idx");
      if (!isNoSpaceError(err)) this.readOnlyFlag = true;
      throw this.appendError(err, n, `writing index of volume ${this.id}`);
    }
    this.idxEnd = at + n;
    this.idxPendingBytes = 0;
  }

  /** Writes the .idx entry of the record just appended at once (none may wait before it); cuts both back on failure. */
  private appendIdxEntryNow(hi: number, lo: number, datOffset: number, size: number, recordBytes: number): void {
    assert(this.idxPendingBytes === 0, "no .idx entry waits before this one");
    writeIdxEntry(this.idxEntry, 0, hi, lo, datOffset / needleAlignBytes, size);
    const at = this.idxEnd;
    try {
      writeFully(this.idxFd, this.idxEntry, at);
    } catch (err) {
      this.cutBack(this.idxFd, at, "idx");
      this.cutBack(this.datFd, datOffset, "dat");
      this.datEnd = datOffset;
      throw this.appendError(err, recordBytes, `writing index of volume ${this.id}`);
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
    this.flushIdx();
    await Promise.all([this.fdatasync(this.datFd), this.fdatasync(this.idxFd)]);
  }

  // ---- vacuum (compact.ts, vacuum-commit.ts) ----------------------------------------------

  /** Deleted bytes / content bytes (SeaweedFS garbageLevel); 0 for a volume never written to. */
  garbageRatio(): number {
    this.checkReadable();
    return this.map.fileBytes === 0 ? 0 : this.map.deletedBytes / this.map.fileBytes;
  }

  /** Old .idx entries not yet in the compacted files (0 when no compaction waits for its commit). */
  get vacuumLag(): number {
    const v = this.vacuum;
    return v?.files === undefined ? 0 : (this.idxEnd + this.idxPendingBytes) / idxEntryBytes - v.replayedTo;
  }

  /**
   * Copies the live needles into <base>.cpd/.cpx (compact.ts) while reads and writes go on.
   * CONFLICT while another compaction or a commit of this volume runs; a compaction that waits
   * for its commit is replaced.
   */
  async compact(opts: CompactOptions = {}): Promise<CompactReport> {
    this.checkReadable();
    this.refuseVacuumUnder("compact");
    if (this.vacuum !== undefined) this.dropCompacted();
    // A marker left by a commit that could not remove it would make a start-up take the new .cpd
    // for a decided commit: gone (and synced) before one is written.
    if (fs.existsSync(this.vacuumFiles.cpc)) await removeCommitMarker(this.vacuumFiles);
    this.checkReadable();
    this.refuseVacuumUnder("compact");
    const abort = new AbortController();
    const signal = opts.signal === undefined ? abort.signal : AbortSignal.any([abort.signal, opts.signal]);
    // One synchronous step: the snapshot is the map exactly as the first `replayedTo` entries built it.
    this.flushIdx();
    const live = snapshotLive(this.map);
    const replayedTo = this.idxEnd / idxEntryBytes;
    const datBytes = this.datEnd;
    const started = performance.now();
    const task = compactFiles({
      id: this.id,
      datFd: this.datFd,
      sb: this.superBlock,
      live,
      cpdPath: this.vacuumFiles.cpd,
      cpxPath: this.vacuumFiles.cpx,
      nowMs: this.wallClockMs(),
      log: this.log,
      signal,
      ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
      fdatasync: this.fdatasync,
    });
    const v: Vacuum = { phase: "compacting", abort, running: task.then(noop, noop), files: undefined, replayedTo };
    this.vacuum = v;
    let files: CompactedFiles;
    try {
      files = await task;
    } catch (err) {
      if (this.vacuum === v) this.vacuum = undefined;
      throw err instanceof WeedError ? err : ioError(`compacting volume ${this.id}`, err);
    }
    v.phase = "compacted";
    v.files = files;
    const ms = Math.round(performance.now() - started);
    const report: CompactReport = {
      processedBytes: datBytes,
      liveNeedles: files.copied,
      expiredNeedles: files.expired,
      damagedNeedles: files.damaged,
      compactedBytes: files.cpdEnd,
      bytesRead: files.bytesRead,
      ms,
    };
    this.log.info({ ...report, revision: files.sb.compactRevision }, "volume compacted, waiting for commit");
    crashPoint("vacuum.compact.done");
    return report;
  }

  /**
   * Swaps the compacted files in (vacuum-commit.ts): the writes made since compaction started are
   * replayed into them, mostly while appends still run; appends are held only for the last few
   * entries, the syncs, the marker and the renames. CONFLICT when nothing waits to be committed.
   */
  async commitCompaction(): Promise<CommitReport> {
    this.checkReadable();
    this.refuseVacuumUnder("commit");
    const v = this.vacuum;
    if (v?.files === undefined) {
      throw new WeedError(ErrorCode.CONFLICT, `volume ${this.id}: no compaction to commit (run compact first)`);
    }
    v.phase = "committing";
    const task = this.runCommit(v, v.files);
    v.running = task.then(noop, noop);
    return task;
  }

  /** Drops a compaction (stopping one that runs) and its files. CONFLICT during a commit. */
  async cleanupCompaction(): Promise<void> {
    this.checkReadable();
    const v = this.vacuum;
    if (v?.phase === "committing") {
      throw new WeedError(ErrorCode.CONFLICT, `volume ${this.id} is committing its compaction; not cleaning up`);
    }
    if (v?.phase === "compacting") {
      v.abort.abort(new WeedError(ErrorCode.CONFLICT, "compaction cleaned up"));
      await v.running;
    }
    this.dropCompacted();
    removeUncommitted(this.vacuumFiles);
  }

  private refuseVacuumUnder(what: string): void {
    const phase = this.vacuum?.phase;
    if (phase === "compacting" || phase === "committing") {
      throw new WeedError(ErrorCode.CONFLICT, `volume ${this.id} is ${phase} already; ${what} refused`);
    }
  }

  private dropCompacted(): void {
    const files = this.vacuum?.files;
    this.vacuum = undefined;
    if (files !== undefined) discardCompacted(files, this.vacuumFiles.cpd, this.vacuumFiles.cpx);
  }

  /** close(): a compaction is stopped (its files removed), a commit is let finish. */
  private async stopVacuum(): Promise<void> {
    const v = this.vacuum;
    if (v === undefined) return;
    if (v.phase === "compacting") v.abort.abort(new WeedError(ErrorCode.CLOSED, `volume ${this.id} is closing`));
    await v.running;
    if (this.vacuum?.phase === "compacted") this.dropCompacted();
  }

  private discardStaleVacuumFiles(): void {
    const v = this.vacuumFiles;
    for (const file of [v.cpd, v.cpx, v.cpc]) fs.rmSync(file, { force: true });
  }

  private async runCommit(v: Vacuum, files: CompactedFiles): Promise<CommitReport> {
    const src = { idxFd: this.idxFd, datFd: this.datFd, version: this.superBlock.version };
    const catchUpFrom = v.replayedTo;
    let decided = false;
    let pauseMs = 0;
    try {
      for (let round = 0; round < commitCatchUpRoundsMax && this.vacuumLag > commitHeldEntriesMax; round++) {
        this.flushIdx();
        const to = this.idxEnd / idxEntryBytes;
        await replayEntries(src, files, v.replayedTo, to);
        v.replayedTo = to;
      }
      crashPoint("vacuum.commit.afterCatchUp");
      await Promise.all([this.fdatasync(files.cpdFd), this.fdatasync(files.cpxFd)]);
      pauseMs = await this.withAppendsHeld(async () => {
        this.flushIdx();
        const to = this.idxEnd / idxEntryBytes;
        await replayEntries(src, files, v.replayedTo, to);
        v.replayedTo = to;
        await Promise.all([this.fdatasync(files.cpdFd), this.fdatasync(files.cpxFd)]);
        crashPoint("vacuum.commit.beforeMarker");
        await writeCommitMarker(this.vacuumFiles, files.sb.compactRevision);
        decided = true;
        try {
          crashPoint("vacuum.commit.afterMarker");
          await renameCompacted(this.vacuumFiles);
        } catch (err) {
          // Before the held appends resume: not one of them may reach the old files now.
          this.readOnlyFlag = true;
          throw err;
        }
        this.switchToCompacted(files);
      });
    } catch (err) {
      this.commitFailed(err, decided);
      throw err instanceof WeedError ? err : ioError(`committing the compaction of volume ${this.id}`, err);
    }
    this.vacuum = undefined;
    crashPoint("vacuum.commit.afterSwap");
    try {
      await removeCommitMarker(this.vacuumFiles);
    } catch (err) {
      // Committed all the same; the next compaction removes it before writing a .cpd (see compact()).
      this.log.warn({ err, file: this.vacuumFiles.cpc }, "vacuum: could not remove the commit marker");
    }
    const report: CommitReport = {
      info: this.info(),
      pauseMs,
      replayedEntries: v.replayedTo - catchUpFrom,
    };
    this.log.info(
      { pauseMs: Math.round(pauseMs * 100) / 100, replayed: report.replayedEntries, size: this.datEnd },
      "vacuum committed: the volume is its compacted files now",
    );
    return report;
  }

  /**
   * A commit failed. Before the marker the old files are still the volume: the compacted ones are
   * dropped. After it the swap is decided on disk but not in memory: nothing more may be appended
   * to the old files, so the volume turns read-only and the next start-up finishes the commit.
   */
  private commitFailed(err: unknown, decided: boolean): void {
    if (!decided) {
      this.dropCompacted();
      this.log.warn({ err }, "vacuum commit failed before its marker; compaction dropped, the volume is as before");
      return;
    }
    this.vacuum = undefined;
    this.readOnlyFlag = true;
    this.log.error({ err }, "vacuum commit failed after its marker: volume read-only until a restart finishes it");
  }

  /** The in-memory half of the swap (appends held): the compacted files are the volume from now on. */
  private switchToCompacted(files: CompactedFiles): void {
    files.map.noteKey(this.map.maxKeyHi, this.map.maxKeyLo); // keys are never handed out twice
    const old = [this.datFd, this.idxFd];
    this.datFd = files.cpdFd;
    this.idxFd = files.cpxFd;
    this.datEnd = files.cpdEnd;
    this.idxEnd = files.cpxEnd;
    this.map = files.map;
    this.cache?.clear(); // offsets in the compacted .dat are new
    this.sb = files.sb;
    // A sync round or a needle listing may still use the old descriptors: close them after those,
    // on the thread pool: the last close of the old .dat frees its blocks (~0.1 s for 1 GiB on ext4).
    const users = [this.commit.drain(), ...this.listings, this.retiring];
    this.retiring = Promise.all(users)
      .then(() => Promise.all(old.map((fd) => closeFd(fd))))
      .then(noop, (err: unknown) => this.log.warn({ err }, "vacuum: closing the old files failed"));
  }

  /** Runs `fn` with every append held back (after the one on the thread pool, if any); resolves with the ms held. */
  private async withAppendsHeld(fn: () => Promise<void>): Promise<number> {
    while (this.appending !== undefined) await this.appending.catch(() => undefined);
    const started = performance.now();
    await this.holdingAppends(fn);
    return performance.now() - started;
  }
}

function noop(): void {}

function cookieMismatch(hi: number, lo: number, cookie: number): WeedError {
  return new WeedError(ErrorCode.COOKIE_MISMATCH, `needle ${keyHex(hi, lo)}: cookie ${hex8(cookie)} does not match`);
}

const closeFd = promisify(fs.close);
