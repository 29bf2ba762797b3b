// ReadVolumeFileStatus on the copy source (copy-source.ts): the sizes it answers describe one
// consistent prefix of the files, also while a batch of appends is queued (append-batch.ts):
// every .idx entry below idx_file_size names a whole record below dat_file_size.
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseReplicaPlacement } from "../../../src/common/replica-placement.js";
import { NO_TTL } from "../../../src/common/ttl.js";
import { volumeFileStatus } from "../../../src/volume/copy/copy-source.js";
import { idxEntryBytes, readIdxEntry } from "../../../src/volume/storage/idx.js";
import { needleAlignBytes } from "../../../src/volume/storage/limits.js";
import { recordLength } from "../../../src/volume/storage/needle.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { blob } from "../storage/helpers.js";

const VID = 3;
let tmp: TempDir;
let store: Store;

beforeEach(async () => {
  tmp = await tempDir("weed-copy-source-");
  store = new Store({ dir: tmp.dir, maxVolumeCount: 2 });
  await store.open();
  await store.allocateVolume(VID, {
    collection: "",
    replicaPlacement: parseReplicaPlacement("000"),
    ttl: NO_TTL,
    preallocate: 0,
  });
});

afterEach(async () => {
  await store.close();
  await tmp.remove();
});

describe("volumeFileStatus", () => {
  it("answers sizes whose .idx entries all name records inside the .dat size, with appends queued", async () => {
    for (let k = 1; k <= 3; k++) await store.write(VID, { key: BigInt(k), cookie: k, data: blob(k) });
    const queued = [4, 5, 6, 7, 8].map((k) => store.write(VID, { key: BigInt(k), cookie: k, data: blob(k, 500) }));
    const status = volumeFileStatus(store, VID); // in the same turn: the five wait in the batch
    const idx = fs.readFileSync(path.join(tmp.dir, `${VID}.idx`)).subarray(0, Number(status.idxFileSize));
    expect(idx.length).toBe(8 * idxEntryBytes);
    const version = store.volumeInfo(VID)!.version;
    for (let at = 0; at < idx.length; at += idxEntryBytes) {
      const e = readIdxEntry(idx, at);
      expect(e.offset * needleAlignBytes + recordLength(e.size, version)).toBeLessThanOrEqual(
        Number(status.datFileSize),
      );
    }
    expect(Number(status.datFileSize)).toBe(fs.statSync(path.join(tmp.dir, `${VID}.dat`)).size);
    await Promise.all(queued);
  });
});
