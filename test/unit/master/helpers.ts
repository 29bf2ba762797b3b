// Test helpers for the master: a master on port 0, and a small fake volume server that talks to
// the master for real (heartbeat stream over gRPC, VolumeServer service over gRPC, and an HTTP
// endpoint that accepts /submit uploads).
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { ReplicaInfo } from "../../../src/master/topology/data-node.js";
import * as grpc from "@grpc/grpc-js";
import { Busboy } from "@fastify/busboy";
import { crc32c } from "@node-rs/crc32";
import { create } from "@bufbuild/protobuf";
import { addService, bindServer, createClient, shutdownServer, type ServiceClient } from "../../../src/grpc/adapter.js";
import {
  Seaweed,
  HeartbeatSchema,
  type Heartbeat,
  type HeartbeatResponse,
  type VolumeInformationMessageSchema,
} from "../../../src/gen/master_pb.js";
import { VolumeServer, type AllocateVolumeRequest } from "../../../src/gen/volume_server_pb.js";
import { parseReplicaPlacement, replicaPlacementToByte } from "../../../src/common/replica-placement.js";
import { parseTtl, ttlToUint32 } from "../../../src/common/ttl.js";
import { silentLogger } from "../../../src/common/logger.js";
import { MasterServer, type MasterConfig } from "../../../src/master/master-server.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { afterEach, beforeEach } from "vitest";
import { tempDir, waitFor, type TempDir } from "../../helpers.js";
import { Prng } from "../../../src/raft/sim/prng.js";

export function masterConfig(mdir: string, overrides: Partial<MasterConfig> = {}): MasterConfig {
  return {
    ip: "127.0.0.1",
    bindIp: "127.0.0.1",
    port: 0,
    grpcPort: 0,
    mdir,
    volumeSizeLimitMB: 30720,
    defaultReplication: "000",
    volumeGrowthCount: 2,
    logger: silentLogger(),
    ...overrides,
  };
}

export async function startMaster(mdir: string, overrides: Partial<MasterConfig> = {}): Promise<MasterServer> {
  const m = new MasterServer(masterConfig(mdir, overrides));
  await m.start();
  return m;
}

/**
 * A master on a fresh temp mdir for each test of the file that calls this at its top level, and
 * the fake volume servers the test starts through it; after each test the servers are closed,
 * then the master, then the mdir is removed.
 */
export function masterPerTest(prefix: string, overrides: Partial<MasterConfig> = {}): MasterPerTest {
  const fixture = new MasterPerTest();
  beforeEach(async () => {
    await fixture.open(prefix, overrides);
  });
  afterEach(async () => {
    await fixture.close();
  });
  return fixture;
}

export class MasterPerTest {
  /** The fake volume servers started through volumeServer() (or pushed by the test): closed after it. */
  readonly servers: FakeVolumeServer[] = [];
  #master: MasterServer | null = null;
  #tmp: TempDir | null = null;

  get master(): MasterServer {
    if (this.#master === null) throw new Error("the master runs only during a test");
    return this.#master;
  }

  /** The master's mdir. */
  get dir(): string {
    if (this.#tmp === null) throw new Error("the mdir exists only during a test");
    return this.#tmp.dir;
  }

  /** `path` on the master's HTTP port. */
  url(path: string): string {
    return `http://127.0.0.1:${this.master.httpPort}${path}`;
  }

  /** A fake volume server, started, with its heartbeat stream open and answered once. */
  async volumeServer(options: FakeVolumeOptions = {}, initial: InitialBeat = {}): Promise<FakeVolumeServer> {
    const s = new FakeVolumeServer(options);
    this.servers.push(s);
    await s.start();
    await s.connect(this.master.grpcPort, initial);
    return s;
  }

  async open(prefix: string, overrides: Partial<MasterConfig>): Promise<void> {
    this.#tmp = await tempDir(prefix);
    this.#master = await startMaster(this.#tmp.dir, overrides);
  }

  async close(): Promise<void> {
    // A server that fails to close must not leave the master running or the mdir behind.
    try {
      for (const s of this.servers.splice(0)) await s.close();
    } finally {
      try {
        await this.#master?.close();
      } finally {
        this.#master = null;
        await this.#tmp?.remove();
        this.#tmp = null;
      }
    }
  }
}

/** What a fake volume server reports in the full beat that opens its stream. */
export interface InitialBeat {
  volumes?: MessageInitShape<typeof VolumeInformationMessageSchema>[];
  maxFileKey?: bigint;
}

export interface FakeVolumeOptions {
  dataCenter?: string;
  rack?: string;
  maxVolumes?: number;
  /** Answer AllocateVolume with an error. */
  failAllocate?: boolean;
  /** Delay before answering AllocateVolume (ms). */
  allocateDelayMs?: number;
  /** Read uploads but never answer them, as a server that hung mid-request. */
  hangUploads?: boolean;
}

interface FakeVolume {
  id: number;
  collection: string;
  replication: string;
  ttl: string;
  size: number;
  readOnly: boolean;
}

export interface ReceivedUpload {
  path: string;
  fileName: string;
  mime: string;
  data: Buffer;
}

/** A volume server as the master sees it: heartbeats, AllocateVolume/VolumeStatus/VolumeDelete, uploads. */
export class FakeVolumeServer {
  readonly options: FakeVolumeOptions;
  readonly allocations: AllocateVolumeRequest[] = [];
  readonly deletions: number[] = [];
  readonly uploads: ReceivedUpload[] = [];
  readonly responses: HeartbeatResponse[] = [];
  readonly volumes = new Map<number, FakeVolume>();
  private grpcServer = new grpc.Server();
  private http: HttpServer;
  private client: ServiceClient<typeof Seaweed> | undefined;
  private stream: grpc.ClientDuplexStream<Heartbeat, HeartbeatResponse> | undefined;
  grpcPort = 0;
  httpPort = 0;
  streamEnded = false;

  constructor(options: FakeVolumeOptions = {}) {
    this.options = options;
    addService(this.grpcServer, VolumeServer, {
      allocateVolume: async (req) => {
        if (this.options.allocateDelayMs) await new Promise((r) => setTimeout(r, this.options.allocateDelayMs));
        if (this.options.failAllocate) throw new Error("disk on fire");
        this.allocations.push(req);
        this.volumes.set(req.volumeId, {
          id: req.volumeId,
          collection: req.collection,
          replication: req.replication,
          ttl: req.ttl,
          size: 0,
          readOnly: false,
        });
        this.beat({
          newVolumes: [
            {
              id: req.volumeId,
              collection: req.collection,
              replicaPlacement: rpByte(req.replication),
              ttl: ttlU32(req.ttl),
              version: 3,
            },
          ],
        });
        return {};
      },
      volumeStatus: async (req) => {
        const v = this.volumes.get(req.volumeId);
        if (v === undefined) throw new Error(`volume ${req.volumeId} not found`);
        return { isReadOnly: v.readOnly, volumeSize: BigInt(v.size) };
      },
      volumeDelete: async (req) => {
        this.deletions.push(req.volumeId);
        this.volumes.delete(req.volumeId);
        return {};
      },
      // Volume copies are not the master's business: a fake volume server has none.
      readVolumeFileStatus: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      copyFile: (call) => call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "fake volume server" }),
      volumeCopy: (call) => call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "fake volume server" }),
      // Nor are replica checks (volume.check.disk talks to volume servers directly).
      readNeedleBlob: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      writeNeedleBlob: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      volumeNeedleList: (call) =>
        call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "fake volume server" }),
      volumeCheckState: async () => ({ needsCheck: false, generation: 0n }),
      volumeCheckDone: async () => ({ cleared: false, needsCheck: false, generation: 0n }),
      // Vacuum, volume.mark and /col/delete are tested against real volume servers.
      vacuumVolumeCheck: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      vacuumVolumeCompact: (call) =>
        call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "fake volume server" }),
      vacuumVolumeCommit: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      vacuumVolumeCleanup: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      volumeMarkReadonly: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      volumeMarkWritable: async () => {
        throw new Error("not implemented by the fake volume server");
      },
      deleteCollection: async () => {
        throw new Error("not implemented by the fake volume server");
      },
    });
    this.http = createServer((req, res) => {
      if (this.options.hangUploads === true) {
        req.resume();
        return;
      }
      if (req.headers["content-type"] === undefined) {
        // Not an upload (the master's status page asking for /status): Busboy would throw.
        res.writeHead(404).end(JSON.stringify({ error: "not an upload" }));
        return;
      }
      const bb = Busboy({ headers: req.headers as { "content-type": string } });
      let upload: ReceivedUpload | undefined;
      bb.on("file", (_f, stream, fileName, _e, mime) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          upload = { path: req.url ?? "", fileName, mime, data: Buffer.concat(chunks) };
        });
      });
      bb.on("finish", () => {
        if (upload === undefined) {
          res.writeHead(400).end(JSON.stringify({ error: "no file" }));
          return;
        }
        this.uploads.push(upload);
        const body = JSON.stringify({
          name: upload.fileName,
          size: upload.data.length,
          eTag: crc32c(upload.data).toString(16).padStart(8, "0"),
          mime: upload.mime,
        });
        res.writeHead(201, { "Content-Type": "application/json" }).end(body);
      });
      req.pipe(bb);
    });
  }

  get url(): string {
    return `127.0.0.1:${this.httpPort}`;
  }

  async start(): Promise<void> {
    this.grpcPort = await bindServer(this.grpcServer, "127.0.0.1", 0);
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    this.httpPort = (this.http.address() as AddressInfo).port;
  }

  /** Opens the heartbeat stream with a full report; resolves on the master's first answer. */
  async connect(masterGrpcPort: number, initial: InitialBeat = {}): Promise<void> {
    this.client = createClient(Seaweed, `127.0.0.1:${masterGrpcPort}`);
    const stream = this.client.sendHeartbeat();
    this.stream = stream;
    this.streamEnded = false;
    stream.on("data", (r: HeartbeatResponse) => this.responses.push(r));
    stream.on("error", () => {
      this.streamEnded = true;
    });
    stream.on("end", () => {
      this.streamEnded = true;
    });
    const before = this.responses.length;
    const volumes = initial.volumes ?? [];
    this.beat({
      ip: "127.0.0.1",
      port: this.httpPort,
      grpcPort: this.grpcPort,
      publicUrl: `localhost:${this.httpPort}`,
      dataCenter: this.options.dataCenter ?? "",
      rack: this.options.rack ?? "",
      maxVolumeCounts: { "": this.options.maxVolumes ?? 8 },
      volumes,
      hasNoVolumes: volumes.length === 0,
      maxFileKey: initial.maxFileKey ?? 0n,
    });
    await waitFor(() => this.responses.length > before, { timeoutMs: 5_000, what: "first heartbeat response" });
  }

  beat(init: MessageInitShape<typeof HeartbeatSchema>): void {
    this.stream?.write(create(HeartbeatSchema, init));
  }

  /** A full report of what this server holds. */
  fullBeat(extra: { maxFileKey?: bigint } = {}): void {
    const volumes = [...this.volumes.values()].map((v) =>
      volumeMessage(v.id, {
        collection: v.collection,
        replication: v.replication,
        ttl: v.ttl,
        size: v.size,
        readOnly: v.readOnly,
      }),
    );
    this.beat({ volumes, hasNoVolumes: volumes.length === 0, ...extra });
  }

  /** Half-closes the heartbeat stream, as a volume server does when it stops. */
  disconnect(): void {
    this.stream?.end();
    this.client?.close();
    this.stream = undefined;
    this.client = undefined;
  }

  /** Breaks the stream abruptly (cancel), as a crash or a cut connection does. */
  cancel(): void {
    this.stream?.cancel();
    this.client?.close();
    this.stream = undefined;
    this.client = undefined;
  }

  async close(): Promise<void> {
    this.cancel();
    await shutdownServer(this.grpcServer, 500);
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

/** A replica as a heartbeat reports it: placement "000" (or `replication`), empty, writable. */
export function replicaInfo(id: number, o: Partial<ReplicaInfo> & { replication?: string } = {}): ReplicaInfo {
  const { replication, ...rest } = o;
  return {
    id,
    collection: "",
    replicaPlacement: rpByte(replication ?? "000"),
    ttl: 0,
    size: 0,
    fileCount: 0,
    deleteCount: 0,
    deletedByteCount: 0,
    readOnly: false,
    version: 3,
    compactRevision: 0,
    modifiedAtSecond: 0,
    diskType: "",
    needsCheck: false,
    ...rest,
  };
}

export function rpByte(text: string): number {
  return replicaPlacementToByte(parseReplicaPlacement(text));
}

export function ttlU32(text: string): number {
  return ttlToUint32(parseTtl(text));
}

export function volumeMessage(
  id: number,
  o: { collection?: string; replication?: string; ttl?: string; size?: number; readOnly?: boolean } = {},
): MessageInitShape<typeof VolumeInformationMessageSchema> {
  return {
    id,
    collection: o.collection ?? "",
    replicaPlacement: rpByte(o.replication ?? "000"),
    ttl: ttlU32(o.ttl ?? ""),
    size: BigInt(o.size ?? 0),
    readOnly: o.readOnly ?? false,
    version: 3,
  };
}

/** A seeded random source in [0, 1) (the simulator's PRNG): the same topologies on every run. */
export function seeded(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.float();
}
