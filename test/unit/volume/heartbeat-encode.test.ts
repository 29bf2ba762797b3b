// The volume server's hand-written heartbeat encoder (heartbeat-encode.ts) against protobuf-es: the
// bytes read back (by fromBinary and by the master's own decoder) as the same beat, for edge values,
// a beat larger than the scratch buffer, and results that do not share memory.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  HeartbeatSchema,
  VolumeInformationMessageSchema,
  VolumeShortInformationMessageSchema,
  type Heartbeat,
  type VolumeInformationMessage,
} from "../../../src/gen/master_pb.js";
import { decodeHeartbeat } from "../../../src/master/api/heartbeat-decode.js";
import { encodeHeartbeat } from "../../../src/volume/heartbeat-encode.js";
import { Prng } from "../../../src/raft/sim/prng.js";

/** A seeded generator (the simulator's): the same volumes on every run. */
function seeded(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.float();
}

function volumeOf(rnd: () => number, i: number): VolumeInformationMessage {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const u64 = (): bigint => pick([0n, 1n, 127n, 128n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 64n - 1n, 123_456_789n]);
  return create(VolumeInformationMessageSchema, {
    id: pick([0, 1, i, 0xffffffff]),
    size: u64(),
    collection: pick(["", "pics", "日本語-ü", "x".repeat(300)]),
    fileCount: u64(),
    deleteCount: u64(),
    deletedByteCount: u64(),
    readOnly: rnd() < 0.5,
    replicaPlacement: pick([0, 1, 10, 111]),
    version: pick([0, 2, 3]),
    ttl: pick([0, 5, 0xffff]),
    compactRevision: pick([0, 1, 65535]),
    modifiedAtSecond: pick([0n, 1_700_000_000n, -1n, -(2n ** 63n), 2n ** 63n - 1n]),
    diskType: pick(["", "hdd", "ssd"]),
    needsCheck: rnd() < 0.3,
  });
}

function beatOf(volumes: VolumeInformationMessage[]): Heartbeat {
  return create(HeartbeatSchema, {
    ip: "127.0.0.1",
    port: 8080,
    publicUrl: "pub:8080",
    maxVolumeCounts: { "": 108 },
    maxFileKey: 2n ** 60n,
    dataCenter: "dc1",
    rack: "r1",
    volumes,
    newVolumes: [create(VolumeShortInformationMessageSchema, { id: 3, collection: "c" })],
    hasNoVolumes: volumes.length === 0,
    grpcPort: 18080,
    id: "127.0.0.1:8080",
    clusterId: "abc",
  });
}

function expectSameBeat(hb: Heartbeat): void {
  const mine = encodeHeartbeat(hb);
  const theirs = toBinary(HeartbeatSchema, hb);
  expect(mine.length).toBe(theirs.length);
  expect(fromBinary(HeartbeatSchema, mine)).toEqual(fromBinary(HeartbeatSchema, theirs));
  expect(decodeHeartbeat(mine)).toEqual(decodeHeartbeat(theirs));
}

describe("encodeHeartbeat", () => {
  it("reads back as toBinary's beat, edge values and all (seeded)", () => {
    const rnd = seeded(15);
    for (let round = 0; round < 50; round++) {
      const n = Math.floor(rnd() * 20);
      expectSameBeat(beatOf(Array.from({ length: n }, (_, i) => volumeOf(rnd, i))));
    }
    expectSameBeat(beatOf([]));
    expectSameBeat(beatOf([create(VolumeInformationMessageSchema, {})]));
  });

  it("knows every field of VolumeInformationMessage: a field added to the proto fails here first", () => {
    // heartbeat-encode.ts writes these, and volumeOf above sets each; the master's hand-written
    // decoder reads the same. A new field would otherwise be dropped from every full beat, silently.
    const written = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 100];
    expect(VolumeInformationMessageSchema.fields.map((f) => f.number).sort((a, b) => a - b)).toEqual(written);
  });

  it("grows past its scratch buffer, and each answer is its own copy", () => {
    const rnd = seeded(7);
    const big = beatOf(Array.from({ length: 2_000 }, (_, i) => volumeOf(rnd, i)));
    const bigBytes = encodeHeartbeat(big);
    expect(bigBytes.length).toBeGreaterThan(64 * 1024);
    const copy = Uint8Array.from(bigBytes);
    const small = encodeHeartbeat(beatOf([volumeOf(rnd, 1)]));
    expect(Buffer.from(bigBytes)).toEqual(Buffer.from(copy)); // not overwritten by the next beat
    expect(fromBinary(HeartbeatSchema, small).volumes).toHaveLength(1);
    expectSameBeat(big);
  });
});
