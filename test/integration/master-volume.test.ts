// `weed-ts master` and two `weed-ts volume` processes, as an operator starts them.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

let tmp: TempDir;
let root: string;
let masterPort: number;
const volumePorts: number[] = [];
let master: WeedProcess;
const volumes: WeedProcess[] = [];

function startVolume(i: number): WeedProcess {
  return new WeedProcess([
    "volume",
    `-dir=${root}/v${i}`,
    "-ip=127.0.0.1",
    `-port=${volumePorts[i]}`,
    `-mserver=127.0.0.1:${masterPort}`,
    "-max=8",
    `-rack=rack${i}`,
    "-logLevel=warn",
  ]);
}

async function registeredNodes(): Promise<string[]> {
  const s = await getJson(`http://127.0.0.1:${masterPort}/dir/status`);
  const nodes: string[] = [];
  for (const dc of s.json.Topology.DataCenters ?? [])
    for (const rack of dc.Racks ?? []) for (const n of rack.DataNodes ?? []) nodes.push(n.Url);
  return nodes;
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-master-volume-");
  root = tmp.dir;
  masterPort = await freePortPair();
  for (let i = 0; i < 2; i++) volumePorts.push(await freePortPair());
  master = new WeedProcess(["master", `-mdir=${root}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, "-logLevel=warn"]);
  await waitHttpOk(`http://127.0.0.1:${masterPort}/healthz`, master);
  for (let i = 0; i < 2; i++) volumes.push(startVolume(i));
  for (let i = 0; i < 2; i++) await waitHttpOk(`http://127.0.0.1:${volumePorts[i]}/healthz`, volumes[i]);
  await waitFor(async () => (await registeredNodes()).length === 2, {
    ...PROCESS_WAIT,
    what: "both volume servers registered",
  });
});

afterAll(async () => {
  for (const v of volumes) await v.stop();
  await master?.stop();
  await tmp?.remove();
});

describe("master + volume servers as separate processes", () => {
  it("assigns, stores, looks up and reads back across both servers", async () => {
    const written: { fid: string; content: Buffer }[] = [];
    for (let i = 0; i < 30; i++) {
      const a = await getJson(`http://127.0.0.1:${masterPort}/dir/assign`);
      expect(a.status).toBe(200);
      const content = randomBytes(64 + i);
      const w = await getJson(`http://${a.json.url}/${a.json.fid}`, { method: "PUT", body: content });
      expect(w.status).toBe(201);
      written.push({ fid: a.json.fid, content });
    }
    for (const { fid, content } of written) {
      const l = await getJson(`http://127.0.0.1:${masterPort}/dir/lookup?volumeId=${fid.split(",")[0]}`);
      expect(l.status).toBe(200);
      expect(l.json.locations.length).toBeGreaterThan(0);
      const r = await request(`http://${l.json.locations[0].url}/${fid}`);
      expect(Buffer.from(await r.body.arrayBuffer()).equals(content)).toBe(true);
    }
  });

  it("grows volumes on demand with /vol/grow and reports them in /dir/status", async () => {
    const g = await getJson(`http://127.0.0.1:${masterPort}/vol/grow?collection=pics&count=2`);
    expect(g.status).toBe(200);
    expect(g.json.count).toBe(2);
    const a = await getJson(`http://127.0.0.1:${masterPort}/dir/assign?collection=pics`);
    expect(a.status).toBe(200);
    expect((await getJson(`http://127.0.0.1:${masterPort}/vol/grow`)).status).toBe(406);
  });

  it("answers lookups of unknown volumes with 404", async () => {
    const l = await getJson(`http://127.0.0.1:${masterPort}/dir/lookup?volumeId=999999`);
    expect(l.status).toBe(404);
    expect(l.json.error).toMatch(/not found/);
  });

  it("drops a volume server whose heartbeat stream breaks, and takes it back when it returns", async () => {
    await volumes[1]!.kill9();
    await waitFor(
      async () => {
        const nodes = await registeredNodes();
        return nodes.length === 1 && !nodes.includes(`127.0.0.1:${volumePorts[1]}`);
      },
      { ...PROCESS_WAIT, what: "dead volume server dropped" },
    );
    volumes[1] = startVolume(1);
    await waitFor(async () => (await registeredNodes()).length === 2, { ...PROCESS_WAIT, what: "volume server back" });
  });
});
