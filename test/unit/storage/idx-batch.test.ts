// .idx entries queued per turn of the event loop (Volume.flushIdx): one write for the turn's
// appends, in file order; files copied before the flush (what a kill -9 leaves) load with every
// acknowledged write and delete; an fsync'd write, a listing and a replica's blob see them written.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { idxEntryBytes, readIdxEntry } from "../../../src/volume/storage/idx.js";
import type { NeedleListEntry } from "../../../src/volume/storage/store-api.js";
import type { Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { codeOf, createVolume, fileSize, loadVolume } from "./helpers.js";

let tmp: TempDir;
const open: Volume[] = [];

beforeEach(async () => {
  tmp = await tempDir("weed-idx-batch-");
});

afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
  await tmp.remove();
});

function blob(seed: number, bytes = 700): Buffer {
  return Buffer.alloc(bytes, seed & 0xff);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The volume's files as they are now, copied to `dir` (a crash leaves them so). */
function snapshot(v: Volume, dir: string): void {
  fs.mkdirSync(dir);
  for (const file of [v.datPath, v.idxPath]) fs.copyFileSync(file, path.join(dir, path.basename(file)));
}

describe(".idx entries queued per turn", () => {
  it("writes a turn's entries together at its end, in file order", async () => {
    const v = await createVolume(tmp.dir);
    open.push(v);
    await Promise.all([1, 2, 3, 4].map((k) => v.write({ key: BigInt(k), cookie: k, data: blob(k) })));
    expect(fileSize(v.idxPath)).toBe(0); // answered, entries queued
    await nextTurn();
    const idx = fs.readFileSync(v.idxPath);
    expect(idx.length).toBe(4 * idxEntryBytes);
    const offsets = [0, 1, 2, 3].map((i) => readIdxEntry(idx, i * idxEntryBytes).offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it("files left before the flush load with every acknowledged write, overwrite and delete", async () => {
    const v = await createVolume(tmp.dir);
    open.push(v);
    for (let k = 1; k <= 6; k++) await v.write({ key: BigInt(k), cookie: k, data: blob(k) });
    await nextTurn(); // these are in the .idx
    // Issued in one turn and answered in it (each delete writes the writes batched before it
    // first, append-batch.ts); their five .idx entries wait for the end of the turn.
    await Promise.all([
      v.write({ key: 7n, cookie: 7, data: blob(7) }),
      v.write({ key: 2n, cookie: 2, data: blob(20, 900) }),
      v.delete(3n, 3),
      v.write({ key: 8n, cookie: 8, data: blob(8) }),
      v.delete(8n, 8),
    ]);
    const crashed = path.join(tmp.dir, "crashed");
    snapshot(v, crashed); // same turn: none of the last five entries written
    expect(fileSize(path.join(crashed, path.basename(v.idxPath)))).toBe(6 * idxEntryBytes);
    const again = await loadVolume(crashed);
    open.push(again);
    for (const k of [1, 4, 5, 6, 7]) expect(again.read(BigInt(k), k).data.equals(blob(k))).toBe(true);
    expect(again.read(2n, 2).data.equals(blob(20, 900))).toBe(true);
    expect(codeOf(() => again.read(3n, 3))).toBe(ErrorCode.NOT_FOUND);
    expect(codeOf(() => again.read(8n, 8))).toBe(ErrorCode.NOT_FOUND);
  });

  it("an fsync'd write is answered with its entry written; a listing sees the queued ones", async () => {
    const v = await createVolume(tmp.dir);
    open.push(v);
    await v.write({ key: 1n, cookie: 1, data: blob(1) });
    await v.write({ key: 2n, cookie: 2, data: blob(2) }, { fsync: true });
    expect(fileSize(v.idxPath)).toBe(2 * idxEntryBytes);
    await v.write({ key: 3n, cookie: 3, data: blob(3) });
    const listed: NeedleListEntry[] = [];
    await v.listNeedles(16, async (batch) => void listed.push(...batch));
    expect(listed.map((e) => e.key).sort()).toEqual([1n, 2n, 3n]);
  });

  it("a replica's blob is indexed at once, behind the entries queued before it", async () => {
    const src = await createVolume(tmp.dir, 2);
    const v = await createVolume(tmp.dir, 1);
    open.push(src, v);
    await src.write({ key: 9n, cookie: 9, data: blob(9) });
    const listed: NeedleListEntry[] = [];
    await src.listNeedles(16, async (batch) => void listed.push(...batch));
    const e = listed[0]!;
    const record = src.readNeedleBlob(e.offset, e.size);
    await v.write({ key: 1n, cookie: 1, data: blob(1) });
    await v.writeNeedleBlob(9n, e.size, record);
    const idx = fs.readFileSync(v.idxPath);
    expect(idx.length).toBe(2 * idxEntryBytes);
    expect(readIdxEntry(idx, idxEntryBytes).keyLo).toBe(9);
  });

  it("close writes the queued entries", async () => {
    const v = await createVolume(tmp.dir);
    await v.write({ key: 1n, cookie: 1, data: blob(1) });
    await v.close();
    expect(fileSize(v.idxPath)).toBe(idxEntryBytes);
  });
});
