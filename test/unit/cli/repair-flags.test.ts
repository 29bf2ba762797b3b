// -repairGraceSeconds on `weed-ts master` (and -master.repairGraceSeconds on `weed-ts server`):
// its default, the value reaching the typed config, 0 for off, bad values refused naming the flag
// (the CLI exits 2 on a UsageError), and the config check behind it.
import { describe, expect, it } from "vitest";
import { masterConfigFromFlags, masterFlags } from "../../../src/cli/commands/master.js";
import { serverCommand } from "../../../src/cli/commands/server.js";
import { formatUsage, parseFlags, UsageError } from "../../../src/cli/flags.js";
import { silentLogger } from "../../../src/common/logger.js";
import { WeedError } from "../../../src/common/errors.js";
import { repairGraceSecondsDefault } from "../../../src/master/limits.js";
import { validateMasterConfig } from "../../../src/master/master-config.js";

const config = (...argv: string[]) => masterConfigFromFlags(parseFlags(masterFlags, argv).values);

describe("-repairGraceSeconds", () => {
  it("defaults to a few minutes and maps given values, 0 (off) included", () => {
    expect(repairGraceSecondsDefault).toBe(180);
    expect(config().repairGraceSeconds).toBe(180);
    expect(config("-repairGraceSeconds=2").repairGraceSeconds).toBe(2);
    expect(config("-repairGraceSeconds=0").repairGraceSeconds).toBe(0);
  });

  it("is in the usage of master and server", () => {
    expect(formatUsage("master", "", masterFlags)).toMatch(/-repairGraceSeconds.*\n.*0 = never/);
    expect(formatUsage("server", "", serverCommand.flags)).toContain("-master.repairGraceSeconds");
    const server = parseFlags(serverCommand.flags, ["-master.repairGraceSeconds=7"]).values;
    expect(masterConfigFromFlags({ ...server, "master.dir": "/tmp/x" }, "master.").repairGraceSeconds).toBe(7);
  });

  it.each([
    ["-repairGraceSeconds=-1", /invalid value "-1" for flag -repairGraceSeconds: must be 0 \(off\) or 1-604800/],
    ["-repairGraceSeconds=soon", /invalid value "soon" for flag -repairGraceSeconds: not an integer/],
    ["-repairGraceSeconds=1.5", /flag -repairGraceSeconds: not an integer/],
    ["-repairGraceSeconds=999999999", /flag -repairGraceSeconds: must be 0 \(off\)/],
  ])("%s is refused naming the flag", (arg, message) => {
    expect(() => parseFlags(masterFlags, [arg])).toThrow(UsageError);
    expect(() => parseFlags(masterFlags, [arg])).toThrow(message);
  });

  it("the master's config refuses what the flag would", () => {
    const base = { ...config(), logger: silentLogger() };
    expect(() => validateMasterConfig({ ...base, repairGraceSeconds: -5 })).toThrow(WeedError);
    expect(() => validateMasterConfig({ ...base, repairGraceSeconds: 0.5 })).toThrow(/repairGraceSeconds=0.5/);
    expect(() => validateMasterConfig({ ...base, repairGraceSeconds: 0 })).not.toThrow();
  });
});
