// Replica health through a real MasterServer (issue 11): fake volume servers heartbeat over real
// gRPC; /metrics, /dir/status and the status page show under-replicated, read-only and needs-check
// volumes; and every open heartbeat stream is told, coalesced, which volumes' locations changed.
import { describe, expect, it } from "vitest";
import { locationPushCoalesceMs } from "../../../src/master/api/location-push.js";
import { waitFor } from "../../helpers.js";
import { masterPerTest, volumeMessage, type FakeVolumeServer, type InitialBeat } from "./helpers.js";

const fx = masterPerTest("weed-ts-replica-health-");

function volumeServer(rack: string, initial: InitialBeat = {}): Promise<FakeVolumeServer> {
  return fx.volumeServer({ dataCenter: "dc1", rack }, initial);
}

const url = (path: string): string => fx.url(path);
const rp010 = (id: number, o: { readOnly?: boolean; needsCheck?: boolean } = {}): ReturnType<typeof volumeMessage> => ({
  ...volumeMessage(id, { replication: "010", readOnly: o.readOnly ?? false }),
  needsCheck: o.needsCheck ?? false,
});

/** Every id the server was told changed, in order of arrival. */
function pushed(s: FakeVolumeServer): number[] {
  return s.responses.flatMap((r) => r.volumeLocationsChanged);
}

describe("replica health on /metrics, /dir/status and /", () => {
  it("counts and lists under-replicated, read-only and needs-check volumes, and assigns around them", async () => {
    await volumeServer("r1", { volumes: [rp010(1, { needsCheck: true }), rp010(2), rp010(3), rp010(4)] });
    await volumeServer("r2", { volumes: [rp010(1), rp010(2, { readOnly: true }), rp010(3)] });

    const metrics = await (await fetch(url("/metrics"))).text();
    const labels = `{collection="",rp="010",ttl=""}`;
    expect(metrics).toContain(`SeaweedFS_master_under_replicated_volumes${labels} 1`);
    expect(metrics).toContain(`SeaweedFS_master_read_only_volumes${labels} 1`);
    expect(metrics).toContain(`SeaweedFS_master_needs_check_volumes${labels} 1`);
    expect(metrics).toContain(`SeaweedFS_master_volume_layout_writable${labels} 1`);

    const status = (await (await fetch(url("/dir/status"))).json()) as {
      Topology: { Layouts: Record<string, unknown>[] };
    };
    expect(status.Topology.Layouts).toEqual([
      {
        ...{ replication: "010", ttl: "", writables: [3], collection: "", diskType: "hdd" },
        ...{ underReplicated: [4], readOnly: [2], needsCheck: [1], full: [], crowded: [] },
      },
    ]);

    const page = await (await fetch(url("/"))).text();
    const section = page.slice(page.indexOf("Volumes needing attention"));
    expect(section).toContain("<tr><td>1</td><td></td><td>010</td><td>2 / 2</td><td>needs check</td>");
    expect(section).toContain("<tr><td>4</td><td></td><td>010</td><td>1 / 2</td><td>under-replicated</td>");

    for (let i = 0; i < 10; i++) {
      const r = (await (await fetch(url("/dir/assign?replication=010"))).json()) as { fid: string };
      expect(r.fid).toMatch(/^3,/);
    }
  });

  it("a heartbeat clearing needs_check puts the volume back on the writable list", async () => {
    const a = await volumeServer("r1", { volumes: [rp010(1, { needsCheck: true })] });
    await volumeServer("r2", { volumes: [rp010(1)] });
    const writables = async (): Promise<unknown> =>
      ((await (await fetch(url("/dir/status"))).json()) as { Topology: { Layouts: { writables: number[] }[] } })
        .Topology.Layouts[0]!.writables;
    expect(await writables()).toEqual([]);
    a.beat({ volumes: [rp010(1)] });
    await waitFor(async () => JSON.stringify(await writables()) === "[1]", { what: "volume 1 writable again" });
  });
});

describe("volume_locations_changed", () => {
  it("tells every open stream of a server joining with volumes, new volumes and a server leaving", async () => {
    const a = await volumeServer("r1", { volumes: [rp010(1), rp010(2)] });
    const b = await volumeServer("r2");
    // a's own join: pushed to a (and to b if its stream opened within the coalescing interval).
    await waitFor(() => pushed(a).includes(2), { what: "a told of its own volumes" });

    const c = await volumeServer("r3", { volumes: [rp010(1)] });
    await waitFor(() => pushed(b).includes(1) && pushed(c).includes(1), { what: "b and c told of volume 1" });
    expect(b.responses.at(-1)!.volumeLocationsChanged).toEqual([1]);

    // Three deltas in a row: one coalesced message.
    const before = b.responses.filter((r) => r.volumeLocationsChanged.length > 0).length;
    for (const id of [7, 5, 6]) b.beat({ newVolumes: [{ id, replicaPlacement: 10, version: 3 }] });
    await waitFor(() => [5, 6, 7].every((v) => pushed(a).includes(v)), { what: "a told of 5, 6, 7" });
    const messages = b.responses.filter((r) => r.volumeLocationsChanged.length > 0);
    expect(messages.length - before).toBe(1);
    expect(messages.at(-1)!.volumeLocationsChanged).toEqual([5, 6, 7]);

    b.beat({ deletedVolumes: [{ id: 6 }] });
    await waitFor(() => pushed(a).filter((v) => v === 6).length === 2, { what: "a told of 6 deleted" });

    c.cancel(); // a crash: its stream breaks and the master drops it
    await waitFor(() => pushed(a).filter((v) => v === 1).length >= 3, { what: "a told c's volume 1 lost a copy" });
  });

  it("a replica flag or size change is not a location change", async () => {
    const a = await volumeServer("r1", { volumes: [rp010(1)] });
    await waitFor(() => pushed(a).includes(1), { what: "a told of its join" });
    const n = pushed(a).length;
    a.beat({ volumes: [{ ...rp010(1, { needsCheck: true }), size: 100n }] });
    await waitFor(() => a.responses.length >= 3, { what: "the beat answered" });
    await new Promise((r) => setTimeout(r, locationPushCoalesceMs * 3));
    expect(pushed(a)).toHaveLength(n);
  });
});
