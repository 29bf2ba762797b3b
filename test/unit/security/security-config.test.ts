// security.toml as SeaweedFS reads it: where it is looked for, defaults, SeaweedFS-only sections
// accepted silently, unknown keys warned, and every bad value refused with one line naming the
// key and the file. The scaffold template loads as an open config with no warnings.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { securityEnabled } from "../../../src/common/security/config.js";
import {
  findSecurityFile,
  loadSecurity,
  parseSecurityToml,
  SecurityConfigError,
  securitySearchPaths,
} from "../../../src/common/security/load.js";
import { securityTemplate } from "../../../src/common/security/scaffold.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "weed-sec-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = join(dir, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** Runs parseSecurityToml and returns the thrown SecurityConfigError's message. */
function refusal(text: string, file = "/etc/x/security.toml"): string {
  try {
    parseSecurityToml(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(SecurityConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a SecurityConfigError");
}

describe("security.toml search", () => {
  it("looks in ./, $HOME/.seaweedfs/, /usr/local/etc/seaweedfs/, /etc/seaweedfs/ in that order", () => {
    expect(securitySearchPaths({ cwd: "/w", home: "/h" })).toEqual([
      "/w/security.toml",
      "/h/.seaweedfs/security.toml",
      "/usr/local/etc/seaweedfs/security.toml",
      "/etc/seaweedfs/security.toml",
    ]);
    expect(securitySearchPaths({ cwd: "/w", home: undefined })).toHaveLength(3);
  });

  it("takes the first file that exists; none = an open config", () => {
    const cwd = join(dir, "cwd");
    const home = join(dir, "home");
    mkdirSync(cwd);
    const inHome = write("home/.seaweedfs/security.toml", '[jwt.signing]\nkey = "home"\n');
    const search = { cwd, home };
    expect(findSecurityFile({ search })).toBe(inHome);
    expect(loadSecurity({ search }).config.jwtSigning?.key).toBe("home");
    const inCwd = write("cwd/security.toml", '[jwt.signing]\nkey = "cwd"\n');
    expect(findSecurityFile({ search })).toBe(inCwd);
    expect(loadSecurity({ search }).config.jwtSigning?.key).toBe("cwd");
    const none = loadSecurity({ searchPaths: [join(dir, "nope.toml")] });
    expect(none).toEqual({ config: { whiteList: [] }, warnings: [] });
    expect(securityEnabled(none.config)).toBe(false);
  });

  it("-security names a file that must exist, and wins over the search path", () => {
    const explicit = write("mine.toml", '[jwt.signing]\nkey = "mine"\n');
    write("cwd/security.toml", '[jwt.signing]\nkey = "cwd"\n');
    const search = { cwd: join(dir, "cwd"), home: undefined };
    expect(loadSecurity({ explicitPath: explicit, search }).config).toMatchObject({
      source: explicit,
      jwtSigning: { key: "mine" },
    });
    const missing = join(dir, "missing.toml");
    expect(() => loadSecurity({ explicitPath: missing, search })).toThrow(SecurityConfigError);
    expect(() => loadSecurity({ explicitPath: missing, search })).toThrow(`${missing} (from -security) does not exist`);
  });
});

describe("security.toml values", () => {
  it("maps every section, with SeaweedFS's defaults (10 s write, 60 s read tokens)", () => {
    const ca = write("ca.pem", "x");
    const cert = write("cert.pem", "x");
    const key = write("key.pem", "x");
    const text = `
[jwt.signing]
key = "w"
[jwt.signing.read]
key = "r"
[jwt.admin]
key = "a"
[grpc]
ca = "${ca}"
[grpc.master]
cert = "${cert}"
key = "${key}"
allowed_commonNames = "m1, m2"
[grpc.volume]
cert = "${cert}"
key = "${key}"
[grpc.client]
cert = "${cert}"
key = "${key}"
[https.client]
enabled = true
ca = "${ca}"
[https.master]
cert = "${cert}"
key = "${key}"
[https.volume]
cert = "${cert}"
key = "${key}"
ca = "${ca}"
[guard]
white_list = "127.0.0.1, 10.0.0.0/8,::1"
`;
    const { config, warnings } = parseSecurityToml(text, "f.toml");
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      source: "f.toml",
      jwtSigning: { key: "w", expiresAfterSeconds: 10 },
      jwtSigningRead: { key: "r", expiresAfterSeconds: 60 },
      jwtAdmin: { key: "a" },
      grpc: {
        ca,
        master: { cert, key, allowedCommonNames: ["m1", "m2"] },
        volume: { cert, key, allowedCommonNames: [] },
        client: { cert, key },
      },
      httpsClient: { enabled: true, ca },
      httpsMaster: { cert, key },
      httpsVolume: { cert, key, ca },
      whiteList: ["127.0.0.1", "10.0.0.0/8", "::1"],
    });
    expect(securityEnabled(config)).toBe(true);
  });

  it("an empty key turns a section off, as SeaweedFS; a lifetime is kept when given", () => {
    const { config } = parseSecurityToml(
      '[jwt.signing]\nkey = ""\nexpires_after_seconds = 5\n[jwt.signing.read]\nkey = "r"\nexpires_after_seconds = 7\n',
      "f",
    );
    expect(config.jwtSigning).toBeUndefined();
    expect(config.jwtSigningRead).toEqual({ key: "r", expiresAfterSeconds: 7 });
  });

  it("accepts SeaweedFS's sections weed-ts does not implement without a word", () => {
    const text = `
[cors.allowed_origins]
values = "*"
[access]
ui = false
[filer.expose_directory_metadata]
enabled = true
[jwt.filer_signing]
key = "x"
expires_after_seconds = 10
[jwt.filer_signing.read]
key = ""
[grpc]
ca = ""
allowed_wildcard_domain = ""
[grpc.filer]
cert = ""
[grpc.s3]
allowed_commonNames = ""
[grpc.msg_broker]
key = ""
[grpc.volume]
client_cert = ""
[https.client]
insecure_skip_verify = false
[https.filer]
disable_tls_verify_client_cert = true
[admin]
user = ""
[admin.readonly]
password = ""
[s3.sse]
kek = ""
`;
    const { config, warnings } = parseSecurityToml(text, "f");
    expect(warnings).toEqual([]);
    expect(securityEnabled(config)).toBe(false);
  });

  it("names each key and section neither SeaweedFS nor weed-ts knows, with the file", () => {
    const text = 'top = 1\n[jwt.signing]\nkey = ""\nkeey = "x"\n[guard]\nwhitelist = ""\n[nonsense]\na = 1\n';
    expect(parseSecurityToml(text, "/s.toml").warnings).toEqual([
      "unknown key top in /s.toml",
      "unknown key jwt.signing.keey in /s.toml",
      "unknown key guard.whitelist in /s.toml",
      "unknown section [nonsense] in /s.toml",
    ]);
  });

  it("the scaffold template loads as an open config with no warnings", () => {
    const { config, warnings } = parseSecurityToml(securityTemplate, "scaffold");
    expect(warnings).toEqual([]);
    expect(config).toEqual({ source: "scaffold", whiteList: [] });
    expect(securityEnabled(config)).toBe(false);
  });
});

describe("WEED_* environment variables (SeaweedFS's viper names)", () => {
  it("win over the file, key by key", () => {
    const env = { WEED_JWT_SIGNING_KEY: "from-env", WEED_JWT_SIGNING_READ_EXPIRES_AFTER_SECONDS: "7" };
    const text = '[jwt.signing]\nkey = "from-file"\nexpires_after_seconds = 3\n[jwt.signing.read]\nkey = "r"\n';
    const { config } = parseSecurityToml(text, "f", env);
    expect(config.jwtSigning).toEqual({ key: "from-env", expiresAfterSeconds: 3 });
    expect(config.jwtSigningRead).toEqual({ key: "r", expiresAfterSeconds: 7 });
  });

  it("apply with no file at all; lists and booleans are cast", () => {
    const env = {
      WEED_GUARD_WHITE_LIST: "127.0.0.1, ::1",
      WEED_HTTPS_CLIENT_ENABLED: "false",
      WEED_JWT_SIGNING_KEY: "w",
    };
    const loaded = loadSecurity({ searchPaths: [join(dir, "none.toml")], env });
    expect(loaded.config).toEqual({
      source: "environment (WEED_*)",
      whiteList: ["127.0.0.1", "::1"],
      jwtSigning: { key: "w", expiresAfterSeconds: 10 },
    });
    expect(loadSecurity({ searchPaths: [join(dir, "none.toml")], env: {} }).config).toEqual({ whiteList: [] });
  });

  it("HTTPS on some HTTP ports and not others stops the start, naming what to add", () => {
    const env = (extra: NodeJS.ProcessEnv) => loadSecurity({ searchPaths: [join(dir, "none.toml")], env: extra });
    expect(env({ WEED_JWT_ADMIN_KEY: "a" }).config.jwtAdmin).toEqual({ key: "a" });
    expect(() => env({ WEED_HTTPS_CLIENT_ENABLED: "true" })).toThrow(/\[https.client\] enabled is set but neither/);
    const cert = write("c.pem", "x");
    const key = write("k.pem", "x");
    const load = (text: string) => () => loadSecurity({ explicitPath: write("https.toml", text), env: {} });
    const master = `[https.master]\ncert = "${cert}"\nkey = "${key}"\n`;
    const volume = `[https.volume]\ncert = "${cert}"\nkey = "${key}"\n`;
    const client = `[https.client]\nenabled = true\ninsecure_skip_verify = true\n`;
    expect(load(master)).toThrow(/https.toml: \[https.master\] or \[https.volume\] is set but \[https.client\]/);
    expect(load(master + client)).toThrow(/\[https.master\] is set but \[https.volume\] is not/);
    expect(load(volume + client)).toThrow(/\[https.volume\] is set but \[https.master\] is not/);
    expect(load(master + volume + client)().config).toMatchObject({
      httpsMaster: { cert, key },
      httpsVolume: { cert, key },
      httpsClient: { enabled: true, insecureSkipVerify: true },
    });
  });

  it("a bad value is named by its variable", () => {
    const env = { WEED_JWT_SIGNING_EXPIRES_AFTER_SECONDS: "soon" };
    expect(() => parseSecurityToml("", "f", env)).toThrow(
      "environment WEED_JWT_SIGNING_EXPIRES_AFTER_SECONDS: jwt.signing.expires_after_seconds must be",
    );
  });
});

describe("security.toml bad values: one line naming the key and the file", () => {
  const F = "/etc/x/security.toml";
  const cases: [string, string, string][] = [
    [
      "a string where a number goes",
      '[jwt.signing]\nkey = "k"\nexpires_after_seconds = "10"\n',
      "jwt.signing.expires_after_seconds",
    ],
    [
      "negative seconds",
      '[jwt.signing.read]\nkey = "k"\nexpires_after_seconds = -1\n',
      "jwt.signing.read.expires_after_seconds",
    ],
    ["fractional seconds", "[jwt.signing]\nexpires_after_seconds = 1.5\n", "jwt.signing.expires_after_seconds"],
    ["a number where a key goes", "[jwt.signing]\nkey = 42\n", "jwt.signing.key"],
    ["a string where a bool goes", '[https.client]\nenabled = "yes"\n', "https.client.enabled"],
    ["a malformed CIDR", '[guard]\nwhite_list = "10.0.0.0/33"\n', "guard.white_list"],
    ["a malformed address", '[guard]\nwhite_list = "127.0.0.1,not-an-ip"\n', "guard.white_list"],
    ["a number white list", "[guard]\nwhite_list = 5\n", "guard.white_list"],
    ["a missing certificate", '[grpc]\nca = "/nonexistent/ca.pem"\n', "grpc.ca"],
    ["a date", "[jwt.admin]\nkey = 1979-05-27\n", "jwt.admin.key"],
  ];
  for (const [what, text, key] of cases)
    it(what, () => {
      const m = refusal(text, F);
      expect(m).toContain(key);
      expect(m).toContain(F);
      expect(m).not.toContain("\n");
    });

  it("unreadable key file, cert without key, certificates without a CA", () => {
    const cert = write("c.pem", "x");
    const key = write("k.pem", "x");
    chmodSync(key, 0o000);
    // root reads any file; the check is then only that it is a file
    if (process.getuid?.() !== 0)
      expect(refusal(`[grpc]\nca = "${cert}"\n[grpc.master]\ncert = "${cert}"\nkey = "${key}"\n`)).toContain(
        "grpc.master.key",
      );
    expect(refusal(`[https.volume]\ncert = "${cert}"\n`)).toContain("https.volume.key");
    expect(refusal(`[grpc.volume]\ncert = "${cert}"\nkey = "${cert}"\n`)).toContain("grpc.ca");
    expect(refusal(`[grpc]\nca = "${dir}"\n`)).toContain("grpc.ca");
  });

  it("not TOML at all", () => {
    const m = refusal("[jwt.signing\nkey=", F);
    expect(m).toContain(F);
    expect(m).not.toContain("\n");
  });
});
