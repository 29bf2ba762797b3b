// The cluster as the shell's volume commands see it: data centers, racks, servers with their slots
// and gRPC addresses (the master's /dir/status) and every replica of every volume (/vol/status).
import { request } from "undici";
import { copyCount, replicaPlacementFromByte, type ReplicaPlacement } from "../../common/replica-placement.js";
import { httpOrigin } from "../../common/security/https.js";

/** One HTTP call to the master; a master that does not answer in this long is reported down. */
const masterRequestTimeoutMs = 5_000;
/** Bodies larger than this are refused (a topology of ~100k volumes). */
const masterBodyBytesMax = 64 * 1024 * 1024;

export interface ReplicaView {
  id: number;
  size: number;
  collection: string;
  fileCount: number;
  deleteCount: number;
  deletedByteCount: number;
  readOnly: boolean;
  placement: ReplicaPlacement;
  version: number;
  modifiedAtSecond: number;
  compactRevision: number;
}

export interface NodeView {
  /** ip:port, the node's HTTP address and identity. */
  url: string;
  dataCenter: string;
  rack: string;
  /** host:grpcPort. */
  grpcAddress: string;
  maxVolumes: number;
  volumes: ReplicaView[];
}

export interface ClusterView {
  nodes: NodeView[];
  /** Volumes the master found at or over -volumeSizeLimitMB: taken off the writable list, still readable. */
  full: ReadonlySet<number>;
}

interface DirStatus {
  Topology: {
    DataCenters: {
      Id: string;
      Racks: { Id: string; DataNodes: { Url: string; Max: number; GrpcPort?: number }[] }[];
    }[];
    Layouts?: { full?: number[] }[];
  };
}
interface VolumeJson {
  Id: number;
  Size: number;
  Collection: string;
  FileCount: number;
  DeleteCount: number;
  DeletedByteCount: number;
  ReadOnly: boolean;
  ReplicaPlacement: { node?: number; rack?: number; dc?: number };
  Version: number;
  ModifiedAtSecond: number;
  CompactRevision: number;
}
interface VolStatus {
  Volumes: { DataCenters: Record<string, Record<string, Record<string, VolumeJson[]>>> };
}

export async function getJson<T>(url: string): Promise<T> {
  const r = await request(url, { headersTimeout: masterRequestTimeoutMs, bodyTimeout: masterRequestTimeoutMs });
  const text = await r.body.text();
  if (text.length > masterBodyBytesMax) throw new Error(`${url} answered ${text.length} bytes: too large`);
  if (r.statusCode !== 200) throw new Error(`${url} answered ${r.statusCode}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

function replicaOf(v: VolumeJson): ReplicaView {
  const rp = v.ReplicaPlacement;
  return {
    id: v.Id,
    size: v.Size,
    collection: v.Collection,
    fileCount: v.FileCount,
    deleteCount: v.DeleteCount,
    deletedByteCount: v.DeletedByteCount,
    readOnly: v.ReadOnly,
    placement: replicaPlacementFromByte((rp.dc ?? 0) * 100 + (rp.rack ?? 0) * 10 + (rp.node ?? 0)),
    version: v.Version,
    modifiedAtSecond: v.ModifiedAtSecond,
    compactRevision: v.CompactRevision,
  };
}

function hostOf(url: string): string {
  const at = url.lastIndexOf(":");
  return at < 0 ? url : url.slice(0, at);
}

/** Reads the topology from the master (the leader's view: a follower passes these on). */
export async function readCluster(master: string): Promise<ClusterView> {
  const [dir, vol] = await Promise.all([
    getJson<DirStatus>(`${httpOrigin(master)}/dir/status`),
    getJson<VolStatus>(`${httpOrigin(master)}/vol/status`),
  ]);
  const nodes: NodeView[] = [];
  for (const dc of dir.Topology.DataCenters) {
    for (const rack of dc.Racks) {
      for (const n of rack.DataNodes) {
        const vols = vol.Volumes.DataCenters[dc.Id]?.[rack.Id]?.[n.Url] ?? [];
        nodes.push({
          url: n.Url,
          dataCenter: dc.Id,
          rack: rack.Id,
          grpcAddress: `${hostOf(n.Url)}:${n.GrpcPort ?? 0}`,
          maxVolumes: n.Max,
          volumes: vols.map(replicaOf).sort((a, b) => a.id - b.id),
        });
      }
    }
  }
  const full = new Set((dir.Topology.Layouts ?? []).flatMap((l) => l.full ?? []));
  return { nodes, full };
}

export interface VolumeReplicas {
  id: number;
  placement: ReplicaPlacement;
  collection: string;
  holders: { node: NodeView; replica: ReplicaView }[];
}

/** Every volume with the nodes that hold it, by id. */
export function volumesOf(c: ClusterView): Map<number, VolumeReplicas> {
  const out = new Map<number, VolumeReplicas>();
  for (const node of c.nodes) {
    for (const replica of node.volumes) {
      let v = out.get(replica.id);
      if (v === undefined) {
        v = { id: replica.id, placement: replica.placement, collection: replica.collection, holders: [] };
        out.set(replica.id, v);
      }
      v.holders.push({ node, replica });
    }
  }
  return out;
}

/** Copies the placement asks for minus the copies there are (> 0: under-replicated). */
export function missingCopies(v: VolumeReplicas): number {
  return copyCount(v.placement) - v.holders.length;
}

/** After a copy, how long the master may take to list the new location (one heartbeat delta). */
const locationWaitMs = 15_000;
const locationPollMs = 200;

/** Resolves once the master lists `url` among volume `vid`'s locations; throws after locationWaitMs. */
export async function waitForLocation(master: string, vid: number, url: string): Promise<void> {
  const deadline = performance.now() + locationWaitMs;
  for (;;) {
    const r = await getJson<{ locations?: { url: string }[] }>(
      `${httpOrigin(master)}/dir/lookup?volumeId=${vid}`,
    ).catch(() => ({ locations: [] }));
    if ((r.locations ?? []).some((l) => l.url === url)) return;
    if (performance.now() > deadline) throw new Error(`the master does not list ${url} for volume ${vid} yet`);
    await new Promise((resolve) => setTimeout(resolve, locationPollMs));
  }
}
