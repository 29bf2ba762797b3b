// The hand-written Heartbeat decoder (issue 15) against protobuf-es's fromBinary: random messages
// (seeded), 64-bit edges, unknown fields, and malformed input refused with a typed error.
import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { WeedError } from "../../../src/common/errors.js";
import {
  HeartbeatSchema,
  VolumeInformationMessageSchema,
  VolumeShortInformationMessageSchema,
  type Heartbeat,
} from "../../../src/gen/master_pb.js";
import { decodeHeartbeat } from "../../../src/master/api/heartbeat-decode.js";

const MESSAGES = 100;

/** xorshift32: the same messages on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

function randomMessage(random: () => number): Heartbeat {
  const int = (max: number): number => Math.floor(random() * max);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const u32 = (): number => pick([0, 1, 127, 128, 300, 65535, 0xffffffff, int(0x1_0000_0000)]);
  const u64 = (): bigint =>
    pick([0n, 1n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 64n - 1n, BigInt(int(2 ** 40)), BigInt(int(1000))]);
  const i64 = (): bigint => pick([0n, -1n, -(2n ** 63n), 2n ** 63n - 1n, BigInt(int(2 ** 33)) - 2n ** 32n]);
  const str = (): string => pick(["", "pics", "hdd", "ssd", "dc-é", "機架", "a".repeat(int(200))]);
  const bool = (): boolean => random() < 0.5;
  const volume = () =>
    create(VolumeInformationMessageSchema, {
      id: u32(),
      size: u64(),
      collection: str(),
      fileCount: u64(),
      deleteCount: u64(),
      deletedByteCount: u64(),
      readOnly: bool(),
      replicaPlacement: u32(),
      version: u32(),
      ttl: u32(),
      compactRevision: u32(),
      modifiedAtSecond: i64(),
      diskType: str(),
      needsCheck: bool(),
    });
  const short = () =>
    create(VolumeShortInformationMessageSchema, {
      id: u32(),
      collection: str(),
      replicaPlacement: u32(),
      version: u32(),
      ttl: u32(),
      diskType: str(),
    });
  const counts: { [k: string]: number } = {};
  for (let i = int(3); i > 0; i--) counts[str()] = u32();
  return create(HeartbeatSchema, {
    ip: str(),
    port: u32(),
    publicUrl: str(),
    maxVolumeCounts: counts,
    maxFileKey: u64(),
    dataCenter: str(),
    rack: str(),
    adminPort: u32(),
    volumes: Array.from({ length: int(120) }, volume),
    newVolumes: Array.from({ length: int(3) }, short),
    deletedVolumes: Array.from({ length: int(3) }, short),
    hasNoVolumes: bool(),
    grpcPort: u32(),
    id: str(),
    clusterId: str(),
  });
}

describe("decodeHeartbeat", () => {
  it("decodes random messages exactly as fromBinary does", () => {
    const random = rng(15);
    for (let i = 0; i < MESSAGES; i++) {
      const bytes = toBinary(HeartbeatSchema, randomMessage(random));
      expect(decodeHeartbeat(bytes)).toStrictEqual(fromBinary(HeartbeatSchema, bytes));
    }
  });

  it("takes a Buffer view inside a larger buffer (as grpc-js hands it over)", () => {
    const bytes = toBinary(HeartbeatSchema, randomMessage(rng(7)));
    const big = Buffer.alloc(bytes.length + 20);
    big.set(bytes, 10);
    const view = big.subarray(10, 10 + bytes.length);
    expect(decodeHeartbeat(view)).toStrictEqual(fromBinary(HeartbeatSchema, bytes));
  });

  it("skips unknown fields, keeps the last of a repeated scalar, and reads overlong uint32 varints", () => {
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).string("10.0.0.1");
    w.tag(50, WireType.Varint).uint64(7n); // unknown varint
    w.tag(51, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3])); // unknown bytes
    w.tag(52, WireType.Bit64).fixed64(9n);
    w.tag(53, WireType.Bit32).fixed32(9);
    w.tag(2, WireType.Varint).uint32(8080);
    w.tag(2, WireType.Varint).uint64(2n ** 40n + 8081n); // a uint32 sent as a wider varint: low 32 bits
    w.tag(5, WireType.Varint).uint64(2n ** 64n - 1n);
    const bytes = w.finish();
    const ours = decodeHeartbeat(bytes);
    const theirs = fromBinary(HeartbeatSchema, bytes);
    expect(ours.ip).toBe("10.0.0.1");
    expect(ours.port).toBe(theirs.port);
    expect(ours.maxFileKey).toBe(2n ** 64n - 1n);
    const { $unknown: _unknown, ...known } = theirs;
    expect(ours).toStrictEqual(known);
  });

  it("refuses malformed input with a WeedError", () => {
    const bytes = toBinary(HeartbeatSchema, randomMessage(rng(3)));
    for (const bad of [
      bytes.subarray(0, bytes.length - 1),
      new Uint8Array([0x0a, 0x05, 0x61]), // ip: length past the end
      new Uint8Array([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 11-byte varint
      new Uint8Array([0x0b]), // field 1 as a group
      new Uint8Array([0x00, 0x01]), // field number 0
      new Uint8Array([0x08, 0x01]), // ip as a varint
    ]) {
      expect(() => decodeHeartbeat(bad)).toThrow(WeedError);
    }
  });
});
