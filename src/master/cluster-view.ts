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
