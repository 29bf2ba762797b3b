// The needs-check flag of a volume (a replicated write failed part way): set, reported, kept
// across a reopen in <base>.chk, cleared only by a check that started after the last failure;
// and the raw needle calls check.disk copies with (ReadNeedleBlob, WriteNeedleBlob, listNeedles).
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { NO_TTL } from "../../../src/common/ttl.js";
import type { NeedleListEntry } from "../../../src/volume/storage/store-api.js";
import { needleListReplayChunkEntries } from "../../../src/volume/storage/needle-list.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { asyncCodeOf, blob, codeOf } from "./helpers.js";

let tmp: TempDir;
const stores: Store[] = [];
let clockMs = 1_000_000;

async function openStore(dir: string, onReadOnlyChange?: () => void): Promise<Store> {
  const s = new Store({
    dir,
    maxVolumeCount: 4,
    wallClockMs: () => clockMs,
    ...(onReadOnlyChange ? { onReadOnlyChange } : {}),
  });
  stores.push(s);
  await s.open();
  return s;
}

async function closeAll(): Promise<void> {
  for (const s of stores.splice(0)) await s.close();
}

async function allocated(dir: string, onChange?: () => void): Promise<Store> {
  const s = await openStore(dir, onChange);
  await s.allocateVolume(7, {
    collection: "c",
    replicaPlacement: parseReplicaPlacement("010"),
    ttl: NO_TTL,
    preallocate: 0,
  });
  return s;
}

async function listAll(s: Store, volumeId: number, batch = 1000): Promise<NeedleListEntry[]> {
  const out: NeedleListEntry[] = [];
  await s.listNeedles(volumeId, batch, async (entries) => void out.push(...entries));
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

beforeEach(async () => {
  tmp = await tempDir("weed-needs-check-");
  clockMs = 1_000_000;
});

afterEach(async () => {
  await closeAll();
  await tmp.remove();
});

describe("needs-check flag", () => {
  it("is clear on a new volume and set by markNeedsCheck, with one full beat per change", async () => {
    let beats = 0;
    const s = await allocated(tmp.dir, () => beats++);
    expect(s.volumeInfo(7)!.needsCheck).toBe(false);
    expect(s.checkState(7)).toEqual({ needsCheck: false, generation: 0 });
    s.markNeedsCheck(7);
    expect(s.volumeInfo(7)!.needsCheck).toBe(true);
    expect(beats).toBe(1);
    const first = s.checkState(7).generation;
    s.markNeedsCheck(7); // a second failure: a new generation, no second beat (the flag did not change)
    expect(s.checkState(7).generation).toBeGreaterThan(first);
    expect(beats).toBe(1);
    s.markNeedsCheck(99); // a volume not held here: nothing
    expect(beats).toBe(1);
  });

  it("is kept across a reopen in <base>.chk, and the marker goes when cleared", async () => {
    const s = await allocated(tmp.dir);
    s.markNeedsCheck(7);
    const gen = s.checkState(7).generation;
    await s.checkFlagSettled(7);
    const marker = path.join(tmp.dir, "c_7.chk");
    expect(fs.readFileSync(marker, "utf8")).toBe(`${gen}\n`);
    await closeAll();

    const again = await openStore(tmp.dir);
    expect(again.volumeInfo(7)!.needsCheck).toBe(true);
    expect(again.checkState(7).generation).toBe(gen);
    expect(again.checkDone(7, gen)).toBe(true);
    await again.checkFlagSettled(7);
    expect(fs.existsSync(marker)).toBe(false);
    await closeAll();
    expect((await openStore(tmp.dir)).volumeInfo(7)!.needsCheck).toBe(false);
  });

  it("is not cleared by a check that started before a newer failure (generation changed)", async () => {
    const s = await allocated(tmp.dir);
    s.markNeedsCheck(7);
    const atStart = s.checkState(7).generation;
    s.markNeedsCheck(7); // a failure during the check
    expect(s.checkDone(7, atStart)).toBe(false);
    expect(s.volumeInfo(7)!.needsCheck).toBe(true);
    expect(s.checkDone(7, s.checkState(7).generation)).toBe(true);
    expect(s.checkDone(7, s.checkState(7).generation)).toBe(false); // already clear
  });

  it("generations grow across restarts: a check from before a restart cannot clear a later failure", async () => {
    const s = await allocated(tmp.dir);
    s.markNeedsCheck(7);
    const old = s.checkState(7).generation;
    s.checkDone(7, old);
    await closeAll();
    clockMs += 5_000; // the marker is gone, so the new generation comes from the clock
    const again = await openStore(tmp.dir);
    again.markNeedsCheck(7);
    expect(again.checkState(7).generation).toBeGreaterThan(old);
    expect(again.checkDone(7, old)).toBe(false);
  });

  it("a marker that does not parse still means needs check; deleting the volume removes it", async () => {
    const s = await allocated(tmp.dir);
    await closeAll();
    fs.writeFileSync(path.join(tmp.dir, "c_7.chk"), "garbage");
    const again = await openStore(tmp.dir);
    expect(again.volumeInfo(7)!.needsCheck).toBe(true);
    await again.deleteVolume(7);
    expect(fs.existsSync(path.join(tmp.dir, "c_7.chk"))).toBe(false);
    expect(codeOf(() => again.checkState(7))).toBe(ErrorCode.VOLUME_NOT_FOUND);
    void s;
  });
});

describe("needle blobs and listings", () => {
  it("lists live needles and tombstones with cookie, size, CRC and append time", async () => {
    const s = await allocated(tmp.dir);
    await s.write(7, { key: 1n, cookie: 0x11, data: blob(1) });
    await s.write(7, { key: 2n, cookie: 0x22, data: blob(2) });
    await s.delete(7, 2n, 0x22);
    await s.write(7, { key: 3n, cookie: 0x33, data: blob(3) });
    await s.write(7, { key: 3n, cookie: 0x33, data: blob(30) }); // overwrite: the last entry counts
    const list = await listAll(s, 7, 2);
    expect(list.map((e) => [e.key, e.deleted, e.cookie])).toEqual([
      [1n, false, 0x11],
      [2n, true, 0x22],
      [3n, false, 0x33],
    ]);
    expect(list[0]!.crc).toBe(s.read(7, 1n, 0x11).crc);
    expect(list[2]!.crc).toBe(s.read(7, 3n, 0x33).crc);
    expect(list[1]!.appendAtNs).toBeGreaterThan(list[0]!.appendAtNs);
    expect(list[2]!.appendAtNs).toBeGreaterThan(list[1]!.appendAtNs);
  });

  it("lists an .idx longer than one replay chunk, each key once with its last entry", async () => {
    const s = await allocated(tmp.dir);
    const n = needleListReplayChunkEntries + 500;
    const data = Buffer.from("x");
    for (let k = 1; k <= n; k++) await s.write(7, { key: BigInt(k), cookie: 1, data });
    await s.delete(7, 1n, 1); // the last entry of key 1, in the second chunk
    const list = await listAll(s, 7, 4096);
    expect(list.length).toBe(n);
    expect(list[0]).toMatchObject({ key: 1n, deleted: true });
    expect(list.filter((e) => e.deleted).length).toBe(1);
  }, 30_000);

  it("a blob read from one volume appends as-is to another: same bytes, ETag and append time", async () => {
    const a = await allocated(path.join(tmp.dir, "a"));
    const b = await allocated(path.join(tmp.dir, "b"));
    await a.write(7, { key: 5n, cookie: 0x55, data: blob(5, 3000), name: "five.bin", mime: "x/y", lastModified: 1234 });
    const [e] = await listAll(a, 7);
    const raw = a.readNeedleBlob(7, e!.offset, e!.size);
    await b.writeNeedleBlob(7, 5n, e!.size, raw);
    const got = b.read(7, 5n, 0x55);
    const want = a.read(7, 5n, 0x55);
    expect([got.data, got.name, got.mime, got.lastModified, got.crc]).toEqual([
      want.data,
      want.name,
      want.mime,
      want.lastModified,
      want.crc,
    ]);
    expect((await listAll(b, 7))[0]!.appendAtNs).toBe(e!.appendAtNs);
    // Written after a tombstone: the blob is the needle again.
    await b.delete(7, 5n, 0x55);
    await b.writeNeedleBlob(7, 5n, e!.size, raw);
    expect(b.read(7, 5n, 0x55).crc).toBe(want.crc);
    // Kept across a reopen (the .idx has the entry).
    await closeAll();
    const again = await openStore(path.join(tmp.dir, "b"));
    expect(again.read(7, 5n, 0x55).data).toEqual(want.data);
  });

  it("a blob over 1 MiB is appended on the thread pool, in file order with other appends", async () => {
    const a = await allocated(path.join(tmp.dir, "a"));
    const b = await allocated(path.join(tmp.dir, "b"));
    const big = blob(8, 2 * 1024 * 1024 + 3);
    await a.write(7, { key: 8n, cookie: 0x88, data: big });
    const [e] = await listAll(a, 7);
    const raw = a.readNeedleBlob(7, e!.offset, e!.size);
    const small = b.write(7, { key: 9n, cookie: 0x99, data: blob(9) });
    await Promise.all([b.writeNeedleBlob(7, 8n, e!.size, raw), small]);
    expect(b.read(7, 8n, 0x88).data.equals(big)).toBe(true);
    expect(b.read(7, 9n, 0x99).data.equals(blob(9))).toBe(true);
    await closeAll();
    const again = await openStore(path.join(tmp.dir, "b"));
    expect(again.read(7, 8n, 0x88).data.equals(big)).toBe(true);
  });

  it("refuses blobs that are not one whole, checked record of that key", async () => {
    const a = await allocated(tmp.dir);
    await a.write(7, { key: 5n, cookie: 0x55, data: blob(5) });
    const [e] = await listAll(a, 7);
    const raw = a.readNeedleBlob(7, e!.offset, e!.size);
    expect(await asyncCodeOf(a.writeNeedleBlob(7, 6n, e!.size, raw))).toBe(ErrorCode.BAD_PARAM);
    expect(await asyncCodeOf(a.writeNeedleBlob(7, 5n, e!.size, raw.subarray(0, raw.length - 8)))).toBe(
      ErrorCode.BAD_PARAM,
    );
    const flipped = Buffer.from(raw);
    flipped[20] = flipped[20]! ^ 0xff; // a data byte: the CRC no longer matches
    expect(await asyncCodeOf(a.writeNeedleBlob(7, 5n, e!.size, flipped))).toBe(ErrorCode.CORRUPT);
    expect(codeOf(() => a.readNeedleBlob(7, e!.offset + 3, e!.size))).toBe(ErrorCode.BAD_PARAM);
    expect(codeOf(() => a.readNeedleBlob(7, e!.offset, e!.size + 1_000_000))).toBe(ErrorCode.BAD_PARAM);
  });
});
