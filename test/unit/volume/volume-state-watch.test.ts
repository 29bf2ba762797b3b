// The volume server's prompt report of volumes turned full, crowded, read-only or writable: the
// master hears of them at once instead of at the next full heartbeat (volume-state-watch.ts).
import { describe, expect, it } from "vitest";
import { VolumeStateWatch } from "../../../src/volume/volume-state-watch.js";
import type { VolumeInfo } from "../../../src/volume/storage/store-api.js";

function info(id: number, size: number, readOnly = false): VolumeInfo {
  return {
    ...{ id, collection: "", replicaPlacement: { diffDataCenter: 0, diffRack: 0, sameRack: 0 } },
    ...{ ttl: { count: 0, unit: 0 } },
    ...{ size, fileCount: 0, deleteCount: 0, deletedByteCount: 0, readOnly, version: 3, compactRevision: 0 },
    ...{ modifiedAtSecond: 0, maxFileKey: 0n, needsCheck: false },
  };
}

describe("VolumeStateWatch", () => {
  it("says changed when a volume crosses 90% or the limit, or turns read-only or writable; not for growth", () => {
    const w = new VolumeStateWatch();
    expect(w.changed([info(1, 100), info(2, 100)], 1000)).toBe(false);
    expect(w.changed([info(1, 200), info(2, 100)], 1000)).toBe(false);
    expect(w.changed([info(1, 901), info(2, 100)], 1000)).toBe(true);
    expect(w.changed([info(1, 950), info(2, 100)], 1000)).toBe(false);
    expect(w.changed([info(1, 1000), info(2, 100)], 1000)).toBe(true);
    expect(w.changed([info(1, 1000), info(2, 100, true)], 1000)).toBe(true);
    expect(w.changed([info(1, 1000), info(2, 100, false)], 1000)).toBe(true);
    // A new volume is the delta's business; an unknown limit (0) knows no full volume.
    expect(w.changed([info(1, 1000), info(2, 100), info(3, 5000)], 1000)).toBe(false);
    expect(w.changed([info(1, 1000), info(2, 100), info(3, 5000)], 0)).toBe(true);
  });
});
