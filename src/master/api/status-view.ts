// The facts the master's status page shows, as plain data: built by the leader from its topology
// and records, fetched by a follower from the leader (GET /?format=json), so both render the same
// page. Masters are asked for their own Raft status (GET /cluster/raft) with a short timeout, so
// a dead master shows as unreachable rather than as whatever role it last had.
import { formatReplicaPlacement, replicaPlacementFromByte } from "../../common/replica-placement.js";
import type { RuntimeStatus } from "../../raft/runtime/index.js";
import { statusVolumeIdsMax } from "../limits.js";
import type { DataNode } from "../topology/data-node.js";
import type { Topology } from "../topology/topology.js";
import { humanReadableInts } from "./status-json.js";
import type { DepartedServer, VolumeServerRecords } from "./volume-server-records.js";

/** Volume servers listed with their details; more are counted (a page of thousands of rows is read by no one). */
export const statusServersMax = 200;
/** Volume servers whose disks the page asks about (/status), the first of statusServersMax. */
export const statusDiskProbesMax = 64;

export interface MasterRow {
  id: string;
  self: boolean;
  suffrage: "voter" | "learner";
  /** Its own word ("leader", "follower", "candidate", ...) when it answered; "unreachable" otherwise. */
  role: string;
  reachable: boolean;
  /** Milliseconds since this master last heard from it over Raft (null: never, or itself). */
  lastHeardMs: number | null;
  term: number | null;
  commit: number | null;
  applied: number | null;
  /** Why it did not answer. */
  problem: string | null;
}

export interface ServerRow {
  id: string;
  publicUrl: string;
  dataCenter: string;
  rack: string;
  volumeCount: number;
  maxVolumes: number;
  fileCount: number;
  usedBytes: number;
  deletedBytes: number;
  volumeIds: string;
  /** Milliseconds since its last full heartbeat reached this leader (null: none recorded). */
  lastHeartbeatAgoMs: number | null;
  /** From its /status; null when it did not answer or was not asked. */
  disk: { totalBytes: number; freeBytes: number } | null;
}

export interface DepartedRow {
  id: string;
  publicUrl: string;
  dataCenter: string;
  rack: string;
  leftAtMs: number;
  lastReportAtMs: number | null;
  how: "left" | "not back";
  /** Its volumes and how many live copies each has now (0: missing, no server holds it). */
  volumes: { id: number; collection: string; size: number; fileCount: number; liveCopies: number }[];
}

export interface UnhealthyRow {
  id: number;
  collection: string;
  replication: string;
  holders: string[];
  copiesWanted: number;
  states: string[];
}

export interface LayoutRow {
  collection: string;
  replication: string;
  ttl: string;
  volumeCount: number;
  writable: string;
}

export interface VolumeRow {
  id: number;
  collection: string;
  replication: string;
  ttl: string;
  /** The largest replica's size and file count (replicas differ only while a write is under way). */
  size: number;
  fileCount: number;
  holders: string[];
  readOnly: boolean;
}

/** What only the leader knows: volume servers report to it. */
export interface TopologyView {
  volumeSizeLimitBytes: number;
  freeSlots: number;
  maxSlots: number;
  serverCount: number;
  servers: ServerRow[];
  departed: DepartedRow[];
  volumeCount: number;
  volumes: VolumeRow[];
  layouts: LayoutRow[];
  unhealthyCount: number;
  unhealthy: UnhealthyRow[];
}

/** Disk totals of a volume server as its /status reports them. */
export type DiskProbe = (serverId: string) => Promise<{ totalBytes: number; freeBytes: number } | null>;

/** Sizes and counts of one server's replicas. */
function serverTotals(n: DataNode): { fileCount: number; usedBytes: number; deletedBytes: number } {
  let fileCount = 0;
  let usedBytes = 0;
  let deletedBytes = 0;
  for (const v of n.volumes.values()) {
    fileCount += v.fileCount - v.deleteCount;
    usedBytes += v.size;
    deletedBytes += v.deletedByteCount;
  }
  return { fileCount, usedBytes, deletedBytes };
}

function serverRows(topology: Topology, records: VolumeServerRecords | undefined, nowMs: number): ServerRow[] {
  const nodes = [...topology.allNodes()].sort((a, b) => a.id.localeCompare(b.id)).slice(0, statusServersMax);
  return nodes.map((n): ServerRow => {
    const last = records?.lastReportAtMs(n.id);
    return {
      id: n.id,
      publicUrl: n.publicUrl,
      dataCenter: n.rack.dataCenter.id,
      rack: n.rack.id,
      volumeCount: n.volumes.size,
      maxVolumes: n.maxVolumes,
      ...serverTotals(n),
      volumeIds: humanReadableInts([...n.volumes.keys()]),
      lastHeartbeatAgoMs: last === undefined ? null : Math.max(0, nowMs - last),
      disk: null,
    };
  });
}

/** Fills in each server's disks from its own answer, for the first statusDiskProbesMax of them. */
export async function addDisks(view: TopologyView, disk: DiskProbe): Promise<void> {
  const servers = view.servers.slice(0, statusDiskProbesMax);
  const disks = await Promise.all(servers.map((s) => disk(s.id)));
  servers.forEach((s, i) => (s.disk = disks[i] ?? null));
}

function departedRow(topology: Topology, d: DepartedServer): DepartedRow {
  return {
    id: d.id,
    publicUrl: d.publicUrl,
    dataCenter: d.dataCenter,
    rack: d.rack,
    leftAtMs: d.leftAtMs,
    lastReportAtMs: d.lastReportAtMs,
    how: d.how,
    volumes: d.volumes.map((v) => ({ ...v, liveCopies: topology.lookup(v.id)?.length ?? 0 })),
  };
}

function healthStates(v: {
  underReplicated: boolean;
  overReplicated: boolean;
  readOnly: boolean;
  needsCheck: boolean;
}) {
  const states: string[] = [];
  if (v.underReplicated) states.push("under-replicated");
  if (v.overReplicated) states.push("over-replicated");
  if (v.readOnly) states.push("read-only");
  if (v.needsCheck) states.push("needs check");
  return states;
}

function volumeRows(topology: Topology): VolumeRow[] {
  const rows: VolumeRow[] = [];
  for (const l of topology.allLayouts()) {
    for (const id of l.volumeIds()) {
      const holders = l.lookup(id) ?? [];
      const replicas = holders.map((n) => n.volumes.get(id)).filter((r) => r !== undefined);
      rows.push({
        id,
        collection: l.collection,
        replication: l.replicationText,
        ttl: l.ttlText,
        size: Math.max(0, ...replicas.map((r) => r.size)),
        fileCount: Math.max(0, ...replicas.map((r) => r.fileCount - r.deleteCount)),
        holders: holders.map((n) => n.publicUrl),
        readOnly: replicas.some((r) => r.readOnly),
      });
    }
  }
  return rows.sort((a, b) => a.id - b.id);
}

/** The leader's topology as the page shows it (disks unknown until addDisks). */
export function topologyView(
  topology: Topology,
  records: VolumeServerRecords | undefined,
  nowMs: number,
): TopologyView {
  const unhealthy = topology.replicaHealth();
  const volumes = volumeRows(topology);
  return {
    volumeSizeLimitBytes: topology.volumeSizeLimitBytes,
    freeSlots: topology.freeSlots,
    maxSlots: topology.maxSlots,
    serverCount: topology.nodeCount,
    servers: serverRows(topology, records, nowMs),
    departed: (records?.departed() ?? []).map((d) => departedRow(topology, d)),
    volumeCount: volumes.length,
    volumes: volumes.slice(0, statusVolumeIdsMax),
    layouts: [...topology.allLayouts()]
      .filter((l) => l.volumeCount > 0)
      .map((l) => ({
        collection: l.collection,
        replication: l.replicationText,
        ttl: l.ttlText,
        volumeCount: l.volumeCount,
        writable: humanReadableInts(l.writableIds()),
      })),
    unhealthyCount: unhealthy.length,
    unhealthy: unhealthy.slice(0, statusVolumeIdsMax).map((v) => ({
      id: v.id,
      collection: v.collection,
      replication: formatReplicaPlacement(replicaPlacementFromByte(v.replicaPlacement)),
      holders: v.holders.map((n) => n.publicUrl),
      copiesWanted: v.copiesWanted,
      states: healthStates(v),
    })),
  };
}

/** A master's answer on /cluster/raft, read defensively: it comes over the network. */
export function masterRowFromRaft(id: string, self: RuntimeStatus, answer: unknown): MasterRow {
  const a = (typeof answer === "object" && answer !== null ? answer : {}) as Record<string, unknown>;
  const num = (k: string): number | null => (typeof a[k] === "number" ? a[k] : null);
  const member = self.members.find((m) => m.id === id);
  return {
    id,
    self: false,
    suffrage: member?.suffrage ?? "voter",
    role: typeof a.role === "string" ? a.role : "unknown",
    reachable: true,
    lastHeardMs: member?.lastHeardMs ?? null,
    term: num("term"),
    commit: num("commit"),
    applied: num("applied"),
    problem: null,
  };
}

export function unreachableMasterRow(id: string, self: RuntimeStatus, problem: string): MasterRow {
  const member = self.members.find((m) => m.id === id);
  return {
    id,
    self: false,
    suffrage: member?.suffrage ?? "voter",
    role: "unreachable",
    reachable: false,
    lastHeardMs: member?.lastHeardMs ?? null,
    term: null,
    commit: null,
    applied: null,
    problem,
  };
}

export function selfMasterRow(s: RuntimeStatus): MasterRow {
  const member = s.members.find((m) => m.id === s.id);
  return {
    id: s.id,
    self: true,
    suffrage: member?.suffrage ?? "voter",
    role: s.role,
    reachable: true,
    lastHeardMs: null,
    term: s.term,
    commit: s.commit,
    applied: s.applied,
    problem: null,
  };
}

/**
 * The red banner's words, or null when all is well: no leader (and whether quorum is lost, so the
 * reader knows if waiting helps), or a leader that no longer has a quorum of masters reachable.
 */
export function bannerOf(leader: string | null, masters: readonly MasterRow[]): string | null {
  const voters = masters.filter((m) => m.suffrage === "voter");
  const reachable = voters.filter((m) => m.reachable).length;
  const need = Math.floor(voters.length / 2) + 1;
  const count = `${reachable} of ${voters.length} masters reachable, ${need} needed`;
  const lost = reachable < need;
  if (leader === null && lost)
    return `No leader: quorum lost (${count}). Assigns and cluster changes fail until more masters are back.`;
  if (leader === null) return `No leader: an election is under way (${count}).`;
  if (masters.some((m) => m.id === leader && !m.reachable)) {
    const next = lost ? `quorum lost (${count}): no other can be elected` : `an election follows (${count})`;
    return `No leader: the leader ${leader} does not answer; ${next}.`;
  }
  if (lost) return `Quorum lost (${count}): the leader ${leader} cannot commit and will step down.`;
  return null;
}
