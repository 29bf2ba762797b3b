// File names from Content-Disposition (RFC 6266) and parameters of header values, for uploads.
// Parsing is jshttp's `content-disposition` and `content-type`: neither throws on odd input,
// a quoted value may hold ';', a backslash escapes the next character (RFC 9110 quoted-pair, as
// Go's mime.ParseMediaType reads it in SeaweedFS and as Go and `curl --form-escape` write it),
// and an RFC 8187 `filename*` (UTF-8 or ISO-8859-1) wins over `filename`. Browsers' %22 for a
// quote is kept as sent, as SeaweedFS keeps it.
import { parse as parseDisposition } from "content-disposition";
import { parse as parseContentType } from "content-type";
import { multipartBoundaryCharsMax } from "./multipart-limits.js";

/**
 * A header value as node:http and the multipart parser hand it over (one character per byte),
 * read as UTF-8: clients send file names as UTF-8 bytes, and Go reads header bytes as UTF-8.
 */
export function headerText(value: string): string {
  // Only a value with a byte over 0x7f can differ; plain ASCII is returned as is.
  return /[\x80-\xff]/.test(value) ? Buffer.from(value, "latin1").toString("utf8") : value;
}

/** Parameters of a value like `form-data; name="f"; filename="a b.txt"`, names lowercased. */
export function headerParams(value: string): Map<string, string> {
  return new Map(Object.entries(parseDisposition(value).parameters));
}

function baseName(name: string): string {
  // Both separators: a Windows client may send its full path (SeaweedFS's CleanWindowsPathBase).
  const slash = Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\"));
  return slash >= 0 ? name.slice(slash + 1) : name;
}

/**
 * The base file name a Content-Disposition gives (filename* then filename), "" when none. A raw
 * body also takes `name` (`acceptName`), as SeaweedFS's parseUpload does; a multipart part's
 * `name` is its form field name, never a file name.
 */
export function dispositionFileName(value: string | undefined, acceptName: boolean): string {
  if (value === undefined || value === "") return "";
  const p = parseDisposition(value).parameters;
  const name = p["filename"] ?? (acceptName ? p["name"] : undefined) ?? "";
  return baseName(name);
}

/** The form field name of a multipart part's Content-Disposition, "" when none. */
export function dispositionFieldName(value: string | undefined): string {
  if (value === undefined || value === "") return "";
  return parseDisposition(value).parameters["name"] ?? "";
}

/** `boundary` of a multipart Content-Type, or undefined when missing, empty or too long. */
export function multipartBoundary(contentType: string): string | undefined {
  const b = parseContentType(contentType).parameters["boundary"];
  return b === undefined || b === "" || b.length > multipartBoundaryCharsMax ? undefined : b;
}
