// The volumes of one (collection, replication, ttl) and which of them take writes. A volume is
// writable when every replica its placement asks for has reported it (copy count from "xyz"),
// none of them is read-only and none is at or over the size limit. The writable set is an array
// plus an index map, so picking one at random and dropping one are O(1).
import {
  copyCount,
  formatReplicaPlacement,
  replicaPlacementFromByte,
  type ReplicaPlacement,
} from "../../common/replica-placement.js";
import { formatTtl, ttlFromUint32 } from "../../common/ttl.js";
import type { DataNode } from "./data-node.js";

export type Random = () => number;

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
  private readonly locations = new Map<number, DataNode[]>();
  private readonly writables: number[] = [];
  private readonly writableAt = new Map<number, number>();

  constructor(collection: string, replicaPlacement: number, ttl: number, sizeLimitBytes: number) {
    this.collection = collection;
    this.replicaPlacement = replicaPlacement;
    this.ttl = ttl;
    this.placement = replicaPlacementFromByte(replicaPlacement);
    this.copyCount = copyCount(this.placement);
    this.replicationText = formatReplicaPlacement(this.placement);
    this.ttlText = formatTtl(ttlFromUint32(ttl));
    this.sizeLimitBytes = sizeLimitBytes;
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
      this.setWritable(vid, false);
      return true;
    }
    this.refresh(vid);
    return false;
  }

  /** Re-evaluates writability after a replica's size or read-only flag changed. */
  refresh(vid: number): void {
    this.setWritable(vid, this.computeWritable(vid));
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

  private computeWritable(vid: number): boolean {
    const nodes = this.locations.get(vid);
    if (nodes === undefined || nodes.length < this.copyCount) return false;
    for (const node of nodes) {
      const info = node.volumes.get(vid);
      if (info === undefined || info.readOnly || info.size >= this.sizeLimitBytes) return false;
    }
    return true;
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
