// ClusterState backed by the masters' Raft group: each mutation is proposed through the log and
// answered by the replicated state machine once committed, so a value is durable on a majority
// before the caller may act on it. A new leader proposes after every entry of earlier terms, so
// its reservations start above everything any earlier leader reserved: no volume id or file key
// is ever issued twice, whatever the history of leader changes (SeaweedFS #1014, #1503, #6327).
import { randomUUID } from "node:crypto";
import { ErrorCode, WeedError } from "../../common/errors.js";
import {
  NotLeaderError,
  ProposalDroppedError,
  RaftClosedError,
  RaftError,
  RaftRuntime,
  type RaftRuntimeOptions,
} from "../../raft/runtime/index.js";
import type { ClusterState, KeyBlock } from "./cluster-state.js";
import { raftProposeTimeoutMs } from "../limits.js";
import {
  encodeCommand,
  MasterStateMachine,
  type MasterApplyResult,
  type MasterCommand,
} from "./master-state-machine.js";

export type RaftClusterStateOptions = Omit<RaftRuntimeOptions<MasterApplyResult>, "stateMachine">;

export class RaftClusterState implements ClusterState {
  readonly runtime: RaftRuntime<MasterApplyResult>;
  private readonly sm = new MasterStateMachine();
  /** A joining master's cluster as its contacts named it, until its own log says (see expectClusterId). */
  private expectedClusterId = "";
  private opened = false;
  private closed = false;

  constructor(opts: RaftClusterStateOptions) {
    const sm = this.sm;
    this.runtime = new RaftRuntime<MasterApplyResult>({
      // The replicated topologyId is the cluster id at the Raft door: a master of another cluster
      // is refused before its messages are decoded ("" until the first leader fixes it).
      clusterId: () => (sm.state.topologyId !== "" ? sm.state.topologyId : this.expectedClusterId),
      ...opts,
      stateMachine: {
        apply: (data) => sm.apply(data),
        snapshot: () => sm.snapshot(),
        restore: (data) => sm.restore(data),
      },
    });
  }

  get topologyId(): string {
    return this.sm.state.topologyId;
  }
  get maxVolumeId(): number {
    return this.sm.state.maxVolumeId;
  }
  get fileKeyCeiling(): number {
    return this.sm.state.fileKeyCeiling;
  }

  async open(): Promise<void> {
    if (this.opened) return;
    this.opened = true;
    await this.runtime.start();
  }

  /**
   * A leader hands leadership to the most up-to-date follower (bounded; a failure is logged by
   * the caller's close and ignored): the first step of a graceful stop, taken while this master
   * still serves, so requests in flight meet a new leader instead of an election.
   */
  async handOff(timeoutMs: number): Promise<string | null> {
    if (!this.opened || this.closed || !this.runtime.isLeader() || !this.hasOtherVoter()) return null;
    return this.runtime.transferLeadership(undefined, { timeoutMs });
  }

  /** Whether a voter other than this master exists (a lone master has no one to hand over to). */
  private hasOtherVoter(): boolean {
    let s;
    try {
      s = this.runtime.status();
    } catch (err) {
      if (err instanceof RaftClosedError) return false; // never started: nothing to hand over
      throw err;
    }
    return s.members.some((m) => m.suffrage === "voter" && m.id !== s.id);
  }

  /** A leader hands leadership to the most up-to-date follower before it stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.opened) await this.runtime.close({ transferLeadership: this.hasOtherVoter() });
  }

  /**
   * A master with an empty store, joining: the cluster its contacts belong to. Until its own log
   * names its cluster, the Raft door takes this one (a node knowing no members otherwise lets in any
   * cluster's leader), so only the cluster it asked to join can reach it.
   */
  expectClusterId(id: string): void {
    if (this.sm.state.topologyId === "") this.expectedClusterId = id;
  }

  /** Fixes the cluster id once (the first leader's proposal wins); a no-op when already set. */
  async ensureTopologyId(): Promise<string> {
    if (this.topologyId !== "") return this.topologyId;
    const r = await this.propose({ op: "topologyId", id: randomUUID() });
    return r.topologyId ?? this.topologyId;
  }

  async nextVolumeId(): Promise<number> {
    const r = await this.propose({ op: "nextVolumeId" });
    if (r.volumeId === undefined) throw new WeedError(ErrorCode.INTERNAL, "nextVolumeId: no volume id in the answer");
    return r.volumeId;
  }

  async raiseMaxVolumeId(id: number): Promise<void> {
    if (id <= this.maxVolumeId || !this.runtime.isLeader()) return;
    await this.propose({ op: "raiseMaxVolumeId", id });
  }

  async reserveFileKeys(count: number, floor: number): Promise<KeyBlock> {
    const r = await this.propose({ op: "reserveKeys", count, floor });
    if (r.block === undefined) throw new WeedError(ErrorCode.INTERNAL, "reserveKeys: no block in the answer");
    return r.block;
  }

  private async propose(c: MasterCommand): Promise<Extract<MasterApplyResult, { ok: true }>> {
    if (this.closed) throw new WeedError(ErrorCode.CLOSED, "cluster state is closed");
    let r: MasterApplyResult;
    try {
      r = await this.runtime.propose(encodeCommand(c), { timeoutMs: raftProposeTimeoutMs });
    } catch (err) {
      throw toWeedError(err);
    }
    if (!r.ok) throw new WeedError(ErrorCode.UNAVAILABLE, r.error);
    return r;
  }
}

/** Raft's typed errors as the master's: the HTTP/gRPC edges map these codes to statuses. */
export function toWeedError(err: unknown): WeedError {
  if (err instanceof WeedError) return err;
  if (err instanceof NotLeaderError) {
    return new WeedError(
      ErrorCode.NOT_LEADER,
      err.leader === null ? "no leader is elected yet" : `not the leader; leader is ${err.leader}`,
      { cause: err, retryAfterSec: 1 },
    );
  }
  if (err instanceof ProposalDroppedError)
    return new WeedError(ErrorCode.UNAVAILABLE, err.message, { cause: err, retryAfterSec: 1 });
  if (err instanceof RaftError || err instanceof Error) {
    // Leadership lost, timeout, closed: the reservation may or may not have committed. Nothing was
    // handed out from it, so the caller only has to retry (keys are skipped, never reused).
    return new WeedError(ErrorCode.UNAVAILABLE, err.message, { cause: err, retryAfterSec: 1 });
  }
  return new WeedError(ErrorCode.INTERNAL, String(err));
}
