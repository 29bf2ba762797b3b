// Prometheus metrics of one master, on a registry of its own (two masters in one process, as in
// tests or `weed-ts server`, must not share counters). Names follow SeaweedFS's
// SeaweedFS_master_* where it has the same metric; the Raft group's are in raft-metrics.ts, the
// process's (process_*, nodejs_*, SeaweedFS_build_info) in common/process-metrics.ts. Label
// children of the hot counters are bound once here so the assign path does no label lookups.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { addProcessMetrics, startTimeGauge } from "../../common/process-metrics.js";
import { RaftClusterState } from "../state/raft-cluster-state.js";
import { raftMetrics, type RaftMetricsSource } from "./raft-metrics.js";
import type { Topology } from "../topology/topology.js";
import {
  HEALTH_NEEDS_CHECK,
  HEALTH_READ_ONLY,
  HEALTH_UNDER_REPLICATED,
  type VolumeLayout,
} from "../topology/volume-layout.js";
import type { ClusterState } from "../state/cluster-state.js";
import { LeaderReadiness, READINESS_STEPS } from "./leader-readiness.js";

const HEARTBEAT_KINDS = ["total", "dataNode", "Volumes", "newVolumes", "deletedVolumes", "error", "silent"] as const;
export type HeartbeatKind = (typeof HEARTBEAT_KINDS)[number];

export class MasterMetrics {
  readonly registry = new Registry();
  private readonly assignOk: Counter.Internal;
  private readonly assignFailed: Counter.Internal;
  private readonly assignSeconds: Histogram;
  private readonly heartbeats: Record<HeartbeatKind, Counter.Internal>;
  private readonly volumeCreation: Counter<"result">;
  private readonly locationPushes: Counter;
  /** A new leader's way to ready (leader-readiness.ts): steps taken by the beats, the keys and assigns. */
  readonly readiness = new LeaderReadiness();

  /**
   * `raft`: the masters' Raft runtime; by default the one of a RaftClusterState. Without one (a
   * state kept elsewhere) no Raft metric is exported and SeaweedFS_master_is_leader is absent.
   */
  constructor(topology: Topology, state: ClusterState, raft: RaftMetricsSource | undefined = raftOf(state)) {
    const registers = [this.registry];
    addProcessMetrics(this.registry);
    startTimeGauge(this.registry, "SeaweedFS_master_start_time_seconds", "Start time of the master, Unix seconds.");
    if (raft !== undefined) raftMetrics(raft, registers);
    const assigns = new Counter({
      name: "SeaweedFS_master_assign_total",
      help: "Assign requests (HTTP and gRPC) by result.",
      labelNames: ["result"],
      registers,
    });
    this.assignOk = assigns.labels({ result: "ok" });
    this.assignFailed = assigns.labels({ result: "error" });
    this.assignSeconds = new Histogram({
      name: "SeaweedFS_master_assign_seconds",
      help: "Time to answer an assign, including any volume growth it waited for.",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10],
      registers,
    });
    const heartbeats = new Counter({
      name: "SeaweedFS_master_received_heartbeats_total",
      help: "Heartbeats received, by kind (SeaweedFS: SeaweedFS_master_received_heartbeats).",
      labelNames: ["type"],
      registers,
    });
    this.heartbeats = Object.fromEntries(HEARTBEAT_KINDS.map((k) => [k, heartbeats.labels({ type: k })])) as Record<
      HeartbeatKind,
      Counter.Internal
    >;
    this.volumeCreation = new Counter({
      name: "SeaweedFS_master_volume_creation_total",
      help: "Volumes grown, by result.",
      labelNames: ["result"],
      registers,
    });
    this.locationPushes = new Counter({
      name: "SeaweedFS_master_volume_location_changes_pushed_total",
      help: "Volume ids sent to volume servers in volume_locations_changed (once per message, not per stream).",
      registers,
    });
    new Gauge({
      name: "SeaweedFS_master_volume_servers",
      help: "Volume servers with a live heartbeat stream.",
      registers,
      collect() {
        this.set(topology.nodeCount);
      },
    });
    new Gauge({
      name: "SeaweedFS_master_volumes",
      help: "Volumes known from heartbeats.",
      registers,
      collect() {
        this.set(topology.volumeCount);
      },
    });
    layoutGauge(topology, registers, {
      name: "SeaweedFS_master_volume_layout_writable",
      help: "Writable volumes per layout.",
      value: (l) => l.writableCount,
    });
    replicaHealthGauges(topology, registers);
    readinessGauge(this.readiness, registers);
    new Gauge({
      name: "SeaweedFS_master_max_volume_id",
      help: "Largest volume id allocated or seen.",
      registers,
      collect() {
        this.set(state.maxVolumeId);
      },
    });
    new Gauge({
      name: "SeaweedFS_master_file_key_ceiling",
      help: "Largest file key durably reserved.",
      registers,
      collect() {
        this.set(state.fileKeyCeiling);
      },
    });
  }

  assignDone(ok: boolean, seconds: number): void {
    (ok ? this.assignOk : this.assignFailed).inc();
    if (ok) this.readiness.reached("firstAssign");
    this.assignSeconds.observe(seconds);
  }

  heartbeat(kind: HeartbeatKind, n = 1): void {
    this.heartbeats[kind].inc(n);
  }

  locationsPushed(n: number): void {
    this.locationPushes.inc(n);
  }

  volumeCreated(ok: boolean): void {
    this.volumeCreation.inc({ result: ok ? "success" : "failure" });
  }
}

function raftOf(state: ClusterState): RaftMetricsSource | undefined {
  return state instanceof RaftClusterState ? state.runtime : undefined;
}

/** Seconds from this master's last election to each readiness step it took (none before one). */
function readinessGauge(readiness: LeaderReadiness, registers: Registry[]): void {
  new Gauge({
    name: "SeaweedFS_master_leader_ready_seconds",
    help: "Seconds from this master's last election to its first beat applied, file keys in hand, first assign.",
    labelNames: ["step"],
    registers,
    collect() {
      this.reset();
      const times = readiness.last();
      for (const step of READINESS_STEPS) {
        const ms = times[step];
        if (ms !== undefined) this.set({ step }, ms / 1000);
      }
    },
  });
}

/** A gauge with one child per layout, read from the topology at each scrape. */
function layoutGauge(
  topology: Topology,
  registers: Registry[],
  g: { name: string; help: string; value: (l: VolumeLayout) => number },
): void {
  new Gauge({
    name: g.name,
    help: g.help,
    labelNames: ["collection", "rp", "ttl"],
    registers,
    collect() {
      this.reset();
      for (const l of topology.allLayouts())
        this.set({ collection: l.collection, rp: l.replicationText, ttl: l.ttlText }, g.value(l));
    },
  });
}

/** Volumes whose replicas are not healthy, per layout, by why. */
function replicaHealthGauges(topology: Topology, registers: Registry[]): void {
  layoutGauge(topology, registers, {
    // SeaweedFS's name and meaning (weed/stats/metrics.go MasterUnderReplicatedVolumes).
    name: "SeaweedFS_master_under_replicated_volumes",
    help: "Volumes with fewer live replicas than their placement asks for, per layout. 0 = healthy.",
    value: (l) => l.countWith(HEALTH_UNDER_REPLICATED),
  });
  layoutGauge(topology, registers, {
    name: "SeaweedFS_master_read_only_volumes",
    help: "Volumes with a replica that reports read-only, per layout.",
    value: (l) => l.countWith(HEALTH_READ_ONLY),
  });
  layoutGauge(topology, registers, {
    name: "SeaweedFS_master_needs_check_volumes",
    help: "Volumes with a replica where a replicated write failed part way (replicas may differ), per layout.",
    value: (l) => l.countWith(HEALTH_NEEDS_CHECK),
  });
}
