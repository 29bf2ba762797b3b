// Small helpers shared by the master and volume HTTP edges (node:http, no framework).
import { Readable } from "node:stream";
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from "node:http";
import { ErrorCode, WeedError, httpStatusOf } from "./errors.js";

/**
 * After refusing a request whose body was not read yet (too large, unknown volume, bad fid), read
 * and discard up to this much of it so the keep-alive connection survives; past it, close the
 * socket. Go's net/http does the same with 256 KiB.
 */
export const unreadBodyDrainBytesMax = 1024 * 1024;

/** The drain above also stops after this long: a client that stalls mid-body loses its socket. */
export const unreadBodyDrainMsMax = 5_000;

/**
 * An error answered before the request body was read (refused upload): discard what follows up to
 * a bound so the keep-alive connection can carry the next request; past the bound, close it.
 */
export function discardUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || req.readableEnded) return;
  // Destroyed already, nothing can be read from it: the connection ends with the answer. undici,
  // giving up a request it was streaming as a body (a follower's forward cut short by the leader),
  // destroys it and sets its socket to null: the timer below would then crash the process.
  const socket = req.socket as IncomingMessage["socket"] | null;
  if (req.destroyed || socket === null) {
    res.setHeader("Connection", "close");
    return;
  }
  const declared = Number(req.headers["content-length"] ?? "NaN");
  if (!(declared <= unreadBodyDrainBytesMax)) {
    // Unknown or large remainder: tell the client this connection ends with the response.
    res.setHeader("Connection", "close");
  }
  let drained = 0;
  const timer = setTimeout(() => socket.destroy(), unreadBodyDrainMsMax);
  timer.unref();
  const stop = (): void => clearTimeout(timer);
  const onData = (chunk: Buffer): void => {
    drained += chunk.length;
    if (drained <= unreadBodyDrainBytesMax) return;
    stop();
    req.off("data", onData);
    req.pause();
    // Let the response reach the client before the socket goes.
    if (res.writableFinished) socket.destroy();
    else res.once("finish", () => socket.destroy());
  };
  req.on("data", onData);
  req.once("end", stop);
  req.once("close", stop);
  req.resume();
}

/**
 * A request asking to switch protocols (Connection: upgrade with Upgrade: websocket, or h2c as
 * `curl --http2` sends on http://) is answered as plain HTTP/1.1, since neither server takes an
 * upgrade. But Node's parser stays in upgrade mode after such a request and never reads the next
 * one on the connection: a client reusing it waits out the keep-alive timeout for nothing. So the
 * answer says Connection: close, and the client opens a new connection for its next request.
 */
export function closeAfterUpgradeRequest(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers.upgrade !== undefined) res.setHeader("Connection", "close");
}

/** `authorization`: an Authorization header to send with it (a token the answer hands out). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  pretty = false,
  authorization?: string,
): void {
  const text = jsonText(body, pretty);
  res.writeHead(status, jsonHeaders(Buffer.byteLength(text), authorization));
  res.end(text);
}

/** A JSON answer's text: indented with `pretty` (?pretty=y). */
export function jsonText(body: unknown, pretty: boolean): string {
  return pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
}

/** The headers of a JSON answer of `length` bytes (two literal shapes: writeHead walks them fast). */
export function jsonHeaders(length: number, authorization?: string): OutgoingHttpHeaders {
  if (authorization === undefined)
    return { "Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Content-Length": length };
  return {
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": length,
    Authorization: authorization,
  };
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

/**
 * Reads a request body into one Buffer, refusing (413-class error) past `limitBytes` with the rest
 * left unread and the request paused (discardUnreadBody decides what becomes of it). A request
 * that ends early (the client went away mid-body, the socket reset) is CLIENT_GONE, not a raw
 * stream error: it is no fault of the server, and the answer goes nowhere.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.reject(
      new WeedError(ErrorCode.TOO_LARGE, `request body of ${declared} bytes is over the limit of ${limitBytes} bytes`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const detach = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      detach();
      req.pause();
      reject(new WeedError(ErrorCode.TOO_LARGE, `request body is over the limit of ${limitBytes} bytes`));
    };
    const onEnd = (): void => {
      detach();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    };
    const onGone = (cause?: unknown): void => {
      detach();
      reject(new WeedError(ErrorCode.CLIENT_GONE, "the request body ended early: the client went away", { cause }));
    };
    const onClose = (): void => {
      if (!req.complete) onGone();
    };
    // Already over before this call: a stream that ended or closed emits neither event again.
    if (req.readableEnded) return resolve(Buffer.alloc(0));
    if (req.destroyed) return onGone();
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onGone);
    req.once("close", onClose);
  });
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
