// Damage found by a volume load is reported: an error log line with volume id, offset, size and
// reason, and SeaweedFS_volumeServer_damaged_records_total on the volume server's /metrics (issue 9 item 2).
import fs from "node:fs";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VolumeMetrics } from "../../../src/volume/metrics.js";
import { Store } from "../../../src/volume/storage/store.js";
import { tempDir, type TempDir } from "../../helpers.js";
import { variedBlob, flipByte, volumeWith as volumeWithNeedles } from "./helpers.js";

let tmp: TempDir;
let dir = "";
const dataOf = variedBlob;
const volumeWith = (n: number) => volumeWithNeedles(dir, n, dataOf);

beforeEach(async () => {
  tmp = await tempDir("weed-damage-metric-");
  dir = tmp.dir;
});

afterEach(async () => {
  await tmp.remove();
});

describe("damage is reported: a log line and a metric", () => {
  it("logs volume id, offset, size and reason, and counts it in the damaged records counter", async () => {
    const { datPath, idxPath, datEnds } = await volumeWith(4);
    fs.unlinkSync(idxPath);
    const at = datEnds[1] ?? 0;
    flipByte(datPath, at + 16 + 4 + 3); // needle 2's data
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const store = new Store({ dir, maxVolumeCount: 4, logger });
    await store.open();
    try {
      expect(store.damagedRecordsLoaded()).toBe(1);
      const line = lines.find((l) => typeof l["msg"] === "string" && l["msg"].startsWith("damaged record skipped"));
      expect(line).toMatchObject({ level: 50, volumeId: 1, offset: at, size: (datEnds[2] ?? 0) - at });
      expect(line?.["reason"]).toMatch(/invalid CRC/);
      const metrics = new VolumeMetrics(store, () => undefined);
      // A counter: a second scrape does not count the damage again.
      expect(await metrics.metrics()).toMatch(/^SeaweedFS_volumeServer_damaged_records_total 1$/m);
      expect(await metrics.metrics()).toMatch(/^SeaweedFS_volumeServer_damaged_records_total 1$/m);
      expect(store.read(1, 3n, 3).data.equals(dataOf(3))).toBe(true);
    } finally {
      await store.close();
    }
  });
});
