// A follower's requests to a leader that stops answering: once the leader changes they fail
// within leaderChangeGraceMs (1 s) as "outcome unknown", over HTTP and gRPC alike, instead of
// waiting out forwardTimeoutMs (30 s); an old leader that still answers within the grace is heard.
import { EventEmitter } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AssignRequestSchema } from "../../../src/gen/master_pb.js";
import { LeaderForwarder } from "../../../src/master/api/leader-forwarder.js";
import { LeaderGrpcClients } from "../../../src/master/api/leader-grpc.js";
import { RaftClusterView } from "../../../src/master/state/cluster-view.js";
import type { RaftRuntimeEvents } from "../../../src/raft/runtime/index.js";
import { waitFor } from "../../helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An address that accepts connections and then says nothing, as a hung (SIGSTOPped) leader. */
async function silentLeader(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((s) => {
    sockets.add(s);
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A follower's HTTP front: every request is forwarded to `leader`, its failure answered as JSON. */
async function follower(forwarder: LeaderForwarder, leader: string): Promise<number> {
  const server: Server = createServer((req, res) => {
    forwarder.forward(req, res, leader).catch((err: Error) => {
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: err.message }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

function post(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, method: "POST", path: "/dir/assign" },
      (res: IncomingMessage) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end("x");
  });
}

/** The runtime's side of a cluster view, following a leader the test names. */
class FollowerRuntime extends EventEmitter<RaftRuntimeEvents> {
  readonly self = "127.0.0.1:1";
  private current: string | null = null;
  isLeader(): boolean {
    return false;
  }
  currentLeader(): string | null {
    return this.current;
  }
  status() {
    return { members: [], leader: this.current };
  }
  follow(leader: string): void {
    this.current = leader;
    this.emit("leader-changed", { leader, term: 2 });
  }
}

describe("requests in flight to a leader that changed", () => {
  it("an old leader that answers within the grace is heard", async () => {
    const slow: Server = createServer((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200).end('{"removed":true}'), 400);
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => slow.close(() => r())));
    const leader = `127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const forwarder = new LeaderForwarder("127.0.0.1:1");
    cleanups.push(() => forwarder.close());
    const port = await follower(forwarder, leader);
    const answer = post(port);
    await new Promise((r) => setTimeout(r, 100));
    forwarder.forget(leader);
    expect(await answer).toEqual({ status: 200, body: '{"removed":true}' });
  });

  it("HTTP forwards fail within the grace as outcome unknown", async () => {
    const leader = await silentLeader();
    const forwarder = new LeaderForwarder("127.0.0.1:1");
    cleanups.push(() => forwarder.close());
    const port = await follower(forwarder, leader);
    const answer = post(port);
    // The request reached the leader (it may act on it) and waits for an answer that never comes.
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    forwarder.forget(leader);
    const r = await answer;
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error).toMatch(/outcome unknown/);
  });

  it("gRPC calls fail within the grace as outcome unknown", async () => {
    const leader = await silentLeader();
    const runtime = new FollowerRuntime();
    const calls = new LeaderGrpcClients(new RaftClusterView(runtime.self, runtime));
    cleanups.push(() => calls.close());
    // The gRPC port is HTTP port + 10000 unless given: name the silent server's port as gRPC's.
    const [host, grpcPort] = leader.split(":") as [string, string];
    runtime.follow(`${host}:1.${grpcPort}`);
    let settled = false;
    const call = calls
      .call(
        (c, opts) => c.assign(create(AssignRequestSchema, { count: 1n }), opts),
        async () => {
          throw new Error("this master does not lead");
        },
      )
      .finally(() => (settled = true));
    call.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    const started = performance.now();
    calls.forget(`${host}:1.${grpcPort}`);
    await waitFor(() => settled, { timeoutMs: 3_000, what: "the call failed" });
    expect(performance.now() - started).toBeLessThan(3_000);
    await expect(call).rejects.toThrow(/outcome unknown/);
  });
});
