// The master's replicated state: cluster id, max volume id and the file-key ceiling. It is tiny on
// purpose (DESIGN.md "Replicated (through Raft), tiny"); RaftClusterState keeps it in the masters'
// Raft log, where each mutating call is one committed entry.
//
// The invariant an implementation keeps: a value is durable before the caller may act on it. A
// volume id is committed before AllocateVolume is called with it; a key block is committed before
// any key of it is handed out. So after any crash, restart or leader change no volume id and no
// file key is issued twice: a new leader starts above the committed ceiling.
/** Keys [first, end) reserved durably; every key in it may be issued exactly once. */
export interface KeyBlock {
  first: number;
  end: number;
}

export interface ClusterState {
  open(): Promise<void>;
  /** Waits for writes under way, then releases the store. Idempotent. */
  close(): Promise<void>;
  /** Cluster id (a UUID fixed by the first start); shown as TopologyId in /dir/status. */
  readonly topologyId: string;
  /** Largest volume id ever allocated or seen in a heartbeat. */
  readonly maxVolumeId: number;
  /** Largest file key that may have been issued; every later key is above it. */
  readonly fileKeyCeiling: number;
  /** A fresh volume id (max + 1), durable before it resolves. */
  nextVolumeId(): Promise<number>;
  /** Raises the max volume id to at least `id` (a volume reported by a heartbeat). */
  raiseMaxVolumeId(id: number): Promise<void>;
  /**
   * Reserves `count` keys above both the ceiling and `floor` (keys seen in heartbeats), durable
   * before it resolves.
   */
  reserveFileKeys(count: number, floor: number): Promise<KeyBlock>;
}
