// Every bound the volume server process (HTTP, gRPC, heartbeat) lives by, in one place, units
// last. The storage engine keeps its own in src/volume/storage.

/** SeaweedFS's -fileSizeLimitMB default: one upload is buffered whole before it is appended. */
export const fileSizeLimitMBDefault = 256;

/**
 * -concurrentUploadLimitMB: bytes of uploads in flight (each buffered whole) at most. SeaweedFS
 * had 256 until 4.x made it unlimited (0, #7712); an upload here is held in memory until written,
 * so the default keeps a volume server's memory bounded: with it, 12 concurrent 250 MB uploads
 * run one after another instead of needing 3 GB at once.
 */
export const concurrentUploadLimitMBDefault = 256;
/** -concurrentDownloadLimitMB: bytes of responses in flight (a needle is read whole), as uploads. */
export const concurrentDownloadLimitMBDefault = 256;
/** -inflightUploadDataTimeout: how long an upload waits for room (SeaweedFS's default, 60 s). */
export const inflightUploadDataTimeoutMsDefault = 60_000;
/** -inflightDownloadDataTimeout: the same for downloads (SeaweedFS's default, 60 s). */
export const inflightDownloadDataTimeoutMsDefault = 60_000;
/**
 * Requests waiting for room at once (each direction); more are refused at once. A waiter holds a
 * socket and what its kernel buffers (~100 KiB), never its body: 1024 waiters cost ~100 MB at worst.
 */
export const inflightWaitersMax = 1024;
/** Retry-After (seconds) on a refusal for room: an upload of 256 MB on a LAN takes about that long. */
export const inflightRetryAfterSec = 2;

/**
 * Bodies of at least this many bytes are read into pooled buffers (upload-buffers.ts), whose
 * pages are mapped already; smaller ones come from Node's allocator as before.
 */
export const uploadBufferPooledBytesMin = 1024 * 1024;
/** The upload buffer pool is emptied after this long without a large upload. */
export const uploadBufferIdleMs = 5_000;

/** Content-MD5 of a large upload is hashed this much at a time (~1.5 ms), the event loop running between. */
export const md5SliceBytes = 1024 * 1024;
/** Output chunk of inflating a gzip upload to measure and hash it (zlib's default is 16 KiB). */
export const inflateChunkBytes = 1024 * 1024;

/** -minFreeSpacePercent default (SeaweedFS's): below 1 % free, the disk's volumes turn read-only. */
export const minFreeSpacePercentDefault = "1";
/**
 * Free space is checked this often (and at once after a write found the disk full). SeaweedFS
 * checks every minute; a statfs costs microseconds, and at 1 GB/s of writes a 1 TB disk's 1 %
 * goes in 10 s, so more often. Also how soon volumes are writable again once space returns.
 */
export const diskSpaceCheckIntervalMsDefault = 5_000;

// Multipart bounds are the upload reader's, shared with the master's /submit so that both give
// the same answer (src/common/multipart-limits.ts).

/** Ranges answered in one multipart/byteranges reply; more and the Range header is ignored (200). */
export const rangesMax = 16;

/**
 * Decompressing a stored gzip needle (a client without Accept-Encoding: gzip, or checking
 * Content-MD5 of a gzipped upload) never makes a buffer larger than this: a gzip bomb stays a 500.
 */
export const gunzipOutputBytesMax = 1024 * 1024 * 1024;

/** Whole-request time on the HTTP listener (Node's default): a 256 MB upload at ~1 MB/s fits. */
export const httpRequestTimeoutMs = 300_000;
/** Time to receive the request headers: slow-loris protection. */
export const httpHeadersTimeoutMs = 60_000;
/** Idle keep-alive connections are closed after this (SeaweedFS -idleTimeout is 30 s). */
export const httpKeepAliveTimeoutMs = 30_000;
/** close(): in-flight HTTP requests get this long before their sockets are destroyed. */
export const httpCloseGraceMs = 2_000;
/** close(): in-flight gRPC calls get this long before forceShutdown. */
export const grpcCloseGraceMs = 2_000;

/**
 * After its heartbeat ends (the leader drops it from the topology at once), a stopping volume
 * server keeps taking requests this long: a client may hold an assign the leader handed out just
 * before, and its upload arrives a moment later. Several loopback/LAN round trips.
 */
export const drainLingerMs = 500;

/** A beat with the full volume list this often (SeaweedFS's VolumePulsePeriod is 5 s). */
export const heartbeatIntervalMsDefault = 5_000;
/** First reconnect delay after a heartbeat stream fails; doubles per consecutive failure. */
export const heartbeatReconnectBaseMs = 250;
/** Reconnect delay cap: SeaweedFS waits 5 s between attempts, so a dead master is retried as often. */
export const heartbeatReconnectMsMax = 5_000;
/**
 * After a stream that was working breaks (the leader died), the next master is asked after only
 * this long, and again at this pace while followers still name the lost leader: an election takes
 * ~0.4 s, and volume servers must reach the new leader right after it.
 */
export const heartbeatElectionPollMs = 100;
/** For this long after losing a master, a follower's hint naming it is taken as stale. */
export const heartbeatStaleLeaderMs = 5_000;
/**
 * No master answering for this long is said once at warn (each retry is debug): longer than an
 * election and a leader restart, so a routine failover says nothing above info.
 */
export const heartbeatOutageWarnMs = 10_000;
/** Redirects followed at once in a row; more than this (masters naming each other) backs off. */
export const heartbeatRedirectsAtOnceMax = 4;
/** Each delay is drawn from [d * (1 - this), d]: volume servers restarted together do not stampede. */
export const heartbeatReconnectJitter = 0.5;
/**
 * gRPC keepalive on the heartbeat channel: a ping after this much silence. A master behind a
 * partition (packets dropped, no RST) never fails the stream otherwise, and the volume server
 * would keep reporting to a leader nobody follows. grpc-js servers accept pings at any rate.
 */
export const heartbeatKeepaliveMs = 200;
/**
 * ...and the stream is declared dead when the ping is not answered within this: a leader cut off
 * or hung is left within 0.4-0.6 s, about when Raft has elected its successor (0.4-0.6 s), so the
 * new leader hears from its volume servers, and takes writes, within a second of losing the old
 * one. A master whose event loop stalls this long costs a reconnect (the volume server re-registers
 * within a beat), which is cheaper than assigns failing for seconds after every failover.
 */
export const heartbeatKeepaliveTimeoutMs = 400;
/**
 * A master that has not answered a new stream's first beat within this is given up and the next
 * one asked, on a new connection. A connect stuck behind a cut otherwise waits for TCP's SYN
 * retransmissions (1, 3, 7, 15 s...), so a volume server would re-register long after a heal.
 */
export const heartbeatAnswerTimeoutMs = 2_000;
/**
 * The known-master list grows from leader hints (so -mserver may name a single master); learned
 * entries past this count evict the oldest learned one. Raft groups are 3 or 5 masters.
 */
export const knownMastersMax = 16;

// Replicated writes and deletes (src/volume/replication). A write is answered only when every
// replica confirmed, so each bound below is a bound on how long a client waits for an answer
// when a replica is dead, cut off or stopped (SIGSTOP): the sum stays under 10 s for a small blob.

/**
 * A replica's TCP connect. Loopback and LAN connects take well under a millisecond; a peer that
 * drops SYNs (cut off, powered down) would otherwise hold the write for the kernel's retries.
 */
export const replicaConnectTimeoutMs = 1_000;
/**
 * From the request sent to the replica's answer headers: its append, and an fsync when asked
 * (a few ms, up to ~1 s on a busy disk). A stopped replica that accepted the connection is
 * noticed here.
 */
export const replicaHeadersTimeoutMs = 5_000;
/** Between chunks of a replica's answer body (a few bytes of JSON, sent with the headers). */
export const replicaBodyTimeoutMs = 2_000;
/**
 * The whole replica request, body included, for a small blob: undici's header timer does not run
 * while the request body is still being written (a stopped replica whose socket buffers filled),
 * so this bounds that case too. 7.5 s + the master lookup (replicaLookupTimeoutMs) + the body's
 * allowance for a blob of up to ~5 MB stays under 10 s.
 */
export const replicaRequestBaseMs = 7_500;
/**
 * ...plus the time to send the body at this rate at the least (10 MB/s, a hundredth of a 1 GbE
 * link): a 256 MB blob gets 7.5 s + 27 s, a 64 KiB one 7.5 s.
 */
export const replicaSendBytesPerMsMin = 10_000;
/** Connections kept to each replica: as many writes to one replica run at once. */
export const replicaConnectionsPerServer = 64;
/** Idle replica connections are closed after this (below the peers' 30 s keep-alive). */
export const replicaKeepAliveMs = 10_000;

/**
 * The master's answer to a volume lookup (the replica locations of a write, the holders of a
 * read this server does not hold). The leader answers from memory; 2 s covers a leader change.
 */
export const replicaLookupTimeoutMs = 2_000;
/** A lookup answer this large at most (a volume has a handful of locations). */
export const replicaLookupBodyBytesMax = 64 * 1024;
/**
 * A cached lookup is used this long, then asked again: a replica added by a repair, or a server
 * that left without a failed write noticing, is seen within it. Dropped at once on a replica error
 * or a refusal for too few locations. SeaweedFS's client cache keeps entries 10 minutes.
 */
export const replicaLookupTtlMs = 10_000;
/** Volumes whose locations are cached at once; the oldest entry goes first (a server holds ~100s). */
export const replicaLookupEntriesMax = 4_096;
