// volume_locations_changed in bursts (issue 15, 1,000 volume servers): a server joining or leaving
// with more volumes than locationPushBroadcastIdsMax is told of its own volumes only, and the other
// streams are not sent its ids; a change of a few volumes still goes to every stream
// (replica-health-master.test.ts covers those).
import { describe, expect, it } from "vitest";
import { locationPushBroadcastIdsMax, locationPushCoalesceMs } from "../../../src/master/api/location-push.js";
import { waitFor } from "../../helpers.js";
import { masterPerTest, volumeMessage, type FakeVolumeServer } from "./helpers.js";

const fx = masterPerTest("weed-ts-location-burst-");

async function volumeServer(rack: string, ids: number[]): Promise<FakeVolumeServer> {
  return fx.volumeServer({ dataCenter: "dc1", rack }, { volumes: ids.map((id) => volumeMessage(id)) });
}

function pushed(s: FakeVolumeServer): number[] {
  return s.responses.flatMap((r) => r.volumeLocationsChanged);
}

describe("volume_locations_changed in a burst", () => {
  it("goes to the holders only; a few changes still go to every stream", async () => {
    const a = await volumeServer("r1", [1]);
    await waitFor(() => pushed(a).includes(1), { what: "a told of its own volume" });
    const many = Array.from({ length: locationPushBroadcastIdsMax + 8 }, (_, i) => 11 + i);
    const b = await volumeServer("r2", many);
    await waitFor(() => many.every((v) => pushed(b).includes(v)), { what: "b told of its own volumes" });

    // A few changes (one volume of c's) after the burst: every stream, a included, hears of it.
    await volumeServer("r3", [2]);
    await waitFor(() => pushed(a).includes(2) && pushed(b).includes(2), { what: "a and b told of volume 2" });

    // b leaves with all its volumes: no one else holds them, so no one is told.
    b.cancel();
    await waitFor(async () => (await (await fetch(fx.url("/dir/lookup?volumeId=11"))).status) === 404, {
      what: "b's volumes dropped",
    });
    await new Promise((r) => setTimeout(r, locationPushCoalesceMs * 3));
    expect(pushed(a).filter((v) => many.includes(v))).toEqual([]);
  });
});
