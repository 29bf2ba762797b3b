// When a needle has outlived its TTL (SeaweedFS: volume_read.go readNeedle, volume_vacuum.go).
// The TTL is the needle's own, else its volume's (SeaweedFS gives every needle written to a TTL
// volume the volume's TTL; needles we wrote without one get it here), counted from when the needle
// was appended (AppendAtNs; LastModified in v2 volumes, which have no AppendAtNs). Expired needles
// are answered as not found and dropped by compaction.
import { ttlMinutes, type Ttl } from "../../common/ttl.js";

export interface TtlFields {
  ttl: Ttl | undefined;
  /** Unix seconds, 0 when not stored. */
  lastModified: number;
  /** Unix nanoseconds, 0n when not stored (v2). */
  appendAtNs: bigint;
}

/** When the needle expires (ms since the epoch), or undefined when it never does. */
export function needleExpiresAtMs(n: TtlFields, volumeTtl: Ttl): number | undefined {
  const own = n.ttl === undefined ? 0 : ttlMinutes(n.ttl);
  const minutes = own > 0 ? own : ttlMinutes(volumeTtl);
  if (minutes === 0) return undefined;
  const fromMs = n.appendAtNs > 0n ? Number(n.appendAtNs / 1_000_000n) : n.lastModified * 1000;
  if (fromMs === 0) return undefined;
  return fromMs + minutes * 60_000;
}

/** Expired at `nowMs`: from the expiry time on (SeaweedFS: not `now.Before(expiry)`). */
export function isExpired(n: TtlFields, volumeTtl: Ttl, nowMs: number): boolean {
  const at = needleExpiresAtMs(n, volumeTtl);
  return at !== undefined && nowMs >= at;
}
