// The [guard] white list on real processes (issue 12): a master and two volume servers started
// with -whiteList=127.0.0.1. A client bound to 127.0.0.2 is a stranger: assign, /vol/grow,
// membership changes, uploads, overwrites and deletes are refused with 403 naming its address,
// and nothing changes; its reads (lookup, status, blobs) are answered. A replicated write between
// the two servers (which are on the list, as the cluster's own hosts must be) works.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { tempDir, waitFor, type TempDir } from "../helpers.js";
import { BIN, freePortPair, getJson, PROCESS_WAIT, waitHttpOk, WeedProcess } from "./harness.js";

const STRANGER = "127.0.0.2";
let tmp: TempDir;
let masterPort: number;
let master: WeedProcess;
const volumes: { port: number; proc: WeedProcess }[] = [];

const masterUrl = (): string => `http://127.0.0.1:${masterPort}`;

async function send(url: string, init: Parameters<typeof request>[1] = {}) {
  const r = await request(url, { headersTimeout: 15_000, bodyTimeout: 15_000, ...init });
  const body = Buffer.from(await r.body.arrayBuffer());
  const text = body.toString("utf8");
  return { status: r.statusCode, body, text };
}

/** A request from 127.0.0.2 (the whole 127/8 is loopback on Linux); node:http binds the local address. */
function asStranger(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; body: Buffer; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? "GET", headers: init.headers ?? {}, localAddress: STRANGER });
    req.setTimeout(15_000, () => req.destroy(new Error(`${url}: no answer in 15 s`)));
    req.once("error", reject);
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("error", reject);
      res.once("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body, text: body.toString("utf8") });
      });
    });
    req.end(init.body);
  });
}

function expectRefused(r: { status: number; text: string }): void {
  expect(r.status, r.text).toBe(403);
  expect(JSON.parse(r.text).error).toContain(STRANGER);
}

async function holders(vid: string): Promise<string[]> {
  const l = await getJson(`${masterUrl()}/dir/lookup?volumeId=${vid}`);
  return ((l.json?.locations ?? []) as { url: string }[]).map((x) => x.url).sort();
}

beforeAll(async () => {
  tmp = await tempDir("weed-ts-security-guard-");
  masterPort = await freePortPair();
  const white = "-whiteList=127.0.0.1";
  const masterArgs = ["master", `-mdir=${tmp.dir}/m`, "-ip=127.0.0.1", `-port=${masterPort}`, white];
  master = new WeedProcess([...masterArgs, "-logLevel=warn"]);
  await waitHttpOk(`${masterUrl()}/healthz`, master);
  for (let i = 0; i < 2; i++) {
    const port = await freePortPair();
    const args = ["volume", `-dir=${tmp.dir}/v${i}`, "-ip=127.0.0.1", `-port=${port}`, `-rack=r${i}`, white];
    volumes.push({ port, proc: new WeedProcess([...args, `-mserver=127.0.0.1:${masterPort}`, "-logLevel=warn"]) });
  }
  for (const v of volumes) await waitHttpOk(`http://127.0.0.1:${v.port}/healthz`, v.proc);
  await waitFor(
    async () => {
      const s = await getJson(`${masterUrl()}/dir/status`);
      return (s.json.Topology.DataCenters ?? []).flatMap((d: any) => d.Racks ?? []).length === 2;
    },
    { ...PROCESS_WAIT, what: "two volume servers" },
  );
}, 60_000);

afterAll(async () => {
  for (const v of volumes) await v.proc?.stop();
  await master?.stop();
  await tmp?.remove();
});

describe("white list (-whiteList=127.0.0.1)", () => {
  let fid = "";
  let url = "";
  const body = randomBytes(700);

  it("the master logs what is on, and /cluster/status says so", async () => {
    const s = await getJson(`${masterUrl()}/cluster/status`);
    expect(s.json.Security).toMatchObject({ Enabled: true, WhiteList: 1, JwtWrite: false });
    expect(master.logs()).not.toContain("security is off");
    const shell = spawnSync(process.execPath, [BIN, "shell", `-master=127.0.0.1:${masterPort}`, "cluster.status"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(shell.status, shell.stderr).toBe(0);
    expect(shell.stdout).toContain("security: on: white list (1)");
  });

  it("a replicated write from an allowed client reaches both servers (they are on the list)", async () => {
    const a = await getJson(`${masterUrl()}/dir/assign?replication=010`);
    expect(a.status, JSON.stringify(a.json)).toBe(200);
    fid = a.json.fid;
    url = a.json.url;
    const w = await send(`http://${url}/${fid}`, { method: "PUT", body });
    expect(w.status, w.text).toBe(201);
    const at = await holders(fid.split(",")[0]!);
    expect(at).toHaveLength(2);
    for (const s of at) expect((await send(`http://${s}/${fid}`)).body.equals(body)).toBe(true);
  });

  it("a stranger's assign, /vol/grow, /submit and membership changes are refused, state unchanged", async () => {
    const before = (await getJson(`${masterUrl()}/cluster/status`)).json;
    const raftBefore = (await getJson(`${masterUrl()}/cluster/raft`)).json.members;
    const volsBefore = (await getJson(`${masterUrl()}/vol/status`)).json;
    expectRefused(await asStranger(`${masterUrl()}/dir/assign`));
    expectRefused(await asStranger(`${masterUrl()}/dir/assign?count=5`, { method: "POST" }));
    expectRefused(await asStranger(`${masterUrl()}/vol/grow?count=3&replication=010`, { method: "POST" }));
    expectRefused(await asStranger(`${masterUrl()}/vol/grow?count=3`));
    const form = { "content-type": "multipart/form-data; boundary=x" };
    const part = "--x\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\nhello\r\n--x--\r\n";
    expectRefused(await asStranger(`${masterUrl()}/submit`, { method: "POST", headers: form, body: part }));
    for (const op of ["add?id=127.0.0.1:1", "remove?id=127.0.0.1:1", "transfer"])
      expectRefused(await asStranger(`${masterUrl()}/cluster/raft/${op}`, { method: "POST" }));
    // A forged forwarding header does not make a stranger a master of the cluster.
    const forged = { "x-weed-forwarded-by": `127.0.0.1:${masterPort}` };
    expectRefused(await asStranger(`${masterUrl()}/dir/assign`, { headers: forged }));
    const after = (await getJson(`${masterUrl()}/cluster/status`)).json;
    expect(after.MaxVolumeId).toBe(before.MaxVolumeId);
    expect((await getJson(`${masterUrl()}/cluster/raft`)).json.members).toEqual(raftBefore);
    expect((await getJson(`${masterUrl()}/vol/status`)).json).toEqual(volsBefore);
  });

  it("a stranger cannot overwrite, delete or write a fid on a volume server; the blob is unchanged", async () => {
    const at = await holders(fid.split(",")[0]!);
    for (const s of at) {
      expectRefused(await asStranger(`http://${s}/${fid}`, { method: "PUT", body: randomBytes(50) }));
      expectRefused(await asStranger(`http://${s}/${fid}`, { method: "POST", body: randomBytes(50) }));
      expectRefused(await asStranger(`http://${s}/${fid}`, { method: "DELETE" }));
      const other = `${fid.split(",")[0]},abcdef0123456789`;
      expectRefused(await asStranger(`http://${s}/${other}`, { method: "PUT", body: randomBytes(10) }));
      expect((await send(`http://${s}/${other}`)).status).toBe(404);
    }
    for (const s of at) {
      const r = await asStranger(`http://${s}/${fid}`);
      expect(r.status).toBe(200);
      expect(r.body.equals(body)).toBe(true);
    }
  });

  it("a stranger's reads are answered: lookup, status, health, metrics, blobs", async () => {
    const vid = fid.split(",")[0]!;
    for (const path of [`/dir/lookup?volumeId=${vid}`, `/dir/lookup?fileId=${fid}`, "/cluster/status", "/dir/status"])
      expect((await asStranger(`${masterUrl()}${path}`)).status, path).toBe(200);
    for (const path of ["/healthz", "/metrics", "/", "/cluster/raft"])
      expect((await asStranger(`${masterUrl()}${path}`)).status, path).toBe(200);
    for (const v of volumes)
      for (const path of ["/status", "/healthz", "/metrics", "/"])
        expect((await asStranger(`http://127.0.0.1:${v.port}${path}`)).status, path).toBe(200);
    expect((await asStranger(`http://${url}/${fid}`, { method: "HEAD" })).status).toBe(200);
  });

  it("an allowed client deletes, and the delete reaches both replicas", async () => {
    const d = await send(`http://${url}/${fid}`, { method: "DELETE" });
    expect(d.status, d.text).toBe(202);
    for (const s of await holders(fid.split(",")[0]!)) expect((await send(`http://${s}/${fid}`)).status).toBe(404);
  });
});
