// The bounds of replica repair, by the shell and by the leader in the background, each with the
// reason for its number. Units last.

/** A whole volume copy: 30 GiB at ~100 MB/s is 5 minutes; twice that before it is given up. */
export const replicaCopyTimeoutMs = 10 * 60_000;

/** VolumeDelete of one replica: an unlink of two files and an unmount, with room for a slow disk. */
export const replicaDeleteTimeoutMs = 30_000;

/**
 * How often the leader looks for volumes to repair. A scan lists the servers and the unhealthy
 * volumes only (the layouts keep those apart), so once a second costs next to nothing and adds at
 * most a second to the grace.
 */
export const repairScanIntervalMs = 1_000;

/**
 * Copies (and checks) the leader runs at once over the whole cluster. Each one streams a volume
 * between two servers at disk speed; four keep a rebuild after a lost server going on several
 * pairs without the repair traffic crowding out clients. Per server the bound is one (as source,
 * target or checked replica), so no disk serves two repairs.
 */
export const repairJobsMax = 4;

/**
 * After a copy succeeds the volume is left alone this long while the target's heartbeat reports
 * the new replica (at once as a delta, or at the next pulse): a second copy of the same volume
 * started meanwhile would be wasted. Three default pulses (5 s).
 */
export const repairSettleMs = 15_000;

/**
 * A failed repair of a volume is retried after this, doubling per failure up to repairRetryMaxMs,
 * with jitter (half to all of it) so repairs that failed together do not retry together.
 */
export const repairRetryBaseMs = 5_000;
/** Five minutes: a volume whose repair keeps failing (no room, a dead source) is still retried often. */
export const repairRetryMaxMs = 5 * 60_000;

/**
 * A replica check (needle sets compared and reconciled between replicas) reads the two .idx files
 * and copies the needles one lacks: far less than a whole copy, but bounded the same way.
 */
export const replicaCheckTimeoutMs = replicaCopyTimeoutMs;

// --- Vacuum ---------------------------------------------------------------------------------

/** A garbage ratio is read from the volume's counters: a second; ten for a loaded server. */
export const vacuumCheckTimeoutMs = 10_000;

/**
 * A compaction rewrites the live part of the volume: SeaweedFS allows 3 minutes per GB (its
 * batchVacuumVolumeCompact), at least one minute for a small volume on a busy disk.
 */
export function vacuumCompactTimeoutMs(sizeBytes: number): number {
  return 60_000 + Math.ceil(sizeBytes / 1e9) * 3 * 60_000;
}

/**
 * A commit replays what arrived during the compaction (little: the volume is off the writable
 * list), fsyncs and renames: seconds; a minute for a slow disk before it counts as failed.
 */
export const vacuumCommitTimeoutMs = 60_000;

/** Cleanup unlinks two files. */
export const vacuumCleanupTimeoutMs = 10_000;
