// The heartbeat's volume messages are built as literals (no create() per volume): they must encode
// exactly as create() with the same fields does, so the master reads the same beat.
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { VolumeInformationMessageSchema } from "../../../src/gen/master_pb.js";
import { volumeInformationMessage } from "../../../src/volume/volume-messages.js";
import type { VolumeInfo } from "../../../src/volume/storage/store-api.js";

function info(over: Partial<VolumeInfo>): VolumeInfo {
  return {
    ...{ id: 7, collection: "pics", replicaPlacement: { diffDataCenter: 0, diffRack: 1, sameRack: 0 } },
    ...{ ttl: { count: 3, unit: 2 }, size: 123_456_789, fileCount: 1000, deleteCount: 10 },
    ...{ deletedByteCount: 4096, readOnly: true, version: 3, compactRevision: 2 },
    ...{ modifiedAtSecond: 1_700_000_000, maxFileKey: 99n, needsCheck: true },
    ...over,
  };
}

describe("volumeInformationMessage", () => {
  it("encodes as create() would, for set and zero fields alike", () => {
    for (const v of [info({}), info({ id: 0, collection: "", size: 0, readOnly: false, needsCheck: false })]) {
      const m = volumeInformationMessage(v);
      const viaCreate = create(VolumeInformationMessageSchema, { ...m });
      expect(Buffer.from(toBinary(VolumeInformationMessageSchema, m))).toEqual(
        Buffer.from(toBinary(VolumeInformationMessageSchema, viaCreate)),
      );
      expect(m.$typeName).toBe("master_pb.VolumeInformationMessage");
    }
    // Every field of the schema is set on the literal (none left for a reader to find undefined).
    const m = volumeInformationMessage(info({}));
    for (const f of VolumeInformationMessageSchema.fields) expect(m).toHaveProperty(f.localName);
    expect(m.replicaPlacement).toBe(10);
    expect(m.size).toBe(123_456_789n);
  });
});
