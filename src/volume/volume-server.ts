// One volume server process: the needle store, its HTTP API, its gRPC service and the heartbeat
// stream to the master leader. Constructor validates and builds; start() opens the store, binds
// gRPC then HTTP, then starts heartbeating; close() undoes it in reverse order.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../common/logger.js";
import type { SecurityConfig } from "../common/security/config.js";
import { fidTokensOf } from "../common/security/jwt.js";
import { adminCredentialOf } from "../common/security/admin-credential.js";
import { installHttpsClient } from "../common/security/https.js";
import { ResponseBatch, responseBatchLimits } from "../common/response-batch.js";
import { ErrorCode, WeedError } from "../common/errors.js";
import { parseServerAddress } from "../common/server-address.js";
import { bindServer, shutdownServer } from "../grpc/adapter.js";
import { newGrpcServer } from "../grpc/tls.js";
import type { StoreApi } from "./storage/store-api.js";
import { Store } from "./storage/store.js";
import { addVolumeServerService, grpcReceiveBytesMax } from "./grpc-service.js";
import { clusterIdFileIn } from "./cluster-id-file.js";
import { HeartbeatClient } from "./heartbeat-client.js";
import type { HeartbeatView, VolumeHttpContext } from "./http-context.js";
import { VolumeHttpServer, type VolumeHttpLimits } from "./http-server.js";
import { InflightLimit } from "./inflight-limit.js";
import { UploadBuffers } from "./upload-buffers.js";
import { applyReadOnlyMarks, persistReadOnly } from "./readonly-marks.js";
import { TtlVolumeRetirer } from "./ttl-volume-expiry.js";
import {
  concurrentDownloadLimitMBDefault,
  concurrentUploadLimitMBDefault,
  diskSpaceCheckIntervalMsDefault,
  drainLingerMs,
  grpcCloseGraceMs,
  heartbeatIntervalMsDefault,
  inflightDownloadDataTimeoutMsDefault,
  inflightRetryAfterSec,
  inflightUploadDataTimeoutMsDefault,
  inflightWaitersMax,
  minFreeSpacePercentDefault,
  replicaLookupEntriesMax,
  replicaLookupTtlMs,
  uploadBufferIdleMs,
  uploadBufferPooledBytesMin,
} from "./limits.js";
import { parseMinFreeSpace, type MinFreeSpace } from "./storage/disk-space.js";
import { VolumeMetrics } from "./metrics.js";
import { ReplicaClient } from "./replication/replica-client.js";
import { ReplicaLocations } from "./replication/replica-locations.js";
import { isReadMode, READ_MODES, RemoteReads, type ReadMode } from "./replication/remote-read.js";
import { Replicator } from "./replication/replicator.js";

/** Reported in /status "Version" and the status page. */
export const VOLUME_SERVER_VERSION = "weed-ts 0.1.0";

export interface VolumeServerConfig {
  ip: string;
  bindIp: string;
  /** HTTP port (0 = pick one, for tests). */
  port: number;
  /** gRPC port (0 = pick one). */
  grpcPort: number;
  /** "" = ip:port. */
  publicUrl: string;
  dir: string;
  max: number;
  /** "host:port[.grpcPort]", tried in turn; [] runs without a master (no heartbeat). */
  masters: string[];
  dataCenter: string;
  rack: string;
  /** Default 256. */
  fileSizeLimitMB: number;
  /** -fsync: every write fsync'd before the 201. */
  fsync: boolean;
  /** -concurrentUploadLimitMB: bytes of uploads in flight at most, 0 = no limit. Default 256. */
  concurrentUploadLimitMB?: number;
  /** -needleCacheMB: the cache of small needles read recently (storage/needle-cache.ts), 0 = off. Default 64. */
  needleCacheMB?: number;
  /** -concurrentDownloadLimitMB: bytes of downloads in flight at most, 0 = no limit. Default 256. */
  concurrentDownloadLimitMB?: number;
  /** -inflightUploadDataTimeout: how long an upload waits for room. Default 60 s. */
  inflightUploadDataTimeoutMs?: number;
  /** -inflightDownloadDataTimeout: how long a download waits for room. Default 60 s. */
  inflightDownloadDataTimeoutMs?: number;
  /** -minFreeSpace / -minFreeSpacePercent: below it the disk's volumes are read-only. Default 1 %. */
  minFreeSpace?: MinFreeSpace;
  /** How often free disk space is checked. Default 5 s. */
  diskSpaceCheckIntervalMs?: number;
  /** Default 5000. */
  heartbeatIntervalMs?: number;
  /** -readMode: how a read of a volume not held here is answered. Default "redirect". */
  readMode?: ReadMode;
  /** Wall-clock milliseconds (Last-Modified of replicated writes). Default Date.now. */
  wallClockMs?: () => number;
  /** Uniform in [0, 1) (which holder a redirected or proxied read goes to). Default Math.random. */
  random?: () => number;
  /** security.toml and -whiteList (src/common/security); absent = an open cluster. */
  security?: SecurityConfig;
  logger: Logger;
}

function badConfig(what: string, value: unknown, why: string): WeedError {
  return new WeedError(ErrorCode.BAD_PARAM, `volume server option ${what}=${JSON.stringify(value)}: ${why}`);
}

function validate(c: VolumeServerConfig): void {
  const port = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw badConfig(name, v, "expected a port 0-65535");
  };
  port("port", c.port);
  port("grpcPort", c.grpcPort);
  if (c.ip === "") throw badConfig("ip", c.ip, "must not be empty");
  if (c.bindIp === "") throw badConfig("bindIp", c.bindIp, "must not be empty");
  if (c.dir === "") throw badConfig("dir", c.dir, "must not be empty");
  if (!Number.isInteger(c.max) || c.max < 0) throw badConfig("max", c.max, "expected a whole number >= 0");
  if (!Number.isFinite(c.fileSizeLimitMB) || c.fileSizeLimitMB <= 0)
    throw badConfig("fileSizeLimitMB", c.fileSizeLimitMB, "expected > 0");
  // Buffers are bounded by Node's Buffer size; SeaweedFS's hard needle limit is 4 GiB.
  if (c.fileSizeLimitMB * 1024 * 1024 > 2 ** 32 - 1)
    throw badConfig("fileSizeLimitMB", c.fileSizeLimitMB, "over 4096 (needle data size is a u32)");
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isInteger(v) || v <= 0)) throw badConfig(name, v, "expected a positive integer");
  };
  const nonNegative = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw badConfig(name, v, "expected a whole number >= 0");
  };
  positive("heartbeatIntervalMs", c.heartbeatIntervalMs);
  nonNegative("concurrentUploadLimitMB", c.concurrentUploadLimitMB);
  nonNegative("needleCacheMB", c.needleCacheMB);
  nonNegative("concurrentDownloadLimitMB", c.concurrentDownloadLimitMB);
  positive("inflightUploadDataTimeoutMs", c.inflightUploadDataTimeoutMs);
  positive("inflightDownloadDataTimeoutMs", c.inflightDownloadDataTimeoutMs);
  positive("diskSpaceCheckIntervalMs", c.diskSpaceCheckIntervalMs);
  if (c.readMode !== undefined && !isReadMode(c.readMode))
    throw badConfig("readMode", c.readMode, `expected one of ${READ_MODES.join(", ")}`);
  for (const m of c.masters) {
    try {
      parseServerAddress(m);
    } catch (err) {
      throw badConfig("masters", m, (err as Error).message);
    }
  }
}

type State = "new" | "starting" | "running" | "closing" | "closed";

const mebibyte = 1024 * 1024;

/** "60s", "1500ms": a wait as the -inflight*DataTimeout flags spell it. */
function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The bounds on bytes in flight, each refusal naming its flag, and the upload buffers. */
function inflightLimits(c: VolumeServerConfig): VolumeHttpLimits {
  const uploadMB = c.concurrentUploadLimitMB ?? concurrentUploadLimitMBDefault;
  const downloadMB = c.concurrentDownloadLimitMB ?? concurrentDownloadLimitMBDefault;
  const uploadWaitMs = c.inflightUploadDataTimeoutMs ?? inflightUploadDataTimeoutMsDefault;
  const downloadWaitMs = c.inflightDownloadDataTimeoutMs ?? inflightDownloadDataTimeoutMsDefault;
  const common = { waitersMax: inflightWaitersMax, retryAfterSec: inflightRetryAfterSec };
  const uploadBuffers = new UploadBuffers({
    // As many bytes as may be in flight: in steady state every upload reads into mapped pages.
    pooledBytesMax: uploadMB > 0 ? uploadMB * mebibyte : c.fileSizeLimitMB * mebibyte,
    pooledBytesMin: uploadBufferPooledBytesMin,
    idleMs: uploadBufferIdleMs,
  });
  return {
    uploadBuffers,
    uploads: new InflightLimit({
      ...common,
      limitBytes: uploadMB * mebibyte,
      waitMs: uploadWaitMs,
      what: "upload",
      flag: `-concurrentUploadLimitMB=${uploadMB}`,
      waitFlag: `-inflightUploadDataTimeout=${durationText(uploadWaitMs)}`,
    }),
    downloads: new InflightLimit({
      ...common,
      limitBytes: downloadMB * mebibyte,
      waitMs: downloadWaitMs,
      what: "download",
      flag: `-concurrentDownloadLimitMB=${downloadMB}`,
      waitFlag: `-inflightDownloadDataTimeout=${durationText(downloadWaitMs)}`,
    }),
  };
}

export class VolumeServer {
  readonly #c: VolumeServerConfig;
  readonly #log: Logger;
  readonly #store: Store;
  readonly #metrics: VolumeMetrics;
  readonly #grpc: grpc.Server;
  readonly #peers = new ReplicaClient();
  #http: VolumeHttpServer | undefined;
  #heartbeat: HeartbeatClient | undefined;
  readonly #ttlVolumes: TtlVolumeRetirer;
  /** Cached lookups of replica locations, dropped as the leader reports changes. */
  #locations: ReplicaLocations | undefined;
  #httpPort = 0;
  #grpcPort = 0;
  #state: State = "new";
  #closing: Promise<void> | undefined;

  constructor(c: VolumeServerConfig) {
    validate(c);
    this.#c = c;
    this.#log = c.logger.child({ component: "volume" });
    this.#store = new Store({
      dir: c.dir,
      maxVolumeCount: c.max,
      logger: this.#log,
      diskSpace: {
        minFreeSpace: c.minFreeSpace ?? parseMinFreeSpace(minFreeSpacePercentDefault),
        checkIntervalMs: c.diskSpaceCheckIntervalMs ?? diskSpaceCheckIntervalMsDefault,
      },
      onReadOnlyChange: () => this.#heartbeat?.beatNow(),
      ...(c.needleCacheMB === undefined ? {} : { needleCacheBytes: c.needleCacheMB * 1024 * 1024 }),
      // TTL expiry reads the same wall clock as the rest of the server (a test's own, if given).
      ...(c.wallClockMs === undefined ? {} : { wallClockMs: c.wallClockMs }),
    });
    this.#metrics = new VolumeMetrics(this.#store, () => this.#heartbeat);
    this.#ttlVolumes = new TtlVolumeRetirer({
      store: this.#store,
      nowMs: c.wallClockMs ?? Date.now,
      limitBytes: () => Number(this.#heartbeat?.volumeSizeLimit ?? 0n),
      logger: this.#log,
    });
    this.#store.on("change", (e) => {
      if (e.kind !== "volume-deleted") return;
      try {
        persistReadOnly(c.dir, e.info, false);
      } catch (err) {
        this.#log.warn({ err, volumeId: e.info.id }, "cannot remove the deleted volume's read-only mark");
      }
    });
    // Replicated writes and remote reads dial https:// with [https.client].
    installHttpsClient(c.security?.httpsClient);
    this.#grpc = newGrpcServer({ "grpc.max_receive_message_length": grpcReceiveBytesMax }, c.security, "volume");
    addVolumeServerService(this.#grpc, this.#store, this.#log, adminCredentialOf(c.security));
  }

  get httpPort(): number {
    return this.#httpPort;
  }
  get grpcPort(): number {
    return this.#grpcPort;
  }
  get store(): StoreApi {
    return this.#store;
  }
  /** The heartbeat stream's state; undefined before start() or without masters. */
  get heartbeat(): HeartbeatView | undefined {
    return this.#heartbeat;
  }
  get metrics(): VolumeMetrics {
    return this.#metrics;
  }

  async start(): Promise<void> {
    if (this.#state !== "new")
      throw new WeedError(ErrorCode.INTERNAL, `volume server start() called when ${this.#state}`);
    this.#state = "starting";
    const c = this.#c;
    try {
      await this.#store.open();
      applyReadOnlyMarks(this.#store, this.#log);
      this.#grpcPort = await bindServer(this.#grpc, c.bindIp, c.grpcPort);
      const server = this;
      const publicUrl = (): string => (c.publicUrl !== "" ? c.publicUrl : `${c.ip}:${this.#httpPort}`);
      const replication = this.#replication();
      const ctx: VolumeHttpContext = {
        ...replication,
        store: this.#store,
        logger: this.#log,
        metrics: this.#metrics,
        responses: new ResponseBatch(responseBatchLimits, this.#log),
        fileSizeLimitBytes: Math.floor(c.fileSizeLimitMB * 1024 * 1024),
        fsync: c.fsync,
        version: VOLUME_SERVER_VERSION,
        dir: c.dir,
        get serverId() {
          return `${c.ip}:${server.#httpPort}`;
        },
        get publicUrl() {
          return publicUrl();
        },
        heartbeat: () => this.#heartbeat,
        running: () => this.#state === "running",
        // The wall clock makes token checks synchronous HMACs (jwt.ts FidTokenKey).
        fidTokens: fidTokensOf(c.security, replication.nowSec),
      };
      this.#http = new VolumeHttpServer(ctx, inflightLimits(c), c.security);
      this.#httpPort = await this.#http.listen(c.bindIp, c.port);
      if (c.masters.length > 0) {
        this.#heartbeat = new HeartbeatClient({
          store: this.#store,
          clusterIdFile: clusterIdFileIn(c.dir),
          identity: {
            ip: c.ip,
            port: this.#httpPort,
            grpcPort: this.#grpcPort,
            publicUrl: publicUrl(),
            dataCenter: c.dataCenter,
            rack: c.rack,
            id: `${c.ip}:${this.#httpPort}`,
          },
          masters: c.masters,
          intervalMs: c.heartbeatIntervalMs ?? heartbeatIntervalMsDefault,
          maxVolumeCount: () => this.#store.reportedMaxVolumeCount(),
          onLocationsChanged: (volumeIds) => this.#locations?.forget(volumeIds),
          unreported: (v) => this.#ttlVolumes.unreported(v),
          logger: this.#log,
        });
        this.#heartbeat.start();
        this.#ttlVolumes.start();
      }
      this.#state = "running";
      this.#log.info(
        { http: this.#httpPort, grpc: this.#grpcPort, dir: c.dir, masters: c.masters },
        "volume server started",
      );
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** The replicated data plane: writes and deletes to every replica, reads of volumes held elsewhere. */
  #replication(): Pick<VolumeHttpContext, "replicator" | "remoteReads" | "nowSec"> {
    const c = this.#c;
    const self = (): string => `${c.ip}:${this.#httpPort}`;
    const locations = new ReplicaLocations({
      master: () => this.#heartbeat?.currentMaster ?? this.#heartbeat?.masters[0],
      lookup: (master, volumeId) => this.#peers.lookup(master, volumeId),
      ttlMs: replicaLookupTtlMs,
      entriesMax: replicaLookupEntriesMax,
      nowMs: () => performance.now(),
    });
    this.#locations = locations;
    const logger = this.#log;
    const metrics = this.#metrics;
    const replicator = new Replicator({
      store: this.#store,
      client: this.#peers,
      locations,
      self,
      clustered: c.masters.length > 0,
      logger,
      events: { failed: (op) => metrics.replicaFailed(op), refused: (op) => metrics.replicaRefused(op) },
    });
    const random = c.random ?? Math.random;
    const mode = c.readMode ?? "redirect";
    const remoteReads = new RemoteReads({ mode, client: this.#peers, locations, self, random, logger });
    const wallClockMs = c.wallClockMs ?? Date.now;
    return { replicator, remoteReads, nowSec: () => Math.floor(wallClockMs() / 1000) };
  }

  /** Idempotent; safe after a failed start(). */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    this.#state = "closing";
    // Heartbeat first: the leader drops this server from the topology as soon as the stream ends,
    // so no new writes are routed here; uploads of assigns handed out just before still arrive
    // for a short linger, then the listeners drain.
    await this.#ttlVolumes.close();
    await this.#heartbeat?.close();
    if (this.#heartbeat !== undefined && this.#http !== undefined)
      await new Promise((r) => setTimeout(r, drainLingerMs));
    await this.#http?.close();
    await this.#peers.close();
    await shutdownServer(this.#grpc, grpcCloseGraceMs);
    await this.#store.close();
    this.#state = "closed";
    this.#log.info("volume server closed");
  }
}
