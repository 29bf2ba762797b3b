// -minFreeSpace in the store: the rule's parsing (SeaweedFS's ParseMinFreeSpace), and a store whose
// disk reports (injected statfs) low space turning every volume read-only, refusing new volumes and
// lowering the count it reports, then writable again when space returns -- but never a volume that
// was read-only for another reason. The real-filesystem version is test/unit/volume/disk-full.test.ts.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { NO_TTL } from "../../../src/common/ttl.js";
import { describeDisk, isDiskLow, parseMinFreeSpace, type DiskUsage } from "../../../src/volume/storage/disk-space.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { asyncCodeOf, blob } from "./helpers.js";

describe("parseMinFreeSpace", () => {
  it("reads a bare number or N% as a percentage, and a number with a unit as bytes", () => {
    expect(parseMinFreeSpace("1")).toMatchObject({ kind: "percent", percent: 1 });
    expect(parseMinFreeSpace("1%")).toMatchObject({ kind: "percent", percent: 1 });
    expect(parseMinFreeSpace(" 2.5 ")).toMatchObject({ kind: "percent", percent: 2.5 });
    expect(parseMinFreeSpace("0")).toMatchObject({ kind: "percent", percent: 0 });
    expect(parseMinFreeSpace("100")).toMatchObject({ kind: "percent", percent: 100 });
    expect(parseMinFreeSpace("10GiB")).toMatchObject({ kind: "bytes", bytes: 10 * 2 ** 30 });
    expect(parseMinFreeSpace("500MB")).toMatchObject({ kind: "bytes", bytes: 500e6 });
    expect(parseMinFreeSpace("2 mib")).toMatchObject({ kind: "bytes", bytes: 2 * 2 ** 20 });
    expect(parseMinFreeSpace("1.5G")).toMatchObject({ kind: "bytes", bytes: 1.5e9 });
  });

  it("refuses what SeaweedFS refuses, naming the value", () => {
    for (const bad of ["101", "150%", "-1", "abc", "10XB", "", "100B", "1,2", "5 %%"]) {
      let err: unknown;
      try {
        parseMinFreeSpace(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(WeedError);
      expect((err as WeedError).code).toBe(ErrorCode.BAD_PARAM);
      expect((err as WeedError).message).toContain(JSON.stringify(bad));
    }
  });

  it("is low strictly below the minimum, as SeaweedFS's IsLow", () => {
    const pct = parseMinFreeSpace("10");
    expect(isDiskLow(pct, { freeBytes: 99, totalBytes: 1000 })).toBe(true);
    expect(isDiskLow(pct, { freeBytes: 100, totalBytes: 1000 })).toBe(false);
    const bytes = parseMinFreeSpace("1KiB");
    expect(isDiskLow(bytes, { freeBytes: 1023, totalBytes: 1e9 })).toBe(true);
    expect(isDiskLow(bytes, { freeBytes: 1024, totalBytes: 1e9 })).toBe(false);
    expect(describeDisk(pct, { freeBytes: 99, totalBytes: 1000 })).toBe(
      "disk free 99 bytes (9.90%) < required 10% (-minFreeSpace)",
    );
  });
});

describe("Store with -minFreeSpace", () => {
  let tmp: TempDir;
  let store: Store | undefined;
  let usage: DiskUsage;
  let changes = 0;
  const alloc = { collection: "", replicaPlacement: parseReplicaPlacement("000"), ttl: NO_TTL, preallocate: 0 };

  beforeEach(async () => {
    tmp = await tempDir("weed-store-space-");
    usage = { freeBytes: 50_000, totalBytes: 100_000 };
    changes = 0;
    store = new Store({
      dir: tmp.dir,
      maxVolumeCount: 4,
      diskSpace: {
        minFreeSpace: parseMinFreeSpace("10"),
        // Long: the test runs each check itself, so none runs on its own.
        checkIntervalMs: 3_600_000,
        usage: async () => ({ ...usage }),
      },
      onReadOnlyChange: () => changes++,
    });
    await store.open();
  });

  afterEach(async () => {
    await store?.close();
    await tmp.remove();
  });

  it("turns every volume read-only below the minimum and back when space returns", async () => {
    const s = store!;
    await s.allocateVolume(1, alloc);
    await s.allocateVolume(2, alloc);
    await s.write(1, { key: 1n, cookie: 1, data: blob(1) });
    expect(s.reportedMaxVolumeCount()).toBe(4);

    usage = { freeBytes: 5_000, totalBytes: 100_000 };
    await s.checkDiskSpace();
    expect(s.isDiskLow).toBe(true);
    expect(s.volumeInfos().map((v) => v.readOnly)).toEqual([true, true]);
    expect(changes).toBe(1);
    const refused = await s.write(1, { key: 2n, cookie: 2, data: blob(2) }).catch((e: unknown) => e);
    expect((refused as WeedError).code).toBe(ErrorCode.VOLUME_FULL);
    expect((refused as WeedError).message).toMatch(/-minFreeSpace/);
    expect(s.read(1, 1n, 1).data.equals(blob(1))).toBe(true);
    expect(await asyncCodeOf(s.allocateVolume(3, alloc))).toBe(ErrorCode.NO_FREE_SLOT);
    expect(s.reportedMaxVolumeCount()).toBe(2); // the master grows new volumes elsewhere

    await s.checkDiskSpace(); // still low: nothing changes, nothing reported again
    expect(changes).toBe(1);

    usage = { freeBytes: 20_000, totalBytes: 100_000 };
    await s.checkDiskSpace();
    expect(s.isDiskLow).toBe(false);
    expect(s.volumeInfos().map((v) => v.readOnly)).toEqual([false, false]);
    expect(changes).toBe(2);
    await s.write(1, { key: 2n, cookie: 2, data: blob(2) });
    expect(s.reportedMaxVolumeCount()).toBe(4);
  });

  it("keeps a volume read-only for another reason read-only when space returns", async () => {
    const s = store!;
    await s.allocateVolume(1, alloc);
    await s.allocateVolume(2, alloc);
    s.setReadOnly(2, true);
    usage = { freeBytes: 1_000, totalBytes: 100_000 };
    await s.checkDiskSpace();
    expect(s.volumeInfos().map((v) => v.readOnly)).toEqual([true, true]);
    s.setReadOnly(2, false); // the operator's flag goes; the disk's stays
    expect(s.volumeInfo(2)!.readOnly).toBe(true);
    s.setReadOnly(2, true);
    usage = { freeBytes: 90_000, totalBytes: 100_000 };
    await s.checkDiskSpace();
    expect(s.volumeInfo(1)!.readOnly).toBe(false);
    expect(s.volumeInfo(2)!.readOnly).toBe(true);
  });

  it("runs the checks one at a time, and one more when asked while one runs", async () => {
    const s = store!;
    await s.allocateVolume(1, alloc);
    usage = { freeBytes: 1_000, totalBytes: 100_000 };
    const first = s.checkDiskSpace();
    usage = { freeBytes: 90_000, totalBytes: 100_000 };
    const second = s.checkDiskSpace(); // joins the first, which runs again with the newer reading
    await Promise.all([first, second]);
    expect(s.isDiskLow).toBe(false);
    expect(s.volumeInfo(1)!.readOnly).toBe(false);
  });
});
