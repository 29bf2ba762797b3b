// A tiny fake master + volume server on loopback for the benchmark tests: /dir/assign hands out
// fids over VOLUME_COUNT volumes, /dir/lookup names the one volume server, and the volume server
// keeps uploads in memory and serves them back. Hooks let a test make requests fail or lag.
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const VOLUME_COUNT = 3;
const BODY_MAX_BYTES = 1024 * 1024;

export interface FakeHooks {
  /** Return a status to fail the n-th PUT (1-based) with {"error": ...}; undefined to store it. */
  failPut?: (n: number) => number | undefined;
  /** Return a status (with Retry-After: 0) to refuse the n-th assign. */
  failAssign?: (n: number) => number | undefined;
  /** Bytes to serve instead of the stored ones for a GET. */
  tamperGet?: (fid: string, stored: Buffer) => Buffer;
  /** Milliseconds each PUT waits before answering. */
  putDelayMs?: number;
}

export interface FakeCluster {
  master: string;
  volume: string;
  stored: Map<string, { body: Buffer; mime: string | undefined; query: string }>;
  counts: { assign: number; lookup: number; put: number; get: number };
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    total += c.length;
    if (total > BODY_MAX_BYTES) throw new Error("body too large");
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startFakeCluster(hooks: FakeHooks = {}): Promise<FakeCluster> {
  const stored: FakeCluster["stored"] = new Map();
  const counts = { assign: 0, lookup: 0, put: 0, get: 0 };
  let nextKey = 1;
  let volumeAddr = "";

  const volume = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://x");
      const fid = url.pathname.slice(1);
      if (req.method === "PUT") {
        const n = ++counts.put;
        const body = await readAll(req);
        if (hooks.putDelayMs !== undefined) await new Promise((r) => setTimeout(r, hooks.putDelayMs));
        const fail = hooks.failPut?.(n);
        if (fail !== undefined) return json(res, fail, { error: "failed to write to local disk: boom" });
        stored.set(fid, { body, mime: req.headers["content-type"], query: url.search });
        return json(res, 201, { name: fid, size: body.length, eTag: "00000000" });
      }
      if (req.method === "GET") {
        counts.get++;
        const hit = stored.get(fid);
        if (hit === undefined) return json(res, 404, { error: "not found" });
        const body = hooks.tamperGet ? hooks.tamperGet(fid, hit.body) : hit.body;
        res.writeHead(200, { "content-type": "image/bench", "content-length": body.length });
        return res.end(body);
      }
      json(res, 405, { error: "method" });
    })().catch((err: unknown) => json(res, 500, { error: String(err) }));
  });

  const master = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/dir/assign") {
      const n = ++counts.assign;
      const fail = hooks.failAssign?.(n);
      if (fail !== undefined) return json(res, fail, { error: "no writable volumes" }, { "retry-after": "0" });
      const key = nextKey++;
      const vid = 1 + (key % VOLUME_COUNT);
      const cookie = ((key * 2654435761) >>> 0).toString(16).padStart(8, "0");
      let keyHex = key.toString(16);
      if (keyHex.length % 2 === 1) keyHex = "0" + keyHex;
      return json(res, 200, { fid: `${vid},${keyHex}${cookie}`, url: volumeAddr, publicUrl: volumeAddr, count: 1 });
    }
    if (url.pathname === "/dir/lookup") {
      counts.lookup++;
      const vid = url.searchParams.get("volumeId") ?? "";
      return json(res, 200, { volumeOrFileId: vid, locations: [{ url: volumeAddr, publicUrl: volumeAddr }] });
    }
    json(res, 404, { error: "no route" });
  });

  volumeAddr = await listen(volume);
  const masterAddr = await listen(master);
  return {
    master: masterAddr,
    volume: volumeAddr,
    stored,
    counts,
    async close() {
      for (const s of [master, volume]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
