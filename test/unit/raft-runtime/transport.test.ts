// The gRPC transport between two nodes on loopback: order, routing checks, bounded queues
// and reconnects.
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runtimeLimits, type RuntimeLimits } from "../../../src/raft/runtime/limits.js";
import { silentLogger } from "../../../src/raft/runtime/logger.js";
import { GrpcTransport } from "../../../src/raft/runtime/transport.js";
import type { Message } from "../../../src/raft/types.js";
import { waitFor } from "../../helpers.js";

const open: GrpcTransport[] = [];
const proxies: FreezableProxy[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

/**
 * A TCP relay to `target` that can be frozen: while frozen it keeps every socket open (and accepts
 * new ones) but passes no byte either way, as a link that drops every packet does. Bytes that
 * arrive meanwhile are thrown away, as the network would.
 */
class FreezableProxy {
  frozen = false;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(target: string): Promise<{ proxy: FreezableProxy; address: string }> {
    const [host, port] = target.split(":") as [string, string];
    const server = createServer();
    const proxy = new FreezableProxy(server);
    server.on("connection", (inbound) => {
      const outbound = connect(Number(port), host);
      for (const [from, to] of [
        [inbound, outbound],
        [outbound, inbound],
      ] as const) {
        proxy.sockets.add(from);
        from.on("data", (chunk: Buffer) => {
          if (!proxy.frozen) to.write(chunk);
        });
        from.on("error", () => to.destroy());
        from.on("close", () => {
          proxy.sockets.delete(from);
          to.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const bound = server.address();
    if (bound === null || typeof bound === "string") throw new Error("proxy has no port");
    proxies.push(proxy);
    return { proxy, address: `127.0.0.1:${bound.port}` };
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const addrs = new Map<string, string>();

interface Node {
  t: GrpcTransport;
  got: Message[];
  unreachable: string[];
  lost: string[];
}

async function node(id: string, limits: Partial<RuntimeLimits> = {}, port = 0): Promise<Node> {
  const n: Node = { t: null as unknown as GrpcTransport, got: [], unreachable: [], lost: [] };
  n.t = new GrpcTransport(
    {
      id,
      listenHost: "127.0.0.1",
      listenPort: port,
      resolve: (peer) => addrs.get(peer) ?? "127.0.0.1:1",
      limits: { ...runtimeLimits, ...limits },
      log: silentLogger,
    },
    {
      onMessage: (m) => n.got.push(m),
      onUnreachable: (p) => n.unreachable.push(p),
      onPeerLost: (p) => n.lost.push(p),
    },
  );
  open.push(n.t);
  addrs.set(id, `127.0.0.1:${await n.t.start()}`);
  return n;
}

const hb = (from: string, to: string, commit: number): Message => ({
  type: "heartbeat",
  from,
  to,
  term: 1,
  commit,
  context: null,
});
const app = (from: string, to: string, prevIndex: number, n: number): Message => ({
  type: "append",
  from,
  to,
  term: 1,
  prevIndex,
  prevTerm: 1,
  commit: prevIndex,
  entries: Array.from({ length: n }, (_, i) => ({
    type: "normal" as const,
    index: prevIndex + 1 + i,
    term: 1,
    data: new Uint8Array([i]),
  })),
});

describe("GrpcTransport", () => {
  it("delivers a peer's messages in order", async () => {
    const a = await node("a");
    const b = await node("b");
    for (let i = 1; i <= 300; i++) a.t.send([hb("a", "b", i)]);
    await waitFor(() => b.got.length === 300, { what: "300 messages" });
    expect(b.got.map((m) => (m as { commit: number }).commit)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it("never hands the core a message addressed to another node", async () => {
    const b = await node("b");
    const a = await node("a");
    addrs.set("c", addrs.get("b") as string); // a resolver mistake: c's address is b's
    a.t.send([hb("a", "c", 1)]);
    await waitFor(() => b.t.stats.rejectedMessages === 1, { what: "rejected" });
    expect(b.got).toEqual([]);
    addrs.delete("c");
  });

  it("drops (and reports) instead of queueing without bound for a dead peer", async () => {
    const a = await node("a", { peerQueueMessagesMax: 10 });
    addrs.set("dead", "127.0.0.1:1");
    // At most the stream's own small buffer plus 10 queued messages are held; the rest is dropped.
    for (let i = 0; i < 100; i++) a.t.send([hb("a", "dead", i)]);
    expect(a.t.stats.droppedMessages).toBeGreaterThanOrEqual(60);
    expect(a.unreachable.length).toBeGreaterThan(0);
    await waitFor(() => a.t.stats.reconnects > 0, { what: "the failed connection noticed" });
    // Everything was either handed to the (failed) stream, at most its small buffer plus one
    // queue's worth, or dropped.
    expect(a.t.stats.sentMessages + a.t.stats.droppedMessages).toBe(100);
    expect(a.t.stats.sentMessages).toBeLessThanOrEqual(40);
    expect(a.unreachable.every((p) => p === "dead")).toBe(true);
    // Nothing ever answered there: no connection was lost, the core's leader lease stays.
    expect(a.lost).toEqual([]);
    addrs.delete("dead");
  });

  it("reports a peer lost once when its answered stream breaks (the peer went away)", async () => {
    const a = await node("a");
    const b = await node("b");
    a.t.send([hb("a", "b", 1)]);
    await waitFor(() => b.got.length === 1, { what: "first delivery" });
    expect(a.lost).toEqual([]);
    await b.t.close();
    await waitFor(() => a.lost.length > 0, { what: "the broken stream reported" });
    // Reconnect attempts to the closed port fail without an answer: not reported again.
    for (let i = 2; i <= 5; i++) {
      a.t.send([hb("a", "b", i)]);
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(a.lost).toEqual(["b"]);
  });

  it("reconnects to a peer that comes back", async () => {
    const a = await node("a");
    let b = await node("b");
    const port = Number((addrs.get("b") as string).split(":")[1]);
    a.t.send([hb("a", "b", 1)]);
    await waitFor(() => b.got.length === 1, { what: "first delivery" });
    await b.t.close();
    a.t.send([hb("a", "b", 2)]); // lost with the stream
    b = await node("b", {}, port);
    await waitFor(
      () => {
        a.t.send([hb("a", "b", 3)]);
        return b.got.some((m) => (m as { commit: number }).commit === 3);
      },
      { timeoutMs: 5_000, intervalMs: 50, what: "delivery after the restart" },
    );
  });

  it("gives up a link that went silent and uses it again within a second of the heal", async () => {
    const a = await node("a");
    const b = await node("b");
    const { proxy, address } = await FreezableProxy.start(addrs.get("b") as string);
    addrs.set("b", address);
    a.t.send([hb("a", "b", 1)]);
    await waitFor(() => b.got.length === 1, { what: "delivery through the relay" });
    proxy.frozen = true;
    // Nothing is refused or reset: only the missing keepalive answer and the unanswered stream
    // opens can tell the sender that the link is gone.
    const reconnectsBefore = a.t.stats.reconnects;
    await waitFor(
      () => {
        a.t.send([hb("a", "b", 2)]);
        return a.t.stats.reconnects >= reconnectsBefore + 2;
      },
      { timeoutMs: 5_000, intervalMs: 50, what: "the silent link given up, and a reopened stream given up too" },
    );
    expect(a.unreachable).toContain("b");
    // Silent, not gone: its port still takes connections, so the core's lease stays (a stalled
    // leader is left to the election timeout).
    await new Promise((r) => setTimeout(r, 300));
    expect(a.lost).toEqual([]);
    proxy.frozen = false;
    const healedAt = performance.now();
    await waitFor(
      () => {
        a.t.send([hb("a", "b", 3)]);
        return b.got.some((m) => (m as { commit: number }).commit === 3);
      },
      { timeoutMs: 5_000, intervalMs: 20, what: "delivery after the heal" },
    );
    // The bound (see peerLivenessMs, reconnectBackoffMaxMs) is ~0.9 s; 2.5 s leaves room for a
    // busy machine while still failing if a stream waited for TCP's own retransmission backoff.
    expect(performance.now() - healedAt).toBeLessThan(2_500);
  });
});
