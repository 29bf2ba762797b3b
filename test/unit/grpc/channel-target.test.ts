// createClient's channel target: IP literals go to grpc-js's ipv4:/ipv6: resolver (no c-ares
// resolver per channel), names to its DNS resolver; calls work through both, authority unchanged.
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { channelTarget, createClient } from "../../../src/grpc/adapter.js";
import { VolumeServer } from "../../../src/gen/volume_server_pb.js";
import { startVolumeServerStub } from "./volume-server-stub.js";

let server: grpc.Server;
let port = 0;
const authorities: string[] = [];

beforeAll(async () => {
  ({ server, port } = await startVolumeServerStub({
    async vacuumVolumeCheck(req: { volumeId: number }, call: grpc.ServerUnaryCall<unknown, unknown>) {
      authorities.push(call.getHost());
      return { garbageRatio: req.volumeId / 100 };
    },
  }));
});

afterAll(() => {
  server.forceShutdown();
});

describe("channelTarget", () => {
  it("sends IP literals to the ipv4:/ipv6: resolver and leaves names and odd forms alone", () => {
    expect(channelTarget("127.0.0.1:18080")).toBe("ipv4:127.0.0.1:18080");
    expect(channelTarget("10.1.2.3:1")).toBe("ipv4:10.1.2.3:1");
    expect(channelTarget("[::1]:18080")).toBe("ipv6:[::1]:18080");
    expect(channelTarget("localhost:18080")).toBe("localhost:18080");
    expect(channelTarget("master-1.example:19333")).toBe("master-1.example:19333");
    expect(channelTarget("dns:///127.0.0.1:1")).toBe("dns:///127.0.0.1:1");
    expect(channelTarget("127.0.0.1")).toBe("127.0.0.1");
  });

  it("calls reach the server through an IP literal and through a name", async () => {
    for (const host of ["127.0.0.1", "localhost"]) {
      const c = createClient(VolumeServer, `${host}:${port}`);
      try {
        const r = await c.vacuumVolumeCheck({ volumeId: 42 }, { timeoutMs: 5_000 });
        expect(r.garbageRatio).toBeCloseTo(0.42);
      } finally {
        c.close();
      }
    }
    // The authority the server sees is the address as given, not the resolver's scheme.
    expect(authorities).toEqual([`127.0.0.1:${port}`, `localhost:${port}`]);
  });
});
