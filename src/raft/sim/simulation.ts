// A deterministic simulation of a whole Raft group from one seed (in the spirit of TigerBeetle's
// VOPR): real runtimes (cluster.ts) on a simulated clock, network and disks, crashes, power losses
// and restarts, a workload of client requests and linearizable reads, membership changes and
// leadership transfers, and checkers that run throughout. Phase 1 ("safety") injects faults;
// phase 2 ("liveness") heals everything and requires a leader and the commit of every pending
// request within a bounded number of ticks.
//
// Clients live next to the nodes (no client network): a client proposes through a node's runtime
// and the request is acknowledged when propose() resolves with the state machine's answer; an
// outcome-unknown error (or no answer in time) makes it retry with the same request id, which the
// state machine de-duplicates. Acknowledged requests must be applied exactly once at the end.
import { NotLeaderError, ProposalDroppedError, RaftError } from "../errors.js";
import { RaftRuntime } from "../runtime/runtime.js";
import type { NodeId } from "../types.js";
import { SafetyViolation } from "./checkers.js";
import {
  type SimApp,
  SimCluster,
  type SimNode,
  type SimResult,
  type SimRuntimeOptions,
  type TraceSink,
  type Workload,
} from "./cluster.js";
import { type SimOptions, simTickMs } from "./options.js";
import type { PositionHooks } from "./state-machine.js";
import { type Command, type SimAnswer, SimStateMachine, encodeCommand, requestId } from "./state-machine.js";

export { LivenessViolation, type SimResult, type SimStats, type TraceSink } from "./cluster.js";

interface Request {
  readonly command: Command;
  readonly reqId: string;
  target: NodeId;
  nextTryAt: number;
  /** The attempt in flight: where, since when, and its number (late answers to older ones are ignored). */
  waiting: { node: NodeId; since: number; attempt: number } | null;
  attempts: number;
}

interface Client {
  readonly id: number;
  seq: number;
  request: Request | null;
  leaderHint: NodeId | null;
}

/** The KV node: a runtime with the simulator's state machine. */
interface KvApp extends SimApp {
  readonly runtime: RaftRuntime<SimAnswer>;
  readonly sm: SimStateMachine;
}

function kvApp(opts: SimRuntimeOptions, hooks: PositionHooks): KvApp {
  const sm = new SimStateMachine(hooks);
  const runtime = new RaftRuntime<SimAnswer>({ ...opts, stateMachine: sm });
  return { runtime, sm, start: () => runtime.start() };
}

export class Simulation implements Workload {
  private readonly opts: SimOptions;
  private readonly cluster: SimCluster<KvApp>;
  private readonly clients: Client[] = [];
  /** Request id -> the log index at which it was acknowledged. */
  private readonly acked = new Map<string, number>();
  private readonly issued = new Set<string>();
  private maxAckedIndex = 0;
  private readSeq = 0;

  constructor(opts: SimOptions, trace: TraceSink | null = null) {
    this.opts = opts;
    this.cluster = new SimCluster<KvApp>(opts, kvApp, trace);
    for (let i = 0; i < opts.clients; i++) this.clients.push({ id: i + 1, seq: 0, request: null, leaderHint: null });
  }

  run(): Promise<SimResult> {
    return this.cluster.run(this);
  }

  private get now(): number {
    return this.cluster.now;
  }

  private log(line: string): void {
    this.cluster.log(line);
  }

  onTick(safety: boolean): void {
    this.runClients(safety);
    if (safety) this.runReads();
  }

  idle(): boolean {
    return this.clients.every((c) => c.request === null);
  }

  describePending(): string {
    return this.clients
      .filter((c) => c.request !== null)
      .map((c) => c.request?.reqId)
      .join(",");
  }

  finalChecks(leaderNode: SimNode<SimApp>): void {
    const leader = leaderNode as unknown as SimNode<KvApp>;
    const effects = (leader.app as KvApp).sm.effects;
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

  // ---------------------------------------------------------------------------------------------
  // Clients

  private runClients(safety: boolean): void {
    for (const c of this.clients) {
      if (c.request === null) {
        if (!safety || !this.cluster.prng.chance(this.opts.requestRate)) continue;
        c.seq++;
        const command = { client: c.id, seq: c.seq };
        c.request = {
          command,
          reqId: requestId(command),
          target: c.leaderHint ?? this.cluster.randomNodeId(),
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
      // No answer (its node crashed, or the answer is slow): the outcome is unknown. Retry with
      // the same request id (de-duplicated on apply).
      this.log(`client c${c.id} timed out on ${r.reqId}; retrying`);
      r.waiting = null;
      r.target = this.cluster.randomNodeId();
    }
    if (this.now < r.nextTryAt) return;
    const runtime = this.cluster.nodes.get(r.target)?.runtime;
    if (runtime == null) {
      r.target = this.cluster.randomNodeId();
      r.nextTryAt = this.now + 1;
      return;
    }
    const attempt = ++r.attempts;
    r.waiting = { node: r.target, since: this.now, attempt };
    this.cluster.stats.proposals++;
    this.log(`client c${c.id} proposes ${r.reqId} on ${r.target}`);
    const timeoutMs = this.opts.requestTimeoutTicks * simTickMs;
    (runtime as RaftRuntime<SimAnswer>).propose(encodeCommand(r.command), { timeoutMs }).then(
      (answer) => this.cluster.guard(() => this.acknowledge(c, r, answer)),
      (err: unknown) => this.cluster.guard(() => this.proposeFailed(c, r, attempt, err)),
    );
  }

  private acknowledge(c: Client, r: Request, answer: SimAnswer): void {
    if (c.request !== r) return; // Another attempt was acknowledged first.
    if (answer.reqId !== r.reqId)
      throw new SafetyViolation("integrity", `${r.reqId} was answered with ${answer.reqId}'s result`);
    this.acked.set(r.reqId, answer.index);
    this.maxAckedIndex = Math.max(this.maxAckedIndex, answer.index);
    this.cluster.stats.acked++;
    c.request = null;
    this.log(`client c${c.id} acknowledged ${r.reqId} at ${answer.index}`);
  }

  private proposeFailed(c: Client, r: Request, attempt: number, err: unknown): void {
    if (c.request !== r || r.waiting?.attempt !== attempt) return;
    r.waiting = null;
    const prng = this.cluster.prng;
    if (err instanceof NotLeaderError) {
      r.target = err.leader ?? this.cluster.randomNodeId();
      c.leaderHint = err.leader;
      r.nextTryAt = this.now + (err.leader === null ? prng.range(1, this.opts.electionTicks) : 1);
    } else if (err instanceof ProposalDroppedError) {
      r.nextTryAt = this.now + prng.range(1, this.opts.electionTicks);
    } else if (err instanceof RaftError) {
      // Leadership lost, timed out, or the node is not running: outcome unknown, retry elsewhere.
      this.log(`client c${c.id}: ${r.reqId}: ${err.name}; retrying`);
      r.target = this.cluster.randomNodeId();
      r.nextTryAt = this.now + 1;
    } else {
      throw err;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Linearizable reads (ReadIndex, §6.4) through a random node's runtime

  private runReads(): void {
    if (!this.cluster.prng.chance(this.opts.readRate)) return;
    const up = this.cluster.upNodes();
    if (up.length === 0) return;
    const node = this.cluster.prng.pick(up);
    const ctx = `read${++this.readSeq}`;
    // The read point must cover every write acknowledged before the read started.
    const minIndex = this.maxAckedIndex;
    const timeoutMs = this.opts.requestTimeoutTicks * simTickMs;
    (node.runtime as RaftRuntime<unknown>).readIndex({ timeoutMs }).then(
      (index) =>
        this.cluster.guard(() => {
          if (index < minIndex)
            throw new SafetyViolation(
              "linearizable read",
              `${node.id} served ${ctx} at index ${index}, but index ${minIndex} was acknowledged before it started`,
            );
          this.cluster.stats.readsServed++;
          this.log(`${node.id} served read ${ctx} at ${index}`);
        }),
      (err: unknown) => {
        if (!(err instanceof RaftError)) this.cluster.fail(err);
      },
    );
  }
}
