// Servers that leave together (issue 15: a leader stepping down, a network blip) are dropped a few
// at a time between turns of the event loop; all of them go, and one that is back before its old
// stream's drop keeps its new registration.
import { describe, expect, it } from "vitest";
import { waitFor } from "../../helpers.js";
import { masterPerTest, volumeMessage } from "./helpers.js";

const SERVERS = 24;
const VOLUMES = 40;

const fx = masterPerTest("weed-ts-heartbeat-drops-");

async function dataNodes(): Promise<number> {
  const s = (await (await fetch(fx.url("/dir/status"))).json()) as {
    Topology: { DataCenters?: { Racks?: { DataNodes?: unknown[] }[] }[] };
  };
  let n = 0;
  for (const dc of s.Topology.DataCenters ?? []) for (const r of dc.Racks ?? []) n += (r.DataNodes ?? []).length;
  return n;
}

describe("servers leaving together", () => {
  it("are all dropped, and one back at once stays registered", async () => {
    for (let i = 0; i < SERVERS; i++) {
      // Ids within the bound a server naming no cluster is held to (64 above the maximum).
      const ids = Array.from({ length: VOLUMES }, (_, k) => 1 + ((i * VOLUMES + k) % 60));
      const volumes = ids.map((id) => volumeMessage(id));
      await fx.volumeServer({ dataCenter: "dc1", rack: `r${i % 3}` }, { volumes });
    }
    await waitFor(async () => (await dataNodes()) === SERVERS, { what: `${SERVERS} servers registered` });

    for (const s of fx.servers) s.cancel();
    await fx.servers[0]!.connect(fx.master.grpcPort, { volumes: [volumeMessage(1)] });
    await waitFor(async () => (await dataNodes()) === 1, { what: "every server but the one back dropped" });
    await new Promise((r) => setTimeout(r, 200));
    expect(await dataNodes()).toBe(1);
  });
});
