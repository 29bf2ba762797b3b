// POST/PUT /<fid>: multipart or raw upload, appended as one needle.
// SeaweedFS: weed/server/volume_server_handlers_write.go, weed/storage/needle/needle_parse_upload.go.
//
// Bytes are stored exactly as sent. SeaweedFS gzips compressible uploads on its own; we do not:
// the ETag then stays the CRC of what the client sent, reads need no inflate, and a client that
// wants compression sends Content-Encoding: gzip (stored flagged, served as SeaweedFS serves it).
import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { lookup as mimeLookup } from "mime-types";
import { ErrorCode, WeedError } from "../common/errors.js";
import { parseFidPath } from "../common/fid.js";
import { sendJson } from "../common/http-util.js";
import { parseTtl } from "../common/ttl.js";
import type { NeedleInput } from "./storage/store-api.js";
import { splitUrl, type VolumeHttpContext } from "./http-context.js";
import { etagOf } from "./handlers-read.js";
import { gunzipOutputBytesMax } from "./limits.js";
import { needlePairsBytesMax } from "./storage/limits.js";
import { readVolumeUpload } from "./upload-parse.js";

const OCTET_STREAM = "application/octet-stream";
const PAIR_PREFIX = "seaweed-";

/** Go's textproto.CanonicalMIMEHeaderKey: "x-foo-bar" -> "X-Foo-Bar", as SeaweedFS stores pair names. */
export function canonicalHeaderKey(name: string): string {
  let out = "";
  let upper = true;
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === "-";
  }
  return out;
}

/** "Seaweed-<Name>: v" request headers as {Name: v} (first value wins, as Go's Header.Get). */
export function pairsOf(req: IncomingMessage): Record<string, string> | undefined {
  const raw = req.rawHeaders;
  let pairs: Record<string, string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length <= PAIR_PREFIX.length || name.slice(0, PAIR_PREFIX.length).toLowerCase() !== PAIR_PREFIX) continue;
    const key = canonicalHeaderKey(name.slice(PAIR_PREFIX.length));
    pairs ??= Object.create(null) as Record<string, string>; // "__proto__" stays a plain key
    if (!(key in pairs)) pairs[key] = raw[i + 1]!;
  }
  return pairs;
}

function extOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

/** Explicit Content-Type unless it is application/octet-stream, else guessed from the extension. */
export function resolveMime(contentType: string, fileName: string, pathExt: string): string | undefined {
  if (contentType !== "" && contentType !== OCTET_STREAM) return contentType;
  const ext = extOf(fileName) || pathExt.toLowerCase();
  if (ext === "") return undefined;
  const m = mimeLookup(ext);
  return m === false ? undefined : m;
}

/** The uncompressed bytes of a gzip upload, or undefined when they do not inflate (then kept as-is). */
function tryGunzip(data: Buffer): Buffer | undefined {
  try {
    return gunzipSync(data, { maxOutputLength: gunzipOutputBytesMax });
  } catch {
    return undefined;
  }
}

interface WriteParams {
  ttlText: string;
  ts: number | undefined;
  fsync: boolean;
}

function writeParams(ctx: VolumeHttpContext, query: string): WriteParams {
  if (query === "") return { ttlText: "", ts: undefined, fsync: ctx.fsync };
  const p = new URLSearchParams(query);
  const tsText = p.get("ts") ?? "";
  // SeaweedFS ignores a ts that does not parse (strconv.ParseUint error dropped).
  const ts = /^\d{1,12}$/.test(tsText) ? Number(tsText) : undefined;
  return { ttlText: p.get("ttl") ?? "", ts: ts === 0 ? undefined : ts, fsync: ctx.fsync || p.get("fsync") === "true" };
}

export async function handleWrite(ctx: VolumeHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { path, query } = splitUrl(req.url ?? "/");
  const { fid, ext: pathExt } = parseFidPath(path);
  if (!ctx.store.hasVolume(fid.volumeId)) {
    throw new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${fid.volumeId} not found on ${ctx.serverId}`);
  }
  const params = writeParams(ctx, query);
  const ttl = parseTtl(params.ttlText);
  const pairs = pairsOf(req);
  if (pairs !== undefined && Buffer.byteLength(JSON.stringify(pairs)) > needlePairsBytesMax) {
    throw new WeedError(ErrorCode.BAD_REQUEST, `Seaweed-* headers are over ${needlePairsBytesMax} bytes as JSON`);
  }

  const upload = await readVolumeUpload(req, ctx.fileSizeLimitBytes, path);

  const uncompressed = upload.gzipped ? (tryGunzip(upload.data) ?? upload.data) : upload.data;
  const expectedMd5 = upload.contentMd5 ?? req.headers["content-md5"];
  if (expectedMd5 !== undefined && expectedMd5 !== "") {
    const actual = createHash("md5").update(uncompressed).digest("base64");
    if (actual !== expectedMd5) {
      throw new WeedError(
        ErrorCode.BAD_REQUEST,
        `Content-MD5 did not match md5 of file data expected [${expectedMd5}] ` +
          `received [${actual}] size ${uncompressed.length}`,
      );
    }
  }

  const mime = resolveMime(upload.contentType, upload.fileName, pathExt);
  const needle: NeedleInput = { key: fid.key, cookie: fid.cookie, data: upload.data, gzipped: upload.gzipped };
  if (upload.fileName !== "") needle.name = upload.fileName;
  if (mime !== undefined) needle.mime = mime;
  if (params.ts !== undefined) needle.lastModified = params.ts;
  if (ttl.count !== 0) needle.ttl = ttl;
  if (pairs !== undefined) needle.pairs = pairs;

  const result = await ctx.store.write(fid.volumeId, needle, { fsync: params.fsync });
  const etag = etagOf(result.crc);
  if (result.unchanged) {
    res.writeHead(204, { ETag: `"${etag}"` });
    res.end();
    return;
  }
  ctx.metrics.bytesWritten(result.size);
  // operation.UploadResult, omitempty fields left out when empty.
  const body: Record<string, string | number> = {};
  if (upload.fileName !== "") body["name"] = upload.fileName;
  body["size"] = uncompressed.length;
  body["eTag"] = etag;
  if (mime !== undefined) body["mime"] = mime;
  res.setHeader("ETag", `"${etag}"`);
  if (expectedMd5 !== undefined && expectedMd5 !== "") {
    body["contentMd5"] = expectedMd5;
    res.setHeader("Content-MD5", expectedMd5);
  }
  sendJson(res, 201, body);
}
