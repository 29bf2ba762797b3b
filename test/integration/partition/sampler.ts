// Polls every master's Raft role, term and leader (GET /cluster/raft) and, optionally, one
// master's topology (GET /dir/status), every POLL_INTERVAL_MS, keeping the history for the checks
// and the timings: when a leader stepped down, when a new one was elected, how many leaders a term
// had. Times are performance.now() of this process, the same clock the writer and the cuts use.
import type { Cluster, HostName, MasterName } from "./hosts.js";

/** Often enough to time a step-down or an election to ~0.1 s; light enough for two cores. */
const POLL_INTERVAL_MS = 75;
/** Bound on the sampler's history (one sample per master per poll: ~40 per second). */
const SAMPLES_MAX = 100_000;

export interface RaftSample {
  /** When the answer arrived. */
  t: number;
  host: MasterName;
  /** Undefined when the master did not answer within the poll's timeout. */
  role: string | undefined;
  term: number | undefined;
  /** The leader it names, as a host name (undefined: none or unknown). */
  leader: HostName | undefined;
}

export interface TopologySample {
  t: number;
  /** The master asked. */
  master: MasterName;
  /** Volume servers ("addr:port") in its topology; undefined when it did not answer. */
  nodes: string[] | undefined;
}

export class Sampler {
  readonly raft: RaftSample[] = [];
  readonly topology: TopologySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private topologyOf: (() => MasterName | undefined) | undefined;

  constructor(private readonly cluster: Cluster) {}

  start(): void {
    this.timer ??= setInterval(() => void this.poll(), POLL_INTERVAL_MS);
  }

  /** Also samples the topology of whichever master `which()` names at each poll. */
  watchTopology(which: () => MasterName | undefined): void {
    this.topologyOf = which;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.polling) await new Promise((r) => setTimeout(r, 10));
  }

  /** One poll, skipped while the last is still out (a slow answer must not pile polls up). */
  private async poll(): Promise<void> {
    if (this.polling || this.raft.length >= SAMPLES_MAX) return;
    this.polling = true;
    try {
      const masters = this.cluster.masters();
      const topo = this.topologyOf?.();
      const [statuses, nodes] = await Promise.all([
        Promise.all(masters.map((m) => this.cluster.raftStatus(m.name))),
        topo === undefined ? undefined : this.cluster.topologyNodes(topo),
      ]);
      const t = performance.now();
      masters.forEach((m, i) => {
        const s = statuses[i];
        const leader = this.cluster.byId(s?.leader)?.name;
        this.raft.push({ t, host: m.name as MasterName, role: s?.role, term: s?.term, leader });
      });
      if (topo !== undefined) this.topology.push({ t, master: topo, nodes });
    } finally {
      this.polling = false;
    }
  }

  since(t0: number, t1 = Infinity): RaftSample[] {
    return this.raft.filter((s) => s.t >= t0 && s.t <= t1);
  }

  /** The latest sample of `host` at or before `t`. */
  at(host: MasterName, t: number): RaftSample | undefined {
    let out: RaftSample | undefined;
    for (const s of this.raft) if (s.host === host && s.t <= t) out = s;
    return out;
  }

  /** First sample at or after `t0` that satisfies `pred`. */
  first(t0: number, pred: (s: RaftSample) => boolean): RaftSample | undefined {
    return this.raft.find((s) => s.t >= t0 && pred(s));
  }
}

/** Terms in which more than one master said it was the leader: Election Safety (Raft §5.2). */
export function termsWithTwoLeaders(samples: readonly RaftSample[]): string[] {
  const byTerm = new Map<number, Set<MasterName>>();
  for (const s of samples) {
    if (s.role !== "leader" || s.term === undefined) continue;
    const set = byTerm.get(s.term) ?? new Set();
    set.add(s.host);
    byTerm.set(s.term, set);
  }
  return [...byTerm].filter(([, who]) => who.size > 1).map(([term, who]) => `term ${term}: ${[...who].join(", ")}`);
}

/** The (term, leader) pairs seen leading in [t0, t1], in order of first sight. */
export function leadersSeen(samples: readonly RaftSample[]): { term: number; host: MasterName; t: number }[] {
  const seen = new Map<number, { term: number; host: MasterName; t: number }>();
  for (const s of samples) {
    if (s.role === "leader" && s.term !== undefined && !seen.has(s.term))
      seen.set(s.term, { term: s.term, host: s.host, t: s.t });
  }
  return [...seen.values()].sort((a, b) => a.t - b.t);
}

/** The highest term any master reported in these samples. */
export function maxTerm(samples: readonly RaftSample[]): number {
  return samples.reduce((m, s) => Math.max(m, s.term ?? 0), 0);
}
