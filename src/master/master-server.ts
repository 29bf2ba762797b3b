// The master's composition root: binds its ports, opens the Raft-replicated state, wires the
// topology, assigner, heartbeats, gRPC service and HTTP API, and undoes it in reverse on close().
// The constructor validates the config and does no I/O.
import { type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError, grpcStatusOf } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { drainHttpServer, sendError } from "../common/http-util.js";
import { grpcAddress, parseServerAddress } from "../common/server-address.js";
import { Seaweed } from "../gen/master_pb.js";
import { addService, bindServer, shutdownServer } from "../grpc/adapter.js";
import { newGrpcServer } from "../grpc/tls.js";
import { StorageEmptyError, type RuntimeLogger } from "../raft/runtime/index.js";
import { seaweedRequestDecoders, seaweedService } from "./api/grpc-service.js";
import { HeartbeatService } from "./api/heartbeat-service.js";
import { MasterHttpHandlers } from "./api/http-handlers.js";
import { LeaderForwarder } from "./api/leader-forwarder.js";
import { LeaderGrpcClients } from "./api/leader-grpc.js";
import { MasterMetrics } from "./api/metrics.js";
import { UploadClient } from "./api/upload-client.js";
import { LeadershipReactions } from "./leadership.js";
import {
  closeGraceMs,
  grpcCloseGraceMs,
  grpcKeepaliveMs,
  handOffTimeoutMs,
  leaderWaitMs,
  leaderWarmUpMs,
  pulseSecondsDefault,
  repairGraceSecondsDefault,
  garbageThresholdDefault,
  vacuumPeriodMsDefault,
  soloElectionWaitMs,
} from "./limits.js";
import { MASTER_VERSION, validateMasterConfig, type MasterConfig } from "./master-config.js";
import { RaftClusterView } from "./state/cluster-view.js";
import { isSoleVoter, joinCluster, probeClusterId } from "./state/join.js";
import {
  acquireMdirLock,
  mdirLostStateError,
  mdirOfAnotherMasterError,
  mdirUnreadableError,
  readMasterId,
  recordMasterId,
  type MdirLock,
} from "./state/mdir.js";
import { MembershipManager } from "./state/membership.js";
import { RaftClusterState } from "./state/raft-cluster-state.js";
import { Sequencer } from "./state/sequencer.js";
import { snapshotOf } from "./repair/cluster-snapshot.js";
import { fidTokensOf } from "../common/security/jwt.js";
import { adminKeyOf } from "../common/security/admin-token.js";
import { adminCredentialOf } from "../common/security/admin-credential.js";
import { installProcessAdminKey } from "../grpc/admin-call.js";
import { createWebServer, installHttpsClient } from "../common/security/https.js";
import { checkJobRunner, runCopyJob } from "./repair/repair-jobs.js";
import { realRepairClock, Repairer } from "./repair/repairer.js";
import { Vacuumer } from "./repair/vacuum.js";
import { grpcVacuumCalls } from "./repair/vacuum-calls.js";
import { Assigner } from "./topology/assigner.js";
import { Topology } from "./topology/topology.js";
import { GrpcVolumeAllocator } from "./topology/volume-allocator.js";
import { VolumeGrowth } from "./topology/volume-growth.js";
import { describeSecurity, securitySummary } from "../common/security/summary.js";
import type { SecurityConfig } from "../common/security/config.js";

export { MASTER_VERSION, type MasterConfig } from "./master-config.js";

/** The real randomness and monotonic clock, injected from here into every part of the master. */
const realWorld = { random: Math.random, now: (): number => performance.now() };

/** The wired parts, present between start() and close(); each is undone in reverse. */
interface Running {
  httpServer: HttpServer;
  lock: MdirLock;
  grpcServer: grpc.Server;
  state: RaftClusterState;
  forwarder: LeaderForwarder;
  leaderCalls: LeaderGrpcClients;
  sequencer: Sequencer;
  heartbeats: HeartbeatService;
  growth: VolumeGrowth;
  allocator: GrpcVolumeAllocator;
  uploads: UploadClient;
  leadership: LeadershipReactions;
  /** The leader's background replica repair; undefined with -repairGraceSeconds=0. */
  repairer: Repairer | undefined;
  /** The leader's vacuum: automatic passes and /vol/vacuum. */
  vacuumer: Vacuumer;
  /** Stops the admission loop of a joining master. */
  joinAbort: AbortController;
}

/** What binding the ports gives: enough to undo a start that fails before the state opens. */
interface Bound {
  httpServer: HttpServer;
  lock: MdirLock;
  grpcServer: grpc.Server;
  self: string;
  /** The id in mdir/master.id: this directory has held a member's Raft state (null: never). */
  recordedId: string | null;
}

export class MasterServer {
  private readonly config: MasterConfig;
  private readonly log: Logger;
  private running: Running | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private boundHttpPort = 0;
  private boundGrpcPort = 0;
  private selfId = "";
  /** Set once the Raft state is loaded: the HTTP API answers from then on. */
  private http: MasterHttpHandlers | undefined;
  /** Requests that arrived while the master starts, woken when it has opened (or failed). */
  private readonly openWaiters = new Set<() => void>();

  constructor(config: MasterConfig) {
    validateMasterConfig(config);
    this.config = config;
    this.log = config.logger.child({ component: "master" });
  }

  get httpPort(): number {
    return this.boundHttpPort;
  }
  get grpcPort(): number {
    return this.boundGrpcPort;
  }
  /** This master's id: "ip:port" (HTTP) as volume servers, clients and -peers name it. */
  get address(): string {
    return this.selfId;
  }

  start(): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new WeedError(ErrorCode.CLOSED, "master is closed"));
    this.starting ??= this.doStart().catch(async (err: unknown) => {
      await this.shutdown();
      throw err;
    });
    return this.starting;
  }

  /** Idempotent: ends heartbeat streams, drains HTTP and gRPC, then closes the state store. */
  close(): Promise<void> {
    this.closing ??= (this.starting ?? Promise.resolve()).catch(() => undefined).then(() => this.shutdown());
    return this.closing;
  }

  private async doStart(): Promise<void> {
    const c = this.config;
    const adminKey = adminKeyOf(c.security);
    // The leader's allocation and repair call the volume servers' admin methods (admin-call.ts).
    if (adminKey !== undefined) installProcessAdminKey(adminKey);
    // Forwarding, joins and the repair's needle calls dial https:// with [https.client].
    installHttpsClient(c.security?.httpsClient);
    const bound = await this.bind();
    const peers = c.peers !== undefined && c.peers.length > 0 ? [...c.peers] : [bound.self];
    const contacts = c.join ?? [];
    const state = this.openState(bound, contacts.length > 0 ? null : peers);
    const { run, http, cluster } = this.wire(bound, state);
    this.running = run;
    await state.open().catch((err: unknown) => {
      if (err instanceof StorageEmptyError && bound.recordedId !== null)
        throw mdirLostStateError(c.mdir, bound.recordedId);
      throw err instanceof WeedError ? err : mdirUnreadableError(c.mdir, err);
    });
    if (bound.recordedId === null) await recordMasterId(c.mdir, bound.self);
    run.leadership.opened();
    if (contacts.length > 0) {
      // Also a master that believes it is a voter asks (unless it hears a leader at once): it may
      // have been removed without learning of it, and a removed master started again means "add me back".
      const o = { self: bound.self, state, contacts, logger: this.log, random: realWorld.random };
      void joinCluster({ ...o, adminKey, signal: run.joinAbort.signal });
    } else if (isSoleVoter(state, bound.self)) {
      // Decided by the membership in the log, not the flags: a master started alone may have
      // been joined by others since. start() returns once it leads.
      await cluster.leaderKnown({ signal: AbortSignal.timeout(soloElectionWaitMs) }).catch(() => {
        throw new WeedError(
          ErrorCode.UNAVAILABLE,
          `a single master did not elect itself within ${soloElectionWaitMs} ms`,
        );
      });
    }
    this.http = http;
    for (const wake of this.openWaiters) wake();
    const ports = { http: this.boundHttpPort, grpc: this.boundGrpcPort, raft: state.runtime.port };
    this.log.info({ self: bound.self, peers, ...ports, mdir: c.mdir }, "master started");
    logSecurity(this.log, c.security);
  }

  /**
   * HTTP first: with port 0 (tests) the bound port is part of this master's id. Then the mdir
   * lock (one master per directory) and the gRPC port, which Raft shares, as in SeaweedFS.
   */
  private async bind(): Promise<Bound> {
    const c = this.config;
    const https = c.security?.httpsMaster;
    const httpServer = createWebServer(
      {},
      (req, res) => this.onHttp(req, res),
      https === undefined ? undefined : { config: https, section: "https.master" },
    );
    this.boundHttpPort = await listen(httpServer, c.bindIp, c.port);
    const self = c.self ?? `${c.ip}:${this.boundHttpPort}`;
    this.selfId = self;
    let lock: MdirLock;
    try {
      lock = await acquireMdirLock(c.mdir, { id: self });
    } catch (err) {
      httpServer.close();
      throw err;
    }
    // master.id is written once the Raft state exists: a directory that has one has been a member.
    const recordedId = await readMasterId(c.mdir).catch(async (err: unknown) => {
      await lock.release();
      httpServer.close();
      throw err;
    });
    if (recordedId !== null && recordedId !== self) {
      await lock.release();
      httpServer.close();
      throw mdirOfAnotherMasterError(c.mdir, recordedId, self);
    }
    if (lock.replacedStale !== null) {
      this.log.warn({ mdir: c.mdir, stale: lock.replacedStale }, "replaced the lock of a master that is gone");
    }
    // Keepalive: a volume server behind a lossy cut is dropped in ~2 s, not when TCP gives up.
    // With security.toml's [grpc]: mutual TLS with [grpc.master]'s certificate (Raft included).
    const grpcServer = newGrpcServer(
      { "grpc.keepalive_time_ms": grpcKeepaliveMs, "grpc.keepalive_timeout_ms": grpcKeepaliveMs },
      c.security,
      "master",
    );
    try {
      this.boundGrpcPort = await bindServer(grpcServer, c.bindIp, c.grpcPort);
    } catch (err) {
      await lock.release();
      httpServer.close();
      throw err;
    }
    return { httpServer, lock, grpcServer, self, recordedId };
  }

  /** The Raft-replicated state; `bootstrap`: the first membership, null for a joining master. */
  private openState(bound: Bound, bootstrap: string[] | null): RaftClusterState {
    const c = this.config;
    const { self, grpcServer } = bound;
    const raft = c.raft ?? {};
    return new RaftClusterState({
      id: self,
      dir: join(c.mdir, "raft"),
      // A joining master starts empty and learns the membership from the leader's log.
      ...(bootstrap === null ? {} : { bootstrap }),
      // A directory that has been a member's never starts empty: its log was lost or damaged.
      requireState: bound.recordedId !== null,
      // A member's id is its HTTP address; its Raft server is on its gRPC port.
      resolve: (id) => (id === self ? `${c.ip}:${this.boundGrpcPort}` : grpcAddress(parseServerAddress(id))),
      grpcServer,
      listenHost: c.bindIp,
      listenPort: this.boundGrpcPort,
      ...(raft.tickMs === undefined ? {} : { tickMs: raft.tickMs }),
      ...(raft.electionTicks === undefined ? {} : { electionTicks: raft.electionTicks }),
      ...(raft.heartbeatTicks === undefined ? {} : { heartbeatTicks: raft.heartbeatTicks }),
      ...(raft.snapshotThreshold === undefined ? {} : { snapshotThreshold: raft.snapshotThreshold }),
      // pino's child logger has the (obj, msg) methods the runtime calls.
      log: this.log.child({ module: "raft" }) as RuntimeLogger,
    });
  }

  /** Builds the parts around the state; nothing here does I/O until the state opens. */
  private wire(
    bound: Bound,
    state: RaftClusterState,
  ): { run: Running; http: MasterHttpHandlers; cluster: RaftClusterView } {
    const c = this.config;
    const { self, grpcServer } = bound;
    const { random, now } = realWorld;
    // Before anything else listens to the runtime: leading counts from the role event on.
    const cluster = new RaftClusterView(self, state.runtime);
    const topology = new Topology(c.volumeSizeLimitMB * 1024 * 1024);
    const metrics = new MasterMetrics(topology, state);
    const logger = this.log;
    const sequencer = new Sequencer(state, logger);
    const allocator = new GrpcVolumeAllocator();
    const uploads = new UploadClient();
    const forwarder = new LeaderForwarder(self);
    const leaderCalls = new LeaderGrpcClients(cluster);
    const growthOptions = c.volumeGrowthCount === undefined ? {} : { growthCount: c.volumeGrowthCount };
    const growth = new VolumeGrowth({ topology, state, allocator, random, logger, metrics }, growthOptions);
    const everAllocated = (): boolean => state.maxVolumeId > 0;
    const assigner = new Assigner({ topology, sequencer, growth, random, now, everAllocated });
    const heartbeats = new HeartbeatService({
      ...{ topology, sequencer, state, logger, metrics, cluster },
      onNodeLeft: (node, vanished) => {
        allocator.forget(node);
        uploads.forget(node.url, vanished);
      },
      pulseMs: (c.pulseSeconds ?? pulseSecondsDefault) * 1000,
    });
    const membership = new MembershipManager(state.runtime, self, logger, () => state.topologyId, probeClusterId);
    const { defaultReplication } = c;
    const service = { assigner, topology, heartbeats, metrics, logger, defaultReplication, cluster, leaderCalls };
    // [jwt.signing]: tokens from assign, lookup and /submit, signed as synchronous HMACs on the wall
    // clock as this process's monotonic clock tracks it from its start (exp is whole seconds, ~10 s ahead).
    const fidTokens = fidTokensOf(c.security, () => (performance.timeOrigin + now()) / 1000);
    const admin = adminCredentialOf(c.security);
    const seaweed = seaweedService({ ...service, membership, fidTokens, admin });
    addService(grpcServer, Seaweed, seaweed, grpcStatusOf, seaweedRequestDecoders);
    const vacuumer = new Vacuumer(
      { topology, calls: grpcVacuumCalls, ready: () => !assigner.warmingUp, clock: realRepairClock, logger },
      {
        garbageThreshold: c.garbageThreshold ?? garbageThresholdDefault,
        periodMs: c.vacuumPeriodMs ?? vacuumPeriodMsDefault,
      },
    );
    const startedAt = performance.now();
    const http = new MasterHttpHandlers({
      ...{ assigner, topology, growth, state, metrics, uploads, logger, defaultReplication, cluster, forwarder },
      fidTokens,
      ...(c.security === undefined ? {} : { security: c.security }),
      version: `${formatSizeLimit(c.volumeSizeLimitMB)} weed-ts ${MASTER_VERSION}`,
      volumeSizeLimitMB: c.volumeSizeLimitMB,
      membership,
      // The cluster id tells a leader asked to add this master whether it runs a cluster of its own.
      raftStatus: () => ({ ...state.runtime.status(), clusterId: state.topologyId }),
      uptimeSec: () => (performance.now() - startedAt) / 1000,
      random,
      vacuum: { control: vacuumer, defaultThreshold: c.garbageThreshold ?? garbageThresholdDefault },
    });
    const warmUpMs = c.warmUpMs ?? leaderWarmUpMs;
    const repairer = this.repairerOf(topology, assigner);
    const leadership = new LeadershipReactions({
      ...(repairer === undefined ? {} : { repairer }),
      ...{ vacuumer, self, state, assigner, sequencer, heartbeats, forwarder, leaderCalls, logger, warmUpMs, metrics },
    });
    const joinAbort = new AbortController();
    const parts = { forwarder, leaderCalls, sequencer, heartbeats, growth, allocator, uploads, leadership };
    return { run: { ...bound, state, ...parts, repairer, vacuumer, joinAbort }, http, cluster };
  }

  /**
   * The leader's background repair over this master's topology, scanning once the assigner's
   * warm-up is over; none with -repairGraceSeconds=0.
   */
  private repairerOf(topology: Topology, assigner: Assigner): Repairer | undefined {
    const graceSec = this.config.repairGraceSeconds ?? repairGraceSecondsDefault;
    if (graceSec === 0) return undefined;
    const deps = {
      snapshot: () => snapshotOf(topology),
      ready: () => !assigner.warmingUp,
      copy: runCopyJob,
      check: checkJobRunner(this.config.security?.jwtSigning),
      clock: realRepairClock,
      random: realWorld.random,
      logger: this.log,
    };
    return new Repairer(deps, { graceMs: graceSec * 1000 });
  }

  /**
   * Requests that arrive while the master starts (HTTP listens first: its port is part of the id)
   * wait for it, bounded by leaderWaitMs, rather than failing: a restart costs clients a stall.
   */
  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    if (this.http !== undefined) {
      this.http.handle(req, res);
      return;
    }
    const answer = (): void => {
      clearTimeout(timer);
      this.openWaiters.delete(answer);
      if (this.http !== undefined && this.closing === undefined) this.http.handle(req, res);
      else sendError(res, new WeedError(ErrorCode.UNAVAILABLE, "master is starting", { retryAfterSec: 1 }));
    };
    const timer = setTimeout(answer, leaderWaitMs);
    this.openWaiters.add(answer);
  }

  /**
   * Reverse of doStart; safe on a half-started server. The order is what makes a restart cost
   * clients nothing: (1) a leader hands leadership over while it still serves everything; (2) HTTP
   * stops accepting (clients move to the next master on "connection refused") and requests in flight
   * finish, served or forwarded to the new leader; (3) only then the parts behind them stop.
   */
  private async shutdown(): Promise<void> {
    for (const wake of [...this.openWaiters]) wake();
    const run = this.running;
    if (run === undefined) return;
    this.running = undefined;
    run.joinAbort.abort();
    // Copies under way are cancelled before the hand-off: the next leader restarts them after its grace.
    await run.repairer?.close();
    await run.vacuumer.close();
    try {
      const to = await run.state.handOff(handOffTimeoutMs);
      if (to !== null) this.log.info({ leader: to }, "handed leadership over before stopping");
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        "leadership hand-off before stopping failed; the others elect a leader",
      );
    }
    await drainHttpServer(run.httpServer, closeGraceMs);
    this.http?.close();
    run.heartbeats.close();
    run.growth.close();
    run.sequencer.close();
    await run.state.close();
    run.leadership.close();
    // HTTP has drained and Raft is closed: what is left on gRPC are long-lived streams (peers'
    // Raft streams, heartbeats being redirected) that would only hold the exit up.
    await shutdownServer(run.grpcServer, grpcCloseGraceMs);
    await run.uploads.close();
    await run.forwarder.close();
    run.leaderCalls.close();
    run.allocator.close();
    await run.lock.release();
    this.log.info("master stopped");
  }
}

/** SeaweedFS's version string names the volume size limit: "30GB", "512MB". */
function formatSizeLimit(mb: number): string {
  return mb >= 1024 ? `${Math.floor(mb / 1024)}GB` : `${mb}MB`;
}

function listen(server: HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Once at start: an open cluster is said loudly; a secured one says what is on (no keys, no paths). */
function logSecurity(log: Logger, security: SecurityConfig | undefined): void {
  const s = securitySummary(security);
  if (!s.Enabled) {
    log.warn("security is off: anyone who can reach these ports can write, delete and change the cluster");
    return;
  }
  const { JwtWrite, JwtRead, JwtAdmin, GrpcTls, HttpsMaster, HttpsVolume, WhiteList } = s;
  const jwt = { jwtWrite: JwtWrite, jwtRead: JwtRead, jwtAdmin: JwtAdmin };
  const tls = { grpcTls: GrpcTls, httpsMaster: HttpsMaster, httpsVolume: HttpsVolume };
  log.info({ ...jwt, ...tls, whiteList: WhiteList, file: security?.source }, `security ${describeSecurity(s)}`);
}
