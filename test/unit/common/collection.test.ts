// The one collection-name rule the master and the volume server share (issue 9 item 5).
import { describe, expect, it } from "vitest";
import { checkCollectionName, collectionNameCharsMax } from "../../../src/common/collection.js";
import { ErrorCode } from "../../../src/common/errors.js";

describe("checkCollectionName", () => {
  it.each(["", "pics", "a", "A-1_b.c", "x".repeat(collectionNameCharsMax)])("accepts %j", (name) => {
    expect(checkCollectionName(name)).toBe(name);
  });

  it.each(["..", ".hidden", "-x", "_x", "a b", "é", "a/b", "a\\b", "a\u0000b", "x".repeat(collectionNameCharsMax + 1)])(
    "refuses %j with BAD_PARAM naming the rule",
    (name) => {
      expect(() => checkCollectionName(name)).toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_PARAM, message: expect.stringContaining("letters, digits") }),
      );
    },
  );

  it("keeps a volume file name within 255 bytes at the longest name and id", () => {
    const file = `${"x".repeat(collectionNameCharsMax)}_${0xffff_ffff}.quarantine`;
    expect(Buffer.byteLength(file)).toBeLessThanOrEqual(255);
  });
});
