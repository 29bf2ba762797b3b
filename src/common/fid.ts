// File ids in SeaweedFS's format: "<vid>,<keyhex><cookie8hex>", e.g. "3,01637037d6".
// The key is the hex of the 8-byte big-endian key with leading zero *bytes* stripped (so it has
// even length); the cookie is exactly 8 hex digits. Parsing takes the last 8 hex digits as the
// cookie and the 1..16 digits before as the key (weed/storage/needle/file_id.go).
import { ErrorCode, WeedError } from "./errors.js";

export interface FileId {
  volumeId: number;
  /** Needle key, a uint64. */
  key: bigint;
  /** 32-bit random cookie. */
  cookie: number;
}

const keyMax = (1n << 64n) - 1n;
const volumeIdMax = 0xffffffff;
const HEX = /^[0-9a-fA-F]+$/;

function badFid(text: string, why: string): WeedError {
  return new WeedError(ErrorCode.BAD_FID, `invalid file id ${JSON.stringify(text)}: ${why}`);
}

export function parseVolumeId(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new WeedError(ErrorCode.BAD_FID, `invalid volume id ${JSON.stringify(text)}`);
  const vid = Number(text);
  if (vid > volumeIdMax)
    throw new WeedError(ErrorCode.BAD_FID, `invalid volume id ${JSON.stringify(text)}: over 2^32-1`);
  return vid;
}

/** Parses "<keyhex><cookie8hex>" (the part after the comma). */
export function parseKeyCookie(text: string, whole = text): { key: bigint; cookie: number } {
  if (text.length <= 8) throw badFid(whole, "key and cookie too short");
  if (text.length > 24) throw badFid(whole, "key and cookie too long");
  if (!HEX.test(text)) throw badFid(whole, "not hexadecimal");
  const split = text.length - 8;
  const key = BigInt("0x" + text.slice(0, split));
  const cookie = Number.parseInt(text.slice(split), 16);
  return { key, cookie };
}

/** Parses "3,01637037d6" (also accepts an "_N" suffix: key+N, SeaweedFS's count>1 ids). */
export function parseFid(text: string): FileId {
  const comma = text.indexOf(",");
  if (comma < 0) throw badFid(text, "missing ','");
  const volumeId = parseVolumeId(text.slice(0, comma));
  let rest = text.slice(comma + 1);
  let delta = 0n;
  const us = rest.lastIndexOf("_");
  if (us >= 0) {
    const n = rest.slice(us + 1);
    if (!/^\d{1,9}$/.test(n)) throw badFid(text, "bad _N suffix");
    delta = BigInt(n);
    rest = rest.slice(0, us);
  }
  const { key, cookie } = parseKeyCookie(rest, text);
  if (key + delta > keyMax) throw badFid(text, "key overflows 64 bits");
  return { volumeId, key: key + delta, cookie };
}

export function formatKeyCookie(key: bigint, cookie: number): string {
  let keyHex = key.toString(16);
  if (keyHex.length % 2 === 1) keyHex = "0" + keyHex;
  // Key 0 formats as "" in SeaweedFS (all bytes stripped); keep one byte so the id stays parseable.
  if (key === 0n) keyHex = "00";
  return keyHex + (cookie >>> 0).toString(16).padStart(8, "0");
}

export function formatFid(fid: FileId): string {
  return `${fid.volumeId},${formatKeyCookie(fid.key, fid.cookie)}`;
}

export interface ParsedPath {
  fid: FileId;
  /** File name from the path ("/3/01637037d6/name.jpg"), if any. */
  fileName: string | undefined;
  /** Extension from the path, with its dot (".jpg"), or "". */
  ext: string;
}

/**
 * A percent-encoded path segment, decoded. An invalid encoding ("%ZZ", a lone "%", bytes that are
 * not UTF-8) is the client's mistake: BAD_FID (400) naming the path, not the URIError (500).
 */
function decodeSegment(segment: string, pathname: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badFid(pathname, `file name ${JSON.stringify(segment)} is not valid percent-encoded UTF-8`);
  }
}

/**
 * The URL path forms a volume server accepts (weed/server/common.go parseURLPath):
 * /3,01637037d6  /3,01637037d6.jpg  /3/01637037d6  /3/01637037d6.jpg  /3/01637037d6/name.jpg
 */
export function parseFidPath(pathname: string): ParsedPath {
  const parts = pathname.split("/").filter((p) => p.length > 0);
  let vidText: string;
  let fidPart: string;
  let fileName: string | undefined;
  if (parts.length === 1) {
    const comma = parts[0]!.indexOf(",");
    if (comma < 0) throw badFid(pathname, "expected /<vid>,<key><cookie>");
    vidText = parts[0]!.slice(0, comma);
    fidPart = parts[0]!.slice(comma + 1);
  } else if (parts.length === 2 || parts.length === 3) {
    vidText = parts[0]!;
    fidPart = parts[1]!;
    if (parts.length === 3) fileName = decodeSegment(parts[2]!, pathname);
  } else {
    throw badFid(pathname, "expected /<vid>,<key><cookie>");
  }
  let ext = "";
  const dot = fidPart.lastIndexOf(".");
  if (dot >= 0) {
    ext = fidPart.slice(dot);
    fidPart = fidPart.slice(0, dot);
  }
  if (fileName !== undefined) {
    const d = fileName.lastIndexOf(".");
    ext = d >= 0 ? fileName.slice(d) : "";
  }
  const fid = parseFid(`${vidText},${fidPart}`);
  return { fid, fileName, ext };
}
