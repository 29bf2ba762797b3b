// The leader's vacuum (SeaweedFS: weed/topology/topology_vacuum.go): for each volume whose garbage
// ratio reached the threshold on a replica, every replica is compacted, and only if all compacted
// is each committed; otherwise each is cleaned up, and the volume stays as it was everywhere. The
// volume is held off the writable list meanwhile (new assigns go elsewhere, so the commit has little
// to replay) and put back after. Volumes go one at a time, so no server runs two vacuums at once,
// and passes never overlap (an operator's /vol/vacuum waits for an automatic pass under way).
//
// Automatic passes run every -vacuumPeriod while this master leads, unless disabled
// (volume.vacuum.disable: as SeaweedFS, only the automatic passes stop; /vol/vacuum still runs).
// Stepping down aborts the pass: a compaction under way is cancelled on its server (which drops
// the partial copy), a commit under way finishes there; the next leader's pass looks again.
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { DataNode } from "../topology/data-node.js";
import type { Topology } from "../topology/topology.js";
import type { VolumeLayout } from "../topology/volume-layout.js";
import type { RepairClock } from "./repairer.js";
import type { VacuumCalls } from "./vacuum-calls.js";

export interface VacuumRequest {
  /** Vacuum volumes whose garbage ratio is at least this on some replica: (0, 1]. */
  garbageThreshold: number;
  /** Only this collection ("" is the default collection); undefined: all. */
  collection?: string;
  /** Only this volume; undefined: all. */
  volumeId?: number;
}

export type VacuumResult = "vacuumed" | "clean" | "failed";

export interface VacuumOutcome {
  volumeId: number;
  collection: string;
  result: VacuumResult;
  /** Highest garbage ratio among the replicas (when every replica answered). */
  garbageRatio?: number;
  /** Sum over replicas, from the last heartbeats before, and the commits' answers after. */
  bytesBefore?: number;
  bytesAfter?: number;
  error?: string;
}

export interface VacuumerDeps {
  topology: Topology;
  calls: VacuumCalls;
  /** False while a new leader's topology is loading (its warm-up): no automatic pass then. */
  ready: () => boolean;
  clock: RepairClock;
  logger: Logger;
}

export interface VacuumerOptions {
  /** Threshold of the automatic passes (-garbageThreshold). */
  garbageThreshold: number;
  /** Between automatic passes (-vacuumPeriod); 0: none, only /vol/vacuum. */
  periodMs: number;
}

/** Checks a threshold from a request: a number in (0, 1], else BAD_PARAM naming it. */
export function checkGarbageThreshold(value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > 1)
    throw new WeedError(ErrorCode.BAD_PARAM, `garbageThreshold ${value} must be a number in (0, 1]`);
  return value;
}

function replicasOf(layout: VolumeLayout, vid: number): readonly DataNode[] {
  return layout.lookup(vid) ?? [];
}

export class Vacuumer {
  private term: { abort: AbortController; loop: Promise<void> } | undefined;
  /** The pass under way (or resolved): passes run one after another. */
  private passes: Promise<unknown> = Promise.resolve();
  private autoEnabled = true;
  private closed = false;
  /** Aborts passes run on request (/vol/vacuum) when leadership ends. */
  private stepDownAbort = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly d: VacuumerDeps,
    private readonly o: VacuumerOptions,
  ) {
    this.log = d.logger.child({ module: "vacuum" });
  }

  /** Whether automatic passes run (volume.vacuum.disable / enable). */
  get enabled(): boolean {
    return this.autoEnabled;
  }

  setEnabled(enabled: boolean): void {
    if (enabled !== this.autoEnabled) this.log.info({ enabled }, enabled ? "vacuum enabled" : "vacuum disabled");
    this.autoEnabled = enabled;
  }

  /** This master leads: automatic passes start (after a period, so the topology has settled). */
  lead(): void {
    if (this.closed || this.term !== undefined || this.o.periodMs === 0) return;
    const abort = new AbortController();
    this.term = { abort, loop: this.loop(abort.signal) };
  }

  /** This master no longer leads: the pass under way is aborted. */
  async stepDown(): Promise<void> {
    const t = this.term;
    this.term = undefined;
    t?.abort.abort();
    await t?.loop;
    this.stepDownAbort.abort();
    this.stepDownAbort = new AbortController();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stepDown();
    await this.passes.catch(() => undefined);
  }

  /**
   * One pass over the volumes `req` names, after any pass under way; resolves with what happened
   * to each. `signal`: the automatic loop's term (aborted at stepDown too); absent, stepDown aborts it.
   */
  run(req: VacuumRequest, signal?: AbortSignal): Promise<VacuumOutcome[]> {
    checkGarbageThreshold(req.garbageThreshold);
    // The automatic loop's own signal ends with its term; a request's pass ends with stepDownAbort.
    const until = signal ?? this.stepDownAbort.signal;
    const pass = this.passes.catch(() => undefined).then(() => this.pass(req, until));
    this.passes = pass;
    return pass;
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.d.clock.sleep(this.o.periodMs, signal);
      } catch {
        return; // aborted
      }
      if (!this.autoEnabled || !this.d.ready()) continue;
      await this.run({ garbageThreshold: this.o.garbageThreshold }, signal).catch((err: unknown) =>
        this.log.warn({ err }, "automatic vacuum pass failed"),
      );
    }
  }

  private async pass(req: VacuumRequest, signal: AbortSignal): Promise<VacuumOutcome[]> {
    const out: VacuumOutcome[] = [];
    for (const [layout, vid] of this.volumesOf(req)) {
      if (signal.aborted) break;
      const o = await this.vacuumVolume(layout, vid, req.garbageThreshold, signal);
      if (o.result !== "clean") out.push(o);
    }
    return out;
  }

  private volumesOf(req: VacuumRequest): [VolumeLayout, number][] {
    const out: [VolumeLayout, number][] = [];
    if (req.volumeId !== undefined) {
      const layout = this.d.topology.layoutOfVolume(req.volumeId);
      if (layout !== undefined && (req.collection === undefined || layout.collection === req.collection))
        out.push([layout, req.volumeId]);
      return out;
    }
    for (const layout of this.d.topology.allLayouts()) {
      if (req.collection !== undefined && layout.collection !== req.collection) continue;
      for (const vid of layout.volumeIds()) out.push([layout, vid]);
    }
    return out.sort((a, b) => a[1] - b[1]);
  }

  /** Checks every replica; vacuums them all when one reached the threshold. */
  private async vacuumVolume(
    layout: VolumeLayout,
    vid: number,
    threshold: number,
    signal: AbortSignal,
  ): Promise<VacuumOutcome> {
    const nodes = [...replicasOf(layout, vid)];
    const base = { volumeId: vid, collection: layout.collection };
    let ratios: number[];
    try {
      ratios = await Promise.all(nodes.map((n) => this.d.calls.check(n.grpcAddress, vid)));
    } catch (err) {
      this.log.warn({ err, volumeId: vid }, "vacuum check failed: volume left alone");
      return { ...base, result: "failed", error: (err as Error).message };
    }
    const garbageRatio = Math.max(0, ...ratios);
    if (nodes.length === 0 || garbageRatio < threshold) return { ...base, result: "clean", garbageRatio };
    const bytesBefore = nodes.reduce((sum, n) => sum + (n.volumes.get(vid)?.size ?? 0), 0);
    layout.holdOffWritable(vid);
    try {
      const done = await this.compactAndCommit(nodes, vid, bytesBefore, signal);
      return { ...base, garbageRatio, bytesBefore, ...done };
    } finally {
      layout.releaseWritable(vid);
    }
  }

  private async compactAndCommit(
    nodes: DataNode[],
    vid: number,
    bytesBefore: number,
    signal: AbortSignal,
  ): Promise<Pick<VacuumOutcome, "result" | "bytesAfter" | "error">> {
    const started = this.d.clock.now();
    const sizeOf = (n: DataNode): number => n.volumes.get(vid)?.size ?? 0;
    const compacted = await Promise.allSettled(
      nodes.map((n) => this.d.calls.compact(n.grpcAddress, vid, sizeOf(n), signal)),
    );
    const failed = compacted.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) {
      // None is committed: each drops its copy (a server that failed may hold a partial one).
      await Promise.allSettled(nodes.map((n) => this.d.calls.cleanup(n.grpcAddress, vid)));
      const error = (failed.reason as Error).message;
      this.log.warn({ volumeId: vid, error }, "vacuum compaction failed: nothing committed, copies cleaned up");
      return { result: "failed", error };
    }
    const committed = await Promise.allSettled(nodes.map((n) => this.d.calls.commit(n.grpcAddress, vid)));
    let bytesAfter = 0;
    const errors: string[] = [];
    committed.forEach((r, i) => {
      if (r.status === "fulfilled") bytesAfter += r.value.sizeBytes;
      else errors.push(`${nodes[i]!.id}: ${(r.reason as Error).message}`);
    });
    const ms = Math.round(this.d.clock.now() - started);
    if (errors.length > 0) {
      // A replica whose commit failed holds its old volume or the new one (the server's commit is
      // atomic), with the same live needles either way: the next pass compacts it again.
      this.log.error({ volumeId: vid, errors, ms }, "vacuum commit failed on some replicas");
      return { result: "failed", error: errors.join("; ") };
    }
    this.log.info({ volumeId: vid, replicas: nodes.length, bytesBefore, bytesAfter, ms }, "volume vacuumed");
    return { result: "vacuumed", bytesAfter };
  }
}
