// The seed's cheat sheet (three `weed-ts server` processes, each a master and a volume server)
// restarted one process at a time under a continuous writer: no failed write, nothing lost.
import { afterAll, describe, expect, it } from "vitest";
import { ContinuousWriter } from "../../src/benchmark/continuous-writer.js";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPairs, getJson, PROCESS_WAIT, WeedProcess } from "./harness.js";

const procs: WeedProcess[] = [];
let tmp: TempDir | undefined;

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill9()));
  await tmp?.remove();
});

describe("weed-ts server x3", () => {
  it("restarts each server in turn under a writer using the master list: no failed write, nothing lost", async () => {
    tmp = await tempDir("weed-ts-rolling-");
    const root = tmp.dir;
    const ports = await freePortPairs(6);
    const masterPorts = ports.slice(0, 3);
    const volumePorts = ports.slice(3);
    const masters = masterPorts.map((p) => `127.0.0.1:${p}`);
    const args = (i: number): string[] => [
      "server",
      "-ip=127.0.0.1",
      `-dir=${root}/s${i}`,
      `-master.port=${masterPorts[i]}`,
      `-volume.port=${volumePorts[i]}`,
      `-master.peers=${masters.join(",")}`,
      "-volume.max=4",
      "-logLevel=warn",
    ];
    const servers = [0, 1, 2].map((i) => new WeedProcess(args(i)));
    procs.push(...servers);
    // A settled cluster: all three volume servers registered before the first assign grows volumes.
    // Else growth may put every volume on the first server to report, and restarting it leaves the
    // new leader nothing writable and, in its warm-up, nothing it may grow (a 503 no client avoids).
    await waitFor(async () => (await dataNodes(masters[0]!)).length === 3, {
      ...PROCESS_WAIT,
      timeoutMs: 30_000,
      what: "three volume servers registered",
    });
    await waitFor(async () => (await getJson(`http://${masters[0]}/dir/assign`)).status === 200, {
      ...PROCESS_WAIT,
      timeoutMs: 30_000,
      what: "a first assign",
    });

    const writer = new ContinuousWriter({ masters, payloadBytes: 700, concurrency: 2 });
    writer.start();
    try {
      for (let i = 0; i < 3; i++) {
        writer.mark(`restart server ${i}`);
        await servers[i]!.stop();
        servers[i] = new WeedProcess(args(i));
        procs.push(servers[i]!);
        // Back when its volume server is registered with the leader again.
        await waitFor(
          async () => {
            return (await dataNodes(masters[i]!)).includes(`127.0.0.1:${volumePorts[i]}`);
          },
          { ...PROCESS_WAIT, timeoutMs: 30_000, what: `server ${i} back in the topology` },
        );
      }
      writer.mark("after");
      // A window of writes to the cluster as it is after the last restart: they must not fail either.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await writer.stop();
    }
    const report = writer.report();
    expect(report.steps.filter((s) => s.failed > 0).map((s) => `${s.step}: ${JSON.stringify(s.errors)}`)).toEqual([]);
    expect(report.totals.acked).toBeGreaterThan(50);
    const v = await writer.verify();
    expect(v.errors).toEqual([]);
    expect(v.lost + v.wrong).toBe(0);
  }, 120_000);
});

/** The volume servers in the leader's topology, as `master` (forwarding to the leader) shows it. */
async function dataNodes(master: string): Promise<string[]> {
  const status = await getJson(`http://${master}/dir/status`, { headersTimeout: 2000, bodyTimeout: 2000 });
  return (status.json.Topology?.DataCenters ?? []).flatMap((dc: any) =>
    dc.Racks.flatMap((r: any) => r.DataNodes.map((n: any) => n.Url)),
  );
}
