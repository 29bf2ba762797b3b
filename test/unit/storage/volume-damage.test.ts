// Issue 9 items 2 and 8b: recovery never destroys a healthy blob. A complete record that fails its
// checks is not a torn tail: it is skipped and reported, and the records after it are kept. Bytes
// are cut from the end only after a quarantine file holds them (FORMAT.md "Recovery").
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { idxEntryBytes } from "../../../src/volume/storage/idx.js";
import type { LoadReport, Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import {
  blob,
  codeOf,
  createVolume,
  fileSize,
  loadVolumeWithReport,
  variedBlob,
  flipByte,
  volumeWith as volumeWithNeedles,
} from "./helpers.js";

let tmp: TempDir;
let dir = "";
const open: Volume[] = [];
const dataOf = variedBlob;
const volumeWith = (n: number) => volumeWithNeedles(dir, n, dataOf, true);
let report: LoadReport | undefined;

beforeEach(async () => {
  tmp = await tempDir("weed-damage-");
  dir = tmp.dir;
});

afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
  await tmp.remove();
});

async function load(): Promise<Volume> {
  const r = await loadVolumeWithReport(dir);
  open.push(r.volume);
  report = r.report;
  return r.volume;
}

function expectServed(v: Volume, keys: number[]): void {
  for (const i of keys) {
    const n = v.read(BigInt(i), i);
    expect(n.data.equals(dataOf(i)), `needle ${i}`).toBe(true);
    expect(n.name).toBe(`file-${i}.txt`);
  }
}

function quarantineFiles(): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.includes(".quarantine"))
    .sort();
}

describe("a damaged record is skipped, the records after it kept (regressions, issue 9 item 2)", () => {
  it("idx lost and one flipped byte in an early needle: the 8 needles after it survive", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(10);
    const size = fileSize(datPath);
    fs.unlinkSync(idxPath);
    flipByte(datPath, (datEnds[1] ?? 0) + 16 + 4 + 50); // inside needle 2's data
    const v = await load();
    expectServed(v, [1, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(codeOf(() => v.read(2n, 2))).toBe(ErrorCode.NOT_FOUND);
    expect(fileSize(datPath)).toBe(size);
    expect(report).toMatchObject({ damagedRecords: 1, recordsRecovered: 9, datBytesTruncated: 0 });
    expect(fileSize(idxPath)).toBe(9 * idxEntryBytes);
    expect(quarantineFiles()).toEqual([]);
  });

  it("the last 3 index entries lost and a flip two records from the end: the last needle survives", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(10);
    const size = fileSize(datPath);
    fs.truncateSync(idxPath, 7 * idxEntryBytes);
    flipByte(datPath, (datEnds[8] ?? 0) + 16 + 4 + 10); // inside needle 9's data
    const v = await load();
    expectServed(v, [1, 2, 3, 4, 5, 6, 7, 8, 10]);
    expect(codeOf(() => v.read(9n, 9))).toBe(ErrorCode.NOT_FOUND);
    expect(fileSize(datPath)).toBe(size);
    expect(report).toMatchObject({ damagedRecords: 1, recordsRecovered: 2, datBytesTruncated: 0 });
  });

  it("a flipped Size field (the header, not the data) is skipped by scanning forward for the next record", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(6);
    fs.unlinkSync(idxPath);
    flipByte(datPath, (datEnds[2] ?? 0) + 13, 0x40); // needle 3's Size: now far past the end of the file
    const v = await load();
    expectServed(v, [1, 2, 4, 5, 6]);
    expect(report).toMatchObject({ damagedRecords: 1, datBytesTruncated: 0 });
  });

  it("a damaged newer version of a needle is not answered with the older one", async () => {
    const v0 = await createVolume(dir);
    await v0.write({ key: 1n, cookie: 1, data: dataOf(1), name: "file-1.txt" });
    const newerAt = fileSize(v0.datPath);
    await v0.write({ key: 1n, cookie: 1, data: dataOf(2), name: "file-1.txt" });
    await v0.write({ key: 3n, cookie: 3, data: dataOf(3), name: "file-3.txt" });
    await v0.close();
    fs.truncateSync(v0.idxPath, idxEntryBytes); // only the first version of 1 is indexed
    flipByte(v0.datPath, newerAt + 16 + 4 + 7);
    const v = await load();
    expect(codeOf(() => v.read(1n, 1))).toBe(ErrorCode.CORRUPT);
    expectServed(v, [3]);
    expect(report).toMatchObject({ damagedRecords: 1, datBytesTruncated: 0 });
  });
});

describe("nothing is truncated without a copy", () => {
  it("a torn tail is written to <base>.dat.quarantine-<offset> before the .dat is cut", async () => {
    const { datPath, datEnds } = await volumeWith(4);
    const cutAt = datEnds[3] ?? 0;
    fs.truncateSync(datPath, cutAt + 700); // needle 4 torn
    const torn = fs.readFileSync(datPath).subarray(cutAt);
    const v = await load();
    expectServed(v, [1, 2, 3]);
    expect(fileSize(datPath)).toBe(cutAt);
    expect(report).toMatchObject({ damagedRecords: 0, datBytesTruncated: 700 });
    // Needle 4's .idx entry pointed past the new end: dropped, and kept too.
    expect(quarantineFiles()).toEqual([`1.dat.quarantine-${cutAt}`, `1.idx.quarantine-${3 * idxEntryBytes}`]);
    expect(fs.readFileSync(path.join(dir, `1.dat.quarantine-${cutAt}`)).equals(torn)).toBe(true);
    expect(fs.readFileSync(path.join(dir, `1.idx.quarantine-${3 * idxEntryBytes}`)).length).toBe(idxEntryBytes);
  });

  it("a second cut at the same offset gets its own quarantine file", async () => {
    const { datPath, datEnds } = await volumeWith(2);
    const cutAt = datEnds[2] ?? 0;
    fs.appendFileSync(datPath, Buffer.from("first junk"));
    await (await load()).close();
    open.splice(0);
    fs.appendFileSync(datPath, Buffer.from("second junk"));
    await load();
    expect(quarantineFiles()).toEqual([`1.dat.quarantine-${cutAt}`, `1.dat.quarantine-${cutAt}.1`]);
    expect(fs.readFileSync(path.join(dir, `1.dat.quarantine-${cutAt}.1`)).toString()).toBe("second junk");
  });

  it("a torn .idx entry is copied to <base>.idx.quarantine-<offset> before the .idx is cut", async () => {
    const { idxPath } = await volumeWith(2);
    fs.appendFileSync(idxPath, Buffer.from([1, 2, 3, 4, 5]));
    const v = await load();
    expectServed(v, [1, 2]);
    expect(fileSize(idxPath)).toBe(2 * idxEntryBytes);
    const name = `1.idx.quarantine-${2 * idxEntryBytes}`;
    expect(quarantineFiles()).toEqual([name]);
    expect([...fs.readFileSync(path.join(dir, name))]).toEqual([1, 2, 3, 4, 5]);
  });
});
