// The operator of the master simulation (master-sim.ts): membership changes and leadership
// transfers through the leader's MembershipManager (src/master/state/membership.ts), as the
// /cluster/raft/* handlers call it, instead of the runtime's API. Its checkers:
// - one Raft membership change at a time per manager: the manager's queue never lets two of its
//   calls into the runtime overlap, even when two operators ask at once (the operator sometimes
//   does);
// - no change that leaves the group without a reachable majority: when the manager says a remove
//   or an add went through, the voters it leaves behind must include a majority that the leader
//   could have heard from within its liveness window (two election timeouts) while it checked. A
//   voter the leader had not heard from for the whole operation plus that window was never alive
//   to it; if such voters leave fewer than a majority, the manager should have refused.
import { ErrorCode, WeedError } from "../../src/common/errors.js";
import type { MembershipAnswer, MembershipRuntime } from "../../src/master/state/membership.js";
import { majority } from "../../src/master/state/membership.js";
import type { MembershipManager } from "../../src/master/state/membership.js";
import { SafetyViolation } from "../../src/raft/sim/checkers.js";
import type { SimCluster, SimApp, SimNode } from "../../src/raft/sim/cluster.js";
import type { OpOptions, RaftRuntime, RuntimeStatus } from "../../src/raft/runtime/runtime.js";
import type { NodeId } from "../../src/raft/types.js";
import { simTickMs } from "../../src/raft/sim/options.js";

/** Member ids are server addresses to the manager: node "n1" is master "n1:9333". */
const memberPort = ":9333";
export function memberId(node: NodeId): string {
  return `${node}${memberPort}`;
}
function nodeOf(member: string): NodeId {
  return member.endsWith(memberPort) ? member.slice(0, -memberPort.length) : member;
}

/**
 * A deliberately broken manager, to prove the quorum checker notices: its runtime reports every
 * member as heard from just now, so the manager's reachability check always passes.
 */
export type MembershipBug = "none" | "members-always-alive";

/** The manager's view of one runtime: ids as addresses, and a watch on overlapping changes. */
export class SimMembershipRuntime implements MembershipRuntime {
  private active = 0;

  constructor(
    private readonly rt: RaftRuntime<unknown>,
    private readonly bug: MembershipBug,
    private readonly fail: (err: unknown) => void,
  ) {}

  get electionTimeoutMs(): number {
    return this.rt.electionTimeoutMs;
  }

  status(): RuntimeStatus {
    const s = this.rt.status();
    const members = s.members.map((m) => ({
      ...m,
      id: memberId(m.id),
      lastHeardMs: this.bug === "members-always-alive" && m.id !== s.id ? 0 : m.lastHeardMs,
    }));
    return { ...s, leader: s.leader === null ? null : memberId(s.leader), members };
  }

  addLearner(id: string, opts?: OpOptions): ReturnType<MembershipRuntime["addLearner"]> {
    return this.one(`add learner ${id}`, () => this.rt.addLearner(nodeOf(id), opts));
  }
  promote(id: string, opts?: OpOptions): ReturnType<MembershipRuntime["promote"]> {
    return this.one(`promote ${id}`, () => this.rt.promote(nodeOf(id), opts));
  }
  removeMember(id: string, opts?: OpOptions): ReturnType<MembershipRuntime["removeMember"]> {
    return this.one(`remove ${id}`, () => this.rt.removeMember(nodeOf(id), opts));
  }
  async transferLeadership(to?: string, opts?: OpOptions): Promise<string> {
    const leader = await this.one(`transfer to ${to ?? "any"}`, () =>
      this.rt.transferLeadership(to === undefined ? undefined : nodeOf(to), opts),
    );
    return memberId(leader);
  }

  private async one<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.active > 0)
      this.fail(new SafetyViolation("one membership change at a time", `${what} started while another was under way`));
    this.active++;
    try {
      return await op();
    } finally {
      this.active--;
    }
  }
}

export interface OperatorOptions {
  readonly confChangeRate: number;
  readonly transferRate: number;
  /** Per operation: a second one is sent to the same manager at once (two operators). */
  readonly concurrentRate: number;
  /** Nodes a run may create in all, joiners included. */
  readonly nodesMax: number;
  /** Ticks an operation may take (the manager's timeouts, two operations queued): given up after. */
  readonly opTicksMax: number;
}

export interface OperatorStats {
  changesAsked: number;
  changesMade: number;
  refused: number;
  handedOff: number;
  transfers: number;
  opFailures: number;
}

/** What the operator needs of a master incarnation. */
export interface OperatorApp extends SimApp {
  readonly membership: MembershipManager;
}

export class MembershipOperator<A extends OperatorApp> {
  readonly stats: OperatorStats = {
    changesAsked: 0,
    changesMade: 0,
    refused: 0,
    handedOff: 0,
    transfers: 0,
    opFailures: 0,
  };
  /** Operations under way: given up at `until` (their timeouts' sum) or when the leader asked dies. */
  private readonly inFlight = new Set<{ until: number; node: SimNode<A>; app: A; what: string }>();
  private created: number;

  constructor(
    private readonly cluster: SimCluster<A>,
    private readonly o: OperatorOptions,
  ) {
    this.created = cluster.nodes.size;
  }

  get busy(): boolean {
    for (const op of this.inFlight) if (op.until > this.cluster.now && op.node.app === op.app) return true;
    return false;
  }

  onTick(): void {
    this.checkBounds();
    const leader = this.cluster.currentLeader();
    if (!this.cluster.safety || this.busy || leader?.app == null) return;
    const prng = this.cluster.prng;
    if (prng.chance(this.o.transferRate)) this.transfer(leader);
    else if (prng.chance(this.o.confChangeRate)) this.change(leader);
    else return;
    if (prng.chance(this.o.concurrentRate)) this.transfer(leader);
  }

  /** The manager's waits are bounded: an operation on a live leader settles within opTicksMax. */
  private checkBounds(): void {
    for (const op of this.inFlight) {
      if (op.until >= this.cluster.now || op.node.app !== op.app) continue;
      throw new SafetyViolation("bounded membership change", `${op.what} still waits at t=${this.cluster.now}`);
    }
  }

  private members(leader: SimNode<A>): { voters: NodeId[]; learners: NodeId[] } {
    const m = (leader.runtime as RaftRuntime<unknown>).status().members;
    const ids = (s: string): NodeId[] => m.filter((x) => x.suffrage === s).map((x) => x.id);
    return { voters: ids("voter"), learners: ids("learner") };
  }

  private change(leader: SimNode<A>): void {
    const prng = this.cluster.prng;
    const { voters, learners } = this.members(leader);
    const mgr = (leader.app as A).membership;
    const learner = learners[0];
    // Now and then a removal below the cluster's size: quorum refusals get their turn.
    const removeAnyway = voters.length > 1 && prng.chance(0.25);
    if (learner !== undefined && !removeAnyway) {
      this.run(leader, `add ${learner} (promote)`, mgr.add(memberId(learner)));
    } else if (voters.length < this.cluster.opts.clusterSize && !removeAnyway) {
      const joiner = this.joiner(voters, learners);
      if (joiner === null) return;
      const voter = prng.chance(0.8);
      this.run(leader, `add ${joiner}${voter ? "" : " as a learner"}`, mgr.add(memberId(joiner), { voter }));
    } else {
      const victim = prng.pick(voters);
      this.run(leader, `remove ${victim}`, mgr.remove(memberId(victim)));
    }
  }

  /** A node never a member yet (its disk is empty), or a new one within the run's budget. */
  private joiner(voters: NodeId[], learners: NodeId[]): NodeId | null {
    for (const node of this.cluster.nodes.values()) {
      const member = voters.includes(node.id) || learners.includes(node.id);
      if (!member && !node.retired && node.up && node.disk.lastIndex() === 0) return node.id;
    }
    if (this.created >= this.o.nodesMax) return null;
    const id = `n${++this.created}`;
    this.cluster.log(`operator: started ${id} (joining)`);
    this.cluster.createNode(id, null);
    return id;
  }

  private transfer(leader: SimNode<A>): void {
    const { voters } = this.members(leader);
    const prng = this.cluster.prng;
    const to = prng.chance(0.5) ? prng.pick(voters) : undefined;
    this.stats.transfers++;
    const what = `transfer to ${to ?? "the most up-to-date voter"}`;
    this.run(leader, what, (leader.app as A).membership.transfer(to === undefined ? undefined : memberId(to)));
  }

  private run(leader: SimNode<A>, what: string, op: Promise<MembershipAnswer | { handedOffTo: string }>): void {
    const startedAt = this.cluster.now;
    const entry = { until: startedAt + this.o.opTicksMax, node: leader, app: leader.app as A, what };
    this.inFlight.add(entry);
    this.stats.changesAsked++;
    this.cluster.log(`operator: ${leader.id} ${what}`);
    op.then(
      (answer) =>
        this.cluster.guard(() => {
          this.cluster.log(`operator: ${leader.id} ${what}: ${"result" in answer ? answer.result : "handed off"}`);
          if (!("result" in answer)) this.stats.handedOff++;
          else this.made(leader.id, entry.app, what, answer, startedAt);
        }),
      (err: unknown) => this.failed(leader, what, err),
    ).finally(() => this.inFlight.delete(entry));
  }

  private failed(leader: SimNode<A>, what: string, err: unknown): void {
    if (!(err instanceof WeedError)) return this.cluster.fail(err);
    if (err.code === ErrorCode.CONFLICT) this.stats.refused++;
    else this.stats.opFailures++;
    this.cluster.log(`operator: ${leader.id} ${what}: ${err.code} ${err.message}`);
  }

  /**
   * A change went through: the voters it left must hold a majority the leader could have heard
   * from within its liveness window (2 election timeouts) at some check during the operation. The
   * leader's runtime says (honestly: the planted bug lies only to the manager) how long ago it last
   * heard each; one silent for longer than the whole operation plus the window was never "alive".
   */
  private made(leader: NodeId, app: A, what: string, answer: MembershipAnswer, startedAt: number): void {
    if (answer.result !== "added" && answer.result !== "removed") return;
    this.stats.changesMade++;
    const rt = app.runtime;
    const silentMs = (this.cluster.now - startedAt + 1) * simTickMs + 2 * rt.electionTimeoutMs;
    const heard = new Map(rt.status().members.map((m) => [m.id, m.lastHeardMs]));
    const voters = answer.voters.map(nodeOf);
    const unheard = voters.filter((v) => {
      if (v === leader) return false;
      const ms = heard.get(v);
      return ms === undefined || ms === null || ms > silentMs;
    });
    if (voters.length - unheard.length >= majority(voters.length)) return;
    throw new SafetyViolation(
      "membership keeps a quorum",
      `${leader} ${what} (asked at t=${startedAt}) left voters ${voters.join(",")}, of which the leader ` +
        `had not heard ${unheard.join(",")} for over ${silentMs} ms: fewer than a majority can commit`,
    );
  }
}
