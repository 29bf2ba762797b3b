// Replica health on the leader and location changes pushed to volume servers (issue 11): a master
// and three volume servers on racks r1, r2, r3 as separate processes, replication 010, heartbeats
// every second (-pulseSeconds=1). A replica's server killed: the volume is listed under-replicated
// and never assigned, assigns go to volumes whose copies are all live. A replica copied in: the
// writer learns of it from the leader's push and replicates the next write there, long before its
// cached lookup (10 s) would have expired. A replicated write that failed part way: the volume
// needs a check and takes no writes until it is checked.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { createClient } from "../../src/grpc/adapter.js";
import { VolumeServer } from "../../src/gen/volume_server_pb.js";
import { replicaLookupTtlMs } from "../../src/volume/limits.js";
import { locationPushCoalesceMs } from "../../src/master/api/location-push.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

/**
 * After the master lists a new location, the push reaches volume servers within one coalescing
 * interval plus a gRPC message on loopback; five intervals leave room for a busy two-core machine
 * and are still a twentieth of the lookup cache's lifetime.
 */
const PUSH_SETTLE_MS = 5 * locationPushCoalesceMs;
/** replicaRequestTimeoutMs(small) + replicaLookupTimeoutMs (src/volume/limits.ts): a write's bound, replica stopped. */
const STOPPED_REPLICA_BOUND_MS = 10_000;
const SLACK_MS = 1_500;

const run = promisify(execFile);
let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;
const servers = new Map<string, { proc: WeedProcess; port: number }>();

const masterUrl = (): string => `http://127.0.0.1:${masterPort}`;
const url = (name: string): string => `127.0.0.1:${servers.get(name)!.port}`;
const grpcOf = (name: string): string => `127.0.0.1:${servers.get(name)!.port + 10000}`;

async function startVolume(name: string, rack: string): Promise<void> {
  const port = await freePortPair();
  const proc = new WeedProcess([
    "volume",
    `-dir=${tmp.dir}/${name}`,
    "-ip=127.0.0.1",
    `-port=${port}`,
    `-mserver=127.0.0.1:${masterPort}`,
    // The first 010 assign grows 6 volumes over pairs of servers, and the tests allocate and copy more.
    "-max=30",
    `-rack=${rack}`,
    "-pulseSeconds=1",
    "-logLevel=warn",
  ]);
  servers.set(name, { proc, port });
  await waitHttpOk(`http://${url(name)}/healthz`, proc);
}

interface Layout {
  replication: string;
  writables: number[];
  underReplicated: number[];
  readOnly: number[];
  needsCheck: number[];
}

/** The 010 layout of /dir/status (empty lists before it has volumes). */
async function layout010(): Promise<Layout> {
  const s = await getJson(`${masterUrl()}/dir/status`);
  const found = (s.json.Topology.Layouts as Layout[]).find((l) => l.replication === "010");
  return found ?? { replication: "010", writables: [], underReplicated: [], readOnly: [], needsCheck: [] };
}

async function holders(vid: number): Promise<string[]> {
  const l = await getJson(`${masterUrl()}/dir/lookup?volumeId=${vid}`);
  return ((l.json?.locations ?? []) as { url: string }[]).map((x) => x.url).sort();
}

async function shell(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, "shell", `-master=127.0.0.1:${masterPort}`, ...args], {
      timeout: 30_000,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

let nextKey = 0x100;
const fidIn = (vid: number): string => `${vid},${(nextKey++).toString(16)}c0ffee01`;

async function put(name: string, fid: string, body: Buffer): Promise<{ status: number; text: string }> {
  const r = await request(`http://${url(name)}/${fid}`, {
    method: "PUT",
    body,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  return { status: r.statusCode, text: await r.body.text() };
}

/** The blob's bytes read from that very server, or its status when not 200. */
async function get(name: string, fid: string): Promise<Buffer | number> {
  const r = await request(`http://${url(name)}/${fid}`);
  const body = Buffer.from(await r.body.arrayBuffer());
  return r.statusCode === 200 ? body : r.statusCode;
}

async function allocate(name: string, vid: number): Promise<void> {
  const c = createClient(VolumeServer, grpcOf(name));
  try {
    await c.allocateVolume({ volumeId: vid, replication: "010" }, { timeoutMs: 5_000 });
  } finally {
    c.close();
  }
}

/** VolumeCopy of `vid` from `src` into `dst` (what volume.fix.replication does, by hand). */
async function volumeCopy(dst: string, src: string, vid: number): Promise<void> {
  const c = createClient(VolumeServer, grpcOf(dst));
  try {
    for await (const _ of c.volumeCopy({ volumeId: vid, sourceDataNode: grpcOf(src) }, { timeoutMs: 30_000 }));
  } finally {
    c.close();
  }
}

async function onServers(vid: number, names: string[]): Promise<void> {
  const want = names.map(url).sort();
  await waitFor(async () => JSON.stringify(await holders(vid)) === JSON.stringify(want), {
    ...PROCESS_WAIT,
    what: `volume ${vid} on ${names.join(", ")}`,
  });
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-replica-health-");
  masterPort = await freePortPair();
  master = new WeedProcess([
    "master",
    `-mdir=${tmp.dir}/m`,
    "-ip=127.0.0.1",
    `-port=${masterPort}`,
    "-pulseSeconds=1",
    "-logLevel=warn",
  ]);
  await waitHttpOk(`${masterUrl()}/healthz`, master);
  await Promise.all([startVolume("s1", "r1"), startVolume("s2", "r2"), startVolume("s3", "r3")]);
  await waitFor(async () => (await getJson(`${masterUrl()}/dir/status`)).json.Topology.Free > 0, {
    ...PROCESS_WAIT,
    what: "volume servers registered",
  });
}, 60_000);

afterAll(async () => {
  for (const s of servers.values()) {
    s.proc.child.kill("SIGCONT");
    await s.proc.stop();
  }
  await master?.stop();
  await tmp?.remove();
});

describe("replica health and location pushes (replication=010 over racks r1, r2, r3)", () => {
  it("a replica copied in reaches the writer's cache at once: the next write lands there too", async () => {
    const vid = 501;
    await allocate("s1", vid);
    await allocate("s2", vid);
    await onServers(vid, ["s1", "s2"]);
    // s1 looks the volume up and caches [s1, s2] for replicaLookupTtlMs.
    const primed = performance.now();
    expect((await put("s1", fidIn(vid), randomBytes(200))).status).toBe(201);

    await volumeCopy("s3", "s1", vid);
    await onServers(vid, ["s1", "s2", "s3"]);
    await new Promise((r) => setTimeout(r, PUSH_SETTLE_MS));
    const fid = fidIn(vid);
    const body = randomBytes(3000);
    const w = await put("s1", fid, body);
    expect(w.status, w.text).toBe(201);
    const elapsedMs = performance.now() - primed;
    // Still inside the old cache entry's lifetime: only the push can have told s1 of s3.
    expect(elapsedMs).toBeLessThan(replicaLookupTtlMs);
    for (const name of ["s1", "s2", "s3"]) expect((await get(name, fid)) as Buffer).toEqual(body);
  });

  it("kill -9 a replica: under-replicated, never assigned; the next write reaches the fixed copy", async () => {
    expect((await getJson(`${masterUrl()}/dir/assign?replication=010`)).status).toBe(200); // grows 6 volumes
    const vid = 601;
    await allocate("s1", vid);
    await allocate("s2", vid);
    await onServers(vid, ["s1", "s2"]);
    const primed = performance.now();
    expect((await put("s1", fidIn(vid), randomBytes(200))).status).toBe(201);

    await servers.get("s2")!.proc.kill9();
    await waitFor(async () => (await layout010()).underReplicated.includes(vid), {
      ...PROCESS_WAIT,
      what: `volume ${vid} listed under-replicated`,
    });
    const layout = await layout010();
    expect(layout.writables.filter((v) => layout.underReplicated.includes(v))).toEqual([]);
    const metrics = await (await request(`${masterUrl()}/metrics`)).body.text();
    const gauge = /SeaweedFS_master_under_replicated_volumes\{collection="",rp="010",ttl=""\} (\d+)/.exec(metrics);
    expect(Number(gauge?.[1])).toBe(layout.underReplicated.length);
    const page = await (await request(`${masterUrl()}/`)).body.text();
    expect(page).toContain(`<tr><td>${vid}</td><td></td><td>010</td><td>1 / 2</td><td>under-replicated</td>`);

    // s1 and s3 are left on two racks: assigns go to volumes on both (grown there if need be).
    for (let i = 0; i < 10; i++) {
      const a = await getJson(`${masterUrl()}/dir/assign?replication=010`);
      expect(a.status, JSON.stringify(a.json)).toBe(200);
      const assigned = Number(String(a.json.fid).split(",")[0]);
      expect(layout.underReplicated).not.toContain(assigned);
      expect(await holders(assigned)).toEqual([url("s1"), url("s3")].sort());
    }

    const fix = await shell("volume.fix.replication", "-apply");
    expect(fix.code, fix.out).toBe(0);
    await onServers(vid, ["s1", "s3"]);
    await new Promise((r) => setTimeout(r, PUSH_SETTLE_MS));
    const fid = fidIn(vid);
    const body = randomBytes(3000);
    const w = await put("s1", fid, body);
    expect(w.status, w.text).toBe(201);
    // Inside the lifetime of s1's lookup [s1, s2]: without the push it would have tried dead s2.
    expect(performance.now() - primed).toBeLessThan(replicaLookupTtlMs);
    expect((await get("s3", fid)) as Buffer).toEqual(body);
    await waitFor(async () => (await layout010()).underReplicated.length === 0, {
      ...PROCESS_WAIT,
      what: "every 010 volume has its copies again",
    });
  }, 60_000);

  it("a write that failed part way: the volume needs a check and takes no writes until checked", async () => {
    const vid = 701;
    await allocate("s1", vid);
    await allocate("s3", vid);
    await onServers(vid, ["s1", "s3"]);
    expect((await put("s1", fidIn(vid), randomBytes(200))).status).toBe(201);
    expect((await layout010()).writables).toContain(vid);

    const stopped = servers.get("s3")!.proc;
    const fid = fidIn(vid);
    stopped.child.kill("SIGSTOP");
    try {
      const t0 = performance.now();
      const w = await put("s1", fid, randomBytes(2000));
      expect(w.status, w.text).toBeGreaterThanOrEqual(500);
      expect(JSON.parse(w.text).error).toMatch(/outcome unknown/);
      expect(performance.now() - t0).toBeLessThan(STOPPED_REPLICA_BOUND_MS + SLACK_MS);
      await waitFor(async () => (await layout010()).needsCheck.includes(vid), {
        ...PROCESS_WAIT,
        what: `volume ${vid} listed as needing a check`,
      });
      expect((await layout010()).writables).not.toContain(vid);
    } finally {
      stopped.child.kill("SIGCONT");
    }
    await onServers(vid, ["s1", "s3"]);
    // Both copies are back, but they may differ: still no writes until the check.
    const back = await layout010();
    if (back.needsCheck.includes(vid)) {
      expect(back.writables).not.toContain(vid);
      const check = await shell("volume.check.disk", "-apply", `-volumeId=${vid}`);
      // The leader's own repair may have checked it meanwhile: then the flag is already gone.
      if (check.code !== 0) expect((await layout010()).needsCheck, check.out).not.toContain(vid);
    }
    await waitFor(async () => (await layout010()).writables.includes(vid), {
      ...PROCESS_WAIT,
      what: `volume ${vid} writable again after the check`,
    });
    expect((await layout010()).needsCheck).not.toContain(vid);
    const [a, b] = [await get("s1", fid), await get("s3", fid)];
    expect(a).toEqual(b); // the failed write is on both replicas or on neither
  }, 60_000);
});
