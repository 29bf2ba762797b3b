// GET/HEAD of a volume this server does not hold, by -readMode (SeaweedFS:
// weed/server/volume_server_handlers_read.go proxyReqToTargetServer):
//   redirect  301 to a holder's publicUrl, with ?proxied=true (the default here, as SeaweedFS's
//             `weed volume` flag says; its handler code defaults to proxy)
//   proxy     fetch from a holder and stream its answer back, headers included
//   local     404
// The holder is picked at random among the volume's other locations (master lookup, cached). A
// request already marked proxied=true is never sent on again: two servers that each think the
// other holds a volume answer 404 instead of bouncing a client between them.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { ErrorCode, WeedError, unreachable } from "../../common/errors.js";
import { clientGoneSignal } from "../../common/http-util.js";
import type { Logger } from "../../common/logger.js";
import { bearer, jwtQueryParam } from "../../common/security/jwt.js";
import type { ReplicaClient, VolumeLocation } from "./replica-client.js";
import type { ReplicaLocations } from "./replica-locations.js";
import { httpOrigin } from "../../common/security/https.js";

export const READ_MODES = ["redirect", "proxy", "local"] as const;
export type ReadMode = (typeof READ_MODES)[number];

export function isReadMode(text: string): text is ReadMode {
  return (READ_MODES as readonly string[]).includes(text);
}

/** Request headers a proxied read passes on: they change what the holder answers. */
const FORWARDED_REQUEST_HEADERS = ["range", "if-range", "if-none-match", "if-modified-since", "accept-encoding"];
/** Answer headers that describe the holder's connection, not the blob: not copied. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "date", "server"]);

export interface RemoteReadsOptions {
  mode: ReadMode;
  client: ReplicaClient;
  locations: ReplicaLocations;
  /** "ip:port" this server is listed under. */
  self: () => string;
  /** Uniform in [0, 1): which holder a read goes to. */
  random: () => number;
  logger: Logger;
}

function notHere(volumeId: number, why: string): WeedError {
  return new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${volumeId} not found: ${why}`);
}

export class RemoteReads {
  readonly #o: RemoteReadsOptions;

  constructor(o: RemoteReadsOptions) {
    this.#o = o;
  }

  get mode(): ReadMode {
    return this.#o.mode;
  }

  /**
   * Answers a read of `volumeId` (not held here) as -readMode says; throws VOLUME_NOT_FOUND when it
   * cannot. `token`: the client's read token ([jwt.signing.read], checked here already), handed on.
   */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    volumeId: number,
    head: boolean,
    token?: string,
  ): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    if (this.#o.mode === "local") throw notHere(volumeId, `-readMode=local`);
    if (query.get("proxied") === "true") throw notHere(volumeId, "the request was sent here by another server");
    const holder = await this.#pick(volumeId);
    query.set("proxied", "true");
    // A read token sent in a header or cookie does not follow a redirect to another host: in the
    // URL it does (SeaweedFS reads `?jwt=` first).
    if (token !== undefined && this.#o.mode === "redirect") query.set(jwtQueryParam, token);
    const target = `${path}?${query.toString()}`;
    switch (this.#o.mode) {
      case "redirect":
        res.writeHead(301, { Location: `${httpOrigin(holder.publicUrl)}${target}`, "Content-Length": 0 });
        res.end();
        return;
      case "proxy":
        return this.#proxy(req, res, { volumeId, holder, target, token }, head);
      default:
        unreachable(this.#o.mode);
    }
  }

  /** A holder at random; 404 when none is known or the master cannot say (as SeaweedFS). */
  async #pick(volumeId: number): Promise<VolumeLocation> {
    const self = this.#o.self();
    let all: VolumeLocation[];
    try {
      all = await this.#o.locations.get(volumeId);
    } catch (err) {
      if (!(err instanceof WeedError && err.code === ErrorCode.UNAVAILABLE)) throw err;
      throw notHere(volumeId, err.message);
    }
    const holders = all.filter((l) => l.url !== self);
    if (holders.length === 0) throw notHere(volumeId, "the master lists no other server holding it");
    return holders[Math.floor(this.#o.random() * holders.length)]!;
  }

  async #proxy(
    req: IncomingMessage,
    res: ServerResponse,
    to: { volumeId: number; holder: VolumeLocation; target: string; token: string | undefined },
    head: boolean,
  ): Promise<void> {
    const { volumeId, holder, target } = to;
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const v = req.headers[name];
      if (typeof v === "string") headers[name] = v;
    }
    // The holder checks the client's read token too.
    if (to.token !== undefined) headers["authorization"] = bearer(to.token);
    const method = head ? "HEAD" : "GET";
    let answer;
    try {
      answer = await this.#o.client.stream({
        server: holder.url,
        method,
        path: target,
        headers,
        signal: clientGoneSignal(res),
      });
    } catch (err) {
      this.#o.locations.drop(volumeId);
      const why = err instanceof Error ? err.message : String(err);
      throw new WeedError(ErrorCode.UNAVAILABLE, `proxying ${method} ${target} to ${holder.url} failed: ${why}`, {
        cause: err,
      });
    }
    const out: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) out[name] = value;
    }
    res.writeHead(answer.statusCode, out);
    await pipeline(answer.body, res);
  }
}
