// gRPC calls a follower passes on to the leader (Assign, LookupVolume), one client per leader.
import { Seaweed } from "../gen/master_pb.js";
import { createClient, type ServiceClient } from "../grpc/adapter.js";
import { ErrorCode, WeedError } from "../common/errors.js";
import { grpcAddress, parseServerAddress } from "../common/server-address.js";
import { forwardTimeoutMs, retryAfterSec } from "./limits.js";
import type { ClusterView } from "./cluster-view.js";
import { noLeaderError } from "./leader-forwarder.js";

export class LeaderGrpcClients {
  private readonly clients = new Map<string, ServiceClient<typeof Seaweed>>();

  constructor(private readonly cluster: ClusterView) {}

  /** Runs `call` against the leader's Seaweed service; a prompt UNAVAILABLE when there is none. */
  async call<T>(call: (c: ServiceClient<typeof Seaweed>, opts: { timeoutMs: number }) => Promise<T>): Promise<T> {
    const leader = this.cluster.leader();
    if (leader === null || leader === this.cluster.self) throw noLeaderError();
    try {
      return await call(this.client(leader), { timeoutMs: forwardTimeoutMs });
    } catch (err) {
      throw new WeedError(ErrorCode.UNAVAILABLE, `forwarding to the leader ${leader} failed: ${(err as Error).message}`, { cause: err, retryAfterSec });
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
