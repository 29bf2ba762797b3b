// A simulated Raft group of real runtimes (../runtime/runtime.ts): each node incarnation is a
// RaftRuntime on a simulated store (storage.ts over disk.ts), transport (transport.ts over
// network.ts) and clock (clock.ts), all driven by one event queue from one seed. The cluster
// injects the faults (crashes, power losses, crashes right after a write, partitions, leader
// crashes), plays the operator (membership changes, leadership transfers), and runs the safety
// checkers (checkers.ts) on what the runtimes do: after every instant on each core's state, on
// every message sent (a node sending appends or heartbeats in a term leads it), on every write
// that lands and on every entry applied. A workload (simulation.ts, or the master's under test/)
// brings the clients and says when the group has converged.
import { AssertionError } from "../../common/errors.js";
import { describeEntry, describeMessage } from "../describe.js";
import { RaftError } from "../errors.js";
import { describeMembership, isMember } from "../membership.js";
import type { RaftRuntime, RaftRuntimeOptions } from "../runtime/runtime.js";
import type { Entry, Membership, Message, NodeId, PersistedState, Ready, Snapshot } from "../types.js";
import { Checkers, SafetyViolation } from "./checkers.js";
import { SimClock, SimScheduler } from "./clock.js";
import { SimDisk } from "./disk.js";
import { SimNetwork } from "./network.js";
import { type SimOptions, simTickMs } from "./options.js";
import { Prng } from "./prng.js";
import { type AppliedPosition, CHAIN_SEED, type PositionHooks, chainAfter } from "./state-machine.js";
import { SimStorage, type StorageObserver } from "./storage.js";
import { SimTransport } from "./transport.js";

/** Nodes ever created in one run (initial members plus joiners), so membership churn is bounded. */
const nodesPerRunFactorMax = 3;
/** Leader completeness is re-checked on every leader this often, besides at each election. */
const completenessCheckEveryTicks = 50;
/** A membership change or transfer the operator started is given up after this many election timeouts. */
const operatorTimeoutElections = 4;

export class LivenessViolation extends Error {
  readonly property = "liveness";
  constructor(detail: string) {
    super(`liveness: ${detail}`);
    this.name = "LivenessViolation";
  }
}

/** What a workload builds on each node incarnation: at least the runtime, and how to start it. */
export interface SimApp {
  readonly runtime: RaftRuntime<unknown>;
  start(): Promise<void>;
}

/** Runtime options for one incarnation, everything but the state machine. */
export type SimRuntimeOptions = Omit<RaftRuntimeOptions<unknown>, "stateMachine">;

export type AppFactory<A extends SimApp> = (opts: SimRuntimeOptions, hooks: PositionHooks) => A;

/** The workload's part of a run. */
export interface Workload {
  /** Once per tick, after the messages due were delivered. `safety`: faults are on. */
  onTick(safety: boolean): void;
  /** No request pending: the liveness phase may end. */
  idle(): boolean;
  /** After convergence: what must hold at the end (acknowledged writes kept, ...). */
  finalChecks(leader: SimNode<SimApp>): void;
  /** Pending requests, for a liveness failure's message. */
  describePending(): string;
}

export class SimNode<A extends SimApp> {
  readonly id: NodeId;
  readonly disk = new SimDisk();
  readonly random: Prng;
  readonly bootstrap: readonly NodeId[] | null;
  app: A | null = null;
  clock: SimClock | null = null;
  storage: SimStorage | null = null;
  transport: SimTransport | null = null;
  restartAt = -1;
  /** A scheduled crash (leader crash fault), or -1. */
  crashAt = -1;
  retired = false;
  leaderTerm = 0;
  /** The commit index when last observed as leader (to see which entries it commits). */
  leaderCommit = 0;
  /** The last entry applied by this incarnation and the chain up to it. */
  applied: AppliedPosition = { index: 0, term: 0, chain: CHAIN_SEED };
  sendBeforePersist = true;
  asyncLeaderWrites = true;

  constructor(id: NodeId, random: Prng, bootstrap: readonly NodeId[] | null) {
    this.id = id;
    this.random = random;
    this.bootstrap = bootstrap;
  }

  get up(): boolean {
    return this.app !== null;
  }

  /** The runtime, if this node is up. */
  get runtime(): RaftRuntime<unknown> | null {
    return this.app?.runtime ?? null;
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
  /** Survivors told a crashed node's connection broke / followers told so of a live leader. */
  crashNotices: number;
  falseLeaderLost: number;
  powerLosses: number;
  lostWrites: number;
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
  /** Incarnations whose runtime sent before persisting (production's order) / persisted first. */
  sendFirstRuntimes: number;
  persistFirstRuntimes: number;
  /** Incarnations whose runtime wrote asynchronously as leader (production's default)... */
  asyncWriteRuntimes: number;
  /** ...the writes they ran so, and the partial Readies they handled meanwhile. */
  asyncWrites: number;
  partialReadies: number;
  /** Messages that left a node before the write of the Ready they came with had landed. */
  sentBeforePersist: number;
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

function emptyStats(): SimStats {
  const zero = {} as Record<keyof SimStats, number>;
  const keys: Array<keyof SimStats> = [
    "ticks",
    "livenessTicks",
    "messages",
    "dropped",
    "duplicated",
    "leaders",
    "crashes",
    "crashNotices",
    "falseLeaderLost",
    "powerLosses",
    "lostWrites",
    "partitions",
    "proposals",
    "acked",
    "readsServed",
    "snapshotsSent",
    "snapshotsTaken",
    "confChanges",
    "learnersAdded",
    "promoted",
    "removed",
    "transfers",
    "checks",
    "commitIndex",
    "sendFirstRuntimes",
    "persistFirstRuntimes",
    "asyncWriteRuntimes",
    "asyncWrites",
    "partialReadies",
    "sentBeforePersist",
  ];
  for (const k of keys) zero[k] = 0;
  return zero;
}

export class SimCluster<A extends SimApp> {
  /** The current tick (time is tick * simTickMs ms). */
  now = 0;
  readonly opts: SimOptions;
  readonly prng: Prng;
  readonly sched = new SimScheduler();
  readonly network: SimNetwork;
  readonly checkers: Checkers;
  readonly nodes = new Map<NodeId, SimNode<A>>();
  readonly stats: SimStats = emptyStats();
  private readonly factory: AppFactory<A>;
  private readonly trace: TraceSink | null;
  private phase: "safety" | "liveness" = "safety";
  private livenessStart = 0;
  private livenessProgress = -1;
  private livenessProgressAt = 0;
  private partitionEndsAt = -1;
  private nodesCreated = 0;
  /** Nodes the operator asked to remove: retired (stopped for good) once the removal commits. */
  private readonly removals = new Set<NodeId>();
  /**
   * The operator waits for its last step until this tick (the step's timeout; a step whose leader
   * crashed never answers, its runtime is gone).
   */
  private operatorBusyUntil = -1;
  /** The first violation seen inside a runtime's call path (thrown by the main loop after the instant). */
  private failure: Error | null = null;
  private finished = false;

  constructor(opts: SimOptions, factory: AppFactory<A>, trace: TraceSink | null = null) {
    this.opts = opts;
    this.prng = new Prng(opts.seed);
    this.network = new SimNetwork(this.prng.fork(), opts.faults);
    this.factory = factory;
    this.trace = trace;
    const voters = Array.from({ length: opts.clusterSize }, (_, i) => `n${i + 1}`);
    const membership: Membership = { voters, learners: [] };
    this.checkers = new Checkers(membership);
    for (const id of voters) this.createNode(id, voters);
  }

  get safety(): boolean {
    return this.phase === "safety";
  }

  log(line: string): void {
    if (this.trace !== null) this.trace(`t=${String(this.now).padStart(5, "0")} ${line}`);
  }

  get tracing(): boolean {
    return this.trace !== null;
  }

  /** Records a violation found inside a callback (a throw there would land in a runtime). */
  fail(err: unknown): void {
    if (this.failure === null) this.failure = err instanceof Error ? err : new Error(String(err));
  }

  /** Runs `fn`, recording (not throwing) what it throws. */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.fail(err);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The run

  async run(workload: Workload): Promise<SimResult> {
    try {
      this.sched.after(simTickMs, () => this.tickEvent(workload));
      while (!this.finished) {
        if (!(await this.sched.runInstant())) throw new Error("simulator: nothing scheduled");
        this.observeAll();
        if (this.failure !== null) throw this.failure;
      }
      const leader = this.currentLeader() as SimNode<A>;
      this.checkCompleteness(leader);
      workload.finalChecks(leader as unknown as SimNode<SimApp>);
      return this.result(true);
    } catch (err) {
      return this.resultOf(err);
    } finally {
      this.stopAll();
    }
  }

  private resultOf(err: unknown): SimResult {
    if (err instanceof SafetyViolation || err instanceof LivenessViolation)
      return this.result(false, err.property, err.message);
    if (err instanceof AssertionError) return this.result(false, "core invariant", err.message);
    return this.result(false, "simulator error", err instanceof Error ? (err.stack ?? err.message) : String(err));
  }

  private result(ok: boolean, property?: string, message?: string): SimResult {
    this.stats.ticks = this.now;
    this.stats.livenessTicks = this.phase === "liveness" ? this.now - this.livenessStart : 0;
    this.stats.messages = this.network.sent;
    this.stats.dropped = this.network.dropped;
    this.stats.duplicated = this.network.duplicated;
    this.stats.checks = this.checkers.checks;
    this.stats.commitIndex = this.checkers.appliedMax();
    for (const node of this.nodes.values()) this.stats.lostWrites += node.disk.lostWrites;
    const base = { seed: this.opts.seed, ok, tick: this.now, stats: this.stats };
    if (property === undefined || message === undefined) return base;
    this.log(`VIOLATION ${property}: ${message}`);
    return { ...base, property, message };
  }

  /** Leaves no timer or loop of this run behind (the runtimes are dropped, never closed). */
  private stopAll(): void {
    this.finished = true;
    for (const node of this.nodes.values()) this.kill(node);
  }

  /** One tick: faults, restarts, the messages due, the workload, the operator, the phase. */
  private tickEvent(workload: Workload): void {
    this.now++;
    if (this.phase === "safety") this.injectFaults();
    this.restartDue();
    for (const m of this.network.deliver(this.now)) {
      const t = this.nodes.get(m.to)?.transport;
      if (t == null || !t.up) continue;
      if (this.trace !== null) this.log(`recv ${describeMessage(m)}`);
      t.deliver(m);
    }
    workload.onTick(this.phase === "safety");
    this.runOperator();
    if (this.now % completenessCheckEveryTicks === 0) {
      for (const node of this.nodes.values()) this.checkCompleteness(node);
    }
    if (this.phase === "safety" && this.now >= this.opts.safetyTicks) this.heal();
    if (this.phase === "liveness") {
      if (this.converged(workload)) {
        this.finished = true;
        return;
      }
      this.checkProgress(workload);
    }
    this.sched.after(simTickMs, () => this.tickEvent(workload));
  }

  // ---------------------------------------------------------------------------------------------
  // Observation: Election Safety and Leader Completeness on every core after every instant

  private observeAll(): void {
    for (const node of this.nodes.values()) this.observe(node);
  }

  private observe(node: SimNode<A>): void {
    const core = node.runtime?.core;
    if (core == null) return;
    const s = core.basicStatus();
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

  private checkCompleteness(node: SimNode<A>): void {
    const core = node.runtime?.core;
    if (core == null) return;
    const s = core.basicStatus();
    if (s.role !== "leader") return;
    const first = core.status().firstIndex;
    this.checkers.leaderComplete(node.id, s.term, first, s.lastIndex, (i) => core.termAt(i));
  }

  /** A message left a node: count it, check it, hand it to the network. */
  private sent(m: Message): void {
    // Only a leader sends appends, heartbeats and snapshots, and only in its own term.
    if (m.type === "append" || m.type === "heartbeat" || m.type === "install-snapshot") {
      this.guard(() => this.checkers.leaderElected(m.from, m.term));
    }
    if (m.type === "install-snapshot") this.stats.snapshotsSent++;
    this.network.send(this.now, m);
  }

  private entryApplied(node: SimNode<A>, e: Entry): void {
    if (e.index !== node.applied.index + 1)
      throw new SafetyViolation("apply order", `${node.id} applied ${e.index} after ${node.applied.index}`);
    const chain = chainAfter(node.applied.chain, e);
    node.applied = { index: e.index, term: e.term, chain };
    const firstApply = this.checkers.appliedTerm(e.index) === undefined;
    this.checkers.entryApplied(node.id, e, chain);
    if (firstApply && e.type === "conf-change") this.countConfChange(e.change.type);
    if (this.trace !== null) this.log(`${node.id} apply ${describeEntry(e)}`);
  }

  private countConfChange(type: "add-learner" | "promote" | "remove"): void {
    if (type === "add-learner") this.stats.learnersAdded++;
    else if (type === "promote") this.stats.promoted++;
    else this.stats.removed++;
  }

  /** Where a node restarts or jumps to: a snapshot's position, with the chain every node had there. */
  private positionAt(index: number, term: number): AppliedPosition {
    return { index, term, chain: index <= 1 ? CHAIN_SEED : (this.checkers.appliedChain(index) ?? CHAIN_SEED) };
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes: creation, incarnations, crash, restart

  createNode(id: NodeId, bootstrap: readonly NodeId[] | null): SimNode<A> {
    const node = new SimNode<A>(id, this.prng.fork(), bootstrap);
    this.nodes.set(id, node);
    this.nodesCreated++;
    this.startNode(node);
    return node;
  }

  private startNode(node: SimNode<A>): void {
    const o = this.opts;
    const clock = new SimClock(this.sched);
    const sent = new WeakSet<object>();
    node.sendBeforePersist = node.random.chance(o.sendBeforePersistRate);
    if (node.sendBeforePersist) this.stats.sendFirstRuntimes++;
    else this.stats.persistFirstRuntimes++;
    // Asynchronous leader writes need send-before-persist; drawn only then, so persist-first
    // incarnations keep their random sequence.
    node.asyncLeaderWrites = node.sendBeforePersist && node.random.chance(o.asyncLeaderWritesRate);
    if (node.asyncLeaderWrites) this.stats.asyncWriteRuntimes++;
    const storage = new SimStorage(node.disk, this.sched, this.storageObserver(node), o.storageBug, sent);
    const transportObserver = {
      sent: (m: Message) => this.sent(m),
      isCut: (a: NodeId, b: NodeId) => this.network.isCut(a, b),
    };
    const opts: SimRuntimeOptions = {
      id: node.id,
      ...(node.bootstrap === null ? {} : { bootstrap: node.bootstrap }),
      storage,
      transport: (handlers) => (node.transport = new SimTransport(node.id, handlers, transportObserver, sent)),
      clock,
      randomSource: () => node.random.float(),
      tickMs: simTickMs,
      electionTicks: o.electionTicks,
      heartbeatTicks: o.heartbeatTicks,
      snapshotThreshold: o.compactEveryEntries,
      core: {
        preVote: o.preVote,
        checkQuorum: o.checkQuorum,
        inflightAppendsMax: o.inflightAppendsMax,
        entriesPerAppendMax: o.entriesPerAppendMax,
        msgBytesMax: o.msgBytesMax,
        promoteLagEntriesMax: o.promoteLagEntriesMax,
      },
      sendBeforePersist: node.sendBeforePersist,
      asyncLeaderWrites: node.asyncLeaderWrites,
      crashOnAssertion: false,
    };
    node.clock = clock;
    node.storage = storage;
    node.applied = this.positionAt(0, 0);
    const app = this.factory(opts, this.positionHooks(node));
    node.app = app;
    app.runtime.on("entry-applied", (e) => this.guard(() => this.entryApplied(node, e)));
    app.runtime.on("fatal", (err) => this.fail(err));
    app.start().catch((err: unknown) => this.fail(err));
    node.restartAt = -1;
    node.leaderTerm = 0;
  }

  private positionHooks(node: SimNode<A>): PositionHooks {
    return {
      position: () => node.applied,
      restored: (p) => {
        this.guard(() => this.checkers.snapshotRestored(node.id, p.index, p.term, p.chain));
        node.applied = p;
      },
    };
  }

  private storageObserver(node: SimNode<A>): StorageObserver {
    const o = this.opts;
    return {
      writeLatencyMs: () => node.random.range(0, o.diskLatencyTicksMax) * simTickMs,
      loaded: (state: PersistedState | null) => {
        const meta = state?.snapshot?.meta;
        node.applied = this.positionAt(meta?.index ?? 0, meta?.term ?? 0);
      },
      written: (rd: Ready) => this.guard(() => this.written(node, rd)),
      compacted: (snap: Snapshot) =>
        this.guard(() => {
          this.stats.snapshotsTaken++;
          this.checkers.snapshotMembership(node.id, snap.meta.index, snap.meta.membership);
          this.log(`${node.id} compacted to ${snap.meta.index}`);
        }),
      crashAfterWrite: () => {
        if (this.phase !== "safety" || !node.random.chance(o.crashAfterWriteRate)) return false;
        this.crash(node, this.prng.range(1, Math.max(1, o.electionTicks >> 1)));
        return true;
      },
      sentEarly: (count: number) => {
        this.stats.sentBeforePersist += count;
      },
    };
  }

  private written(node: SimNode<A>, rd: Ready): void {
    if (rd.entries.length > 0) this.checkers.entriesPersisted(node.id, rd.entries, (i) => node.disk.termAt(i));
    if (rd.snapshot === null) return;
    const { index, term, membership } = rd.snapshot.meta;
    this.checkers.snapshotMembership(node.id, index, membership);
    node.applied = this.positionAt(index, term);
    this.log(`${node.id} stored snapshot ${index}@${term}`);
  }

  /** The incarnation is gone: no timer fires, no write lands, no message comes or goes. */
  private kill(node: SimNode<A>): void {
    this.countWrites(node);
    node.clock?.stop();
    node.storage?.kill();
    node.transport?.kill();
    node.app = null;
    node.clock = null;
    node.storage = null;
    node.transport = null;
  }

  /** What the incarnation's runtime did asynchronously as leader (stats), before it goes. */
  private countWrites(node: SimNode<A>): void {
    const runtime = node.app?.runtime;
    if (runtime === undefined || runtime.core === null) return;
    const s = runtime.status();
    this.stats.asyncWrites += s.asyncWrites;
    this.stats.partialReadies += s.partialReadies;
  }

  crash(node: SimNode<A>, downTicks: number): void {
    if (!node.up) return;
    this.stats.crashes++;
    this.kill(node);
    let what = "process crash";
    if (this.prng.chance(this.opts.powerLossRate)) {
      this.stats.powerLosses++;
      what = `power loss, ${node.disk.powerLoss()} unsynced writes lost`;
    }
    this.log(`${node.id} CRASH (${what}) for ${downTicks} ticks`);
    node.restartAt = this.now + downTicks;
    node.crashAt = -1;
    this.noticeCrash(node);
  }

  private restartDue(): void {
    for (const node of this.nodes.values()) {
      if (node.up || node.retired || node.restartAt < 0 || node.restartAt > this.now) continue;
      this.startNode(node);
      const hs = node.disk.hardState();
      this.log(
        `${node.id} RESTART term=${hs?.term ?? 0} commit=${hs?.commit ?? 0} last=${node.disk.lastIndex()} ` +
          `sendFirst=${node.sendBeforePersist} asyncWrites=${node.asyncLeaderWrites}`,
      );
    }
  }

  private retire(node: SimNode<A>): void {
    if (node.retired) return;
    this.log(`${node.id} RETIRED (removed from the group)`);
    node.retired = true;
    this.kill(node);
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  private injectFaults(): void {
    const o = this.opts;
    for (const node of this.nodes.values()) {
      if (!node.up) continue;
      const scheduled = node.crashAt >= 0 && node.crashAt <= this.now;
      if (scheduled || node.random.chance(o.crashRate)) this.crash(node, this.prng.range(1, o.downTicksMax));
    }
    if (this.partitionEndsAt >= 0 && this.now >= this.partitionEndsAt) {
      this.network.heal();
      this.partitionEndsAt = -1;
      this.log("network healed");
    }
    if (this.partitionEndsAt < 0 && this.prng.chance(o.partitionRate)) this.partition();
    if (this.prng.chance(o.falseLeaderLostRate)) this.falseLeaderLost();
  }

  /**
   * A follower's connection to its live leader breaks (a reset by a middlebox, a keepalive
   * timeout behind a cut): it gives up the lease and campaigns early, which must not depose a
   * leader that the others still hear.
   */
  private falseLeaderLost(): void {
    const leader = this.currentLeader();
    if (leader === null) return;
    const followers = [...this.nodes.values()].filter((n) => n !== leader && n.up);
    if (followers.length === 0) return;
    const follower = this.prng.pick(followers);
    this.stats.falseLeaderLost++;
    this.log(`${follower.id} told its connection to ${leader.id} broke (false alarm)`);
    follower.transport?.peerLost(leader.id);
  }

  /** Survivors with an intact link see a crashed node's connection reset (kill -9), or not (power off). */
  private noticeCrash(crashed: SimNode<A>): void {
    for (const other of this.nodes.values()) {
      const t = other.transport;
      if (other === crashed || t === null || !t.up || this.network.isCut(other.id, crashed.id)) continue;
      if (!this.prng.chance(this.opts.crashNoticeRate)) continue;
      this.stats.crashNotices++;
      t.peerLost(crashed.id);
    }
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
      node.crashAt = -1;
      if (!node.up && !node.retired) node.restartAt = this.now;
    }
    this.log("HEAL: faults off; liveness phase starts");
  }

  // ---------------------------------------------------------------------------------------------
  // Who is up, who leads

  upNodes(): Array<SimNode<A>> {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  /** The leader of the highest term among the nodes up, or null. */
  currentLeader(): SimNode<A> | null {
    let best: SimNode<A> | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      const s = node.runtime?.core?.basicStatus();
      if (s?.role === "leader" && s.term > bestTerm) {
        best = node;
        bestTerm = s.term;
      }
    }
    return best;
  }

  randomNodeId(): NodeId {
    const up = this.upNodes();
    return up.length > 0 ? this.prng.pick(up).id : this.prng.pick([...this.nodes.keys()]);
  }

  // ---------------------------------------------------------------------------------------------
  // The operator: membership changes (learner, promote, remove) and leadership transfers, through
  // the leader's runtime as an administrator would call it.

  private runOperator(): void {
    const leader = this.currentLeader();
    const core = leader?.runtime?.core;
    if (leader == null || core == null) return;
    if (this.removals.size > 0 && this.now % 5 === 0) this.retireRemoved(core.status().membership);
    if (this.phase !== "safety" || this.operatorBusy) return;
    if (this.prng.chance(this.opts.transferRate)) this.transfer(leader);
    else if (this.prng.chance(this.opts.confChangeRate)) this.changeMembership(leader, core.status().membership);
  }

  private get operatorBusy(): boolean {
    return this.now <= this.operatorBusyUntil;
  }

  private operate(what: string, op: Promise<unknown>): void {
    const until = this.now + Math.ceil(this.operatorTimeoutMs() / simTickMs) + 1;
    this.operatorBusyUntil = until;
    this.log(`operator: ${what}`);
    op.then(
      () => this.log(`operator: ${what} done`),
      (err: unknown) => {
        if (!(err instanceof RaftError)) this.fail(err);
        else this.log(`operator: ${what}: ${err.message}`);
      },
    ).finally(() => {
      if (this.operatorBusyUntil === until) this.operatorBusyUntil = -1;
    });
  }

  private operatorTimeoutMs(): number {
    return operatorTimeoutElections * this.opts.electionTicks * simTickMs;
  }

  private changeMembership(leader: SimNode<A>, m: Membership): void {
    const runtime = leader.runtime as RaftRuntime<unknown>;
    const opts = { timeoutMs: this.operatorTimeoutMs() };
    const learner = m.learners[0];
    if (learner !== undefined) {
      this.stats.confChanges++;
      this.operate(`${leader.id} promotes ${learner}`, runtime.promote(learner, opts));
    } else if (m.voters.length < this.opts.clusterSize) {
      const joiner = this.joiner(m);
      if (joiner === null) return;
      this.stats.confChanges++;
      this.operate(`${leader.id} adds learner ${joiner.id}`, runtime.addLearner(joiner.id, opts));
    } else {
      const victim = this.prng.pick(m.voters);
      this.removals.add(victim);
      this.stats.confChanges++;
      this.operate(`${leader.id} removes ${victim}`, runtime.removeMember(victim, opts));
    }
  }

  /** A started node that was never a member, or a new one. Null when the run's node budget is spent. */
  private joiner(m: Membership): SimNode<A> | null {
    for (const node of this.nodes.values()) {
      if (!node.retired && !this.removals.has(node.id) && !isMember(m, node.id) && node.disk.lastIndex() === 0)
        return node;
    }
    if (this.nodesCreated >= nodesPerRunFactorMax * this.opts.clusterSize) return null;
    const id = `n${this.nodesCreated + 1}`;
    this.log(`operator: started ${id} (joining)`);
    return this.createNode(id, null);
  }

  private retireRemoved(m: Membership): void {
    for (const id of [...this.removals]) {
      if (isMember(m, id)) continue;
      this.removals.delete(id);
      const node = this.nodes.get(id);
      if (node !== undefined && this.opts.retireRemoved) this.retire(node);
    }
  }

  private transfer(leader: SimNode<A>): void {
    const runtime = leader.runtime as RaftRuntime<unknown>;
    const voters = (runtime.core?.status().membership.voters ?? []).filter((id) => id !== leader.id);
    const to = voters.length > 0 && this.prng.chance(0.5) ? this.prng.pick(voters) : undefined;
    this.stats.transfers++;
    this.operate(
      `${leader.id} transfers leadership to ${to ?? "the most up-to-date voter"}`,
      runtime.transferLeadership(to, { timeoutMs: this.operatorTimeoutMs() }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Liveness

  /** Liveness: after healing, no stall longer than livenessStallTicksMax, and an overall bound. */
  private checkProgress(workload: Workload): void {
    // Replication counts as progress too: a leader commits nothing until a majority holds an
    // entry of its own term, which may take a long catch-up of a follower first.
    let progress = this.checkers.appliedMax();
    for (const node of this.nodes.values()) {
      const s = node.runtime?.core?.basicStatus();
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
          this.describeState(workload),
      );
    }
    if (this.now - this.livenessStart > o.livenessTicksMax) {
      throw new LivenessViolation(
        `not converged ${o.livenessTicksMax} ticks after healing: ${this.describeState(workload)}`,
      );
    }
  }

  /** Liveness phase goal: a leader, no pending request, every live member caught up. */
  private converged(workload: Workload): boolean {
    const leader = this.currentLeader();
    const core = leader?.runtime?.core;
    if (leader == null || core == null) return false;
    const s = core.basicStatus();
    if (s.commit !== s.lastIndex || !workload.idle() || this.operatorBusy) return false;
    const m = core.status().membership;
    for (const id of [...m.voters, ...m.learners]) {
      const node = this.nodes.get(id);
      if (node === undefined || node.retired) continue;
      const ns = node.runtime?.core?.basicStatus();
      if (ns === undefined || ns.applied !== s.commit || ns.leader !== leader.id) return false;
      if (node.applied.index !== s.commit) return false;
    }
    return true;
  }

  private describeState(workload: Workload): string {
    const parts: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.retired) continue;
      const s = node.runtime?.core?.basicStatus();
      parts.push(
        s === undefined
          ? `${node.id}:down`
          : `${node.id}:${s.role}/t${s.term}/c${s.commit}/a${s.applied}/l${s.lastIndex}/lead=${s.leader ?? "-"}`,
      );
    }
    const leader = this.currentLeader()?.runtime?.core?.status();
    const members = leader === undefined ? "no leader" : describeMembership(leader.membership);
    return `${parts.join(" ")} pending=[${workload.describePending()}] ${members}`;
  }
}
