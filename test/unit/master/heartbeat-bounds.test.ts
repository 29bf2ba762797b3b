// What a heartbeat may claim (src/master/api/heartbeat-bounds.ts), alone and through a real master:
// another cluster's stream is refused before anything is applied; absurd volumes (id 0, far above
// the replicated maximum, larger than any volume) are left out and never raise MaxVolumeId while
// the beat's sane volumes register; a list far beyond the server's own capacity is refused whole.
// And the volume server's side (src/volume/heartbeat-client.ts): a fresh -dir learns the cluster
// id and keeps it; a -dir of another cluster is refused, with a log line on both sides.
import * as grpc from "@grpc/grpc-js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { createClient } from "../../../src/grpc/adapter.js";
import { HeartbeatSchema, Seaweed, type HeartbeatResponse } from "../../../src/gen/master_pb.js";
import {
  checkHeartbeatCluster,
  checkVolumeCount,
  insaneVolume,
  saneVolumes,
  volumeIdAheadMax,
} from "../../../src/master/api/heartbeat-bounds.js";
import {
  heartbeatMemberVolumeIdAheadMax,
  heartbeatVolumeIdAheadMax,
  heartbeatVolumesOverCountMax,
} from "../../../src/master/limits.js";
import type { MasterServer } from "../../../src/master/master-server.js";
import { HeartbeatClient } from "../../../src/volume/heartbeat-client.js";
import { clusterIdFileIn } from "../../../src/volume/cluster-id-file.js";
import { Store } from "../../../src/volume/storage/store.js";
import { pino } from "pino";
import { silentLogger, type Logger } from "../../../src/common/logger.js";
import { tempDir, waitFor, type TempDir } from "../../helpers.js";
import { startMaster, volumeMessage } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("heartbeat bounds", () => {
  it("refuses another cluster's id, accepts an unknown one on either side", () => {
    expect(() => checkHeartbeatCluster("", "A")).not.toThrow();
    expect(() => checkHeartbeatCluster("A", "")).not.toThrow();
    expect(() => checkHeartbeatCluster("A", "A")).not.toThrow();
    let err: unknown;
    try {
      checkHeartbeatCluster("B", "A");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.CONFLICT);
  });

  it("gives a server naming this cluster the wider bound, one naming none or another the narrow one", () => {
    expect(volumeIdAheadMax("A", "A")).toBe(heartbeatMemberVolumeIdAheadMax);
    expect(volumeIdAheadMax("", "A")).toBe(heartbeatVolumeIdAheadMax);
    expect(volumeIdAheadMax("", "")).toBe(heartbeatVolumeIdAheadMax);
    expect(heartbeatVolumeIdAheadMax).toBeLessThan(heartbeatMemberVolumeIdAheadMax);
  });

  it("bounds the volumes one server may list by its own capacity plus a margin", () => {
    expect(() => checkVolumeCount(8 + heartbeatVolumesOverCountMax, 8)).not.toThrow();
    expect(() => checkVolumeCount(9 + heartbeatVolumesOverCountMax, 8)).toThrow(WeedError);
  });

  it("leaves out id 0, ids far above the maximum and impossible sizes", () => {
    expect(insaneVolume(0, 0n, 10)).toMatch(/id 0/);
    expect(insaneVolume(10 + heartbeatVolumeIdAheadMax, 0n, 10)).toBeNull();
    expect(insaneVolume(11 + heartbeatVolumeIdAheadMax, 0n, 10)).toMatch(/above the cluster's maximum 10/);
    expect(insaneVolume(3, 33n * 1024n ** 3n, 10)).toMatch(/claims/);
    expect(insaneVolume(3, 30n * 1024n ** 3n, 10)).toBeNull();
    expect(insaneVolume(11 + heartbeatVolumeIdAheadMax, 0n, 10, heartbeatMemberVolumeIdAheadMax)).toBeNull();
    const r = saneVolumes([{ id: 1 }, { id: 0 }, { id: 5_000_000 }, { id: 2, size: 1n }], 8);
    expect(r.sane.map((v) => v.id)).toEqual([1, 2]);
    expect(r.refused.length).toBe(2);
  });
});

interface Cluster {
  m: MasterServer;
  http: string;
}

async function master(root: TempDir, name = "m"): Promise<Cluster> {
  const m = await startMaster(join(root.dir, name));
  cleanups.push(() => m.close());
  const http = `http://127.0.0.1:${m.httpPort}`;
  await waitFor(async () => (await clusterId(http)) !== "", { timeoutMs: 10_000, what: "the cluster id fixed" });
  return { m, http };
}

async function json(url: string): Promise<Record<string, unknown>> {
  const r = await request(url);
  return (await r.body.json()) as Record<string, unknown>;
}

async function clusterId(http: string): Promise<string> {
  return String((await json(`${http}/cluster/raft`)).clusterId ?? "");
}

async function maxVolumeId(http: string): Promise<number> {
  return Number((await json(`${http}/cluster/status`)).MaxVolumeId);
}

async function lookup(http: string, vid: number): Promise<string[]> {
  const r = await request(`${http}/dir/lookup?volumeId=${vid}`);
  const body = (await r.body.json()) as { locations?: { url: string }[] };
  return (body.locations ?? []).map((l) => l.url);
}

/** One raw heartbeat stream (as a stranger with a gRPC client would open it); what it got back. */
async function rawBeat(
  c: Cluster,
  hb: MessageInitShape<typeof HeartbeatSchema>,
): Promise<{ answers: HeartbeatResponse[]; error: grpc.ServiceError | null; end: () => void }> {
  const client = createClient(Seaweed, `127.0.0.1:${c.m.grpcPort}`);
  cleanups.push(() => client.close());
  const call = client.sendHeartbeat();
  const answers: HeartbeatResponse[] = [];
  let error: grpc.ServiceError | null = null;
  call.on("data", (r: HeartbeatResponse) => answers.push(r));
  call.on("error", (e: grpc.ServiceError) => (error = e));
  call.write(create(HeartbeatSchema, hb));
  await waitFor(() => answers.length > 0 || error !== null, { timeoutMs: 5_000, what: "an answer or a status" });
  return { answers, error, end: () => call.cancel() };
}

describe("heartbeats at a real master", () => {
  it("refuses another cluster's stream and registers nothing of it", async () => {
    const root = await tempDir("hb-bounds-");
    cleanups.push(() => root.remove());
    const c = await master(root);
    const r = await rawBeat(c, {
      ip: "127.0.0.1",
      port: 1,
      clusterId: "another-cluster",
      maxVolumeCounts: { "": 8 },
      volumes: [volumeMessage(1)],
    });
    expect(r.error?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(r.error?.details).toMatch(/another-cluster/);
    expect(await lookup(c.http, 1)).toEqual([]);
  });

  it("leaves out absurd volumes, registers the sane ones, and MaxVolumeId stays", async () => {
    const root = await tempDir("hb-bounds-");
    cleanups.push(() => root.remove());
    const c = await master(root);
    const before = await maxVolumeId(c.http);
    const far = before + heartbeatVolumeIdAheadMax + 1;
    const r = await rawBeat(c, {
      ip: "127.0.0.1",
      port: 1,
      maxVolumeCounts: { "": 8 },
      volumes: [volumeMessage(far), volumeMessage(0), volumeMessage(3, { size: 40 * 1024 ** 3 }), volumeMessage(2)],
    });
    expect(r.error).toBeNull();
    expect(r.answers[0]!.clusterId).toBe(await clusterId(c.http)); // a fresh server learns it
    await waitFor(async () => (await lookup(c.http, 2)).length === 1, { what: "the sane volume registered" });
    expect(await lookup(c.http, far)).toEqual([]);
    expect(await lookup(c.http, 3)).toEqual([]);
    expect(await maxVolumeId(c.http)).toBe(Math.max(before, 2));
    r.end();
  });

  it("a server naming this cluster may report volumes made by hand further ahead, within the wider bound", async () => {
    const root = await tempDir("hb-bounds-");
    cleanups.push(() => root.remove());
    const c = await master(root);
    const ours = await clusterId(c.http);
    const before = await maxVolumeId(c.http);
    const byHand = before + heartbeatVolumeIdAheadMax + 100;
    const far = before + heartbeatMemberVolumeIdAheadMax + 1;
    const r = await rawBeat(c, {
      ip: "127.0.0.1",
      port: 1,
      clusterId: ours,
      maxVolumeCounts: { "": 8 },
      volumes: [volumeMessage(byHand), volumeMessage(far)],
    });
    expect(r.error).toBeNull();
    await waitFor(async () => (await lookup(c.http, byHand)).length === 1, { what: "the hand-made volume" });
    expect(await lookup(c.http, far)).toEqual([]);
    await waitFor(async () => (await maxVolumeId(c.http)) === byHand, { what: "the maximum raised to it" });
    r.end();
  });

  it("refuses a list far beyond the server's own capacity", async () => {
    const root = await tempDir("hb-bounds-");
    cleanups.push(() => root.remove());
    const c = await master(root);
    const n = 2 + heartbeatVolumesOverCountMax;
    const r = await rawBeat(c, {
      ip: "127.0.0.1",
      port: 1,
      maxVolumeCounts: { "": 1 },
      volumes: Array.from({ length: n }, (_, i) => volumeMessage(i + 1)),
    });
    expect(r.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await lookup(c.http, 1)).toEqual([]);
  });
});

interface Line {
  obj: Record<string, unknown>;
  msg: string;
}

function recordingLogger(lines: Line[]): Logger {
  return pino(
    { level: "info" },
    {
      write: (text: string) => {
        const obj = JSON.parse(text) as Record<string, unknown>;
        lines.push({ obj, msg: String(obj.msg ?? "") });
      },
    },
  );
}

async function heartbeatClient(dir: string, c: Cluster, lines: Line[]): Promise<HeartbeatClient> {
  const store = new Store({ dir, maxVolumeCount: 8, logger: silentLogger() });
  await store.open();
  cleanups.push(() => store.close());
  const hc = new HeartbeatClient({
    store,
    clusterIdFile: clusterIdFileIn(dir),
    identity: { ip: "127.0.0.1", port: 1, grpcPort: 2, publicUrl: "", dataCenter: "", rack: "", id: "127.0.0.1:1" },
    masters: [`127.0.0.1:${c.m.httpPort}.${c.m.grpcPort}`],
    intervalMs: 100,
    logger: recordingLogger(lines),
  });
  hc.start();
  cleanups.push(() => hc.close());
  return hc;
}

describe("the volume server's cluster id", () => {
  it("a fresh -dir learns the cluster id and keeps it; another cluster's master refuses that -dir", async () => {
    const root = await tempDir("hb-cluster-");
    cleanups.push(() => root.remove());
    const a = await master(root, "a");
    const dir = join(root.dir, "vol");
    const lines: Line[] = [];
    const hc = await heartbeatClient(dir, a, lines);
    await waitFor(() => hc.connected && hc.clusterId !== "", { what: "joined cluster A" });
    const idA = await clusterId(a.http);
    expect(hc.clusterId).toBe(idA);
    expect(readFileSync(join(dir, "cluster.id"), "utf8").trim()).toBe(idA);
    await hc.close();

    // The same -dir pointed at cluster B's master.
    const b = await master(root, "b");
    expect(await clusterId(b.http)).not.toBe(idA);
    const linesB: Line[] = [];
    const hcB = await heartbeatClient(dir, b, linesB);
    await waitFor(() => linesB.some((l) => String(l.obj.reason ?? "").includes("FAILED_PRECONDITION")), {
      what: "the volume server's log names the refusal",
    });
    expect(hcB.connected).toBe(false);
    expect(hcB.clusterId).toBe(idA);
    expect(readFileSync(join(dir, "cluster.id"), "utf8").trim()).toBe(idA);
    expect(await lookup(b.http, 1)).toEqual([]);
  });

  it("a malformed cluster.id is ignored (the -dir counts as fresh)", async () => {
    const root = await tempDir("hb-cluster-");
    cleanups.push(() => root.remove());
    const a = await master(root, "a");
    const dir = join(root.dir, "vol");
    const store = new Store({ dir, maxVolumeCount: 8, logger: silentLogger() });
    await store.open();
    await store.close();
    writeFileSync(join(dir, "cluster.id"), "not a valid id!\n");
    const hc = await heartbeatClient(dir, a, []);
    await waitFor(() => hc.clusterId !== "", { what: "learned" });
    expect(existsSync(join(dir, "cluster.id"))).toBe(true);
    expect(readFileSync(join(dir, "cluster.id"), "utf8").trim()).toBe(await clusterId(a.http));
  });
});
