// GET and HEAD /<fid>: the hot path. One synchronous store.read (a pread from the page cache), one
// writeHead with every header, one end(). No URL object, no query parse unless there is a query.
// SeaweedFS: weed/server/volume_server_handlers_read.go, common.go (ranges, disposition).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { validateHeaderName, validateHeaderValue } from "node:http";
import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { lookup as mimeLookup } from "mime-types";
import { ErrorCode, WeedError } from "../common/errors.js";
import { formatFid, parseFidPath, type ParsedPath } from "../common/fid.js";
import { sendError } from "../common/http-util.js";
import type { NeedleRecord } from "./storage/store-api.js";
import { splitUrl, type VolumeHttpContext } from "./http-context.js";
import { authorizeFid } from "./fid-auth.js";
import { contentRange, parseRange, type ByteRange } from "./http-range.js";
import { gunzipOutputBytesMax } from "./limits.js";
import { needleCacheRecordBytesMax } from "./storage/limits.js";

const OCTET_STREAM = "application/octet-stream";
/** Volume ids are uint32 (common/fid.ts refuses larger). */
const volumeIdMax = 0xffffffff;

/** Headers a stored "Seaweed-*" pair must not override: they describe the bytes we send. */
const RESERVED_PAIR_HEADERS = new Set([
  "accept-ranges",
  "connection",
  "content-disposition",
  "content-encoding",
  "content-length",
  "content-range",
  "content-type",
  "etag",
  "keep-alive",
  "last-modified",
  "transfer-encoding",
  "vary",
]);

export function etagOf(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, "0");
}

// Formatting an HTTP date costs ~0.3 us; needles uploaded together share seconds, so a small
// direct-mapped cache (slot = second mod size) answers most reads without formatting.
const dateCacheSlots = 1024;
const dateCacheSec = new Float64Array(dateCacheSlots).fill(-1);
const dateCacheText: string[] = new Array<string>(dateCacheSlots).fill("");
function httpDate(sec: number): string {
  const slot = sec & (dateCacheSlots - 1);
  if (dateCacheSec[slot] === sec) return dateCacheText[slot]!;
  const text = new Date(sec * 1000).toUTCString();
  dateCacheSec[slot] = sec;
  dateCacheText[slot] = text;
  return text;
}

function extOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

function contentTypeOf(n: NeedleRecord, pathExt: string): string {
  const m = n.mime;
  if (m !== undefined && m !== "" && m !== OCTET_STREAM) return m;
  const ext = pathExt !== "" ? pathExt : n.name !== undefined ? extOf(n.name) : "";
  if (ext !== "") {
    const t = mimeLookup(ext);
    if (t !== false) return t;
  }
  return OCTET_STREAM;
}

/** Go's strconv.ParseBool truths, as SeaweedFS reads ?dl= with it. */
function isTrue(v: string | null): boolean {
  return v === "1" || v === "t" || v === "T" || v === "true" || v === "TRUE" || v === "True";
}

/** If-None-Match: "*" or a list of (possibly weak) entity tags. */
function etagMatches(header: string, quoted: string): boolean {
  if (header === quoted || header === "*") return true;
  if (header.indexOf(",") < 0 && !header.startsWith("W/")) return false;
  for (const raw of header.split(",")) {
    let t = raw.trim();
    if (t.startsWith("W/")) t = t.slice(2);
    if (t === quoted || t === "*") return true;
  }
  return false;
}

function addPairs(headers: OutgoingHttpHeaders, pairs: Record<string, string>): void {
  for (const name of Object.keys(pairs)) {
    const value = pairs[name];
    if (typeof value !== "string" || RESERVED_PAIR_HEADERS.has(name.toLowerCase())) continue;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      continue; // stored by another writer with bytes a header cannot carry: skip, do not fail the read
    }
    headers[name] = value;
  }
}

/** "/<vid>,<key><cookie>" with nothing else (no extension, name or _N): the form clients use. */
const PLAIN_FID_PATH = /^\/(\d{1,10}),([0-9a-fA-F]{9,24})$/;

/**
 * parseFidPath for the plain form without the split, filter and re-joined string it builds for
 * every form; what it refuses (a volume id over 2^32-1) goes to parseFidPath for the error.
 * Reads and writes both parse with it.
 */
export function parseBlobPath(path: string): ParsedPath {
  const m = PLAIN_FID_PATH.exec(path);
  if (m === null) return parseFidPath(path);
  const volumeId = Number(m[1]);
  if (volumeId > volumeIdMax) return parseFidPath(path);
  const hex = m[2]!;
  const split = hex.length - 8;
  const fid = { volumeId, key: BigInt("0x" + hex.slice(0, split)), cookie: Number.parseInt(hex.slice(split), 16) };
  return { fid, fileName: undefined, ext: "" };
}

const CHAR_SLASH = 0x2f;
const CHAR_COMMA = 0x2c;
const CHAR_0 = 0x30;
const CHAR_9 = 0x39;
/** Lower-case a hex letter (A-F) by this bit. */
const CASE_BIT = 0x20;
const CHAR_A_LOWER = 0x61;
const CHAR_F_LOWER = 0x66;
/** A volume id has at most 10 decimal digits (uint32); a key and cookie at most 16 + 8 hex digits. */
const volumeIdDigitsMax = 10;
const fidHexDigitsMin = 9;
const fidHexDigitsMax = 24;
/** Hex digits in the cookie (the last 8) and in each u32 half of the key. */
const hexDigitsPerU32 = 8;

/** Whether the char code `c` is an ASCII decimal digit (a fid path starts with one). */
export function isDigitCode(c: number): boolean {
  return c >= CHAR_0 && c <= CHAR_9;
}

/** A plain fid ("/<vid>,<key><cookie>") as numbers: the key as its two u32 halves. */
export interface PlainFid {
  volumeId: number;
  keyHi: number;
  keyLo: number;
  cookie: number;
}

function hexValue(c: number): number {
  if (c >= CHAR_0 && c <= CHAR_9) return c - CHAR_0;
  const l = c | CASE_BIT;
  return l >= CHAR_A_LOWER && l <= CHAR_F_LOWER ? l - CHAR_A_LOWER + 10 : -1;
}

/** The u32 of the hex digits path[from, to) (at most 8, all checked hex); -1 when one is not hex. */
function hexU32(path: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = hexValue(path.charCodeAt(i));
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * PLAIN_FID_PATH's form read digit by digit, with no match array, substring or BigInt: undefined
 * for anything else (a name, an extension, a volume id over 2^32-1), which parseFidPath then reads
 * or refuses. The GET path's parser; the same fids as parseBlobPath (test/unit/volume/blob-path.test.ts).
 */
export function parsePlainFid(path: string): PlainFid | undefined {
  const n = path.length;
  if (path.charCodeAt(0) !== CHAR_SLASH) return undefined;
  let volumeId = 0;
  let i = 1;
  for (; i < n && i <= volumeIdDigitsMax; i++) {
    const c = path.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) break;
    volumeId = volumeId * 10 + (c - CHAR_0);
  }
  if (i === 1 || path.charCodeAt(i) !== CHAR_COMMA || volumeId > volumeIdMax) return undefined;
  const hexStart = i + 1;
  const hexDigits = n - hexStart;
  if (hexDigits < fidHexDigitsMin || hexDigits > fidHexDigitsMax) return undefined;
  const cookieStart = n - hexDigitsPerU32;
  const loStart = Math.max(hexStart, cookieStart - hexDigitsPerU32);
  const cookie = hexU32(path, cookieStart, n);
  const keyLo = hexU32(path, loStart, cookieStart);
  const keyHi = hexU32(path, hexStart, loStart);
  if (cookie < 0 || keyLo < 0 || keyHi < 0) return undefined;
  return { volumeId, keyHi, keyLo, cookie };
}

function readNeedle(
  ctx: VolumeHttpContext,
  path: string,
): { n: NeedleRecord; pathFileName: string | undefined; pathExt: string } {
  try {
    const plain = parsePlainFid(path);
    if (plain !== undefined) {
      const n = ctx.store.readSplit(plain.volumeId, plain.keyHi, plain.keyLo, plain.cookie);
      return { n, pathFileName: undefined, pathExt: "" };
    }
    const { fid, fileName, ext } = parseFidPath(path);
    return { n: ctx.store.read(fid.volumeId, fid.key, fid.cookie), pathFileName: fileName, pathExt: ext.toLowerCase() };
  } catch (err) {
    if (err instanceof WeedError && err.code === ErrorCode.CORRUPT) {
      const { fid } = parseFidPath(path);
      ctx.logger.error(
        { fid: formatFid(fid), volumeId: fid.volumeId, err: err.message },
        "needle read failed its check: answering 500",
      );
    }
    throw err;
  }
}

/**
 * Answers a GET or HEAD. `onRead` is told the bytes of the needle read (held until the response
 * is sent): -concurrentDownloadLimitMB counts them. Synchronous for a volume held here; a volume
 * held elsewhere is answered by -readMode (replication/remote-read.ts), asynchronously.
 */
export function handleRead(
  ctx: VolumeHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
  onRead?: (bytes: number) => void,
): void | Promise<void> {
  const key = ctx.fidTokens?.read;
  if (key === undefined) return serveRead(ctx, req, res, head, onRead);
  // [jwt.signing.read]: a read token for the fid first (a proxied read hands it on to the holder).
  const { path, query } = splitUrl(req.url ?? "/");
  return authorizeFid(key, req, path, query).then((token) => serveRead(ctx, req, res, head, onRead, token));
}

/** `token`: the client's read token, when reads are signed (a read of a volume held elsewhere hands it on). */
function serveRead(
  ctx: VolumeHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  head: boolean,
  onRead?: (bytes: number) => void,
  token?: string,
): void | Promise<void> {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  let found: ReturnType<typeof readNeedle>;
  try {
    found = readNeedle(ctx, q < 0 ? url : url.slice(0, q));
  } catch (err) {
    if (!(err instanceof WeedError && err.code === ErrorCode.VOLUME_NOT_FOUND)) throw err;
    const { fid } = parseFidPath(q < 0 ? url : url.slice(0, q));
    return ctx.remoteReads.serve(req, res, fid.volumeId, head, token);
  }
  const { n, pathFileName, pathExt } = found;
  onRead?.(n.data.length);
  if (q < 0 && pathFileName === undefined && n.pairs === undefined && !n.gzipped && isPlainAsk(req)) {
    if (head) {
      res.writeHead(200, plainHeaders(n));
      res.end();
      return;
    }
    ctx.responses.send(res, 200, plainHeaders(n), n.data);
    ctx.metrics.bytesRead(n.data.length);
    return;
  }
  const quotedEtag = `"${etagOf(n.crc)}"`;
  const lastModified = n.lastModified !== 0 ? httpDate(n.lastModified) : undefined;

  if (isNotModified(req, quotedEtag, n.lastModified)) {
    const h: OutgoingHttpHeaders = { ETag: quotedEtag };
    if (lastModified !== undefined) h["Last-Modified"] = lastModified;
    res.writeHead(304, h);
    res.end();
    return;
  }

  let body = n.data;
  let gzipEncoded = false;
  if (n.gzipped) {
    const ae = req.headers["accept-encoding"];
    if (ae !== undefined && ae.includes("gzip")) gzipEncoded = true;
    else body = gunzipStored(ctx, n, url);
  }

  const fileName = pathFileName ?? n.name;
  const disposition = fileName !== undefined && fileName !== "" ? dispositionOf(fileName, url, q) : undefined;
  const contentType = contentTypeOf(n, pathExt);
  const headers = headersOf(n, contentType, quotedEtag, lastModified, gzipEncoded, disposition);
  sendBody(ctx, req, res, headers, body, gzipEncoded, head);
}

/** A GET with no Range and no validator to check: the whole body, 200. */
function isPlainAsk(req: IncomingMessage): boolean {
  const h = req.headers;
  return h.range === undefined && h["if-none-match"] === undefined && h["if-modified-since"] === undefined;
}

/**
 * The 200 headers of a plain-fid GET of `n` (no pairs, not gzipped), kept per needle object: a
 * needle in the store's cache (needle-cache.ts) answers many reads with the same object, and its
 * ETag, dates and disposition then cost nothing. Only for needles the cache may hold: a larger
 * one is a new object per read, and a WeakMap entry per read would only feed the collector. A
 * flat array, which node's writeHead walks without the for-in and own-property check an object
 * costs. Never mutated once built.
 */
const plainHeadersByNeedle = new WeakMap<NeedleRecord, string[]>();

function plainHeaders(n: NeedleRecord): string[] {
  const cacheable = n.data.length <= needleCacheRecordBytesMax;
  let h = cacheable ? plainHeadersByNeedle.get(n) : undefined;
  if (h !== undefined) return h;
  // The order headersOf gives them.
  h = ["Content-Type", contentTypeOf(n, ""), "ETag", `"${etagOf(n.crc)}"`, "Accept-Ranges", "bytes"];
  if (n.lastModified !== 0) h.push("Last-Modified", httpDate(n.lastModified));
  if (n.name !== undefined && n.name !== "") h.push("Content-Disposition", dispositionOf(n.name, "", -1));
  h.push("Content-Length", String(n.data.length));
  if (cacheable) plainHeadersByNeedle.set(n, h);
  return h;
}

/** The response headers of any needle (plainHeaders covers the usual GET). */
function headersOf(
  n: NeedleRecord,
  contentType: string,
  quotedEtag: string,
  lastModified: string | undefined,
  gzipEncoded: boolean,
  disposition: string | undefined,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  if (n.pairs !== undefined) addPairs(headers, n.pairs);
  headers["Content-Type"] = contentType;
  headers["ETag"] = quotedEtag;
  headers["Accept-Ranges"] = "bytes";
  if (lastModified !== undefined) headers["Last-Modified"] = lastModified;
  if (n.gzipped) headers["Vary"] = "Accept-Encoding";
  if (gzipEncoded) headers["Content-Encoding"] = "gzip";
  if (disposition !== undefined) headers["Content-Disposition"] = disposition;
  return headers;
}

/** Content-Disposition for `fileName`: attachment when ?dl= is true, else inline. */
function dispositionOf(fileName: string, url: string, q: number): string {
  const dl = q >= 0 && isTrue(new URLSearchParams(url.slice(q + 1)).get("dl"));
  return `${dl ? "attachment" : "inline"}; filename="${encodeURIComponent(fileName)}"`;
}

/** 200 with the whole body, 206 with one or several ranges, or 416. */
function sendBody(
  ctx: VolumeHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  headers: OutgoingHttpHeaders,
  body: Buffer,
  gzipEncoded: boolean,
  head: boolean,
): void {
  const rangeHeader = req.headers.range;
  let range =
    rangeHeader !== undefined &&
    ifRangeHolds(req, headers["ETag"] as string, headers["Last-Modified"] as string | undefined)
      ? parseRange(rangeHeader, body.length)
      : undefined;
  // Several ranges of gzip-encoded bytes cannot be labelled honestly (Content-Encoding would cover
  // the multipart framing too): send the whole body, which RFC 9110 allows.
  if (gzipEncoded && range?.kind === "partial" && range.ranges.length > 1) range = undefined;
  if (range === undefined || range.kind === "full") return sendSlice(ctx, res, 200, headers, body, head);
  if (range.kind === "unsatisfiable") {
    res.setHeader("Content-Range", `bytes */${body.length}`);
    sendError(
      res,
      new WeedError(
        ErrorCode.RANGE_NOT_SATISFIABLE,
        `range ${JSON.stringify(rangeHeader)} not satisfiable for ${body.length} bytes`,
      ),
    );
    return;
  }
  if (range.ranges.length === 1) {
    const r = range.ranges[0]!;
    headers["Content-Range"] = contentRange(r, body.length);
    return sendSlice(ctx, res, 206, headers, body.subarray(r.start, r.end + 1), head);
  }
  sendByteRanges(ctx, res, headers, body, range.ranges, head);
}

function sendSlice(
  ctx: VolumeHttpContext,
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  bytes: Buffer,
  head: boolean,
): void {
  headers["Content-Length"] = bytes.length;
  res.writeHead(status, headers);
  if (head) {
    res.end();
    return;
  }
  res.end(bytes);
  ctx.metrics.bytesRead(bytes.length);
}

function isNotModified(req: IncomingMessage, quotedEtag: string, lastModifiedSec: number): boolean {
  const inm = req.headers["if-none-match"];
  // RFC 9110 §13.2.2: If-None-Match, when present, decides alone.
  if (inm !== undefined) return etagMatches(inm, quotedEtag);
  if (lastModifiedSec === 0) return false;
  const ims = req.headers["if-modified-since"];
  if (ims === undefined) return false;
  const t = Date.parse(ims);
  return !Number.isNaN(t) && Math.floor(t / 1000) >= lastModifiedSec;
}

/** If-Range: the Range applies only when the validator still matches (else send the whole body). */
function ifRangeHolds(req: IncomingMessage, quotedEtag: string, lastModified: string | undefined): boolean {
  const v = req.headers["if-range"];
  if (v === undefined) return true;
  return v === quotedEtag || (lastModified !== undefined && v === lastModified);
}

function gunzipStored(ctx: VolumeHttpContext, n: NeedleRecord, url: string): Buffer {
  try {
    return gunzipSync(n.data, { maxOutputLength: gunzipOutputBytesMax });
  } catch (err) {
    ctx.logger.error({ url, err: (err as Error).message }, "stored gzip needle does not decompress");
    throw new WeedError(
      ErrorCode.CORRUPT,
      `stored gzip data of ${url} does not decompress: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Several ranges: one multipart/byteranges body (RFC 9110 §14.6), built whole; ranges are few and bounded. */
function sendByteRanges(
  ctx: VolumeHttpContext,
  res: ServerResponse,
  headers: OutgoingHttpHeaders,
  body: Buffer,
  ranges: ByteRange[],
  head: boolean,
): void {
  const boundary = randomBytes(12).toString("hex");
  const partType = headers["Content-Type"] as string;
  const chunks: Buffer[] = [];
  let sent = 0;
  for (const r of ranges) {
    chunks.push(
      Buffer.from(
        `\r\n--${boundary}\r\nContent-Type: ${partType}\r\nContent-Range: ${contentRange(r, body.length)}\r\n\r\n`,
      ),
    );
    chunks.push(body.subarray(r.start, r.end + 1));
    sent += r.end - r.start + 1;
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const out = Buffer.concat(chunks);
  headers["Content-Type"] = `multipart/byteranges; boundary=${boundary}`;
  headers["Content-Length"] = out.length;
  res.writeHead(206, headers);
  if (head) res.end();
  else {
    res.end(out);
    ctx.metrics.bytesRead(sent);
  }
}
