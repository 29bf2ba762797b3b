// The store: every volume in one directory, keyed by volume id. Implements the storage contract
// (store-api.ts) and emits "change" events for the heartbeat client's deltas.
import { checkCollectionName } from "../../common/collection.js";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { ReplicaPlacement } from "../../common/replica-placement.js";
import { silentLogger, type Logger } from "../../common/logger.js";
import { describeDisk, diskUsageOf, isDiskLow, type DiskUsage, type MinFreeSpace } from "./disk-space.js";
import { SyncRounds, type SyncRoundsOptions } from "./group-commit.js";
import { compareKeys, joinKey } from "./needle-key.js";
import { NeedleCache } from "./needle-cache.js";
import type { AppendBatchStats, AppendDone } from "./append-batch.js";
import { needleCacheBytesDefault, needleCacheRecordBytesMax } from "./limits.js";
import type {
  AllocateOptions,
  CheckState,
  CommitReport,
  CompactOptions,
  CompactReport,
  NeedleInput,
  NeedleListEntry,
  NeedleRecord,
  StoreApi,
  StoreEvent,
  VolumeInfo,
  WriteOptions,
  WriteResult,
} from "./store-api.js";
import { Volume, volumeBaseName } from "./volume.js";

export interface StoreOptions {
  /** The -dir folder holding <vid>.dat/.idx and <collection>_<vid>.dat/.idx. */
  dir: string;
  /** The -max flag: volumes this store may hold. */
  maxVolumeCount: number;
  logger?: Logger;
  /** Passed to each volume (VolumeOptions.wallClockMs). */
  wallClockMs?: () => number;
  /** Watch the disk's free space; without it only an ENOSPC makes a volume read-only for space (for good). */
  diskSpace?: StoreDiskSpaceOptions;
  /**
   * Called when volumes turned read-only or writable because of disk space (not for changes asked
   * for, such as setReadOnly), when a volume's needs-check flag was set or cleared, and when a
   * vacuum commit changed a volume's size and counts: the heartbeat reports them at once (a full
   * beat).
   */
  onReadOnlyChange?: () => void;
  /** Limits of the fsync rounds all volumes share (tests). Default: limits.ts. */
  syncRounds?: SyncRoundsOptions;
  /** Passed to each volume (VolumeOptions.fdatasync); tests count or fail syncs with it. */
  fdatasync?: (fd: number) => Promise<void>;
  /** Bytes of small needles kept after a read, shared by all volumes (needle-cache.ts); 0 = none. */
  needleCacheBytes?: number;
}

export interface StoreDiskSpaceOptions {
  /** Below this the disk is "low": every volume read-only, no new volume (-minFreeSpace). */
  minFreeSpace: MinFreeSpace;
  /** statfs this often (and at once after an ENOSPC). */
  checkIntervalMs: number;
  /** statfs of the directory; injected by tests. Default: diskUsageOf. */
  usage?: (dir: string) => Promise<DiskUsage>;
}

/** A volume an append found the disk full for: read-only until the disk has room for that append. */
interface NoSpaceEntry {
  recordBytes: number;
  /** Free bytes the disk needs before the volume takes writes again, set by the first check after. */
  freeBytesNeeded: number | undefined;
}

/** "<collection>_<vid>.dat" or "<vid>.dat"; the collection is everything before the last "_". */
const DAT_NAME = /^(?:(.+)_)?(\d{1,10})\.dat$/;
const volumeIdMax = 0xffffffff;

export function parseDatFileName(name: string): { collection: string; id: number } | undefined {
  const m = DAT_NAME.exec(name);
  if (m === null) return undefined;
  const id = Number(m[2]);
  if (id > volumeIdMax) return undefined;
  return { collection: m[1] ?? "", id };
}

export class Store implements StoreApi {
  readonly dir: string;
  readonly maxVolumeCount: number;
  private readonly log: Logger;
  private readonly wallClockMs: (() => number) | undefined;
  private readonly events = new EventEmitter();
  private readonly volumes = new Map<number, Volume>();
  /** Volume ids being allocated right now (allocation awaits I/O). */
  private readonly allocating = new Set<number>();
  private state: "new" | "opening" | "open" | "closed" = "new";
  private opening: Promise<void> | undefined;
  /** Largest key of volumes deleted while running: maxFileKey never goes down. */
  private retiredMaxHi = 0;
  private retiredMaxLo = 0;
  /** Append batches over every volume since open (appendBatchesWritten); volumes add to it. */
  private readonly batchStats: AppendBatchStats = { batches: 0, records: 0 };
  /** Sum of the volume loads' LoadReport.damagedRecords (damagedRecordsLoaded). */
  private damagedRecords = 0;
  private readonly diskSpace: StoreDiskSpaceOptions | undefined;
  private readonly onReadOnlyChange: (() => void) | undefined;
  /** The last statfs found the disk under -minFreeSpace. */
  private diskLow = false;
  private readonly noSpace = new Map<number, NoSpaceEntry>();
  private diskTimer: NodeJS.Timeout | undefined;
  private diskCheck: Promise<void> | undefined;
  private diskRecheck = false;
  /** One fsync round at a time for every volume: writers of all volumes share its fdatasyncs. */
  private readonly syncRounds: SyncRounds;
  private readonly fdatasync: ((fd: number) => Promise<void>) | undefined;
  private readonly needleCache: NeedleCache;

  constructor(opts: StoreOptions) {
    if (typeof opts.dir !== "string" || opts.dir === "") {
      throw new WeedError(
        ErrorCode.BAD_PARAM,
        `store option dir must be a non-empty path, got ${JSON.stringify(opts.dir)}`,
      );
    }
    if (!Number.isInteger(opts.maxVolumeCount) || opts.maxVolumeCount < 0) {
      throw new WeedError(
        ErrorCode.BAD_PARAM,
        `store option maxVolumeCount must be an integer >= 0, got ${opts.maxVolumeCount}`,
      );
    }
    this.dir = opts.dir;
    this.maxVolumeCount = opts.maxVolumeCount;
    this.log = (opts.logger ?? silentLogger()).child({ module: "store" });
    this.wallClockMs = opts.wallClockMs;
    this.diskSpace = opts.diskSpace;
    this.onReadOnlyChange = opts.onReadOnlyChange;
    this.syncRounds = new SyncRounds(opts.syncRounds);
    this.fdatasync = opts.fdatasync;
    this.needleCache = new NeedleCache(opts.needleCacheBytes ?? needleCacheBytesDefault, needleCacheRecordBytesMax);
  }

  /** The last disk check found less free space than -minFreeSpace: every volume is read-only. */
  get isDiskLow(): boolean {
    return this.diskLow;
  }

  /**
   * The volume count to report to the master: while the disk is low, no more than it holds, so
   * that the master grows new volumes elsewhere (SeaweedFS reports its used slots then).
   */
  reportedMaxVolumeCount(): number {
    return this.diskLow ? Math.min(this.volumes.size, this.maxVolumeCount) : this.maxVolumeCount;
  }

  /** Loads every volume in the directory (creating the directory if needed). Idempotent. */
  open(): Promise<void> {
    if (this.state === "closed") return Promise.reject(new WeedError(ErrorCode.CLOSED, "store is closed"));
    this.opening ??= this.loadAll();
    return this.opening;
  }

  private async loadAll(): Promise<void> {
    this.state = "opening";
    await fs.promises.mkdir(this.dir, { recursive: true });
    const names = (await fs.promises.readdir(this.dir)).sort();
    for (const name of names) {
      const parsed = parseDatFileName(name);
      if (parsed === undefined) continue;
      const known = this.volumes.get(parsed.id);
      if (known !== undefined) {
        this.log.error({ file: name, loaded: known.datPath }, "two .dat files for one volume id; skipping this one");
        continue;
      }
      const v = this.newVolume(parsed.id, parsed.collection);
      try {
        this.damagedRecords += (await v.load()).damagedRecords;
      } catch (err) {
        // One bad volume must not keep the others offline; its files stay for an operator.
        this.log.error({ err, file: name }, "volume not loaded");
        continue;
      }
      this.volumes.set(parsed.id, v);
    }
    if (this.volumes.size > this.maxVolumeCount) {
      this.log.warn(
        { volumes: this.volumes.size, max: this.maxVolumeCount },
        "more volumes on disk than maxVolumeCount",
      );
    }
    this.state = "open";
    this.log.info({ dir: this.dir, volumes: this.volumes.size }, "store opened");
    if (this.diskSpace !== undefined) {
      await this.checkDiskSpace();
      this.scheduleDiskCheck(this.diskSpace.checkIntervalMs);
    }
  }

  /** Closes every volume (after their pending syncs). Idempotent. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    if (this.opening !== undefined) await this.opening.catch(() => undefined);
    this.state = "closed";
    clearTimeout(this.diskTimer);
    await this.diskCheck;
    const all = [...this.volumes.values()];
    this.volumes.clear();
    await Promise.all(all.map((v) => v.close()));
    this.log.info("store closed");
  }

  async allocateVolume(volumeId: number, opts: AllocateOptions): Promise<VolumeInfo> {
    this.checkOpen();
    checkVolumeId(volumeId);
    checkCollectionName(opts.collection);
    if (this.volumes.has(volumeId) || this.allocating.has(volumeId)) {
      throw new WeedError(ErrorCode.VOLUME_EXISTS, `volume ${volumeId} already exists`);
    }
    if (this.diskLow) {
      throw new WeedError(
        ErrorCode.NO_FREE_SLOT,
        `no free volume slot: the disk of ${this.dir} is short of space (-minFreeSpace)`,
      );
    }
    if (this.volumes.size + this.allocating.size >= this.maxVolumeCount) {
      throw new WeedError(
        ErrorCode.NO_FREE_SLOT,
        `no free volume slot: ${this.volumes.size} of ${this.maxVolumeCount} in use`,
      );
    }
    const v = this.newVolume(volumeId, opts.collection);
    this.allocating.add(volumeId);
    try {
      // .dat preallocation (fallocate KEEP_SIZE in SeaweedFS) has no Node API; opts.preallocate is advisory.
      await v.create(opts);
    } finally {
      this.allocating.delete(volumeId);
    }
    if (this.state !== "open") {
      await v.close();
      throw new WeedError(ErrorCode.CLOSED, "store closed while allocating");
    }
    this.volumes.set(volumeId, v);
    const info = v.info();
    this.emit({ kind: "volume-added", info });
    this.log.info({ volumeId, file: volumeBaseName(opts.collection, volumeId) }, "volume allocated");
    return info;
  }

  /**
   * Loads a volume whose complete files were just renamed into the directory (VolumeCopy), and
   * announces it like an allocation. Throws VOLUME_EXISTS, NO_FREE_SLOT, or the load's error.
   */
  async mountVolume(volumeId: number, collection: string): Promise<VolumeInfo> {
    this.checkOpen();
    checkVolumeId(volumeId);
    if (this.volumes.has(volumeId) || this.allocating.has(volumeId)) {
      throw new WeedError(ErrorCode.VOLUME_EXISTS, `volume ${volumeId} already exists`);
    }
    if (this.volumes.size + this.allocating.size >= this.maxVolumeCount) {
      throw new WeedError(ErrorCode.NO_FREE_SLOT, `no free volume slot: ${this.volumes.size} in use`);
    }
    const v = this.newVolume(volumeId, collection);
    this.allocating.add(volumeId);
    try {
      this.damagedRecords += (await v.load()).damagedRecords;
    } finally {
      this.allocating.delete(volumeId);
    }
    if (this.state !== "open") {
      await v.close();
      throw new WeedError(ErrorCode.CLOSED, "store closed while mounting");
    }
    this.volumes.set(volumeId, v);
    const info = v.info();
    this.emit({ kind: "volume-added", info });
    return info;
  }

  async deleteVolume(volumeId: number, onlyEmpty = false): Promise<void> {
    this.checkOpen();
    const v = this.volume(volumeId);
    if (onlyEmpty && v.needleCount > 0) {
      throw new WeedError(ErrorCode.BAD_REQUEST, `volume ${volumeId} is not empty: ${v.needleCount} needles`);
    }
    const info = v.info();
    this.volumes.delete(volumeId);
    this.noSpace.delete(volumeId);
    const [hi, lo] = v.maxKeyHalves();
    if (compareKeys(hi, lo, this.retiredMaxHi, this.retiredMaxLo) > 0) {
      this.retiredMaxHi = hi;
      this.retiredMaxLo = lo;
    }
    await v.destroy();
    this.emit({ kind: "volume-deleted", info });
  }

  hasVolume(volumeId: number): boolean {
    return this.volumes.has(volumeId);
  }

  volumeInfo(volumeId: number): VolumeInfo | undefined {
    return this.volumes.get(volumeId)?.info();
  }

  replicaPlacement(volumeId: number): ReplicaPlacement | undefined {
    return this.volumes.get(volumeId)?.superBlock.replicaPlacement;
  }

  volumeInfos(): VolumeInfo[] {
    return [...this.volumes.values()].map((v) => v.info());
  }

  damagedRecordsLoaded(): number {
    return this.damagedRecords;
  }

  maxFileKey(): bigint {
    let hi = this.retiredMaxHi;
    let lo = this.retiredMaxLo;
    for (const v of this.volumes.values()) {
      const [vHi, vLo] = v.maxKeyHalves();
      if (compareKeys(vHi, vLo, hi, lo) > 0) {
        hi = vHi;
        lo = vLo;
      }
    }
    return joinKey(hi, lo);
  }

  /** Marks a volume read-only (VolumeMarkReadonly) or writable again. Not in StoreApi yet. */
  setReadOnly(volumeId: number, readOnly: boolean): VolumeInfo {
    const v = this.volume(volumeId);
    v.setReadOnly(readOnly);
    return v.info();
  }

  /** Sync rounds that synced a volume (for tests and metrics). */
  syncCount(volumeId: number): number {
    return this.volume(volumeId).syncCount;
  }

  appendBatchesWritten(): AppendBatchStats {
    return { ...this.batchStats };
  }

  /** Batches of small appends a volume wrote, and the records they held (Volume.writeSoon; for tests). */
  appendBatchStats(volumeId: number): AppendBatchStats {
    return { ...this.volume(volumeId).batchStats };
  }

  /** Sync rounds started so far, over all volumes (for tests and metrics). */
  syncRoundCount(): number {
    return this.syncRounds.roundCount;
  }

  write(volumeId: number, needle: NeedleInput, opts?: WriteOptions): Promise<WriteResult> {
    try {
      return this.volume(volumeId).write(needle, opts);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  writeSoon(volumeId: number, needle: NeedleInput, done: AppendDone): boolean {
    return this.volume(volumeId).writeSoon(needle, done);
  }

  read(volumeId: number, key: bigint, cookie: number): NeedleRecord {
    return this.volume(volumeId).read(key, cookie);
  }

  readSplit(volumeId: number, hi: number, lo: number, cookie: number): NeedleRecord {
    return this.volume(volumeId).readSplit(hi, lo, cookie);
  }

  delete(volumeId: number, key: bigint, cookie: number, opts?: WriteOptions): Promise<number> {
    try {
      return this.volume(volumeId).delete(key, cookie, opts);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  // ---- replica checks (volume.check.disk) --------------------------------------------------

  markNeedsCheck(volumeId: number): void {
    const v = this.volumes.get(volumeId);
    if (v === undefined) return;
    if (v.markNeedsCheck()) {
      this.log.warn({ volumeId, generation: v.checkState.generation }, "volume needs a check");
      this.readOnlyChanged();
    }
  }

  checkState(volumeId: number): CheckState {
    return this.volume(volumeId).checkState;
  }

  checkDone(volumeId: number, generation: number): boolean {
    const v = this.volume(volumeId);
    if (!v.checkDone(generation)) return false;
    this.log.info({ volumeId, generation }, "volume checked: needs-check flag cleared");
    this.readOnlyChanged();
    return true;
  }

  /** Resolves once the volume's needs-check marker on disk matches its flag (tests). */
  checkFlagSettled(volumeId: number): Promise<void> {
    return this.volume(volumeId).checkFlagSettled();
  }

  readNeedleBlob(volumeId: number, offset: number, size: number): Buffer {
    return this.volume(volumeId).readNeedleBlob(offset, size);
  }

  flushIndex(volumeId: number): void {
    this.volume(volumeId).flushIndex();
  }

  writeNeedleBlob(volumeId: number, key: bigint, size: number, blob: Buffer, opts?: WriteOptions): Promise<void> {
    try {
      return this.volume(volumeId).writeNeedleBlob(key, size, blob, opts);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  listNeedles(
    volumeId: number,
    batchEntries: number,
    onBatch: (entries: NeedleListEntry[]) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void> {
    try {
      return this.volume(volumeId).listNeedles(batchEntries, onBatch, signal);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  // ---- vacuum -------------------------------------------------------------------------------

  garbageRatio(volumeId: number): number {
    return this.volume(volumeId).garbageRatio();
  }

  compactVolume(volumeId: number, opts?: CompactOptions): Promise<CompactReport> {
    try {
      return this.volume(volumeId).compact(opts);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Commits, then has the heartbeat report the volume's new size at once (a full beat). */
  async commitCompaction(volumeId: number): Promise<CommitReport> {
    const report = await this.volume(volumeId).commitCompaction();
    this.readOnlyChanged();
    return report;
  }

  cleanupCompaction(volumeId: number): Promise<void> {
    try {
      return this.volume(volumeId).cleanupCompaction();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  on(event: "change", listener: (e: StoreEvent) => void): void {
    this.events.on(event, listener);
  }

  off(event: "change", listener: (e: StoreEvent) => void): void {
    this.events.off(event, listener);
  }

  private emit(e: StoreEvent): void {
    try {
      this.events.emit("change", e);
    } catch (err) {
      // A listener's bug must not undo a volume that now exists on disk.
      this.log.error({ err, kind: e.kind, volumeId: e.info.id }, "change listener threw");
    }
  }

  private checkOpen(): void {
    if (this.state !== "open")
      throw new WeedError(ErrorCode.CLOSED, `store is ${this.state === "closed" ? "closed" : "not open"}`);
  }

  private newVolume(id: number, collection: string): Volume {
    const clock = this.wallClockMs === undefined ? {} : { wallClockMs: this.wallClockMs };
    const sync = this.fdatasync === undefined ? {} : { fdatasync: this.fdatasync };
    const onNoSpace = (recordBytes: number): void => this.volumeOutOfSpace(id, recordBytes);
    const syncRounds = this.syncRounds;
    const needleCache = this.needleCache;
    const storeBatchStats = this.batchStats;
    return new Volume({
      dir: this.dir,
      id,
      collection,
      logger: this.log,
      onNoSpace,
      syncRounds,
      needleCache,
      storeBatchStats,
      ...clock,
      ...sync,
    });
  }

  // ---- disk space -------------------------------------------------------------------------

  /** An append of `recordBytes` to volume `id` found the disk full (the volume made itself read-only). */
  private volumeOutOfSpace(id: number, recordBytes: number): void {
    this.noSpace.set(id, { recordBytes, freeBytesNeeded: undefined });
    this.readOnlyChanged();
    if (this.diskSpace !== undefined) void this.checkDiskSpace();
  }

  /** statfs now (one at a time: asked for while one runs, another follows it). Never rejects. */
  checkDiskSpace(): Promise<void> {
    if (this.diskSpace === undefined) return Promise.resolve();
    if (this.diskCheck !== undefined) {
      this.diskRecheck = true;
      return this.diskCheck;
    }
    const usage = this.diskSpace.usage ?? diskUsageOf;
    const run = async (): Promise<void> => {
      do {
        this.diskRecheck = false;
        try {
          this.applyDiskUsage(await usage(this.dir));
        } catch (err) {
          this.log.error({ err, dir: this.dir }, "disk space check failed");
        }
      } while (this.diskRecheck && this.state !== "closed");
    };
    this.diskCheck = run().finally(() => (this.diskCheck = undefined));
    return this.diskCheck;
  }

  private scheduleDiskCheck(intervalMs: number): void {
    this.diskTimer = setTimeout(() => {
      if (this.state === "closed") return;
      void this.checkDiskSpace().then(() => {
        if (this.state !== "closed") this.scheduleDiskCheck(intervalMs);
      });
    }, intervalMs);
    this.diskTimer.unref();
  }

  /** Low disk: every volume read-only for space; otherwise each is writable unless an ENOSPC still holds. */
  private applyDiskUsage(usage: DiskUsage): void {
    const rule = this.diskSpace!.minFreeSpace;
    const low = isDiskLow(rule, usage);
    if (low !== this.diskLow) {
      const words = describeDisk(rule, usage);
      if (low) this.log.warn({ dir: this.dir }, `disk space low, volumes read-only: ${words}`);
      else this.log.info({ dir: this.dir }, `disk space back, volumes writable: ${words}`);
      this.diskLow = low;
    }
    let changed = false;
    for (const v of this.volumes.values()) {
      if (v.setNoSpace(low || this.stillFull(v.id, usage))) changed = true;
    }
    if (changed) this.readOnlyChanged();
  }

  /** Volume `id` had an ENOSPC and the disk has not got room for that append since. */
  private stillFull(id: number, usage: DiskUsage): boolean {
    const e = this.noSpace.get(id);
    if (e === undefined) return false;
    e.freeBytesNeeded ??= usage.freeBytes + e.recordBytes;
    if (usage.freeBytes < e.freeBytesNeeded) return true;
    this.noSpace.delete(id);
    return false;
  }

  private readOnlyChanged(): void {
    try {
      this.onReadOnlyChange?.();
    } catch (err) {
      this.log.error({ err }, "read-only change listener threw");
    }
  }

  private volume(volumeId: number): Volume {
    const v = this.volumes.get(volumeId);
    if (v === undefined) {
      if (this.state === "closed") throw new WeedError(ErrorCode.CLOSED, "store is closed");
      throw new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${volumeId} not found`);
    }
    return v;
  }
}

function checkVolumeId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > volumeIdMax) {
    throw new WeedError(ErrorCode.BAD_PARAM, `volume id ${id} is not a uint32`);
  }
}
