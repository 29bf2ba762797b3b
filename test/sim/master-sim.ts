// The master's replicated state under the deterministic simulator: each simulated master is a
// RaftClusterState (master-state-machine.ts through the real RaftRuntime, on the simulator's disk,
// network and clock) with its own Sequencer, as master-server.ts wires them. While the cluster
// crashes masters, cuts links and moves the lead, the workload does what a leading master does:
// it hands out file keys from the sequencer's blocks (the assigner's synchronous path, tryTake),
// allocates volume ids (nextVolumeId, as volume growth does), raises the max volume id and the
// key floor as heartbeats would (raiseMaxVolumeId, Sequencer.observe), and starts the sequencer
// when a master becomes leader (leadership.ts). Every master that believes it leads (isLeader())
// serves, stale ones included, as in production.
//
// The checker: no file key and no volume id is handed out twice, across every leader history the
// run produces; and at the end every key and id handed out lies at or below the committed ceiling
// and max volume id (so no later leader can hand it out again). The assigner's slow path
// (Sequencer.take, which waits on real timers) and the topology are not simulated.
//
// Lives under test/: src/raft must not import src/master (test/unit/layering.test.ts).
import { silentLogger } from "../../src/common/logger.js";
import type { ClusterState, KeyBlock } from "../../src/master/state/cluster-state.js";
import { RaftClusterState } from "../../src/master/state/raft-cluster-state.js";
import { Sequencer } from "../../src/master/state/sequencer.js";
import { SafetyViolation } from "../../src/raft/sim/checkers.js";
import {
  type SimApp,
  SimCluster,
  type SimNode,
  type SimResult,
  type SimRuntimeOptions,
  type TraceSink,
  type Workload,
} from "../../src/raft/sim/cluster.js";
import { optionsFromSeed, type SimOptions } from "../../src/raft/sim/options.js";
import { Prng } from "../../src/raft/sim/prng.js";
import type { RaftRuntime } from "../../src/raft/runtime/runtime.js";

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
  /** Per tick, per master that believes it leads: an assign, a volume id, a raise, a key floor. */
  readonly assignRate: number;
  readonly volumeIdRate: number;
  readonly raiseRate: number;
  readonly observeRate: number;
  readonly bug: MasterBug;
}

export function masterOptionsFromSeed(seed: number, overrides: Partial<MasterSimOptions> = {}): MasterSimOptions {
  const p = new Prng(seed ^ 0x3a57e6);
  const blockSize = p.range(2, 24);
  const o: MasterSimOptions = {
    // Master commands are JSON of ~30-60 bytes: messages must carry at least one.
    sim: optionsFromSeed(seed, {
      msgBytesMax: p.range(128, 1024),
      safetyTicks: 1500,
      clients: 0,
      // A master op may wait out its propose timeout after healing (opWaitTicksMax).
      livenessStallTicksMax: 600,
    }),
    blockSize,
    refillThreshold: p.range(1, blockSize - 1),
    assignRate: 0.1 + p.float() * 0.6,
    volumeIdRate: p.float() * 0.1,
    raiseRate: p.float() * 0.03,
    observeRate: p.float() * 0.03,
    bug: "none",
  };
  return { ...o, ...overrides };
}

/** One master incarnation: its replicated state and its sequencer. */
interface MasterApp extends SimApp {
  readonly cs: RaftClusterState;
  readonly state: ClusterState;
  readonly sequencer: Sequencer;
}

/** The planted bug: reservations answered before they commit, from this master's applied ceiling. */
class ReserveBeforeCommit implements ClusterState {
  private readonly cs: RaftClusterState;
  private readonly bug: MasterBug;
  constructor(cs: RaftClusterState, bug: MasterBug) {
    this.cs = cs;
    this.bug = bug;
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
    if (this.bug !== "volume-ids-before-commit") return this.cs.nextVolumeId();
    const id = this.cs.maxVolumeId + 1;
    this.cs.raiseMaxVolumeId(id).catch(() => undefined);
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
  assignsWithoutKeys: number;
  volumeIds: number;
  raises: number;
  floorsObserved: number;
  sequencerStarts: number;
  /** Distinct masters that handed out keys (more than one: the lead moved while keys flowed). */
  keyIssuers: number;
}

export interface MasterSimResult {
  readonly sim: SimResult;
  readonly master: MasterSimStats;
}

/**
 * How long the workload waits for a volume id or a raise on a live master: past the propose
 * timeout (raftProposeTimeoutMs, 5 s = 500 ticks of 10 ms). One on a crashed master never answers.
 */
const opWaitTicksMax = 510;

export class MasterSimulation implements Workload {
  private readonly o: MasterSimOptions;
  private readonly cluster: SimCluster<MasterApp>;
  /** Every file key handed out -> who handed it out (node, term, tick). */
  private readonly keys = new Map<number, string>();
  /** Every volume id handed out -> who. */
  private readonly volumeIds = new Map<number, string>();
  /** Volume ids a heartbeat reported and the cluster raised its max to: never to be handed out after. */
  private readonly raised = new Set<number>();
  private readonly issuers = new Set<string>();
  private maxKey = 0;
  private maxVolumeId = 0;
  /** Ticks by which the volume-id and raise operations in flight are given up. */
  private readonly inFlight = new Set<{ until: number; app: MasterApp }>();
  readonly stats: MasterSimStats = {
    keysHandedOut: 0,
    assignsWithoutKeys: 0,
    volumeIds: 0,
    raises: 0,
    floorsObserved: 0,
    sequencerStarts: 0,
    keyIssuers: 0,
  };

  constructor(o: MasterSimOptions, trace: TraceSink | null = null) {
    this.o = o;
    this.cluster = new SimCluster<MasterApp>(o.sim, (opts, _hooks) => this.masterApp(opts), trace);
  }

  async run(): Promise<MasterSimResult> {
    const sim = await this.cluster.run(this);
    this.stats.keyIssuers = this.issuers.size;
    return { sim, master: this.stats };
  }

  private masterApp(opts: SimRuntimeOptions): MasterApp {
    const cs = new RaftClusterState(opts);
    const state = this.o.bug === "none" ? cs : new ReserveBeforeCommit(cs, this.o.bug);
    const sequencer = new Sequencer(state, silentLogger(), {
      blockSize: this.o.blockSize,
      refillThreshold: this.o.refillThreshold,
    });
    // leadership.ts: a master that becomes leader starts its sequencer (reserves a block).
    cs.runtime.on("role-changed", ({ role }) => {
      if (role !== "leader") return;
      this.stats.sequencerStarts++;
      sequencer.start().catch(() => undefined);
    });
    return { runtime: cs.runtime as RaftRuntime<unknown>, cs, state, sequencer, start: () => cs.open() };
  }

  private get now(): number {
    return this.cluster.now;
  }

  /** The masters that believe they lead right now (a deposed one may, until its lease runs out). */
  private leaders(): Array<SimNode<MasterApp>> {
    return this.cluster.upNodes().filter((n) => n.app?.cs.runtime.isLeader() === true);
  }

  private who(node: SimNode<MasterApp>): string {
    const term = node.runtime?.core?.basicStatus().term ?? 0;
    return `${node.id} (term ${term}, t=${this.now})`;
  }

  onTick(safety: boolean): void {
    if (!safety) return;
    const prng = this.cluster.prng;
    for (const node of this.leaders()) {
      if (prng.chance(this.o.assignRate)) this.assign(node, prng.range(1, Math.min(3, this.o.blockSize)));
      if (prng.chance(this.o.volumeIdRate)) this.nextVolumeId(node);
      if (prng.chance(this.o.raiseRate)) this.raise(node);
      if (prng.chance(this.o.observeRate) && this.maxKey > 0) {
        // A heartbeat reports the largest key a volume server holds: one that was handed out.
        (node.app as MasterApp).sequencer.observe(this.maxKey - prng.int(Math.min(this.maxKey, 5)));
        this.stats.floorsObserved++;
      }
    }
  }

  /** The assigner's synchronous path: keys from the block in hand, or none (a refill starts). */
  private assign(node: SimNode<MasterApp>, count: number): void {
    const first = (node.app as MasterApp).sequencer.tryTake(count);
    if (first < 0) {
      this.stats.assignsWithoutKeys++;
      return;
    }
    const who = this.who(node);
    for (let k = first; k < first + count; k++) {
      const earlier = this.keys.get(k);
      if (earlier !== undefined)
        throw new SafetyViolation("unique file keys", `key ${k} handed out by ${who}, and before by ${earlier}`);
      this.keys.set(k, who);
      this.maxKey = Math.max(this.maxKey, k);
    }
    this.issuers.add(node.id);
    this.stats.keysHandedOut += count;
    this.cluster.log(`${node.id} assigned keys ${first}..${first + count - 1}`);
  }

  private track(node: SimNode<MasterApp>, op: Promise<unknown>): void {
    const entry = { until: this.now + opWaitTicksMax, app: node.app as MasterApp };
    this.inFlight.add(entry);
    op.finally(() => this.inFlight.delete(entry)).catch(() => undefined);
  }

  private nextVolumeId(node: SimNode<MasterApp>): void {
    const op = (node.app as MasterApp).state.nextVolumeId().then((id) =>
      this.cluster.guard(() => {
        const who = this.who(node);
        const earlier = this.volumeIds.get(id);
        if (earlier !== undefined)
          throw new SafetyViolation(
            "unique volume ids",
            `volume id ${id} handed out by ${who}, and before by ${earlier}`,
          );
        if (this.raised.has(id))
          throw new SafetyViolation(
            "unique volume ids",
            `volume id ${id} handed out by ${who} after a heartbeat had it`,
          );
        this.volumeIds.set(id, who);
        this.maxVolumeId = Math.max(this.maxVolumeId, id);
        this.stats.volumeIds++;
        this.cluster.log(`${node.id} allocated volume id ${id}`);
      }),
    );
    this.track(node, op);
  }

  /** A heartbeat reports a volume id: one handed out, or one above every id so far (made elsewhere). */
  private raise(node: SimNode<MasterApp>): void {
    const prng = this.cluster.prng;
    const fresh = prng.chance(0.5);
    const id = fresh ? this.maxVolumeId + prng.range(1, 3) : prng.range(1, Math.max(1, this.maxVolumeId));
    const op = (node.app as MasterApp).state.raiseMaxVolumeId(id).then(() =>
      this.cluster.guard(() => {
        this.stats.raises++;
        // Once the raise committed, no master may hand out this id (or any below the new max).
        if (fresh && !this.volumeIds.has(id)) this.raised.add(id);
        this.cluster.log(`${node.id} raised the max volume id to ${id}`);
      }),
    );
    this.track(node, op);
  }

  idle(): boolean {
    const live = new Set(this.cluster.upNodes().map((n) => n.app));
    for (const op of this.inFlight) if (op.until > this.now && live.has(op.app)) return false;
    return true;
  }

  describePending(): string {
    return `${this.inFlight.size} master ops`;
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
