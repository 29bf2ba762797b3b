// The contract between the needle storage (src/volume/storage) and its users (the volume
// server's HTTP and gRPC edges, the heartbeat client). Storage knows nothing of HTTP.
import type { ReplicaPlacement } from "../../common/replica-placement.js";
import type { Ttl } from "../../common/ttl.js";

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

/** Emitted when volumes appear or disappear, so the heartbeat client can send deltas. */
export type StoreEvent = { kind: "volume-added"; info: VolumeInfo } | { kind: "volume-deleted"; info: VolumeInfo };

export interface StoreApi {
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
   * Appends a needle. Resolves only once the needle and its .idx entry are written to the files
   * (and fsync'd when asked). Throws VOLUME_NOT_FOUND, COOKIE_MISMATCH (key exists with another
   * cookie), VOLUME_READ_ONLY, VOLUME_FULL, TOO_LARGE.
   */
  write(volumeId: number, needle: NeedleInput, opts?: WriteOptions): Promise<WriteResult>;
  /**
   * Reads and CRC-checks a needle. Throws VOLUME_NOT_FOUND, NOT_FOUND (absent or deleted),
   * COOKIE_MISMATCH, CORRUPT (bad CRC or unreadable record: never return wrong bytes).
   * Synchronous on purpose: a pread from the page cache is cheaper than a trip to the thread pool.
   */
  read(volumeId: number, key: bigint, cookie: number): NeedleRecord;
  /** Appends a tombstone. Resolves with the deleted data size. Throws as read does (not CORRUPT). */
  delete(volumeId: number, key: bigint, cookie: number, opts?: WriteOptions): Promise<number>;

  on(event: "change", listener: (e: StoreEvent) => void): void;
  off(event: "change", listener: (e: StoreEvent) => void): void;
}
