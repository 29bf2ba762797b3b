// Reading an upload body into one blob: multipart/form-data (the first part, or the first part
// with a filename) or a raw body. Bounded while streaming: nothing past the file size limit is
// kept, and the caller writes nothing to storage unless the whole body arrived intact.
// SeaweedFS: weed/storage/needle/needle_parse_upload.go.
import type { IncomingMessage } from "node:http";
import { Dicer } from "@fastify/busboy";
import { ErrorCode, WeedError } from "../common/errors.js";
import { MULTIPART_OVERHEAD_BYTES_MAX, MULTIPART_PARTS_MAX, MULTIPART_PART_HEADER_PAIRS_MAX } from "./limits.js";

export interface ParsedUpload {
  data: Buffer;
  /** From the part's or request's Content-Disposition, base name only; "" when none. */
  fileName: string;
  /** The part's (multipart) or request's (raw) Content-Type; "" when none. */
  contentType: string;
  /** Content-Encoding: gzip: the bytes are stored as sent and flagged gzipped. */
  gzipped: boolean;
  /** Content-MD5 of the part (multipart) when it carried one. */
  contentMd5: string | undefined;
}

/** SeaweedFS's wording, kept so clients matching on it still work (answered as 400). */
export function fileTooLarge(limitBytes: number): WeedError {
  return new WeedError(ErrorCode.BAD_REQUEST, `file over the limited ${limitBytes} bytes`);
}

/** Refuses before reading a byte when the declared length alone is over `maxBytes`. */
export function checkDeclaredLength(req: IncomingMessage, maxBytes: number, limitBytes: number): void {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) throw fileTooLarge(limitBytes);
}

/**
 * Parameters of a header like Content-Disposition (`form-data; name="f"; filename="a b.txt"`),
 * names lowercased. Handles quoted strings with backslash escapes and RFC 8187 `filename*=`.
 */
export function headerParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = value.indexOf(";");
  if (i < 0) return out;
  const len = value.length;
  while (i < len) {
    i++; // past ';'
    while (i < len && (value[i] === " " || value[i] === "\t")) i++;
    const eq = value.indexOf("=", i);
    if (eq < 0) break;
    const name = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let v = "";
    if (value[i] === '"') {
      i++;
      while (i < len && value[i] !== '"') {
        if (value[i] === "\\" && i + 1 < len) i++;
        v += value[i];
        i++;
      }
      i++; // closing quote
      const semi = value.indexOf(";", i);
      i = semi < 0 ? len : semi;
    } else {
      const semi = value.indexOf(";", i);
      const end = semi < 0 ? len : semi;
      v = value.slice(i, end).trim();
      i = end;
    }
    if (name !== "" && !out.has(name)) out.set(name, v);
  }
  return out;
}

function decodeExtValue(v: string): string | undefined {
  // charset'language'percent-encoded
  const m = /^([^']*)'[^']*'(.*)$/.exec(v);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[2]!);
  } catch {
    return undefined;
  }
}

function baseName(name: string): string {
  const slash = Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\"));
  return slash >= 0 ? name.slice(slash + 1) : name;
}

/** The file name a Content-Disposition names (filename*, then filename, then name when asked); "" if none. */
export function dispositionFileName(value: string | undefined, acceptName: boolean): string {
  if (value === undefined || value === "") return "";
  const p = headerParams(value);
  const ext = p.get("filename*");
  const decoded = ext !== undefined ? decodeExtValue(ext) : undefined;
  const name = decoded ?? p.get("filename") ?? (acceptName ? p.get("name") : undefined) ?? "";
  return baseName(name);
}

/** `boundary` of a multipart Content-Type, or undefined. */
export function multipartBoundary(contentType: string): string | undefined {
  const b = headerParams(contentType).get("boundary");
  return b === undefined || b === "" || b.length > 200 ? undefined : b;
}

/**
 * Streams `req`'s body into `onChunk` until it ends, refusing (fileTooLarge) past `maxBytes`.
 * Settles once through `onEnd` or `onFail`; after a failure the request is paused with the rest
 * unread, for the caller to answer and discard.
 */
function pumpBody(
  req: IncomingMessage,
  maxBytes: number,
  limitBytes: number,
  onChunk: (chunk: Buffer) => void,
  onEnd: () => void,
  onFail: (err: WeedError) => void,
): (err: WeedError) => void {
  let received = 0;
  let settled = false;
  const cleanup = (): void => {
    req.off("data", onData);
    req.off("end", onReqEnd);
    req.off("error", onError);
    req.off("close", onClose);
  };
  const fail = (err: WeedError): void => {
    if (settled) return;
    settled = true;
    cleanup();
    req.pause();
    onFail(err);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > maxBytes) fail(fileTooLarge(limitBytes));
    else onChunk(chunk);
  };
  const onReqEnd = (): void => {
    if (settled) return;
    cleanup();
    onEnd();
  };
  const onError = (err: Error): void =>
    fail(new WeedError(ErrorCode.BAD_REQUEST, `reading upload body: ${err.message}`, { cause: err }));
  const onClose = (): void => {
    if (!req.complete)
      fail(new WeedError(ErrorCode.BAD_REQUEST, "client closed the connection before the upload body ended"));
  };
  req.on("data", onData);
  req.on("end", onReqEnd);
  req.on("error", onError);
  req.on("close", onClose);
  return fail;
}

/** Collects a raw request body of at most `maxBytes`. */
export function readRawBody(req: IncomingMessage, maxBytes: number, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    pumpBody(
      req,
      maxBytes,
      limitBytes,
      (chunk) => {
        chunks.push(chunk);
        total += chunk.length;
      },
      () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)),
      reject,
    );
  });
}

interface PartCollector {
  fileName: string;
  contentType: string;
  gzipped: boolean;
  contentMd5: string | undefined;
  chunks: Buffer[];
  size: number;
}

function firstHeader(h: Record<string, string[] | undefined>, name: string): string {
  return h[name]?.[0] ?? "";
}

function malformed(err: Error): WeedError {
  return new WeedError(ErrorCode.BAD_REQUEST, `malformed multipart body: ${err.message}`, { cause: err });
}

/**
 * The part-picking half of a multipart upload, fed by Dicer (the parser inside @fastify/busboy,
 * used directly because busboy hides part headers such as Content-Encoding and Content-MD5).
 * Keeps the first part, and if it has no filename the first later part with one (which then
 * wins); other parts are skipped unread.
 */
class PartPicker {
  #parts = 0;
  #openParts = 0;
  #first: PartCollector | undefined;
  #chosen: PartCollector | undefined;

  constructor(
    readonly limitBytes: number,
    readonly fail: (err: WeedError) => void,
  ) {}

  get idle(): boolean {
    return this.#openParts === 0;
  }

  onPart(part: Dicer.PartStream, done: () => void): void {
    // Attached first: a part stream that errors with no listener would crash the process.
    part.on("error", (err: Error) => this.fail(malformed(err)));
    if (++this.#parts > MULTIPART_PARTS_MAX) {
      this.fail(new WeedError(ErrorCode.BAD_REQUEST, `multipart upload has more than ${MULTIPART_PARTS_MAX} parts`));
      return;
    }
    this.#openParts++;
    part.on("end", () => {
      this.#openParts--;
      done();
    });
    if (this.#chosen !== undefined) {
      part.resume();
      return;
    }
    part.on("header", (header: object) => this.#onHeader(part, header as Record<string, string[] | undefined>));
  }

  #onHeader(part: Dicer.PartStream, h: Record<string, string[] | undefined>): void {
    const fileName = dispositionFileName(firstHeader(h, "content-disposition"), false);
    if (this.#first !== undefined && fileName === "") {
      part.resume();
      return;
    }
    const c: PartCollector = {
      fileName,
      contentType: firstHeader(h, "content-type"),
      gzipped: firstHeader(h, "content-encoding").toLowerCase() === "gzip",
      contentMd5: h["content-md5"]?.[0],
      chunks: [],
      size: 0,
    };
    this.#first ??= c;
    if (fileName !== "") this.#chosen = c;
    part.on("data", (chunk: Buffer) => {
      c.size += chunk.length;
      if (c.size > this.limitBytes) this.fail(fileTooLarge(this.limitBytes));
      else c.chunks.push(chunk);
    });
  }

  result(): ParsedUpload | undefined {
    const c = this.#chosen ?? this.#first;
    if (c === undefined) return undefined;
    return {
      data: c.chunks.length === 1 ? c.chunks[0]! : Buffer.concat(c.chunks, c.size),
      fileName: c.fileName,
      contentType: c.contentType,
      gzipped: c.gzipped,
      contentMd5: c.contentMd5,
    };
  }
}

/** Streams a multipart body (at most the file limit plus framing) and picks its file part. */
export function readMultipartUpload(req: IncomingMessage, boundary: string, limitBytes: number): Promise<ParsedUpload> {
  return new Promise((resolve, reject) => {
    const dicer = new Dicer({ boundary, maxHeaderPairs: MULTIPART_PART_HEADER_PAIRS_MAX });
    let settled = false;
    let finished = false;
    const fail = (err: WeedError): void => {
      if (settled) return;
      settled = true;
      dicer.removeAllListeners("part");
      failBody(err);
      reject(err);
    };
    const picker = new PartPicker(limitBytes, fail);
    const maybeDone = (): void => {
      if (settled || !finished || !picker.idle) return;
      const upload = picker.result();
      if (upload === undefined) return fail(new WeedError(ErrorCode.BAD_REQUEST, "multipart upload has no part"));
      settled = true;
      resolve(upload);
    };
    dicer.on("part", (part) => picker.onPart(part, maybeDone));
    dicer.on("error", (err: Error) => fail(malformed(err)));
    dicer.on("finish", () => {
      finished = true;
      maybeDone();
    });
    const failBody = pumpBody(
      req,
      limitBytes + MULTIPART_OVERHEAD_BYTES_MAX,
      limitBytes,
      (chunk) => dicer.write(chunk),
      () => dicer.end(),
      fail,
    );
  });
}
