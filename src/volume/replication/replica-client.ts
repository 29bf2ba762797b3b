// The volume server's HTTP client to its peers and its master: the replica writes and deletes of a
// replicated volume (`?type=replicate`), the master lookup of a volume's locations, and reads this
// server proxies to a holder (-readMode=proxy). One undici Agent, every request bounded
// (limits.ts: connect, answer headers, answer body, whole request), so a dead, cut-off or stopped
// peer fails a request within a known time and never holds it.
import { Agent, type Dispatcher } from "undici";
import { ErrorCode, WeedError } from "../../common/errors.js";
import {
  replicaBodyTimeoutMs,
  replicaConnectionsPerServer,
  replicaConnectTimeoutMs,
  replicaHeadersTimeoutMs,
  replicaKeepAliveMs,
  replicaLookupBodyBytesMax,
  replicaLookupTimeoutMs,
  replicaRequestBaseMs,
  replicaSendBytesPerMsMin,
} from "../limits.js";

/** A volume's location as the master's /dir/lookup lists it. */
export interface VolumeLocation {
  /** "ip:port": the server's identity and internal address. */
  url: string;
  /** Where clients are sent (a redirect); url when the server has none of its own. */
  publicUrl: string;
}

/** What a peer answered: status, headers and body text (small JSON answers only). */
export interface PeerAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface PeerRequest {
  /** "ip:port". */
  server: string;
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  /** Path and query. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

/** The whole-request bound for a body of `bytes`: the base plus its send time at the slowest rate allowed. */
export function replicaRequestTimeoutMs(bytes: number): number {
  return replicaRequestBaseMs + Math.ceil(bytes / replicaSendBytesPerMsMin);
}

/** Reads at most `bytesMax` of a body as text; more fails the request. */
async function boundedText(body: Dispatcher.ResponseData["body"], bytesMax: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > bytesMax) {
      body.destroy();
      throw new WeedError(ErrorCode.IO, `${what}: answer over ${bytesMax} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}

export class ReplicaClient {
  readonly #agent = new Agent({
    connect: { timeout: replicaConnectTimeoutMs },
    connections: replicaConnectionsPerServer,
    keepAliveTimeout: replicaKeepAliveMs,
    headersTimeout: replicaHeadersTimeoutMs,
    bodyTimeout: replicaBodyTimeoutMs,
  });

  /**
   * Sends a request with a small answer (a replica write or delete, a lookup) and reads the answer
   * whole, within `timeoutMs` for all of it. Transport failures and timeouts reject (as they come
   * from undici); any status resolves.
   */
  async exchange(r: PeerRequest, timeoutMs: number, bodyBytesMax = replicaLookupBodyBytesMax): Promise<PeerAnswer> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = r.signal === undefined ? deadline : AbortSignal.any([deadline, r.signal]);
    const res = await this.#agent.request({
      origin: `http://${r.server}`,
      path: r.path,
      method: r.method,
      headers: r.headers ?? {},
      body: r.body ?? null,
      signal,
    });
    const text = await boundedText(res.body, bodyBytesMax, `${r.method} ${r.server}${r.path}`);
    return { status: res.statusCode, headers: res.headers, text };
  }

  /**
   * A request whose answer body the caller streams (proxied reads): no bound on the whole (a large
   * blob streams as long as it keeps moving), only the agent's connect, headers and idle-body ones.
   */
  async stream(r: PeerRequest): Promise<Dispatcher.ResponseData> {
    return this.#agent.request({
      origin: `http://${r.server}`,
      path: r.path,
      method: r.method,
      headers: r.headers ?? {},
      signal: r.signal ?? null,
    });
  }

  /** The locations the master at `master` ("host:port") lists for `volumeId`: [] when it knows none. */
  async lookup(master: string, volumeId: number): Promise<VolumeLocation[]> {
    const answer = await this.exchange(
      { server: master, method: "GET", path: `/dir/lookup?volumeId=${volumeId}` },
      replicaLookupTimeoutMs,
    );
    if (answer.status === 404) return [];
    if (answer.status !== 200) {
      throw new WeedError(
        ErrorCode.UNAVAILABLE,
        `master ${master} answered ${answer.status} to a lookup of volume ${volumeId}: ${answer.text.slice(0, 200)}`,
      );
    }
    return parseLocations(answer.text);
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => this.#agent.destroy());
  }
}

/** The locations of a /dir/lookup answer; entries without a url are left out. */
export function parseLocations(text: string): VolumeLocation[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new WeedError(ErrorCode.IO, `volume lookup answered with non-JSON: ${text.slice(0, 200)}`, { cause: err });
  }
  const list = (body as { locations?: unknown } | null)?.locations;
  const out: VolumeLocation[] = [];
  if (!Array.isArray(list)) return out;
  for (const item of list as unknown[]) {
    const loc = item as { url?: unknown; publicUrl?: unknown } | null;
    if (typeof loc?.url !== "string" || loc.url === "") continue;
    const publicUrl = typeof loc.publicUrl === "string" && loc.publicUrl !== "" ? loc.publicUrl : loc.url;
    out.push({ url: loc.url, publicUrl });
  }
  return out;
}
