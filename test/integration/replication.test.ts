// Replicated volumes' data plane (issue 11): a master and three volume servers on racks r1, r2,
// r3 as separate processes. Writes and deletes reach every replica before they are answered;
// every replica serves the same bytes and headers; a server that does not hold a volume answers
// by its -readMode; a dead or stopped replica fails a write within the documented bound
// (src/volume/limits.ts), never a 201 with one copy.
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { createClient } from "../../src/grpc/adapter.js";
import { VolumeServer } from "../../src/gen/volume_server_pb.js";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

/** replicaRequestTimeoutMs(small) + replicaLookupTimeoutMs (src/volume/limits.ts): a write's bound, replica stopped. */
const STOPPED_REPLICA_BOUND_MS = 10_000;
const SLACK_MS = 1_500;

let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;
/** Volume servers: r1 redirects reads it cannot serve (the default), r2 proxies them, r3 answers 404. */
const servers: { name: string; port: number; proc: WeedProcess; readMode: string }[] = [];

const masterUrl = (): string => `http://127.0.0.1:${masterPort}`;
const urlOf = (i: number): string => `127.0.0.1:${servers[i]!.port}`;
const indexOf = (url: string): number => servers.findIndex((s) => `127.0.0.1:${s.port}` === url);

function startVolume(i: number): WeedProcess {
  const s = servers[i]!;
  const args = ["volume", `-dir=${tmp.dir}/${s.name}`, "-ip=127.0.0.1", `-port=${s.port}`];
  // Room for the master's growth (6 volumes × 2 copies for the first assign, spread unevenly) and
  // every volume the tests allocate by hand on top: with -max=10 server 0 once ran out of slots.
  args.push(`-mserver=127.0.0.1:${masterPort}`, "-max=30", `-rack=${s.name}`, "-logLevel=warn");
  if (s.readMode !== "") args.push(`-readMode=${s.readMode}`);
  return new WeedProcess(args);
}

async function nodeUrls(): Promise<string[]> {
  const s = await getJson(`${masterUrl()}/dir/status`);
  const out: string[] = [];
  for (const dc of s.json.Topology.DataCenters ?? [])
    for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) out.push(n.Url);
  return out;
}

async function holders(vid: number | string): Promise<string[]> {
  const l = await getJson(`${masterUrl()}/dir/lookup?volumeId=${vid}`);
  return ((l.json?.locations ?? []) as { url: string }[]).map((x) => x.url).sort();
}

async function allocate(i: number, vid: number, replication: string): Promise<void> {
  const c = createClient(VolumeServer, `127.0.0.1:${servers[i]!.port + 10000}`);
  try {
    await c.allocateVolume({ volumeId: vid, replication }, { timeoutMs: 5_000 });
  } finally {
    c.close();
  }
}

let nextKey = 0x1000;
const fidIn = (vid: number): string => `${vid},${(nextKey++).toString(16)}5eed0001`;

async function send(url: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(url, { headersTimeout: 30_000, bodyTimeout: 30_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body, text: body.toString("utf8") };
}

/** What a reader sees of a blob: bytes and the headers that describe them. */
async function readAt(server: string, fid: string) {
  const r = await send(`http://${server}/${fid}`, { headers: { "accept-encoding": "gzip" } });
  const h = r.headers;
  const pick = ["etag", "last-modified", "content-type", "content-disposition", "content-encoding", "foo"] as const;
  return { status: r.status, body: r.body, headers: Object.fromEntries(pick.map((k) => [k, h[k]])) };
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-replication-");
  masterPort = await freePortPair();
  master = new WeedProcess(["master", `-mdir=${tmp.dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, "-logLevel=warn"]);
  await waitHttpOk(`${masterUrl()}/healthz`, master);
  const modes = ["", "proxy", "local"];
  for (let i = 0; i < 3; i++)
    servers.push({ name: `r${i + 1}`, port: await freePortPair(), proc: undefined!, readMode: modes[i]! });
  for (let i = 0; i < 3; i++) servers[i]!.proc = startVolume(i);
  for (let i = 0; i < 3; i++) await waitHttpOk(`http://${urlOf(i)}/healthz`, servers[i]!.proc);
  await waitFor(async () => (await nodeUrls()).length === 3, { ...PROCESS_WAIT, what: "three volume servers" });
}, 60_000);

afterAll(async () => {
  for (const s of servers) {
    s.proc?.child.kill("SIGCONT");
    await s.proc?.stop();
  }
  await master?.stop();
  await tmp?.remove();
});

describe("replicated volumes (replication=010 over racks r1, r2, r3)", () => {
  const written: { fid: string; body: Buffer }[] = [];

  it("an upload is readable from every location lookup lists: same bytes, ETag and headers", async () => {
    for (let i = 0; i < 8; i++) {
      const a = await getJson(`${masterUrl()}/dir/assign?replication=010`);
      expect(a.status, JSON.stringify(a.json)).toBe(200);
      const body = i === 0 ? gzipSync(randomBytes(3000)) : randomBytes(100 + i * 37);
      const headers: Record<string, string> = { "Seaweed-Foo": `bar-${i}` };
      if (i === 0) headers["content-encoding"] = "gzip";
      if (i % 2 === 1) headers["content-disposition"] = `attachment; filename="photo-${i}.jpg"`;
      if (i === 2) headers["content-type"] = "text/plain; charset=utf-8";
      const w = await send(`http://${a.json.url}/${a.json.fid}`, { method: "PUT", body, headers });
      expect(w.status, w.text).toBe(201);
      written.push({ fid: a.json.fid, body });
    }
    for (const { fid, body } of written) {
      const at = await holders(fid.split(",")[0]!);
      expect(at.length).toBe(2);
      const reads = await Promise.all(at.map((s) => readAt(s, fid)));
      for (const r of reads) {
        expect(r.status).toBe(200);
        expect(r.body.equals(body)).toBe(true);
        expect(r.headers).toEqual(reads[0]!.headers);
      }
      expect(reads[0]!.headers["foo"]).toMatch(/^bar-/);
      expect(reads[0]!.headers["last-modified"]).toBeDefined();
    }
  });

  it("a delete removes the blob from every replica", async () => {
    const { fid } = written.pop()!;
    const at = await holders(fid.split(",")[0]!);
    const d = await send(`http://${at[1]}/${fid}`, { method: "DELETE" });
    expect(d.status, d.text).toBe(202);
    for (const s of at) expect((await readAt(s, fid)).status).toBe(404);
    // Gone everywhere: a second delete finds it nowhere.
    expect((await send(`http://${at[0]}/${fid}`, { method: "DELETE" })).status).toBe(404);
  });

  it("a server without the volume answers by -readMode: redirect (default), proxy, local", async () => {
    // Volume 201 on r2+r3 (r1 redirects), 202 on r1+r3 (r2 proxies), 203 on r1+r2 (r3 answers 404).
    const plan = [
      { vid: 201, on: [1, 2], asked: 0 },
      { vid: 202, on: [0, 2], asked: 1 },
      { vid: 203, on: [0, 1], asked: 2 },
    ];
    for (const p of plan) for (const i of p.on) await allocate(i, p.vid, "010");
    for (const p of plan) {
      await waitFor(async () => (await holders(p.vid)).length === 2, { ...PROCESS_WAIT, what: `volume ${p.vid}` });
    }
    const blobs = new Map<number, { fid: string; body: Buffer }>();
    for (const p of plan) {
      const fid = fidIn(p.vid);
      const body = randomBytes(5000);
      const headers = { "content-type": "image/png", "Seaweed-Foo": "proxied" };
      // Sent to the server that does not hold it: forwarded to both locations.
      const w = await send(`http://${urlOf(p.asked)}/${fid}`, { method: "PUT", body, headers });
      expect(w.status, w.text).toBe(201);
      blobs.set(p.vid, { fid, body });
    }
    const [r1, r2, r3] = plan.map((p) => blobs.get(p.vid)!);
    const redirect = await send(`http://${urlOf(0)}/${r1!.fid}`);
    expect(redirect.status).toBe(301);
    const location = String(redirect.headers["location"]);
    expect([1, 2].map((i) => `http://${urlOf(i)}/${r1!.fid}?proxied=true`)).toContain(location);
    expect((await send(location)).body.equals(r1!.body)).toBe(true);

    const proxied = await readAt(urlOf(1), r2!.fid);
    expect(proxied.status).toBe(200);
    expect(proxied.body.equals(r2!.body)).toBe(true);
    expect(proxied.headers).toEqual((await readAt(urlOf(0), r2!.fid)).headers);

    const local = await send(`http://${urlOf(2)}/${r3!.fid}`);
    expect(local.status).toBe(404);
    expect(JSON.parse(local.text).error).toMatch(/not found/);
  });

  it("a stopped (SIGSTOP) replica fails writes to its volumes within the bound; others take writes", async () => {
    await allocate(0, 301, "010");
    await allocate(2, 301, "010");
    await allocate(0, 302, "010");
    await allocate(1, 302, "010");
    for (const vid of [301, 302]) {
      await waitFor(async () => (await holders(vid)).length === 2, { ...PROCESS_WAIT, what: `volume ${vid}` });
    }
    // Warm the lookup caches so the write goes straight to the replica.
    expect((await send(`http://${urlOf(0)}/${fidIn(301)}`, { method: "PUT", body: Buffer.from("x") })).status).toBe(
      201,
    );
    const stopped = servers[2]!.proc;
    stopped.child.kill("SIGSTOP");
    try {
      const t0 = performance.now();
      const w = await send(`http://${urlOf(0)}/${fidIn(301)}`, { method: "PUT", body: randomBytes(2000) });
      const ms = performance.now() - t0;
      expect(w.status, w.text).toBeGreaterThanOrEqual(500);
      expect(JSON.parse(w.text).error).toMatch(/outcome unknown|is less than volume 301 replication copy count/);
      expect(ms).toBeLessThan(STOPPED_REPLICA_BOUND_MS + SLACK_MS);
      const other = await send(`http://${urlOf(0)}/${fidIn(302)}`, { method: "PUT", body: randomBytes(2000) });
      expect(other.status, other.text).toBe(201);
    } finally {
      stopped.child.kill("SIGCONT");
    }
    await waitFor(async () => (await holders(301)).length === 2, { ...PROCESS_WAIT, what: "r3 back" });
  }, 40_000);

  it("with a replica killed (-9), no write is acknowledged: refused before anything is written", async () => {
    await allocate(0, 401, "010");
    await allocate(1, 401, "010");
    await waitFor(async () => (await holders(401)).length === 2, { ...PROCESS_WAIT, what: "volume 401" });
    expect((await send(`http://${urlOf(0)}/${fidIn(401)}`, { method: "PUT", body: Buffer.from("y") })).status).toBe(
      201,
    );
    await servers[1]!.proc.kill9();
    // The first write may reach the dead replica's cached address (outcome unknown); after that the
    // cache is dropped and the master lists one location: refused before a byte is written.
    const refused = await eventually(
      async () => {
        const fid = fidIn(401);
        const w = await send(`http://${urlOf(0)}/${fid}`, { method: "PUT", body: randomBytes(500) });
        expect(w.status, w.text).not.toBe(201);
        expect(w.status).toBeGreaterThanOrEqual(500);
        const error = JSON.parse(w.text).error as string;
        if (!/replicating operations \[1\] is less than volume 401 replication copy count \[2\]/.test(error)) {
          expect(error).toMatch(/outcome unknown/);
          throw new Error(`not refused yet: ${error}`);
        }
        return fid;
      },
      { ...PROCESS_WAIT, what: "a refusal for too few copies" },
    );
    expect((await send(`http://${urlOf(0)}/${refused}`)).status).toBe(404);
    expect(indexOf((await holders(401))[0]!)).toBe(0);
  }, 40_000);
});
