import { describe, expect, it } from "vitest";
import { formatUsage, parseFlags, portCheck, UsageError, type FlagSpec } from "../../../src/cli/flags.js";

const specs: FlagSpec[] = [
  { name: "port", type: "int", default: 9333, usage: "HTTP port", check: portCheck },
  { name: "mdir", type: "string", default: "./data", usage: "state dir" },
  { name: "master.port", type: "int", default: 9333, usage: "master port" },
  { name: "fsync", type: "bool", default: false, usage: "fsync writes" },
  { name: "ratio", type: "float", default: 0.3, usage: "a float" },
  { name: "master", type: "string", default: "localhost:9333", usage: "masters", aliases: ["mserver"] },
];

describe("parseFlags", () => {
  it("accepts -name=v, -name v, --name=v and --name v alike", () => {
    for (const argv of [["-port=1234"], ["-port", "1234"], ["--port=1234"], ["--port", "1234"]]) {
      const p = parseFlags(specs, argv);
      expect(p.values.port).toBe(1234);
      expect(p.set.has("port")).toBe(true);
    }
  });

  it("keeps defaults for unset flags and reports them as not set", () => {
    const p = parseFlags(specs, []);
    expect(p.values).toMatchObject({ port: 9333, mdir: "./data", fsync: false, ratio: 0.3 });
    expect(p.set.size).toBe(0);
  });

  it("handles dotted names, standalone bools, explicit false and aliases", () => {
    const p = parseFlags(specs, ["-master.port=9444", "-fsync", "-mserver=a:1,b:2"]);
    expect(p.values["master.port"]).toBe(9444);
    expect(p.values.fsync).toBe(true);
    expect(p.values.master).toBe("a:1,b:2");
    expect(parseFlags(specs, ["-fsync=false"]).values.fsync).toBe(false);
  });

  it("does not let a bool swallow the next word", () => {
    const p = parseFlags(specs, ["-fsync", "extra"]);
    expect(p.values.fsync).toBe(true);
    expect(p.positional).toEqual(["extra"]);
  });

  it("recognises -h, -help and --help", () => {
    for (const h of ["-h", "-help", "--help"]) expect(parseFlags(specs, [h]).help).toBe(true);
  });

  it.each([
    [["-nope=1"], /flag provided but not defined: -nope/],
    [["-port=abc"], /invalid value "abc" for flag -port: not an integer/],
    [["-port=70000"], /invalid value "70000" for flag -port: a port must be 1-65535/],
    [["-port"], /flag needs an argument: -port/],
    [["-fsync=maybe"], /invalid value "maybe" for flag -fsync/],
    [["-ratio=x"], /invalid value "x" for flag -ratio: not a number/],
    [["-port=1.5"], /not an integer/],
  ])("rejects %j naming the flag", (argv, message) => {
    expect(() => parseFlags(specs, argv)).toThrow(UsageError);
    expect(() => parseFlags(specs, argv)).toThrow(message);
  });

  it("usage lists every flag with its default and aliases", () => {
    const u = formatUsage("master", "Starts a master.", specs);
    for (const s of specs) expect(u).toContain(`-${s.name}`);
    expect(u).toContain("-mserver");
    expect(u).toContain("(default 9333)");
  });
});
