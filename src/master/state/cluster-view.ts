// What the master's edges need to know about the masters' Raft group: who leads, who we are,
// who the members are. The HTTP, gRPC and heartbeat code asks this, never the Raft runtime.
export interface MasterMember {
  /** "host:port" (HTTP) as -peers spells it: the Raft node id. */
  id: string;
  role: "leader" | "follower" | "learner";
}

export interface ClusterView {
  /** This master's id. */
  readonly self: string;
  isLeader(): boolean;
  /** The leader's id ("host:port", HTTP), or null while no leader is known. */
  leader(): string | null;
  members(): MasterMember[];
}

/** A view for a master that always leads alone (unit tests of the edges). */
export function soloClusterView(self: string): ClusterView {
  return { self, isLeader: () => true, leader: () => self, members: () => [{ id: self, role: "leader" }] };
}

/**
 * Resolves with this master's id once it leads, or with the leader's id once one is known that is
 * neither `avoid` (a leader just found unreachable) nor in `visited` (masters a forwarded request
 * already passed). Rejects with `onTimeout()` at `deadline` (performance.now() time).
 */
export async function waitForLeader(
  cluster: ClusterView,
  opts: {
    deadline: number;
    pollMs: number;
    avoid?: string | null;
    visited?: readonly string[];
    onTimeout: () => Error;
  },
): Promise<string> {
  for (;;) {
    if (cluster.isLeader()) return cluster.self;
    const leader = cluster.leader();
    if (leader !== null && leader !== cluster.self && leader !== opts.avoid && !(opts.visited ?? []).includes(leader))
      return leader;
    if (performance.now() >= opts.deadline) throw opts.onTimeout();
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}
