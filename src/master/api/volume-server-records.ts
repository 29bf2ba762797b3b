// What the status page remembers of volume servers beyond the topology: when each last reported,
// and the servers that left (with the volumes they held), kept for a while so that a server that
// died at night is still on the page in the morning instead of vanishing without a word.
import type { DataNode } from "../topology/data-node.js";
import type { NodeWatcher, Topology } from "../topology/topology.js";

/**
 * A departed server stays listed this long: an hour covers a page read by whoever is paged about
 * it; by then the alerts (volume server down) have said it too, and a rack that is gone for good
 * should not crowd the page forever.
 */
export const departedKeepMs = 60 * 60_000;
/**
 * At most this many departed servers are kept (the newest): a whole rack leaving fits, a flapping
 * fleet does not grow the page without end.
 */
export const departedServersMax = 50;

/** One replica a departed server held, as its last report said. */
export interface DepartedVolume {
  id: number;
  collection: string;
  size: number;
  fileCount: number;
}

export interface DepartedServer {
  id: string;
  publicUrl: string;
  dataCenter: string;
  rack: string;
  /** Wall-clock milliseconds when it was dropped. */
  leftAtMs: number;
  /** Wall-clock milliseconds of its last full report, if one was seen. */
  lastReportAtMs: number | undefined;
  volumes: DepartedVolume[];
}

/** Watches a topology; `nowMs` is the wall clock (the page prints "dead since" as a time of day). */
export class VolumeServerRecords implements NodeWatcher {
  private readonly lastReport = new Map<string, number>();
  /** Oldest first. */
  private gone: DepartedServer[] = [];

  constructor(
    private readonly topology: Topology,
    private readonly nowMs: () => number,
  ) {}

  /** Starts watching; returns the function that stops. */
  watch(): () => void {
    return this.topology.watchNodes(this);
  }

  reported(node: DataNode): void {
    this.lastReport.set(node.id, this.nowMs());
  }

  leaving(node: DataNode): void {
    const volumes = [...node.volumes.values()].map((v) => ({
      id: v.id,
      collection: v.collection,
      size: v.size,
      fileCount: v.fileCount,
    }));
    this.gone = this.gone.filter((d) => d.id !== node.id);
    this.gone.push({
      id: node.id,
      publicUrl: node.publicUrl,
      dataCenter: node.rack.dataCenter.id,
      rack: node.rack.id,
      leftAtMs: this.nowMs(),
      lastReportAtMs: this.lastReport.get(node.id),
      volumes: volumes.sort((a, b) => a.id - b.id),
    });
    this.lastReport.delete(node.id);
    if (this.gone.length > departedServersMax) this.gone.splice(0, this.gone.length - departedServersMax);
  }

  /** Wall-clock milliseconds of the node's last full report. */
  lastReportAtMs(id: string): number | undefined {
    return this.lastReport.get(id);
  }

  /** Servers that left within departedKeepMs and have not come back, newest first. */
  departed(): DepartedServer[] {
    const cutoff = this.nowMs() - departedKeepMs;
    this.gone = this.gone.filter((d) => d.leftAtMs >= cutoff);
    return this.gone.filter((d) => this.topology.node(d.id) === undefined).reverse();
  }
}
