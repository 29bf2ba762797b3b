// Followers forward what only the leader can do, transparently: the whole HTTP request (method,
// path, headers, streamed body) goes to the leader's HTTP address and its answer streams back.
// The forwarding header lists the masters a request passed through: a request is never forwarded to
// a master it already visited (during an election two masters could otherwise bounce it between
// them) and at most forwardHopsMax times. A forward that could not connect (the leader just stopped)
// is retried by the caller once a leader is known again. One still waiting for the leader's answer
// when the leader changes is failed at once as "outcome unknown" (leader-in-flight.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { Pool } from "undici";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { forwardConnectionsMax, forwardConnectTimeoutMs, forwardTimeoutMs, retryAfterSec } from "../limits.js";
import { LeaderInFlight, leaderChangedError } from "./leader-in-flight.js";
import { httpConnectOptions, httpOrigin } from "../../common/security/https.js";

/** Marks a request a follower forwarded; its value is the comma list of forwarding masters. */
export const FORWARDED_HEADER = "x-weed-forwarded-by";

/** The masters that forwarded `req`, oldest first. */
export function forwardedBy(req: IncomingMessage): string[] {
  const v = req.headers[FORWARDED_HEADER];
  const text = Array.isArray(v) ? v.join(",") : (v ?? "");
  return text === "" ? [] : text.split(",").map((x) => x.trim());
}

/** True when nothing of the request reached the target: the same request may be sent again. */
export function neverDelivered(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || code === "UND_ERR_CONNECT_TIMEOUT") return true;
  }
  return false;
}

/** Whether the request has a body (Content-Length > 0 or a chunked body). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const len = req.headers["content-length"];
  return len !== undefined && len !== "0";
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
]);

function forwardHeaders(req: IncomingMessage, self: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  out[FORWARDED_HEADER] = [...forwardedBy(req), self].join(",");
  return out;
}

export class LeaderForwarder {
  private readonly pools = new Map<string, Pool>();
  private readonly inFlight = new LeaderInFlight();
  private closed = false;

  constructor(private readonly self: string) {}

  /**
   * Sends `req` to `leader` and streams the answer back. `body`: the request body already read
   * (so the request can be sent again); otherwise the body streams from `req`.
   */
  async forward(req: IncomingMessage, res: ServerResponse, leader: string, body?: Buffer): Promise<void> {
    if (this.closed) throw new WeedError(ErrorCode.CLOSED, "master is closing");
    const method = req.method ?? "GET";
    const ticket = this.inFlight.track(leader);
    let answer;
    try {
      answer = await this.pool(leader).request({
        method: method as "GET",
        path: req.url ?? "/",
        headers: forwardHeaders(req, this.self),
        body: body ?? (hasBody(req) ? req : null),
        headersTimeout: forwardTimeoutMs,
        bodyTimeout: forwardTimeoutMs,
        signal: ticket.signal,
      });
    } catch (err) {
      if (ticket.signal.aborted) throw ticket.signal.reason as WeedError;
      throw new WeedError(
        ErrorCode.UNAVAILABLE,
        `forwarding to the leader ${leader} failed: ${(err as Error).message}`,
        { cause: err, retryAfterSec },
      );
    } finally {
      // Once the answer has begun it is the leader's (it acted): its body streams to the end.
      ticket.release();
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    res.writeHead(answer.statusCode, headers);
    await pipeline(answer.body, res);
  }

  /**
   * Drops the pool of a master that is no longer the leader, and fails the forwards still waiting
   * for its answer (outcome unknown) instead of leaving them to forwardTimeoutMs.
   */
  forget(leader: string): void {
    const p = this.pools.get(leader);
    this.pools.delete(leader);
    // undici acts on an abort only once a connect in progress ends (its connect timeout): the
    // pool is destroyed with the aborts, which fails such a request at once.
    this.inFlight.abandon(leader, () => void p?.destroy(leaderChangedError(leader)).catch(() => undefined));
    void p?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  private pool(leader: string): Pool {
    let p = this.pools.get(leader);
    if (p === undefined) {
      p = new Pool(httpOrigin(leader), {
        connections: forwardConnectionsMax,
        pipelining: 1,
        connect: httpConnectOptions({ timeout: forwardConnectTimeoutMs }),
      });
      this.pools.set(leader, p);
    }
    return p;
  }
}

/**
 * Bytes of request bodies followers hold in memory so that a forward that could not connect can be
 * sent again. A body over the per-request cap, of unknown length (chunked), or beyond the budget
 * streams instead (and is not resent). take() and give() must pair.
 */
export class BodyBudget {
  private used = 0;

  constructor(
    private readonly perRequestMax: number,
    private readonly totalMax: number,
  ) {}

  /** The declared length reserved, or -1 when this body should stream. */
  take(req: IncomingMessage): number {
    const len = Number(req.headers["content-length"] ?? "NaN");
    if (!Number.isSafeInteger(len) || len <= 0 || len > this.perRequestMax || this.used + len > this.totalMax)
      return -1;
    this.used += len;
    return len;
  }

  give(len: number): void {
    if (len > 0) this.used -= len;
  }
}
