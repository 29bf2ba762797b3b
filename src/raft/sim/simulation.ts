// A deterministic simulation of a whole Raft group from one seed (in the spirit of TigerBeetle's
// VOPR): a fake clock in ticks, the simulated network and disks, crashes and restarts, a workload
// of client requests, reads, membership changes and leadership transfers, and checkers that run
// after every event. Phase 1 ("safety") injects faults; phase 2 ("liveness") heals everything and
// requires a leader and the commit of every pending request within a bounded number of ticks.
//
// Each SimNode plays the part of the runtime: it takes a Ready, persists it after a simulated disk
// latency (a crash before that loses it), then sends, applies, and advances, in the documented
// order. Clients live next to the nodes (no client network): a request is acknowledged when the
// node it was proposed on applies it at the position propose() returned.
import { describeEntry, describeMessage } from "../describe.js";
import { AssertionError } from "../../common/errors.js";
import { NotLeaderError, ProposalDroppedError, RaftError } from "../errors.js";
import { describeMembership, isMember } from "../membership.js";
import { RaftNode, bootstrapState, joiningState } from "../raft-node.js";
import type { Entry, Membership, NodeId, ReadState, Ready } from "../types.js";
import { Checkers, SafetyViolation } from "./checkers.js";
import { SimDisk } from "./disk.js";
import { SimNetwork } from "./network.js";
import type { SimOptions } from "./options.js";
import { Prng } from "./prng.js";
import { type Command, SimStateMachine, encodeCommand, requestId } from "./state-machine.js";

/** Ready cycles a node may complete within one tick (each one persists, sends and applies). */
const readyRoundsPerTickMax = 4;
/** Nodes ever created in one run (initial members plus joiners), so membership churn is bounded. */
const nodesPerRunFactorMax = 3;
/** Leader completeness is re-checked on every leader this often, besides at each election. */
const completenessCheckEveryTicks = 50;

export class LivenessViolation extends Error {
  readonly property = "liveness";
  constructor(detail: string) {
    super(`liveness: ${detail}`);
    this.name = "LivenessViolation";
  }
}

interface Proposal {
  readonly client: Client;
  readonly reqId: string;
  readonly term: number;
}

interface Request {
  readonly command: Command;
  readonly reqId: string;
  target: NodeId;
  nextTryAt: number;
  waiting: { node: NodeId; index: number; since: number } | null;
  attempts: number;
}

interface Client {
  readonly id: number;
  seq: number;
  request: Request | null;
  leaderHint: NodeId | null;
}

interface ClientRead {
  readonly ctx: string;
  /** The highest log index acknowledged to any client before this read started. */
  readonly minIndex: number;
}

class SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  readonly random: Prng;
  raft: RaftNode | null = null;
  sm = new SimStateMachine();
  snapIndex = 0;
  inFlightReady: { rd: Ready; due: number } | null = null;
  readonly proposals = new Map<number, Proposal>();
  readonly reads = new Map<string, ClientRead>();
  readWaits: Array<{ rs: ReadState; read: ClientRead }> = [];
  restartAt = -1;
  /** A scheduled crash (leader crash fault), or -1. */
  crashAt = -1;
  retired = false;
  leaderTerm = 0;
  /** The commit index when last observed as leader (to see which entries it commits). */
  leaderCommit = 0;

  constructor(id: NodeId, disk: SimDisk, random: Prng) {
    this.id = id;
    this.disk = disk;
    this.random = random;
  }

  get up(): boolean {
    return this.raft !== null;
  }
}

export interface SimStats {
  ticks: number;
  livenessTicks: number;
  messages: number;
  dropped: number;
  duplicated: number;
  leaders: number;
  crashes: number;
  partitions: number;
  proposals: number;
  acked: number;
  readsServed: number;
  snapshotsSent: number;
  snapshotsTaken: number;
  confChanges: number;
  /** Membership changes committed (applied somewhere), by type. */
  learnersAdded: number;
  promoted: number;
  removed: number;
  transfers: number;
  checks: number;
  commitIndex: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly property?: string;
  readonly message?: string;
  readonly tick: number;
  readonly stats: SimStats;
}

export type TraceSink = (line: string) => void;

export class Simulation {
  private now = 0;
  private phase: "safety" | "liveness" = "safety";
  private livenessStart = 0;
  private livenessProgress = -1;
  private livenessProgressAt = 0;
  private readonly opts: SimOptions;
  private readonly prng: Prng;
  private readonly network: SimNetwork;
  private readonly checkers: Checkers;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly clients: Client[] = [];
  /** Request id -> the log index at which it was acknowledged. */
  private readonly acked = new Map<string, number>();
  private readonly issued = new Set<string>();
  private maxAckedIndex = 0;
  private readSeq = 0;
  private partitionEndsAt = -1;
  private nodesCreated = 0;
  /** Nodes the operator asked to remove: retired (stopped for good) once the removal commits. */
  private readonly removals = new Set<NodeId>();
  private readonly trace: TraceSink | null;
  private readonly stats: SimStats = {
    ticks: 0,
    livenessTicks: 0,
    messages: 0,
    dropped: 0,
    duplicated: 0,
    leaders: 0,
    crashes: 0,
    partitions: 0,
    proposals: 0,
    acked: 0,
    readsServed: 0,
    snapshotsSent: 0,
    snapshotsTaken: 0,
    confChanges: 0,
    learnersAdded: 0,
    promoted: 0,
    removed: 0,
    transfers: 0,
    checks: 0,
    commitIndex: 0,
  };

  constructor(opts: SimOptions, trace: TraceSink | null = null) {
    this.opts = opts;
    this.prng = new Prng(opts.seed);
    this.network = new SimNetwork(this.prng.fork(), opts.faults);
    this.trace = trace;
    const voters = Array.from({ length: opts.clusterSize }, (_, i) => `n${i + 1}`);
    const membership: Membership = { voters, learners: [] };
    this.checkers = new Checkers(membership);
    for (const id of voters) this.createNode(id, new SimDisk(bootstrapState(membership)));
    for (let i = 0; i < opts.clients; i++) this.clients.push({ id: i + 1, seq: 0, request: null, leaderHint: null });
  }

  run(): SimResult {
    try {
      for (;;) {
        this.tickOnce();
        if (this.phase === "safety" && this.now >= this.opts.safetyTicks) this.heal();
        if (this.phase === "liveness") {
          if (this.converged()) break;
          this.checkProgress();
        }
      }
      this.finalChecks();
      return this.result(true);
    } catch (err) {
      if (err instanceof SafetyViolation || err instanceof LivenessViolation)
        return this.result(false, err.property, err.message);
      if (err instanceof AssertionError) return this.result(false, "core invariant", err.message);
      return this.result(false, "simulator error", err instanceof Error ? (err.stack ?? err.message) : String(err));
    }
  }

  private result(ok: boolean, property?: string, message?: string): SimResult {
    this.stats.ticks = this.now;
    this.stats.livenessTicks = this.phase === "liveness" ? this.now - this.livenessStart : 0;
    this.stats.messages = this.network.sent;
    this.stats.dropped = this.network.dropped;
    this.stats.duplicated = this.network.duplicated;
    this.stats.checks = this.checkers.checks;
    this.stats.commitIndex = this.checkers.appliedMax();
    const base = { seed: this.opts.seed, ok, tick: this.now, stats: this.stats };
    if (property === undefined || message === undefined) return base;
    if (this.trace !== null) this.log(`VIOLATION ${property}: ${message}`);
    return { ...base, property, message };
  }

  private log(line: string): void {
    if (this.trace !== null) this.trace(`t=${String(this.now).padStart(5, "0")} ${line}`);
  }

  // ---------------------------------------------------------------------------------------------
  // The main loop

  private tickOnce(): void {
    this.now++;
    if (this.phase === "safety") this.injectFaults();
    this.restartDue();
    for (const m of this.network.deliver(this.now)) {
      const node = this.nodes.get(m.to);
      if (node?.raft == null) continue;
      if (this.trace !== null) this.log(`recv ${describeMessage(m)}`);
      node.raft.step(m);
      this.observe(node);
    }
    for (const node of this.nodes.values()) {
      if (node.raft === null) continue;
      node.raft.tick();
      this.observe(node);
    }
    this.runClients();
    this.runReads();
    this.runOperator();
    for (const node of this.nodes.values()) this.processReadies(node);
    if (this.now % completenessCheckEveryTicks === 0) {
      for (const node of this.nodes.values()) this.checkCompleteness(node);
    }
  }

  /** After every input to a node: Election Safety, and Leader Completeness for a new leader. */
  private observe(node: SimNode): void {
    const raft = node.raft;
    if (raft === null) return;
    const s = raft.basicStatus();
    if (s.role !== "leader") return;
    this.checkers.leaderElected(node.id, s.term);
    if (node.leaderTerm === s.term && s.commit > node.leaderCommit) {
      this.checkers.leaderCommitted(s.term, node.leaderCommit, s.commit);
    }
    node.leaderCommit = s.commit;
    if (node.leaderTerm !== s.term) {
      node.leaderTerm = s.term;
      this.stats.leaders++;
      this.log(`${node.id} became leader term=${s.term} last=${s.lastIndex} commit=${s.commit}`);
      this.checkCompleteness(node);
      if (this.phase === "safety" && this.prng.chance(this.opts.leaderCrashRate)) {
        node.crashAt = this.now + this.prng.range(0, 2 * this.opts.electionTicks);
      }
    }
  }

  private checkCompleteness(node: SimNode): void {
    const raft = node.raft;
    if (raft === null) return;
    const s = raft.basicStatus();
    if (s.role !== "leader") return;
    const first = raft.status().firstIndex;
    this.checkers.leaderComplete(node.id, s.term, first, s.lastIndex, (i) => raft.termAt(i));
  }

  // ---------------------------------------------------------------------------------------------
  // The runtime's loop for one node: persist, send, apply, advance.

  private processReadies(node: SimNode): void {
    for (let round = 0; round < readyRoundsPerTickMax; round++) {
      const raft = node.raft;
      if (raft === null) return;
      if (node.inFlightReady !== null) {
        if (node.inFlightReady.due > this.now) return;
        this.finishReady(node, node.inFlightReady.rd);
        node.inFlightReady = null;
        if (this.phase === "safety" && node.random.chance(this.opts.crashAfterWriteRate)) {
          this.crash(node, this.prng.range(1, Math.max(1, this.opts.electionTicks >> 1)));
          return;
        }
      }
      if (!raft.hasReady()) return;
      const rd = raft.ready();
      if (rd.softState !== null)
        this.log(
          `${node.id} role=${rd.softState.role} leader=${rd.softState.leader ?? "-"} term=${raft.basicStatus().term}`,
        );
      node.inFlightReady = { rd, due: this.now + node.random.range(0, this.opts.diskLatencyTicksMax) };
      if (this.opts.runtimeBug === "send-before-persist") this.sendAll(rd);
    }
  }

  private finishReady(node: SimNode, rd: Ready): void {
    const raft = node.raft as RaftNode;
    // 1. Persist.
    node.disk.persist(rd);
    if (rd.entries.length > 0) this.checkers.entriesPersisted(node.id, rd.entries, (i) => node.disk.termAt(i));
    // 2. Send.
    if (this.opts.runtimeBug !== "send-before-persist") this.sendAll(rd);
    // 3. Apply.
    if (rd.snapshot !== null) {
      const { index, term } = rd.snapshot.meta;
      node.sm = SimStateMachine.restore(rd.snapshot.data, index);
      node.snapIndex = index;
      this.checkers.snapshotRestored(node.id, index, term, node.sm.chain);
      this.checkers.snapshotMembership(node.id, index, rd.snapshot.meta.membership);
      this.log(`${node.id} restored snapshot ${index}@${term}`);
      for (const [i] of node.proposals) if (i <= index) this.proposalFailed(node, i);
    }
    for (const e of rd.committedEntries) this.apply(node, e);
    for (const rs of rd.readStates) {
      const read = node.reads.get(rs.context);
      if (read === undefined) continue;
      node.reads.delete(rs.context);
      node.readWaits.push({ rs, read });
    }
    this.serveReads(node);
    // 4. Advance.
    raft.advance(rd);
    this.maybeCompact(node);
  }

  private sendAll(rd: Ready): void {
    for (const m of rd.messages) {
      if (m.type === "install-snapshot") this.stats.snapshotsSent++;
      this.network.send(this.now, m);
    }
  }

  private apply(node: SimNode, e: Entry): void {
    const reqId = node.sm.apply(e);
    const firstApply = this.checkers.appliedTerm(e.index) === undefined;
    this.checkers.entryApplied(node.id, e, node.sm.chain);
    if (firstApply && e.type === "conf-change") this.countConfChange(e.change.type);
    if (this.trace !== null) this.log(`${node.id} apply ${describeEntry(e)}`);
    const p = node.proposals.get(e.index);
    if (p === undefined) return;
    node.proposals.delete(e.index);
    if (p.term !== e.term) {
      this.proposalFailed(node, e.index, p);
      return;
    }
    // Same index and term as propose() returned: it is our entry (Log Matching).
    if (reqId !== p.reqId)
      throw new SafetyViolation(
        "log matching",
        `${node.id} applied ${reqId} where it proposed ${p.reqId} at ${e.index}@${e.term}`,
      );
    this.acknowledge(p, e.index);
  }

  private countConfChange(type: "add-learner" | "promote" | "remove"): void {
    if (type === "add-learner") this.stats.learnersAdded++;
    else if (type === "promote") this.stats.promoted++;
    else this.stats.removed++;
  }

  private acknowledge(p: Proposal, index: number): void {
    if (!this.acked.has(p.reqId)) {
      this.acked.set(p.reqId, index);
      this.stats.acked++;
      this.maxAckedIndex = Math.max(this.maxAckedIndex, index);
    }
    const r = p.client.request;
    if (r?.reqId === p.reqId) {
      this.log(`client c${p.client.id} acked ${p.reqId} at ${index}`);
      p.client.request = null;
    }
  }

  private proposalFailed(node: SimNode, index: number, p = node.proposals.get(index)): void {
    node.proposals.delete(index);
    const r = p?.client.request;
    if (p === undefined || r?.reqId !== p.reqId || r.waiting?.node !== node.id || r.waiting.index !== index) return;
    // A different entry committed at our index: ours did not (at this position). Retry.
    r.waiting = null;
    r.nextTryAt = this.now;
  }

  private maybeCompact(node: SimNode): void {
    const raft = node.raft as RaftNode;
    const applied = node.sm.appliedIndex;
    if (applied - node.snapIndex < this.opts.compactEveryEntries) return;
    try {
      const snap = raft.compact(applied, node.sm.snapshot());
      this.checkers.snapshotMembership(node.id, snap.meta.index, snap.meta.membership);
      node.disk.saveSnapshot(snap);
      node.snapIndex = applied;
      this.stats.snapshotsTaken++;
      this.log(`${node.id} compacted to ${applied}`);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
    }
  }

  private serveReads(node: SimNode): void {
    if (node.readWaits.length === 0) return;
    const still: typeof node.readWaits = [];
    for (const w of node.readWaits) {
      if (node.sm.appliedIndex < w.rs.index) {
        still.push(w);
        continue;
      }
      // Linearizability of ReadIndex (§6.4): the read point covers every write acknowledged
      // before the read started.
      if (w.rs.index < w.read.minIndex) {
        throw new SafetyViolation(
          "linearizable read",
          `${node.id} served ${w.read.ctx} at index ${w.rs.index}, ` +
            `but index ${w.read.minIndex} was acknowledged before it started`,
        );
      }
      this.stats.readsServed++;
      this.log(`${node.id} served read ${w.read.ctx} at ${w.rs.index}`);
    }
    node.readWaits = still;
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes: creation, crash, restart

  private createNode(id: NodeId, disk: SimDisk): SimNode {
    const node = new SimNode(id, disk, this.prng.fork());
    this.nodes.set(id, node);
    this.nodesCreated++;
    this.startNode(node);
    return node;
  }

  private startNode(node: SimNode): void {
    const o = this.opts;
    const state = node.disk.load();
    node.raft = new RaftNode(
      {
        id: node.id,
        random: () => node.random.float(),
        electionTicks: o.electionTicks,
        heartbeatTicks: o.heartbeatTicks,
        preVote: o.preVote,
        checkQuorum: o.checkQuorum,
        inflightAppendsMax: o.inflightAppendsMax,
        entriesPerAppendMax: o.entriesPerAppendMax,
        msgBytesMax: o.msgBytesMax,
        promoteLagEntriesMax: o.promoteLagEntriesMax,
      },
      state,
    );
    const snap = state.snapshot;
    node.snapIndex = snap?.meta.index ?? 0;
    node.sm = snap === null ? new SimStateMachine() : SimStateMachine.restore(snap.data, snap.meta.index);
    if (snap !== null) this.checkers.snapshotRestored(node.id, snap.meta.index, snap.meta.term, node.sm.chain);
    node.restartAt = -1;
    node.leaderTerm = 0;
  }

  private crash(node: SimNode, downTicks: number): void {
    this.stats.crashes++;
    const lost = node.inFlightReady === null ? "nothing" : "an unpersisted Ready";
    this.log(`${node.id} CRASH (lost ${lost}) for ${downTicks} ticks`);
    node.raft = null;
    node.inFlightReady = null;
    node.proposals.clear();
    node.reads.clear();
    node.readWaits = [];
    node.restartAt = this.now + downTicks;
    node.crashAt = -1;
  }

  private restartDue(): void {
    for (const node of this.nodes.values()) {
      if (node.raft !== null || node.retired || node.restartAt > this.now) continue;
      this.startNode(node);
      this.log(`${node.id} RESTART ${describeRestart(node)}`);
    }
  }

  private retire(node: SimNode): void {
    if (node.retired) return;
    this.log(`${node.id} RETIRED (removed from the group)`);
    node.retired = true;
    node.raft = null;
    node.inFlightReady = null;
    node.proposals.clear();
    node.reads.clear();
    node.readWaits = [];
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  private injectFaults(): void {
    const o = this.opts;
    for (const node of this.nodes.values()) {
      if (node.raft === null) continue;
      const scheduled = node.crashAt >= 0 && node.crashAt <= this.now;
      if (scheduled || node.random.chance(o.crashRate)) this.crash(node, this.prng.range(1, o.downTicksMax));
    }
    if (this.partitionEndsAt >= 0 && this.now >= this.partitionEndsAt) {
      this.network.heal();
      this.partitionEndsAt = -1;
      this.log("network healed");
    }
    if (this.partitionEndsAt < 0 && this.prng.chance(o.partitionRate)) this.partition();
  }

  private partition(): void {
    const ids = [...this.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    if (ids.length < 2) return;
    this.prng.shuffle(ids);
    const kind = this.prng.pick(["isolate", "isolate-leader", "split", "one-way-in", "one-way-out"] as const);
    let a: NodeId[];
    const leader = this.currentLeader();
    if (kind === "isolate-leader" && leader !== null) a = [leader.id];
    else if (kind === "split") a = ids.slice(0, this.prng.range(1, Math.floor(ids.length / 2)));
    else a = ids.slice(0, 1);
    const b = ids.filter((id) => !a.includes(id));
    // one-way-out: a can send to b but hears nothing back (b -> a cut); one-way-in: the reverse.
    if (kind === "one-way-out") this.network.partition(b, a, true);
    else this.network.partition(a, b, kind === "one-way-in");
    this.partitionEndsAt = this.now + this.prng.range(1, this.opts.partitionTicksMax);
    this.stats.partitions++;
    this.log(`PARTITION ${kind} (${a.join(",")}) | (${b.join(",")}) until t=${this.partitionEndsAt}`);
  }

  /** End of the safety phase: heal the network, restart everyone, stop injecting faults. */
  private heal(): void {
    this.phase = "liveness";
    this.livenessStart = this.now;
    this.livenessProgressAt = this.now;
    this.network.heal();
    this.partitionEndsAt = -1;
    this.network.faults = {
      lossRate: 0,
      duplicateRate: 0,
      delayTicksMin: 1,
      delayTicksMax: Math.min(2, this.opts.faults.delayTicksMax),
      slowRate: 0,
      slowDelayTicksMax: 1,
    };
    for (const node of this.nodes.values()) {
      if (node.raft === null && !node.retired) node.restartAt = this.now;
    }
    this.log("HEAL: faults off; liveness phase starts");
  }

  // ---------------------------------------------------------------------------------------------
  // Workload

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raft !== null);
  }

  private currentLeader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      const s = node.raft?.basicStatus();
      if (s?.role === "leader" && s.term > bestTerm) {
        best = node;
        bestTerm = s.term;
      }
    }
    return best;
  }

  private randomNodeId(): NodeId {
    const up = this.upNodes();
    return up.length > 0 ? this.prng.pick(up).id : this.prng.pick([...this.nodes.keys()]);
  }

  private runClients(): void {
    for (const c of this.clients) {
      if (c.request === null) {
        if (this.phase !== "safety" || !this.prng.chance(this.opts.requestRate)) continue;
        c.seq++;
        const command = { client: c.id, seq: c.seq };
        c.request = {
          command,
          reqId: requestId(command),
          target: c.leaderHint ?? this.randomNodeId(),
          nextTryAt: this.now,
          waiting: null,
          attempts: 0,
        };
        this.issued.add(c.request.reqId);
      }
      this.driveRequest(c, c.request);
    }
  }

  private driveRequest(c: Client, r: Request): void {
    if (r.waiting !== null) {
      if (this.now - r.waiting.since <= this.opts.requestTimeoutTicks) return;
      // No answer: the outcome is unknown. Retry with the same request id (de-duplicated on apply).
      this.log(`client c${c.id} timed out on ${r.reqId}; retrying`);
      r.waiting = null;
      r.target = this.randomNodeId();
    }
    if (this.now < r.nextTryAt) return;
    const node = this.nodes.get(r.target);
    if (node?.raft == null) {
      r.target = this.randomNodeId();
      r.nextTryAt = this.now + 1;
      return;
    }
    r.attempts++;
    try {
      const pos = node.raft.propose(encodeCommand(r.command));
      this.stats.proposals++;
      node.proposals.set(pos.index, { client: c, reqId: r.reqId, term: pos.term });
      this.observe(node);
      r.waiting = { node: node.id, index: pos.index, since: this.now };
      c.leaderHint = node.id;
      this.log(`client c${c.id} proposed ${r.reqId} on ${node.id} at ${pos.index}@${pos.term}`);
    } catch (err) {
      if (err instanceof NotLeaderError) {
        r.target = err.leader ?? this.randomNodeId();
        c.leaderHint = err.leader;
        r.nextTryAt = this.now + (err.leader === null ? this.prng.range(1, this.opts.electionTicks) : 1);
      } else if (err instanceof ProposalDroppedError) {
        r.nextTryAt = this.now + this.prng.range(1, this.opts.electionTicks);
      } else {
        throw err;
      }
    }
  }

  private runReads(): void {
    if (this.phase !== "safety" || !this.prng.chance(this.opts.readRate)) return;
    const up = this.upNodes();
    if (up.length === 0) return;
    const node = this.prng.pick(up);
    const read: ClientRead = { ctx: `read${++this.readSeq}`, minIndex: this.maxAckedIndex };
    try {
      (node.raft as RaftNode).readIndex(read.ctx);
      node.reads.set(read.ctx, read);
    } catch (err) {
      if (!(err instanceof NotLeaderError) && !(err instanceof ProposalDroppedError)) throw err;
    }
  }

  /** The operator: membership changes (learner, promote, remove) and leadership transfers. */
  private runOperator(): void {
    const leader = this.currentLeader();
    if (leader === null) return;
    const raft = leader.raft as RaftNode;
    if (this.removals.size > 0 && this.now % 5 === 0) this.retireRemoved(raft.status().membership);
    if (this.phase !== "safety") return;
    if (this.prng.chance(this.opts.transferRate)) this.transfer(leader);
    if (!this.prng.chance(this.opts.confChangeRate)) return;
    const m = raft.status().membership;
    try {
      const learner = m.learners[0];
      if (learner !== undefined) {
        raft.proposeConfChange({ type: "promote", node: learner });
        this.confChangeProposed(leader, "promote", learner);
      } else if (m.voters.length < this.opts.clusterSize) {
        const joiner = this.joiner(m);
        if (joiner === null) return;
        raft.proposeConfChange({ type: "add-learner", node: joiner.id });
        this.confChangeProposed(leader, "add-learner", joiner.id);
      } else {
        const victim = this.prng.pick(m.voters);
        raft.proposeConfChange({ type: "remove", node: victim });
        this.removals.add(victim);
        this.confChangeProposed(leader, "remove", victim);
      }
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      this.log(`operator: ${err.message}`);
    }
  }

  private confChangeProposed(leader: SimNode, type: string, node: NodeId): void {
    this.stats.confChanges++;
    this.log(`operator: ${leader.id} proposed ${type} ${node}`);
  }

  /** A started node that was never a member, or a new one. Null when the run's node budget is spent. */
  private joiner(m: Membership): SimNode | null {
    for (const node of this.nodes.values()) {
      if (!node.retired && !this.removals.has(node.id) && !isMember(m, node.id) && node.disk.lastIndex() === 0)
        return node;
    }
    if (this.nodesCreated >= nodesPerRunFactorMax * this.opts.clusterSize) return null;
    const id = `n${this.nodesCreated + 1}`;
    this.log(`operator: started ${id} (joining)`);
    return this.createNode(id, new SimDisk(joiningState()));
  }

  private retireRemoved(m: Membership): void {
    for (const id of [...this.removals]) {
      if (isMember(m, id)) continue;
      this.removals.delete(id);
      const node = this.nodes.get(id);
      if (node !== undefined && this.opts.retireRemoved) this.retire(node);
    }
  }

  private transfer(leader: SimNode): void {
    const raft = leader.raft as RaftNode;
    const voters = raft.status().membership.voters.filter((id) => id !== leader.id);
    const to = voters.length > 0 && this.prng.chance(0.5) ? this.prng.pick(voters) : undefined;
    try {
      const target = raft.transferLeadership(to);
      this.stats.transfers++;
      this.log(`operator: ${leader.id} transfers leadership to ${target}`);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Liveness and the final checks

  /** Liveness: after healing, no stall longer than livenessStallTicksMax, and an overall bound. */
  private checkProgress(): void {
    // Replication counts as progress too: a leader commits nothing until a majority holds an
    // entry of its own term, which may take a long catch-up of a follower first.
    let progress = this.checkers.appliedMax();
    for (const node of this.nodes.values()) {
      const s = node.raft?.basicStatus();
      if (s !== undefined) progress += s.applied + s.lastIndex;
    }
    if (progress > this.livenessProgress) {
      this.livenessProgress = progress;
      this.livenessProgressAt = this.now;
    }
    const o = this.opts;
    if (this.now - this.livenessProgressAt > o.livenessStallTicksMax) {
      throw new LivenessViolation(
        `no node appended or applied anything for ${o.livenessStallTicksMax} ticks after healing: ` +
          this.describeState(),
      );
    }
    if (this.now - this.livenessStart > o.livenessTicksMax) {
      throw new LivenessViolation(`not converged ${o.livenessTicksMax} ticks after healing: ${this.describeState()}`);
    }
  }

  /** Liveness phase goal: a leader, no pending request, every live member caught up. */
  private converged(): boolean {
    const leader = this.currentLeader();
    if (leader === null) return false;
    const s = (leader.raft as RaftNode).basicStatus();
    if (s.commit !== s.lastIndex || this.clients.some((c) => c.request !== null)) return false;
    const m = (leader.raft as RaftNode).status().membership;
    for (const id of [...m.voters, ...m.learners]) {
      const node = this.nodes.get(id);
      if (node === undefined || node.retired) continue;
      const ns = node.raft?.basicStatus();
      if (ns === undefined || ns.applied !== s.commit || ns.leader !== leader.id) return false;
    }
    return true;
  }

  private finalChecks(): void {
    const leader = this.currentLeader() as SimNode;
    this.checkCompleteness(leader);
    const effects = leader.sm.effects;
    for (const [reqId, index] of this.acked) {
      // Acknowledged => applied exactly once (de-duplication makes "more than once" a no-op).
      if (effects.get(reqId) !== 1)
        throw new SafetyViolation(
          "acknowledged write lost",
          `${reqId} acknowledged at ${index} but not in ${leader.id}'s state`,
        );
    }
    for (const reqId of effects.keys()) {
      if (!this.issued.has(reqId)) throw new SafetyViolation("integrity", `${reqId} applied but never issued`);
    }
  }

  private describeState(): string {
    const parts: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.retired) continue;
      const s = node.raft?.basicStatus();
      parts.push(
        s === undefined
          ? `${node.id}:down`
          : `${node.id}:${s.role}/t${s.term}/c${s.commit}/a${s.applied}/l${s.lastIndex}/lead=${s.leader ?? "-"}`,
      );
    }
    const pending = this.clients.filter((c) => c.request !== null).map((c) => c.request?.reqId);
    const leader = this.currentLeader()?.raft?.status();
    const members = leader === undefined ? "no leader" : describeMembership(leader.membership);
    return `${parts.join(" ")} pending=[${pending.join(",")}] ${members}`;
  }
}

function describeRestart(node: SimNode): string {
  const s = node.raft?.basicStatus();
  return s === undefined ? "" : `term=${s.term} commit=${s.commit} last=${s.lastIndex} snapshot=${node.snapIndex}`;
}
