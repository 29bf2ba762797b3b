// Prometheus metrics of one volume server, in a Registry of its own (two servers in one process,
// as `weed-ts server` or tests run them, must not share counters).
//
// The request path is hot (tens of thousands of reads a second), so plain numbers are bumped
// there and moved into prom-client when /metrics is scraped (`collect`), except the latency
// histogram, whose buckets prom-client must own.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
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

export class VolumeMetrics {
  readonly registry = new Registry();
  readonly #requests = new Float64Array(METHODS.length * (statusCodeMax + 1));
  #readBytes = 0;
  #writtenBytes = 0;
  readonly #replication: { failed: Record<ReplicaOp, number>; refused: Record<ReplicaOp, number> } = {
    failed: { write: 0, delete: 0 },
    refused: { write: 0, delete: 0 },
  };
  readonly #latency: Histogram<"method" | "status">;

  constructor(store: StoreApi, heartbeat: () => HeartbeatState | undefined) {
    const registers = [this.registry];
    const requests = this.#requests;
    new Counter({
      name: "weedts_volume_http_requests_total",
      help: "HTTP requests answered, by method and status",
      labelNames: ["method", "status"],
      registers,
      collect() {
        for (let i = 0; i < requests.length; i++) {
          const n = requests[i]!;
          if (n === 0) continue;
          const method = METHODS[Math.floor(i / (statusCodeMax + 1))]!;
          this.inc({ method, status: statusLabel(i % (statusCodeMax + 1)) }, n);
          requests[i] = 0;
        }
      },
    });
    this.#latency = new Histogram({
      name: "weedts_volume_http_request_seconds",
      help: "Time from request to response handed to the socket, by method and status",
      labelNames: ["method", "status"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    const self = this;
    new Counter({
      name: "weedts_volume_read_bytes_total",
      help: "Needle bytes sent in GET responses",
      registers,
      collect() {
        this.inc(self.#readBytes);
        self.#readBytes = 0;
      },
    });
    new Counter({
      name: "weedts_volume_written_bytes_total",
      help: "Needle data bytes accepted by uploads",
      registers,
      collect() {
        this.inc(self.#writtenBytes);
        self.#writtenBytes = 0;
      },
    });
    new Gauge({
      name: "weedts_volume_volumes",
      help: "Volumes held by this server, by collection",
      labelNames: ["collection"],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const v of store.volumeInfos()) counts.set(v.collection, (counts.get(v.collection) ?? 0) + 1);
        for (const [collection, n] of counts) this.set({ collection }, n);
      },
    });
    new Gauge({
      name: "weedts_volume_max_volumes",
      help: "The -max flag: volumes this server may hold",
      registers,
      collect() {
        this.set(store.maxVolumeCount);
      },
    });
    damagedRecordsCounter(store, registers);
    replicationCounters(this.#replication, registers);
    new Gauge({
      name: "weedts_volume_heartbeat_connected",
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
    this.#latency.observe({ method: METHODS[m]!, status: statusLabel(s) }, (performance.now() - startMs) / 1000);
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

/** Damaged records the store's volume loads found: a counter fed from the store's running sum. */
function damagedRecordsCounter(store: StoreApi, registers: Registry[]): void {
  let seen = 0;
  new Counter({
    name: "weedts_volume_damaged_records_total",
    help:
      "Damaged needle records found while loading volumes: skipped and left in place, moved to quarantine, " +
      "or kept and answered as corrupt (FORMAT.md Recovery)",
    registers,
    collect() {
      const n = store.damagedRecordsLoaded();
      if (n > seen) this.inc(n - seen);
      seen = n;
    },
  });
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
    "weedts_volume_replica_failures_total",
    "Replicated writes and deletes a replica failed after some copy took them: answered 5xx, outcome unknown; " +
      "the volume's replicas may differ until repaired",
  );
  fed(
    "refused",
    "weedts_volume_replica_refusals_total",
    "Replicated writes and deletes refused before anything was done: the master listed fewer locations than copies",
  );
}
