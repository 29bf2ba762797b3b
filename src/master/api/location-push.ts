// Volume ids whose locations changed on the leader, gathered and sent to the volume servers as
// HeartbeatResponse.volume_locations_changed, so that a writer's cached lookup of a volume
// (replica-locations.ts, kept 10 s) is dropped when a replica is copied in or lost, not when it
// expires or a replica request fails. Changes come in bursts (a server joins with all its volumes,
// a server is dropped, a growth adds a few): they are coalesced for locationPushCoalesceMs and sent
// in messages of at most locationPushIdsMax ids, at most locationPushMessagesMax messages per
// interval; what is left waits for the next interval (nothing is dropped). A message of a few ids
// goes to every stream; a larger one only to the servers holding the volumes
// (locationPushBroadcastIdsMax says why).

/**
 * How long changes are gathered before they are sent. A burst (a server joining with hundreds of
 * volumes, or dropped with them) becomes one round of messages per stream, and a writer still
 * learns of a new or lost replica well inside a replicated write's own bound (seconds).
 */
export const locationPushCoalesceMs = 100;

/**
 * Ids per HeartbeatResponse: 1,000 varints are under 5 KB, far below gRPC's 4 MB message limit,
 * and one message covers the volumes of a typical server joining or leaving.
 */
export const locationPushIdsMax = 1_000;

/**
 * Messages per stream per interval: 16,000 ids every 100 ms drains the full report of a large
 * cluster (a new leader hears every volume as new) in about a second without flooding streams
 * whose servers are busy.
 */
export const locationPushMessagesMax = 16;

/**
 * A message of at most this many ids is sent to every stream (a growth adds a few volumes, a copy
 * or a trim changes one: a server reading such a volume remotely drops its cached lookup at once).
 * A larger one is a burst (servers joining or leaving with all their volumes, a new leader loading
 * its topology) and is sent to each server with only the ids of the volumes it holds: sending every
 * id to every stream costs servers x volumes per burst, which at 1,000 servers of 100 volumes was
 * 10^8 ids serialized after a failover, the leader's loop stalled past the volume servers'
 * keepalive and they all left and came back. A holder is whoever replicates a write of the volume,
 * so writes keep their guarantee; another server's remote read of it keeps its cached lookup until
 * it expires (10 s) or fails, as it would for a change made while it had no stream.
 */
export const locationPushBroadcastIdsMax = 32;

export interface LocationPushTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const nodeTimers: LocationPushTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

export interface LocationPushOptions {
  /** Sends one message of changed ids (sorted, at most locationPushIdsMax) to every open stream. */
  send: (volumeIds: number[]) => void;
  coalesceMs?: number;
  idsMax?: number;
  messagesMax?: number;
  timers?: LocationPushTimers;
}

export class LocationPush {
  private readonly o: LocationPushOptions;
  private readonly timers: LocationPushTimers;
  private readonly pending = new Set<number>();
  private timer: unknown;
  private closed = false;

  constructor(o: LocationPushOptions) {
    this.o = o;
    this.timers = o.timers ?? nodeTimers;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Notes a volume whose locations changed; sent with the others at the end of the interval. */
  changed(volumeId: number): void {
    if (this.closed) return;
    this.pending.add(volumeId);
    this.arm();
  }

  /** Sends what is pending now (up to the per-interval bound); the rest waits for the next interval. */
  flush(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.pending.size === 0) return;
    const idsMax = this.o.idsMax ?? locationPushIdsMax;
    const limit = idsMax * (this.o.messagesMax ?? locationPushMessagesMax);
    const ids: number[] = [];
    for (const vid of this.pending) {
      if (ids.length >= limit) break;
      ids.push(vid);
    }
    for (const vid of ids) this.pending.delete(vid);
    ids.sort((a, b) => a - b);
    for (let i = 0; i < ids.length; i += idsMax) this.o.send(ids.slice(i, i + idsMax));
    if (this.pending.size > 0) this.arm();
  }

  /** Forgets what is pending (the streams it was for are ending) and sends nothing more. */
  close(): void {
    this.closed = true;
    this.pending.clear();
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = this.timers.setTimeout(() => this.flush(), this.o.coalesceMs ?? locationPushCoalesceMs);
  }
}
