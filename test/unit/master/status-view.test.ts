// The master status page's pure parts: the banner's words, the record of servers that left (its
// bounds, and what a new leader takes over), and the rendered rows a person reads.
import { describe, expect, it } from "vitest";
import { humanBytes, humanDuration, percentOf } from "../../../src/common/human-size.js";
import type { ReplicaInfo } from "../../../src/master/topology/data-node.js";
import { Topology } from "../../../src/master/topology/topology.js";
import {
  departedKeepMs,
  departedServersMax,
  inheritGraceMs,
  VolumeServerRecords,
} from "../../../src/master/api/volume-server-records.js";
import { bannerOf, topologyView, type MasterRow } from "../../../src/master/api/status-view.js";
import { renderMasterStatus } from "../../../src/master/api/status-page.js";
import type { MasterStatusView } from "../../../src/master/api/status-data.js";

const MiB = 1024 * 1024;

function replica(id: number, size: number, fileCount: number): ReplicaInfo {
  return {
    ...{ id, collection: "", replicaPlacement: 0, ttl: 0, size, fileCount, deleteCount: 0, deletedByteCount: 0 },
    ...{ readOnly: false, version: 3, compactRevision: 0, modifiedAtSecond: 0, diskType: "", needsCheck: false },
  };
}

function server(t: Topology, port: number) {
  const spec = { ip: "10.0.0.1", port, publicUrl: "", grpcPort: port + 10000, dataCenter: "", rack: "", maxVolumes: 4 };
  return t.registerNode(spec);
}

function master(id: string, reachable: boolean, role = reachable ? "follower" : "unreachable"): MasterRow {
  return {
    ...{ id, self: false, suffrage: "voter", role, reachable, lastHeardMs: null },
    ...{ term: reachable ? 2 : null, commit: null, applied: null, problem: reachable ? null : "ECONNREFUSED" },
  };
}

describe("the banner", () => {
  const a = "10.0.0.1:9333";
  const b = "10.0.0.2:9333";
  const c = "10.0.0.3:9333";
  it("is absent with a leader and a quorum", () => {
    expect(bannerOf(a, [master(a, true, "leader"), master(b, true), master(c, false)])).toBeNull();
  });
  it("says no leader and quorum lost, with the counts, when one master of three answers", () => {
    expect(bannerOf(null, [master(a, true), master(b, false), master(c, false)])).toBe(
      "No leader: quorum lost (1 of 3 masters reachable, 2 needed). " +
        "Assigns and cluster changes fail until more masters are back.",
    );
  });
  it("says an election is under way when a quorum answers but no leader is known", () => {
    expect(bannerOf(null, [master(a, true), master(b, true), master(c, false)])).toBe(
      "No leader: an election is under way (2 of 3 masters reachable, 2 needed).",
    );
  });
  it("says so when the leader still named does not answer", () => {
    expect(bannerOf(c, [master(a, true), master(b, false), master(c, false)])).toBe(
      `No leader: the leader ${c} does not answer; quorum lost (1 of 3 masters reachable, 2 needed): ` +
        "no other can be elected.",
    );
  });
});

describe("volume servers that left", () => {
  it("are kept with their volumes for departedKeepMs, and leave the list when they come back", () => {
    let now = 1_000_000;
    const t = new Topology(MiB);
    const records = new VolumeServerRecords(t, () => now);
    records.watch();
    const n = server(t, 8080);
    t.syncVolumes(n, [replica(3, 2 * 1024, 2), replica(1, 1024, 1)]);
    now += 500;
    t.unregisterNode(n);
    const [gone, ...rest] = records.departed();
    expect(rest).toEqual([]);
    expect(gone).toMatchObject({ id: "10.0.0.1:8080", leftAtMs: 1_000_500, lastReportAtMs: 1_000_000, how: "left" });
    expect(gone!.volumes.map((v) => v.id)).toEqual([1, 3]);
    const view = topologyView(t, records, now);
    expect(view.departed[0]!.volumes.map((v) => v.liveCopies)).toEqual([0, 0]);

    server(t, 8080);
    expect(records.departed()).toEqual([]);
    t.unregisterNode(t.node("10.0.0.1:8080")!);
    now += departedKeepMs + 1;
    expect(records.departed()).toEqual([]);
  });

  it("keep at most departedServersMax, the newest", () => {
    let now = 0;
    const t = new Topology(MiB);
    const records = new VolumeServerRecords(t, () => now);
    records.watch();
    for (let i = 0; i < departedServersMax + 5; i++) {
      now++;
      t.unregisterNode(server(t, 10_000 + i));
    }
    const listed = records.departed();
    expect(listed).toHaveLength(departedServersMax);
    expect(listed[0]!.id).toBe(`10.0.0.1:${10_000 + departedServersMax + 4}`);
  });

  it("a new leader lists a server the old one knew only after inheritGraceMs without a report", () => {
    let now = 5_000_000;
    const t = new Topology(MiB);
    const records = new VolumeServerRecords(t, () => now);
    records.watch();
    const known = [...[8080, 8081].map((port) => ({ id: `10.0.0.1:${port}`, publicUrl: `10.0.0.1:${port}` }))].map(
      (s) => ({ ...s, dataCenter: "dc", rack: "r", lastReportAtMs: 4_999_000, volumes: [] }),
    );
    records.inherit(known);
    expect(records.departed()).toEqual([]);
    t.syncVolumes(server(t, 8081), []); // back, at the new leader
    now += inheritGraceMs;
    const listed = records.departed();
    expect(listed.map((d) => [d.id, d.how, d.leftAtMs])).toEqual([["10.0.0.1:8080", "not back", 4_999_000]]);
    expect(records.known().map((s) => s.id)).toEqual(["10.0.0.1:8081", "10.0.0.1:8080"]);
  });
});

describe("the rendered page", () => {
  function view(over: Partial<MasterStatusView>): MasterStatusView {
    return {
      ...{ version: "v", self: "10.0.0.1:9333", leading: false, leader: null, banner: null, masters: [] },
      ...{ volumeSizeLimitMB: 30, maxVolumeId: 1, topologyId: "tid", uptimeSec: 5, security: "off", atMs: 0 },
      ...{ topology: null, topologyFrom: null, topologyProblem: "no leader" },
      ...over,
    };
  }

  it("shows a dead master as unreachable, never as follower, and no link when there is no leader", () => {
    const html = renderMasterStatus(
      view({ masters: [master("10.0.0.2:9333", false)], banner: "No leader: quorum lost (1 of 3)" }),
    );
    expect(html).toContain('<div class="banner" role="alert">No leader: quorum lost (1 of 3)</div>');
    expect(html).toContain('<td><span class="bad">unreachable</span></td>');
    expect(html).not.toContain("follower");
    expect(html).not.toContain("(none)");
    expect(html).toContain('<tr><th>Leader</th><td><span class="bad">none</span></td></tr>');
  });

  it("prints sizes with their share of the limit", () => {
    const t = new Topology(MiB);
    t.syncVolumes(server(t, 8080), [replica(1, 300 * 1024, 7)]);
    const html = renderMasterStatus(view({ leading: true, topology: topologyView(t, undefined, 0) }));
    expect(html).toContain("300 KiB (29% of 1.0 MiB)");
    expect(html).toContain("300 KiB (7% of 4 × 1.0 MiB)");
  });
});

describe("human sizes and durations", () => {
  it("reads as a person would write them", () => {
    expect([
      humanBytes(0),
      humanBytes(1023),
      humanBytes(1536),
      humanBytes(30 * MiB),
      humanBytes(5 * 1024 ** 4),
    ]).toEqual(["0 B", "1023 B", "1.5 KiB", "30 MiB", "5.0 TiB"]);
    expect([percentOf(1, 0), percentOf(1, 1000), percentOf(500, 1000)]).toEqual(["", "<1%", "50%"]);
    expect([humanDuration(850), humanDuration(12_500), humanDuration(200_000), humanDuration(3_600_000)]).toEqual([
      "850 ms",
      "12 s",
      "3 min 20 s",
      "1 h",
    ]);
  });
});
