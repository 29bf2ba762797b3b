// The masters' Raft group as Prometheus sees it, read from the runtime (the same numbers
// GET /cluster/raft shows) and from its events. Named as etcd names its equivalents, under our
// prefix (README "Metrics" has the mapping):
//   SeaweedFS_master_is_leader                               etcd_server_is_leader
//   SeaweedFS_master_raft_has_leader                         etcd_server_has_leader
//   SeaweedFS_master_raft_leader_changes_seen_total          etcd_server_leader_changes_seen_total
//   SeaweedFS_master_raft_proposals_failed_total             etcd_server_proposals_failed_total
//   SeaweedFS_master_raft_commit_index / _applied_index      etcd_server_proposals_committed_total / _applied_total
//   SeaweedFS_master_raft_proposals_pending                  etcd_server_proposals_pending
//   SeaweedFS_master_raft_disk_wal_fsync_duration_seconds    etcd_disk_wal_fsync_duration_seconds
// Timing comes from the runtime's events, measured on its clock at its edge; the core is not touched.
import type { EventEmitter } from "node:events";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RaftRuntimeEvents, RuntimeStatus } from "../../raft/runtime/index.js";

/** The part of the Raft runtime the metrics read. */
export interface RaftMetricsSource extends Pick<EventEmitter<RaftRuntimeEvents>, "on"> {
  /** Null until the runtime started: status() throws before. */
  readonly core: object | null;
  isLeader(): boolean;
  currentLeader(): string | null;
  status(): RuntimeStatus;
}

/**
 * Seconds. A LevelDB batch with fsync is ~0.1-2 ms on an SSD and 5-50 ms on a spinning disk or a
 * busy cloud volume; etcd's own buckets (1 ms .. 8 s, doubling) start above an SSD's fsync, so
 * ours start at 100 us and keep etcd's doubling and top, so its alert threshold (p99 > 0.5 s) reads the same.
 */
const DISK_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
  8.192,
];

/** Seconds from propose() to the answer: one fsync'd round trip to a quorum plus apply. */
const PROPOSAL_BUCKETS_S = DISK_BUCKETS_S;

export function raftMetrics(runtime: RaftMetricsSource, registers: Registry[]): void {
  roleGauges(runtime, registers);
  indexGauges(runtime, registers);
  const leaderChanges = new Counter({
    name: "SeaweedFS_master_raft_leader_changes_seen_total",
    help: "Times this master saw a new leader (a change to no leader is not counted), as etcd counts them.",
    registers,
  });
  runtime.on("leader-changed", ({ leader }) => {
    if (leader !== null) leaderChanges.inc();
  });
  const failed = new Counter({
    name: "SeaweedFS_master_raft_proposals_failed_total",
    help: "Proposals that failed here: not leader, dropped, timed out, leadership lost (outcome unknown), closed.",
    registers,
  });
  const commitSeconds = new Histogram({
    name: "SeaweedFS_master_raft_proposal_commit_duration_seconds",
    help: "Time from propose() to the state machine's answer on this master (committed by a quorum, applied).",
    buckets: PROPOSAL_BUCKETS_S,
    registers,
  });
  runtime.on("proposal-done", ({ durationMs, error }) => {
    if (error === null) commitSeconds.observe(durationMs / 1000);
    else failed.inc();
  });
  const fsyncSeconds = new Histogram({
    name: "SeaweedFS_master_raft_disk_wal_fsync_duration_seconds",
    help: "Time of each durable Raft log write (LevelDB batch with fsync: entries, term, vote).",
    buckets: DISK_BUCKETS_S,
    registers,
  });
  runtime.on("log-synced", ({ durationMs }) => fsyncSeconds.observe(durationMs / 1000));
  peerGauge(runtime, registers);
}

function roleGauges(runtime: RaftMetricsSource, registers: Registry[]): void {
  new Gauge({
    name: "SeaweedFS_master_is_leader",
    help: "1 on the Raft leader (with a live loop), 0 on followers, candidates and masters without quorum.",
    registers,
    collect() {
      this.set(runtime.core !== null && runtime.isLeader() ? 1 : 0);
    },
  });
  new Gauge({
    name: "SeaweedFS_master_raft_has_leader",
    help: "1 while this master knows a leader (itself included), 0 while none is known (no quorum, election).",
    registers,
    collect() {
      this.set(runtime.core !== null && runtime.currentLeader() !== null ? 1 : 0);
    },
  });
}

/** Gauges read from status() at each scrape; 0 until the runtime started. */
function indexGauges(runtime: RaftMetricsSource, registers: Registry[]): void {
  const fromStatus = (name: string, help: string, value: (s: RuntimeStatus) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        if (runtime.core !== null) this.set(value(runtime.status()));
      },
    });
  };
  fromStatus("SeaweedFS_master_raft_term", "Current Raft term on this master.", (s) => s.term);
  fromStatus("SeaweedFS_master_raft_commit_index", "Highest log index this master knows committed.", (s) => s.commit);
  fromStatus("SeaweedFS_master_raft_applied_index", "Highest log index applied to the state here.", (s) => s.applied);
  fromStatus(
    "SeaweedFS_master_raft_proposals_pending",
    "Proposals appended here and waiting to commit.",
    (s) => s.pendingProposals,
  );
}

function peerGauge(runtime: RaftMetricsSource, registers: Registry[]): void {
  new Gauge({
    name: "SeaweedFS_master_raft_peer_last_heard_seconds",
    help: "Seconds since this master last received any Raft message from the peer (absent: never since start).",
    labelNames: ["peer"],
    registers,
    collect() {
      this.reset();
      if (runtime.core === null) return;
      for (const m of runtime.status().members)
        if (m.lastHeardMs !== null) this.set({ peer: m.id }, m.lastHeardMs / 1000);
    },
  });
}
