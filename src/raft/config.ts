// Configuration of the Raft core: every timeout and limit in one place, with why that number.
// Options are validated once, eagerly, by `resolveConfig`; the core only sees a RaftConfig.
import { InvalidConfigError } from "./errors.js";
import type { NodeId } from "./types.js";

export interface RaftConfig {
  /** This node's identity ("host:port"). */
  readonly id: NodeId;
  /**
   * Base election timeout in ticks. A follower campaigns after a random timeout in
   * [electionTicks, 2*electionTicks) without hearing from a leader; a CheckQuorum leader steps
   * down after electionTicks without hearing from a quorum.
   */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks. Must be well below electionTicks. */
  readonly heartbeatTicks: number;
  /** Injected source of uniform numbers in [0, 1): the core never uses Math.random. */
  readonly random: () => number;
  /** PreVote (dissertation §9.6): a node wins a pre-election before raising its term. */
  readonly preVote: boolean;
  /**
   * CheckQuorum: a leader steps down when it has not heard from a quorum for electionTicks, and
   * a node that heard from a leader within electionTicks ignores (pre-)vote requests (the leader
   * lease, dissertation §4.2.3), so a rejoining node cannot depose a healthy leader.
   */
  readonly checkQuorum: boolean;
  /**
   * With CheckQuorum, a leader steps down once this many electionTicks rounds in a row passed
   * without hearing from a quorum; 1 (etcd) = a round of silence. The lease a leader gives its
   * followers is unchanged: it still refuses (pre-)votes as a leader, so 2 only makes a leader
   * that sees a loaded follower answer late keep its place, not two leaders electable at once.
   */
  readonly checkQuorumRounds: number;
  /**
   * Append messages in flight per follower while replicating (pipelining). 256 covers a
   * 1 Gbit/s, 1 ms RTT link with small entries; in bytes, at most inflightAppendsMax * msgBytesMax.
   */
  readonly inflightAppendsMax: number;
  /** Payload bytes per append message (at least one entry is always sent). 1 MiB. */
  readonly msgBytesMax: number;
  /** Entries per append message. Bounds the work a follower does per message. */
  readonly entriesPerAppendMax: number;
  /** A single proposal larger than this is dropped. Equal to msgBytesMax by default. */
  readonly entryBytesMax: number;
  /**
   * Uncommitted payload bytes a leader accepts before dropping proposals, so a leader that cannot
   * commit (lost quorum) does not grow its log without bound. 64 MiB.
   */
  readonly uncommittedBytesMax: number;
  /** Payload bytes of committed entries handed out per Ready, so one apply batch stays small. */
  readonly committedBytesPerReadyMax: number;
  /** A learner may be promoted only when it is at most this many entries behind the leader. */
  readonly promoteLagEntriesMax: number;
  /**
   * A follower in snapshot state that has not acknowledged the snapshot after this many ticks
   * goes back to probing (the snapshot message or its answer was lost).
   */
  readonly snapshotRetryTicks: number;
  /** A leadership transfer not completed within this many ticks is aborted. */
  readonly transferTimeoutTicks: number;
  /** Pending ReadIndex requests a leader holds; further ones fail with ProposalDroppedError. */
  readonly readIndexRequestsMax: number;
}

export type RaftConfigInput = Pick<RaftConfig, "id" | "random"> & Partial<Omit<RaftConfig, "id" | "random">>;

export const electionTicksDefault = 10;
export const heartbeatTicksDefault = 1;

export function resolveConfig(input: RaftConfigInput): RaftConfig {
  const electionTicks = input.electionTicks ?? electionTicksDefault;
  const msgBytesMax = input.msgBytesMax ?? 1024 * 1024;
  const config: RaftConfig = {
    id: input.id,
    random: input.random,
    electionTicks,
    heartbeatTicks: input.heartbeatTicks ?? heartbeatTicksDefault,
    preVote: input.preVote ?? true,
    checkQuorum: input.checkQuorum ?? true,
    checkQuorumRounds: input.checkQuorumRounds ?? 1,
    inflightAppendsMax: input.inflightAppendsMax ?? 256,
    msgBytesMax,
    entriesPerAppendMax: input.entriesPerAppendMax ?? 4096,
    entryBytesMax: input.entryBytesMax ?? msgBytesMax,
    uncommittedBytesMax: input.uncommittedBytesMax ?? 64 * 1024 * 1024,
    committedBytesPerReadyMax: input.committedBytesPerReadyMax ?? 4 * 1024 * 1024,
    promoteLagEntriesMax: input.promoteLagEntriesMax ?? 64,
    snapshotRetryTicks: input.snapshotRetryTicks ?? 2 * electionTicks,
    transferTimeoutTicks: input.transferTimeoutTicks ?? electionTicks,
    readIndexRequestsMax: input.readIndexRequestsMax ?? 4096,
  };
  validateConfig(config);
  return config;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidConfigError(name, value, "must be a positive integer");
  }
}

export function validateConfig(c: RaftConfig): void {
  if (typeof c.id !== "string" || c.id.length === 0)
    throw new InvalidConfigError("id", c.id, "must be a non-empty string");
  if (typeof c.random !== "function") throw new InvalidConfigError("random", c.random, "must be a function");
  positiveInteger("electionTicks", c.electionTicks);
  positiveInteger("heartbeatTicks", c.heartbeatTicks);
  if (c.electionTicks <= c.heartbeatTicks) {
    throw new InvalidConfigError("electionTicks", c.electionTicks, `must exceed heartbeatTicks (${c.heartbeatTicks})`);
  }
  positiveInteger("checkQuorumRounds", c.checkQuorumRounds);
  positiveInteger("inflightAppendsMax", c.inflightAppendsMax);
  positiveInteger("msgBytesMax", c.msgBytesMax);
  positiveInteger("entriesPerAppendMax", c.entriesPerAppendMax);
  positiveInteger("entryBytesMax", c.entryBytesMax);
  positiveInteger("uncommittedBytesMax", c.uncommittedBytesMax);
  positiveInteger("committedBytesPerReadyMax", c.committedBytesPerReadyMax);
  positiveInteger("snapshotRetryTicks", c.snapshotRetryTicks);
  positiveInteger("transferTimeoutTicks", c.transferTimeoutTicks);
  positiveInteger("readIndexRequestsMax", c.readIndexRequestsMax);
  if (!Number.isSafeInteger(c.promoteLagEntriesMax) || c.promoteLagEntriesMax < 0) {
    throw new InvalidConfigError("promoteLagEntriesMax", c.promoteLagEntriesMax, "must be a non-negative integer");
  }
}
