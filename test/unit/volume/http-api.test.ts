// The volume server's HTTP API over real loopback HTTP against the real Store, with the volume
// allocated through the real gRPC AllocateVolume and a fake master receiving heartbeats.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { request } from "undici";
import { crc32c } from "@node-rs/crc32";
import { multipartPartsMax } from "../../../src/common/multipart-limits.js";
import { waitFor } from "../../helpers.js";
import { FakeMaster, startVolumeServer, type Started } from "./helpers.js";

const VID = 3;
const LIMIT = 1024 * 1024; // fileSizeLimitMB: 1

let master: FakeMaster;
let s: Started;
let keySeq = 0x100;

/** A fresh fid on the test volume: "3,<key hex><cookie8>". */
function newFid(cookie = 0x637037d6): string {
  keySeq++;
  return `${VID},${keySeq.toString(16).padStart(2, "0")}${cookie.toString(16).padStart(8, "0")}`;
}

function etag(data: Buffer): string {
  return crc32c(data).toString(16).padStart(8, "0");
}

function multipart(
  parts: { headers: Record<string, string>; body: Buffer }[],
  boundary = "----weedtsBoundary7MA4YWxk",
): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\n`;
    for (const [k, v] of Object.entries(p.headers)) head += `${k}: ${v}\r\n`;
    chunks.push(Buffer.from(head + "\r\n"), p.body, Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function get(path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" = "GET") {
  const res = await request(`${s.base}${path}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

async function put(
  path: string,
  body: Buffer | Readable,
  headers: Record<string, string> = {},
  method: "PUT" | "POST" = "PUT",
) {
  const res = await request(`${s.base}${path}`, { method, headers, body });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

beforeAll(async () => {
  master = new FakeMaster();
  await master.start();
  s = await startVolumeServer({ masters: [master.address] });
  await s.admin.allocateVolume({ volumeId: VID, collection: "", replication: "000", ttl: "" });
  await waitFor(
    () => master.beats.some((b) => b.newVolumes.some((v) => v.id === VID) || b.volumes.some((v) => v.id === VID)),
    { what: "the volume in a heartbeat" },
  );
});

afterAll(async () => {
  await s?.close();
  master?.stop();
});

describe("upload", () => {
  it("multipart POST stores the file part and answers 201 with name, size, eTag, mime", async () => {
    const data = Buffer.from("\x89PNG fake image bytes");
    const fid = newFid();
    const mp = multipart([
      {
        headers: { "Content-Disposition": 'form-data; name="file"; filename="dir/a.png"', "Content-Type": "image/png" },
        body: data,
      },
    ]);
    const r = await put(`/${fid}?ts=1700000000`, mp.body, { "content-type": mp.contentType }, "POST");
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ name: "a.png", size: data.length, eTag: etag(data), mime: "image/png" });
    expect(r.headers["etag"]).toBe(`"${etag(data)}"`);

    const g = await get(`/${fid}`);
    expect(g.status).toBe(200);
    expect(g.body.equals(data)).toBe(true);
    expect(g.headers["content-type"]).toBe("image/png");
    expect(g.headers["etag"]).toBe(`"${etag(data)}"`);
    expect(g.headers["last-modified"]).toBe("Tue, 14 Nov 2023 22:13:20 GMT");
    expect(g.headers["content-disposition"]).toBe('inline; filename="a.png"');
    expect(g.headers["accept-ranges"]).toBe("bytes");
    expect(g.headers["content-length"]).toBe(String(data.length));

    const dl = await get(`/${fid}?dl=true`);
    expect(dl.headers["content-disposition"]).toBe('attachment; filename="a.png"');
  });

  it("multipart whose first part is a field without a filename takes the first part with a filename", async () => {
    const data = Buffer.from("the real file");
    const fid = newFid();
    const mp = multipart([
      { headers: { "Content-Disposition": 'form-data; name="comment"' }, body: Buffer.from("just a field") },
      { headers: { "Content-Disposition": 'form-data; name="file"; filename="notes.txt"' }, body: data },
    ]);
    const r = await put(`/${fid}`, mp.body, { "content-type": mp.contentType }, "POST");
    expect(r.status).toBe(201);
    expect(r.json?.["name"]).toBe("notes.txt");
    expect(r.json?.["mime"]).toBe("text/plain"); // from the extension: the part had no Content-Type
    const g = await get(`/${fid}`);
    expect(g.body.toString()).toBe("the real file");
  });

  it("multipart part with Content-Encoding: gzip is stored as sent and served gzipped or inflated", async () => {
    const plain = Buffer.from("hello gzip ".repeat(50));
    const gz = gzipSync(plain);
    const fid = newFid();
    const mp = multipart([
      {
        headers: {
          "Content-Disposition": 'form-data; name="f"; filename="g.txt"',
          "Content-Type": "text/plain",
          "Content-Encoding": "gzip",
        },
        body: gz,
      },
    ]);
    const r = await put(`/${fid}`, mp.body, { "content-type": mp.contentType }, "POST");
    expect(r.status).toBe(201);
    expect(r.json?.["size"]).toBe(plain.length);
    expect(r.json?.["eTag"]).toBe(etag(gz));

    const zipped = await get(`/${fid}`, { "accept-encoding": "gzip, deflate" });
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.body.equals(gz)).toBe(true);
    const inflated = await get(`/${fid}`, { "accept-encoding": "identity" });
    expect(inflated.headers["content-encoding"]).toBeUndefined();
    expect(inflated.body.equals(plain)).toBe(true);
  });

  it("raw PUT takes the name from Content-Disposition and the mime from Content-Type", async () => {
    const data = Buffer.from("raw body text");
    const fid = newFid();
    const r = await put(`/${fid}`, data, {
      "content-type": "text/markdown",
      "content-disposition": 'attachment; filename="read me.md"',
    });
    expect(r.status).toBe(201);
    expect(r.json).toEqual({ name: "read me.md", size: data.length, eTag: etag(data), mime: "text/markdown" });
    const g = await get(`/${fid}`);
    expect(g.headers["content-type"]).toBe("text/markdown");
    expect(g.headers["content-disposition"]).toBe('inline; filename="read%20me.md"');
  });

  it("raw PUT with application/octet-stream gets its mime from the path extension", async () => {
    const fid = newFid();
    const r = await put(`/${fid}.json`, Buffer.from("{}"), { "content-type": "application/octet-stream" });
    expect(r.status).toBe(201);
    expect(r.json?.["mime"]).toBe("application/json");
    expect(r.json?.["name"]).toBe(`${fid}.json`); // SeaweedFS: path.Base of the URL
    const g = await get(`/${fid}`);
    expect(g.headers["content-type"]).toBe("application/json");
  });

  it("answers every fid path form", async () => {
    const data = Buffer.from("path forms");
    const fid = newFid();
    expect((await put(`/${fid}`, data, { "content-type": "text/plain" })).status).toBe(201);
    const [vid, kc] = fid.split(",") as [string, string];
    for (const p of [`/${fid}`, `/${fid}.txt`, `/${vid}/${kc}`, `/${vid}/${kc}.txt`, `/${vid}/${kc}/other.bin`]) {
      const g = await get(p);
      expect(g.status, p).toBe(200);
      expect(g.body.equals(data), p).toBe(true);
    }
    expect((await get(`/${vid}/${kc}/other.bin`)).headers["content-disposition"]).toBe('inline; filename="other.bin"');
  });

  it("stores Seaweed-* headers as pairs and returns them on GET", async () => {
    const fid = newFid();
    const r = await put(`/${fid}`, Buffer.from("x"), {
      "seaweed-color": "blue",
      "Seaweed-Owner-Id": "42",
      "x-other": "no",
    });
    expect(r.status).toBe(201);
    const g = await get(`/${fid}`);
    expect(g.headers["color"]).toBe("blue");
    expect(g.headers["owner-id"]).toBe("42");
    expect(g.headers["x-other"]).toBeUndefined();
  });

  it("checks Content-MD5: 400 on mismatch (nothing stored), 201 with contentMd5 when it matches", async () => {
    const data = Buffer.from("md5 checked");
    const good = createHash("md5").update(data).digest("base64");
    const bad = createHash("md5").update("other").digest("base64");
    const fid = newFid();
    const r1 = await put(`/${fid}`, data, { "content-md5": bad });
    expect(r1.status).toBe(400);
    expect(String(r1.json?.["error"])).toContain("Content-MD5 did not match");
    expect((await get(`/${fid}`)).status).toBe(404);
    const r2 = await put(`/${fid}`, data, { "content-md5": good });
    expect(r2.status).toBe(201);
    expect(r2.json?.["contentMd5"]).toBe(good);
    expect(r2.headers["content-md5"]).toBe(good);
  });

  it("answers 204 when the same needle is uploaded again unchanged", async () => {
    const data = Buffer.from("same again");
    const fid = newFid();
    expect((await put(`/${fid}?ts=1700000001`, data, { "content-type": "text/plain" })).status).toBe(201);
    const again = await put(`/${fid}?ts=1700000001`, data, { "content-type": "text/plain" });
    expect(again.status).toBe(204);
    expect(again.headers["etag"]).toBe(`"${etag(data)}"`);
  });

  it("refuses over-limit uploads with 413 (declared, streamed, multipart), stores nothing, keeps serving", async () => {
    const big = Buffer.alloc(LIMIT + 1, 7);
    const expected = { error: `file over the limited ${LIMIT} bytes` };
    const fid1 = newFid();
    const declared = await put(`/${fid1}`, big);
    expect(declared.status).toBe(413);
    expect(declared.json).toEqual(expected);

    // No Content-Length: the limit trips while streaming.
    const fid2 = newFid();
    const chunked = await put(`/${fid2}`, Readable.from([big.subarray(0, LIMIT / 2), big.subarray(LIMIT / 2)]));
    expect(chunked.status).toBe(413);
    expect(chunked.json).toEqual(expected);

    const fid3 = newFid();
    const mp = multipart([
      { headers: { "Content-Disposition": 'form-data; name="f"; filename="big.bin"' }, body: big },
    ]);
    const multi = await put(`/${fid3}`, Readable.from([mp.body]), { "content-type": mp.contentType }, "POST");
    expect(multi.status).toBe(413);
    expect(multi.json).toEqual(expected);

    // Far over the limit (and over the drain bound): the 413 still arrives, the connection is closed.
    const fid5 = newFid();
    const huge = await put(`/${fid5}`, Buffer.alloc(20 * LIMIT));
    expect(huge.status).toBe(413);
    expect(huge.json).toEqual(expected);

    for (const f of [fid1, fid2, fid3, fid5]) expect((await get(`/${f}`)).status).toBe(404);
    // Exactly at the limit is fine.
    const fid4 = newFid();
    expect((await put(`/${fid4}`, big.subarray(0, LIMIT))).status).toBe(201);
    expect((await get("/healthz")).status).toBe(200);
  });

  it("rejects a malformed multipart body with 400", async () => {
    const fid = newFid();
    const r = await put(
      `/${fid}`,
      Buffer.from('--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nno end'),
      { "content-type": "multipart/form-data; boundary=b" },
      "POST",
    );
    expect(r.status).toBe(400);
    expect((await get(`/${fid}`)).status).toBe(404);
  });

  it("issue 9: a multipart body without its closing boundary answers 400 JSON; the server keeps serving", async () => {
    const headers = { "content-type": "multipart/form-data; boundary=X" };
    const cut = '--X\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc';
    // Cut in the file part, and cut in a later part that is skipped.
    const skipped = `${cut}\r\n--X\r\nContent-Disposition: form-data; name="g"; filename="b"\r\n\r\nde`;
    for (const body of [cut, skipped]) {
      const fid = newFid();
      const r = await put(`/${fid}`, Buffer.from(body), headers, "POST");
      expect(r.status).toBe(400);
      expect(String(r.json?.["error"])).toMatch(/^malformed multipart body: /);
      expect((await get(`/${fid}`)).status).toBe(404);
    }
    const fid = newFid();
    const mp = multipart([
      { headers: { "Content-Disposition": 'form-data; name="file"; filename="a"' }, body: Buffer.from("abc") },
    ]);
    expect((await put(`/${fid}`, mp.body, { "content-type": mp.contentType }, "POST")).status).toBe(201);
    expect((await get(`/${fid}`)).body.toString()).toBe("abc");
  });
});

describe("hostile uploads", () => {
  it("refuses a multipart body with more parts than multipartPartsMax", async () => {
    const fid = newFid();
    const fields = Array.from({ length: multipartPartsMax + 1 }, (_, i) => ({
      headers: { "Content-Disposition": `form-data; name="f${i}"` },
      body: Buffer.from(`v${i}`),
    }));
    const mp = multipart(fields);
    const r = await put(`/${fid}`, mp.body, { "content-type": mp.contentType }, "POST");
    expect(r.status).toBe(413);
    expect(String(r.json?.["error"])).toContain("parts");
    expect((await get(`/${fid}`)).status).toBe(404);
  });

  it("refuses more file parts than multipartPartsMax with 413 naming the bound", async () => {
    const fid = newFid();
    const files = Array.from({ length: multipartPartsMax + 1 }, (_, i) => ({
      headers: { "Content-Disposition": `form-data; name="f${i}"; filename="${i}.bin"` },
      body: Buffer.from(`v${i}`),
    }));
    const mp = multipart(files);
    const r = await put(`/${fid}`, mp.body, { "content-type": mp.contentType }, "POST");
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ error: `multipart upload has more than ${multipartPartsMax} parts` });
    expect((await get(`/${fid}`)).status).toBe(404);
  });

  it("survives a client that disconnects mid-way through a multipart upload, storing nothing", async () => {
    const fid = newFid();
    const sock = connect(s.vs.httpPort, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(
      `POST /${fid} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=X\r\n` +
        'Content-Length: 100000\r\n\r\n--X\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n' +
        "a".repeat(1000),
    );
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect((await get("/healthz")).status).toBe(200);
    expect((await get(`/${fid}`)).status).toBe(404);
  });

  it("survives a client that disconnects mid-upload, storing nothing", async () => {
    const fid = newFid();
    const sock = connect(s.vs.httpPort, "127.0.0.1");
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(`PUT /${fid} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n` + "a".repeat(1000));
    // Nothing to observe from outside: time for the server to start on the body, then for it to
    // see the disconnect, so that the checks below run after both.
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect((await get("/healthz")).status).toBe(200);
    expect((await get(`/${fid}`)).status).toBe(404);
  });
});

describe("read", () => {
  const data = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyz");
  let fid: string;
  let lastModified: string;
  beforeAll(async () => {
    fid = newFid();
    expect((await put(`/${fid}?ts=1700000000`, data, { "content-type": "text/plain" })).status).toBe(201);
    lastModified = String((await get(`/${fid}`)).headers["last-modified"]);
  });

  it("HEAD answers the GET headers without a body", async () => {
    const h = await get(`/${fid}`, {}, "HEAD");
    expect(h.status).toBe(200);
    expect(h.body.length).toBe(0);
    expect(h.headers["content-length"]).toBe(String(data.length));
    expect(h.headers["etag"]).toBe(`"${etag(data)}"`);
    expect(h.headers["content-type"]).toBe("text/plain");
  });

  it("a plain GET (headers kept per needle) answers as the general path does, and follows an overwrite", async () => {
    const named = newFid();
    const first = Buffer.from("first body");
    const disposition = { "content-disposition": 'attachment; filename="n a.txt"' };
    expect((await put(`/${named}?ts=1700000000`, first, disposition)).status).toBe(201);
    const pick = (h: Record<string, unknown>) =>
      ["content-type", "etag", "accept-ranges", "last-modified", "content-disposition", "content-length"].map(
        (k) => h[k],
      );
    // Twice: the second is answered from the headers kept for the cached needle.
    const plain = [await get(`/${named}`), await get(`/${named}`)];
    // A query (and a stale If-None-Match) take the general path.
    const general = await get(`/${named}?x=1`, { "if-none-match": '"00000000"' });
    expect(general.status).toBe(200);
    for (const p of plain) {
      expect(p.status).toBe(200);
      expect(p.body.equals(first)).toBe(true);
      expect(pick(p.headers)).toEqual(pick(general.headers));
    }
    expect(plain[0]!.headers["content-disposition"]).toBe('inline; filename="n%20a.txt"');
    expect(plain[0]!.headers["etag"]).toBe(`"${etag(first)}"`);

    const second = Buffer.from("the second, longer body");
    expect((await put(`/${named}`, second, disposition)).status).toBe(201);
    const after = await get(`/${named}`);
    expect(after.body.equals(second)).toBe(true);
    expect(after.headers["etag"]).toBe(`"${etag(second)}"`);
    expect(after.headers["content-length"]).toBe(String(second.length));

    // A needle over the cache's record bound: headers built per read, the same ones.
    const large = newFid();
    const big = Buffer.alloc(100_000, 7);
    expect((await put(`/${large}`, big, disposition)).status).toBe(201);
    const bigReads = [await get(`/${large}`), await get(`/${large}`)];
    for (const r of bigReads) {
      expect(r.body.equals(big)).toBe(true);
      expect(r.headers["etag"]).toBe(`"${etag(big)}"`);
    }
    expect(pick(bigReads[1]!.headers)).toEqual(pick(bigReads[0]!.headers));
  });

  it("serves single ranges with 206, suffix ranges, and 416 when unsatisfiable", async () => {
    const r = await get(`/${fid}`, { range: "bytes=2-5" });
    expect(r.status).toBe(206);
    expect(r.body.toString()).toBe("2345");
    expect(r.headers["content-range"]).toBe(`bytes 2-5/${data.length}`);
    expect(r.headers["content-length"]).toBe("4");

    const suffix = await get(`/${fid}`, { range: "bytes=-10" });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(data.subarray(data.length - 10))).toBe(true);
    expect(suffix.headers["content-range"]).toBe(`bytes ${data.length - 10}-${data.length - 1}/${data.length}`);

    const open = await get(`/${fid}`, { range: "bytes=30-" });
    expect(open.body.toString()).toBe("uvwxyz");

    const bad = await get(`/${fid}`, { range: `bytes=${data.length}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers["content-range"]).toBe(`bytes */${data.length}`);
    expect(JSON.parse(bad.body.toString())).toHaveProperty("error");
  });

  it("serves several ranges as multipart/byteranges", async () => {
    const r = await get(`/${fid}`, { range: "bytes=0-1,10-11" });
    expect(r.status).toBe(206);
    const ct = String(r.headers["content-type"]);
    expect(ct).toMatch(/^multipart\/byteranges; boundary=/);
    const text = r.body.toString();
    expect(text).toContain(`Content-Range: bytes 0-1/${data.length}\r\n\r\n01`);
    expect(text).toContain(`Content-Range: bytes 10-11/${data.length}\r\n\r\nab`);
    expect(r.headers["content-length"]).toBe(String(r.body.length));
  });

  it("answers 304 to a matching If-None-Match or a not-older If-Modified-Since", async () => {
    const tag = `"${etag(data)}"`;
    const inm = await get(`/${fid}`, { "if-none-match": tag });
    expect(inm.status).toBe(304);
    expect(inm.body.length).toBe(0);
    expect(inm.headers["etag"]).toBe(tag);
    expect((await get(`/${fid}`, { "if-none-match": '"00000000"' })).status).toBe(200);
    expect((await get(`/${fid}`, { "if-modified-since": lastModified })).status).toBe(304);
    expect((await get(`/${fid}`, { "if-modified-since": "Mon, 13 Nov 2023 00:00:00 GMT" })).status).toBe(200);
  });

  it("answers 404 for a wrong cookie, 400 for a malformed fid, 404 for an unknown volume", async () => {
    const [vid, kc] = fid.split(",") as [string, string];
    const wrongCookie = `${vid},${kc.slice(0, -8)}deadbeef`;
    const r1 = await get(`/${wrongCookie}`);
    expect(r1.status).toBe(404);
    expect(JSON.parse(r1.body.toString())).toHaveProperty("error");
    const r2 = await get("/3,xyz");
    expect(r2.status).toBe(400);
    expect(JSON.parse(r2.body.toString()).error).toContain("invalid file id");
    expect((await get("/not-a-fid")).status).toBe(400);
    const r3 = await get(`/99,${kc}`);
    expect(r3.status).toBe(404);
  });

  it("answers 500 with a clear error when the stored bytes fail their CRC", async () => {
    const payload = Buffer.from("UNIQUE-PAYLOAD-TO-CORRUPT-0123456789");
    const f = newFid();
    expect((await put(`/${f}`, payload)).status).toBe(201);
    const dat = join(s.dir, `${VID}.dat`);
    const bytes = await readFile(dat);
    const at = bytes.indexOf(payload);
    expect(at).toBeGreaterThan(0);
    bytes[at + 3] = bytes[at + 3]! ^ 0xff;
    await writeFile(dat, bytes);
    const r = await get(`/${f}`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString()).error).toMatch(/crc|checksum|corrupt/i);
    // The rest of the volume still reads.
    expect((await get(`/${fid}`)).status).toBe(200);
  });
});

describe("delete", () => {
  it("answers 202 with the size, then GET is 404 and a second DELETE is 404 {size:0}", async () => {
    const data = Buffer.from("to be deleted");
    const fid = newFid();
    expect((await put(`/${fid}`, data)).status).toBe(201);
    const d1 = await request(`${s.base}/${fid}`, { method: "DELETE" });
    expect(d1.statusCode).toBe(202);
    expect(await d1.body.json()).toEqual({ size: data.length });
    expect((await get(`/${fid}`)).status).toBe(404);
    const d2 = await request(`${s.base}/${fid}`, { method: "DELETE" });
    expect(d2.statusCode).toBe(404);
    expect(await d2.body.json()).toEqual({ size: 0 });
  });
});

describe("admin routes", () => {
  it("/status lists the volumes in SeaweedFS's JSON shape", async () => {
    const r = await get("/status");
    expect(r.status).toBe(200);
    const st = JSON.parse(r.body.toString());
    expect(st.Version).toMatch(/weed-ts/);
    const v = st.Volumes.find((x: { Id: number }) => x.Id === VID);
    expect(v).toMatchObject({
      Id: VID,
      Collection: "",
      ReadOnly: false,
      ReplicaPlacement: {},
      Ttl: { Count: 0, Unit: 0 },
    });
    expect(v.FileCount).toBeGreaterThan(0);
    expect(v.Size).toBeGreaterThan(8);
    expect(st.DiskStatuses[0].dir).toBe(s.dir);
  });

  it("/healthz and /readyz are 200 while heartbeating; /metrics counts requests; / is an HTML page", async () => {
    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/readyz")).status).toBe(200);
    const m = await get("/metrics");
    expect(m.status).toBe(200);
    const text = m.body.toString();
    expect(text).toMatch(/SeaweedFS_volumeServer_request_total\{type="GET",code="200"\} \d+/);
    expect(text).toMatch(/SeaweedFS_volumeServer_request_seconds_count\{type="PUT"\} \d+/);
    expect(text).toMatch(/SeaweedFS_volumeServer_written_bytes_total [1-9]/);
    expect(text).toContain('SeaweedFS_volumeServer_volumes{collection="",type="volume"} 1');
    expect(text).toContain("SeaweedFS_volumeServer_heartbeat_connected 1");
    expect(text).toMatch(/SeaweedFS_volumeServer_resource_bytes\{name="[^"]+",type="avail"\} [1-9]/);
    expect(text).toMatch(/^SeaweedFS_build_info\{version="[^"]+",node_version="v20\.[^"]+",/m);
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]/m);
    const page = await get("/");
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body.toString()).toContain("<td>3</td>");
    expect(page.body.toString()).toContain("connected");
  });

  it("answers OPTIONS and refuses unknown methods with 405", async () => {
    const o = await request(`${s.base}/3,01637037d6`, { method: "OPTIONS" });
    expect(o.statusCode).toBe(200);
    expect(String(o.headers["access-control-allow-methods"])).toContain("DELETE");
    await o.body.dump();
    const p = await request(`${s.base}/3,01637037d6`, { method: "PATCH" });
    expect(p.statusCode).toBe(405);
    await p.body.dump();
  });

  it("adds CORS headers when the request has an Origin", async () => {
    const r = await get("/status", { origin: "http://example.test" });
    expect(r.headers["access-control-allow-origin"]).toBe("*");
  });
});
