// Prometheus metrics of one volume server, in a Registry of its own (two servers in one process,
// as `weed-ts server` or tests run them, must not share counters). Names are SeaweedFS's
// (weed/stats/metrics.go, SeaweedFS_volumeServer_*) with Prometheus's unit suffixes (_total,
// _seconds, _bytes) where SeaweedFS has none; README "Metrics" lists the mapping. The process's
// own metrics (process_*, nodejs_*, SeaweedFS_build_info) come from common/process-metrics.ts.
//
// The request path is hot (tens of thousands of reads a second), so plain numbers are bumped
// there and moved into prom-client when /metrics is scraped (`collect`). The latency histogram
// too: its buckets are a Float64Array here, written out by a metric object of our own (prom-client's
// observe hashes the labels and walks them on every call: ~2% of a 1 KB read's CPU, bench:blob).
import { statfs } from "node:fs/promises";
import { Counter, Gauge, Registry, type Metric, type MetricValueWithName } from "prom-client";
import { addProcessMetrics, startTimeGauge } from "../common/process-metrics.js";
import type { StoreApi } from "./storage/store-api.js";
import type { ReplicaOp } from "./replication/replicator.js";

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "OTHER"] as const;
const METHOD_INDEX: Record<string, number> = Object.fromEntries(METHODS.map((m, i) => [m, i]));
const OTHER = METHODS.length - 1;
const statusCodeMax = 599;

/** Latency buckets in seconds: a page-cache read is ~0.1 ms, an fsync'd write ~0.2-5 ms. */
const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

const statusText: string[] = [];
function statusLabel(status: number): string {
  return (statusText[status] ??= String(status));
}

export interface HeartbeatState {
  readonly connected: boolean;
}

export interface VolumeMetricsOptions {
  /** The store's directory, for the disk gauges. Default: the store's own `dir` when it has one. */
  dir?: string;
}

export class VolumeMetrics {
  readonly registry = new Registry();
  readonly #requests = new Float64Array(METHODS.length * (statusCodeMax + 1));
  #readBytes = 0;
  #writtenBytes = 0;
  readonly #replication: { failed: Record<ReplicaOp, number>; refused: Record<ReplicaOp, number> } = {
    failed: { write: 0, delete: 0 },
    refused: { write: 0, delete: 0 },
  };
  readonly #latency = new LatencyHistogram();

  constructor(store: StoreApi, heartbeat: () => HeartbeatState | undefined, opts: VolumeMetricsOptions = {}) {
    const registers = [this.registry];
    addProcessMetrics(this.registry);
    startTimeGauge(
      this.registry,
      "SeaweedFS_volumeServer_start_time_seconds",
      "Start time of the volume server, Unix seconds.",
    );
    const requests = this.#requests;
    new Counter({
      name: "SeaweedFS_volumeServer_request_total",
      help: "HTTP requests answered, by method (type) and status code (code)",
      labelNames: ["type", "code"],
      registers,
      collect() {
        for (let i = 0; i < requests.length; i++) {
          const n = requests[i]!;
          if (n === 0) continue;
          const type = METHODS[Math.floor(i / (statusCodeMax + 1))]!;
          this.inc({ type, code: statusLabel(i % (statusCodeMax + 1)) }, n);
          requests[i] = 0;
        }
      },
    });
    // The Registry only calls get() and reads name, type and help; its type wants prom-client's classes.
    this.registry.registerMetric(this.#latency as unknown as Metric);
    const self = this;
    new Counter({
      name: "SeaweedFS_volumeServer_read_bytes_total",
      help: "Needle bytes sent in GET responses",
      registers,
      collect() {
        this.inc(self.#readBytes);
        self.#readBytes = 0;
      },
    });
    new Counter({
      name: "SeaweedFS_volumeServer_written_bytes_total",
      help: "Needle data bytes accepted by uploads",
      registers,
      collect() {
        this.inc(self.#writtenBytes);
        self.#writtenBytes = 0;
      },
    });
    volumeGauges(store, registers);
    const dir = opts.dir ?? storeDir(store);
    if (dir !== undefined) diskGauge(dir, registers);
    new Gauge({
      name: "SeaweedFS_volumeServer_max_volumes",
      help: "The -max flag: volumes this server may hold",
      registers,
      collect() {
        this.set(store.maxVolumeCount);
      },
    });
    damagedRecordsCounter(store, registers);
    appendBatchCounters(store, registers);
    replicationCounters(this.#replication, registers);
    new Gauge({
      name: "SeaweedFS_volumeServer_heartbeat_connected",
      help: "1 while a heartbeat stream to the master leader is up",
      registers,
      collect() {
        this.set(heartbeat()?.connected === true ? 1 : 0);
      },
    });
  }

  /** One answered request; `startMs` from performance.now(). */
  request(method: string | undefined, status: number, startMs: number): void {
    const m = (method !== undefined ? METHOD_INDEX[method] : undefined) ?? OTHER;
    const s = status > statusCodeMax || status < 0 ? 0 : status;
    this.#requests[m * (statusCodeMax + 1) + s]! += 1;
    this.#latency.observe(m, (performance.now() - startMs) / 1000);
  }

  bytesRead(n: number): void {
    this.#readBytes += n;
  }

  bytesWritten(n: number): void {
    this.#writtenBytes += n;
  }

  /** A replica failed after the write or delete reached some copy: outcome unknown, the volume needs a check. */
  replicaFailed(op: ReplicaOp): void {
    this.#replication.failed[op] += 1;
  }

  /** A replicated write or delete refused before anything was done: fewer locations than copies. */
  replicaRefused(op: ReplicaOp): void {
    this.#replication.refused[op] += 1;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

const BUCKETS = LATENCY_BUCKETS_S.length;

/**
 * SeaweedFS_volumeServer_request_seconds{type}: what prom-client's Histogram writes out (buckets
 * cumulative with le, then +Inf, _sum and _count; only methods seen), counted in plain arrays.
 * The Registry takes any object with these fields and get().
 */
class LatencyHistogram {
  readonly name = "SeaweedFS_volumeServer_request_seconds";
  readonly help = "Time from request to response handed to the socket, by method (type)";
  readonly type = "histogram" as const;
  readonly aggregator = "sum" as const;
  readonly labelNames = ["type"];
  /** Per METHODS index: BUCKETS counts (not cumulative), then the +Inf count. */
  readonly #counts = new Float64Array(METHODS.length * (BUCKETS + 1));
  readonly #sums = new Float64Array(METHODS.length);

  observe(method: number, seconds: number): void {
    let b = 0;
    while (b < BUCKETS && seconds > LATENCY_BUCKETS_S[b]!) b++;
    this.#counts[method * (BUCKETS + 1) + b]! += 1;
    this.#sums[method]! += seconds;
  }

  get(): Promise<{
    name: string;
    help: string;
    type: "histogram";
    aggregator: "sum";
    values: MetricValueWithName<string>[];
  }> {
    const values: MetricValueWithName<string>[] = [];
    for (let m = 0; m < METHODS.length; m++) {
      const base = m * (BUCKETS + 1);
      let count = 0;
      for (let b = 0; b <= BUCKETS; b++) count += this.#counts[base + b]!;
      if (count === 0) continue;
      const type = METHODS[m]!;
      let acc = 0;
      for (let b = 0; b < BUCKETS; b++) {
        acc += this.#counts[base + b]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: LATENCY_BUCKETS_S[b]!, type }, value: acc });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", type }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { type }, value: this.#sums[m]! });
      values.push({ metricName: `${this.name}_count`, labels: { type }, value: count });
    }
    const { name, help, type, aggregator } = this;
    return Promise.resolve({ name, help, type, aggregator, values });
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sums.fill(0);
  }
}

/** A counter fed from a running sum the store keeps (it only grows): each scrape adds what is new. */
function runningSumCounter(name: string, help: string, registers: Registry[], sum: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const n = sum();
      if (n > seen) this.inc(n - seen);
      seen = n;
    },
  });
}

/** Damaged records the store's volume loads found. */
function damagedRecordsCounter(store: StoreApi, registers: Registry[]): void {
  runningSumCounter(
    "SeaweedFS_volumeServer_damaged_records_total",
    "Damaged needle records found while loading volumes: skipped and left in place, moved to quarantine, " +
      "or kept and answered as corrupt (FORMAT.md Recovery)",
    registers,
    () => store.damagedRecordsLoaded(),
  );
}

/** Small appends written together (append-batch.ts): records / batches is how many uploads a pwritev carried. */
function appendBatchCounters(store: StoreApi, registers: Registry[]): void {
  runningSumCounter(
    "SeaweedFS_volumeServer_append_batches_total",
    "Batches of small appends written to .dat files, one pwritev each (the writes of one event-loop turn)",
    registers,
    () => store.appendBatchesWritten().batches,
  );
  runningSumCounter(
    "SeaweedFS_volumeServer_append_batched_records_total",
    "Needle records written in those batches (divided by the batches: records per pwritev)",
    registers,
    () => store.appendBatchesWritten().records,
  );
}

/** The replication counters, fed from plain numbers bumped on the request path. */
function replicationCounters(
  counts: { failed: Record<ReplicaOp, number>; refused: Record<ReplicaOp, number> },
  registers: Registry[],
): void {
  const fed = (what: "failed" | "refused", name: string, help: string): void => {
    new Counter({
      name,
      help,
      labelNames: ["op"],
      registers,
      collect() {
        for (const op of ["write", "delete"] as const) {
          this.inc({ op }, counts[what][op]);
          counts[what][op] = 0;
        }
      },
    });
  };
  fed(
    "failed",
    "SeaweedFS_volumeServer_replica_failures_total",
    "Replicated writes and deletes a replica failed after some copy took them: answered 5xx, outcome unknown; " +
      "the volume's replicas may differ until repaired",
  );
  fed(
    "refused",
    "SeaweedFS_volumeServer_replica_refusals_total",
    "Replicated writes and deletes refused before anything was done: the master listed fewer locations than copies",
  );
}

interface CollectionSums {
  volumes: number;
  readOnly: number;
  size: number;
  deleted: number;
}

function perCollection(store: StoreApi): Map<string, CollectionSums> {
  const sums = new Map<string, CollectionSums>();
  for (const v of store.volumeInfos()) {
    let c = sums.get(v.collection);
    if (c === undefined) sums.set(v.collection, (c = { volumes: 0, readOnly: 0, size: 0, deleted: 0 }));
    c.volumes++;
    if (v.readOnly) c.readOnly++;
    c.size += v.size;
    c.deleted += v.deletedByteCount;
  }
  return sums;
}

/**
 * Volumes, read-only volumes and bytes on disk per collection, as SeaweedFS's store reports them
 * (weed/storage/store.go: SeaweedFS_volumeServer_volumes, _read_only_volumes, _total_disk_size),
 * summed from the store at each scrape (each gauge on its own: a gauge's collect runs only when
 * that gauge is written out, so one cannot fill another).
 */
function volumeGauges(store: StoreApi, registers: Registry[]): void {
  const perType = (
    name: string,
    help: string,
    set: (g: Gauge<"collection" | "type">, col: string, c: CollectionSums) => void,
  ) => {
    new Gauge({
      name,
      help,
      labelNames: ["collection", "type"],
      registers,
      collect() {
        this.reset();
        for (const [col, c] of perCollection(store)) set(this, col, c);
      },
    });
  };
  perType(
    "SeaweedFS_volumeServer_volumes",
    "Volumes held by this server, by collection (type volume: no EC shards here)",
    (g, collection, c) => g.set({ collection, type: "volume" }, c.volumes),
  );
  perType(
    "SeaweedFS_volumeServer_read_only_volumes",
    "Read-only volumes held by this server, by collection",
    (g, collection, c) => g.set({ collection, type: "volume" }, c.readOnly),
  );
  perType(
    "SeaweedFS_volumeServer_total_disk_size_bytes",
    "Bytes of .dat files by collection: all (type normal) and of deleted needles (type deleted_bytes)",
    (g, collection, c) => {
      g.set({ collection, type: "normal" }, c.size);
      g.set({ collection, type: "deleted_bytes" }, c.deleted);
    },
  );
}

/** The directory of a store that has one (the disk-backed Store does; test doubles may not). */
function storeDir(store: StoreApi): string | undefined {
  const dir = (store as { dir?: unknown }).dir;
  return typeof dir === "string" && dir.length > 0 ? dir : undefined;
}

/**
 * The disk under the store's directory, as SeaweedFS's SeaweedFS_volumeServer_resource (by type:
 * all, used, free, avail), in bytes. One statfs per scrape: microseconds.
 */
function diskGauge(dir: string, registers: Registry[]): void {
  new Gauge({
    name: "SeaweedFS_volumeServer_resource_bytes",
    help: "The volume directory's filesystem: size (all), used, free (root included) and avail (this process may use)",
    labelNames: ["name", "type"],
    registers,
    async collect() {
      this.reset();
      try {
        const s = await statfs(dir);
        this.set({ name: dir, type: "all" }, s.blocks * s.bsize);
        this.set({ name: dir, type: "used" }, (s.blocks - s.bfree) * s.bsize);
        this.set({ name: dir, type: "free" }, s.bfree * s.bsize);
        this.set({ name: dir, type: "avail" }, s.bavail * s.bsize);
      } catch {
        // A scrape must not fail because statfs did; the series vanish and "absent" alerts can tell.
      }
    },
  });
}
