import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN } from "./harness.js";

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("weed-ts CLI", () => {
  it("prints the version", () => {
    const r = run("version");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^weed-ts \d+\.\d+\.\d+/);
  });

  it.each(["master", "volume", "server", "benchmark"])("%s -h prints its usage and exits 0", (cmd) => {
    const r = run(cmd, "-h");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: weed-ts ${cmd}`);
    expect(r.stdout).toContain(cmd === "benchmark" ? "-master" : "-ip");
  });

  it.each([
    [["master", "-nope=1"], /flag provided but not defined: -nope/],
    [["master", "-port=abc"], /invalid value "abc" for flag -port/],
    [["master", "-port", "99999"], /flag -port: a port must be 1-65535/],
    [["master", "-defaultReplication=9x9"], /flag -defaultReplication/],
    [["volume", "-max=0"], /flag -max: must be greater than 0/],
    [["volume", "-mserver=nohostport"], /flag -master/],
    [["server", "-volume.port=0"], /flag -volume.port/],
    [["master", "-logLevel=loud"], /flag -logLevel/],
  ])("%j exits 2 naming the bad flag", (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Usage: weed-ts");
  });

  it("an unknown command exits 2 and lists the commands", () => {
    const r = run("frobnicate");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
    expect(r.stderr).toContain("server");
  });
});
