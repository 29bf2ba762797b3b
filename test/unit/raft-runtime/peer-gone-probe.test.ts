// connectRefused: the question a broken stream asks before the core campaigns early (transport.ts).
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connectRefused } from "../../../src/raft/runtime/peer-gone-probe.js";

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer((sock) => sock.destroy());
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return { server, port: addr.port };
}

/** A loopback port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const { server, port } = await listening();
  servers.splice(servers.indexOf(server), 1);
  await new Promise((r) => server.close(r));
  return port;
}

function stallLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe("connectRefused", () => {
  it("is true for a port nothing listens on (the process is gone)", async () => {
    expect(await connectRefused("127.0.0.1", await closedPort(), 1_000)).toBe(true);
  });

  it("is false for a port that accepts (a live peer, however slow its streams)", async () => {
    const { port } = await listening();
    expect(await connectRefused("127.0.0.1", port, 1_000)).toBe(false);
  });

  it("still sees the refusal when the event loop stalled past the deadline", async () => {
    const port = await closedPort();
    const answer = connectRefused("127.0.0.1", port, 1);
    stallLoop(50); // the refusal arrives meanwhile; the 1 ms timer is due long before the loop runs
    expect(await answer).toBe(true);
  });
});
