// The upload reader shared by the master's /submit and the volume server (src/common/multipart.ts),
// driven over real loopback HTTP by a server that only reads the upload and answers what it got:
// which part is the file, the form fields, every bound (413), malformed and cut-off bodies (400),
// a client that goes away, and the Content-Disposition forms file names come in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { request } from "undici";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { sendError, sendJson } from "../../../src/common/http-util.js";
import { readUpload, type Upload } from "../../../src/common/multipart.js";
import {
  multipartFieldBytesMax,
  multipartFieldsMax,
  multipartOverheadBytesMax,
  multipartPartsMax,
} from "../../../src/common/multipart-limits.js";
import {
  dispositionFieldName,
  dispositionFileName,
  headerText,
  multipartBoundary,
} from "../../../src/common/content-disposition.js";

const LIMIT = 64 * 1024;
const BOUNDARY = "----weedtsTestBoundary";
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

/** What the server saw of one request: the upload or the error, and the listeners left on req. */
interface Outcome {
  upload?: Upload;
  error?: WeedError;
  listenersLeft: number;
}

let server: Server;
let port = 0;
const outcomes: Outcome[] = [];
const waiters: ((o: Outcome) => void)[] = [];

function record(o: Outcome): void {
  const w = waiters.shift();
  if (w !== undefined) w(o);
  else outcomes.push(o);
}

/** The server's outcome of the next request it finishes reading. */
function nextOutcome(): Promise<Outcome> {
  const o = outcomes.shift();
  return o !== undefined ? Promise.resolve(o) : new Promise((resolve) => waiters.push(resolve));
}

function listenersOf(req: IncomingMessage): number {
  return ["data", "end", "error", "close"].reduce((n, e) => n + req.listenerCount(e), 0);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const baseline = listenersOf(req);
    readUpload(req, LIMIT).then(
      (upload) => {
        record({ upload, listenersLeft: listenersOf(req) - baseline });
        sendJson(res, 200, {
          data: upload.data.toString("latin1"),
          fileName: upload.fileName,
          contentType: upload.contentType,
          gzipped: upload.gzipped,
          contentMd5: upload.contentMd5 ?? null,
          fields: Object.fromEntries(upload.fields),
        });
      },
      (err: unknown) => {
        record({ error: err as WeedError, listenersLeft: listenersOf(req) - baseline });
        req.resume();
        sendError(res, err);
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

interface Part {
  headers: Record<string, string>;
  body: Buffer | string;
}

function formPart(name: string, value: Buffer | string): Part {
  return { headers: { "Content-Disposition": `form-data; name="${name}"` }, body: value };
}

function filePart(name: string, fileName: string, body: Buffer | string, headers: Record<string, string> = {}): Part {
  return { headers: { "Content-Disposition": `form-data; name="${name}"; filename="${fileName}"`, ...headers }, body };
}

function multipartBody(parts: Part[], close = true): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${BOUNDARY}\r\n`;
    for (const [k, v] of Object.entries(p.headers)) head += `${k}: ${v}\r\n`;
    chunks.push(Buffer.from(head + "\r\n", "utf8"), Buffer.from(p.body), Buffer.from("\r\n"));
  }
  if (close) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

async function post(
  body: Buffer | Readable,
  headers: Record<string, string> = { "content-type": MULTIPART },
  method: "POST" | "PUT" = "POST",
) {
  const outcome = nextOutcome();
  const res = await request(`http://127.0.0.1:${port}/`, { method, headers, body });
  const json = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode, json, outcome: await outcome };
}

/** Sends raw bytes on a fresh connection (Connection: close) and returns the whole response text. */
function rawExchange(head: string, body: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let text = "";
    sock.on("data", (d: Buffer) => (text += d.toString("latin1")));
    sock.on("end", () => resolve(text));
    sock.on("error", reject);
    sock.write(head);
    sock.write(body);
  });
}

describe("which part is the file", () => {
  it("takes the first part with a filename, with its Content-Type, Content-Encoding and Content-MD5", async () => {
    const r = await post(
      multipartBody([
        filePart("file", "a.txt", "AAA", {
          "Content-Type": "text/plain",
          "Content-MD5": "bWQ1",
          "Content-Encoding": "gzip",
        }),
        filePart("other", "b.txt", "BBB"),
      ]),
    );
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      data: "AAA",
      fileName: "a.txt",
      contentType: "text/plain",
      gzipped: true,
      contentMd5: "bWQ1",
      fields: {},
    });
  });

  it("skips form fields before the file and keeps them as fields, after it too (curl -F file=@x -F k=v)", async () => {
    const before = await post(
      multipartBody([formPart("collection", "docs"), filePart("file", "a.bin", "data"), formPart("ttl", "3m")]),
    );
    expect(before.json).toMatchObject({ data: "data", fileName: "a.bin", fields: { collection: "docs", ttl: "3m" } });
  });

  it("takes the first part when no part has a filename; the others are fields", async () => {
    const r = await post(multipartBody([formPart("file", "first"), formPart("k", "v")]));
    expect(r.json).toMatchObject({ data: "first", fileName: "", contentType: "", fields: { k: "v" } });
  });

  it("keeps the first value of a field named twice, as Go's FormValue", async () => {
    const r = await post(multipartBody([filePart("f", "x", "x"), formPart("k", "one"), formPart("k", "two")]));
    expect(r.json["fields"]).toEqual({ k: "one" });
  });

  it("picks as SeaweedFS's parseUpload does, and reads any split of the body the same (property)", async () => {
    const part = fc.record({
      withFile: fc.boolean(),
      body: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(part, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        async (parts, cuts) => {
          const body = multipartBody(
            parts.map((p, i) => (p.withFile ? filePart(`p${i}`, `f${i}.bin`, p.body) : formPart(`p${i}`, p.body))),
          );
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < body.length; i++) {
            const n = cuts[i % cuts.length]!;
            chunks.push(body.subarray(at, at + n));
            at += n;
          }
          const r = await post(Readable.from(chunks));
          const want = parts.findIndex((p) => p.withFile);
          const chosen = want >= 0 ? want : 0;
          expect(r.status).toBe(200);
          expect(Buffer.from(r.json["data"] as string, "latin1")).toEqual(parts[chosen]!.body);
          expect(r.json["fileName"]).toBe(want >= 0 ? `f${want}.bin` : "");
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("a part larger than a stream buffer (16 KiB)", () => {
  it("is read whole when it ends in the chunk holding its boundary, closing dashes later or not", async () => {
    for (const size of [16 * 1024 - 1, 16 * 1024, 16 * 1024 + 7, 40_000]) {
      const body = multipartBody([filePart("f", "big.bin", Buffer.alloc(size, 9))]);
      const tail = "--\r\n".length; // the dashes that close the body, in a chunk of their own
      for (const chunks of [[body], [body.subarray(0, body.length - tail), body.subarray(body.length - tail)]]) {
        const r = await post(Readable.from(chunks));
        expect(r.status).toBe(200);
        expect(r.outcome.upload?.data.length).toBe(size);
      }
    }
  });
});

describe("limits: 413 naming the limit", () => {
  it("a file part over the limit is refused in SeaweedFS's words; exactly at the limit is fine", async () => {
    const over = await post(multipartBody([filePart("f", "big.bin", Buffer.alloc(LIMIT + 1, 1))]));
    expect(over.status).toBe(413);
    expect(over.json).toEqual({ error: `file over the limited ${LIMIT} bytes` });
    expect(over.outcome.error?.code).toBe(ErrorCode.TOO_LARGE);
    const at = await post(multipartBody([filePart("f", "big.bin", Buffer.alloc(LIMIT, 1))]));
    expect(at.status).toBe(200);
  });

  it("a raw body over the limit: declared, and streamed without a length", async () => {
    const declared = await post(Buffer.alloc(LIMIT + 1), { "content-type": "application/octet-stream" }, "PUT");
    expect(declared.status).toBe(413);
    expect(declared.json).toEqual({ error: `file over the limited ${LIMIT} bytes` });
    const streamed = await post(Readable.from([Buffer.alloc(LIMIT), Buffer.alloc(1)]), {}, "PUT");
    expect(streamed.status).toBe(413);
  });

  it("a multipart body over file limit + overhead, though its file is small", async () => {
    const skipped = filePart("second", "skipped.bin", Buffer.alloc(LIMIT + multipartOverheadBytesMax));
    const r = await post(Readable.from([multipartBody([filePart("f", "a", "small"), skipped])]));
    expect(r.status).toBe(413);
    expect(r.json["error"]).toMatch(`multipart body over the limit of ${LIMIT + multipartOverheadBytesMax} bytes`);
  });

  it("a form field over multipartFieldBytesMax", async () => {
    const r = await post(
      multipartBody([filePart("f", "a", "x"), formPart("big", "v".repeat(multipartFieldBytesMax + 1))]),
    );
    expect(r.status).toBe(413);
    expect(r.json["error"]).toBe(`multipart field "big" is over the limit of ${multipartFieldBytesMax} bytes`);
  });

  it("more than multipartFieldsMax fields, and more than multipartPartsMax parts", async () => {
    const fields = Array.from({ length: multipartFieldsMax + 1 }, (_, i) => formPart(`k${i}`, "v"));
    const manyFields = await post(multipartBody([filePart("f", "a", "x"), ...fields]));
    expect(manyFields.status).toBe(413);
    expect(manyFields.json["error"]).toMatch(`more than ${multipartFieldsMax} fields`);
    const files = Array.from({ length: multipartPartsMax + 1 }, (_, i) => filePart(`f${i}`, `${i}.bin`, "x"));
    const manyParts = await post(multipartBody(files));
    expect(manyParts.status).toBe(413);
    expect(manyParts.json["error"]).toBe(`multipart upload has more than ${multipartPartsMax} parts`);
  });
});

describe("malformed bodies: 400, every stream's error handled", () => {
  it("issue 9: a body without its closing boundary is a 400 JSON error, not an unhandled 'error' event", async () => {
    const cut = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc`);
    const r = await post(cut);
    expect(r.status).toBe(400);
    expect(r.json["error"]).toMatch(/^malformed multipart body: /);
    expect(r.outcome.error?.code).toBe(ErrorCode.BAD_REQUEST);
    // Also cut inside a part's header block, inside the preamble, and right after a boundary.
    for (const body of [`--${BOUNDARY}\r\nContent-Disp`, "no boundary at all", `--${BOUNDARY}\r\n`]) {
      const again = await post(Buffer.from(body));
      expect(again.status).toBe(400);
    }
  });

  it("a part whose header block never ends does not hang the request", async () => {
    const r = await post(
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n--${BOUNDARY}--\r\n`),
    );
    expect(r.status).toBe(400);
    expect(r.json["error"]).toBe("multipart upload has no part");
  });

  it("no part, or no boundary in Content-Type", async () => {
    expect((await post(Buffer.from(`--${BOUNDARY}--\r\n`))).status).toBe(400);
    const r = await post(Buffer.from("x"), { "content-type": "multipart/form-data" });
    expect(r.status).toBe(400);
    expect(r.json["error"]).toMatch(/without a usable boundary/);
  });

  it("the same connection carries the next request after a refusal", async () => {
    const cut = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc`;
    const good = multipartBody([filePart("f", "ok.txt", "fine")]);
    const head = (len: number, close: boolean): string =>
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: ${MULTIPART}\r\nContent-Length: ${len}\r\n` +
      (close ? "Connection: close\r\n" : "") +
      "\r\n";
    const text = await rawExchange(head(cut.length, false) + cut + head(good.length, true), good);
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(["HTTP/1.1 400", "HTTP/1.1 200"]);
    await nextOutcome();
    await nextOutcome();
  });
});

describe("a client that goes away mid-upload", () => {
  it("settles the read with a 400, leaves no listener on the request, and the server goes on", async () => {
    for (const contentType of [MULTIPART, "application/octet-stream"]) {
      const outcome = nextOutcome();
      const sock = connect(port, "127.0.0.1");
      await new Promise<void>((r) => sock.once("connect", () => r()));
      sock.write(
        `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: ${LIMIT / 2}\r\n\r\n` +
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n` +
          "a".repeat(1000),
      );
      await new Promise((r) => setTimeout(r, 20));
      sock.destroy();
      const o = await outcome;
      expect(o.error?.code).toBe(ErrorCode.BAD_REQUEST);
      expect(o.listenersLeft).toBe(0);
    }
    const r = await post(multipartBody([filePart("f", "after.txt", "still here")]));
    expect(r.json).toMatchObject({ data: "still here", fileName: "after.txt" });
  });
});

describe("Content-Disposition file names (RFC 6266, filename* per RFC 8187)", () => {
  it("reads quoted names holding ';', escaped quotes, and plain tokens", () => {
    expect(dispositionFileName('form-data; name="f"; filename="a;b.txt"', false)).toBe("a;b.txt");
    expect(dispositionFieldName('form-data; name="x;y"; filename="a"')).toBe("x;y");
    expect(dispositionFileName('form-data; name="f"; filename="say \\"hi\\".txt"', false)).toBe('say "hi".txt');
    expect(dispositionFileName("attachment; filename=plain.txt", true)).toBe("plain.txt");
  });

  it("prefers filename* over filename in either order; falls back on an unknown charset", () => {
    const euro = "filename*=UTF-8''%E2%82%AC%20rates.txt";
    expect(dispositionFileName(`attachment; filename="x.txt"; ${euro}`, true)).toBe("€ rates.txt");
    expect(dispositionFileName(`attachment; ${euro}; filename="x.txt"`, true)).toBe("€ rates.txt");
    expect(dispositionFileName("attachment; filename*=iso-8859-1'en'%A3.txt", true)).toBe("£.txt");
    expect(dispositionFileName("attachment; filename*=KOI8-R''%C1.txt; filename=\"fallback.txt\"", true)).toBe(
      "fallback.txt",
    );
  });

  it("has no file name without filename; name= counts for a raw body only", () => {
    expect(dispositionFileName('form-data; name="field"', false)).toBe("");
    expect(dispositionFileName('inline; name="n.txt"', true)).toBe("n.txt");
    expect(dispositionFileName("", true)).toBe("");
    expect(dispositionFileName(undefined, true)).toBe("");
  });

  it("keeps the base name of a path, either separator", () => {
    expect(dispositionFileName('form-data; filename="C:\\\\Users\\\\me\\\\photo.jpg"', false)).toBe("photo.jpg");
    expect(dispositionFileName('form-data; filename="../../etc/passwd"', false)).toBe("passwd");
  });

  it("reads UTF-8 bytes in a header (one character per byte on the wire) as UTF-8", async () => {
    expect(headerText(Buffer.from("é.txt", "utf8").toString("latin1"))).toBe("é.txt");
    expect(headerText("plain")).toBe("plain");
    const r = await post(multipartBody([filePart("f", "résumé €.pdf", "x")]));
    expect(r.json["fileName"]).toBe("résumé €.pdf");
  });

  it("finds the boundary of a Content-Type, quoted or not", () => {
    expect(multipartBoundary("multipart/form-data; boundary=----abc123")).toBe("----abc123");
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="quoted b"')).toBe("quoted b");
    expect(multipartBoundary("multipart/form-data")).toBeUndefined();
    expect(multipartBoundary(`multipart/form-data; boundary=${"b".repeat(201)}`)).toBeUndefined();
  });

  it("round-trips any file name a client quotes with backslash escapes (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((s) => !/[/\\\r\n]/.test(s)),
        (name) => {
          const quoted = name.replace(/["\\]/g, (c) => `\\${c}`);
          expect(dispositionFileName(`form-data; name="f"; filename="${quoted}"`, false)).toBe(name);
        },
      ),
      { numRuns: 300 },
    );
  });
});
