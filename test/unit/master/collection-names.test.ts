// An invalid collection name is refused by the master before anything is allocated (issue 9
// item 5): no volume id is spent, no volume server is asked, and no server path is in the answer.
import { beforeEach, describe, expect, it } from "vitest";
import { masterPerTest, type FakeVolumeServer } from "./helpers.js";

const fx = masterPerTest("weed-ts-collection-names-");
let volume: FakeVolumeServer;

beforeEach(async () => {
  volume = await fx.volumeServer();
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(fx.url(path));
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe("collection names", () => {
  it.each(["..", "%C3%A9", "a%20b", "x".repeat(251)])(
    "/dir/assign?collection=%s is 406 and spends no volume id",
    async (name) => {
      const before = (await get("/cluster/status")).body.MaxVolumeId;
      for (let i = 0; i < 3; i++) {
        const r = await get(`/dir/assign?collection=${name}`);
        expect(r.status).toBe(406);
        expect(r.body.error).toMatch(/invalid collection name/);
        expect(r.body.error).not.toContain(fx.dir);
      }
      expect((await get("/cluster/status")).body.MaxVolumeId).toBe(before);
      expect(volume.allocations).toEqual([]);
    },
  );

  it("a valid one grows as before", async () => {
    const r = await get("/dir/assign?collection=pics-2024.v1");
    expect(r.status).toBe(200);
    expect(volume.allocations.map((a) => a.collection)).toContain("pics-2024.v1");
  });
});
