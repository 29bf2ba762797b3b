// Test fixtures for the volume server: a real in-test gRPC "master" that records heartbeats, and a
// volume server on loopback port 0 with a temp dir.
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { silentLogger } from "../../../src/common/logger.js";
import { addService, bindServer, createClient, type ServiceClient } from "../../../src/grpc/adapter.js";
import {
  HeartbeatResponseSchema,
  Seaweed,
  type Heartbeat,
  type HeartbeatResponse,
} from "../../../src/gen/master_pb.js";
import { VolumeServer as VolumeServerService } from "../../../src/gen/volume_server_pb.js";
import { VolumeServer, type VolumeServerConfig } from "../../../src/volume/volume-server.js";
import { tempDir } from "../../helpers.js";

/** A gRPC master that answers every heartbeat with `leader` (empty = "I am the leader"). */
export class FakeMaster {
  readonly beats: Heartbeat[] = [];
  leader = "";
  /** Answer the first beat as a follower during an election does: UNAVAILABLE, no leader yet. */
  electing = false;
  streams = 0;
  #server: grpc.Server | undefined;
  #port = 0;

  get port(): number {
    return this.#port;
  }
  /** "host:port.grpcPort", the HTTP port set equal to the gRPC one so every fake is distinct. */
  get address(): string {
    return `127.0.0.1:${this.#port}.${this.#port}`;
  }

  async start(port = 0): Promise<void> {
    const server = new grpc.Server();
    addService(server, Seaweed, {
      sendHeartbeat: (call: grpc.ServerDuplexStream<Heartbeat, HeartbeatResponse>) => {
        this.streams++;
        call.on("data", (hb: Heartbeat) => {
          if (this.electing) {
            call.emit("error", { code: grpc.status.UNAVAILABLE, details: "no leader is elected yet" });
            return;
          }
          this.beats.push(hb);
          call.write(
            create(HeartbeatResponseSchema, { volumeSizeLimit: 30n * 1024n * 1024n * 1024n, leader: this.leader }),
          );
        });
        call.on("end", () => call.end());
        call.on("error", () => {});
      },
      assign: async () => ({}),
      lookupVolume: async () => ({}),
      // Master membership: not what a volume server calls.
      raftListClusterServers: async () => ({}),
      raftAddServer: async () => ({}),
      raftRemoveServer: async () => ({}),
      raftLeadershipTransfer: async () => ({}),
    });
    this.#port = await bindServer(server, "127.0.0.1", port);
    this.#server = server;
  }

  stop(): void {
    this.#server?.forceShutdown();
    this.#server = undefined;
  }
}

export interface Started {
  vs: VolumeServer;
  dir: string;
  base: string;
  admin: ServiceClient<typeof VolumeServerService>;
  close(): Promise<void>;
}

export async function startVolumeServer(overrides: Partial<VolumeServerConfig> = {}): Promise<Started> {
  const { dir, remove } = await tempDir("weed-ts-volume-");
  const vs = new VolumeServer({
    ip: "127.0.0.1",
    bindIp: "127.0.0.1",
    port: 0,
    grpcPort: 0,
    publicUrl: "",
    dir,
    max: 8,
    masters: [],
    dataCenter: "dc1",
    rack: "rack1",
    fileSizeLimitMB: 1,
    fsync: false,
    heartbeatIntervalMs: 200,
    logger: silentLogger(),
    ...overrides,
  });
  await vs.start();
  const admin = createClient(VolumeServerService, `127.0.0.1:${vs.grpcPort}`);
  return {
    vs,
    dir,
    base: `http://127.0.0.1:${vs.httpPort}`,
    admin,
    async close() {
      admin.close();
      await vs.close();
      await remove();
    },
  };
}
