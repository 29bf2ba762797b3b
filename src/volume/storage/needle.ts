// The needle record codec (SeaweedFS v2/v3 layout, big-endian). FORMAT.md has the byte tables.
// Encoding builds one Buffer per record so a write is one pwrite; decoding checks the header,
// every length against the record, and the CRC32-C of the data before anything is returned.
import { isUtf8 } from "node:buffer";
import { crc32c } from "@node-rs/crc32";
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Ttl } from "../../common/ttl.js";
import {
  needleDataBytesMax,
  needleLastModifiedSecMax,
  needleMimeBytesMax,
  needleNameBytesMax,
  needlePairsBytesMax,
} from "./limits.js";
import { checkKey, joinKey, keyHex, keyHi, keyLo } from "./needle-key.js";
import type { NeedleInput, NeedleRecord } from "./store-api.js";
import { VERSION_2, VERSION_3 } from "./superblock.js";

export const needleHeaderBytes = 16;
export const needleChecksumBytes = 4;
export const needleTimestampBytes = 8;
export const needlePaddingBytes = 8;

export const FLAG_GZIPPED = 0x01;
export const FLAG_HAS_NAME = 0x02;
export const FLAG_HAS_MIME = 0x04;
export const FLAG_HAS_LAST_MODIFIED = 0x08;
export const FLAG_HAS_TTL = 0x10;
export const FLAG_HAS_PAIRS = 0x20;
export const FLAG_CHUNK_MANIFEST = 0x80;
/** Every flag SeaweedFS defines (needle.go); 0x40 is unused, so a record carrying it is damaged. */
const flagsKnown =
  FLAG_GZIPPED |
  FLAG_HAS_NAME |
  FLAG_HAS_MIME |
  FLAG_HAS_LAST_MODIFIED |
  FLAG_HAS_TTL |
  FLAG_HAS_PAIRS |
  FLAG_CHUNK_MANIFEST;

const lastModifiedBytes = 5;
const ttlBytes = 2;
const dataSizeBytes = 4;
const ttlUnitMax = 6;
const cookieMax = 0xffffffff;

/** The most a body holds besides DataSize and data: flags and every optional field at its maximum. */
export const needleFieldsBytesMax =
  1 + (1 + needleNameBytesMax) + (1 + needleMimeBytesMax) + lastModifiedBytes + ttlBytes + (2 + needlePairsBytesMax);

/** The largest body we can write: data plus every optional field at its maximum. */
export const needleBodyBytesMax = dataSizeBytes + needleDataBytesMax + needleFieldsBytesMax;

/** Bytes after the body: CRC, plus AppendAtNs in v3. */
export function tailLength(version: number): number {
  return version === VERSION_3 ? needleChecksumBytes + needleTimestampBytes : needleChecksumBytes;
}

/** 1..8 bytes, never 0: SeaweedFS adds a full 8 when the record is already aligned. */
export function paddingLength(size: number, version: number): number {
  return needlePaddingBytes - ((needleHeaderBytes + size + tailLength(version)) % needlePaddingBytes);
}

/** Bytes the record with body `size` occupies in .dat (SeaweedFS GetActualSize). */
export function recordLength(size: number, version: number): number {
  return needleHeaderBytes + size + tailLength(version) + paddingLength(size, version);
}

/** SeaweedFS < 3.09 stored a transformed CRC; readers still accept it. */
export function legacyCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export interface EncodedNeedle {
  record: Buffer;
  /** The header's Size (body bytes), which also goes into the .idx entry. */
  size: number;
  dataSize: number;
  crc: number;
  /** Byte offset of the 5 LastModified bytes in `record` (-1 when absent): ignored when comparing. */
  lastModifiedAt: number;
}

export interface DecodedNeedle extends NeedleRecord {
  size: number;
  flags: number;
  /** As in EncodedNeedle. */
  lastModifiedAt: number;
}

function badInput(message: string): WeedError {
  return new WeedError(ErrorCode.BAD_REQUEST, message);
}

function checkInput(n: NeedleInput): void {
  checkKey(n.key);
  if (!Number.isInteger(n.cookie) || n.cookie < 0 || n.cookie > cookieMax) {
    throw badInput(`needle cookie ${n.cookie} is not a uint32`);
  }
  if (n.data.length > needleDataBytesMax) {
    throw new WeedError(
      ErrorCode.TOO_LARGE,
      `needle data of ${n.data.length} bytes is over the limit of ${needleDataBytesMax} bytes`,
    );
  }
  const lm = n.lastModified;
  if (lm !== undefined && (!Number.isInteger(lm) || lm < 0 || lm > needleLastModifiedSecMax)) {
    throw badInput(`needle lastModified ${lm} is not unix seconds in 0..2^40-1`);
  }
  const ttl = n.ttl;
  if (
    ttl !== undefined &&
    (!isByte(ttl.count) || !Number.isInteger(ttl.unit) || ttl.unit < 0 || ttl.unit > ttlUnitMax)
  ) {
    throw badInput(`needle ttl ${JSON.stringify(ttl)} is not a count 0..255 and unit 0..6`);
  }
}

function isByte(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 255;
}

function hasTtl(ttl: Ttl | undefined): ttl is Ttl {
  return ttl !== undefined && ttl.count > 0 && ttl.unit > 0;
}

/** UTF-8 length of an optional short string, or -1 when it is absent, empty or too long (dropped). */
function storedLength(s: string | undefined, max: number): number {
  if (s === undefined || s === "") return -1;
  const len = Buffer.byteLength(s, "utf8");
  return len <= max ? len : -1;
}

function pairsJson(pairs: Record<string, string> | undefined): string | undefined {
  if (pairs === undefined) return undefined;
  for (const _ in pairs) return JSON.stringify(pairs);
  return undefined;
}

/**
 * Encodes a needle as one record. Names/mimes over 255 bytes and pairs of 64 KiB or more are
 * dropped, as SeaweedFS does. Unlike SeaweedFS, empty data still gets a body (DataSize 0), so an
 * empty blob keeps its name and never looks like a tombstone (Size 0); SeaweedFS parses it fine.
 */
/** `dataCrc`: the CRC32-C of n.data when the caller computed it already (it is not computed twice). */
export function encodeNeedle(
  n: NeedleInput,
  version: number,
  appendAtNs: bigint,
  nowSec: number,
  dataCrc?: number,
): EncodedNeedle {
  checkInput(n);
  const dataSize = n.data.length;
  let flags = 0;
  if (n.gzipped === true) flags |= FLAG_GZIPPED;
  if (n.chunkManifest === true) flags |= FLAG_CHUNK_MANIFEST;
  let size = dataSizeBytes + dataSize + 1;
  const nameLen = storedLength(n.name, needleNameBytesMax);
  if (nameLen >= 0) {
    flags |= FLAG_HAS_NAME;
    size += 1 + nameLen;
  }
  const mimeLen = storedLength(n.mime, needleMimeBytesMax);
  if (mimeLen >= 0) {
    flags |= FLAG_HAS_MIME;
    size += 1 + mimeLen;
  }
  flags |= FLAG_HAS_LAST_MODIFIED;
  size += lastModifiedBytes;
  if (hasTtl(n.ttl)) {
    flags |= FLAG_HAS_TTL;
    size += ttlBytes;
  }
  const pairs = pairsJson(n.pairs);
  const pairsLen = storedLength(pairs, needlePairsBytesMax);
  if (pairsLen >= 0) {
    flags |= FLAG_HAS_PAIRS;
    size += 2 + pairsLen;
  }

  const total = recordLength(size, version);
  const buf = Buffer.allocUnsafe(total);
  writeHeader(buf, n.cookie, keyHi(n.key), keyLo(n.key), size);
  let p = needleHeaderBytes;
  buf.writeUInt32BE(dataSize, p);
  p += dataSizeBytes;
  p += n.data.copy(buf, p);
  buf[p++] = flags;
  if (nameLen >= 0) {
    buf[p++] = nameLen;
    p += buf.write(n.name as string, p, nameLen, "utf8");
  }
  if (mimeLen >= 0) {
    buf[p++] = mimeLen;
    p += buf.write(n.mime as string, p, mimeLen, "utf8");
  }
  const lastModifiedAt = p;
  const lm = n.lastModified ?? nowSec;
  buf.writeUIntBE(lm, p, lastModifiedBytes);
  p += lastModifiedBytes;
  if ((flags & FLAG_HAS_TTL) !== 0) {
    const ttl = n.ttl as Ttl;
    buf[p++] = ttl.count;
    buf[p++] = ttl.unit;
  }
  if (pairsLen >= 0) {
    buf.writeUInt16BE(pairsLen, p);
    p += 2;
    p += buf.write(pairs as string, p, pairsLen, "utf8");
  }
  const crc = dataCrc ?? crc32c(n.data);
  writeTail(buf, p, crc, version, appendAtNs);
  return { record: buf, size, dataSize, crc, lastModifiedAt };
}

/** A tombstone: same key and cookie, Size 0, CRC 0, AppendAtNs, padding (32 bytes in v3). */
export function encodeTombstone(hi: number, lo: number, cookie: number, version: number, appendAtNs: bigint): Buffer {
  const buf = Buffer.allocUnsafe(recordLength(0, version));
  writeHeader(buf, cookie, hi, lo, 0);
  writeTail(buf, needleHeaderBytes, 0, version, appendAtNs);
  return buf;
}

function writeHeader(buf: Buffer, cookie: number, hi: number, lo: number, size: number): void {
  buf.writeUInt32BE(cookie, 0);
  buf.writeUInt32BE(hi, 4);
  buf.writeUInt32BE(lo, 8);
  buf.writeUInt32BE(size, 12);
}

function writeTail(buf: Buffer, at: number, crc: number, version: number, appendAtNs: bigint): void {
  buf.writeUInt32BE(crc, at);
  let p = at + needleChecksumBytes;
  if (version === VERSION_3) {
    buf.writeBigUInt64BE(appendAtNs, p);
    p += needleTimestampBytes;
  }
  // SeaweedFS pads with whatever its scratch buffer held; we write zeros. Readers never look.
  buf.fill(0, p);
}

export function headerCookie(record: Buffer): number {
  return record.readUInt32BE(0);
}
export function headerKeyHi(record: Buffer): number {
  return record.readUInt32BE(4);
}
export function headerKeyLo(record: Buffer): number {
  return record.readUInt32BE(8);
}
export function headerSize(record: Buffer): number {
  return record.readUInt32BE(12);
}

/** The AppendAtNs of a v3 record (0n for v2). */
export function recordAppendAtNs(record: Buffer, size: number, version: number): bigint {
  if (version !== VERSION_3) return 0n;
  return record.readBigUInt64BE(needleHeaderBytes + size + needleChecksumBytes);
}

function corrupt(hi: number, lo: number, why: string): WeedError {
  return new WeedError(ErrorCode.CORRUPT, `needle ${keyHex(hi, lo)}: ${why}`);
}

/**
 * Decodes one record (the buffer may be longer; only recordLength(size) bytes are used).
 * Throws CORRUPT when a length does not fit or the data's CRC32-C does not match.
 * The returned data is a view of `record`, not a copy.
 */
export function decodeNeedle(record: Buffer, version: number): DecodedNeedle {
  if (version !== VERSION_2 && version !== VERSION_3) {
    throw new WeedError(ErrorCode.CORRUPT, `unsupported needle version ${version}`);
  }
  if (record.length < needleHeaderBytes) {
    throw new WeedError(ErrorCode.CORRUPT, `needle record of ${record.length} bytes is shorter than its header`);
  }
  const hi = headerKeyHi(record);
  const lo = headerKeyLo(record);
  const size = headerSize(record);
  if (size === 0xffffffff || recordLength(size, version) > record.length) {
    throw corrupt(hi, lo, `size ${size} does not fit the ${record.length}-byte record`);
  }
  const out: DecodedNeedle = {
    key: joinKey(hi, lo),
    cookie: headerCookie(record),
    data: record.subarray(0, 0),
    name: undefined,
    mime: undefined,
    lastModified: 0,
    ttl: undefined,
    pairs: undefined,
    gzipped: false,
    chunkManifest: false,
    crc: 0,
    appendAtNs: recordAppendAtNs(record, size, version),
    size,
    flags: 0,
    lastModifiedAt: -1,
  };
  const end = needleHeaderBytes + size;
  if (size > 0) decodeBody(record, end, out, hi, lo);
  const stored = record.readUInt32BE(end);
  // Empty data has a CRC too (0, or its legacy form): checked, so a flip there is not served either.
  if (size > 0) {
    const crc = crc32c(out.data);
    if (stored !== crc && stored !== legacyCrc(crc)) {
      throw corrupt(hi, lo, `invalid CRC (stored ${hex8(stored)}, data has ${hex8(crc)}): data on disk corrupted`);
    }
    out.crc = crc;
  } else {
    out.crc = stored;
  }
  return out;
}

/** Why a record does not decode and check (decodeNeedle's CORRUPT message), or undefined when it does. */
export function whyNotDecoded(record: Buffer, version: number): string | undefined {
  try {
    decodeNeedle(record, version);
    return undefined;
  } catch (err) {
    if (err instanceof WeedError) return err.message;
    throw err;
  }
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, "0");
}

function checkFits(p: number, n: number, end: number, hi: number, lo: number, what: string): void {
  if (p + n > end) throw corrupt(hi, lo, `${what} runs past the body (size ${end - needleHeaderBytes})`);
}

/**
 * Parses the body and checks what the CRC (data only) leaves out: known flag bits, every length
 * inside the body, the fields filling it exactly (SeaweedFS writes no slack, so bytes left over
 * mean a length or flag changed), name, mime and pairs valid UTF-8 (we only ever write UTF-8), a TTL
 * unit that exists, pairs a JSON object of strings. A flip that keeps all of these (an ASCII letter
 * turned into another, a LastModified or TTL count byte, the gzip or manifest flag) cannot be seen
 * without a checksum the format does not have (FORMAT.md "What is checked on read").
 */
function decodeBody(record: Buffer, end: number, out: DecodedNeedle, hi: number, lo: number): void {
  let p = needleHeaderBytes;
  checkFits(p, dataSizeBytes, end, hi, lo, "data size");
  const dataSize = record.readUInt32BE(p);
  p += dataSizeBytes;
  checkFits(p, dataSize, end, hi, lo, "data");
  out.data = record.subarray(p, p + dataSize);
  p += dataSize;
  if (p === end) return; // SeaweedFS readers tolerate a body that stops after the data
  const flags = record[p++] ?? 0;
  if ((flags & ~flagsKnown) !== 0) throw corrupt(hi, lo, `unknown flag bits in 0x${flags.toString(16)}`);
  out.flags = flags;
  out.gzipped = (flags & FLAG_GZIPPED) !== 0;
  out.chunkManifest = (flags & FLAG_CHUNK_MANIFEST) !== 0;
  if ((flags & FLAG_HAS_NAME) !== 0) {
    [out.name, p] = shortText(record, p, end, hi, lo, "name");
  }
  if ((flags & FLAG_HAS_MIME) !== 0) {
    [out.mime, p] = shortText(record, p, end, hi, lo, "mime");
  }
  if ((flags & FLAG_HAS_LAST_MODIFIED) !== 0) {
    checkFits(p, lastModifiedBytes, end, hi, lo, "last modified");
    out.lastModifiedAt = p;
    out.lastModified = record.readUIntBE(p, lastModifiedBytes);
    p += lastModifiedBytes;
  }
  if ((flags & FLAG_HAS_TTL) !== 0) {
    checkFits(p, ttlBytes, end, hi, lo, "ttl");
    out.ttl = { count: record[p] ?? 0, unit: record[p + 1] ?? 0 };
    if (out.ttl.unit > ttlUnitMax) throw corrupt(hi, lo, `ttl unit ${out.ttl.unit} does not exist`);
    p += ttlBytes;
  }
  if ((flags & FLAG_HAS_PAIRS) !== 0) {
    checkFits(p, 2, end, hi, lo, "pairs size");
    const len = record.readUInt16BE(p);
    p += 2;
    checkFits(p, len, end, hi, lo, "pairs");
    const json = record.subarray(p, p + len);
    if (!isUtf8(json)) throw corrupt(hi, lo, "pairs are not UTF-8");
    out.pairs = parsePairs(json.toString("utf8"), hi, lo);
    p += len;
  }
  if (p !== end)
    throw corrupt(hi, lo, `${end - p} bytes left over after the last field (size ${end - needleHeaderBytes})`);
}

/** The u8-length-prefixed name or mime at `p`, checked to fit and to be UTF-8, and where the next field starts. */
function shortText(record: Buffer, p: number, end: number, hi: number, lo: number, what: string): [string, number] {
  checkFits(p, 1, end, hi, lo, `${what} size`);
  const len = record[p] ?? 0;
  checkFits(p + 1, len, end, hi, lo, what);
  const bytes = record.subarray(p + 1, p + 1 + len);
  if (!isUtf8(bytes)) throw corrupt(hi, lo, `${what} is not UTF-8`);
  return [bytes.toString("utf8"), p + 1 + len];
}

function parsePairs(json: string, hi: number, lo: number): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new WeedError(ErrorCode.CORRUPT, `needle ${keyHex(hi, lo)}: pairs are not JSON`, { cause: err });
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw corrupt(hi, lo, "pairs are not a JSON object");
  // A null prototype keeps a pair named "__proto__" an ordinary key.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== "string") throw corrupt(hi, lo, `pair ${JSON.stringify(k)} is not a string`);
    out[k] = val;
  }
  return out;
}

/**
 * True when two records would read back the same apart from LastModified (and AppendAtNs):
 * SeaweedFS's "unchanged" rule (cookie, checksum and data equal) extended to name, mime, flags and pairs.
 */
export function sameContent(stored: Buffer, storedLmAt: number, fresh: EncodedNeedle): boolean {
  const size = fresh.size;
  if (headerSize(stored) !== size || headerCookie(stored) !== headerCookie(fresh.record)) return false;
  if (storedLmAt !== fresh.lastModifiedAt) return false;
  const end = needleHeaderBytes + size;
  const a = fresh.record;
  if (storedLmAt < 0) return a.compare(stored, needleHeaderBytes, end, needleHeaderBytes, end) === 0;
  const lmEnd = storedLmAt + lastModifiedBytes;
  return (
    a.compare(stored, needleHeaderBytes, storedLmAt, needleHeaderBytes, storedLmAt) === 0 &&
    a.compare(stored, lmEnd, end, lmEnd, end) === 0
  );
}
