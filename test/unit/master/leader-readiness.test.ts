// A new leader's way to ready, timed from its election (issue 15): each step counts once per term,
// nothing counts while not leading, the report comes once when every step is taken, and /metrics
// shows the last term's times.
import { describe, expect, it } from "vitest";
import { LeaderReadiness } from "../../../src/master/api/leader-readiness.js";
import { MasterMetrics } from "../../../src/master/api/metrics.js";
import type { ClusterState } from "../../../src/master/state/cluster-state.js";
import { Topology } from "../../../src/master/topology/topology.js";

function clocked(): { readiness: LeaderReadiness; advance: (ms: number) => void } {
  let t = 1_000;
  return { readiness: new LeaderReadiness(() => t), advance: (ms) => (t += ms) };
}

describe("LeaderReadiness", () => {
  it("times each step from the election, once per term, and reports when all are taken", () => {
    const { readiness, advance } = clocked();
    const reports: unknown[] = [];
    readiness.reached("firstBeat"); // not leading: ignored
    readiness.began((t) => reports.push(t));
    advance(5);
    readiness.reached("fileKeys");
    advance(20);
    readiness.reached("firstBeat");
    advance(1);
    readiness.reached("firstAssign");
    advance(100);
    readiness.reached("firstAssign"); // a later assign changes nothing
    expect(readiness.last()).toEqual({ fileKeys: 5, firstBeat: 25, firstAssign: 26 });
    expect(reports).toEqual([{ fileKeys: 5, firstBeat: 25, firstAssign: 26 }]);
  });

  it("counts nothing after stepping down, and starts over at the next election", () => {
    const { readiness, advance } = clocked();
    const reports: unknown[] = [];
    readiness.began((t) => reports.push(t));
    readiness.reached("firstBeat");
    readiness.ended();
    advance(10);
    readiness.reached("fileKeys");
    readiness.reached("firstAssign");
    expect(reports).toEqual([]);
    expect(readiness.last()).toEqual({ firstBeat: 0 });
    readiness.began();
    advance(3);
    readiness.reached("firstAssign");
    expect(readiness.last()).toEqual({ firstAssign: 3 });
  });

  it("is on /metrics as SeaweedFS_master_leader_ready_seconds by step, the steps taken only", async () => {
    const state = { maxVolumeId: 0, fileKeyCeiling: 0, topologyId: "" } as unknown as ClusterState;
    const metrics = new MasterMetrics(new Topology(1 << 30), state);
    metrics.readiness.began();
    metrics.assignDone(true, 0.001);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^SeaweedFS_master_leader_ready_seconds\{step="firstAssign"\} \d/m);
    expect(text).not.toMatch(/leader_ready_seconds\{step="firstBeat"\}/);
  });
});
