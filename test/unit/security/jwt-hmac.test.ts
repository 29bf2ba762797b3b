// The fid tokens' HMAC-SHA256 in JavaScript (src/common/security/hmac-sha256.ts): RFC 4231's
// vectors, and node:crypto's answer for every message length over several blocks and key sizes.
import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HmacSha256 } from "../../../src/common/security/hmac-sha256.js";

const hex = (h: string): Buffer => Buffer.from(h, "hex");
const b64url = (h: string): string => hex(h).toString("base64url");

/** A printable ASCII string of `n` characters (what a token's signed part is made of). */
function asciiText(n: number): string {
  const bytes = randomBytes(n);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(0x20 + (b % 0x5f));
  return s;
}

describe("HmacSha256", () => {
  it("gives RFC 4231's HMAC-SHA256 (short key, block-size-plus key, multi-block message)", () => {
    const cases: [Buffer, string, string][] = [
      [Buffer.alloc(20, 0x0b), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
      [
        Buffer.from("Jefe"),
        "what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      ],
      [
        Buffer.alloc(131, 0xaa),
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      ],
      [
        Buffer.alloc(131, 0xaa),
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to " +
          "be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
      ],
    ];
    for (const [key, message, mac] of cases) expect(new HmacSha256(key).base64url(message)).toBe(b64url(mac));
  });

  it("agrees with node:crypto for every message length 0..300 and keys of 0..130 bytes", () => {
    for (const keyBytes of [0, 1, 32, 44, 63, 64, 65, 130]) {
      const key = randomBytes(keyBytes);
      const mac = new HmacSha256(key);
      for (let n = 0; n <= 300; n++) {
        const message = asciiText(n);
        expect(mac.base64url(message), `key ${keyBytes} B, message ${n} B`).toBe(
          createHmac("sha256", key).update(message).digest("base64url"),
        );
      }
    }
  });

  it("hashes a message that is not ASCII as its UTF-8 bytes (as node:crypto does)", () => {
    const key = randomBytes(32);
    const mac = new HmacSha256(key);
    for (const message of ["é", "eyJ.ü.x", "\u{1F600}".repeat(40), "\x80", "a\u00ff"]) {
      expect(mac.base64url(message)).toBe(createHmac("sha256", key).update(message).digest("base64url"));
    }
  });

  it("each answer is its own string: the next call does not change the last one", () => {
    const key = randomBytes(32);
    const mac = new HmacSha256(key);
    const a = mac.base64url("first");
    const b = mac.base64url("second");
    expect(a).toBe(createHmac("sha256", key).update("first").digest("base64url"));
    expect(b).toBe(createHmac("sha256", key).update("second").digest("base64url"));
  });
});
