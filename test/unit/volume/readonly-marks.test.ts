// volume.mark's persisted marks (readonly-marks.ts): written atomically beside the .dat, applied
// after the store opens, removed for a volume not held (so a later copy of that id is writable).
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/common/logger.js";
import { applyReadOnlyMarks, persistReadOnly, readOnlyMarkPath } from "../../../src/volume/readonly-marks.js";
import type { VolumeInfo } from "../../../src/volume/storage/store-api.js";
import { tempDir, type TempDir } from "../../helpers.js";

let tmp: TempDir | undefined;
afterEach(async () => {
  await tmp?.remove();
  tmp = undefined;
});

describe("read-only marks", () => {
  it("applies the marks of held volumes, removes the others and torn files mark nothing", async () => {
    tmp = await tempDir();
    const dir = tmp.dir;
    persistReadOnly(dir, { id: 3, collection: "pics" }, true);
    persistReadOnly(dir, { id: 4, collection: "" }, true);
    persistReadOnly(dir, { id: 9, collection: "gone" }, true);
    writeFileSync(`${dir}/5.vif`, "{torn");
    expect(readdirSync(dir).sort()).toEqual(["4.vif", "5.vif", "gone_9.vif", "pics_3.vif"]);
    const marked: number[] = [];
    const store = {
      dir,
      hasVolume: (id: number) => id !== 9,
      setReadOnly: (id: number, ro: boolean) => {
        if (ro) marked.push(id);
        return { id } as VolumeInfo;
      },
    };
    expect(applyReadOnlyMarks(store, silentLogger()).sort()).toEqual([3, 4]);
    expect(marked.sort()).toEqual([3, 4]);
    expect(existsSync(readOnlyMarkPath(dir, "gone", 9))).toBe(false);
    persistReadOnly(dir, { id: 3, collection: "pics" }, false);
    persistReadOnly(dir, { id: 3, collection: "pics" }, false);
    expect(readdirSync(dir).sort()).toEqual(["4.vif", "5.vif"]);
  });
});
