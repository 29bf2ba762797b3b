// CORS on the master's and the volume servers' HTTP ports. Cross-origin reads (GET, HEAD) stay
// open to any page, without credentials, as a public blob store's are. Writes and deletes from a
// browser page are allowed only from the origins of -cors.allowedOrigins (exact match, or `*`):
// their preflight names no write method otherwise, and a write that needs no preflight (a form
// POST) from another origin is refused with 403 before it runs, since CORS alone would let it
// happen and only hide the answer. Requests without an Origin header (every non-browser client)
// are not concerned.
import type { IncomingMessage, ServerResponse } from "node:http";
import { discardUnreadBody, sendJson } from "../http-util.js";

const READ_METHODS = "GET, HEAD, OPTIONS";
const ALL_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS";

function isRead(method: string | undefined): boolean {
  return method === "GET" || method === "HEAD";
}

export class CorsPolicy {
  readonly #any: boolean;
  readonly #origins: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[] = []) {
    this.#any = allowedOrigins.includes("*");
    this.#origins = new Set(allowedOrigins);
  }

  /** True when a page of `origin` may write and delete. */
  allowsWrites(origin: string): boolean {
    return this.#any || this.#origins.has(origin);
  }

  /**
   * Sets the CORS headers of `req`'s answer. Returns true when it answered the request itself: a
   * preflight (200), or a cross-origin write from an origin not allowed (403, nothing done).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    if (preflight) return this.#preflight(req, res, origin);
    if (isRead(req.method) || req.method === "OPTIONS") {
      res.setHeader("Access-Control-Allow-Origin", "*");
      return false;
    }
    if (!this.allowsWrites(origin)) {
      // Its body is not read: drained (bounded) so the answer reaches a client still sending.
      discardUnreadBody(req, res);
      sendJson(res, 403, {
        error: `cross-origin ${req.method ?? "?"} from ${origin} is not allowed (-cors.allowedOrigins)`,
      });
      return true;
    }
    this.#allowOrigin(res, origin);
    return false;
  }

  #allowOrigin(res: ServerResponse, origin: string): void {
    // An origin named in the list is echoed (and may send credentials); `*` alone stays `*`.
    if (this.#origins.has(origin)) {
      res.setHeader("Access-Control-Allow-Origin", origin);
      res.setHeader("Access-Control-Allow-Credentials", "true");
    } else res.setHeader("Access-Control-Allow-Origin", "*");
    res.setHeader("Vary", "Origin");
  }

  #preflight(req: IncomingMessage, res: ServerResponse, origin: string): boolean {
    const writes = this.allowsWrites(origin);
    if (writes) this.#allowOrigin(res, origin);
    else res.setHeader("Access-Control-Allow-Origin", "*");
    const asked = req.headers["access-control-request-headers"];
    res.writeHead(200, {
      "Access-Control-Allow-Methods": writes ? ALL_METHODS : READ_METHODS,
      ...(asked === undefined ? {} : { "Access-Control-Allow-Headers": asked }),
      "Content-Length": 0,
    });
    res.end();
    return true;
  }
}
