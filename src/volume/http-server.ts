// The volume server's HTTP listener on node:http directly: one request handler that routes by
// the first byte of the path and the method, with no framework and no URL object on the way.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createWebServer } from "../common/security/https.js";
import { ErrorCode, WeedError } from "../common/errors.js";
import { clientGoneSignal, discardUnreadBody, drainHttpServer, sendError, sendJson } from "../common/http-util.js";
import type { SecurityConfig } from "../common/security/config.js";
import { CorsPolicy } from "../common/security/cors.js";
import { normalizeAddress, WhiteListGuard } from "../common/security/guard.js";
import type { VolumeHttpContext } from "./http-context.js";
import { handleAdmin, handleOptions, isAdminPath, methodNotAllowed } from "./handlers-admin.js";
import { handleDelete } from "./handlers-delete.js";
import { handleRead, isDigitCode } from "./handlers-read.js";
import { handleWrite, type UploadResources } from "./handlers-write.js";
import { trySmallPut } from "./small-put.js";
import type { InflightLimit, InflightTicket } from "./inflight-limit.js";
import type { UploadBuffers } from "./upload-buffers.js";
import { httpCloseGraceMs, httpHeadersTimeoutMs, httpKeepAliveTimeoutMs, httpRequestTimeoutMs } from "./limits.js";

const FID_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";

/** The bounds on bytes in flight (-concurrentUploadLimitMB, -concurrentDownloadLimitMB) and the upload buffers. */
export interface VolumeHttpLimits {
  uploads: InflightLimit;
  downloads: InflightLimit;
  uploadBuffers: UploadBuffers;
}

export class VolumeHttpServer {
  readonly #ctx: VolumeHttpContext;
  readonly #limits: VolumeHttpLimits;
  readonly #uploads: UploadResources;
  readonly #server: Server;
  /** [guard] white_list and -whiteList: who may write and delete (reads stay open). */
  readonly #guard: WhiteListGuard;
  readonly #cors: CorsPolicy;
  #port = 0;

  /** `security`: the white list and -cors.allowedOrigins; absent = open, as before issue 12. */
  constructor(ctx: VolumeHttpContext, limits: VolumeHttpLimits, security?: SecurityConfig) {
    this.#ctx = ctx;
    this.#limits = limits;
    this.#uploads = { limit: limits.uploads, buffers: limits.uploadBuffers };
    this.#guard = new WhiteListGuard(security?.whiteList ?? []);
    this.#cors = new CorsPolicy(security?.corsAllowedOrigins ?? []);
    const https = security?.httpsVolume;
    this.#server = createWebServer(
      { requestTimeout: httpRequestTimeoutMs, headersTimeout: httpHeadersTimeoutMs },
      (req, res) => this.#onRequest(req, res),
      https === undefined ? undefined : { config: https, section: "https.volume" },
    );
    this.#server.keepAliveTimeout = httpKeepAliveTimeoutMs;
  }

  get port(): number {
    return this.#port;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once("error", onError);
      this.#server.listen(port, host, () => {
        this.#server.off("error", onError);
        const addr = this.#server.address();
        this.#port = typeof addr === "object" && addr !== null ? addr.port : port;
        resolve(this.#port);
      });
    });
  }

  /** Stops accepting, lets in-flight requests finish for a grace period, then cuts the rest. */
  async close(): Promise<void> {
    await drainHttpServer(this.#server, httpCloseGraceMs);
    this.#limits.uploadBuffers.close();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    if (this.#cors.handle(req, res) || !this.#admitted(req, res)) {
      this.#ctx.metrics.request(req.method, res.statusCode, t0);
      return;
    }
    let pending: void | Promise<void>;
    try {
      pending = this.#route(req, res);
    } catch (err) {
      this.#fail(req, res, err);
      this.#ctx.metrics.request(req.method, res.statusCode, t0);
      return;
    }
    if (pending === undefined) {
      this.#ctx.metrics.request(req.method, res.statusCode, t0);
      return;
    }
    pending.then(
      () => this.#ctx.metrics.request(req.method, res.statusCode, t0),
      (err: unknown) => {
        this.#fail(req, res, err);
        this.#ctx.metrics.request(req.method, res.statusCode, t0);
      },
    );
  }

  /**
   * Writes and deletes only from the white list (the peer's own address: replicated writes come
   * from the other volume servers, so the list must hold the cluster's hosts, as in SeaweedFS).
   * Every admin route is a GET/HEAD and stays open, as reads do.
   */
  #admitted(req: IncomingMessage, res: ServerResponse): boolean {
    const m = req.method;
    if (m === "GET" || m === "HEAD" || m === "OPTIONS") return true;
    const peer = req.socket.remoteAddress;
    if (this.#guard.allows(peer)) return true;
    const who = peer === undefined ? "an unknown address" : normalizeAddress(peer);
    discardUnreadBody(req, res);
    sendJson(res, 403, { error: `${who} is not on the white list ([guard] white_list, -whiteList)` });
    return false;
  }

  #route(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const url = req.url ?? "/";
    const c = url.charCodeAt(1);
    // Fid paths start with the volume id's digits; everything else is an admin route or a bad fid.
    if (!isDigitCode(c)) {
      const q = url.indexOf("?");
      if (isAdminPath(q < 0 ? url : url.slice(0, q))) return handleAdmin(this.#ctx, req, res);
    }
    switch (req.method) {
      case "GET":
        return this.#read(req, res);
      case "HEAD":
        return handleRead(this.#ctx, req, res, true);
      case "POST":
      case "PUT":
        return trySmallPut(this.#ctx, req, res, this.#uploads) ?? handleWrite(this.#ctx, req, res, this.#uploads);
      case "DELETE":
        return handleDelete(this.#ctx, req, res);
      case "OPTIONS":
        return handleOptions(res);
      default:
        res.setHeader("Allow", FID_METHODS);
        throw methodNotAllowed(req.method, url, FID_METHODS);
    }
  }

  /**
   * GET under -concurrentDownloadLimitMB, as SeaweedFS counts it: admitted while the bytes in
   * flight are at most the limit (else it waits), then its needle's size is added until the
   * response is done. Synchronous when there is room.
   */
  #read(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const downloads = this.#limits.downloads;
    if (!downloads.limited) return handleRead(this.#ctx, req, res, false);
    const ticket = downloads.tryAcquire(0);
    if (ticket !== undefined) return this.#readHolding(ticket, req, res);
    return downloads.acquire(0, clientGoneSignal(res)).then((t) => this.#readHolding(t, req, res));
  }

  /**
   * The needle's bytes count until the response is done. A small body answered synchronously is
   * usually in the kernel already when handleRead returns (the socket took it whole): released
   * at once, with no 'close' listener per read; otherwise when the response closes.
   */
  #readHolding(ticket: InflightTicket, req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    let pending: void | Promise<void>;
    try {
      pending = handleRead(this.#ctx, req, res, false, (bytes) => ticket.add(bytes));
    } catch (err) {
      ticket.release(); // the error answer does not carry the needle
      throw err;
    }
    if (pending === undefined && res.writableFinished) ticket.release();
    else res.once("close", () => ticket.release());
    return pending;
  }

  #fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (!(err instanceof WeedError) || err.code === ErrorCode.INTERNAL || err.code === ErrorCode.IO) {
      this.#ctx.logger.error({ err, method: req.method, url: req.url }, "request failed");
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    discardUnreadBody(req, res);
    sendError(res, err);
  }
}
