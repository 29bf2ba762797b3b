// The single-node master: the composition root that wires cluster state, sequencer, topology,
// growth, heartbeats, the gRPC service and the HTTP API, and undoes it in reverse on close().
// The constructor validates the config and does no I/O.
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError, grpcStatusOf } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import { Seaweed } from "../gen/master_pb.js";
import { addService, bindServer, shutdownServer } from "../grpc/adapter.js";
import { Assigner } from "./topology/assigner.js";
import type { ClusterView, MasterMember } from "./state/cluster-view.js";
import { LeaderForwarder } from "./api/leader-forwarder.js";
import { LeaderGrpcClients } from "./api/leader-grpc.js";
import { RaftClusterState } from "./state/raft-cluster-state.js";
import type { RuntimeLogger } from "../raft/runtime/index.js";
import { grpcAddress, parseServerAddress } from "../common/server-address.js";
import { seaweedService } from "./api/grpc-service.js";
import { HeartbeatService } from "./api/heartbeat-service.js";
import { MasterHttpHandlers } from "./api/http-handlers.js";
import {
  closeGraceMs,
  grpcCloseGraceMs,
  growthCountMax,
  handOffTimeoutMs,
  joinLogEveryMs,
  joinRequestTimeoutMs,
  joinRetryBaseMs,
  joinRetryMaxMs,
  leaderWarmUpMs,
  leaderWaitMs,
  memberProbeTimeoutMs,
  soloElectionWaitMs,
  volumeSizeLimitMBMax,
  warmUpPollMs,
} from "./limits.js";
import { memberHttpAddress, MembershipManager } from "./state/membership.js";
import { acquireMdirLock, type MdirLock } from "./state/mdir.js";
import { request } from "undici";
import { drainHttpServer, sendError } from "../common/http-util.js";
import { MasterMetrics } from "./api/metrics.js";
import { Sequencer } from "./state/sequencer.js";
import { Topology } from "./topology/topology.js";
import { UploadClient } from "./api/upload-client.js";
import { GrpcVolumeAllocator } from "./topology/volume-allocator.js";
import { VolumeGrowth } from "./topology/volume-growth.js";

export const MASTER_VERSION = "0.1.0";

export interface MasterConfig {
  /** Advertised host, e.g. "127.0.0.1" or "localhost". */
  ip: string;
  /** Listen address. */
  bindIp: string;
  /** HTTP port (0 = pick a free one). */
  port: number;
  /** gRPC port (0 = pick a free one). */
  grpcPort: number;
  /** State directory; the cluster state LevelDB lives in mdir/cluster-state. */
  mdir: string;
  /** A volume at or over this size is full (not writable). Default in SeaweedFS: 30720. */
  volumeSizeLimitMB: number;
  /** Replication when an assign gives none, e.g. "000". */
  defaultReplication: string;
  /** Volumes grown per layout when none is writable; default by copy count (7, 6, 3, 1). */
  volumeGrowthCount?: number;
  /** After this master becomes leader, growth is refused this long (ms) while volume servers report. */
  warmUpMs?: number;
  /**
   * Every master's id ("host:port" of its HTTP server as the operator lists it), this one
   * included; empty or absent for a single master. Used to bootstrap the Raft group on the first
   * start only: afterwards the membership lives in the Raft log in mdir.
   */
  peers?: readonly string[];
  /** This master's id as `peers` spells it; default "ip:port". */
  self?: string;
  /**
   * Members of a running cluster (any one will do) to ask for admission, when this master is not
   * yet a voter: it joins as a learner, catches up, and is promoted. Empty or absent otherwise.
   */
  join?: readonly string[];
  /** Raft timing (see src/raft/runtime/TUNING.md); defaults suit a LAN or loopback. */
  raft?: { tickMs?: number; electionTicks?: number; heartbeatTicks?: number; snapshotThreshold?: number };
  logger: Logger;
}

function badConfig(what: string, value: unknown, why: string): WeedError {
  return new WeedError(ErrorCode.BAD_PARAM, `invalid master config ${what}=${JSON.stringify(value)}: ${why}`);
}

function validatePort(name: string, p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw badConfig(name, p, "expected 0-65535");
}

function validate(c: MasterConfig): void {
  if (c.ip === "") throw badConfig("ip", c.ip, "must not be empty");
  if (c.mdir === "") throw badConfig("mdir", c.mdir, "must not be empty");
  validatePort("port", c.port);
  validatePort("grpcPort", c.grpcPort);
  if (!Number.isInteger(c.volumeSizeLimitMB) || c.volumeSizeLimitMB < 1 || c.volumeSizeLimitMB > volumeSizeLimitMBMax) {
    throw badConfig(
      "volumeSizeLimitMB",
      c.volumeSizeLimitMB,
      `expected 1-${volumeSizeLimitMBMax} (4-byte offsets address at most 32 GiB)`,
    );
  }
  parseReplicaPlacement(c.defaultReplication);
  const g = c.volumeGrowthCount;
  if (g !== undefined && (!Number.isInteger(g) || g < 1 || g > growthCountMax))
    throw badConfig("volumeGrowthCount", g, `expected 1-${growthCountMax}`);
  if (c.warmUpMs !== undefined && (!Number.isInteger(c.warmUpMs) || c.warmUpMs < 0))
    throw badConfig("warmUpMs", c.warmUpMs, "expected >= 0");
}

/** The wired parts, present between start() and close(). */
interface Running {
  state: RaftClusterState;
  forwarder?: LeaderForwarder;
  leaderCalls?: LeaderGrpcClients;
  sequencer?: Sequencer;
  heartbeats?: HeartbeatService;
  growth?: VolumeGrowth;
  allocator?: GrpcVolumeAllocator;
  uploads?: UploadClient;
  grpcServer?: grpc.Server;
  httpServer?: HttpServer;
  /** Stops the admission loop of a joining master. */
  joinAbort?: AbortController;
  /** mdir/master.lock: one master per directory, and offline tools refuse while it is held. */
  lock?: MdirLock;
  /** Cancels timers of the wiring (the deferred end of heartbeat streams). */
  onClose?: () => void;
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
  private leaderReady = false;
  /** Raft state loaded: the HTTP API answers from here on (before, a 503 "starting"). */
  private opened = false;
  private http: MasterHttpHandlers | undefined;

  constructor(config: MasterConfig) {
    validate(config);
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
    // HTTP first: with port 0 (tests) the bound port is part of this master's id.
    const httpServer = createServer((req, res) => this.onHttp(req, res));
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
    if (lock.replacedStale !== null)
      this.log.warn({ mdir: c.mdir, stale: lock.replacedStale }, "replaced the lock of a master that is gone");
    const grpcServer = new grpc.Server();
    let boundGrpc: number;
    try {
      boundGrpc = await bindServer(grpcServer, c.bindIp, c.grpcPort);
    } catch (err) {
      await lock.release();
      httpServer.close();
      throw err;
    }
    this.boundGrpcPort = boundGrpc;
    const peers = c.peers !== undefined && c.peers.length > 0 ? [...c.peers] : [self];
    const contacts = c.join ?? [];

    const state = new RaftClusterState({
      id: self,
      dir: join(c.mdir, "raft"),
      // A joining master starts empty and learns the membership from the leader's log.
      ...(contacts.length > 0 ? {} : { bootstrap: peers }),
      // A member's id is its HTTP address; its Raft server is on its gRPC port.
      resolve: (id) => (id === self ? `${c.ip}:${this.boundGrpcPort}` : grpcAddress(parseServerAddress(id))),
      // Raft shares the master's gRPC port, as in SeaweedFS.
      grpcServer,
      listenHost: c.bindIp,
      listenPort: this.boundGrpcPort,
      ...(c.raft?.tickMs === undefined ? {} : { tickMs: c.raft.tickMs }),
      ...(c.raft?.electionTicks === undefined ? {} : { electionTicks: c.raft.electionTicks }),
      ...(c.raft?.heartbeatTicks === undefined ? {} : { heartbeatTicks: c.raft.heartbeatTicks }),
      ...(c.raft?.snapshotThreshold === undefined ? {} : { snapshotThreshold: c.raft.snapshotThreshold }),
      // pino's child logger has the (obj, msg) methods the runtime calls.
      log: this.log.child({ module: "raft" }) as RuntimeLogger,
    });
    const run: Running = { state, grpcServer, httpServer, lock };
    this.running = run;
    const cluster = this.clusterView(state);

    const topology = new Topology(c.volumeSizeLimitMB * 1024 * 1024);
    const metrics = new MasterMetrics(topology, state);
    run.sequencer = new Sequencer(state, this.log);
    run.allocator = new GrpcVolumeAllocator();
    run.uploads = new UploadClient();
    run.forwarder = new LeaderForwarder(self);
    run.leaderCalls = new LeaderGrpcClients(cluster);
    const growthOptions = c.volumeGrowthCount === undefined ? {} : { growthCount: c.volumeGrowthCount };
    run.growth = new VolumeGrowth(
      { topology, state, allocator: run.allocator, random: Math.random, logger: this.log, metrics },
      growthOptions,
    );
    const assigner = new Assigner({
      topology,
      sequencer: run.sequencer,
      growth: run.growth,
      random: Math.random,
      now: () => performance.now(),
    });
    const { allocator, uploads, sequencer } = run;
    const heartbeats = new HeartbeatService({
      topology,
      sequencer,
      state,
      logger: this.log,
      metrics,
      leader: () => cluster.leader(),
      isLeader: () => cluster.isLeader(),
      onNodeLeft: (node) => {
        allocator.forget(node);
        uploads.forget(node.url);
      },
    });
    run.heartbeats = heartbeats;
    const membership = new MembershipManager(state.runtime, self, this.log, () => state.topologyId, probeClusterId);
    addService(
      grpcServer,
      Seaweed,
      seaweedService({
        assigner,
        topology,
        heartbeats,
        metrics,
        logger: this.log,
        defaultReplication: c.defaultReplication,
        cluster,
        leaderCalls: run.leaderCalls,
        membership,
      }),
      grpcStatusOf,
    );

    const startedAt = performance.now();
    this.http = new MasterHttpHandlers({
      assigner,
      topology,
      growth: run.growth,
      state,
      metrics,
      uploads,
      logger: this.log,
      defaultReplication: c.defaultReplication,
      version: `${c.volumeSizeLimitMB >= 1024 ? `${Math.floor(c.volumeSizeLimitMB / 1024)}GB` : `${c.volumeSizeLimitMB}MB`} weed-ts ${MASTER_VERSION}`,
      volumeSizeLimitMB: c.volumeSizeLimitMB,
      cluster,
      forwarder: run.forwarder,
      membership,
      // The cluster id tells a leader asked to add this master whether it runs a cluster of its own.
      raftStatus: () => ({ ...state.runtime.status(), clusterId: state.topologyId }),
      uptimeSec: () => (performance.now() - startedAt) / 1000,
    });

    const warmUp = c.warmUpMs ?? leaderWarmUpMs;
    state.runtime.on("role-changed", ({ role, term }) => {
      this.log.info({ role, term }, `raft: became ${role}`);
      this.leaderReady = role === "leader";
      if (role === "leader") {
        clearTimeout(endTimer);
        endTimer = undefined;
        // The topology is soft state: volume servers report to the new leader within a beat or
        // two. Until then growth would allocate volumes that already exist elsewhere.
        // A cluster that never allocated a volume has nothing to wait for, but a new leader may
        // not have applied its whole log yet (a restarted master re-applies after its snapshot as
        // it learns the commit index): the warm-up holds until a read barrier says which it is.
        assigner.warmUpUntil(performance.now() + warmUp);
        void state.runtime
          .readIndex({ timeoutMs: warmUp })
          .then(() => {
            if (state.maxVolumeId === 0 && this.leaderReady) assigner.warmUpUntil(0);
          })
          .catch(() => undefined); // No barrier: the warm-up runs its course.

        void state
          .ensureTopologyId()
          .catch((err: unknown) =>
            this.log.warn(
              { err: (err as Error).message },
              "fixing the cluster id failed; retried on the next election",
            ),
          );
        void sequencer
          .start()
          .catch((err: unknown) =>
            this.log.warn({ err: (err as Error).message }, "reserving file keys failed; retried on demand"),
          );
      } else {
        sendVolumeServersOn();
      }
    });
    // A master that stops leading sends its volume servers on to the new leader: with its name,
    // so they move at once instead of backing off and searching. Right after a step-down the new
    // leader is often not known yet; the streams are ended when it is, or after a bound.
    let endTimer: NodeJS.Timeout | undefined;
    const sendVolumeServersOn = (): void => {
      const leader = state.runtime.currentLeader();
      if (leader === self) {
        // Elected after all (a candidate's role changes pass through here): keep the streams.
        clearTimeout(endTimer);
        endTimer = undefined;
      } else if (leader !== null) {
        clearTimeout(endTimer);
        endTimer = undefined;
        heartbeats.endAll();
      } else {
        endTimer ??= setTimeout(() => {
          endTimer = undefined;
          heartbeats.endAll();
        }, state.runtime.electionTimeoutMs * 3);
      }
    };
    run.onClose = () => clearTimeout(endTimer);
    let previousLeader: string | null = null;
    state.runtime.on("leader-changed", ({ leader }) => {
      if (previousLeader !== null && previousLeader !== self && previousLeader !== leader)
        run.forwarder?.forget(previousLeader);
      previousLeader = leader;
      if (endTimer !== undefined) sendVolumeServersOn();
    });
    let wasMember = false;
    state.runtime.on("membership-changed", ({ membership }) => {
      const member = membership.voters.includes(self) || membership.learners.includes(self);
      if (wasMember && !member)
        this.log.warn(
          { self },
          "this master was removed from the cluster: it no longer votes or serves as leader; stop it, or add it again",
        );
      wasMember = member;
    });
    await state.open();
    wasMember = state.runtime.status().members.some((m) => m.id === self);
    // Also a master that believes it is a voter asks (unless it hears a leader at once): it may have
    // been removed without learning of it, and a removed master started again means "add me back".
    if (contacts.length > 0) {
      run.joinAbort = new AbortController();
      void this.joinCluster(state, contacts, run.joinAbort.signal);
    } else if (isSoleVoter(state, self)) {
      // Decided by the membership in the log, not the flags: a master started alone may have
      // been joined by others since.
      await this.awaitLeadership(state);
    }
    this.opened = true;
    this.log.info(
      { self, peers, http: this.boundHttpPort, grpc: this.boundGrpcPort, raft: state.runtime.port, mdir: c.mdir },
      "master started",
    );
  }

  /**
   * Asks the listed members to add this master until one of them (forwarding to the leader) has
   * added and promoted it, or it shows up as a voter anyway. Retries with capped backoff for as
   * long as the master runs: a cluster that is down at the moment is waited for, not given up on.
   */
  private async joinCluster(state: RaftClusterState, contacts: readonly string[], signal: AbortSignal): Promise<void> {
    const self = this.selfId;
    this.log.debug(
      { self, via: contacts },
      "asking the cluster to add this master unless a leader knows it as a voter",
    );
    let delay = joinRetryBaseMs;
    let loggedAt = -Infinity;
    // A master with a membership of its own gives the leader a moment to reach it first.
    if (state.runtime.status().members.length > 0)
      await new Promise((r) => setTimeout(r, state.runtime.electionTimeoutMs));
    for (let attempt = 0; !signal.aborted; attempt++) {
      // A voter that hears a leader is home; a lone voter is a cluster of its own, which the
      // contacts' leader either adopts or refuses with the reason (another cluster's state).
      if (isVoter(state, self) && state.runtime.currentLeader() !== null && !isSoleVoter(state, self)) break;
      const contact = contacts[attempt % contacts.length]!;
      let problem: string;
      try {
        const query = new URLSearchParams({ id: self, clusterId: state.topologyId });
        const r = await request(`http://${memberHttpAddress(contact)}/cluster/raft/add?${query.toString()}`, {
          method: "POST",
          headersTimeout: joinRequestTimeoutMs,
          bodyTimeout: joinRequestTimeoutMs,
          signal,
        });
        const text = await r.body.text();
        if (r.statusCode === 200) {
          this.log.info({ via: contact, answer: JSON.parse(text) as unknown }, "joined the cluster as a voter");
          return;
        }
        problem = `${r.statusCode} ${text.slice(0, 300)}`;
      } catch (err) {
        if (signal.aborted) return;
        problem = (err as Error).message;
      }
      // Said once, then every few seconds: a joiner waiting for its cluster is not an emergency.
      if (performance.now() - loggedAt > joinLogEveryMs) {
        loggedAt = performance.now();
        this.log.warn(
          { via: contact, problem },
          "not admitted yet; retrying (a new cluster lists every master, this one included, in -peers)",
        );
      }
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
      delay = Math.min(delay * 2, joinRetryMaxMs);
    }
    if (!signal.aborted) this.log.info({ self }, "this master is a voter");
  }

  /** A lone master elects itself within an election timeout; start() returns once it leads. */
  private async awaitLeadership(state: RaftClusterState): Promise<void> {
    const deadline = performance.now() + soloElectionWaitMs;
    while (!(this.leaderReady && state.runtime.isLeader())) {
      if (performance.now() > deadline)
        throw new WeedError(
          ErrorCode.UNAVAILABLE,
          `a single master did not elect itself within ${soloElectionWaitMs} ms`,
        );
      await new Promise((r) => setTimeout(r, warmUpPollMs));
    }
  }

  private clusterView(state: RaftClusterState): ClusterView {
    const self = this.selfId;
    return {
      self,
      // Leading counts once this master has set itself up as leader (warm-up armed): the core
      // may already lead a moment before the runtime reports the role change.
      isLeader: () => this.leaderReady && state.runtime.isLeader(),
      leader: () => state.runtime.currentLeader(),
      members: (): MasterMember[] => {
        const s = state.runtime.status();
        return s.members.map((m) => ({
          id: m.id,
          role: m.suffrage === "learner" ? "learner" : m.id === s.leader ? "leader" : "follower",
        }));
      },
    };
  }

  /**
   * Requests that arrive while the master starts (HTTP listens first: its port is part of the id)
   * wait for it, bounded by leaderWaitMs, rather than failing: a restart costs clients a stall.
   */
  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    if (this.http !== undefined && this.opened) {
      this.http.handle(req, res);
      return;
    }
    const deadline = performance.now() + leaderWaitMs;
    const retry = (): void => {
      if (this.http !== undefined && this.opened) this.http.handle(req, res);
      else if (performance.now() < deadline && this.closing === undefined) setTimeout(retry, warmUpPollMs);
      else sendError(res, new WeedError(ErrorCode.UNAVAILABLE, "master is starting", { retryAfterSec: 1 }));
    };
    setTimeout(retry, warmUpPollMs);
  }

  /**
   * Reverse of doStart; safe on a half-started server. The order is what makes a restart cost
   * clients nothing: (1) a leader hands leadership over while it still serves everything; (2) HTTP
   * stops accepting (clients move to the next master on "connection refused") and requests in flight
   * finish, served or forwarded to the new leader; (3) only then the parts behind them stop.
   */
  private async shutdown(): Promise<void> {
    const run = this.running;
    if (run === undefined) return;
    this.running = undefined;
    run.joinAbort?.abort();
    run.onClose?.();
    try {
      const to = await run.state.handOff(handOffTimeoutMs);
      if (to !== null) this.log.info({ leader: to }, "handed leadership over before stopping");
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        "leadership hand-off before stopping failed; the others elect a leader",
      );
    }
    if (run.httpServer !== undefined) await drainHttpServer(run.httpServer, closeGraceMs);
    run.heartbeats?.close();
    run.growth?.close();
    run.sequencer?.close();
    await run.state.close();
    // HTTP has drained and Raft is closed: what is left on gRPC are long-lived streams (peers'
    // Raft streams, heartbeats being redirected) that would only hold the exit up.
    if (run.grpcServer !== undefined) await shutdownServer(run.grpcServer, grpcCloseGraceMs);
    await run.uploads?.close();
    await run.forwarder?.close();
    run.leaderCalls?.close();
    run.allocator?.close();
    await run.lock?.release();
    this.log.info("master stopped");
  }
}

/** The cluster id a master reports on /cluster/raft ("" for none yet), or null when it does not answer. */
async function probeClusterId(id: string): Promise<string | null> {
  try {
    const r = await request(`http://${memberHttpAddress(id)}/cluster/raft`, {
      headersTimeout: memberProbeTimeoutMs,
      bodyTimeout: memberProbeTimeoutMs,
    });
    const text = await r.body.text();
    if (r.statusCode !== 200) return null;
    const v = (JSON.parse(text) as { clusterId?: unknown }).clusterId;
    return typeof v === "string" ? v : "";
  } catch {
    return null;
  }
}

function isSoleVoter(state: RaftClusterState, id: string): boolean {
  const voters = state.runtime.status().members.filter((m) => m.suffrage === "voter");
  return voters.length === 1 && voters[0]!.id === id;
}

function isVoter(state: RaftClusterState, id: string): boolean {
  return state.runtime.status().members.some((m) => m.id === id && m.suffrage === "voter");
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
