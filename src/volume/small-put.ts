// The usual upload, written with one promise instead of seven: a raw body with a Content-Length
// PUT (or POSTed, not as a form) to a plain fid, with no query, no token to check, no Seaweed-*
// pairs, no Content-MD5, Content-Encoding or Content-Disposition, to a volume held here that has
// no other replica. Everything else goes through handlers-write.ts, which answers the same for
// these (test/unit/volume/small-put.test.ts). The guarantees are the same: the body is counted
// under -concurrentUploadLimitMB while it is read, the needle is appended (and fsync'd under
// -fsync) before the 201 is written, and a refusal leaves nothing behind. Without -fsync the
// uploads that end in one turn of the event loop share one pwritev (Volume.writeSoon).
import type { IncomingMessage, ServerResponse } from "node:http";
import { assert, ErrorCode, WeedError } from "../common/errors.js";
import type { NeedleInput, WriteResult } from "./storage/store-api.js";
import { joinKey } from "./storage/needle-key.js";
import type { VolumeHttpContext } from "./http-context.js";
import { parsePlainFid, type PlainFid } from "./handlers-read.js";
import { answerWrite, pairsOf, resolveMime, type UploadResources } from "./handlers-write.js";
import type { InflightTicket } from "./inflight-limit.js";

/** What the small-write path needs of a request it takes; undefined when it is not one. */
interface SmallPut {
  fid: PlainFid;
  /** The fid as sent, SeaweedFS's name for a raw body that names no file. */
  fileName: string;
  contentType: string;
  declared: number;
}

/** The request, when the small-write path takes it (see the file comment); decided before a byte is read. */
function smallPutOf(ctx: VolumeHttpContext, req: IncomingMessage): SmallPut | undefined {
  const url = req.url ?? "/";
  if (ctx.fidTokens?.write !== undefined || url.indexOf("?") >= 0) return undefined;
  const fid = parsePlainFid(url);
  if (fid === undefined) return undefined;
  const h = req.headers;
  const contentType = h["content-type"] ?? "";
  if (req.method === "POST" && contentType.includes("form-data")) return undefined;
  if (h["content-encoding"] !== undefined || h["content-md5"] !== undefined) return undefined;
  if (h["content-disposition"] !== undefined || pairsOf(req) !== undefined) return undefined;
  const declared = Number(h["content-length"] ?? "NaN");
  if (!Number.isSafeInteger(declared) || declared <= 0 || declared > ctx.fileSizeLimitBytes) return undefined;
  if (!ctx.replicator.writesHereOnly(fid.volumeId)) return undefined;
  // The plain fid path is ASCII with nothing to decode: the name handlers-write.ts would give it.
  return { fid, fileName: url.slice(1), contentType, declared };
}

/**
 * Takes the request when it is a small upload (see the file comment) and there is room under
 * -concurrentUploadLimitMB at once; returns undefined, having done nothing, otherwise.
 */
export function trySmallPut(
  ctx: VolumeHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  uploads: UploadResources,
): Promise<void> | undefined {
  const put = smallPutOf(ctx, req);
  if (put === undefined) return undefined;
  let ticket: InflightTicket | undefined;
  if (uploads.limit.limited) {
    ticket = uploads.limit.tryAcquire(put.declared);
    if (ticket === undefined) return undefined; // the general path waits for room
  }
  return new Promise<void>((resolve, reject) => {
    readBody(req, uploads.buffers.take(put.declared), (err, data) => {
      const finish = (e: Error | undefined): void => {
        uploads.buffers.give(data); // written, or refused: nothing holds it any more
        ticket?.release();
        if (e === undefined) resolve();
        else reject(e);
      };
      if (err !== undefined) return finish(err);
      // Called from a request event: a throw here would be nobody's to catch.
      try {
        store(ctx, res, put, data, finish);
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}

/**
 * Appends the needle here (with the other small uploads of this turn, see Volume.writeSoon) and
 * answers 201 or 204, then calls `finish`; may throw before anything is queued.
 */
function store(
  ctx: VolumeHttpContext,
  res: ServerResponse,
  put: SmallPut,
  data: Buffer,
  finish: (err: Error | undefined) => void,
): void {
  const { fid, fileName } = put;
  const needle: NeedleInput = { key: joinKey(fid.keyHi, fid.keyLo), cookie: fid.cookie, data, gzipped: false };
  needle.name = fileName;
  const mime = resolveMime(put.contentType, fileName, "");
  if (mime !== undefined) needle.mime = mime;
  const summary = { fileName, bytes: data.length, mime, md5: undefined };
  const answer = (err: Error | undefined, r: WriteResult | undefined): void => {
    if (err === undefined) {
      try {
        answerWrite(ctx, res, r!, summary);
      } catch (e) {
        err = e as Error;
      }
    }
    finish(err);
  };
  if (!ctx.fsync && ctx.store.writeSoon(fid.volumeId, needle, answer)) return;
  ctx.store.write(fid.volumeId, needle, { fsync: ctx.fsync }).then(
    (r) => answer(undefined, r),
    (e: unknown) => answer(e as Error, undefined),
  );
}

/**
 * Reads a body of a declared length into `into` (from the upload buffers, of that length): `done`
 * once, with the bytes or a refusal (the client went away or the stream failed). Listeners stay
 * until the request is gone; after `done` they do nothing (the error answer may drain the rest).
 */
function readBody(req: IncomingMessage, into: Buffer, done: (err: WeedError | undefined, data: Buffer) => void): void {
  let size = 0;
  let settled = false;
  const settle = (err: WeedError | undefined): void => {
    if (settled) return;
    settled = true;
    if (err !== undefined) req.pause();
    done(err, into);
  };
  req.on("data", (chunk: Buffer) => {
    if (settled) return;
    // node:http never delivers more than the Content-Length it parsed.
    assert(size + chunk.length <= into.length, "a body is no longer than its Content-Length");
    chunk.copy(into, size);
    size += chunk.length;
  });
  req.on("end", () => settle(size === into.length ? undefined : cutShort(size, into.length)));
  // The errors are built only when they are answered: an Error captures a stack (~2 us), and
  // "close" comes after every request, its body read or not.
  req.on("error", (err: Error) => {
    if (!settled)
      settle(
        new WeedError(ErrorCode.BAD_REQUEST, `reading the upload body failed: ${err.message}`, {
          cause: err,
        }),
      );
  });
  // A client gone before the end: node:http emits "close" (and "error" only when listened to).
  req.on("close", () => {
    if (!settled)
      settle(new WeedError(ErrorCode.BAD_REQUEST, "client closed the connection before the upload body ended"));
  });
}

function cutShort(got: number, declared: number): WeedError {
  return new WeedError(ErrorCode.BAD_REQUEST, `upload body ended after ${got} of ${declared} bytes`);
}
