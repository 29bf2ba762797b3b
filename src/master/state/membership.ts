// Online membership changes of the masters' Raft group, done by the leader: add (as a learner that
// catches up, then promoted to voter), remove, and leadership transfer. Changes are one at a time
// (the core allows one uncommitted change; this queue keeps callers from racing for it), and each
// is checked against the voters reachable right now: a change that would leave the group without a
// reachable majority is refused with the reason instead of wedging the cluster, as etcd's
// --strict-reconfig-check does. A change to an even number of voters is made but warned about.
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { grpcAddress, httpAddress, parseServerAddress } from "../../common/server-address.js";
import { checkPeerCertificate } from "../../grpc/tls.js";
import {
  ConfChangeRejectedError,
  NotLeaderError,
  RaftTimeoutError,
  TransferRejectedError,
  type ConfChangeResult,
  type MemberStatus,
  type OpOptions,
  type RuntimeStatus,
} from "../../raft/runtime/index.js";
import {
  membershipQueueMax,
  memberCatchUpTimeoutMs,
  memberChangeTimeoutMs,
  memberProbeTimeoutMs,
  quorumCheckWaitMs,
} from "../limits.js";
import { toWeedError } from "./raft-cluster-state.js";
import { type Wakeups, wakeAll, waitUntil } from "../../common/wait-until.js";
import { type MasterClock, realMasterClock, timeoutSignal } from "./sequencer.js";

/** What the manager needs of the Raft runtime. */
export interface MembershipRuntime {
  status(): RuntimeStatus;
  readonly electionTimeoutMs: number;
  addLearner(id: string, opts?: OpOptions): Promise<ConfChangeResult>;
  promote(id: string, opts?: OpOptions): Promise<ConfChangeResult>;
  removeMember(id: string, opts?: OpOptions): Promise<ConfChangeResult>;
  transferLeadership(to?: string, opts?: OpOptions): Promise<string>;
}

export interface MembershipAnswer {
  /** What happened, in words: "added", "already a voter", "removed", "leadership transferred". */
  result: string;
  voters: string[];
  learners: string[];
  leader: string | null;
  /** Set when the change was made but leaves the group in a state worth a second look. */
  warning?: string;
}

/** remove(self) on the leader: leadership went to `leader` first; the removal is theirs to do. */
export interface HandedOff {
  handedOffTo: string;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** Two ids that reach the same server ("localhost:9333" and "127.0.0.1:9333"). */
function sameServer(a: string, b: string): boolean {
  const x = parseServerAddress(a);
  const y = parseServerAddress(b);
  return x.port === y.port && (x.host === y.host || (LOOPBACK.has(x.host) && LOOPBACK.has(y.host)));
}

/** A member id as an operator may type it; refuses what no master could be reached at. */
export function parseMemberId(raw: string | null | undefined): string {
  const id = (raw ?? "").trim();
  if (id === "")
    throw new WeedError(ErrorCode.BAD_PARAM, 'missing "id": a master\'s host:port, e.g. id=127.0.0.1:9335');
  parseServerAddress(id);
  return id;
}

function evenWarning(voters: number): string | undefined {
  if (voters % 2 !== 0) return undefined;
  return (
    `${voters} voters: an even number tolerates no more failures than ${voters - 1} ` +
    `(a majority is ${majority(voters)}); add or remove one more master`
  );
}

/** Time limits and the clock they run on; production uses limits.ts and Node's timers. */
export interface MembershipOptions {
  clock?: MasterClock;
  /** One Raft change (add learner, promote, remove, transfer). */
  changeTimeoutMs?: number;
  /** A learner answering the leader, and its promotion. */
  catchUpTimeoutMs?: number;
  /** Looking again at a failing quorum check before the change is refused. */
  quorumCheckWaitMs?: number;
}

export class MembershipManager {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private readonly clock: MasterClock;
  private readonly changeTimeoutMs: number;
  private readonly catchUpTimeoutMs: number;
  private readonly quorumCheckWaitMs: number;

  constructor(
    private readonly runtime: MembershipRuntime,
    private readonly self: string,
    private readonly log: Logger,
    /** This cluster's id (the replicated topologyId; "" before the first leader fixed it). */
    private readonly clusterId: () => string = () => "",
    /** Asks a master for its cluster id ("" none yet, null: it did not answer). */
    private readonly probe: (id: string) => Promise<string | null> = async () => null,
    options: MembershipOptions = {},
  ) {
    this.clock = options.clock ?? realMasterClock;
    this.changeTimeoutMs = options.changeTimeoutMs ?? memberChangeTimeoutMs;
    this.catchUpTimeoutMs = options.catchUpTimeoutMs ?? memberCatchUpTimeoutMs;
    this.quorumCheckWaitMs = options.quorumCheckWaitMs ?? quorumCheckWaitMs;
  }

  /**
   * Adds `id` as a voter: learner first, promoted once caught up (or only a learner, with
   * `voter: false`). Idempotent.
   */
  async add(
    raw: string | null | undefined,
    opts: { voter?: boolean; clusterId?: string | null } = {},
  ): Promise<MembershipAnswer> {
    const id = parseMemberId(raw);
    // A master whose mdir holds another cluster's log must not join: Raft would mix two histories
    // (its applied state cannot be undone by the leader's log). etcd refuses the same way.
    // The joiner says which cluster its state is from; asked by an operator, the leader asks the
    // master itself (one that does not answer yet is added and waited for).
    const theirs = opts.clusterId ?? (await this.probe(id)) ?? "";
    const ours = this.clusterId();
    if (theirs !== "" && ours !== "" && theirs !== ours) {
      throw new WeedError(
        ErrorCode.CONFLICT,
        `refused: ${id} holds the state of another cluster (${theirs}; this one is ${ours}); ` +
          "stop it, empty its -mdir and start it with -peers naming a member of this cluster",
      );
    }
    // With [grpc] mTLS, a master whose gRPC port shows another CA's certificate (or none) would
    // sit in the membership as a learner Raft can never reach: refused before it is added.
    const cert = await checkPeerCertificate(grpcAddress(parseServerAddress(id)), memberProbeTimeoutMs);
    if (cert === "stranger") {
      throw new WeedError(
        ErrorCode.UNAUTHORIZED,
        `refused: ${id}'s gRPC port does not present a certificate signed by this cluster's [grpc] ca`,
      );
    }
    return this.serialize(() => this.doAdd(id, opts.voter ?? true));
  }

  /** Removes `id`; when `id` is this leader, hands leadership over first and says to whom. */
  async remove(raw: string | null | undefined): Promise<MembershipAnswer | HandedOff> {
    const id = parseMemberId(raw);
    return this.serialize(() => this.doRemove(id));
  }

  /** Hands leadership to `to`, or to the most up-to-date voter. */
  async transfer(raw: string | null | undefined): Promise<MembershipAnswer> {
    const to = raw === null || raw === undefined || raw.trim() === "" ? undefined : parseMemberId(raw);
    return this.serialize(() => this.doTransfer(to));
  }

  private serialize<T>(op: () => Promise<T>): Promise<T> {
    if (this.queued >= membershipQueueMax) {
      return Promise.reject(
        new WeedError(ErrorCode.UNAVAILABLE, `${this.queued} membership changes are already waiting: retry later`, {
          retryAfterSec: 1,
        }),
      );
    }
    this.queued++;
    const run = this.tail.then(op, op);
    const settle = (): void => {
      this.queued--;
    };
    this.tail = run.then(settle, settle);
    return run;
  }

  private leaderStatus(): RuntimeStatus {
    const s = this.runtime.status();
    if (s.role !== "leader") throw toWeedError(new NotLeaderError(s.leader));
    return s;
  }

  /**
   * Heard from within two election timeouts (a member answers the leader every heartbeat; a busy
   * machine can delay that by a few hundred ms, a dead or hung one stays silent for good).
   */
  private alive(m: MemberStatus): boolean {
    return m.id === this.self || (m.lastHeardMs !== null && m.lastHeardMs <= 2 * this.runtime.electionTimeoutMs);
  }

  private answer(result: string, warning?: string): MembershipAnswer {
    const s = this.runtime.status();
    return {
      result,
      voters: s.members.filter((m) => m.suffrage === "voter").map((m) => m.id),
      learners: s.members.filter((m) => m.suffrage === "learner").map((m) => m.id),
      leader: s.leader,
      ...(warning === undefined ? {} : { warning }),
    };
  }

  /** The member `id` names, also when spelled another way; a different spelling is refused. */
  private find(s: RuntimeStatus, id: string): MemberStatus | undefined {
    const m = s.members.find((x) => x.id === id || sameServer(x.id, id));
    if (m !== undefined && m.id !== id)
      throw new WeedError(ErrorCode.CONFLICT, `${id} is already a member as ${m.id}: use that id`);
    return m;
  }

  /**
   * Refuses a voter set that the reachable voters (plus `extra` assumed alive) cannot commit for.
   * A leader elected a moment ago has not heard every follower yet, so a failing check is looked
   * at again for a short while before the change is refused.
   */
  private async checkQuorum(voters: readonly string[], what: string, extraAlive = 0): Promise<void> {
    const need = majority(voters.length);
    const reachable = (): string[] => {
      const byId = new Map(this.leaderStatus().members.map((m) => [m.id, m]));
      return voters.filter((v) => {
        const m = byId.get(v);
        return m !== undefined && this.alive(m);
      });
    };
    const enough = (): true | undefined => (reachable().length + extraAlive >= need ? true : undefined);
    const ok = await this.untilHeard(enough, this.quorumCheckWaitMs);
    if (ok) return;
    const alive = reachable();
    const down = voters.filter((v) => !alive.includes(v));
    throw new WeedError(
      ErrorCode.CONFLICT,
      `refused: ${what} leaves ${voters.length} voters of which ${need} must agree, ` +
        `but only ${alive.length + extraAlive} are reachable ` +
        `(not heard from within ${2 * this.runtime.electionTimeoutMs} ms: ${down.join(", ")}); ` +
        "the cluster would lose quorum. Bring those masters back or remove them first",
    );
  }

  /**
   * Looks at `check` now and again every sixth of an election timeout (when the leader hears a
   * member is not an event) until it answers or `ms` pass: false then.
   */
  private async untilHeard<T>(check: () => T | undefined, ms: number): Promise<T | false> {
    const recheckMs = this.runtime.electionTimeoutMs / 6;
    const wakeups: Wakeups = new Set();
    const recheck = this.clock.setInterval(() => wakeAll(wakeups), recheckMs);
    try {
      return await waitUntil(check, wakeups, timeoutSignal(this.clock, ms));
    } catch (err) {
      if (err instanceof DOMException && err.name === "TimeoutError") return false;
      throw err;
    } finally {
      this.clock.clearInterval(recheck);
    }
  }

  private async doAdd(id: string, voter: boolean): Promise<MembershipAnswer> {
    const s = this.leaderStatus();
    const existing = this.find(s, id);
    if (existing?.suffrage === "voter") return this.answer("already a voter");
    if (!voter) {
      if (existing !== undefined) return this.answer("already a learner");
      await this.addLearner(id);
      this.log.info({ member: id }, "membership: added as a learner");
      return this.answer("added as a learner");
    }
    const voters = s.members.filter((m) => m.suffrage === "voter").map((m) => m.id);
    // The new voter counts toward the majority only once it answers; assume it will.
    await this.checkQuorum([...voters, id], `adding ${id}`, 1);
    if (existing === undefined) {
      await this.addLearner(id);
      this.log.info({ member: id }, "membership: added as a learner; promoting once it has caught up");
    }
    const startedAt = this.clock.now();
    // Promote only a learner that answers: a voter that never does would hold a majority hostage.
    if ((await this.learnerAnswers(id)) === "voter") return this.answer("added", evenWarning(voters.length + 1));
    await this.checkQuorum([...voters, id], `promoting ${id}`);
    const left = Math.max(
      Math.min(1_000, this.catchUpTimeoutMs),
      this.catchUpTimeoutMs - (this.clock.now() - startedAt),
    );
    await this.call(`promote ${id}`, () => this.runtime.promote(id, { timeoutMs: left }));
    const warning = evenWarning(voters.length + 1);
    this.log.info(
      { member: id, voters: voters.length + 1, ...(warning === undefined ? {} : { warning }) },
      "membership: promoted to voter",
    );
    return this.answer("added", warning);
  }

  private addLearner(id: string): Promise<ConfChangeResult> {
    return this.call(`add ${id} as a learner`, () => this.runtime.addLearner(id, { timeoutMs: this.changeTimeoutMs }));
  }

  /** Waits for the learner `id` to answer the leader: "voter" when it was promoted meanwhile. */
  private async learnerAnswers(id: string): Promise<"answers" | "voter"> {
    const state = (): "answers" | "voter" | undefined => {
      const m = this.leaderStatus().members.find((x) => x.id === id);
      if (m === undefined) throw new WeedError(ErrorCode.CONFLICT, `${id} was removed while it was being added`);
      if (m.suffrage === "voter") return "voter";
      return this.alive(m) ? "answers" : undefined;
    };
    const r = await this.untilHeard(state, this.catchUpTimeoutMs);
    if (r !== false) return r;
    throw new WeedError(
      ErrorCode.TIMEOUT,
      `${id} is a learner but has not answered the leader within ${this.catchUpTimeoutMs} ms; ` +
        "start it (with -peers naming any member) and add it again",
      { retryAfterSec: 1 },
    );
  }

  private async doRemove(id: string): Promise<MembershipAnswer | HandedOff> {
    const s = this.leaderStatus();
    const m = this.find(s, id);
    if (m === undefined) {
      throw new WeedError(
        ErrorCode.NOT_FOUND,
        `${id} is not a member (members: ${s.members.map((x) => x.id).join(", ")})`,
      );
    }
    const voters = s.members.filter((x) => x.suffrage === "voter").map((x) => x.id);
    if (m.suffrage === "voter") {
      const rest = voters.filter((v) => v !== id);
      if (rest.length === 0)
        throw new WeedError(ErrorCode.CONFLICT, `refused: ${id} is the last voter; a cluster needs one`);
      await this.checkQuorum(rest, `removing ${id}`);
      if (id === this.self) {
        // Removing the leader itself would leave the group leaderless for an election timeout;
        // a transfer first makes it a hand-over of a few round trips.
        const next = await this.call("leadership transfer", () =>
          this.runtime.transferLeadership(undefined, { timeoutMs: this.changeTimeoutMs }),
        );
        this.log.info({ leader: next }, "membership: handed leadership over before removing this master");
        return { handedOffTo: next };
      }
    }
    await this.call(`remove ${id}`, () => this.runtime.removeMember(id, { timeoutMs: this.changeTimeoutMs }));
    const left = m.suffrage === "voter" ? voters.length - 1 : voters.length;
    const warning = m.suffrage === "voter" ? evenWarning(left) : undefined;
    this.log.info({ member: id, voters: left, ...(warning === undefined ? {} : { warning }) }, "membership: removed");
    return this.answer("removed", warning);
  }

  private async doTransfer(to: string | undefined): Promise<MembershipAnswer> {
    const s = this.leaderStatus();
    if (to !== undefined) {
      const m = this.find(s, to);
      if (m === undefined || m.suffrage !== "voter")
        throw new WeedError(ErrorCode.CONFLICT, `refused: ${to} is not a voter`);
      if (to === this.self) return this.answer(`${to} is already the leader`);
    }
    const leader = await this.call("leadership transfer", () =>
      this.runtime.transferLeadership(to, { timeoutMs: this.changeTimeoutMs }),
    );
    this.log.info({ leader }, "membership: leadership transferred");
    return { ...this.answer("leadership transferred"), leader };
  }

  /** Runs a Raft change, turning its typed failures into the master's. */
  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof ConfChangeRejectedError || err instanceof TransferRejectedError) {
        throw new WeedError(ErrorCode.CONFLICT, `refused: ${err.message}`, { cause: err });
      }
      if (err instanceof RaftTimeoutError) {
        throw new WeedError(
          ErrorCode.TIMEOUT,
          `${what} did not finish within its time limit; it may still take effect (check cluster.raft.ps)`,
          { cause: err, retryAfterSec: 1 },
        );
      }
      throw toWeedError(err);
    }
  }
}

/** The HTTP address of a member id ("host:port[.grpc]"). */
export function memberHttpAddress(id: string): string {
  return httpAddress(parseServerAddress(id));
}
