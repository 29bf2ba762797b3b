// The Raft core: a deterministic state machine driven by tick(), step(message) and the proposal
// methods, whose output is collected with ready()/advance(). No I/O, no timers, no clock; the only
// randomness is config.random. Section numbers refer to the Raft paper (Ongaro & Ousterhout 2014)
// and "§9.6"-style numbers to Ongaro's dissertation where the paper is silent.
//
// Structure: public API first; then role transitions; then step() (term rules common to all roles)
// dispatching to stepLeader / stepCandidate / stepFollower; then the per-message handlers.
import { type RaftConfig, type RaftConfigInput, resolveConfig } from "./config.js";
import {
  CompactRejectedError,
  ConfChangeRejectedError,
  InvalidStateError,
  NotLeaderError,
  ProposalDroppedError,
  TransferRejectedError,
  assert,
  unreachable,
} from "./errors.js";
import { MembershipTracker, isLearner, isMember, isVoter } from "./membership.js";
import { Progress } from "./progress.js";
import { committedIndex, hasQuorum, voteResult } from "./quorum.js";
import { EMPTY_MEMBERSHIP, RaftLog, entryPayloadBytes } from "./raft-log.js";
import { type PendingRead, ReadIndexQueue } from "./read-index.js";
import type {
  AppendRequest,
  AppendResponse,
  ConfChange,
  Entry,
  HardState,
  HeartbeatRequest,
  HeartbeatResponse,
  InstallSnapshotRequest,
  Membership,
  Message,
  NodeId,
  PersistedState,
  PreVoteRequest,
  PreVoteResponse,
  ProposalPosition,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
  Status,
  VoteRequest,
  VoteResponse,
} from "./types.js";

type CampaignKind = "pre-vote" | "election" | "transfer";

/**
 * Ticks between the survivors' early campaigns after their leader's connection dropped
 * (reportLeaderLost). Two ticks (100 ms by default) cover a pre-vote round, the candidate's fsync
 * of its vote and a vote round on a busy host; the first survivor campaigns after one tick.
 */
const LEADER_LOST_STAGGER_TICKS = 2;

type OutgoingMessage = Message extends infer M ? (M extends Message ? Omit<M, "from"> : never) : never;

export class RaftNode {
  readonly id: NodeId;
  private readonly cfg: RaftConfig;
  private readonly log: RaftLog;
  private readonly members: MembershipTracker;

  private term: number;
  private vote: NodeId | null;
  private leader: NodeId | null = null;
  private role: Role = "follower";

  /** Leader only: replication state of every member, this node included. */
  private readonly progress = new Map<NodeId, Progress>();
  /** Candidate and pre-candidate: answers received in this campaign. */
  private readonly votes = new Map<NodeId, boolean>();

  /** Ticks since the last valid leader contact (follower) or the last quorum check (leader). */
  private electionElapsed = 0;
  /** A leader's CheckQuorum rounds in a row without hearing from a quorum. */
  private quorumMissedRounds = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  private leadTransferee: NodeId | null = null;
  private transferElapsed = 0;
  /** Leader: no new conf change may be proposed until the commit index reaches this. */
  private pendingConfIndex = 0;
  /** Leader: payload bytes of its own uncommitted entries (RaftConfig.uncommittedBytesMax). */
  private uncommittedBytes = 0;

  private readonly reads = new ReadIndexQueue();
  /** Leader: reads that arrived before it committed an entry of its term (§6.4 step 1). */
  private readsBeforeCommit: Array<{ context: string; from: NodeId }> = [];

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  /** Leader: new entries were appended since the last flush; send them at the next ready(). */
  private appendPending = false;
  /**
   * Leader: a membership change committed since the last flush; tell every follower at once. Any
   * other commit-index move waits for the next append or heartbeat (see flushAppends).
   */
  private commitPending = false;

  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfigInput, state: PersistedState) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    validatePersistedState(state);
    const { hardState, snapshot, entries } = state;
    const snapIndex = snapshot?.meta.index ?? 0;
    const applied = state.applied ?? snapIndex;
    this.log = new RaftLog(snapshot, entries, hardState.commit, applied);
    this.members = new MembershipTracker(snapIndex, snapshot?.meta.membership ?? EMPTY_MEMBERSHIP);
    this.members.appended(entries);
    this.members.committed(hardState.commit);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.prevHardState = hardState;
    this.becomeFollower(this.term, null);
    this.restartElectionTimer();
    this.prevSoftState = this.softState();
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /** Advance logical time by one tick. */
  tick(): void {
    if (this.role === "leader") this.tickLeader();
    else this.tickElection();
    this.afterInput();
  }

  /** Handle a message from a peer. Messages for another node are a routing bug. */
  step(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} stepped on ${this.id}`);
    if (m.from === this.id) return; // Never meaningful; a duplicating network could produce it.
    this.stepMessage(m);
    this.afterInput();
  }

  /** Start an election now (as if the election timeout fired). No-op for a leader or non-voter. */
  campaign(): void {
    this.hup(false);
    this.afterInput();
  }

  /** Append a command. Throws NotLeaderError or ProposalDroppedError (then certainly not appended). */
  propose(data: Uint8Array): ProposalPosition {
    this.checkCanPropose(data.byteLength);
    const e: Entry = { type: "normal", index: this.log.lastIndex() + 1, term: this.term, data };
    this.appendAsLeader(e);
    return { index: e.index, term: e.term };
  }

  /** Propose a membership change (one at a time; see membership.ts). */
  proposeConfChange(change: ConfChange): ProposalPosition {
    this.checkCanPropose(change.node.length);
    this.validateConfChange(change);
    const e: Entry = { type: "conf-change", index: this.log.lastIndex() + 1, term: this.term, change };
    this.appendAsLeader(e);
    this.pendingConfIndex = e.index;
    return { index: e.index, term: e.term };
  }

  /**
   * Hand leadership to `to`, or to the most up-to-date other voter. The target is brought up to
   * date and then told to campaign at once (TimeoutNow, dissertation §3.10); proposals are dropped
   * meanwhile, and the transfer is abandoned after transferTimeoutTicks. Returns the target.
   */
  transferLeadership(to?: NodeId): NodeId {
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    const target = to ?? this.mostUpToDateVoter();
    if (target === undefined) throw new TransferRejectedError("no other voter to transfer to");
    if (target === this.id) throw new TransferRejectedError(`${target} is already the leader`);
    if (!isVoter(this.members.membership, target)) throw new TransferRejectedError(`${target} is not a voter`);
    if (this.leadTransferee === target) return target;
    this.leadTransferee = target;
    this.transferElapsed = 0;
    const pr = this.progress.get(target) as Progress;
    if (pr.match === this.log.lastIndex()) {
      this.send({ type: "timeout-now", to: target, term: this.term });
    } else if (!this.sendAppend(target, false) && pr.state === "replicate") {
      // Everything was sent already but not acknowledged: resend rather than wait for the
      // stall detection, so the transfer (which blocks proposals) finishes quickly.
      pr.becomeProbe();
      this.sendAppend(target, true);
    }
    return target;
  }

  /**
   * Request a linearizable read point (§6.4). The answer arrives as a ReadState with the same
   * `context` in a later Ready; it is lost if leadership changes (the caller times out and
   * retries). Throws NotLeaderError when no leader is known.
   */
  readIndex(context: string): void {
    if (this.role === "leader") {
      this.leaderReadIndex(context, this.id);
    } else if (this.leader !== null) {
      this.send({ type: "read-index", to: this.leader, term: this.term, context });
    } else {
      throw new NotLeaderError(null);
    }
    this.afterInput();
  }

  /**
   * Log compaction: the state machine's snapshot `data` reflects every entry up to `index`. The
   * core drops those entries and keeps the snapshot (to send to far-behind followers). The
   * caller persists the returned snapshot and may then delete the entries up to `index`.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    const snap = this.log.snapshotMeta();
    if (index <= snap.index)
      throw new CompactRejectedError(`index ${index} is already compacted (snapshot at ${snap.index})`);
    if (this.log.pendingSnapshot() !== null) throw new CompactRejectedError("a snapshot is being installed");
    if (index > this.log.applied)
      throw new CompactRejectedError(`index ${index} is not applied (applied ${this.log.applied})`);
    if (index > this.log.persisted()) throw new CompactRejectedError(`index ${index} is not persisted`);
    const snapshot = this.log.compact(index, data, this.members.at(index));
    this.members.compacted(index);
    return snapshot;
  }

  /** A transport reports that `to` is unreachable: stop pipelining to it (probe instead). */
  reportUnreachable(to: NodeId): void {
    const pr = this.progress.get(to);
    if (pr?.state === "replicate") pr.becomeProbe();
  }

  /**
   * The transport lost its connection to `peer` (an established stream broke and its port then
   * refused a connect: the process died). If `peer` is this follower's leader, its lease is given up
   * now and the election timer fires within a few ticks instead of a whole election timeout: a
   * leader killed with -9 is replaced in a few ticks (issue 15), while a hung or cut-off leader
   * still takes the full timeout. Needs PreVote and CheckQuorum, which make a false alarm
   * harmless: the pre-vote asks the other voters first, and those still hearing from the leader
   * are in its lease and refuse; its next heartbeat restarts our timer.
   */
  reportLeaderLost(peer: NodeId): void {
    if (!this.cfg.preVote || !this.cfg.checkQuorum) return;
    if (this.role !== "follower" || this.leader !== peer) return;
    this.electionElapsed = Math.max(this.electionElapsed, this.cfg.electionTicks);
    // The survivors all see the connection drop at once. Campaigning in the order of their ids,
    // LEADER_LOST_STAGGER_TICKS apart, lets the first one's pre-vote and vote reach the others
    // before they campaign themselves: two pre-candidates grant each other's pre-votes and then
    // split the vote (seen under load with a random 1-2 tick delay: three split terms in a row).
    const survivors = this.members.membership.voters.filter((v) => v !== peer).sort();
    const rank = Math.max(0, survivors.indexOf(this.id));
    const wait = Math.min(1 + LEADER_LOST_STAGGER_TICKS * rank, this.cfg.electionTicks);
    this.randomizedElectionTimeout = this.electionElapsed + wait;
  }

  /** Whether ready() has something to hand out. False while a Ready awaits advance(). */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    return (
      this.appendPending ||
      this.commitPending ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstableEntries() ||
      this.log.pendingSnapshot() !== null ||
      this.log.hasNextCommittedEntries() ||
      !softStateEqual(this.softState(), this.prevSoftState) ||
      !hardStateEqual(this.hardState(), this.prevHardState)
    );
  }

  /** Collect the output; call advance(ready) once it has been handled (see Ready in types.ts). */
  ready(): Ready {
    assert(this.outstanding === null, "ready() called again before advance()");
    this.flushAppends();
    const soft = this.softState();
    const hard = this.hardState();
    const softChanged = !softStateEqual(soft, this.prevSoftState);
    const hardChanged = !hardStateEqual(hard, this.prevHardState);
    const entries = this.log.unstableEntries();
    const snapshot = this.log.pendingSnapshot();
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hard : null,
      entries,
      snapshot,
      messages: this.msgs,
      committedEntries: this.takeCommittedEntries(),
      readStates: this.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== null ||
        hard.term !== this.prevHardState.term ||
        hard.vote !== this.prevHardState.vote,
    };
    this.msgs = [];
    this.readStates = [];
    this.prevSoftState = soft;
    this.prevHardState = hard;
    this.outstanding = rd;
    return rd;
  }

  /** The runtime persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    assert(rd === this.outstanding, "advance() with a Ready that is not the outstanding one");
    this.outstanding = null;
    if (rd.snapshot !== null) this.log.stableSnapshotTo(rd.snapshot.meta.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) {
      this.log.stableTo(lastEntry.index, lastEntry.term);
      // The leader counts its own copy towards commit once it is durable (as etcd does with
      // asynchronous storage writes): then any entry a Ready hands out as committed is durable on
      // a quorum, and a leader may apply it while its own write of later entries is in flight.
      const self = this.role === "leader" ? this.progress.get(this.id) : undefined;
      if (self !== undefined && self.maybeUpdate(this.log.persisted())) this.maybeCommit();
    }
    // Partial Readies handed out during the write may have moved applied past this Ready's entries.
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied !== undefined && lastApplied.index > this.log.applied) this.log.appliedTo(lastApplied.index);
    // An input like the others: our own write may be the copy that commits our removal, and we
    // step down now, not at the next tick or message (we would apply the removal while leading).
    this.afterInput();
  }

  /**
   * Leader only, while the runtime writes the outstanding Ready (asynchronous storage writes):
   * is there anything to hand out that needs no write of its own - appends of the entries
   * proposed meanwhile (a leader may send entries before they are durable on its disk,
   * dissertation §10.2.1), commit-index updates, committed entries, read states? Not when the
   * role, term or vote changed or a snapshot waits: those go in the next Ready, after the write.
   */
  hasPartialReady(): boolean {
    if (this.role !== "leader" || this.log.pendingSnapshot() !== null) return false;
    if (this.term !== this.prevHardState.term || this.vote !== this.prevHardState.vote) return false;
    if (!softStateEqual(this.softState(), this.prevSoftState)) return false;
    return (
      this.appendPending ||
      this.commitPending ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasNextCommittedEntries()
    );
  }

  /**
   * What hasPartialReady() promised: messages, committed entries and read states, with no
   * entries, snapshot or hard state (the next full Ready carries those). Takes no advance(): its
   * committed entries count as applied at once (the runtime applies them before anything else).
   */
  partialReady(): Ready {
    assert(this.hasPartialReady(), "partialReady() with nothing to hand out, or not a leader");
    this.flushAppends();
    const committedEntries = this.takeCommittedEntries();
    const last = committedEntries[committedEntries.length - 1];
    if (last !== undefined) this.log.appliedTo(last.index);
    const rd: Ready = {
      softState: null,
      hardState: null,
      entries: [],
      snapshot: null,
      messages: this.msgs,
      committedEntries,
      readStates: this.readStates,
      mustSync: false,
    };
    this.msgs = [];
    this.readStates = [];
    return rd;
  }

  private takeCommittedEntries(): Entry[] {
    const entries = this.log.nextCommittedEntries(this.cfg.committedBytesPerReadyMax);
    const last = entries[entries.length - 1];
    if (last !== undefined) this.log.applyingTo(last.index);
    return entries;
  }

  status(): Status {
    let progress: Map<NodeId, ReturnType<Progress["status"]>> | null = null;
    if (this.role === "leader") {
      progress = new Map();
      for (const [id, pr] of this.progress) progress.set(id, pr.status());
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      membership: this.members.membership,
      progress,
      leadTransferee: this.leadTransferee,
    };
  }

  /** This node's role: what a server asks on every request, so no object is built for it. */
  currentRole(): Role {
    return this.role;
  }

  /** The leader this node knows of, or null (also asked per request). */
  knownLeader(): NodeId | null {
    return this.leader;
  }

  /** The few facts a runtime polls often, without the allocation of status(). */
  basicStatus(): {
    role: Role;
    term: number;
    leader: NodeId | null;
    commit: number;
    applied: number;
    lastIndex: number;
  } {
    return {
      role: this.role,
      term: this.term,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
    };
  }

  /** Entries in [lo, hi) still in memory (tests, the simulator's checkers, describe tools). */
  entries(lo: number, hi: number): Entry[] {
    return (
      this.log.slice(Math.max(lo, this.log.firstIndex()), Math.min(hi, this.log.lastIndex() + 1), Infinity, Infinity) ??
      []
    );
  }

  /** The term of entry `index`, if still in memory (or the snapshot's). */
  termAt(index: number): number | undefined {
    return this.log.term(index);
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions

  private softState(): SoftState {
    return { role: this.role, leader: this.leader };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, `term moved back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = null;
    }
    this.leader = null;
    this.heartbeatElapsed = 0;
    this.leadTransferee = null;
    this.transferElapsed = 0;
    this.votes.clear();
    this.progress.clear();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.reads.clear();
    this.readsBeforeCommit = [];
    this.appendPending = false;
    this.commitPending = false;
  }

  /**
   * Figure 2: the election timer restarts when an election starts, when this node grants a vote,
   * and when it hears from the current leader; a new random timeout is drawn at each restart.
   * It does NOT restart when a candidate loses or merely learns a higher term: a candidate that
   * cannot win (a stale view of the membership, say) must not stay phase-locked with one that
   * can (simulator seed 101883, where every retry of the electable node came just too late).
   */
  private restartElectionTimer(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + Math.floor(this.cfg.random() * this.cfg.electionTicks);
    assert(
      this.randomizedElectionTimeout >= this.cfg.electionTicks &&
        this.randomizedElectionTimeout < 2 * this.cfg.electionTicks,
      "random() must return a number in [0, 1)",
    );
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    // A leader's electionElapsed counts CheckQuorum rounds, not time without a leader.
    const restart = this.role === "leader" || leader !== null;
    this.reset(term);
    this.leader = leader;
    this.role = "follower";
    if (restart) this.restartElectionTimer();
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become pre-candidate");
    // PreVote does not touch term or vote: only a real election does (§9.6).
    this.votes.clear();
    this.leader = null;
    this.role = "pre-candidate";
    this.restartElectionTimer();
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
    this.restartElectionTimer();
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate can become leader");
    this.reset(this.term);
    this.electionElapsed = 0;
    this.quorumMissedRounds = 0;
    this.role = "leader";
    this.leader = this.id;
    const m = this.members.membership;
    const next = this.log.lastIndex() + 1;
    for (const id of m.voters) this.progress.set(id, new Progress(next, this.cfg.inflightAppendsMax, false));
    for (const id of m.learners) this.progress.set(id, new Progress(next, this.cfg.inflightAppendsMax, true));
    const self = this.progress.get(this.id) as Progress;
    self.maybeUpdate(this.log.persisted()); // The rest counts once durable (advance()).
    self.becomeReplicate();
    self.recentActive = true;
    // §5.4.2: a leader commits entries of earlier terms only by committing one of its own term.
    this.appendAsLeader({ type: "noop", index: this.log.lastIndex() + 1, term: this.term });
    // No conf change until everything up to here, the no-op included, has committed: this leader
    // must have committed an entry of its term first (the single-server change fix, raft-dev 2015).
    this.pendingConfIndex = this.log.lastIndex();
  }

  private promotable(): boolean {
    return isVoter(this.members.membership, this.id) && this.log.pendingSnapshot() === null;
  }

  private hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.cfg.preVote && !transfer) this.runCampaign("pre-vote");
    else this.runCampaign(transfer ? "transfer" : "election");
  }

  /** §5.2: vote for yourself and ask every other voter. */
  private runCampaign(kind: CampaignKind): void {
    let voteTerm: number;
    if (kind === "pre-vote") {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === "won") return;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    const commit = this.log.committed;
    const commitTerm = this.log.term(commit) ?? 0;
    const ask = { term: voteTerm, lastIndex, lastTerm, commit, commitTerm };
    for (const id of this.members.membership.voters) {
      if (id === this.id) continue;
      if (kind === "pre-vote") this.send({ type: "pre-vote", to: id, ...ask });
      else this.send({ type: "vote", to: id, ...ask, transfer: kind === "transfer" });
    }
  }

  /** Record a vote and act on the result; returns the tally. */
  private poll(from: NodeId, granted: boolean): "won" | "lost" | "pending" {
    this.votes.set(from, granted);
    const result = voteResult(this.members.membership.voters, this.votes);
    if (result === "won") {
      if (this.role === "pre-candidate") this.runCampaign("election");
      else this.becomeLeader();
    } else if (result === "lost") {
      this.becomeFollower(this.term, null);
    }
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (this.checkQuorumActive()) this.quorumMissedRounds = 0;
        else if (++this.quorumMissedRounds >= this.cfg.checkQuorumRounds) {
          this.becomeFollower(this.term, null);
          return;
        }
      }
    }
    if (this.leadTransferee !== null && ++this.transferElapsed >= this.cfg.transferTimeoutTicks) {
      this.leadTransferee = null;
      this.transferElapsed = 0;
    }
    for (const [id, pr] of this.progress) {
      if (pr.state === "snapshot" && ++pr.snapshotTicks >= this.cfg.snapshotRetryTicks) {
        pr.becomeProbe();
        this.sendAppend(id, false);
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.reads.lastContext());
    }
  }

  /** CheckQuorum: did a quorum of voters answer since the last check? Resets the marks. */
  private checkQuorumActive(): boolean {
    const active = hasQuorum(
      this.members.membership.voters,
      (id) => id === this.id || this.progress.get(id)?.recentActive === true,
    );
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    return active;
  }

  // ---------------------------------------------------------------------------------------------
  // step: the rules about terms that hold in every role (Figure 2, "All Servers"), then dispatch.

  private stepMessage(m: Message): void {
    if ((m.type === "vote" || m.type === "pre-vote") && this.isRemoved(m.from)) {
      // A removed server that has not learned of its removal keeps campaigning (dissertation
      // §4.2.3); it must not raise our term. Found by the simulator (seed 10406: with PreVote and
      // CheckQuorum off, removed nodes deposed every leader forever).
      return;
    }
    if (m.type === "vote" || m.type === "pre-vote") this.learnCommit(m);
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "pre-vote") {
        const transfer = m.type === "vote" && m.transfer;
        // Leader lease (§4.2.3 / CheckQuorum): we heard from a live leader within the minimum
        // election timeout, so this candidate is disruptive (e.g. it was partitioned away). Do
        // not raise our term, do not answer.
        const inLease = this.cfg.checkQuorum && this.leader !== null && this.electionElapsed < this.cfg.electionTicks;
        if (inLease && !transfer) return;
      }
      if (m.type === "pre-vote" || (m.type === "pre-vote-response" && !m.reject)) {
        // A pre-vote carries a future term; it changes nobody's term (§9.6).
      } else {
        const fromLeader = m.type === "append" || m.type === "heartbeat" || m.type === "install-snapshot";
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      this.stepStaleTerm(m);
      return;
    }
    switch (m.type) {
      case "pre-vote":
      case "vote":
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        return;
      case "candidate":
      case "pre-candidate":
        this.stepCandidate(m);
        return;
      case "follower":
        this.stepFollower(m);
        return;
      default:
        unreachable(this.role);
    }
  }

  private stepStaleTerm(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === "append" || m.type === "heartbeat")) {
      // A stale leader (e.g. one cut off from the quorum that has not noticed) or a leader of a
      // term we raised while partitioned: answering with our term makes it step down. Without
      // this, a node whose term ran ahead could never rejoin, since its pre-votes are ignored.
      this.send({
        type: "append-response",
        to: m.from,
        term: this.term,
        reject: false,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === "pre-vote" || m.type === "vote") {
      // Figure 2: reject with our term, so that the candidate catches up instead of retrying
      // below us forever (simulator seed 104266: a voter whose stale view left it out of the
      // other candidate's requests never learned the current term, and nobody could win).
      this.sendVoteResponse(m, this.term, true);
    }
    // Anything else from an old term is ignored (§5.1).
  }

  /** §5.2, §5.4.1 (and §9.6 for pre-votes): grant at most one vote per term, to an up-to-date log. */
  private handleVoteRequest(m: VoteRequest | PreVoteRequest): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.type === "pre-vote" && m.term > this.term);
    const granted = canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm);
    // A granted pre-vote answers in the candidate's future term so the candidate counts it.
    this.sendVoteResponse(m, granted ? m.term : this.term, !granted);
    if (granted && m.type === "vote") {
      this.restartElectionTimer();
      this.vote = m.from;
    }
  }

  private sendVoteResponse(m: VoteRequest | PreVoteRequest, term: number, reject: boolean): void {
    const type = m.type === "vote" ? "vote-response" : "pre-vote-response";
    const commit = this.log.committed;
    const commitTerm = this.log.term(commit) ?? 0;
    this.send({ type, to: m.from, term, reject, commit, commitTerm });
  }

  /**
   * A campaign message says what its sender knows committed (types.ts, PreVoteResponse): adopt it
   * when our log holds the same entry (a leader knows best and learns nothing here). Returns false
   * when that commit took away our vote (a campaigning node stops).
   */
  private learnCommit(m: VoteRequest | PreVoteRequest | VoteResponse | PreVoteResponse): boolean {
    if (this.role === "leader") return true;
    if (m.commit <= this.log.committed || !this.log.matchTerm(m.commit, m.commitTerm)) return true;
    this.commitTo(m.commit);
    if (this.promotable() || this.role === "follower") return true;
    this.becomeFollower(this.term, null);
    return false;
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "append-response":
        this.handleAppendResponse(m);
        return;
      case "heartbeat-response":
        this.handleHeartbeatResponse(m);
        return;
      case "read-index":
        this.leaderReadIndex(m.context, m.from);
        return;
      case "append":
      case "heartbeat":
      case "install-snapshot":
        // Election safety (§5.2): two leaders in one term would be a broken invariant.
        assert(false, `leader ${this.id} got ${m.type} from ${m.from} in its own term ${this.term}`);
        return;
      case "vote-response":
      case "pre-vote-response":
      case "timeout-now":
      case "read-index-response":
        return;
      case "pre-vote":
      case "vote":
        return; // Handled in stepMessage.
      default:
        unreachable(m);
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
      case "install-snapshot":
        // §5.2: a candidate that hears from a leader of its term returns to follower.
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case "vote-response":
        if (this.role === "candidate" && this.learnCommit(m)) this.poll(m.from, !m.reject);
        return;
      case "pre-vote-response":
        if (this.role === "pre-candidate" && this.learnCommit(m)) this.poll(m.from, !m.reject);
        return;
      case "append-response":
      case "heartbeat-response":
      case "timeout-now":
      case "read-index":
      case "read-index-response":
        return;
      case "pre-vote":
      case "vote":
        return;
      default:
        unreachable(m);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case "install-snapshot":
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case "timeout-now":
        // Leadership transfer: campaign at once, skipping PreVote and the lease (§3.10).
        this.hup(true);
        return;
      case "read-index-response":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      case "append-response":
      case "heartbeat-response":
      case "vote-response":
      case "pre-vote-response":
      case "read-index":
        return;
      case "pre-vote":
      case "vote":
        return;
      default:
        unreachable(m);
    }
  }

  /**
   * `id` is a member neither of the committed configuration nor of the one our log leads to.
   * Both are needed: an uncommitted removal in our log may yet be truncated (seed 11126: a stale
   * "remove n1" made n3 ignore n1, the only electable node), and a member we know only from an
   * uncommitted entry is still a member. A node that knows no configuration filters nobody.
   * Known cost: a voter so far behind that it lacks even a new member's add-learner entry ignores
   * that member's campaigns; others can still be elected unless that member alone is up to date.
   */
  private isRemoved(id: NodeId): boolean {
    const committed = this.members.membership;
    if (committed.voters.length === 0 || isMember(committed, id)) return false;
    return !isMember(this.members.latest(), id);
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.leader = from;
  }

  // ---------------------------------------------------------------------------------------------
  // Follower handlers

  /** §5.3 AppendEntries receiver rules 1-5. */
  private handleAppend(m: AppendRequest): void {
    const committed = this.log.committed;
    if (m.prevIndex < committed) {
      // Everything up to our commit index matches the leader already (Log Matching).
      this.respondAppend(m.from, false, committed);
      return;
    }
    if (!this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
      this.send({
        type: "append-response",
        to: m.from,
        term: this.term,
        reject: true,
        index: m.prevIndex,
        hintIndex: hint.index,
        hintTerm: hint.term,
      });
      return;
    }
    const conflict = this.log.findConflict(m.entries);
    if (conflict !== 0) {
      assert(conflict > committed, `append from ${m.from} conflicts at ${conflict} within commit ${committed}`);
      this.appendToLog(m.entries.slice(conflict - m.prevIndex - 1));
    }
    const lastNew = m.prevIndex + m.entries.length;
    this.commitTo(Math.min(m.commit, lastNew));
    this.respondAppend(m.from, false, lastNew);
  }

  private respondAppend(to: NodeId, reject: boolean, index: number): void {
    this.send({ type: "append-response", to, term: this.term, reject, index, hintIndex: 0, hintTerm: 0 });
  }

  private handleHeartbeat(m: HeartbeatRequest): void {
    // The leader sends min(our match, its commit), so this never passes our log's end.
    this.commitTo(m.commit);
    this.send({ type: "heartbeat-response", to: m.from, term: this.term, context: m.context });
  }

  /** §7 InstallSnapshot receiver. Answered with an append-response carrying our new last index. */
  private handleSnapshot(m: InstallSnapshotRequest): void {
    const s = m.snapshot;
    if (s.meta.index <= this.log.committed) {
      this.respondAppend(m.from, false, this.log.committed);
      return;
    }
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // Rule 6: we have the entry the snapshot ends with; keep the log after it, just commit.
      this.commitTo(s.meta.index);
      this.respondAppend(m.from, false, this.log.committed);
      return;
    }
    this.log.restore(s);
    this.members.restored(s.meta.index, s.meta.membership);
    this.respondAppend(m.from, false, this.log.lastIndex());
  }

  // ---------------------------------------------------------------------------------------------
  // Log and commit bookkeeping (every log mutation goes through here)

  private appendToLog(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    if (first.index <= this.log.lastIndex()) this.members.truncatedFrom(first.index);
    this.log.append(ents);
    this.members.appended(ents);
  }

  private commitTo(index: number): void {
    const before = this.log.committed;
    if (index <= before) return;
    this.log.commitTo(index);
    if (this.role === "leader") {
      for (let i = before + 1; i <= index; i++) {
        const e = this.log.entry(i) as Entry;
        if (e.term === this.term) this.uncommittedBytes -= entryPayloadBytes(e);
      }
      assert(this.uncommittedBytes >= 0, "uncommitted bytes went negative");
    }
    const changes = this.members.committed(index);
    if (changes.length > 0 && this.role === "leader") this.commitPending = true;
    for (const { change } of changes) this.onConfChangeCommitted(change);
    // A smaller voter set may commit more at once.
    if (changes.length > 0 && this.role === "leader") this.maybeCommit();
  }

  private onConfChangeCommitted(change: ConfChange): void {
    if (this.role !== "leader") return;
    const { node } = change;
    switch (change.type) {
      case "add-learner":
        if (!this.progress.has(node)) {
          const pr = new Progress(this.log.lastIndex() + 1, this.cfg.inflightAppendsMax, true);
          this.progress.set(node, pr);
          this.appendPending = true;
        }
        return;
      case "promote": {
        const pr = this.progress.get(node);
        if (pr !== undefined) pr.learner = false;
        return;
      }
      case "remove":
        if (node !== this.id) this.progress.delete(node);
        if (this.leadTransferee === node) this.leadTransferee = null;
        return;
      default:
        unreachable(change.type);
    }
  }

  /** After any input: a leader removed from the voters steps down (§6: once C_new commits). */
  private afterInput(): void {
    if (this.role !== "leader" || isVoter(this.members.membership, this.id)) return;
    // Let the others learn the commit of the removal before we go quiet, and spare them an
    // election timeout: a caught-up voter is told to campaign at once.
    this.flushAppends();
    const successor = this.mostUpToDateVoter();
    if (successor !== undefined && this.progress.get(successor)?.match === this.log.lastIndex()) {
      this.send({ type: "timeout-now", to: successor, term: this.term });
    }
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------------------------------------
  // Leader: proposals and replication

  private checkCanPropose(bytes: number): void {
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    if (this.leadTransferee !== null) {
      throw new ProposalDroppedError("transfer-in-progress", `leadership is moving to ${this.leadTransferee}`);
    }
    if (bytes > this.cfg.entryBytesMax) {
      throw new ProposalDroppedError("entry-too-large", `${bytes} bytes > entryBytesMax ${this.cfg.entryBytesMax}`);
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.uncommittedBytesMax) {
      throw new ProposalDroppedError(
        "uncommitted-limit",
        `${this.uncommittedBytes} uncommitted bytes; uncommittedBytesMax ${this.cfg.uncommittedBytesMax}`,
      );
    }
  }

  private validateConfChange(change: ConfChange): void {
    if (this.pendingConfIndex > this.log.committed) {
      throw new ConfChangeRejectedError(
        "in-progress",
        `a membership change (or this term's first entry) at ${this.pendingConfIndex} is not committed yet`,
      );
    }
    const m = this.members.membership;
    const { node } = change;
    switch (change.type) {
      case "add-learner":
        if (isMember(m, node)) throw new ConfChangeRejectedError("already-member", `${node} is already a member`);
        return;
      case "promote": {
        if (!isLearner(m, node)) throw new ConfChangeRejectedError("not-learner", `${node} is not a learner`);
        const match = this.progress.get(node)?.match ?? 0;
        const lag = this.log.lastIndex() - match;
        if (lag > this.cfg.promoteLagEntriesMax) {
          throw new ConfChangeRejectedError(
            "learner-behind",
            `${node} is ${lag} entries behind (promoteLagEntriesMax ${this.cfg.promoteLagEntriesMax})`,
          );
        }
        return;
      }
      case "remove":
        if (!isMember(m, node)) throw new ConfChangeRejectedError("not-member", `${node} is not a member`);
        if (m.voters.length === 1 && m.voters[0] === node)
          throw new ConfChangeRejectedError("last-voter", `${node} is the last voter`);
        return;
      default:
        unreachable(change.type);
    }
  }

  private appendAsLeader(e: Entry): void {
    this.appendToLog([e]);
    this.uncommittedBytes += entryPayloadBytes(e);
    // Our own copy counts towards commit only when durable: advance() updates our match.
    this.appendPending = true;
  }

  /** §5.3/§5.4.2: commit the highest index a majority stores, if it is from the current term. */
  private maybeCommit(): boolean {
    const mci = committedIndex(this.members.membership.voters, (id) => this.progress.get(id)?.match);
    if (mci <= this.log.committed || this.log.term(mci) !== this.term) return false;
    this.commitTo(mci);
    this.releaseReadsBeforeCommit();
    return true;
  }

  /**
   * Send the entries appended since the last Ready, in batches. A commit-index move alone sends
   * nothing unless a membership change committed: etcd broadcasts an empty append for every move,
   * and every follower answers it, which doubles the messages a commit costs at concurrency 1.
   * Followers learn the commit index from the next append or heartbeat instead, at most
   * heartbeatTicks later (hashicorp/raft's CommitTimeout does the same). The leader applies and
   * answers at once either way; only followers' state machines lag, and a ReadIndex read on a
   * follower waits for a heartbeat round, which carries the commit index, anyway.
   */
  private flushAppends(): void {
    if (this.role !== "leader" || (!this.appendPending && !this.commitPending)) return;
    const sendIfEmpty = this.commitPending;
    this.appendPending = false;
    this.commitPending = false;
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      if (this.sendAppend(id, sendIfEmpty)) while (this.sendAppend(id, false));
    }
  }

  /**
   * Send `to` the entries from its next index, or a snapshot if they are compacted away. Returns
   * whether a message was sent. Paused followers get nothing (see Progress.isPaused).
   */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const lastIndex = this.log.lastIndex();
    const ents =
      prevTerm === undefined
        ? undefined
        : this.log.slice(pr.next, lastIndex + 1, this.cfg.msgBytesMax, this.cfg.entriesPerAppendMax);
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: "append", to, term: this.term, prevIndex, prevTerm, entries: ents, commit: this.log.committed });
    const last = ents[ents.length - 1];
    if (last !== undefined) pr.sentEntries(last.index);
    else if (pr.state === "probe") pr.probeSent = true;
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.log.latestSnapshot();
    assert(snapshot !== null, `entries for ${to} are compacted but there is no snapshot`);
    this.send({ type: "install-snapshot", to, term: this.term, snapshot });
    pr.becomeSnapshot(snapshot.meta.index);
    return true;
  }

  private broadcastHeartbeat(context: string | null): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit past what it is known to store.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: "heartbeat", to: id, term: this.term, commit, context });
    }
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      // Fast back-off: jump to the last index where our log may agree with the follower's.
      const nextProbe = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from, false);
      }
      return;
    }
    const wasProbeAtMatch = pr.state === "probe" && pr.match === m.index;
    if (!pr.maybeUpdate(m.index) && !wasProbeAtMatch) return;
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
    else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
    this.maybeCommit();
    while (this.sendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: "timeout-now", to: m.from, term: this.term });
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.replicationStalled()) {
      // Appends are in flight but none was acknowledged for a while: some were lost (a gap the
      // follower cannot report, since nothing after it arrives). Probe again from match+1.
      pr.becomeProbe();
      this.sendAppend(m.from, true);
    } else if (pr.match < this.log.lastIndex() || pr.state === "probe") {
      this.sendAppend(m.from, pr.state === "probe");
    }
    if (m.context !== null) this.ackRead(m.context, m.from);
  }

  private mostUpToDateVoter(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const id of this.members.membership.voters) {
      if (id === this.id) continue;
      const match = this.progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return best;
  }

  // ---------------------------------------------------------------------------------------------
  // Leader: ReadIndex (§6.4)

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private leaderReadIndex(context: string, from: NodeId): void {
    if (this.reads.size + this.readsBeforeCommit.length >= this.cfg.readIndexRequestsMax) {
      if (from === this.id)
        throw new ProposalDroppedError("read-queue-full", `${this.cfg.readIndexRequestsMax} reads pending`);
      return; // The follower's request times out.
    }
    if (!this.committedInTerm()) {
      // Step 1: our commit index is only known current once an entry of our term committed.
      this.readsBeforeCommit.push({ context, from });
      return;
    }
    const index = this.log.committed;
    if (this.members.membership.voters.length === 1) {
      this.answerRead({ seq: 0, index, context, from, acks: new Set() });
      return;
    }
    const read = this.reads.add(index, context, from, this.id);
    this.broadcastHeartbeat(String(read.seq));
  }

  private releaseReadsBeforeCommit(): void {
    if (this.readsBeforeCommit.length === 0 || !this.committedInTerm()) return;
    const waiting = this.readsBeforeCommit;
    this.readsBeforeCommit = [];
    for (const r of waiting) this.leaderReadIndex(r.context, r.from);
  }

  private ackRead(context: string, from: NodeId): void {
    const read = this.reads.ack(context, from);
    if (read === undefined) return;
    if (!hasQuorum(this.members.membership.voters, (id) => read.acks.has(id))) return;
    for (const r of this.reads.release(read)) this.answerRead(r);
  }

  private answerRead(r: PendingRead): void {
    if (r.from === this.id) this.readStates.push({ index: r.index, context: r.context });
    else this.send({ type: "read-index-response", to: r.from, term: this.term, index: r.index, context: r.context });
  }

  // ---------------------------------------------------------------------------------------------

  private send(m: OutgoingMessage): void {
    this.msgs.push({ ...m, from: this.id } as Message);
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader;
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Check state read back from disk before trusting it (the second half of a paired assertion). */
function validatePersistedState(s: PersistedState): void {
  const { hardState: hs, snapshot, entries } = s;
  const snapIndex = snapshot?.meta.index ?? 0;
  const snapTerm = snapshot?.meta.term ?? 0;
  if (!Number.isSafeInteger(hs.term) || hs.term < 0) throw new InvalidStateError(`bad term ${hs.term}`);
  if (snapTerm > hs.term) throw new InvalidStateError(`snapshot term ${snapTerm} above hard state term ${hs.term}`);
  let prevTerm = snapTerm;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (e.index !== snapIndex + 1 + i)
      throw new InvalidStateError(`entry ${i} has index ${e.index}, expected ${snapIndex + 1 + i}`);
    if (e.term < prevTerm || e.term > hs.term) throw new InvalidStateError(`entry ${e.index} has term ${e.term}`);
    prevTerm = e.term;
  }
  const lastIndex = snapIndex + entries.length;
  if (hs.commit < snapIndex || hs.commit > lastIndex) {
    throw new InvalidStateError(`commit ${hs.commit} outside [${snapIndex}, ${lastIndex}]`);
  }
  const applied = s.applied ?? snapIndex;
  if (applied < snapIndex || applied > hs.commit)
    throw new InvalidStateError(`applied ${applied} outside [${snapIndex}, ${hs.commit}]`);
}

/**
 * The persisted state of a member of a brand-new group: a snapshot at index 1 (term 1) holding the
 * initial membership and the state machine's empty initial state. Every initial member starts
 * from the same value; a node that will join later starts from `joiningState()` instead.
 */
export function bootstrapState(membership: Membership): PersistedState {
  return {
    hardState: { term: 1, vote: null, commit: 1 },
    snapshot: { meta: { index: 1, term: 1, membership }, data: new Uint8Array(0) },
    entries: [],
  };
}

/** The persisted state of a node that will be added as a learner: it learns everything from the leader. */
export function joiningState(): PersistedState {
  return { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
}
