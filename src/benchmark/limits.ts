// Every bound the benchmark client works within, in one place with the reason for each number.

/** More workers than this only queue on the sockets; 1024 sockets per host is past any loopback gain. */
export const CONCURRENCY_MAX = 1024;

/** -n above 2^27 would make the latency histogram counts and the fid list the memory cost (~2 GB of list). */
export const FILES_MAX = 1 << 27;

/** Matches the volume server's default -fileSizeLimitMB 256: larger uploads are refused anyway. */
export const FILE_SIZE_MAX_BYTES = 256 * 1024 * 1024;

/** SeaweedFS pads every file with random(0..63) bytes so needles do not all have one size. */
export const FILE_PADDING_SPAN_BYTES = 64;

/** A request slower than this is a failure, not a sample: it keeps a dead server from hanging a worker. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Sockets stay open between requests; the servers close idle ones after 30 s (-idleTimeout). */
export const KEEP_ALIVE_TIMEOUT_MS = 10_000;

/**
 * A fresh master answers 503 + Retry-After while it grows volumes; a few retries let the first
 * writes through without turning a dead cluster into a long wait.
 */
export const ASSIGN_RETRIES_MAX = 3;

/** Upper bound on one Retry-After wait, whatever the master asks for. */
export const ASSIGN_RETRY_WAIT_MAX_MS = 1_000;

/** Lookup answers are tiny JSON; anything bigger is not a master. */
export const LOOKUP_BODY_MAX_BYTES = 64 * 1024;

/** One in this many reads has its whole content compared, the rest only their length (cheap hot path). */
export const READ_CONTENT_CHECK_EVERY = 16;

/** Distinct error messages remembered per phase; more are only counted, so a failing run stays small. */
export const ERROR_KINDS_MAX = 8;

/** The fid list is written in chunks of about this size, one write at a time. */
export const LIST_FLUSH_BYTES = 64 * 1024;

/** A list file longer than this is refused rather than read into memory (about 40 bytes a line). */
export const LIST_FILE_MAX_BYTES = 1024 * 1024 * 1024;

/** SeaweedFS prints progress every second. */
export const PROGRESS_INTERVAL_MS_DEFAULT = 1_000;
