// The public data types of the Raft core (src/raft). Everything here is plain data: the core
// consumes messages and ticks and produces `Ready` values; the runtime persists, sends and applies
// them. The core (src/raft outside runtime/ and sim/) performs no I/O and reads no clock; the
// runtime (src/raft/runtime) does both, and the simulator (src/raft/sim) fakes them.
//
// Index and term conventions (as in the Raft paper): log indexes start at 1; index 0 / term 0 is
// the empty prefix that every log matches. A term of 0 never belongs to a real entry.

/** A member's identity: "host:port" in production (tests use short names such as "1" or "n1"). */
export type NodeId = string;

/** A change of membership, one server at a time (Raft dissertation §4.1). */
export interface ConfChange {
  /**
   * - `add-learner`: the node joins as a non-voting learner and starts catching up.
   * - `promote`: a learner that has caught up becomes a voter.
   * - `remove`: a voter or learner leaves (it may be the leader itself: it steps down once the
   *   removal commits).
   */
  readonly type: "add-learner" | "promote" | "remove";
  readonly node: NodeId;
}

interface EntryBase {
  readonly index: number;
  readonly term: number;
}

/** A command for the application's state machine. */
export interface NormalEntry extends EntryBase {
  readonly type: "normal";
  readonly data: Uint8Array;
}

/** A membership change. It takes effect in the core when it commits. */
export interface ConfChangeEntry extends EntryBase {
  readonly type: "conf-change";
  readonly change: ConfChange;
}

/** The empty entry a new leader appends so that it can commit by counting (§5.4.2). */
export interface NoopEntry extends EntryBase {
  readonly type: "noop";
}

export type Entry = NormalEntry | ConfChangeEntry | NoopEntry;

/** State that must be durable before any message of the same Ready is sent (Figure 2). */
export interface HardState {
  readonly term: number;
  /** The candidate this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  /** Highest index known committed (persisting it is an optimisation; it may lag). */
  readonly commit: number;
}

/** The members of the group. Voters count for elections and commitment; learners only replicate. */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** The term of the entry at `index`. */
  readonly term: number;
  /** The membership as of `index`. */
  readonly membership: Membership;
}

/**
 * A state-machine snapshot. `data` is opaque to the core. A bootstrapped group starts from a
 * snapshot at index 1 with empty `data`, which means "the state machine's initial state".
 */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; for `pre-vote` it is the term the sender would campaign in. */
  readonly term: number;
}

/** PreVote (dissertation §9.6): "would you vote for me?" without raising anyone's term. */
export interface PreVoteRequest extends MessageBase {
  readonly type: "pre-vote";
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** As in PreVoteResponse: the sender's commit index and the term of its entry there. */
  readonly commit: number;
  readonly commitTerm: number;
}

export interface PreVoteResponse extends MessageBase {
  readonly type: "pre-vote-response";
  readonly reject: boolean;
  /**
   * The sender's commit index and the term of its entry there: a node holding that same entry
   * learns that everything up to it is committed (log matching). So a candidate whose committed
   * membership still lists removed voters (or lacks added ones) learns of the changes from a
   * survivor that saw them commit, when no leader is left to tell it (simulator seeds 203,
   * 700565 and 900042: a two-node remainder stuck for good, the longer log counting the wrong
   * voters). Requests and answers carry it, so whichever side knows more teaches the other.
   */
  readonly commit: number;
  readonly commitTerm: number;
}

export interface VoteRequest extends MessageBase {
  readonly type: "vote";
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** True when the campaign was started by a leadership transfer: it bypasses the leader lease. */
  readonly transfer: boolean;
  /** As in PreVoteResponse: the sender's commit index and the term of its entry there. */
  readonly commit: number;
  readonly commitTerm: number;
}

export interface VoteResponse extends MessageBase {
  readonly type: "vote-response";
  readonly reject: boolean;
  /** As in PreVoteResponse: the sender's commit index and the term of its entry there. */
  readonly commit: number;
  readonly commitTerm: number;
}

/** AppendEntries (§5.3). An empty `entries` probes or carries the commit index. */
export interface AppendRequest extends MessageBase {
  readonly type: "append";
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Accepted (`reject: false`): `index` is the highest index known to match the leader's log.
 * Rejected: `index` is the rejected `prevIndex`, and (`hintIndex`, `hintTerm`) is the follower's
 * last entry at or below it whose term is at most the leader's `prevTerm`: the leader can skip a
 * whole conflicting term per round trip instead of one entry (§5.3, "fast back-off").
 */
export interface AppendResponse extends MessageBase {
  readonly type: "append-response";
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Leader heartbeat. `context` is set when the round also confirms leadership for ReadIndex. */
export interface HeartbeatRequest extends MessageBase {
  readonly type: "heartbeat";
  readonly commit: number;
  readonly context: string | null;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: "heartbeat-response";
  readonly context: string | null;
}

/** InstallSnapshot (§7). The follower answers with an `append-response`. */
export interface InstallSnapshotRequest extends MessageBase {
  readonly type: "install-snapshot";
  readonly snapshot: Snapshot;
}

/** Leadership transfer (dissertation §3.10): campaign now, without waiting for a timeout. */
export interface TimeoutNowRequest extends MessageBase {
  readonly type: "timeout-now";
}

/** A follower forwards a ReadIndex request to its leader. */
export interface ReadIndexRequest extends MessageBase {
  readonly type: "read-index";
  readonly context: string;
}

/** The leader's answer: a read with `context` is linearizable once `index` has been applied. */
export interface ReadIndexResponse extends MessageBase {
  readonly type: "read-index-response";
  readonly context: string;
  readonly index: number;
}

export type Message =
  | PreVoteRequest
  | PreVoteResponse
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | InstallSnapshotRequest
  | TimeoutNowRequest
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message["type"];

export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Volatile state, for observation only (never persisted). */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
}

/** A ReadIndex result: the read with `context` may be served once `applied >= index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/**
 * The core's output. The runtime handles one Ready at a time, in this order:
 *   1. persist `snapshot` (if any, replacing the whole log), then `entries` (the first entry's
 *      index may be at or below the last persisted index: truncate the stored log from there
 *      first), then `hardState`; fsync if `mustSync`;
 *   2. send `messages` (never before step 1: votes and append acknowledgements promise that the
 *      state is durable);
 *   3. restore `snapshot` into the state machine, then apply `committedEntries` in order;
 *   4. call `advance(ready)`.
 * The core may keep stepping messages and ticks between `ready()` and `advance()`; whatever those
 * produce goes into the next Ready.
 */
export interface Ready {
  /** Set when role or leader changed since the previous Ready. */
  readonly softState: SoftState | null;
  /** Set when term, vote or commit changed since the previous Ready. */
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** True when term, vote, entries or snapshot changed: the write must be fsync'd. */
  readonly mustSync: boolean;
}

/** What the runtime loaded from disk; the core's constructor takes it (no Storage interface). */
export interface PersistedState {
  readonly hardState: HardState;
  /** The latest snapshot, or null for a node that has never had one (a node waiting to join). */
  readonly snapshot: Snapshot | null;
  /** The persisted entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /**
   * The index the state machine already reflects (e.g. a persistent state machine); default: the
   * snapshot's index, so committed entries after it are applied again after a restart.
   */
  readonly applied?: number;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: "probe" | "replicate" | "snapshot";
  readonly learner: boolean;
  readonly recentActive: boolean;
  readonly inflight: number;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly membership: Membership;
  /** Per-member replication state; only on the leader. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus> | null;
  readonly leadTransferee: NodeId | null;
}

/** Where a proposal landed. It is committed when an entry with this index and term is applied. */
export interface ProposalPosition {
  readonly index: number;
  readonly term: number;
}
