// HTTP front of the example key-value node (node:http, JSON answers):
//   PUT    /kv/<key>        body = value         200 {"index"}            (leader only)
//   DELETE /kv/<key>                             200 {"index","existed"}  (leader only)
//   GET    /kv/<key>        linearizable (ReadIndex) on any member; ?stale=1 reads local state
//   GET    /status          role, term, leader, commit, applied, members  (never blocks)
//   GET    /health          200 when a leader is known, else 503
//   POST   /raft/transfer[?to=<id>]   /raft/learner?id=   /raft/promote?id=   /raft/remove?id=
// A follower does not forward writes: it answers 421 with the leader's id (JSON "leader" and the
// X-Raft-Leader header), and the client retries there. Errors map to statuses in one table
// (statusOf): the outcome-unknown ones (leadership lost, timeout) are 504 with
// "outcomeUnknown": true, so a client never mistakes them for a clean failure.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  ConfChangeRejectedError,
  LeadershipLostError,
  NotLeaderError,
  ProposalDroppedError,
  RaftAbortedError,
  RaftClosedError,
  RaftTimeoutError,
  TransferRejectedError,
} from "../errors.js";
import type { RaftRuntime } from "../runtime.js";
import { encodeDelete, encodePut, type KvResult, type KvStateMachine } from "./kv-state-machine.js";

/** A value larger than this is refused (413): one entry must fit the core's entryBytesMax. */
const valueBytesMax = 512 * 1024;
/** Per-request deadline for proposals and reads. */
const requestTimeoutMs = 5_000;

interface ErrorAnswer {
  status: number;
  body: Record<string, unknown>;
}

export function statusOf(err: unknown): ErrorAnswer {
  const e = err as Error & { code?: string };
  const base = { error: e.message, code: e.code ?? "INTERNAL" };
  if (err instanceof NotLeaderError) return { status: 421, body: { ...base, leader: err.leader } };
  if (err instanceof ProposalDroppedError) return { status: 503, body: { ...base, retry: true } };
  if (err instanceof RaftClosedError) return { status: 503, body: { ...base, outcomeUnknown: true } };
  if (err instanceof ConfChangeRejectedError || err instanceof TransferRejectedError)
    return { status: 409, body: base };
  if (err instanceof LeadershipLostError || err instanceof RaftTimeoutError || err instanceof RaftAbortedError) {
    return { status: 504, body: { ...base, outcomeUnknown: true } };
  }
  return { status: 500, body: base };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const { status, body } = statusOf(err);
  const headers: Record<string, string> = {};
  if (err instanceof NotLeaderError && err.leader !== null) headers["x-raft-leader"] = err.leader;
  if (status === 503) headers["retry-after"] = "1";
  send(res, status, body, headers);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export class KvHttpServer {
  private readonly runtime: RaftRuntime<KvResult>;
  private readonly sm: KvStateMachine;
  private server: Server | null = null;

  constructor(runtime: RaftRuntime<KvResult>, sm: KvStateMachine) {
    this.runtime = runtime;
    this.sm = sm;
  }

  /** Listens on host:port; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, err);
        else res.destroy();
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        const a = server.address();
        resolve(typeof a === "object" && a !== null ? a.port : port);
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    if (path.startsWith("/kv/") && path.length > 4) {
      const key = decodeURIComponent(path.slice(4));
      if (req.method === "PUT" || req.method === "POST") return this.put(req, res, key);
      if (req.method === "DELETE") return this.remove(res, key);
      if (req.method === "GET") return this.get(res, key, url.searchParams.get("stale") === "1");
    } else if (path === "/status" && req.method === "GET") {
      return send(res, 200, this.runtime.status());
    } else if (path === "/health" && req.method === "GET") {
      const leader = this.runtime.currentLeader();
      return send(res, leader === null ? 503 : 200, { leader });
    } else if (path.startsWith("/raft/") && req.method === "POST") {
      return this.admin(res, path.slice(6), url.searchParams);
    }
    send(res, 404, { error: `no route for ${req.method} ${path}` });
  }

  private async put(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const body = await readBody(req, valueBytesMax);
    if (body === null) return send(res, 413, { error: `value larger than ${valueBytesMax} bytes` });
    try {
      const r = await this.runtime.propose(encodePut(key, body), { timeoutMs: requestTimeoutMs });
      send(res, 200, r);
    } catch (err) {
      sendError(res, err);
    }
  }

  private async remove(res: ServerResponse, key: string): Promise<void> {
    try {
      const r = await this.runtime.propose(encodeDelete(key), { timeoutMs: requestTimeoutMs });
      send(res, 200, r);
    } catch (err) {
      sendError(res, err);
    }
  }

  private async get(res: ServerResponse, key: string, stale: boolean): Promise<void> {
    let readIndex: number | null = null;
    try {
      if (!stale) readIndex = await this.runtime.readIndex({ timeoutMs: requestTimeoutMs });
    } catch (err) {
      return sendError(res, err);
    }
    const v = this.sm.get(key);
    const headers: Record<string, string> = readIndex === null ? {} : { "x-raft-read-index": String(readIndex) };
    if (v === undefined) return send(res, 404, { error: "not found", key }, headers);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": v.byteLength, ...headers });
    res.end(v);
  }

  private async admin(res: ServerResponse, op: string, q: URLSearchParams): Promise<void> {
    const id = q.get("id") ?? "";
    try {
      switch (op) {
        case "transfer": {
          const to = q.get("to");
          return send(res, 200, { leader: await this.runtime.transferLeadership(to ?? undefined) });
        }
        case "learner":
          return send(res, 200, await this.runtime.addLearner(id));
        case "promote":
          return send(res, 200, await this.runtime.promote(id));
        case "remove":
          return send(res, 200, await this.runtime.removeMember(id));
        default:
          return send(res, 404, { error: `no admin operation ${op}` });
      }
    } catch (err) {
      sendError(res, err);
    }
  }
}
