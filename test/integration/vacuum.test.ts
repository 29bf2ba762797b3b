// Vacuum end to end (issue 13): a master and two volume servers (replication 001) as separate
// processes. Blobs are written, most of them deleted, then /vol/vacuum runs while a writer and a
// deleter keep going. Afterwards every blob whose write was acknowledged and not deleted reads
// back byte-identical from both replicas, every acknowledged delete is 404 on both, both replicas
// hold the same needles, and the .dat files shrank by about the deleted bytes.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { createClient } from "../../src/grpc/adapter.js";
import { VolumeServer, type NeedleListEntry } from "../../src/gen/volume_server_pb.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const COLLECTION = "vac";
const BLOBS = 240;
const BLOB_BYTES = 8 * 1024;
/** The writer and deleter running during the vacuum stop after this many operations each. */
const CONCURRENT_OPS_MAX = 400;

let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;
const volumes: { port: number; proc: WeedProcess; dir: string }[] = [];

const masterUrl = (): string => `http://127.0.0.1:${masterPort}`;

/**
 * Runs a shell command without blocking this process (spawnSync would: a keep-alive connection
 * the master closes meanwhile goes unnoticed, and the next request on it fails).
 */
async function shell(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const argv = [BIN, "shell", `-master=127.0.0.1:${masterPort}`, ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { encoding: "utf8", timeout: 60_000 }, (err, out, errText) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, out, err: errText }),
    );
  });
}

async function send(url: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(url, { headersTimeout: 60_000, bodyTimeout: 60_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, body, text: body.toString("utf8") };
}

/** Assign and upload; the fid when the upload was acknowledged, undefined when its outcome is unknown. */
async function write(content: Buffer): Promise<{ fid: string; url: string } | undefined> {
  const a = await send(`${masterUrl()}/dir/assign?collection=${COLLECTION}&replication=001`).catch(() => undefined);
  if (a?.status !== 200) return undefined;
  const { fid, url } = JSON.parse(a.text) as { fid: string; url: string };
  const form = new FormData();
  form.set("file", new Blob([content]), "b.bin");
  const up = await send(`http://${url}/${fid}`, { method: "POST", body: form }).catch(() => undefined);
  return up?.status === 201 ? { fid, url } : undefined;
}

async function remove(b: { fid: string; url: string }): Promise<boolean> {
  const r = await send(`http://${b.url}/${b.fid}`, { method: "DELETE" }).catch(() => undefined);
  return r?.status === 202 || r?.status === 200;
}

/** The volume's live needles on a server, as "key cookie size crc" lines, sorted. */
async function liveNeedles(port: number, volumeId: number): Promise<string[]> {
  const c = createClient(VolumeServer, `127.0.0.1:${port + 10000}`);
  const out: string[] = [];
  try {
    const call = c.volumeNeedleList({ volumeId }, { timeoutMs: 30_000 });
    for await (const msg of call as AsyncIterable<{ needles: NeedleListEntry[] }>)
      for (const n of msg.needles) if (!n.deleted) out.push(`${n.needleId} ${n.cookie} ${n.size} ${n.crc}`);
  } finally {
    c.close();
  }
  return out.sort();
}

function datBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.startsWith(`${COLLECTION}_`) && f.endsWith(".dat"))
    .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-vacuum-");
  masterPort = await freePortPair();
  const mdir = join(tmp.dir, "m");
  master = new WeedProcess([
    "master",
    `-mdir=${mdir}`,
    "-ip=127.0.0.1",
    `-port=${masterPort}`,
    "-vacuumPeriod=0",
    "-logLevel=warn",
  ]);
  await waitHttpOk(`${masterUrl()}/cluster/healthz`, master);
  for (let i = 0; i < 2; i++) {
    const port = await freePortPair();
    const dir = join(tmp.dir, `v${i}`);
    const args = ["volume", `-dir=${dir}`, "-ip=127.0.0.1", `-port=${port}`, `-mserver=127.0.0.1:${masterPort}`];
    volumes.push({ port, dir, proc: new WeedProcess([...args, "-max=10", "-logLevel=warn"]) });
  }
  await waitFor(
    async () => {
      const s = await getJson(`${masterUrl()}/dir/status`);
      return JSON.stringify(s.json).split('"Url"').length - 1 >= 2;
    },
    { ...PROCESS_WAIT, what: "both volume servers registered" },
  );
}, 60_000);

afterAll(async () => {
  for (const p of [master, ...volumes.map((v) => v.proc)]) await p?.stop();
  await tmp?.remove();
});

describe("vacuum", () => {
  it("under a writer and a deleter: live blobs intact on both replicas, deletes stay, .dat shrank", async () => {
    const live = new Map<string, { url: string; content: Buffer }>();
    const deleted = new Set<string>();
    for (let i = 0; i < BLOBS; i++) {
      const content = randomBytes(BLOB_BYTES);
      const w = await write(content);
      expect(w, "every write before the vacuum is acknowledged").toBeDefined();
      live.set(w!.fid, { url: w!.url, content });
    }
    // Two thirds deleted: well over the 0.3 threshold.
    let n = 0;
    for (const [fid, b] of [...live]) {
      if (n++ % 3 === 0) continue;
      expect(await remove({ fid, url: b.url })).toBe(true);
      live.delete(fid);
      deleted.add(fid);
    }
    const before = volumes.map((v) => datBytes(v.dir));

    let stop = false;
    let attemptedDuring = 0;
    const writer = (async () => {
      for (let i = 0; i < CONCURRENT_OPS_MAX && !stop; i++) {
        attemptedDuring++;
        const content = randomBytes(BLOB_BYTES);
        const w = await write(content);
        if (w !== undefined) live.set(w.fid, { url: w.url, content });
      }
    })();
    const deleter = (async () => {
      const victims = [...live.keys()].filter((_, i) => i % 2 === 0);
      for (const fid of victims.slice(0, CONCURRENT_OPS_MAX)) {
        if (stop) break;
        const b = live.get(fid)!;
        // Outcome unknown when it failed: checked neither way.
        if (await remove({ fid, url: b.url })) deleted.add(fid);
        live.delete(fid);
      }
    })();
    const v = await send(`${masterUrl()}/vol/vacuum?garbageThreshold=0.3&collection=${COLLECTION}`);
    stop = true;
    await Promise.all([writer, deleter]);
    expect(v.status, v.text).toBe(200);
    const outcomes = (JSON.parse(v.text) as { Vacuumed: { volumeId: number; result: string; error?: string }[] })
      .Vacuumed;
    expect(outcomes.length).toBeGreaterThan(0);
    for (const o of outcomes) expect(o.result, JSON.stringify(o)).toBe("vacuumed");

    for (const [fid, b] of live) {
      for (const vol of volumes) {
        const r = await send(`http://127.0.0.1:${vol.port}/${fid}`);
        expect(r.status, `${fid} on ${vol.port}`).toBe(200);
        expect(r.body.equals(b.content), `${fid} on ${vol.port}: bytes`).toBe(true);
      }
    }
    for (const fid of deleted) {
      for (const vol of volumes) {
        const r = await send(`http://127.0.0.1:${vol.port}/${fid}`);
        expect(r.status, `deleted ${fid} on ${vol.port}`).toBe(404);
      }
    }
    // Both replicas of every vacuumed volume hold the same live needles (key, cookie, size, CRC).
    for (const o of outcomes) {
      const [a, b] = await Promise.all(volumes.map((vol) => liveNeedles(vol.port, o.volumeId)));
      expect(a!.length, `volume ${o.volumeId}`).toBeGreaterThan(0);
      expect(a, `volume ${o.volumeId}: same needles on both replicas`).toEqual(b);
    }
    // Two thirds of the first BLOBS were deleted before: the .dat files gave most of that back,
    // less what the writer added meanwhile (each attempt at most one record, with its overhead).
    const deletedBytes = Math.floor((BLOBS * 2) / 3) * BLOB_BYTES;
    const addedMax = attemptedDuring * (BLOB_BYTES + 1024);
    volumes.forEach((vol, i) => {
      const after = datBytes(vol.dir);
      const what = `server ${i}: ${before[i]} -> ${after}, ${attemptedDuring} writes during`;
      expect(before[i]! + addedMax - after, what).toBeGreaterThan(deletedBytes * 0.8);
    });
  }, 180_000);

  it("the shell: volume.vacuum reports what it did; volume.vacuum.disable and enable flip the switch", async () => {
    const written: { fid: string; url: string }[] = [];
    for (let i = 0; i < 30; i++) written.push((await write(randomBytes(BLOB_BYTES)))!);
    for (const b of written.slice(0, 25)) expect(await remove(b)).toBe(true);
    const vid = written[0]!.fid.split(",")[0]!;
    // Whatever share the deletes left on that volume, 0.01 takes it.
    const r = await shell("volume.vacuum", "-garbageThreshold=0.01", `-volumeId=${vid}`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`volume ${vid} \\(vac\\): vacuumed, garbage \\d+\\.\\d%, .* -> `));
    const none = await shell("volume.vacuum", "-garbageThreshold=0.9", `-volumeId=${vid}`);
    expect(none.out).toContain("no volume at or over garbage threshold 0.9");
    expect((await shell("volume.vacuum.disable")).out).toBe("automatic vacuum disabled\n");
    expect((await shell("volume.vacuum.enable")).out).toBe("automatic vacuum enabled\n");
    const bad = await shell("volume.vacuum", "-garbageThreshold=2");
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("garbageThreshold");
  });

  it("answers 406 for a threshold outside (0, 1]", async () => {
    for (const t of ["0", "1.5", "abc"]) {
      const r = await send(`${masterUrl()}/vol/vacuum?garbageThreshold=${t}`);
      expect(r.status, t).toBe(406);
      expect(JSON.parse(r.text).error).toContain("garbageThreshold");
    }
  });
});
