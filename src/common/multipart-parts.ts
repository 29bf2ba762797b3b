// Which parts of a multipart upload are kept, and as what: SeaweedFS's parseUpload
// (weed/storage/needle/needle_parse_upload.go) takes the first part, and when that part has no
// filename, the first later part that has one instead. We keep that choice, and also keep the
// parts without a filename as form fields (SeaweedFS reads no fields from a multipart body;
// weed-ts's /submit takes parameters from them). Every part is read to its end, so the body is
// known to be well-formed before anything is stored.
import type { Dicer } from "@fastify/busboy";
import { dispositionFieldName, dispositionFileName, headerText } from "./content-disposition.js";
import { ErrorCode, WeedError } from "./errors.js";
import { multipartFieldBytesMax, multipartFieldsMax, multipartPartsMax } from "./multipart-limits.js";

/** What a multipart or raw upload yields. */
export interface Upload {
  data: Buffer;
  /** From the part's or request's Content-Disposition, base name only; "" when none. */
  fileName: string;
  /** The part's (multipart) or request's (raw) Content-Type; "" when none. */
  contentType: string;
  /** Content-Encoding: gzip: the bytes are as sent, gzipped. */
  gzipped: boolean;
  /** The file part's Content-MD5 header (multipart only). */
  contentMd5: string | undefined;
  /** Form fields of a multipart body (the first value of each name); empty for a raw body. */
  fields: ReadonlyMap<string, string>;
}

type PartHeaders = Record<string, string[] | undefined>;

/** One kept part's bytes, collected up to its own limit. */
interface Collected {
  fieldName: string;
  fileName: string;
  headers: PartHeaders;
  chunks: Buffer[];
  size: number;
}

/** SeaweedFS's words for a file over the limit, kept so that clients reading them still work. */
export function fileTooLarge(fileBytesMax: number): WeedError {
  return new WeedError(ErrorCode.TOO_LARGE, `file over the limited ${fileBytesMax} bytes`);
}

function fieldTooLarge(name: string): WeedError {
  return new WeedError(
    ErrorCode.TOO_LARGE,
    `multipart field ${JSON.stringify(name)} is over the limit of ${multipartFieldBytesMax} bytes`,
  );
}

function tooManyFields(): WeedError {
  return new WeedError(
    ErrorCode.TOO_LARGE,
    `multipart upload has more than ${multipartFieldsMax} fields (parts without a filename)`,
  );
}

function first(h: PartHeaders, name: string): string {
  return h[name]?.[0] ?? "";
}

function joined(c: Collected): Buffer {
  return c.chunks.length === 1 ? c.chunks[0]! : Buffer.concat(c.chunks, c.size);
}

/** Fed each part by the multipart parser; says which part is the file once all have ended. */
export class PartPicker {
  readonly #fileBytesMax: number;
  readonly #fail: (err: WeedError) => void;
  readonly #onIdle: () => void;
  #parts = 0;
  #openParts = 0;
  #first: Collected | undefined;
  #file: Collected | undefined;
  readonly #fields: Collected[] = [];

  /**
   * `fail` is called when the body is refused (maybe more than once: it must settle once);
   * `onIdle` each time a part ends.
   */
  constructor(fileBytesMax: number, fail: (err: WeedError) => void, onIdle: () => void) {
    this.#fileBytesMax = fileBytesMax;
    this.#fail = fail;
    this.#onIdle = onIdle;
  }

  /** No part is being read. */
  get idle(): boolean {
    return this.#openParts === 0;
  }

  onPart(part: Dicer.PartStream): void {
    // First of all: a part stream that errors (a truncated body) with no listener kills the process.
    part.on("error", (err: Error) => this.#fail(malformed(err)));
    this.#openParts++;
    part.on("end", () => {
      this.#openParts--;
      this.#onIdle();
    });
    if (++this.#parts > multipartPartsMax) {
      this.#fail(new WeedError(ErrorCode.TOO_LARGE, `multipart upload has more than ${multipartPartsMax} parts`));
      return;
    }
    part.once("header", (h: object) => this.#onHeader(part, h as PartHeaders));
    // Flowing from the start: a part skipped, or one whose header never completed, still ends.
    part.resume();
  }

  #onHeader(part: Dicer.PartStream, h: PartHeaders): void {
    const disposition = headerText(first(h, "content-disposition"));
    const c: Collected = {
      fieldName: dispositionFieldName(disposition),
      fileName: dispositionFileName(disposition, false),
      headers: h,
      chunks: [],
      size: 0,
    };
    if (this.#first === undefined) {
      this.#first = c;
      if (c.fileName !== "") this.#file = c;
      this.#collect(part, c, this.#fileBytesMax, () => fileTooLarge(this.#fileBytesMax));
    } else if (c.fileName !== "") {
      if (this.#file !== undefined) return; // a later file part is skipped, as SeaweedFS never reads it
      this.#file = c;
      this.#collect(part, c, this.#fileBytesMax, () => fileTooLarge(this.#fileBytesMax));
    } else {
      if (c.fieldName === "") return; // no name: nothing to call it by
      this.#addField(c);
      this.#collect(part, c, multipartFieldBytesMax, () => fieldTooLarge(c.fieldName));
    }
  }

  #addField(c: Collected): void {
    this.#fields.push(c);
    if (this.#fields.length > multipartFieldsMax) this.#fail(tooManyFields());
  }

  #collect(part: Dicer.PartStream, c: Collected, bytesMax: number, tooLarge: () => WeedError): void {
    part.on("data", (chunk: Buffer) => {
      c.size += chunk.length;
      if (c.size > bytesMax) this.#fail(tooLarge());
      else c.chunks.push(chunk);
    });
  }

  /** The upload once every part has ended; refused when no part came or a field broke a bound. */
  result(): Upload | WeedError {
    const file = this.#file ?? this.#first;
    if (file === undefined) return new WeedError(ErrorCode.BAD_REQUEST, "multipart upload has no part");
    // A nameless first part read as the file candidate is a field after all when a file part came.
    if (file !== this.#first && this.#first !== undefined && this.#first.fieldName !== "") {
      if (this.#first.size > multipartFieldBytesMax) return fieldTooLarge(this.#first.fieldName);
      this.#fields.unshift(this.#first);
      if (this.#fields.length > multipartFieldsMax) return tooManyFields();
    }
    const fields = new Map<string, string>();
    for (const f of this.#fields) if (!fields.has(f.fieldName)) fields.set(f.fieldName, joined(f).toString("utf8"));
    const h = file.headers;
    return {
      data: joined(file),
      fileName: file.fileName,
      contentType: first(h, "content-type"),
      gzipped: first(h, "content-encoding").toLowerCase() === "gzip",
      contentMd5: h["content-md5"]?.[0],
      fields,
    };
  }
}

/** A body the multipart parser could not read to its closing boundary: 400. */
export function malformed(err: Error): WeedError {
  return new WeedError(ErrorCode.BAD_REQUEST, `malformed multipart body: ${err.message}`, { cause: err });
}
