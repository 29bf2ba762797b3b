// Every bound the needle storage enforces, in one place, with the reason for each number.
// Units are last in the name. Relations between limits are asserted at module load.
import { assert } from "../../common/errors.js";

/** Records are aligned to this many bytes; .idx offsets count in these units (SeaweedFS NeedlePaddingSize). */
export const needleAlignBytes = 8;

/**
 * Largest .dat file: a 4-byte .idx offset counts 8-byte units, so 2^32 * 8 = 32 GiB is the last
 * addressable byte (SeaweedFS MaxPossibleVolumeSize with the default 4-byte offsets).
 */
export const volumeFileBytesMax = 2 ** 32 * needleAlignBytes;

/**
 * Largest needle data. The on-disk fields would allow ~4 GiB (u32 DataSize, Size 0xFFFFFFFF being
 * the tombstone), but a record is encoded into one Buffer and written with one pwrite, so the
 * whole blob sits in memory twice (request body + record). 1 GiB keeps that sane on one server;
 * SeaweedFS's own HTTP default (-fileSizeLimitMB) is 256 MiB, and big files are chunked by clients.
 */
export const needleDataBytesMax = 1024 * 1024 * 1024;

/** Name and mime are stored behind a u8 length: 255 bytes at most (longer is dropped, as SeaweedFS does). */
export const needleNameBytesMax = 255;
export const needleMimeBytesMax = 255;

/** Pairs JSON sits behind a u16 length: SeaweedFS keeps it only when < 64 KiB, and drops it otherwise. */
export const needlePairsBytesMax = 65535;

/** lastModified is stored as the low 5 bytes of unix seconds. */
export const needleLastModifiedSecMax = 2 ** 40 - 1;

/**
 * Bytes read per syscall while replaying an .idx: 1 MiB = 65,536 entries, so a 1,000,000-needle
 * index (16 MB) loads in 16 reads without holding the whole file in memory.
 */
export const idxReadChunkBytes = 1024 * 1024;

/**
 * Bytes read per syscall while scanning the .dat tail for records the .idx missed. Records larger
 * than this are read on their own.
 */
export const datScanChunkBytes = 1024 * 1024;

/**
 * How many trailing .idx entries may fail validation before load gives up and reports the volume
 * as corrupt instead of silently dropping a large part of it. A crash loses at most the entries
 * whose pages were not written back; 65,536 entries is 1 MiB of index, far more than that.
 */
export const idxTailDropEntriesMax = 65536;

/** Needle map: slots start at this many and grow by needleMapGrowthFactor (load factor <= needleMapLoadMax). */
export const needleMapSlotsMin = 1024;
/**
 * Linear probing stays short below ~0.75 load (expected ~2.5 probes for a hit, ~8.5 for a miss).
 * 1,000,000 needles then need >= 1.33 M slots of 16 bytes: ~21-25 MB, under the 40 MB budget.
 */
export const needleMapLoadMax = 0.75;
/** 1.5 rather than 2: the table after growing stays within the memory budget at 1 M needles. */
export const needleMapGrowthFactor = 1.5;
/** Slots are addressed with 32-bit arithmetic (and 16 bytes each): 2^28 slots = 4 GiB of table. */
export const needleMapSlotsMax = 2 ** 28;

/**
 * A superblock extra (protobuf SuperBlockExtra) larger than this is rejected as corrupt (SeaweedFS
 * caps it at 65534).
 */
export const superBlockExtraBytesMax = 256 * 256 - 2;

/**
 * Volumes one sync round fdatasyncs at once (two fdatasyncs each: .dat and .idx). Measured on this
 * machine's disk (ext4 on virtio), 14 files of 7 volumes: all at once on the thread pool 410-470
 * rounds/s (p50 1.6 ms), one after another 90-260 rounds/s (p50 3.2-4.4 ms), so the round goes
 * wide. 8 volumes (16 fdatasyncs) keep libuv's 4 threads busy while its queue stays short enough
 * that other thread-pool work (large appends, fs.promises) does not wait behind a 100-volume round.
 */
export const syncRoundVolumesParallelMax = 8;

/**
 * A volume whose fdatasync has not returned after this long is failed like one whose fsync
 * failed (read-only, its writers answered with an error) and the round ends without it, so one
 * stuck disk region cannot hold every other volume's fsync writers. An fdatasync here takes
 * ~0.2 ms; flushing 1 GiB of dirty pages (the largest needle) on a 100 MB/s disk takes ~10 s.
 */
export const syncRoundTimeoutMs = 30_000;

assert(needleDataBytesMax < 0xffffffff - 1024 * 1024, "needleDataBytesMax leaves room for the u32 Size field");
assert(idxReadChunkBytes % 16 === 0, "idxReadChunkBytes holds whole .idx entries");
assert(needleMapLoadMax > 0 && needleMapLoadMax < 1, "needleMapLoadMax leaves empty slots for probing to stop at");
assert(needleMapGrowthFactor > 1, "needleMapGrowthFactor grows the table");
assert(syncRoundVolumesParallelMax >= 1 && syncRoundTimeoutMs > 0, "sync rounds make progress");

// ---- vacuum (compact.ts, vacuum-commit.ts) -------------------------------------------------

/**
 * Bytes of the old .dat compaction reads at once: one read covers several live records and the
 * garbage between them. 4 MiB keeps a read well above the per-call cost (~30 us on the thread pool,
 * so >100 GB/s of call overhead) while a volume's compaction holds only a few such buffers.
 */
export const compactReadChunkBytes = 4 * 1024 * 1024;

/** Bytes of live records gathered before one write to the .cpd: as for reads, 4 MiB a call. */
export const compactWriteChunkBytes = 4 * 1024 * 1024;

/** .cpx entries gathered before one write: 64 Ki entries (1 MiB), as idxReadChunkBytes reads them back. */
export const compactIdxChunkBytes = 1024 * 1024;

/**
 * Live needles are copied in file order, bucket by bucket of this many bytes of the old .dat: each
 * bucket's entries are sorted on their own (a 1 M-needle volume is never sorted in one blocking
 * step of ~0.2 s), and reads within a bucket move forward only. A 32 GiB volume has 512 buckets.
 */
export const compactBucketBytes = 64 * 1024 * 1024;

/**
 * The commit's replay of old .idx entries into the compacted files yields to the event loop after
 * this many entries or this many bytes of records, whichever comes first: both are a few ms of
 * synchronous page-cache I/O, so reads are served throughout (and writes, until appends are held).
 */
export const commitReplayChunkEntries = 4096;
export const commitReplayChunkBytes = 4 * 1024 * 1024;

/**
 * Commit replays the writes made during compaction in rounds while appends still run, and holds
 * appends only for the last round. It stops catching up when fewer entries than this remain (the
 * held replay then copies ~1 ms of records) or after commitCatchUpRoundsMax rounds, so a writer
 * faster than the replay cannot keep the commit from ever finishing.
 */
export const commitHeldEntriesMax = 256;
export const commitCatchUpRoundsMax = 16;

/**
 * The store's cache of small needles read (needle-cache.ts). 64 MiB holds ~60,000 needles of 1 KB,
 * the hot set of a server of small blobs, at a cost small next to the needle map itself (~40 bytes
 * a needle); only records up to 64 KiB are kept: below that the pread's syscall is most of a
 * read's cost, above it the copy is, and the page cache serves those as well.
 */
export const needleCacheBytesDefault = 64 * 1024 * 1024;
export const needleCacheRecordBytesMax = 64 * 1024;

/**
 * .idx entries queued in one turn of the event loop (Volume.flushIdx): the buffer starts at 64
 * entries (a turn of a busy server rarely has more) and a queue reaching 4,096 entries (64 KiB)
 * is written at once, so a burst of tiny writes holds little memory and no long pwrite.
 */
export const idxPendingBytesInitial = 64 * 16;
export const idxPendingBytesMax = 4096 * 16;

/**
 * Small appends gathered in one turn of the event loop and written by one pwritev (append-batch.ts):
 * at most this many records (three parts each, well under IOV_MAX) and bytes. A record that does
 * not fit has the batch written first; every record such a batch takes is at most 1 MiB
 * (Volume's appendSyncBytesMax), so one always fits an empty batch.
 */
export const appendBatchRecordsMax = 128;
export const appendBatchBytesMax = 2 * 1024 * 1024;

assert(idxPendingBytesMax % 16 === 0 && idxPendingBytesMax >= idxPendingBytesInitial, "whole .idx entries");
assert(compactIdxChunkBytes % 16 === 0, "compactIdxChunkBytes holds whole .idx entries");
assert(compactBucketBytes % needleAlignBytes === 0, "compactBucketBytes is whole 8-byte units");
