// gRPC calls a follower passes on to the leader (Assign, LookupVolume, the Raft membership calls),
// one client per leader, routed the same way as HTTP requests (leader-route.ts).
import { Seaweed } from "../../gen/master_pb.js";
import { createClient, GrpcCallError, type ServiceClient } from "../../grpc/adapter.js";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { grpcAddress, parseServerAddress } from "../../common/server-address.js";
import { forwardAttemptsMax, forwardTimeoutMs, retryAfterSec } from "../limits.js";
import type { ClusterView } from "../state/cluster-view.js";
import { FORWARDED_HEADER, neverDelivered } from "./leader-forwarder.js";
import { LeaderInFlight } from "./leader-in-flight.js";
import { viaLeader } from "./leader-route.js";

type RemoteCall<T> = (
  c: ServiceClient<typeof Seaweed>,
  opts: { timeoutMs: number; metadata: Record<string, string>; signal: AbortSignal },
) => Promise<T>;

/** A call that no connection carried: it can be sent to the next leader. */
function neverConnected(err: unknown): boolean {
  return (err instanceof GrpcCallError && err.neverConnected) || neverDelivered(err);
}

export class LeaderGrpcClients {
  private readonly clients = new Map<string, ServiceClient<typeof Seaweed>>();
  private readonly inFlight = new LeaderInFlight();

  constructor(private readonly cluster: ClusterView) {}

  /**
   * Runs `remote` against the leader's Seaweed service, or `local` if this master leads by the
   * time a leader is known; a 503-mapped error when none is known within leaderWaitMs. `visited`
   * lists the masters that already passed this call on (the x-weed-forwarded-by metadata).
   */
  call<T>(remote: RemoteCall<T>, local: () => Promise<T>, visited: readonly string[] = []): Promise<T> {
    const metadata = { [FORWARDED_HEADER]: [...visited, this.cluster.self].join(",") };
    return viaLeader(this.cluster, {
      visited,
      attemptsMax: forwardAttemptsMax,
      local,
      remote: (leader) => this.remote(leader, remote, metadata),
      resendable: (err) => neverConnected((err as Error).cause),
    });
  }

  /** Fails the calls still waiting for `leader`'s answer: it is no longer the leader. */
  forget(leader: string): void {
    this.inFlight.abandon(leader);
  }

  private async remote<T>(leader: string, remote: RemoteCall<T>, metadata: Record<string, string>): Promise<T> {
    const ticket = this.inFlight.track(leader);
    try {
      return await remote(this.client(leader), { timeoutMs: forwardTimeoutMs, metadata, signal: ticket.signal });
    } catch (err) {
      if (ticket.signal.aborted) throw ticket.signal.reason as WeedError;
      const why = `forwarding to the leader ${leader} failed: ${(err as Error).message}`;
      throw new WeedError(ErrorCode.UNAVAILABLE, why, { cause: err, retryAfterSec });
    } finally {
      ticket.release();
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
