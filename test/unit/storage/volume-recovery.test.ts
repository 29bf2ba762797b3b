// Crash states of a volume's tail (FORMAT.md "Recovery"), made by hand on real files, and what
// survives a reload of each.
import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { idxEntryBytes, writeIdxEntry } from "../../../src/volume/storage/idx.js";
import type { LoadReport, Volume } from "../../../src/volume/storage/volume.js";
import { encodeNeedle, encodeTombstone } from "../../../src/volume/storage/needle.js";
import { tempDir, type TempDir } from "../../helpers.js";
import {
  blob,
  codeOf,
  createVolume,
  fileSize,
  loadVolumeWithReport,
  volumeWith as volumeWithNeedles,
} from "./helpers.js";

let tmp: TempDir;

let dir = "";
const open: Volume[] = [];
const volumeWith = (n: number) => volumeWithNeedles(dir, n, (i) => blob(i, 200));

beforeEach(async () => {
  tmp = await tempDir("weed-recovery-");
  dir = tmp.dir;
});

afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
  await tmp.remove();
});

let report: LoadReport | undefined;

async function load(): Promise<Volume> {
  const r = await loadVolumeWithReport(dir);
  open.push(r.volume);
  report = r.report;
  return r.volume;
}

function expectNeedles(v: Volume, present: number[], absent: number[]): void {
  for (const i of present) expect(v.read(BigInt(i), i).data.equals(blob(i, 200))).toBe(true);
  for (const i of absent) expect(codeOf(() => v.read(BigInt(i), i))).toBe(ErrorCode.NOT_FOUND);
}

describe("torn tail recovery", () => {
  it("a .dat cut mid-record: drops the idx entry, cuts the partial record, keeps the rest", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(5);
    const mid = (datEnds[4] ?? 0) + 100; // inside needle 5
    fs.truncateSync(datPath, mid);
    const v = await load();
    expectNeedles(v, [1, 2, 3, 4], [5]);
    expect(fileSize(datPath)).toBe(datEnds[4]);
    expect(fileSize(idxPath)).toBe(4 * idxEntryBytes);
    expect(report).toEqual({
      idxEntries: 4,
      idxEntriesDropped: 1,
      recordsRecovered: 0,
      damagedRecords: 0,
      datBytesTruncated: 100,
      idxBytesTruncated: 16,
      quarantineFiles: [`${idxPath}.quarantine-${4 * idxEntryBytes}`, `${datPath}.quarantine-${datEnds[4]}`],
    });
    // The next write starts cleanly at the old end and survives another reload.
    await v.write({ key: 6n, cookie: 6, data: blob(6, 200) });
    await v.close();
    const again = await load();
    expectNeedles(again, [1, 2, 3, 4, 6], [5]);
  });

  it("garbage appended after the last record is cut off and nothing is lost", async () => {
    const { datPath, datEnds } = await volumeWith(3);
    fs.appendFileSync(datPath, Buffer.from("this is not a needle record at all, just junk".repeat(3)));
    const v = await load();
    expectNeedles(v, [1, 2, 3], []);
    expect(fileSize(datPath)).toBe(datEnds[3]);
  });

  it("idx entries pointing past the end of .dat are dropped and the .idx truncated", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(3);
    const extra = Buffer.alloc(2 * idxEntryBytes);
    writeIdxEntry(extra, 0, 0, 50, ((datEnds[3] ?? 0) + 4096) / 8, 200);
    writeIdxEntry(extra, 16, 0, 51, ((datEnds[3] ?? 0) + 8192) / 8, 200);
    fs.appendFileSync(idxPath, extra);
    const v = await load();
    expectNeedles(v, [1, 2, 3], [50, 51]);
    expect(fileSize(idxPath)).toBe(3 * idxEntryBytes);
    expect(fileSize(datPath)).toBe(datEnds[3]);
  });

  it("a torn trailing .idx entry (not a multiple of 16) is cut", async () => {
    const { idxPath } = await volumeWith(2);
    fs.appendFileSync(idxPath, Buffer.from([1, 2, 3, 4, 5]));
    const v = await load();
    expectNeedles(v, [1, 2], []);
    expect(fileSize(idxPath)).toBe(2 * idxEntryBytes);
  });

  it("records written whose idx entries never made it are re-indexed (nothing acknowledged is lost)", async () => {
    const v0 = await createVolume(dir);
    for (let i = 1; i <= 4; i++) await v0.write({ key: BigInt(i), cookie: i, data: blob(i, 200) });
    await v0.delete(2n, 2);
    await v0.write({ key: 5n, cookie: 5, data: blob(5, 200) });
    const idxPath = v0.idxPath;
    const datSize = fileSize(v0.datPath);
    await v0.close();
    // Lose the last three entries: put 4, the delete of 2, put 5.
    fs.truncateSync(idxPath, 3 * idxEntryBytes);
    const v = await load();
    expectNeedles(v, [1, 3, 4, 5], [2]);
    expect(report).toMatchObject({ idxEntries: 3, recordsRecovered: 3, datBytesTruncated: 0 });
    expect(fileSize(idxPath)).toBe(6 * idxEntryBytes);
    expect(fileSize(v.datPath)).toBe(datSize);
    expect(v.info()).toMatchObject({ deleteCount: 1 });
  });

  it("a missing .idx is rebuilt from the records in .dat", async () => {
    const { idxPath, datPath, datEnds } = await volumeWith(10);
    fs.unlinkSync(idxPath);
    const v = await load();
    expectNeedles(v, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], []);
    expect(fileSize(idxPath)).toBe(10 * idxEntryBytes);
    expect(fileSize(datPath)).toBe(datEnds[10]);
  });

  it("a last record failing its CRC is complete: damage, not a torn tail: kept, read as CORRUPT", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(3);
    const fd = fs.openSync(datPath, "r+");
    fs.writeSync(fd, Buffer.from([0xff, 0xee]), 0, 2, (datEnds[2] ?? 0) + 40); // inside needle 3's data
    fs.closeSync(fd);
    const v = await load();
    expectNeedles(v, [1, 2], []);
    expect(codeOf(() => v.read(3n, 3))).toBe(ErrorCode.CORRUPT);
    expect(report).toMatchObject({ damagedRecords: 1, idxEntriesDropped: 0, datBytesTruncated: 0 });
    expect(fileSize(idxPath)).toBe(3 * idxEntryBytes);
    expect(fileSize(datPath)).toBe(datEnds[3]);
  });

  it("a complete but unindexed record followed by a torn one: the first is kept, the torn one cut", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(4);
    fs.truncateSync(idxPath, 2 * idxEntryBytes); // entries of 3 and 4 lost
    fs.truncateSync(datPath, (datEnds[3] ?? 0) + 50); // needle 4 torn
    const v = await load();
    expectNeedles(v, [1, 2, 3], [4]);
    expect(fileSize(idxPath)).toBe(3 * idxEntryBytes);
    expect(fileSize(datPath)).toBe(datEnds[3]);
  });

  it("zeros after the last record (a file extended but never written, after power loss) are cut", async () => {
    const { datPath, datEnds } = await volumeWith(3);
    fs.appendFileSync(datPath, Buffer.alloc(4096));
    const v = await load();
    expectNeedles(v, [1, 2, 3], []);
    expect(report).toMatchObject({ recordsRecovered: 0, datBytesTruncated: 4096 });
    expect(fileSize(datPath)).toBe(datEnds[3]);
  });

  it("a header claiming a record larger than the scan window, inside a garbage tail, is rejected", async () => {
    const { datPath, datEnds } = await volumeWith(2);
    const junk = Buffer.alloc(3 * 1024 * 1024, 0x5a);
    junk.writeUInt32BE(2 * 1024 * 1024, 12); // "Size" 2 MiB: fits in the file, bigger than one scan window
    fs.appendFileSync(datPath, junk);
    const v = await load();
    expectNeedles(v, [1, 2], []);
    expect(fileSize(datPath)).toBe(datEnds[2]);
  });

  it("a tombstone-shaped record for a key that is not live is not taken as a delete", async () => {
    const { datPath, datEnds } = await volumeWith(2);
    fs.appendFileSync(datPath, encodeTombstone(0, 77, 1, 3, BigInt(Date.now()) * 1_000_000n + 10n ** 15n));
    const v = await load();
    expectNeedles(v, [1, 2], []);
    expect(fileSize(datPath)).toBe(datEnds[2]);
  });

  it("replays SeaweedFS-era entries: a delete with offset 0 and an empty needle (size 0) are deletes", async () => {
    const { idxPath, datPath } = await volumeWith(3);
    const extra = Buffer.alloc(2 * idxEntryBytes);
    writeIdxEntry(extra, 0, 0, 1, 0, 0xffffffff); // delete of 1, old style: offset 0
    writeIdxEntry(extra, 16, 0, 2, 0, 0); // size 0
    fs.appendFileSync(idxPath, extra);
    const size = fileSize(datPath);
    const v = await load();
    expectNeedles(v, [3], [1, 2]);
    expect(report).toMatchObject({ idxEntriesDropped: 0, datBytesTruncated: 0 });
    expect(fileSize(datPath)).toBe(size);
    expect(v.info().deleteCount).toBe(2);
  });

  it("a record with a valid CRC but an older AppendAtNs than the last indexed one is not re-indexed", async () => {
    const { datPath, datEnds } = await volumeWith(2);
    const stale = encodeNeedle({ key: 9n, cookie: 9, data: blob(9, 200) }, 3, 5n, 0); // AppendAtNs 5: long ago
    fs.appendFileSync(datPath, stale.record);
    const v = await load();
    expectNeedles(v, [1, 2], [9]);
    expect(fileSize(datPath)).toBe(datEnds[2]);
  });

  it("re-indexes an unindexed record whose padding is not zero (SeaweedFS pads with leftovers)", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(3);
    fs.truncateSync(idxPath, 2 * idxEntryBytes);
    const fd = fs.openSync(datPath, "r+");
    fs.writeSync(fd, Buffer.from([0xab, 0xcd]), 0, 2, (datEnds[3] ?? 0) - 2); // last 2 padding bytes of needle 3
    fs.closeSync(fd);
    const v = await load();
    expectNeedles(v, [1, 2, 3], []);
    expect(report).toMatchObject({ recordsRecovered: 1, datBytesTruncated: 0 });
  });
});
