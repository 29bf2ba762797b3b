// Where a volume's replicas are, as the master says: a small cache of /dir/lookup answers asked
// of the master the heartbeat stream goes to (a follower forwards the lookup to its leader). An
// entry lives replicaLookupTtlMs, is dropped at once when a replica failed or a write was refused
// for too few locations or the master says the volume's locations changed (a replica copied in or
// lost: HeartbeatResponse.volume_locations_changed), and the oldest entry goes when there are
// replicaLookupEntriesMax. All are dropped when the heartbeat stream starts anew (changes sent
// while there was none were missed).
// Concurrent writes to one volume share one lookup in flight. SeaweedFS: operation.LookupVolumeId
// and its vid cache (weed/operation/lookup_vid_cache.go).
import { ErrorCode, WeedError } from "../../common/errors.js";
import { httpAddress, parseServerAddress } from "../../common/server-address.js";
import type { VolumeLocation } from "./replica-client.js";

export interface ReplicaLocationsOptions {
  /** The master to ask ("host:port[.grpcPort]"), undefined when there is none (standalone). */
  master: () => string | undefined;
  /** Asks `master` ("host:port") for the volume's locations. */
  lookup: (master: string, volumeId: number) => Promise<VolumeLocation[]>;
  ttlMs: number;
  entriesMax: number;
  /** Monotonic milliseconds. */
  nowMs: () => number;
}

interface Entry {
  at: number;
  locations: Promise<VolumeLocation[]>;
}

export class ReplicaLocations {
  readonly #o: ReplicaLocationsOptions;
  /** Insertion order is age order: a refreshed entry is deleted and set again. */
  readonly #entries = new Map<number, Entry>();

  constructor(o: ReplicaLocationsOptions) {
    this.#o = o;
  }

  /** The volume's locations, from the cache when fresh; rejects with UNAVAILABLE when the master cannot say. */
  get(volumeId: number): Promise<VolumeLocation[]> {
    const now = this.#o.nowMs();
    const hit = this.#entries.get(volumeId);
    if (hit !== undefined && now - hit.at < this.#o.ttlMs) return hit.locations;
    this.#entries.delete(volumeId);
    const locations = this.#ask(volumeId);
    const entry: Entry = { at: now, locations };
    this.#entries.set(volumeId, entry);
    // A failed lookup is not kept: the next request asks again.
    locations.catch(() => {
      if (this.#entries.get(volumeId) === entry) this.#entries.delete(volumeId);
    });
    while (this.#entries.size > this.#o.entriesMax) {
      const oldest = this.#entries.keys().next().value as number;
      this.#entries.delete(oldest);
    }
    return locations;
  }

  /** Forgets what is known of the volume: the next request asks the master. */
  drop(volumeId: number): void {
    this.#entries.delete(volumeId);
  }

  /** Forgets the given volumes, or every volume ("all"): their locations changed or may have. */
  forget(volumeIds: readonly number[] | "all"): void {
    if (volumeIds === "all") this.#entries.clear();
    else for (const vid of volumeIds) this.#entries.delete(vid);
  }

  get size(): number {
    return this.#entries.size;
  }

  async #ask(volumeId: number): Promise<VolumeLocation[]> {
    const master = this.#o.master();
    if (master === undefined) {
      throw new WeedError(ErrorCode.UNAVAILABLE, `no master to look up the locations of volume ${volumeId}`);
    }
    try {
      return await this.#o.lookup(httpAddress(parseServerAddress(master)), volumeId);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new WeedError(ErrorCode.UNAVAILABLE, `replicating lookup failed for ${volumeId}: ${why}`, { cause: err });
    }
  }
}
