// Every bound the master keeps, in one place, each with the reason for its number. Units last.
import { assert } from "../common/errors.js";

/**
 * Keys reserved per committed Raft entry. One commit costs ~1-2 ms here; at the 5,000 assigns/s
 * target a 10,000-key block is one commit every ~2 s, and a leader change skips at most one block
 * of keys (2^53 keys leave room for ~9e11 leader changes).
 */
export const fileKeyBlockSize = 10_000;

/**
 * Reserve the next block when fewer keys than this remain in hand, so assigns never wait for the
 * disk: half a block is ~1 s of headroom at the target rate, far above one sync write.
 */
export const fileKeyRefillThreshold = fileKeyBlockSize / 2;

/**
 * Largest `count` one assign may ask for. `weed upload` of a directory asks for one key per file;
 * a whole block is the most one reservation can hand out in one piece.
 */
export const assignCountMax = fileKeyBlockSize;

/**
 * Keys are JS numbers (two uint32 would do too, but a double is exact up to 2^53 and costs no
 * allocation). A heartbeat reporting a key above this cannot have come from our sequencer; it is
 * logged and ignored rather than wrapping the counter.
 */
export const fileKeyMax = Number.MAX_SAFE_INTEGER - fileKeyBlockSize;

/** Volume ids are uint32 on the wire and on disk (superblock, file names). */
export const volumeIdMax = 0xffff_ffff;

/** How long an assign waits for a key block reservation before answering 503 (one sync write plus slack). */
export const fileKeyReserveWaitMs = 5_000;

/**
 * How long an assign waits for a growth that is under way (its own or another request's) before
 * answering 503 + Retry-After. SeaweedFS loops for 10 s; one AllocateVolume round trip plus a sync
 * write is normally a few ms, so half of that still absorbs a slow disk.
 */
export const assignGrowthWaitMs = 5_000;

/** Retry-After (seconds) sent with "growth in progress" and "warming up" 503s, as SeaweedFS does. */
export const retryAfterSec = 1;

/** Deadline of one AllocateVolume / VolumeDelete call to a volume server. */
export const allocateVolumeTimeoutMs = 10_000;

/**
 * Volumes grown per layout when none is writable, by copy count (SeaweedFS master.toml copy_1=7,
 * copy_2=6, copy_3=3, other=1).
 */
export function defaultGrowthCount(copies: number): number {
  if (copies === 1) return 7;
  if (copies === 2) return 6;
  if (copies === 3) return 3;
  return 1;
}

/** Upper bound on volumes one growth request (`/vol/grow?count=` or `writableVolumeCount`) may create. */
export const growthCountMax = 100;

/** Bytes of a /submit upload (SeaweedFS's volume server default -fileSizeLimitMB=256). */
export const submitBytesMax = 256 * 1024 * 1024;

/** Bytes of an urlencoded form body on the small admin/assign routes (parameters only). */
export const formBodyBytesMax = 64 * 1024;

/** Deadline of the upload from /submit to the volume server (headers and body each). */
export const submitUploadTimeoutMs = 30_000;

/** Keep-alive connections per volume server for /submit uploads. */
export const uploadConnectionsPerServer = 16;

/** Grace for in-flight HTTP requests and gRPC calls on close() before connections are cut. */
export const closeGraceMs = 2_000;

/** Volume ids shown in "VolumeIds" of /dir/status before " ..." (SeaweedFS HumanReadableIntsMax(100)). */
export const statusVolumeIdsMax = 100;

/**
 * Volumes one heartbeat may list. A server with SeaweedFS's default -max=8 per dir lists a few
 * dozen; 100k covers any real disk set and keeps one message's processing bounded.
 */
export const heartbeatVolumesMax = 100_000;

/**
 * Default -pulseSeconds: how often volume servers send a full heartbeat (SeaweedFS's default too).
 * The volume server's own -pulseSeconds must not exceed the master's (as in SeaweedFS).
 */
export const pulseSecondsDefault = 5;

/**
 * A volume server whose stream has carried no beat for this many pulses is dropped from the
 * topology (and its volumes stop being assigned), even if the stream never errors: a peer hung in
 * user space (SIGSTOP, a wedged event loop) keeps its TCP connection alive. Three pulses forgive a
 * beat delayed by a slow disk scan or a GC pause; a silent network is noticed sooner by keepalive.
 */
export const silentPulsesMax = 3;

/**
 * gRPC keepalive on the master's server (heartbeats and the Raft transport share it): a ping after
 * this much quiet, and the connection is closed if the ping is unanswered as long again. A volume
 * server behind a lossy cut is thus dropped within ~2 s instead of when TCP gives up (minutes).
 * Longer than the Raft transport's own liveness (peers ping from their side every 400 ms), so it
 * never cuts a Raft stream first; one second tolerates a volume server's busy event loop.
 */
export const grpcKeepaliveMs = 1_000;

/** Default -volumeSizeLimitMB (SeaweedFS since #10761) and the hard ceiling of 4-byte offsets. */
export const volumeSizeLimitMBDefault = 30 * 1024;
export const volumeSizeLimitMBMax = 30 * 1024;

assert(fileKeyRefillThreshold > 0 && fileKeyRefillThreshold < fileKeyBlockSize, "refill threshold inside a block");
assert(assignCountMax <= fileKeyBlockSize, "a count>1 assign must fit in one block");

/**
 * How long a Raft proposal (volume id, key block) may wait to commit. Several election timeouts,
 * so a proposal survives one leader change; short enough that an assign answers 503 promptly.
 */
export const raftProposeTimeoutMs = 5_000;

/** A forwarded request may take as long as a /submit upload (it may be one). */
export const forwardTimeoutMs = submitUploadTimeoutMs;

/**
 * After the leader changes, a request forwarded to the old one that is still unanswered this much
 * later is failed (outcome unknown) instead of waiting out forwardTimeoutMs. A live old leader
 * answers well within it (one that removed itself or handed over replies as soon as that
 * commits); a cut-off or hung one never does.
 */
export const leaderChangeGraceMs = 1_000;

/**
 * A follower's connect to the leader for a forward gives up after this (undici's default is 10 s).
 * The masters are on one LAN: a connect that takes longer is to a leader cut off, and a forward
 * that never connected is sent again to the next leader (nothing reached the old one).
 */
export const forwardConnectTimeoutMs = 1_000;

/**
 * After a volume server leaves the topology (its stream ended or broke), uploads still in flight
 * to it this much later are failed as outcome unknown: a stopping volume server takes requests for
 * 0.5 s after its heartbeat ends and finishes them within 2 s (its drainLingerMs, httpCloseGraceMs).
 */
export const uploadDrainGraceMs = 3_000;

/** Keep-alive connections from a follower to the leader, for forwarded HTTP requests. */
export const forwardConnectionsMax = 32;

/**
 * After a master becomes leader its topology is empty until volume servers reconnect (they learn
 * the leader from a follower's answer, or after their stream to the old leader breaks, within a
 * second or two). For this long it grows no volume, and an assign that finds no writable volume
 * waits briefly for heartbeats (warmUpAssignWaitMs) before answering 503 + Retry-After.
 */
export const leaderWarmUpMs = 3_000;

/**
 * How long one assign waits during the warm-up for a volume server to report a writable volume
 * before it answers 503 + Retry-After: a beat or two, so most assigns after a failover succeed.
 * 1.5 s was short on a loaded 2-core machine (a restarted server's first assign sometimes got the
 * 503 while its volume servers were still reconnecting); 2.5 s is still within the 3 s warm-up.
 */
export const warmUpAssignWaitMs = 2_500;

/** How often an assign waiting out the warm-up looks for a writable volume again. */
export const warmUpPollMs = 25;

/** A single master campaigns after one election timeout (< 1 s); more means something is wrong. */
export const soloElectionWaitMs = 10_000;

/** Membership changes waiting for the one in progress; more are refused (503) rather than queued. */
export const membershipQueueMax = 8;

/** One Raft membership change (add-learner, promote, remove, transfer) may take this long to commit. */
export const memberChangeTimeoutMs = 10_000;

/**
 * How long an add waits for the new learner to answer and catch up before promoting it. A joiner
 * far behind catches up by snapshot within seconds; one that never starts is given up on and the
 * joiner's own retry (or the operator) adds it again.
 */
export const memberCatchUpTimeoutMs = 20_000;

/** A joining master asks its -peers to add it this often at first, backing off to joinRetryMaxMs. */
export const joinRetryBaseMs = 250;
export const joinRetryMaxMs = 2_000;

/** A joiner that is not admitted yet says so at most this often. */
export const joinLogEveryMs = 5_000;

/** One join request (forwarded to the leader, which adds and promotes) may take this long. */
export const joinRequestTimeoutMs = memberCatchUpTimeoutMs + memberChangeTimeoutMs;

/**
 * How long a request to a follower waits for a leader (an election, a hand-off) before it is
 * answered 503 + Retry-After. An election settles within 2-3 election timeouts (< 1 s with the
 * default timing), a hand-off within a few round trips; 3 s covers both with room.
 */
export const leaderWaitMs = 3_000;

/**
 * A request waiting for a leader wakes on the Raft runtime's role and leader events; it also looks
 * again this often, for the one change without an event: a leader whose loop stalled (a paused
 * process) counts as leading again once its ticks catch up, within a tick or two.
 */
export const leaderRecheckMs = 100;

/** A forwarded request passes at most this many masters (a hand-off mid-forward adds one). */
export const forwardHopsMax = 2;

/** Attempts to forward a bodyless request whose previous attempt could not connect. */
export const forwardAttemptsMax = 3;

/** A stopping leader waits this long for a follower to take over before it stops anyway. */
export const handOffTimeoutMs = 3_000;

/** A membership change that fails the reachable-quorum check is re-checked this long before it is refused. */
export const quorumCheckWaitMs = 1_500;

/** gRPC grace at the end of a master's stop, once HTTP has drained and Raft is closed. */
export const grpcCloseGraceMs = 250;

/**
 * A follower reads a forwarded body of up to 4 MiB (most blobs) before forwarding it, so that it
 * can send it again to the next leader when the last one could not be connected to; larger or
 * chunked bodies stream and are sent once.
 */
export const forwardBodyBufferMax = 4 * 1024 * 1024;

/** All bodies a follower holds for that at once: 64 MiB; beyond it, bodies stream. */
export const forwardBodyBudgetMax = 64 * 1024 * 1024;

/** A leader asked to add a master asks it for its cluster id first; it must answer this fast. */
export const memberProbeTimeoutMs = 2_000;

/**
 * How long a volume stays short of the copies its placement asks for before the leader copies it
 * by itself (-repairGraceSeconds). A volume server restarted for an upgrade, or one whose host
 * reboots, is back with its volumes within a minute or two; three minutes leaves it that, so a
 * restart copies nothing, while a lost disk is still rebuilt minutes after. 0 turns the leader's
 * own repair off (volume.fix.replication then does it).
 */
export const repairGraceSecondsDefault = 180;
/** A week: a volume left with fewer copies for longer is better said with 0 (off). */
export const repairGraceSecondsMax = 7 * 24 * 3600;

/**
 * A master that has known no leader this long says so at warn (quorum-watch.ts): an election takes
 * well under a second, a leader restart a few; five seconds is neither.
 */
export const noLeaderWarnMs = 5_000;

/** SeaweedFS's -garbageThreshold default: a volume a third garbage is worth rewriting. */
export const garbageThresholdDefault = 0.3;

/** SeaweedFS vacuums every 15 minutes: often enough to give space back the same hour. */
export const vacuumPeriodMsDefault = 15 * 60_000;
/** A pass every few seconds would only re-check ratios that cannot have moved much. */
export const vacuumPeriodMsMin = 10_000;
/** A day: rarer than that, turn it off (0) and vacuum by hand. */
export const vacuumPeriodMsMax = 24 * 3_600_000;

/**
 * How far above the replicated MaxVolumeId a heartbeat may report a volume id. The leader reserves
 * an id through the Raft log before any volume server creates it, so a volume is normally at or
 * below the maximum on the leader; what is left is growth in flight across a leader change (a new
 * leader applying the last reservations a moment late: a few ids) plus a wide margin. A volume
 * farther ahead is left out and never raises the maximum: a fake heartbeat can no longer push the
 * counter up (the attack raised it from 8 to 500 in one message). This bound is for a
 * server that names no cluster (it has never been admitted by one); after the masters lost their
 * state, such servers re-register in steps of this size per beat, each raising the maximum.
 */
export const heartbeatVolumeIdAheadMax = 64;

/**
 * The same bound for a server whose beat carries this cluster's id (a master told it): volumes
 * made by hand ahead of the counter (AllocateVolume by an operator, or a test: the integration
 * tests use ids up to 701) must still register. The id is not a secret (/cluster/raft shows it),
 * so this is a bound on mistakes, not on forgers; mutual TLS keeps those off the port.
 */
export const heartbeatMemberVolumeIdAheadMax = 1_000;

/**
 * Volumes a heartbeat may list beyond the max_volume_counts it reports itself: a server whose
 * -max was lowered below what it holds, or whose disk ran low (it then reports what it has), lists
 * a few more than its count; one listing hundreds more is broken or lying and nothing it says is
 * applied.
 */
export const heartbeatVolumesOverCountMax = 256;

/**
 * Largest volume size a heartbeat may report: 32 GiB, what 4-byte offsets in 8-byte units can
 * address (the -volumeSizeLimitMB ceiling is 30 GiB); a bigger size is nonsense.
 */
export const heartbeatVolumeBytesMax = 32 * 1024 * 1024 * 1024;
