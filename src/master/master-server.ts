// The single-node master: the composition root that wires cluster state, sequencer, topology,
// growth, heartbeats, the gRPC service and the HTTP API, and undoes it in reverse on close().
// The constructor validates the config and does no I/O.
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ErrorCode, WeedError, grpcStatusOf } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { parseReplicaPlacement } from "../common/replica-placement.js";
import { Seaweed } from "../gen/master_pb.js";
import { addService, bindServer, shutdownServer } from "../grpc/adapter.js";
import { Assigner } from "./assigner.js";
import { LevelClusterState, type ClusterState } from "./cluster-state.js";
import { seaweedService } from "./grpc-service.js";
import { HeartbeatService } from "./heartbeat-service.js";
import { MasterHttpHandlers } from "./http-handlers.js";
import { closeGraceMs, growthCountMax, volumeSizeLimitMBMax, warmUpMs } from "./limits.js";
import { MasterMetrics } from "./metrics.js";
import { Sequencer } from "./sequencer.js";
import { Topology } from "./topology.js";
import { UploadClient } from "./upload-client.js";
import { GrpcVolumeAllocator } from "./volume-allocator.js";
import { VolumeGrowth } from "./volume-growth.js";

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
  /** After a restart with existing volumes, growth is refused this long (ms); default limits.warmUpMs. */
  warmUpMs?: number;
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
    throw badConfig("volumeSizeLimitMB", c.volumeSizeLimitMB, `expected 1-${volumeSizeLimitMBMax} (4-byte offsets address at most 32 GiB)`);
  }
  parseReplicaPlacement(c.defaultReplication);
  const g = c.volumeGrowthCount;
  if (g !== undefined && (!Number.isInteger(g) || g < 1 || g > growthCountMax)) throw badConfig("volumeGrowthCount", g, `expected 1-${growthCountMax}`);
  if (c.warmUpMs !== undefined && (!Number.isInteger(c.warmUpMs) || c.warmUpMs < 0)) throw badConfig("warmUpMs", c.warmUpMs, "expected >= 0");
}

/** The wired parts, present between start() and close(). */
interface Running {
  state: ClusterState;
  sequencer?: Sequencer;
  heartbeats?: HeartbeatService;
  growth?: VolumeGrowth;
  allocator?: GrpcVolumeAllocator;
  uploads?: UploadClient;
  grpcServer?: grpc.Server;
  httpServer?: HttpServer;
}

export class MasterServer {
  private readonly config: MasterConfig;
  private readonly log: Logger;
  private running: Running | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private boundHttpPort = 0;
  private boundGrpcPort = 0;

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
  /** "ip:port" as volume servers and clients should reach this master. */
  get address(): string {
    return `${this.config.ip}:${this.boundHttpPort}`;
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
    const state = new LevelClusterState(join(c.mdir, "cluster-state"));
    const run: Running = { state };
    this.running = run;
    await state.open();
    const hadVolumes = state.maxVolumeId > 0;

    const topology = new Topology(c.volumeSizeLimitMB * 1024 * 1024);
    const metrics = new MasterMetrics(topology, state);
    run.sequencer = new Sequencer(state, this.log);
    await run.sequencer.start();
    run.allocator = new GrpcVolumeAllocator();
    run.uploads = new UploadClient();
    const growthOptions = c.volumeGrowthCount === undefined ? {} : { growthCount: c.volumeGrowthCount };
    run.growth = new VolumeGrowth({ topology, state, allocator: run.allocator, random: Math.random, logger: this.log, metrics }, growthOptions);
    const warmUntil = hadVolumes ? performance.now() + (c.warmUpMs ?? warmUpMs) : 0;
    const assigner = new Assigner({ topology, sequencer: run.sequencer, growth: run.growth, random: Math.random, now: () => performance.now() }, { warmUpUntil: warmUntil });
    const leader = (): string => this.address;
    const { allocator, uploads } = run;
    run.heartbeats = new HeartbeatService({
      topology,
      sequencer: run.sequencer,
      state,
      logger: this.log,
      metrics,
      leader,
      onNodeLeft: (node) => {
        allocator.forget(node);
        uploads.forget(node.url);
      },
    });

    run.grpcServer = new grpc.Server();
    addService(run.grpcServer, Seaweed, seaweedService({ assigner, topology, heartbeats: run.heartbeats, metrics, logger: this.log, defaultReplication: c.defaultReplication }), grpcStatusOf);
    this.boundGrpcPort = await bindServer(run.grpcServer, c.bindIp, c.grpcPort);

    const startedAt = performance.now();
    const http = new MasterHttpHandlers({
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
      leader,
      uptimeSec: () => (performance.now() - startedAt) / 1000,
    });
    run.httpServer = createServer(http.handle);
    this.boundHttpPort = await listen(run.httpServer, c.bindIp, c.port);
    this.log.info({ http: this.boundHttpPort, grpc: this.boundGrpcPort, mdir: c.mdir, topologyId: state.topologyId, maxVolumeId: state.maxVolumeId, warmUp: hadVolumes }, "master started");
  }

  /** Reverse of doStart; safe on a half-started server. */
  private async shutdown(): Promise<void> {
    const run = this.running;
    if (run === undefined) return;
    this.running = undefined;
    run.heartbeats?.close();
    run.growth?.close();
    run.sequencer?.close();
    await Promise.all([
      run.httpServer === undefined ? undefined : closeHttp(run.httpServer),
      run.grpcServer === undefined ? undefined : shutdownServer(run.grpcServer, closeGraceMs),
    ]);
    await run.uploads?.close();
    run.allocator?.close();
    await run.state.close();
    this.log.info("master stopped");
  }
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

/** Stops accepting, lets requests in flight finish for closeGraceMs, then cuts what is left. */
function closeHttp(server: HttpServer): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), closeGraceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
