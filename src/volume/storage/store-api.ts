// The contract between the needle storage (src/volume/storage) and its users (the volume
// server's HTTP and gRPC edges, the heartbeat client). Storage knows nothing of HTTP.
import type { ReplicaPlacement } from "../../common/replica-placement.js";
import type { Ttl } from "../../common/ttl.js";
import type { AppendBatchStats, AppendDone } from "./append-batch.js";

/** A blob as the HTTP edge hands it to storage and gets it back. */
export interface NeedleInput {
  key: bigint;
  cookie: number;
  data: Buffer;
  /** File name (<= 255 bytes UTF-8; longer is dropped, as SeaweedFS does). */
  name?: string;
  /** Mime type (<= 255 bytes). */
  mime?: string;
  /** Unix seconds; default now. */
  lastModified?: number;
  ttl?: Ttl;
  /** Stored "Seaweed-*" headers, prefix stripped, as JSON (< 64 KiB). */
  pairs?: Record<string, string>;
  /** The data is already gzipped. */
  gzipped?: boolean;
  /** The data is a SeaweedFS chunk manifest (upload with ?cm=true; flag 0x80). */
  chunkManifest?: boolean;
}

export interface NeedleRecord {
  key: bigint;
  cookie: number;
  data: Buffer;
  name: string | undefined;
  mime: string | undefined;
  /** Unix seconds, 0 when not stored. */
  lastModified: number;
  ttl: Ttl | undefined;
  pairs: Record<string, string> | undefined;
  gzipped: boolean;
  /** Flag 0x80: the data is a chunk manifest (storage always sets it). */
  chunkManifest?: boolean;
  /** CRC32-C of data as stored (ETag is its 8-digit lowercase hex). */
  crc: number;
  appendAtNs: bigint;
}

export interface WriteOptions {
  /** fsync (fdatasync .dat and .idx) before resolving; concurrent writers share one sync. */
  fsync?: boolean;
}

export interface WriteResult {
  /** Bytes of data stored. */
  size: number;
  crc: number;
  /** True when the needle was byte-identical to the stored one (nothing appended). */
  unchanged: boolean;
}

export interface VolumeInfo {
  id: number;
  collection: string;
  replicaPlacement: ReplicaPlacement;
  ttl: Ttl;
  /** Bytes in .dat. */
  size: number;
  fileCount: number;
  deleteCount: number;
  deletedByteCount: number;
  readOnly: boolean;
  version: number;
  compactRevision: number;
  modifiedAtSecond: number;
  /** Largest needle key ever written to this volume (0 if none). */
  maxFileKey: bigint;
  /** A replicated write or delete failed after reaching some replica: the replicas may differ until checked. */
  needsCheck: boolean;
}

export interface AllocateOptions {
  collection: string;
  replicaPlacement: ReplicaPlacement;
  ttl: Ttl;
  /** Bytes to preallocate for .dat (0 = none). */
  preallocate: number;
}

/** One key of a volume as its .idx says now (the last entry for the key), for volume.check.disk. */
export interface NeedleListEntry {
  key: bigint;
  /** The record's cookie (0 for a delete entry without a tombstone record). */
  cookie: number;
  /** The record's byte offset in .dat (0 for a delete entry without a tombstone record). */
  offset: number;
  /** The record's Size (body length); 0 for a tombstone. */
  size: number;
  deleted: boolean;
  /** CRC32-C of the data as stored (0 for a tombstone): with size, tells two versions apart. */
  crc: number;
  /** When the record was appended (unix ns; 0 in v2 volumes and for a delete entry without a record). */
  appendAtNs: bigint;
}

export interface CompactOptions {
  /** Told the bytes of the old .dat passed so far, after every read (needles go in file order). */
  onProgress?: (processedBytes: number) => void;
  /** Stops the compaction (its files are removed). */
  signal?: AbortSignal;
}

/** What a compaction did; the compacted files wait for commitCompaction or cleanupCompaction. */
export interface CompactReport {
  /** The old .dat's size when compaction started. */
  processedBytes: number;
  liveNeedles: number;
  /** Needles past their TTL, left behind. */
  expiredNeedles: number;
  /** Needles whose record failed its checks (CRC, fields, header), left behind and logged. */
  damagedNeedles: number;
  /** Size of the compacted .dat (before the writes made meanwhile are replayed by the commit). */
  compactedBytes: number;
  /** Bytes of the old .dat read. */
  bytesRead: number;
  ms: number;
}

export interface CommitReport {
  /** The volume as committed (size, counts, compactRevision + 1). */
  info: VolumeInfo;
  /** How long appends to the volume were held back (the commit's last replay, syncs, marker, renames). */
  pauseMs: number;
  /** .idx entries written during compaction and replayed by the commit. */
  replayedEntries: number;
}

/** The needs-check flag of a volume and its generation (grows with every failure that sets it). */
export interface CheckState {
  needsCheck: boolean;
  generation: number;
}

/** Emitted when volumes appear or disappear, so the heartbeat client can send deltas. */
export type StoreEvent = { kind: "volume-added"; info: VolumeInfo } | { kind: "volume-deleted"; info: VolumeInfo };

export interface StoreApi {
  /** The -dir folder holding the volume files. */
  readonly dir: string;
  /** Marks a volume read-only or writable again (volume.mark). Throws VOLUME_NOT_FOUND. */
  setReadOnly(volumeId: number, readOnly: boolean): VolumeInfo;
  /** Loads every volume found in the directory (recovering torn tails). Idempotent. */
  open(): Promise<void>;
  /** Flushes and closes every volume file. Idempotent. */
  close(): Promise<void>;

  /** Creates <collection>_<vid>.dat/.idx (or <vid>.*). Throws VOLUME_EXISTS, NO_FREE_SLOT. */
  allocateVolume(volumeId: number, opts: AllocateOptions): Promise<VolumeInfo>;
  /** Removes the volume's files. Throws VOLUME_NOT_FOUND; with onlyEmpty, refuses a non-empty one. */
  deleteVolume(volumeId: number, onlyEmpty?: boolean): Promise<void>;
  hasVolume(volumeId: number): boolean;
  volumeInfo(volumeId: number): VolumeInfo | undefined;
  /** The replica placement of a volume held here (its superblock's), without building its info. */
  replicaPlacement(volumeId: number): ReplicaPlacement | undefined;
  volumeInfos(): VolumeInfo[];
  /** The -max flag: how many volumes this store may hold. */
  readonly maxVolumeCount: number;
  /** Largest key over all volumes, for the heartbeat's max_file_key. */
  maxFileKey(): bigint;
  /**
   * Damaged needle records the volume loads found since open() (the sum of their
   * LoadReport.damagedRecords; FORMAT.md "Recovery"): only grows, a counter for metrics.
   */
  damagedRecordsLoaded(): number;
  /**
   * Batches of small appends the volumes wrote since open() (one pwritev each, append-batch.ts)
   * and the records they held: both only grow, counters for metrics.
   */
  appendBatchesWritten(): AppendBatchStats;

  /**
   * Appends a needle. Resolves only once the needle and its .idx entry are written to the files
   * (and fsync'd when asked). Throws VOLUME_NOT_FOUND, COOKIE_MISMATCH (key exists with another
   * cookie), VOLUME_READ_ONLY, VOLUME_FULL, TOO_LARGE.
   */
  write(volumeId: number, needle: NeedleInput, opts?: WriteOptions): Promise<WriteResult>;
  /**
   * write() without fsync and without a promise for a small record, written with the other small
   * appends of this turn by one pwritev at its end (Volume.writeSoon): false, with nothing done,
   * when it cannot (then write()); else `done` is told once, later, what write() would resolve or
   * reject with. Throws what write() rejects with before it queues.
   */
  writeSoon(volumeId: number, needle: NeedleInput, done: AppendDone): boolean;
  /**
   * Reads and CRC-checks a needle. Throws VOLUME_NOT_FOUND, NOT_FOUND (absent or deleted),
   * COOKIE_MISMATCH, CORRUPT (bad CRC or unreadable record: never return wrong bytes).
   * Synchronous on purpose: a pread from the page cache is cheaper than a trip to the thread pool.
   */
  read(volumeId: number, key: bigint, cookie: number): NeedleRecord;
  /** read() with the key as two u32 halves (high, low), as the GET path parses it: no BigInt. */
  readSplit(volumeId: number, hi: number, lo: number, cookie: number): NeedleRecord;
  /** Appends a tombstone. Resolves with the deleted data size. Throws as read does (not CORRUPT). */
  delete(volumeId: number, key: bigint, cookie: number, opts?: WriteOptions): Promise<number>;

  /**
   * A replicated write or delete of the volume failed after reaching some replica: sets its
   * needs-check flag (persisted, reported at once by the heartbeat). No-op for a volume not held.
   */
  markNeedsCheck(volumeId: number): void;
  /** Throws VOLUME_NOT_FOUND. */
  checkState(volumeId: number): CheckState;
  /** Clears the flag if its generation is still `generation`; returns whether it did. Throws VOLUME_NOT_FOUND. */
  checkDone(volumeId: number, generation: number): boolean;
  /**
   * The record at `offset` with body `size`, as stored, after checking its header and CRC (CORRUPT
   * otherwise; BAD_PARAM for an offset or size that cannot be a record of this volume).
   */
  readNeedleBlob(volumeId: number, offset: number, size: number): Buffer;
  /**
   * Writes the volume's queued .idx entries now (appends queue them until the end of the event
   * loop's turn): the .idx on disk then indexes every record of the .dat (a copy's file status).
   * Throws VOLUME_NOT_FOUND, or the write's error.
   */
  flushIndex(volumeId: number): void;
  /**
   * Appends a record read by readNeedleBlob from another replica as-is (its AppendAtNs too), after
   * checking its key, size and CRC; the .idx and the needle map point at it. Throws as write does.
   */
  writeNeedleBlob(volumeId: number, key: bigint, size: number, blob: Buffer, opts?: WriteOptions): Promise<void>;
  /**
   * Every key of the volume's .idx as of the call (last entry per key, tombstones included), in
   * batches of at most `batchEntries`; each batch is awaited before the next is read.
   */
  listNeedles(
    volumeId: number,
    batchEntries: number,
    onBatch: (entries: NeedleListEntry[]) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void>;

  /**
   * Vacuum (SeaweedFS volume_vacuum.go). garbageRatio: deleted bytes / content bytes, 0 for a
   * volume never written to. compactVolume copies the live needles into <base>.cpd/.cpx while
   * reads and writes go on; commitCompaction replays the writes made meanwhile and swaps the files
   * in (appends held only briefly), the heartbeat then reports the new size; cleanupCompaction
   * drops an uncommitted compaction (stopping one that runs). All throw VOLUME_NOT_FOUND; compact
   * and commit throw CONFLICT while another compaction or commit of the volume runs, commit also
   * when nothing was compacted.
   */
  garbageRatio(volumeId: number): number;
  compactVolume(volumeId: number, opts?: CompactOptions): Promise<CompactReport>;
  commitCompaction(volumeId: number): Promise<CommitReport>;
  cleanupCompaction(volumeId: number): Promise<void>;

  on(event: "change", listener: (e: StoreEvent) => void): void;
  off(event: "change", listener: (e: StoreEvent) => void): void;
}
