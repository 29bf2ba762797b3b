// Fid tokens (src/common/security/jwt.ts): SeaweedFS's claims and algorithm, every refusal typed,
// and the three places a request carries one.
import type { IncomingMessage } from "node:http";
import { createHmac } from "node:crypto";
import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/common/errors.js";
import { parseFid } from "../../../src/common/fid.js";
import {
  FidTokenKey,
  fidTokensOf,
  tokenFidOfPath,
  tokenOf,
  TokenRefused,
  type TokenRefusal,
} from "../../../src/common/security/jwt.js";

const SECRET = "test-signing-key";
const FID = "3,01637037d6";
const secretBytes = new TextEncoder().encode(SECRET);

async function refusal(p: Promise<unknown>): Promise<TokenRefusal> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRefused);
  expect((err as TokenRefused).code).toBe(ErrorCode.UNAUTHORIZED);
  expect((err as TokenRefused).httpStatus).toBe(401);
  expect((err as TokenRefused).message).not.toContain(SECRET);
  return (err as TokenRefused).reason;
}

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

const wallClockSec = (): number => Date.now() / 1000;

// Without a clock jose does everything; with one, standard-header tokens are node:crypto HMACs.
describe.each([
  ["jose only", undefined],
  ["HMAC fast path", wallClockSec],
])("FidTokenKey (%s)", (_name, clock) => {
  const key = new FidTokenKey({ key: SECRET, expiresAfterSeconds: 10 }, clock);
  it("signs SeaweedFS's SeaweedFileIdClaims with HS256 and verifies its own token", async () => {
    const t = await key.sign(FID);
    expect(decodeProtectedHeader(t)).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = decodeJwt(t);
    expect(Object.keys(claims)).toEqual(["fid", "exp"]);
    expect(claims.fid).toBe(FID);
    const now = Math.floor(Date.now() / 1000);
    // At least 10 s from now (exp is whole seconds, rounded up), under 11 s.
    expect(claims.exp).toBeGreaterThanOrEqual(now + 10);
    expect(claims.exp).toBeLessThanOrEqual(now + 11);
    await key.verify(t, parseFid(FID));
    // The same fid written another way (leading zero byte of the key dropped) is the same fid.
    await key.verify(t, parseFid("3,1637037d6"));
    // Another implementation with the same key accepts it (a Go SeaweedFS volume server would too).
    await jwtVerify(t, secretBytes, { algorithms: ["HS256"] });
  });

  it("accepts a token made elsewhere with the same key, and one without exp (expires_after_seconds = 0)", async () => {
    const foreign = await new SignJWT({ fid: FID }).setProtectedHeader({ alg: "HS256" }).sign(secretBytes);
    await key.verify(foreign, parseFid(FID));
    const forever = new FidTokenKey({ key: SECRET, expiresAfterSeconds: 0 }, clock);
    const t = await forever.sign(FID);
    expect(decodeJwt(t).exp).toBeUndefined();
    await key.verify(t, parseFid(FID));
  });

  it("refuses missing, expired, other-fid, tampered, wrong-key, alg none, malformed tokens: says which", async () => {
    const fid = parseFid(FID);
    expect(await refusal(key.verify(undefined, fid))).toBe("missing");
    expect(await refusal(key.verify("", fid))).toBe("missing");
    const past = Math.floor(Date.now() / 1000) - 5;
    const expired = await new SignJWT({ fid: FID })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setExpirationTime(past)
      .sign(secretBytes);
    expect(await refusal(key.verify(expired, fid))).toBe("expired");
    expect(await refusal(key.verify(await key.sign("3,01637037d7"), fid))).toBe("fid");
    expect(await refusal(key.verify(await key.sign("4,01637037d6"), fid))).toBe("fid");
    expect(await refusal(key.verify(await key.sign("3,01637037d6_1"), fid))).toBe("fid");
    const noFid = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).sign(secretBytes);
    expect(await refusal(key.verify(noFid, fid))).toBe("fid");
    const good = await key.sign(FID);
    const [h, p, s] = good.split(".") as [string, string, string];
    const otherPayload = Buffer.from(JSON.stringify({ fid: "3,0163703700" })).toString("base64url");
    expect(await refusal(key.verify(`${h}.${otherPayload}.${s}`, fid))).toBe("signature");
    const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
    expect(await refusal(key.verify(`${h}.${p}.${flipped}`, fid))).toBe("signature");
    const otherKey = new FidTokenKey({ key: "another-key", expiresAfterSeconds: 10 }, clock);
    expect(await refusal(key.verify(await otherKey.sign(FID), fid))).toBe("signature");
    const none = new UnsecuredJWT({ fid: FID }).encode();
    expect(await refusal(key.verify(none, fid))).toBe("algorithm");
    const hs512 = await new SignJWT({ fid: FID }).setProtectedHeader({ alg: "HS512" }).sign(secretBytes);
    expect(await refusal(key.verify(hs512, fid))).toBe("algorithm");
    expect(await refusal(key.verify("not-a-jwt", fid))).toBe("malformed");
    expect(await refusal(key.verify("a.b.c", fid))).toBe("malformed");
    // A standard header over a payload that is not a claims object, correctly signed.
    for (const claims of ["[1]", "null", "{"]) {
      const signed = `${h}.${Buffer.from(claims).toString("base64url")}`;
      const sig = createHmac("sha256", SECRET).update(signed).digest("base64url");
      expect(await refusal(key.verify(`${signed}.${sig}`, fid))).toBe("malformed");
    }
    const stringExp = await new SignJWT({ fid: FID, exp: "never" } as unknown as JWTPayload)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(secretBytes);
    expect(await refusal(key.verify(stringExp, fid))).toBe("claims");
  });

  it("a token expires when its exp second comes, by the clock it is given", async () => {
    let now = 1_000_000.5;
    const clocked = new FidTokenKey(
      { key: SECRET, expiresAfterSeconds: 1 },
      clock === undefined ? undefined : () => now,
    );
    if (clock === undefined) return; // jose's own clock: the expired cases above cover it
    const t = await clocked.sign(FID);
    expect(decodeJwt(t).exp).toBe(1_000_002);
    await clocked.verify(t, parseFid(FID));
    now = 1_000_001.99;
    await clocked.verify(t, parseFid(FID));
    now = 1_000_002;
    expect(await refusal(clocked.verify(t, parseFid(FID)))).toBe("expired");
  });

  it("refuses a token not yet valid (nbf in the future)", async () => {
    const later = Math.floor(Date.now() / 1000) + 60;
    const t = await new SignJWT({ fid: FID })
      .setProtectedHeader({ alg: "HS256" })
      .setNotBefore(later)
      .sign(secretBytes);
    expect(await refusal(key.verify(t, parseFid(FID)))).toBe("claims");
  });

  it("keys come from the security config: none when a section is absent", () => {
    expect(fidTokensOf({ whiteList: [] })).toEqual({ write: undefined, read: undefined });
    expect(fidTokensOf(undefined)).toEqual({ write: undefined, read: undefined });
    const both = fidTokensOf({
      whiteList: [],
      jwtSigning: { key: "w", expiresAfterSeconds: 10 },
      jwtSigningRead: { key: "r", expiresAfterSeconds: 60 },
    });
    expect(both.write?.expiresAfterSeconds).toBe(10);
    expect(both.read?.expiresAfterSeconds).toBe(60);
  });

  it("signs and verifies in tens of microseconds (printed)", async () => {
    const n = 2000;
    const fid = parseFid(FID);
    let t = "";
    const s0 = performance.now();
    for (let i = 0; i < n; i++) t = await key.sign(FID);
    const s1 = performance.now();
    for (let i = 0; i < n; i++) await key.verify(t, fid);
    const s2 = performance.now();
    const signUs = ((s1 - s0) * 1000) / n;
    const verifyUs = ((s2 - s1) * 1000) / n;
    console.log(`jwt: sign ${signUs.toFixed(1)} us, verify ${verifyUs.toFixed(1)} us (${n} each, sequential)`);
    expect(verifyUs).toBeGreaterThan(0);
  });
});

describe("where a request carries its token", () => {
  it("?jwt= first, then Authorization: Bearer (any case), then cookie AT, as SeaweedFS's GetJwt", () => {
    expect(tokenOf(request({}), "")).toBeUndefined();
    expect(tokenOf(request({}), "jwt=q.q.q")).toBe("q.q.q");
    expect(tokenOf(request({ authorization: "Bearer h.h.h" }), "")).toBe("h.h.h");
    expect(tokenOf(request({ authorization: "bearer h.h.h" }), "")).toBe("h.h.h");
    expect(tokenOf(request({ authorization: "Basic dXNlcjpwYXNz" }), "")).toBeUndefined();
    expect(tokenOf(request({ cookie: "x=1; AT=c.c.c; y=2" }), "")).toBe("c.c.c");
    expect(tokenOf(request({ authorization: "Bearer h.h.h", cookie: "AT=c.c.c" }), "jwt=q.q.q")).toBe("q.q.q");
    expect(tokenOf(request({ authorization: "Bearer h.h.h", cookie: "AT=c.c.c" }), "ttl=3m")).toBe("h.h.h");
    expect(tokenOf(request({ cookie: "AT=c.c.c" }), "jwt=")).toBe("c.c.c");
  });

  it("the fid a path names, with a count>1 `_N` suffix covered by the first fid's token", () => {
    const base = parseFid(FID);
    for (const p of [
      "/3,01637037d6",
      "/3,01637037d6.jpg",
      "/3/01637037d6/a.jpg",
      "/3,01637037d6_2",
      "/3/01637037d6_1.x",
    ])
      expect(tokenFidOfPath(p)).toEqual(base);
  });
});
