// Every bound the volume server process (HTTP, gRPC, heartbeat) lives by, in one place, units
// last. The storage engine keeps its own in src/volume/storage.

/** SeaweedFS's -fileSizeLimitMB default: one upload is buffered whole before it is appended. */
export const fileSizeLimitMBDefault = 256;

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
/** Redirects followed at once in a row; more than this (masters naming each other) backs off. */
export const heartbeatRedirectsAtOnceMax = 4;
/** Each delay is drawn from [d * (1 - this), d]: volume servers restarted together do not stampede. */
export const heartbeatReconnectJitter = 0.5;
/**
 * gRPC keepalive on the heartbeat channel: a ping after this much silence. A master behind a
 * partition (packets dropped, no RST) never fails the stream otherwise, and the volume server
 * would keep reporting to a leader nobody follows. grpc-js servers accept pings at any rate.
 */
export const heartbeatKeepaliveMs = 1_000;
/**
 * ...and the stream is declared dead when the ping is not answered within this. Together about
 * 2 s: a leader that hangs (SIGSTOP, a stalled disk) is replaced by Raft in under a second, and
 * volume servers must follow within "a second or two" for assigns to find writable volumes.
 */
export const heartbeatKeepaliveTimeoutMs = 1_000;
/**
 * The known-master list grows from leader hints (so -mserver may name a single master); learned
 * entries past this count evict the oldest learned one. Raft groups are 3 or 5 masters.
 */
export const knownMastersMax = 16;
