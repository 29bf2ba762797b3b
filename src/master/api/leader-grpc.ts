// gRPC calls a follower passes on to the leader (Assign, LookupVolume, the Raft membership calls),
// one client per leader. Like the HTTP forwarder it waits (bounded) through an election for a
// leader, serves the call itself if it becomes the leader meanwhile, and sends a call again to the
// next leader when the last one could not even be connected to.
import { status as GrpcStatus } from "@grpc/grpc-js";
import { Seaweed } from "../../gen/master_pb.js";
import { createClient, GrpcCallError, type ServiceClient } from "../../grpc/adapter.js";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { grpcAddress, parseServerAddress } from "../../common/server-address.js";
import {
  forwardAttemptsMax,
  forwardHopsMax,
  forwardTimeoutMs,
  leaderPollMs,
  leaderWaitMs,
  retryAfterSec,
} from "../limits.js";
import { waitForLeader, type ClusterView } from "../state/cluster-view.js";
import { FORWARDED_HEADER, neverDelivered, noLeaderError } from "./leader-forwarder.js";

/** grpc-js's answer when no connection could be made: the call never reached the leader. */
function neverConnected(err: unknown): boolean {
  return (
    (err instanceof GrpcCallError &&
      err.code === GrpcStatus.UNAVAILABLE &&
      /No connection established|ECONNREFUSED/.test(err.message)) ||
    neverDelivered(err)
  );
}

export class LeaderGrpcClients {
  private readonly clients = new Map<string, ServiceClient<typeof Seaweed>>();

  constructor(private readonly cluster: ClusterView) {}

  /**
   * Runs `remote` against the leader's Seaweed service, or `local` if this master leads by the
   * time a leader is known; a 503-mapped UNAVAILABLE when none is known within leaderWaitMs.
   * `visited` lists the masters that already passed this call on (the x-weed-forwarded-by
   * metadata): never back to one of them, and at most forwardHopsMax hops.
   */
  async call<T>(
    remote: (
      c: ServiceClient<typeof Seaweed>,
      opts: { timeoutMs: number; metadata: Record<string, string> },
    ) => Promise<T>,
    local: () => Promise<T>,
    visited: readonly string[] = [],
  ): Promise<T> {
    if (visited.length >= forwardHopsMax) throw noLeaderError();
    const deadline = performance.now() + leaderWaitMs;
    const metadata = { [FORWARDED_HEADER]: [...visited, this.cluster.self].join(",") };
    let unreachable: string | null = null;
    for (let attempt = 1; ; attempt++) {
      const leader = await waitForLeader(this.cluster, {
        deadline,
        pollMs: leaderPollMs,
        avoid: unreachable,
        visited,
        onTimeout: noLeaderError,
      });
      if (leader === this.cluster.self) return local();
      try {
        return await remote(this.client(leader), { timeoutMs: forwardTimeoutMs, metadata });
      } catch (err) {
        if (neverConnected(err) && attempt < forwardAttemptsMax && performance.now() < deadline) {
          unreachable = leader;
          continue;
        }
        throw new WeedError(
          ErrorCode.UNAVAILABLE,
          `forwarding to the leader ${leader} failed: ${(err as Error).message}`,
          { cause: err, retryAfterSec },
        );
      }
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(leader: string): ServiceClient<typeof Seaweed> {
    let c = this.clients.get(leader);
    if (c === undefined) {
      c = createClient(Seaweed, grpcAddress(parseServerAddress(leader)));
      this.clients.set(leader, c);
    }
    return c;
  }
}
