// The master's HTTP API (SeaweedFS §1: same paths, parameters, JSON fields and status codes),
// routed by path with node:http. Parameters come from the query string and, for POSTs with an
// urlencoded body, from the form (SeaweedFS reads both with FormValue; the form wins).
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCode, WeedError } from "../../common/errors.js";
import { parseFidPath } from "../../common/fid.js";
import {
  clientGoneSignal,
  closeAfterUpgradeRequest,
  discardUnreadBody,
  pathOf,
  readBody,
  replayRequest,
  sendError,
  sendJson,
} from "../../common/http-util.js";
import type { Logger } from "../../common/logger.js";
import { ResponseBatch, responseBatchLimits } from "../../common/response-batch.js";
import { parseAssignParams, rawParamsOf } from "./assign-params.js";
import type { Assigner, AssignResult } from "../topology/assigner.js";
import type { ClusterState } from "../state/cluster-state.js";
import {
  formBodyBytesMax,
  forwardAttemptsMax,
  forwardBodyBudgetMax,
  forwardBodyBufferMax,
  growthCountMax,
  retryAfterSec,
} from "../limits.js";
import { locationsOf, lookupVolume, volumeIdOf } from "../topology/lookup.js";
import type { MasterMetrics } from "./metrics.js";
import { MasterStatusPage } from "./status-page.js";
import { dirStatus, volStatus } from "./status-json.js";
import { readSubmittedFile } from "./submit.js";
import type { Topology } from "../topology/topology.js";
import type { UploadClient } from "./upload-client.js";
import type { VolumeGrowth } from "../topology/volume-growth.js";
import type { ClusterView } from "../state/cluster-view.js";
import type { HandedOff, MembershipAnswer, MembershipManager } from "../state/membership.js";
import { BodyBudget, forwardedBy, hasBody, LeaderForwarder, neverDelivered } from "./leader-forwarder.js";
import { bearer, type FidTokenKey, type FidTokens } from "../../common/security/jwt.js";
import { viaLeader } from "./leader-route.js";
import { deleteCollection, grpcDeleteCollection, type DeleteCollectionCall } from "../topology/collection-delete.js";
import { MasterHttpAccess } from "./http-access.js";
import type { SecurityConfig } from "../../common/security/config.js";
import { securitySummary } from "../../common/security/summary.js";
import { httpOrigin } from "../../common/security/https.js";
import { vacuumRoutes, type VacuumControl } from "./vacuum-routes.js";
import type { RuntimeStatus } from "../../raft/runtime/index.js";

/** Answered by every master from its own state, never forwarded and never waiting for a leader. */
const LOCAL_PATHS: ReadonlySet<string> = new Set([
  "/cluster/status",
  "/cluster/healthz",
  "/cluster/raft",
  "/healthz",
  "/readyz",
  "/metrics",
  "/",
  "/favicon.ico",
]);

export interface HttpHandlerDeps {
  assigner: Assigner;
  topology: Topology;
  growth: VolumeGrowth;
  state: ClusterState;
  metrics: MasterMetrics;
  uploads: UploadClient;
  logger: Logger;
  defaultReplication: string;
  version: string;
  volumeSizeLimitMB: number;
  cluster: ClusterView;
  /** Passes leader-only requests on when this master follows. */
  forwarder: LeaderForwarder;
  /** Adds, removes and transfers leadership among the masters (leader only). */
  membership: MembershipManager;
  /** The Raft group as `weed-ts shell cluster.raft.ps` shows it. */
  raftStatus: () => RuntimeStatus;
  /** Seconds since start. */
  uptimeSec: () => number;
  /** Uniform in [0, 1): which replica a /<fid> redirect names. */
  random: () => number;
  /** security.toml's [jwt.signing] / [jwt.signing.read]: assign and lookup hand out fid tokens. */
  fidTokens?: FidTokens;
  /** security.toml and flags: the white list and CORS (http-access.ts); absent = open. */
  security?: SecurityConfig;
  /** The leader's vacuum behind /vol/vacuum (vacuum-routes.ts), with -garbageThreshold. */
  vacuum?: { control: VacuumControl; defaultThreshold: number };
  /** /col/delete's call to each volume server; DeleteCollection over gRPC by default. */
  deleteCollectionCall?: DeleteCollectionCall;
}

type Handler = (req: IncomingMessage, res: ServerResponse, q: URLSearchParams, pretty: boolean) => void | Promise<void>;

function isForm(req: IncomingMessage): boolean {
  const type = req.headers["content-type"];
  return (
    type !== undefined &&
    type.startsWith("application/x-www-form-urlencoded") &&
    req.method !== "GET" &&
    req.method !== "HEAD"
  );
}

function queryString(url: string): string {
  const at = url.indexOf("?");
  return at >= 0 ? url.slice(at + 1) : "";
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { "Content-Length": 0 });
  res.end();
}

function sendText(res: ServerResponse, status: number, type: string, text: string): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function normalizeUrl(url: string): string {
  return url.startsWith("http://") || url.startsWith("https://") ? url : httpOrigin(url);
}

export class MasterHttpHandlers {
  private readonly deps: HttpHandlerDeps;
  private readonly routes: ReadonlyMap<string, Handler>;
  private readonly bodies = new BodyBudget(forwardBodyBufferMax, forwardBodyBudgetMax);
  private readonly access: MasterHttpAccess;
  /** -logLevel=debug: one access-log line per request (decided once; the level does not change). */
  private readonly accessLog: boolean;
  private readonly statusPage: MasterStatusPage;
  /** /dir/lookup's answers wait for the end of the event-loop turn, to be written together. */
  private readonly answers: ResponseBatch;

  constructor(deps: HttpHandlerDeps) {
    this.deps = deps;
    this.statusPage = new MasterStatusPage({
      ...{ topology: deps.topology, cluster: deps.cluster, raftStatus: deps.raftStatus, version: deps.version },
      ...{ volumeSizeLimitMB: deps.volumeSizeLimitMB, uptimeSec: deps.uptimeSec },
      maxVolumeId: () => deps.state.maxVolumeId,
      topologyId: () => deps.state.topologyId,
      security: securitySummary(deps.security),
    });
    this.access = new MasterHttpAccess(deps.security, deps.cluster);
    this.answers = new ResponseBatch(responseBatchLimits, deps.logger);
    this.accessLog = deps.logger.isLevelEnabled("debug");
    this.routes = new Map<string, Handler>([
      ["/dir/assign", (_req, res, q, pretty) => this.assign(res, q, pretty)],
      ["/dir/lookup", (_req, res, q, pretty) => this.lookup(res, q, pretty)],
      [
        "/dir/status",
        (_req, res, _q, pretty) =>
          sendJson(res, 200, dirStatus(deps.topology, deps.version, deps.state.topologyId), pretty),
      ],
      ["/vol/status", (_req, res, _q, pretty) => sendJson(res, 200, volStatus(deps.topology, deps.version), pretty)],
      ["/vol/grow", (_req, res, q, pretty) => this.grow(res, q, pretty)],
      ["/col/delete", (_req, res, q) => this.deleteCollection(res, q)],
      ["/submit", (req, res, q, pretty) => this.submit(req, res, q, pretty)],
      ["/cluster/status", (_req, res, _q, pretty) => this.clusterStatus(res, pretty)],
      ["/cluster/healthz", (_req, res) => sendEmpty(res, deps.cluster.leader() === null ? 503 : 200)],
      ["/cluster/raft", (_req, res, _q, pretty) => sendJson(res, 200, deps.raftStatus(), pretty)],
      [
        "/cluster/raft/add",
        (req, res, q, pretty) =>
          this.membershipChange(req, res, pretty, () =>
            deps.membership.add(q.get("id"), { clusterId: q.get("clusterId") }),
          ),
      ],
      [
        "/cluster/raft/remove",
        (req, res, q, pretty) => this.membershipChange(req, res, pretty, () => deps.membership.remove(q.get("id"))),
      ],
      [
        "/cluster/raft/transfer",
        (req, res, q, pretty) => this.membershipChange(req, res, pretty, () => deps.membership.transfer(q.get("id"))),
      ],
      ["/healthz", (_req, res) => sendEmpty(res, 200)],
      ["/readyz", (_req, res) => sendEmpty(res, deps.cluster.leader() === null ? 503 : 200)],
      ["/metrics", (_req, res) => this.metricsText(res)],
      ["/", (req, res, q) => this.statusPage.serve(req, res, q)],
      ...(deps.vacuum === undefined
        ? []
        : vacuumRoutes(deps.vacuum.control, {
            defaultThreshold: deps.vacuum.defaultThreshold,
            status: () => dirStatus(deps.topology, deps.version, deps.state.topologyId),
          })),
    ]);
  }

  /** Stops what the status page runs in the background (its copy of the leader's volume servers). */
  close(): void {
    this.statusPage.close();
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    closeAfterUpgradeRequest(req, res);
    if (this.accessLog) this.logAccess(req, res);
    let done: void | Promise<void>;
    try {
      done = this.dispatch(req, res);
    } catch (err) {
      this.fail(req, res, err);
      return;
    }
    if (done !== undefined) done.catch((err: unknown) => this.fail(req, res, err));
  };

  /** CORS, the white list and the admin token first, on the master the client reached (http-access.ts). */
  private dispatch(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const path = pathOf(req);
    const admitted = this.access.admit(req, res, path);
    if (admitted === true) return this.route(req, res, path);
    if (admitted !== false) return admitted.then((ok) => (ok ? this.route(req, res, path) : undefined));
  }

  private route(req: IncomingMessage, res: ServerResponse, path: string): void | Promise<void> {
    if (!LOCAL_PATHS.has(path) && !this.deps.cluster.isLeader()) return this.viaLeader(req, res, path);
    return this.serve(req, res, path);
  }

  /** Runs the route; `body` when a forward attempt already read the request's body. */
  private serve(original: IncomingMessage, res: ServerResponse, path: string, body?: Buffer): void | Promise<void> {
    const req = body === undefined ? original : replayRequest(original, body);
    const handler = this.routes.get(path);
    const route: Handler = handler ?? ((r, s, q) => this.redirectToVolume(r, s, path, q));
    // /submit reads its own (multipart) body; other routes take urlencoded form fields as parameters.
    if (path === "/submit" || !isForm(req)) {
      const q = new URLSearchParams(queryString(req.url ?? ""));
      return route(req, res, q, q.has("pretty") && q.get("pretty") !== "");
    }
    return readBody(req, formBodyBytesMax).then((form) => {
      const q = new URLSearchParams(queryString(req.url ?? ""));
      for (const [k, v] of new URLSearchParams(form.toString("utf8"))) q.set(k, v);
      return route(req, res, q, q.has("pretty") && q.get("pretty") !== "");
    });
  }

  /**
   * A follower's part: pass the request to the leader (leader-route.ts). A request whose body is
   * in hand (none, or a small one read first within BodyBudget) is sent again to the next leader
   * when the last one could not be connected to: a restart of any master then costs clients a
   * stall, not an error. A body that streams is sent once.
   */
  private async viaLeader(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const reserved = hasBody(req) ? this.bodies.take(req) : 0;
    try {
      const body = reserved > 0 ? await readBody(req, reserved) : undefined;
      await viaLeader(this.deps.cluster, {
        visited: forwardedBy(req),
        signal: clientGoneSignal(res),
        attemptsMax: reserved < 0 ? 1 : forwardAttemptsMax,
        local: () => this.serve(req, res, path, body),
        remote: (leader) => this.deps.forwarder.forward(req, res, leader, body),
        resendable: (err) => !res.headersSent && neverDelivered(err),
      });
    } finally {
      this.bodies.give(reserved);
    }
  }

  private logAccess(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    res.once("close", () =>
      this.deps.logger.debug(
        {
          method: req.method,
          url: req.url,
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
          peer: req.socket.remoteAddress,
        },
        "http request",
      ),
    );
  }

  private fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (!(err instanceof WeedError))
      this.deps.logger.error({ err, method: req.method, url: req.url }, "HTTP handler failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // Refused before its body was read (a /submit too large or malformed, no leader): discard the
    // rest, bounded, so the answer reaches a client still sending and the connection lives on.
    discardUnreadBody(req, res);
    sendError(res, err);
  }

  private assign(res: ServerResponse, q: URLSearchParams, pretty: boolean): void | Promise<void> {
    const { assigner, metrics } = this.deps;
    const started = performance.now();
    let req;
    try {
      req = parseAssignParams(rawParamsOf(q), this.deps.defaultReplication);
    } catch (err) {
      metrics.assignDone(false, (performance.now() - started) / 1000);
      throw err;
    }
    const fast = assigner.tryAssign(req);
    if (fast !== undefined) {
      metrics.assignDone(true, (performance.now() - started) / 1000);
      return this.answerAssign(res, fast, pretty);
    }
    return assigner.assign(req, clientGoneSignal(res)).then(
      (r) => {
        metrics.assignDone(true, (performance.now() - started) / 1000);
        return this.answerAssign(res, r, pretty);
      },
      (err: unknown) => {
        metrics.assignDone(false, (performance.now() - started) / 1000);
        throw err;
      },
    );
  }

  /**
   * The answer to an assign, with a write token for its fid when [jwt.signing] is set: in `auth`
   * (as gRPC's AssignResponse and SeaweedFS's AssignResult name it) and in an `Authorization:
   * Bearer` header (where SeaweedFS's HTTP handler puts it). With count > 1 the token is for the
   * first fid only, as SeaweedFS: volume servers accept it for fid_1, fid_2... (`_N` suffixes).
   */
  private answerAssign(res: ServerResponse, r: AssignResult, pretty: boolean): void | Promise<void> {
    const key = this.deps.fidTokens?.write;
    if (key === undefined) return sendAssign(res, r, pretty, undefined);
    const now = key.signNow(r.fid);
    if (now !== undefined) return sendAssign(res, r, pretty, now);
    return key.sign(r.fid).then((auth) => sendAssign(res, r, pretty, auth));
  }

  /**
   * The key a lookup of `fileId` signs with (SeaweedFS dirLookupHandler): the write key, or with
   * read=yes the read key (none when [jwt.signing.read] is absent: reads need no token then).
   */
  private lookupKey(fileId: string, q: URLSearchParams): FidTokenKey | undefined {
    if (fileId === "" || this.deps.fidTokens === undefined) return undefined;
    return q.get("read") === "yes" ? this.deps.fidTokens.read : this.deps.fidTokens.write;
  }

  private lookup(res: ServerResponse, q: URLSearchParams, pretty: boolean): void | Promise<void> {
    const fileId = q.get("fileId") ?? "";
    const id = fileId !== "" ? fileId : (q.get("volumeId") ?? "");
    const r = lookupVolume(this.deps.topology, id, q.get("collection") ?? "");
    if (r.ok) {
      const body = { volumeOrFileId: id, locations: locationsOf(r.nodes) };
      const key = this.lookupKey(fileId, q);
      if (key === undefined) return this.answers.sendJson(res, 200, body, pretty);
      return key.sign(fileId).then((auth) => {
        const signed = { volumeOrFileId: id, locations: body.locations, auth };
        this.answers.sendJson(res, 200, signed, pretty, bearer(auth));
      });
    } else if (this.deps.assigner.warmingUp && volumeIdOf(id) >= 0) {
      // Its servers may not have reported yet: "retry soon" rather than "does not exist".
      res.setHeader("Retry-After", String(retryAfterSec));
      sendJson(res, 503, { volumeOrFileId: id, error: "service warming up, please retry" }, pretty);
    } else {
      sendJson(res, 404, { volumeOrFileId: id, error: r.error }, pretty);
    }
  }

  private async grow(res: ServerResponse, q: URLSearchParams, pretty: boolean): Promise<void> {
    const text = q.get("count") ?? "";
    if (!/^\d{1,9}$/.test(text) || Number(text) === 0) {
      throw new WeedError(
        ErrorCode.BAD_PARAM,
        `can not parse parameter count ${JSON.stringify(text)}: expected an integer 1-${growthCountMax}`,
      );
    }
    const count = Number(text);
    if (count > growthCountMax)
      throw new WeedError(ErrorCode.BAD_PARAM, `invalid count ${count}: over the limit of ${growthCountMax}`);
    const spec = parseAssignParams({ ...rawParamsOf(q), count: undefined }, this.deps.defaultReplication);
    const vids = await this.deps.growth.grow(spec, count, true);
    sendJson(res, 200, { count: vids.length }, pretty);
  }

  /** 204 once every server holding the collection deleted it (SeaweedFS), 400 for an unknown one. */
  private async deleteCollection(res: ServerResponse, q: URLSearchParams): Promise<void> {
    const { topology, logger } = this.deps;
    const call = this.deps.deleteCollectionCall ?? grpcDeleteCollection;
    await deleteCollection(topology, q.get("collection") ?? "", call, logger);
    sendEmpty(res, 204);
  }

  private async submit(req: IncomingMessage, res: ServerResponse, q: URLSearchParams, pretty: boolean): Promise<void> {
    if (req.method !== "POST") throw new WeedError(ErrorCode.METHOD_NOT_ALLOWED, "Only submit via POST!");
    const file = await readSubmittedFile(req);
    for (const [k, v] of file.fields) q.set(k, v);
    const params = parseAssignParams(rawParamsOf(q), this.deps.defaultReplication);
    const signal = clientGoneSignal(res);
    const assigned = await this.deps.assigner.assign(params, signal).catch(asSubmitFailure);
    const node = assigned.nodes[0]!;
    const { fileName, mime, data } = file;
    // Secured volume servers want the write token the assign would have handed a client.
    const auth = await this.deps.fidTokens?.write?.sign(assigned.fid);
    const upload = { server: node.url, fid: assigned.fid, fileName, mime, data, signal, auth };
    const up = await this.deps.uploads.upload(upload).catch(asSubmitFailure);
    sendJson(
      res,
      201,
      {
        fileName: file.fileName,
        fid: assigned.fid,
        fileUrl: `${node.publicUrl}/${assigned.fid}`,
        size: up.size,
        eTag: up.eTag,
      },
      pretty,
    );
  }

  /**
   * POST /cluster/raft/{add,remove,transfer}?id=host:port. They change the cluster, so a GET (a
   * crawler, a browser's prefetch) is refused. The leader removing itself hands leadership over
   * first and passes the request on to the new leader.
   */
  private async membershipChange(
    req: IncomingMessage,
    res: ServerResponse,
    pretty: boolean,
    change: () => Promise<MembershipAnswer | HandedOff>,
  ): Promise<void> {
    if (req.method !== "POST")
      throw new WeedError(ErrorCode.METHOD_NOT_ALLOWED, "membership changes are POST requests");
    const r = await change();
    if ("handedOffTo" in r) {
      await this.deps.forwarder.forward(req, res, r.handedOffTo);
      return;
    }
    sendJson(res, 200, r, pretty);
  }

  private clusterStatus(res: ServerResponse, pretty: boolean): void {
    const { cluster, state } = this.deps;
    const peers = cluster
      .members()
      .map((m) => m.id)
      .filter((id) => id !== cluster.self);
    const body: Record<string, unknown> = {
      IsLeader: cluster.isLeader(),
      Leader: cluster.leader() ?? "",
      Peers: peers,
      MaxVolumeId: state.maxVolumeId,
      Security: securitySummary(this.deps.security),
    };
    sendJson(res, 200, body, pretty);
  }

  private async metricsText(res: ServerResponse): Promise<void> {
    const registry = this.deps.metrics.registry;
    sendText(res, 200, registry.contentType, await registry.metrics());
  }

  /** /<fid> in any of the volume server's path forms -> 308 to a volume server holding it. */
  private redirectToVolume(req: IncomingMessage, res: ServerResponse, path: string, q: URLSearchParams): void {
    let vid: number;
    try {
      vid = parseFidPath(path).fid.volumeId;
    } catch {
      throw new WeedError(ErrorCode.NOT_FOUND, `unknown path ${path}`);
    }
    const r = lookupVolume(this.deps.topology, String(vid), q.get("collection") ?? "");
    if (!r.ok) throw new WeedError(ErrorCode.NOT_FOUND, r.error);
    const node = r.nodes[Math.floor(this.deps.random() * r.nodes.length)]!;
    const query = queryString(req.url ?? "");
    res.writeHead(308, {
      Location: normalizeUrl(node.publicUrl) + path + (query === "" ? "" : `?${query}`),
      "Content-Length": 0,
    });
    res.end();
  }
}

/**
 * SeaweedFS answers a failed assign or upload inside /submit with 500; a "retry soon" (503 +
 * Retry-After) is kept, since it tells the client what to do.
 */
function asSubmitFailure(err: unknown): never {
  if (err instanceof WeedError && err.retryAfterSec !== undefined) throw err;
  throw new WeedError(ErrorCode.INTERNAL, err instanceof Error ? err.message : String(err), { cause: err });
}

/**
 * Object literals of one shape each: a spread ({ ...body, auth }) took V8's slow paths on every
 * secured assign (object cloning, dictionary mode), ~10 us of a ~200 us write.
 */
function sendAssign(res: ServerResponse, r: AssignResult, pretty: boolean, auth: string | undefined): void {
  const node = r.nodes[0]!;
  if (auth === undefined)
    return sendJson(res, 200, { fid: r.fid, url: node.url, publicUrl: node.publicUrl, count: r.count }, pretty);
  const body = { fid: r.fid, url: node.url, publicUrl: node.publicUrl, count: r.count, auth };
  sendJson(res, 200, body, pretty, bearer(auth));
}
