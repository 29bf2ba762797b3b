// The admin token ([jwt.admin] key): what it holds, and every token refused with the reason the
// 401 or UNAUTHENTICATED names (never a word about the key).
import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import {
  AdminTokenKey,
  adminKeyOf,
  adminTokenLifetimeSec,
  bearerTokenOf,
} from "../../../src/common/security/admin-token.js";
import { TokenRefused } from "../../../src/common/security/jwt.js";

const KEY = "the admin key";
const key = new AdminTokenKey(KEY);
const secret = new TextEncoder().encode(KEY);
const nowSec = (): number => Math.floor(performance.timeOrigin / 1000 + performance.now() / 1000);

async function refusal(token: string | undefined): Promise<TokenRefused> {
  const err = await key.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRefused);
  return err as TokenRefused;
}

describe("AdminTokenKey", () => {
  it("mints {admin: true, exp: now + 60 s} in HS256, which it accepts", async () => {
    const token = await key.mint();
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });
    expect(payload.admin).toBe(true);
    expect(Math.abs(payload.exp - (nowSec() + adminTokenLifetimeSec))).toBeLessThanOrEqual(2);
    await key.verify(token);
    expect(bearerTokenOf(await key.authorization())).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("refuses a missing, expired, foreign, unsigned, exp-less or non-admin token, saying which", async () => {
    expect((await refusal(undefined)).reason).toBe("missing");
    expect((await refusal("")).reason).toBe("missing");
    expect((await refusal(await key.mint(nowSec() - 1))).reason).toBe("expired");
    expect((await refusal(await new AdminTokenKey("another").mint())).reason).toBe("signature");
    expect((await refusal("a.b.c")).reason).toBe("malformed");
    const unsigned = new UnsecuredJWT({ admin: true }).setExpirationTime("60s").encode();
    expect((await refusal(unsigned)).reason).toBe("algorithm");
    const hs = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: "HS256" });
    expect((await refusal(await hs({ admin: true }).sign(secret))).reason).toBe("claims");
    expect((await refusal(await hs({ admin: "yes" }).setExpirationTime("60s").sign(secret))).reason).toBe("claims");
    // A fid token signed with the same key is not an admin token.
    const fid = await hs({ fid: "3,01637037d6" }).setExpirationTime("60s").sign(secret);
    expect((await refusal(fid)).reason).toBe("claims");
  });

  it("reads only Authorization: Bearer, in any case; the key is off without [jwt.admin]", () => {
    expect(bearerTokenOf("Bearer a.b.c")).toBe("a.b.c");
    expect(bearerTokenOf("bearer  a.b.c")).toBe("a.b.c");
    expect(bearerTokenOf("Basic dXNlcjpwdw==")).toBeUndefined();
    expect(bearerTokenOf(undefined)).toBeUndefined();
    expect(adminKeyOf(undefined)).toBeUndefined();
    expect(adminKeyOf({ whiteList: [] })).toBeUndefined();
    expect(adminKeyOf({ whiteList: [], jwtAdmin: { key: "k" } })).toBeInstanceOf(AdminTokenKey);
  });
});
