// security.toml through the real CLI (issue 12): `weed-ts scaffold -config=security` prints a
// template that loads; a bad -security file stops a server with one line and a non-zero status;
// unknown keys are warned once each at start; the shell finds the file too.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSecurityToml } from "../../src/common/security/load.js";
import { tempDir, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, waitHttpOk } from "./harness.js";

/** A refused start or a printed template takes well under this (it loads node and the CLI). */
const CLI_TIMEOUT_MS = 20_000;

let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir("weed-ts-security-config-");
});
afterAll(async () => {
  await tmp?.remove();
});

function weed(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: CLI_TIMEOUT_MS, cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("weed-ts scaffold", () => {
  it("-config=security prints a template that loads as an open config with no warnings", () => {
    const r = weed(["scaffold", "-config=security"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("[jwt.signing]");
    expect(r.stdout).toContain("[guard]");
    const loaded = parseSecurityToml(r.stdout, "scaffold");
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config).toEqual({ source: "scaffold", whiteList: [] });
  });

  it("-config=other is a usage error naming the flag (exit 2)", () => {
    const r = weed(["scaffold", "-config=filer"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("-config");
  });
});

describe("a bad security.toml stops the process with one line", () => {
  const cases: [string, string, string][] = [
    ["negative seconds", '[jwt.signing]\nkey = "k"\nexpires_after_seconds = -5\n', "jwt.signing.expires_after_seconds"],
    ["a malformed CIDR", '[guard]\nwhite_list = "10.0.0.0/40"\n', "guard.white_list"],
    ["a missing CA file", '[grpc]\nca = "/nonexistent/ca.pem"\n', "grpc.ca"],
  ];
  for (const [what, text, key] of cases)
    it(`${what}: master and volume exit 1 naming ${key} and the file`, () => {
      const file = join(tmp.dir, `bad-${key}.toml`);
      writeFileSync(file, text);
      for (const cmd of [
        ["master", `-mdir=${tmp.dir}/m`],
        ["volume", `-dir=${tmp.dir}`],
      ]) {
        const r = weed([...cmd, `-security=${file}`, "-port=1"]);
        expect(r.status, r.stderr).toBe(1);
        const lines = r.stderr.trim().split("\n");
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toContain(key);
        expect(lines[0]).toContain(file);
      }
    });

  it("-security naming a missing file: exit 1, one line", () => {
    const missing = join(tmp.dir, "nope.toml");
    for (const cmd of [["master"], ["shell", "cluster.status"], ["benchmark", "-n=1"]]) {
      const r = weed([cmd[0]!, `-security=${missing}`, ...cmd.slice(1)]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(missing);
    }
  });

  it("a bad -whiteList entry is a usage error (exit 2)", () => {
    const r = weed(["master", "-whiteList=127.0.0.1,nonsense"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("-whiteList");
  });
});

describe("a master started with a security.toml found in its working directory", () => {
  it("warns once per unknown key, applies the white list from [guard] and -whiteList", async () => {
    const text = '[guard]\nwhite_list = "10.9.0.0/16"\nwhitelist = "oops"\n[jwt.signing]\nkey = ""\nkeyy = "x"\n';
    writeFileSync(join(tmp.dir, "security.toml"), text);
    const port = await freePortPair();
    const args = ["master", `-mdir=${tmp.dir}/m2`, "-ip=127.0.0.1", `-port=${port}`, "-whiteList=127.0.0.1"];
    // Started in tmp.dir so that ./security.toml is the first place searched.
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp.dir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    try {
      await waitHttpOk(`http://127.0.0.1:${port}/healthz`);
      const s = await getJson(`http://127.0.0.1:${port}/cluster/status`);
      expect(s.json.Security).toMatchObject({ Enabled: true, WhiteList: 2 });
      expect(out).toContain("unknown key guard.whitelist in ");
      expect(out).toContain("unknown key jwt.signing.keyy in ");
      expect(out.split("unknown key").length - 1).toBe(2);
      expect(out).toContain("security on: white list (2)");
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });
});
