// Replicas that diverged converge (issue 11): a master and two volume servers on racks r1 and r2
// hold volume 11 with replication 010. The replicas are made to differ the ways production does (a
// write or delete that reached one replica only, a replicated write whose second replica was
// stopped), then `weed-ts shell volume.check.disk` reports (dry run) and repairs (-apply): every
// blob byte-identical with the same ETag from both, deleted ones 404 on both, and the needs-check
// flag, which survived a restart, cleared.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { createClient } from "../../src/grpc/adapter.js";
import { VolumeServer } from "../../src/gen/volume_server_pb.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const run = promisify(execFile);
const VID = 11;
/** A replicated write to a stopped replica fails within replicaRequestTimeoutMs + lookup (src/volume/limits.ts). */
const STOPPED_WRITE_BOUND_MS = 12_000;
/** The writer that runs during a check: bounded in operations and in time. */
const WRITER_OPS_MAX = 2_000;
const WRITER_MS_MAX = 30_000;

let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;
const servers: { name: string; port: number; proc: WeedProcess }[] = [];
const url = (i: number): string => `127.0.0.1:${servers[i]!.port}`;

function startVolume(i: number): WeedProcess {
  const s = servers[i]!;
  return new WeedProcess([
    "volume",
    `-dir=${tmp.dir}/${s.name}`,
    "-ip=127.0.0.1",
    `-port=${s.port}`,
    `-mserver=127.0.0.1:${masterPort}`,
    "-max=10",
    `-rack=${s.name}`,
    "-logLevel=warn",
  ]);
}

async function holders(): Promise<string[]> {
  const l = await getJson(`http://127.0.0.1:${masterPort}/dir/lookup?volumeId=${VID}`);
  return ((l.json?.locations ?? []) as { url: string }[]).map((x) => x.url).sort();
}

async function shell(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, "shell", `-master=127.0.0.1:${masterPort}`, ...args], {
      timeout: 60_000,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

async function send(target: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(target, { headersTimeout: 30_000, bodyTimeout: 30_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, etag: r.headers["etag"], lastModified: r.headers["last-modified"], body };
}

async function needsCheck(i: number): Promise<boolean> {
  const s = await getJson(`http://${url(i)}/status`);
  const v = (s.json.Volumes as { Id: number; NeedsCheck?: boolean }[]).find((x) => x.Id === VID);
  return v?.NeedsCheck === true;
}

let nextKey = 0x100;
const newFid = (): string => `${VID},${(nextKey++).toString(16)}c0ffee01`;

/** What each fid should be after the check: its bytes, or deleted (404 everywhere). */
const expected = new Map<string, Buffer | "deleted">();

async function put(i: number, fid: string, body: Buffer, replicateOnly = false): Promise<void> {
  const q = replicateOnly ? "?type=replicate" : "";
  const w = await send(`http://${url(i)}/${fid}${q}`, { method: "PUT", body });
  expect(w.status, w.body.toString()).toBe(201);
  expected.set(fid, body);
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-check-disk-");
  masterPort = await freePortPair();
  // No automatic repair (-repairGraceSeconds=0): the leader would otherwise check the flagged volume
  // itself, and this test is of the shell command.
  const noRepair = "-repairGraceSeconds=0";
  master = new WeedProcess([
    "master",
    `-mdir=${tmp.dir}/m`,
    "-ip=127.0.0.1",
    `-port=${masterPort}`,
    noRepair,
    "-logLevel=warn",
  ]);
  await waitHttpOk(`http://127.0.0.1:${masterPort}/healthz`, master);
  for (let i = 0; i < 2; i++) servers.push({ name: `r${i + 1}`, port: await freePortPair(), proc: undefined! });
  for (let i = 0; i < 2; i++) servers[i]!.proc = startVolume(i);
  for (let i = 0; i < 2; i++) await waitHttpOk(`http://${url(i)}/healthz`, servers[i]!.proc);
  for (let i = 0; i < 2; i++) {
    const c = createClient(VolumeServer, `127.0.0.1:${servers[i]!.port + 10000}`);
    try {
      await c.allocateVolume({ volumeId: VID, replication: "010" }, { timeoutMs: 5_000 });
    } finally {
      c.close();
    }
  }
  await waitFor(async () => (await holders()).length === 2, { ...PROCESS_WAIT, what: `volume ${VID} on both` });
}, 60_000);

afterAll(async () => {
  for (const s of servers) {
    s.proc?.child.kill("SIGCONT");
    await s.proc?.stop();
  }
  await master?.stop();
  await tmp?.remove();
});

describe("volume.check.disk (replication 010 over racks r1, r2)", () => {
  it("replicas diverge: writes and deletes that reached one replica, a replicated write to a stopped one", async () => {
    for (let n = 0; n < 3; n++) await put(0, newFid(), randomBytes(200 + n * 50)); // on both
    const onlyOn1 = newFid();
    await put(1, onlyOn1, randomBytes(700), true); // (a) reached r2 only
    const onlyOn0 = newFid();
    await put(0, onlyOn0, randomBytes(900), true); // (a) reached r1 only
    expect((await send(`http://${url(0)}/${onlyOn1}`)).status).toBe(404);

    const deleted = [...expected.keys()][0]!; // (b) a delete that reached r1 only
    const d = await send(`http://${url(0)}/${deleted}?type=replicate`, { method: "DELETE" });
    expect(d.status).toBe(202);
    expected.set(deleted, "deleted");
    expect((await send(`http://${url(1)}/${deleted}`)).status).toBe(200);

    // A re-write after a delete that reached both: the re-write reached r2 only.
    const rewritten = newFid();
    await put(0, rewritten, randomBytes(300));
    expect((await send(`http://${url(0)}/${rewritten}`, { method: "DELETE" })).status).toBe(202);
    await put(1, rewritten, randomBytes(333), true);

    expect(await needsCheck(0)).toBe(false);
    const stopped = servers[1]!.proc;
    const unknownFid = newFid();
    const body = randomBytes(1500);
    stopped.child.kill("SIGSTOP"); // (c) a replicated write whose second replica does not answer
    try {
      const t0 = performance.now();
      const w = await send(`http://${url(0)}/${unknownFid}`, { method: "PUT", body });
      expect(w.status, w.body.toString()).toBeGreaterThanOrEqual(500);
      expect(w.body.toString()).toMatch(/outcome unknown/);
      expect(performance.now() - t0).toBeLessThan(STOPPED_WRITE_BOUND_MS);
    } finally {
      stopped.child.kill("SIGCONT");
    }
    expected.set(unknownFid, body); // on r1 for sure; on r2 if the request got there before the stop
    expect(await needsCheck(0)).toBe(true);
    await waitFor(async () => (await holders()).length === 2, { ...PROCESS_WAIT, what: "r2 back" });
  }, 60_000);

  it("the needs-check flag survives a restart of the volume server", async () => {
    await servers[0]!.proc.stop();
    servers[0]!.proc = startVolume(0);
    await waitHttpOk(`http://${url(0)}/healthz`, servers[0]!.proc);
    expect(await needsCheck(0)).toBe(true);
    await waitFor(async () => (await holders()).length === 2, { ...PROCESS_WAIT, what: "r1 back" });
  }, 40_000);

  it("a dry run reports the differences and changes nothing", async () => {
    const dry = await shell("volume.check.disk", `-volumeId=${VID}`);
    expect(dry.code, dry.out).toBe(0);
    expect(dry.out).toMatch(/dry run/);
    expect(dry.out).toMatch(new RegExp(`volume ${VID} ${url(0)} has \\d+ entries, missed [1-9]`));
    expect(dry.out).toMatch(/partially deleted 1/);
    const onlyOn1 = [...expected.entries()].find(([, v]) => v !== "deleted" && v.length === 700)![0];
    expect((await send(`http://${url(0)}/${onlyOn1}`)).status).toBe(404);
    expect(await needsCheck(0)).toBe(true);
  }, 60_000);

  it("-apply: same bytes and ETag on both, deletes 404 on both, flag cleared", async () => {
    const fix = await shell("volume.check.disk", "-apply", `-volumeId=${VID}`);
    expect(fix.code, fix.out).toBe(0);
    expect(fix.out).toMatch(/copied [1-9]\d* and deleted [1-9]/);
    for (const [fid, want] of expected) {
      const [a, b] = await Promise.all([send(`http://${url(0)}/${fid}`), send(`http://${url(1)}/${fid}`)]);
      if (want === "deleted") {
        expect([fid, a.status, b.status]).toEqual([fid, 404, 404]);
        continue;
      }
      expect([fid, a.status, b.status]).toEqual([fid, 200, 200]);
      expect(a.body.equals(want) && b.body.equals(want), fid).toBe(true);
      expect(a.etag).toBe(b.etag);
      expect(a.lastModified).toBe(b.lastModified);
    }
    expect(await needsCheck(0)).toBe(false);
    expect(await needsCheck(1)).toBe(false);
    const again = await shell("volume.check.disk", `-volumeId=${VID}`);
    expect(again.out, again.out).toMatch(new RegExp(`volume ${VID}: 2 replicas agree`));
    expect((await shell("volume.check.disk", "-bogus")).code).not.toBe(0);
    const help = await shell("volume.check.disk", "-h");
    expect(help.out).toMatch(/-syncDeleted/);
  }, 60_000);

  it("writes and deletes in flight during -apply: acknowledged ones end the same on both", async () => {
    // Work for the check: needles that reached r1 only, so it copies while the writer runs.
    for (let n = 0; n < 150; n++) await put(0, newFid(), randomBytes(2000), true);
    const acked = new Map<string, Buffer | "deleted">();
    let stop = false;
    const writer = (async () => {
      const started = performance.now();
      for (let n = 0; n < WRITER_OPS_MAX && !stop && performance.now() - started < WRITER_MS_MAX; n++) {
        const fid = newFid();
        const body = randomBytes(500 + (n % 7) * 100);
        const w = await send(`http://${url(n % 2)}/${fid}`, { method: "PUT", body });
        expect(w.status, w.body.toString()).toBe(201);
        acked.set(fid, body);
        if (n % 3 === 0) {
          const d = await send(`http://${url((n + 1) % 2)}/${fid}`, { method: "DELETE" });
          expect(d.status).toBe(202);
          acked.set(fid, "deleted");
        }
      }
    })();
    try {
      const fix = await shell("volume.check.disk", "-apply", `-volumeId=${VID}`);
      expect(fix.code, fix.out).toBe(0);
      expect(fix.out).toMatch(/copied [1-9]/);
    } finally {
      stop = true;
      await writer;
    }
    expect(acked.size).toBeGreaterThan(0);
    for (const [fid, want] of acked) {
      const [a, b] = await Promise.all([send(`http://${url(0)}/${fid}`), send(`http://${url(1)}/${fid}`)]);
      if (want === "deleted") {
        expect([fid, a.status, b.status]).toEqual([fid, 404, 404]);
      } else {
        expect([fid, a.status, b.status]).toEqual([fid, 200, 200]);
        expect(a.body.equals(want) && b.body.equals(want) && a.etag === b.etag, fid).toBe(true);
      }
    }
    const after = await shell("volume.check.disk", `-volumeId=${VID}`);
    expect(after.out, after.out).toMatch(new RegExp(`volume ${VID}: 2 replicas agree`));
  }, 90_000);
});
