// Creating volumes: pick servers per placement, take a durable volume id, AllocateVolume on every
// chosen server, then record the replicas in the topology so assigns can use the volume at once
// (the servers' heartbeats confirm it later). Assigns that find no writable volume in a layout
// share one growth of that layout instead of each starting their own.
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { copyCount, formatReplicaPlacement, replicaPlacementFromByte } from "../../common/replica-placement.js";
import { formatTtl, ttlFromUint32 } from "../../common/ttl.js";
import type { ClusterState } from "../state/cluster-state.js";
import { type MasterClock, timeoutSignal } from "../state/sequencer.js";
import type { DataNode, ReplicaInfo } from "./data-node.js";
import { allocateVolumeTimeoutMs, defaultGrowthCount, growthCountMax } from "../limits.js";
import { pickNodesForVolume, type PlacementPrefs } from "./placement.js";
import type { Topology } from "./topology.js";
import type { AllocateRequest, VolumeAllocator } from "./volume-allocator.js";
import type { Random } from "./volume-layout.js";

/** Version 3 needles: what volume servers create today. */
const NEEDLE_VERSION = 3;

export interface GrowthSpec {
  collection: string;
  /** Decimal-packed placement byte. */
  replicaPlacement: number;
  /** count<<8 | unit. */
  ttl: number;
  prefs: PlacementPrefs;
  preallocate: number;
  memoryMapMaxSizeMb: number;
  diskType: string;
}

export interface VolumeGrowthDeps {
  topology: Topology;
  state: ClusterState;
  allocator: VolumeAllocator;
  random: Random;
  logger: Logger;
  /** Told of every volume allocation and its result (the master's metrics count them). */
  metrics?: { volumeCreated(ok: boolean): void };
  /** What the allocation timeouts run on (default: Node's timers). */
  clock?: MasterClock;
}

export interface VolumeGrowthOptions {
  /** Volumes per automatic growth; default by copy count (SeaweedFS copy_1=7 ...). */
  growthCount?: number;
  allocateTimeoutMs?: number;
}

export function describeLayout(spec: Pick<GrowthSpec, "collection" | "replicaPlacement" | "ttl">): string {
  const rp = formatReplicaPlacement(replicaPlacementFromByte(spec.replicaPlacement));
  const ttl = formatTtl(ttlFromUint32(spec.ttl));
  return `collection:${JSON.stringify(spec.collection)} replication:${rp} ttl:${JSON.stringify(ttl)}`;
}

export class VolumeGrowth {
  private readonly deps: VolumeGrowthDeps;
  private readonly growthCount: number | undefined;
  private readonly allocateTimeoutMs: number;
  private readonly inflight = new Map<string, Promise<number[]>>();
  private readonly abort = new AbortController();

  constructor(deps: VolumeGrowthDeps, options: VolumeGrowthOptions = {}) {
    this.deps = deps;
    this.growthCount = options.growthCount;
    this.allocateTimeoutMs = options.allocateTimeoutMs ?? allocateVolumeTimeoutMs;
  }

  /** Cancels allocations under way; later growths fail with CLOSED. */
  close(): void {
    this.abort.abort(new WeedError(ErrorCode.CLOSED, "master is closing"));
  }

  isGrowing(spec: GrowthSpec): boolean {
    return this.inflight.has(sharedKey(spec));
  }

  /**
   * Grows the layout unless a growth of it (with the same pins) is under way, in which case the
   * caller shares that one. Creates as many of `count` volumes as fit, at least one.
   */
  growShared(spec: GrowthSpec, count = 0): Promise<number[]> {
    const key = sharedKey(spec);
    let p = this.inflight.get(key);
    if (p === undefined) {
      const n = count > 0 ? Math.min(count, growthCountMax) : this.defaultCount(spec);
      p = this.grow(spec, n, false).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
      // Callers may stop waiting (bounded waits); the failure is theirs to see, not an unhandled rejection.
      p.catch(() => undefined);
    }
    return p;
  }

  /**
   * Creates `count` volumes. With `all`, fails (creating nothing) unless every one of them can be
   * placed; otherwise creates as many as fit and fails only when none does.
   */
  async grow(spec: GrowthSpec, count: number, all: boolean): Promise<number[]> {
    if (this.abort.signal.aborted) throw new WeedError(ErrorCode.CLOSED, "master is closing");
    const plans = this.plan(spec, count, all);
    const settled = await Promise.allSettled(plans.map((plan) => this.createVolume(spec, plan)));
    const vids: number[] = [];
    let firstError: unknown;
    for (const s of settled) {
      if (s.status === "fulfilled") vids.push(s.value);
      else firstError ??= s.reason;
    }
    if (vids.length === 0) throw firstError;
    return vids;
  }

  private defaultCount(spec: GrowthSpec): number {
    return this.growthCount ?? defaultGrowthCount(copyCount(replicaPlacementFromByte(spec.replicaPlacement)));
  }

  /** Chooses nodes for each volume, holding a slot on each so the next choice sees it taken. */
  private plan(spec: GrowthSpec, count: number, all: boolean): DataNode[][] {
    const { topology, random } = this.deps;
    const rp = replicaPlacementFromByte(spec.replicaPlacement);
    const plans: DataNode[][] = [];
    try {
      for (let i = 0; i < count; i++) {
        let nodes: DataNode[];
        try {
          nodes = pickNodesForVolume(topology, rp, spec.prefs, random);
        } catch (err) {
          if (all && plans.length > 0 && err instanceof WeedError && err.code === ErrorCode.NO_FREE_SLOT) {
            throw new WeedError(ErrorCode.NO_FREE_SLOT, `only ${plans.length} volumes left, not enough for ${count}`, {
              cause: err,
            });
          }
          if (all || plans.length === 0) throw err;
          break;
        }
        for (const n of nodes) n.pendingSlots++;
        plans.push(nodes);
      }
    } catch (err) {
      for (const plan of plans) release(plan);
      throw err;
    }
    return plans;
  }

  private async createVolume(spec: GrowthSpec, nodes: DataNode[]): Promise<number> {
    const { state, allocator, topology, logger, metrics } = this.deps;
    try {
      // Durable before any server hears of it: a restart never hands the same id out again.
      const volumeId = await state.nextVolumeId();
      const req: AllocateRequest = {
        volumeId,
        collection: spec.collection,
        replication: formatReplicaPlacement(replicaPlacementFromByte(spec.replicaPlacement)),
        ttl: formatTtl(ttlFromUint32(spec.ttl)),
        preallocate: spec.preallocate,
        memoryMapMaxSizeMb: spec.memoryMapMaxSizeMb,
        diskType: spec.diskType,
      };
      const signal = AbortSignal.any([this.abort.signal, timeoutSignal(this.deps.clock, this.allocateTimeoutMs)]);
      const settled = await Promise.allSettled(nodes.map((n) => allocator.allocate(n, req, signal)));
      const failed = settled.findIndex((s) => s.status === "rejected");
      if (failed >= 0) {
        await this.undo(nodes, settled, volumeId);
        throw (settled[failed] as PromiseRejectedResult).reason;
      }
      for (const n of nodes) {
        // A server whose stream broke meanwhile is gone from the topology; its heartbeat re-adds it.
        if (topology.node(n.id) === n) topology.upsertVolume(n, newReplica(volumeId, spec));
      }
      metrics?.volumeCreated(true);
      logger.info({ volumeId, layout: describeLayout(spec), servers: nodes.map((n) => n.id) }, "grew volume");
      return volumeId;
    } catch (err) {
      metrics?.volumeCreated(false);
      logger.warn({ err, layout: describeLayout(spec) }, "volume growth failed");
      throw err;
    } finally {
      release(nodes);
    }
  }

  /** Best effort: deletes the replicas that were made, so a half-made volume does not linger. */
  private async undo(nodes: DataNode[], settled: PromiseSettledResult<void>[], volumeId: number): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, timeoutSignal(this.deps.clock, this.allocateTimeoutMs)]);
    const made = nodes.filter((_, i) => settled[i]!.status === "fulfilled");
    const results = await Promise.allSettled(made.map((n) => this.deps.allocator.remove(n, volumeId, signal)));
    for (const r of results)
      if (r.status === "rejected")
        this.deps.logger.warn({ err: r.reason, volumeId }, "undoing a half-made volume failed");
  }
}

function release(nodes: DataNode[]): void {
  for (const n of nodes) n.pendingSlots--;
}

function sharedKey(spec: GrowthSpec): string {
  const p = spec.prefs;
  const parts = [spec.collection, spec.replicaPlacement, spec.ttl, p.dataCenter, p.rack, p.dataNode, spec.diskType];
  return parts.join("\u0000");
}

function newReplica(volumeId: number, spec: GrowthSpec): ReplicaInfo {
  return {
    id: volumeId,
    collection: spec.collection,
    replicaPlacement: spec.replicaPlacement,
    ttl: spec.ttl,
    size: 0,
    fileCount: 0,
    deleteCount: 0,
    deletedByteCount: 0,
    readOnly: false,
    version: NEEDLE_VERSION,
    compactRevision: 0,
    modifiedAtSecond: 0,
    diskType: spec.diskType,
    needsCheck: false,
  };
}
