// The Store over a real directory: allocate/delete with events, file naming, limits, reopen.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { NO_TTL } from "../../../src/common/ttl.js";
import type { AllocateOptions, StoreEvent } from "../../../src/volume/storage/store-api.js";
import { Store, parseDatFileName } from "../../../src/volume/storage/store.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { asyncCodeOf, blob, codeOf } from "./helpers.js";

let tmp: TempDir;

let dir = "";
const stores: Store[] = [];

function alloc(collection = "", replication = "000"): AllocateOptions {
  return { collection, replicaPlacement: parseReplicaPlacement(replication), ttl: NO_TTL, preallocate: 0 };
}

async function openStore(maxVolumeCount = 8): Promise<Store> {
  const s = new Store({ dir, maxVolumeCount });
  stores.push(s);
  await s.open();
  return s;
}

beforeEach(async () => {
  tmp = await tempDir("weed-storage-");
  dir = tmp.dir;
});

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await tmp.remove();
});

describe("Store", () => {
  it("does no I/O in the constructor and validates its options", () => {
    const missing = path.join(dir, "not-yet");
    new Store({ dir: missing, maxVolumeCount: 1 });
    expect(fs.existsSync(missing)).toBe(false);
    expect(() => new Store({ dir: "", maxVolumeCount: 1 })).toThrow(/dir/);
    expect(() => new Store({ dir, maxVolumeCount: -1 })).toThrow(/maxVolumeCount/);
  });

  it("allocates <vid>.dat and <collection>_<vid>.dat with the superblock, and emits volume-added", async () => {
    const s = await openStore();
    const events: StoreEvent[] = [];
    s.on("change", (e) => events.push(e));
    const info = await s.allocateVolume(3, alloc("", "001"));
    await s.allocateVolume(4, alloc("pics_2024", "200"));
    expect(fs.readFileSync(path.join(dir, "3.dat")).toString("hex")).toBe("0301000000000000");
    expect(fs.readFileSync(path.join(dir, "pics_2024_4.dat")).toString("hex")).toBe("03c8000000000000");
    expect(fs.existsSync(path.join(dir, "3.idx"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "pics_2024_4.idx"))).toBe(true);
    expect(info).toMatchObject({
      id: 3,
      collection: "",
      size: 8,
      fileCount: 0,
      version: 3,
      readOnly: false,
      maxFileKey: 0n,
    });
    expect(events.map((e) => [e.kind, e.info.id, e.info.collection])).toEqual([
      ["volume-added", 3, ""],
      ["volume-added", 4, "pics_2024"],
    ]);
    expect(s.hasVolume(4)).toBe(true);
    expect(s.volumeInfo(4)?.replicaPlacement).toEqual({ diffDataCenter: 2, diffRack: 0, sameRack: 0 });
    expect(
      s
        .volumeInfos()
        .map((v) => v.id)
        .sort(),
    ).toEqual([3, 4]);
  });

  it("refuses an existing volume (VOLUME_EXISTS) and a full store (NO_FREE_SLOT)", async () => {
    const s = await openStore(2);
    await s.allocateVolume(1, alloc());
    expect(await asyncCodeOf(s.allocateVolume(1, alloc()))).toBe(ErrorCode.VOLUME_EXISTS);
    await s.allocateVolume(2, alloc("c"));
    expect(await asyncCodeOf(s.allocateVolume(3, alloc()))).toBe(ErrorCode.NO_FREE_SLOT);
    expect(await asyncCodeOf(s.allocateVolume(4, alloc("../evil")))).toBe(ErrorCode.BAD_PARAM);
  });

  it("deletes a volume's files, emits volume-deleted, and honours onlyEmpty", async () => {
    const s = await openStore();
    await s.allocateVolume(1, alloc("c"));
    await s.allocateVolume(2, alloc());
    await s.write(1, { key: 10n, cookie: 1, data: blob(1) });
    const events: StoreEvent[] = [];
    const listener = (e: StoreEvent): void => {
      events.push(e);
    };
    s.on("change", listener);
    expect(await asyncCodeOf(s.deleteVolume(1, true))).toBe(ErrorCode.BAD_REQUEST);
    await s.deleteVolume(2, true);
    await s.deleteVolume(1);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(events.map((e) => [e.kind, e.info.id])).toEqual([
      ["volume-deleted", 2],
      ["volume-deleted", 1],
    ]);
    expect(events[1]?.info.fileCount).toBe(1);
    expect(await asyncCodeOf(s.deleteVolume(1))).toBe(ErrorCode.VOLUME_NOT_FOUND);
    s.off("change", listener);
    await s.allocateVolume(5, alloc());
    expect(events.length).toBe(2);
    // Keys are never reused: the deleted volume's key still counts.
    expect(s.maxFileKey()).toBe(10n);
  });

  it("writes, reads and deletes through volumes; unknown volume is VOLUME_NOT_FOUND", async () => {
    const s = await openStore();
    await s.allocateVolume(1, alloc());
    const r = await s.write(1, { key: 1n, cookie: 7, data: blob(1) }, { fsync: true });
    expect(r.unchanged).toBe(false);
    expect(s.read(1, 1n, 7).data.equals(blob(1))).toBe(true);
    expect(await s.delete(1, 1n, 7)).toBe(100);
    expect(codeOf(() => s.read(1, 1n, 7))).toBe(ErrorCode.NOT_FOUND);
    expect(codeOf(() => s.read(9, 1n, 7))).toBe(ErrorCode.VOLUME_NOT_FOUND);
    expect(await asyncCodeOf(s.write(9, { key: 1n, cookie: 7, data: blob(1) }))).toBe(ErrorCode.VOLUME_NOT_FOUND);
    expect(await asyncCodeOf(s.delete(9, 1n, 7))).toBe(ErrorCode.VOLUME_NOT_FOUND);
  });

  it("reloads every volume on open: collections from the file names, maxFileKey counting deleted keys", async () => {
    const s1 = await openStore();
    await s1.allocateVolume(1, alloc());
    await s1.allocateVolume(7, alloc("photos"));
    await s1.write(1, { key: 5n, cookie: 1, data: blob(5) });
    await s1.write(1, { key: 0x1_0000_0000n, cookie: 1, data: blob(6) });
    await s1.delete(1, 0x1_0000_0000n, 1);
    await s1.write(7, { key: 300n, cookie: 3, data: blob(7) });
    expect(s1.maxFileKey()).toBe(0x1_0000_0000n);
    await s1.close();
    await s1.close(); // idempotent
    expect(codeOf(() => s1.read(1, 5n, 1))).toBe(ErrorCode.CLOSED);

    const s2 = await openStore();
    await s2.open(); // idempotent
    expect(
      s2
        .volumeInfos()
        .map((v) => [v.id, v.collection])
        .sort(),
    ).toEqual([
      [1, ""],
      [7, "photos"],
    ]);
    expect(s2.maxFileKey()).toBe(0x1_0000_0000n);
    expect(s2.read(7, 300n, 3).data.equals(blob(7))).toBe(true);
    expect(s2.read(1, 5n, 1).data.equals(blob(5))).toBe(true);
    expect(codeOf(() => s2.read(1, 0x1_0000_0000n, 1))).toBe(ErrorCode.NOT_FOUND);
  });

  it("skips a volume it cannot load and still loads the others", async () => {
    const s1 = await openStore();
    await s1.allocateVolume(1, alloc());
    await s1.write(1, { key: 1n, cookie: 1, data: blob(1) });
    await s1.close();
    fs.writeFileSync(path.join(dir, "2.dat"), Buffer.from("0100000000000000", "hex")); // version 1: refused
    fs.writeFileSync(path.join(dir, "notes.txt"), "not a volume");
    const s2 = await openStore();
    expect(s2.hasVolume(1)).toBe(true);
    expect(s2.hasVolume(2)).toBe(false);
    expect(fs.existsSync(path.join(dir, "2.dat"))).toBe(true); // left for an operator
  });
});

describe("parseDatFileName", () => {
  it("splits the collection at the last underscore, as SeaweedFS does", () => {
    expect(parseDatFileName("3.dat")).toEqual({ collection: "", id: 3 });
    expect(parseDatFileName("a_b_12.dat")).toEqual({ collection: "a_b", id: 12 });
    expect(parseDatFileName("3.idx")).toBeUndefined();
    expect(parseDatFileName("x.dat")).toBeUndefined();
    expect(parseDatFileName("99999999999.dat")).toBeUndefined();
  });
});
