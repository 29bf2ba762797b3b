// Typed errors of the Raft library. Operating errors (not leader, dropped, ...) are RaftError
// subclasses with a stable `code`; callers branch on `instanceof` or `code`, never on the message.
// Programmer errors (a broken invariant) throw AssertionError (src/common/errors.ts, exported here
// as RaftAssertionError too) from `assert`/`unreachable` and are never caught: a Raft node that
// violated an invariant must not keep running.
import { AssertionError } from "../common/errors.js";
import type { NodeId } from "./types.js";

export const RaftErrorCode = {
  NOT_LEADER: "WEED_ERR_RAFT_NOT_LEADER",
  PROPOSAL_DROPPED: "WEED_ERR_RAFT_PROPOSAL_DROPPED",
  LEADERSHIP_LOST: "WEED_ERR_RAFT_LEADERSHIP_LOST",
  CONF_CHANGE_REJECTED: "WEED_ERR_RAFT_CONF_CHANGE_REJECTED",
  TRANSFER_REJECTED: "WEED_ERR_RAFT_TRANSFER_REJECTED",
  COMPACT_REJECTED: "WEED_ERR_RAFT_COMPACT_REJECTED",
  INVALID_CONFIG: "WEED_ERR_RAFT_INVALID_CONFIG",
  INVALID_STATE: "WEED_ERR_RAFT_INVALID_STATE",
  // What only the runtime (./runtime) can fail at: time, cancellation, lifecycle, disk, wire.
  TIMEOUT: "WEED_ERR_RAFT_TIMEOUT",
  ABORTED: "WEED_ERR_RAFT_ABORTED",
  CLOSED: "WEED_ERR_RAFT_CLOSED",
  STORAGE_CORRUPT: "WEED_ERR_RAFT_STORAGE_CORRUPT",
  STORAGE_EMPTY: "WEED_ERR_RAFT_STORAGE_EMPTY",
  CODEC: "WEED_ERR_RAFT_CODEC",
} as const;
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  constructor(code: RaftErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** This node is not the leader. `leader` is the leader it knows of, if any: retry there. */
export class NotLeaderError extends RaftError {
  readonly leader: NodeId | null;
  constructor(leader: NodeId | null) {
    super(
      RaftErrorCode.NOT_LEADER,
      leader === null ? "not the leader; no leader known" : `not the leader; leader is ${leader}`,
    );
    this.leader = leader;
  }
}

export type DropReason = "transfer-in-progress" | "uncommitted-limit" | "entry-too-large" | "read-queue-full";

/** The leader refused the proposal without appending it: it was certainly not committed. */
export class ProposalDroppedError extends RaftError {
  readonly reason: DropReason;
  constructor(reason: DropReason, detail: string) {
    super(RaftErrorCode.PROPOSAL_DROPPED, `proposal dropped (${reason}): ${detail}`);
    this.reason = reason;
  }
}

/**
 * The proposal was appended but leadership changed before it was known committed: the outcome is
 * UNKNOWN (it may still commit under the next leader). Raised by the runtime, defined here so every
 * layer shares one class.
 */
export class LeadershipLostError extends RaftError {
  constructor(detail: string) {
    super(RaftErrorCode.LEADERSHIP_LOST, `leadership lost, outcome unknown: ${detail}`);
  }
}

export type ConfChangeRejectReason =
  "in-progress" | "already-member" | "not-member" | "not-learner" | "learner-behind" | "last-voter";

export class ConfChangeRejectedError extends RaftError {
  readonly reason: ConfChangeRejectReason;
  constructor(reason: ConfChangeRejectReason, detail: string) {
    super(RaftErrorCode.CONF_CHANGE_REJECTED, `membership change rejected (${reason}): ${detail}`);
    this.reason = reason;
  }
}

export class TransferRejectedError extends RaftError {
  constructor(detail: string) {
    super(RaftErrorCode.TRANSFER_REJECTED, `leadership transfer rejected: ${detail}`);
  }
}

export class CompactRejectedError extends RaftError {
  constructor(detail: string) {
    super(RaftErrorCode.COMPACT_REJECTED, `compaction rejected: ${detail}`);
  }
}

export class InvalidConfigError extends RaftError {
  constructor(option: string, value: unknown, rule: string) {
    super(RaftErrorCode.INVALID_CONFIG, `raft config: ${option}=${String(value)}: ${rule}`);
  }
}

/** Persisted state handed to the constructor is inconsistent (checked when read back from disk). */
export class InvalidStateError extends RaftError {
  constructor(detail: string) {
    super(RaftErrorCode.INVALID_STATE, `raft persisted state: ${detail}`);
  }
}

/** The library's name for the one assertion class of src/ (the same class, not a subclass). */
export { AssertionError as RaftAssertionError };

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(`raft invariant violated: ${message}`);
}

export function unreachable(value: never): never {
  throw new AssertionError(`raft invariant violated: unreachable: ${JSON.stringify(value)}`);
}
