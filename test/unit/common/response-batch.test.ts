// The answers of one event-loop turn wait for its end and are written together
// (src/common/response-batch.ts): held until then, in order, within their bounds, and one bad
// answer or a client gone does not stop the others. A real node:http server on loopback; requests
// pipelined in one write are parsed, and so handled, in one turn.
import { afterEach, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { once } from "node:events";
import { request } from "undici";
import { silentLogger } from "../../../src/common/logger.js";
import { ResponseBatch, type ResponseBatchLimits } from "../../../src/common/response-batch.js";
import { parseResponse } from "../../integration/raw-http.js";

const IO_TIMEOUT_MS = 5_000;

interface Seen {
  path: string;
  heldAfterSend: boolean;
  waitingAfterSend: number;
  res: ServerResponse;
}

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  if (server !== undefined) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

/** A server whose every GET /<text> is answered through `batch` with <text> (or what `bodyOf` gives). */
async function serve(
  limits: ResponseBatchLimits,
  opts: { bodyOf?: (path: string) => Buffer; headersOf?: (path: string) => string[] } = {},
): Promise<{ port: number; seen: Seen[]; batch: ResponseBatch }> {
  const batch = new ResponseBatch(limits, silentLogger());
  const seen: Seen[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/";
    if (path === "/gone") req.socket.destroy();
    if (path === "/json") {
      batch.sendJson(res, 201, { path });
      seen.push({ path, heldAfterSend: !res.headersSent, waitingAfterSend: batch.waiting, res });
      return;
    }
    const body = opts.bodyOf?.(path) ?? Buffer.from(path.slice(1));
    const headers = opts.headersOf?.(path) ?? ["Content-Type", "text/plain", "Content-Length", String(body.length)];
    batch.send(res, 200, headers, body);
    seen.push({ path, heldAfterSend: !res.headersSent, waitingAfterSend: batch.waiting, res });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return { port: addr.port, seen, batch };
}

/** Sends `paths` as pipelined GETs in one write; resolves with everything the server sent back. */
async function pipelined(port: number, paths: string[]): Promise<string> {
  const sock = connect(port, "127.0.0.1");
  await once(sock, "connect");
  const chunks: Buffer[] = [];
  sock.on("data", (c: Buffer) => chunks.push(c));
  const last = paths.length - 1;
  sock.write(
    paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === last ? "Connection: close\r\n" : ""}\r\n`).join(""),
  );
  await Promise.race([
    once(sock, "close"),
    new Promise((_, reject) => setTimeout(() => reject(new Error("no answer")), IO_TIMEOUT_MS)),
  ]);
  return Buffer.concat(chunks).toString("latin1");
}

/** The status codes and bodies of the HTTP/1.1 responses in `raw`, in order (raw-http.ts parses each). */
function answers(raw: string): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  let buf = Buffer.from(raw, "latin1");
  while (buf.length > 0) {
    const r = parseResponse(buf, false, true);
    if (r === undefined) throw new Error(`an answer cut short: ${JSON.stringify(buf.toString("latin1"))}`);
    out.push({ status: r.response.status, body: r.response.body.toString("latin1") });
    buf = buf.subarray(r.used);
  }
  return out;
}

describe("ResponseBatch", () => {
  it("holds the answers of one turn until its end, then writes them all, in order", async () => {
    const { port, seen } = await serve({ answersMax: 128, bytesMax: 1024 * 1024 });
    const raw = await pipelined(port, ["/a", "/bb", "/ccc"]);
    expect(answers(raw)).toEqual([
      { status: 200, body: "a" },
      { status: 200, body: "bb" },
      { status: 200, body: "ccc" },
    ]);
    expect(seen.map((s) => s.heldAfterSend)).toEqual([true, true, true]);
    expect(seen.map((s) => s.waitingAfterSend)).toEqual([1, 2, 3]);
  });

  it("sendJson: sendJson's status, headers and body, held with the others", async () => {
    const { port, seen } = await serve({ answersMax: 128, bytesMax: 1024 * 1024 });
    const raw = await pipelined(port, ["/json", "/a"]);
    const got = answers(raw);
    expect(got.map((a) => a.status)).toEqual([201, 200]);
    expect(JSON.parse(got[0]!.body)).toEqual({ path: "/json" });
    expect(raw).toMatch(/content-type: application\/json\r\nx-content-type-options: nosniff\r\n/i);
    expect(seen.map((s) => [s.heldAfterSend, s.waitingAfterSend])).toEqual([
      [true, 1],
      [true, 2],
    ]);
  });

  it("a batch of answersMax has the waiting ones written before one more waits", async () => {
    const { port, seen } = await serve({ answersMax: 2, bytesMax: 1024 * 1024 });
    const raw = await pipelined(port, ["/1", "/2", "/3"]);
    expect(answers(raw).map((a) => a.body)).toEqual(["1", "2", "3"]);
    expect(seen.map((s) => s.waitingAfterSend)).toEqual([1, 2, 1]);
    // The third send wrote the first two at once (their headers went out in that turn).
    expect(seen[2]!.heldAfterSend).toBe(true);
    expect(seen[0]!.res.headersSent && seen[1]!.res.headersSent).toBe(true);
  });

  it("over the bytes bound: the waiting answers are written first; a body larger than it goes at once", async () => {
    const bodyOf = (p: string): Buffer => Buffer.alloc(p === "/big" ? 200 : 60, p.charCodeAt(1));
    const { port, seen } = await serve({ answersMax: 128, bytesMax: 100 }, { bodyOf });
    const raw = await pipelined(port, ["/x", "/y", "/big"]);
    expect(answers(raw).map((a) => a.body)).toEqual(["x".repeat(60), "y".repeat(60), "b".repeat(200)]);
    expect(seen.map((s) => s.waitingAfterSend)).toEqual([1, 1, 1]); // /y flushed /x; /big never waited
    expect(seen.map((s) => s.heldAfterSend)).toEqual([true, true, false]);
  });

  it("an answer whose headers writeHead refuses becomes a 500; the others of its batch still go", async () => {
    const headersOf = (p: string): string[] => [
      "Content-Type",
      p === "/bad" ? "text/plain\r\nX-Evil: 1" : "text/plain",
      "Content-Length",
      String(p.length - 1),
    ];
    const { port } = await serve({ answersMax: 128, bytesMax: 1024 * 1024 }, { headersOf });
    const got = answers(await pipelined(port, ["/ok1", "/bad", "/ok2"]));
    expect(got.map((a) => a.status)).toEqual([200, 500, 200]);
    expect(got[0]!.body).toBe("ok1");
    expect(JSON.parse(got[1]!.body)).toHaveProperty("error");
    expect(got[1]!.body).not.toContain("X-Evil");
    expect(got[2]!.body).toBe("ok2");
  });

  it("a client gone before the end of the turn: its answer is dropped, and the server goes on", async () => {
    const { port, seen } = await serve({ answersMax: 128, bytesMax: 1024 * 1024 });
    const sock = connect(port, "127.0.0.1");
    sock.on("error", () => {});
    sock.write("GET /gone HTTP/1.1\r\nHost: x\r\n\r\n");
    await once(sock, "close");
    expect(seen[0]?.path).toBe("/gone");
    const res = await request(`http://127.0.0.1:${port}/after`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe("after");
  });
});
