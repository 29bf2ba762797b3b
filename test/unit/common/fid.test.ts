import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { formatFid, parseFid, parseFidPath } from "../../../src/common/fid.js";

const fidArb = fc.record({
  volumeId: fc.integer({ min: 0, max: 0xffffffff }),
  key: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
  cookie: fc.integer({ min: 0, max: 0xffffffff }),
});

describe("file ids", () => {
  it("formats as SeaweedFS does: leading zero bytes of the key stripped, 8-digit cookie", () => {
    expect(formatFid({ volumeId: 3, key: 0x01n, cookie: 0x637037d6 })).toBe("3,01637037d6");
    expect(formatFid({ volumeId: 7, key: 0x1234n, cookie: 1 })).toBe("7,123400000001");
    expect(formatFid({ volumeId: 1, key: 0xabcn, cookie: 0xffffffff })).toBe("1,0abcffffffff");
  });

  it("round-trips every volume id, key and cookie", () => {
    fc.assert(
      fc.property(fidArb, (fid) => {
        expect(parseFid(formatFid(fid))).toEqual({ ...fid });
      }),
    );
  });

  it("parses keys of odd length and the _N suffix (key + N)", () => {
    expect(parseFid("3,1637037d6")).toEqual({ volumeId: 3, key: 1n, cookie: 0x637037d6 });
    expect(parseFid("3,01637037d6_2")).toEqual({ volumeId: 3, key: 3n, cookie: 0x637037d6 });
  });

  it.each([
    "3",
    "3,",
    ",01637037d6",
    "x,01637037d6",
    "3,637037d6",
    "3,zz637037d6",
    "3,0102030405060708091637037d6",
    "99999999999,01637037d6",
    "-1,01637037d6",
    "3,01637037d6_x",
    "3,01637037d6_",
  ])("rejects %j with BAD_FID", (text) => {
    try {
      parseFid(text);
      expect.unreachable(`parsed ${text}`);
    } catch (err) {
      expect(err).toBeInstanceOf(WeedError);
      expect((err as WeedError).code).toBe(ErrorCode.BAD_FID);
      expect((err as WeedError).httpStatus).toBe(400);
    }
  });

  it("never throws anything but BAD_FID on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseFid(s);
        } catch (err) {
          expect((err as WeedError).code).toBe(ErrorCode.BAD_FID);
        }
      }),
    );
  });
});

describe("URL path forms", () => {
  const fid = { volumeId: 3, key: 1n, cookie: 0x637037d6 };
  it.each([
    ["/3,01637037d6", undefined, ""],
    ["/3,01637037d6.jpg", undefined, ".jpg"],
    ["/3/01637037d6", undefined, ""],
    ["/3/01637037d6.jpg", undefined, ".jpg"],
    ["/3/01637037d6/my%20photo.png", "my photo.png", ".png"],
  ])("%s", (path, fileName, ext) => {
    expect(parseFidPath(path)).toEqual({ fid, fileName, ext });
  });

  it.each(["/", "/3", "/a/b/c/d", "/3,xyz"])("rejects %s", (path) => {
    expect(() => parseFidPath(path)).toThrow(WeedError);
  });

  // Issue 9 item 6: "/<vid>/<key>/%ZZ" answered 500 "URI malformed" and logged a stack.
  it.each(["/3/01637037d6/%ZZ", "/3/01637037d6/%", "/3/01637037d6/a%E0%A4", "/3/01637037d6/%ED%A0%80"])(
    "an invalid percent-encoding in the file name of %s is BAD_FID naming the path",
    (path) => {
      try {
        parseFidPath(path);
        expect.unreachable(`parsed ${path}`);
      } catch (err) {
        expect(err).toBeInstanceOf(WeedError);
        expect((err as WeedError).code).toBe(ErrorCode.BAD_FID);
        expect((err as WeedError).message).toContain(JSON.stringify(path));
      }
    },
  );

  it("never throws anything but BAD_FID on arbitrary paths", () => {
    const segment = fc.oneof(
      fc.string(),
      fc.constantFrom("3", "01637037d6", "%", "%ZZ", "%E0%A4", "%ED%A0%80", "..", "%2F", "é"),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), (segments) => {
        try {
          parseFidPath("/" + segments.join("/"));
        } catch (err) {
          expect(err).toBeInstanceOf(WeedError);
          expect((err as WeedError).code).toBe(ErrorCode.BAD_FID);
        }
      }),
    );
  });
});
