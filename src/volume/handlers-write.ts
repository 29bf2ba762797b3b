// POST/PUT /<fid>: multipart or raw upload, appended as one needle.
// SeaweedFS: weed/server/volume_server_handlers_write.go, weed/storage/needle/needle_parse_upload.go.
//
// Bytes are stored exactly as sent. SeaweedFS gzips compressible uploads on its own; we do not:
// the ETag then stays the CRC of what the client sent, reads need no inflate, and a client that
// wants compression sends Content-Encoding: gzip (stored flagged, served as SeaweedFS serves it).
//
// Memory: the body is one Buffer (multipart.ts reads a declared body straight into it), the record
// is written around it without a copy (storage/needle-parts.ts), and the bytes of uploads in
// flight are bounded by -concurrentUploadLimitMB (inflight-limit.ts). Hashing a large body (MD5,
// CRC32-C) goes a slice at a time, and inflating a gzip one runs on the thread pool, so the event
// loop keeps answering other requests meanwhile.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { createGunzip } from "node:zlib";
import { lookup as mimeLookup } from "mime-types";
import { assert, ErrorCode, WeedError } from "../common/errors.js";
import { parseFidPath } from "../common/fid.js";
import { clientGoneSignal } from "../common/http-util.js";
import { readUpload, type BodyBudget, type ReadUploadOptions, type Upload } from "../common/multipart.js";
import { multipartOverheadBytesMax } from "../common/multipart-limits.js";
import { parseTtl } from "../common/ttl.js";
import type { NeedleInput } from "./storage/store-api.js";
import { splitUrl, type VolumeHttpContext } from "./http-context.js";
import { etagOf, parseBlobPath } from "./handlers-read.js";
import type { InflightLimit, InflightTicket } from "./inflight-limit.js";
import type { UploadBuffers } from "./upload-buffers.js";
import { gunzipOutputBytesMax, inflateChunkBytes, md5SliceBytes } from "./limits.js";
import { needlePairsBytesMax } from "./storage/limits.js";
import { crc32c } from "@node-rs/crc32";
import { crc32cSliced, crcSliceBytes } from "./storage/needle-parts.js";
import { appendSyncBytesMax } from "./storage/volume.js";
import type { WriteResult } from "./storage/store-api.js";
import { readVolumeUpload } from "./upload-parse.js";
import { authorizeFidNow } from "./fid-auth.js";
import type { PeerAnswer, VolumeLocation } from "./replication/replica-client.js";
import { ReplicaOutcomeUnknown, type ReplicaNeedle } from "./replication/replicator.js";

const OCTET_STREAM = "application/octet-stream";
const PAIR_PREFIX = "seaweed-";
/** ASCII letters differ from their lower case by this bit. */
const CASE_BIT = 0x20;
const CHAR_S = 0x73;

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
    // The first letter decides for almost every header, without the slice and lowercase copies.
    if (name.length <= PAIR_PREFIX.length || (name.charCodeAt(0) | CASE_BIT) !== CHAR_S) continue;
    if (name.slice(0, PAIR_PREFIX.length).toLowerCase() !== PAIR_PREFIX) continue;
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

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** MD5 (base64) of `data`, a slice at a time with the event loop running in between. */
async function md5Sliced(data: Buffer): Promise<string> {
  const hash = createHash("md5");
  for (let at = 0; at < data.length; at += md5SliceBytes) {
    if (at > 0) await nextTick();
    hash.update(data.subarray(at, at + md5SliceBytes));
  }
  return hash.digest("base64");
}

interface Digest {
  /** Bytes of the uncompressed data. */
  bytes: number;
  /** Its MD5 in base64, when asked for. */
  md5: string | undefined;
}

/**
 * Length (and MD5) of a gzip upload's uncompressed bytes, inflated as a stream on the thread pool
 * and never held whole; undefined when it does not inflate within gunzipOutputBytesMax (then the
 * bytes count as they are, as before).
 */
async function inflatedDigest(data: Buffer, wantMd5: boolean): Promise<Digest | undefined> {
  const hash = wantMd5 ? createHash("md5") : undefined;
  let bytes = 0;
  const gunzip = createGunzip({ chunkSize: inflateChunkBytes });
  try {
    gunzip.end(data);
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > gunzipOutputBytesMax) return undefined;
      hash?.update(chunk);
    }
  } catch {
    return undefined;
  } finally {
    gunzip.destroy();
  }
  return { bytes, md5: hash?.digest("base64") };
}

/**
 * Size and MD5 (when asked for) of what the client sent: for a gzip upload, of its uncompressed
 * bytes. Synchronous when there is nothing to hash or inflate (the common upload: no await).
 */
function digestOf(upload: Upload, wantMd5: boolean): Digest | Promise<Digest> {
  if (!upload.gzipped && !wantMd5) return { bytes: upload.data.length, md5: undefined };
  return digestSlowly(upload, wantMd5);
}

async function digestSlowly(upload: Upload, wantMd5: boolean): Promise<Digest> {
  const inflated = upload.gzipped ? await inflatedDigest(upload.data, wantMd5) : undefined;
  if (inflated !== undefined) return inflated;
  return { bytes: upload.data.length, md5: wantMd5 ? await md5Sliced(upload.data) : undefined };
}

/**
 * The upload's place under -concurrentUploadLimitMB, waiting for room when there is none (the
 * client going away ends the wait). Counted by the declared Content-Length; a body without one is
 * counted as it arrives (`budget`) and cut once it would pass the bound. No ticket when there is
 * no limit, or when the declared length alone is over -fileSizeLimitMB (refused before any byte).
 */
function admitUpload(
  uploads: InflightLimit,
  req: IncomingMessage,
  res: ServerResponse,
  fileBytesMax: number,
): Admission | Promise<Admission> {
  const header = req.headers["content-length"];
  const declared = header === undefined ? 0 : Number(header);
  if (!uploads.limited || !(declared <= fileBytesMax + multipartOverheadBytesMax)) return NOT_COUNTED;
  // Room now (the usual case): no promise, no await.
  const ticket = uploads.tryAcquire(declared);
  if (ticket !== undefined) return admission(uploads, ticket, header !== undefined);
  return uploads
    .acquire(declared, clientGoneSignal(res))
    .then((waited) => admission(uploads, waited, header !== undefined));
}

interface Admission {
  ticket: InflightTicket | undefined;
  budget: BodyBudget | undefined;
}

const NOT_COUNTED: Admission = { ticket: undefined, budget: undefined };

function admission(uploads: InflightLimit, ticket: InflightTicket, declared: boolean): Admission {
  if (declared) return { ticket, budget: undefined };
  const why = "a body without Content-Length is counted as it arrives";
  return { ticket, budget: { take: (n) => (ticket.grow(n) ? undefined : uploads.refusal(n, why)) } };
}

interface WriteParams {
  ttlText: string;
  ts: number | undefined;
  fsync: boolean;
  /** `type=replicate`: another replica's copy of a write, stored here only (never sent on). */
  replicate: boolean;
}

function writeParams(ctx: VolumeHttpContext, query: string): WriteParams {
  if (query === "") return { ttlText: "", ts: undefined, fsync: ctx.fsync, replicate: false };
  const p = new URLSearchParams(query);
  const tsText = p.get("ts") ?? "";
  // SeaweedFS ignores a ts that does not parse (strconv.ParseUint error dropped).
  const ts = /^\d{1,12}$/.test(tsText) ? Number(tsText) : undefined;
  return {
    ttlText: p.get("ttl") ?? "",
    ts: ts === 0 ? undefined : ts,
    fsync: ctx.fsync || p.get("fsync") === "true",
    replicate: p.get("type") === "replicate",
  };
}

/** What uploads share: the bound on their bytes in flight, and the buffers bodies are read into. */
export interface UploadResources {
  limit: InflightLimit;
  buffers: UploadBuffers;
}

/**
 * A replica's copy of a write is stored exactly as sent: its name is the Content-Disposition's
 * (none is none, not the fid), its mime the Content-Type's, as the first server stored them.
 */
function readReplicaUpload(
  req: IncomingMessage,
  fileBytesMax: number,
  _path: string,
  opts: ReadUploadOptions,
): Promise<Upload> {
  return readUpload(req, fileBytesMax, opts);
}

export async function handleWrite(
  ctx: VolumeHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  uploads: UploadResources,
): Promise<void> {
  const { path, query } = splitUrl(req.url ?? "/");
  const { fid, ext: pathExt } = parseBlobPath(path);
  // Before anything is read or written: a secured cluster's token for this fid (replicas get it too).
  const key = ctx.fidTokens?.write;
  const checked = key === undefined ? undefined : authorizeFidNow(key, req, path, query);
  const auth = typeof checked === "object" ? await checked : checked;
  const params = writeParams(ctx, query);
  const held = ctx.store.hasVolume(fid.volumeId);
  if (!held && params.replicate) {
    throw new WeedError(ErrorCode.VOLUME_NOT_FOUND, `volume ${fid.volumeId} not found on ${ctx.serverId}`);
  }
  const ttl = parseTtl(params.ttlText);
  const pairs = pairsOf(req);
  if (pairs !== undefined && Buffer.byteLength(JSON.stringify(pairs)) > needlePairsBytesMax) {
    throw new WeedError(ErrorCode.BAD_REQUEST, `Seaweed-* headers are over ${needlePairsBytesMax} bytes as JSON`);
  }
  // Before a byte is read or written: the other replicas, or a refusal when too few are live.
  const to = params.replicate ? [] : await ctx.replicator.plan(fid.volumeId, "write");
  // A replica's copy is not held back by -concurrentUploadLimitMB (as SeaweedFS): the first server
  // holds room for it already, and two servers replicating to each other must not wait on each other.
  const admitted = params.replicate ? NOT_COUNTED : admitUpload(uploads.limit, req, res, ctx.fileSizeLimitBytes);
  const { ticket, budget } = admitted instanceof Promise ? await admitted : admitted;
  try {
    const allocate = (bytes: number): Buffer => uploads.buffers.take(bytes);
    const read = params.replicate ? readReplicaUpload : readVolumeUpload;
    const upload = await read(req, ctx.fileSizeLimitBytes, path, { budget, allocate });
    let reusable = true;
    try {
      await storeUpload(ctx, req, res, upload, { fid, path, pathExt, params, ttl, pairs, held, to, auth });
    } catch (err) {
      // A replica request cut short by a timeout may still be sending from it: never reused.
      if (err instanceof ReplicaOutcomeUnknown) reusable = false;
      throw err;
    } finally {
      if (reusable) uploads.buffers.give(upload.data); // written, or refused: nothing holds it any more
    }
  } finally {
    ticket?.release();
  }
}

interface WriteTarget {
  fid: ReturnType<typeof parseFidPath>["fid"];
  /** The fid path as the client sent it: replicas get the same. */
  path: string;
  pathExt: string;
  params: WriteParams;
  ttl: ReturnType<typeof parseTtl>;
  pairs: Record<string, string> | undefined;
  /** The volume is held here: written locally first. */
  held: boolean;
  /** The other replicas, [] when there are none (or this is a replica's copy). */
  to: VolumeLocation[];
  /** The client's write token ([jwt.signing]), sent on with the replicas' copies. */
  auth: string | undefined;
}

/** Checks Content-MD5, then appends the needle here and on every other replica, and answers. */
async function storeUpload(
  ctx: VolumeHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  upload: Upload,
  t: WriteTarget,
): Promise<void> {
  const { fid, pathExt, params, ttl, pairs } = t;
  const expectedMd5 = upload.contentMd5 ?? req.headers["content-md5"];
  const wantMd5 = expectedMd5 !== undefined && expectedMd5 !== "";
  const digested = digestOf(upload, wantMd5);
  const digest = digested instanceof Promise ? await digested : digested;
  if (wantMd5 && digest.md5 !== expectedMd5) {
    throw new WeedError(
      ErrorCode.BAD_REQUEST,
      `Content-MD5 did not match md5 of file data expected [${expectedMd5}] ` +
        `received [${digest.md5}] size ${digest.bytes}`,
    );
  }
  const mime = params.replicate
    ? upload.contentType === ""
      ? undefined
      : upload.contentType
    : resolveMime(upload.contentType, upload.fileName, pathExt);
  const needle: NeedleInput = { key: fid.key, cookie: fid.cookie, data: upload.data, gzipped: upload.gzipped };
  if (upload.fileName !== "") needle.name = upload.fileName;
  if (mime !== undefined) needle.mime = mime;
  // Every replica stores the same second, so each answers the same Last-Modified.
  const lastModified = params.ts ?? (t.to.length > 0 ? ctx.nowSec() : undefined);
  if (lastModified !== undefined) needle.lastModified = lastModified;
  if (ttl.count !== 0) needle.ttl = ttl;
  if (pairs !== undefined) needle.pairs = pairs;
  const summary = { fileName: upload.fileName, bytes: digest.bytes, mime, md5: expectedMd5 };
  if (t.to.length === 0) {
    assert(t.held, "a write with no other replica is to a volume held here (plan refused it else)");
    return answerWrite(ctx, res, await ctx.store.write(fid.volumeId, needle, { fsync: params.fsync }), summary);
  }
  const replica: ReplicaNeedle = {
    data: upload.data,
    name: upload.fileName,
    mime,
    pairs,
    lastModified: lastModified!,
    ttlText: params.ttlText,
    gzipped: upload.gzipped,
    fsync: params.fsync,
    contentMd5: wantMd5 ? expectedMd5 : undefined,
    etagExpected: undefined,
    auth: t.auth,
  };
  if (!t.held) {
    const answers = await ctx.replicator.write(t.path, fid.volumeId, t.to, replica);
    return answerForwarded(res, answers[0]!);
  }
  const result = writesInParallel(ctx, fid.volumeId, params.fsync, upload.data.length)
    ? await writeAlongside(ctx, t, needle, replica)
    : await writeThenReplicate(ctx, t, needle, replica);
  answerWrite(ctx, res, result, summary);
}

/**
 * Records at least this large are appended on the thread pool (Volume's appendSyncBytesMax): the
 * local write then takes as long as a replica's round trip, worth running alongside it.
 */
const parallelWriteBytesMin = appendSyncBytesMax;

/**
 * Whether the local write and the replicas' run at once: only when the local one has latency worth
 * hiding (an fsync, or a record written on the thread pool) and the volume takes writes. Else one
 * after the other, as before: a small write without fsync is appended in microseconds, and a write
 * this server refuses (read-only volume, wrong cookie) is refused before any replica got it.
 */
function writesInParallel(ctx: VolumeHttpContext, volumeId: number, fsync: boolean, bytes: number): boolean {
  if (!fsync && bytes < parallelWriteBytesMin) return false;
  return ctx.store.volumeInfo(volumeId)?.readOnly === false;
}

/** Writes here, then to every other replica (checked against the ETag stored here). */
async function writeThenReplicate(
  ctx: VolumeHttpContext,
  t: WriteTarget,
  needle: NeedleInput,
  replica: ReplicaNeedle,
): Promise<WriteResult> {
  const result = await ctx.store.write(t.fid.volumeId, needle, { fsync: t.params.fsync });
  await ctx.replicator.write(t.path, t.fid.volumeId, t.to, { ...replica, etagExpected: etagOf(result.crc) });
  return result;
}

/**
 * Writes here and to every other replica at once: the client waits for the slower of the two, not
 * their sum. The ETag every replica must store is the CRC32-C of the data, computed first (the
 * local write computes it again; a small cost next to the round trip it saves). Both are waited for:
 * a replica failure is outcome unknown (the replicator says so and marks the volume), and so is a
 * failed local write once any replica may have stored the needle.
 */
async function writeAlongside(
  ctx: VolumeHttpContext,
  t: WriteTarget,
  needle: NeedleInput,
  replica: ReplicaNeedle,
): Promise<WriteResult> {
  const data = replica.data;
  const crc = data.length > crcSliceBytes ? await crc32cSliced(data) : crc32c(data);
  const local = ctx.store.write(t.fid.volumeId, needle, { fsync: t.params.fsync });
  const remote = ctx.replicator.write(t.path, t.fid.volumeId, t.to, { ...replica, etagExpected: etagOf(crc) });
  const [here, there] = await Promise.allSettled([local, remote]);
  if (there.status === "rejected") throw there.reason;
  if (here.status === "fulfilled") return here.value;
  throw localFailedAfterReplicas(ctx, t, here.reason);
}

/**
 * The replicas stored the needle and this server did not: they differ now. Marked for a check
 * (volume.check.disk or the master's repair converges them), counted and logged as a replica
 * failure, and answered as outcome unknown, never as the local error's clean refusal.
 */
function localFailedAfterReplicas(ctx: VolumeHttpContext, t: WriteTarget, err: unknown): ReplicaOutcomeUnknown {
  const volumeId = t.fid.volumeId;
  const fid = t.path.slice(1);
  const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  ctx.store.markNeedsCheck(volumeId);
  ctx.metrics.replicaFailed("write");
  ctx.logger.warn(
    { volumeId, fid, replicas: t.to.map((l) => l.url), err: why },
    "local write failed after the replicas stored it: outcome unknown, the volume needs a check",
  );
  return new ReplicaOutcomeUnknown(
    `failed to write volume ${volumeId} on ${ctx.serverId} after its replicas (${t.to.map((l) => l.url).join(", ")}) ` +
      `stored it: outcome unknown, the write of ${fid} took effect on some replicas and not others (${why})`,
    { cause: err },
  );
}

/** A write this server forwarded (it does not hold the volume): the first replica's answer. */
function answerForwarded(res: ServerResponse, a: PeerAnswer): void {
  const etag = a.headers["etag"];
  if (typeof etag === "string") res.setHeader("ETag", etag);
  if (a.status === 204) {
    res.writeHead(204);
    res.end();
    return;
  }
  res.writeHead(a.status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(a.text) });
  res.end(a.text);
}

/** 201 with operation.UploadResult (omitempty fields left out when empty), or 204 when unchanged. */
export function answerWrite(
  ctx: VolumeHttpContext,
  res: ServerResponse,
  result: { crc: number; size: number; unchanged: boolean },
  u: { fileName: string; bytes: number; mime: string | undefined; md5: string | undefined },
): void {
  const etag = etagOf(result.crc);
  if (result.unchanged) {
    res.writeHead(204, { ETag: `"${etag}"` });
    res.end();
    return;
  }
  ctx.metrics.bytesWritten(result.size);
  // The JSON sendJson would write for these fields, in this order, without building an object
  // (the strings go through JSON.stringify for their escapes); the headers in one writeHead
  // object, which node writes out directly (a setHeader first sends it down the slow path).
  let text = u.fileName !== "" ? `{"name":${JSON.stringify(u.fileName)},` : "{";
  text += `"size":${u.bytes},"eTag":"${etag}"`;
  if (u.mime !== undefined) text += `,"mime":${JSON.stringify(u.mime)}`;
  const md5 = u.md5 !== undefined && u.md5 !== "" ? u.md5 : undefined;
  if (md5 !== undefined) text += `,"contentMd5":${JSON.stringify(md5)}`;
  text += "}";
  const headers: OutgoingHttpHeaders = {
    ETag: `"${etag}"`,
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": Buffer.byteLength(text),
  };
  if (md5 !== undefined) headers["Content-MD5"] = md5;
  res.writeHead(201, headers);
  res.end(text);
}
