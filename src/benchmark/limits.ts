// Every bound the benchmark client works within, in one place with the reason for each number.

/** More workers than this only queue on the sockets; 1024 sockets per host is past any loopback gain. */
export const concurrencyMax = 1024;

/** -n above 2^27 would make the latency histogram counts and the fid list the memory cost (~2 GB of list). */
export const filesMax = 1 << 27;

/** Matches the volume server's default -fileSizeLimitMB 256: larger uploads are refused anyway. */
export const fileBytesMax = 256 * 1024 * 1024;

/** SeaweedFS pads every file with random(0..63) bytes so needles do not all have one size. */
export const filePaddingSpanBytes = 64;

/** A request slower than this is a failure, not a sample: it keeps a dead server from hanging a worker. */
export const requestTimeoutMs = 30_000;

/** Sockets stay open between requests; the servers close idle ones after 30 s (-idleTimeout). */
export const keepAliveTimeoutMs = 10_000;

/**
 * A fresh master answers 503 + Retry-After while it grows volumes; a few retries let the first
 * writes through without turning a dead cluster into a long wait.
 */
export const assignRetriesMax = 3;

/** Upper bound on one Retry-After wait, whatever the master asks for. */
export const assignRetryWaitMsMax = 1_000;

/** Lookup answers are tiny JSON; anything bigger is not a master. */
export const lookupBodyBytesMax = 64 * 1024;

/** One in this many reads has its whole content compared, the rest only their length (cheap hot path). */
export const readContentCheckEvery = 16;

/** Distinct error messages remembered per phase; more are only counted, so a failing run stays small. */
export const errorKindsMax = 8;

/** The fid list is written in chunks of about this size, one write at a time. */
export const listFlushBytes = 64 * 1024;

/** A list file longer than this is refused rather than read into memory (about 40 bytes a line). */
export const listFileBytesMax = 1024 * 1024 * 1024;

/** SeaweedFS prints progress every second. */
export const progressIntervalMsDefault = 1_000;
