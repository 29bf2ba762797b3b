// Drives the master's gRPC side for real: heartbeat streams from fake volume servers (register,
// full and delta reports, stream end drops the node), Assign and LookupVolume, and restarts of
// the same mdir (keys and volume ids continue above what was issued, warm-up refuses growth).
import { afterEach, describe, expect, it } from "vitest";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { createClient, GrpcCallError } from "../../../src/grpc/adapter.js";
import { create } from "@bufbuild/protobuf";
import { HeartbeatSchema, Seaweed } from "../../../src/gen/master_pb.js";
import { parseFid } from "../../../src/common/fid.js";
import type { MasterServer } from "../../../src/master/master-server.js";
import { tempDir, waitFor } from "../../helpers.js";
import { FakeVolumeServer, startMaster, volumeMessage } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  overrides: Parameters<typeof startMaster>[1] = {},
): Promise<{ master: MasterServer; mdir: string }> {
  const t = await tempDir();
  cleanups.push(t.remove);
  const master = await startMaster(t.dir, overrides);
  cleanups.push(() => master.close());
  return { master, mdir: t.dir };
}

async function volumeServer(
  master: MasterServer,
  opts: ConstructorParameters<typeof FakeVolumeServer>[0] = {},
  initial: Parameters<FakeVolumeServer["connect"]>[1] = {},
): Promise<FakeVolumeServer> {
  const s = new FakeVolumeServer(opts);
  cleanups.push(() => s.close());
  await s.start();
  await s.connect(master.grpcPort, initial);
  return s;
}

async function http(
  master: MasterServer,
  path: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${master.httpPort}${path}`);
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

function grpcClient(master: MasterServer): ReturnType<typeof createClient<typeof Seaweed>> {
  const c = createClient(Seaweed, `127.0.0.1:${master.grpcPort}`);
  cleanups.push(() => c.close());
  return c;
}

describe("SendHeartbeat", () => {
  it("answers every beat with the size limit (bytes) and the leader", async () => {
    const { master } = await setup({ volumeSizeLimitMB: 100 });
    const vs = await volumeServer(master);
    vs.fullBeat();
    await waitFor(async () => vs.responses.length >= 2, { timeoutMs: 5_000, what: "second response" });
    for (const r of vs.responses) {
      expect(r.volumeSizeLimit).toBe(100n * 1024n * 1024n);
      expect(r.leader).toBe(`127.0.0.1:${master.httpPort}`);
    }
  });

  it("a half-closed stream drops the node and its volumes", async () => {
    const { master } = await setup();
    const vs = await volumeServer(master, {}, { volumes: [volumeMessage(4)] });
    expect((await http(master, "/dir/lookup?volumeId=4")).status).toBe(200);
    vs.disconnect();
    await waitFor(async () => (await http(master, "/dir/lookup?volumeId=4")).status === 404, {
      timeoutMs: 5_000,
      what: "volume 4 gone",
    });
    const dir = await http(master, "/dir/status");
    expect((dir.body.Topology as { DataCenters: unknown[] }).DataCenters).toEqual([]);
  });

  it("a cancelled stream (crash, cut connection) drops the node too", async () => {
    const { master } = await setup();
    const vs = await volumeServer(master, {}, { volumes: [volumeMessage(4)] });
    vs.cancel();
    await waitFor(async () => (await http(master, "/dir/lookup?volumeId=4")).status === 404, {
      timeoutMs: 5_000,
      what: "volume 4 gone",
    });
  });

  it("a server whose stream stays open but silent is dropped after three pulses, and its stream failed", async () => {
    const { master } = await setup({ pulseSeconds: 1 });
    const vs = await volumeServer(master, {}, { volumes: [volumeMessage(4)] });
    // Nothing more is sent, but the stream and its connection stay healthy (keepalive is
    // answered): only the missing beats tell the master that the server is gone.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await http(master, "/dir/lookup?volumeId=4")).status).toBe(200);
    await waitFor(async () => (await http(master, "/dir/lookup?volumeId=4")).status === 404, {
      timeoutMs: 10_000,
      what: "volume 4 gone with its silent server",
    });
    await waitFor(() => vs.streamEnded, { timeoutMs: 5_000, what: "the silent server's stream failed" });
  });

  it("a /submit whose upload hangs on a server that went silent fails when the server is dropped", async () => {
    const { master } = await setup({ pulseSeconds: 1 });
    await volumeServer(master, { hangUploads: true });
    const form = new FormData();
    form.append("file", new Blob([Buffer.from("lost in the cut")]), "x.txt");
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${master.httpPort}/submit`, { method: "POST", body: form });
    const body = (await res.json()) as { error?: string };
    // Failed with the server (3-3.5 pulses), not after the 30 s upload timeout; and said to be
    // of unknown outcome, since the server may still have written it.
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(body.error).toMatch(/outcome unknown/);
  });

  it("a volume is writable only when all replicas reported; deltas and read-only reports apply", async () => {
    const { master } = await setup();
    const writables = async (): Promise<number[]> => {
      const layouts = (
        (await http(master, "/dir/status")).body.Topology as { Layouts: { replication: string; writables: number[] }[] }
      ).Layouts;
      return layouts.find((l) => l.replication === "001")?.writables ?? [];
    };
    const a = await volumeServer(
      master,
      {},
      { volumes: [volumeMessage(5, { replication: "001" }), volumeMessage(6, { replication: "001" })] },
    );
    expect(await writables()).toEqual([]);
    const b = await volumeServer(
      master,
      {},
      { volumes: [volumeMessage(5, { replication: "001" }), volumeMessage(6, { replication: "001", readOnly: true })] },
    );
    expect(await writables()).toEqual([5]);
    b.beat({ deletedVolumes: [{ id: 5, replicaPlacement: 1, version: 3 }] });
    await waitFor(async () => (await writables()).length === 0, { timeoutMs: 5_000, what: "volume 5 not writable" });
    b.beat({ newVolumes: [{ id: 5, replicaPlacement: 1, version: 3 }] });
    await waitFor(async () => (await writables()).join() === "5", {
      timeoutMs: 5_000,
      what: "volume 5 writable again",
    });
    expect((await http(master, "/dir/lookup?volumeId=6")).body.locations).toHaveLength(2);
    void a;
  });

  it("heartbeat-reported keys and volume ids raise the floors", async () => {
    const { master } = await setup();
    await volumeServer(master, {}, { volumes: [volumeMessage(41)], maxFileKey: 123_456n });
    const r = await http(master, "/dir/assign");
    expect(r.status).toBe(200);
    expect(parseFid(r.body.fid as string)).toMatchObject({ volumeId: 41 });
    expect(parseFid(r.body.fid as string).key).toBeGreaterThan(123_456n);
    expect((await http(master, "/cluster/status")).body.MaxVolumeId).toBe(41);
    await http(master, "/vol/grow?count=1&collection=c");
    expect((await http(master, "/cluster/status")).body.MaxVolumeId).toBe(42);
  });

  it("a newer stream from the same server supersedes the old one", async () => {
    const { master } = await setup();
    const open = (
      vid: number,
    ): {
      stream: ReturnType<ReturnType<typeof grpcClient>["sendHeartbeat"]>;
      status: Promise<{ code: number; details: string }>;
    } => {
      const stream = grpcClient(master).sendHeartbeat();
      const status = new Promise<{ code: number; details: string }>((resolve) => stream.on("error", resolve));
      stream.on("data", () => undefined);
      stream.write(
        create(HeartbeatSchema, {
          ip: "127.0.0.1",
          port: 7777,
          maxVolumeCounts: { "": 8 },
          volumes: [volumeMessage(vid)],
        }),
      );
      return { stream, status };
    };
    const old = open(10);
    await waitFor(async () => (await http(master, "/dir/lookup?volumeId=10")).status === 200, {
      timeoutMs: 5_000,
      what: "volume 10",
    });
    const fresh = open(11);
    await waitFor(async () => (await http(master, "/dir/lookup?volumeId=11")).status === 200, {
      timeoutMs: 5_000,
      what: "volume 11",
    });
    expect((await http(master, "/dir/lookup?volumeId=10")).status).toBe(404);
    old.stream.write(create(HeartbeatSchema, { newVolumes: [{ id: 12, version: 3 }] }));
    expect(await old.status).toMatchObject({
      code: GrpcStatus.UNAVAILABLE,
      details: "heartbeat stream of 127.0.0.1:7777 superseded by a newer one",
    });
    expect((await http(master, "/dir/lookup?volumeId=12")).status).toBe(404);
    expect((await http(master, "/dir/lookup?volumeId=11")).status).toBe(200);
    fresh.stream.end();
  });

  it("a heartbeat with an invalid port is refused with INVALID_ARGUMENT", async () => {
    const { master } = await setup();
    const c = grpcClient(master);
    const stream = c.sendHeartbeat();
    const status = new Promise<{ code: number; details: string }>((resolve) => stream.on("error", resolve));
    stream.on("data", () => undefined);
    stream.write(create(HeartbeatSchema, { ip: "127.0.0.1", port: 0 }));
    expect(await status).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: "heartbeat has invalid port 0" });
  });
});

describe("gRPC Assign and LookupVolume", () => {
  it("assigns with location and replicas, and looks the volume up", async () => {
    const { master } = await setup();
    const vs = await volumeServer(master);
    const c = grpcClient(master);
    const r = await c.assign({ count: 3n });
    expect(r.error).toBe("");
    expect(r.count).toBe(3n);
    expect(r.location).toMatchObject({
      url: vs.url,
      publicUrl: `localhost:${vs.httpPort}`,
      grpcPort: vs.grpcPort,
      dataCenter: "DefaultDataCenter",
    });
    expect(r.replicas).toEqual([]);
    const vid = r.fid.split(",")[0]!;
    const l = await c.lookupVolume({ volumeOrFileIds: [vid, r.fid, "999", "x"] });
    expect(l.volumeIdLocations.map((v) => [v.volumeOrFileId, v.locations.length, v.error])).toEqual([
      [vid, 1, ""],
      [r.fid, 1, ""],
      ["999", 0, "volume id 999 not found"],
      ["x", 0, "Unknown volume id x"],
    ]);
  });

  it("reports 'cannot assign now' in AssignResponse.error and bad requests as a gRPC status", async () => {
    const { master } = await setup();
    const c = grpcClient(master);
    const r = await c.assign({});
    expect(r.fid).toBe("");
    expect(r.error).toMatch(/no free volumes left/);
    const err = await c.assign({ replication: "9x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpcCallError);
    expect((err as GrpcCallError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
  });

  it("a failing AllocateVolume is reported promptly with the server's address", async () => {
    const { master } = await setup();
    const vs = await volumeServer(master, { failAllocate: true });
    const r = await http(master, "/dir/assign");
    expect(r.status).toBe(503);
    expect(r.body.error).toMatch(
      new RegExp(`allocate volume \\d+ on ${vs.url.replace(/\./g, "\\.")} failed: disk on fire`),
    );
  });
});

describe("restart", () => {
  it("keys and volume ids continue above what was issued before", async () => {
    const t = await tempDir();
    cleanups.push(t.remove);
    const first = await startMaster(t.dir, { warmUpMs: 0 });
    const vs1 = await volumeServer(first);
    const before = await Promise.all(Array.from({ length: 20 }, () => http(first, "/dir/assign?count=2")));
    const maxKey = before.reduce(
      (m, r) => (parseFid(r.body.fid as string).key > m ? parseFid(r.body.fid as string).key : m),
      0n,
    );
    await first.close();
    await vs1.close();

    // Same ports: a master's address is its Raft identity.
    const second = await startMaster(t.dir, { warmUpMs: 0, port: first.httpPort, grpcPort: first.grpcPort });
    cleanups.push(() => second.close());
    // The volume server comes back without reporting its keys: the durable ceiling alone must hold.
    const vs2 = await volumeServer(second);
    const after = await http(second, "/dir/assign");
    expect(after.status).toBe(200);
    expect(parseFid(after.body.fid as string).key).toBeGreaterThan(maxKey + 1n);
    expect(vs2.allocations.map((a) => a.volumeId).every((v) => v > 2)).toBe(true);
  });

  it("warm-up after a restart refuses growth and turns lookup misses into 503", async () => {
    const t = await tempDir();
    cleanups.push(t.remove);
    const first = await startMaster(t.dir);
    const vs1 = await volumeServer(first);
    expect((await http(first, "/dir/assign")).status).toBe(200);
    await first.close();
    await vs1.close();

    const second = await startMaster(t.dir, { warmUpMs: 60_000, port: first.httpPort, grpcPort: first.grpcPort });
    cleanups.push(() => second.close());
    const vs2 = await volumeServer(second, {}, { volumes: [volumeMessage(1)] });
    expect((await http(second, "/dir/assign")).status).toBe(200); // volume 1 has reported
    const grow = await http(second, "/dir/assign?collection=new");
    expect(grow.status).toBe(503);
    expect(grow.headers.get("retry-after")).toBe("1");
    expect(grow.body.error).toMatch(/warming up/);
    const miss = await http(second, "/dir/lookup?volumeId=2");
    expect(miss.status).toBe(503);
    expect(vs2.allocations).toHaveLength(0);
  });

  it("close ends heartbeat streams and returns promptly; close is idempotent", async () => {
    const { master } = await setup();
    const vs = await volumeServer(master);
    const started = Date.now();
    await Promise.all([master.close(), master.close()]);
    expect(Date.now() - started).toBeLessThan(3_000);
    await waitFor(async () => vs.streamEnded, { timeoutMs: 3_000, what: "heartbeat stream ended" });
  });
});
