// TTL volume retirement with an injected clock (ttl-volume-expiry.ts; SeaweedFS volume.go expired,
// expiredLongEnough): live until one second past last write + TTL, then expired (left out of
// heartbeats) for 10% of the TTL (whole minutes, at most 10), then removed by its server.
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/common/logger.js";
import { TtlVolumeRetirer, ttlVolumeVerdict } from "../../../src/volume/ttl-volume-expiry.js";
import type { StoreApi, VolumeInfo } from "../../../src/volume/storage/store-api.js";

const LIMIT = 1 << 20;
const MINUTE = 60_000;
/** Units of common/ttl.ts: 1 minute, 2 hour. */
const ttl = (count: number, unit: number) => ({ count, unit });
const T0 = 1_700_000_000;

function volume(id: number, t: { count: number; unit: number }, size = 100, modifiedAtSecond = T0): VolumeInfo {
  return {
    ...{ id, collection: "c", replicaPlacement: { diffDataCenter: 0, diffRack: 0, sameRack: 0 }, ttl: t },
    ...{ size, fileCount: 1, deleteCount: 0, deletedByteCount: 0, readOnly: false, version: 3 },
    ...{ compactRevision: 0, modifiedAtSecond, maxFileKey: 1n, needsCheck: false },
  };
}

describe("ttlVolumeVerdict", () => {
  it("1m: live through a minute and a second, then removed at once (10% of a minute is 0 whole minutes)", () => {
    const v = volume(1, ttl(1, 1));
    expect(ttlVolumeVerdict(v, T0 * 1000 + MINUTE + 999, LIMIT)).toBe("live");
    expect(ttlVolumeVerdict(v, T0 * 1000 + MINUTE + 1000, LIMIT)).toBe("remove");
  });

  it("3h: expired for 18 minutes capped at 10, then removed", () => {
    const v = volume(1, ttl(3, 2));
    const expiry = T0 * 1000 + 180 * MINUTE + 1000;
    expect(ttlVolumeVerdict(v, expiry - 1, LIMIT)).toBe("live");
    expect(ttlVolumeVerdict(v, expiry, LIMIT)).toBe("expired");
    expect(ttlVolumeVerdict(v, expiry + 10 * MINUTE - 1, LIMIT)).toBe("expired");
    expect(ttlVolumeVerdict(v, expiry + 10 * MINUTE, LIMIT)).toBe("remove");
    // 30m: 3 minutes of grace.
    const w = volume(2, ttl(30, 1));
    expect(ttlVolumeVerdict(w, T0 * 1000 + 33 * MINUTE + 999, LIMIT)).toBe("expired");
    expect(ttlVolumeVerdict(w, T0 * 1000 + 33 * MINUTE + 1000, LIMIT)).toBe("remove");
  });

  it("never for a volume without TTL, an empty one, or before the master's limit is known", () => {
    const late = T0 * 1000 + 1000 * MINUTE;
    expect(ttlVolumeVerdict(volume(1, ttl(0, 0)), late, LIMIT)).toBe("live");
    expect(ttlVolumeVerdict(volume(1, ttl(1, 1), 8), late, LIMIT)).toBe("live");
    expect(ttlVolumeVerdict(volume(1, ttl(1, 1)), late, 0)).toBe("live");
  });
});

describe("TtlVolumeRetirer", () => {
  it("deletes only the volumes due, hides expired ones, and spares one written since", async () => {
    let now = T0 * 1000;
    const vols = new Map<number, VolumeInfo>([
      [1, volume(1, ttl(1, 1))],
      [2, volume(2, ttl(0, 0))],
      [3, volume(3, ttl(1, 1), 100, T0 + 30)],
      [4, volume(4, ttl(3, 2))],
    ]);
    const deleted: number[] = [];
    const store = {
      volumeInfos: () => [...vols.values()],
      volumeInfo: (id: number) => vols.get(id),
      deleteVolume: async (id: number) => {
        deleted.push(id);
        vols.delete(id);
      },
    } as unknown as StoreApi;
    const r = new TtlVolumeRetirer({ store, nowMs: () => now, limitBytes: () => LIMIT, logger: silentLogger() });
    expect(await r.check()).toEqual([]);
    now += MINUTE + 1000;
    expect(await r.check()).toEqual([1]);
    now += 30_000;
    // Volume 3 was written to again just now: live.
    vols.set(3, volume(3, ttl(1, 1), 200, Math.floor(now / 1000)));
    expect(await r.check()).toEqual([]);
    now += 180 * MINUTE;
    expect(r.unreported(vols.get(4)!)).toBe(true);
    expect(await r.check()).toEqual([3]);
    now += 10 * MINUTE;
    expect(await r.check()).toEqual([4]);
    expect(deleted).toEqual([1, 3, 4]);
    await r.close();
  });
});
