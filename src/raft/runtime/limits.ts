// Every bound the Raft runtime enforces, in one place, units last, with why that number. The core's
// own limits (message bytes, in-flight appends, uncommitted bytes, pending reads) live in
// ../config.ts; the runtime passes them through (RuntimeOptions.core) and adds the ones below for
// what only it owns: timers, queues, sockets and the disk.

/** Defaults of the timing options (see TUNING.md for how to change them and what they cost). */
export const timingDefaults = {
  /**
   * One core tick. 50 ms keeps timer overhead negligible (20 wake-ups a second, a heartbeat each)
   * while election timeouts in whole ticks still land in the few-hundred-ms range.
   */
  tickMs: 50,
  /**
   * Election timeout base E in ticks. A follower campaigns after a random E+1..2E-1 ticks = 350-550
   * ms without a leader (the runtime's jitter skips exactly E, see campaignJitter in runtime.ts),
   * so failover takes ~0.4 s median on loopback (bench-raft, 10 kills). Seven heartbeats fit in
   * the minimum timeout, so losing a few to a GC pause or a slow fsync does not start an
   * election; the CheckQuorum leader lease is E = 300 ms. (E = 5 measured ~0.35 s median with
   * less margin against stalls on a shared, busy host.)
   */
  electionTicks: 6,
  /** A heartbeat every tick (50 ms): cheap on a 3-5 node group and keeps the lease fresh. */
  heartbeatTicks: 1,
  /**
   * CheckQuorum rounds (of E ticks) in a row without a quorum before a leader steps down: 2, so a
   * leader steps down after 600-900 ms of silence (one round of 300 ms, as etcd, was too little
   * here). After a failover with 1,000 volume servers re-registering on a 2-core host, a follower's
   * loop stalled 200-350 ms and its answers came 530-550 ms apart: the new leader stepped down in 8
   * of 9 bench:scale runs, and every server moved again. Followers' election timeouts are not
   * touched, so a leader cut off is still replaced in 350-550 ms (issue 10: writes resume within
   * 1 s); only the cut-off leader itself notices up to ~0.6 s later (it cannot commit meanwhile).
   */
  checkQuorumRounds: 2,
} as const;

/**
 * The core's limits as the runtime sets them (../config.ts documents each; these are its defaults,
 * restated here so that every bound of a running node is in one file). Override per node with
 * RaftRuntimeOptions.core.
 */
export const coreLimits = {
  /**
   * Payload bytes per append message: 1 MiB. Must stay below batchBytesMax (one append per gRPC
   * write at worst) and is also the largest single proposal (entryBytesMax).
   */
  msgBytesMax: 1024 * 1024,
  /**
   * Append messages in flight per follower: 256. At ~1 ms per round trip on loopback this keeps a
   * follower busy at any rate the leader can produce; in bytes at most 256 MiB, normally a few KiB.
   */
  inflightAppendsMax: 256,
  /**
   * Uncommitted payload a leader accepts before dropping proposals: 64 MiB, so a leader that lost
   * its quorum stops growing its log (and memory) long before the process is in danger.
   */
  uncommittedBytesMax: 64 * 1024 * 1024,
  /** Committed payload handed to apply per Ready: 4 MiB keeps one apply batch short. */
  committedBytesPerReadyMax: 4 * 1024 * 1024,
  /** ReadIndex requests a leader holds at once; the runtime batches reads, so few are needed. */
  readIndexRequestsMax: 4096,
} as const;

export const runtimeLimits = {
  // --- Proposals and reads waiting in the runtime -----------------------------------------------
  /**
   * Proposals (and conf changes) appended but not yet applied, per node. With ~6k commits/s and a
   * few ms of commit latency a few hundred are in flight; 16384 leaves room for bursts while a
   * stuck leader cannot accumulate promises (and their timers) without bound. The core's
   * uncommittedBytesMax bounds the same backlog in bytes.
   */
  pendingProposalsMax: 16_384,
  /** Linearizable reads waiting for a read index or for apply to catch up, per node. */
  pendingReadsMax: 16_384,
  /** A proposal with no timeoutMs gives up (outcome unknown) after this long. */
  proposeTimeoutMsDefault: 10_000,
  /** readIndex() with no timeoutMs gives up after this long (a read is always safe to retry). */
  readTimeoutMsDefault: 5_000,
  /**
   * A read index request that got no answer within this many ticks is asked again with a new
   * context (the request or its answer was lost, e.g. to a leader change).
   */
  readRetryTicks: 4,
  /** Upper bound on addLearner/promote/remove/transfer waits when the caller gives none. */
  membershipTimeoutMsDefault: 30_000,

  // --- The event loop ---------------------------------------------------------------------------
  /**
   * Readies handled back to back without a disk write before the loop yields to I/O
   * (setImmediate), so a stream of message-only Readies cannot starve sockets and timers.
   */
  readyRoundsBeforeYield: 32,

  // --- Snapshots and compaction -----------------------------------------------------------------
  /**
   * Snapshot the state machine and drop the log prefix every this many applied entries. 8192 (as
   * hashicorp/raft) bounds the in-memory log to a few MiB and restart replay to well under a second.
   */
  snapshotThresholdEntries: 8192,
  /**
   * A leader cuts its log at a snapshot only once every active follower has the snapshot's index
   * (so that a follower a few ms behind is not sent a whole snapshot), but never lets the log grow
   * beyond this many thresholds: a follower that far behind gets InstallSnapshot.
   */
  snapshotDeferFactorMax: 4,
  /**
   * A snapshot travels in one message (the core has no chunked InstallSnapshot), so the gRPC
   * message limit must admit the largest snapshot. 256 MiB; a bigger state machine needs chunking.
   */
  snapshotBytesMax: 256 * 1024 * 1024,

  // --- Transport ----------------------------------------------------------------------------------
  /**
   * Messages queued for one peer and not yet handed to its gRPC stream. The core keeps at most
   * inflightAppendsMax (256) appends outstanding per follower plus one heartbeat per tick, so a
   * healthy peer never gets near 4096; a peer that does is slow or gone: drop and tell the core.
   */
  peerQueueMessagesMax: 4096,
  /** Bytes queued for one peer: 64 MiB, a few seconds of full-speed replication. */
  peerQueueBytesMax: 64 * 1024 * 1024,
  /** Messages per gRPC write: one write per Ready per peer in practice; bounds a batch's decode. */
  batchMessagesMax: 1024,
  /** Bytes per gRPC write (a single larger message, i.e. a snapshot, is sent alone). 4 MiB. */
  batchBytesMax: 4 * 1024 * 1024,
  /** Largest gRPC message a node accepts: a full batch or one maximal snapshot, plus framing. */
  grpcMessageBytesMax: 256 * 1024 * 1024 + 1024 * 1024,
  /** First reconnect delay after a stream to a peer broke; doubles per failure, with full jitter. */
  reconnectBackoffBaseMs: 20,
  /**
   * Reconnect delay cap. With peerLivenessMs this bounds how long a healed link stays unused: a
   * down peer is tried every peerLivenessMs + U(0, 500) ms, so a heal or a restarted peer is seen
   * within ~0.9 s. Each attempt is one SYN; the core's heartbeats dropped meanwhile are cheap.
   */
  reconnectBackoffMaxMs: 500,
  /**
   * How long a peer may stay silent before its stream is given up: a stream whose open the peer
   * has not answered (with its id) by then is cancelled and reopened on a new socket; and how often
   * an HTTP/2 keepalive ping goes out (its answer may take peerPingTimeoutMs). About one election
   * timeout (6 ticks × 50 ms = 300 ms, campaigns at 350-550 ms), with margin for a busy event
   * loop. Without it a peer behind a lossy cut is noticed only when TCP gives up (minutes), and a
   * healed link is used only at TCP's next retransmission, which backs off to tens of seconds: a
   * follower cut for 30 s needed ~25 s after the heal to follow again.
   */
  peerLivenessMs: 400,
  /**
   * How long a keepalive ping's answer may take before the connection is dropped and reopened: a
   * cut link is noticed within peerLivenessMs + this (1.4 s). It was peerLivenessMs (400 ms): the
   * timer is checked before the socket is read, so a loop that stalled 400 ms dropped a connection
   * whose answer was waiting. After a failover with 1,000 volume servers re-registering on 2 cores
   * both survivors dropped theirs, lost the messages of the ~0.5 s reconnect, and the new leader
   * stepped down into three split votes (bench:scale); a second of slack covers those stalls.
   */
  peerPingTimeoutMs: 1_000,
  /**
   * After an answered stream to a peer broke, how long a TCP connect to its port may take to say
   * whether the process is gone (refused: a kill -9 closes the port at once) before the question
   * is dropped (a stalled or cut-off host: the election timeout decides). Loopback and a LAN
   * answer in well under a millisecond; 200 ms leaves room for a busy event loop.
   */
  peerGoneProbeMs: 200,
  /**
   * Senders whose last message time a node tracks (status().members[].lastHeardMs). A group has
   * a handful of members; the bound only stops a flood of made-up sender ids from growing it.
   */
  peersMax: 64,
  /** grpc-js server graceful shutdown before it forces streams closed. */
  serverShutdownGraceMs: 1_000,
} as const;

export type RuntimeLimits = { -readonly [K in keyof typeof runtimeLimits]: number };

/**
 * A refused Raft stream is logged once per remote host per this interval: a refused peer retries
 * every few hundred ms (reconnectBackoffMaxMs), and a line per attempt would bury the log; once a
 * minute still shows an operator that it goes on.
 */
export const doorLogIntervalMs = 60_000;
/**
 * Remote hosts whose last refusal log time is kept: many more than a real deployment's peers, and
 * a bound on the memory a flood of connections from many addresses can take.
 */
export const doorLogAddressesMax = 1024;
