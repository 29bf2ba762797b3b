// The volumes of one (collection, replication, ttl) and which of them take writes. A volume is
// writable when every replica its placement asks for has reported it (copy count from "xyz"),
// none of them is read-only, none needs a check (a replicated write failed part way there, so the
// replicas may differ) and none is at or over the size limit. The writable set is an array plus an
// index map, so picking one at random and dropping one are O(1). Volumes whose replicas are not
// healthy (too few or too many, read-only, needing a check) are kept apart as they change, so the
// status pages, metrics and the leader's repair read them without walking every volume.
//
// Full and crowded (SeaweedFS volume_layout.go): a volume any replica of which reports a size at or
// over the limit is full, off the writable list (still readable); one over crowdedFraction of the
// limit is crowded, still writable. When every writable volume is crowded (ShouldGrowVolumes:
// writable <= crowded), the assigner grows the layout before the writable ones run out.
import {
  copyCount,
  formatReplicaPlacement,
  replicaPlacementFromByte,
  type ReplicaPlacement,
} from "../../common/replica-placement.js";
import { formatTtl, ttlFromUint32 } from "../../common/ttl.js";
import type { DataNode, ReplicaInfo } from "./data-node.js";

export type Random = () => number;

/** Why a volume's replicas are not healthy: bits of VolumeLayout.healthOf. */
export const HEALTH_UNDER_REPLICATED = 1;
export const HEALTH_OVER_REPLICATED = 2;
export const HEALTH_READ_ONLY = 4;
export const HEALTH_NEEDS_CHECK = 8;
/** The health bits that take a volume off the writable list. */
const HEALTH_UNWRITABLE = HEALTH_UNDER_REPLICATED | HEALTH_READ_ONLY | HEALTH_NEEDS_CHECK;

/**
 * A volume over this fraction of the size limit is crowded (SeaweedFS VolumeGrowStrategy.Threshold,
 * 0.9): growth starts while the crowded ones still take the writes of the next heartbeat or two.
 */
export const crowdedFraction = 0.9;

export class VolumeLayout {
  readonly collection: string;
  /** Decimal-packed placement byte. */
  readonly replicaPlacement: number;
  /** count<<8 | unit. */
  readonly ttl: number;
  readonly placement: ReplicaPlacement;
  readonly copyCount: number;
  readonly replicationText: string;
  readonly ttlText: string;
  private readonly sizeLimitBytes: number;
  private readonly crowdedBytes: number;
  private readonly locations = new Map<number, DataNode[]>();
  private readonly writables: number[] = [];
  private readonly writableAt = new Map<number, number>();
  /** Volumes whose replicas are not healthy -> their HEALTH_* bits (never 0). */
  private readonly unhealthy = new Map<number, number>();
  /** Volumes at or over the size limit (off the writable list for that alone or with other reasons). */
  private readonly full = new Set<number>();
  /** Writable volumes over crowdedFraction of the limit. */
  private readonly crowded = new Set<number>();
  /** Volumes held off the writable list while they are vacuumed (however healthy). */
  private readonly held = new Set<number>();

  constructor(collection: string, replicaPlacement: number, ttl: number, sizeLimitBytes: number) {
    this.collection = collection;
    this.replicaPlacement = replicaPlacement;
    this.ttl = ttl;
    this.placement = replicaPlacementFromByte(replicaPlacement);
    this.copyCount = copyCount(this.placement);
    this.replicationText = formatReplicaPlacement(this.placement);
    this.ttlText = formatTtl(ttlFromUint32(ttl));
    this.sizeLimitBytes = sizeLimitBytes;
    this.crowdedBytes = Math.floor(sizeLimitBytes * crowdedFraction);
  }

  get volumeCount(): number {
    return this.locations.size;
  }
  get writableCount(): number {
    return this.writables.length;
  }

  lookup(vid: number): readonly DataNode[] | undefined {
    return this.locations.get(vid);
  }

  isWritable(vid: number): boolean {
    return this.writableAt.has(vid);
  }

  /** The node holds a replica (its ReplicaInfo is already in node.volumes). */
  addReplica(vid: number, node: DataNode): void {
    let nodes = this.locations.get(vid);
    if (nodes === undefined) {
      nodes = [];
      this.locations.set(vid, nodes);
    }
    if (!nodes.includes(node)) nodes.push(node);
    this.refresh(vid);
  }

  /** Returns true when the volume has no replica left (and is gone from this layout). */
  removeReplica(vid: number, node: DataNode): boolean {
    const nodes = this.locations.get(vid);
    if (nodes === undefined) return false;
    const i = nodes.indexOf(node);
    if (i >= 0) nodes.splice(i, 1);
    if (nodes.length === 0) {
      this.locations.delete(vid);
      this.unhealthy.delete(vid);
      this.held.delete(vid);
      this.full.delete(vid);
      this.crowded.delete(vid);
      this.setWritable(vid, false);
      return true;
    }
    this.refresh(vid);
    return false;
  }

  /** Re-evaluates writability and health after a replica's size or flags changed. */
  refresh(vid: number): void {
    const health = this.computeHealth(vid);
    if (health === 0) this.unhealthy.delete(vid);
    else this.unhealthy.set(vid, health);
    const largest = this.largestReplicaBytes(vid);
    const full = largest >= this.sizeLimitBytes;
    if (full) this.full.add(vid);
    else this.full.delete(vid);
    const writable = (health & HEALTH_UNWRITABLE) === 0 && !full && !this.held.has(vid);
    if (writable && largest > this.crowdedBytes) this.crowded.add(vid);
    else this.crowded.delete(vid);
    this.setWritable(vid, writable);
  }

  /**
   * Whether a replica's new report can change the volume's writability or health: its flags, or
   * its size crossing the crowded or the full mark. Writability goes by the fullest replica, so a
   * replica staying on the same side of both marks leaves the outcome as it was; every full beat
   * reports every volume again, and at 1,000 servers of 100 volumes re-evaluating each one was a
   * third of the leader's heartbeat handling (bench:scale).
   */
  replicaStateChanged(before: ReplicaInfo, after: ReplicaInfo): boolean {
    return (
      before.readOnly !== after.readOnly ||
      before.needsCheck !== after.needsCheck ||
      before.size >= this.sizeLimitBytes !== after.size >= this.sizeLimitBytes ||
      before.size > this.crowdedBytes !== after.size > this.crowdedBytes
    );
  }

  /** Sorted ids of the volumes at or over the size limit. */
  fullIds(): number[] {
    return [...this.full].sort((a, b) => a - b);
  }

  /** Sorted ids of the writable volumes over crowdedFraction of the limit. */
  crowdedIds(): number[] {
    return [...this.crowded].sort((a, b) => a - b);
  }

  /**
   * Every writable volume is crowded (or none is left): grow now, before they fill (SeaweedFS
   * ShouldGrowVolumes). A layout that never had a volume is grown by the assign that finds none.
   */
  get shouldGrow(): boolean {
    return this.locations.size > 0 && this.writables.length <= this.crowded.size;
  }

  /**
   * Takes the volume off the writable list until release (SeaweedFS's DrainAndRemoveFromWritable
   * for a vacuum): new assigns go elsewhere, so the vacuum's commit has little to replay.
   */
  holdOffWritable(vid: number): void {
    this.held.add(vid);
    this.refresh(vid);
  }

  /** Ends holdOffWritable: writable again if its replicas are healthy and not full. */
  releaseWritable(vid: number): void {
    if (!this.held.delete(vid)) return;
    this.refresh(vid);
  }

  /** HEALTH_* bits of the volume: 0 when healthy (or unknown here). */
  healthOf(vid: number): number {
    return this.unhealthy.get(vid) ?? 0;
  }

  /** Volumes that are not healthy, with their HEALTH_* bits; live view, do not mutate while iterating. */
  unhealthyVolumes(): ReadonlyMap<number, number> {
    return this.unhealthy;
  }

  /** Sorted ids of the volumes with any of the `bits`. */
  idsWith(bits: number): number[] {
    const out: number[] = [];
    for (const [vid, h] of this.unhealthy) if ((h & bits) !== 0) out.push(vid);
    return out.sort((a, b) => a - b);
  }

  /** Volumes with any of the `bits`. */
  countWith(bits: number): number {
    let n = 0;
    for (const h of this.unhealthy.values()) if ((h & bits) !== 0) n++;
    return n;
  }

  /** A writable volume id at random, or -1. */
  pick(random: Random): number {
    const n = this.writables.length;
    if (n === 0) return -1;
    return this.writables[n === 1 ? 0 : Math.floor(random() * n)]!;
  }

  /** A writable volume whose replicas satisfy `accept`, starting at a random place; -1 if none. */
  pickWhere(random: Random, accept: (nodes: readonly DataNode[]) => boolean): number {
    const n = this.writables.length;
    const start = Math.floor(random() * n);
    for (let i = 0; i < n; i++) {
      const vid = this.writables[(start + i) % n]!;
      if (accept(this.locations.get(vid)!)) return vid;
    }
    return -1;
  }

  writableIds(): number[] {
    return [...this.writables].sort((a, b) => a - b);
  }

  volumeIds(): number[] {
    return [...this.locations.keys()].sort((a, b) => a - b);
  }

  /**
   * Too few replicas is not writable (a write could not reach every copy the placement asks for:
   * SeaweedFS VolumeLayout.SetVolumeUnavailable); too many still is (every location gets the write,
   * and the extra copy is trimmed by repair).
   */
  private computeHealth(vid: number): number {
    const nodes = this.locations.get(vid);
    if (nodes === undefined) return 0;
    let health = 0;
    if (nodes.length < this.copyCount) health |= HEALTH_UNDER_REPLICATED;
    else if (nodes.length > this.copyCount) health |= HEALTH_OVER_REPLICATED;
    for (const node of nodes) {
      const info = node.volumes.get(vid);
      if (info === undefined) continue;
      if (info.readOnly) health |= HEALTH_READ_ONLY;
      if (info.needsCheck) health |= HEALTH_NEEDS_CHECK;
    }
    return health;
  }

  /**
   * The largest size a replica reports (full or crowded go by the fullest copy: every write goes
   * to all of them). A replica not reported yet counts as full, as before: unknown is not writable.
   */
  private largestReplicaBytes(vid: number): number {
    let largest = 0;
    for (const node of this.locations.get(vid) ?? []) {
      const info = node.volumes.get(vid);
      if (info === undefined) return Infinity;
      if (info.size > largest) largest = info.size;
    }
    return largest;
  }

  private setWritable(vid: number, writable: boolean): void {
    const at = this.writableAt.get(vid);
    if (writable && at === undefined) {
      this.writableAt.set(vid, this.writables.length);
      this.writables.push(vid);
    } else if (!writable && at !== undefined) {
      const last = this.writables.pop()!;
      if (last !== vid) {
        this.writables[at] = last;
        this.writableAt.set(last, at);
      }
      this.writableAt.delete(vid);
    }
  }
}
