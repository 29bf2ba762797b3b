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
import { httpConnectOptions, httpOrigin } from "../../common/security/https.js";

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

/** What an exchange that ran out of time rejects with: named as AbortSignal.timeout names it. */
function timeoutError(what: string, timeoutMs: number): Error {
  const err = new WeedError(ErrorCode.TIMEOUT, `${what}: no whole answer within ${timeoutMs} ms`);
  err.name = "TimeoutError";
  return err;
}

/**
 * One exchange's undici handler: gathers status, headers and at most `bodyBytesMax` of body, and
 * settles its promise once: on the answer's end, a transport error, or abort() (the timer, the
 * caller's signal, an oversized answer), which also cuts the request if it is under way. An abort
 * before undici started the request (still queued for a connection) cuts it when it starts.
 */
class Exchange implements Dispatcher.DispatchHandler {
  timer: NodeJS.Timeout | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #aborted: Error | undefined;
  #settled = false;
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #signal: AbortSignal | undefined;
  readonly #onSignal = (): void =>
    this.abort(this.#signal!.reason instanceof Error ? this.#signal!.reason : new Error("aborted"));

  constructor(
    readonly what: string,
    readonly bodyBytesMax: number,
    readonly resolve: (a: PeerAnswer) => void,
    readonly reject: (err: Error) => void,
  ) {}

  follow(signal: AbortSignal): void {
    this.#signal = signal;
    if (signal.aborted) this.#onSignal();
    else signal.addEventListener("abort", this.#onSignal, { once: true });
  }

  abort(err: Error): void {
    if (this.#settled) return;
    this.#aborted = err;
    this.#controller?.abort(err);
    this.#settle(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#aborted !== undefined) controller.abort(this.#aborted);
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#status = status;
    this.#headers = headers;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.bodyBytesMax) {
      this.abort(new WeedError(ErrorCode.IO, `${this.what}: answer over ${this.bodyBytesMax} bytes`));
      return;
    }
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const text = Buffer.concat(this.#chunks, this.#size).toString("utf8");
    this.#settle(undefined, { status: this.#status, headers: this.#headers, text });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.#settle(this.#aborted ?? err);
  }

  #settle(err: Error | undefined, answer?: PeerAnswer): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.timer);
    this.#signal?.removeEventListener("abort", this.#onSignal);
    if (err !== undefined) this.reject(err);
    else this.resolve(answer!);
  }
}

export class ReplicaClient {
  readonly #agent = new Agent({
    connect: httpConnectOptions({ timeout: replicaConnectTimeoutMs }),
    connections: replicaConnectionsPerServer,
    keepAliveTimeout: replicaKeepAliveMs,
    headersTimeout: replicaHeadersTimeoutMs,
    bodyTimeout: replicaBodyTimeoutMs,
  });

  /**
   * Sends a request with a small answer (a replica write or delete, a lookup) and reads the answer
   * whole, within `timeoutMs` for all of it. Transport failures and timeouts reject (a timeout as a
   * TimeoutError, an abort by `r.signal` with its reason); any status resolves.
   *
   * Dispatched with a handler of our own rather than undici's request(): every replicated write
   * makes one of these, and request() builds a Readable body, an async iterator over it and an
   * AbortSignal.timeout (a weak timer with a finalizer) for a few bytes of JSON. One plain timer
   * per request, cleared when it ends, is the whole-request bound here.
   */
  exchange(r: PeerRequest, timeoutMs: number, bodyBytesMax = replicaLookupBodyBytesMax): Promise<PeerAnswer> {
    return new Promise((resolve, reject) => {
      const what = `${r.method} ${r.server}${r.path}`;
      const x = new Exchange(what, bodyBytesMax, resolve, reject);
      x.timer = setTimeout(() => x.abort(timeoutError(what, timeoutMs)), timeoutMs);
      if (r.signal !== undefined) x.follow(r.signal);
      this.#agent.dispatch(
        {
          origin: httpOrigin(r.server),
          path: r.path,
          method: r.method,
          headers: r.headers ?? {},
          body: r.body ?? null,
        },
        x,
      );
    });
  }

  /**
   * A request whose answer body the caller streams (proxied reads): no bound on the whole (a large
   * blob streams as long as it keeps moving), only the agent's connect, headers and idle-body ones.
   */
  async stream(r: PeerRequest): Promise<Dispatcher.ResponseData> {
    return this.#agent.request({
      origin: httpOrigin(r.server),
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
