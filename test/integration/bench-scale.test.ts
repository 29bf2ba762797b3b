// The scale bench's generator (scripts/bench-scale-fleet.mjs, issue 15) against three real masters:
// 20 simulated volume servers of 100 volumes each connect (their 2,000 ids take the fleet's ramp of
// MaxVolumeId: two steps of the heartbeat bound), the leader lists all 20 with every volume, and
// assigns and lookups answer with the simulated servers. No timing assertions: `npm run bench:scale`
// measures; this only keeps the generator working.
import { fork, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, tempDir, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const FLEET = resolve(import.meta.dirname, "../../scripts/bench-scale-fleet.mjs");
const SERVERS = 20;
const VOLUMES = 100;
/** The fleet closes its streams on "stop"; past this it is killed. */
const FLEET_STOP_MS = 5_000;
const SIMULATED = /^127\.1\.\d+\.\d+:8080$/;

let tmp: TempDir;
const ports: number[] = [];
const masters: WeedProcess[] = [];
let fleet: ChildProcess | undefined;

const base = (i: number): string => `http://127.0.0.1:${ports[i]}`;

async function leaderIndex(): Promise<number> {
  return eventually(
    async () => {
      const all = await Promise.all(ports.map((_, i) => getJson(`${base(i)}/cluster/status`)));
      const claiming = all.flatMap((s, i) => (s.json?.IsLeader === true ? [i] : []));
      const named = new Set(all.map((s) => s.json?.Leader));
      if (claiming.length !== 1 || named.size !== 1) throw new Error(`leaders claimed: ${claiming.join(",")}`);
      return claiming[0]!;
    },
    { ...PROCESS_WAIT, what: "one leader agreed by all three masters" },
  );
}

/** The data nodes in the leader's /dir/status: id -> volume count. */
async function listedNodes(leader: number): Promise<Map<string, number>> {
  const s = await getJson(`${base(leader)}/dir/status`);
  const out = new Map<string, number>();
  for (const dc of s.json.Topology.DataCenters ?? [])
    for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) out.set(n.Url, n.Volumes);
  return out;
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-bench-scale-");
  for (let i = 0; i < 3; i++) ports.push(await freePortPair());
  const peers = ports.map((p) => `127.0.0.1:${p}`).join(",");
  for (let i = 0; i < 3; i++) {
    const args = ["master", `-mdir=${tmp.dir}/m${i}`, "-ip=127.0.0.1", `-port=${ports[i]}`, `-peers=${peers}`];
    masters.push(new WeedProcess([...args, "-logLevel=warn"]));
  }
  for (let i = 0; i < 3; i++) await waitHttpOk(`${base(i)}/healthz`, masters[i]);
});

afterAll(async () => {
  if (fleet !== undefined && fleet.exitCode === null && fleet.signalCode === null) {
    const exited = new Promise((res) => fleet!.once("exit", res));
    fleet.send({ cmd: "stop" });
    const timer = setTimeout(() => fleet!.kill("SIGKILL"), FLEET_STOP_MS);
    await exited;
    clearTimeout(timer);
  }
  for (const m of masters) await m.stop();
  await tmp?.remove();
});

describe("bench-scale fleet", () => {
  it("registers 20 simulated servers with the leader, which assigns to them and looks their volumes up", async () => {
    const leader = await leaderIndex();
    // A new leader's first entry fixes the cluster id: it commits a moment after the election.
    const clusterId = await eventually(
      async () => {
        const id = (await getJson(`${base(leader)}/cluster/raft`)).json.clusterId as string;
        expect(id).not.toBe("");
        return id;
      },
      { what: "the cluster id committed" },
    );
    const config = {
      masters: ports.map((p) => `127.0.0.1:${p}`),
      ...{ first: 0, count: SERVERS, volumes: VOLUMES, pulseMs: 5_000, clusterId },
    };
    fleet = fork(FLEET, [], { env: { ...process.env, BENCH_SCALE_FLEET: JSON.stringify(config) }, stdio: "pipe" });
    const nodes = await eventually(
      async () => {
        const n = await listedNodes(leader);
        expect([...n.values()].filter((v) => v === VOLUMES)).toHaveLength(SERVERS);
        return n;
      },
      { ...PROCESS_WAIT, what: `${SERVERS} simulated servers with ${VOLUMES} volumes each on the leader` },
    );
    for (const id of nodes.keys()) expect(id).toMatch(SIMULATED);

    for (let i = 0; i < SERVERS; i++) {
      const a = await getJson(`${base(leader)}/dir/assign`);
      expect(a.status, JSON.stringify(a.json)).toBe(200);
      expect(nodes.has(a.json.url)).toBe(true);
    }
    const vid = SERVERS * VOLUMES;
    const l = await getJson(`${base(leader)}/dir/lookup?volumeId=${vid}`);
    expect(l.status).toBe(200);
    expect(l.json.locations.map((x: { url: string }) => x.url)).toEqual([`127.1.0.${SERVERS}:8080`]);
  });
});
