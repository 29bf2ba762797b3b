// Small helpers shared by the master and volume HTTP edges (node:http, no framework).
import { Readable } from "node:stream";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { ErrorCode, WeedError, httpStatusOf } from "./errors.js";

export function sendJson(res: ServerResponse, status: number, body: unknown, pretty = false): void {
  const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** `{"error": "..."}` with the status from the error table; Retry-After when the error carries one. */
export function sendError(res: ServerResponse, err: unknown): void {
  const status = httpStatusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof WeedError && err.retryAfterSec !== undefined)
    res.setHeader("Retry-After", String(err.retryAfterSec));
  sendJson(res, status, { error: message });
}

/**
 * A signal that aborts when the client goes away before its answer is sent, so that what is done
 * for it (waiting for a growth or a leader, an upload) stops. Made per call: only slow paths ask.
 */
export function clientGoneSignal(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  const gone = (): void => {
    if (!res.writableFinished) ac.abort(new WeedError(ErrorCode.CLIENT_GONE, "the client went away"));
  };
  if (res.closed) gone();
  else res.once("close", gone);
  return ac.signal;
}

/** Reads a request body into one Buffer, refusing (413-class error) past `limitBytes`. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limitBytes) {
    throw new WeedError(
      ErrorCode.TOO_LARGE,
      `request body of ${declared} bytes is over the limit of ${limitBytes} bytes`,
    );
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limitBytes)
      throw new WeedError(ErrorCode.TOO_LARGE, `request body is over the limit of ${limitBytes} bytes`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/**
 * `req` once its body was read: a stream that yields `body` again, carrying req's method, url and
 * headers, for a handler that reads the body itself.
 */
export function replayRequest(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from([body], { objectMode: false }) as unknown as IncomingMessage;
  return Object.assign(replay, {
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    method: req.method,
    url: req.url,
    socket: req.socket,
  });
}

/** Query parameters, then urlencoded form fields (SeaweedFS reads parameters with FormValue). */
export function queryOf(req: IncomingMessage): URLSearchParams {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return new URLSearchParams(q >= 0 ? url.slice(q + 1) : "");
}

export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q >= 0 ? url.slice(0, q) : url;
}

/** While a server drains, connections that went idle are closed this often. */
const idleSweepMs = 20;

/**
 * Stops accepting, lets requests in flight finish for `graceMs`, then cuts what is left. A
 * keep-alive connection whose request finishes during the drain is closed as soon as it is idle,
 * not left open until the grace runs out (that would hold a restart up for the whole grace).
 */
export function drainHttpServer(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    const sweep = setInterval(() => server.closeIdleConnections(), idleSweepMs);
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}
