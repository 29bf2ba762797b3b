// What the master's edges need to know about the masters' Raft group: who leads, who we are,
// who the members are, and a way to wait until a leader is known. The HTTP, gRPC and heartbeat
// code asks this, never the Raft runtime.
import type { EventEmitter } from "node:events";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { RaftRuntimeEvents, RuntimeStatus } from "../../raft/runtime/index.js";
import { waitUntil, wakeAll, type Wakeups } from "../../common/wait-until.js";
import { leaderRecheckMs, retryAfterSec } from "../limits.js";

export interface MasterMember {
  /** "host:port" (HTTP) as -peers spells it: the Raft node id. */
  id: string;
  role: "leader" | "follower" | "learner";
}

export interface LeaderWait {
  /** Ends the wait: the caller's deadline and/or its client going away. */
  signal: AbortSignal;
  /** A leader just found unreachable: wait for another. */
  avoid?: string | null;
  /** Masters a forwarded request already passed: never one of them. */
  visited?: readonly string[];
}

export interface ClusterView {
  /** This master's id. */
  readonly self: string;
  isLeader(): boolean;
  /** The leader's id ("host:port", HTTP), or null while no leader is known. */
  leader(): string | null;
  members(): MasterMember[];
  /**
   * Resolves with this master's id once it leads, or with the leader's id once one is known that
   * is neither `avoid` nor in `visited`. Rejects with the signal's reason when it aborts first.
   */
  leaderKnown(wait: LeaderWait): Promise<string>;
}

/** The error a request gets when no leader was known within its wait. */
export function noLeaderError(): WeedError {
  return new WeedError(ErrorCode.NOT_LEADER, "no leader is elected yet: retry shortly", { retryAfterSec });
}

/** The part of the Raft runtime a view reads. */
export interface RuntimeView extends Pick<EventEmitter<RaftRuntimeEvents>, "on" | "off"> {
  isLeader(): boolean;
  currentLeader(): string | null;
  status(): Pick<RuntimeStatus, "members" | "leader">;
}

/**
 * The view of a master in a Raft group. Waiters wake on the runtime's role and leader events; a
 * slow re-check covers the one change that has no event (a leader whose loop stalled counts as
 * leading again once its ticks catch up).
 */
export class RaftClusterView implements ClusterView {
  /** Set from the runtime's role event, together with the leader's set-up (warm-up armed). */
  private leading = false;
  private readonly waiters: Wakeups = new Set();

  constructor(
    readonly self: string,
    private readonly runtime: RuntimeView,
  ) {
    runtime.on("role-changed", ({ role }) => {
      this.leading = role === "leader";
      wakeAll(this.waiters);
    });
    runtime.on("leader-changed", () => wakeAll(this.waiters));
  }

  isLeader(): boolean {
    return this.leading && this.runtime.isLeader();
  }

  leader(): string | null {
    return this.runtime.currentLeader();
  }

  members(): MasterMember[] {
    const s = this.runtime.status();
    return s.members.map((m) => ({
      id: m.id,
      role: m.suffrage === "learner" ? "learner" : m.id === s.leader ? "leader" : "follower",
    }));
  }

  leaderKnown(wait: LeaderWait): Promise<string> {
    return waitUntil(() => pickLeader(this, wait), this.waiters, wait.signal, leaderRecheckMs);
  }
}

function pickLeader(view: ClusterView, wait: LeaderWait): string | undefined {
  if (view.isLeader()) return view.self;
  const leader = view.leader();
  if (leader === null || leader === view.self || leader === wait.avoid) return undefined;
  return wait.visited?.includes(leader) === true ? undefined : leader;
}
