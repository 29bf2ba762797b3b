// The volume server's metrics under SeaweedFS's names (issue 14): requests by method and code,
// latency by method, volumes / read-only volumes / bytes per collection, the disk under -dir.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoreApi, VolumeInfo } from "../../../src/volume/storage/store-api.js";
import { VolumeMetrics } from "../../../src/volume/metrics.js";
import { tempDir, type TempDir } from "../../helpers.js";

let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir("weed-ts-volume-metrics-");
});
afterAll(async () => {
  await tmp.remove();
});

function volume(collection: string, size: number, deleted: number, readOnly: boolean): VolumeInfo {
  return { collection, size, deletedByteCount: deleted, readOnly } as VolumeInfo;
}

/** Only what the metrics read. */
function fakeStore(volumes: VolumeInfo[], dir?: string): StoreApi {
  return {
    volumeInfos: () => volumes,
    maxVolumeCount: 7,
    damagedRecordsLoaded: () => 0,
    appendBatchesWritten: () => ({ batches: 0, records: 0 }),
    ...(dir === undefined ? {} : { dir }),
  } as unknown as StoreApi;
}

describe("VolumeMetrics", () => {
  it("counts requests by method (type) and status (code); unknown methods are OTHER", async () => {
    const m = new VolumeMetrics(fakeStore([]), () => undefined);
    const t0 = performance.now();
    m.request("GET", 200, t0);
    m.request("GET", 200, t0);
    m.request("GET", 404, t0);
    m.request("PROPFIND", 405, t0);
    m.request(undefined, 400, t0);
    const text = await m.metrics();
    expect(text).toContain('SeaweedFS_volumeServer_request_total{type="GET",code="200"} 2');
    expect(text).toContain('SeaweedFS_volumeServer_request_total{type="GET",code="404"} 1');
    expect(text).toContain('SeaweedFS_volumeServer_request_total{type="OTHER",code="405"} 1');
    expect(text).toContain('SeaweedFS_volumeServer_request_seconds_count{type="GET"} 3');
    expect(text).toContain('SeaweedFS_volumeServer_request_seconds_count{type="OTHER"} 2');
    // A counter: the next scrape adds nothing new.
    expect(await m.metrics()).toContain('SeaweedFS_volumeServer_request_total{type="GET",code="200"} 2');
  });

  it("sums volumes, read-only volumes and .dat bytes per collection; reads the disk under -dir", async () => {
    const store = fakeStore(
      [volume("", 100, 10, false), volume("", 50, 0, true), volume("pics", 7, 3, false)],
      tmp.dir,
    );
    const text = await new VolumeMetrics(store, () => ({ connected: false })).metrics();
    expect(text).toContain('SeaweedFS_volumeServer_volumes{collection="",type="volume"} 2');
    expect(text).toContain('SeaweedFS_volumeServer_volumes{collection="pics",type="volume"} 1');
    expect(text).toContain('SeaweedFS_volumeServer_read_only_volumes{collection="",type="volume"} 1');
    expect(text).toContain('SeaweedFS_volumeServer_read_only_volumes{collection="pics",type="volume"} 0');
    expect(text).toContain('SeaweedFS_volumeServer_total_disk_size_bytes{collection="",type="normal"} 150');
    expect(text).toContain('SeaweedFS_volumeServer_total_disk_size_bytes{collection="",type="deleted_bytes"} 10');
    expect(text).toContain('SeaweedFS_volumeServer_total_disk_size_bytes{collection="pics",type="normal"} 7');
    expect(text).toContain("SeaweedFS_volumeServer_max_volumes 7");
    expect(text).toContain("SeaweedFS_volumeServer_heartbeat_connected 0");
    const disk = (type: string): number =>
      Number(new RegExp(`resource_bytes\\{name="[^"]+",type="${type}"\\} (\\d+)`).exec(text)?.[1]);
    expect(disk("all")).toBeGreaterThan(0);
    expect(disk("avail")).toBeLessThanOrEqual(disk("free"));
    expect(disk("used") + disk("free")).toBe(disk("all"));
  });

  it("a directory that cannot be read leaves the disk series out instead of failing the scrape", async () => {
    const store = fakeStore([], `${tmp.dir}/does-not-exist`);
    const text = await new VolumeMetrics(store, () => undefined).metrics();
    expect(text).toContain("# TYPE SeaweedFS_volumeServer_resource_bytes gauge");
    expect(text).not.toMatch(/^SeaweedFS_volumeServer_resource_bytes\{/m);
    expect(text).toMatch(/^SeaweedFS_build_info\{/m);
  });
});
