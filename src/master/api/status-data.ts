// Gathers the master status page's facts (status-view.ts): this master's Raft status, every other
// master's own answer on /cluster/raft, and the topology: the leader's own, or on a follower the
// leader's, fetched from it (GET /?format=json) as SeaweedFS's followers proxy the UI to the leader.
import type { ServerResponse } from "node:http";
import { request } from "undici";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { sendJson } from "../../common/http-util.js";
import { httpOrigin } from "../../common/security/https.js";
import { describeSecurity, type SecuritySummary } from "../../common/security/summary.js";
import type { RuntimeStatus } from "../../raft/runtime/index.js";
import type { ClusterView } from "../state/cluster-view.js";
import { memberHttpAddress } from "../state/membership.js";
import type { Topology } from "../topology/topology.js";
import {
  addDisks,
  bannerOf,
  masterRowFromRaft,
  selfMasterRow,
  topologyView,
  unreachableMasterRow,
  type MasterRow,
  type TopologyView,
} from "./status-view.js";
import { VolumeServerRecords, type KnownServer } from "./volume-server-records.js";

/**
 * A master or volume server asked for its status gets this long: on a LAN one answers in
 * milliseconds, and a dead host must not hold the page for more than about a second.
 */
export const statusProbeTimeoutMs = 1_000;
/** A follower waits this long for the leader's view: the leader's own probes take up to statusProbeTimeoutMs. */
export const leaderViewTimeoutMs = 2_500;
/**
 * A follower copies the leader's list of volume servers this often, so that if the leader dies
 * with some of them, the next leader can list those as gone instead of never having heard of them.
 * A pulse (5 s by default): the copy is at most one heartbeat behind the leader's.
 */
export const followerCopyIntervalMs = 5_000;
/** How often a master looks at whether it leads or follows (cheap: no I/O unless a copy is due). */
const roleCheckIntervalMs = 1_000;
/** Bytes read of any answer at most (the leader's view with statusServersMax servers fits several times over). */
export const statusAnswerBytesMax = 4 * 1024 * 1024;

export interface MasterStatusView {
  version: string;
  self: string;
  leading: boolean;
  leader: string | null;
  /** The red banner's text; null when there is a leader with a quorum. */
  banner: string | null;
  masters: MasterRow[];
  volumeSizeLimitMB: number;
  maxVolumeId: number;
  topologyId: string;
  uptimeSec: number;
  security: string;
  /** Wall-clock milliseconds the view was made (the "ago" of departed servers counts from it). */
  atMs: number;
  /** The leader's topology: this master's own when it leads, else fetched from the leader. */
  topology: TopologyView | null;
  /** Which master the topology came from. */
  topologyFrom: string | null;
  /** Why there is no topology. */
  topologyProblem: string | null;
}

/** GET of a JSON document with a deadline; throws on anything but a 200 with JSON. */
export type GetJson = (url: string, timeoutMs: number) => Promise<unknown>;

export const getJson: GetJson = async (url, timeoutMs) => {
  const r = await request(url, { signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs });
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of r.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > statusAnswerBytesMax) {
      r.body.destroy();
      throw new WeedError(ErrorCode.UNAVAILABLE, `${url}: answer over ${statusAnswerBytesMax} bytes`);
    }
    chunks.push(chunk);
  }
  if (r.statusCode !== 200) throw new WeedError(ErrorCode.UNAVAILABLE, `${url} answered ${r.statusCode}`);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
};

export interface MasterStatusSources {
  topology: Topology;
  cluster: ClusterView;
  raftStatus: () => RuntimeStatus;
  version: string;
  volumeSizeLimitMB: number;
  maxVolumeId: () => number;
  topologyId: () => string;
  uptimeSec: () => number;
  security?: SecuritySummary;
  /** Wall clock, milliseconds; performance's by default. */
  nowMs?: () => number;
  getJson?: GetJson;
}

function problemOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function securityLine(s: SecuritySummary | undefined): string {
  if (s === undefined || !s.Enabled)
    return "off: anyone who can reach these ports can write, delete and change the cluster";
  return describeSecurity(s);
}

/** Total and free bytes of a volume server's disks, from its /status. */
function diskOf(answer: unknown): { totalBytes: number; freeBytes: number } | null {
  const disks = (answer as { DiskStatuses?: unknown } | null)?.DiskStatuses;
  if (!Array.isArray(disks) || disks.length === 0) return null;
  let totalBytes = 0;
  let freeBytes = 0;
  for (const d of disks as { all?: unknown; free?: unknown }[]) {
    totalBytes += typeof d.all === "number" ? d.all : 0;
    freeBytes += typeof d.free === "number" ? d.free : 0;
  }
  return { totalBytes, freeBytes };
}

/** The leader's servers as a follower received them, read defensively: they come over the network. */
function knownServersOf(answer: unknown): KnownServer[] | null {
  const servers = (answer as { servers?: unknown } | null)?.servers;
  if (!Array.isArray(servers)) return null;
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  return (servers as Record<string, unknown>[])
    .filter((x) => typeof x.id === "string" && Array.isArray(x.volumes))
    .map((x) => ({
      ...{ id: str(x.id), publicUrl: str(x.publicUrl), dataCenter: str(x.dataCenter), rack: str(x.rack) },
      lastReportAtMs: typeof x.lastReportAtMs === "number" ? x.lastReportAtMs : null,
      ...(typeof x.leftAtMs === "number" ? { leftAtMs: x.leftAtMs } : {}),
      ...(x.how === "left" || x.how === "not back" ? { how: x.how } : {}),
      volumes: (x.volumes as Record<string, unknown>[]).map((v) => ({
        ...{ id: Number(v.id), collection: str(v.collection) },
        ...{ size: Number(v.size), fileCount: Number(v.fileCount) },
      })),
    }));
}

export class MasterStatusData {
  private readonly records: VolumeServerRecords;
  private readonly nowMs: () => number;
  private readonly getJson: GetJson;
  private readonly stopWatching: () => void;
  /** The leader's servers, copied while following; handed to the records on becoming leader. */
  private leaderServers: KnownServer[] | null = null;
  private lastCopyAtMs = 0;
  private copying = false;
  private readonly timer: NodeJS.Timeout;
  private readonly closed = new AbortController();

  constructor(private readonly s: MasterStatusSources) {
    this.nowMs = s.nowMs ?? (() => performance.timeOrigin + performance.now());
    this.getJson = s.getJson ?? getJson;
    this.records = new VolumeServerRecords(s.topology, this.nowMs);
    this.stopWatching = this.records.watch();
    this.timer = setInterval(() => void this.checkRole(), roleCheckIntervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.closed.abort();
    this.stopWatching();
  }

  /** What a follower copies: every volume server this leader knows, with its volumes. */
  knownServers(): { servers: KnownServer[] } {
    return { servers: this.records.known() };
  }

  /** Leading: hands the copy of the previous leader's servers to the records (once); true when leading. */
  private takeOver(): boolean {
    if (!this.s.cluster.isLeader()) return false;
    if (this.leaderServers !== null) this.records.inherit(this.leaderServers);
    this.leaderServers = null;
    return true;
  }

  /** Leading: takes over the copy of the previous leader's servers. Following: refreshes that copy when due. */
  private async checkRole(): Promise<void> {
    const { cluster } = this.s;
    if (this.takeOver()) return;
    const leader = cluster.leader();
    const now = this.nowMs();
    if (leader === null || this.copying || now - this.lastCopyAtMs < followerCopyIntervalMs) return;
    this.copying = true;
    this.lastCopyAtMs = now;
    try {
      const url = `${httpOrigin(memberHttpAddress(leader))}/?format=json&part=servers`;
      const servers = knownServersOf(await this.getJson(url, statusProbeTimeoutMs));
      if (servers !== null && !this.closed.signal.aborted) this.leaderServers = servers;
    } catch {
      // The last copy stays: it is what this master knows should the leader be gone for good.
    } finally {
      this.copying = false;
    }
  }

  async view(): Promise<MasterStatusView> {
    const s = this.s;
    this.takeOver();
    const raft = s.raftStatus();
    const leader = s.cluster.leader();
    const [masters, topo] = await Promise.all([this.masterRows(raft), this.topologyPart(leader)]);
    return {
      version: s.version,
      self: s.cluster.self,
      leading: s.cluster.isLeader(),
      leader,
      banner: bannerOf(leader, masters),
      masters,
      volumeSizeLimitMB: s.volumeSizeLimitMB,
      maxVolumeId: s.maxVolumeId(),
      topologyId: s.topologyId(),
      uptimeSec: s.uptimeSec(),
      security: securityLine(s.security),
      atMs: this.nowMs(),
      ...topo,
    };
  }

  /** The view as JSON (what a follower shows), or with part=servers the servers it copies. */
  async sendJson(res: ServerResponse, q: URLSearchParams): Promise<void> {
    const body = q.get("part") === "servers" ? this.knownServers() : await this.view();
    sendJson(res, 200, body, q.has("pretty"));
  }

  private async masterRows(raft: RuntimeStatus): Promise<MasterRow[]> {
    const others = raft.members.filter((m) => m.id !== raft.id);
    const rows = await Promise.all(
      others.map(async (m) => {
        try {
          const url = `${httpOrigin(memberHttpAddress(m.id))}/cluster/raft`;
          return masterRowFromRaft(m.id, raft, await this.getJson(url, statusProbeTimeoutMs));
        } catch (err) {
          return unreachableMasterRow(m.id, raft, problemOf(err));
        }
      }),
    );
    const all = raft.members.some((m) => m.id === raft.id) ? [selfMasterRow(raft), ...rows] : rows;
    return all.sort((a, b) => a.id.localeCompare(b.id));
  }

  private async topologyPart(
    leader: string | null,
  ): Promise<Pick<MasterStatusView, "topology" | "topologyFrom" | "topologyProblem">> {
    const s = this.s;
    if (s.cluster.isLeader()) {
      const topology = topologyView(s.topology, this.records, this.nowMs());
      await addDisks(topology, async (id) => {
        try {
          return diskOf(await this.getJson(`${httpOrigin(id)}/status`, statusProbeTimeoutMs));
        } catch {
          return null; // shown as unknown: the server's own row says whether it still heartbeats
        }
      });
      return { topology, topologyFrom: s.cluster.self, topologyProblem: null };
    }
    if (leader === null) {
      const why = "no leader: volume servers report only to a leader, so no master knows the topology now";
      return { topology: null, topologyFrom: null, topologyProblem: why };
    }
    try {
      const url = `${httpOrigin(memberHttpAddress(leader))}/?format=json`;
      const v = (await this.getJson(url, leaderViewTimeoutMs)) as Partial<MasterStatusView> | null;
      if (v?.topology === undefined || v.topology === null)
        return { topology: null, topologyFrom: leader, topologyProblem: `the leader ${leader} sent no topology` };
      return { topology: v.topology, topologyFrom: leader, topologyProblem: null };
    } catch (err) {
      return { topology: null, topologyFrom: leader, topologyProblem: `the leader ${leader}: ${problemOf(err)}` };
    }
  }
}
