// Retiring TTL volumes (SeaweedFS weed/storage/volume.go expired/expiredLongEnough, store.go
// CollectHeartbeat): a volume with a TTL whose last write is older than the TTL holds only expired
// needles. It is then left out of heartbeats (the master drops it and assigns go elsewhere), and
// once a grace period more has passed (10% of the TTL, at most 10 minutes, in whole minutes as
// SeaweedFS counts it) its server deletes it. SeaweedFS never expires an empty volume, nor any while
// the master's size limit is not known yet (a server just started); nor do we.
//
// Ours counts in seconds where SeaweedFS counts whole minutes lived (it expires a 1m volume only
// after 2 minutes): the volume's last write is at most a second older than its newest needle's
// append time, so a volume is expired from one second after modified + TTL, when that needle is.
import { ttlMinutes } from "../common/ttl.js";
import type { Logger } from "../common/logger.js";
import type { StoreApi, VolumeInfo } from "./storage/store-api.js";

/** SeaweedFS MAX_TTL_VOLUME_REMOVAL_DELAY: the grace period after expiry is at most this. */
export const ttlRemovalDelayMinutesMax = 10;

/**
 * How often volumes are checked for removal: a check reads each volume's info (microseconds), and
 * an expired volume then goes within a second of its time rather than lingering a heartbeat.
 */
export const ttlVolumeCheckIntervalMs = 1_000;

/**
 * Volumes deleted per check at most: each closes and unlinks files and syncs the directory; a
 * backlog (a server back after a long stop) drains over a few checks without stalling the loop.
 */
export const ttlVolumeDeletesPerCheckMax = 16;

/** An empty .dat is only its superblock. */
const superBlockBytes = 8;

export type TtlVerdict = "live" | "expired" | "remove";

/** What becomes of the volume at `nowMs` (wall clock), given the master's size limit (0: unknown yet). */
export function ttlVolumeVerdict(
  v: Pick<VolumeInfo, "ttl" | "size" | "modifiedAtSecond">,
  nowMs: number,
  limitBytes: number,
): TtlVerdict {
  const minutes = ttlMinutes(v.ttl);
  if (limitBytes === 0 || minutes === 0 || v.size <= superBlockBytes) return "live";
  const expiresAtMs = (v.modifiedAtSecond + minutes * 60 + 1) * 1000;
  if (nowMs < expiresAtMs) return "live";
  const delayMinutes = Math.min(Math.floor(minutes / 10), ttlRemovalDelayMinutesMax);
  return nowMs < expiresAtMs + delayMinutes * 60_000 ? "expired" : "remove";
}

export interface TtlVolumeRetirerOptions {
  store: StoreApi;
  /** Wall-clock milliseconds: modified times are wall-clock seconds. */
  nowMs: () => number;
  /** The master's -volumeSizeLimitMB in bytes, 0 before the first heartbeat answer. */
  limitBytes: () => number;
  logger: Logger;
  intervalMs?: number;
}

/** Deletes the volumes whose verdict is "remove", every intervalMs, until close(). */
export class TtlVolumeRetirer {
  readonly #o: TtlVolumeRetirerOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number[]> | undefined;

  constructor(o: TtlVolumeRetirerOptions) {
    this.#o = o;
    this.#log = o.logger.child({ module: "ttl-volumes" });
  }

  /** Whether a heartbeat should leave the volume out (expired or due for removal). */
  unreported(v: VolumeInfo): boolean {
    return ttlVolumeVerdict(v, this.#o.nowMs(), this.#o.limitBytes()) !== "live";
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.check(), this.#o.intervalMs ?? ttlVolumeCheckIntervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One pass (at most one at a time); returns the ids deleted. Never throws. */
  check(): Promise<number[]> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #pass(): Promise<number[]> {
    const { store, nowMs, limitBytes } = this.#o;
    const now = nowMs();
    const limit = limitBytes();
    const due = store
      .volumeInfos()
      .filter((v) => ttlVolumeVerdict(v, now, limit) === "remove")
      .slice(0, ttlVolumeDeletesPerCheckMax);
    const deleted: number[] = [];
    for (const v of due) {
      // Looked at again just before: a write since the listing (a fid handed out before the
      // master dropped the volume) makes it live again.
      const fresh = store.volumeInfo(v.id);
      if (fresh === undefined || ttlVolumeVerdict(fresh, nowMs(), limitBytes()) !== "remove") continue;
      try {
        await store.deleteVolume(v.id);
        deleted.push(v.id);
        this.#log.info(
          {
            volumeId: v.id,
            collection: v.collection,
            ttlMinutes: ttlMinutes(v.ttl),
            modifiedAtSecond: v.modifiedAtSecond,
          },
          "TTL volume expired: deleted",
        );
      } catch (err) {
        this.#log.warn({ err, volumeId: v.id }, "cannot delete the expired TTL volume; trying again at the next check");
      }
    }
    return deleted;
  }
}
