// Metrics every weed-ts server exposes next to its own: prom-client's default process and Node.js
// metrics (process_*, nodejs_*: CPU, memory, file descriptors, event loop lag, GC, start time)
// and SeaweedFS_build_info. They describe the process, not a server, so they are collected once
// per process and the same metric objects are added to each server's registry: `weed-ts server`
// and the tests run several servers in one process, and every collectDefaultMetrics() call starts
// an event-loop-delay monitor and a GC observer that can never be stopped.
import { collectDefaultMetrics, Gauge, Registry, type Metric } from "prom-client";
import { VERSION } from "./version.js";

/**
 * Event loop delay sampling resolution: prom-client's default. Coarser hides the short stalls a
 * Raft heartbeat cares about; finer costs more timer wake-ups for no better p99.
 */
const eventLoopMonitoringPrecisionMs = 10;

let shared: readonly Metric[] | null = null;

function processMetrics(): readonly Metric[] {
  if (shared !== null) return shared;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: eventLoopMonitoringPrecisionMs });
  // SeaweedFS's name (weed/stats/metrics.go BuildInfo: version, commit, sizelimit, goos, goarch);
  // ours carries what a Node build has.
  new Gauge({
    name: "SeaweedFS_build_info",
    help: "A metric with a constant '1' value labeled by version, Node.js version, platform and architecture.",
    labelNames: ["version", "node_version", "platform", "arch"],
    registers: [registry],
  }).set({ version: VERSION, node_version: process.version, platform: process.platform, arch: process.arch }, 1);
  // getMetricsAsArray() returns the metric objects themselves (registry.js), typed as their shape.
  shared = registry.getMetricsAsArray() as unknown as Metric[];
  return shared;
}

/** Adds the process-wide metrics to a server's registry. */
export function addProcessMetrics(registry: Registry): void {
  for (const m of processMetrics()) registry.registerMetric(m);
}

/**
 * A server's start time, as SeaweedFS exposes it (SeaweedFS_master_start_time_seconds,
 * SeaweedFS_volumeServer_start_time_seconds): Unix seconds when the metrics were built.
 */
export function startTimeGauge(registry: Registry, name: string, help: string): void {
  new Gauge({ name, help, registers: [registry] }).set((performance.timeOrigin + performance.now()) / 1000);
}
