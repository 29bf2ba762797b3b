// What the master must hear of at once rather than at the next full heartbeat (SeaweedFS learns it
// only then): a volume that reached the size limit the master sent (the master takes it off the
// writable list; until it hears, it keeps handing out fids on it), one past crowdedFraction of the
// limit (the master grows the layout ahead), and one marked read-only or writable (volume.mark).
// Polled, because storage tells no one of single writes: a check builds every volume's info, cheap
// next to the writes that move sizes.
//
// As SeaweedFS does, the volume server does not refuse a write to a volume at or over the limit:
// the limit is the master's to keep (it stops assigning the volume), and a write with a fid handed
// out just before is let through rather than failed. Only the 32 GiB offset limit is hard (storage).
import type { VolumeInfo } from "./storage/store-api.js";

/** The master's crowded threshold (src/master/topology/volume-layout.ts crowdedFraction, SeaweedFS 0.9). */
export const crowdedFraction = 0.9;

/**
 * How often sizes and read-only flags are compared with what the master was last told: a writer
 * at 100 MB/s overshoots a full volume by ~25 MB before the master hears (plus one round trip),
 * under 0.1% of the default 30 GiB limit; with thousands of volumes a check is still well under
 * a millisecond of the 250.
 */
export const volumeStateCheckIntervalMs = 250;

const FULL = 1;
const CROWDED = 2;
const READ_ONLY = 4;

function stateOf(v: VolumeInfo, limitBytes: number): number {
  let s = v.readOnly ? READ_ONLY : 0;
  if (limitBytes > 0 && v.size >= limitBytes) s |= FULL;
  else if (limitBytes > 0 && v.size > limitBytes * crowdedFraction) s |= CROWDED;
  return s;
}

/** Remembers each volume's full / crowded / read-only state as last reported. */
export class VolumeStateWatch {
  #last = new Map<number, number>();
  /** The map the next call fills: the two swap, so a check (every 250 ms) allocates none. */
  #next = new Map<number, number>();

  /**
   * Records the states of `infos` (the volumes a beat reports) and says whether any of them differs
   * from the last call's. Volumes that appeared or went are the deltas' business, not counted here.
   */
  changed(infos: readonly VolumeInfo[], limitBytes: number): boolean {
    const next = this.#next;
    const last = this.#last;
    next.clear();
    let changed = false;
    for (const v of infos) {
      const s = stateOf(v, limitBytes);
      next.set(v.id, s);
      const before = last.get(v.id);
      if (before !== undefined && before !== s) changed = true;
    }
    this.#last = next;
    this.#next = last;
    return changed;
  }
}
