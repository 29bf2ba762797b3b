// `weed-ts server` (master + volume server in one process) as a user drives it: curl-style
// /submit, assign + upload, reads with ranges and conditional requests, deletes, restarts.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FormData, request } from "undici";
import { eventually, tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

let tmp: TempDir;
let masterPort: number;
let volumePort: number;
let proc: WeedProcess;

function start(): WeedProcess {
  return new WeedProcess([
    "server",
    `-dir=${tmp.dir}`,
    "-ip=127.0.0.1",
    `-master.port=${masterPort}`,
    `-volume.port=${volumePort}`,
    "-logLevel=warn",
  ]);
}

async function startAndWait(): Promise<void> {
  proc = start();
  await waitHttpOk(`http://127.0.0.1:${masterPort}/cluster/healthz`, proc);
  // Writable once the volume server has registered with the master.
  await waitHttpOk(`http://127.0.0.1:${volumePort}/healthz`, proc);
  await waitFor(
    async () =>
      JSON.stringify((await getJson(`http://127.0.0.1:${masterPort}/dir/status`)).json).includes(
        `127.0.0.1:${volumePort}`,
      ),
    { ...PROCESS_WAIT, what: "the volume server registered" },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${proc.logs()}`, { cause: err });
  });
}

async function submit(
  content: Buffer,
  name: string,
  mime = "application/octet-stream",
): Promise<{ status: number; json: any }> {
  const form = new FormData();
  form.append("file", new Blob([content], { type: mime }), name);
  const r = await request(`http://127.0.0.1:${masterPort}/submit`, { method: "POST", body: form });
  return { status: r.statusCode, json: await r.body.json() };
}

async function assign(): Promise<{ fid: string; url: string; publicUrl: string; count: number }> {
  const r = await getJson(`http://127.0.0.1:${masterPort}/dir/assign`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json;
}

async function put(
  url: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: any }> {
  return getJson(url, { method: "PUT", body, headers: { "content-type": "text/plain", ...headers } });
}

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Buffer; headers: any }> {
  const r = await request(url, { headers });
  return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()), headers: r.headers };
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-server-");
  masterPort = await freePortPair();
  volumePort = await freePortPair();
  await startAndWait();
});

afterAll(async () => {
  await proc?.stop();
  await tmp?.remove();
});

describe("weed-ts server", () => {
  it("/submit stores a file and its fileUrl serves the same bytes", async () => {
    const content = randomBytes(5000);
    const r = await submit(content, "photo.jpg", "image/jpeg");
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ fileName: "photo.jpg", size: 5000 });
    expect(r.json.fid).toMatch(/^\d+,[0-9a-f]{9,}$/);
    const got = await get(`http://${r.json.fileUrl}`);
    expect(got.status).toBe(200);
    expect(got.body.equals(content)).toBe(true);
    expect(got.headers["content-type"]).toBe("image/jpeg");
  });

  it("assign + PUT, then GET with ETag, Range, and conditional requests", async () => {
    const a = await assign();
    const url = `http://${a.url}/${a.fid}`;
    const content = Buffer.from("hello, weed-ts! ".repeat(64));
    const w = await put(url, content);
    expect(w.status).toBe(201);
    expect(w.json.size).toBe(content.length);
    const etag = `"${w.json.eTag}"`;

    const full = await get(url);
    expect(full.status).toBe(200);
    expect(full.body.equals(content)).toBe(true);
    expect(full.headers.etag).toBe(etag);
    const lastModified = full.headers["last-modified"] as string;
    expect(lastModified).toBeTruthy();

    const part = await get(url, { range: "bytes=7-13" });
    expect(part.status).toBe(206);
    expect(part.body.toString()).toBe(content.subarray(7, 14).toString());
    expect(part.headers["content-range"]).toBe(`bytes 7-13/${content.length}`);

    expect((await get(url, { range: `bytes=${content.length + 10}-` })).status).toBe(416);
    expect((await get(url, { "if-none-match": etag })).status).toBe(304);
    expect((await get(url, { "if-modified-since": lastModified })).status).toBe(304);

    const head = await request(url, { method: "HEAD" });
    await head.body.dump();
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers["content-length"])).toBe(content.length);
  });

  it("answers bad fids, wrong cookies and unknown volumes precisely", async () => {
    const a = await assign();
    await put(`http://${a.url}/${a.fid}`, Buffer.from("x"));
    const [vid, rest] = a.fid.split(",") as [string, string];
    const wrongCookie =
      rest.slice(0, -8) + ((Number.parseInt(rest.slice(-8), 16) ^ 1) >>> 0).toString(16).padStart(8, "0");
    const bad = await getJson(`http://${a.url}/${vid},${wrongCookie}`);
    expect(bad.status).toBe(404);
    expect(typeof bad.json.error).toBe("string");
    expect((await getJson(`http://${a.url}/${vid},zz`)).status).toBe(400);
    expect((await getJson(`http://${a.url}/4000000,0100000001`)).status).toBe(404);
    expect((await getJson(`http://127.0.0.1:${masterPort}/dir/assign?replication=abc`)).status).toBe(406);
    const viaGet = await getJson(`http://127.0.0.1:${masterPort}/submit`);
    expect(viaGet.status).toBe(405);
  });

  it("DELETE answers 202 with the size, then the file is gone", async () => {
    const a = await assign();
    const url = `http://${a.url}/${a.fid}`;
    await put(url, Buffer.from("to be deleted"));
    const d = await getJson(url, { method: "DELETE" });
    expect(d.status).toBe(202);
    expect(d.json.size).toBe(13);
    expect((await get(url)).status).toBe(404);
  });

  it("keeps every blob across a restart, and a kill -9 right after a 201", async () => {
    const stored: { url: string; content: Buffer }[] = [];
    const keyOf = (fid: string): bigint => BigInt("0x" + fid.split(",")[1]!.slice(0, -8));
    let lastKey = 0n;
    for (let i = 0; i < 20; i++) {
      const a = await assign();
      lastKey = keyOf(a.fid);
      const content = randomBytes(100 + i * 37);
      const w = await put(`http://${a.url}/${a.fid}`, content);
      expect(w.status).toBe(201);
      stored.push({ url: `http://${a.url}/${a.fid}`, content });
    }
    // The kill follows the last 201 with nothing in between.
    await proc.kill9();
    await startAndWait();
    for (const s of stored) {
      const got = await get(s.url);
      expect(got.status).toBe(200);
      expect(got.body.equals(s.content)).toBe(true);
    }
    // Keys are reserved durably before they are handed out: a restarted master never reissues one.
    expect(keyOf((await assign()).fid) > lastKey).toBe(true);

    await proc.stop();
    await startAndWait();
    for (const s of stored) expect((await get(s.url)).body.equals(s.content)).toBe(true);
  });

  it("loses no acknowledged write when killed -9 in the middle of concurrent writes", async () => {
    const acked: { url: string; content: Buffer }[] = [];
    const WRITERS = 8;
    const WRITES_PER_WRITER_MAX = 2000;
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; i < WRITES_PER_WRITER_MAX && !stop; i++) {
        try {
          const a = await assign();
          const content = randomBytes(200 + ((w * 31 + i) % 700));
          const r = await put(`http://${a.url}/${a.fid}`, content);
          if (r.status === 201) acked.push({ url: `http://${a.url}/${a.fid}`, content });
        } catch {
          // Outcome unknown (the process died under us): neither counted as written nor as lost.
          return;
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await eventually(() => expect(acked.length).toBeGreaterThanOrEqual(200), {
      what: "200 acknowledged writes",
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    await proc.kill9();
    stop = true;
    await Promise.all(writers);
    expect(acked.length).toBeGreaterThanOrEqual(200);

    await startAndWait();
    const keys = new Set<string>();
    for (const s of acked) {
      const got = await get(s.url);
      expect(got.status, s.url).toBe(200);
      expect(got.body.equals(s.content), s.url).toBe(true);
      keys.add(s.url.slice(s.url.lastIndexOf("/") + 1, -8));
    }
    // No file id was handed out twice.
    expect(keys.size).toBe(acked.length);
  });
});
