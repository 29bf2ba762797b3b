// The replicated data plane's small pieces (issue 11): the cache of replica locations (fresh for
// its TTL, one lookup in flight per volume, dropped on demand, bounded), the lookup answer's
// parsing, the whole-request bound of a replica write, and -readMode as the CLI takes it.
import { describe, expect, it } from "vitest";
import { volumeConfigFromFlags, volumeFlags } from "../../../src/cli/commands/volume.js";
import { serverCommand } from "../../../src/cli/commands/server.js";
import { parseFlags, UsageError } from "../../../src/cli/flags.js";
import { ErrorCode, WeedError } from "../../../src/common/errors.js";
import { replicaLookupTimeoutMs, replicaRequestBaseMs } from "../../../src/volume/limits.js";
import {
  parseLocations,
  replicaRequestTimeoutMs,
  type VolumeLocation,
} from "../../../src/volume/replication/replica-client.js";
import { ReplicaLocations } from "../../../src/volume/replication/replica-locations.js";

function cache(o: { ttlMs?: number; entriesMax?: number; master?: string | undefined } = {}) {
  let now = 0;
  const asked: { master: string; volumeId: number }[] = [];
  const answers = new Map<number, VolumeLocation[] | Error>();
  const locations = new ReplicaLocations({
    master: () => ("master" in o ? o.master : "10.0.0.1:9333.19333"),
    lookup: async (master, volumeId) => {
      asked.push({ master, volumeId });
      const a = answers.get(volumeId) ?? [{ url: `v${volumeId}:8080`, publicUrl: `v${volumeId}:8080` }];
      if (a instanceof Error) throw a;
      return a;
    },
    ttlMs: o.ttlMs ?? 1_000,
    entriesMax: o.entriesMax ?? 8,
    nowMs: () => now,
  });
  return { locations, asked, answers, advance: (ms: number) => (now += ms) };
}

describe("replica locations cache", () => {
  it("asks the master's HTTP address once per volume while fresh, again after the TTL or a drop", async () => {
    const c = cache();
    const [a, b] = await Promise.all([c.locations.get(7), c.locations.get(7)]);
    expect(a).toBe(b);
    expect(c.asked).toEqual([{ master: "10.0.0.1:9333", volumeId: 7 }]);
    c.advance(999);
    await c.locations.get(7);
    expect(c.asked.length).toBe(1);
    c.advance(1);
    await c.locations.get(7);
    expect(c.asked.length).toBe(2);
    c.locations.drop(7);
    await c.locations.get(7);
    expect(c.asked.length).toBe(3);
  });

  it("does not keep a failed lookup, and says UNAVAILABLE with the volume id", async () => {
    const c = cache();
    c.answers.set(3, new Error("connect ECONNREFUSED"));
    const err = await c.locations.get(3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeedError);
    expect((err as WeedError).code).toBe(ErrorCode.UNAVAILABLE);
    expect((err as WeedError).message).toMatch(/replicating lookup failed for 3: connect ECONNREFUSED/);
    expect(c.locations.size).toBe(0);
    c.answers.delete(3);
    expect(await c.locations.get(3)).toEqual([{ url: "v3:8080", publicUrl: "v3:8080" }]);
  });

  it("keeps at most entriesMax volumes, the oldest going first", async () => {
    const c = cache({ entriesMax: 3 });
    for (const vid of [1, 2, 3, 4]) await c.locations.get(vid);
    expect(c.locations.size).toBe(3);
    await c.locations.get(2);
    expect(c.asked.length).toBe(4);
    await c.locations.get(1);
    expect(c.asked.length).toBe(5);
  });

  it("without a master, fails as UNAVAILABLE", async () => {
    const c = cache({ master: undefined });
    await expect(c.locations.get(1)).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
    expect(c.asked).toEqual([]);
  });
});

describe("replica client pieces", () => {
  it("parses /dir/lookup locations; publicUrl defaults to url; entries without url are skipped", () => {
    const text = JSON.stringify({
      volumeOrFileId: "3",
      locations: [{ url: "a:1", publicUrl: "pub:1" }, { url: "b:2" }, { publicUrl: "c:3" }],
    });
    expect(parseLocations(text)).toEqual([
      { url: "a:1", publicUrl: "pub:1" },
      { url: "b:2", publicUrl: "b:2" },
    ]);
    expect(() => parseLocations("<html>")).toThrow(WeedError);
  });

  it("bounds a small replica write, lookup included, under 10 s; a large one gets time for its bytes", () => {
    expect(replicaRequestTimeoutMs(64 * 1024) + replicaLookupTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(replicaRequestTimeoutMs(256 * 1024 * 1024)).toBeGreaterThan(replicaRequestBaseMs + 25_000);
  });
});

describe("-readMode", () => {
  const config = (...argv: string[]) =>
    volumeConfigFromFlags(parseFlags(volumeFlags, argv).values, "", ["127.0.0.1:9333"]);

  it("defaults to redirect and takes proxy and local", () => {
    expect(config().readMode).toBe("redirect");
    expect(config("-readMode=proxy").readMode).toBe("proxy");
    expect(config("-readMode=local").readMode).toBe("local");
  });

  it("refuses another value naming the flag, also as -volume.readMode of weed-ts server", () => {
    expect(() => parseFlags(volumeFlags, ["-readMode=mirror"])).toThrow(UsageError);
    expect(() => parseFlags(volumeFlags, ["-readMode=mirror"])).toThrow(/-readMode.*redirect, proxy, local/);
    expect(() => parseFlags(serverCommand.flags, ["-volume.readMode=mirror"])).toThrow(/-volume\.readMode/);
  });
});
