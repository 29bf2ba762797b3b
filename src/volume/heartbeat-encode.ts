// A hand-written encoder for the one message a volume server sends most: master_pb.Heartbeat with
// its volumes (proto/master.proto), the counterpart of the master's heartbeat-decode.ts. A full beat
// lists every volume; protobuf-es's toBinary walks the descriptor field by field and, for the
// repeated sub-messages, forks and joins a chunk per volume: after a failover, when every server
// sends full beats to one master after another, that was most of a server's CPU (bench:scale with
// 500 simulated servers per process, issue 15). Here the volumes are written straight into one
// reused buffer; the beat's other fields (a handful) still go through toBinary. Fields are written
// as proto3 does (zero values left out); the volumes come after the other fields, which protobuf
// readers merge in any order, so the master reads the same beat (test/unit/volume/heartbeat-encode.test.ts).
import { toBinary } from "@bufbuild/protobuf";
import { HeartbeatSchema, type Heartbeat, type VolumeInformationMessage } from "../gen/master_pb.js";

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
/** Heartbeat.volumes, field 9, length-delimited. */
const VOLUMES_TAG = (9 << 3) | WIRE_LEN;
/** Room kept before a volume's bytes for its length (a varint of up to 5 bytes: 4 GiB). */
const lengthRoom = 5;
/** The scratch buffer starts here and doubles as needed (a 100-volume beat is ~6 KB). */
const scratchInitialBytes = 64 * 1024;

/** The largest 64-bit value written through the number path (exact as a double). */
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

let scratch = Buffer.allocUnsafe(scratchInitialBytes);
let pos = 0;

function ensure(bytes: number): void {
  if (pos + bytes <= scratch.length) return;
  let size = scratch.length * 2;
  while (size < pos + bytes) size *= 2;
  const bigger = Buffer.allocUnsafe(size);
  scratch.copy(bigger, 0, 0, pos);
  scratch = bigger;
}

/** A non-negative integer up to 2^53 as a varint (room checked by the caller). */
function varint(n: number): void {
  while (n >= 0x80) {
    scratch[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  scratch[pos++] = n;
}

function tag(field: number, wire: number): void {
  varint(field * 8 + wire);
}

function uint32Field(field: number, v: number): void {
  if (v === 0) return;
  tag(field, WIRE_VARINT);
  varint(v >>> 0);
}

function boolField(field: number, v: boolean): void {
  if (!v) return;
  tag(field, WIRE_VARINT);
  scratch[pos++] = 1;
}

/** A uint64 or int64 field: exact for any value (negative int64 as its 10-byte two's complement). */
function int64Field(field: number, v: bigint): void {
  if (v === 0n) return;
  tag(field, WIRE_VARINT);
  if (v > 0n && v <= SAFE_MAX) return varint(Number(v));
  let u = BigInt.asUintN(64, v);
  while (u >= 0x80n) {
    scratch[pos++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  scratch[pos++] = Number(u);
}

function stringField(field: number, s: string): void {
  if (s === "") return;
  const bytes = Buffer.byteLength(s, "utf8");
  ensure(bytes + 2 * lengthRoom);
  tag(field, WIRE_LEN);
  varint(bytes);
  pos += scratch.write(s, pos, "utf8");
}

/** Bytes a volume needs at most besides its strings: 14 tags and varints of at most 10 bytes. */
const volumeFixedBytesMax = 14 * 12;

function volume(v: VolumeInformationMessage): void {
  ensure(volumeFixedBytesMax + 2 * lengthRoom);
  scratch[pos++] = VOLUMES_TAG;
  const lengthAt = pos;
  pos += lengthRoom;
  const bodyAt = pos;
  uint32Field(1, v.id);
  int64Field(2, v.size);
  stringField(3, v.collection);
  ensure(volumeFixedBytesMax);
  int64Field(4, v.fileCount);
  int64Field(5, v.deleteCount);
  int64Field(6, v.deletedByteCount);
  boolField(7, v.readOnly);
  uint32Field(8, v.replicaPlacement);
  uint32Field(9, v.version);
  uint32Field(10, v.ttl);
  uint32Field(11, v.compactRevision);
  int64Field(12, v.modifiedAtSecond);
  stringField(15, v.diskType);
  ensure(volumeFixedBytesMax);
  boolField(100, v.needsCheck);
  // The length goes in front: the body moves back over the room its varint did not need.
  const length = pos - bodyAt;
  pos = lengthAt;
  varint(length);
  if (pos !== bodyAt) scratch.copyWithin(pos, bodyAt, bodyAt + length);
  pos += length;
}

/** The beat's bytes, as toBinary(HeartbeatSchema, hb) would read back. */
export function encodeHeartbeat(hb: Heartbeat): Uint8Array {
  const rest = toBinary(HeartbeatSchema, hb.volumes.length === 0 ? hb : { ...hb, volumes: [] });
  if (hb.volumes.length === 0) return rest;
  pos = 0;
  ensure(rest.length);
  scratch.set(rest, 0);
  pos = rest.length;
  for (const v of hb.volumes) volume(v);
  // A copy: grpc-js may hold the bytes until the socket takes them, and the scratch is reused.
  return new Uint8Array(scratch.subarray(0, pos));
}
