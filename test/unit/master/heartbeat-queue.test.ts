// Beats are queued and applied a few milliseconds per turn of the event loop (issue 15): many
// servers beating at once are all applied, each beat answered once, and a server's beats in the
// order it sent them (a delta after the full beat it follows).
import { describe, expect, it } from "vitest";
import { waitFor } from "../../helpers.js";
import { masterPerTest, volumeMessage, type FakeVolumeServer } from "./helpers.js";

const SERVERS = 20;
const VOLUMES = 50;
/** Full beats each server sends in one burst, besides the deltas. */
const BURST_FULL_BEATS = 5;

const fx = masterPerTest("weed-ts-heartbeat-queue-");

/** Answers to beats: a push of volume_locations_changed is a message of its own, not an answer. */
function answers(s: FakeVolumeServer): number {
  return s.responses.filter((r) => r.volumeLocationsChanged.length === 0).length;
}

async function lookupStatus(vid: number): Promise<number> {
  const r = await fetch(fx.url(`/dir/lookup?volumeId=${vid}`));
  await r.arrayBuffer();
  return r.status;
}

describe("queued beats", () => {
  it("many servers' bursts are all applied in each server's order, each beat answered once", async () => {
    // Ids within the bound a server naming no cluster is held to (64 above the maximum).
    const idsOf = (i: number): number[] => Array.from({ length: VOLUMES }, (_, k) => 1 + ((i * VOLUMES + k) % 60));
    for (let i = 0; i < SERVERS; i++) {
      const volumes = idsOf(i).map((id) => volumeMessage(id));
      await fx.volumeServer({ dataCenter: "dc1", rack: `r${i % 3}`, maxVolumes: 100 }, { volumes });
    }
    const servers = fx.servers;
    const answered = servers.map(answers);
    // Server 0 adds volume 61 and deletes it; server 1 deletes 62 (which it never had) and adds it.
    // Applied out of order, 61 would stay and 62 would be gone.
    const short = (id: number) => ({ id, version: 3 });
    let sent = 0;
    for (let round = 0; round < BURST_FULL_BEATS; round++) {
      servers.forEach((s, i) => s.beat({ volumes: idsOf(i).map((id) => volumeMessage(id, { size: round })) }));
      sent++;
    }
    servers[0]!.beat({ newVolumes: [short(61)] });
    servers[0]!.beat({ deletedVolumes: [short(61)] });
    servers[1]!.beat({ deletedVolumes: [short(62)] });
    servers[1]!.beat({ newVolumes: [short(62)] });

    const expected = (i: number): number => answered[i]! + sent + (i < 2 ? 2 : 0);
    await waitFor(() => servers.every((s, i) => answers(s) >= expected(i)), {
      timeoutMs: 10_000,
      what: "every beat answered",
    });
    await new Promise((r) => setTimeout(r, 100));
    servers.forEach((s, i) => expect(answers(s), `answers to server ${i}`).toBe(expected(i)));
    expect(await lookupStatus(61)).toBe(404);
    expect(await lookupStatus(62)).toBe(200);
    expect(await lookupStatus(1)).toBe(200);
  });
});
