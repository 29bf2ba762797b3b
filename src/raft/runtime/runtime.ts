// The Raft runtime: drives the pure core (../raft-node.ts) with a clock, a store and a transport
// (ports.ts; in production Node's timers, LevelDB and gRPC, in the simulator ../sim's), and gives
// the application a small API in the spirit of hashicorp/raft:
//   propose(cmd) -> the state machine's answer | NotLeader (hint) | Dropped | LeadershipLost
//   (outcome unknown) | Timeout (outcome unknown) | Aborted | Closed
//   readIndex(), transferLeadership(), addLearner/promote/removeMember, status(), events.
//
// One loop handles one Ready at a time, in the order the core documents (types.ts, Ready):
//   1. persist  snapshot + entries + hard state in one LevelDB batch, fsync'd when rd.mustSync
//   2. send     messages; those that promise nothing about the write (a leader's appends and
//               heartbeats, heartbeat answers, read-index traffic) go out BEFORE it when term and
//               vote are already durable (dissertation §10.2.1), so the fsyncs overlap and a slow
//               disk does not hold back heartbeat answers (CheckQuorum)
//   3. apply    restore a received snapshot, apply committed entries in order and resolve the
//               matching proposals with the state machine's answers; release linearizable reads
//   4. advance
// While a batch is being fsync'd, proposals and messages keep flowing into the core and end up in
// the next Ready: the group commit that makes concurrent proposals cheap.
//
// A leader writes asynchronously (as etcd's AsyncStorageWrites; asyncLeaderWrites): a Ready that
// only appends entries is applied and its write started, and while the fsync runs the loop hands
// out partial Readies (RaftNode.partialReady): appends of the proposals made meanwhile, commit
// updates, committed entries to apply, read states. The leader's own copy counts towards commit
// only once written (RaftNode.advance), so a quorum of followers commits without waiting for a
// slow leader disk, and every entry handed out as committed is durable on a quorum. The next
// full Ready waits for the write, so one fsync still covers everything proposed meanwhile.
import { EventEmitter } from "node:events";
import type * as grpc from "@grpc/grpc-js";
import { AssertionError } from "../../common/errors.js";
import type { RaftConfigInput } from "../config.js";
import {
  CompactRejectedError,
  ConfChangeRejectedError,
  InvalidConfigError,
  LeadershipLostError,
  NotLeaderError,
  ProposalDroppedError,
  TransferRejectedError,
  assert,
} from "../errors.js";
import { RaftNode, bootstrapState, joiningState } from "../raft-node.js";
import type {
  ConfChange,
  Entry,
  Membership,
  Message,
  NodeId,
  PersistedState,
  Ready,
  ReadState,
  Role,
} from "../types.js";
import { RaftAbortedError, RaftClosedError, RaftTimeoutError, StorageEmptyError } from "./errors.js";
import { coreLimits, runtimeLimits, timingDefaults, type RuntimeLimits } from "./limits.js";
import { silentLogger, type RuntimeLogger } from "./logger.js";
import {
  realClock,
  type RaftStore,
  type RaftTransport,
  type RuntimeClock,
  type TimerHandle,
  type TransportCounters,
  type TransportFactory,
} from "./ports.js";
import { RaftStorage } from "./storage.js";
import { GrpcTransport } from "./transport.js";

/** The application's replicated state machine. It must be deterministic. */
export interface StateMachine<R = unknown> {
  /**
   * Apply a committed command. The answer resolves the matching propose() on the leader. Must not
   * throw (return application errors as values): a replica that cannot apply a committed entry
   * cannot continue, so a throw stops the runtime ('fatal').
   */
  apply(data: Uint8Array, index: number): R | Promise<R>;
  /** The state as of the last applied entry. */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replace the state. Zero-length data means the initial (empty) state of a new group. */
  restore(data: Uint8Array): void | Promise<void>;
}

/** Core settings the runtime passes through (see ../config.ts for their meaning and defaults). */
export type CoreOptions = Partial<Omit<RaftConfigInput, "id" | "random" | "electionTicks" | "heartbeatTicks">>;

export interface RaftRuntimeOptions<R = unknown> {
  /** This node's id, "host:port" of its Raft gRPC server (see `resolve`). */
  id: NodeId;
  /** The node's directory: one LevelDB holding log, hard state and snapshot. Not used with `storage`. */
  dir?: string;
  stateMachine: StateMachine<R>;
  /**
   * The voters of a brand-new group, this node included; used only when `dir` holds no Raft
   * state. Every initial member must be given the same list. Omit it on a node that will join an
   * existing group (the leader adds it with addLearner, then promote).
   */
  bootstrap?: readonly NodeId[];
  /**
   * The store must already hold state (the node is known to have been a member): an empty store
   * fails start() with StorageEmptyError instead of bootstrapping or waiting to be added.
   */
  requireState?: boolean;
  /** NodeId -> gRPC address "host:port" of that node's Raft server. Default: the id itself. */
  resolve?: (id: NodeId) => string;
  /**
   * Where this node's gRPC server binds. Default: the host and port of resolve(id). With both
   * given (port 0 allowed), resolve(id) is never called for this node itself, so tests can map
   * symbolic ids to ports bound at start.
   */
  listenHost?: string;
  listenPort?: number;
  /**
   * Serve Raft on this already-bound gRPC server instead of binding one (then `listenPort` must
   * be the port it is bound to). Its owner starts and shuts it down.
   */
  grpcServer?: grpc.Server;
  /**
   * The group's cluster id, "" while this node does not know it: sent with every stream this node
   * opens, and a stream of another cluster is refused (door.ts). Asked once per stream. Default: "".
   */
  clusterId?: () => string;
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Snapshot and compact every this many applied entries. */
  snapshotThreshold?: number;
  limits?: Partial<RuntimeLimits>;
  core?: CoreOptions;
  /** Send messages that promise no durability before the fsync (on by default; see the file comment). */
  sendBeforePersist?: boolean;
  /**
   * A leader's asynchronous storage writes (on by default, with sendBeforePersist; see the file
   * comment): the loop goes on replicating, committing and applying while the leader's fsync runs.
   */
  asyncLeaderWrites?: boolean;
  /** Random source for the core's election timeouts, in [0, 1). Default: see campaignJitter. */
  random?: () => number;
  /**
   * Uniform in [0, 1): the runtime's own random choices (reconnect jitter, read request ids) and,
   * unless `random` is given, the election timeouts. Default: Math.random; seed it for replays.
   */
  randomSource?: () => number;
  log?: RuntimeLogger;
  /** Where the Raft state lives. Default: LevelDB in `dir` (storage.ts). */
  storage?: RaftStore;
  /**
   * Builds the transport. Default: gRPC (transport.ts) bound as `listenHost`/`listenPort`/
   * `grpcServer` say; with a factory those options and `resolve`'s addresses are not used.
   */
  transport?: TransportFactory;
  /** Ticks, timeouts and the monotonic clock. Default: Node's timers (ports.ts, realClock). */
  clock?: RuntimeClock;
  /**
   * Default true: a broken invariant (AssertionError) also crashes the process after 'fatal'.
   * false: only this runtime stops ('fatal'); for the simulator, which runs many runtimes in one
   * process and reports the broken invariant as the run's failure.
   */
  crashOnAssertion?: boolean;
}

export interface OpOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface MemberStatus {
  id: NodeId;
  suffrage: "voter" | "learner";
  /** Leader only: the highest index known replicated on the member, and its replication state. */
  match: number | null;
  state: "probe" | "replicate" | "snapshot" | null;
  recentActive: boolean | null;
  /**
   * Milliseconds since this node last received any message from the member (null: never since
   * start, or this node itself). Unlike recentActive it is not reset every election timeout, so
   * it answers "is that member alive right now?" at any moment.
   */
  lastHeardMs: number | null;
}

export interface RuntimeStatus {
  id: NodeId;
  role: Role;
  term: number;
  leader: NodeId | null;
  /** resolve(leader): where the leader's Raft gRPC server is. */
  leaderAddress: string | null;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  /** Snapshots received from a leader (InstallSnapshot) since start. */
  snapshotsInstalled: number;
  /** Leader writes run asynchronously, and the partial Readies handed out while they ran, since start. */
  asyncWrites: number;
  partialReadies: number;
  members: MemberStatus[];
  leadTransferee: NodeId | null;
  pendingProposals: number;
  transport: TransportCounters;
}

export interface ConfChangeResult {
  index: number;
  membership: Membership;
}

export interface RaftRuntimeEvents {
  "role-changed": [{ role: Role; term: number }];
  "leader-changed": [{ leader: NodeId | null; term: number }];
  "membership-changed": [{ membership: Membership; index: number }];
  /** The runtime stopped on an error it cannot continue from (disk failure, state machine throw). */
  fatal: [Error];
  /**
   * A committed entry of any type (normal, no-op, membership change) was applied here, in index
   * order, after the state machine's apply and before the matching proposal resolves. For
   * observers such as the simulator's checkers; a listener must not throw.
   */
  "entry-applied": [Entry];
  /**
   * A Ready's write that had to be durable (rd.mustSync) finished: how long the store's batch
   * write and fsync took, on the runtime's clock. For metrics; a listener must not throw.
   */
  "log-synced": [{ durationMs: number }];
  /**
   * A propose() settled: resolved with the state machine's answer (error null) or rejected,
   * durationMs after it was called. Emitted only while someone listens (metrics); must not throw.
   */
  "proposal-done": [{ durationMs: number; error: Error | null }];
}

type Lifecycle = "new" | "starting" | "running" | "closing" | "closed";

interface Pending {
  term: number;
  what: string;
  resolve: (v: unknown) => void;
  reject: (err: Error) => void;
  done: () => void;
}

interface ReadWaiter {
  settled: boolean;
  resolve: (index: number) => void;
  reject: (err: Error) => void;
  done: () => void;
}

interface TransferWait {
  target: NodeId;
  resolve: (leader: NodeId) => void;
  reject: (err: Error) => void;
  done: () => void;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidConfigError(name, v, "must be a positive integer");
  return v;
}

/**
 * The default random source for the core's election timeouts, uniform over [1/E, 1) instead of
 * [0, 1): the core draws a timeout of E + floor(r * E) ticks, so no follower campaigns after
 * exactly E ticks. Why: the leader lease (CheckQuorum) makes a follower ignore (pre-)votes until
 * E ticks after it last heard the leader, and two followers' tick counters differ by up to one
 * tick (their timers are not in phase). A campaign at exactly E ticks is therefore often ignored
 * by the other survivor, and the candidate waits a whole second timeout. Starting at E + 1 ticks
 * the other survivors are always out of their lease.
 */
function campaignJitter(electionTicks: number, uniform: () => number): () => number {
  const lo = 1 / electionTicks;
  return () => lo + uniform() * (1 - lo);
}

/** A message that tells its receiver something this node must not forget (entries, a vote). */
function promisesDurability(m: Message): boolean {
  return m.type === "append-response" || m.type === "vote-response" || m.type === "vote";
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

function splitHostPort(addr: string, option: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidConfigError(option, addr, 'must be "host:port"');
  }
  return { host: addr.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port };
}

/** The production transport: gRPC, bound where the options say (validated here, eagerly). */
function grpcTransportFactory(
  opts: RaftRuntimeOptions<unknown>,
  resolve: (id: NodeId) => string,
  admit: (from: NodeId) => boolean,
  limits: RuntimeLimits,
  log: RuntimeLogger,
  random: () => number,
): TransportFactory {
  const listen =
    opts.listenHost !== undefined && opts.listenPort !== undefined
      ? { host: opts.listenHost, port: opts.listenPort }
      : splitHostPort(resolve(opts.id), "resolve(id)");
  const config = {
    id: opts.id,
    listenHost: listen.host,
    listenPort: listen.port,
    resolve,
    ...(opts.grpcServer === undefined ? {} : { server: opts.grpcServer }),
    ...(opts.clusterId === undefined ? {} : { clusterId: opts.clusterId }),
    admit,
    limits,
    log,
    random,
  };
  return (handlers) => new GrpcTransport(config, handlers);
}

export class RaftRuntime<R = unknown> extends EventEmitter<RaftRuntimeEvents> {
  readonly id: NodeId;
  /** The store's directory ("" with an injected store). */
  readonly dir: string;
  private readonly sm: StateMachine<R>;
  private readonly bootstrap: readonly NodeId[] | null;
  private readonly requireState: boolean;
  private readonly resolveAddr: (id: NodeId) => string;
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly snapshotThreshold: number;
  private readonly limits: RuntimeLimits;
  private readonly coreOptions: CoreOptions;
  private readonly sendFirst: boolean;
  private readonly asyncWrites: boolean;
  private readonly random: () => number;
  private readonly log: RuntimeLogger;
  private readonly storage: RaftStore;
  private readonly transport: RaftTransport;
  private readonly clock: RuntimeClock;
  private readonly crashOnAssertion: boolean;

  private lifecycle: Lifecycle = "new";
  private node: RaftNode | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private startDone: Promise<void> | null = null;
  private closeDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /**
   * The leader's write of its outstanding Ready, while it runs (asynchronous writes), else null.
   * The next full Ready waits for it: its write then carries everything proposed meanwhile.
   */
  private writing: Promise<void> | null = null;
  /** A write finished since the loop last considered compacting (it compacts between Readies). */
  private compactDue = false;
  private tickTimer: TimerHandle | null = null;
  private boundPort = 0;
  /** clock.now() of the last tick callback (null before the first). */
  private lastTickAt: number | null = null;
  /**
   * Set when this node, leading, finds on a tick that its loop was stopped or stalled for longer
   * than an election timeout: the followers may have elected another leader meanwhile, and what
   * it reads on waking may be stale. isLeader() is false until a linearizable read issued after
   * the stall is confirmed by a quorum (one round trip), or the node's role changes.
   */
  private leaseInDoubt = false;
  /** Bumped by each stall and role change: a confirmation counts only for the latest. */
  private leaseChecks = 0;
  private leaseCheckInFlight = false;

  // What the last handled Ready said (the runtime's view; the core may be ahead).
  private role: Role = "follower";
  private leader: NodeId | null = null;
  private term = 0;
  private applied = 0;
  private snapIndex = 0;
  private snapshotsInstalled = 0;
  private asyncWritesStarted = 0;
  private partialReadiesHandled = 0;
  /** Applied index of the last snapshot taken or attempted; the next is due a threshold later. */
  private compactBase = 0;
  /** A state machine snapshot taken, waiting for the followers before the log is cut there. */
  private pendingSnapshot: { index: number; data: Uint8Array } | null = null;

  private readonly pending = new Map<number, Pending>();
  private readQueue: ReadWaiter[] = [];
  private inflightRead: { ctx: string; waiters: ReadWaiter[]; ticks: number } | null = null;
  /** Reads with a known read index, waiting for apply to reach it (index ascending in practice). */
  private appliedWaits: Array<{ index: number; waiters: ReadWaiter[] }> = [];
  /** Tells this incarnation's read contexts from those of an earlier one. */
  private readonly readNonce: string;
  private readSeq = 0;
  private readsWaiting = 0;
  private transfers: TransferWait[] = [];
  /** clock.now() of the last message received from each peer. */
  private readonly lastHeard = new Map<NodeId, number>();

  constructor(opts: RaftRuntimeOptions<R>) {
    super();
    if (typeof opts.id !== "string" || opts.id.length === 0)
      throw new InvalidConfigError("id", opts.id, "must be a non-empty string");
    if (opts.storage === undefined && (typeof opts.dir !== "string" || opts.dir.length === 0))
      throw new InvalidConfigError("dir", opts.dir, "must be a directory path");
    this.id = opts.id;
    this.dir = opts.storage === undefined ? (opts.dir as string) : "";
    this.sm = opts.stateMachine;
    if (opts.bootstrap !== undefined) {
      if (!opts.bootstrap.includes(opts.id))
        throw new InvalidConfigError("bootstrap", opts.bootstrap.join(","), `must include this node (${opts.id})`);
      if (new Set(opts.bootstrap).size !== opts.bootstrap.length)
        throw new InvalidConfigError("bootstrap", opts.bootstrap.join(","), "has duplicates");
    }
    this.bootstrap = opts.bootstrap === undefined ? null : [...opts.bootstrap].sort();
    this.requireState = opts.requireState === true;
    this.resolveAddr = opts.resolve ?? ((id) => id);
    this.tickMs = positiveInt("tickMs", opts.tickMs ?? timingDefaults.tickMs);
    this.electionTicks = positiveInt("electionTicks", opts.electionTicks ?? timingDefaults.electionTicks);
    this.heartbeatTicks = positiveInt("heartbeatTicks", opts.heartbeatTicks ?? timingDefaults.heartbeatTicks);
    if (this.heartbeatTicks >= this.electionTicks) {
      throw new InvalidConfigError(
        "electionTicks",
        this.electionTicks,
        `must exceed heartbeatTicks (${this.heartbeatTicks})`,
      );
    }
    this.snapshotThreshold = positiveInt(
      "snapshotThreshold",
      opts.snapshotThreshold ?? runtimeLimits.snapshotThresholdEntries,
    );
    const limits: RuntimeLimits = { ...runtimeLimits, ...opts.limits };
    for (const [k, v] of Object.entries(limits)) positiveInt(`limits.${k}`, v);
    this.limits = limits;
    this.coreOptions = { checkQuorumRounds: timingDefaults.checkQuorumRounds, ...coreLimits, ...opts.core };
    this.sendFirst = opts.sendBeforePersist ?? true;
    this.asyncWrites = this.sendFirst && (opts.asyncLeaderWrites ?? true);
    const uniform = opts.randomSource ?? Math.random;
    this.random = opts.random ?? campaignJitter(this.electionTicks, uniform);
    this.readNonce = Math.floor(uniform() * 2 ** 32).toString(36);
    this.log = opts.log ?? silentLogger;
    this.clock = opts.clock ?? realClock;
    this.crashOnAssertion = opts.crashOnAssertion ?? true;
    this.storage = opts.storage ?? new RaftStorage(this.dir);
    const admit = (from: NodeId): boolean => this.admits(from);
    const makeTransport =
      opts.transport ?? grpcTransportFactory(opts, this.resolveAddr, admit, limits, this.log, uniform);
    this.transport = makeTransport({
      onMessage: (m) => this.receive(m),
      onUnreachable: (peer) => this.node?.reportUnreachable(peer),
      onPeerLost: (peer) => this.peerLost(peer),
    });
  }

  /**
   * The transport's door (door.ts): a member, voter or learner, as this node knows the group; or
   * anyone while it knows no members (an empty store waiting to be added: the leader adding it
   * is not in its membership until the leader's first messages arrive). Asked once per stream.
   */
  private admits(from: NodeId): boolean {
    const node = this.node;
    if (node === null) return false;
    const m = node.status().membership;
    if (m.voters.length === 0 && m.learners.length === 0) return true;
    return m.voters.includes(from) || m.learners.includes(from);
  }

  /**
   * The core, for reading only: the simulator's checkers look at its role, commit and log after
   * every step. Calling its mutating methods would bypass the runtime's loop. Null until started.
   */
  get core(): Pick<RaftNode, "basicStatus" | "status" | "termAt"> | null {
    return this.node;
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Opens the store (bootstrapping it if empty and `bootstrap` is set), binds, starts the loop.
   * Idempotent: a second call returns the first call's promise.
   */
  start(): Promise<void> {
    if (this.startDone === null) {
      this.startDone =
        this.closeDone !== null ? Promise.reject(new RaftClosedError("start() after close()")) : this.doStart();
    }
    return this.startDone;
  }

  private async doStart(): Promise<void> {
    this.lifecycle = "starting";
    try {
      await this.storage.open();
      const state = await this.loadOrInitialize();
      const snap = state.snapshot;
      if (snap !== null) await this.sm.restore(snap.data);
      this.snapIndex = snap?.meta.index ?? 0;
      this.applied = this.snapIndex;
      this.compactBase = this.snapIndex;
      this.node = new RaftNode(
        {
          ...this.coreOptions,
          id: this.id,
          random: this.random,
          electionTicks: this.electionTicks,
          heartbeatTicks: this.heartbeatTicks,
        },
        state,
      );
      const s = this.node.basicStatus();
      this.term = s.term;
      this.boundPort = await this.transport.start();
    } catch (err) {
      this.lifecycle = "closed";
      await this.transport.close().catch(() => {});
      await this.storage.close().catch(() => {});
      throw err;
    }
    if (this.closeDone !== null) return; // close() was called while starting; it cleans up.
    this.lifecycle = "running";
    this.log.info({ term: this.term, snapshot: this.snapIndex, port: this.boundPort }, "raft: started");
    this.tickTimer = this.clock.setInterval(() => this.onTick(), this.tickMs);
    this.loopDone = this.run().catch((err: unknown) => this.fail(err));
  }

  private async loadOrInitialize(): Promise<PersistedState> {
    const loaded = await this.storage.load();
    if (loaded !== null) return loaded;
    if (this.requireState) throw new StorageEmptyError(`node ${this.id} has been a member, but its store is empty`);
    const state = this.bootstrap === null ? joiningState() : bootstrapState({ voters: this.bootstrap, learners: [] });
    await this.storage.initialize(state);
    this.log.info(
      { bootstrap: this.bootstrap },
      this.bootstrap === null ? "raft: new node, waiting to be added" : "raft: bootstrapped a new group",
    );
    return state;
  }

  /** The election timeout (the shortest), in ms: how long a silent leader keeps its followers. */
  get electionTimeoutMs(): number {
    return this.electionTicks * this.tickMs;
  }

  /** The port the Raft gRPC server is bound to (useful with listenPort 0). */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Stops ticking, finishes the Ready in progress, fails what is pending (appended proposals with
   * an outcome-unknown error) and closes transport and store. With `transferLeadership`, a leader
   * first hands leadership to the most up-to-date voter (bounded by `timeoutMs`).
   */
  close(opts: { transferLeadership?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.closeDone !== null) return this.closeDone;
    this.closeDone = this.doClose(opts);
    return this.closeDone;
  }

  private async doClose(opts: { transferLeadership?: boolean; timeoutMs?: number }): Promise<void> {
    await this.startDone?.catch(() => {});
    if (
      opts.transferLeadership === true &&
      this.lifecycle === "running" &&
      this.node?.basicStatus().role === "leader"
    ) {
      try {
        await this.transferLeadership(undefined, { timeoutMs: opts.timeoutMs ?? this.electionTicks * this.tickMs * 2 });
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "raft: leadership hand-off before close failed");
      }
    }
    const wasRunning = this.lifecycle === "running";
    this.lifecycle = "closing";
    if (this.tickTimer !== null) this.clock.clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.notify();
    await this.loopDone;
    await this.saveCommit();
    this.failAll(
      () =>
        new RaftClosedError("raft runtime closed before the outcome was known; outcome unknown: it may still commit"),
    );
    await this.transport.close();
    await this.storage.close();
    this.lifecycle = "closed";
    if (wasRunning) this.log.info({}, "raft: closed");
  }

  /** A stopped node's store holds every commit it knew (RaftStore.saveCommit); best effort. */
  private async saveCommit(): Promise<void> {
    const node = this.node;
    if (node === null || this.lifecycle === "new") return;
    const s = node.status();
    try {
      await this.storage.saveCommit({ term: s.term, vote: s.vote, commit: s.commit });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "raft: could not store the commit index on close");
    }
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.log.error({ err: error.message, stack: error.stack }, "raft: fatal error; stopping");
    if (this.lifecycle === "running") this.lifecycle = "closing";
    this.emit("fatal", error);
    void this.close();
    // A broken invariant is a programmer error: crash loudly rather than run on.
    if (error instanceof AssertionError && this.crashOnAssertion) {
      process.nextTick(() => {
        throw error;
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs: ticks and messages

  private onTick(): void {
    const node = this.node;
    if (node === null || this.lifecycle !== "running") return;
    // Ticks measure time: when the process was stopped (SIGSTOP) or the loop stalled, a timer
    // callback stands for many ticks. Replaying them (bounded) lets CheckQuorum notice at once
    // that a leader has not heard from a quorum, instead of one tick later per stall.
    const now = this.clock.now();
    const elapsedTicks = this.lastTickAt === null ? 1 : Math.floor((now - this.lastTickAt) / this.tickMs);
    this.lastTickAt = now;
    if (elapsedTicks > this.electionTicks && node.currentRole() === "leader") this.doubtLease(elapsedTicks);
    else if (this.leaseInDoubt && !this.leaseCheckInFlight) this.confirmLease();
    const ticks = Math.min(Math.max(elapsedTicks, 1), this.electionTicks * 2);
    for (let i = 0; i < ticks; i++) node.tick();
    if (this.transfers.length > 0) this.retryTransfer(node);
    const read = this.inflightRead;
    if (read !== null && ++read.ticks >= this.limits.readRetryTicks) this.reissueRead();
    else if (read === null) this.issueRead();
    this.notify();
  }

  private doubtLease(elapsedTicks: number): void {
    this.leaseChecks++;
    this.leaseInDoubt = true;
    this.log.warn(
      { stalledMs: elapsedTicks * this.tickMs },
      "raft: this leader's loop stalled past the election timeout; it leads again once a quorum confirms",
    );
    this.confirmLease();
  }

  /** A read issued now: its quorum answers prove leadership after the stall (a failure retries on a tick). */
  private confirmLease(): void {
    const check = this.leaseChecks;
    this.leaseCheckInFlight = true;
    const settle = (confirmed: boolean): void => {
      if (this.leaseChecks !== check) return;
      this.leaseCheckInFlight = false;
      if (confirmed) this.leaseInDoubt = false;
    };
    this.readIndex().then(
      () => settle(true),
      () => settle(false),
    );
  }

  private receive(m: Message): void {
    const node = this.node;
    if (node === null || this.lifecycle !== "running") return;
    // Bounded by the peers that talk to this node; a flood of made-up senders cannot grow it.
    if (this.lastHeard.size < this.limits.peersMax || this.lastHeard.has(m.from))
      this.lastHeard.set(m.from, this.clock.now());
    node.step(m);
    this.notify();
  }

  private peerLost(peer: NodeId): void {
    const node = this.node;
    if (node === null) return;
    if (this.role === "follower" && this.leader === peer)
      this.log.info({ leader: peer, term: this.term }, "raft: lost the connection to the leader; campaigning early");
    node.reportLeaderLost(peer);
  }

  private notify(): void {
    const w = this.wake;
    if (w === null) return;
    this.wake = null;
    w();
  }

  // ---------------------------------------------------------------------------------------------
  // The loop

  private async run(): Promise<void> {
    let rounds = 0;
    while (this.lifecycle === "running") {
      const node = this.node as RaftNode;
      if (this.writing === null && this.compactDue) {
        this.compactDue = false;
        if (await this.maybeCompact(node)) rounds = 0;
      }
      let wrote = false;
      if (this.writing !== null && node.hasPartialReady()) {
        // Let this turn's other proposals join first: one append per follower for all of them.
        // Taken at each wake-up, partial Readies carried one proposal each (a message per
        // proposal and follower; c64 ran slower than with synchronous writes).
        await this.clock.yieldTurn();
        if (node.hasPartialReady()) await this.handlePartialReady(node.partialReady());
      } else if (this.writing === null && node.hasReady()) {
        const rd = node.ready();
        if (this.writesAsync(node, rd)) await this.startWrite(node, rd);
        else wrote = await this.handleReady(node, rd);
      } else {
        rounds = 0;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      if (wrote) rounds = 0;
      else if (++rounds >= this.limits.readyRoundsBeforeYield) {
        rounds = 0;
        await this.clock.yieldTurn();
      }
    }
    await this.writing; // close() waits for the loop: the write in flight lands first
  }

  /**
   * A leader's Ready that only appends entries (no role, term, vote or snapshot change) is written
   * asynchronously, as etcd's AsyncStorageWrites: its own copy counts towards commit only after
   * the write (RaftNode.advance), so whatever the core hands out as committed meanwhile is durable
   * on a quorum and may be applied, and the appends of new proposals go out at once.
   */
  private writesAsync(node: RaftNode, rd: Ready): boolean {
    if (!this.asyncWrites || rd.entries.length === 0 || rd.softState !== null || rd.snapshot !== null) return false;
    if (rd.hardState !== null && !this.storage.termAndVoteDurable(rd.hardState)) return false;
    return node.currentRole() === "leader";
  }

  private async startWrite(node: RaftNode, rd: Ready): Promise<void> {
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of rd.messages) (promisesDurability(m) ? late : early).push(m);
    if (early.length > 0) this.transport.send(early);
    const started = this.clock.now();
    this.asyncWritesStarted++;
    this.writing = this.storage
      .persist(rd)
      .then((wrote) => {
        if (wrote && rd.mustSync) this.emit("log-synced", { durationMs: this.clock.now() - started });
        if (late.length > 0) this.transport.send(late);
        node.advance(rd);
        this.compactDue = true;
      })
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.writing = null;
        this.notify();
      });
    await this.applyReady(rd);
  }

  /** A leader's Ready while its write runs (RaftNode.partialReady): nothing in it waits for a disk. */
  private async handlePartialReady(rd: Ready): Promise<void> {
    this.partialReadiesHandled++;
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    await this.applyReady(rd);
  }

  private async applyReady(rd: Ready): Promise<void> {
    if (rd.committedEntries.length > 0) await this.applyEntries(rd.committedEntries);
    if (rd.readStates.length > 0) this.onReadStates(rd.readStates);
    this.releaseReads();
  }

  /** One Ready, in the documented order. Returns whether it wrote to disk. */
  private async handleReady(node: RaftNode, rd: Ready): Promise<boolean> {
    // Messages that promise nothing about this Ready's write may go out before it, overlapping
    // the fsync: a leader's appends (dissertation §10.2.1), heartbeats and their answers,
    // read-index traffic. Acknowledgements of entries and votes wait for the write; so does
    // everything when the Ready makes a new term or vote (or a snapshot) durable.
    const durable = rd.snapshot === null && (rd.hardState === null || this.storage.termAndVoteDurable(rd.hardState));
    let late: readonly Message[] = rd.messages;
    if (this.sendFirst && durable && rd.messages.length > 0) {
      const early: Message[] = [];
      const rest: Message[] = [];
      for (const m of rd.messages) (promisesDurability(m) ? rest : early).push(m);
      if (early.length > 0) this.transport.send(early);
      late = rest;
    }
    // 1. Persist.
    const writeStarted = this.clock.now();
    const wrote =
      (rd.entries.length > 0 || rd.snapshot !== null || rd.hardState !== null) && (await this.storage.persist(rd));
    if (wrote && rd.mustSync) this.emit("log-synced", { durationMs: this.clock.now() - writeStarted });
    // 2. Send.
    if (late.length > 0) this.transport.send(late);
    // 3. Apply.
    const prevRole = this.role;
    const prevTerm = this.term;
    if (rd.softState !== null) this.observeSoftState(rd.softState.role, rd.softState.leader);
    this.term = node.basicStatus().term;
    if (rd.snapshot !== null) await this.restoreSnapshot(rd.snapshot.meta.index, rd.snapshot.data);
    if (rd.committedEntries.length > 0) await this.applyEntries(rd.committedEntries);
    if ((prevRole === "leader" && this.role !== "leader") || this.term !== prevTerm) this.failStaleProposals();
    if (rd.readStates.length > 0) this.onReadStates(rd.readStates);
    this.releaseReads();
    // 4. Advance.
    node.advance(rd);
    const compacted = await this.maybeCompact(node);
    return wrote || compacted;
  }

  private observeSoftState(role: Role, leader: NodeId | null): void {
    const term = (this.node as RaftNode).basicStatus().term;
    if (role !== this.role) {
      this.leaseChecks++; // a doubt was about the old role
      this.leaseInDoubt = false;
      this.leaseCheckInFlight = false;
      this.log.info({ term, role, was: this.role }, `raft: became ${role}`);
      this.role = role;
      this.emit("role-changed", { role, term });
    }
    if (leader !== this.leader) {
      this.log.info({ term, leader }, leader === null ? "raft: no leader" : `raft: leader is ${leader}`);
      this.leader = leader;
      this.emit("leader-changed", { leader, term });
      this.onLeaderChanged(leader);
    }
  }

  private async restoreSnapshot(index: number, data: Uint8Array): Promise<void> {
    await this.sm.restore(data);
    this.snapshotsInstalled++;
    this.log.info({ index }, "raft: restored a snapshot from the leader");
    this.applied = index;
    this.snapIndex = index;
    for (const [i, p] of this.pending) {
      if (i > index) continue;
      this.pending.delete(i);
      p.reject(new LeadershipLostError(`${p.what} at index ${i} was overtaken by a snapshot at ${index}`));
    }
  }

  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    for (const e of entries) {
      let result: unknown;
      if (e.type === "normal") {
        result = this.sm.apply(e.data, e.index);
        if (isThenable(result)) result = await result;
      }
      this.applied = e.index;
      if (e.type === "conf-change") result = this.onConfChangeApplied(e.change, e.index);
      this.emit("entry-applied", e);
      const p = this.pending.get(e.index);
      if (p === undefined) continue;
      this.pending.delete(e.index);
      if (p.term === e.term) p.resolve(result);
      else
        p.reject(
          new LeadershipLostError(
            `${p.what} at index ${e.index} (term ${p.term}) was replaced by an entry of term ${e.term}`,
          ),
        );
    }
  }

  private onConfChangeApplied(change: ConfChange, index: number): ConfChangeResult {
    const membership = (this.node as RaftNode).status().membership;
    this.log.info(
      { index, change: change.type, node: change.node, voters: membership.voters, learners: membership.learners },
      `raft: membership ${change.type} ${change.node}`,
    );
    if (change.type === "remove" && change.node !== this.id) this.transport.removePeer(change.node);
    this.emit("membership-changed", { membership, index });
    return { index, membership };
  }

  /** After a leader change: proposals from an older term, or on a node no longer leading, are lost. */
  private failStaleProposals(): void {
    const leading = this.role === "leader";
    for (const [i, p] of this.pending) {
      if (leading && p.term === this.term) continue;
      this.pending.delete(i);
      const since = `now term ${this.term}, leader ${this.leader ?? "unknown"}`;
      p.reject(new LeadershipLostError(`${p.what} at index ${i} was appended in term ${p.term}; ${since}`));
    }
  }

  /**
   * Log compaction in two steps. Every snapshotThreshold applied entries the state machine is
   * snapshotted at the applied index A; the core drops the log up to A only once every active
   * follower has A (a leader would otherwise have to send a whole snapshot to a follower that is
   * merely a few entries behind), or once the log has grown snapshotDeferFactorMax thresholds past
   * the last compaction. A snapshot taken at A stays valid for compact(A) later: it reflects A.
   */
  private async maybeCompact(node: RaftNode): Promise<boolean> {
    if (this.pendingSnapshot === null) {
      if (this.applied - Math.max(this.snapIndex, this.compactBase) < this.snapshotThreshold) return false;
      const index = this.applied;
      const data = await this.sm.snapshot();
      this.compactBase = index;
      if (data.byteLength > this.limits.snapshotBytesMax) {
        // It could never be sent to a follower (one gRPC message): keep the log, and say so.
        this.log.error(
          { index, bytes: data.byteLength, max: this.limits.snapshotBytesMax },
          "raft: snapshot too large to send; not compacting",
        );
        return false;
      }
      this.pendingSnapshot = { index, data };
    }
    const { index, data } = this.pendingSnapshot;
    const overdue = this.applied - this.snapIndex >= this.snapshotThreshold * this.limits.snapshotDeferFactorMax;
    if (this.role === "leader" && !overdue && this.activeFollowerBelow(node, index)) return false;
    this.pendingSnapshot = null;
    let snap;
    try {
      snap = node.compact(index, data);
    } catch (err) {
      if (err instanceof CompactRejectedError) return false;
      throw err;
    }
    await this.storage.saveSnapshot(snap);
    this.snapIndex = index;
    this.log.debug({ index, bytes: data.byteLength }, "raft: compacted");
    return true;
  }

  private activeFollowerBelow(node: RaftNode, index: number): boolean {
    const progress = node.status().progress;
    if (progress === null) return false;
    for (const [id, pr] of progress) {
      if (id !== this.id && pr.recentActive && pr.match < index) return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Proposals and membership changes

  /**
   * Replicate `cmd` and resolve with the state machine's answer once it is committed and applied
   * here. Rejects with NotLeaderError (`leader` is the hint), ProposalDroppedError (not appended:
   * safe to retry), LeadershipLostError / RaftTimeoutError / RaftAbortedError / RaftClosedError
   * after appending (outcome unknown: it may still commit).
   */
  propose(cmd: Uint8Array, opts: OpOptions = {}): Promise<R> {
    const started = this.clock.now();
    const done = this.submit("proposal", opts, (node) => node.propose(cmd)) as Promise<R>;
    // Timed here, at the edge, and only when observed: without listeners the promise is untouched.
    if (this.listenerCount("proposal-done") === 0) return done;
    return done.then(
      (answer) => {
        this.emit("proposal-done", { durationMs: this.clock.now() - started, error: null });
        return answer;
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        this.emit("proposal-done", { durationMs: this.clock.now() - started, error });
        throw err;
      },
    );
  }

  /** Add `id` as a non-voting learner; resolves when the change is committed and applied here. */
  addLearner(id: NodeId, opts: OpOptions = {}): Promise<ConfChangeResult> {
    return this.changeMembership({ type: "add-learner", node: id }, opts);
  }

  /**
   * Make learner `id` a voter. Waits (retrying every tick, within the timeout) while the learner
   * is still catching up or another change is in progress.
   */
  promote(id: NodeId, opts: OpOptions = {}): Promise<ConfChangeResult> {
    return this.changeMembership({ type: "promote", node: id }, opts);
  }

  /** Remove voter or learner `id` (it may be this node, the leader: it then steps down). */
  removeMember(id: NodeId, opts: OpOptions = {}): Promise<ConfChangeResult> {
    return this.changeMembership({ type: "remove", node: id }, opts);
  }

  private async changeMembership(change: ConfChange, opts: OpOptions): Promise<ConfChangeResult> {
    const timeoutMs = opts.timeoutMs ?? this.limits.membershipTimeoutMsDefault;
    const deadline = this.clock.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const left = Math.max(1, deadline - this.clock.now());
        return (await this.submit(`${change.type} ${change.node}`, { ...opts, timeoutMs: left }, (node) =>
          node.proposeConfChange(change),
        )) as ConfChangeResult;
      } catch (err) {
        const retry =
          err instanceof ConfChangeRejectedError && (err.reason === "learner-behind" || err.reason === "in-progress");
        if (!retry || this.clock.now() + this.tickMs >= deadline || opts.signal?.aborted === true) throw err;
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.tickMs));
      }
    }
  }

  private submit(
    what: string,
    opts: OpOptions,
    append: (node: RaftNode) => { index: number; term: number },
  ): Promise<unknown> {
    const node = this.node;
    if (node === null || this.lifecycle !== "running") return Promise.reject(new RaftClosedError());
    if (opts.signal?.aborted === true) return Promise.reject(new RaftAbortedError(what, false, opts.signal.reason));
    if (this.pending.size >= this.limits.pendingProposalsMax) {
      return Promise.reject(
        new ProposalDroppedError(
          "uncommitted-limit",
          `${this.pending.size} proposals pending here (pendingProposalsMax)`,
        ),
      );
    }
    let pos: { index: number; term: number };
    try {
      pos = append(node);
    } catch (err) {
      return Promise.reject(err);
    }
    this.notify();
    // An older proposal at the same index lost its place (the log was truncated and refilled
    // before this runtime saw the leadership change).
    const old = this.pending.get(pos.index);
    if (old !== undefined) {
      this.pending.delete(pos.index);
      old.reject(
        new LeadershipLostError(
          `${old.what} at index ${pos.index} (term ${old.term}) was replaced in term ${pos.term}`,
        ),
      );
    }
    const timeoutMs = opts.timeoutMs ?? this.limits.proposeTimeoutMsDefault;
    return new Promise<unknown>((resolve, reject) => {
      const signal = opts.signal;
      const forget = (): void => {
        if (this.pending.get(pos.index) === p) this.pending.delete(pos.index);
      };
      const onAbort = (): void => {
        forget();
        p.reject(new RaftAbortedError(what, true, signal?.reason));
      };
      const timer = this.clock.setTimeout(() => {
        forget();
        p.reject(new RaftTimeoutError(what, timeoutMs, true));
      }, timeoutMs);
      const p: Pending = {
        term: pos.term,
        what,
        resolve: (v) => {
          p.done();
          resolve(v);
        },
        reject: (err) => {
          p.done();
          reject(err);
        },
        done: () => {
          this.clock.clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(pos.index, p);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Leadership transfer

  /**
   * Hand leadership to `to` (or the most up-to-date voter); resolves with the new leader once this
   * node sees it lead. Rejects with NotLeaderError, TransferRejectedError or RaftTimeoutError.
   */
  transferLeadership(to?: NodeId, opts: OpOptions = {}): Promise<NodeId> {
    const node = this.node;
    if (node === null || this.lifecycle !== "running") return Promise.reject(new RaftClosedError());
    let target: NodeId;
    try {
      target = node.transferLeadership(to);
    } catch (err) {
      return Promise.reject(err);
    }
    this.notify();
    const timeoutMs = opts.timeoutMs ?? 4 * this.electionTicks * this.tickMs;
    return new Promise<NodeId>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.transfers = this.transfers.filter((t) => t !== w);
        reject(new RaftTimeoutError(`leadership transfer to ${target}`, timeoutMs, false));
      }, timeoutMs);
      const w: TransferWait = { target, resolve, reject, done: () => this.clock.clearTimeout(timer) };
      this.transfers.push(w);
    });
  }

  /**
   * The core gives a transfer up after transferTimeoutTicks (its TimeoutNow can be lost on a
   * stream that is reconnecting); while a caller still waits, it is started again.
   */
  private retryTransfer(node: RaftNode): void {
    if (node.basicStatus().role !== "leader" || node.status().leadTransferee !== null) return;
    const target = this.transfers[0]!.target;
    try {
      node.transferLeadership(target);
    } catch (err) {
      const waits = this.transfers;
      this.transfers = [];
      for (const w of waits) {
        w.done();
        w.reject(err as Error);
      }
    }
  }

  private onLeaderChanged(leader: NodeId | null): void {
    if (leader !== null && this.transfers.length > 0) {
      const waits = this.transfers;
      this.transfers = [];
      for (const w of waits) {
        w.done();
        if (leader === w.target) w.resolve(leader);
        else w.reject(new TransferRejectedError(`${leader} became leader instead of ${w.target}`));
      }
    }
    // A read index request is lost when the leader changes: ask the new one.
    if (this.inflightRead !== null) this.reissueRead();
  }

  // ---------------------------------------------------------------------------------------------
  // Linearizable reads (ReadIndex, §6.4), batched: one request to the core serves every read that
  // arrived while the previous one was in flight.

  /**
   * Resolves (with the read index) once this node has applied everything committed before the
   * call: a read of the local state machine after it is linearizable. Works on followers too (the
   * leader is asked). Rejects with RaftTimeoutError, RaftAbortedError, RaftClosedError or
   * ProposalDroppedError; always safe to retry.
   */
  readIndex(opts: OpOptions = {}): Promise<number> {
    if (this.node === null || this.lifecycle !== "running") return Promise.reject(new RaftClosedError());
    if (opts.signal?.aborted === true) return Promise.reject(new RaftAbortedError("read", false, opts.signal.reason));
    if (this.readsWaiting >= this.limits.pendingReadsMax) {
      return Promise.reject(
        new ProposalDroppedError("read-queue-full", `${this.readsWaiting} reads waiting here (pendingReadsMax)`),
      );
    }
    const timeoutMs = opts.timeoutMs ?? this.limits.readTimeoutMsDefault;
    return new Promise<number>((resolve, reject) => {
      const signal = opts.signal;
      const onAbort = (): void => w.reject(new RaftAbortedError("read", false, signal?.reason));
      const timer = this.clock.setTimeout(
        () => w.reject(new RaftTimeoutError("linearizable read", timeoutMs, false)),
        timeoutMs,
      );
      const w: ReadWaiter = {
        settled: false,
        resolve: (index) => {
          if (w.settled) return;
          w.done();
          resolve(index);
        },
        reject: (err) => {
          if (w.settled) return;
          w.done();
          reject(err);
        },
        done: () => {
          w.settled = true;
          this.readsWaiting--;
          this.clock.clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.readsWaiting++;
      this.readQueue.push(w);
      this.issueRead();
    });
  }

  private issueRead(): void {
    if (this.inflightRead !== null || this.lifecycle !== "running") return;
    const waiters = this.readQueue.filter((w) => !w.settled);
    this.readQueue = [];
    if (waiters.length === 0) return;
    this.inflightRead = { ctx: "", waiters, ticks: 0 };
    this.reissueRead();
  }

  /** (Re)send the in-flight read with a fresh context; a late answer to the old one is ignored. */
  private reissueRead(): void {
    const read = this.inflightRead;
    const node = this.node;
    if (read === null || node === null) return;
    read.waiters = read.waiters.filter((w) => !w.settled);
    if (read.waiters.length === 0) {
      this.inflightRead = null;
      this.issueRead();
      return;
    }
    read.ctx = `${this.readNonce}.${(this.readSeq++).toString(36)}`;
    read.ticks = 0;
    try {
      node.readIndex(read.ctx);
    } catch (err) {
      if (err instanceof NotLeaderError) return; // No leader known: retried on a later tick.
      this.inflightRead = null;
      for (const w of read.waiters) w.reject(err as Error);
      return;
    }
    this.notify();
  }

  private onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      const read = this.inflightRead;
      if (read === null || rs.context !== read.ctx) continue;
      this.inflightRead = null;
      this.appliedWaits.push({ index: rs.index, waiters: read.waiters });
    }
    this.issueRead();
  }

  private releaseReads(): void {
    if (this.appliedWaits.length === 0) return;
    const still: typeof this.appliedWaits = [];
    for (const a of this.appliedWaits) {
      if (a.index > this.applied) still.push(a);
      else for (const w of a.waiters) w.resolve(a.index);
    }
    this.appliedWaits = still;
  }

  // ---------------------------------------------------------------------------------------------

  private failAll(err: () => Error): void {
    for (const p of this.pending.values()) p.reject(err());
    this.pending.clear();
    const reads = [
      ...this.readQueue,
      ...(this.inflightRead?.waiters ?? []),
      ...this.appliedWaits.flatMap((a) => a.waiters),
    ];
    this.readQueue = [];
    this.inflightRead = null;
    this.appliedWaits = [];
    for (const w of reads) w.reject(new RaftClosedError());
    const transfers = this.transfers;
    this.transfers = [];
    for (const t of transfers) {
      t.done();
      t.reject(new RaftClosedError());
    }
  }

  status(): RuntimeStatus {
    const node = this.node;
    if (node === null) throw new RaftClosedError("raft runtime not started");
    const s = node.status();
    const now = this.clock.now();
    const member = (id: NodeId, suffrage: "voter" | "learner"): MemberStatus => {
      const pr = s.progress?.get(id);
      const heard = id === this.id ? undefined : this.lastHeard.get(id);
      return {
        id,
        suffrage,
        match: pr?.match ?? null,
        state: pr?.state ?? null,
        recentActive: pr?.recentActive ?? null,
        lastHeardMs: heard === undefined ? null : Math.round(now - heard),
      };
    };
    return {
      id: this.id,
      role: s.role,
      term: s.term,
      leader: s.leader,
      leaderAddress: s.leader === null ? null : this.resolveAddr(s.leader),
      commit: s.commit,
      applied: this.applied,
      firstIndex: s.firstIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: this.snapIndex,
      snapshotsInstalled: this.snapshotsInstalled,
      asyncWrites: this.asyncWritesStarted,
      partialReadies: this.partialReadiesHandled,
      members: [
        ...s.membership.voters.map((id) => member(id, "voter")),
        ...s.membership.learners.map((id) => member(id, "learner")),
      ],
      leadTransferee: s.leadTransferee,
      pendingProposals: this.pending.size,
      transport: { ...this.transport.stats },
    };
  }

  /**
   * True while this node leads and its loop is live: a node whose tick timer has not run for an
   * election timeout (the process was stopped, or the loop stalled) may already have been
   * replaced, so it does not claim leadership until its ticks have caught up and a quorum has
   * answered a read issued after the stall (leaseInDoubt): on waking, a timer can run before the
   * messages of the new term are read, and a status asked then must not say "leader".
   */
  isLeader(): boolean {
    if (this.node?.currentRole() !== "leader" || this.leaseInDoubt) return false;
    return this.lastTickAt !== null && this.clock.now() - this.lastTickAt < this.electionTicks * this.tickMs;
  }

  /** The leader this node knows of, or null. */
  currentLeader(): NodeId | null {
    return this.node?.knownLeader() ?? null;
  }
}

assert(
  timingDefaults.heartbeatTicks < timingDefaults.electionTicks,
  "timing defaults: heartbeat must be below election",
);
