import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FidListWriter, readFidList } from "../../../src/benchmark/fid-list.js";
import { tempDir, type TempDir } from "../../helpers.js";

let tmp: TempDir;
let dir = "";
beforeEach(async () => {
  tmp = await tempDir("weed-fid-list-");
  dir = tmp.dir;
});
afterEach(async () => {
  await tmp.remove();
});

describe("fid list file", () => {
  it("keeps every fid in order across many chunked writes", async () => {
    const path = join(dir, "list.txt");
    const fids = Array.from(
      { length: 20_000 },
      (_, i) => `${1 + (i % 7)},${(i + 1).toString(16).padStart(4, "0")}0badf00d`,
    );
    const w = await FidListWriter.create(path);
    for (const fid of fids) w.add(fid);
    await w.close();
    expect(w.count).toBe(20_000);
    // Over 64 KiB, so several chunks were chained.
    expect((await readFile(path)).length).toBeGreaterThan(4 * 64 * 1024);
    expect(await readFidList(path)).toEqual(fids);
  });

  it("truncates an existing list and reads SeaweedFS lists with blanks and comments", async () => {
    const path = join(dir, "list.txt");
    await writeFile(path, "old\nlines\n");
    const w = await FidListWriter.create(path);
    w.add("3,01637037d6");
    await w.close();
    expect(await readFile(path, "utf8")).toBe("3,01637037d6\n");
    await writeFile(path, "# written by weed benchmark\n3,01637037d6\n\n  4,02aabbccdd  \r\n");
    expect(await readFidList(path)).toEqual(["3,01637037d6", "4,02aabbccdd"]);
  });

  it("refuses to create a list in a missing directory", async () => {
    await expect(FidListWriter.create(join(dir, "missing", "list.txt"))).rejects.toThrow(/ENOENT/);
  });
});
