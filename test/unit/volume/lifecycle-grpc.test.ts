// VolumeServer options, start/close lifecycle, and the VolumeServer gRPC service's answers and
// error codes, over real loopback sockets with the real Store.
import { afterEach, describe, expect, it } from "vitest";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { request } from "undici";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { silentLogger } from "../../../src/common/logger.js";
import { GrpcCallError } from "../../../src/grpc/adapter.js";
import { VolumeServer, type VolumeServerConfig } from "../../../src/volume/volume-server.js";
import { tempDir } from "../../helpers.js";
import { startVolumeServer, type Started } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function started(overrides: Partial<VolumeServerConfig> = {}): Promise<Started> {
  const s = await startVolumeServer(overrides);
  cleanups.push(() => s.close());
  return s;
}

function config(dir: string, overrides: Partial<VolumeServerConfig> = {}): VolumeServerConfig {
  return {
    ip: "127.0.0.1",
    bindIp: "127.0.0.1",
    port: 0,
    grpcPort: 0,
    publicUrl: "",
    dir,
    max: 8,
    masters: [],
    dataCenter: "",
    rack: "",
    fileSizeLimitMB: 256,
    fsync: false,
    logger: silentLogger(),
    ...overrides,
  };
}

async function grpcError(p: Promise<unknown>): Promise<GrpcCallError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GrpcCallError);
    return err as GrpcCallError;
  }
  throw new Error("expected the call to fail");
}

describe("options", () => {
  it("refuses bad options eagerly, naming the option and the value", () => {
    const bad: [Partial<VolumeServerConfig>, RegExp][] = [
      [{ port: 70000 }, /port=70000/],
      [{ max: -1 }, /max=-1/],
      [{ fileSizeLimitMB: 0 }, /fileSizeLimitMB=0/],
      [{ masters: ["nohost"] }, /masters="nohost"/],
      [{ heartbeatIntervalMs: 0 }, /heartbeatIntervalMs=0/],
    ];
    for (const [o, re] of bad) {
      let err: unknown;
      try {
        new VolumeServer(config("/tmp/unused", o));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(o)).toBeInstanceOf(WeedError);
      expect((err as WeedError).code).toBe(ErrorCode.BAD_PARAM);
      expect((err as WeedError).message).toMatch(re);
    }
  });
});

describe("lifecycle", () => {
  it("a failed start (HTTP port taken) releases what it bound; close() is idempotent", async () => {
    const a = await started();
    const { dir, remove } = await tempDir("weed-ts-volume-");
    cleanups.push(remove);
    const b = new VolumeServer(config(dir, { port: a.vs.httpPort }));
    await expect(b.start()).rejects.toThrow(/EADDRINUSE/);
    const grpcPort = b.grpcPort;
    expect(grpcPort).toBeGreaterThan(0);
    // The gRPC port it had bound is free again.
    const c = new VolumeServer(config(dir, { grpcPort }));
    await c.start();
    expect(c.grpcPort).toBe(grpcPort);
    await c.close();
    await c.close();
    await b.close();
  });

  it("a store dir that is a file fails start() with the cause", async () => {
    const { dir, remove } = await tempDir("weed-ts-volume-");
    cleanups.push(remove);
    const file = join(dir, "not-a-dir");
    await writeFile(file, "x");
    const vs = new VolumeServer(config(file));
    await expect(vs.start()).rejects.toThrow();
    await vs.close();
  });

  it("without masters /readyz is 200; with an unreachable master it is 503", async () => {
    const alone = await started();
    const r1 = await request(`${alone.base}/readyz`);
    expect(r1.statusCode).toBe(200);
    await r1.body.dump();
    const orphan = await started({ masters: ["127.0.0.1:1.1"] });
    const r2 = await request(`${orphan.base}/readyz`);
    expect(r2.statusCode).toBe(503);
    expect(((await r2.body.json()) as { error: string }).error).toMatch(/not heartbeating/);
  });

  it("after close() the HTTP and gRPC ports no longer answer", async () => {
    const s = await startVolumeServer();
    const base = s.base;
    await s.close();
    await expect(request(`${base}/healthz`)).rejects.toThrow();
  });
});

describe("gRPC VolumeServer service", () => {
  it("allocates, reports and deletes volumes, mapping errors to gRPC codes", async () => {
    const s = await started({ max: 2 });
    await s.admin.allocateVolume({ volumeId: 1, collection: "c", replication: "010", ttl: "5d", preallocate: 0n });
    expect(s.vs.store.volumeInfo(1)).toMatchObject({
      collection: "c",
      replicaPlacement: { diffDataCenter: 0, diffRack: 1, sameRack: 0 },
      ttl: { count: 5, unit: 3 },
    });

    const st = await s.admin.volumeStatus({ volumeId: 1 });
    expect(st.isReadOnly).toBe(false);
    expect(st.fileCount).toBe(0n);
    expect(st.volumeSize).toBeGreaterThanOrEqual(8n);

    expect((await grpcError(s.admin.allocateVolume({ volumeId: 1 }))).code).toBe(GrpcStatus.ALREADY_EXISTS);
    expect((await grpcError(s.admin.allocateVolume({ volumeId: 2, replication: "9x" }))).code).toBe(
      GrpcStatus.INVALID_ARGUMENT,
    );
    expect((await grpcError(s.admin.allocateVolume({ volumeId: 2, ttl: "3q" }))).code).toBe(
      GrpcStatus.INVALID_ARGUMENT,
    );
    expect((await grpcError(s.admin.allocateVolume({ volumeId: 0 }))).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    await s.admin.allocateVolume({ volumeId: 2 });
    expect((await grpcError(s.admin.allocateVolume({ volumeId: 3 }))).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect((await grpcError(s.admin.volumeStatus({ volumeId: 99 }))).code).toBe(GrpcStatus.NOT_FOUND);

    const put = await request(`${s.base}/1,0101020304`, { method: "PUT", body: Buffer.from("data") });
    expect(put.statusCode).toBe(201);
    await put.body.dump();
    expect((await grpcError(s.admin.volumeDelete({ volumeId: 1, onlyEmpty: true }))).code).not.toBe(GrpcStatus.OK);
    await s.admin.volumeDelete({ volumeId: 1 });
    expect(s.vs.store.hasVolume(1)).toBe(false);
    expect((await grpcError(s.admin.volumeDelete({ volumeId: 1 }))).code).toBe(GrpcStatus.NOT_FOUND);
    const get = await request(`${s.base}/1,0101020304`);
    expect(get.statusCode).toBe(404);
    await get.body.dump();
  });
});
