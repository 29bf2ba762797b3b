// ReplicaClient.exchange against a real HTTP server on loopback: the answer whole (status,
// headers, body), the whole-request bound (a peer that never answers, one that stops mid-body),
// the answer size bound, the caller's abort signal, a refused connection, and many at once.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { ReplicaClient } from "../../../src/volume/replication/replica-client.js";

const servers: Server[] = [];
const clients: ReplicaClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(): ReplicaClient {
  const c = new ReplicaClient();
  clients.push(c);
  return c;
}

describe("ReplicaClient.exchange", () => {
  it("sends method, path, headers and body; answers status, headers and the body as text", async () => {
    const server = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.writeHead(201, { ETag: '"abc"', "Content-Type": "application/json" });
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            x: req.headers["x-a"],
            body: String(Buffer.concat(chunks)),
          }),
        );
      });
    });
    const a = await client().exchange(
      { server, method: "PUT", path: "/3,01?type=replicate", headers: { "x-a": "1" }, body: Buffer.from("hi") },
      2_000,
    );
    expect(a.status).toBe(201);
    expect(a.headers["etag"]).toBe('"abc"');
    expect(JSON.parse(a.text)).toEqual({ method: "PUT", url: "/3,01?type=replicate", x: "1", body: "hi" });
  });

  it("a peer that never answers fails as TimeoutError within the bound", async () => {
    const server = await serve(() => undefined);
    const t0 = performance.now();
    const err = await client()
      .exchange({ server, method: "GET", path: "/" }, 200)
      .catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(err).toMatchObject({ name: "TimeoutError", code: ErrorCode.TIMEOUT });
  });

  it("a peer that stops mid-body fails as TimeoutError", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "Content-Length": "100" });
      res.write("partial");
    });
    await expect(client().exchange({ server, method: "GET", path: "/" }, 200)).rejects.toMatchObject({
      name: "TimeoutError",
    });
  });

  it("an answer over the size bound fails as IO", async () => {
    const server = await serve((_req, res) => res.end(Buffer.alloc(4096, 0x61)));
    await expect(client().exchange({ server, method: "GET", path: "/" }, 2_000, 1024)).rejects.toMatchObject({
      code: ErrorCode.IO,
    });
  });

  it("the caller's signal aborts with its reason, before or during the request", async () => {
    const server = await serve(() => undefined);
    const c = client();
    const early = new AbortController();
    early.abort(new Error("gone before"));
    await expect(c.exchange({ server, method: "GET", path: "/", signal: early.signal }, 5_000)).rejects.toThrow(
      "gone before",
    );
    const late = new AbortController();
    const pending = c.exchange({ server, method: "GET", path: "/", signal: late.signal }, 5_000);
    setTimeout(() => late.abort(new Error("gone during")), 50);
    await expect(pending).rejects.toThrow("gone during");
  });

  it("a refused connection rejects; many exchanges at once all answer", async () => {
    const refused = await serve(() => undefined);
    servers[0]!.close();
    servers[0]!.closeAllConnections();
    await new Promise((r) => setTimeout(r, 20));
    await expect(client().exchange({ server: refused, method: "GET", path: "/" }, 2_000)).rejects.toBeInstanceOf(Error);
    const server = await serve((req, res) => res.end(req.url));
    const c = client();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => c.exchange({ server, method: "GET", path: `/${i}` }, 5_000)),
    );
    expect(answers.map((a) => a.text)).toEqual(Array.from({ length: 200 }, (_, i) => `/${i}`));
  });
});
