// A follower passing gRPC calls on to the leader: it waits for a leader, serves the call itself
// once it leads, resends a call that never reached a leader to the next one, and never sends a
// call back to a master it came from.
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { GrpcCallError } from "../../../src/grpc/adapter.js";
import { EventEmitter } from "node:events";
import type { RaftRuntimeEvents } from "../../../src/raft/runtime/index.js";
import { RaftClusterView } from "../../../src/master/state/cluster-view.js";
import { LeaderGrpcClients } from "../../../src/master/api/leader-grpc.js";

/** The runtime's side of a cluster view: tests move leadership and the view hears the events. */
class FakeRuntime extends EventEmitter<RaftRuntimeEvents> {
  readonly self = "127.0.0.1:9333";
  private leading = false;
  private current: string | null = null;
  isLeader(): boolean {
    return this.leading;
  }
  currentLeader(): string | null {
    return this.leading ? this.self : this.current;
  }
  status() {
    return { members: [], leader: this.currentLeader() };
  }
  lead(): void {
    this.leading = true;
    this.emit("role-changed", { role: "leader", term: 2 });
  }
  follow(leader: string): void {
    this.current = leader;
    this.emit("leader-changed", { leader, term: 2 });
  }
}

const clients: LeaderGrpcClients[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function setup(): { cluster: FakeRuntime; calls: LeaderGrpcClients } {
  const cluster = new FakeRuntime();
  const calls = new LeaderGrpcClients(new RaftClusterView(cluster.self, cluster));
  clients.push(calls);
  return { cluster, calls };
}

describe("LeaderGrpcClients", () => {
  it("waits through an election and answers locally when this master wins it", async () => {
    const { cluster, calls } = setup();
    setTimeout(() => cluster.lead(), 100);
    const r = await calls.call(
      async () => "remote",
      async () => "local",
    );
    expect(r).toBe("local");
  });

  it("resends a call that could not connect to the next leader, with the masters it passed", async () => {
    const { cluster, calls } = setup();
    cluster.follow("127.0.0.1:9334");
    const seen: Array<{ leader: string | null; via: string | undefined }> = [];
    const r = await calls.call(
      async (_c, opts) => {
        seen.push({ leader: cluster.currentLeader(), via: opts.metadata["x-weed-forwarded-by"] });
        if (seen.length === 1) {
          setTimeout(() => cluster.follow("127.0.0.1:9335"), 50);
          throw new GrpcCallError(
            GrpcStatus.UNAVAILABLE,
            "No connection established. Last error: connect ECONNREFUSED 127.0.0.1:19334",
          );
        }
        return "ok";
      },
      async () => "local",
      ["127.0.0.1:9336"],
    );
    expect(r).toBe("ok");
    expect(seen).toEqual([
      { leader: "127.0.0.1:9334", via: "127.0.0.1:9336,127.0.0.1:9333" },
      { leader: "127.0.0.1:9335", via: "127.0.0.1:9336,127.0.0.1:9333" },
    ]);
  });

  it("does not resend a call the leader may have run, and maps it to UNAVAILABLE", async () => {
    const { cluster, calls } = setup();
    cluster.follow("127.0.0.1:9334");
    let n = 0;
    const err = await calls
      .call(
        async () => {
          n++;
          throw new GrpcCallError(GrpcStatus.DEADLINE_EXCEEDED, "deadline exceeded");
        },
        async () => "local",
      )
      .catch((e: unknown) => e);
    expect(n).toBe(1);
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.UNAVAILABLE);
  });

  it("refuses a call that already passed the hop limit, and never sends one back where it came from", async () => {
    const { cluster, calls } = setup();
    cluster.follow("127.0.0.1:9334");
    const hops = await calls
      .call(
        async () => "remote",
        async () => "local",
        ["a:1", "b:2"],
      )
      .catch((e: unknown) => e);
    expect((hops as WeedError).code).toBe(ErrorCode.NOT_LEADER);
    // The only leader known is where the call came from: it waits (leaderWaitMs), then gives up.
    const started = performance.now();
    const back = await calls
      .call(
        async () => "remote",
        async () => "local",
        ["127.0.0.1:9334"],
      )
      .catch((e: unknown) => e);
    expect((back as WeedError).code).toBe(ErrorCode.NOT_LEADER);
    expect(performance.now() - started).toBeGreaterThan(2_000);
  }, 10_000);
});
