// A hand-written decoder of master_pb.Heartbeat (proto/master.proto), the message a leader decodes
// most: every volume server sends one every pulse, a full one listing each of its volumes. The
// generic protobuf-es fromBinary walks the message's descriptor field by field and was the largest
// steady cost of a leader with 1,000 servers of 100 volumes (0.37 ms a beat, bench:scale, issue 15);
// this reads the known field numbers directly. Its answer equals fromBinary's (same $typeName, same
// defaults, bigint for 64-bit fields, last value of a repeated scalar field wins); unknown fields are
// skipped, not kept ($unknown), since the master never re-encodes a beat. Malformed input throws a
// WeedError (BAD_REQUEST), as fromBinary throws.
import { ErrorCode, WeedError } from "../../common/errors.js";
import type { Heartbeat, VolumeInformationMessage, VolumeShortInformationMessage } from "../../gen/master_pb.js";

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Bytes of a varint at most (a 64-bit value). */
const varintBytesMax = 10;

function malformed(what: string): WeedError {
  return new WeedError(ErrorCode.BAD_REQUEST, `malformed Heartbeat: ${what}`);
}

/** A cursor over one message's bytes (a sub-message's reader shares the buffer, with its own end). */
class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }

  /** A varint as a number, exact up to 2^53; larger values are only ever truncated (uint32/bool). */
  varint(): number {
    const { buf, end } = this;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < varintBytesMax; i++) {
      if (this.pos >= end) throw malformed("truncated varint");
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw malformed("varint longer than 10 bytes");
  }

  /** A uint32 field: the varint's low 32 bits. */
  uint32(): number {
    const start = this.pos;
    const v = this.varint();
    return v <= 0xffffffff ? v : Number(this.varint64From(start) & 0xffffffffn);
  }

  /** A 64-bit varint as bigint, exact; `signed` reads it as int64 (two's complement). */
  int64(signed: boolean): bigint {
    const start = this.pos;
    const v = this.varint();
    if (v <= Number.MAX_SAFE_INTEGER) return BigInt(v);
    const u = this.varint64From(start);
    return signed ? BigInt.asIntN(64, u) : u;
  }

  /** Re-reads the varint at `start` exactly (the slow path of values past 2^53). */
  private varint64From(start: number): bigint {
    let result = 0n;
    let shift = 0n;
    for (let p = start; p < this.pos; p++) {
      result |= BigInt(this.buf[p]! & 0x7f) << shift;
      shift += 7n;
    }
    return BigInt.asUintN(64, result);
  }

  /** A length-delimited field: its [start, end) in the buffer; the cursor moves past it. */
  span(): number {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) throw malformed("length past the end");
    this.pos = start + len;
    return start;
  }

  string(): string {
    const start = this.span();
    if (start === this.pos) return "";
    return utf8.decode(this.buf.subarray(start, this.pos));
  }

  sub(): Reader {
    const start = this.span();
    return new Reader(this.buf, start, this.pos);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.span();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw malformed(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw malformed("truncated fixed field");
    this.pos += n;
  }
}

// Not fatal: invalid UTF-8 turns into U+FFFD, as protobuf-es reads strings.
const utf8 = new TextDecoder();

/** The tag's field number and wire type; `expected` is the wire type the field must have. */
function wrongType(field: number, wireType: number, expected: number): boolean {
  if (wireType === expected) return false;
  throw malformed(`field ${field} has wire type ${wireType}, expected ${expected}`);
}

function volumeInfo(r: Reader): VolumeInformationMessage {
  const v: VolumeInformationMessage = {
    $typeName: "master_pb.VolumeInformationMessage",
    id: 0,
    size: 0n,
    collection: "",
    fileCount: 0n,
    deleteCount: 0n,
    deletedByteCount: 0n,
    readOnly: false,
    replicaPlacement: 0,
    version: 0,
    ttl: 0,
    compactRevision: 0,
    modifiedAtSecond: 0n,
    diskType: "",
    needsCheck: false,
  };
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 3 || field === 15) {
      wrongType(field, wt, WIRE_LEN);
      if (field === 3) v.collection = r.string();
      else v.diskType = r.string();
      continue;
    }
    if (!isVolumeInfoVarint(field)) {
      r.skip(wt);
      continue;
    }
    wrongType(field, wt, WIRE_VARINT);
    volumeInfoVarint(r, v, field);
  }
  return v;
}

function isVolumeInfoVarint(field: number): boolean {
  return (field >= 1 && field <= 12 && field !== 3) || field === 100;
}

function volumeInfoVarint(r: Reader, v: VolumeInformationMessage, field: number): void {
  switch (field) {
    case 1:
      v.id = r.uint32();
      return;
    case 2:
      v.size = r.int64(false);
      return;
    case 4:
      v.fileCount = r.int64(false);
      return;
    case 5:
      v.deleteCount = r.int64(false);
      return;
    case 6:
      v.deletedByteCount = r.int64(false);
      return;
    case 7:
      v.readOnly = r.varint() !== 0;
      return;
    case 8:
      v.replicaPlacement = r.uint32();
      return;
    case 9:
      v.version = r.uint32();
      return;
    case 10:
      v.ttl = r.uint32();
      return;
    case 11:
      v.compactRevision = r.uint32();
      return;
    case 12:
      v.modifiedAtSecond = r.int64(true);
      return;
    default:
      v.needsCheck = r.varint() !== 0;
  }
}

function shortInfo(r: Reader): VolumeShortInformationMessage {
  const v: VolumeShortInformationMessage = {
    $typeName: "master_pb.VolumeShortInformationMessage",
    id: 0,
    collection: "",
    replicaPlacement: 0,
    version: 0,
    ttl: 0,
    diskType: "",
  };
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 3 || field === 15) {
      wrongType(field, wt, WIRE_LEN);
      if (field === 3) v.collection = r.string();
      else v.diskType = r.string();
    } else if (field === 1 || (field >= 8 && field <= 10)) {
      wrongType(field, wt, WIRE_VARINT);
      const n = r.uint32();
      if (field === 1) v.id = n;
      else if (field === 8) v.replicaPlacement = n;
      else if (field === 9) v.version = n;
      else v.ttl = n;
    } else {
      r.skip(wt);
    }
  }
  return v;
}

/** One map<string, uint32> entry into `counts` (a missing key is "", a missing value 0). */
function countEntry(r: Reader, counts: { [key: string]: number }): void {
  let key = "";
  let value = 0;
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (field === 1 && !wrongType(field, wt, WIRE_LEN)) key = r.string();
    else if (field === 2 && !wrongType(field, wt, WIRE_VARINT)) value = r.uint32();
    else r.skip(wt);
  }
  counts[key] = value;
}

function emptyHeartbeat(): Heartbeat {
  return {
    $typeName: "master_pb.Heartbeat",
    ip: "",
    port: 0,
    publicUrl: "",
    maxVolumeCounts: {},
    maxFileKey: 0n,
    dataCenter: "",
    rack: "",
    adminPort: 0,
    volumes: [],
    newVolumes: [],
    deletedVolumes: [],
    hasNoVolumes: false,
    grpcPort: 0,
    id: "",
    clusterId: "",
  };
}

/** A Heartbeat's string fields by number. */
const stringFields: { readonly [field: number]: "ip" | "publicUrl" | "dataCenter" | "rack" | "id" | "clusterId" } = {
  1: "ip",
  3: "publicUrl",
  6: "dataCenter",
  7: "rack",
  22: "id",
  100: "clusterId",
};

/** A Heartbeat's uint32 fields by number. */
const uint32Fields: { readonly [field: number]: "port" | "adminPort" | "grpcPort" } = {
  2: "port",
  8: "adminPort",
  20: "grpcPort",
};

function heartbeatField(r: Reader, hb: Heartbeat, field: number, wt: number): void {
  const str = stringFields[field];
  const u32 = uint32Fields[field];
  if (str !== undefined) {
    wrongType(field, wt, WIRE_LEN);
    hb[str] = r.string();
  } else if (u32 !== undefined) {
    wrongType(field, wt, WIRE_VARINT);
    hb[u32] = r.uint32();
  } else if (field === 5 && !wrongType(field, wt, WIRE_VARINT)) {
    hb.maxFileKey = r.int64(false);
  } else if (field === 12 && !wrongType(field, wt, WIRE_VARINT)) {
    hb.hasNoVolumes = r.varint() !== 0;
  } else if (field === 9 && !wrongType(field, wt, WIRE_LEN)) {
    hb.volumes.push(volumeInfo(r.sub()));
  } else if ((field === 10 || field === 11) && !wrongType(field, wt, WIRE_LEN)) {
    (field === 10 ? hb.newVolumes : hb.deletedVolumes).push(shortInfo(r.sub()));
  } else if (field === 4 && !wrongType(field, wt, WIRE_LEN)) {
    countEntry(r.sub(), hb.maxVolumeCounts);
  } else {
    r.skip(wt);
  }
}

/** Decodes a Heartbeat as fromBinary(HeartbeatSchema, bytes) does (see the header). */
export function decodeHeartbeat(bytes: Uint8Array): Heartbeat {
  const r = new Reader(bytes, 0, bytes.length);
  const hb = emptyHeartbeat();
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    if (field === 0) throw malformed("field number 0");
    heartbeatField(r, hb, field, tag & 7);
  }
  return hb;
}
