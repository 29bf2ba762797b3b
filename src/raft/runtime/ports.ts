// The runtime's three seams, as small interfaces in the spirit of hashicorp/raft's LogStore,
// StableStore and Transport: where its state lives (RaftStore), how its messages travel
// (RaftTransport) and what time it is (RuntimeClock). Production wires LevelDB (storage.ts),
// gRPC (transport.ts) and Node's timers (realClock below); the simulator (../sim) wires a
// simulated disk, network and clock driven by one seed, so the same runtime code runs under its
// checkers. RaftStorage and GrpcTransport satisfy these interfaces structurally.
import type { HardState, Message, NodeId, PersistedState, Ready, Snapshot } from "../types.js";

/** The durable Raft state of one node: log, hard state and snapshot (storage.ts documents the rules). */
export interface RaftStore {
  open(): Promise<void>;
  close(): Promise<void>;
  /** The stored state, or null when the store was never initialized. */
  load(): Promise<PersistedState | null>;
  /** Write the initial state of a new node (bootstrap or joining), durably. */
  initialize(state: PersistedState): Promise<void>;
  /**
   * Step 1 of a Ready: snapshot, entries and hard state as one atomic write, durable before the
   * promise resolves when rd.mustSync. Resolves with whether anything was written.
   */
  persist(rd: Ready): Promise<boolean>;
  /** Log compaction: the snapshot and the deletion of the entries it covers, atomically. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Are `hs`'s term and vote already durable (so messages depending on them may go out)? */
  termAndVoteDurable(hs: HardState): boolean;
  /**
   * On close: write `hs`'s commit index if the store's lags behind it (commit-only changes are
   * not written as they happen), so a stopped node's store, and `weed-ts master.raft dump`, hold
   * every commit it knew. No fsync: a crash right after only leaves it lagging, as it may.
   */
  saveCommit(hs: HardState): Promise<void>;
}

/** What the transport tells the runtime. */
export interface TransportHandlers {
  /** A message addressed to this node, in the order its sender produced it. */
  onMessage(m: Message): void;
  /** Messages to `peer` were dropped (queue full or stream down): the core stops pipelining to it. */
  onUnreachable(peer: NodeId): void;
  /**
   * An established connection to `peer` broke and its port now refuses connections: the process
   * is gone (a stalled one is not reported). The core campaigns early if `peer` was its leader.
   */
  onPeerLost(peer: NodeId): void;
}

/** The counters every transport keeps (a transport may keep more; status() copies them all). */
export interface TransportCounters {
  sentMessages: number;
  sentBatches: number;
  droppedMessages: number;
  receivedMessages: number;
  receivedBatches: number;
  /** Messages addressed to another node or undecodable; never stepped. */
  rejectedMessages: number;
  reconnects: number;
}

/** Carries messages between nodes. Raft tolerates loss, duplication and reordering. */
export interface RaftTransport {
  /** Starts serving; resolves with the bound port (0 when there is none). */
  start(): Promise<number>;
  /** Queues `msgs` for their peers; never blocks. */
  send(msgs: readonly Message[]): void;
  /** Forget a peer that left the group. */
  removePeer(id: NodeId): void;
  close(): Promise<void>;
  readonly stats: TransportCounters;
}

/** Builds the transport once the runtime has its handlers (the runtime is the transport's sink). */
export type TransportFactory = (handlers: TransportHandlers) => RaftTransport;

/** An opaque timer handle, only ever given back to the clock that made it. */
export type TimerHandle = unknown;

/**
 * Time as the runtime sees it. `now()` is monotonic milliseconds (not wall-clock time); timers
 * fire at or after their delay. `yieldTurn()` lets other work run before the loop goes on.
 */
export interface RuntimeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
  yieldTurn(): Promise<void>;
}

/** Node's timers and the monotonic performance clock. */
export const realClock: RuntimeClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
  yieldTurn: () => new Promise<void>((resolve) => setImmediate(resolve)),
};

/**
 * The Ready commits a membership change: its commit index is written (without fsync) even when
 * nothing else is. A member restarted with a stored commit two changes behind counts the
 * voters of a configuration the group left: with another such member it elected a second
 * leader in a term (simulator seed 900521: a removed node and the node removed before it, both
 * restarted with commit 78 and the removals at 79 and 87 in their logs). Loaded one change
 * behind at most, its majorities still overlap the group's (single-server changes).
 */
export function commitsMembership(rd: Ready): boolean {
  return rd.hardState !== null && rd.committedEntries.some((e) => e.type === "conf-change");
}
