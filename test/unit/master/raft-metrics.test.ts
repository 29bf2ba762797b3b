// The masters' Raft metrics (src/master/api/raft-metrics.ts) on three real runtimes (loopback
// gRPC, LevelDB in temp dirs): is_leader only on the leader (issue 14: it was 1 on every master),
// has_leader everywhere, and the numbers the runtime's events feed (proposal commit time, failed
// proposals, fsync time, leader changes, per-peer last heard).
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { raftMetrics, type RaftMetricsSource } from "../../../src/master/api/raft-metrics.js";
import type { RaftRuntime } from "../../../src/raft/runtime/index.js";
import { encodePut } from "../../../src/raft/runtime/kv-example/kv-state-machine.js";
import { TestCluster } from "../raft-runtime/cluster.js";

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

/** The value of one sample line ("name{labels} value"), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("Raft metrics", () => {
  it("is_leader is 1 on the leader only; proposals, failures, fsyncs and peers are counted", async () => {
    cluster = await TestCluster.start(["n1", "n2", "n3"]);
    const registries = new Map<string, Registry>();
    for (const [id, n] of cluster.nodes) {
      const registry = new Registry();
      raftMetrics(n.rt, [registry]);
      registries.set(id, registry);
    }
    const leader = await cluster.leader();
    await leader.rt.propose(encodePut("a", Buffer.from("1")));
    const follower = cluster.followers(leader)[0]!;
    await expect(follower.rt.propose(encodePut("b", Buffer.from("2")))).rejects.toThrow();
    await cluster.allApplied(leader.rt.status().commit);

    const texts = new Map<string, string>();
    for (const [id, r] of registries) texts.set(id, await r.metrics());
    const lead = texts.get(leader.id)!;
    const foll = texts.get(follower.id)!;
    expect([...texts.values()].map((t) => sample(t, "SeaweedFS_master_is_leader")).sort()).toEqual([0, 0, 1]);
    expect(sample(lead, "SeaweedFS_master_is_leader")).toBe(1);
    for (const t of texts.values()) {
      expect(sample(t, "SeaweedFS_master_raft_has_leader")).toBe(1);
      expect(sample(t, "SeaweedFS_master_raft_term")).toBe(leader.rt.status().term);
    }
    expect(sample(lead, "SeaweedFS_master_raft_proposal_commit_duration_seconds_count")).toBe(1);
    expect(sample(lead, "SeaweedFS_master_raft_proposals_failed_total")).toBe(0);
    expect(sample(foll, "SeaweedFS_master_raft_proposals_failed_total")).toBe(1);
    expect(sample(lead, "SeaweedFS_master_raft_disk_wal_fsync_duration_seconds_count")).toBeGreaterThan(0);
    expect(sample(lead, "SeaweedFS_master_raft_commit_index")).toBe(leader.rt.status().commit);
    expect(sample(lead, "SeaweedFS_master_raft_applied_index")).toBe(leader.rt.status().applied);
    // Listening started before the election: every master saw a leader appear (once, unless an
    // election was repeated).
    for (const t of texts.values())
      expect(sample(t, "SeaweedFS_master_raft_leader_changes_seen_total")).toBeGreaterThanOrEqual(1);
    for (const peer of cluster.followers(leader)) {
      const heard = sample(lead, `SeaweedFS_master_raft_peer_last_heard_seconds{peer="${peer.id}"}`);
      expect(heard).toBeGreaterThanOrEqual(0);
      expect(heard).toBeLessThan(5);
    }
    expect(lead).not.toContain(`SeaweedFS_master_raft_peer_last_heard_seconds{peer="${leader.id}"}`);
  });

  it("a runtime not yet started exports is_leader 0, has_leader 0 and term 0", async () => {
    cluster = await TestCluster.start(["n1"]);
    const n = cluster.nodes.get("n1")!;
    const registry = new Registry();
    raftMetrics({ ...pick(n.rt), core: null }, [registry]);
    const text = await registry.metrics();
    expect(sample(text, "SeaweedFS_master_is_leader")).toBe(0);
    expect(sample(text, "SeaweedFS_master_raft_has_leader")).toBe(0);
    expect(sample(text, "SeaweedFS_master_raft_term")).toBe(0);
  });
});

function pick<R>(rt: RaftRuntime<R>): Omit<RaftMetricsSource, "core"> {
  return {
    on: rt.on.bind(rt),
    isLeader: () => rt.isLeader(),
    currentLeader: () => rt.currentLeader(),
    status: () => rt.status(),
  };
}
