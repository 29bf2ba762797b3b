// Reading an upload's body: the one reader behind the master's /submit and the volume server's
// POST/PUT /<fid> (SeaweedFS: both call needle.ParseUpload). A POST whose Content-Type says
// form-data is multipart (multipart-parts.ts picks the file part); anything else is the file
// itself. Bounded while streaming; every stream (request, parser, each part) has its errors
// handled, and the promise settles exactly once.
//
// Answers: a body over a limit is 413 Payload Too Large naming the limit; a body that is not
// well-formed multipart, or that stops early, is 400. SeaweedFS answers 400 for a file over the
// limit too: parseUpload returns "file over the limited %d bytes"
// (weed/storage/needle/needle_parse_upload.go:177-179, 204-206, 261-263), and both the volume
// server (weed/server/volume_server_handlers_write.go:45-49) and /submit
// (weed/server/common.go:149-152) write any parse error as 400; its Rust port does the same
// (seaweed-volume/src/server/handlers.rs:2219, 2341). We keep those words and take the precise
// status: SeaweedFS's own uploader retries only transport failures and 5xx
// (weed/operation/upload_content.go:148), so to it 413 and 400 are the same refusal.
//
// On a refusal the rest of the body is left unread and the request paused: each server's edge
// decides how much of it to discard before the connection is closed.
import type { IncomingMessage } from "node:http";
import { Dicer } from "@fastify/busboy";
import { dispositionFileName, headerText, multipartBoundary } from "./content-disposition.js";
import { ErrorCode, WeedError, assert } from "./errors.js";
import {
  multipartOverheadBytesMax,
  multipartPartHeaderBytesMax,
  multipartPartHeaderPairsMax,
} from "./multipart-limits.js";
import { fileTooLarge, malformed, PartPicker, type Upload } from "./multipart-parts.js";

export type { Upload } from "./multipart-parts.js";

/**
 * Counts a body's bytes as they arrive against a bound outside the reader (the volume server's
 * bytes of uploads in flight): `take` returns the refusal when `bytes` more do not fit, and the
 * body is cut there like one over the file limit.
 */
export interface BodyBudget {
  take(bytes: number): WeedError | undefined;
}

export interface ReadUploadOptions {
  /** Each chunk of the body is also taken from this budget. */
  budget?: BodyBudget | undefined;
  /** Where a raw body with a Content-Length is read into (default Buffer.allocUnsafe). */
  allocate?: (bytes: number) => Buffer;
}

/** SeaweedFS's test (parseUpload): a POST whose Content-Type mentions form-data. */
export function isMultipartUpload(req: IncomingMessage): boolean {
  return req.method === "POST" && (req.headers["content-type"] ?? "").includes("form-data");
}

/**
 * Reads the upload in `req`'s body, its file at most `fileBytesMax` bytes, each chunk also taken
 * from `opts.budget` when given. Rejects with a WeedError: TOO_LARGE (413) past a limit,
 * BAD_REQUEST (400) for a malformed or cut-off body, or the budget's refusal. A body is cut as
 * soon as it passes a bound: the rest is never read into memory.
 */
export async function readUpload(
  req: IncomingMessage,
  fileBytesMax: number,
  opts: ReadUploadOptions = {},
): Promise<Upload> {
  if (isMultipartUpload(req)) return readMultipart(req, fileBytesMax, opts.budget);
  refuseDeclaredOver(req, fileBytesMax, () => fileTooLarge(fileBytesMax));
  const data = await readRawBody(req, fileBytesMax, opts);
  return {
    data,
    fileName: dispositionFileName(headerText(req.headers["content-disposition"] ?? ""), true),
    contentType: req.headers["content-type"] ?? "",
    gzipped: (req.headers["content-encoding"] ?? "").toLowerCase() === "gzip",
    contentMd5: undefined,
    fields: new Map(),
  };
}

/** Refuses before reading a byte when the declared Content-Length alone is over `bytesMax`. */
function refuseDeclaredOver(req: IncomingMessage, bytesMax: number, tooLarge: () => WeedError): void {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > bytesMax) throw tooLarge();
}

function multipartBodyTooLarge(fileBytesMax: number): WeedError {
  return new WeedError(
    ErrorCode.TOO_LARGE,
    `multipart body over the limit of ${fileBytesMax + multipartOverheadBytesMax} bytes ` +
      `(file limit ${fileBytesMax} + ${multipartOverheadBytesMax} for boundaries, part headers and fields)`,
  );
}

/** Receives the request body from pumpBody. */
interface BodySink {
  write(chunk: Buffer): void;
  end(): void;
  fail(err: WeedError): void;
}

/** A body's bounds: its size, and what else it is counted against. */
interface BodyBounds {
  bytesMax: number;
  tooLarge: () => WeedError;
  budget: BodyBudget | undefined;
}

/**
 * Streams `req`'s body into `sink` until it ends, refusing with `tooLarge()` past `bytesMax` or with
 * the budget's refusal. The sink gets at most one of end() and fail(); after either, the request is
 * no longer listened to. Returns `stop`: detach and pause the request with the rest unread, without
 * calling the sink.
 */
function pumpBody(req: IncomingMessage, bounds: BodyBounds, sink: BodySink): () => void {
  let received = 0;
  let detached = false;
  const detach = (): void => {
    detached = true;
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    req.off("close", onClose);
  };
  const stop = (): void => {
    if (detached) return;
    detach();
    req.pause();
  };
  const fail = (err: WeedError): void => {
    if (detached) return;
    stop();
    sink.fail(err);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > bounds.bytesMax) return fail(bounds.tooLarge());
    const refused = bounds.budget?.take(chunk.length);
    if (refused !== undefined) return fail(refused);
    sink.write(chunk);
  };
  const onEnd = (): void => {
    detach();
    sink.end();
  };
  const onError = (err: Error): void =>
    fail(new WeedError(ErrorCode.BAD_REQUEST, `reading the upload body failed: ${err.message}`, { cause: err }));
  // A client gone before the end: node:http emits "close" (and "error" only when listened to).
  const onClose = (): void =>
    fail(new WeedError(ErrorCode.BAD_REQUEST, "client closed the connection before the upload body ended"));
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
  req.on("close", onClose);
  return stop;
}

/**
 * A raw body of at most `bytesMax` bytes. With a Content-Length (already checked against the
 * bound) the body is copied into one Buffer of that size as it arrives, so a large upload costs
 * its size once, not twice (the chunks, then their concatenation); without one, the chunks are
 * joined at the end.
 */
function readRawBody(req: IncomingMessage, bytesMax: number, opts: ReadUploadOptions): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "NaN");
  const allocate = opts.allocate ?? Buffer.allocUnsafe;
  const into = Number.isSafeInteger(declared) && declared > 0 ? allocate(declared) : undefined;
  const budget = opts.budget;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    pumpBody(
      req,
      { bytesMax, tooLarge: () => fileTooLarge(bytesMax), budget },
      {
        write: (chunk) => {
          if (into !== undefined) {
            // node:http never delivers more than the Content-Length it parsed.
            assert(size + chunk.length <= into.length, "a body is no longer than its Content-Length");
            chunk.copy(into, size);
          } else chunks.push(chunk);
          size += chunk.length;
        },
        end: () => {
          if (into !== undefined) resolve(into.subarray(0, size));
          else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
        },
        fail: reject,
      },
    );
  });
}

function readMultipart(req: IncomingMessage, fileBytesMax: number, budget: BodyBudget | undefined): Promise<Upload> {
  const contentType = req.headers["content-type"] ?? "";
  const boundary = multipartBoundary(contentType);
  if (boundary === undefined) {
    throw new WeedError(
      ErrorCode.BAD_REQUEST,
      `multipart upload without a usable boundary in Content-Type ${JSON.stringify(contentType)}`,
    );
  }
  const bodyBytesMax = fileBytesMax + multipartOverheadBytesMax;
  refuseDeclaredOver(req, bodyBytesMax, () => multipartBodyTooLarge(fileBytesMax));
  return new Promise((resolve, reject) => {
    // maxHeaderSize and partHwm are read by the parser but missing from its type. The parser holds
    // its write callback while a part's buffer is over partHwm, until that part is read again; a
    // part that ended meanwhile is never read again, and the upload would hang. A part can never
    // hold more than the whole body, so with that as partHwm the parser never waits, every write
    // completes at once, and the request needs no pausing for it.
    const config: Dicer.Config & { maxHeaderSize: number; partHwm: number } = {
      boundary,
      maxHeaderPairs: multipartPartHeaderPairsMax,
      maxHeaderSize: multipartPartHeaderBytesMax,
      partHwm: bodyBytesMax,
    };
    const parser = new Dicer(config);
    let settled = false;
    let bodyEnded = false;
    let parserFinished = false;
    const fail = (err: WeedError): void => {
      if (settled) return;
      settled = true;
      stopBody();
      // Parts still to come are skipped by the parser itself, which gives them an error listener.
      parser.removeAllListeners("part");
      reject(err);
    };
    const maybeDone = (): void => {
      if (settled || !bodyEnded || !parserFinished || !picker.idle) return;
      const r = picker.result();
      if (r instanceof WeedError) return fail(r);
      settled = true;
      resolve(r);
    };
    const picker = new PartPicker(fileBytesMax, fail, maybeDone);
    parser.on("part", (part) => picker.onPart(part));
    // Never removed: the parser reports a body cut short here, also after a settle.
    parser.on("error", (err: Error) => fail(malformed(err)));
    parser.on("finish", () => {
      parserFinished = true;
      maybeDone();
    });
    const tooLarge = (): WeedError => multipartBodyTooLarge(fileBytesMax);
    const stopBody = pumpBody(
      req,
      { bytesMax: bodyBytesMax, tooLarge, budget },
      {
        write: (chunk) => void parser.write(chunk),
        end: () => {
          bodyEnded = true;
          parser.end();
          maybeDone();
        },
        fail,
      },
    );
  });
}
