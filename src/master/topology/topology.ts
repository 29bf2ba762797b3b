// The leader's picture of the cluster, rebuilt from heartbeats: data centers, racks, data nodes,
// the replicas each node holds, and the volume layouts built from them. Pure: no I/O, no clock, no
// randomness of its own (callers pass a random source), so it can run inside a simulator.
import {
  DEFAULT_DATA_CENTER,
  DEFAULT_RACK,
  DataCenter,
  DataNode,
  Rack,
  type NodeSpec,
  type ReplicaInfo,
} from "./data-node.js";
import {
  HEALTH_NEEDS_CHECK,
  HEALTH_OVER_REPLICATED,
  HEALTH_READ_ONLY,
  HEALTH_UNDER_REPLICATED,
  VolumeLayout,
} from "./volume-layout.js";
import { wakeAll, type Wakeups } from "../../common/wait-until.js";

export interface SyncResult {
  added: number[];
  removed: number[];
  /** Replicas already known whose read-only or needs-check flag changed with this report. */
  flagged: ReplicaInfo[];
}

/**
 * A volume whose replicas are not healthy, as Topology.replicaHealth() lists it: fewer or more
 * live replicas than its placement asks for, or a replica that is read-only or needs a check.
 */
export interface VolumeReplicaHealth {
  id: number;
  collection: string;
  /** Decimal-packed placement byte, e.g. 10 for "010". */
  replicaPlacement: number;
  /** count<<8 | unit. */
  ttl: number;
  /** The live servers holding a replica (a dropped server's replicas are gone from the topology). */
  holders: readonly DataNode[];
  /** Copies the placement asks for. */
  copiesWanted: number;
  underReplicated: boolean;
  overReplicated: boolean;
  /** Some replica reports read-only. */
  readOnly: boolean;
  /** Some replica reports that a replicated write or delete failed part way there. */
  needsCheck: boolean;
}

/** Told the id of every volume whose set of locations changed (a replica added or removed). */
export type LocationWatcher = (volumeId: number) => void;

/**
 * Told about volume servers for the status page: `reported` on each full report (every pulse),
 * `leaving` just before a node and its replicas are dropped (its volumes still listed).
 */
export interface NodeWatcher {
  reported(node: DataNode): void;
  leaving(node: DataNode): void;
}

/** ttl (16 bits) and placement byte in one number: the inner key of the layout map. */
function layoutKey(replicaPlacement: number, ttl: number): number {
  return replicaPlacement * 0x10000 + (ttl & 0xffff);
}

export class Topology {
  readonly volumeSizeLimitBytes: number;
  private readonly dcs = new Map<string, DataCenter>();
  private readonly nodes = new Map<string, DataNode>();
  /** collection -> layoutKey -> layout. */
  private readonly layouts = new Map<string, Map<number, VolumeLayout>>();
  /** Which layout a volume id belongs to (the first replica to report it decides). */
  private readonly vidLayout = new Map<number, VolumeLayout>();
  /** Woken after every replica report: an assign waiting out a new leader's warm-up looks again. */
  readonly reported: Wakeups = new Set();
  private readonly locationWatchers = new Set<LocationWatcher>();
  private readonly nodeWatchers = new Set<NodeWatcher>();

  constructor(volumeSizeLimitBytes: number) {
    this.volumeSizeLimitBytes = volumeSizeLimitBytes;
  }

  get nodeCount(): number {
    return this.nodes.size;
  }
  get volumeCount(): number {
    return this.vidLayout.size;
  }

  dataCenters(): IterableIterator<DataCenter> {
    return this.dcs.values();
  }
  allNodes(): IterableIterator<DataNode> {
    return this.nodes.values();
  }
  node(id: string): DataNode | undefined {
    return this.nodes.get(id);
  }
  dataCenter(id: string): DataCenter | undefined {
    return this.dcs.get(id);
  }

  get maxSlots(): number {
    let n = 0;
    for (const dn of this.nodes.values()) n += dn.maxVolumes;
    return n;
  }
  get freeSlots(): number {
    let n = 0;
    for (const dn of this.nodes.values()) n += dn.freeSlots;
    return n;
  }

  /** Adds a volume server. A node already registered under the same ip:port is replaced (its volumes dropped first). */
  registerNode(spec: NodeSpec): DataNode {
    const dcName = spec.dataCenter === "" ? DEFAULT_DATA_CENTER : spec.dataCenter;
    const rackName = spec.rack === "" ? DEFAULT_RACK : spec.rack;
    let dc = this.dcs.get(dcName);
    if (dc === undefined) {
      dc = new DataCenter(dcName);
      this.dcs.set(dcName, dc);
    }
    let rack = dc.racks.get(rackName);
    if (rack === undefined) {
      rack = new Rack(rackName, dc);
      dc.racks.set(rackName, rack);
    }
    const node = new DataNode(spec, rack);
    const old = this.nodes.get(node.id);
    if (old !== undefined) this.unregisterNode(old);
    rack.nodes.set(node.id, node);
    this.nodes.set(node.id, node);
    return node;
  }

  /** Drops the node and its replicas; false when `node` is not the registered one (already replaced). */
  unregisterNode(node: DataNode): boolean {
    if (this.nodes.get(node.id) !== node) return false;
    for (const w of this.nodeWatchers) w.leaving(node);
    for (const vid of [...node.volumes.keys()]) this.removeVolume(node, vid);
    this.nodes.delete(node.id);
    const rack = node.rack;
    rack.nodes.delete(node.id);
    if (rack.nodes.size === 0) rack.dataCenter.racks.delete(rack.id);
    if (rack.dataCenter.racks.size === 0) this.dcs.delete(rack.dataCenter.id);
    return true;
  }

  /** Tells `watcher` of reports and departures, until the returned function is called. */
  watchNodes(watcher: NodeWatcher): () => void {
    this.nodeWatchers.add(watcher);
    return () => this.nodeWatchers.delete(watcher);
  }

  /** Calls `watcher` with each volume whose locations change, until the returned function is called. */
  watchLocations(watcher: LocationWatcher): () => void {
    this.locationWatchers.add(watcher);
    return () => this.locationWatchers.delete(watcher);
  }

  private locationsChanged(vid: number): void {
    for (const w of this.locationWatchers) w(vid);
  }

  /** Replaces the node's replica set with a full report. */
  syncVolumes(node: DataNode, infos: readonly ReplicaInfo[]): SyncResult {
    const added: number[] = [];
    const removed: number[] = [];
    const flagged: ReplicaInfo[] = [];
    const seen = new Set<number>();
    for (const info of infos) {
      seen.add(info.id);
      const before = node.volumes.get(info.id);
      if (before !== undefined && (before.readOnly !== info.readOnly || before.needsCheck !== info.needsCheck))
        flagged.push(info);
      if (this.upsertVolume(node, info)) added.push(info.id);
    }
    // Every reported id is on the node now, so equal sizes mean nothing else is: the common beat
    // (the same volumes as last time) skips the copy and walk of the node's ids.
    if (node.volumes.size !== seen.size) {
      for (const vid of [...node.volumes.keys()]) {
        if (!seen.has(vid)) {
          this.removeVolume(node, vid);
          removed.push(vid);
        }
      }
    }
    for (const w of this.nodeWatchers) w.reported(node);
    return { added, removed, flagged };
  }

  /**
   * Records or updates one replica; returns true when it is new on this node. The layout
   * re-evaluates the volume either way, so a changed size, read-only or needs-check flag moves it
   * on or off the writable list at once.
   */
  upsertVolume(node: DataNode, info: ReplicaInfo): boolean {
    const before = node.volumes.get(info.id);
    const isNew = before === undefined;
    node.volumes.set(info.id, info);
    let layout = this.vidLayout.get(info.id);
    if (layout === undefined) {
      layout = this.layoutFor(info.collection, info.replicaPlacement, info.ttl);
      this.vidLayout.set(info.id, layout);
    }
    if (isNew) layout.addReplica(info.id, node);
    else if (layout.replicaStateChanged(before, info)) layout.refresh(info.id);
    if (this.reported.size > 0) wakeAll(this.reported);
    if (isNew) this.locationsChanged(info.id);
    return isNew;
  }

  /** Drops one replica; returns false when the node did not hold it. */
  removeVolume(node: DataNode, vid: number): boolean {
    if (!node.volumes.delete(vid)) return false;
    const layout = this.vidLayout.get(vid);
    if (layout !== undefined && layout.removeReplica(vid, node)) this.vidLayout.delete(vid);
    this.locationsChanged(vid);
    return true;
  }

  /** Collections with at least one volume, sorted. */
  collections(): string[] {
    const out: string[] = [];
    for (const [name, byKey] of this.layouts) {
      for (const l of byKey.values()) {
        if (l.volumeCount === 0) continue;
        out.push(name);
        break;
      }
    }
    return out.sort();
  }

  /** The servers holding some volume of the collection. */
  collectionNodes(collection: string): DataNode[] {
    const nodes = new Set<DataNode>();
    for (const layout of this.layouts.get(collection)?.values() ?? [])
      for (const vid of layout.volumeIds()) for (const n of layout.lookup(vid) ?? []) nodes.add(n);
    return [...nodes];
  }

  /**
   * Drops every volume of the collection and its layouts (its servers deleted them: /col/delete);
   * returns the volume ids. A server's beat sent before its deletion may list them once more.
   */
  dropCollection(collection: string): number[] {
    const byKey = this.layouts.get(collection);
    if (byKey === undefined) return [];
    const ids: number[] = [];
    for (const layout of byKey.values()) {
      for (const vid of layout.volumeIds()) {
        for (const node of [...(layout.lookup(vid) ?? [])]) this.removeVolume(node, vid);
        ids.push(vid);
      }
    }
    this.layouts.delete(collection);
    return ids.sort((a, b) => a - b);
  }

  /**
   * Every volume whose replicas are not healthy, by id. Costs O(unhealthy volumes), not O(all):
   * the layouts keep them apart as heartbeats change them, so a repair loop may call it every few
   * seconds.
   */
  replicaHealth(): VolumeReplicaHealth[] {
    const out: VolumeReplicaHealth[] = [];
    for (const layout of this.allLayouts()) {
      for (const [vid, health] of layout.unhealthyVolumes()) {
        out.push({
          id: vid,
          collection: layout.collection,
          replicaPlacement: layout.replicaPlacement,
          ttl: layout.ttl,
          holders: [...(layout.lookup(vid) ?? [])],
          copiesWanted: layout.copyCount,
          underReplicated: (health & HEALTH_UNDER_REPLICATED) !== 0,
          overReplicated: (health & HEALTH_OVER_REPLICATED) !== 0,
          readOnly: (health & HEALTH_READ_ONLY) !== 0,
          needsCheck: (health & HEALTH_NEEDS_CHECK) !== 0,
        });
      }
    }
    return out.sort((a, b) => a.id - b.id);
  }

  lookup(vid: number): readonly DataNode[] | undefined {
    return this.vidLayout.get(vid)?.lookup(vid);
  }

  layoutOfVolume(vid: number): VolumeLayout | undefined {
    return this.vidLayout.get(vid);
  }

  findLayout(collection: string, replicaPlacement: number, ttl: number): VolumeLayout | undefined {
    return this.layouts.get(collection)?.get(layoutKey(replicaPlacement, ttl));
  }

  layoutFor(collection: string, replicaPlacement: number, ttl: number): VolumeLayout {
    let byKey = this.layouts.get(collection);
    if (byKey === undefined) {
      byKey = new Map();
      this.layouts.set(collection, byKey);
    }
    const key = layoutKey(replicaPlacement, ttl);
    let layout = byKey.get(key);
    if (layout === undefined) {
      layout = new VolumeLayout(collection, replicaPlacement, ttl, this.volumeSizeLimitBytes);
      byKey.set(key, layout);
    }
    return layout;
  }

  *allLayouts(): IterableIterator<VolumeLayout> {
    for (const byKey of this.layouts.values()) yield* byKey.values();
  }
}
