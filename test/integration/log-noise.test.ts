// What a bad day logs (issue 14): a master cut off from its peers says once, at warn, that there is
// no leader (not once per election round); a volume server whose masters are all gone says once
// that none answers (not once per retry, which was 71 warnings in 39 s).
import { afterAll, describe, expect, it } from "vitest";
import { tempDir, type TempDir } from "../helpers.js";
import { deadAddress, freePortPair, WeedProcess } from "./harness.js";

/** Over twice the 5 s and 10 s after which the two warnings come, so a second one would show. */
const watchMs = 22_000;

let tmp: TempDir | undefined;
const procs: WeedProcess[] = [];

afterAll(async () => {
  for (const p of procs) await p.stop();
  await tmp?.remove();
});

interface Entry {
  level: string;
  msg: string;
}

function entries(p: WeedProcess): Entry[] {
  return p
    .logs()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Entry);
}

describe("warnings once per state change", () => {
  it(
    "a lone master of three and a volume server with no master each warn once",
    async () => {
      tmp = await tempDir("weed-ts-log-noise-");
      const port = await freePortPair();
      const peers = [`127.0.0.1:${port}`, await deadAddress(), await deadAddress()].join(",");
      const master = new WeedProcess([
        "master",
        `-mdir=${tmp.dir}/m`,
        "-ip=127.0.0.1",
        `-port=${port}`,
        `-peers=${peers}`,
      ]);
      const vport = await freePortPair();
      const volume = new WeedProcess([
        "volume",
        `-dir=${tmp.dir}/v`,
        "-ip=127.0.0.1",
        `-port=${vport}`,
        `-mserver=${await deadAddress()}`,
      ]);
      procs.push(master, volume);
      await new Promise((r) => setTimeout(r, watchMs));
      const noLeader = entries(master).filter((e) => e.msg.startsWith("no leader"));
      expect(noLeader).toHaveLength(1);
      expect(noLeader[0]!.level).toBe("warn");
      const volumeWarnings = entries(volume).filter((e) => e.level === "warn" || e.level === "error");
      expect(volumeWarnings.map((e) => e.msg)).toEqual(["no master has answered for a while: still trying"]);
    },
    watchMs + 30_000,
  );
});
