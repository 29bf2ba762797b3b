// Bounds of volume.check.disk (the shell's and the leader's repair), units last, each with why.

/** VolumeCheckState, VolumeCheckDone, ReadNeedleBlob and one HTTP delete: one disk read or append each. */
export const checkCallTimeoutMs = 10_000;
/**
 * WriteNeedleBlob appends and fdatasyncs (it shares the replica's fsync round, which gives up
 * after 30 s on a hung disk): a little more than that round's own bound.
 */
export const checkWriteTimeoutMs = 35_000;
/**
 * One replica's whole VolumeNeedleList: the largest listing (4 Mi keys, two small preads each from
 * the page cache or disk) takes well under a minute; five is for a slow disk under load.
 */
export const checkListTimeoutMs = 5 * 60_000;
/**
 * Keys one replica's listing may hold: the volume server's own cap on what it replays
 * (needleListIdxEntriesMax), so a misbehaving server cannot make the checker hold more.
 */
export const checkListEntriesMax = 4 * 1024 * 1024;
/**
 * Largest record copied between replicas: the volume server's needleBlobBytesMax (a default 256 MiB
 * upload and its fields, in one unary gRPC message). A larger needle is reported as not copied.
 */
export const checkBlobBytesMax = (256 + 1) * 1024 * 1024;
/** The checker's gRPC receive limit: one ReadNeedleBlob answer of checkBlobBytesMax and framing. */
export const checkReceiveBytesMax = checkBlobBytesMax + 64 * 1024;
/**
 * Passes of list-compare-fix per volume: the first fixes, the next verifies. Writes that land
 * while a pass lists can look like differences; they settle within one replicated write's time,
 * so a third pass is there for them, and a volume that still differs after four is reported.
 */
export const checkPassesMax = 4;
/** Copies and deletes run at once for one volume: enough to hide round trips, little disk contention. */
export const checkActionsInParallel = 4;
/** Action lines printed per pass; the rest are counted, so a large divergence does not flood the shell. */
export const checkActionLinesMax = 50;
