// The public surface of the Raft core (re-exports only). The simulator lives in ./sim/.
export { RaftNode, bootstrapState, joiningState } from "./raft-node.js";
export {
  type RaftConfig,
  type RaftConfigInput,
  electionTicksDefault,
  heartbeatTicksDefault,
  resolveConfig,
} from "./config.js";
export {
  CompactRejectedError,
  ConfChangeRejectedError,
  type ConfChangeRejectReason,
  type DropReason,
  InvalidConfigError,
  InvalidStateError,
  LeadershipLostError,
  NotLeaderError,
  ProposalDroppedError,
  RaftAssertionError,
  RaftError,
  RaftErrorCode,
  TransferRejectedError,
} from "./errors.js";
export {
  describeEntry,
  describeEntries,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
} from "./describe.js";
export { applyConfChange, describeMembership, isLearner, isMember, isVoter } from "./membership.js";
export type * from "./types.js";
