// Placement "xyz" across real processes (issue 11): a master and four volume servers, two in
// dc1/r1, one in dc1/r2, one in dc2/r1. Every placement this cluster can meet is grown on the
// servers the rule names (x other data centers, y other racks of the main one, z other servers
// of the main rack) and the upload is readable from each; one it cannot meet is a 406 with a
// JSON error, and nothing is allocated for it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;
const layout = [
  { dc: "dc1", rack: "r1" },
  { dc: "dc1", rack: "r1" },
  { dc: "dc1", rack: "r2" },
  { dc: "dc2", rack: "r1" },
];
const servers: { port: number; proc: WeedProcess; dc: string; rack: string }[] = [];
const masterUrl = (): string => `http://127.0.0.1:${masterPort}`;

async function nodeCount(): Promise<number> {
  const s = await getJson(`${masterUrl()}/dir/status`);
  let n = 0;
  for (const dc of s.json.Topology.DataCenters ?? []) for (const rack of dc.Racks ?? []) n += rack.DataNodes.length;
  return n;
}

async function volumeCount(): Promise<number> {
  const s = await getJson(`${masterUrl()}/vol/status`);
  let n = 0;
  for (const racks of Object.values<any>(s.json.Volumes.DataCenters ?? {}))
    for (const nodes of Object.values<any>(racks)) for (const vols of Object.values<any>(nodes)) n += vols.length;
  return n;
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-placement-");
  masterPort = await freePortPair();
  master = new WeedProcess(["master", `-mdir=${tmp.dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, "-logLevel=warn"]);
  await waitHttpOk(`${masterUrl()}/healthz`, master);
  for (const [i, at] of layout.entries()) {
    const port = await freePortPair();
    const args = ["volume", `-dir=${tmp.dir}/v${i}`, "-ip=127.0.0.1", `-port=${port}`, "-max=40"];
    args.push(`-mserver=127.0.0.1:${masterPort}`, `-dataCenter=${at.dc}`, `-rack=${at.rack}`, "-logLevel=warn");
    servers.push({ port, proc: new WeedProcess(args), ...at });
  }
  for (const s of servers) await waitHttpOk(`http://127.0.0.1:${s.port}/healthz`, s.proc);
  await waitFor(async () => (await nodeCount()) === servers.length, { ...PROCESS_WAIT, what: "four volume servers" });
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.proc?.stop();
  await master?.stop();
  await tmp?.remove();
});

/** Assigns with the placement, uploads, and returns where the master lists the volume. */
async function placeOne(replication: string): Promise<{ dc: string; rack: string; port: number }[]> {
  const a = await getJson(`${masterUrl()}/dir/assign?replication=${replication}`);
  expect(a.status, JSON.stringify(a.json)).toBe(200);
  const body = Buffer.from(`placement ${replication}`);
  const up = await request(`http://${a.json.url}/${a.json.fid}`, { method: "PUT", body });
  expect(up.statusCode, await up.body.text()).toBe(201);
  const vid = String(a.json.fid).split(",")[0];
  const l = await getJson(`${masterUrl()}/dir/lookup?volumeId=${vid}`);
  const where = (l.json.locations as { url: string }[]).map((x) =>
    servers.find((s) => `127.0.0.1:${s.port}` === x.url)!,
  );
  for (const s of where) {
    const r = await request(`http://127.0.0.1:${s.port}/${a.json.fid}`);
    expect(Buffer.from(await r.body.arrayBuffer())).toEqual(body);
  }
  return where;
}

const key = (s: { dc: string; rack: string }): string => `${s.dc}/${s.rack}`;

describe("placement xyz over dc1/r1 ×2, dc1/r2, dc2/r1", () => {
  it("000, 001, 010, 100, 011, 110, 101: copies on the servers the rule names", async () => {
    expect(await placeOne("000")).toHaveLength(1);
    const p001 = await placeOne("001");
    expect(p001.map(key)).toEqual(["dc1/r1", "dc1/r1"]);
    expect(new Set(p001.map((s) => s.port)).size).toBe(2);
    expect(new Set((await placeOne("010")).map(key))).toEqual(new Set(["dc1/r1", "dc1/r2"]));
    expect(new Set((await placeOne("100")).map((s) => s.dc))).toEqual(new Set(["dc1", "dc2"]));
    const p011 = await placeOne("011");
    expect(p011.map(key).sort()).toEqual(["dc1/r1", "dc1/r1", "dc1/r2"]);
    const p110 = await placeOne("110");
    expect(p110).toHaveLength(3);
    expect(new Set(p110.map(key))).toEqual(new Set(["dc1/r1", "dc1/r2", "dc2/r1"]));
    const p101 = await placeOne("101");
    expect(p101.map(key).sort()).toEqual(["dc1/r1", "dc1/r1", "dc2/r1"]);
  }, 60_000);

  it("placements this cluster cannot meet (200, 020, 002, 012) are a 406 JSON error; nothing allocated", async () => {
    const before = await volumeCount();
    for (const replication of ["200", "020", "002", "012"]) {
      const a = await getJson(`${masterUrl()}/dir/assign?replication=${replication}`);
      expect({ replication, status: a.status }).toEqual({ replication, status: 406 });
      expect(a.json.error, replication).toMatch(new RegExp(`replication ${replication}`));
    }
    expect(await volumeCount()).toBe(before);
  }, 30_000);
});
