// The volume server's memory and disk flags as SeaweedFS spells them: defaults, values mapped into
// the typed config, and bad values refused naming the flag (the CLI exits 2 on a UsageError).
import { describe, expect, it } from "vitest";
import { parseDurationMs, volumeConfigFromFlags, volumeFlags } from "../../../src/cli/commands/volume.js";
import { parseFlags, UsageError } from "../../../src/cli/flags.js";

function config(...argv: string[]) {
  return volumeConfigFromFlags(parseFlags(volumeFlags, argv).values, "", ["127.0.0.1:9333"]);
}

describe("volume flags: limits and free space", () => {
  it("default to 256 MB in flight each way, 60 s waits and 1 % free space", () => {
    expect(config()).toMatchObject({
      concurrentUploadLimitMB: 256,
      concurrentDownloadLimitMB: 256,
      needleCacheMB: 64,
      inflightUploadDataTimeoutMs: 60_000,
      inflightDownloadDataTimeoutMs: 60_000,
      minFreeSpace: { kind: "percent", percent: 1 },
    });
  });

  it("map given values; -minFreeSpace wins over -minFreeSpacePercent", () => {
    expect(
      config(
        "-concurrentUploadLimitMB=0",
        "-concurrentDownloadLimitMB=64",
        "-needleCacheMB=0",
        "-inflightUploadDataTimeout=1m30s",
        "-inflightDownloadDataTimeout=500ms",
        "-minFreeSpacePercent=5",
      ),
    ).toMatchObject({
      concurrentUploadLimitMB: 0,
      concurrentDownloadLimitMB: 64,
      needleCacheMB: 0,
      inflightUploadDataTimeoutMs: 90_000,
      inflightDownloadDataTimeoutMs: 500,
      minFreeSpace: { kind: "percent", percent: 5 },
    });
    expect(config("-minFreeSpacePercent=5", "-minFreeSpace=10GiB").minFreeSpace).toMatchObject({
      kind: "bytes",
      bytes: 10 * 2 ** 30,
    });
    expect(config("-minFreeSpace=2%").minFreeSpace).toMatchObject({ kind: "percent", percent: 2 });
  });

  it.each([
    ["-concurrentUploadLimitMB=-1", /flag -concurrentUploadLimitMB: must not be negative/],
    ["-concurrentDownloadLimitMB=lots", /flag -concurrentDownloadLimitMB: not an integer/],
    ["-needleCacheMB=-5", /flag -needleCacheMB: must not be negative/],
    ["-inflightUploadDataTimeout=60", /flag -inflightUploadDataTimeout: expected a duration like 60s/],
    ["-inflightDownloadDataTimeout=0s", /flag -inflightDownloadDataTimeout: must be more than 0/],
    ["-minFreeSpace=abc", /flag -minFreeSpace: .*expected a percentage like 1 or 1%, or bytes like 10GiB/],
    ["-minFreeSpace=150", /flag -minFreeSpace: .*a percentage must be 0\.\.100/],
    ["-minFreeSpacePercent=", /flag -minFreeSpacePercent: must not be empty/],
  ])("%s is refused naming the flag", (arg, message) => {
    let err: unknown;
    try {
      parseFlags(volumeFlags, [arg]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  it("reads Go-style durations", () => {
    expect(parseDurationMs("60s")).toBe(60_000);
    expect(parseDurationMs("1h2m3s4ms")).toBe(3_723_004);
    expect(parseDurationMs("1.5s")).toBe(1_500);
    for (const bad of ["", "60", "s", "1d", "-1s", "1 s"]) expect(parseDurationMs(bad), bad).toBeUndefined();
  });
});
