// Vacuum of a real `weed-ts volume` over its gRPC methods (issue 13): compact and commit while a
// writer runs, the new size reaching the master in the heartbeat, and kill -9 at every named
// crash point of compact and commit (WEEDTS_CRASH_AT, src/volume/storage/crash-points.ts): the
// restarted server loads the volume, every acknowledged blob reads back byte-identical, every
// deleted one is 404, and no compaction file is left. Also TTL: a needle past its TTL is 404.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { parseTtl } from "../../src/common/ttl.js";
import { createClient, GrpcCallError, type ServiceClient } from "../../src/grpc/adapter.js";
import { VolumeServer } from "../../src/gen/volume_server_pb.js";
import { crashAtEnvName, crashPointNames, type CrashPoint } from "../../src/volume/storage/crash-points.js";
import { encodeNeedle } from "../../src/volume/storage/needle.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const vid = 7;
/**
 * Blobs written before each vacuum, 2-98 KB (~5 MB): more than one compaction read window (4 MiB),
 * so vacuum.compact.midCopy is reached with records still to copy; few enough to stay quick.
 */
const blobCount = 100;
/** The master has a vacuum commit's new size within this (a beat at once; the periodic one is 5 s). */
const heartbeatSeenMs = 3_000;
/** How long a killed server may take to die after the call that reaches its crash point. */
const deathTimeoutMs = 10_000;

let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;

/** A volume server process, with WEEDTS_CRASH_AT when asked (spawned here: the harness passes no env). */
class VolumeProc {
  readonly child: ChildProcess;
  readonly output: string[] = [];
  readonly exit: Promise<NodeJS.Signals | number | null>;

  constructor(
    readonly dir: string,
    readonly port: number,
    crashAt?: CrashPoint,
  ) {
    const args = ["volume", `-dir=${dir}`, "-ip=127.0.0.1", `-port=${port}`, `-mserver=127.0.0.1:${masterPort}`];
    const env = { ...process.env };
    delete env[crashAtEnvName];
    if (crashAt !== undefined) env[crashAtEnvName] = crashAt;
    this.child = spawn(process.execPath, [BIN, ...args, "-max=4", "-logLevel=info"], { env, stdio: "pipe" });
    const keep = (b: Buffer): void => {
      this.output.push(b.toString());
      if (this.output.length > 2000) this.output.splice(0, 1000);
    };
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.exit = new Promise((res) => this.child.once("exit", (code, signal) => res(signal ?? code)));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  client(): ServiceClient<typeof VolumeServer> {
    return createClient(VolumeServer, `127.0.0.1:${this.port + 10000}`);
  }

  async start(): Promise<void> {
    await waitHttpOk(`${this.url}/healthz`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exit;
    clearTimeout(t);
  }
}

/** What must read back (fid -> bytes) and what must be 404. */
interface Acked {
  live: Map<string, Buffer>;
  deleted: Set<string>;
}

let nextKey = 1;
function newFid(): string {
  return `${vid},${(nextKey++).toString(16)}0000abcd`;
}

async function put(base: string, fid: string, body: Buffer, query = ""): Promise<boolean> {
  try {
    const r = await request(`${base}/${fid}${query}`, { method: "PUT", body, headersTimeout: 5000 });
    await r.body.text();
    return r.statusCode === 201;
  } catch {
    return false; // the server died mid-request: not acknowledged
  }
}

async function del(base: string, fid: string): Promise<boolean> {
  try {
    const r = await request(`${base}/${fid}`, { method: "DELETE", headersTimeout: 5000 });
    await r.body.text();
    return r.statusCode === 202;
  } catch {
    return false;
  }
}

async function get(base: string, fid: string): Promise<Buffer | number> {
  const r = await request(`${base}/${fid}`);
  const body = Buffer.from(await r.body.arrayBuffer());
  return r.statusCode === 200 ? body : r.statusCode;
}

/** Allocates the volume, writes blobCount blobs and deletes every third. */
async function populate(v: VolumeProc, acked: Acked = { live: new Map(), deleted: new Set() }): Promise<Acked> {
  const c = v.client();
  try {
    await c.allocateVolume({ volumeId: vid, replication: "000" }, { timeoutMs: 5000 });
  } finally {
    c.close();
  }
  for (let i = 0; i < blobCount; i++) {
    const fid = newFid();
    const body = randomBytes(2000 + ((i * 7919) % 96_000));
    expect(await put(v.url, fid, body)).toBe(true);
    acked.live.set(fid, body);
  }
  for (const fid of [...acked.live.keys()].filter((_, i) => i % 3 === 0)) {
    expect(await del(v.url, fid)).toBe(true);
    acked.live.delete(fid);
    acked.deleted.add(fid);
  }
  return acked;
}

/** A writer that records what the server acknowledged, until stopped or the server is gone. */
function writer(v: VolumeProc, acked: Acked): { stop: () => Promise<void> } {
  let stopped = false;
  const run = (async () => {
    for (let i = 0; !stopped && i < 10_000; i++) {
      const fid = newFid();
      const body = randomBytes(500 + i * 13);
      if (!(await put(v.url, fid, body))) return;
      acked.live.set(fid, body);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await run;
    },
  };
}

async function check(v: VolumeProc, acked: Acked): Promise<void> {
  for (const [fid, body] of acked.live) {
    const got = await get(v.url, fid);
    if (!(got instanceof Buffer) || !got.equals(body)) throw new Error(`${fid}: got ${String(got)}, not its bytes`);
  }
  for (const fid of acked.deleted) expect(await get(v.url, fid)).toBe(404);
}

async function compact(c: ServiceClient<typeof VolumeServer>): Promise<bigint[]> {
  const progress: bigint[] = [];
  for await (const m of c.vacuumVolumeCompact({ volumeId: vid }, { timeoutMs: 30_000 }))
    progress.push(m.processedBytes);
  return progress;
}

async function grpcCode(p: Promise<unknown>): Promise<GrpcStatus | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (err instanceof GrpcCallError) return err.code;
    throw err;
  }
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /\.(cpd|cpx|cpc)$/.test(f));
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-vacuum-");
  masterPort = await freePortPair();
  master = new WeedProcess(["master", `-mdir=${tmp.dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, "-logLevel=warn"]);
  await waitHttpOk(`http://127.0.0.1:${masterPort}/healthz`, master);
});

afterAll(async () => {
  await master?.stop();
  await tmp?.remove();
});

/** The size the master's topology has for the volume, from /vol/status. */
async function masterSize(): Promise<number | undefined> {
  const s = await getJson(`http://127.0.0.1:${masterPort}/vol/status`);
  for (const racks of Object.values(s.json?.Volumes?.DataCenters ?? {}) as object[])
    for (const nodes of Object.values(racks) as object[])
      for (const vols of Object.values(nodes) as { Id: number; Size: number }[][])
        for (const info of vols) if (info.Id === vid) return info.Size;
  return undefined;
}

describe("vacuum on a real volume server", () => {
  it("compacts and commits while a writer runs; the heartbeat reports the new size; errors are typed", async () => {
    const v = new VolumeProc(`${tmp.dir}/ok`, await freePortPair());
    try {
      await v.start();
      const acked = await populate(v);
      const c = v.client();
      try {
        expect(await grpcCode(c.vacuumVolumeCheck({ volumeId: 99 }))).toBe(GrpcStatus.NOT_FOUND);
        expect(await grpcCode(c.vacuumVolumeCommit({ volumeId: vid }))).toBe(GrpcStatus.FAILED_PRECONDITION);
        const ratio = (await c.vacuumVolumeCheck({ volumeId: vid })).garbageRatio;
        expect(ratio).toBeGreaterThan(0.25);
        // The heartbeat stream is up (the master knows the volume) before the vacuum.
        await waitFor(async () => (await masterSize()) !== undefined, {
          ...PROCESS_WAIT,
          what: "volume at the master",
        });
        const before = (await c.volumeStatus({ volumeId: vid })).volumeSize;
        const load = writer(v, acked);
        const progress = await compact(c);
        // Stopped before the commit, so that the size the commit reports stays the volume's size.
        await load.stop();
        const committed = await c.vacuumVolumeCommit({ volumeId: vid }, { timeoutMs: 30_000 });
        expect(progress.length).toBeGreaterThan(0);
        expect(committed.isReadOnly).toBe(false);
        expect(committed.volumeSize).toBeLessThan(before);
        expect((await c.volumeStatus({ volumeId: vid })).volumeSize).toBe(committed.volumeSize);
        expect((await c.vacuumVolumeCheck({ volumeId: vid })).garbageRatio).toBe(0);
        // Sent at once, not with the next periodic beat (every 5 s).
        await waitFor(async () => (await masterSize()) === Number(committed.volumeSize), {
          timeoutMs: heartbeatSeenMs,
          intervalMs: 50,
          what: "the master's size of the volume is the committed one",
        });
        await check(v, acked);
        expect(await grpcCode(c.vacuumVolumeCleanup({ volumeId: vid }))).toBe("ok");
      } finally {
        c.close();
      }
      expect(leftovers(v.dir)).toEqual([]);
    } finally {
      await v.stop();
    }
  });

  it("a needle past its TTL is 404; one within it reads", async () => {
    const v = new VolumeProc(`${tmp.dir}/ttl`, await freePortPair());
    try {
      await v.start();
      await populate(v);
      const fresh = newFid();
      expect(await put(v.url, fresh, Buffer.from("fresh"), "?ttl=1m")).toBe(true);
      expect((await get(v.url, fresh)) as Buffer).toEqual(Buffer.from("fresh"));
      // A record appended two minutes ago with ttl=1m, as another replica would hand it over.
      const key = BigInt(nextKey++);
      const nowMs = Date.now();
      const old = encodeNeedle(
        { key, cookie: 0xabcd, data: Buffer.from("stale"), ttl: parseTtl("1m") },
        3,
        BigInt(nowMs - 120_000) * 1_000_000n,
        Math.floor(nowMs / 1000) - 120,
      );
      const c = v.client();
      try {
        await c.writeNeedleBlob({ volumeId: vid, needleId: key, size: old.size, needleBlob: old.record });
      } finally {
        c.close();
      }
      expect(await get(v.url, `${vid},${key.toString(16)}0000abcd`)).toBe(404);
    } finally {
      await v.stop();
    }
  });

  for (const point of crashPointNames) {
    it(`kill -9 at ${point}: the restarted server has every acknowledged blob`, async () => {
      const dir = `${tmp.dir}/${point}`;
      const port = await freePortPair();
      const doomed = new VolumeProc(dir, port, point);
      const acked: Acked = { live: new Map(), deleted: new Set() };
      try {
        await doomed.start();
        await populate(doomed, acked);
        const load = writer(doomed, acked);
        const c = doomed.client();
        try {
          const reached = (async () => {
            await compact(c);
            await c.vacuumVolumeCommit({ volumeId: vid }, { timeoutMs: 30_000 });
          })();
          await reached.catch(() => undefined);
        } finally {
          c.close();
        }
        const died = await Promise.race([
          doomed.exit,
          new Promise((r) => setTimeout(() => r("alive"), deathTimeoutMs)),
        ]);
        expect(died).toBe("SIGKILL");
        await load.stop();
      } finally {
        await doomed.stop();
      }
      const again = new VolumeProc(dir, port);
      try {
        await again.start();
        await check(again, acked);
        const c = again.client();
        try {
          expect(await grpcCode(c.vacuumVolumeCheck({ volumeId: vid }))).toBe("ok");
          // The old volume before the marker, the compacted one (revision + 1) from it on.
          const decided = crashPointNames.indexOf(point) >= crashPointNames.indexOf("vacuum.commit.afterMarker");
          const status = await c.readVolumeFileStatus({ volumeId: vid });
          expect(status.compactionRevision).toBe(decided ? 1 : 0);
        } finally {
          c.close();
        }
        expect(leftovers(dir)).toEqual([]);
      } finally {
        await again.stop();
      }
    });
  }
});
