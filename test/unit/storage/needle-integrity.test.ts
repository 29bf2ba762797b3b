// Issue 9 item 8b: SeaweedFS's CRC covers the data only. A flipped byte in a needle's name, mime,
// flags or lengths was served as is; now a read checks what the format allows (FORMAT.md "What is
// checked on read") and answers CORRUPT (HTTP 500 JSON), like a CRC mismatch.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import type { Volume } from "../../../src/volume/storage/volume.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { codeOf, createVolume, fileSize, loadVolume, variedBlob, flipByte } from "./helpers.js";

let tmp: TempDir;
let dir = "";
const open: Volume[] = [];
const dataOf = variedBlob;

beforeEach(async () => {
  tmp = await tempDir("weed-integrity-");
  dir = tmp.dir;
});

afterEach(async () => {
  for (const v of open.splice(0)) await v.close();
  await tmp.remove();
});

async function load(): Promise<Volume> {
  const v = await loadVolume(dir);
  open.push(v);
  return v;
}

describe("what the CRC leaves out is checked on read (issue 9 item 8b)", () => {
  /** One needle with every optional field; returns its record's offset and the offsets of its fields. */
  async function oneNeedle(): Promise<{ v: Volume; at: number; nameAt: number; mimeAt: number }> {
    const v = await createVolume(dir);
    const at = fileSize(v.datPath);
    const data = Buffer.from("0123456789");
    await v.write({ key: 1n, cookie: 1, data, name: "report.pdf", mime: "application/pdf" });
    await v.write({ key: 2n, cookie: 2, data: dataOf(2), name: "file-2.txt" });
    await v.close();
    const nameAt = at + 16 + 4 + data.length + 1 + 1; // header, DataSize, data, flags, NameSize
    return { v, at, nameAt, mimeAt: nameAt + "report.pdf".length + 1 };
  }

  const cases: [string, (f: { at: number; nameAt: number; mimeAt: number }) => [number, number]][] = [
    ["a name byte turned into invalid UTF-8", (f) => [f.nameAt + 2, 0x80]],
    ["the name's length byte", (f) => [f.nameAt - 1, 0x01]],
    ["a mime byte turned into invalid UTF-8", (f) => [f.mimeAt + 3, 0xc0]],
    ["the mime's length byte", (f) => [f.mimeAt - 1, 0x04]],
    ["an unknown flag bit (0x40)", (f) => [f.at + 16 + 4 + 10, 0x40]],
    ["the has-TTL flag (the fields now run past the body)", (f) => [f.at + 16 + 4 + 10, 0x10]],
    ["the has-last-modified flag (5 bytes left over at the end of the body)", (f) => [f.at + 16 + 4 + 10, 0x08]],
  ];
  for (const [what, where] of cases) {
    it(`${what}: the read answers CORRUPT, the other needle is served`, async () => {
      const f = await oneNeedle();
      const [pos, xor] = where(f);
      flipByte(f.v.datPath, pos, xor);
      const v = await load();
      expect(codeOf(() => v.read(1n, 1))).toBe(ErrorCode.CORRUPT);
      expect(v.read(2n, 2).data.equals(dataOf(2))).toBe(true);
    });
  }
});
