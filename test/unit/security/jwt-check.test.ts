// FidTokenKey.check (src/common/security/jwt.ts), the volume server's check of an upload's or
// delete's token against the fid its URL path names: synchronous on the HMAC path (no promise for
// a token that holds, TokenRefused thrown for one that does not), jose's promise otherwise, and
// the same answers as verify(token, tokenFidOfPath(path)) for every path form.
import { createHmac } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { WeedError } from "../../../src/common/errors.js";
import { FidTokenKey, tokenFidOfPath, TokenRefused, type TokenRefusal } from "../../../src/common/security/jwt.js";

const SECRET = "check-signing-key";
const secretBytes = new TextEncoder().encode(SECRET);
const FID = "3,01637037d6";
const wallClockSec = (): number => Date.now() / 1000;
const key = new FidTokenKey({ key: SECRET, expiresAfterSeconds: 10 }, wallClockSec);

/** check()'s answer, synchronous or not: "ok", or the refusal's reason. */
async function outcome(k: FidTokenKey, token: string | undefined, path: string): Promise<"ok" | TokenRefusal> {
  try {
    await k.check(token, path);
    return "ok";
  } catch (err) {
    if (err instanceof TokenRefused) return err.reason;
    throw err;
  }
}

/** verify()'s answer for the fid the path names (what check must agree with). */
async function verifyOutcome(k: FidTokenKey, token: string | undefined, path: string): Promise<"ok" | TokenRefusal> {
  try {
    await k.verify(token, tokenFidOfPath(path));
    return "ok";
  } catch (err) {
    if (err instanceof TokenRefused) return err.reason;
    throw err;
  }
}

function signedBy(secret: string, claims: object): string {
  const signed = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url")}.${Buffer.from(
    JSON.stringify(claims),
  ).toString("base64url")}`;
  return `${signed}.${createHmac("sha256", secret).update(signed).digest("base64url")}`;
}

describe("FidTokenKey.check", () => {
  it("accepts its own token for the path an upload names, synchronously", () => {
    const t = key.signNow(FID)!;
    expect(key.check(t, `/${FID}`)).toBeUndefined();
  });

  it("covers every path form of that fid, `_N` suffixes included, as verify does", async () => {
    const t = key.signNow(FID)!;
    const paths = ["/3,01637037d6", "/3,1637037d6", "/3,01637037d6.jpg", "/3/01637037d6/a.jpg", "/3,01637037d6_2"];
    for (const p of paths) {
      expect(await outcome(key, t, p), p).toBe("ok");
      expect(await verifyOutcome(key, t, p), p).toBe("ok");
    }
  });

  it("refuses what verify refuses, for the same reason, synchronously on the HMAC path", async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = key.signNow(FID)!;
    const [h, p, s] = good.split(".") as [string, string, string];
    // The last character of a 32-byte signature carries 4 bits and 2 unused ones: a client may
    // set the unused bits and still decode to the same bytes; the encoding must be the canonical one.
    const last = s.charCodeAt(s.length - 1);
    const sameBytes = String.fromCharCode(last ^ 1);
    const cases: [string | undefined, string, TokenRefusal][] = [
      [undefined, `/${FID}`, "missing"],
      ["", `/${FID}`, "missing"],
      [good, "/3,01637037d7", "fid"],
      [good, "/4,01637037d6", "fid"],
      [key.signNow("3,01637037d6_1")!, "/3,01637037d6_1", "fid"],
      [signedBy(SECRET, { fid: "3/01637037d6" }), "/3/01637037d6", "fid"],
      [signedBy(SECRET, { fid: 3 }), `/${FID}`, "fid"],
      [signedBy(SECRET, {}), `/${FID}`, "fid"],
      [signedBy(SECRET, { fid: FID, exp: now - 1 }), `/${FID}`, "expired"],
      [signedBy(SECRET, { fid: FID, nbf: now + 60 }), `/${FID}`, "claims"],
      [signedBy(SECRET, { fid: FID, exp: "later" }), `/${FID}`, "claims"],
      [signedBy("another-key", { fid: FID }), `/${FID}`, "signature"],
      [`${h}.${p}.${s.slice(0, -1)}${sameBytes}`, `/${FID}`, "signature"],
      [`${h}.${p}.${s}A`, `/${FID}`, "signature"],
      [`${h}.${p}.`, `/${FID}`, "signature"],
    ];
    for (const [token, path, reason] of cases) {
      expect(await outcome(key, token, path), `${token} ${path}`).toBe(reason);
      expect(await verifyOutcome(key, token, path), `${token} ${path}`).toBe(reason);
      if (token !== undefined && token !== "" && reason !== "fid") {
        // Thrown, not a rejected promise: no promise turn on a secured write's path.
        expect(() => key.check(token, path)).toThrow(TokenRefused);
      }
    }
  });

  it("a fid the path form cannot be (volume id over 32 bits) is never taken from the text alone", async () => {
    const t = signedBy(SECRET, { fid: "4294967296,01637037d6" });
    await expect(outcome(key, t, "/4294967296,01637037d6")).rejects.toBeInstanceOf(WeedError);
  });

  it("leaves another header, or a key without a clock, to jose: a promise, with the same answers", async () => {
    const other = await new SignJWT({ fid: FID }).setProtectedHeader({ alg: "HS256" }).sign(secretBytes);
    const pending = key.check(other, `/${FID}`);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    const clockless = new FidTokenKey({ key: SECRET, expiresAfterSeconds: 10 });
    const t = await clockless.sign(FID);
    expect(clockless.check(t, `/${FID}`)).toBeInstanceOf(Promise);
    expect(await outcome(clockless, t, `/${FID}`)).toBe("ok");
    expect(await outcome(clockless, t, "/3,01637037d7")).toBe("fid");
    const hs512 = await new SignJWT({ fid: FID }).setProtectedHeader({ alg: "HS512" }).sign(secretBytes);
    expect(await outcome(key, hs512, `/${FID}`)).toBe("algorithm");
    expect(await outcome(key, "not-a-jwt", `/${FID}`)).toBe("malformed");
  });
});
