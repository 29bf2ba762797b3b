// The one way a follower routes what only the leader can do, for HTTP and gRPC alike: wait
// (bounded) for a leader instead of failing during an election or hand-off, serve the request
// itself if it becomes the leader meanwhile, and send it again to the next leader when the last
// one could not even be connected to (nothing reached it, so nothing can have taken effect).
import type { ClusterView } from "../state/cluster-view.js";
import { noLeaderError } from "../state/cluster-view.js";
import { forwardHopsMax, leaderWaitMs } from "../limits.js";

export interface LeaderRoute<T> {
  /** Masters the request already passed (its forwarding header or metadata). */
  visited: readonly string[];
  /** The client's signal: the wait ends when it goes away. */
  signal?: AbortSignal | undefined;
  /** Attempts in all; 1 for a request that cannot be sent twice (a streamed body). */
  attemptsMax: number;
  /** Serves the request here: this master leads. */
  local(): Promise<T> | T;
  /** Sends the request to `leader`. */
  remote(leader: string): Promise<T>;
  /** True when a failed remote attempt never reached the leader and may be sent to the next one. */
  resendable(err: unknown): boolean;
}

/** Runs `route` against the leader known within leaderWaitMs, or answers 503 (NOT_LEADER). */
export async function viaLeader<T>(cluster: ClusterView, route: LeaderRoute<T>): Promise<T> {
  if (route.visited.length >= forwardHopsMax) throw noLeaderError();
  const timeout = AbortSignal.timeout(leaderWaitMs);
  const signal = route.signal === undefined ? timeout : AbortSignal.any([timeout, route.signal]);
  let unreachable: string | null = null;
  for (let attempt = 1; ; attempt++) {
    let target: string;
    try {
      target = await cluster.leaderKnown({ signal, avoid: unreachable, visited: route.visited });
    } catch (err) {
      throw timeout.aborted ? noLeaderError() : err;
    }
    if (target === cluster.self) return route.local();
    try {
      return await route.remote(target);
    } catch (err) {
      if (attempt >= route.attemptsMax || signal.aborted || !route.resendable(err)) throw err;
      unreachable = target;
    }
  }
}
