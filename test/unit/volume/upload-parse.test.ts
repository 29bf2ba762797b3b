import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dispositionFileName, headerParams, multipartBoundary } from "../../../src/common/content-disposition.js";
import { canonicalHeaderKey, resolveMime } from "../../../src/volume/handlers-write.js";

describe("header parameters", () => {
  it("reads quoted, unquoted, escaped and RFC 8187 parameters", () => {
    expect(dispositionFileName('form-data; name="file"; filename="a b.png"', false)).toBe("a b.png");
    expect(dispositionFileName("attachment; filename=plain.txt", true)).toBe("plain.txt");
    expect(dispositionFileName('attachment; filename="say \\"hi\\".txt"', true)).toBe('say "hi".txt');
    expect(dispositionFileName("attachment; filename*=UTF-8''%E2%82%AC%20rates.txt; filename=\"x.txt\"", true)).toBe(
      "€ rates.txt",
    );
    expect(dispositionFileName('form-data; filename="C:\\\\dir\\\\photo.jpg"', false)).toBe("photo.jpg");
    expect(dispositionFileName('form-data; filename="../../etc/passwd"', false)).toBe("passwd");
    // name= counts for a raw body only, as SeaweedFS's parsePut; a multipart field name is not a file name.
    expect(dispositionFileName('form-data; name="field"', false)).toBe("");
    expect(dispositionFileName('inline; name="n.txt"', true)).toBe("n.txt");
    expect(dispositionFileName(undefined, true)).toBe("");
  });

  it("finds the multipart boundary", () => {
    expect(multipartBoundary("multipart/form-data; boundary=----abc123")).toBe("----abc123");
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="quoted b"')).toBe("quoted b");
    expect(multipartBoundary("multipart/form-data")).toBeUndefined();
  });

  it("round-trips any quoted file name", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((s) => !/[/\\\r\n]/.test(s)),
        (name) => {
          const quoted = name.replace(/["\\]/g, (c) => `\\${c}`);
          expect(headerParams(`form-data; name="f"; filename="${quoted}"`).get("filename")).toBe(name);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("pairs and mime", () => {
  it("canonicalizes header names as Go does", () => {
    expect(canonicalHeaderKey("owner-id")).toBe("Owner-Id");
    expect(canonicalHeaderKey("X-AMZ-meta")).toBe("X-Amz-Meta");
  });

  it("prefers an explicit Content-Type over the extension, except octet-stream", () => {
    expect(resolveMime("text/plain", "a.png", "")).toBe("text/plain");
    expect(resolveMime("application/octet-stream", "a.png", "")).toBe("image/png");
    expect(resolveMime("", "noext", ".JSON")).toBe("application/json");
    expect(resolveMime("", "noext", "")).toBeUndefined();
  });
});
