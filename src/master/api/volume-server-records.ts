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

/** A volume server as the leader knew it: what a follower copies (status-data.ts) in case it leads next. */
export interface KnownServer {
  id: string;
  publicUrl: string;
  dataCenter: string;
  rack: string;
  /** Wall-clock milliseconds of its last full report, if one was seen. */
  lastReportAtMs: number | null;
  volumes: DepartedVolume[];
  /** Set when it is gone (DepartedServer's). */
  leftAtMs?: number;
  how?: "left" | "not back";
}

export interface DepartedServer extends KnownServer {
  /**
   * Wall-clock milliseconds when it was dropped; for a server the previous leader knew and that
   * never reported here, its last report to that leader.
   */
  leftAtMs: number;
  /** "left": dropped by this master; "not back": known to the previous leader, never reported here. */
  how: "left" | "not back";
}

/**
 * Servers in the copy a follower takes of the leader's (every few seconds): the page lists 200
 * (statusServersMax); beyond that a copy would cost the leader megabytes per follower per copy.
 */
export const knownServersMax = 200;

/**
 * A server the previous leader knew gets this long, from when this master took over, to report
 * here before the page lists it as gone: volume servers look for the new leader every few seconds
 * (their reconnect backoff is capped at 5 s) and report at once when they find it.
 */
export const inheritGraceMs = 10_000;

/** Watches a topology; `nowMs` is the wall clock (the page prints "dead since" as a time of day). */
export class VolumeServerRecords implements NodeWatcher {
  private readonly lastReport = new Map<string, number>();
  /** Oldest first. */
  private gone: DepartedServer[] = [];
  /** Servers the previous leader knew, by id, with when this master took them over. */
  private inherited = new Map<string, { server: KnownServer; atMs: number }>();

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
    this.inherited.delete(node.id);
  }

  /** The servers the previous leader knew, as this master starts leading: those gone there stay gone here. */
  inherit(servers: readonly KnownServer[]): void {
    const atMs = this.nowMs();
    this.inherited.clear();
    for (const s of servers) {
      if (this.topology.node(s.id) !== undefined) continue;
      if (s.leftAtMs === undefined) this.inherited.set(s.id, { server: s, atMs });
      else if (!this.gone.some((d) => d.id === s.id))
        this.gone.push({ ...s, leftAtMs: s.leftAtMs, how: s.how ?? "left" });
    }
    this.gone.sort((a, b) => a.leftAtMs - b.leftAtMs);
    if (this.gone.length > departedServersMax) this.gone.splice(0, this.gone.length - departedServersMax);
  }

  /** Every server the page shows, live or gone: what a follower copies (live ones first, at most knownServersMax). */
  known(): KnownServer[] {
    const live = [...this.topology.allNodes()].map((n) => ({
      ...{ id: n.id, publicUrl: n.publicUrl, dataCenter: n.rack.dataCenter.id, rack: n.rack.id },
      lastReportAtMs: this.lastReport.get(n.id) ?? null,
      volumes: volumesOf(n),
    }));
    return [...live, ...this.departed()].slice(0, knownServersMax);
  }

  leaving(node: DataNode): void {
    this.gone = this.gone.filter((d) => d.id !== node.id);
    this.gone.push({
      id: node.id,
      publicUrl: node.publicUrl,
      dataCenter: node.rack.dataCenter.id,
      rack: node.rack.id,
      leftAtMs: this.nowMs(),
      lastReportAtMs: this.lastReport.get(node.id) ?? null,
      volumes: volumesOf(node),
      how: "left",
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
    const now = this.nowMs();
    const cutoff = now - departedKeepMs;
    this.gone = this.gone.filter((d) => d.leftAtMs >= cutoff);
    const notBack: DepartedServer[] = [];
    for (const { server, atMs } of this.inherited.values()) {
      const leftAtMs = server.lastReportAtMs ?? atMs;
      if (leftAtMs < cutoff) this.inherited.delete(server.id);
      else if (now - atMs >= inheritGraceMs && !this.gone.some((d) => d.id === server.id))
        notBack.push({ ...server, leftAtMs, how: "not back" });
    }
    return [...this.gone, ...notBack]
      .filter((d) => this.topology.node(d.id) === undefined)
      .sort((a, b) => b.leftAtMs - a.leftAtMs);
  }
}

function volumesOf(node: DataNode): DepartedVolume[] {
  return [...node.volumes.values()]
    .map((v) => ({ id: v.id, collection: v.collection, size: v.size, fileCount: v.fileCount }))
    .sort((a, b) => a.id - b.id);
}
