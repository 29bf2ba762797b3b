// Errors of the Raft runtime. The core's classes (NotLeaderError, ProposalDroppedError,
// LeadershipLostError, ConfChangeRejectedError, TransferRejectedError) are re-exported and used as
// they are; the classes below cover what only the runtime can fail at: time, cancellation,
// lifecycle, the disk and the wire. Every class has a stable `code` from the one RaftErrorCode
// table; branch on it or on instanceof.
import { RaftError, RaftErrorCode } from "../errors.js";

export {
  ConfChangeRejectedError,
  LeadershipLostError,
  NotLeaderError,
  ProposalDroppedError,
  RaftError,
  RaftErrorCode,
  TransferRejectedError,
} from "../errors.js";

/** An error only the runtime can fail with; one code table with the core's (RaftErrorCode). */
export class RaftRuntimeError extends RaftError {}

/**
 * The operation did not finish in time. For a proposal or a membership change the OUTCOME IS
 * UNKNOWN: the entry may have been appended and may still commit. A read may simply be retried.
 */
export class RaftTimeoutError extends RaftRuntimeError {
  constructor(what: string, timeoutMs: number, outcomeUnknown: boolean) {
    super(
      RaftErrorCode.TIMEOUT,
      `${what} timed out after ${timeoutMs} ms${outcomeUnknown ? "; outcome unknown: it may still commit" : ""}`,
    );
  }
}

/** The caller's AbortSignal fired. For a proposal the OUTCOME IS UNKNOWN (it may still commit). */
export class RaftAbortedError extends RaftRuntimeError {
  constructor(what: string, outcomeUnknown: boolean, reason: unknown) {
    super(RaftErrorCode.ABORTED, `${what} aborted${outcomeUnknown ? "; outcome unknown: it may still commit" : ""}`, {
      cause: reason,
    });
  }
}

/**
 * The runtime is closed or closing. A proposal that was appended before close has an UNKNOWN
 * outcome (the message says so); one refused because the runtime was already closed was not.
 */
export class RaftClosedError extends RaftRuntimeError {
  constructor(detail = "raft runtime is closed") {
    super(RaftErrorCode.CLOSED, detail);
  }
}

/** Data read back from the node's LevelDB failed its checks (CRC, structure, contiguity). */
export class StorageCorruptError extends RaftRuntimeError {
  constructor(detail: string, options?: ErrorOptions) {
    super(RaftErrorCode.STORAGE_CORRUPT, `raft storage corrupt: ${detail}`, options);
  }
}

/**
 * The store holds no Raft state, but the node was told it must (it has been a member before):
 * starting empty would bootstrap a second group or rejoin as a stranger over a lost log.
 */
export class StorageEmptyError extends RaftRuntimeError {
  constructor(detail: string) {
    super(RaftErrorCode.STORAGE_EMPTY, `raft storage empty: ${detail}`);
  }
}

/** A message from the wire could not be decoded into a core Message. */
export class MessageCodecError extends RaftRuntimeError {
  constructor(detail: string) {
    super(RaftErrorCode.CODEC, `raft message codec: ${detail}`);
  }
}
