// The small-write path (src/volume/small-put.ts) and the split-key read (Volume.readSplit): what
// they answer is what the general path answers, the 201 comes only once the bytes are in the
// .dat, -fsync still syncs, a client gone mid-body gives back its room under
// -concurrentUploadLimitMB, and damaged bytes on disk answer 500 through the plain-fid read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { crc32c } from "@node-rs/crc32";
import { startVolumeServer, type Started } from "./helpers.js";

/** The disk-backed Store counts the sync rounds that synced a volume. */
interface Syncs {
  syncCount(volumeId: number): number;
}

/** ... and the batches of small appends a volume wrote. */
interface BatchStats {
  appendBatchStats(volumeId: number): { batches: number; records: number };
}

const VID = 5;
let keySeq = 0x5000;

function newFid(cookie = 0x1234abcd): string {
  keySeq++;
  return `${VID},${keySeq.toString(16)}${cookie.toString(16).padStart(8, "0")}`;
}

async function send(s: Started, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}) {
  const res = await request(`${s.base}${path}`, { method: method as "GET", headers, body: body ?? null });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes, text: bytes.toString() };
}

async function started(overrides: Parameters<typeof startVolumeServer>[0] = {}): Promise<Started> {
  const s = await startVolumeServer(overrides);
  await s.admin.allocateVolume({ volumeId: VID, collection: "", replication: "000", ttl: "" });
  return s;
}

describe("small PUT and plain-fid GET", () => {
  let s: Started;
  beforeAll(async () => {
    s = await started();
  });
  afterAll(async () => {
    await s?.close();
  });

  it("the bytes are in the .dat when the 201 arrives", async () => {
    for (let i = 0; i < 20; i++) {
      const payload = Buffer.from(`small-put-on-disk-${i}-${"x".repeat(100 + i)}`);
      const r = await send(s, "PUT", `/${newFid()}`, payload);
      expect(r.status).toBe(201);
      // Read at once, synchronously: no later write could have put them there meanwhile.
      expect(readFileSync(join(s.dir, `${VID}.dat`)).indexOf(payload)).toBeGreaterThan(0);
    }
  });

  it("uploads ending in one turn share one append, and each 201 comes with its bytes in the .dat", async () => {
    const store = s.vs.store as unknown as BatchStats;
    const before = store.appendBatchStats(VID);
    const payloads = Array.from({ length: 16 }, (_, i) => Buffer.from(`batched-${i}-${"y".repeat(200 + i)}`));
    const fids = payloads.map(() => newFid());
    const dat = join(s.dir, `${VID}.dat`);
    // Every connection open and accepted first (a server reads a connection's first bytes in the
    // turn it accepts it), then every request written in one go: the server reads them all in one turn.
    const port = Number(new URL(s.base).port);
    const sockets = await Promise.all(
      payloads.map(
        () =>
          new Promise<Socket>((resolve, reject) => {
            const c = connect(port, "127.0.0.1", () => resolve(c));
            c.once("error", reject);
          }),
      ),
    );
    await sleep(200);
    const answers = sockets.map(
      (c, i) =>
        new Promise<string>((resolve, reject) => {
          const got: Buffer[] = [];
          c.on("data", (d: Buffer) => {
            got.push(d);
            // At the answer, synchronously: the record is in the .dat already.
            if (got.length === 1) expect(readFileSync(dat).indexOf(payloads[i]!)).toBeGreaterThan(0);
          });
          c.once("end", () => resolve(Buffer.concat(got).toString("latin1")));
          c.once("error", reject);
        }),
    );
    for (const [i, c] of sockets.entries()) {
      const head = `PUT /${fids[i]!} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`;
      const length = `Content-Length: ${payloads[i]!.length}\r\n\r\n`;
      c.write(Buffer.concat([Buffer.from(head + length), payloads[i]!]));
    }
    for (const text of await Promise.all(answers)) expect(text).toMatch(/^HTTP\/1\.1 201 /);
    const after = store.appendBatchStats(VID);
    expect(after.records - before.records).toBe(16);
    expect(after.batches - before.batches).toBeLessThan(16); // some turn took more than one upload
    // The store's sums reach /metrics (this server has the one volume).
    const metrics = (await send(s, "GET", "/metrics")).text;
    const counter = (name: string): number =>
      Number(new RegExp(`^SeaweedFS_volumeServer_${name}_total (\\d+)$`, "m").exec(metrics)?.[1] ?? NaN);
    expect(counter("append_batched_records")).toBe(after.records);
    expect(counter("append_batches")).toBe(after.batches);
    for (const [i, fid] of fids.entries()) expect((await send(s, "GET", `/${fid}`)).bytes).toEqual(payloads[i]);
  });

  it("answers as the general path does (a query sends a PUT there), and GETs answer alike", async () => {
    const payload = Buffer.from("same bytes either way");
    const fast = newFid();
    const slow = newFid();
    const a = await send(s, "PUT", `/${fast}`, payload, { "content-type": "text/plain" });
    const b = await send(s, "PUT", `/${slow}?`, payload, { "content-type": "text/plain" });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(JSON.parse(a.text)).toEqual({ ...JSON.parse(b.text), name: fast });
    expect(JSON.parse(a.text)).toMatchObject({ size: payload.length, mime: "text/plain" });
    const headerNames = ["etag", "content-type", "x-content-type-options", "content-length"];
    for (const h of headerNames) expect(a.headers[h]).toEqual(b.headers[h]);
    const ga = await send(s, "GET", `/${fast}`);
    const gb = await send(s, "GET", `/${slow}`);
    expect(ga.bytes).toEqual(payload);
    expect(gb.bytes).toEqual(payload);
    expect(ga.headers["etag"]).toBe(`"${crc32c(payload).toString(16).padStart(8, "0")}"`);
    expect(ga.headers["content-disposition"]).toBe(`inline; filename="${encodeURIComponent(fast)}"`);
    expect(ga.headers["content-type"]).toBe(gb.headers["content-type"]);
  });

  it("unchanged bytes answer 204; another cookie on the key answers 404 and changes nothing", async () => {
    const fid = newFid(0x0badcafe);
    const payload = Buffer.from("first version");
    expect((await send(s, "PUT", `/${fid}`, payload)).status).toBe(201);
    expect((await send(s, "PUT", `/${fid}`, payload)).status).toBe(204);
    const other = `${fid.slice(0, -8)}deadbeef`;
    const r = await send(s, "PUT", `/${other}`, Buffer.from("second version"));
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text).error).toMatch(/cookie/);
    expect((await send(s, "GET", `/${fid}`)).bytes).toEqual(payload);
  });

  it("a raw POST takes the same path; a volume not held here is refused as before", async () => {
    const fid = newFid();
    expect((await send(s, "POST", `/${fid}`, Buffer.from("posted"))).status).toBe(201);
    expect((await send(s, "GET", `/${fid}`)).text).toBe("posted");
    // Not held here (no master to ask, in this test): the general path's answer, whatever the query.
    const elsewhere = `/77,${fid.split(",")[1]!}`;
    const r = await send(s, "PUT", elsewhere, Buffer.from("nowhere"));
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBe((await send(s, "PUT", `${elsewhere}?`, Buffer.from("nowhere"))).status);
  });

  it("GET of a needle whose disk bytes were damaged answers 500, again on a second read, never the bytes", async () => {
    const payload = Buffer.from("DAMAGE-ME-PLAIN-FID-PATH-0123456789");
    const fid = newFid();
    expect((await send(s, "PUT", `/${fid}`, payload)).status).toBe(201);
    const dat = join(s.dir, `${VID}.dat`);
    const bytes = await readFile(dat);
    const at = bytes.indexOf(payload);
    expect(at).toBeGreaterThan(0);
    bytes[at + 5] = bytes[at + 5]! ^ 0xff;
    await writeFile(dat, bytes);
    for (let i = 0; i < 2; i++) {
      const r = await send(s, "GET", `/${fid}`);
      expect(r.status).toBe(500);
      expect(r.bytes.indexOf(payload.subarray(8))).toBe(-1);
    }
  });
});

describe("small PUT under -fsync and -concurrentUploadLimitMB", () => {
  let s: Started;
  beforeAll(async () => {
    s = await started({ fsync: true, concurrentUploadLimitMB: 1 });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("-fsync: each small PUT is synced before its 201", async () => {
    const before = (s.vs.store as unknown as Syncs).syncCount(VID);
    for (let i = 0; i < 3; i++)
      expect((await send(s, "PUT", `/${newFid()}`, Buffer.from(`synced ${i}`))).status).toBe(201);
    expect((s.vs.store as unknown as Syncs).syncCount(VID)).toBeGreaterThan(before);
  });

  it("a client gone mid-body gives its room back: the next upload of the whole limit is taken", async () => {
    const declared = 900_000;
    const fid = newFid();
    const sock = connect(s.vs.httpPort, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(`PUT /${fid} HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n` + "a".repeat(1000));
    // The server takes the room when the headers arrive; then the client goes.
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    const big = Buffer.alloc(declared, 0x62);
    const after = newFid();
    const r = await send(s, "PUT", `/${after}`, big);
    expect(r.status).toBe(201);
    expect((await send(s, "GET", `/${fid}`)).status).toBe(404);
    expect((await send(s, "GET", `/${after}`)).bytes.equals(big)).toBe(true);
  });
});
