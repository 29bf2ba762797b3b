// The master under the deterministic simulator: each simulated master is a RaftClusterState
// (master-state-machine.ts through the real RaftRuntime, on the simulator's disk, network and
// clock) with the parts master-server.ts wires around it, all on the simulated clock: a Sequencer,
// a Topology fed by simulated volume servers' heartbeats (master-volumes.ts), VolumeGrowth through
// a simulated VolumeAllocator, the Assigner, and a MembershipManager. While the cluster crashes
// masters, cuts links and moves the lead, every master that believes it leads (isLeader(), stale
// ones included, as in production) serves assigns through Assigner.assign (the fast path, and the
// slow one: waiting out the warm-up, growing a volume, Sequencer.take waiting for a key block); a
// client uploads to the volume it was given, so volumes fill and growth runs again; heartbeats
// raise the max volume id and the key floor; a master that becomes leader does what leadership.ts
// does (starts its sequencer, warms up, asks for a read barrier). The operator changes membership
// and moves the lead through the leader's MembershipManager (master-membership.ts).
//
// The checkers: no file key and no volume id is handed out twice across every leader history
// (keys read back from the fids assigns answer, volume ids from every nextVolumeId and every
// allocation a volume server receives); every assign names servers that hold its volume; an
// assign on a live master settles within the bound its waits add up to; at the end every key and
// id handed out lies at or below the committed ceiling and max volume id. The membership
// checkers are in master-membership.ts.
//
// Lives under test/: src/raft must not import src/master (test/unit/layering.test.ts).
import { silentLogger } from "../../src/common/logger.js";
import { WeedError } from "../../src/common/errors.js";
import { parseFid } from "../../src/common/fid.js";
import type { ClusterState, KeyBlock } from "../../src/master/state/cluster-state.js";
import { MembershipManager } from "../../src/master/state/membership.js";
import { RaftClusterState } from "../../src/master/state/raft-cluster-state.js";
import { Sequencer } from "../../src/master/state/sequencer.js";
import { type AssignRequest, type AssignResult, Assigner } from "../../src/master/topology/assigner.js";
import { NO_PREFS } from "../../src/master/topology/placement.js";
import { Topology } from "../../src/master/topology/topology.js";
import { VolumeGrowth } from "../../src/master/topology/volume-growth.js";
import { SafetyViolation } from "../../src/raft/sim/checkers.js";
import type { SimClock } from "../../src/raft/sim/clock.js";
import {
  type SimApp,
  SimCluster,
  type SimNode,
  type SimResult,
  type SimRuntimeOptions,
  type TraceSink,
  type Workload,
} from "../../src/raft/sim/cluster.js";
import { optionsFromSeed, type SimOptions, simTickMs } from "../../src/raft/sim/options.js";
import { Prng } from "../../src/raft/sim/prng.js";
import type { RaftRuntime } from "../../src/raft/runtime/runtime.js";
import {
  type MembershipBug,
  MembershipOperator,
  type OperatorOptions,
  type OperatorStats,
  SimMembershipRuntime,
  memberId,
} from "./master-membership.js";
import {
  SimAllocator,
  type HeartbeatSink,
  uploadBytes,
  VolumeWorld,
  type VolumeWorldOptions,
} from "./master-volumes.js";

/**
 * A deliberately broken cluster state, to prove the checker notices: it answers a key block
 * ("keys-before-commit") or a volume id ("volume-ids-before-commit") from what this master has
 * applied so far, and proposes it without waiting for the commit (the shape of SeaweedFS #1014
 * and #6327: a new leader that has not applied its predecessor's last reservations starts below
 * them).
 */
export type MasterBug = "none" | "keys-before-commit" | "volume-ids-before-commit";

export interface MasterSimOptions {
  readonly sim: SimOptions;
  /** Keys per block the sequencers reserve, and the refill threshold (small: many reservations). */
  readonly blockSize: number;
  readonly refillThreshold: number;
  /** Per tick, per master that believes it leads: an assign; a heartbeat reporting a foreign volume id. */
  readonly assignRate: number;
  readonly raiseRate: number;
  /** Per tick, per volume server, per master that believes it leads: a full heartbeat. */
  readonly heartbeatRate: number;
  readonly volumes: VolumeWorldOptions;
  /** Bytes a volume takes before it is full (a few dozen uploads: volumes fill, growth runs again). */
  readonly volumeSizeLimitBytes: number;
  /** Volumes one growth makes. */
  readonly growthCount: number;
  /** The master's waits, in simulated ms (production's limits.ts values are seconds: scaled down). */
  readonly reserveWaitMs: number;
  readonly growthWaitMs: number;
  readonly allocateTimeoutMs: number;
  readonly warmUpMs: number;
  readonly operator: OperatorOptions;
  readonly bug: MasterBug;
  readonly membershipBug: MembershipBug;
}

/** Assigner's warm-up wait (limits.ts warmUpAssignWaitMs, not an option): part of an assign's bound. */
const warmUpAssignWaitTicks = 250;

export function masterOptionsFromSeed(seed: number, overrides: Partial<MasterSimOptions> = {}): MasterSimOptions {
  const p = new Prng(seed ^ 0x3a57e6);
  const blockSize = p.range(2, 24);
  const sim = optionsFromSeed(seed, {
    // Master commands are JSON of ~30-60 bytes: messages must carry at least one.
    msgBytesMax: p.range(128, 1024),
    safetyTicks: 1500,
    clients: 0,
    // The operator here is MembershipManager's (master-membership.ts), not the cluster's.
    confChangeRate: 0,
    transferRate: 0,
    // A master op may wait out its propose timeout after healing (opWaitTicksMax).
    livenessStallTicksMax: 600,
  });
  const electionMs = sim.electionTicks * simTickMs;
  const o: MasterSimOptions = {
    sim,
    blockSize,
    refillThreshold: p.range(1, blockSize - 1),
    assignRate: 0.1 + p.float() * 0.6,
    raiseRate: p.float() * 0.03,
    heartbeatRate: 0.05 + p.float() * 0.3,
    volumes: {
      servers: p.range(2, 6),
      maxVolumes: p.range(20, 100),
      allocateTicksMax: p.range(0, 10),
      allocateFailRate: p.float() * 0.1,
    },
    volumeSizeLimitBytes: p.range(4, 64) * uploadBytes,
    growthCount: p.range(1, 3),
    reserveWaitMs: p.range(1, 8) * electionMs,
    growthWaitMs: p.range(1, 8) * electionMs,
    allocateTimeoutMs: p.range(1, 8) * electionMs,
    warmUpMs: p.range(1, 4) * electionMs,
    operator: {
      confChangeRate: p.float() * 0.02,
      transferRate: p.float() * 0.005,
      concurrentRate: 0.2,
      nodesMax: 3 * sim.clusterSize,
      // Two queued operations, each at most 26 election timeouts: an add's two quorum checks (2 each),
      // adding the learner (4), its catch-up (8) and its promotion (the rest of the catch-up's 8).
      opTicksMax: 2 * 26 * sim.electionTicks + 10,
    },
    bug: "none",
    membershipBug: "none",
  };
  return { ...o, ...overrides };
}

/** One master incarnation: its replicated state and the parts master-server.ts wires around it. */
interface MasterApp extends SimApp {
  readonly cs: RaftClusterState;
  readonly state: ClusterState;
  readonly sequencer: Sequencer;
  readonly topology: Topology;
  readonly assigner: Assigner;
  readonly membership: MembershipManager;
  readonly clock: SimClock;
  /** "n2#3": the node and its incarnation, as the checkers name who did what. */
  readonly name: string;
}

/**
 * The cluster state the master's parts see: the real one, telling the checker of every volume id
 * it hands out; or, with a planted bug, answering reservations before they commit, from this
 * master's applied ceiling.
 */
class CheckedState implements ClusterState {
  private readonly cs: RaftClusterState;
  private readonly bug: MasterBug;
  private readonly onVolumeId: (id: number) => void;
  constructor(cs: RaftClusterState, bug: MasterBug, onVolumeId: (id: number) => void) {
    this.cs = cs;
    this.bug = bug;
    this.onVolumeId = onVolumeId;
  }
  open(): Promise<void> {
    return this.cs.open();
  }
  close(): Promise<void> {
    return this.cs.close();
  }
  get topologyId(): string {
    return this.cs.topologyId;
  }
  get maxVolumeId(): number {
    return this.cs.maxVolumeId;
  }
  get fileKeyCeiling(): number {
    return this.cs.fileKeyCeiling;
  }
  async nextVolumeId(): Promise<number> {
    let id: number;
    if (this.bug !== "volume-ids-before-commit") id = await this.cs.nextVolumeId();
    else {
      id = this.cs.maxVolumeId + 1;
      this.cs.raiseMaxVolumeId(id).catch(() => undefined);
    }
    this.onVolumeId(id);
    return id;
  }
  raiseMaxVolumeId(id: number): Promise<void> {
    return this.cs.raiseMaxVolumeId(id);
  }
  async reserveFileKeys(count: number, floor: number): Promise<KeyBlock> {
    if (this.bug !== "keys-before-commit") return this.cs.reserveFileKeys(count, floor);
    const first = Math.max(this.cs.fileKeyCeiling, floor) + 1;
    this.cs.reserveFileKeys(count, floor).catch(() => undefined);
    return { first, end: first + count };
  }
}

export interface MasterSimStats {
  keysHandedOut: number;
  assigns: number;
  /** Assigns that took the slow path's time (answered in a later instant than asked). */
  slowAssigns: number;
  assignsFailed: number;
  /** Failed assigns by error code ("NO_WRITABLE_VOLUME": 3, ...). */
  failures: Record<string, number>;
  volumeIds: number;
  allocations: number;
  raises: number;
  heartbeats: number;
  sequencerStarts: number;
  /** Distinct masters that handed out keys (more than one: the lead moved while keys flowed). */
  keyIssuers: number;
  operator: OperatorStats;
}

export interface MasterSimResult {
  readonly sim: SimResult;
  readonly master: MasterSimStats;
}

/**
 * How long the workload waits for a raise on a live master: past the propose timeout
 * (raftProposeTimeoutMs, 5 s = 500 ticks of 10 ms). One on a crashed master never answers.
 */
const opWaitTicksMax = 510;

/** A request the workload waits for: given up at `until` (a bound, for assigns), or when its master dies. */
interface Pending {
  readonly until: number;
  readonly app: MasterApp;
  readonly what: string;
  /** An assign: not settling by `until` on a live master is a violation. */
  readonly bounded: boolean;
}

export class MasterSimulation implements Workload {
  private readonly o: MasterSimOptions;
  private readonly cluster: SimCluster<MasterApp>;
  private readonly world: VolumeWorld;
  private readonly operator: MembershipOperator<MasterApp>;
  /** Every file key handed out -> who handed it out (node, term, tick). */
  private readonly keys = new Map<number, string>();
  /** Every volume id handed out -> who. */
  private readonly volumeIds = new Map<number, string>();
  /** Volume ids a heartbeat reported and the cluster raised its max to: never to be handed out after. */
  private readonly raised = new Set<number>();
  private readonly issuers = new Set<string>();
  private maxKey = 0;
  private maxVolumeId = 0;
  private incarnations = 0;
  private readonly inFlight = new Set<Pending>();
  readonly stats: MasterSimStats;

  constructor(o: MasterSimOptions, trace: TraceSink | null = null) {
    this.o = o;
    this.world = new VolumeWorld(o.volumes);
    this.cluster = new SimCluster<MasterApp>(o.sim, (opts, _hooks) => this.masterApp(opts), trace);
    this.operator = new MembershipOperator(this.cluster, o.operator);
    this.stats = {
      ...{ keysHandedOut: 0, assigns: 0, slowAssigns: 0, assignsFailed: 0, failures: {} },
      ...{ volumeIds: 0, allocations: 0, raises: 0, heartbeats: 0, sequencerStarts: 0, keyIssuers: 0 },
      operator: this.operator.stats,
    };
  }

  async run(): Promise<MasterSimResult> {
    const sim = await this.cluster.run(this);
    this.stats.keyIssuers = this.issuers.size;
    this.stats.allocations = this.world.allocations;
    return { sim, master: this.stats };
  }

  private masterApp(opts: SimRuntimeOptions): MasterApp {
    const o = this.o;
    const clock = opts.clock as SimClock;
    const random = opts.randomSource as () => number;
    const logger = silentLogger();
    const name = `${opts.id}#${++this.incarnations}`;
    const cs = new RaftClusterState(opts);
    const state = new CheckedState(cs, o.bug, (id) => this.cluster.guard(() => this.volumeIdHandedOut(name, cs, id)));
    const sequencer = new Sequencer(state, logger, {
      ...{ blockSize: o.blockSize, refillThreshold: o.refillThreshold },
      ...{ reserveWaitMs: o.reserveWaitMs, clock },
    });
    const topology = new Topology(o.volumeSizeLimitBytes);
    const fail = (err: unknown): void => this.cluster.fail(err);
    const allocator = new SimAllocator(
      this.world,
      () => this.cluster,
      () => name,
      fail,
    );
    const growth = new VolumeGrowth(
      { topology, state, allocator, random, logger, clock },
      { growthCount: o.growthCount, allocateTimeoutMs: o.allocateTimeoutMs },
    );
    const everAllocated = (): boolean => state.maxVolumeId > 0;
    const now = (): number => clock.now();
    const assigner = new Assigner(
      { topology, sequencer, growth, random, now, everAllocated, clock },
      { growthWaitMs: o.growthWaitMs },
    );
    const electionMs = o.sim.electionTicks * simTickMs;
    const membership = new MembershipManager(
      new SimMembershipRuntime(cs.runtime as RaftRuntime<unknown>, o.membershipBug, fail),
      memberId(opts.id),
      logger,
      () => cs.topologyId,
      undefined,
      { clock, changeTimeoutMs: 4 * electionMs, catchUpTimeoutMs: 8 * electionMs, quorumCheckWaitMs: 2 * electionMs },
    );
    const app = { runtime: cs.runtime as RaftRuntime<unknown>, start: () => cs.open() };
    const master: MasterApp = { ...app, cs, state, sequencer, topology, assigner, membership, clock, name };
    cs.runtime.on("role-changed", ({ role }) => this.roleChanged(master, role));
    return master;
  }

  /** leadership.ts: a new leader starts its sequencer and warms up; one that stops loses its servers. */
  private roleChanged(app: MasterApp, role: string): void {
    if (role !== "leader") {
      for (const node of [...app.topology.allNodes()]) app.topology.unregisterNode(node);
      return;
    }
    this.stats.sequencerStarts++;
    app.assigner.warmUpUntil(app.clock.now() + this.o.warmUpMs);
    app.cs.runtime
      .readIndex({ timeoutMs: this.o.warmUpMs })
      .then(() => {
        if (app.state.maxVolumeId === 0 && app.cs.runtime.isLeader()) app.assigner.warmUpUntil(0);
      })
      .catch(() => undefined);
    app.cs.ensureTopologyId().catch(() => undefined);
    app.sequencer.start().catch(() => undefined);
  }

  private get now(): number {
    return this.cluster.now;
  }

  /** The masters that believe they lead right now (a deposed one may, until its lease runs out). */
  private leaders(): Array<SimNode<MasterApp>> {
    return this.cluster.upNodes().filter((n) => n.app?.cs.runtime.isLeader() === true);
  }

  private who(app: MasterApp): string {
    const term = app.cs.runtime.core?.basicStatus().term ?? 0;
    return `${app.name} (term ${term}, t=${this.now})`;
  }

  onTick(safety: boolean): void {
    this.checkBounds();
    this.operator.onTick();
    if (!safety) return;
    const prng = this.cluster.prng;
    for (const node of this.leaders()) {
      const app = node.app as MasterApp;
      for (const server of this.world.servers)
        if (prng.chance(this.o.heartbeatRate)) this.world.heartbeat(server, this.sink(app));
      if (prng.chance(this.o.assignRate)) this.assign(app);
      if (prng.chance(this.o.raiseRate)) this.raise(app);
    }
  }

  /** What a heartbeat raises on `app` (heartbeat-service.ts raiseFloors). */
  private sink(app: MasterApp): HeartbeatSink {
    this.stats.heartbeats++;
    return {
      topology: app.topology,
      raiseMaxVolumeId: (maxVid) => {
        if (maxVid > app.state.maxVolumeId) app.state.raiseMaxVolumeId(maxVid).catch(() => undefined);
      },
      observeKey: (maxKey) => app.sequencer.observe(maxKey),
    };
  }

  private request(): AssignRequest {
    const prng = this.cluster.prng;
    return {
      count: prng.range(1, Math.min(3, this.o.blockSize)),
      writableVolumeCount: prng.chance(0.5) ? 0 : prng.range(1, 2),
      collection: prng.pick(["", "pics"]),
      // "000" or "001" (a second copy on another server of the same rack).
      replicaPlacement: prng.chance(0.7) ? 0 : 1,
      ttl: 0,
      prefs: NO_PREFS,
      preallocate: 0,
      memoryMapMaxSizeMb: 0,
      diskType: "",
    };
  }

  /** An assign's waits add up to this (warm-up wait, growth wait, key block wait), plus slack. */
  private get assignBoundTicks(): number {
    const o = this.o;
    return warmUpAssignWaitTicks + Math.ceil((o.growthWaitMs + o.reserveWaitMs) / simTickMs) + 5;
  }

  /** Assigner.assign, the whole of it: the fast path, or the slow one on the simulated clock. */
  private assign(app: MasterApp): void {
    const req = this.request();
    const askedAt = this.now;
    const op = app.assigner.assign(req).then(
      (r) => this.cluster.guard(() => this.assigned(app, req, r, askedAt)),
      (err: unknown) => this.assignFailed(err),
    );
    this.track(app, op, `assign on ${app.name} since t=${askedAt}`, this.assignBoundTicks);
  }

  private assignFailed(err: unknown): void {
    if (!(err instanceof WeedError)) return this.cluster.fail(err);
    this.stats.assignsFailed++;
    this.stats.failures[err.code] = (this.stats.failures[err.code] ?? 0) + 1;
  }

  private assigned(app: MasterApp, req: AssignRequest, r: AssignResult, askedAt: number): void {
    const fid = parseFid(r.fid);
    const first = Number(fid.key);
    const who = this.who(app);
    for (let k = first; k < first + req.count; k++) {
      const earlier = this.keys.get(k);
      if (earlier !== undefined)
        throw new SafetyViolation("unique file keys", `key ${k} handed out by ${who}, and before by ${earlier}`);
      this.keys.set(k, who);
      this.maxKey = Math.max(this.maxKey, k);
    }
    for (const n of r.nodes) {
      const server = this.world.server(n.id);
      if (server?.volumes.has(fid.volumeId) !== true)
        throw new SafetyViolation("assigned volume exists", `${who} assigned ${r.fid} on ${n.id}, which lacks it`);
      server.upload(fid.volumeId, first, req.count);
    }
    this.issuers.add(app.name);
    this.stats.assigns++;
    if (this.now > askedAt) this.stats.slowAssigns++;
    this.stats.keysHandedOut += req.count;
    this.cluster.log(`${app.name} assigned keys ${first}..${first + req.count - 1} on volume ${fid.volumeId}`);
  }

  private track(app: MasterApp, op: Promise<unknown>, what: string, boundTicks = 0): void {
    const bounded = boundTicks > 0;
    const entry = { until: this.now + (bounded ? boundTicks : opWaitTicksMax), app, what, bounded };
    this.inFlight.add(entry);
    op.finally(() => this.inFlight.delete(entry)).catch(() => undefined);
  }

  /** Every wait in an assign is bounded: one on a live master must settle within the sum of its bounds. */
  private checkBounds(): void {
    const live = this.liveApps();
    for (const p of this.inFlight) {
      if (!p.bounded || p.until >= this.now || !live.has(p.app)) continue;
      throw new SafetyViolation("bounded assign", `${p.what} still waits at t=${this.now}, bound t=${p.until}`);
    }
  }

  private liveApps(): Set<MasterApp | null> {
    return new Set(this.cluster.upNodes().map((n) => n.app));
  }

  /** Growth took a volume id (state.nextVolumeId): never one handed out or reported before. */
  private volumeIdHandedOut(name: string, cs: RaftClusterState, id: number): void {
    const who = `${name} (term ${cs.runtime.core?.basicStatus().term ?? 0}, t=${this.now})`;
    const earlier = this.volumeIds.get(id);
    if (earlier !== undefined)
      throw new SafetyViolation("unique volume ids", `volume id ${id} handed out by ${who}, and before by ${earlier}`);
    if (this.raised.has(id))
      throw new SafetyViolation("unique volume ids", `volume id ${id} handed out by ${who} after a heartbeat had it`);
    this.volumeIds.set(id, who);
    this.maxVolumeId = Math.max(this.maxVolumeId, id);
    this.stats.volumeIds++;
    this.cluster.log(`${name} allocated volume id ${id}`);
  }

  /** A heartbeat reports a volume id made elsewhere (above every id so far), or one handed out. */
  private raise(app: MasterApp): void {
    const prng = this.cluster.prng;
    const fresh = prng.chance(0.5);
    const id = fresh ? this.maxVolumeId + prng.range(1, 3) : prng.range(1, Math.max(1, this.maxVolumeId));
    const op = app.state.raiseMaxVolumeId(id).then(() =>
      this.cluster.guard(() => {
        this.stats.raises++;
        // Once the raise committed, no master may hand out this id (or any below the new max).
        if (fresh && !this.volumeIds.has(id)) this.raised.add(id);
        this.cluster.log(`${app.name} raised the max volume id to ${id}`);
      }),
    );
    this.track(app, op, `raise on ${app.name}`);
  }

  idle(): boolean {
    if (this.operator.busy) return false;
    const live = this.liveApps();
    for (const op of this.inFlight) if (op.until > this.now && live.has(op.app)) return false;
    return true;
  }

  describePending(): string {
    return `${this.inFlight.size} master ops${this.operator.busy ? ", a membership change" : ""}`;
  }

  /** Durability: what was handed out is covered by the committed state, so no later leader reissues it. */
  finalChecks(leaderNode: SimNode<SimApp>): void {
    const cs = (leaderNode as unknown as SimNode<MasterApp>).app?.cs as RaftClusterState;
    if (this.maxKey > cs.fileKeyCeiling)
      throw new SafetyViolation(
        "unique file keys",
        `key ${this.maxKey} was handed out, but the committed ceiling is ${cs.fileKeyCeiling}`,
      );
    if (this.maxVolumeId > cs.maxVolumeId)
      throw new SafetyViolation(
        "unique volume ids",
        `volume id ${this.maxVolumeId} was handed out, but the committed max is ${cs.maxVolumeId}`,
      );
  }
}

export function runMasterSeed(
  seed: number,
  overrides: Partial<MasterSimOptions> = {},
  trace: TraceSink | null = null,
): Promise<MasterSimResult> {
  return new MasterSimulation(masterOptionsFromSeed(seed, overrides), trace).run();
}
