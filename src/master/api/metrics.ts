// Prometheus metrics of one master, on a registry of its own (two masters in one process, as in
// tests or `weed-ts server`, must not share counters). Names follow SeaweedFS's
// SeaweedFS_master_* where it has the same metric. Label children of the hot counters are bound
// once here so the assign path does no label lookups.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Topology } from "../topology/topology.js";
import type { ClusterState } from "../state/cluster-state.js";

export type HeartbeatKind = "total" | "dataNode" | "Volumes" | "newVolumes" | "deletedVolumes" | "error" | "silent";

export class MasterMetrics {
  readonly registry = new Registry();
  private readonly assignOk: Counter.Internal;
  private readonly assignFailed: Counter.Internal;
  private readonly assignSeconds: Histogram;
  private readonly heartbeats: Counter<"type">;
  private readonly volumeCreation: Counter<"result">;

  constructor(topology: Topology, state: ClusterState) {
    const registers = [this.registry];
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
    this.heartbeats = new Counter({
      name: "SeaweedFS_master_received_heartbeats",
      help: "Heartbeats received, by kind.",
      labelNames: ["type"],
      registers,
    });
    this.volumeCreation = new Counter({
      name: "SeaweedFS_master_volume_creation_total",
      help: "Volumes grown, by result.",
      labelNames: ["result"],
      registers,
    });
    new Gauge({ name: "SeaweedFS_master_is_leader", help: "1 when this master is the leader.", registers }).set(1);
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
    new Gauge({
      name: "SeaweedFS_master_volume_layout_writable",
      help: "Writable volumes per layout.",
      labelNames: ["collection", "rp", "ttl"],
      registers,
      collect() {
        this.reset();
        for (const l of topology.allLayouts())
          this.set({ collection: l.collection, rp: l.replicationText, ttl: l.ttlText }, l.writableCount);
      },
    });
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
    this.assignSeconds.observe(seconds);
  }

  heartbeat(kind: HeartbeatKind, n = 1): void {
    this.heartbeats.inc({ type: kind }, n);
  }

  volumeCreated(ok: boolean): void {
    this.volumeCreation.inc({ result: ok ? "success" : "failure" });
  }
}
