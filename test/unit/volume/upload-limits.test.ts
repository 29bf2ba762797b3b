// The volume server's memory bounds over real loopback HTTP (issue 9 item 3): a chunked body over
// -fileSizeLimitMB is cut near the limit, not read to its end; uploads over
// -concurrentUploadLimitMB wait their turn or get 503 + Retry-After naming the flag while
// /healthz keeps answering; a body without Content-Length is counted as it arrives; downloads
// over -concurrentDownloadLimitMB wait the same way; bodies read into reused buffers stay apart.
import { request as httpRequest, type IncomingHttpHeaders, type ClientRequest } from "node:http";
import { EventEmitter, once } from "node:events";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVolumeServer, type Started } from "./helpers.js";

const VID = 5;
const mebibyte = 1024 * 1024;
const FILE_LIMIT = 8 * mebibyte; // -fileSizeLimitMB=8
const UPLOAD_LIMIT_MB = 4;
const DOWNLOAD_LIMIT_MB = 1;
const WAIT_MS = 500; // -inflightUpload/DownloadDataTimeout
/** /healthz during the load: "fast" on two shared cores with the test's own client in the same process. */
const HEALTHZ_MS_MAX = 250;

let s: Started;
let port = 0;
let keySeq = 0x1000;

function newFid(): string {
  keySeq++;
  return `${VID},${keySeq.toString(16)}1234abcd`;
}

function blob(seed: number, bytes: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  return b;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: Record<string, unknown> | undefined;
  body: Buffer;
  ms: number;
}

function answerOf(req: ClientRequest, t0: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        const isJson = (res.headers["content-type"] ?? "").includes("json");
        const json = isJson && body.length > 0 ? (JSON.parse(body.toString()) as Record<string, unknown>) : undefined;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json, body, ms: performance.now() - t0 });
      });
    });
  });
}

/** A PUT whose body is sent in full at once. */
function put(fid: string, body: Buffer): Promise<Answer> {
  const t0 = performance.now();
  const req = httpRequest({ port, host: "127.0.0.1", method: "PUT", path: `/${fid}`, agent: false });
  req.setHeader("content-length", body.length);
  const answer = answerOf(req, t0);
  req.end(body);
  return answer;
}

function get(fid: string): Promise<Answer> {
  const t0 = performance.now();
  const req = httpRequest({ port, host: "127.0.0.1", method: "GET", path: `/${fid}`, agent: false });
  const answer = answerOf(req, t0);
  req.end();
  return answer;
}

/**
 * A PUT of `body` that holds after its first `heldBytes` until release(). `admitted` resolves once
 * the server has run the handler (it answered Expect: 100-continue), so the upload holds its place.
 */
function heldPut(fid: string, body: Buffer, heldBytes: number) {
  const t0 = performance.now();
  const req = httpRequest({ port, host: "127.0.0.1", method: "PUT", path: `/${fid}`, agent: false });
  req.setHeader("content-length", body.length);
  req.setHeader("expect", "100-continue");
  const answer = answerOf(req, t0);
  const admitted = new Promise<void>((resolve) => req.once("continue", resolve));
  void admitted.then(() => req.write(body.subarray(0, heldBytes)));
  req.flushHeaders();
  return { answer, admitted, release: () => void admitted.then(() => req.end(body.subarray(heldBytes))) };
}

/** A PUT declaring `bytes` that never sends its body: the server answers it before reading any. */
function headersOnly(fid: string, bytes: number): { answer: Promise<Answer>; destroy: () => void } {
  const t0 = performance.now();
  const req = httpRequest({ port, host: "127.0.0.1", method: "PUT", path: `/${fid}`, agent: false });
  req.setHeader("content-length", bytes);
  const answer = answerOf(req, t0);
  req.flushHeaders();
  return { answer, destroy: () => req.destroy() };
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** Probes /healthz until `until` settles (at most 2000 probes); resolves with the slowest (ms). */
async function probeHealthz(until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let slowest = 0;
  for (let i = 0; i < 2000 && !done; i++) {
    const t0 = performance.now();
    const req = httpRequest({ port, host: "127.0.0.1", path: "/healthz", agent: false });
    const r = await answerOf(req.end() as ClientRequest, t0);
    expect(r.status).toBe(200);
    slowest = Math.max(slowest, r.ms);
    await sleep(10);
  }
  return slowest;
}

beforeAll(async () => {
  s = await startVolumeServer({
    fileSizeLimitMB: FILE_LIMIT / mebibyte,
    concurrentUploadLimitMB: UPLOAD_LIMIT_MB,
    concurrentDownloadLimitMB: DOWNLOAD_LIMIT_MB,
    inflightUploadDataTimeoutMs: WAIT_MS,
    inflightDownloadDataTimeoutMs: WAIT_MS,
  });
  port = s.vs.httpPort;
  await s.admin.allocateVolume({ volumeId: VID, collection: "", replication: "000", ttl: "" });
});

afterAll(async () => {
  await s?.close();
});

describe("-fileSizeLimitMB", () => {
  it("cuts a chunked upload far over the limit with 413 after reading little more than the limit", async () => {
    const sock = connect(port, "127.0.0.1");
    await once(sock, "connect");
    let response = "";
    let closed = false;
    const wake = new EventEmitter();
    sock.on("data", (d: Buffer) => {
      response += d.toString("latin1");
      wake.emit("w");
    });
    sock.on("close", () => {
      closed = true;
      wake.emit("w");
    });
    sock.on("error", () => undefined); // the server closes the connection once it has answered
    sock.on("drain", () => wake.emit("w"));
    sock.write(`PUT /${newFid()} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 1);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    const attemptBytes = 256 * mebibyte; // 32 times the limit
    let offered = 0;
    while (offered < attemptBytes && response === "" && !closed) {
      offered += chunk.length;
      if (!sock.write(frame)) await once(wake, "w");
    }
    const sent = sock.bytesWritten;
    for (let i = 0; i < 200 && !response.includes("}") && !closed; i++) await once(wake, "w");
    sock.destroy();
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).toContain(`{"error":"file over the limited ${FILE_LIMIT} bytes"}`);
    // The limit, the 1 MiB the server discards before closing, and what loopback socket buffers hold.
    expect(sent).toBeGreaterThan(FILE_LIMIT);
    expect(sent).toBeLessThan(FILE_LIMIT + 16 * mebibyte);
  });
});

describe("-concurrentUploadLimitMB", () => {
  it("makes an upload that does not fit wait its turn, then takes it", async () => {
    const a = blob(1, 3 * mebibyte);
    const b = blob(2, 3 * mebibyte);
    const [fa, fb] = [newFid(), newFid()];
    const held = heldPut(fa, a, mebibyte);
    await held.admitted;
    const waiting = put(fb, b);
    const heldMs = 200;
    await sleep(heldMs);
    held.release();
    const [ra, rb] = await Promise.all([held.answer, waiting]);
    expect([ra.status, rb.status]).toEqual([201, 201]);
    expect(rb.ms).toBeGreaterThanOrEqual(heldMs * 0.9); // it waited for a's bytes to go
    expect((await get(fa)).body.equals(a)).toBe(true);
    expect((await get(fb)).body.equals(b)).toBe(true);
  });

  it("refuses what waits too long with 503, Retry-After and the flag, answering /healthz meanwhile", async () => {
    const a = blob(3, 3 * mebibyte);
    const fa = newFid();
    const held = heldPut(fa, a, mebibyte);
    await held.admitted;
    const excess = [newFid(), newFid(), newFid()].map((fid) => headersOnly(fid, 3 * mebibyte));
    const answers = Promise.all(excess.map((e) => e.answer));
    const slowest = await probeHealthz(answers);
    for (const r of await answers) {
      expect(r.status).toBe(503);
      expect(r.headers["retry-after"]).toBe("2");
      expect(String(r.json?.["error"])).toMatch(/upload refused: .*-concurrentUploadLimitMB=4 .*retry later/);
      expect(r.ms).toBeGreaterThanOrEqual(WAIT_MS * 0.9);
    }
    for (const e of excess) e.destroy();
    expect(slowest).toBeLessThan(HEALTHZ_MS_MAX);
    held.release();
    expect((await held.answer).status).toBe(201);
    expect((await get(fa)).body.equals(a)).toBe(true);
  });

  it("counts a body without Content-Length as it arrives and cuts it once it would pass the bound", async () => {
    const held = heldPut(newFid(), blob(4, 3 * mebibyte), mebibyte);
    await held.admitted;
    const t0 = performance.now();
    const req = httpRequest({ port, host: "127.0.0.1", method: "PUT", path: `/${newFid()}`, agent: false });
    req.setHeader("transfer-encoding", "chunked");
    const answer = answerOf(req, t0).catch(() => undefined);
    req.on("error", () => undefined); // the server may close before all of it was sent
    for (let i = 0; i < 32; i++) req.write(Buffer.alloc(64 * 1024, i));
    req.end();
    const r = await answer;
    expect(r?.status).toBe(503);
    expect(String(r?.json?.["error"])).toMatch(
      /-concurrentUploadLimitMB=4 .*a body without Content-Length is counted as it arrives/,
    );
    held.release();
    expect((await held.answer).status).toBe(201);
  });

  it("keeps bodies apart when their buffers are reused: many concurrent uploads all read back", async () => {
    const fids = Array.from({ length: 8 }, () => newFid());
    const bodies = fids.map((_, i) => blob(100 + i, 1.5 * mebibyte + i * 4096));
    const answers = await Promise.all(fids.map((fid, i) => put(fid, bodies[i]!)));
    expect(answers.map((r) => r.status)).toEqual(fids.map(() => 201));
    for (let i = 0; i < fids.length; i++) expect((await get(fids[i]!)).body.equals(bodies[i]!), fids[i]).toBe(true);
  });
});

describe("-concurrentDownloadLimitMB", () => {
  it("answers written at the end of their turn hold their bytes until written, then give them back", async () => {
    const fid = newFid();
    const data = blob(11, 700 * 1024); // under the 2 MiB a turn's answers may hold: batched
    expect((await put(fid, data)).status).toBe(201);
    // Two fit under the 1 MiB limit at once; the others wait for the earlier answers to be written.
    const together = await Promise.all([1, 2, 3, 4, 5, 6].map(() => get(fid)));
    expect(together.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(together.every((r) => r.body.equals(data))).toBe(true);
    // Bytes never given back would add up past the limit by the third: it would wait 500 ms, then 503.
    for (let i = 0; i < 20; i++) {
      const r = await get(fid);
      expect(r.status, `GET ${i}`).toBe(200);
      expect(r.ms).toBeLessThan(WAIT_MS);
    }
  });

  it("makes a download wait while responses over the limit are in flight; one that waits too long is 503", async () => {
    const fid = newFid();
    const data = blob(7, FILE_LIMIT);
    expect((await put(fid, data)).status).toBe(201);
    // A client that asks and does not read: its 8 MiB response stays in flight.
    const slow = connect(port, "127.0.0.1");
    await once(slow, "connect");
    slow.pause();
    slow.write(`GET /${fid} HTTP/1.1\r\nHost: t\r\n\r\n`);
    await sleep(100);
    const refused = await get(fid);
    expect(refused.status).toBe(503);
    expect(String(refused.json?.["error"])).toMatch(/download refused: .*-concurrentDownloadLimitMB=1 /);
    expect(refused.headers["retry-after"]).toBe("2");
    const waiting = get(fid);
    await sleep(100);
    slow.resume(); // the slow client reads its response: the bytes are no longer in flight
    slow.on("data", () => undefined);
    const r = await waiting;
    slow.destroy();
    expect(r.status).toBe(200);
    expect(r.body.equals(data)).toBe(true);
  });
});
