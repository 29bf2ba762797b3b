// Volume lifecycle on real processes (issue 13): a master with -volumeSizeLimitMB=1 and two volume
// servers. Volumes fill up under a writer (no write fails, full ones are off the writable list and
// still read back); volume.mark turns a volume read-only and writable again; volume.delete removes
// one replica; /col/delete removes a collection's files on every server; a TTL volume whose newest
// needle expired is deleted by its server and dropped by the master.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const LIMIT_BYTES = 1024 * 1024;
/** ~20 KB blobs, enough of them to fill the first growth's volumes (7 of 1 MiB) and more. */
const BLOB_BYTES = 20_000;
const FILL_WRITES = 500;
const FILL_WRITERS = 4;

let tmp: TempDir;
let masterPort = 0;
let master: WeedProcess | undefined;
const servers: { port: number; dir: string; proc: WeedProcess }[] = [];

const masterUrl = (): string => `http://127.0.0.1:${masterPort}`;
const urlOf = (i: number): string => `127.0.0.1:${servers[i]!.port}`;

function startVolume(i: number): WeedProcess {
  const s = servers[i]!;
  const args = ["volume", `-dir=${s.dir}`, "-ip=127.0.0.1", `-port=${s.port}`, `-mserver=127.0.0.1:${masterPort}`];
  return new WeedProcess([...args, "-max=60", "-pulseSeconds=1", "-logLevel=warn"]);
}

async function send(url: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(url, { headersTimeout: 30_000, bodyTimeout: 30_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, body, text: body.toString("utf8") };
}

export function shell(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, "shell", `-master=127.0.0.1:${masterPort}`, ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The shell without blocking this process (a reader runs meanwhile); bounded as spawnSync's. */
function shellAsync(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, "shell", `-master=127.0.0.1:${masterPort}`, ...args]);
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}

interface Layout {
  collection: string;
  ttl: string;
  writables: number[];
  readOnly: number[];
  full: number[];
  crowded: number[];
}

async function layouts(): Promise<Layout[]> {
  return (await getJson(`${masterUrl()}/dir/status`)).json.Topology.Layouts as Layout[];
}

/** Volume id -> size, per server url, from /vol/status. */
async function volumeSizes(): Promise<Map<number, number>> {
  const s = (await getJson(`${masterUrl()}/vol/status`)).json.Volumes.DataCenters;
  const out = new Map<number, number>();
  for (const racks of Object.values(s) as Record<string, Record<string, { Id: number; Size: number }[]>>[])
    for (const nodes of Object.values(racks))
      for (const vols of Object.values(nodes))
        for (const v of vols) out.set(v.Id, Math.max(out.get(v.Id) ?? 0, v.Size));
  return out;
}

async function write(collection: string, body: Buffer, extra = ""): Promise<{ fid: string; url: string }> {
  const a = await getJson(`${masterUrl()}/dir/assign?collection=${collection}${extra}`);
  if (a.status !== 200) throw new Error(`assign answered ${a.status}: ${JSON.stringify(a.json)}`);
  const w = await send(`http://${a.json.url}/${a.json.fid}`, { method: "PUT", body });
  if (w.status !== 201) throw new Error(`write of ${a.json.fid} answered ${w.status}: ${w.text}`);
  return { fid: a.json.fid as string, url: a.json.url as string };
}

/** The blob written with ttl=1m at the start: its volume is retired while the other tests run. */
let ttlVolume: { vid: number; holder: number; writtenAt: number } | undefined;

const datFiles = (i: number): string[] => readdirSync(servers[i]!.dir).filter((f) => f.endsWith(".dat"));

beforeAll(async () => {
  tmp = await tempDir("weed-ts-volume-lifecycle-");
  masterPort = await freePortPair();
  const margs = ["master", `-mdir=${tmp.dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, "-volumeSizeLimitMB=1"];
  master = new WeedProcess([...margs, "-pulseSeconds=1", "-logLevel=warn"]);
  await waitHttpOk(`${masterUrl()}/healthz`, master);
  for (let i = 0; i < 2; i++) {
    servers.push({ port: await freePortPair(), dir: `${tmp.dir}/v${i}`, proc: undefined! });
    servers[i]!.proc = startVolume(i);
  }
  for (let i = 0; i < 2; i++) await waitHttpOk(`http://${urlOf(i)}/healthz`, servers[i]!.proc);
  await waitFor(async () => (await getJson(`${masterUrl()}/dir/status`)).json.Topology.Free >= 120, {
    ...PROCESS_WAIT,
    what: "both volume servers registered",
  });
  const writtenAt = performance.now();
  const t = await write("ttl", randomBytes(1000), "&ttl=1m");
  const holder = servers.findIndex((_, i) => urlOf(i) === t.url);
  ttlVolume = { vid: Number(t.fid.split(",")[0]), holder, writtenAt };
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.proc?.stop();
  await master?.stop();
  await tmp?.remove();
});

describe("volumes filling up (-volumeSizeLimitMB=1)", () => {
  it("a writer filling volumes sees no failed write; full ones leave the writable list and read back", async () => {
    const written: { fid: string; url: string; body: Buffer }[] = [];
    const failures: string[] = [];
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < FILL_WRITES) {
        next++;
        const body = randomBytes(BLOB_BYTES);
        try {
          written.push({ ...(await write("fill", body)), body });
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: FILL_WRITERS }, writer));
    expect(failures).toEqual([]);
    expect(written.length).toBe(FILL_WRITES);

    // The last writes' sizes reach the master within a heartbeat or two: wait until the reported
    // sizes hold every byte written (sizes a beat old can leave a filled volume under the limit,
    // so that fewer show full: once in CI), then until every volume over the limit is listed full.
    let fill: Layout | undefined;
    await waitFor(
      async () => {
        fill = (await layouts()).find((l) => l.collection === "fill");
        if (fill === undefined) return false;
        const sizes = await volumeSizes();
        const ids = [...fill.writables, ...fill.full, ...fill.readOnly];
        const reported = ids.reduce((sum, vid) => sum + (sizes.get(vid) ?? 0), 0);
        const listed = [...sizes].every(([vid, size]) => size < LIMIT_BYTES || fill!.full.includes(vid));
        return reported >= FILL_WRITES * BLOB_BYTES && listed;
      },
      { ...PROCESS_WAIT, what: "every write's bytes reported and every volume over the limit listed full" },
    );
    const sizes = await volumeSizes();
    const fullIds = fill!.full;
    expect(fullIds.length).toBeGreaterThanOrEqual(3);
    for (const vid of fullIds) {
      expect(sizes.get(vid)).toBeGreaterThanOrEqual(LIMIT_BYTES);
      expect(fill!.writables).not.toContain(vid);
    }
    const largest = Math.max(...fullIds.map((v) => sizes.get(v)!));
    console.log(`fill: ${fullIds.length} full volumes, largest ${largest} bytes (limit ${LIMIT_BYTES})`);

    const list = shell("volume.list");
    expect(list.code, list.err).toBe(0);
    for (const vid of fullIds)
      expect(list.out).toMatch(new RegExp(`volume id:${vid} size:\\d+ collection:"fill".* full:true`));

    // A write to a full volume now goes elsewhere; every blob reads back.
    const fresh = await write("fill", randomBytes(BLOB_BYTES));
    expect(fullIds).not.toContain(Number(fresh.fid.split(",")[0]));
    for (const w of written) {
      const r = await send(`http://${w.url}/${w.fid}`);
      expect(r.status, w.fid).toBe(200);
      expect(r.body.equals(w.body), w.fid).toBe(true);
    }
  }, 120_000);
});

let nextKey = 0x7000;
/** A fid of volume `vid` that was never written (a new key). */
const newFidIn = (vid: number): string => `${vid},${(nextKey++).toString(16)}5eed0001`;

async function layoutOf(collection: string): Promise<Layout> {
  const l = (await layouts()).find((x) => x.collection === collection);
  if (l === undefined) throw new Error(`no layout of collection ${collection}`);
  return l;
}

async function restart(i: number): Promise<void> {
  await servers[i]!.proc.stop();
  servers[i]!.proc = startVolume(i);
  await waitHttpOk(`http://${urlOf(i)}/healthz`, servers[i]!.proc);
}

/** The master lists volume `vid` on server `i` (again). */
async function listedOn(vid: number, i: number): Promise<boolean> {
  const l = await getJson(`${masterUrl()}/dir/lookup?volumeId=${vid}`);
  return ((l.json?.locations ?? []) as { url: string }[]).some((x) => x.url === urlOf(i));
}

describe("volume.mark and volume.delete", () => {
  it("volume.mark -readonly refuses writes, keeps reads and survives a restart; -writable undoes it", async () => {
    const first = await write("mark", randomBytes(1000));
    const vid = Number(first.fid.split(",")[0]);
    const holder = servers.findIndex((_, i) => urlOf(i) === first.url);
    const ro = shell("volume.mark", `-volumeId=${vid}`, "-readonly");
    expect(ro.code, ro.err).toBe(0);
    expect(ro.out).toContain(`volume ${vid} on ${first.url} marked readonly`);
    const put = (): Promise<{ status: number }> =>
      send(`http://${first.url}/${newFidIn(vid)}`, { method: "PUT", body: randomBytes(100) });
    expect((await put()).status).toBe(409);
    expect((await send(`http://${first.url}/${first.fid}`)).status).toBe(200);
    await waitFor(
      async () => {
        const l = await layoutOf("mark");
        return l.readOnly.includes(vid) && !l.writables.includes(vid);
      },
      { ...PROCESS_WAIT, what: "the master listing the volume read-only" },
    );

    await restart(holder);
    expect((await put()).status).toBe(409);
    await waitFor(() => listedOn(vid, holder), { ...PROCESS_WAIT, what: "the restarted server reporting" });
    expect((await layoutOf("mark")).readOnly).toContain(vid);

    const rw = shell("volume.mark", `-volumeId=${vid}`, "-writable");
    expect(rw.code, rw.err).toBe(0);
    expect((await put()).status).toBe(201);
    await waitFor(async () => (await layoutOf("mark")).writables.includes(vid), {
      ...PROCESS_WAIT,
      what: "the master listing the volume writable again",
    });
    await restart(holder);
    expect((await put()).status).toBe(201);

    const bad = shell("volume.mark", `-volumeId=${vid}`);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("use exactly one of -readonly, -writable");
  }, 90_000);

  it("volume.delete removes the replica's files; the master drops the volume", async () => {
    const w = await write("del", randomBytes(1000));
    const vid = Number(w.fid.split(",")[0]);
    const holder = servers.findIndex((_, i) => urlOf(i) === w.url);
    await waitFor(() => listedOn(vid, holder), { ...PROCESS_WAIT, what: "the volume listed" });
    expect(datFiles(holder)).toContain(`del_${vid}.dat`);
    const r = shell("volume.delete", `-volumeId=${vid}`, `-node=${w.url}`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`volume ${vid} deleted from ${w.url}`);
    expect(datFiles(holder)).not.toContain(`del_${vid}.dat`);
    await waitFor(async () => !(await listedOn(vid, holder)), { ...PROCESS_WAIT, what: "the master dropping it" });
    expect((await send(`http://${w.url}/${w.fid}`)).status).toBe(404);
    const again = shell("volume.delete", `-volumeId=${vid}`, `-node=${w.url}`);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain(`volume ${vid} not found`);
  }, 60_000);
});

describe("collections", () => {
  it("/col/delete removes the collection's volumes on every server and from /dir/status and volume.list", async () => {
    const kept = await write("kept", randomBytes(500));
    const grow = await getJson(`${masterUrl()}/vol/grow?collection=gone&count=4`);
    expect(grow.status, JSON.stringify(grow.json)).toBe(200);
    const blobs: { fid: string; url: string }[] = [];
    for (let i = 0; i < 8; i++) blobs.push(await write("gone", randomBytes(500)));
    const goneFiles = (i: number): string[] => datFiles(i).filter((f) => f.startsWith("gone_"));
    expect(goneFiles(0).length + goneFiles(1).length).toBe(4);
    // The writes' counts reach the master with the next beat.
    await waitFor(
      () => /^Collection "gone" volumes:4 replicas:4 total size:\d+ file_count:8$/m.test(shell("volume.list").out),
      {
        ...PROCESS_WAIT,
        what: "volume.list's line of collection gone",
      },
    );
    expect(shell("volume.list").out).toMatch(/^Collection "kept" volumes:\d+ /m);

    const del = await send(`${masterUrl()}/col/delete?collection=gone`, { method: "POST" });
    expect(del.status, del.text).toBe(204);
    expect(goneFiles(0)).toEqual([]);
    expect(goneFiles(1)).toEqual([]);
    expect((await layouts()).map((l) => l.collection)).not.toContain("gone");
    for (const b of blobs) expect((await send(`http://${b.url}/${b.fid}`)).status).toBe(404);
    // The servers' next beats agree: nothing of it comes back.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await layouts()).map((l) => l.collection)).not.toContain("gone");
    expect(shell("volume.list").out).not.toContain('Collection "gone"');
    expect(shell("volume.list").out).toContain('Collection "kept"');
    expect((await send(`http://${kept.url}/${kept.fid}`)).status).toBe(200);

    const again = await send(`${masterUrl()}/col/delete?collection=gone`, { method: "POST" });
    expect(again.status).toBe(400);
    expect(again.text).toContain("collection gone does not exist");
    expect((await send(`${masterUrl()}/col/delete`, { method: "POST" })).status).toBe(400);
  }, 60_000);
});

/** A read as a client that follows one redirect (a server that no longer holds the volume redirects). */
async function readFollowing(url: string): Promise<{ status: number; body: Buffer }> {
  const r = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = Buffer.from(await r.body.arrayBuffer());
  const location = r.headers["location"];
  if (r.statusCode < 300 || r.statusCode >= 400 || typeof location !== "string") return { status: r.statusCode, body };
  return send(new URL(location, url).toString());
}

describe("volume.balance", () => {
  it("moves volumes from the fuller server to the emptier one; no read fails during the moves", async () => {
    const grow = await getJson(`${masterUrl()}/vol/grow?collection=bal&count=6&dataNode=${urlOf(0)}`);
    expect(grow.status, JSON.stringify(grow.json)).toBe(200);
    const balFiles = (i: number): string[] => datFiles(i).filter((f) => f.startsWith("bal_"));
    expect([balFiles(0).length, balFiles(1).length]).toEqual([6, 0]);
    const blobs: { fid: string; body: Buffer }[] = [];
    for (let i = 0; i < 30; i++) {
      const body = randomBytes(2000);
      const w = await write("bal", body);
      expect(w.url).toBe(urlOf(0));
      blobs.push({ fid: w.fid, body });
    }
    await waitFor(async () => (await layoutOf("bal")).writables.length === 6, { ...PROCESS_WAIT, what: "bal" });

    const dry = shell("volume.balance", "-collection=bal");
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out.match(/^moving volume \d+ 000 from \S+ to \S+$/gm)).toHaveLength(3);
    expect([balFiles(0).length, balFiles(1).length]).toEqual([6, 0]);

    // A reader at the first server all along: before, during and after the moves.
    let reading = true;
    const failures: string[] = [];
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        for (const b of blobs) {
          const r = await readFollowing(`http://${urlOf(0)}/${b.fid}`);
          reads++;
          if (r.status !== 200 || !r.body.equals(b.body)) failures.push(`${b.fid}: ${r.status}`);
        }
      }
    })();
    const apply = await shellAsync("volume.balance", "-collection=bal", "-apply");
    reading = false;
    await reader;
    expect(apply.code, apply.err + apply.out).toBe(0);
    expect([balFiles(0).length, balFiles(1).length]).toEqual([3, 3]);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(blobs.length);
    console.log(`balance: 3 volumes moved, ${reads} reads during the moves, none failed`);
    await waitFor(async () => (await layoutOf("bal")).writables.length === 6, { ...PROCESS_WAIT, what: "writable" });
    for (const b of blobs) {
      const l = await getJson(`${masterUrl()}/dir/lookup?volumeId=${b.fid.split(",")[0]}`);
      const at = (l.json.locations as { url: string }[]).map((x) => x.url);
      expect(at).toHaveLength(1);
      const r = await send(`http://${at[0]}/${b.fid}`);
      expect(r.status).toBe(200);
      expect(r.body.equals(b.body)).toBe(true);
    }
    expect(shell("volume.balance", "-collection=bal").out).toContain("nothing to move");
  }, 120_000);
});

describe("TTL volumes", () => {
  // SeaweedFS's smallest TTL is 1m and its grace period 10% of the TTL in whole minutes (0 here):
  // the volume written at the start goes a minute and a second after its write.
  it("a 1m TTL volume whose newest needle expired is deleted by its server and dropped by the master", async () => {
    const { vid, holder, writtenAt } = ttlVolume!;
    const file = `ttl_${vid}.dat`;
    if (performance.now() - writtenAt < 55_000) expect(datFiles(holder)).toContain(file);
    await waitFor(() => !datFiles(holder).includes(file), {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: `${file} deleted`,
    });
    const seconds = (performance.now() - writtenAt) / 1000;
    console.log(`ttl: volume ${vid} (ttl 1m) deleted ${seconds.toFixed(1)} s after its write`);
    expect(seconds).toBeGreaterThanOrEqual(60);
    await waitFor(async () => !(await listedOn(vid, holder)), { ...PROCESS_WAIT, what: "the master dropping it" });
    expect((await layouts()).flatMap((l) => l.writables)).not.toContain(vid);
  }, 120_000);
});
