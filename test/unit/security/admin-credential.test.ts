// The admin credential: a client certificate whose name [guard] admin_commonNames lists, or an
// admin token; either admits, and a refusal says what was missing. security.toml refuses names
// that no gRPC call could show (the cluster's own volume allocation would be locked out).
import { describe, expect, it } from "vitest";
import { AdminCredential, adminCredentialOf } from "../../../src/common/security/admin-credential.js";
import { AdminTokenKey } from "../../../src/common/security/admin-token.js";
import { TokenRefused } from "../../../src/common/security/jwt.js";
import { parseSecurityToml } from "../../../src/common/security/load.js";

const key = new AdminTokenKey("k");

async function refusal(p: Promise<void>): Promise<TokenRefused> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRefused);
  return err as TokenRefused;
}

describe("AdminCredential", () => {
  it("names only: a listed certificate name admits; another name, or none, is refused naming it", async () => {
    const admin = new AdminCredential(undefined, ["ops", "master1"]);
    await admin.check({ authorization: undefined, commonName: "ops" });
    await admin.check({ authorization: undefined, commonName: "master1" });
    const other = await refusal(admin.check({ authorization: await key.authorization(), commonName: "volume1" }));
    expect(other.message).toBe("client certificate volume1 is not an admin name ([guard] admin_commonNames)");
    const none = await refusal(admin.check({ authorization: undefined, commonName: undefined }));
    expect(none.message).toContain("no client certificate is not an admin name");
    expect(admin.advice).toBe("a client certificate named in [guard] admin_commonNames");
  });

  it("names and a key: either admits; without both the token's refusal says why", async () => {
    const admin = new AdminCredential(key, ["ops"]);
    await admin.check({ authorization: undefined, commonName: "ops" });
    await admin.check({ authorization: await key.authorization(), commonName: "volume1" });
    const forged = await new AdminTokenKey("other").authorization();
    expect((await refusal(admin.check({ authorization: forged, commonName: "volume1" }))).reason).toBe("signature");
    expect((await refusal(admin.check({ authorization: undefined, commonName: undefined }))).reason).toBe("missing");
    expect(admin.advice).toContain("or Authorization: Bearer <admin token>");
  });

  it("a key only: a certificate name alone is not enough", async () => {
    const admin = new AdminCredential(key, []);
    expect((await refusal(admin.check({ authorization: undefined, commonName: "ops" }))).reason).toBe("missing");
  });

  it("is off when neither is configured, and read from [guard] admin_commonNames", () => {
    expect(adminCredentialOf(undefined)).toBeUndefined();
    expect(adminCredentialOf({ whiteList: [] })).toBeUndefined();
    expect(adminCredentialOf({ whiteList: [], adminCommonNames: ["ops"] })).toBeInstanceOf(AdminCredential);
    const withKey = parseSecurityToml('[guard]\nadmin_commonNames = "ops, admin2"\n[jwt.admin]\nkey = "k"\n', "s.toml");
    expect(withKey.config.adminCommonNames).toEqual(["ops", "admin2"]);
    expect(() => parseSecurityToml('[guard]\nadmin_commonNames = "ops"\n', "s.toml")).toThrow(
      "s.toml: guard.admin_commonNames is set but neither [grpc] mutual TLS nor [jwt.admin] key is",
    );
  });
});
